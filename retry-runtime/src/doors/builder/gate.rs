//! The circuit breaker asked before every attempt ([`Gate`]) and a refusal as the call's error
//! ([`Refusal`]).

use crate::{BreakerOpen, CircuitBreaker, Permit};

#[cfg(doc)]
use super::RetryBlocking;

/// Whether an attempt may go ahead: [`NoBreaker`], or a [`CircuitBreaker`] set with
/// [`breaker`](RetryBlocking::breaker).
pub trait Gate<'a> {
    /// What the attempt holds while it runs.
    type Permit;
    /// Why an attempt is refused.
    type Refused;
    /// Asks to make an attempt.
    fn enter(&self) -> Result<Self::Permit, Self::Refused>;
    /// The breaker, for the engine's turn.
    fn breaker(&self) -> Option<&'a CircuitBreaker>;
    /// The permit, for the engine's turn to report on.
    fn permit(permit: Option<Self::Permit>) -> Option<Permit<'a>>;
}

/// No circuit breaker.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoBreaker;

impl<'a> Gate<'a> for NoBreaker {
    type Permit = ();
    type Refused = core::convert::Infallible;
    #[inline(always)]
    fn enter(&self) -> Result<(), core::convert::Infallible> {
        Ok(())
    }
    #[inline(always)]
    fn breaker(&self) -> Option<&'a CircuitBreaker> {
        None
    }
    #[inline(always)]
    fn permit(_: Option<()>) -> Option<Permit<'a>> {
        None
    }
}

/// [`RetryBlocking::breaker`]: every attempt asks the breaker first.
#[derive(Clone, Copy, Debug)]
pub struct Guarded<'a>(pub(super) &'a CircuitBreaker);

impl<'a> Gate<'a> for Guarded<'a> {
    type Permit = Permit<'a>;
    type Refused = BreakerOpen;
    #[inline]
    fn enter(&self) -> Result<Permit<'a>, BreakerOpen> {
        self.0.try_acquire()
    }
    #[inline(always)]
    fn breaker(&self) -> Option<&'a CircuitBreaker> {
        Some(self.0)
    }
    #[inline(always)]
    fn permit(permit: Option<Permit<'a>>) -> Option<Permit<'a>> {
        permit
    }
}

/// A refused attempt's error, as the call's error type.
#[diagnostic::on_unimplemented(
    message = "`.breaker(..)` needs `{E}` to implement `From<retry_runtime::BreakerOpen>`",
    label = "an attempt the breaker refuses must become this error type",
    note = "add `impl From<retry_runtime::BreakerOpen> for {E}` (e.g. a `BreakerOpen` variant of your error enum); for a type of another crate, use an error enum of your own that wraps it and has such a variant"
)]
pub trait Refusal<E> {
    /// The error.
    fn into_error(self) -> E;
}

impl<E> Refusal<E> for core::convert::Infallible {
    fn into_error(self) -> E {
        match self {}
    }
}

impl<E: From<BreakerOpen>> Refusal<E> for BreakerOpen {
    #[cold]
    fn into_error(self) -> E {
        E::from(self)
    }
}
