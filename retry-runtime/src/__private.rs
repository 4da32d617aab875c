//! Support for the code that `#[retry]` generates: re-exports only, each from the module it
//! belongs to. Not a public API: names here may change in any release.

pub use core::time::Duration;

pub use crate::args::CloneForRetry as RetryArg;
pub use crate::attempt::CallKey;
pub use crate::doors::attribute::{
    breaker_refused, call_fallback, call_on_retry, check_policy, check_until, check_when, classify,
    classify_ok, hedged_attempt, overloaded, throttled_refused, timed_out, Answer, AnswerIsFuture,
    AnswerIsValue, AsyncSleeper, BlockingSleeperArg, CloneForHedge as HedgeArg, DisplayOr,
    FromBreakerOpen, FromThrottled, FromTimedOut, HedgedCall, OutcomeText, RetryClassify,
    RetryClassifyOk, RetryOverload, RetryResult, Summary, ViaDebug, ViaDisplay, ViaPlaceholder,
    ViaSummary,
};
#[cfg(not(feature = "tokio"))]
pub use crate::engine::sleep::timeout;
pub use crate::engine::sleep::{sleep_default as sleep, ASYNC_SLEEPER};
pub use crate::engine::{
    run_blocking, sleep as sleep_on, CallReport, CallSpan, Flow, Guards, Judged, Memory, NoMemory,
    PreviousDelay, Qualified, Site, StartAndPrevious, StartTime, Step, Stop, Tally, Turn, Verdict,
};
#[cfg(feature = "metrics")]
pub use crate::engine::{FunctionMetrics, MetricsCell};
pub use crate::runtime::{timeout as timeout_on, BlockingSleeper, DEFAULT_BLOCKING_SLEEPER};
// Not for generated code: the property tests (`tests/props.rs`) check the delay maths here.
pub use crate::engine::turn::next_delay;
pub use crate::{
    __retry_async_needs_timer as async_needs_timer, __retry_shown as shown,
    __retry_shown_outcome as shown_outcome, __retry_trace_give_up as trace_give_up,
    __retry_trace_retry as trace_retry,
};
pub use crate::{
    AdaptiveThrottle, Attempt, Backoff, BreakerOpen, CircuitBreaker, Classify, Decision, GiveUp,
    IdempotencyKey, Jitter, Latencies, Permit, Policy, RateLimiter, RetryBudget, RetryInfo,
    Throttled, TimedOut,
};
#[cfg(feature = "tokio")]
pub use tokio::time::timeout;
#[cfg(feature = "tracing")]
pub use tracing;
