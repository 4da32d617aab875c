//! Feature `tower`: this crate's retries as a [`tower`] layer, for any `tower::Service` whose
//! request can be sent again ([`Replay`]): tonic channels, hyper-util clients, axum's
//! downstream calls, a service of your own.
//!
//! [`RetryLayer`] wraps a service in [`Retry`], which drives the engine's one turn, the same as
//! `#[retry]`, the builders and the middleware: the [`Policy`] (attempts, backoff, jitter,
//! deadline, `max_hint`), errors judged by [`Classify`](crate::Classify) (a boxed error by the first cause in its
//! chain this crate knows: a per-attempt timeout, an I/O error, a `tonic::Status`) and, with
//! [`classify_ok`](RetryLayer::classify_ok), responses (`http::Response` by the HTTP status
//! table, `Retry-After` and `x-should-retry`; a gRPC answer by its `grpc-status` with the
//! feature `tonic`), the budget, the breaker, the throttle, the rate limiter, the per-attempt
//! timeout, the hook, the call name and HTTP's idempotency rules.
//!
//! The service is used as tower's contract says: each call takes the service that the caller
//! made ready (a fresh clone stays in the `Retry` for the next caller) and sends its first
//! attempt to it; before each retry the call asks that service's `poll_ready` again, and
//! waits while it is not ready. A
//! service's error, a refusal (breaker, throttle) and a cut-off attempt are a [`BoxError`]
//! (as tower's own `timeout` and `buffer` layers answer).
//!
//! ```
//! use retry_runtime::tower::{ResponsesClassified, Retry, RetryLayer};
//! use retry_runtime::Policy;
//! use std::time::Duration;
//! use tower_layer::Layer;
//!
//! /// A tonic `Channel`, a hyper-util `Client`, any service: retried by the gRPC and HTTP rules.
//! fn with_retries<S>(channel: S) -> Retry<S, ResponsesClassified> {
//!     let policy = Policy::new().with_attempts(4).with_deadline(Duration::from_secs(5));
//!     // As `tower::ServiceBuilder::new().layer(..).service(channel)` does:
//!     RetryLayer::new(policy)
//!         .classify_ok()
//!         .with_timeout(Duration::from_secs(1))
//!         .layer(channel)
//! }
//! # let _ = with_retries(());
//! ```
//!
//! [`tower`]: https://docs.rs/tower
//! [`BoxError`]: BoxError

use core::task::{Context, Poll};
use core::time::Duration;

use tower_service::Service;

use crate::builder::{Hook, NoHook};
use crate::runtime::{DefaultSleeper, Sleeper};
use crate::{
    AdaptiveThrottle, CircuitBreaker, Policy, RateLimiter, RateLimits, RetryBudget, RetryInfo,
};

mod future;
mod hedge;
mod judge;
mod request;
#[cfg(test)]
mod tests;

pub use future::ResponseFuture;
pub use hedge::{Hedge, HedgeFuture, HedgeLayer};
pub use judge::{Final, RateLimited, Responses, ResponsesClassified};
pub use request::{Replay, ReplayableBody};

/// The error of a [`Retry`] service: the inner service's error, boxed, or this crate's
/// [`TimedOut`](crate::TimedOut), [`BreakerOpen`](crate::BreakerOpen) or
/// [`Throttled`](crate::Throttled).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A `tower` layer that retries its service's calls by a [`Policy`]. See [the module](self).
///
/// Defaults: errors judged by [`Classify`](crate::Classify), every response final (see
/// [`classify_ok`](RetryLayer::classify_ok)), no budget, breaker, throttle or per-attempt
/// timeout, streamed request bodies replayed up to 64 KiB
/// ([`DEFAULT_BODY_LIMIT`](crate::replay::DEFAULT_BODY_LIMIT)), requests whose method is not
/// idempotent retried only when the failure says they were not acted on, the call name
/// `tower`, tokio's timer.
///
/// ```
/// use retry_runtime::{tower::RetryLayer, Policy, RetryBudget};
///
/// static BUDGET: RetryBudget = RetryBudget::new(10, 0.1);
/// let layer = RetryLayer::new(Policy::new().with_attempts(3))
///     .classify_ok()
///     .with_budget(&BUDGET)
///     .with_name("users-api");
/// # let _ = layer;
/// ```
#[derive(Clone, Copy, Debug)]
pub struct RetryLayer<K = Final, H = NoHook, S = DefaultSleeper> {
    config: Config<K, H, S>,
}

/// What a [`Retry`] and each of its calls keep: copied into every call's future (no
/// reference counting on the success path).
#[derive(Clone, Copy, Debug)]
struct Config<K, H, S> {
    policy: Policy,
    responses: K,
    hook: H,
    sleeper: S,
    budget: Option<&'static RetryBudget>,
    breaker: Option<&'static CircuitBreaker>,
    throttle: Option<&'static AdaptiveThrottle>,
    limiter: Option<&'static RateLimiter>,
    rate_limits: Option<&'static RateLimits>,
    timeout: Option<Duration>,
    body_limit: usize,
    non_idempotent: bool,
    name: &'static str,
}

impl RetryLayer {
    /// Retries by `policy`.
    ///
    /// ```
    /// let layer = retry_runtime::tower::RetryLayer::new(retry_runtime::Policy::new());
    /// # let _ = layer;
    /// ```
    pub const fn new(policy: Policy) -> Self {
        RetryLayer {
            config: Config {
                policy,
                responses: Final,
                hook: NoHook,
                sleeper: DefaultSleeper {},
                budget: None,
                breaker: None,
                throttle: None,
                limiter: None,
                rate_limits: None,
                timeout: None,
                body_limit: crate::replay::DEFAULT_BODY_LIMIT,
                non_idempotent: false,
                name: "tower",
            },
        }
    }
}

impl<H, S> RetryLayer<Final, H, S> {
    /// Judges responses too, by their [`Classify`](crate::Classify): an `http::Response` by the HTTP status
    /// table (a 503 is retried after its `Retry-After`, a 404 is final); a gRPC answer by its
    /// `grpc-status` (feature `tonic`: `UNAVAILABLE` retried, `RESOURCE_EXHAUSTED` after its
    /// pushback, `INVALID_ARGUMENT` final). Without it every response is the call's answer.
    ///
    /// ```
    /// use retry_runtime::{tower::RetryLayer, Policy};
    /// let layer = RetryLayer::new(Policy::new()).classify_ok();
    /// # let _ = layer;
    /// ```
    pub fn classify_ok(self) -> RetryLayer<ResponsesClassified, H, S> {
        RetryLayer {
            config: self
                .config
                .rebuilt(|_, hook, sleeper| (ResponsesClassified, hook, sleeper)),
        }
    }
}

impl<K, H, S> RetryLayer<K, H, S> {
    /// Calls `hook` before each sleep, with the failed outcome and what comes next.
    ///
    /// ```
    /// use retry_runtime::{tower::{BoxError, RetryLayer}, Policy, RetryInfo};
    /// let layer = RetryLayer::new(Policy::new())
    ///     .on_retry(|outcome: &Result<http::Response<String>, BoxError>, info: &RetryInfo| {
    ///         eprintln!("attempt {} failed, next in {:?}", info.attempt(), info.delay());
    ///     });
    /// # let _ = layer;
    /// ```
    pub fn on_retry<F>(self, hook: F) -> RetryLayer<K, OnEachRetry<F>, S> {
        RetryLayer {
            config: self
                .config
                .rebuilt(|responses, _, sleeper| (responses, OnEachRetry(hook), sleeper)),
        }
    }

    /// Sleeps between attempts and times them on `sleeper` (tokio's timer by default): any
    /// runtime's [`Sleeper`], or a [`TestClock`](crate::runtime::TestClock).
    ///
    /// ```
    /// use retry_runtime::{runtime::TestClock, tower::RetryLayer, Policy};
    /// let layer = RetryLayer::new(Policy::new()).sleeper(TestClock::new());
    /// # let _ = layer;
    /// ```
    pub fn sleeper<S2: Sleeper>(self, sleeper: S2) -> RetryLayer<K, H, S2> {
        RetryLayer {
            config: self
                .config
                .rebuilt(|responses, hook, _| (responses, hook, sleeper)),
        }
    }

    /// Draws a token from `budget` for each retry; a success or a final answer refills it.
    ///
    /// ```
    /// use retry_runtime::{tower::RetryLayer, Policy, RetryBudget};
    /// static BUDGET: RetryBudget = RetryBudget::new(10, 0.1);
    /// let layer = RetryLayer::new(Policy::new()).with_budget(&BUDGET);
    /// # let _ = layer;
    /// ```
    pub fn with_budget(mut self, budget: &'static RetryBudget) -> Self {
        self.config.budget = Some(budget);
        self
    }

    /// Asks `breaker` before every attempt: while it is open nothing is sent and the call
    /// fails at once with [`BreakerOpen`](crate::BreakerOpen).
    ///
    /// ```
    /// use retry_runtime::{tower::RetryLayer, CircuitBreaker, Policy};
    /// static BREAKER: CircuitBreaker = CircuitBreaker::new();
    /// let layer = RetryLayer::new(Policy::new()).with_breaker(&BREAKER);
    /// # let _ = layer;
    /// ```
    pub fn with_breaker(mut self, breaker: &'static CircuitBreaker) -> Self {
        self.config.breaker = Some(breaker);
        self
    }

    /// Asks `throttle` before every attempt, first ones included (a refused first attempt
    /// fails with [`Throttled`](crate::Throttled); a refused retry returns the last answer).
    ///
    /// ```
    /// use retry_runtime::{tower::RetryLayer, AdaptiveThrottle, Policy};
    /// static THROTTLE: AdaptiveThrottle = AdaptiveThrottle::new();
    /// let layer = RetryLayer::new(Policy::new()).with_throttle(&THROTTLE);
    /// # let _ = layer;
    /// ```
    pub fn with_throttle(mut self, throttle: &'static AdaptiveThrottle) -> Self {
        self.config.throttle = Some(throttle);
        self
    }

    /// Paces every attempt by `limiter` (off until the first overload answer).
    ///
    /// ```
    /// use retry_runtime::{tower::RetryLayer, Policy, RateLimiter};
    /// static LIMITER: RateLimiter = RateLimiter::new();
    /// let layer = RetryLayer::new(Policy::new()).with_rate_limiter(&LIMITER);
    /// # let _ = layer;
    /// ```
    pub fn with_rate_limiter(mut self, limiter: &'static RateLimiter) -> Self {
        self.config.limiter = Some(limiter);
        self
    }

    /// Reads the rate-limit headers of every `http::Response` into `limits` and holds the
    /// next request while a limit is at zero (a wait bounded by the policy's `max_hint` and
    /// its deadline), as the reqwest middleware's `with_rate_limits` does. Call it after
    /// [`classify_ok`](RetryLayer::classify_ok).
    ///
    /// ```
    /// use retry_runtime::{tower::RetryLayer, Policy, RateLimits};
    /// static LIMITS: RateLimits = RateLimits::new();
    /// let layer = RetryLayer::new(Policy::new()).with_rate_limits(&LIMITS);
    /// # let _ = layer;
    /// ```
    pub fn with_rate_limits(self, limits: &'static RateLimits) -> RetryLayer<RateLimited<K>, H, S> {
        let mut config = self
            .config
            .rebuilt(|responses, hook, sleeper| (RateLimited { responses, limits }, hook, sleeper));
        config.rate_limits = Some(limits);
        RetryLayer { config }
    }

    /// Cuts each attempt off after `timeout` (or at the policy's deadline); the cut-off
    /// ([`TimedOut`](crate::TimedOut)) is retried. Without it the policy's own timeout applies.
    ///
    /// ```
    /// use retry_runtime::{tower::RetryLayer, Policy};
    /// let layer = RetryLayer::new(Policy::new()).with_timeout(std::time::Duration::from_secs(2));
    /// # let _ = layer;
    /// ```
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout = Some(timeout);
        self
    }

    /// The most of a streamed request body kept for a replay (64 KiB by default): a body that
    /// outgrows it is sent once, never truncated or resent in part, and its first answer is
    /// the call's. 0 sends every streamed body once.
    ///
    /// ```
    /// use retry_runtime::{tower::RetryLayer, Policy};
    /// let layer = RetryLayer::new(Policy::new()).with_body_limit(1024 * 1024);
    /// # let _ = layer;
    /// ```
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.config.body_limit = bytes;
        self
    }

    /// Retries requests whose method is not idempotent (`POST`, `PATCH`: every gRPC call) by
    /// the same rules as the others, even after a failure the server may have acted on (a
    /// timeout, a reset, a 500, gRPC's `ABORTED`). Without it such a request is retried only
    /// after a failure that says it was not acted on (a refused connection; 429, 503, 529,
    /// `x-should-retry: true`; gRPC's `UNAVAILABLE` and `RESOURCE_EXHAUSTED`), or when it
    /// carries an `Idempotency-Key` header.
    ///
    /// ```
    /// use retry_runtime::{tower::RetryLayer, Policy};
    /// let layer = RetryLayer::new(Policy::new()).retry_non_idempotent();
    /// # let _ = layer;
    /// ```
    pub fn retry_non_idempotent(mut self) -> Self {
        self.config.non_idempotent = true;
        self
    }

    /// Names the calls in events and metrics (`tower` by default).
    ///
    /// ```
    /// use retry_runtime::{tower::RetryLayer, Policy};
    /// let layer = RetryLayer::new(Policy::new()).with_name("inventory");
    /// # let _ = layer;
    /// ```
    pub fn with_name(mut self, name: &'static str) -> Self {
        self.config.name = name;
        self
    }
}

impl<K, H, S> Config<K, H, S> {
    /// The guards every call's turn asks: the budget, the breaker and the pacing.
    #[inline(always)]
    fn guards(&self) -> crate::engine::Guards<'static> {
        crate::engine::Guards::new(self.budget, self.breaker)
            .with_throttle(self.throttle)
            .with_limiter(self.limiter)
            .with_rate_limits(self.rate_limits)
    }

    /// The same configuration with another response judge, hook and sleeper.
    fn rebuilt<K2, H2, S2>(self, swap: impl FnOnce(K, H, S) -> (K2, H2, S2)) -> Config<K2, H2, S2> {
        let (responses, hook, sleeper) = swap(self.responses, self.hook, self.sleeper);
        Config {
            policy: self.policy,
            responses,
            hook,
            sleeper,
            budget: self.budget,
            breaker: self.breaker,
            throttle: self.throttle,
            limiter: self.limiter,
            rate_limits: self.rate_limits,
            timeout: self.timeout,
            body_limit: self.body_limit,
            non_idempotent: self.non_idempotent,
            name: self.name,
        }
    }
}

/// [`RetryLayer::on_retry`]'s hook.
#[derive(Clone, Copy, Debug)]
pub struct OnEachRetry<F>(F);

impl<T, E, F: Fn(&Result<T, E>, &RetryInfo)> Hook<T, E> for OnEachRetry<F> {
    const ELAPSED: bool = true;
    fn call(&self, outcome: &Result<T, E>, info: &RetryInfo) {
        (self.0)(outcome, info)
    }
}

impl<Svc, K: Clone, H: Clone, S: Clone> tower_layer::Layer<Svc> for RetryLayer<K, H, S> {
    type Service = Retry<Svc, K, H, S>;

    fn layer(&self, service: Svc) -> Self::Service {
        Retry {
            service,
            config: self.config.clone(),
        }
    }
}

/// A service whose calls are retried: made by [`RetryLayer`].
#[derive(Clone, Debug)]
pub struct Retry<Svc, K = Final, H = NoHook, S = DefaultSleeper> {
    service: Svc,
    config: Config<K, H, S>,
}

impl<Svc, K, H, S> Retry<Svc, K, H, S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &Svc {
        &self.service
    }

    /// The wrapped service, unwrapped.
    pub fn into_inner(self) -> Svc {
        self.service
    }
}

impl<Svc, Req, K, H, S> Service<Req> for Retry<Svc, K, H, S>
where
    Svc: Service<Req> + Clone,
    Svc::Error: Into<BoxError>,
    Req: Replay,
    K: Responses<Svc::Response> + Clone,
    H: Hook<Svc::Response, BoxError> + Clone,
    S: Sleeper + Clone,
{
    type Response = Svc::Response;
    type Error = BoxError;
    type Future = ResponseFuture<Svc, Req, K, H, S>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.service.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        // The service made ready takes the first attempt; the one left here is a fresh clone
        // that the next caller makes ready (tower's contract).
        let ready = self.service.clone();
        let service = core::mem::replace(&mut self.service, ready);
        ResponseFuture::new(service, request, self.config.clone())
    }
}
