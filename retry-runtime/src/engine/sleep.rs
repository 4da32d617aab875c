//! Sleeping between attempts: the thread's sleep for blocking code, tokio's timer for async
//! code, and the blocking retry loop.

use core::time::Duration;

use super::memory::Memory;
use super::turn::Step;

/// What one turn of a blocking retry loop ended with.
#[derive(Debug)]
pub enum Flow<R> {
    /// Return this outcome: a success, or the last failure of a call that gives up.
    Done(R),
    /// Sleep this long, then run the next attempt.
    Retry(Duration),
}

/// The retry loop for blocking code: `turn` runs one attempt and decides (through
/// [`Step::turn`]); the loop sleeps between turns with `std::thread::sleep`.
///
/// The first turn is written out here and the rest of the loop is out of line, so the function
/// that a success returns from has no loop in it.
#[inline]
pub fn run_blocking<M: Memory, R, F: FnMut(&mut Step<M>) -> Flow<R>>(
    mut step: Step<M>,
    mut turn: F,
) -> R {
    match turn(&mut step) {
        Flow::Done(outcome) => outcome,
        Flow::Retry(delay) => keep_going(step, turn, delay),
    }
}

/// The turns after the first failure.
#[cold]
#[inline(never)]
fn keep_going<M: Memory, R, F: FnMut(&mut Step<M>) -> Flow<R>>(
    mut step: Step<M>,
    mut turn: F,
    mut delay: Duration,
) -> R {
    loop {
        blocking_sleep(delay);
        match turn(&mut step) {
            Flow::Done(outcome) => return outcome,
            Flow::Retry(next) => delay = next,
        }
    }
}

/// The sleep between attempts of blocking code, out of line; a zero delay retries at once,
/// without the system call.
#[cold]
#[inline(never)]
fn blocking_sleep(delay: Duration) {
    if !delay.is_zero() {
        std::thread::sleep(delay)
    }
}

/// The sleep between attempts of async code, out of line: keeping tokio's timer set-up off the
/// function that runs the first attempt keeps that function's success path short.
#[cfg(feature = "tokio")]
#[cold]
#[inline(never)]
#[track_caller]
pub fn sleep(delay: Duration) -> tokio::time::Sleep {
    tokio::time::sleep(delay)
}

/// Without the `tokio` feature, `#[retry]` on an `async fn` expands to one clear error, and
/// these stand-ins keep the rest of the expansion free of secondary errors.
#[cfg(not(feature = "tokio"))]
pub(crate) mod without_tokio {
    use core::future::Future;
    use core::time::Duration;

    /// Never used at run time: the expansion does not compile without `tokio`.
    pub fn sleep(_: Duration) -> core::future::Pending<()> {
        core::future::pending()
    }

    /// Never used at run time: the expansion does not compile without `tokio`.
    pub async fn timeout<F: Future>(_: Duration, future: F) -> Result<F::Output, ()> {
        Ok(future.await)
    }
}
