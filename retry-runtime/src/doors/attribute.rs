//! The attribute's door: what the code `#[retry]` generates calls besides the engine — the
//! traits that name its bounds (each with its own compile error), the checks that put a
//! closure's type errors at the user's expression, the fallback's answer, the events (written
//! into the retried function, so that their target is its module) and how they show an
//! outcome. Generated code reaches all of it through `__private`, which only re-exports.

use core::fmt::{self, Debug};

use crate::runtime::{BlockingSleeper, Sleeper};
use crate::{BreakerOpen, Classify, Decision, Policy, RetryInfo, Throttled, TimedOut};

/// `#[retry]` on an `async fn` without `sleeper = ...`: nothing with a timer feature, one clear
/// error without one.
#[doc(hidden)]
#[macro_export]
#[cfg(any(
    feature = "tokio",
    feature = "smol",
    all(feature = "wasm", target_arch = "wasm32"),
    feature = "embassy"
))]
macro_rules! __retry_async_needs_timer {
    () => {};
}

/// `#[retry]` on an `async fn` without `sleeper = ...`: nothing with a timer feature, one clear
/// error without one.
#[doc(hidden)]
#[macro_export]
#[cfg(not(any(
    feature = "tokio",
    feature = "smol",
    all(feature = "wasm", target_arch = "wasm32"),
    feature = "embassy"
)))]
macro_rules! __retry_async_needs_timer {
    () => {
        ::core::compile_error!(
            "`#[retry]` on an `async fn` needs a timer: enable one of retry-runtime's features `tokio` (on by default), `smol`, `wasm` or `embassy`, e.g. `retry-runtime = { version = \"0.1\", features = [\"tokio\"] }`, or give one with `sleeper = ...`"
        );
    };
}

/// `sleeper = EXPR` on an `async fn`: `(&EXPR).__retry_sleeper()` is there only when the
/// expression is a [`Sleeper`]. A method, so that a value that is not one is one error at the
/// expression, and the rest of the expansion sees no sleeper to complain of.
pub trait AsyncSleeper: Sleeper {
    /// The sleeper, checked.
    #[inline(always)]
    fn __retry_sleeper(&self) -> &Self {
        self
    }
}

impl<S: Sleeper + ?Sized> AsyncSleeper for S {}

/// `sleeper = EXPR` on a plain `fn`: as [`AsyncSleeper`], for a [`BlockingSleeper`].
pub trait BlockingSleeperArg: BlockingSleeper {
    /// The sleeper, checked.
    #[inline(always)]
    fn __retry_blocking_sleeper(&self) -> &Self {
        self
    }
}

impl<S: BlockingSleeper + ?Sized> BlockingSleeperArg for S {}

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

/// `hedge = …`: copies of the call run at once, so each by-value argument is cloned for each
/// copy.
#[diagnostic::on_unimplemented(
    message = "`hedge` runs copies of the call at once, each with its own copy of this argument, but `{Self}` is not `Clone`",
    label = "taken by value here, so every copy of the call needs its own",
    note = "take the argument by reference (`&{Self}`), make `{Self}` `Clone`, or share it (`Arc<{Self}>`); for a generic or `impl Trait` argument, add a `Clone` bound"
)]
pub trait CloneForHedge: Sized {
    /// A fresh copy for one copy of the call.
    fn __hedge_clone(&self) -> Self;
}

#[diagnostic::do_not_recommend]
impl<T: Clone> CloneForHedge for T {
    #[inline(always)]
    fn __hedge_clone(&self) -> Self {
        self.clone()
    }
}

/// One copy of a hedged call: the body's future, with its output named by the function's
/// return type (so that `?` in the body knows its target).
#[inline(always)]
pub fn hedged_attempt<R, F: core::future::Future<Output = R>>(future: F) -> F {
    future
}

/// The hedged call, awaited. When a key's need is not met (`E: From<TimedOut>` for `timeout`,
/// `E: Classify` for `classify`, …) the expansion reports it at the key, with the key's own
/// message; this trait keeps the call's own unmet bound to one line that points there.
#[diagnostic::on_unimplemented(
    message = "this hedged call cannot run until the errors above are fixed",
    label = "each error above names what a key of this call needs"
)]
pub trait HedgedCall {
    /// The running call.
    type Future: core::future::Future;
    /// The call, to await.
    fn __retry_hedged(self) -> Self::Future;
}

#[diagnostic::do_not_recommend]
impl<H: core::future::IntoFuture> HedgedCall for H {
    type Future = H::IntoFuture;
    #[inline(always)]
    fn __retry_hedged(self) -> H::IntoFuture {
        self.into_future()
    }
}

/// `timeout = "…"` turns a cut-off into the function's own error type.
#[diagnostic::on_unimplemented(
    message = "`#[retry(timeout = ...)]` needs `{Self}` to implement `From<retry_runtime::TimedOut>`",
    label = "a timed-out attempt must become this error type",
    note = "add `impl From<retry_runtime::TimedOut> for {Self}` (e.g. a `TimedOut` variant of your error enum); for a type of another crate, return an error enum of your own that wraps it and has such a variant"
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
    note = "add `impl From<retry_runtime::BreakerOpen> for {Self}` (e.g. a `BreakerOpen` variant of your error enum); for a type of another crate, return an error enum of your own that wraps it and has such a variant"
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

/// `throttle = …` and `rate_limiter = …` ask this of the error type (and, under `classify_ok`,
/// of the value): whether the service refused the attempt for lack of capacity.
#[diagnostic::on_unimplemented(
    message = "`#[retry(throttle = ...)]` (or `rate_limiter`) needs `{Self}` to implement `retry_runtime::Classify`",
    label = "`{Self}` cannot say which answers refused the attempt as overloaded",
    note = "implement `retry_runtime::Classify` for `{Self}`, with `overloaded` true for the answers that refuse for lack of capacity (429, 503, 529, `RESOURCE_EXHAUSTED`)"
)]
pub trait RetryOverload {
    /// The outcome's own [`Classify::overloaded`].
    fn __retry_overloaded(&self) -> bool;
}

#[diagnostic::do_not_recommend]
impl<E: Classify + ?Sized> RetryOverload for E {
    #[inline]
    fn __retry_overloaded(&self) -> bool {
        self.overloaded()
    }
}

/// Whether an attempt's error (or value) is an overload answer.
#[inline]
pub fn overloaded<E: RetryOverload + ?Sized>(outcome: &E) -> bool {
    outcome.__retry_overloaded()
}

/// `throttle = …` and `rate_limiter = …` need the error type to take a refusal.
#[diagnostic::on_unimplemented(
    message = "`#[retry(throttle = ...)]` (or `rate_limiter`) needs `{Self}` to implement `From<retry_runtime::Throttled>`",
    label = "an attempt the throttle refuses must become this error type",
    note = "add `impl From<retry_runtime::Throttled> for {Self}` (e.g. a `Throttled` variant of your error enum); for a type of another crate, return an error enum of your own that wraps it and has such a variant"
)]
pub trait FromThrottled {
    /// The error for a refused attempt.
    fn __retry_throttled(refusal: Throttled) -> Self;
}

#[diagnostic::do_not_recommend]
impl<E: From<Throttled>> FromThrottled for E {
    #[inline]
    fn __retry_throttled(refusal: Throttled) -> Self {
        E::from(refusal)
    }
}

/// The failed result of a first attempt the throttle or the pacing refused.
#[cold]
pub fn throttled_refused<R>(refusal: Throttled) -> R
where
    R: RetryResult,
    R::Error: FromThrottled,
{
    R::__retry_from_error(<R::Error as FromThrottled>::__retry_throttled(refusal))
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

/// `classify`: the error's own decision.
#[inline]
pub fn classify<E: RetryClassify + ?Sized>(error: &E) -> Decision {
    error.__retry_classify()
}

/// `on_retry = …`: the hook, with its signature checked at the user's expression. The outcome
/// comes first, so that its type is known when the hook is checked, and a hook of the wrong
/// signature is reported at the hook.
#[inline]
pub fn call_on_retry<E: ?Sized, F: Fn(&E, &RetryInfo)>(error: &E, hook: F, info: &RetryInfo) {
    hook(error, info)
}

/// `shown!(value)`: how the `tracing` events show an error or a value: a response by its
/// status, anything else with `Display` when it has one, `Debug` otherwise, a placeholder when
/// it has neither.
#[doc(hidden)]
#[macro_export]
#[cfg(feature = "tracing")]
macro_rules! __retry_shown {
    ($value:expr) => {{
        #[allow(unused_imports)]
        use $crate::__private::{
            ViaDebug as _, ViaDisplay as _, ViaPlaceholder as _, ViaSummary as _,
        };
        (&&&$crate::__private::DisplayOr($value)).__retry_shown()
    }};
}

/// `shown_outcome!(&result)`: a whole outcome as the events show it: the error, or the value
/// that was judged a failure.
#[doc(hidden)]
#[macro_export]
macro_rules! __retry_shown_outcome {
    ($result:expr) => {
        match $crate::__private::RetryResult::__retry_outcome($result) {
            ::core::result::Result::Ok(value) => $crate::__private::shown!(value),
            ::core::result::Result::Err(error) => $crate::__private::shown!(error),
        }
    };
}

/// `shown!(error)`: without the `tracing` feature nothing shows the error, so nothing is
/// expanded for it (every retried function compiles a little faster).
#[doc(hidden)]
#[macro_export]
#[cfg(not(feature = "tracing"))]
macro_rules! __retry_shown {
    ($value:expr) => {
        $crate::__private::OutcomeText::Unprintable
    };
}

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

/// `trace_give_up!(function, attempts, reason, shown)`: the call returns its last outcome. WARN
/// when it was retried at least once, or when the server asked for a wait beyond `max_hint`;
/// DEBUG when the first outcome was final (a permanent error is the caller's business, not an
/// operator's).
#[doc(hidden)]
#[macro_export]
#[cfg(feature = "tracing")]
macro_rules! __retry_trace_give_up {
    ($function:expr, $attempts:expr, $reason:expr, $error:expr) => {{
        let attempts: u32 = $attempts;
        let reason: $crate::GiveUp = $reason;
        if attempts > 1 || reason == $crate::GiveUp::HintTooLong {
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

/// An outcome as an event shows it.
pub enum OutcomeText<'a> {
    /// A short summary (a response's status).
    Summary(&'a dyn Summary),
    /// Shown with `Display`.
    Display(&'a dyn fmt::Display),
    /// Shown with `Debug` (the type has no `Display`).
    Debug(&'a dyn Debug),
    /// Neither: a placeholder.
    Unprintable,
}

impl fmt::Display for OutcomeText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutcomeText::Summary(shown) => shown.summary(f),
            OutcomeText::Display(shown) => shown.fmt(f),
            OutcomeText::Debug(shown) => shown.fmt(f),
            OutcomeText::Unprintable => f.write_str("<a value without Display or Debug>"),
        }
    }
}

impl Debug for OutcomeText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// What an event shows of a value that is a whole response: its status, not its headers.
pub trait Summary {
    /// Writes the summary.
    fn summary(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
}

#[cfg(feature = "http")]
impl<B> Summary for http::Response<B> {
    fn summary(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.status(), f)
    }
}

#[cfg(feature = "reqwest")]
impl Summary for reqwest::Response {
    fn summary(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.status(), f)
    }
}

/// The value, for method resolution to pick how to show it: `shown!` calls the method on
/// `&&&DisplayOr(value)`, and the impls on `&&`, `&&&`, `&` and bare `DisplayOr` are tried in
/// that order (summary, `Display`, `Debug`, placeholder).
pub struct DisplayOr<'a, T>(pub &'a T);

/// Chosen first: the value has a summary.
pub trait ViaSummary<'a> {
    /// The value, shown.
    fn __retry_shown(&self) -> OutcomeText<'a>;
}

impl<'a, T: Summary> ViaSummary<'a> for &&DisplayOr<'a, T> {
    fn __retry_shown(&self) -> OutcomeText<'a> {
        OutcomeText::Summary(self.0)
    }
}

/// Chosen next: the value is `Display`.
pub trait ViaDisplay<'a> {
    /// The value, shown.
    fn __retry_shown(&self) -> OutcomeText<'a>;
}

impl<'a, T: fmt::Display> ViaDisplay<'a> for &&&DisplayOr<'a, T> {
    fn __retry_shown(&self) -> OutcomeText<'a> {
        OutcomeText::Display(self.0)
    }
}

/// Then: the value is `Debug`.
pub trait ViaDebug<'a> {
    /// The value, shown.
    fn __retry_shown(&self) -> OutcomeText<'a>;
}

impl<'a, T: Debug> ViaDebug<'a> for &DisplayOr<'a, T> {
    fn __retry_shown(&self) -> OutcomeText<'a> {
        OutcomeText::Debug(self.0)
    }
}

/// Last: a placeholder.
pub trait ViaPlaceholder<'a> {
    /// A placeholder.
    fn __retry_shown(&self) -> OutcomeText<'a>;
}

impl<'a, T> ViaPlaceholder<'a> for DisplayOr<'a, T> {
    fn __retry_shown(&self) -> OutcomeText<'a> {
        OutcomeText::Unprintable
    }
}

/// Rejects an invalid `const` policy at compile time (`policy = SOME_CONST`).
pub const fn check_policy(policy: &Policy) {
    if let Err(err) = policy.validate() {
        panic!("{}", err.message());
    }
}
