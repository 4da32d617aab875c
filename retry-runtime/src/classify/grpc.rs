//! Feature `tonic`: `Classify` for `tonic::Status`, by gRPC's own retry rules (gRFC A6, and
//! Google's AIP-194 guidance on which codes a client may retry).

use core::time::Duration;

use crate::{Classify, Decision};

/// The decision for a gRPC status, by this table:
///
/// | code | decision | why |
/// |---|---|---|
/// | `UNAVAILABLE` | retry | the transient code: the service is briefly down or unreachable (A6, AIP-194) |
/// | `RESOURCE_EXHAUSTED` | retry, after `grpc-retry-pushback-ms` when sent | quota or load; the server says when to come back |
/// | `ABORTED` | retry | a concurrency conflict (a transaction aborted); AIP-194 retries it at the level of the whole operation, which is what a retried call is |
/// | `DEADLINE_EXCEEDED` | stop | the call's own deadline has passed; retrying would outlive it. Cut attempts off with `timeout` instead: a cut-off attempt is retried |
/// | `INTERNAL`, `UNKNOWN`, `DATA_LOSS` | stop | a server bug or corruption: asking again repeats it, or worse |
/// | `CANCELLED` | stop | the caller cancelled |
/// | every other code (`INVALID_ARGUMENT`, `NOT_FOUND`, `PERMISSION_DENIED`, `UNAUTHENTICATED`, `FAILED_PRECONDITION`, `UNIMPLEMENTED`, …) | stop | the request itself is wrong |
///
/// A server's pushback overrides the table as gRFC A6 says: `grpc-retry-pushback-ms` with a
/// non-negative integer is a hint (the policy's `max_hint` bounds it); a negative or malformed
/// value means "do not retry".
///
/// ```
/// use retry_runtime::{Classify, Decision};
/// use std::time::Duration;
///
/// assert_eq!(tonic::Status::unavailable("down").classify(), Decision::Retry);
/// assert_eq!(tonic::Status::invalid_argument("bad").classify(), Decision::Stop);
///
/// let mut status = tonic::Status::resource_exhausted("quota");
/// status.metadata_mut().insert("grpc-retry-pushback-ms", "750".parse().unwrap());
/// assert_eq!(status.classify(), Decision::RetryAfter(Duration::from_millis(750)));
///
/// let mut status = tonic::Status::unavailable("down");
/// status.metadata_mut().insert("grpc-retry-pushback-ms", "-1".parse().unwrap());
/// assert_eq!(status.classify(), Decision::Stop);
/// ```
impl Classify for tonic::Status {
    fn classify(&self) -> Decision {
        use tonic::Code;
        let retryable = matches!(
            self.code(),
            Code::Unavailable | Code::ResourceExhausted | Code::Aborted
        );
        if !retryable {
            return Decision::Stop;
        }
        match pushback(self) {
            Pushback::None => Decision::Retry,
            Pushback::After(wait) => Decision::RetryAfter(wait),
            Pushback::DoNotRetry => Decision::Stop,
        }
    }
    fn describe(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(self, f)
    }
    /// `RESOURCE_EXHAUSTED`: the server is out of quota or capacity.
    fn overloaded(&self) -> bool {
        self.code() == tonic::Code::ResourceExhausted
    }
    /// `UNAVAILABLE` (the 503 of gRPC's mapping of HTTP statuses) and `RESOURCE_EXHAUSTED`
    /// (its 429): the server did not take the call on.
    fn unprocessed(&self) -> bool {
        matches!(
            self.code(),
            tonic::Code::Unavailable | tonic::Code::ResourceExhausted
        )
    }
}

/// What `grpc-retry-pushback-ms` says.
enum Pushback {
    None,
    After(Duration),
    DoNotRetry,
}

fn pushback(status: &tonic::Status) -> Pushback {
    let Some(value) = status.metadata().get("grpc-retry-pushback-ms") else {
        return Pushback::None;
    };
    match value
        .to_str()
        .ok()
        .map(str::trim)
        .and_then(|v| v.parse::<i64>().ok())
    {
        Some(ms) if ms >= 0 => Pushback::After(Duration::from_millis(ms.unsigned_abs())),
        _ => Pushback::DoNotRetry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_follows_the_table() {
        use tonic::Code;
        for code in 0..=16 {
            let code = Code::from(code);
            let expected = matches!(
                code,
                Code::Unavailable | Code::ResourceExhausted | Code::Aborted
            );
            let status = tonic::Status::new(code, "x");
            assert_eq!(status.classify().is_retry(), expected, "{code:?}");
        }
    }

    #[test]
    fn pushback_is_a_hint_or_a_refusal() {
        for (value, expected) in [
            ("0", Decision::RetryAfter(Duration::ZERO)),
            ("1500", Decision::RetryAfter(Duration::from_millis(1500))),
            ("-5", Decision::Stop),
            ("soon", Decision::Stop),
            ("1.5", Decision::Stop),
        ] {
            let mut status = tonic::Status::unavailable("x");
            status
                .metadata_mut()
                .insert("grpc-retry-pushback-ms", value.parse().unwrap());
            assert_eq!(status.classify(), expected, "{value}");
        }
        // A pushback does not make a permanent code retryable.
        let mut status = tonic::Status::not_found("x");
        status
            .metadata_mut()
            .insert("grpc-retry-pushback-ms", "10".parse().unwrap());
        assert_eq!(status.classify(), Decision::Stop);
    }
}
