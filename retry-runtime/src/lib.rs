//! Compile-time checked retry policies for Rust functions.
//!
//! Put `#[retry(...)]` on an `async fn` (or a plain `fn`) that returns a `Result`, and every call
//! runs the body again when it fails, sleeping between attempts as the policy says. The policy
//! is parsed and checked when the crate compiles: `attempts = 0`, `base = "2 parsecs"` or a
//! `max` below `base` are compile errors that point at the offending token.
//!
// The attribute is there only with the `macros` feature (on by default).
#![cfg_attr(all(feature = "macros", feature = "tokio"), doc = "```")]
#![cfg_attr(not(all(feature = "macros", feature = "tokio")), doc = "```ignore")]
//! use retry_runtime::retry;
//! use std::sync::atomic::{AtomicU32, Ordering};
//!
//! static CALLS: AtomicU32 = AtomicU32::new(0);
//!
//! #[retry(attempts = 3, base = "10ms", jitter)]
//! async fn flaky() -> Result<u32, String> {
//!     let n = CALLS.fetch_add(1, Ordering::SeqCst) + 1;
//!     if n < 3 { Err(format!("attempt {n} failed")) } else { Ok(n) }
//! }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! assert_eq!(flaky().await, Ok(3));
//! # }
//! ```
//!
//! # One engine, every door
//!
//! The retry engine lives here, once. After an attempt, its one turn
//! (gate → attempt → judge → **turn** → return or sleep) reports the outcome to the
//! [`CircuitBreaker`], applies the filters' verdict, the attempt limit, the backoff with jitter,
//! server hints (bounded by [`Policy::max_hint`]), the deadline and the [`RetryBudget`], counts
//! the call, and decides the delay or why to give up ([`GiveUp`]). Every way in drives that
//! same turn:
//!
//! - the `#[retry]` attribute writes the per-attempt preparation of the arguments, the filters
//!   and the events into the function, and hands each verdict to the engine (`retry`'s
//!   documentation shows exactly what it emits, under "What it expands to");
//! - `Policy::retry` (on any sleeper) and [`Policy::retry_blocking`] retry a closure, with a
//!   policy known only at run time ([`builder`] has the pieces);
//! - the `reqwest-middleware` layer (feature `reqwest-middleware`) retries a client's requests;
//! - [`Policy::schedule`] is the engine's decision step as a value, for loops you drive yourself.
//!
//! A rule fixed in the engine is fixed on every door: the failure that opens the breaker ends
//! the call with its own outcome everywhere, a permanent answer refills the budget everywhere,
//! and a breaker that re-admits between a failure and the next check cannot make a call run an
//! uncounted attempt.
//!
//! When retrying is the wrong answer, two more pieces bound what a caller does to a service
//! that is down: a [`CircuitBreaker`] (`breaker = PATH` on the attribute, `.breaker(&B)` on the
//! builders) stops the first attempts too while the service fails, and a `fallback` answers the
//! final error from elsewhere (a cache, a default).
//!
//! The schedule itself is a [`Policy`]: a `const`-constructible value with a [`Backoff`]
//! strategy and a [`Jitter`] kind, usable on its own through [`Policy::delays`].
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
#![cfg_attr(
    feature = "macros",
    doc = "| `macros` | yes | the [`retry`] attribute |"
)]
#![cfg_attr(
    not(feature = "macros"),
    doc = "| `macros` | yes | the `retry` attribute |"
)]
//! | `std` | yes | blocking retries on the thread's sleep, the system clock, per-thread jitter seeded by the OS, idempotency keys, `runtime::TestClock`, `std::io` conversions; without it the crate is `no_std` |
//! | `smol` | no | async retries on async-io's timer (`runtime::SmolSleeper`): smol, async-std, any executor |
//! | `wasm` | no | async retries in a JavaScript host on `wasm32` (`WasmSleeper`: `setTimeout`, `performance.now()`), keys from `getrandom`'s `wasm_js` backend |
//! | `embassy` | no | async retries on `embassy-time` (`runtime::EmbassySleeper`), `no_std` |
//! | `getrandom` | no | idempotency keys without `std`, from `getrandom` |
//! | `http` | no | [`Classify`] for `http::StatusCode` and `http::Response`, and the `http` module (`Retry-After` in both its forms) |
//! | `reqwest` | no | [`Classify`] for `reqwest::Error` and `reqwest::Response` (implies `http`) |
//! | `tokio` | yes | async retries: sleeping and per-attempt timeouts on tokio's timer; with no timer feature at all, `#[retry]` on an `async fn` without `sleeper` is a compile error naming them |
//! | `reqwest-middleware` | no | `middleware::RetryMiddleware`, a layer for `reqwest_middleware` clients (implies `reqwest` and `tokio`) |
//! | `tonic` | no | [`Classify`] for `tonic::Status` by gRPC's retry rules (UNAVAILABLE, RESOURCE_EXHAUSTED with `grpc-retry-pushback-ms`, ABORTED) |
//! | `serde` | no | `Policy` implements `Serialize` and `Deserialize` in the shape of a configuration file (`attempts = 5`, `base = "100ms"`, …), validated on load |
//! | `tracing` | no | an INFO event for every retry and a WARN one when a retried call gives up (DEBUG when it was not retried), targeted at the retried function's module; an INFO span per call of the builders, a blocking `#[retry]`, the middleware and the tower layer, on which each attempt records `attempt` (and `http.request.resend_count` on HTTP) |
//! | `metrics` | no | counters (calls, attempts, retries, give-ups by reason) and a histogram of attempts per call through the `metrics` facade, labelled by function |
//!
//! # Runtimes
//!
//! Async calls sleep and time their attempts on a [`Sleeper`]: the first of the `tokio`, `smol`,
//! `wasm` and `embassy` features enabled ([`runtime::DefaultSleeper`]), or one given with
//! `sleeper = EXPR` / `.sleeper(..)`. With tokio (the default) async functions must run inside
//! a tokio runtime with the time driver enabled (`#[tokio::main]` and `#[tokio::test]` enable
//! it). Under any executor, `runtime::TestClock` makes schedules instant and exact in tests.
//! With `default-features = false` the crate is `no_std`; see [`runtime`].
#![cfg_attr(not(any(feature = "std", test)), no_std)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod args;
mod attempt;
mod classify;
mod doors;
mod engine;
mod guard;
mod integrations;
mod policy;
pub mod runtime;
mod sync;

#[cfg(feature = "http")]
#[doc(inline)]
pub use classify::http;
#[cfg(feature = "reqwest")]
#[doc(inline)]
pub use classify::reqwest;
#[doc(inline)]
pub use doors::builder;
#[cfg(feature = "reqwest-middleware")]
#[doc(inline)]
pub use integrations::middleware;
#[cfg(any(feature = "tower", feature = "reqwest-middleware"))]
#[doc(inline)]
pub use integrations::replay;
#[cfg(feature = "tower")]
#[doc(inline)]
pub use integrations::tower;

#[doc(hidden)]
pub mod __private;

#[doc(hidden)]
pub use args::CloneForRetry;
// The traits the attribute's bounds name, re-exported here (hidden) so that compile errors
// show them by their short name rather than by a path into `__private`.
pub use attempt::{Attempt, IdempotencyKey, RetryInfo};
#[cfg(feature = "http")]
pub use classify::rate_limits::RateLimits;
pub use classify::{Classify, Decision, TimedOut};
#[doc(hidden)]
pub use doors::attribute::{
    FromBreakerOpen, FromTimedOut, RetryClassify, RetryClassifyOk, RetryResult,
};
pub use doors::Schedule;
pub use engine::{CallReport, GiveUp, Stop};
pub use guard::breaker::{
    BreakerOpen, BreakerState, BreakerStats, CircuitBreaker, Permit, Transition,
};
pub use guard::budget::RetryBudget;
pub use guard::latencies::Latencies;
pub use guard::rate_limiter::RateLimiter;
pub use guard::throttle::{AdaptiveThrottle, Throttled};
pub use policy::backoff::Backoff;
pub use policy::jitter::{seed_jitter, Jitter};
pub use policy::{Delays, Policy, PolicyError};
pub use runtime::{BlockingSleeper, Sleeper};

#[cfg(feature = "macros")]
#[cfg_attr(feature = "tokio", doc = include_str!("retry.md"))]
#[cfg_attr(
    not(feature = "tokio"),
    doc = "Retries a function that returns a `Result` (its full documentation, whose examples are async, is built with the `tokio` feature)."
)]
pub use retry_macros::retry;

/// Derives [`Classify`] from `#[classify(...)]`: see [`Classify`](trait@Classify).
#[cfg(feature = "macros")]
pub use retry_macros::Classify;
