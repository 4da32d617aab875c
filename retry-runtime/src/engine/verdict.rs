//! What the judge says of an attempt ([`Verdict`], [`Judged`]) and why a call stops
//! ([`GiveUp`]). The one mapping from a [`Decision`] to a verdict lives here.

use core::time::Duration;

use crate::Decision;

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
    /// The circuit breaker refused the attempt: the service was not called, and the call's
    /// error is `E::from(BreakerOpen)` (or the fallback's answer).
    BreakerOpen,
    /// The attempt's failure opened the circuit breaker (or found it opened by another call):
    /// the next attempt would be refused, so this attempt's own outcome is the call's.
    BreakerOpened,
    /// The request cannot be sent again (its body is a stream): its first answer is the
    /// call's.
    NotReplayable,
    /// The request is not idempotent (a `POST`) and the failure does not say the server left it
    /// undone: sending it again could repeat what the server did.
    NotIdempotent,
    /// The client-side throttle ([`AdaptiveThrottle`](crate::AdaptiveThrottle)) or the pacing
    /// refused the attempt: the service is refusing most requests, or the rate-limit headers
    /// hold the attempt longer than `max_hint`, or the rate limiter's next token comes too
    /// late. A refused first attempt ends the call with `E::from(Throttled)` (or the
    /// fallback's answer); a refused retry with the last outcome.
    Throttled,
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
            GiveUp::Unsatisfied => "out of attempts, the last value was still judged a failure",
            GiveUp::BreakerOpen => "the circuit breaker is open",
            GiveUp::BreakerOpened => "the circuit breaker has just opened",
            GiveUp::NotReplayable => "the request cannot be sent again",
            GiveUp::NotIdempotent => "the request is not idempotent and may have been acted on",
            GiveUp::Throttled => "throttled on the client: the service is refusing most requests, or it must be paced",
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
            GiveUp::BreakerOpened => "breaker_opened",
            GiveUp::NotReplayable => "not_replayable",
            GiveUp::NotIdempotent => "not_idempotent",
            GiveUp::Throttled => "throttled",
        }
    }
}

impl core::fmt::Display for GiveUp {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the filters say of one attempt's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The outcome is the call's: a success, or a value that satisfies `until` and
    /// `classify_ok`.
    Accept,
    /// Retry, after at least the server's hint when it gave one.
    Retry(Option<Duration>),
    /// Do not retry, for this reason.
    Stop(GiveUp),
}

impl Verdict {
    /// Retry, with no hint: the verdict on an error when no filter says otherwise.
    pub const RETRY: Verdict = Verdict::Retry(None);

    /// The verdict on an error that [`Classify`](crate::Classify) decided: `Stop` is
    /// permanent, `RetryAfter(d)` a retry after at least `d`.
    #[inline]
    pub const fn of_error(decision: Decision) -> Verdict {
        match decision {
            Decision::Stop => Verdict::Stop(GiveUp::Permanent),
            Decision::Retry => Verdict::Retry(None),
            Decision::RetryAfter(hint) => Verdict::Retry(Some(hint)),
        }
    }

    /// The verdict on a success value: accepted when it satisfies `until` (`satisfied`) and
    /// `classify_ok` said `Stop`; else a retry, after the value's hint if it gave one.
    #[inline]
    pub const fn of_value(satisfied: bool, decision: Decision) -> Verdict {
        match (satisfied, decision) {
            (true, Decision::Stop) => Verdict::Accept,
            (_, Decision::RetryAfter(hint)) => Verdict::Retry(Some(hint)),
            _ => Verdict::Retry(None),
        }
    }

    /// A retry verdict asked once more, of an error's `decision`: both must agree to retry,
    /// and the longer hint wins. Any other verdict stands.
    #[inline]
    pub fn and_error(self, decision: Decision) -> Verdict {
        match (self, Verdict::of_error(decision)) {
            (Verdict::Retry(hint), Verdict::Retry(more)) => Verdict::Retry(longer(hint, more)),
            (Verdict::Retry(_), stop) => stop,
            (verdict, _) => verdict,
        }
    }

    /// Whether this is a retry.
    #[inline]
    pub const fn is_retry(&self) -> bool {
        matches!(self, Verdict::Retry(_))
    }
}

/// The longer of two optional hints.
#[inline]
pub(crate) fn longer(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// An attempt's outcome as the engine's turn needs to know it: the [`Verdict`], whether the
/// outcome says the service is in trouble (the circuit breaker counts it as a failure), and
/// whether it was a success value (for [`GiveUp::Unsatisfied`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Judged {
    pub(crate) verdict: Verdict,
    pub(crate) transient: bool,
    pub(crate) value: bool,
    /// The service refused the attempt for lack of capacity (429, 503, 529,
    /// `RESOURCE_EXHAUSTED`): the throttle does not count it as an accept, the rate limiter
    /// slows down.
    pub(crate) overload: bool,
}

impl Judged {
    /// An error the filters judged: a retryable one counts against the service; a permanent
    /// one (a 400, a 404) is the service answering.
    #[inline]
    pub const fn error(verdict: Verdict) -> Judged {
        Judged {
            verdict,
            transient: verdict.is_retry(),
            value: false,
            overload: false,
        }
    }

    /// An error that no filter looked at: retried, and counted against the service.
    pub const RETRY: Judged = Judged::error(Verdict::RETRY);

    /// A success value: accepted, or retried (`until` not satisfied, or `classify_ok` asked
    /// for it). It counts against the service only when `classify_ok` calls it transient (a
    /// 503): a value that only fails `until` is the service answering "not yet".
    #[inline]
    pub const fn value(satisfied: bool, decision: Decision) -> Judged {
        Judged {
            verdict: Verdict::of_value(satisfied, decision),
            transient: decision.is_retry(),
            value: true,
            overload: false,
        }
    }

    /// A judgment made elsewhere (the builders' judges).
    #[inline]
    pub(crate) const fn new(verdict: Verdict, transient: bool, value: bool) -> Judged {
        Judged {
            verdict,
            transient,
            value,
            overload: false,
        }
    }

    /// The same judgment, saying whether the service refused the attempt for lack of capacity
    /// ([`Classify::overloaded`](crate::Classify::overloaded)): asked only of calls with a
    /// throttle or a rate limiter.
    #[inline]
    pub const fn overloaded(mut self, overload: bool) -> Judged {
        self.overload = overload;
        self
    }

    /// The same judgment under the rule for requests that must not be repeated unsafely: a
    /// retry is stopped when the request cannot be sent again (`replayable` false: its
    /// streamed body outgrew the limit; the answer is the call's) or when repeating it may
    /// repeat what the server did (`resend_safe` false, and the failure does not say that the
    /// request was not acted on: `unprocessed`). A transient answer still counts against the
    /// service.
    #[cfg(any(feature = "tower", feature = "reqwest-middleware"))]
    pub(crate) fn resend(self, replayable: bool, resend_safe: bool, unprocessed: bool) -> Judged {
        if !self.verdict.is_retry() {
            return self;
        }
        let reason = if !replayable {
            GiveUp::NotReplayable
        } else if !resend_safe && !unprocessed {
            GiveUp::NotIdempotent
        } else {
            return self;
        };
        Judged {
            verdict: Verdict::Stop(reason),
            ..self
        }
    }

    /// Whether the outcome is the call's (a success): the success path.
    #[inline(always)]
    pub const fn is_accepted(&self) -> bool {
        matches!(self.verdict, Verdict::Accept)
    }
}
