//! embassy-time's timer and clock (feature `embassy`, no_std).

use core::time::Duration;

use super::{Clock, Sleeper, Stamp};

/// Sleeps on `embassy_time::Timer`, on `embassy_time::Instant` (microsecond resolution here;
/// the time driver is the board's, or embassy-time's mock driver in host tests).
#[derive(Clone, Copy, Debug, Default)]
pub struct EmbassySleeper;

impl Clock for EmbassySleeper {
    #[inline]
    fn now(&self) -> Stamp {
        let micros = embassy_time::Instant::now().as_micros();
        i64::try_from(micros)
            .unwrap_or(i64::MAX / 1_000)
            .saturating_mul(1_000)
    }
}

impl Sleeper for EmbassySleeper {
    type Sleep = embassy_time::Timer;
    #[inline]
    fn sleep(&self, delay: Duration) -> embassy_time::Timer {
        // In the driver's ticks, rounded up; capped where `now + delay` would overflow (at a
        // megahertz tick, over 100,000 years): such a sleep never ends.
        let hz = u128::from(embassy_time::TICK_HZ);
        let ticks = delay.as_nanos().saturating_mul(hz).div_ceil(1_000_000_000);
        let ticks = u64::try_from(ticks).unwrap_or(u64::MAX).min(u64::MAX / 4);
        embassy_time::Timer::after(embassy_time::Duration::from_ticks(ticks))
    }
}
