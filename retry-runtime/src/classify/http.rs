//! HTTP classification (feature `http`): retryable status codes and the `Retry-After` header.

use core::time::Duration;
use std::time::SystemTime;

use http::header::RETRY_AFTER;
use http::{HeaderMap, Response, StatusCode};

use crate::{Classify, Decision};

/// Whether a status code is worth retrying, by this table (the rules every front door uses,
/// for `StatusCode`, `http::Response`, `reqwest::Response`, `reqwest::Error` and
/// [`HttpError`](crate::reqwest::HttpError)):
///
/// | status | retried | why |
/// |---|---|---|
/// | 408 Request Timeout | yes | the server gave up waiting for the request; a new one may get through |
/// | 409 Conflict | yes | LLM and cloud APIs send it for a lock or concurrent-update timeout, and their own SDKs retry it; a true conflict answers 409 again and the attempts run out |
/// | 425 Too Early | yes | the server refused early data and asks for the request again (RFC 8470) |
/// | 429 Too Many Requests | yes | rate limited: retried after `Retry-After` when sent |
/// | 500 Internal Server Error | yes | often a transient fault of one instance |
/// | 502 Bad Gateway, 503 Service Unavailable, 504 Gateway Timeout | yes | a proxy or the service is briefly unavailable |
/// | 520–524 (proxy: unknown error, web server down, connection timed out, origin unreachable, timeout) | yes | the path to the origin failed, not the request |
/// | 529 Overloaded | yes | the service is overloaded (`overloaded_error`, sent by LLM APIs) |
/// | 501, 505, 506–511, 525, 526, 530 and other 5xx | no | the server cannot serve this request (not implemented, version, TLS or configuration errors): asking again gives the same answer |
/// | 1xx, 2xx, 3xx | no | not failures |
/// | other 4xx (400, 401, 403, 404, 405, 410, 413, 422, …) | no | the request itself is wrong |
///
/// A response may override the table: see [`decision`] (`x-should-retry`).
///
/// ```
/// use http::StatusCode;
/// use retry_runtime::http::is_retryable_status;
///
/// assert!(is_retryable_status(StatusCode::SERVICE_UNAVAILABLE));
/// assert!(is_retryable_status(StatusCode::from_u16(529).unwrap()));
/// assert!(!is_retryable_status(StatusCode::BAD_REQUEST));
/// assert!(!is_retryable_status(StatusCode::NOT_IMPLEMENTED));
/// ```
pub fn is_retryable_status(status: StatusCode) -> bool {
    matches!(
        status.as_u16(),
        408 | 409 | 425 | 429 | 500 | 502 | 503 | 504 | 520..=524 | 529
    )
}

/// The wait a response asks for, in milliseconds or seconds: `retry-after-ms` (a number of
/// milliseconds, sent by OpenAI's API; it takes precedence), else `Retry-After` (delta-seconds or
/// an HTTP date, see [`retry_after`]). `None` when neither is present and well-formed.
///
/// ```
/// use http::HeaderMap;
/// use retry_runtime::http::hint;
/// use std::time::Duration;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("retry-after", "2".parse().unwrap());
/// assert_eq!(hint(&headers), Some(Duration::from_secs(2)));
/// headers.insert("retry-after-ms", "1500".parse().unwrap());
/// assert_eq!(hint(&headers), Some(Duration::from_millis(1500)));
/// ```
pub fn hint(headers: &HeaderMap) -> Option<Duration> {
    retry_after_ms(headers).or_else(|| retry_after(headers))
}

/// `retry-after-ms`: a non-negative number of milliseconds (a fraction allowed, as OpenAI's SDKs
/// read it). `None` when absent or malformed. A wait too long for a `Duration`
/// (`99999999999999999999999999`, `1e30`) is [`Duration::MAX`]: a very long hint, which the
/// policy's `max_hint` turns into the end of the call, not an absent one.
///
/// ```
/// use http::HeaderMap;
/// use retry_runtime::http::retry_after_ms;
/// use std::time::Duration;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("retry-after-ms", "250.5".parse().unwrap());
/// assert_eq!(retry_after_ms(&headers), Some(Duration::from_micros(250_500)));
/// headers.insert("retry-after-ms", "1e30".parse().unwrap());
/// assert_eq!(retry_after_ms(&headers), Some(Duration::MAX));
/// headers.insert("retry-after-ms", "-3".parse().unwrap());
/// assert_eq!(retry_after_ms(&headers), None);
/// ```
pub fn retry_after_ms(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get("retry-after-ms")?.to_str().ok()?.trim();
    let ms: f64 = value.parse().ok()?;
    if ms.is_nan() || ms < 0.0 {
        return None;
    }
    Some(Duration::try_from_secs_f64(ms / 1000.0).unwrap_or(Duration::MAX))
}

/// `x-should-retry: true|false`: the server's own verdict, which overrides the status table
/// (LLM APIs send it; their SDKs honour it). `None` when absent or neither word.
///
/// ```
/// use http::HeaderMap;
/// use retry_runtime::http::should_retry;
///
/// let mut headers = HeaderMap::new();
/// assert_eq!(should_retry(&headers), None);
/// headers.insert("x-should-retry", "false".parse().unwrap());
/// assert_eq!(should_retry(&headers), Some(false));
/// ```
pub fn should_retry(headers: &HeaderMap) -> Option<bool> {
    match headers.get("x-should-retry")?.to_str().ok()?.trim() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// The pause a `Retry-After` header asks for, in either of its forms: delta-seconds (`120`)
/// or an HTTP date (`Wed, 21 Oct 2026 07:28:00 GMT`, measured from now; a date in the past
/// gives zero). `None` when the header is absent or malformed.
///
/// ```
/// use http::{header::RETRY_AFTER, HeaderMap};
/// use retry_runtime::http::retry_after;
/// use std::time::{Duration, SystemTime};
///
/// let mut headers = HeaderMap::new();
/// headers.insert(RETRY_AFTER, "120".parse().unwrap());
/// assert_eq!(retry_after(&headers), Some(Duration::from_secs(120)));
///
/// let soon = SystemTime::now() + Duration::from_secs(30);
/// headers.insert(RETRY_AFTER, httpdate::fmt_http_date(soon).parse().unwrap());
/// let wait = retry_after(&headers).unwrap();
/// assert!(wait > Duration::from_secs(28) && wait <= Duration::from_secs(30));
/// ```
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    parse_retry_after(value, SystemTime::now())
}

/// [`retry_after`] on the header's text, with "now" given (for tests and replays).
///
/// ```
/// use retry_runtime::http::parse_retry_after;
/// use std::time::{Duration, UNIX_EPOCH};
///
/// let now = UNIX_EPOCH + Duration::from_secs(1_445_412_480); // Wed, 21 Oct 2015 07:28:00 GMT
/// assert_eq!(
///     parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now),
///     Some(Duration::from_secs(10)),
/// );
/// assert_eq!(parse_retry_after("5", now), Some(Duration::from_secs(5)));
/// assert_eq!(parse_retry_after("-5", now), None);
/// assert_eq!(parse_retry_after("soon", now), None);
/// ```
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Absurdly long digit strings saturate instead of failing.
        return Some(Duration::from_secs(
            value.parse::<u64>().unwrap_or(u64::MAX),
        ));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The decision for a response: `x-should-retry` when the server sent it, else the status
/// table ([`is_retryable_status`]); a retry waits for the server's [`hint`] when it gave one
/// (`retry-after-ms`, else `Retry-After`). The policy bounds every hint by its `max_hint`: a
/// longer one ends the call at once.
///
/// ```
/// use http::{HeaderMap, StatusCode};
/// use retry_runtime::{http::decision, Decision};
/// use std::time::Duration;
///
/// let none = HeaderMap::new();
/// assert_eq!(decision(StatusCode::BAD_GATEWAY, &none), Decision::Retry);
/// assert_eq!(decision(StatusCode::NOT_FOUND, &none), Decision::Stop);
///
/// let mut headers = HeaderMap::new();
/// headers.insert("x-should-retry", "true".parse().unwrap());
/// headers.insert("retry-after-ms", "800".parse().unwrap());
/// assert_eq!(decision(StatusCode::BAD_REQUEST, &headers), Decision::RetryAfter(Duration::from_millis(800)));
/// ```
pub fn decision(status: StatusCode, headers: &HeaderMap) -> Decision {
    let retry = should_retry(headers).unwrap_or_else(|| is_retryable_status(status));
    if !retry || status.is_success() {
        return Decision::Stop;
    }
    match hint(headers) {
        Some(wait) => Decision::RetryAfter(wait),
        None => Decision::Retry,
    }
}

/// By [`is_retryable_status`] (a bare status has no headers to override it).
///
/// ```
/// use retry_runtime::{Classify, Decision};
/// assert_eq!(http::StatusCode::TOO_MANY_REQUESTS.classify(), Decision::Retry);
/// assert_eq!(http::StatusCode::FORBIDDEN.classify(), Decision::Stop);
/// ```
impl Classify for StatusCode {
    fn classify(&self) -> Decision {
        if is_retryable_status(*self) {
            Decision::Retry
        } else {
            Decision::Stop
        }
    }
    fn describe(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(self, f)
    }
    fn overloaded(&self) -> bool {
        is_overload_status(*self)
    }
    /// 429, 503, 529: the server says it did not process the request.
    fn unprocessed(&self) -> bool {
        is_overload_status(*self)
    }
}

/// By [`decision`]: the status, and `Retry-After` when present. With the feature `tonic`, a
/// gRPC answer (a response with a `grpc-status` header: gRPC's "trailers-only" answer, which
/// is how a server answers a call with an error) is judged by its status instead, by the
/// table of `Classify for tonic::Status`, pushback included. (A status sent in trailers, after
/// a streamed body, comes too late for a retry: the response is final.)
///
/// ```
/// use retry_runtime::{Classify, Decision};
/// use std::time::Duration;
///
/// let response = http::Response::builder()
///     .status(503)
///     .header("retry-after", "3")
///     .body(())
///     .unwrap();
/// assert_eq!(response.classify(), Decision::RetryAfter(Duration::from_secs(3)));
/// assert!(response.unprocessed());
/// ```
impl<B> Classify for Response<B> {
    fn classify(&self) -> Decision {
        #[cfg(feature = "tonic")]
        if let Some(status) = grpc_status(self.headers()) {
            return status.classify();
        }
        decision(self.status(), self.headers())
    }
    fn describe(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        #[cfg(feature = "tonic")]
        if let Some(status) = grpc_status(self.headers()) {
            return write!(f, "{}: {}", self.status(), status);
        }
        core::fmt::Display::fmt(&self.status(), f)
    }
    fn overloaded(&self) -> bool {
        #[cfg(feature = "tonic")]
        if let Some(status) = grpc_status(self.headers()) {
            return status.overloaded();
        }
        is_overload_status(self.status())
    }
    /// 429, 503, 529 or `x-should-retry: true` (gRPC: `UNAVAILABLE`, `RESOURCE_EXHAUSTED`).
    fn unprocessed(&self) -> bool {
        #[cfg(feature = "tonic")]
        if let Some(status) = grpc_status(self.headers()) {
            return status.unprocessed();
        }
        is_overload_status(self.status()) || should_retry(self.headers()) == Some(true)
    }
}

/// The gRPC status a response's headers carry, if any (`None` for `OK`: a success).
#[cfg(feature = "tonic")]
fn grpc_status(headers: &HeaderMap) -> Option<tonic::Status> {
    tonic::Status::from_header_map(headers).filter(|status| status.code() != tonic::Code::Ok)
}

/// Whether a status says that the server refused the request for lack of capacity: 429 (too
/// many requests), 503 (unavailable) or 529 (overloaded). The client-side
/// [`AdaptiveThrottle`](crate::AdaptiveThrottle) does not count these as accepts; every other
/// status, a 404 or a 500 included, is the server answering.
///
/// ```
/// use http::StatusCode;
/// use retry_runtime::http::is_overload_status;
///
/// assert!(is_overload_status(StatusCode::TOO_MANY_REQUESTS));
/// assert!(is_overload_status(StatusCode::from_u16(529).unwrap()));
/// assert!(!is_overload_status(StatusCode::NOT_FOUND));
/// assert!(!is_overload_status(StatusCode::INTERNAL_SERVER_ERROR));
/// ```
pub fn is_overload_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 503 | 529)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented table, written out independently of `is_retryable_status`.
    fn documented(code: u16) -> bool {
        [
            408, 409, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524, 529,
        ]
        .contains(&code)
    }

    #[test]
    fn every_status_code_classifies_as_documented() {
        let none = HeaderMap::new();
        let mut yes = HeaderMap::new();
        yes.insert("x-should-retry", "true".parse().unwrap());
        let mut no = HeaderMap::new();
        no.insert("x-should-retry", "false".parse().unwrap());
        let mut hinted = HeaderMap::new();
        hinted.insert("retry-after-ms", "1500".parse().unwrap());
        hinted.insert(RETRY_AFTER, "7".parse().unwrap());
        for code in 100..=599u16 {
            let status = StatusCode::from_u16(code).unwrap();
            let expected = documented(code);
            assert_eq!(status.classify().is_retry(), expected, "{code}");
            assert_eq!(decision(status, &none).is_retry(), expected, "{code}");
            // The server's word overrides the table, except that a success is never retried.
            let success = (200..300).contains(&code);
            assert_eq!(
                decision(status, &yes).is_retry(),
                !success,
                "{code} with x-should-retry: true"
            );
            assert_eq!(
                decision(status, &no),
                Decision::Stop,
                "{code} with x-should-retry: false"
            );
            // retry-after-ms takes precedence over Retry-After.
            let expected_hinted = if expected {
                Decision::RetryAfter(Duration::from_millis(1500))
            } else {
                Decision::Stop
            };
            assert_eq!(decision(status, &hinted), expected_hinted, "{code}");
            let response = Response::builder().status(code).body(()).unwrap();
            assert_eq!(response.classify().is_retry(), expected, "{code}");
        }
    }

    #[test]
    fn retry_after_in_the_past_is_zero() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        let past = httpdate::fmt_http_date(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
    }

    #[test]
    fn malformed_retry_after_is_ignored() {
        let now = SystemTime::now();
        for bad in [
            "",
            " ",
            "1.5",
            "0x10",
            "tomorrow",
            "Wed, 99 Oct 2015 07:28:00 GMT",
        ] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn retryable_status_without_header_retries_with_the_policy_delay() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            decision(StatusCode::TOO_MANY_REQUESTS, &headers),
            Decision::Retry
        );
        headers.insert(RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(
            decision(StatusCode::TOO_MANY_REQUESTS, &headers),
            Decision::RetryAfter(Duration::from_secs(7))
        );
        // A hint on a permanent error does not make it retryable.
        assert_eq!(decision(StatusCode::BAD_REQUEST, &headers), Decision::Stop);
    }
}
