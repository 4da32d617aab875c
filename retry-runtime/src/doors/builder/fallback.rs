//! What answers when a call gives up with an error ([`Recover`]): nothing, a plain function, or
//! an async one.

#[cfg(doc)]
use super::RetryBlocking;

/// What answers when the call gives up with an error: [`NoFallback`], or a function set with
/// [`fallback`](RetryBlocking::fallback) (or `Retry::fallback_async`).
pub trait Recover<T, E> {
    /// The fallback's answer, as a future (a ready one for a plain function).
    type Future: core::future::Future<Output = Result<T, E>>;
    /// The fallback's answer to `error`, or `Err(error)` when there is none (or it already
    /// answered).
    fn recover(&mut self, error: E) -> Result<Self::Future, E>;
}

/// No fallback: the last error is returned.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoFallback;

impl<T, E> Recover<T, E> for NoFallback {
    type Future = core::future::Ready<Result<T, E>>;
    #[inline(always)]
    fn recover(&mut self, error: E) -> Result<Self::Future, E> {
        Err(error)
    }
}

/// [`RetryBlocking::fallback`]: a plain function answers.
#[derive(Clone, Copy, Debug)]
pub struct Fallback<F>(pub(super) Option<F>);

impl<T, E, F: FnOnce(E) -> Result<T, E>> Recover<T, E> for Fallback<F> {
    type Future = core::future::Ready<Result<T, E>>;
    fn recover(&mut self, error: E) -> Result<Self::Future, E> {
        match self.0.take() {
            Some(fallback) => Ok(core::future::ready(fallback(error))),
            None => Err(error),
        }
    }
}

/// `Retry::fallback_async`: an async function answers.
#[derive(Clone, Copy, Debug)]
pub struct FallbackAsync<F>(pub(super) Option<F>);

impl<T, E, F, Fut> Recover<T, E> for FallbackAsync<F>
where
    F: FnOnce(E) -> Fut,
    Fut: core::future::Future<Output = Result<T, E>>,
{
    type Future = Fut;
    fn recover(&mut self, error: E) -> Result<Fut, E> {
        match self.0.take() {
            Some(fallback) => Ok(fallback(error)),
            None => Err(error),
        }
    }
}

/// A plain fallback's answer, without a runtime.
pub(super) fn ready_now<T, E>(ready: core::future::Ready<Result<T, E>>) -> Result<T, E> {
    ready.into_inner()
}
