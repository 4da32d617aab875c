//! The one seam to a runtime: a [`Sleeper`] sleeps between attempts and times the per-attempt
//! timeout; its [`Clock`] measures the deadline. Everything else the engine decides on its own.
//!
//! | sleeper | feature | sleeps on | clock |
//! |---|---|---|---|
//! | [`TokioSleeper`] | `tokio` (default) | `tokio::time` | tokio's (paused in tests) |
//! | [`SmolSleeper`] | `smol` | `async-io`'s timer (smol, async-std) | the system's monotonic clock |
//! | `WasmSleeper` (on `wasm32`) | `wasm` | JavaScript's `setTimeout` (browser, node, workers) | `performance.now()` |
//! | [`EmbassySleeper`] | `embassy` | `embassy-time` (no_std) | `embassy_time::Instant` |
//! | [`TestClock`] | `std` | a clock the test moves | the same clock |
//! | [`ThreadSleeper`] | `std` | the thread (blocking code) | the system's monotonic clock |
//!
//! Without `sleeper = ...` (attribute) or `.sleeper(..)` (builders), async calls use the first
//! of `tokio`, `smol`, `wasm`, `embassy` that is enabled ([`DefaultSleeper`]); blocking calls
//! sleep the thread. Any type that implements [`Sleeper`] (or [`BlockingSleeper`]) can be given
//! instead:
//!
//! ```
//! use core::future::Future;
//! use core::pin::Pin;
//! use core::task::{Context, Poll};
//! use core::time::Duration;
//! use retry_runtime::runtime::{Clock, Sleeper, Stamp};
//!
//! /// A sleeper for a runtime of our own: its timer, its clock.
//! struct MyRuntime;
//!
//! impl Clock for MyRuntime {
//!     fn now(&self) -> Stamp {
//!         0 // nanoseconds from any fixed point; only differences are read
//!     }
//! }
//!
//! impl Sleeper for MyRuntime {
//!     type Sleep = core::future::Ready<()>;
//!     fn sleep(&self, _delay: Duration) -> Self::Sleep {
//!         core::future::ready(()) // the runtime's timer future goes here
//!     }
//! }
//! ```

use core::future::Future;
use core::time::Duration;

pub(crate) mod clock;
#[cfg(feature = "embassy")]
mod embassy;
#[cfg(feature = "smol")]
mod smol;
#[cfg(feature = "std")]
mod test_clock;
#[cfg(feature = "std")]
mod thread;
mod timed;
#[cfg(feature = "tokio")]
mod tokio;
#[cfg(all(feature = "wasm", target_arch = "wasm32"))]
mod wasm;

#[cfg(feature = "std")]
pub(crate) use clock::stamp_of;
pub use clock::{guard_time, Clock, Stamp};
pub(crate) use clock::{since, NO_STAMP};
#[cfg(feature = "embassy")]
pub use embassy::EmbassySleeper;
#[cfg(feature = "smol")]
pub use smol::{SmolSleep, SmolSleeper};
#[cfg(feature = "std")]
pub use test_clock::{TestClock, TestSleep, TestTime};
#[cfg(feature = "std")]
pub use thread::{StdClock, ThreadSleeper};
pub use timed::{timeout, Elapsed, Timed};
#[cfg(feature = "tokio")]
pub use tokio::TokioSleeper;
#[cfg(all(feature = "wasm", target_arch = "wasm32"))]
pub use wasm::{WasmSleep, WasmSleeper};

/// Sleeps between the attempts of async calls, and times their per-attempt timeouts (the
/// attempt is raced against [`sleep`](Sleeper::sleep)). Its [`Clock`] measures the deadline.
///
/// Give one with `#[retry(sleeper = EXPR)]` or `.sleeper(..)` on
/// [`Policy::retry`](crate::Policy::retry); [`DefaultSleeper`] otherwise. A reference to a sleeper is one too.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a `Sleeper`: async retries need a timer",
    label = "no timer to sleep on between attempts",
    note = "enable one of retry-runtime's timer features (`tokio`, `smol`, `wasm`, `embassy`), or give a sleeper: `#[retry(sleeper = ...)]`, `.sleeper(..)`"
)]
pub trait Sleeper: Clock {
    /// The future of one sleep.
    type Sleep: Future<Output = ()>;
    /// A future that completes after `delay` (at once, or on the next tick, for zero).
    fn sleep(&self, delay: Duration) -> Self::Sleep;
}

impl<S: Sleeper + ?Sized> Sleeper for &S {
    type Sleep = S::Sleep;
    #[inline]
    fn sleep(&self, delay: Duration) -> Self::Sleep {
        (**self).sleep(delay)
    }
}

/// Sleeps between the attempts of blocking calls. Its [`Clock`] measures the deadline.
///
/// [`ThreadSleeper`] (feature `std`) sleeps the thread; [`TestClock`] moves its own time
/// instead, so a blocking schedule is checked instantly.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a `BlockingSleeper`: blocking retries need a way to wait",
    label = "no way to wait between attempts",
    note = "without retry-runtime's `std` feature, give one: `#[retry(sleeper = ...)]`, `.sleeper(..)`"
)]
pub trait BlockingSleeper: Clock {
    /// Blocks for `delay`.
    fn block(&self, delay: Duration);
}

impl<S: BlockingSleeper + ?Sized> BlockingSleeper for &S {
    #[inline]
    fn block(&self, delay: Duration) {
        (**self).block(delay)
    }
}

/// The sleeper of async calls that name none: tokio's, else smol's, else the wasm one, else
/// embassy's, by the features enabled. With none of them it is [`NoTimer`], and an async
/// retry without a sleeper of its own is a compile error that names the features.
#[cfg(feature = "tokio")]
pub type DefaultSleeper = TokioSleeper;
/// The sleeper of async calls that name none (see the `tokio` build of these docs).
#[cfg(all(not(feature = "tokio"), feature = "smol"))]
pub type DefaultSleeper = SmolSleeper;
/// The sleeper of async calls that name none (see the `tokio` build of these docs).
#[cfg(all(
    not(any(feature = "tokio", feature = "smol")),
    feature = "wasm",
    target_arch = "wasm32"
))]
pub type DefaultSleeper = WasmSleeper;
/// The sleeper of async calls that name none (see the `tokio` build of these docs).
#[cfg(all(
    not(any(feature = "tokio", feature = "smol")),
    not(all(feature = "wasm", target_arch = "wasm32")),
    feature = "embassy"
))]
pub type DefaultSleeper = EmbassySleeper;
/// The sleeper of async calls that name none: no timer feature is enabled, so there is none.
#[cfg(not(any(
    feature = "tokio",
    feature = "smol",
    all(feature = "wasm", target_arch = "wasm32"),
    feature = "embassy"
)))]
pub type DefaultSleeper = NoTimer;

/// The one value of [`DefaultSleeper`].
pub const DEFAULT_SLEEPER: DefaultSleeper = DefaultSleeper {};

/// No timer: what [`DefaultSleeper`] is when no timer feature is enabled. It is a [`Clock`]
/// (the system's with `std`, a stopped one without) so that blocking code and the guards keep
/// working, but not a [`Sleeper`]: an async retry that names no sleeper does not compile.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoTimer;

impl Clock for NoTimer {
    #[inline]
    fn now(&self) -> Stamp {
        #[cfg(feature = "std")]
        {
            StdClock.now()
        }
        #[cfg(not(feature = "std"))]
        {
            0
        }
    }
}

/// The sleeper of blocking calls that name none: the thread's with `std`; without it there
/// is none ([`NoTimer`]), and a blocking retry must be given one.
#[cfg(feature = "std")]
pub type DefaultBlockingSleeper = ThreadSleeper;
/// The sleeper of blocking calls that name none: without `std` there is none.
#[cfg(not(feature = "std"))]
pub type DefaultBlockingSleeper = NoTimer;

/// The one value of [`DefaultBlockingSleeper`].
pub const DEFAULT_BLOCKING_SLEEPER: DefaultBlockingSleeper = DefaultBlockingSleeper {};

/// Now on the clock of the guards (the circuit breaker's breaks): the default sleeper's clock
/// (tokio's paused test clock drives it), the system's without a timer feature.
#[inline]
pub(crate) fn guard_now() -> Stamp {
    DEFAULT_SLEEPER.now()
}
