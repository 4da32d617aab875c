//! Where a call reads the time: [`Clock`] (tokio's paused-able clock for async code, the
//! system's monotonic clock for blocking code) and the 8-byte [`Stamp`] a call keeps.

use core::time::Duration;
use std::time::Instant as StdInstant;

/// A point in time as signed nanoseconds from a process-wide epoch: 8 bytes in the retried
/// future's state instead of an `Instant`'s 16. Only read when there is a deadline (or a hook
/// that reports the elapsed time).
pub type Stamp = i64;

/// "No clock was started" (for policies only known at run time).
pub const NO_STAMP: Stamp = i64::MIN;

static EPOCH: std::sync::OnceLock<StdInstant> = std::sync::OnceLock::new();

pub(crate) fn stamp_of(at: StdInstant) -> Stamp {
    let epoch = *EPOCH.get_or_init(StdInstant::now);
    match at.checked_duration_since(epoch) {
        Some(after) => i64::try_from(after.as_nanos()).unwrap_or(i64::MAX),
        // tokio's paused clock may stand before the epoch; `-i64::MAX` keeps clear of NO_STAMP.
        None => -i64::try_from(epoch.duration_since(at).as_nanos()).unwrap_or(i64::MAX),
    }
}

fn between(start: Stamp, now: Stamp) -> Duration {
    Duration::from_nanos(u64::try_from(now.saturating_sub(start)).unwrap_or(0))
}

/// Where the elapsed time of a call is read.
pub trait Clock {
    /// Now, on this clock.
    fn now() -> StdInstant;

    /// Now, as a stamp.
    #[inline]
    fn stamp() -> Stamp {
        stamp_of(Self::now())
    }

    /// Time since `start`; `None` when no clock was started.
    #[inline]
    fn since(start: Stamp) -> Option<Duration> {
        (start != NO_STAMP).then(|| between(start, Self::stamp()))
    }
}

/// tokio's clock (paused in tests), for `async fn`.
#[cfg(feature = "tokio")]
pub struct TokioClock;

#[cfg(feature = "tokio")]
impl Clock for TokioClock {
    #[inline]
    fn now() -> StdInstant {
        tokio::time::Instant::now().into_std()
    }
}

/// Without the `tokio` feature, stands in for tokio's clock (an `async fn` under `#[retry]` is
/// then a compile error, and this keeps the rest of its expansion free of secondary errors).
#[cfg(not(feature = "tokio"))]
pub type TokioClock = StdClock;

/// The system's monotonic clock, for blocking functions.
pub struct StdClock;

impl Clock for StdClock {
    #[inline]
    fn now() -> StdInstant {
        StdInstant::now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_measure_elapsed_time_on_both_sides_of_the_epoch() {
        let now = StdInstant::now();
        let later = stamp_of(now + Duration::from_millis(1500));
        let earlier = stamp_of(now.checked_sub(Duration::from_secs(3)).unwrap_or(now));
        assert!(earlier < later);
        assert_eq!(between(stamp_of(now), later), Duration::from_millis(1500));
        assert_eq!(between(later, stamp_of(now)), Duration::ZERO);
        assert_eq!(StdClock::since(NO_STAMP), None);
        assert!(StdClock::since(StdClock::stamp()).is_some());
    }

    #[cfg(feature = "tokio")]
    #[tokio::test(start_paused = true)]
    async fn tokio_stamps_follow_the_paused_clock() {
        let start = TokioClock::stamp();
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert_eq!(TokioClock::since(start), Some(Duration::from_secs(3600)));
    }
}
