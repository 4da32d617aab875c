//! How the layer judges an attempt's outcome: a response by [`Responses`], an error by its
//! [`Classify`], then HTTP's rule for requests that must not be repeated.

use core::fmt;

use super::BoxError;
use crate::engine::{Judged, Verdict};
use crate::runtime::{guard_time, Clock};
use crate::{Classify, RateLimits};

/// How the layer judges a response. [`Final`]: every response is the call's answer (the
/// default); [`ResponsesClassified`] ([`RetryLayer::classify_ok`](super::RetryLayer::classify_ok)):
/// by the response's [`Classify`].
pub trait Responses<Res> {
    /// The judgment of one response.
    fn judge(&self, response: &Res) -> Judged;
    /// Whether the response says the request was not acted on
    /// ([`Classify::unprocessed`]).
    fn unprocessed(&self, response: &Res) -> bool;
    /// What the events show of a response judged a failure.
    fn describe(&self, response: &Res, f: &mut fmt::Formatter<'_>) -> fmt::Result;
    /// Hears of every response (the rate-limit headers), at `clock`'s time (read only by a
    /// judge that needs it).
    #[inline(always)]
    fn seen<C: Clock>(&self, response: &Res, clock: &C) {
        let _ = (response, clock);
    }
}

/// Every response is the call's answer; only errors are retried.
#[derive(Clone, Copy, Debug, Default)]
pub struct Final;

impl<Res> Responses<Res> for Final {
    #[inline(always)]
    fn judge(&self, _: &Res) -> Judged {
        Judged::new(Verdict::Accept, false, true)
    }
    #[inline(always)]
    fn unprocessed(&self, _: &Res) -> bool {
        false
    }
    fn describe(&self, _: &Res, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a response")
    }
}

/// Responses judged by their own [`Classify`]: a 503 is retried, a 404 is final.
#[derive(Clone, Copy, Debug, Default)]
pub struct ResponsesClassified;

impl<Res: Classify> Responses<Res> for ResponsesClassified {
    #[inline]
    fn judge(&self, response: &Res) -> Judged {
        Judged::value(true, response.classify()).overloaded(response.overloaded())
    }
    fn unprocessed(&self, response: &Res) -> bool {
        response.unprocessed()
    }
    fn describe(&self, response: &Res, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        response.describe(f)
    }
}

/// A response judge that also reads every HTTP response's rate-limit headers into
/// [`RateLimits`] ([`RetryLayer::with_rate_limits`](super::RetryLayer::with_rate_limits)).
#[derive(Clone, Copy, Debug)]
pub struct RateLimited<K> {
    pub(super) responses: K,
    pub(super) limits: &'static RateLimits,
}

impl<B, K: Responses<http::Response<B>>> Responses<http::Response<B>> for RateLimited<K> {
    #[inline]
    fn judge(&self, response: &http::Response<B>) -> Judged {
        self.responses.judge(response)
    }
    fn unprocessed(&self, response: &http::Response<B>) -> bool {
        self.responses.unprocessed(response)
    }
    fn describe(&self, response: &http::Response<B>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.responses.describe(response, f)
    }
    fn seen<C: Clock>(&self, response: &http::Response<B>, clock: &C) {
        let now = guard_time(clock);
        self.limits
            .update(response.headers(), now, std::time::SystemTime::now());
    }
}

/// The judgment of an attempt's outcome, under the rule for requests that must not be
/// repeated unsafely ([`Judged::resend`]).
#[inline]
pub(super) fn judge<Res, K: Responses<Res>>(
    responses: &K,
    outcome: &Result<Res, BoxError>,
    replayable: bool,
    resend_safe: bool,
) -> Judged {
    let (judged, unprocessed) = match outcome {
        Ok(response) => (responses.judge(response), responses.unprocessed(response)),
        Err(error) => {
            let error: &(dyn std::error::Error + Send + Sync + 'static) = &**error;
            let judged = Judged::error(Verdict::of_error(error.classify()));
            (judged.overloaded(error.overloaded()), error.unprocessed())
        }
    };
    judged.resend(replayable, resend_safe, unprocessed)
}

/// What the events show of an outcome: the response's description, or the error.
pub(super) struct OutcomeText<'a, K, Res>(pub(super) &'a K, pub(super) &'a Result<Res, BoxError>);

impl<K: Responses<Res>, Res> fmt::Display for OutcomeText<'_, K, Res> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            Ok(response) => self.0.describe(response, f),
            Err(error) => fmt::Display::fmt(error, f),
        }
    }
}
