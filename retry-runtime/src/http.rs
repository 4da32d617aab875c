//! HTTP classification (feature `http`): retryable status codes and the `Retry-After` header.

use core::time::Duration;
use std::time::SystemTime;

use http::header::RETRY_AFTER;
use http::{HeaderMap, Response, StatusCode};

use crate::{Classify, Decision};

/// Whether a status code is worth retrying: 408, 429, 500, 502, 503 and 504.
///
/// ```
/// use http::StatusCode;
/// use retry_runtime::http::is_retryable_status;
///
/// assert!(is_retryable_status(StatusCode::SERVICE_UNAVAILABLE));
/// assert!(!is_retryable_status(StatusCode::BAD_REQUEST));
/// ```
pub fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
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

/// The decision for a response: retryable statuses retry, after `Retry-After` when the server
/// sent one; every other status stops.
///
/// ```
/// use http::{HeaderMap, StatusCode};
/// use retry_runtime::{http::decision, Decision};
///
/// assert_eq!(decision(StatusCode::BAD_GATEWAY, &HeaderMap::new()), Decision::Retry);
/// assert_eq!(decision(StatusCode::NOT_FOUND, &HeaderMap::new()), Decision::Stop);
/// ```
pub fn decision(status: StatusCode, headers: &HeaderMap) -> Decision {
    if !is_retryable_status(status) {
        return Decision::Stop;
    }
    match retry_after(headers) {
        Some(wait) => Decision::RetryAfter(wait),
        None => Decision::Retry,
    }
}

/// By [`is_retryable_status`].
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
}

/// By [`decision`]: the status, and `Retry-After` when present.
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
/// ```
impl<B> Classify for Response<B> {
    fn classify(&self) -> Decision {
        decision(self.status(), self.headers())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_code_classifies_as_documented() {
        for code in 100..=599u16 {
            let status = StatusCode::from_u16(code).unwrap();
            let expected = [408, 429, 500, 502, 503, 504].contains(&code);
            assert_eq!(status.classify().is_retry(), expected, "{code}");
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
