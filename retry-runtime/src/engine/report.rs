//! What a call tells its caller without a hook: [`CallReport`] (the attempts it made, the time
//! it slept, why it stopped), filled in as the call goes by a [`Tally`]. A call that asks for
//! no report tallies into [`NoReport`], whose every method is nothing.

use core::time::Duration;

use super::GiveUp;

/// Why a call stopped, as its [`CallReport`] says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Stop {
    /// The call has not ended (a report read while it runs, or of a call that was dropped).
    #[default]
    Unfinished,
    /// An outcome was accepted: a success, or a value that satisfied `until` / `classify_ok`.
    Accepted,
    /// The call gave up, for this reason, and returned its last outcome (or the fallback's
    /// answer).
    GaveUp(GiveUp),
}

/// A report of one call: how many attempts it took, how long it slept between them, and why
/// it stopped. From the builders with `.report()`, from `#[retry]` with `report = NAME`.
///
/// ```
/// use retry_runtime::{GiveUp, Policy, Stop};
/// use std::time::Duration;
///
/// let (out, report) = Policy::new()
///     .with_attempts(3)
///     .with_base(Duration::ZERO)
///     .retry_blocking(|_| Err::<(), _>("down"))
///     .report()
///     .call();
/// assert_eq!(out, Err("down"));
/// assert_eq!(report.attempts(), 3);
/// assert_eq!(report.stopped(), Stop::GaveUp(GiveUp::OutOfAttempts));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallReport {
    attempts: u32,
    hedges: u32,
    slept: Duration,
    stopped: Stop,
}

impl CallReport {
    /// An empty report: no attempt, no sleep, [`Stop::Unfinished`].
    pub const fn new() -> Self {
        CallReport {
            attempts: 0,
            hedges: 0,
            slept: Duration::ZERO,
            stopped: Stop::Unfinished,
        }
    }

    /// The attempts that reached the operation (an attempt the breaker or the throttle
    /// refused did not).
    pub const fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The hedged copies sent besides the attempts (0 for a call that does not hedge).
    pub const fn hedges(&self) -> u32 {
        self.hedges
    }

    /// The time the call asked to sleep: the delays between attempts, and a first attempt's
    /// wait for the throttle or the rate limiter.
    pub const fn slept(&self) -> Duration {
        self.slept
    }

    /// Why the call stopped.
    pub const fn stopped(&self) -> Stop {
        self.stopped
    }
}

/// What a call records as it goes: nothing ([`NoReport`]) or a [`CallReport`].
pub trait Tally {
    /// Attempt `n` (1-based) reaches the operation.
    fn attempt(&mut self, n: u32);
    /// The call sleeps `delay`.
    fn slept(&mut self, delay: Duration);
    /// The call stops, for `why`.
    fn stopped(&mut self, why: Stop);
    /// An extra copy of a hedged call went out (it is counted as an attempt too).
    fn hedge(&mut self) {}
}

/// The tally of a call that asks for no report: nothing is kept, nothing is done.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoReport;

impl Tally for NoReport {
    #[inline(always)]
    fn attempt(&mut self, _: u32) {}
    #[inline(always)]
    fn slept(&mut self, _: Duration) {}
    #[inline(always)]
    fn stopped(&mut self, _: Stop) {}
}

impl Tally for CallReport {
    #[inline]
    fn attempt(&mut self, n: u32) {
        self.attempts = n;
    }
    #[inline]
    fn slept(&mut self, delay: Duration) {
        self.slept = self.slept.saturating_add(delay);
    }
    #[inline]
    fn stopped(&mut self, why: Stop) {
        self.stopped = why;
    }
    #[inline]
    fn hedge(&mut self) {
        self.hedges += 1;
    }
}

impl<T: Tally + ?Sized> Tally for &mut T {
    #[inline(always)]
    fn attempt(&mut self, n: u32) {
        (**self).attempt(n);
    }
    #[inline(always)]
    fn slept(&mut self, delay: Duration) {
        (**self).slept(delay);
    }
    #[inline(always)]
    fn stopped(&mut self, why: Stop) {
        (**self).stopped(why);
    }
    #[inline(always)]
    fn hedge(&mut self) {
        (**self).hedge();
    }
}
