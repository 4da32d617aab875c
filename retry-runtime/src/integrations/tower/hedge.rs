//! Hedged calls through the layer: [`RetryLayer::hedge`] and [`RetryLayer::hedge_at`] make a
//! [`HedgeLayer`], whose [`Hedge`] service races copies of each request on clones of the
//! service, on the engine's hedge turn (the same as the builders' `.hedge`).

use core::future::Future;
use core::pin::Pin;
use core::task::{ready, Context, Poll};
use core::time::Duration;

use tower_service::Service;

use super::future::Attempt;
use super::judge::{judge, OutcomeText, Responses};
use super::{BoxError, Config, Final, Replay, RetryLayer};
use crate::builder::{Hook, NoHook};
use crate::engine::observe::trace_give_up;
use crate::engine::{GiveUp, Guards, HedgeDelay, HedgeTurn, Hedging, Site, StartAndPrevious, Step};
use crate::runtime::clock::between;
use crate::runtime::{DefaultSleeper, Sleeper, Stamp};
use crate::{Latencies, Permit, RetryInfo};

/// A layer that hedges its service's calls: see [`RetryLayer::hedge`].
#[derive(Clone, Copy, Debug)]
pub struct HedgeLayer<K = Final, H = NoHook, S = DefaultSleeper> {
    config: Config<K, H, S>,
    hedging: Hedging<'static>,
}

impl<K, H, S> RetryLayer<K, H, S> {
    /// Hedges each call instead of retrying it: the request goes at once, a copy every `delay`
    /// until `copies` extra copies are out (`Duration::ZERO`: all at once), each on a clone of
    /// the service made ready for it; the first acceptable answer wins and the other copies
    /// are dropped; a retryable failure sends the next copy at once, a permanent one ends the
    /// call; when every copy fails the call returns the first copy's outcome. The layer's
    /// classification, budget (a token per extra copy), breaker, throttle, rate limiter,
    /// timeout, hook, call name and deadline apply as to retries.
    ///
    /// A request that is not safe to send twice (a `POST` without an `Idempotency-Key`; see
    /// [`Replay::resend_safe`]) is not hedged on the timer: its copies go only after a
    /// failure that says it was not acted on. A request whose body cannot be replayed (a
    /// stream past the body limit) is sent once.
    ///
    /// ```
    /// use retry_runtime::{tower::RetryLayer, Policy};
    /// use std::time::Duration;
    ///
    /// let layer = RetryLayer::new(Policy::new().with_deadline(Duration::from_secs(2)))
    ///     .classify_ok()
    ///     .hedge(Duration::from_millis(50), 1);
    /// # let _ = layer;
    /// ```
    pub fn hedge(self, delay: Duration, copies: u32) -> HedgeLayer<K, H, S> {
        HedgeLayer {
            config: self.config,
            hedging: Hedging::new(HedgeDelay::After(delay), copies),
        }
    }

    /// [`hedge`](RetryLayer::hedge) at the `percentile` (e.g. `0.95`) of the latencies of the
    /// accepted copies, kept in `latencies`; one extra copy ([`HedgeLayer::copies`] for more);
    /// no copy on the timer before `latencies` has its minimum of samples.
    pub fn hedge_at(self, latencies: &'static Latencies, percentile: f64) -> HedgeLayer<K, H, S> {
        HedgeLayer {
            config: self.config,
            hedging: Hedging::new(HedgeDelay::Percentile(latencies, percentile), 1),
        }
    }
}

impl<K, H, S> HedgeLayer<K, H, S> {
    /// Sends up to `copies` extra copies of each request.
    pub fn copies(mut self, copies: u32) -> Self {
        self.hedging = self.hedging.with_copies(copies);
        self
    }
}

impl<Svc, K: Clone, H: Clone, S: Clone> tower_layer::Layer<Svc> for HedgeLayer<K, H, S> {
    type Service = Hedge<Svc, K, H, S>;

    fn layer(&self, service: Svc) -> Self::Service {
        Hedge {
            service,
            config: self.config.clone(),
            hedging: self.hedging,
        }
    }
}

/// A service whose calls are hedged: made by [`HedgeLayer`].
#[derive(Clone, Debug)]
pub struct Hedge<Svc, K = Final, H = NoHook, S = DefaultSleeper> {
    service: Svc,
    config: Config<K, H, S>,
    hedging: Hedging<'static>,
}

impl<Svc, Req, K, H, S> Service<Req> for Hedge<Svc, K, H, S>
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
    type Future = HedgeFuture<Svc, Req, K, H, S>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.service.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        // The service made ready sends the first copy; the others go to fresh clones, each
        // made ready for its copy (tower's contract).
        let ready = self.service.clone();
        let service = core::mem::replace(&mut self.service, ready);
        HedgeFuture::new(service, request, self.config.clone(), self.hedging)
    }
}

/// Where one copy is: waiting for its clone of the service to be ready, or sent.
enum CopyState<Svc: Service<Req>, Req, Sl> {
    Readying { service: Svc, request: Option<Req> },
    Sent(Pin<Box<Attempt<Svc::Future, Sl>>>),
}

/// One copy out, with its breaker permit, when it started and its number (1: the primary).
struct Copy<Svc: Service<Req>, Req, Sl> {
    state: CopyState<Svc, Req, Sl>,
    permit: Option<Permit<'static>>,
    started: Stamp,
    number: u32,
}

/// Where a hedged call is.
enum Phase<Sl> {
    Admit,
    Paced(Pin<Box<Sl>>),
    Racing,
    Finished,
}

/// The future of a [`Hedge`] call.
#[must_use = "futures do nothing unless polled"]
pub struct HedgeFuture<Svc, Req, K, H, S>
where
    Svc: Service<Req>,
    Req: Replay,
    S: Sleeper,
{
    config: Config<K, H, S>,
    hedging: Hedging<'static>,
    // A ready-to-clone service for the copies after the first.
    spare: Svc,
    first: Option<(Svc, Req)>,
    kept: Req::Kept,
    resend_safe: bool,
    step: Step<StartAndPrevious>,
    copies: Vec<Copy<Svc, Req, S::Sleep>>,
    timer: Option<Pin<Box<S::Sleep>>>,
    failed: Option<Result<Svc::Response, BoxError>>,
    closed: Option<GiveUp>,
    phase: Phase<S::Sleep>,
}

// Everything that needs pinning is boxed.
impl<Svc: Service<Req>, Req: Replay, K, H, S: Sleeper> Unpin for HedgeFuture<Svc, Req, K, H, S> {}

impl<Svc, Req, K, H, S> HedgeFuture<Svc, Req, K, H, S>
where
    Svc: Service<Req> + Clone,
    Svc::Error: Into<BoxError>,
    Req: Replay,
    K: Responses<Svc::Response>,
    H: Hook<Svc::Response, BoxError>,
    S: Sleeper,
{
    fn new(service: Svc, request: Req, config: Config<K, H, S>, hedging: Hedging<'static>) -> Self {
        let (first, kept) = request.keep(config.body_limit);
        HedgeFuture {
            step: Step::begin_on(&config.policy, true, &config.sleeper),
            resend_safe: config.non_idempotent || Req::resend_safe(&kept),
            spare: service.clone(),
            first: Some((service, first)),
            kept,
            config,
            hedging,
            copies: Vec::new(),
            timer: None,
            failed: None,
            closed: None,
            phase: Phase::Admit,
        }
    }

    fn guards(config: &Config<K, H, S>) -> Guards<'static> {
        Guards::new(config.budget, config.breaker)
            .with_throttle(config.throttle)
            .with_limiter(config.limiter)
            .with_rate_limits(config.rate_limits)
    }

    fn site(&self) -> Site<'_> {
        Site::named(&self.config.name)
    }

    /// The first copy's pacing, then the breaker: the copy out, or the refusal.
    fn send_first(&mut self) -> Result<(), BoxError> {
        let permit = match self.step.enter(self.config.breaker) {
            Ok(permit) => permit,
            Err(open) => {
                let site = Site::named(&self.config.name);
                self.step.refused(&site);
                trace_give_up(&site, 0, GiveUp::BreakerOpen, &open);
                return Err(open.into());
            }
        };
        let Some((service, request)) = self.first.take() else {
            return Err("the request was already sent".into());
        };
        self.push(service, request, permit);
        if self.arm() {
            self.send_copy();
        }
        Ok(())
    }

    /// The next copy, if the request can be copied and the breaker and the engine allow one
    /// now; then the timer for the one after it (zero delay: at once).
    fn send_copy(&mut self) {
        while self.closed.is_none() {
            let Some(request) = Req::again(&self.kept) else {
                return self.close(GiveUp::OutOfAttempts);
            };
            let permit = match self.step.enter(self.config.breaker) {
                Ok(permit) => permit,
                Err(_) => return self.close(GiveUp::BreakerOpen),
            };
            let (guards, site) = (Self::guards(&self.config), Site::named(&self.config.name));
            let leave = self.step.hedge_leave(
                &self.config.policy,
                &self.hedging,
                guards,
                &site,
                &self.config.sleeper,
            );
            if let Err(reason) = leave {
                return self.close(reason);
            }
            self.push(self.spare.clone(), request, permit);
            if !self.arm() {
                return;
            }
        }
    }

    fn close(&mut self, reason: GiveUp) {
        self.closed.get_or_insert(reason);
        self.timer = None;
    }

    /// After a copy went out: the timer for the next one. `true` when the next goes at once.
    /// A request not safe to send twice gets no timer.
    fn arm(&mut self) -> bool {
        self.timer = None;
        if !self.resend_safe || self.step.attempt() > self.hedging.copies() {
            return false;
        }
        match self.hedging.delay() {
            Some(delay) if delay.is_zero() => true,
            Some(delay) => {
                self.timer = Some(Box::pin(crate::engine::sleep(&self.config.sleeper, delay)));
                false
            }
            None => false,
        }
    }

    fn push(&mut self, service: Svc, request: Req, permit: Option<Permit<'static>>) {
        self.copies.push(Copy {
            state: CopyState::Readying {
                service,
                request: Some(request),
            },
            permit,
            started: self.config.sleeper.now(),
            number: self.step.attempt(),
        });
    }

    /// Polls copy `index`: its service's readiness, then its answer.
    fn poll_copy(
        &mut self,
        index: usize,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Svc::Response, BoxError>> {
        let copy = &mut self.copies[index];
        loop {
            match &mut copy.state {
                CopyState::Readying { service, request } => {
                    if let Err(error) = ready!(service.poll_ready(cx)) {
                        return Poll::Ready(Err(error.into()));
                    }
                    let Some(request) = request.take() else {
                        return Poll::Ready(Err("the request was already sent".into()));
                    };
                    let sent = service.call(request);
                    let c = &self.config;
                    let attempt = match c.timeout.or(c.policy.timeout()) {
                        None => Attempt::Bare { sent },
                        Some(limit) => {
                            let allowed = self.step.attempt_timeout(&c.policy, limit, &c.sleeper);
                            Attempt::Timed {
                                sent: crate::runtime::timeout(&c.sleeper, allowed, sent),
                            }
                        }
                    };
                    copy.state = CopyState::Sent(Box::pin(attempt));
                }
                CopyState::Sent(attempt) => return attempt.as_mut().poll(cx),
            }
        }
    }

    /// Polls the timer and the copies until one ends the call or all are pending.
    fn poll_race(&mut self, cx: &mut Context<'_>) -> Poll<Result<Svc::Response, BoxError>> {
        loop {
            let mut moved = false;
            if let Some(timer) = self.timer.as_mut() {
                if timer.as_mut().poll(cx).is_ready() {
                    self.timer = None;
                    self.send_copy();
                    moved = true;
                }
            }
            let mut index = 0;
            while index < self.copies.len() {
                let Poll::Ready(outcome) = self.poll_copy(index, cx) else {
                    index += 1;
                    continue;
                };
                let copy = self.copies.swap_remove(index);
                if let Some(outcome) = self.settle(copy, outcome) {
                    self.copies.clear();
                    self.timer = None;
                    return Poll::Ready(outcome);
                }
                moved = true;
            }
            if self.copies.is_empty() && self.timer.is_none() {
                if let Some(last) = self.all_failed() {
                    return Poll::Ready(last);
                }
            }
            if !moved {
                return Poll::Pending;
            }
        }
    }

    /// The engine's hedge turn on one copy's outcome: `Some` when it is the call's.
    fn settle(
        &mut self,
        copy: Copy<Svc, Req, S::Sleep>,
        outcome: Result<Svc::Response, BoxError>,
    ) -> Option<Result<Svc::Response, BoxError>> {
        let c = &self.config;
        if let Ok(response) = &outcome {
            c.responses.seen(response, &c.sleeper);
        }
        let replayable = Req::replayable(&self.kept);
        let judged = judge(&c.responses, &outcome, replayable, self.resend_safe);
        let (guards, site) = (Self::guards(c), Site::named(&c.name));
        let turn = self
            .step
            .hedge_turn(&c.policy, guards, copy.permit, judged, &site, &c.sleeper);
        match turn {
            HedgeTurn::Won => {
                let latency = between(copy.started, c.sleeper.now());
                self.hedging.accepted_after(latency);
                return Some(outcome);
            }
            HedgeTurn::Ended(reason) => {
                let shown = OutcomeText(&c.responses, &outcome);
                trace_give_up(&site, self.step.attempt(), reason, &shown);
                return Some(outcome);
            }
            HedgeTurn::Next(wait) => {
                let elapsed = self.step.elapsed(&c.sleeper).unwrap_or_default();
                c.hook
                    .call(&outcome, &RetryInfo::new(copy.number, wait, elapsed));
                if wait.is_zero() {
                    self.send_copy();
                } else if self.closed.is_none() {
                    let sleep = crate::engine::sleep(&self.config.sleeper, wait);
                    self.timer = Some(Box::pin(sleep));
                }
            }
            HedgeTurn::Exhausted(reason) => self.close(reason),
        }
        if copy.number == 1 || self.failed.is_none() {
            self.failed = Some(outcome);
        }
        None
    }

    /// Every copy failed and none will follow: the first copy's outcome.
    #[cold]
    fn all_failed(&mut self) -> Option<Result<Svc::Response, BoxError>> {
        let last = self.failed.take()?;
        let reason = self.closed.unwrap_or(GiveUp::OutOfAttempts);
        let site = self.site();
        let reason = self.step.hedges_over(reason, last.is_ok(), &site);
        let shown = OutcomeText(&self.config.responses, &last);
        trace_give_up(&site, self.step.attempt(), reason, &shown);
        Some(last)
    }
}

impl<Svc, Req, K, H, S> Future for HedgeFuture<Svc, Req, K, H, S>
where
    Svc: Service<Req> + Clone,
    Svc::Error: Into<BoxError>,
    Req: Replay,
    K: Responses<Svc::Response>,
    H: Hook<Svc::Response, BoxError>,
    S: Sleeper,
{
    type Output = Result<Svc::Response, BoxError>;

    /// Pacing → the first copy → the race (timer, readiness, copies, the engine's hedge turn).
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            match &mut this.phase {
                Phase::Admit => {
                    let c = &this.config;
                    let guards = Self::guards(c);
                    match this.step.admit(&c.policy, guards, &c.sleeper) {
                        Ok(wait) if wait.is_zero() => {}
                        Ok(wait) => {
                            let sleep = crate::engine::sleep(&c.sleeper, wait);
                            this.phase = Phase::Paced(Box::pin(sleep));
                            continue;
                        }
                        Err(throttled) => {
                            let site = this.site();
                            this.step.throttled(&site);
                            trace_give_up(&site, 0, GiveUp::Throttled, &throttled);
                            this.phase = Phase::Finished;
                            return Poll::Ready(Err(throttled.into()));
                        }
                    }
                    if let Err(refused) = this.send_first() {
                        this.phase = Phase::Finished;
                        return Poll::Ready(Err(refused));
                    }
                    this.phase = Phase::Racing;
                }
                Phase::Paced(sleep) => {
                    ready!(sleep.as_mut().poll(cx));
                    if let Err(refused) = this.send_first() {
                        this.phase = Phase::Finished;
                        return Poll::Ready(Err(refused));
                    }
                    this.phase = Phase::Racing;
                }
                Phase::Racing => {
                    let outcome = ready!(this.poll_race(cx));
                    this.phase = Phase::Finished;
                    return Poll::Ready(outcome);
                }
                // Polled after it returned: nothing more to do.
                Phase::Finished => return Poll::Pending,
            }
        }
    }
}
