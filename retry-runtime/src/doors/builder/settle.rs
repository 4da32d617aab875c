//! Where a builder meets the engine: the judgment of an outcome, then the engine's one turn,
//! with the builder's events and hook.

use core::time::Duration;

use super::{Gate, Hook, Judge, Refusal};
use crate::engine::observe::{trace_give_up, trace_retry};
use crate::engine::{GiveUp, Guards, Judged, Memory, Site, Step, Stop, Tally, Turn, Verdict};
use crate::runtime::Clock;
use crate::{Permit, Policy};

/// The error of an attempt the breaker refused, counted, with the give-up event.
#[cold]
pub(super) fn refused<T, E, M: Memory>(
    step: &Step<M>,
    refusal: impl Refusal<E>,
    site: &Site<'_>,
    tally: &mut impl Tally,
) -> Result<T, E> {
    step.refused(site);
    tally.stopped(Stop::GaveUp(GiveUp::BreakerOpen));
    trace_give_up(
        site,
        step.attempts_made(),
        GiveUp::BreakerOpen,
        &GiveUp::BreakerOpen,
    );
    Err(refusal.into_error())
}

/// What the events of a builder show of an outcome whose types need not be `Display`: the
/// judge's description ([`Judge::describe`]: the `Display` of this crate's error types and a
/// response's status under `.classify()` / `.classify_ok()`, else whether it was an error or a
/// value), never a type name or a `Debug` dump.
pub(super) struct OutcomeText<'a, J, T, E>(pub(super) &'a J, pub(super) &'a Result<T, E>);

impl<J: Judge<T, E>, T, E> core::fmt::Display for OutcomeText<'_, J, T, E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.describe(self.1, f)
    }
}

/// What every builder does with an attempt's outcome: judge it, then take the engine's turn.
/// `None` when it is the call's result (a final value, or a failure the engine gives up on),
/// or how it ends. The events and the hook are the builder's; everything
/// else is the engine's.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(super) fn settle<'a, T, E, M: Memory, G: Gate<'a>, J: Judge<T, E>>(
    step: &mut Step<M>,
    policy: &Policy,
    judge: &J,
    hook: &impl Hook<T, E>,
    guards: Guards<'a>,
    permit: Option<G::Permit>,
    site: &Site<'_>,
    outcome: &Result<T, E>,
    clock: impl Clock,
    tally: &mut impl Tally,
) -> Settled {
    tally.attempt(step.attempt());
    let judged = judgment(judge, outcome);
    let guards = judge.pace(guards);
    if judged.is_accepted() {
        step.accepted(guards, G::permit(permit), site, clock);
        tally.stopped(Stop::Accepted);
        return Settled::Accepted;
    }
    let judged = judged.overloaded(J::PACES && judge.overloaded(outcome));
    failed(
        step,
        policy,
        judge,
        hook,
        guards,
        G::permit(permit),
        judged,
        site,
        outcome,
        clock,
        tally,
    )
}

/// The judge's verdict on an outcome, with whether it says the service is in trouble.
#[inline(always)]
pub(super) fn judgment<T, E, J: Judge<T, E>>(judge: &J, outcome: &Result<T, E>) -> Judged {
    let verdict = judge.judge(outcome);
    match outcome {
        Err(_) => Judged::error(verdict),
        Ok(value) => {
            let transient = verdict != Verdict::Accept && judge.value_transient(value);
            Judged::new(verdict, transient, true)
        }
    }
}

/// The pacing of a builder's first attempt ([`Step::admit`]): the wait before it goes out, or
/// the call's outcome when the throttle or the pacing refuses it (`E::from(Throttled)`, counted
/// with its give-up event). Nothing at all unless the judge paces ([`Judge::PACES`]).
#[inline(always)]
pub(super) fn admit<'a, T, E, M: Memory, J: Judge<T, E>>(
    step: &Step<M>,
    policy: &Policy,
    judge: &J,
    guards: Guards<'a>,
    site: &Site<'_>,
    clock: impl Clock,
    tally: &mut impl Tally,
) -> Result<Duration, Result<T, E>> {
    if !J::PACES {
        return Ok(Duration::ZERO);
    }
    match step.admit(policy, judge.pace(guards), clock) {
        Ok(wait) => {
            tally.slept(wait);
            Ok(wait)
        }
        Err(refusal) => match judge.throttled(refusal) {
            Some(error) => {
                step.throttled(site);
                tally.stopped(Stop::GaveUp(GiveUp::Throttled));
                trace_give_up(site, step.attempts_made(), GiveUp::Throttled, &refusal);
                Err(Err(error))
            }
            // Only a judge that paces refuses, and it always names the error.
            None => Ok(Duration::ZERO),
        },
    }
}

/// [`settle`] after a failure, out of line.
#[allow(clippy::too_many_arguments)]
#[cold]
#[inline(never)]
fn failed<T, E, M: Memory>(
    step: &mut Step<M>,
    policy: &Policy,
    judge: &impl Judge<T, E>,
    hook: &impl Hook<T, E>,
    guards: Guards<'_>,
    permit: Option<Permit<'_>>,
    judged: Judged,
    site: &Site<'_>,
    outcome: &Result<T, E>,
    clock: impl Clock,
    tally: &mut impl Tally,
) -> Settled {
    match step.turn(policy, guards, permit, judged, site, clock) {
        Turn::Done => {
            tally.stopped(Stop::Accepted);
            Settled::Accepted
        }
        Turn::Retry(info) => {
            tally.slept(info.delay());
            trace_retry(site, &info, &OutcomeText(judge, outcome));
            hook.call(outcome, &info);
            Settled::Retry(info.delay())
        }
        Turn::GiveUp(reason) => {
            tally.stopped(Stop::GaveUp(reason));
            trace_give_up(site, step.attempt(), reason, &OutcomeText(judge, outcome));
            Settled::GaveUp
        }
    }
}

/// What a builder does after an attempt, as the engine's turn said.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Settled {
    /// Sleep this long, then run the next attempt.
    Retry(Duration),
    /// The outcome is the call's: a success.
    Accepted,
    /// The call gave up: its last outcome goes to the fallback, if there is one.
    GaveUp,
}
