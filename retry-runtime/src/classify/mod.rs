//! Error classification: which errors are worth another attempt.

#[cfg(feature = "tonic")]
mod grpc;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "http")]
pub(crate) mod rate_limits;
#[cfg(feature = "reqwest")]
pub mod reqwest;

use core::time::Duration;
#[cfg(feature = "std")]
use std::io;

/// What to do after a failed attempt, as answered by [`Classify::classify`].
///
/// ```
/// use retry_runtime::Decision;
/// use std::time::Duration;
///
/// let d = Decision::RetryAfter(Duration::from_secs(2));
/// assert!(d.is_retry());
/// assert!(!Decision::Stop.is_retry());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    /// The error is transient: retry after the policy's delay.
    Retry,
    /// The error is transient and the other side asked for a pause (e.g. HTTP `Retry-After`):
    /// retry after the larger of the policy's delay and this hint. The retry still counts as
    /// an attempt and still respects the deadline.
    RetryAfter(Duration),
    /// The error is permanent: return it now.
    Stop,
}

impl Decision {
    /// Whether the decision is to try again.
    ///
    /// ```
    /// assert!(retry_runtime::Decision::Retry.is_retry());
    /// ```
    pub const fn is_retry(self) -> bool {
        !matches!(self, Decision::Stop)
    }
}

/// Errors that know whether they are transient. `#[retry(classify)]` asks this trait.
///
/// # Implementations
///
/// | feature | type | decision |
/// |---|---|---|
/// | | [`std::io::Error`] | by [`ErrorKind`](std::io::ErrorKind): connection refused, reset or aborted, not connected, timed out, interrupted, would block, unexpected end of file and broken pipe retry; every other kind stops |
/// | | [`TimedOut`] | retry |
/// | | [`BreakerOpen`](crate::BreakerOpen) | stop |
/// | | [`Throttled`](crate::Throttled) | stop |
/// | | `&T`, [`Box<T>`] | as `T` |
/// | `http` | [`http::StatusCode`] | by the status table: 408, 409, 425, 429, 500, 502, 503, 504, 520–524 and 529 retry; every other status stops |
/// | `http` | [`http::Response<B>`] | `x-should-retry` when sent, else the status table; a retry waits at least as long as `retry-after-ms` or `Retry-After` asks |
/// | `reqwest` | [`reqwest::Error`] | connection failures, timeouts, request and body errors retry; a status error by the status table; builder, redirect and decode errors stop |
/// | `reqwest` | [`reqwest::Response`] | as an `http::Response` |
/// | `reqwest` | `retry_runtime::reqwest::HttpError` | an answer as an `http::Response`, a transport failure as a `reqwest::Error`, a timeout retries |
/// | `reqwest-middleware` | `reqwest_middleware::Error` | a reqwest error as such, a per-attempt timeout retries, any other middleware's error stops |
///
/// `reqwest` implies `http`; `reqwest-middleware` implies `reqwest`.
///
/// [`overloaded`](Classify::overloaded) (the answers the client-side throttle does not count as
/// accepts) is `true` for a 429, 503 or 529 (as a status, a response, a reqwest status error, an
/// `HttpError`) and a gRPC `RESOURCE_EXHAUSTED`, `false` for every other outcome.
#[cfg_attr(
    feature = "http",
    doc = "The HTTP rules are in the [`http`](crate::http) module: \
           [`is_retryable_status`](crate::http::is_retryable_status), \
           [`hint`](crate::http::hint) and [`decision`](crate::http::decision)."
)]
///
/// Any other error type derives it (feature `macros`, on by default): each variant says
/// `#[classify(retry)]`, `#[classify(stop)]` or `#[classify(transparent)]` (ask its single
/// field's own `Classify`), and `#[classify(default = retry)]` or `#[classify(default = stop)]`
/// on the enum covers the variants that say nothing. A variant with no decision and no default
/// is a compile error that names it. It works beside `thiserror::Error` on the same enum, and on
/// structs (one decision for all their values, or `transparent`).
///
#[cfg_attr(feature = "macros", doc = "```")]
#[cfg_attr(not(feature = "macros"), doc = "```ignore")]
/// use retry_runtime::{Classify, Decision};
///
/// #[derive(Debug, Classify)]
/// #[classify(default = stop)]
/// enum ApiError {
///     #[classify(retry)]
///     Busy,
///     #[classify(transparent)]
///     Io(std::io::Error),
///     NotFound(String),
/// }
///
/// assert_eq!(ApiError::Busy.classify(), Decision::Retry);
/// let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
/// assert_eq!(ApiError::Io(reset).classify(), Decision::Retry);
/// assert_eq!(ApiError::NotFound("user 7".into()).classify(), Decision::Stop);
/// ```
///
/// The same by hand, as the derive writes it:
///
/// ```
/// use retry_runtime::{Classify, Decision};
///
/// enum ApiError { Busy, Io(std::io::Error), NotFound(String) }
///
/// impl Classify for ApiError {
///     fn classify(&self) -> Decision {
///         match self {
///             ApiError::Busy => Decision::Retry,
///             ApiError::Io(inner) => inner.classify(),
///             ApiError::NotFound(_) => Decision::Stop,
///         }
///     }
/// }
/// assert_eq!(ApiError::Busy.classify(), Decision::Retry);
/// ```
///
// Links to other crates' types are docs.rs addresses, not paths: `cargo doc --no-deps` (and a
// build without the feature) cannot link to a crate whose documentation it did not generate.
/// [`http::StatusCode`]: https://docs.rs/http/1/http/status/struct.StatusCode.html
/// [`http::Response<B>`]: https://docs.rs/http/1/http/response/struct.Response.html
/// [`reqwest::Error`]: https://docs.rs/reqwest/0.13/reqwest/struct.Error.html
/// [`reqwest::Response`]: https://docs.rs/reqwest/0.13/reqwest/struct.Response.html
#[diagnostic::on_unimplemented(
    message = "`#[retry(classify)]` needs `{Self}` to implement `retry_runtime::Classify`",
    label = "`{Self}` cannot say which of its errors are transient",
    note = "implement `retry_runtime::Classify` for `{Self}`, or filter with `on = PATTERN` or `when = |e| ...` instead of `classify`"
)]
pub trait Classify {
    /// Whether (and when) to retry after this error.
    fn classify(&self) -> Decision;

    /// What the builders' events show of this outcome (they cannot ask for `Display`, since
    /// they take any type). This crate's implementations write the error's `Display`, or a
    /// response's status; the default writes a placeholder. (`#[retry]` and the middleware
    /// know the types and show `Display` themselves.)
    ///
    /// ```
    /// use retry_runtime::Classify;
    /// let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
    /// struct Shown<'a>(&'a std::io::Error);
    /// impl std::fmt::Display for Shown<'_> {
    ///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { self.0.describe(f) }
    /// }
    /// assert_eq!(Shown(&reset).to_string(), reset.to_string());
    /// ```
    fn describe(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("an outcome its `Classify` does not describe")
    }

    /// Whether the service refused this attempt for lack of capacity: the answers that the
    /// client-side [`AdaptiveThrottle`](crate::AdaptiveThrottle) does not count as accepts and
    /// that slow the [`RateLimiter`](crate::RateLimiter) down. This crate's implementations
    /// say `true` for HTTP 429, 503 and 529 and gRPC `RESOURCE_EXHAUSTED`; every other outcome,
    /// a failure such as a 404, a 500 or a reset connection included, was the service
    /// answering (a timeout too: nothing says the service was out of capacity). The default
    /// is `false`.
    ///
    /// ```
    /// use retry_runtime::Classify;
    /// let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
    /// assert!(!reset.overloaded());
    /// ```
    fn overloaded(&self) -> bool {
        false
    }

    /// Whether this failure says the request was not acted on, so that sending it again is
    /// safe even when its method is not idempotent (a `POST`): the connection could not be
    /// made, or the server said so (HTTP 429, 503, 529, `x-should-retry: true`; gRPC
    /// `UNAVAILABLE`, the 503 of gRPC's status mapping, and `RESOURCE_EXHAUSTED`). The
    /// [`tower`](crate::tower) layer and the middleware read it for requests that must not
    /// be repeated. The default is `false`: a timeout or a reset connection may come after
    /// the server acted.
    ///
    /// ```
    /// use retry_runtime::Classify;
    /// use std::io::{Error, ErrorKind};
    /// assert!(Error::from(ErrorKind::ConnectionRefused).unprocessed());
    /// assert!(!Error::from(ErrorKind::ConnectionReset).unprocessed());
    /// ```
    fn unprocessed(&self) -> bool {
        false
    }
}

impl<T: Classify + ?Sized> Classify for &T {
    fn classify(&self) -> Decision {
        (**self).classify()
    }
    fn describe(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        (**self).describe(f)
    }
    fn overloaded(&self) -> bool {
        (**self).overloaded()
    }
    fn unprocessed(&self) -> bool {
        (**self).unprocessed()
    }
}

#[cfg(feature = "std")]
impl<T: Classify + ?Sized> Classify for std::boxed::Box<T> {
    fn classify(&self) -> Decision {
        (**self).classify()
    }
    fn describe(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        (**self).describe(f)
    }
    fn overloaded(&self) -> bool {
        (**self).overloaded()
    }
    fn unprocessed(&self) -> bool {
        (**self).unprocessed()
    }
}

/// Transient I/O errors are retried: connection refused, reset or aborted, not connected, timed
/// out, interrupted, would block, unexpected end of file and broken pipe. Every other kind stops.
///
/// ```
/// use retry_runtime::{Classify, Decision};
/// use std::io::{Error, ErrorKind};
///
/// assert_eq!(Error::from(ErrorKind::ConnectionReset).classify(), Decision::Retry);
/// assert_eq!(Error::from(ErrorKind::NotFound).classify(), Decision::Stop);
/// ```
#[cfg(feature = "std")]
impl Classify for io::Error {
    fn classify(&self) -> Decision {
        use io::ErrorKind::*;
        match self.kind() {
            ConnectionRefused | ConnectionReset | ConnectionAborted | NotConnected | TimedOut
            | Interrupted | WouldBlock | UnexpectedEof | BrokenPipe => Decision::Retry,
            _ => Decision::Stop,
        }
    }
    fn describe(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(self, f)
    }
    /// A refused connection: the request never left.
    fn unprocessed(&self) -> bool {
        self.kind() == io::ErrorKind::ConnectionRefused
    }
}

/// A boxed error (tower's `BoxError`), by the first error in its source chain that this crate
/// knows: [`TimedOut`] retries; [`BreakerOpen`](crate::BreakerOpen) and
/// [`Throttled`](crate::Throttled) stop; an [`io::Error`], a `tonic::Status` (feature
/// `tonic`), a `reqwest::Error` (feature `reqwest`) by their own rules. A chain
/// with none of them stops: an error nothing can say is transient is not repeated.
///
/// ```
/// use retry_runtime::{Classify, Decision, TimedOut};
/// type BoxError = Box<dyn std::error::Error + Send + Sync>;
///
/// let cut_off: BoxError = TimedOut.into();
/// assert_eq!(cut_off.classify(), Decision::Retry);
/// let refused: BoxError = std::io::Error::from(std::io::ErrorKind::ConnectionRefused).into();
/// assert!(refused.unprocessed());
/// let other: BoxError = "bad request".into();
/// assert_eq!(other.classify(), Decision::Stop);
/// ```
#[cfg(feature = "std")]
impl Classify for dyn std::error::Error + Send + Sync + 'static {
    fn classify(&self) -> Decision {
        known_cause(self).map_or(Decision::Stop, |cause| cause.classify())
    }
    fn describe(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(self, f)
    }
    fn overloaded(&self) -> bool {
        known_cause(self).is_some_and(|cause| cause.overloaded())
    }
    fn unprocessed(&self) -> bool {
        known_cause(self).is_some_and(|cause| cause.unprocessed())
    }
}

/// The first error in `error`'s source chain (itself included) that this crate classifies.
#[cfg(feature = "std")]
fn known_cause<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a (dyn Classify + 'a)> {
    let mut next = Some(error);
    while let Some(cause) = next {
        if let Some(known) = classified(cause) {
            return Some(known);
        }
        next = cause.source();
    }
    None
}

/// `cause` as a type this crate classifies, if it is one.
#[cfg(feature = "std")]
fn classified<'a>(cause: &'a (dyn std::error::Error + 'static)) -> Option<&'a (dyn Classify + 'a)> {
    if let Some(cut_off) = cause.downcast_ref::<TimedOut>() {
        return Some(cut_off);
    }
    if let Some(refused) = cause.downcast_ref::<crate::BreakerOpen>() {
        return Some(refused);
    }
    if let Some(throttled) = cause.downcast_ref::<crate::Throttled>() {
        return Some(throttled);
    }
    #[cfg(feature = "tonic")]
    if let Some(status) = cause.downcast_ref::<tonic::Status>() {
        return Some(status);
    }
    #[cfg(feature = "reqwest")]
    if let Some(err) = cause.downcast_ref::<::reqwest::Error>() {
        return Some(err);
    }
    cause
        .downcast_ref::<io::Error>()
        .map(|err| err as &dyn Classify)
}

/// The error an attempt ends with when `#[retry(timeout = "…")]` cuts it off.
///
/// The function's error type must implement `From<TimedOut>`; the cut-off is then retried like
/// any other error.
///
/// ```
/// use retry_runtime::TimedOut;
///
/// #[derive(Debug)]
/// enum FetchError { TimedOut, Other }
///
/// impl From<TimedOut> for FetchError {
///     fn from(_: TimedOut) -> Self { FetchError::TimedOut }
/// }
/// assert_eq!(TimedOut.to_string(), "the attempt timed out");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TimedOut;

impl core::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("the attempt timed out")
    }
}

impl core::error::Error for TimedOut {}

/// A [`TimedOut`] is a [`std::io::Error`] of kind [`TimedOut`](std::io::ErrorKind::TimedOut), so
/// `timeout` works on functions returning `std::io::Result`.
///
/// ```
/// let err = std::io::Error::from(retry_runtime::TimedOut);
/// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
/// ```
#[cfg(feature = "std")]
impl From<TimedOut> for io::Error {
    fn from(err: TimedOut) -> Self {
        io::Error::new(io::ErrorKind::TimedOut, err)
    }
}

impl Classify for TimedOut {
    fn classify(&self) -> Decision {
        Decision::Retry
    }
    fn describe(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(self, f)
    }
}

impl Classify for crate::Throttled {
    /// Stop: the request was not sent, the service is refusing most requests.
    fn classify(&self) -> Decision {
        Decision::Stop
    }
    fn describe(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(self, f)
    }
}

impl Classify for crate::BreakerOpen {
    /// Stop: the service was not called, and the call ends at once rather than waiting out the
    /// break.
    fn classify(&self) -> Decision {
        Decision::Stop
    }
    fn describe(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(self, f)
    }
}
