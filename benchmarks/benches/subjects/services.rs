//! The `tower` cases, shared by `benches/retry.rs` (timed) and `benches/instructions.rs`
//! (counted): one trivial service (`tower::service_fn` answering `future::ready(Ok(..))` at
//! once), bare and behind three retry layers, each with its defaults and nothing retried:
//!
//! - retry-runtime's [`RetryLayer`](retry_runtime::tower::RetryLayer), `Policy::new()`;
//! - tower's own `retry::Retry`, with a policy that retries nothing (`retry` answers `None`,
//!   `clone_request` clones);
//! - tower-resilience's retry layer, `exponential_backoff()` as its README shows (3 attempts,
//!   100 ms, the same as its builder's defaults).
//!
//! The request is a `u64` in a type of its own, so that copying it costs nothing and what is
//! measured is the layer. One call is what a tower caller does: `poll_ready`, `call`, and the
//! future polled to completion where it was built.

use std::fmt;
use std::future::{ready, Future, Ready};
use std::hint::black_box;
use std::pin::{pin, Pin};
use std::task::{Context, Poll, Waker};

use retry_runtime::tower::{BoxError, Replay};
use tower::{Layer, Service};

/// The request: cheap to copy, replayed by copying.
#[derive(Clone, Debug)]
pub(crate) struct Req(pub(crate) u64);

impl Replay for Req {
    type Kept = Req;
    fn keep(self, _body_limit: usize) -> (Self, Req) {
        (self.clone(), self)
    }
    fn again(kept: &Req) -> Option<Self> {
        Some(kept.clone())
    }
}

/// The service's error (never returned on the measured path).
#[derive(Debug)]
pub(crate) struct Failed;

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("failed")
    }
}

impl std::error::Error for Failed {}

fn answer(request: Req) -> Ready<Result<u64, Failed>> {
    let x = black_box(request.0);
    ready(if x == u64::MAX {
        Err(Failed)
    } else {
        Ok(x.wrapping_mul(3))
    })
}

/// The service every case calls, without a layer.
pub(crate) fn bare(
) -> impl Service<Req, Response = u64, Error = Failed, Future = Ready<Result<u64, Failed>>>
       + Clone
       + Send
       + 'static {
    tower::service_fn(answer)
}

/// The same service behind retry-runtime's layer, `Policy::new()`.
pub(crate) fn ours() -> impl Service<Req, Response = u64, Error = BoxError> + Clone {
    retry_runtime::tower::RetryLayer::new(retry_runtime::Policy::new()).layer(bare())
}

/// A `tower::retry::Policy` that retries nothing.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RetryNothing;

impl<Res, E> tower::retry::Policy<Req, Res, E> for RetryNothing {
    type Future = Ready<()>;
    fn retry(&mut self, _: &mut Req, _: &mut Result<Res, E>) -> Option<Self::Future> {
        None
    }
    fn clone_request(&mut self, request: &Req) -> Option<Req> {
        Some(request.clone())
    }
}

/// The same service behind `tower::retry::Retry` with [`RetryNothing`].
pub(crate) fn tower_retry() -> impl Service<Req, Response = u64, Error = Failed> + Clone {
    tower::retry::RetryLayer::new(RetryNothing).layer(bare())
}

/// The same service behind tower-resilience's retry layer, with its defaults.
pub(crate) fn tower_resilience() -> impl Service<
    Req,
    Response = u64,
    Error = Failed,
    Future = Pin<Box<dyn Future<Output = Result<u64, Failed>> + Send>>,
> + Clone {
    tower_resilience::retry::RetryLayer::<Req, u64, Failed>::exponential_backoff()
        .build()
        .layer(bare())
}

/// Polls to completion where the future was built (as `.await` does).
#[inline(always)]
fn run<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
    }
}

/// One call as a tower caller makes it, out of line: `poll_ready`, then `call`, its future
/// polled to completion. The error is dropped (the success path never has one).
#[inline(never)]
pub(crate) fn call<S: Service<Req, Response = u64>>(service: &mut S, x: u64) -> Result<u64, u32> {
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        match service.poll_ready(&mut cx) {
            Poll::Ready(Ok(())) => break,
            Poll::Ready(Err(_)) => return Err(0),
            Poll::Pending => {}
        }
    }
    run(service.call(Req(x))).map_err(|_| 0)
}

/// The size of the future `call` returns, before it is polled (the service made ready
/// first, as the contract asks).
pub(crate) fn future_size<S: Service<Req>>(mut service: S) -> usize {
    let _ = service.poll_ready(&mut Context::from_waker(Waker::noop()));
    std::mem::size_of_val(&service.call(Req(1)))
}
