//! Feature `reqwest-middleware`: this crate's retries as a layer of a `reqwest_middleware` client.

use core::time::Duration;

use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};

use crate::engine::guards::guard_time;
use crate::engine::observe::{trace_give_up, trace_retry};
use crate::engine::{
    CallSpan, GiveUp, Guards, Judged, Site, StartAndPrevious, Step, Turn, Verdict,
};
use crate::replay::{ReplayBody, DEFAULT_BODY_LIMIT};
use crate::runtime::TokioSleeper;
use crate::{
    AdaptiveThrottle, CircuitBreaker, Classify, Decision, IdempotencyKey, Policy, RateLimiter,
    RateLimits, RetryBudget, TimedOut,
};

/// Retries the requests of a [`reqwest_middleware`] client by a [`Policy`], on the same engine as
/// `#[retry]`: the HTTP rules of [`crate::http`] (the status table, `x-should-retry`,
/// `retry-after-ms` and `Retry-After`, every hint bounded by the policy's `max_hint`), the
/// attempts, the deadline, jitter, an optional [`RetryBudget`] and per-attempt timeout, and the
/// same `tracing` events. A request whose body is a stream is sent through a [`ReplayBody`]
/// that keeps its bytes as they are sent, up to a limit (64 KiB unless
/// [`with_body_limit`](RetryMiddleware::with_body_limit) says otherwise): it is retried while
/// the body fits, and a body that outgrows the limit is sent once, whole, and its first answer
/// is the call's. With [`with_idempotency_key`](RetryMiddleware::with_idempotency_key), a
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
/// # Requests that must not be repeated
///
/// A request whose method is not idempotent (`POST`, `PATCH`: a charge, a tool call, a chat
/// message) may already have been acted on when its answer is lost, so it is retried only when
/// repeating it is known to be safe:
///
/// | the failure, for a `POST` | retried |
/// |---|---|
/// | the connection could not be made (the request was never sent) | yes |
/// | 429, 503, 529 (with or without a hint): the server did not process it | yes |
/// | any status with `x-should-retry: true` | yes |
/// | a timeout, a reset connection, a 500, a 502, a 504, a body cut off | no: returned as it is |
/// | any of these, when the request carries an `Idempotency-Key` header ([`with_idempotency_key`](RetryMiddleware::with_idempotency_key) or the caller's own) | yes |
/// | any of these, with [`retry_non_idempotent`](RetryMiddleware::retry_non_idempotent) | yes |
///
/// Idempotent methods (`GET`, `PUT`, `DELETE`, …) follow the status table. A failure not
/// retried for this reason ends the call with [`GiveUp::NotIdempotent`](crate::GiveUp).
///
/// # Default
///
/// No budget, no per-attempt timeout, no `Idempotency-Key` header, non-idempotent requests
/// retried only where the table says so, streamed bodies replayed up to
/// [`DEFAULT_BODY_LIMIT`] bytes.
#[derive(Clone, Copy, Debug)]
pub struct RetryMiddleware {
    policy: Policy,
    budget: Option<&'static RetryBudget>,
    breaker: Option<&'static CircuitBreaker>,
    throttle: Option<&'static AdaptiveThrottle>,
    limiter: Option<&'static RateLimiter>,
    rate_limits: Option<&'static RateLimits>,
    timeout: Option<Duration>,
    idempotency_key: bool,
    non_idempotent: bool,
    body_limit: usize,
    name: &'static str,
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
            throttle: None,
            limiter: None,
            rate_limits: None,
            timeout: None,
            idempotency_key: false,
            non_idempotent: false,
            body_limit: DEFAULT_BODY_LIMIT,
            name: "reqwest-middleware",
        }
    }

    /// Retries requests whose method is not idempotent (`POST`, `PATCH`) by the same rules as
    /// the others, even after a failure the server may have acted on (a timeout, a 500, a
    /// reset connection). Without it such a request is retried only when repeating it is safe:
    /// see [`RetryMiddleware`]'s table.
    ///
    /// ```
    /// use retry_runtime::{middleware::RetryMiddleware, Policy};
    /// let layer = RetryMiddleware::new(Policy::new()).retry_non_idempotent();
    /// # let _ = layer;
    /// ```
    pub const fn retry_non_idempotent(mut self) -> Self {
        self.non_idempotent = true;
        self
    }

    /// Names the calls in events and metrics (`reqwest-middleware` by default): one client
    /// per provider, told apart.
    ///
    /// ```
    /// use retry_runtime::{middleware::RetryMiddleware, Policy};
    /// let layer = RetryMiddleware::new(Policy::new()).with_name("provider-a");
    /// # let _ = layer;
    /// ```
    pub const fn with_name(mut self, name: &'static str) -> Self {
        self.name = name;
        self
    }

    /// Draws a token from `budget` for each retry and refills it on success or a permanent
    /// answer (a 404 is the server answering).
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

    /// Asks `throttle` before every request goes out, first attempts included: while the
    /// service refuses most requests as overloaded (429, 503, 529), the throttle rejects
    /// requests on the client with the probability
    /// `max(0, (requests - k·accepts) / (requests + 1))`. A rejected first attempt fails at
    /// once with a middleware error holding [`Throttled`](crate::Throttled); a rejected retry
    /// returns the last answer. Every other answer, a 404 or a 500 included, is an accept.
    ///
    /// ```
    /// use retry_runtime::{middleware::RetryMiddleware, AdaptiveThrottle, Policy};
    ///
    /// static THROTTLE: AdaptiveThrottle = AdaptiveThrottle::new();
    /// let layer = RetryMiddleware::new(Policy::new()).with_throttle(&THROTTLE);
    /// # let _ = layer;
    /// ```
    pub const fn with_throttle(mut self, throttle: &'static AdaptiveThrottle) -> Self {
        self.throttle = Some(throttle);
        self
    }

    /// Paces every request by `limiter` (AWS's adaptive mode): off until the first 429, 503
    /// or 529, then a request waits for a token, never past the deadline (a first request
    /// whose token would come too late fails with [`Throttled`](crate::Throttled)).
    ///
    /// ```
    /// use retry_runtime::{middleware::RetryMiddleware, Policy, RateLimiter};
    ///
    /// static LIMITER: RateLimiter = RateLimiter::new();
    /// let layer = RetryMiddleware::new(Policy::new()).with_rate_limiter(&LIMITER);
    /// # let _ = layer;
    /// ```
    pub const fn with_rate_limiter(mut self, limiter: &'static RateLimiter) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// Reads the rate-limit headers of every response into `limits` (OpenAI's
    /// `x-ratelimit-*`, Anthropic's `anthropic-ratelimit-*`, the IETF draft's `RateLimit`),
    /// and holds the next request while a limit is at zero, until its reset: a request is
    /// not sent to draw a 429 the headers announced. The wait is a server hint: a retry
    /// whose wait is longer than the policy's `max_hint`, or ends past the deadline, is not
    /// made; a first request that would wait that long fails at once with
    /// [`Throttled`](crate::Throttled). One `RateLimits` per API key and host, shared by the
    /// clients that use it.
    ///
    /// ```
    /// use retry_runtime::{middleware::RetryMiddleware, Policy, RateLimits};
    ///
    /// static OPENAI_LIMITS: RateLimits = RateLimits::new();
    /// let layer = RetryMiddleware::new(Policy::new()).with_rate_limits(&OPENAI_LIMITS);
    /// # let _ = layer;
    /// ```
    pub const fn with_rate_limits(mut self, limits: &'static RateLimits) -> Self {
        self.rate_limits = Some(limits);
        self
    }

    /// Cuts each attempt off after `timeout` (or at the policy's deadline); the cut-off is
    /// retried. Without it, the policy's own [`timeout`](Policy::timeout) applies (a policy
    /// read from a file with `timeout = "30s"`).
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

    /// Keeps up to `bytes` of a streamed request body ([`DEFAULT_BODY_LIMIT`] by default), so
    /// that the request can be sent again: a body that fits is replayed on every retry, one
    /// that outgrows the limit is sent once and its first answer returned. With 0, a streamed
    /// body is sent once. A body that is not a stream (bytes, a string) is always retried.
    ///
    /// ```
    /// use retry_runtime::{middleware::RetryMiddleware, Policy};
    /// let layer = RetryMiddleware::new(Policy::new()).with_body_limit(1024 * 1024);
    /// # let _ = layer;
    /// ```
    pub const fn with_body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    async fn attempt(
        &self,
        request: Request,
        extensions: &mut http::Extensions,
        next: Next<'_>,
        step: &Step<StartAndPrevious>,
    ) -> reqwest_middleware::Result<Response> {
        let sent = next.run(request, extensions);
        match self.timeout.or(self.policy.timeout()) {
            None => sent.await,
            Some(timeout) => {
                let allowed = step.attempt_timeout(&self.policy, timeout, TokioSleeper);
                tokio::time::timeout(allowed, sent)
                    .await
                    .unwrap_or_else(|_| Err(reqwest_middleware::Error::middleware(TimedOut)))
            }
        }
    }
}

impl RetryMiddleware {
    /// Adds the `Idempotency-Key` header, when asked to and the request needs one.
    fn add_idempotency_key(&self, request: &mut Request) {
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
    }

    /// Takes a streamed body out of `request` into a [`ReplayBody`], unless the limit is 0;
    /// a body of bytes stays, it is cloned as it is.
    fn replay_body(&self, request: &mut Request) -> Option<ReplayBody<reqwest::Body>> {
        if self.body_limit == 0 || request.body().is_none_or(|body| body.as_bytes().is_some()) {
            return None;
        }
        let body = request.body_mut().take()?;
        Some(ReplayBody::new(body, self.body_limit))
    }
}

/// The verdict on an attempt's outcome by the HTTP rules: a success is accepted, a permanent
/// answer stops, a transient one is retried, unless the request cannot be sent again (its body
/// outgrew the replay limit: then its first answer is the call's) or repeating it may repeat
/// what the server did ([`Judged::resend`]: `resend_safe` is false and the failure does not
/// say the server did not act, [`Classify::unprocessed`]).
fn judge(
    outcome: &reqwest_middleware::Result<Response>,
    replayable: bool,
    resend_safe: bool,
) -> Judged {
    let (decision, overload, unprocessed) = match outcome {
        Ok(response) if response.status().is_success() => return Judged::error(Verdict::Accept),
        Ok(response) => (
            response.classify(),
            response.overloaded(),
            response.unprocessed(),
        ),
        Err(err) => (err.classify(), err.overloaded(), err.unprocessed()),
    };
    // A transient answer counts against the service even when it cannot be retried.
    Judged::new(Verdict::of_error(decision), decision.is_retry(), false)
        .overloaded(overload)
        .resend(replayable, resend_safe, unprocessed)
}

#[async_trait::async_trait]
impl Middleware for RetryMiddleware {
    async fn handle(
        &self,
        mut request: Request,
        extensions: &mut http::Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        self.add_idempotency_key(&mut request);
        let resend_safe = self.non_idempotent
            || request.method().is_idempotent()
            || request
                .headers()
                .contains_key(HeaderName::from_static("idempotency-key"));
        let site = Site::named(&self.name);
        let mut span = CallSpan::http(self.name);
        let guards = Guards::new(self.budget, self.breaker)
            .with_throttle(self.throttle)
            .with_limiter(self.limiter)
            .with_rate_limits(self.rate_limits);
        let mut step = Step::<StartAndPrevious>::begin_on(&self.policy, false, TokioSleeper);
        match step.admit(&self.policy, guards, TokioSleeper) {
            Ok(wait) if wait.is_zero() => {}
            Ok(wait) => crate::engine::sleep(&TokioSleeper, wait).await,
            Err(throttled) => {
                step.throttled(&site);
                trace_give_up(&site, 0, GiveUp::Throttled, &throttled);
                return Err(reqwest_middleware::Error::middleware(throttled));
            }
        }
        // A streamed body, sent with `request` (which then has none) through a `ReplayBody`.
        let mut body = self.replay_body(&mut request);
        loop {
            // The copy for a next attempt: the request, and a copy of its streamed body; none
            // when the body can be neither cloned nor replayed (it is sent once).
            let mut again = match &body {
                None => request.try_clone().map(|copy| (copy, None)),
                Some(body) => body
                    .try_clone()
                    .and_then(|replay| Some((request.try_clone()?, Some(replay)))),
            };
            if let Some(body) = body.take() {
                *request.body_mut() = Some(reqwest::Body::wrap(body));
            }
            let permit = match step.enter(self.breaker) {
                Ok(permit) => permit,
                Err(open) => {
                    step.refused(&site);
                    trace_give_up(&site, step.attempts_made(), GiveUp::BreakerOpen, &open);
                    return Err(reqwest_middleware::Error::middleware(open));
                }
            };
            span.record_attempt(step.attempt());
            let sent = self.attempt(request, extensions, next.clone(), &step);
            let (outcome, back) = span.instrument(sent).await;
            span = back;
            if let (Some(limits), Ok(response)) = (self.rate_limits, &outcome) {
                let now = guard_time(&TokioSleeper);
                limits.update(response.headers(), now, std::time::SystemTime::now());
            }
            // A streamed body is sent again only if it kept every byte sent; its copy then reads
            // the rest of the body, so the first copy still being sent cannot outgrow the limit.
            let replayable = match &mut again {
                None => false,
                Some((_, None)) => true,
                Some((_, Some(replay))) => replay.claim(),
            };
            let judged = judge(&outcome, replayable, resend_safe);
            if judged.is_accepted() {
                step.accepted(guards, permit, &site, TokioSleeper);
                return outcome;
            }
            let shown = OutcomeSummary(&outcome);
            let info = match step.turn(&self.policy, guards, permit, judged, &site, TokioSleeper) {
                Turn::Done => return outcome,
                Turn::Retry(info) => info,
                Turn::GiveUp(reason) => {
                    trace_give_up(&site, step.attempt(), reason, &shown);
                    return outcome;
                }
            };
            trace_retry(&site, &info, &shown);
            // Only a request that can be sent again is retried.
            let Some((again, replay)) = again else {
                return outcome;
            };
            drop(outcome);
            if !info.delay().is_zero() {
                crate::engine::sleep(&TokioSleeper, info.delay()).await;
            }
            request = again;
            body = replay;
        }
    }
}

/// What the events show of an outcome: the status, or the error.
struct OutcomeSummary<'a>(&'a reqwest_middleware::Result<Response>);

impl core::fmt::Display for OutcomeSummary<'_> {
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
    fn describe(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(self, f)
    }
    fn overloaded(&self) -> bool {
        match self {
            reqwest_middleware::Error::Reqwest(err) => err.overloaded(),
            reqwest_middleware::Error::Middleware(_) => false,
        }
    }
    fn unprocessed(&self) -> bool {
        match self {
            reqwest_middleware::Error::Reqwest(err) => err.unprocessed(),
            reqwest_middleware::Error::Middleware(_) => false,
        }
    }
}
