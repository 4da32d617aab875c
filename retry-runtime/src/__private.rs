//! Support for the code that `#[retry]` generates. Not a public API: names here may change in
//! any release.

pub use core::time::Duration;
use std::time::Instant as StdInstant;

#[cfg(feature = "tokio")]
pub use crate::engine::sleep;
pub use crate::engine::{
    next_delay, run_blocking, Everything, Flow, GiveUp, Memory, Nothing, Previous, Started, Step,
    Verdict,
};
#[cfg(feature = "tokio")]
pub use tokio::time::timeout;

#[cfg(not(feature = "tokio"))]
pub use self::without_tokio::{sleep, timeout, TokioClock};

/// `async fn` support needs tokio. Without the feature, `#[retry]` on an `async fn` expands to a
/// call of [`async_needs_tokio!`](crate::__retry_async_needs_tokio), which is then the one
/// error, and these stand-ins keep the rest of the expansion free of secondary errors.
#[cfg(not(feature = "tokio"))]
mod without_tokio {
    use core::future::Future;
    use core::time::Duration;

    /// Never used at run time: the expansion does not compile without `tokio`.
    pub fn sleep(_: Duration) -> core::future::Pending<()> {
        core::future::pending()
    }

    /// Never used at run time: the expansion does not compile without `tokio`.
    pub async fn timeout<F: Future>(_: Duration, future: F) -> Result<F::Output, ()> {
        Ok(future.await)
    }

    /// Stands in for tokio's clock.
    pub type TokioClock = super::StdClock;
}

/// `#[retry]` on an `async fn`: nothing with the `tokio` feature, one clear error without it.
#[doc(hidden)]
#[macro_export]
#[cfg(feature = "tokio")]
macro_rules! __retry_async_needs_tokio {
    () => {};
}

/// `#[retry]` on an `async fn`: nothing with the `tokio` feature, one clear error without it.
#[doc(hidden)]
#[macro_export]
#[cfg(not(feature = "tokio"))]
macro_rules! __retry_async_needs_tokio {
    () => {
        ::core::compile_error!(
            "`#[retry]` on an `async fn` needs retry-runtime's `tokio` feature (on by default): enable it, e.g. `retry-runtime = { version = \"0.1\", features = [\"tokio\"] }`"
        );
    };
}
pub use crate::__retry_async_needs_tokio as async_needs_tokio;
pub use crate::attempt::{CallKey, Nonce};
pub use crate::{
    Attempt, Backoff, Classify, Decision, IdempotencyKey, Jitter, Policy, RetryBudget, RetryInfo,
    TimedOut,
};
pub use crate::{BreakerOpen, CircuitBreaker, Permit};

use core::fmt::Debug;

pub use crate::args::CloneForRetry as RetryArg;

/// The return type of a retried function: a `Result` (directly or through an alias).
#[diagnostic::on_unimplemented(
    message = "`#[retry]` functions must return a `Result`, but this one returns `{Self}`",
    label = "expected `Result<_, _>` (or an alias such as `std::io::Result<_>`)",
    note = "`#[retry]` retries when the function returns `Err`, so it needs a `Result` to look at"
)]
pub trait RetryResult {
    /// The success type.
    type Ok;
    /// The error type.
    type Error;
    /// The error of a failed attempt, `None` on success.
    fn __retry_error(&self) -> Option<&Self::Error>;
    /// The outcome, borrowed.
    fn __retry_outcome(&self) -> Result<&Self::Ok, &Self::Error>;
    /// A failed result holding `error`.
    fn __retry_from_error(error: Self::Error) -> Self;
    /// The error of a failed result, by value; a success as it was.
    fn __retry_take_error(self) -> Result<Self, Self::Error>
    where
        Self: Sized;
}

impl<T, E> RetryResult for Result<T, E> {
    type Ok = T;
    type Error = E;

    #[inline(always)]
    fn __retry_outcome(&self) -> Result<&T, &E> {
        self.as_ref()
    }

    #[inline(always)]
    fn __retry_error(&self) -> Option<&E> {
        self.as_ref().err()
    }

    #[inline(always)]
    fn __retry_from_error(error: E) -> Self {
        Err(error)
    }

    #[inline(always)]
    fn __retry_take_error(self) -> Result<Self, E> {
        match self {
            Err(error) => Err(error),
            ok => Ok(ok),
        }
    }
}

/// `timeout = "…"` turns a cut-off into the function's own error type.
#[diagnostic::on_unimplemented(
    message = "`#[retry(timeout = ...)]` needs `{Self}` to implement `From<retry_runtime::TimedOut>`",
    label = "a timed-out attempt must become this error type",
    note = "add `impl From<retry_runtime::TimedOut> for {Self}` (e.g. a `TimedOut` variant of your error enum)"
)]
pub trait FromTimedOut {
    /// The error for a timed-out attempt.
    fn __retry_timed_out() -> Self;
}

#[diagnostic::do_not_recommend]
impl<E: From<TimedOut>> FromTimedOut for E {
    #[inline]
    fn __retry_timed_out() -> Self {
        E::from(TimedOut)
    }
}

/// The failed result of an attempt that was cut off.
#[cold]
pub fn timed_out<R>() -> R
where
    R: RetryResult,
    R::Error: FromTimedOut,
{
    R::__retry_from_error(<R::Error as FromTimedOut>::__retry_timed_out())
}

/// `breaker = …` turns a refused attempt into the function's own error type.
#[diagnostic::on_unimplemented(
    message = "`#[retry(breaker = ...)]` needs `{Self}` to implement `From<retry_runtime::BreakerOpen>`",
    label = "an attempt the breaker refuses must become this error type",
    note = "add `impl From<retry_runtime::BreakerOpen> for {Self}` (e.g. a `BreakerOpen` variant of your error enum)"
)]
pub trait FromBreakerOpen {
    /// The error for a refused attempt.
    fn __retry_breaker_open(open: BreakerOpen) -> Self;
}

#[diagnostic::do_not_recommend]
impl<E: From<BreakerOpen>> FromBreakerOpen for E {
    #[inline]
    fn __retry_breaker_open(open: BreakerOpen) -> Self {
        E::from(open)
    }
}

/// The failed result of an attempt the breaker refused.
#[cold]
pub fn breaker_refused<R>(open: BreakerOpen) -> R
where
    R: RetryResult,
    R::Error: FromBreakerOpen,
{
    R::__retry_from_error(<R::Error as FromBreakerOpen>::__retry_breaker_open(open))
}

/// `breaker = …`: the breaker, with its type checked at the user's path.
#[inline(always)]
pub fn the_breaker(breaker: &CircuitBreaker) -> &CircuitBreaker {
    breaker
}

/// Reports an attempt's outcome to the breaker: `failed` when the filters judged it transient.
#[inline]
pub fn breaker_report(permit: Permit<'_>, failed: bool) {
    if failed {
        permit.failure()
    } else {
        permit.success()
    }
}

/// `fallback = …`: called with the final error, its signature checked at the user's expression.
#[cold]
pub fn call_fallback<E, A, F: FnOnce(E) -> A>(fallback: F, error: E) -> A {
    fallback(error)
}

/// A fallback's answer in an `async fn`: a future (an async fallback), to await, or a
/// `Result` (a plain one), made a ready future. Exactly one of [`AnswerIsFuture`] and
/// [`AnswerIsValue`] applies to an answer (a `Result` is not a future), so
/// `Answer(answer).__retry_answer()` resolves to it.
pub struct Answer<A>(pub A);

/// An async fallback's answer.
pub trait AnswerIsFuture {
    /// The future to await.
    type Future: core::future::Future;
    /// The answer, as a future.
    fn __retry_answer(self) -> Self::Future;
}

impl<F: core::future::IntoFuture> AnswerIsFuture for Answer<F> {
    type Future = F::IntoFuture;
    #[inline(always)]
    fn __retry_answer(self) -> F::IntoFuture {
        self.0.into_future()
    }
}

/// A plain fallback's answer.
pub trait AnswerIsValue {
    /// The answer's type.
    type Value;
    /// The answer, as a ready future.
    fn __retry_answer(self) -> core::future::Ready<Self::Value>;
}

impl<T, E> AnswerIsValue for Answer<Result<T, E>> {
    type Value = Result<T, E>;
    #[inline(always)]
    fn __retry_answer(self) -> core::future::Ready<Result<T, E>> {
        core::future::ready(self.0)
    }
}

/// The verdict when no filter says otherwise: retry, with no hint.
pub const RETRY: Verdict = Ok(None);

/// No retry budget.
pub const NO_BUDGET: Option<&RetryBudget> = None;

/// `when = …`: the predicate, with its signature checked at the user's expression.
#[inline]
pub fn check_when<E: ?Sized, F: Fn(&E) -> bool>(predicate: F, error: &E) -> bool {
    predicate(error)
}

/// `classify` asks this of the error type; it holds exactly for the types that implement
/// [`Classify`], and reports a missing implementation in the attribute's own words.
#[diagnostic::on_unimplemented(
    message = "`#[retry(classify)]` needs `{Self}` to implement `retry_runtime::Classify`",
    label = "`{Self}` cannot say which of its errors are transient",
    note = "implement `retry_runtime::Classify` for `{Self}`, or filter with `on = PATTERN` or `when = |e| ...` instead of `classify`"
)]
pub trait RetryClassify {
    /// The error's own decision.
    fn __retry_classify(&self) -> Decision;
}

#[diagnostic::do_not_recommend]
impl<E: Classify + ?Sized> RetryClassify for E {
    #[inline]
    fn __retry_classify(&self) -> Decision {
        self.classify()
    }
}

/// `classify_ok` asks this of the success type.
#[diagnostic::on_unimplemented(
    message = "`#[retry(classify_ok)]` needs `{Self}` to implement `retry_runtime::Classify`",
    label = "`{Self}` cannot say which of its values should be retried",
    note = "implement `retry_runtime::Classify` for `{Self}`, or decide with `until = |value| ...` instead of `classify_ok`"
)]
pub trait RetryClassifyOk {
    /// The value's own decision.
    fn __retry_classify_ok(&self) -> Decision;
}

#[diagnostic::do_not_recommend]
impl<T: Classify + ?Sized> RetryClassifyOk for T {
    #[inline]
    fn __retry_classify_ok(&self) -> Decision {
        self.classify()
    }
}

/// `classify_ok`: the success value's own decision.
#[inline]
pub fn classify_ok<T: RetryClassifyOk + ?Sized>(value: &T) -> Decision {
    value.__retry_classify_ok()
}

/// `until = …`: the predicate, with its signature checked at the user's expression.
#[inline]
pub fn check_until<T: ?Sized, F: Fn(&T) -> bool>(predicate: F, value: &T) -> bool {
    predicate(value)
}

/// The verdict on a success value: `None` when it is final (`until` satisfied and
/// `classify_ok` said `Stop`), else a retry, with the value's hint if it gave one.
#[inline]
pub fn ok_verdict(satisfied: bool, decision: Decision) -> Option<Verdict> {
    match (satisfied, decision) {
        (true, Decision::Stop) => None,
        (_, Decision::RetryAfter(hint)) => Some(Ok(Some(hint))),
        _ => Some(Ok(None)),
    }
}

/// `classify`: the error's own decision.
#[inline]
pub fn classify<E: RetryClassify + ?Sized>(error: &E) -> Decision {
    error.__retry_classify()
}

/// `on_retry = …`: the hook, with its signature checked at the user's expression.
#[inline]
pub fn call_on_retry<E: ?Sized, F: Fn(&E, &RetryInfo)>(hook: F, error: &E, info: &RetryInfo) {
    hook(error, info)
}

/// `shown!(error)`: how the `tracing` events show an error: with `Display` when it has one,
/// `Debug` otherwise, a placeholder when it has neither.
#[doc(hidden)]
#[macro_export]
#[cfg(feature = "tracing")]
macro_rules! __retry_shown {
    ($error:expr) => {{
        #[allow(unused_imports)]
        use $crate::__private::{ViaDebug as _, ViaDisplay as _, ViaNothing as _};
        (&&$crate::__private::DisplayOr($error)).__retry_shown()
    }};
}

/// `shown!(error)`: without the `tracing` feature nothing shows the error, so nothing is
/// expanded for it (every retried function compiles a little faster).
#[doc(hidden)]
#[macro_export]
#[cfg(not(feature = "tracing"))]
macro_rules! __retry_shown {
    ($error:expr) => {
        $crate::__private::Shown::Nothing
    };
}
pub use crate::__retry_shown as shown;

/// `trace_retry!(function, &info, shown)`: an INFO event for a retry, whose target is the
/// module of the retried function (so it can be filtered per module).
#[doc(hidden)]
#[macro_export]
#[cfg(feature = "tracing")]
macro_rules! __retry_trace_retry {
    ($function:expr, $info:expr, $error:expr) => {{
        let info: &$crate::RetryInfo = $info;
        $crate::__private::tracing::event!(
            target: ::core::module_path!(),
            $crate::__private::tracing::Level::INFO,
            function = %$function,
            attempt = info.attempt(),
            delay = ?info.delay(),
            from_hint = info.from_hint(),
            error = %$error,
            "attempt failed, retrying"
        );
    }};
}

/// Without the `tracing` feature: nothing.
#[doc(hidden)]
#[macro_export]
#[cfg(not(feature = "tracing"))]
macro_rules! __retry_trace_retry {
    ($($tokens:tt)*) => {};
}
pub use crate::__retry_trace_retry as trace_retry;

/// `trace_give_up!(function, attempts, reason, shown)`: the call returns its last outcome. WARN
/// when it was retried at least once; DEBUG when the first outcome was final (a permanent
/// error is the caller's business, not an operator's).
#[doc(hidden)]
#[macro_export]
#[cfg(feature = "tracing")]
macro_rules! __retry_trace_give_up {
    ($function:expr, $attempts:expr, $reason:expr, $error:expr) => {{
        let attempts: u32 = $attempts;
        let reason: $crate::GiveUp = $reason;
        if attempts > 1 {
            $crate::__private::tracing::event!(
                target: ::core::module_path!(),
                $crate::__private::tracing::Level::WARN,
                function = %$function,
                attempts,
                reason = reason.as_str(),
                error = %$error,
                "giving up"
            );
        } else {
            $crate::__private::tracing::event!(
                target: ::core::module_path!(),
                $crate::__private::tracing::Level::DEBUG,
                function = %$function,
                attempts,
                reason = reason.as_str(),
                error = %$error,
                "not retried"
            );
        }
    }};
}

/// Without the `tracing` feature: nothing.
#[doc(hidden)]
#[macro_export]
#[cfg(not(feature = "tracing"))]
macro_rules! __retry_trace_give_up {
    ($($tokens:tt)*) => {};
}
pub use crate::__retry_trace_give_up as trace_give_up;

#[cfg(feature = "tracing")]
pub use tracing;

#[cfg(feature = "metrics")]
pub use metrics;

/// `count_done!(function, attempts, "success" | "gave_up")`: a call ended after `attempts`
/// attempts: `retry_calls_total`, `retry_attempts_total` and the `retry_attempts_per_call`
/// histogram, labelled by function. The handles are registered once per call site and kept,
/// so counting allocates nothing after the first call.
#[doc(hidden)]
#[macro_export]
#[cfg(feature = "metrics")]
macro_rules! __retry_count_done {
    ($function:expr, $attempts:expr, $outcome:literal) => {{
        static HANDLES: ::std::sync::OnceLock<$crate::__private::FunctionMetrics> =
            ::std::sync::OnceLock::new();
        HANDLES
            .get_or_init(|| $crate::__private::FunctionMetrics::new(&$function))
            .done($attempts, $outcome == "success");
    }};
}

/// Without the `metrics` feature: nothing.
#[doc(hidden)]
#[macro_export]
#[cfg(not(feature = "metrics"))]
macro_rules! __retry_count_done {
    ($($tokens:tt)*) => {};
}
pub use crate::__retry_count_done as count_done;

/// `count_retry!(function)`: `retry_retries_total`, labelled by function.
#[doc(hidden)]
#[macro_export]
#[cfg(feature = "metrics")]
macro_rules! __retry_count_retry {
    ($function:expr) => {{
        static HANDLES: ::std::sync::OnceLock<$crate::__private::FunctionMetrics> =
            ::std::sync::OnceLock::new();
        HANDLES
            .get_or_init(|| $crate::__private::FunctionMetrics::new(&$function))
            .retried();
    }};
}

/// Without the `metrics` feature: nothing.
#[doc(hidden)]
#[macro_export]
#[cfg(not(feature = "metrics"))]
macro_rules! __retry_count_retry {
    ($($tokens:tt)*) => {};
}
pub use crate::__retry_count_retry as count_retry;

/// `count_give_up!(function, reason)`: `retry_give_ups_total`, labelled by function and reason.
#[doc(hidden)]
#[macro_export]
#[cfg(feature = "metrics")]
macro_rules! __retry_count_give_up {
    ($function:expr, $reason:expr) => {{
        static HANDLES: ::std::sync::OnceLock<$crate::__private::FunctionMetrics> =
            ::std::sync::OnceLock::new();
        HANDLES
            .get_or_init(|| $crate::__private::FunctionMetrics::new(&$function))
            .gave_up($reason);
    }};
}

/// Without the `metrics` feature: nothing.
#[doc(hidden)]
#[macro_export]
#[cfg(not(feature = "metrics"))]
macro_rules! __retry_count_give_up {
    ($($tokens:tt)*) => {};
}
pub use crate::__retry_count_give_up as count_give_up;

/// One retried function's metric handles.
#[cfg(feature = "metrics")]
pub struct FunctionMetrics {
    function: metrics::SharedString,
    success: metrics::Counter,
    gave_up: metrics::Counter,
    attempts: metrics::Counter,
    retries: metrics::Counter,
    per_call: metrics::Histogram,
}

#[cfg(feature = "metrics")]
impl FunctionMetrics {
    /// The handles of the function named `function`.
    pub fn new(function: &dyn core::fmt::Display) -> Self {
        let function = metrics::SharedString::from(function.to_string());
        let f = function.clone();
        FunctionMetrics {
            success: metrics::counter!("retry_calls_total", "function" => f.clone(), "outcome" => "success"),
            gave_up: metrics::counter!("retry_calls_total", "function" => f.clone(), "outcome" => "gave_up"),
            attempts: metrics::counter!("retry_attempts_total", "function" => f.clone()),
            retries: metrics::counter!("retry_retries_total", "function" => f.clone()),
            per_call: metrics::histogram!("retry_attempts_per_call", "function" => f),
            function,
        }
    }

    /// A call ended after `attempts` attempts.
    pub fn done(&self, attempts: u32, success: bool) {
        if success {
            self.success.increment(1);
        } else {
            self.gave_up.increment(1);
        }
        self.attempts.increment(u64::from(attempts));
        self.per_call.record(f64::from(attempts));
    }

    /// A retry is about to happen.
    pub fn retried(&self) {
        self.retries.increment(1);
    }

    /// The call gave up for `reason` (registered when it happens: giving up is rare).
    pub fn gave_up(&self, reason: GiveUp) {
        metrics::counter!("retry_give_ups_total", "function" => self.function.clone(), "reason" => reason.label())
            .increment(1);
    }
}

/// The reason a call gave up, `Unsatisfied` when it ran out of attempts on a value.
#[inline]
pub fn reason_for(reason: GiveUp, outcome_is_ok: bool) -> GiveUp {
    match reason {
        GiveUp::OutOfAttempts if outcome_is_ok => GiveUp::Unsatisfied,
        other => other,
    }
}

/// A method's name with its `impl` type (`Client::fetch`), for events.
pub struct Qualified(pub &'static str, pub &'static str);

impl core::fmt::Display for Qualified {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // `my_crate::api::Client<T>` -> `Client`.
        let owner = self.0.split('<').next().unwrap_or(self.0);
        let owner = owner.rsplit("::").next().unwrap_or(owner);
        write!(f, "{owner}::{}", self.1)
    }
}

/// An error as an event shows it.
pub enum Shown<'a> {
    /// Shown with `Display`.
    Display(&'a dyn core::fmt::Display),
    /// Shown with `Debug` (the error has no `Display`).
    Debug(&'a dyn Debug),
    /// Neither.
    Nothing,
}

impl core::fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Shown::Display(shown) => shown.fmt(f),
            Shown::Debug(shown) => shown.fmt(f),
            Shown::Nothing => f.write_str("<error without Display or Debug>"),
        }
    }
}

impl Debug for Shown<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(self, f)
    }
}

/// The error, for method resolution to pick how to show it.
pub struct DisplayOr<'a, T: ?Sized>(pub &'a T);

/// Chosen first: the error is `Display`.
pub trait ViaDisplay {
    /// The error, shown.
    fn __retry_shown(&self) -> Shown<'_>;
}

impl<T: core::fmt::Display + ?Sized> ViaDisplay for &DisplayOr<'_, T> {
    fn __retry_shown(&self) -> Shown<'_> {
        Shown::Display(&self.0)
    }
}

/// Chosen next: the error is `Debug`.
pub trait ViaDebug {
    /// The error, shown.
    fn __retry_shown(&self) -> Shown<'_>;
}

impl<T: Debug + ?Sized> ViaDebug for &&DisplayOr<'_, T> {
    fn __retry_shown(&self) -> Shown<'_> {
        Shown::Debug(&self.0)
    }
}

/// The fallback.
pub trait ViaNothing {
    /// A placeholder.
    fn __retry_shown(&self) -> Shown<'_>;
}

impl<T: ?Sized> ViaNothing for DisplayOr<'_, T> {
    fn __retry_shown(&self) -> Shown<'_> {
        Shown::Nothing
    }
}

/// A point in time as signed nanoseconds from a process-wide epoch: 8 bytes in the retried
/// future's state instead of an `Instant`'s 16. Only read when there is a deadline (or a hook
/// that reports the elapsed time).
pub type Stamp = i64;

/// "No clock was started" (for policies only known at run time).
pub const NO_STAMP: Stamp = i64::MIN;

static EPOCH: std::sync::OnceLock<StdInstant> = std::sync::OnceLock::new();

fn stamp_of(at: StdInstant) -> Stamp {
    let epoch = *EPOCH.get_or_init(StdInstant::now);
    match at.checked_duration_since(epoch) {
        Some(after) => i64::try_from(after.as_nanos()).unwrap_or(i64::MAX),
        // tokio's paused clock may stand before the epoch; `-i64::MAX` keeps clear of NO_STAMP.
        None => -i64::try_from(epoch.duration_since(at).as_nanos()).unwrap_or(i64::MAX),
    }
}

fn between(start: Stamp, now: Stamp) -> Duration {
    Duration::from_nanos(u64::try_from(now.saturating_sub(start)).unwrap_or(0))
}

/// Where the elapsed time of a call is read.
pub trait Clock {
    /// Now, on this clock.
    fn now() -> StdInstant;

    /// Now, as a stamp.
    #[inline]
    fn stamp() -> Stamp {
        stamp_of(Self::now())
    }

    /// Time since `start`; `None` when no clock was started.
    #[inline]
    fn since(start: Stamp) -> Option<Duration> {
        (start != NO_STAMP).then(|| between(start, Self::stamp()))
    }
}

/// tokio's clock (paused in tests), for `async fn`.
#[cfg(feature = "tokio")]
pub struct TokioClock;

#[cfg(feature = "tokio")]
impl Clock for TokioClock {
    #[inline]
    fn now() -> StdInstant {
        tokio::time::Instant::now().into_std()
    }
}

/// The system's monotonic clock, for blocking functions.
pub struct StdClock;

impl Clock for StdClock {
    #[inline]
    fn now() -> StdInstant {
        StdInstant::now()
    }
}

/// Rejects an invalid `const` policy at compile time (`policy = SOME_CONST`).
pub const fn check_policy(policy: &Policy) {
    if let Err(err) = policy.validate() {
        panic!("{}", err.message());
    }
}

/// `budget = …`: a success refills the budget.
#[inline]
pub fn budget_deposit(budget: &crate::RetryBudget) {
    budget.deposit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_measure_elapsed_time_on_both_sides_of_the_epoch() {
        let now = StdInstant::now();
        let later = stamp_of(now + Duration::from_millis(1500));
        let earlier = stamp_of(now.checked_sub(Duration::from_secs(3)).unwrap_or(now));
        assert!(earlier < later);
        assert_eq!(between(stamp_of(now), later), Duration::from_millis(1500));
        assert_eq!(between(later, stamp_of(now)), Duration::ZERO);
        assert_eq!(StdClock::since(NO_STAMP), None);
        assert!(StdClock::since(StdClock::stamp()).is_some());
    }

    #[cfg(feature = "tokio")]
    #[tokio::test(start_paused = true)]
    async fn tokio_stamps_follow_the_paused_clock() {
        let start = TokioClock::stamp();
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert_eq!(TokioClock::since(start), Some(Duration::from_secs(3600)));
    }
}
