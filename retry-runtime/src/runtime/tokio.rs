//! tokio's timer and clock (feature `tokio`): the default, and the fastest path.

use core::time::Duration;

use super::{stamp_of, Clock, Sleeper, Stamp};

/// Sleeps on `tokio::time`, on tokio's clock (which `#[tokio::test(start_paused = true)]`
/// pauses and moves, so schedules are exact in tests). Calls must run inside a tokio runtime
/// with the time driver enabled (`#[tokio::main]` and `#[tokio::test]` enable it).
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioSleeper;

impl Clock for TokioSleeper {
    #[inline]
    fn now(&self) -> Stamp {
        stamp_of(tokio::time::Instant::now().into_std())
    }
}

impl Sleeper for TokioSleeper {
    type Sleep = tokio::time::Sleep;
    #[inline]
    #[track_caller]
    fn sleep(&self, delay: Duration) -> tokio::time::Sleep {
        tokio::time::sleep(delay)
    }
}
