//! The hook called before each sleep ([`Hook`]) and the per-attempt timeout's markers.

use core::time::Duration;

use crate::RetryInfo;

#[cfg(doc)]
use super::Retry;
#[cfg(doc)]
use super::RetryBlocking;

/// [`RetryBlocking::on_retry`]: called with the failed outcome before each sleep.
pub trait Hook<T, E> {
    /// Whether the hook reads [`RetryInfo::elapsed`] (then the clock is started).
    const ELAPSED: bool;
    /// Called before each sleep.
    fn call(&self, outcome: &Result<T, E>, info: &RetryInfo);
}

/// No hook.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoHook;

impl<T, E> Hook<T, E> for NoHook {
    const ELAPSED: bool = false;
    #[inline]
    fn call(&self, _: &Result<T, E>, _: &RetryInfo) {}
}

/// A hook function.
#[derive(Clone, Copy, Debug)]
pub struct OnRetry<F>(pub(super) F);

impl<T, E, F: Fn(&Result<T, E>, &RetryInfo)> Hook<T, E> for OnRetry<F> {
    const ELAPSED: bool = true;
    #[inline]
    fn call(&self, outcome: &Result<T, E>, info: &RetryInfo) {
        (self.0)(outcome, info)
    }
}

/// No per-attempt timeout.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoTimeout;

/// [`Retry::timeout`]: each attempt is cut off after this long (or at the deadline).
#[derive(Clone, Copy, Debug)]
pub struct Timeout(pub(super) Duration);
