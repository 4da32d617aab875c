//! `.report()` on the builders: the call's outcome together with its [`CallReport`].

use core::future::IntoFuture;

use super::{
    CallName, Gate, Hook, Judge, Limit, Recover, Refusal, Retry, RetryBlocking, RetryFuture,
};
use crate::engine::{NoReport, Tally};
use crate::runtime::{BlockingSleeper, Sleeper};
use crate::{Attempt, CallReport};

/// A builder whose call also returns its [`CallReport`]: `.await` (or `.call()`) gives
/// `(Result<T, E>, CallReport)`. From [`Retry::report`] and [`RetryBlocking::report`].
#[must_use = "a retry does nothing until it is awaited or called"]
pub struct Reported<B>(pub(super) B);

/// How a call's tally ends it: with no report the outcome as it is, with a [`CallReport`] the
/// outcome and the report.
pub trait Finish<R>: Tally {
    /// What the call returns.
    type Output;
    /// The call's return value for its last outcome.
    fn finish(&mut self, outcome: R) -> Self::Output;
}

impl<R> Finish<R> for NoReport {
    type Output = R;
    #[inline(always)]
    fn finish(&mut self, outcome: R) -> R {
        outcome
    }
}

impl<R> Finish<R> for CallReport {
    type Output = (R, CallReport);
    #[inline]
    fn finish(&mut self, outcome: R) -> (R, CallReport) {
        (outcome, core::mem::take(self))
    }
}

impl<'a, Op, J, H, G, Fb, L, N, S> Retry<'a, Op, J, H, G, Fb, L, N, S> {
    /// Returns the call's [`CallReport`] with its outcome: `.await` gives
    /// `(Result<T, E>, CallReport)`. A call without `.report()` keeps no report at all.
    ///
    #[cfg_attr(feature = "tokio", doc = "```")]
    #[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
    /// use retry_runtime::{Policy, Stop};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let (out, report) = Policy::new()
    ///     .with_base(Duration::from_millis(10))
    ///     .retry(async |attempt| if attempt.attempt() < 2 { Err("busy") } else { Ok(7) })
    ///     .report()
    ///     .await;
    /// assert_eq!(out, Ok(7));
    /// assert_eq!((report.attempts(), report.stopped()), (2, Stop::Accepted));
    /// assert_eq!(report.slept(), Duration::from_millis(10));
    /// # }
    /// ```
    pub fn report(self) -> Reported<Self> {
        Reported(self)
    }
}

impl<'a, Op, J, H, G, Fb, S> RetryBlocking<'a, Op, J, H, G, Fb, S> {
    /// Returns the call's [`CallReport`] with its outcome: `.call()` gives
    /// `(Result<T, E>, CallReport)`. A call without `.report()` keeps no report at all.
    pub fn report(self) -> Reported<Self> {
        Reported(self)
    }
}

impl<'a, Op, Fut, J, H, L, G, Fb, N, S, T, E> IntoFuture
    for Reported<Retry<'a, Op, J, H, G, Fb, L, N, S>>
where
    Op: FnMut(Attempt) -> Fut,
    Fut: core::future::Future<Output = Result<T, E>>,
    J: Judge<T, E>,
    H: Hook<T, E>,
    L: Limit<Fut, S>,
    G: Gate<'a>,
    G::Refused: Refusal<E>,
    Fb: Recover<T, E>,
    N: CallName,
    S: Sleeper,
{
    type Output = (Result<T, E>, CallReport);
    type IntoFuture = RetryFuture<'a, Op, Fut, J, H, L, G, Fb, N, S, CallReport>;

    fn into_future(self) -> Self::IntoFuture {
        self.0.into_future_tallied(CallReport::new())
    }
}

impl<'a, Op, J, H, G, T, E, F, S> Reported<RetryBlocking<'a, Op, J, H, G, F, S>>
where
    S: BlockingSleeper,
    Op: FnMut(Attempt) -> Result<T, E>,
    J: Judge<T, E>,
    H: Hook<T, E>,
    G: Gate<'a>,
    G::Refused: Refusal<E>,
    F: Recover<T, E, Future = core::future::Ready<Result<T, E>>>,
{
    /// Runs the call as [`RetryBlocking::call`] does, and returns its report with its
    /// outcome.
    pub fn call(self) -> (Result<T, E>, CallReport) {
        let mut report = CallReport::new();
        let outcome = self.0.call_tallied(&mut report);
        (outcome, report)
    }
}
