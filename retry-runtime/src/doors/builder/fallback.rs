//! What answers when a call gives up ([`Recover`]): nothing, a function of the error (plain or
//! async), or a function of the whole last outcome.

#[cfg(doc)]
use super::RetryBlocking;

/// What answers when the call gives up: [`NoFallback`], a function of the error set with
/// [`fallback`](RetryBlocking::fallback) (or `Retry::fallback_async`), or a function of the
/// last outcome set with [`fallback_outcome`](RetryBlocking::fallback_outcome).
pub trait Recover<T, E> {
    /// The fallback's answer, as a future (a ready one for a plain function).
    type Future: core::future::Future<Output = Result<T, E>>;
    /// The fallback's answer to the last outcome of a call that gave up, or that outcome back
    /// when there is none for it (or it already answered).
    fn recover(&mut self, last: Result<T, E>) -> Result<Self::Future, Result<T, E>>;
}

/// No fallback: the last outcome is returned.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoFallback;

impl<T, E> Recover<T, E> for NoFallback {
    type Future = core::future::Ready<Result<T, E>>;
    #[inline(always)]
    fn recover(&mut self, last: Result<T, E>) -> Result<Self::Future, Result<T, E>> {
        Err(last)
    }
}

/// [`RetryBlocking::fallback`]: a plain function answers the final error. A value the call
/// gave up on (`until`, `classify_ok`) is returned as it was: use `fallback_outcome` for it.
#[derive(Clone, Copy, Debug)]
pub struct Fallback<F>(pub(super) Option<F>);

impl<T, E, F: FnOnce(E) -> Result<T, E>> Recover<T, E> for Fallback<F> {
    type Future = core::future::Ready<Result<T, E>>;
    fn recover(&mut self, last: Result<T, E>) -> Result<Self::Future, Result<T, E>> {
        match (last, self.0.take()) {
            (Err(error), Some(fallback)) => Ok(core::future::ready(fallback(error))),
            (last, _) => Err(last),
        }
    }
}

/// `Retry::fallback_async`: an async function answers the final error.
#[derive(Clone, Copy, Debug)]
pub struct FallbackAsync<F>(pub(super) Option<F>);

impl<T, E, F, Fut> Recover<T, E> for FallbackAsync<F>
where
    F: FnOnce(E) -> Fut,
    Fut: core::future::Future<Output = Result<T, E>>,
{
    type Future = Fut;
    fn recover(&mut self, last: Result<T, E>) -> Result<Fut, Result<T, E>> {
        match (last, self.0.take()) {
            (Err(error), Some(fallback)) => Ok(fallback(error)),
            (last, _) => Err(last),
        }
    }
}

/// [`RetryBlocking::fallback_outcome`]: a plain function answers the whole last outcome of a
/// call that gave up, a value judged a failure (`until`, `classify_ok`) included.
#[derive(Clone, Copy, Debug)]
pub struct FallbackOutcome<F>(pub(super) Option<F>);

impl<T, E, F: FnOnce(Result<T, E>) -> Result<T, E>> Recover<T, E> for FallbackOutcome<F> {
    type Future = core::future::Ready<Result<T, E>>;
    fn recover(&mut self, last: Result<T, E>) -> Result<Self::Future, Result<T, E>> {
        match self.0.take() {
            Some(fallback) => Ok(core::future::ready(fallback(last))),
            None => Err(last),
        }
    }
}

/// A plain fallback's answer, without a runtime.
pub(super) fn ready_now<T, E>(ready: core::future::Ready<Result<T, E>>) -> Result<T, E> {
    ready.into_inner()
}
