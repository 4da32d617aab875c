//! reqwest (feature `reqwest`): `Classify` for its errors and responses, and [`HttpError`], the
//! error of an HTTP client that keeps what a retry decision needs.

use core::fmt;

use http::{HeaderMap, StatusCode};

use crate::classify::http::{decision, is_overload_status, is_retryable_status};
use crate::{Classify, Decision};

/// Connection failures, timeouts and failures while sending the request or reading the body
/// retry; a status error (from `error_for_status`) follows the status table
/// ([`is_retryable_status`]); builder and redirect errors stop. reqwest reports a body cut off
/// mid-read (`text()`, `bytes()`, `chunk()`) as a decode error, like bad JSON: a decode error
/// whose source chain holds an I/O or hyper error is the connection lost, and retries; any
/// other (a serde error: the data is bad) stops.
///
/// `error_for_status` drops the headers, so `Retry-After` and `x-should-retry` are not seen
/// through it: use [`ResponseExt::ensure_success`] instead, whose [`HttpError`] keeps them.
impl Classify for reqwest::Error {
    fn classify(&self) -> Decision {
        if let Some(status) = self.status() {
            return if is_retryable_status(status) {
                Decision::Retry
            } else {
                Decision::Stop
            };
        }
        if self.is_decode() {
            return if connection_lost(self) {
                Decision::Retry
            } else {
                Decision::Stop
            };
        }
        if self.is_builder() || self.is_redirect() {
            return Decision::Stop;
        }
        if self.is_timeout() || self.is_connect() || self.is_request() || self.is_body() {
            return Decision::Retry;
        }
        Decision::Stop
    }
    fn describe(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(self, f)
    }
    fn overloaded(&self) -> bool {
        self.status().is_some_and(is_overload_status)
    }
    /// The connection could not be made (the request was never sent), or a status error of
    /// 429, 503 or 529.
    fn unprocessed(&self) -> bool {
        self.is_connect() || self.status().is_some_and(is_overload_status)
    }
}

/// Whether the error's source chain holds a transport failure (an I/O or hyper error) rather
/// than bad data.
fn connection_lost(err: &reqwest::Error) -> bool {
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if cause.is::<std::io::Error>() || cause.is::<hyper::Error>() {
            return true;
        }
        source = cause.source();
    }
    false
}

/// By status and headers, as [`crate::http::decision`]: for `#[retry(classify_ok)]` and
/// `.classify_ok()`, where a response arrives as `Ok` whatever its status.
impl Classify for reqwest::Response {
    fn classify(&self) -> Decision {
        decision(self.status(), self.headers())
    }
    fn describe(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(&self.status(), f)
    }
    fn overloaded(&self) -> bool {
        is_overload_status(self.status())
    }
    /// 429, 503, 529 or `x-should-retry: true`: the server did not process the request.
    fn unprocessed(&self) -> bool {
        is_overload_status(self.status()) || crate::http::should_retry(self.headers()) == Some(true)
    }
}

/// The most of a failed response's body that [`HttpError`] keeps (64 KiB).
pub const BODY_LIMIT: usize = 64 * 1024;

/// The error of an HTTP call made with reqwest: a response that was not a success, with its
/// status, headers and (up to [`BODY_LIMIT`]) body, or a transport failure. It classifies
/// itself by the status table, `x-should-retry` and the hints (`retry-after-ms`,
/// `Retry-After`), so a retried client needs nothing written by hand:
///
// The attribute is there only with the `macros` feature, async retries only with `tokio`.
#[cfg_attr(all(feature = "macros", feature = "tokio"), doc = "```no_run")]
#[cfg_attr(not(all(feature = "macros", feature = "tokio")), doc = "```ignore")]
/// use retry_runtime::{retry, reqwest::{HttpError, ResponseExt}};
///
/// #[retry(attempts = 4, base = "200ms", jitter, classify)]
/// async fn complete(client: &reqwest::Client, body: &str) -> Result<String, HttpError> {
///     let response = client.post("http://127.0.0.1:8080/v1/complete").body(body.to_owned()).send().await?;
///     Ok(response.ensure_success().await?.text().await?)
/// }
/// ```
// The `Status` variant is kept unboxed so that users can match on its fields; an error is made
// once per failed attempt, so its size costs nothing on the success path.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum HttpError {
    /// The server answered with a status that is not a success.
    Status {
        /// The status.
        status: StatusCode,
        /// The response's headers (`Retry-After`, `x-should-retry`, request ids).
        headers: HeaderMap,
        /// The body's text, cut at [`BODY_LIMIT`] (an API's error message).
        body: String,
        /// The URL that answered.
        url: reqwest::Url,
    },
    /// No response: the connection failed or was reset, the request or the body timed out.
    Transport(reqwest::Error),
    /// The attempt was cut off by the retry's per-attempt `timeout`.
    TimedOut,
    /// The circuit breaker refused the attempt (`breaker = ...`, `.breaker(&B)`): the request
    /// was not sent.
    BreakerOpen(crate::BreakerOpen),
    /// The client-side throttle or the pacing refused the attempt (`throttle = ...`,
    /// `.throttle(&T)`): the request was not sent.
    Throttled(crate::Throttled),
}

impl HttpError {
    /// The status, if the server answered.
    ///
    /// ```
    /// # use retry_runtime::reqwest::HttpError;
    /// # fn check(err: &HttpError) { let _ = err.status(); }
    /// ```
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            HttpError::Status { status, .. } => Some(*status),
            HttpError::Transport(err) => err.status(),
            HttpError::TimedOut | HttpError::BreakerOpen(_) | HttpError::Throttled(_) => None,
        }
    }
}

impl fmt::Display for HttpError {
    /// As reqwest's own status errors: `HTTP status server error (503 Service Unavailable) for
    /// url (http://…)`, and the transport error's own text otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Status { status, url, .. } => {
                let kind = if status.is_client_error() {
                    "client error"
                } else if status.is_server_error() {
                    "server error"
                } else {
                    "unexpected status"
                };
                write!(f, "HTTP status {kind} ({status}) for url ({url})")
            }
            HttpError::Transport(err) => fmt::Display::fmt(err, f),
            HttpError::TimedOut => fmt::Display::fmt(&crate::TimedOut, f),
            HttpError::BreakerOpen(open) => fmt::Display::fmt(open, f),
            HttpError::Throttled(throttled) => fmt::Display::fmt(throttled, f),
        }
    }
}

impl std::error::Error for HttpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HttpError::Status { .. } | HttpError::TimedOut => None,
            HttpError::Transport(err) => Some(err),
            HttpError::BreakerOpen(open) => Some(open),
            HttpError::Throttled(throttled) => Some(throttled),
        }
    }
}

impl From<reqwest::Error> for HttpError {
    fn from(err: reqwest::Error) -> Self {
        HttpError::Transport(err)
    }
}

/// A per-attempt timeout (`timeout = …`, `.timeout(d)`) is [`HttpError::TimedOut`], retried.
impl From<crate::TimedOut> for HttpError {
    fn from(_: crate::TimedOut) -> Self {
        HttpError::TimedOut
    }
}

/// A refusal of the circuit breaker (`breaker = ...`, `.breaker(&B)`) is
/// [`HttpError::BreakerOpen`]: the call ends with it at once.
impl From<crate::BreakerOpen> for HttpError {
    fn from(open: crate::BreakerOpen) -> Self {
        HttpError::BreakerOpen(open)
    }
}

/// A refusal of the client-side throttle (`throttle = ...`, `.throttle(&T)`) is
/// [`HttpError::Throttled`]: the call ends with it at once.
impl From<crate::Throttled> for HttpError {
    fn from(throttled: crate::Throttled) -> Self {
        HttpError::Throttled(throttled)
    }
}

/// By the status table, `x-should-retry` and the hints for an answer; as
/// [`reqwest::Error`'s classification](#impl-Classify-for-Error) for a transport failure.
impl Classify for HttpError {
    fn classify(&self) -> Decision {
        match self {
            HttpError::Status {
                status, headers, ..
            } => decision(*status, headers),
            HttpError::Transport(err) => err.classify(),
            HttpError::TimedOut => Decision::Retry,
            // The service was not called: nothing to retry (the engine never asks, since a
            // refusal ends the call).
            HttpError::BreakerOpen(_) | HttpError::Throttled(_) => Decision::Stop,
        }
    }
    fn describe(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(self, f)
    }
    fn overloaded(&self) -> bool {
        self.status().is_some_and(is_overload_status)
    }
}

/// [`ensure_success`](ResponseExt::ensure_success) for `reqwest::Response`.
pub trait ResponseExt: Sized {
    /// The response when its status is a success; else an [`HttpError`] that keeps the status,
    /// the headers and the body (up to [`BODY_LIMIT`]), so that `?` works and the retry
    /// decision still sees `Retry-After` and `x-should-retry`.
    fn ensure_success(
        self,
    ) -> impl core::future::Future<Output = Result<reqwest::Response, HttpError>> + Send;
}

impl ResponseExt for reqwest::Response {
    async fn ensure_success(mut self) -> Result<reqwest::Response, HttpError> {
        let status = self.status();
        if status.is_success() {
            return Ok(self);
        }
        let headers = self.headers().clone();
        let url = self.url().clone();
        let mut body = Vec::new();
        // A broken body still leaves the status to decide on.
        while let Ok(Some(chunk)) = self.chunk().await {
            let room = BODY_LIMIT - body.len();
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if body.len() >= BODY_LIMIT {
                break;
            }
        }
        Err(HttpError::Status {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
            url,
        })
    }
}
