//! The turn after an attempt, once for every door: [`Step`] (the per-call state) and
//! [`Step::turn`] (the breaker's report, the budget, the attempt count, the delay or the
//! reason to give up, the counters), with the delay maths in [`next_delay`].

use core::time::Duration;

use super::guards::{guard_time, Guards};
use super::memory::Memory;
use super::observe::Site;
use super::verdict::{GiveUp, Judged, Verdict};
use crate::policy::jitter::with_thread_rng;
use crate::runtime::Clock;
use crate::{BreakerOpen, CircuitBreaker, Jitter, Permit, Policy, RetryInfo, Throttled};

/// The state of one retried call: the attempt about to run (1-based) and what the policy needs
/// remembered between attempts.
#[derive(Clone, Debug)]
pub struct Step<M> {
    attempt: u32,
    memory: M,
}

impl<M: Memory> Step<M> {
    /// A call that starts now on `clock` (its sleeper's); `wants_clock` asks for the elapsed
    /// time even without a deadline (for [`RetryInfo::elapsed`]).
    #[inline(always)]
    pub fn begin_on(policy: &Policy, wants_clock: bool, clock: impl Clock) -> Self {
        Step {
            attempt: 1,
            memory: M::begin(policy, wants_clock, clock),
        }
    }

    /// [`begin_on`](Step::begin_on) for a call that reads no time (a memory without a start:
    /// no deadline, no hook), in fewer tokens for the code `#[retry]` generates.
    #[inline(always)]
    pub fn begin(policy: &Policy) -> Self {
        Self::begin_on(policy, false, ())
    }

    /// The attempt about to run (or running), 1-based.
    #[inline(always)]
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Time since the first attempt started on `clock`, where a clock was started.
    #[inline]
    pub fn elapsed(&self, clock: impl Clock) -> Option<Duration> {
        self.memory.elapsed(clock)
    }

    /// The time the running attempt may take: `timeout`, or less when the deadline comes first.
    #[inline]
    pub fn attempt_timeout(
        &self,
        policy: &Policy,
        timeout: Duration,
        clock: impl Clock,
    ) -> Duration {
        match (policy.deadline(), self.elapsed(clock)) {
            (Some(deadline), Some(elapsed)) => timeout.min(deadline.saturating_sub(elapsed)),
            _ => timeout,
        }
    }

    /// Asks the breaker, if there is one, for leave to run the next attempt.
    #[inline(always)]
    pub fn enter<'b>(
        &self,
        breaker: Option<&'b CircuitBreaker>,
    ) -> Result<Option<Permit<'b>>, BreakerOpen> {
        match breaker {
            None => Ok(None),
            Some(breaker) => breaker.try_acquire().map(Some),
        }
    }

    /// The breaker refused the attempt about to run: the call ends with `E::from(BreakerOpen)`
    /// (or its fallback's answer). The refused attempt did not reach the operation, so it is
    /// not counted as one.
    #[cold]
    #[inline(never)]
    pub fn refused(&self, site: &Site<'_>) {
        site.refused(self.attempts_made());
    }

    /// The attempts that reached the operation before the running one.
    #[inline]
    pub fn attempts_made(&self) -> u32 {
        self.attempt.saturating_sub(1)
    }

    /// The pacing of the attempt about to run, asked before it goes out (after any sleep,
    /// before the breaker): the wait before sending it, or [`Throttled`] when the client-side
    /// throttle rejects it, the rate-limit headers hold it longer than the policy's `max_hint`,
    /// or its limiter token or the headers' reset would come at or after the deadline. Only the
    /// first attempt is asked here: a retry is paced at its turn ([`turn`](Step::turn)), where
    /// the wait becomes part of its delay. With none of these guards it is nothing.
    #[inline(always)]
    pub fn admit(
        &self,
        policy: &Policy,
        guards: Guards<'_>,
        clock: impl Clock,
    ) -> Result<Duration, Throttled> {
        if !guards.paces() || self.attempt > 1 {
            return Ok(Duration::ZERO);
        }
        self.admit_first(policy, guards, clock)
    }

    #[cold]
    #[inline(never)]
    fn admit_first(
        &self,
        policy: &Policy,
        guards: Guards<'_>,
        clock: impl Clock,
    ) -> Result<Duration, Throttled> {
        let max_wait = match (policy.deadline(), self.elapsed(&clock)) {
            (Some(deadline), Some(elapsed)) => deadline.saturating_sub(elapsed),
            _ => Duration::MAX,
        };
        guards.admit(guard_time(&clock), policy.max_hint(), max_wait)
    }

    /// The pacing refused the first attempt ([`admit`](Step::admit)): the call ends with
    /// `E::from(Throttled)` (or its fallback's answer), counted as a refusal.
    #[cold]
    #[inline(never)]
    pub fn throttled(&self, site: &Site<'_>) {
        site.refused_for(GiveUp::Throttled, self.attempts_made());
    }

    /// The turn of an accepted outcome (a success): the breaker hears of it, the budget is
    /// refilled, the throttle and the limiter hear of an accept (at `clock`'s now), the call is
    /// counted. Written out on the success path, so it is inlined: with no guard or counter it
    /// is nothing.
    #[inline(always)]
    pub fn accepted(
        &self,
        guards: Guards<'_>,
        permit: Option<Permit<'_>>,
        site: &Site<'_>,
        clock: impl Clock,
    ) {
        if let Some(permit) = permit {
            permit.success();
        }
        if let Some(budget) = guards.budget {
            budget.deposit();
        }
        if guards.paces() {
            guards.answered(guard_time(&clock), false);
        }
        site.accepted(self.attempt);
    }

    /// The whole turn after an attempt, for every door: the breaker hears how it went, then
    /// the call is done, retries after a delay, or gives up.
    ///
    /// A failure is retried when the filters say so, an attempt is left, the server's hint is
    /// within `max_hint`, the sleep ends before the deadline, the breaker still admits an
    /// attempt, and the budget has a token; in that order, so that a token is only taken for
    /// a retry that will happen. A failure that leaves the breaker open ends the call with
    /// that failure ([`GiveUp::BreakerOpened`]): the service was called, and its answer is
    /// the call's. A permanent answer (`Decision::Stop`) refills the budget as a success
    /// does: the service answered.
    #[cold]
    #[inline(never)]
    pub fn turn(
        &mut self,
        policy: &Policy,
        guards: Guards<'_>,
        permit: Option<Permit<'_>>,
        judged: Judged,
        site: &Site<'_>,
        clock: impl Clock,
    ) -> Turn {
        let hint = match judged.verdict {
            Verdict::Accept => {
                self.accepted(guards, permit, site, &clock);
                return Turn::Done;
            }
            Verdict::Retry(hint) => Ok(hint),
            Verdict::Stop(reason) => Err(reason),
        };
        self.answered(guards, permit, judged, &clock);
        match hint.and_then(|hint| self.retry_after(policy, hint, guards, clock)) {
            Ok(info) => {
                site.retried();
                Turn::Retry(info)
            }
            Err(reason) => {
                let reason = match reason {
                    GiveUp::OutOfAttempts if judged.value => GiveUp::Unsatisfied,
                    reason => reason,
                };
                if let (GiveUp::Permanent, Some(budget)) = (reason, guards.budget) {
                    budget.deposit();
                }
                site.gave_up(reason, self.attempt);
                Turn::GiveUp(reason)
            }
        }
    }

    /// [`turn`](Step::turn) for a call with no breaker, no budget and no counters, that reads
    /// no time (no deadline, no hook): the same turn, in fewer tokens for the code `#[retry]`
    /// generates (less for the compiler to check in every retried function).
    #[inline]
    pub fn turn_unguarded(&mut self, policy: &Policy, judged: Judged) -> Turn {
        self.turn(policy, Guards::NONE, None, judged, &Site::new(&""), ())
    }

    /// The breaker, the throttle and the limiter hear how a failed attempt was answered.
    pub(super) fn answered(
        &self,
        guards: Guards<'_>,
        permit: Option<Permit<'_>>,
        judged: Judged,
        clock: impl Clock,
    ) {
        if let Some(permit) = permit {
            if judged.transient {
                permit.failure();
            } else {
                permit.success();
            }
        }
        if guards.paces() {
            guards.answered(guard_time(&clock), judged.overload);
        }
    }

    /// One more copy of a hedged call goes out: the attempt number moves on.
    #[cfg(feature = "std")]
    pub(crate) fn count_copy(&mut self) {
        self.attempt = self.attempt.saturating_add(1);
    }

    /// What the caller-driven [`Schedule`](crate::Schedule) remembers.
    pub(crate) fn memory_mut(&mut self) -> &mut M {
        &mut self.memory
    }

    /// The retry after a failure the filters would retry (with the server's `hint`), or why
    /// not: the attempts, the hint's bound, the deadline, the breaker, the budget. On a retry
    /// the delay is remembered and the attempt number moves on.
    pub(crate) fn retry_after(
        &mut self,
        policy: &Policy,
        hint: Option<Duration>,
        guards: Guards<'_>,
        clock: impl Clock,
    ) -> Result<RetryInfo, GiveUp> {
        let elapsed = self.memory.elapsed(&clock);
        let now = guards.paces().then(|| guard_time(&clock));
        // The rate-limit headers' wait is a hint of the server's: bounded by `max_hint`.
        let hint = match now.and_then(|now| guards.header_wait(now)) {
            Some(wait) => super::verdict::longer(hint, Some(wait)),
            None => hint,
        };
        let mut delay = next_delay(policy, self.attempt, self.memory.previous(), elapsed, hint)?;
        if guards.breaker.is_some_and(|breaker| !breaker.admits()) {
            return Err(GiveUp::BreakerOpened);
        }
        if let Some(now) = now {
            delay = self.paced(policy, delay, elapsed, guards, now)?;
        }
        if guards.budget.is_some_and(|budget| !budget.try_withdraw()) {
            return Err(GiveUp::Budget);
        }
        // The server's hint set the delay when it was at least the backoff.
        let from_hint = hint.is_some_and(|hint| hint >= delay);
        self.memory.remember(delay);
        let info =
            RetryInfo::new(self.attempt, delay, elapsed.unwrap_or_default()).with_hint(from_hint);
        self.attempt = self.attempt.saturating_add(1);
        Ok(info)
    }

    /// A retry's pacing at `now`, after `delay`: the throttle's leave (asked now, for the
    /// retry), then the limiter's token, which may lengthen the delay (not past the deadline).
    #[cold]
    fn paced(
        &self,
        policy: &Policy,
        delay: Duration,
        elapsed: Option<Duration>,
        guards: Guards<'_>,
        now: Duration,
    ) -> Result<Duration, GiveUp> {
        if !guards.throttle_admits(now) {
            return Err(GiveUp::Throttled);
        }
        let max_wait = match (policy.deadline(), elapsed) {
            // The attempt must start before the deadline, on tokio's millisecond grid.
            (Some(deadline), Some(elapsed)) => deadline
                .saturating_sub(elapsed)
                .saturating_sub(Duration::from_millis(1)),
            _ => Duration::MAX,
        };
        match guards.limiter_wait(now, max_wait) {
            Ok(wait) => Ok(delay.max(wait)),
            Err(()) => Err(GiveUp::Deadline),
        }
    }
}

/// What the engine's turn says to do after an attempt.
#[derive(Clone, Copy, Debug, PartialEq)]
#[must_use]
pub enum Turn {
    /// Return the outcome: the call succeeded.
    Done,
    /// Sleep [`RetryInfo::delay`], then run the next attempt.
    Retry(RetryInfo),
    /// Return the last outcome (or the fallback's answer to its error): the call gives up.
    GiveUp(GiveUp),
}

/// The delay to sleep after attempt `failed` (1-based) failed, or why not: out of attempts, or
/// the sleep would end at or after the deadline.
///
/// `previous` is the delay slept before the previous retry (only decorrelated jitter reads it),
/// `elapsed` the time since the first attempt started (only read when there is a deadline),
/// `hint` a `Decision::RetryAfter` pause: the larger of it and the policy's delay is slept, if
/// it is no longer than the policy's `max_hint`; a longer one gives up at once.
pub fn next_delay(
    policy: &Policy,
    failed: u32,
    previous: Duration,
    elapsed: Option<Duration>,
    hint: Option<Duration>,
) -> Result<Duration, GiveUp> {
    if failed >= policy.attempts() {
        return Err(GiveUp::OutOfAttempts);
    }
    if hint.is_some_and(|hint| hint > policy.max_hint()) {
        return Err(GiveUp::HintTooLong);
    }
    let mut delay = match policy.jitter() {
        // No randomness needed: skip the thread-local generator.
        Jitter::None => policy.delay(failed),
        _ => with_thread_rng(|rng| policy.jittered_delay(failed, previous, rng)),
    };
    if let Some(hint) = hint {
        delay = delay.max(hint);
    }
    if let (Some(deadline), Some(elapsed)) = (policy.deadline(), elapsed) {
        // tokio's timer wheel ends a sleep on the next whole millisecond, so the sleep is
        // counted rounded up. A sleep ending exactly at the deadline would start an attempt
        // with no time left, so it is refused too.
        if elapsed.saturating_add(ceil_millis(delay)) >= deadline {
            return Err(GiveUp::Deadline);
        }
    }
    Ok(delay)
}

/// `d` rounded up to a whole number of milliseconds.
fn ceil_millis(d: Duration) -> Duration {
    let sub_milli = d.subsec_nanos() % 1_000_000;
    if sub_milli == 0 {
        d
    } else {
        d.saturating_add(Duration::from_nanos(u64::from(1_000_000 - sub_milli)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(feature = "std")]
    use crate::engine::{run_blocking, Flow};
    use crate::engine::{NoMemory, PreviousDelay, StartAndPrevious, StartTime};
    use crate::runtime::{Clock, NoTimer, Stamp};

    /// A clock that always reads the same time, `.0` nanoseconds.
    struct Stopped(Stamp);

    impl Clock for Stopped {
        fn now(&self) -> Stamp {
            self.0
        }
    }
    use crate::{Decision, RetryBudget};

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn ceil_millis_rounds_up_only_partial_milliseconds() {
        assert_eq!(ceil_millis(MS * 5), MS * 5);
        assert_eq!(ceil_millis(Duration::from_micros(4_001)), MS * 5);
        assert_eq!(ceil_millis(Duration::MAX), Duration::MAX);
    }

    #[test]
    fn a_sleep_that_tokio_would_round_past_the_deadline_is_not_started() {
        // 1.5ms after 998.2ms would end at 999.7ms, but tokio sleeps it as 2ms, to 1000.2ms: too late.
        let policy = Policy::new()
            .with_base(Duration::from_micros(1_500))
            .with_deadline(Duration::from_secs(1));
        let elapsed = Some(Duration::from_micros(998_200));
        assert_eq!(
            next_delay(&policy, 1, Duration::ZERO, elapsed, None),
            Err(GiveUp::Deadline)
        );
        let elapsed = Some(Duration::from_micros(997_900));
        assert_eq!(
            next_delay(&policy, 1, Duration::ZERO, elapsed, None),
            Ok(Duration::from_micros(1_500))
        );
    }

    /// A sleep ending exactly at the deadline would start an attempt with zero time left,
    /// which a per-attempt timeout then cut off at once with a synthetic `TimedOut`.
    #[test]
    fn a_sleep_ending_exactly_at_the_deadline_is_not_started() {
        let policy = Policy::new().with_base(MS * 100).with_deadline(MS * 300);
        assert_eq!(
            next_delay(&policy, 1, Duration::ZERO, Some(MS * 200), None),
            Err(GiveUp::Deadline)
        );
        assert_eq!(
            next_delay(&policy, 1, Duration::ZERO, Some(MS * 199), None),
            Ok(MS * 100)
        );
    }

    /// A `Retry-After: 3600` used to stall the call for an hour.
    #[test]
    fn a_hint_longer_than_max_hint_ends_the_call() {
        let policy = Policy::new().with_base(MS).with_max_hint(MS * 500);
        assert_eq!(
            next_delay(&policy, 1, Duration::ZERO, None, Some(MS * 501)),
            Err(GiveUp::HintTooLong)
        );
        assert_eq!(
            next_delay(&policy, 1, Duration::ZERO, None, Some(MS * 500)),
            Ok(MS * 500)
        );
        let hour = Duration::from_secs(3600);
        assert_eq!(
            next_delay(&Policy::new(), 1, Duration::ZERO, None, Some(hour)),
            Err(GiveUp::HintTooLong)
        );
    }

    fn site() -> Site<'static> {
        Site::named(&"test")
    }

    fn retry(step: &mut Step<NoMemory>, policy: &Policy, guards: Guards<'_>) -> Turn {
        step.turn(
            policy,
            guards,
            None,
            Judged::error(Verdict::RETRY),
            &site(),
            NoTimer,
        )
    }

    #[test]
    fn the_turn_counts_attempts_and_says_why_it_gives_up() {
        let policy = Policy::new().with_attempts(3).with_base(MS);
        let mut step = Step::<NoMemory>::begin(&policy);
        assert_eq!(step.attempt(), 1);
        let Turn::Retry(info) = retry(&mut step, &policy, Guards::NONE) else {
            panic!("expected a retry")
        };
        assert_eq!((info.attempt(), info.delay()), (1, MS));
        assert_eq!(step.attempt(), 2);
        let stop = Judged::error(Verdict::Stop(GiveUp::Permanent));
        assert_eq!(
            step.turn(&policy, Guards::NONE, None, stop, &site(), NoTimer),
            Turn::GiveUp(GiveUp::Permanent)
        );
        assert_eq!(step.attempt(), 2);
        let hinted = Judged::error(Verdict::Retry(Some(MS * 7)));
        assert!(matches!(
            step.turn(&policy, Guards::NONE, None, hinted, &site(), NoTimer),
            Turn::Retry(info) if info.delay() == MS * 7
        ));
        assert_eq!(
            retry(&mut step, &policy, Guards::NONE),
            Turn::GiveUp(GiveUp::OutOfAttempts)
        );
        let value = Judged::value(false, Decision::Stop);
        assert_eq!(
            step.turn(&policy, Guards::NONE, None, value, &site(), NoTimer),
            Turn::GiveUp(GiveUp::Unsatisfied)
        );
        let accepted = Judged::value(true, Decision::Stop);
        assert_eq!(
            step.turn(&policy, Guards::NONE, None, accepted, &site(), NoTimer),
            Turn::Done
        );
    }

    #[test]
    fn an_empty_budget_stops_the_retry_and_keeps_the_attempt_number() {
        let policy = Policy::new().with_attempts(5).with_base(MS);
        let budget = RetryBudget::new(1, 0.0);
        let guards = Guards::new(Some(&budget), None);
        let mut step = Step::<NoMemory>::begin(&policy);
        assert!(matches!(retry(&mut step, &policy, guards), Turn::Retry(_)));
        assert_eq!(
            retry(&mut step, &policy, guards),
            Turn::GiveUp(GiveUp::Budget)
        );
        assert_eq!(step.attempt(), 2);
    }

    /// A permanent answer is the service answering: it refills the budget as a success does.
    #[test]
    fn a_permanent_answer_refills_the_budget() {
        let policy = Policy::new().with_attempts(5).with_base(MS);
        let budget = RetryBudget::new(2, 1.0);
        assert!(budget.try_withdraw());
        let before = budget.tokens();
        let guards = Guards::new(Some(&budget), None);
        let mut step = Step::<NoMemory>::begin(&policy);
        let stop = Judged::error(Verdict::of_error(Decision::Stop));
        assert_eq!(
            step.turn(&policy, guards, None, stop, &site(), NoTimer),
            Turn::GiveUp(GiveUp::Permanent)
        );
        assert!(budget.tokens() > before, "{} <= {before}", budget.tokens());
    }

    /// The failure that opens the breaker ends the call with its own outcome: no uncounted
    /// attempt, no token drawn, no sleep.
    #[test]
    fn a_failure_that_opens_the_breaker_ends_the_call() {
        let policy = Policy::new().with_attempts(5).with_base(MS);
        let breaker = CircuitBreaker::new().with_consecutive_failures(1);
        let budget = RetryBudget::new(5, 0.0);
        let guards = Guards::new(Some(&budget), Some(&breaker));
        let mut step = Step::<NoMemory>::begin(&policy);
        let permit = step.enter(Some(&breaker)).expect("closed");
        assert_eq!(
            step.turn(
                &policy,
                guards,
                permit,
                Judged::error(Verdict::RETRY),
                &site(),
                NoTimer
            ),
            Turn::GiveUp(GiveUp::BreakerOpened)
        );
        assert_eq!(step.attempt(), 1);
        assert_eq!(budget.tokens(), 5.0);
        assert!(step.enter(Some(&breaker)).is_err());
    }

    #[test]
    fn the_decision_maps_to_a_verdict_once() {
        assert_eq!(
            Verdict::of_error(Decision::Stop),
            Verdict::Stop(GiveUp::Permanent)
        );
        assert_eq!(Verdict::of_error(Decision::Retry), Verdict::Retry(None));
        assert_eq!(
            Verdict::of_error(Decision::RetryAfter(MS)),
            Verdict::Retry(Some(MS))
        );
        assert_eq!(Verdict::of_value(true, Decision::Stop), Verdict::Accept);
        assert_eq!(
            Verdict::of_value(false, Decision::Stop),
            Verdict::Retry(None)
        );
        assert_eq!(
            Verdict::Retry(Some(MS * 3)).and_error(Decision::RetryAfter(MS)),
            Verdict::Retry(Some(MS * 3))
        );
        assert_eq!(
            Verdict::Retry(None).and_error(Decision::Stop),
            Verdict::Stop(GiveUp::Permanent)
        );
        assert!(Judged::error(Verdict::RETRY).transient);
        assert!(!Judged::error(Verdict::Stop(GiveUp::Permanent)).transient);
        assert!(!Judged::value(false, Decision::Stop).transient);
        assert!(Judged::value(true, Decision::Retry).transient);
    }

    #[test]
    fn memories_keep_only_what_they_need() {
        assert_eq!(core::mem::size_of::<Step<NoMemory>>(), 4);
        assert_eq!(core::mem::size_of::<Step<PreviousDelay>>(), 12);
        assert_eq!(core::mem::size_of::<Step<StartTime>>(), 12);
        assert_eq!(core::mem::size_of::<Step<StartAndPrevious>>(), 20);
        let policy = Policy::new();
        let mut both = StartAndPrevious::begin(&policy, false, Stopped(5));
        assert_eq!(both.elapsed(Stopped(9)), None);
        both.remember(MS * 3);
        assert_eq!(both.previous(), MS * 3);
        let started = StartAndPrevious::begin(&policy, true, Stopped(1_000));
        assert_eq!(
            started.elapsed(Stopped(3_000)),
            Some(Duration::from_nanos(2_000))
        );
        let start = StartTime::begin(&policy, false, Stopped(-5));
        assert_eq!(start.elapsed(Stopped(5)), Some(Duration::from_nanos(10)));
    }

    #[cfg(feature = "std")]
    #[test]
    fn run_blocking_loops_until_done() {
        let sleeper = crate::runtime::TestClock::new();
        let policy = Policy::new().with_attempts(4).with_base(Duration::ZERO);
        let mut calls = 0;
        let step = Step::<NoMemory>::begin(&policy);
        let out = run_blocking(step, &sleeper, |step| {
            calls += 1;
            if calls < 3 {
                match retry(step, &policy, Guards::NONE) {
                    Turn::Retry(info) => Flow::Retry(info.delay()),
                    _ => Flow::Done(Err(calls)),
                }
            } else {
                Flow::Done(Ok::<_, u32>(calls))
            }
        });
        assert_eq!(out, Ok(3));
        assert_eq!(sleeper.sleeps(), [Duration::ZERO; 0]);
    }
}
