//! What a call remembers between attempts besides the attempt number: only what its policy
//! reads (a [`Memory`] type per need, chosen by the attribute at compile time).

use core::time::Duration;

use crate::runtime::{since, Clock, Stamp, NO_STAMP};
use crate::Policy;

/// What a call remembers between attempts besides the attempt number. Each policy pays only
/// for what it reads: no clock without a deadline (or a hook that reports the elapsed time),
/// no previous delay without decorrelated jitter.
pub trait Memory: Sized {
    /// The memory of a call that starts now on `clock`; `wants_clock` asks for the elapsed
    /// time even without a deadline.
    fn begin(policy: &Policy, wants_clock: bool, clock: impl Clock) -> Self;
    /// Time since the first attempt started on `clock`, when a clock was started.
    fn elapsed(&self, clock: impl Clock) -> Option<Duration>;
    /// The delay slept before the previous retry (zero before the first).
    fn previous(&self) -> Duration;
    /// Remembers the delay about to be slept.
    fn remember(&mut self, delay: Duration);
}

/// Nothing beyond the attempt number: a policy without deadline or decorrelated jitter.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoMemory;

impl Memory for NoMemory {
    #[inline(always)]
    fn begin(_: &Policy, _: bool, _: impl Clock) -> Self {
        NoMemory
    }
    #[inline(always)]
    fn elapsed(&self, _: impl Clock) -> Option<Duration> {
        None
    }
    #[inline(always)]
    fn previous(&self) -> Duration {
        Duration::ZERO
    }
    #[inline(always)]
    fn remember(&mut self, _: Duration) {}
}

// The memories below are packed to 4-byte alignment, so that the attempt number next to them
// in `Step` takes no padding: 8 bytes of future state saved where every byte is counted.

/// The previous delay only (decorrelated jitter), as nanoseconds.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, packed(4))]
pub struct PreviousDelay(u64);

impl Memory for PreviousDelay {
    #[inline(always)]
    fn begin(_: &Policy, _: bool, _: impl Clock) -> Self {
        PreviousDelay(0)
    }
    #[inline(always)]
    fn elapsed(&self, _: impl Clock) -> Option<Duration> {
        None
    }
    #[inline(always)]
    fn previous(&self) -> Duration {
        Duration::from_nanos(self.0)
    }
    #[inline(always)]
    fn remember(&mut self, delay: Duration) {
        self.0 = saturating_nanos(delay);
    }
}

/// The start time only (a deadline, or a hook that reports the elapsed time).
#[derive(Clone, Copy, Debug)]
#[repr(C, packed(4))]
pub struct StartTime(Stamp);

impl Memory for StartTime {
    #[inline(always)]
    fn begin(_: &Policy, _: bool, clock: impl Clock) -> Self {
        StartTime(clock.now())
    }
    #[inline(always)]
    fn elapsed(&self, clock: impl Clock) -> Option<Duration> {
        since(&clock, self.0)
    }
    #[inline(always)]
    fn previous(&self) -> Duration {
        Duration::ZERO
    }
    #[inline(always)]
    fn remember(&mut self, _: Duration) {}
}

/// Both, for policies known only at run time: the clock is started only when the policy has a
/// deadline or a hook wants the elapsed time.
#[derive(Clone, Copy, Debug)]
#[repr(C, packed(4))]
pub struct StartAndPrevious {
    start: Stamp,
    previous: u64,
}

impl Memory for StartAndPrevious {
    #[inline]
    fn begin(policy: &Policy, wants_clock: bool, clock: impl Clock) -> Self {
        let start = if wants_clock || policy.deadline().is_some() {
            clock.now()
        } else {
            NO_STAMP
        };
        StartAndPrevious { start, previous: 0 }
    }
    #[inline]
    fn elapsed(&self, clock: impl Clock) -> Option<Duration> {
        since(&clock, self.start)
    }
    #[inline]
    fn previous(&self) -> Duration {
        Duration::from_nanos(self.previous)
    }
    #[inline]
    fn remember(&mut self, delay: Duration) {
        self.previous = saturating_nanos(delay);
    }
}

/// A duration as nanoseconds in a `u64`, saturating (after 584 years).
#[inline]
pub(crate) fn saturating_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
