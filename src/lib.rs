//! Shared helpers for the integration tests and examples of `retry-runtime`, and for the
//! benchmarks in `benchmarks/` (package `retry-benchmarks`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll, Waker};

/// Polls a future that never waits on anything (no timer, no I/O) to completion, with no
/// runtime at all: what the benchmarks and the allocation test use to see the retry loop alone.
///
/// ```
/// assert_eq!(retry_suite::run_ready(async { 7 }), 7);
/// ```
#[inline]
pub fn run_ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

/// A call counter for flaky test operations.
///
/// ```
/// let calls = retry_suite::Counter::new();
/// assert_eq!(calls.bump(), 1);
/// assert_eq!(calls.get(), 1);
/// ```
#[derive(Debug, Default)]
pub struct Counter(AtomicU32);

impl Counter {
    /// A counter at zero.
    pub const fn new() -> Self {
        Self(AtomicU32::new(0))
    }

    /// Adds one and returns the new count.
    pub fn bump(&self) -> u32 {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// The current count.
    pub fn get(&self) -> u32 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Every Rust block of README.md, compiled as a doctest (`cargo test --doc`), so that no README
/// example can break unnoticed. Its examples use the HTTP, tracing, smol and tower features.
#[cfg(all(
    doctest,
    feature = "http",
    feature = "tracing",
    feature = "smol",
    feature = "tower"
))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
