//! The engine's turn for a hedged call: whether another copy may go ([`Step::hedge_leave`]) and
//! what one copy's outcome means for the call ([`Step::hedge_turn`]), on the same rules as a
//! retry's turn (the breaker hears of each copy, the budget pays for each extra copy and is
//! refilled by the answer, the throttle and the limiter are asked, the deadline bounds when a
//! copy may start), so that every hedging driver is *gate → copy → judge → turn*.

use core::time::Duration;

use super::guards::{guard_time, Guards};
use super::memory::Memory;
use super::observe::Site;
use super::turn::Step;
use super::verdict::{GiveUp, Judged, Verdict};
use crate::runtime::Clock;
use crate::{Latencies, Permit, Policy};

/// When a hedged call sends its copies: the original at once, then another `delay` after each
/// copy went out until `copies` extra copies are out.
#[derive(Clone, Copy, Debug)]
pub struct Hedging<'a> {
    delay: HedgeDelay<'a>,
    copies: u32,
}

/// The wait between copies of a hedged call.
#[derive(Clone, Copy, Debug)]
pub enum HedgeDelay<'a> {
    /// A fixed wait (zero: every copy at once).
    After(Duration),
    /// The percentile (`0.0..=1.0`) of a call site's latencies, once it has enough samples;
    /// until then no copy is sent on a timer.
    Percentile(&'a Latencies, f64),
}

impl<'a> Hedging<'a> {
    /// Copies `delay` apart, `copies` of them besides the original.
    pub const fn new(delay: HedgeDelay<'a>, copies: u32) -> Self {
        Hedging { delay, copies }
    }

    /// The same hedging with `copies` extra copies.
    pub const fn with_copies(mut self, copies: u32) -> Self {
        self.copies = copies;
        self
    }

    /// The extra copies a call may send.
    pub const fn copies(&self) -> u32 {
        self.copies
    }

    /// The wait before the next copy goes out on a timer, if one does.
    pub fn delay(&self) -> Option<Duration> {
        match self.delay {
            HedgeDelay::After(delay) => Some(delay),
            HedgeDelay::Percentile(latencies, percentile) => latencies.percentile(percentile),
        }
    }

    /// An accepted copy took `latency`: the adaptive delay learns it.
    pub fn accepted_after(&self, latency: Duration) {
        if let HedgeDelay::Percentile(latencies, _) = self.delay {
            latencies.record(latency);
        }
    }
}

/// What one copy's outcome means for a hedged call.
#[derive(Clone, Copy, Debug, PartialEq)]
#[must_use]
pub enum HedgeTurn {
    /// The copy's outcome is the call's: a success. The other copies are dropped.
    Won,
    /// The copy's outcome ends the call (a permanent answer): the other copies are dropped and
    /// the call gives up with this outcome.
    Ended(GiveUp),
    /// The copy failed in a way worth another copy: send the next one after this wait (zero:
    /// at once; a server's pushback: its hint), if [`Step::hedge_leave`] allows.
    Next(Duration),
    /// The copy failed and no copy will follow (for this reason): the call waits for the
    /// copies still out; when none is left it gives up with the primary's outcome.
    Exhausted(GiveUp),
}

impl<M: Memory> Step<M> {
    /// Leave to send the next copy of a hedged call now, after the breaker admitted it: the
    /// copies left, the deadline, the throttle, the rate limiter (a token now, not later) and
    /// the retry budget (a token per extra copy), in that order, so that a token is only taken
    /// for a copy that goes. On leave the copy is counted ([`attempt`](Step::attempt) is its
    /// number) and its event written.
    #[cold]
    pub fn hedge_leave(
        &mut self,
        policy: &Policy,
        hedging: &Hedging<'_>,
        guards: Guards<'_>,
        site: &Site<'_>,
        clock: impl Clock,
    ) -> Result<(), GiveUp> {
        if self.attempt() > hedging.copies() {
            return Err(GiveUp::OutOfAttempts);
        }
        if let (Some(deadline), Some(elapsed)) = (policy.deadline(), self.elapsed(&clock)) {
            if elapsed >= deadline {
                return Err(GiveUp::Deadline);
            }
        }
        if guards.paces() {
            let now = guard_time(&clock);
            if !guards.throttle_admits(now) || guards.limiter_wait(now, Duration::ZERO).is_err() {
                return Err(GiveUp::Throttled);
            }
        }
        if guards.budget.is_some_and(|budget| !budget.try_withdraw()) {
            return Err(GiveUp::Budget);
        }
        self.count_copy();
        site.hedged(self.attempt());
        Ok(())
    }

    /// The turn after one copy's outcome: the breaker hears of it (through `permit`), the
    /// throttle and the limiter hear of the answer; an accepted outcome wins (the budget is
    /// refilled, the call counted); a permanent one ends the call; a retryable one asks for the
    /// next copy, at once or after the server's hint (a hint beyond `max_hint` sends no more).
    #[cold]
    pub fn hedge_turn(
        &mut self,
        policy: &Policy,
        guards: Guards<'_>,
        permit: Option<Permit<'_>>,
        judged: Judged,
        site: &Site<'_>,
        clock: impl Clock,
    ) -> HedgeTurn {
        let hint = match judged.verdict {
            Verdict::Accept => {
                self.accepted(guards, permit, site, &clock);
                return HedgeTurn::Won;
            }
            Verdict::Retry(hint) => hint,
            Verdict::Stop(reason) => {
                self.answered(guards, permit, judged, &clock);
                if let (GiveUp::Permanent, Some(budget)) = (reason, guards.budget) {
                    budget.deposit();
                }
                site.gave_up(reason, self.attempt());
                return HedgeTurn::Ended(reason);
            }
        };
        self.answered(guards, permit, judged, &clock);
        match hint {
            Some(hint) if hint > policy.max_hint() => HedgeTurn::Exhausted(GiveUp::HintTooLong),
            hint => HedgeTurn::Next(hint.unwrap_or_default()),
        }
    }

    /// A hedged call ends with every copy failed, none to follow, for `reason`: the primary's
    /// outcome is returned, counted as a give-up after the copies sent.
    #[cold]
    pub fn hedges_over(&self, reason: GiveUp, judged_value: bool, site: &Site<'_>) -> GiveUp {
        let reason = match reason {
            GiveUp::OutOfAttempts if judged_value => GiveUp::Unsatisfied,
            reason => reason,
        };
        site.gave_up(reason, self.attempt());
        reason
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::NoMemory;
    use crate::runtime::NoTimer;
    use crate::{CircuitBreaker, Decision, RetryBudget};

    const MS: Duration = Duration::from_millis(1);

    fn site() -> Site<'static> {
        Site::named(&"test")
    }

    #[test]
    fn copies_are_counted_until_none_is_left() {
        let policy = Policy::new();
        let hedging = Hedging::new(HedgeDelay::After(MS * 10), 2);
        let mut step = Step::<NoMemory>::begin(&policy);
        assert_eq!(hedging.delay(), Some(MS * 10));
        for copy in 2..=3 {
            assert_eq!(
                step.hedge_leave(&policy, &hedging, Guards::NONE, &site(), NoTimer),
                Ok(())
            );
            assert_eq!(step.attempt(), copy);
        }
        assert_eq!(
            step.hedge_leave(&policy, &hedging, Guards::NONE, &site(), NoTimer),
            Err(GiveUp::OutOfAttempts)
        );
        assert_eq!(step.attempt(), 3);
    }

    #[test]
    fn each_extra_copy_draws_from_the_budget() {
        let policy = Policy::new();
        let hedging = Hedging::new(HedgeDelay::After(MS), 5);
        let budget = RetryBudget::new(1, 0.0);
        let guards = Guards::new(Some(&budget), None);
        let mut step = Step::<NoMemory>::begin(&policy);
        assert_eq!(
            step.hedge_leave(&policy, &hedging, guards, &site(), NoTimer),
            Ok(())
        );
        assert_eq!(
            step.hedge_leave(&policy, &hedging, guards, &site(), NoTimer),
            Err(GiveUp::Budget)
        );
        assert_eq!(step.attempt(), 2);
    }

    #[test]
    fn a_copy_outcome_wins_ends_or_asks_for_the_next() {
        let policy = Policy::new().with_max_hint(MS * 100);
        let mut step = Step::<NoMemory>::begin(&policy);
        let turn = |step: &mut Step<NoMemory>, judged| {
            step.hedge_turn(&policy, Guards::NONE, None, judged, &site(), NoTimer)
        };
        assert_eq!(
            turn(&mut step, Judged::error(Verdict::RETRY)),
            HedgeTurn::Next(Duration::ZERO)
        );
        assert_eq!(
            turn(&mut step, Judged::error(Verdict::Retry(Some(MS * 40)))),
            HedgeTurn::Next(MS * 40)
        );
        assert_eq!(
            turn(&mut step, Judged::error(Verdict::Retry(Some(MS * 101)))),
            HedgeTurn::Exhausted(GiveUp::HintTooLong)
        );
        assert_eq!(
            turn(&mut step, Judged::error(Verdict::of_error(Decision::Stop))),
            HedgeTurn::Ended(GiveUp::Permanent)
        );
        assert_eq!(
            turn(&mut step, Judged::value(true, Decision::Stop)),
            HedgeTurn::Won
        );
        assert_eq!(
            step.hedges_over(GiveUp::OutOfAttempts, true, &site()),
            GiveUp::Unsatisfied
        );
    }

    #[test]
    fn the_breaker_hears_of_every_copy() {
        let policy = Policy::new();
        let breaker = CircuitBreaker::new().with_consecutive_failures(2);
        let guards = Guards::new(None, Some(&breaker));
        let mut step = Step::<NoMemory>::begin(&policy);
        for _ in 0..2 {
            let permit = breaker.try_acquire().ok();
            let turn = step.hedge_turn(
                &policy,
                guards,
                permit,
                Judged::error(Verdict::RETRY),
                &site(),
                NoTimer,
            );
            assert_eq!(turn, HedgeTurn::Next(Duration::ZERO));
        }
        assert!(breaker.try_acquire().is_err());
    }

    #[test]
    fn the_adaptive_delay_waits_for_samples_and_learns_from_accepted_copies() {
        let latencies = Latencies::new();
        let hedging = Hedging::new(HedgeDelay::Percentile(&latencies, 0.95), 1);
        assert_eq!(hedging.delay(), None);
        for _ in 0..20 {
            hedging.accepted_after(MS * 10);
        }
        let delay = hedging.delay().expect("20 samples");
        assert!(delay > MS * 9 && delay <= MS * 10, "{delay:?}");
        Hedging::new(HedgeDelay::After(MS), 1).accepted_after(MS);
        assert_eq!(latencies.samples(), 20);
    }
}
