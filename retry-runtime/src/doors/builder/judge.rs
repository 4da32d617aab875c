//! How a builder judges an attempt's outcome: [`Judge`], built up by `.when`, `.classify`,
//! `.until` and `.classify_ok`.

use crate::engine::verdict::longer;
use crate::engine::{GiveUp, Guards, Verdict};
use crate::{AdaptiveThrottle, Classify, RateLimiter, Throttled};

#[cfg(doc)]
use super::RetryBlocking;

/// How a builder judges an attempt's outcome: [`Verdict::Accept`] when it is final, else a
/// retry (with a server's hint if one was given) or a reason to give up. Built up by
/// [`when`](RetryBlocking::when), [`classify`](RetryBlocking::classify), [`until`](RetryBlocking::until) and
/// [`classify_ok`](RetryBlocking::classify_ok); the order is the attribute's: for an error `when` then
/// `classify` (all must agree to retry), for a value `until` then `classify_ok`.
pub trait Judge<T, E> {
    /// The verdict on one outcome.
    fn judge(&self, outcome: &Result<T, E>) -> Verdict;

    /// Whether a value says that the service is in trouble (`classify_ok` calls it
    /// transient), for the circuit breaker. A value that only fails `until` is the service
    /// answering "not yet", not a failure.
    fn value_transient(&self, value: &T) -> bool {
        let _ = value;
        false
    }

    /// What the events show of a failed outcome: the error's or the value's own
    /// [`Classify::describe`] where `.classify()` or `.classify_ok()` gave this judge one, a
    /// placeholder otherwise (the builders cannot ask for `Display`).
    fn describe(
        &self,
        outcome: &Result<T, E>,
        f: &mut core::fmt::Formatter<'_>,
    ) -> core::fmt::Result {
        f.write_str(match outcome {
            Ok(_) => "a value judged a failure",
            Err(_) => "an error",
        })
    }

    /// Whether a throttle or a rate limiter paces the call ([`Paced`]): only then is the
    /// pacing asked and an outcome's overload read.
    #[doc(hidden)]
    const PACES: bool = false;

    /// Whether the service refused the attempt for lack of capacity
    /// ([`Classify::overloaded`]), for the throttle and the rate limiter.
    #[doc(hidden)]
    fn overloaded(&self, outcome: &Result<T, E>) -> bool {
        let _ = outcome;
        false
    }

    /// `guards` with this judge's throttle and rate limiter.
    #[doc(hidden)]
    fn pace<'g>(&'g self, guards: Guards<'g>) -> Guards<'g> {
        guards
    }

    /// The call's error for an attempt the pacing refused: `E::from(Throttled)`.
    #[doc(hidden)]
    fn throttled(&self, refusal: Throttled) -> Option<E> {
        let _ = refusal;
        None
    }
}

/// The pacing methods a judge that wraps another passes through.
macro_rules! pass_pacing {
    ($inner:tt) => {
        const PACES: bool = J::PACES;
        #[inline]
        fn pace<'g>(&'g self, guards: Guards<'g>) -> Guards<'g> {
            self.$inner.pace(guards)
        }
        #[inline]
        fn throttled(&self, refusal: Throttled) -> Option<E> {
            self.$inner.throttled(refusal)
        }
    };
}

/// The starting point: every error is retried, every value is final.
#[derive(Clone, Copy, Debug, Default)]
pub struct Errors;

impl<T, E> Judge<T, E> for Errors {
    #[inline]
    fn judge(&self, outcome: &Result<T, E>) -> Verdict {
        match outcome {
            Ok(_) => Verdict::Accept,
            Err(_) => Verdict::RETRY,
        }
    }
}

/// [`RetryBlocking::when`]: errors the predicate rejects are not retried.
#[derive(Clone, Copy, Debug)]
pub struct When<F, J>(pub(super) F, pub(super) J);

impl<T, E, F: Fn(&E) -> bool, J: Judge<T, E>> Judge<T, E> for When<F, J> {
    pass_pacing!(1);
    #[inline]
    fn overloaded(&self, outcome: &Result<T, E>) -> bool {
        self.1.overloaded(outcome)
    }
    fn describe(
        &self,
        outcome: &Result<T, E>,
        f: &mut core::fmt::Formatter<'_>,
    ) -> core::fmt::Result {
        self.1.describe(outcome, f)
    }
    #[inline]
    fn judge(&self, outcome: &Result<T, E>) -> Verdict {
        match (self.1.judge(outcome), outcome) {
            (Verdict::Retry(_), Err(error)) if !(self.0)(error) => Verdict::Stop(GiveUp::When),
            (verdict, _) => verdict,
        }
    }
    #[inline]
    fn value_transient(&self, value: &T) -> bool {
        self.1.value_transient(value)
    }
}

/// [`RetryBlocking::classify`]: the error's own [`Classify`] decides, hints included.
#[derive(Clone, Copy, Debug)]
pub struct Classified<J>(pub(super) J);

impl<T, E: Classify, J: Judge<T, E>> Judge<T, E> for Classified<J> {
    pass_pacing!(0);
    #[inline]
    fn overloaded(&self, outcome: &Result<T, E>) -> bool {
        match outcome {
            Err(error) => error.overloaded(),
            Ok(_) => self.0.overloaded(outcome),
        }
    }
    fn describe(
        &self,
        outcome: &Result<T, E>,
        f: &mut core::fmt::Formatter<'_>,
    ) -> core::fmt::Result {
        match outcome {
            Err(error) => error.describe(f),
            Ok(_) => self.0.describe(outcome, f),
        }
    }
    #[inline]
    fn judge(&self, outcome: &Result<T, E>) -> Verdict {
        match (self.0.judge(outcome), outcome) {
            (verdict @ Verdict::Retry(_), Err(error)) => verdict.and_error(error.classify()),
            (verdict, _) => verdict,
        }
    }
    #[inline]
    fn value_transient(&self, value: &T) -> bool {
        self.0.value_transient(value)
    }
}

/// [`RetryBlocking::until`]: a value the predicate rejects is retried.
#[derive(Clone, Copy, Debug)]
pub struct Until<F, J>(pub(super) F, pub(super) J);

impl<T, E, F: Fn(&T) -> bool, J: Judge<T, E>> Judge<T, E> for Until<F, J> {
    pass_pacing!(1);
    #[inline]
    fn overloaded(&self, outcome: &Result<T, E>) -> bool {
        self.1.overloaded(outcome)
    }
    fn describe(
        &self,
        outcome: &Result<T, E>,
        f: &mut core::fmt::Formatter<'_>,
    ) -> core::fmt::Result {
        self.1.describe(outcome, f)
    }
    #[inline]
    fn judge(&self, outcome: &Result<T, E>) -> Verdict {
        match (self.1.judge(outcome), outcome) {
            (Verdict::Accept, Ok(value)) if !(self.0)(value) => Verdict::RETRY,
            (verdict, _) => verdict,
        }
    }
    #[inline]
    fn value_transient(&self, value: &T) -> bool {
        self.1.value_transient(value)
    }
}

/// [`RetryBlocking::classify_ok`]: the value's own [`Classify`] may retry it (a 503 response).
#[derive(Clone, Copy, Debug)]
pub struct ClassifiedOk<J>(pub(super) J);

impl<T: Classify, E, J: Judge<T, E>> Judge<T, E> for ClassifiedOk<J> {
    pass_pacing!(0);
    #[inline]
    fn overloaded(&self, outcome: &Result<T, E>) -> bool {
        match outcome {
            Ok(value) => value.overloaded(),
            Err(_) => self.0.overloaded(outcome),
        }
    }
    fn describe(
        &self,
        outcome: &Result<T, E>,
        f: &mut core::fmt::Formatter<'_>,
    ) -> core::fmt::Result {
        match outcome {
            Ok(value) => value.describe(f),
            Err(_) => self.0.describe(outcome, f),
        }
    }
    #[inline]
    fn judge(&self, outcome: &Result<T, E>) -> Verdict {
        match (self.0.judge(outcome), outcome) {
            (Verdict::Accept, Ok(value)) => Verdict::of_value(true, value.classify()),
            // `until` already retries the value: its hint, if it gives one, counts too.
            (Verdict::Retry(hint), Ok(value)) => match Verdict::of_value(false, value.classify()) {
                Verdict::Retry(more) => Verdict::Retry(longer(hint, more)),
                verdict => verdict,
            },
            (verdict, _) => verdict,
        }
    }
    #[inline]
    fn value_transient(&self, value: &T) -> bool {
        self.0.value_transient(value) || value.classify().is_retry()
    }
}

/// [`Retry::throttle`](super::Retry::throttle) and
/// [`rate_limiter`](super::Retry::rate_limiter): the judge `J`, with a client-side throttle or a
/// rate limiter that paces every attempt. An error's own [`Classify::overloaded`] says whether
/// the service refused an attempt for lack of capacity (a value's too, under
/// [`classify_ok`](super::Retry::classify_ok)); a refused attempt is `E::from(Throttled)`.
#[derive(Clone, Copy, Debug)]
pub struct Paced<'a, J> {
    pub(super) judge: J,
    pub(super) throttle: Option<&'a AdaptiveThrottle>,
    pub(super) limiter: Option<&'a RateLimiter>,
}

impl<T, E: Classify + From<Throttled>, J: Judge<T, E>> Judge<T, E> for Paced<'_, J> {
    const PACES: bool = true;
    fn describe(
        &self,
        outcome: &Result<T, E>,
        f: &mut core::fmt::Formatter<'_>,
    ) -> core::fmt::Result {
        self.judge.describe(outcome, f)
    }
    #[inline]
    fn judge(&self, outcome: &Result<T, E>) -> Verdict {
        self.judge.judge(outcome)
    }
    #[inline]
    fn value_transient(&self, value: &T) -> bool {
        self.judge.value_transient(value)
    }
    #[inline]
    fn overloaded(&self, outcome: &Result<T, E>) -> bool {
        match outcome {
            Err(error) => error.overloaded(),
            Ok(_) => self.judge.overloaded(outcome),
        }
    }
    #[inline]
    fn pace<'g>(&'g self, guards: Guards<'g>) -> Guards<'g> {
        let guards = self.judge.pace(guards);
        guards
            .with_throttle(self.throttle.or(guards.throttle))
            .with_limiter(self.limiter.or(guards.limiter))
    }
    #[cold]
    fn throttled(&self, refusal: Throttled) -> Option<E> {
        Some(E::from(refusal))
    }
}
