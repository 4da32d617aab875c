//! `Classify` for reqwest (feature `reqwest`).

use crate::http::{decision, is_retryable_status};
use crate::{Classify, Decision};

/// Connection failures, timeouts and failures while sending the request or reading the body
/// retry; a status error (from `error_for_status`) retries when its status is retryable
/// (408, 429, 500, 502, 503, 504); builder, redirect and decode errors stop.
///
/// `error_for_status` drops the headers, so a `Retry-After` hint is only seen when classifying
/// the [`reqwest::Response`] itself.
///
// A docs.rs address rather than a path: `cargo doc --no-deps` cannot link to reqwest's pages.
/// [`reqwest::Response`]: https://docs.rs/reqwest/0.13/reqwest/struct.Response.html
impl Classify for reqwest::Error {
    fn classify(&self) -> Decision {
        if let Some(status) = self.status() {
            return if is_retryable_status(status) {
                Decision::Retry
            } else {
                Decision::Stop
            };
        }
        if self.is_builder() || self.is_redirect() || self.is_decode() {
            return Decision::Stop;
        }
        if self.is_timeout() || self.is_connect() || self.is_request() || self.is_body() {
            return Decision::Retry;
        }
        Decision::Stop
    }
}

/// By status and `Retry-After`, as [`crate::http::decision`].
impl Classify for reqwest::Response {
    fn classify(&self) -> Decision {
        decision(self.status(), self.headers())
    }
}
