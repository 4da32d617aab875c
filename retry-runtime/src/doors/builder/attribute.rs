//! What the attribute's hedged expansion needs of the async builder and no hand-written call
//! does: a fallback answering the whole last outcome that may be async (the attribute's
//! `fallback` under `until` or `classify_ok`, which may return a future in an `async fn`).

use super::{Recover, Retry};
use crate::Attempt;

/// [`Retry::__fallback_outcome_async`]: a function answers the whole last outcome of a call
/// that gave up, with a future.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub struct FallbackOutcomeAsync<F>(Option<F>);

impl<T, E, F, Fut> Recover<T, E> for FallbackOutcomeAsync<F>
where
    F: FnOnce(Result<T, E>) -> Fut,
    Fut: core::future::Future<Output = Result<T, E>>,
{
    type Future = Fut;
    fn recover(&mut self, last: Result<T, E>) -> Result<Fut, Result<T, E>> {
        match self.0.take() {
            Some(fallback) => Ok(fallback(last)),
            None => Err(last),
        }
    }
}

impl<'a, Op, J, H, G, Fb, L, N, S> Retry<'a, Op, J, H, G, Fb, L, N, S> {
    /// `fallback_outcome` whose answer is a future: for the code `#[retry]` generates.
    #[doc(hidden)]
    pub fn __fallback_outcome_async<F, Fut, T, E>(
        self,
        fallback: F,
    ) -> Retry<'a, Op, J, H, G, FallbackOutcomeAsync<F>, L, N, S>
    where
        Op: AsyncFnMut(Attempt) -> Result<T, E>,
        F: FnOnce(Result<T, E>) -> Fut,
        Fut: core::future::Future<Output = Result<T, E>>,
    {
        self.with_fallback(FallbackOutcomeAsync(Some(fallback)))
    }
}
