//! Support for the code that `#[retry]` generates. Not a public API: names here may change in
//! any release.

pub use core::time::Duration;
pub use std::thread::sleep as blocking_sleep;
pub use std::time::Instant as StdInstant;
pub use tokio::time::{sleep, Instant as TokioInstant};

pub use crate::{Backoff, Jitter, Policy};

use crate::jitter::with_thread_rng;

/// A by-value argument of a retried function is cloned for every attempt.
#[diagnostic::on_unimplemented(
    message = "`#[retry]` needs to clone this argument for every attempt, but `{Self}` is not `Clone`",
    label = "taken by value here, so every attempt needs its own copy",
    note = "take the argument by reference (`&{Self}` or `&mut {Self}`), or implement `Clone` for `{Self}`"
)]
pub trait RetryArg: Sized {
    /// A fresh copy for one attempt.
    fn __retry_clone(&self) -> Self;
}

impl<T: Clone> RetryArg for T {
    #[inline(always)]
    fn __retry_clone(&self) -> Self {
        self.clone()
    }
}

/// The return type of a retried function: a `Result` (directly or through an alias).
#[diagnostic::on_unimplemented(
    message = "`#[retry]` functions must return a `Result`, but this one returns `{Self}`",
    label = "expected `Result<_, _>` (or an alias such as `std::io::Result<_>`)",
    note = "`#[retry]` retries when the function returns `Err`, so it needs a `Result` to look at"
)]
pub trait RetryResult {
    /// The error type.
    type Error;
    /// The error of a failed attempt, `None` on success.
    fn __retry_error(&self) -> Option<&Self::Error>;
}

impl<T, E> RetryResult for Result<T, E> {
    type Error = E;

    #[inline(always)]
    fn __retry_error(&self) -> Option<&E> {
        self.as_ref().err()
    }
}

/// The delay to sleep after attempt `failed` (1-based) failed, or `None` to give up: out of
/// attempts, or the sleep would end past the deadline.
///
/// `previous` is the delay slept before the previous retry (only decorrelated jitter reads it),
/// `elapsed` the time since the first attempt started (only read when there is a deadline).
#[cold]
#[inline(never)]
pub fn next_delay(
    policy: &Policy,
    failed: u32,
    previous: Duration,
    elapsed: Option<Duration>,
) -> Option<Duration> {
    if failed >= policy.attempts() {
        return None;
    }
    let delay = with_thread_rng(|rng| policy.jittered_delay(failed, previous, rng));
    if let (Some(deadline), Some(elapsed)) = (policy.deadline(), elapsed) {
        if elapsed.saturating_add(delay) > deadline {
            return None;
        }
    }
    Some(delay)
}

/// Rejects an invalid `const` policy at compile time (`policy = SOME_CONST`).
pub const fn check_policy(policy: &Policy) {
    if let Err(err) = policy.validate() {
        panic!("{}", err.message());
    }
}
