//! Blocking code: the thread's sleep and the system's monotonic clock.

use core::time::Duration;

use super::{stamp_of, BlockingSleeper, Clock, Stamp};

/// The system's monotonic clock (`std::time::Instant`).
#[derive(Clone, Copy, Debug, Default)]
pub struct StdClock;

impl Clock for StdClock {
    #[inline]
    fn now(&self) -> Stamp {
        stamp_of(std::time::Instant::now())
    }
}

/// Sleeps the thread (`std::thread::sleep`), on the system's monotonic clock: the sleeper of
/// blocking calls.
#[derive(Clone, Copy, Debug, Default)]
pub struct ThreadSleeper;

impl Clock for ThreadSleeper {
    #[inline]
    fn now(&self) -> Stamp {
        StdClock.now()
    }
}

impl BlockingSleeper for ThreadSleeper {
    #[inline]
    fn block(&self, delay: Duration) {
        std::thread::sleep(delay)
    }
}
