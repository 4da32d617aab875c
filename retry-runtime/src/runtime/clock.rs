//! Where a call reads the time: a [`Clock`], and the 8-byte [`Stamp`] a call keeps.

use core::time::Duration;

/// A point in time as signed nanoseconds from a fixed point of its clock's choosing: 8 bytes in
/// the retried future's state instead of an `Instant`'s 16. Only differences between two stamps
/// of the same clock are read, and only when there is a deadline (or a hook that reports the
/// elapsed time).
pub type Stamp = i64;

/// "No clock was started" (for policies only known at run time).
pub(crate) const NO_STAMP: Stamp = i64::MIN;

/// Where the elapsed time of a call is read: every [`Sleeper`](super::Sleeper) has one, so
/// that a deadline is measured on the time its sleeps take (a test clock's, say).
pub trait Clock {
    /// Now, on this clock.
    fn now(&self) -> Stamp;
}

impl<C: Clock + ?Sized> Clock for &C {
    #[inline]
    fn now(&self) -> Stamp {
        (**self).now()
    }
}

/// No clock at all, for calls whose policy reads no time (no deadline, no hook that reports
/// the elapsed time): it always reads zero, and the code `#[retry]` generates passes it only
/// where nothing reads it.
impl Clock for () {
    #[inline(always)]
    fn now(&self) -> Stamp {
        0
    }
}

/// Now on `clock`, as the time the doors pass to the [`AdaptiveThrottle`](crate::AdaptiveThrottle),
/// the [`RateLimiter`](crate::RateLimiter) and `RateLimits` of a call on that clock: its stamp
/// as a `Duration` from a point 2⁴² ns (73 minutes) before the clock's zero, so that a clock
/// that stands before its epoch (tokio's paused clock) still reads a positive time. Those
/// guards only compare such times with each other; a caller that drives one of them by hand
/// beside a door reads the time here.
///
/// ```
/// use retry_runtime::runtime::{guard_time, TestClock};
/// use std::time::Duration;
///
/// let clock = TestClock::new();
/// let start = guard_time(&clock);
/// clock.advance(Duration::from_secs(3));
/// assert_eq!(guard_time(&clock) - start, Duration::from_secs(3));
/// ```
#[inline]
pub fn guard_time(clock: &(impl Clock + ?Sized)) -> Duration {
    const OFFSET: Stamp = 1 << 42;
    Duration::from_nanos(u64::try_from(clock.now().saturating_add(OFFSET)).unwrap_or(0))
}

/// Time since `start` on `clock`; `None` when no clock was started.
#[inline]
pub(crate) fn since(clock: &(impl Clock + ?Sized), start: Stamp) -> Option<Duration> {
    (start != NO_STAMP).then(|| between(start, clock.now()))
}

pub(crate) fn between(start: Stamp, now: Stamp) -> Duration {
    Duration::from_nanos(u64::try_from(now.saturating_sub(start)).unwrap_or(0))
}

/// A duration as a stamp difference, saturating.
#[cfg(feature = "std")]
#[inline]
pub(crate) fn nanos(d: Duration) -> Stamp {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

#[cfg(feature = "std")]
static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// An `Instant` as a stamp from a process-wide epoch.
#[cfg(feature = "std")]
pub(crate) fn stamp_of(at: std::time::Instant) -> Stamp {
    let epoch = *EPOCH.get_or_init(std::time::Instant::now);
    match at.checked_duration_since(epoch) {
        Some(after) => nanos(after),
        // tokio's paused clock may stand before the epoch; `-i64::MAX` keeps clear of NO_STAMP.
        None => -nanos(epoch.duration_since(at)),
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::runtime::StdClock;
    use std::time::Instant;

    #[test]
    fn stamps_measure_elapsed_time_on_both_sides_of_the_epoch() {
        let now = Instant::now();
        let later = stamp_of(now + Duration::from_millis(1500));
        let earlier = stamp_of(now.checked_sub(Duration::from_secs(3)).unwrap_or(now));
        assert!(earlier < later);
        assert_eq!(between(stamp_of(now), later), Duration::from_millis(1500));
        assert_eq!(between(later, stamp_of(now)), Duration::ZERO);
        assert_eq!(since(&StdClock, NO_STAMP), None);
        assert!(since(&StdClock, StdClock.now()).is_some());
    }

    #[cfg(feature = "tokio")]
    #[tokio::test(start_paused = true)]
    async fn tokio_stamps_follow_the_paused_clock() {
        let clock = crate::runtime::TokioSleeper;
        let start = clock.now();
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert_eq!(since(&clock, start), Some(Duration::from_secs(3600)));
    }
}
