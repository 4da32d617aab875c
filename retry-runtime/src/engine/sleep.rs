//! Sleeping between attempts, on the call's sleeper: the blocking retry loop, and the async
//! sleep kept out of line.

use core::time::Duration;

use super::memory::Memory;
use super::turn::Step;
use crate::runtime::{BlockingSleeper, Sleeper};

/// What one turn of a blocking retry loop ended with.
#[derive(Debug)]
pub enum Flow<R> {
    /// Return this outcome: a success, or the last failure of a call that gives up.
    Done(R),
    /// Sleep this long, then run the next attempt.
    Retry(Duration),
}

/// The retry loop for blocking code: `turn` runs one attempt and decides (through
/// [`Step::turn`]); the loop waits between turns on `sleeper` (the thread's sleep by default).
///
/// The first turn is written out here and the rest of the loop is out of line, so the function
/// that a success returns from has no loop in it.
#[inline]
pub fn run_blocking<M: Memory, S: BlockingSleeper, R, F: FnMut(&mut Step<M>) -> Flow<R>>(
    mut step: Step<M>,
    sleeper: S,
    mut turn: F,
) -> R {
    match turn(&mut step) {
        Flow::Done(outcome) => outcome,
        Flow::Retry(delay) => keep_going(step, &sleeper, turn, delay),
    }
}

/// The turns after the first failure.
#[cold]
#[inline(never)]
fn keep_going<M: Memory, S: BlockingSleeper, R, F: FnMut(&mut Step<M>) -> Flow<R>>(
    mut step: Step<M>,
    sleeper: &S,
    mut turn: F,
    mut delay: Duration,
) -> R {
    loop {
        // A zero delay retries at once, without the system call.
        if !delay.is_zero() {
            sleeper.block(delay);
        }
        match turn(&mut step) {
            Flow::Done(outcome) => return outcome,
            Flow::Retry(next) => delay = next,
        }
    }
}

/// The sleep between attempts of async code on the default sleeper, out of line: keeping the
/// timer's set-up off the function that runs the first attempt keeps that function's success
/// path short.
#[cold]
#[inline(never)]
#[track_caller]
pub fn sleep<S: Sleeper>(sleeper: &S, delay: Duration) -> S::Sleep {
    sleeper.sleep(delay)
}

/// The sleeper of generated async code that names none: the default one, or without a timer
/// feature a stand-in (an `async fn` under `#[retry]` is then a compile error, and this keeps
/// the rest of its expansion free of secondary errors).
#[cfg(any(
    feature = "tokio",
    feature = "smol",
    all(feature = "wasm", target_arch = "wasm32"),
    feature = "embassy"
))]
pub type AsyncDefault = crate::runtime::DefaultSleeper;
/// Without a timer feature: never used at run time (the expansion does not compile).
#[cfg(not(any(
    feature = "tokio",
    feature = "smol",
    all(feature = "wasm", target_arch = "wasm32"),
    feature = "embassy"
)))]
pub type AsyncDefault = without_timer::NeverSleeps;

/// The one value of `AsyncDefault`.
pub const ASYNC_SLEEPER: AsyncDefault = AsyncDefault {};

/// The sleep between attempts of generated async code that names no sleeper, on the default
/// one, out of line. It takes no sleeper argument, so that no reference to one is held across
/// the `.await` in the retried future's state.
#[cold]
#[inline(never)]
#[track_caller]
pub fn sleep_default(delay: Duration) -> <AsyncDefault as Sleeper>::Sleep {
    ASYNC_SLEEPER.sleep(delay)
}

/// The per-attempt timeout of generated code that names no sleeper, on the default timer
/// (with `tokio`, tokio's own timeout is used instead).
#[cfg(not(feature = "tokio"))]
#[inline]
pub fn timeout<F: core::future::Future>(
    limit: Duration,
    future: F,
) -> crate::runtime::Timed<F, <AsyncDefault as Sleeper>::Sleep> {
    crate::runtime::timeout(&ASYNC_SLEEPER, limit, future)
}

/// Without a timer feature, `#[retry]` on an `async fn` that names no sleeper expands to one
/// clear error, and this stand-in keeps the rest of the expansion free of secondary errors.
#[cfg(not(any(
    feature = "tokio",
    feature = "smol",
    all(feature = "wasm", target_arch = "wasm32"),
    feature = "embassy"
)))]
pub mod without_timer {
    use core::time::Duration;

    use crate::runtime::{Clock, Sleeper, Stamp};

    /// Never used at run time: the expansion does not compile without a timer.
    #[derive(Clone, Copy, Debug)]
    pub struct NeverSleeps;

    impl Clock for NeverSleeps {
        fn now(&self) -> Stamp {
            0
        }
    }

    impl Sleeper for NeverSleeps {
        type Sleep = core::future::Pending<()>;
        fn sleep(&self, _: Duration) -> Self::Sleep {
            core::future::pending()
        }
    }
}
