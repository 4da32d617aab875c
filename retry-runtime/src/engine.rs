//! The retry engine: what happens after an attempt fails, for every front door.
//!
//! A retried call is a loop of *attempt → decide → delay → sleep*. The attempt is the caller's
//! code; everything else lives here, once:
//!
//! - [`Step`] is the per-call state (the attempt number and, only when the policy needs them,
//!   the start time and the previous delay) and [`Step::failed`] is the one decision after a
//!   failed attempt: the filters' verdict, the attempt limit, the deadline, jitter, server
//!   hints and the retry budget, giving either the delay to sleep or the reason to give up.
//! - [`run_blocking`] is the whole loop for blocking code.
//! - For async code the loop is five lines around the same [`Step`]: run the attempt, return
//!   on success, ask [`Step::failed`], [`sleep`], go again. `#[retry]` writes those lines into
//!   the function itself instead of calling a generic `async fn` with a closure, for two
//!   measured reasons. An `AsyncFnMut` closure (which could lend the arguments to each
//!   attempt) makes the caller's future fail its `Send` proof on stable Rust ("higher-ranked
//!   lifetime error"), so a retried method could no longer be spawned. And threading the
//!   arguments by value through a generic async loop costs about 40 bytes more future state
//!   than the inline loop, which would break the 64-byte budget of the performance contract.
//!   The loop holds no policy logic: a behaviour fixed here is fixed for every front door.
//!
//! The success path touches none of this: the first attempt's result is checked and returned,
//! and every function here that runs after a failure is out of line (`#[cold]`).

use core::fmt::Debug;
use core::marker::PhantomData;
use core::time::Duration;

use crate::__private::{Clock, Stamp, NO_STAMP};
use crate::jitter::with_thread_rng;
use crate::{Jitter, Policy, RetryBudget, RetryInfo};

/// Why a call stopped retrying and returned its last outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GiveUp {
    /// The error matched `unless`.
    Unless,
    /// The error did not match `on`.
    NotOn,
    /// `when` returned `false`.
    When,
    /// `Classify` said `Decision::Stop`.
    Permanent,
    /// Every attempt the policy allows was made.
    OutOfAttempts,
    /// The next sleep would have ended at or after the deadline.
    Deadline,
    /// The server's hint (`Retry-After`, pushback) was longer than the policy's `max_hint`.
    HintTooLong,
    /// The shared retry budget had no token left.
    Budget,
    /// Every attempt the policy allows was made, and the last value still failed `until` (or
    /// `classify_ok` still said to retry it).
    Unsatisfied,
    /// The circuit breaker refused the attempt: the service was not called.
    BreakerOpen,
}

impl GiveUp {
    /// A short description, as in the `tracing` events.
    ///
    /// ```
    /// use retry_runtime::GiveUp;
    /// assert_eq!(GiveUp::Deadline.as_str(), "the next sleep would end past the deadline");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            GiveUp::Unless => "matched `unless`",
            GiveUp::NotOn => "did not match `on`",
            GiveUp::When => "`when` returned false",
            GiveUp::Permanent => "classified as permanent",
            GiveUp::OutOfAttempts => "out of attempts",
            GiveUp::Deadline => "the next sleep would end past the deadline",
            GiveUp::HintTooLong => "the server asked for a wait longer than `max_hint`",
            GiveUp::Budget => "retry budget exhausted",
            GiveUp::Unsatisfied => "out of attempts, the value never satisfied `until`",
            GiveUp::BreakerOpen => "the circuit breaker is open",
        }
    }
}

impl GiveUp {
    /// A short label for metrics: `permanent`, `out_of_attempts`, `deadline`, …
    ///
    /// ```
    /// use retry_runtime::GiveUp;
    /// assert_eq!(GiveUp::HintTooLong.label(), "hint_too_long");
    /// ```
    pub const fn label(self) -> &'static str {
        match self {
            GiveUp::Unless => "unless",
            GiveUp::NotOn => "not_on",
            GiveUp::When => "when",
            GiveUp::Permanent => "permanent",
            GiveUp::OutOfAttempts => "out_of_attempts",
            GiveUp::Deadline => "deadline",
            GiveUp::HintTooLong => "hint_too_long",
            GiveUp::Budget => "budget",
            GiveUp::Unsatisfied => "unsatisfied",
            GiveUp::BreakerOpen => "breaker_open",
        }
    }
}

impl core::fmt::Display for GiveUp {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the filters said about a failed attempt: retry (with the server's hint, if it gave
/// one), or give up for this reason.
pub type Verdict = Result<Option<Duration>, GiveUp>;

/// What a call remembers between attempts besides the attempt number. Each policy pays only
/// for what it reads: no clock without a deadline (or a hook that reports the elapsed time),
/// no previous delay without decorrelated jitter.
pub trait Memory: Sized {
    /// The memory of a call that starts now.
    fn begin(policy: &Policy, clock: bool) -> Self;
    /// Time since the first attempt started, when a clock was started.
    fn elapsed(&self) -> Option<Duration>;
    /// The delay slept before the previous retry (zero before the first).
    fn previous(&self) -> Duration;
    /// Remembers the delay about to be slept.
    fn remember(&mut self, delay: Duration);
}

/// Nothing: a policy without deadline or decorrelated jitter.
#[derive(Clone, Copy, Debug, Default)]
pub struct Nothing;

impl Memory for Nothing {
    #[inline(always)]
    fn begin(_: &Policy, _: bool) -> Self {
        Nothing
    }
    #[inline(always)]
    fn elapsed(&self) -> Option<Duration> {
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
pub struct Previous(u64);

impl Memory for Previous {
    #[inline(always)]
    fn begin(_: &Policy, _: bool) -> Self {
        Previous(0)
    }
    #[inline(always)]
    fn elapsed(&self) -> Option<Duration> {
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

/// The start time only (a deadline, or a hook that reports the elapsed time), on clock `C`.
#[repr(C, packed(4))]
pub struct Started<C>(Stamp, PhantomData<fn() -> C>);

impl<C: Clock> Memory for Started<C> {
    #[inline(always)]
    fn begin(_: &Policy, _: bool) -> Self {
        Started(C::stamp(), PhantomData)
    }
    #[inline(always)]
    fn elapsed(&self) -> Option<Duration> {
        C::since(self.0)
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
#[repr(C, packed(4))]
pub struct Everything<C> {
    start: Stamp,
    previous: u64,
    clock: PhantomData<fn() -> C>,
}

impl<C: Clock> Memory for Everything<C> {
    #[inline]
    fn begin(policy: &Policy, clock: bool) -> Self {
        let start = if clock || policy.deadline().is_some() {
            C::stamp()
        } else {
            NO_STAMP
        };
        Everything {
            start,
            previous: 0,
            clock: PhantomData,
        }
    }
    #[inline]
    fn elapsed(&self) -> Option<Duration> {
        C::since(self.start)
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

/// The state of one retried call: the attempt about to run (1-based) and what the policy needs
/// remembered between attempts.
#[derive(Clone, Debug)]
pub struct Step<M> {
    attempt: u32,
    memory: M,
}

impl<M: Memory> Step<M> {
    /// A call that starts now; `clock` asks for the elapsed time even without a deadline (for
    /// [`RetryInfo::elapsed`]).
    #[inline(always)]
    pub fn begin(policy: &Policy, clock: bool) -> Self {
        Step {
            attempt: 1,
            memory: M::begin(policy, clock),
        }
    }

    /// The attempt about to run (or running), 1-based.
    #[inline(always)]
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Whether the policy allows an attempt after the running one.
    #[inline]
    pub fn has_attempts_left(&self, policy: &Policy) -> bool {
        self.attempt < policy.attempts()
    }

    /// Time since the first attempt started, where a clock was started.
    #[inline]
    pub fn elapsed(&self) -> Option<Duration> {
        self.memory.elapsed()
    }

    /// The time the running attempt may take: `timeout`, or less when the deadline comes first.
    #[inline]
    pub fn attempt_timeout(&self, policy: &Policy, timeout: Duration) -> Duration {
        match (policy.deadline(), self.elapsed()) {
            (Some(deadline), Some(elapsed)) => timeout.min(deadline.saturating_sub(elapsed)),
            _ => timeout,
        }
    }

    /// The decision after the running attempt failed and the filters said `verdict`: the
    /// [`RetryInfo`] of the retry to make (its delay included; the attempt number then moves
    /// on), or why the call gives up.
    ///
    /// The order is: the filters' verdict, the attempt limit, the delay (jittered; at least the
    /// server's hint), the deadline (no sleep may end at or after it, so no attempt starts with
    /// no time left), then the budget (a token is only taken for a retry that will happen).
    ///
    /// `function` and `error` are for the `tracing` events (one per retry, one on giving up).
    #[cold]
    #[inline(never)]
    pub fn failed(
        &mut self,
        policy: &Policy,
        verdict: Verdict,
        budget: Option<&RetryBudget>,
        function: &'static str,
        error: &dyn Debug,
    ) -> Result<RetryInfo, GiveUp> {
        let decision = self.decide(policy, verdict, budget);
        match &decision {
            Ok(info) => trace_retry(function, info, error),
            Err(reason) => trace_give_up(function, self.attempt, *reason, error),
        }
        decision
    }

    /// What the caller-driven [`Schedule`](crate::Schedule) remembers.
    pub(crate) fn memory_mut(&mut self) -> &mut M {
        &mut self.memory
    }

    /// [`failed`](Step::failed) without the events: `#[retry]` emits them itself, with the
    /// retried function's module as their target.
    #[cold]
    #[inline(never)]
    pub fn decide(
        &mut self,
        policy: &Policy,
        verdict: Verdict,
        budget: Option<&RetryBudget>,
    ) -> Result<RetryInfo, GiveUp> {
        let hint = verdict?;
        let elapsed = self.memory.elapsed();
        let delay = next_delay(policy, self.attempt, self.memory.previous(), elapsed, hint)?;
        // The server's hint set the delay when it was at least the backoff.
        let from_hint = hint.is_some_and(|hint| hint >= delay);
        if let Some(budget) = budget {
            if !budget.try_withdraw() {
                return Err(GiveUp::Budget);
            }
        }
        self.memory.remember(delay);
        let info =
            RetryInfo::new(self.attempt, delay, elapsed.unwrap_or_default()).with_hint(from_hint);
        self.attempt = self.attempt.saturating_add(1);
        Ok(info)
    }
}

/// One INFO event per retry (feature `tracing`; a no-op otherwise), for the builders and the
/// middleware; `#[retry]` emits its own, targeted at the retried function's module.
fn trace_retry(function: &'static str, info: &RetryInfo, error: &dyn Debug) {
    #[cfg(feature = "tracing")]
    tracing::info!(
        function,
        attempt = info.attempt(),
        delay = ?info.delay(),
        from_hint = info.from_hint(),
        error = ?error,
        "attempt failed, retrying"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = (function, info, error);
}

/// One event when a call returns its last outcome (feature `tracing`; a no-op otherwise): WARN
/// after retries, DEBUG when the first outcome was final.
pub(crate) fn trace_give_up(
    function: &'static str,
    attempts: u32,
    reason: GiveUp,
    error: &dyn Debug,
) {
    #[cfg(feature = "tracing")]
    if attempts > 1 {
        tracing::warn!(function, attempts, reason = reason.as_str(), error = ?error, "giving up");
    } else {
        tracing::debug!(function, attempts, reason = reason.as_str(), error = ?error, "not retried");
    }
    #[cfg(not(feature = "tracing"))]
    let _ = (function, attempts, reason, error);
}

/// What one turn of a blocking retry loop ended with.
#[derive(Debug)]
pub enum Flow<R> {
    /// Return this outcome: a success, or the last failure of a call that gives up.
    Done(R),
    /// Sleep this long, then run the next attempt.
    Retry(Duration),
}

/// The retry loop for blocking code: `turn` runs one attempt and decides (through
/// [`Step::failed`]); the loop sleeps between turns with `std::thread::sleep`.
///
/// The first turn is written out here and the rest of the loop is out of line, so the function
/// that a success returns from has no loop in it.
#[inline]
pub fn run_blocking<M: Memory, R, F: FnMut(&mut Step<M>) -> Flow<R>>(
    mut step: Step<M>,
    mut turn: F,
) -> R {
    match turn(&mut step) {
        Flow::Done(outcome) => outcome,
        Flow::Retry(delay) => keep_going(step, turn, delay),
    }
}

/// The turns after the first failure.
#[cold]
#[inline(never)]
fn keep_going<M: Memory, R, F: FnMut(&mut Step<M>) -> Flow<R>>(
    mut step: Step<M>,
    mut turn: F,
    mut delay: Duration,
) -> R {
    loop {
        blocking_sleep(delay);
        match turn(&mut step) {
            Flow::Done(outcome) => return outcome,
            Flow::Retry(next) => delay = next,
        }
    }
}

/// The sleep between attempts of blocking code, out of line; a zero delay retries at once,
/// without the system call.
#[cold]
#[inline(never)]
fn blocking_sleep(delay: Duration) {
    if !delay.is_zero() {
        std::thread::sleep(delay)
    }
}

/// The sleep between attempts of async code, out of line: keeping tokio's timer set-up off the
/// function that runs the first attempt keeps that function's success path short.
#[cfg(feature = "tokio")]
#[cold]
#[inline(never)]
#[track_caller]
pub fn sleep(delay: Duration) -> tokio::time::Sleep {
    tokio::time::sleep(delay)
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

/// A duration as nanoseconds in a `u64`, saturating (after 584 years).
#[inline]
pub(crate) fn saturating_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
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
    use crate::__private::StdClock;

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

    #[test]
    fn failed_counts_attempts_and_reports_why_it_gives_up() {
        let policy = Policy::new().with_attempts(3).with_base(MS);
        let mut step = Step::<Nothing>::begin(&policy, false);
        assert_eq!(step.attempt(), 1);
        let info = step.failed(&policy, Ok(None), None, "f", &()).unwrap();
        assert_eq!((info.attempt(), info.delay()), (1, MS));
        assert_eq!(step.attempt(), 2);
        assert_eq!(
            step.failed(&policy, Err(GiveUp::Permanent), None, "f", &()),
            Err(GiveUp::Permanent)
        );
        assert_eq!(step.attempt(), 2);
        assert!(step
            .failed(&policy, Ok(Some(MS * 7)), None, "f", &())
            .is_ok_and(|i| i.delay() == MS * 7));
        assert_eq!(
            step.failed(&policy, Ok(None), None, "f", &()),
            Err(GiveUp::OutOfAttempts)
        );
    }

    #[test]
    fn an_empty_budget_stops_the_retry_and_keeps_the_attempt_number() {
        let policy = Policy::new().with_attempts(5).with_base(MS);
        let budget = RetryBudget::new(1, 0.0);
        let mut step = Step::<Nothing>::begin(&policy, false);
        assert!(step
            .failed(&policy, Ok(None), Some(&budget), "f", &())
            .is_ok());
        assert_eq!(
            step.failed(&policy, Ok(None), Some(&budget), "f", &()),
            Err(GiveUp::Budget)
        );
        assert_eq!(step.attempt(), 2);
    }

    #[test]
    fn memories_keep_only_what_they_need() {
        assert_eq!(core::mem::size_of::<Step<Nothing>>(), 4);
        assert_eq!(core::mem::size_of::<Step<Previous>>(), 12);
        assert_eq!(core::mem::size_of::<Step<Started<StdClock>>>(), 12);
        assert_eq!(core::mem::size_of::<Step<Everything<StdClock>>>(), 20);
        let policy = Policy::new();
        let mut everything = Everything::<StdClock>::begin(&policy, false);
        assert_eq!(everything.elapsed(), None);
        everything.remember(MS * 3);
        assert_eq!(everything.previous(), MS * 3);
        assert!(Everything::<StdClock>::begin(&policy, true)
            .elapsed()
            .is_some());
    }

    #[test]
    fn run_blocking_loops_until_done() {
        let policy = Policy::new().with_attempts(4).with_base(Duration::ZERO);
        let mut calls = 0;
        let out = run_blocking(Step::<Nothing>::begin(&policy, false), |step| {
            calls += 1;
            if calls < 3 {
                match step.failed(&policy, Ok(None), None, "f", &()) {
                    Ok(info) => Flow::Retry(info.delay()),
                    Err(_) => Flow::Done(Err(calls)),
                }
            } else {
                Flow::Done(Ok::<_, u32>(calls))
            }
        });
        assert_eq!(out, Ok(3));
    }
}
