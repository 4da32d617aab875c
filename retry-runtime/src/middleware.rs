//! Feature `reqwest-middleware`: this crate's retries as a layer of a `reqwest_middleware` client.

use core::time::Duration;

use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};

use crate::__private::TokioClock;
use crate::builder::counters;
use crate::engine::{Everything, Step};
use crate::{
    CircuitBreaker, Classify, Decision, GiveUp, IdempotencyKey, Policy, RetryBudget, TimedOut,
};

/// The name in events and metrics.
const NAME: &str = "reqwest-middleware";

/// Retries the requests of a [`reqwest_middleware`] client by a [`Policy`], on the same engine as
/// `#[retry]`: the HTTP rules of [`crate::http`] (the status table, `x-should-retry`,
/// `retry-after-ms` and `Retry-After`, every hint bounded by the policy's `max_hint`), the
/// attempts, the deadline, jitter, an optional [`RetryBudget`] and per-attempt timeout, and the
/// same `tracing` events. Only requests whose body can be cloned are retried (a streaming body
/// is sent once). With [`with_idempotency_key`](RetryMiddleware::with_idempotency_key), a
/// request whose method is not idempotent (`POST`, `PATCH`) carries an `Idempotency-Key`
/// header, the same on every attempt.
///
/// ```no_run
/// use retry_runtime::{middleware::RetryMiddleware, Policy};
/// use std::time::Duration;
///
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(RetryMiddleware::new(Policy::new().with_attempts(4)).with_idempotency_key())
///     .build();
/// ```
///
/// # Default
///
/// No budget, no per-attempt timeout, no `Idempotency-Key` header.
#[derive(Clone, Copy, Debug)]
pub struct RetryMiddleware {
    policy: Policy,
    budget: Option<&'static RetryBudget>,
    breaker: Option<&'static CircuitBreaker>,
    timeout: Option<Duration>,
    idempotency_key: bool,
}

impl RetryMiddleware {
    /// Retries by `policy`.
    ///
    /// ```
    /// let layer = retry_runtime::middleware::RetryMiddleware::new(retry_runtime::Policy::new());
    /// # let _ = layer;
    /// ```
    pub const fn new(policy: Policy) -> Self {
        RetryMiddleware {
            policy,
            budget: None,
            breaker: None,
            timeout: None,
            idempotency_key: false,
        }
    }

    /// Draws a token from `budget` for each retry and refills it on success.
    ///
    /// ```
    /// use retry_runtime::{middleware::RetryMiddleware, Policy, RetryBudget};
    /// static BUDGET: RetryBudget = RetryBudget::new(10, 0.1);
    /// let layer = RetryMiddleware::new(Policy::new()).with_budget(&BUDGET);
    /// # let _ = layer;
    /// ```
    pub const fn with_budget(mut self, budget: &'static RetryBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Asks `breaker` before every attempt: while it is open the request is not sent, and the
    /// call fails at once with a middleware error holding [`BreakerOpen`](crate::BreakerOpen). A transient failure
    /// (a 503, a connection reset, a timeout) counts against the service; any other answer,
    /// a 404 included, for it.
    ///
    /// ```
    /// use retry_runtime::{middleware::RetryMiddleware, CircuitBreaker, Policy};
    ///
    /// static BREAKER: CircuitBreaker = CircuitBreaker::new();
    /// let layer = RetryMiddleware::new(Policy::new()).with_breaker(&BREAKER);
    /// # let _ = layer;
    /// ```
    ///
    /// When a failure has just opened the breaker, that failure's outcome is returned at once
    /// instead of sleeping before a retry that would be refused.
    pub const fn with_breaker(mut self, breaker: &'static CircuitBreaker) -> Self {
        self.breaker = Some(breaker);
        self
    }

    /// Cuts each attempt off after `timeout` (or at the policy's deadline); the cut-off is
    /// retried.
    ///
    /// ```
    /// use retry_runtime::{middleware::RetryMiddleware, Policy};
    /// let layer = RetryMiddleware::new(Policy::new()).with_timeout(std::time::Duration::from_secs(30));
    /// # let _ = layer;
    /// ```
    pub const fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Adds an `Idempotency-Key` header (a random key per call, the same on every attempt) to
    /// requests whose method is not idempotent, unless they carry one already.
    ///
    /// ```
    /// use retry_runtime::{middleware::RetryMiddleware, Policy};
    /// let layer = RetryMiddleware::new(Policy::new()).with_idempotency_key();
    /// # let _ = layer;
    /// ```
    pub const fn with_idempotency_key(mut self) -> Self {
        self.idempotency_key = true;
        self
    }

    async fn attempt(
        &self,
        request: Request,
        extensions: &mut http::Extensions,
        next: Next<'_>,
        step: &Step<Everything<TokioClock>>,
    ) -> reqwest_middleware::Result<Response> {
        let sent = next.run(request, extensions);
        match self.timeout {
            None => sent.await,
            Some(timeout) => {
                let allowed = step.attempt_timeout(&self.policy, timeout);
                tokio::time::timeout(allowed, sent)
                    .await
                    .unwrap_or_else(|_| Err(reqwest_middleware::Error::middleware(TimedOut)))
            }
        }
    }
}

#[async_trait::async_trait]
impl Middleware for RetryMiddleware {
    async fn handle(
        &self,
        mut request: Request,
        extensions: &mut http::Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let header = HeaderName::from_static("idempotency-key");
        if self.idempotency_key
            && !request.method().is_idempotent()
            && !request.headers().contains_key(&header)
        {
            let key = IdempotencyKey::random().to_string();
            if let Ok(value) = HeaderValue::from_str(&key) {
                request.headers_mut().insert(header, value);
            }
        }
        let mut step = Step::<Everything<TokioClock>>::begin(&self.policy, false);
        loop {
            // The copy for a next attempt; a body that cannot be cloned (a stream) is sent once.
            let again = request.try_clone();
            let permit = match self.breaker.map(CircuitBreaker::try_acquire).transpose() {
                Ok(permit) => permit,
                Err(open) => {
                    counters::gave_up(NAME, step.attempt(), GiveUp::BreakerOpen);
                    return Err(reqwest_middleware::Error::middleware(open));
                }
            };
            let outcome = self.attempt(request, extensions, next.clone(), &step).await;
            let decision = match &outcome {
                Ok(response) => response.classify(),
                Err(err) => err.classify(),
            };
            if let Some(permit) = permit {
                if decision.is_retry() {
                    permit.failure()
                } else {
                    permit.success()
                }
            }
            let verdict = match decision {
                Decision::Stop => {
                    let success = outcome
                        .as_ref()
                        .is_ok_and(|response| response.status().is_success());
                    if let (true, Some(budget)) = (success, self.budget) {
                        budget.deposit();
                    }
                    if success {
                        counters::done(NAME, step.attempt(), true);
                    } else {
                        counters::gave_up(NAME, step.attempt(), GiveUp::Permanent);
                    }
                    return outcome;
                }
                Decision::Retry => Ok(None),
                Decision::RetryAfter(hint) => Ok(Some(hint)),
            };
            if step.has_attempts_left(&self.policy)
                && self.breaker.is_some_and(|breaker| !breaker.admits())
            {
                // The breaker has just opened: the next attempt would be refused, so this
                // answer is the call's.
                crate::engine::trace_give_up(
                    NAME,
                    step.attempt(),
                    GiveUp::BreakerOpen,
                    &Shown(&outcome),
                );
                counters::gave_up(NAME, step.attempt(), GiveUp::BreakerOpen);
                return outcome;
            }
            let Some(again) = again else {
                // A body that cannot be sent twice: the first answer is the call's.
                counters::gave_up(NAME, step.attempt(), GiveUp::OutOfAttempts);
                return outcome;
            };
            let shown = Shown(&outcome);
            let delay = match step.failed(&self.policy, verdict, self.budget, NAME, &shown) {
                Ok(info) => {
                    counters::retried(NAME);
                    info.delay()
                }
                Err(reason) => {
                    counters::gave_up(NAME, step.attempt(), reason);
                    return outcome;
                }
            };
            drop(outcome);
            if !delay.is_zero() {
                crate::engine::sleep(delay).await;
            }
            request = again;
        }
    }
}

/// What the events show of an outcome: the status, or the error.
struct Shown<'a>(&'a reqwest_middleware::Result<Response>);

impl core::fmt::Debug for Shown<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Ok(response) => write!(f, "{}", response.status()),
            Err(err) => write!(f, "{err}"),
        }
    }
}

/// A reqwest error by its own classification; a per-attempt timeout retries; any other
/// middleware's error stops.
impl Classify for reqwest_middleware::Error {
    fn classify(&self) -> Decision {
        match self {
            reqwest_middleware::Error::Reqwest(err) => err.classify(),
            reqwest_middleware::Error::Middleware(err)
                if err.downcast_ref::<TimedOut>().is_some() =>
            {
                Decision::Retry
            }
            reqwest_middleware::Error::Middleware(_) => Decision::Stop,
        }
    }
}
