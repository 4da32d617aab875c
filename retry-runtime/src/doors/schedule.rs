//! [`Schedule`]: the engine's decision step, for retry loops that callers drive themselves.

use core::time::Duration;

use crate::engine::{GiveUp, Guards, Memory, Step, Verdict};
use crate::runtime::{Clock, NoTimer};
use crate::{Decision, Policy, RetryInfo};

/// The retry engine's decision step as a value, for loops you drive yourself: a stream that
/// reconnects, a job runner, a tower layer, a loop that must do something between attempts.
///
/// Feed it each failed attempt's [`Decision`] (and, when you keep one, the time since the first
/// attempt started); it answers how long to sleep before the next attempt, or why to give up.
/// It applies exactly what `#[retry]` and [`Policy::retry`](crate::Policy) apply: the attempt
/// limit, the backoff with jitter (decorrelated jitter remembers the previous delay), server
/// hints (the larger of hint and backoff, and a hint beyond
/// [`max_hint`](Policy::max_hint) gives up at once) and the deadline (no sleep may end at or
/// after it). It never sleeps and never reads a clock itself.
///
/// # Example
///
/// A hand-written loop of the kind found in HTTP clients ("should I retry? how long do I
/// wait?"), with the decisions taken from the engine:
///
/// ```
/// use retry_runtime::{Decision, GiveUp, Policy};
/// use std::time::Duration;
///
/// const POLICY: Policy = Policy::new()
///     .with_attempts(4)
///     .with_base(Duration::from_millis(100))
///     .with_max_hint(Duration::from_secs(30));
///
/// // The outcomes a server gives, and the decision each one means.
/// let answers = [
///     Err(Decision::Retry),                                  // 503
///     Err(Decision::RetryAfter(Duration::from_millis(1500))), // 429, Retry-After: 1.5
///     Ok("the reply"),
/// ];
///
/// let mut schedule = POLICY.schedule();
/// let mut slept = Vec::new();
/// let mut answers = answers.into_iter();
/// let reply = loop {
///     match answers.next().unwrap() {
///         Ok(reply) => break Ok(reply),
///         Err(decision) => match schedule.next(decision, None) {
///             Ok(info) => slept.push(info.delay()), // tokio::time::sleep(info.delay()).await
///             Err(reason) => break Err(reason),
///         },
///     }
/// };
/// assert_eq!(reply, Ok("the reply"));
/// assert_eq!(slept, [Duration::from_millis(100), Duration::from_millis(1500)]);
///
/// // A permanent error, or a hint past `max_hint`, gives up at once.
/// let mut schedule = POLICY.schedule();
/// assert_eq!(schedule.next(Decision::Stop, None), Err(GiveUp::Permanent));
/// let hour = Decision::RetryAfter(Duration::from_secs(3600));
/// assert_eq!(POLICY.schedule().next(hour, None), Err(GiveUp::HintTooLong));
/// ```
#[derive(Debug, Clone)]
pub struct Schedule {
    policy: Policy,
    step: Step<CallerElapsed>,
}

/// What a caller-driven loop feeds in: the elapsed time, when it keeps one.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CallerElapsed {
    elapsed: Option<Duration>,
    previous: Duration,
}

impl Memory for CallerElapsed {
    fn begin(_: &Policy, _: bool, _: impl Clock) -> Self {
        CallerElapsed::default()
    }
    fn elapsed(&self, _: impl Clock) -> Option<Duration> {
        self.elapsed
    }
    fn previous(&self) -> Duration {
        self.previous
    }
    fn remember(&mut self, delay: Duration) {
        self.previous = delay;
    }
}

impl Policy {
    /// The engine's decision step for a loop you drive yourself: see [`Schedule`].
    ///
    /// ```
    /// use retry_runtime::{Decision, Policy};
    /// use std::time::Duration;
    /// let mut schedule = Policy::new().schedule();
    /// assert_eq!(schedule.next(Decision::Retry, None).unwrap().delay(), Duration::from_millis(200));
    /// assert_eq!(schedule.attempt(), 2);
    /// ```
    pub fn schedule(&self) -> Schedule {
        Schedule {
            policy: *self,
            step: Step::begin(self),
        }
    }
}

impl Schedule {
    /// The attempt about to run (1-based): 1 before any failure.
    pub fn attempt(&self) -> u32 {
        self.step.attempt()
    }

    /// The decision after the running attempt failed with `decision`: the [`RetryInfo`] of the
    /// retry to make (sleep [`delay`](RetryInfo::delay), then run the next attempt), or why to
    /// give up. `elapsed` is the time since the first attempt started, if you keep it; with a
    /// deadline in the policy and no elapsed time, the deadline cannot be applied.
    ///
    /// ```
    /// use retry_runtime::{Decision, GiveUp, Policy};
    /// use std::time::Duration;
    /// let policy = Policy::new()
    ///     .with_base(Duration::from_millis(100))
    ///     .with_deadline(Duration::from_secs(1));
    /// let mut schedule = policy.schedule();
    /// // 950 ms in, a 100 ms sleep would end past the deadline.
    /// let late = Some(Duration::from_millis(950));
    /// assert_eq!(schedule.next(Decision::Retry, late), Err(GiveUp::Deadline));
    /// ```
    pub fn next(
        &mut self,
        decision: Decision,
        elapsed: Option<Duration>,
    ) -> Result<RetryInfo, GiveUp> {
        self.step.memory_mut().elapsed = elapsed;
        match Verdict::of_error(decision) {
            Verdict::Retry(hint) => {
                self.step
                    .retry_after(&self.policy, hint, Guards::NONE, NoTimer)
            }
            Verdict::Stop(reason) => Err(reason),
            Verdict::Accept => Err(GiveUp::Permanent),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Jitter;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_schedule_gives_the_policy_delays_then_gives_up() {
        let policy = Policy::new().with_attempts(4).with_base(MS * 10);
        let mut schedule = policy.schedule();
        let delays: Vec<_> = (0..3)
            .map(|_| schedule.next(Decision::Retry, None).map(|i| i.delay()))
            .collect();
        assert_eq!(delays, [Ok(MS * 10), Ok(MS * 20), Ok(MS * 40)]);
        assert_eq!(
            schedule.next(Decision::Retry, None),
            Err(GiveUp::OutOfAttempts)
        );
    }

    #[test]
    fn decorrelated_jitter_remembers_the_previous_delay() {
        let policy = Policy::new()
            .with_attempts(50)
            .with_base(MS)
            .with_max(MS * 1000)
            .with_jitter(Jitter::Decorrelated);
        let mut schedule = policy.schedule();
        let mut previous = MS;
        for _ in 0..40 {
            let delay = schedule.next(Decision::Retry, None).unwrap().delay();
            assert!(
                delay >= MS && delay <= (previous * 3).min(MS * 1000),
                "{delay:?}"
            );
            previous = delay;
        }
    }
}
