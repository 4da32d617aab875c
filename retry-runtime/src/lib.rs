//! Compile-time checked retry policies for Rust functions.
//!
//! Put `#[retry(...)]` on an `async fn` (or a plain `fn`) that returns a `Result`, and every call
//! runs the body again when it fails, sleeping between attempts as the policy says. The policy
//! is parsed and checked when the crate compiles: `attempts = 0`, `base = "2 parsecs"` or a
//! `max` below `base` are compile errors that point at the offending token.
//!
// The attribute is there only with the `macros` feature (on by default).
#![cfg_attr(feature = "macros", doc = "```")]
#![cfg_attr(not(feature = "macros"), doc = "```ignore")]
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
//! In plain Rust, the attribute turns `flaky` into roughly this (the real expansion names only
//! `::retry_runtime::__private` items and keeps the signature exactly as written):
//!
//! ```
//! # use std::sync::atomic::{AtomicU32, Ordering};
//! # static CALLS: AtomicU32 = AtomicU32::new(0);
//! use retry_runtime::{Jitter, Policy};
//! use std::time::Duration;
//!
//! async fn flaky() -> Result<u32, String> {
//!     const POLICY: Policy = Policy::new()
//!         .with_attempts(3)
//!         .with_base(Duration::from_millis(10))
//!         .with_jitter(Jitter::Full);
//!     let mut attempt = 0;
//!     loop {
//!         attempt += 1;
//!         // The body runs in its own async block: `?` and `return` end the attempt.
//!         let result: Result<u32, String> = async {
//!             let n = CALLS.fetch_add(1, Ordering::SeqCst) + 1;
//!             if n < 3 { Err(format!("attempt {n} failed")) } else { Ok(n) }
//!         }
//!         .await;
//!         if result.is_ok() || attempt >= POLICY.attempts() {
//!             return result;
//!         }
//!         let delay = POLICY.delay(attempt); // then jittered and capped at `max`
//!         tokio::time::sleep(delay).await;
//!     }
//! }
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() { assert_eq!(flaky().await, Ok(3)); }
//! ```
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
//! | `http` | no | [`Classify`] for `http::StatusCode` and `http::Response`, and the `http` module (`Retry-After` in both its forms) |
//! | `reqwest` | no | [`Classify`] for `reqwest::Error` and `reqwest::Response` (implies `http`) |
//! | `tracing` | no | a WARN event for every retry (function, attempt, delay, error) and one when a call gives up |
//!
//! Async functions sleep with `tokio::time`, so they must run inside a tokio runtime with the
//! time driver enabled (`#[tokio::main]` and `#[tokio::test]` enable it).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod attempt;
mod backoff;
mod budget;
mod classify;
mod jitter;
mod policy;

#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "reqwest")]
mod reqwest;

#[doc(hidden)]
pub mod __private;

pub use attempt::{Attempt, IdempotencyKey, RetryInfo};
pub use backoff::Backoff;
pub use budget::RetryBudget;
pub use classify::{Classify, Decision, TimedOut};
pub use jitter::{seed_jitter, Jitter};
pub use policy::{Delays, Policy, PolicyError};

#[cfg(feature = "macros")]
#[doc = include_str!("retry.md")]
pub use retry_macros::retry;
