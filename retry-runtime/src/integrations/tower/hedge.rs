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
use crate::engine::race::{Copies, Finish, Race};
use crate::engine::{
    CallSpan, GiveUp, HedgeDelay, HedgeTurn, Hedging, Site, StartAndPrevious, Step,
};
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
struct CopyOut<Svc: Service<Req>, Req, Sl> {
    state: CopyState<Svc, Req, Sl>,
    // With `tracing`, the copy's own span (`retry`, its `attempt` and resend count).
    span: CallSpan,
    permit: Option<Permit<'static>>,
    started: Stamp,
    number: u32,
}

/// What a hedged call keeps besides its copies.
struct HedgeCall<Svc, Req: Replay, K, H, S> {
    config: Config<K, H, S>,
    hedging: Hedging<'static>,
    // A service to clone for each copy after the first.
    spare: Svc,
    kept: Req::Kept,
    resend_safe: bool,
    step: Step<StartAndPrevious>,
}

/// Where a hedged call is.
enum Phase<Svc, Req, Sl> {
    // The first copy asks the throttle, the rate limiter and the rate-limit headers.
    Admit {
        first: Option<(Svc, Req)>,
    },
    // The first copy waits for its pacing.
    Paced {
        sleep: Pin<Box<Sl>>,
        first: Option<(Svc, Req)>,
    },
    // Copies are out.
    Racing,
    // The outcome was returned.
    Finished,
}

/// The race of a call's copies.
type CopiesOf<Svc, Req, S> = Race<
    CopyOut<Svc, Req, <S as Sleeper>::Sleep>,
    Result<<Svc as Service<Req>>::Response, BoxError>,
    <S as Sleeper>::Sleep,
>;

/// The future of a [`Hedge`] call.
#[must_use = "futures do nothing unless polled"]
pub struct HedgeFuture<Svc, Req, K, H, S>
where
    Svc: Service<Req>,
    Req: Replay,
    S: Sleeper,
{
    call: HedgeCall<Svc, Req, K, H, S>,
    race: CopiesOf<Svc, Req, S>,
    phase: Phase<Svc, Req, S::Sleep>,
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
            call: HedgeCall {
                step: Step::begin_on(&config.policy, true, &config.sleeper),
                resend_safe: config.non_idempotent || Req::resend_safe(&kept),
                spare: service.clone(),
                kept,
                config,
                hedging,
            },
            race: Race::new(),
            phase: Phase::Admit {
                first: Some((service, first)),
            },
        }
    }

    /// The first copy out and the race started; or the breaker's refusal.
    fn start(&mut self, first: Option<(Svc, Req)>) -> Result<(), BoxError> {
        let Some((service, request)) = first else {
            return Err("the request was already sent".into());
        };
        let permit = self.call.enter()?;
        let first = self.call.copy(service, request, permit);
        self.race.start(&mut self.call, first);
        self.phase = Phase::Racing;
        Ok(())
    }
}

impl<Svc, Req, K, H, S> HedgeCall<Svc, Req, K, H, S>
where
    Svc: Service<Req> + Clone,
    Svc::Error: Into<BoxError>,
    Req: Replay,
    K: Responses<Svc::Response>,
    H: Hook<Svc::Response, BoxError>,
    S: Sleeper,
{
    /// The first copy's pacing: the wait before it goes out, or the refusal.
    fn admit(&self) -> Result<Duration, BoxError> {
        let c = &self.config;
        self.step
            .admit(&c.policy, self.config.guards(), &c.sleeper)
            .map_err(|throttled| {
                let site = Site::named(&c.name);
                self.step.throttled(&site);
                trace_give_up(&site, 0, GiveUp::Throttled, &throttled);
                throttled.into()
            })
    }

    /// The breaker's leave for the first copy, or its refusal.
    fn enter(&self) -> Result<Option<Permit<'static>>, BoxError> {
        self.step.enter(self.config.breaker).map_err(|open| {
            let site = Site::named(&self.config.name);
            self.step.refused(&site);
            trace_give_up(&site, 0, GiveUp::BreakerOpen, &open);
            open.into()
        })
    }

    fn copy(
        &self,
        service: Svc,
        request: Req,
        permit: Option<Permit<'static>>,
    ) -> CopyOut<Svc, Req, S::Sleep> {
        let span = if Req::HTTP {
            CallSpan::http(self.config.name)
        } else {
            CallSpan::new(self.config.name)
        };
        span.record_attempt(self.step.attempt());
        CopyOut {
            span,
            state: CopyState::Readying {
                service,
                request: Some(request),
            },
            permit,
            started: self.config.sleeper.now(),
            number: self.step.attempt(),
        }
    }
}

impl<Svc, Req, K, H, S> Copies for HedgeCall<Svc, Req, K, H, S>
where
    Svc: Service<Req> + Clone,
    Svc::Error: Into<BoxError>,
    Req: Replay,
    K: Responses<Svc::Response>,
    H: Hook<Svc::Response, BoxError>,
    S: Sleeper,
{
    type Copy = CopyOut<Svc, Req, S::Sleep>;
    type Outcome = Result<Svc::Response, BoxError>;
    type Sleep = S::Sleep;

    fn send(&mut self) -> Result<Self::Copy, GiveUp> {
        let request = Req::again(&self.kept).ok_or(GiveUp::OutOfAttempts)?;
        let permit = self
            .step
            .enter(self.config.breaker)
            .map_err(|_| GiveUp::BreakerOpen)?;
        let (guards, site) = (self.config.guards(), Site::named(&self.config.name));
        let c = &self.config;
        self.step
            .hedge_leave(&c.policy, &self.hedging, guards, &site, &c.sleeper)?;
        Ok(self.copy(self.spare.clone(), request, permit))
    }

    /// A request not safe to send twice gets no timer.
    fn next_delay(&self) -> Option<Duration> {
        if !self.resend_safe || self.step.attempt() > self.hedging.copies() {
            return None;
        }
        self.hedging.delay()
    }

    fn sleep(&self, delay: Duration) -> S::Sleep {
        crate::engine::sleep(&self.config.sleeper, delay)
    }

    /// The copy's service's readiness, then its answer.
    fn poll_copy(&mut self, copy: &mut Self::Copy, cx: &mut Context<'_>) -> Poll<Self::Outcome> {
        let _entered = copy.span.enter();
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

    fn settle(&mut self, copy: Self::Copy, outcome: &Self::Outcome) -> (HedgeTurn, bool) {
        let c = &self.config;
        if let Ok(response) = outcome {
            c.responses.seen(response, &c.sleeper);
        }
        let replayable = Req::replayable(&self.kept);
        let judged = judge(&c.responses, outcome, replayable, self.resend_safe);
        let (guards, site) = (self.config.guards(), Site::named(&c.name));
        let turn = self
            .step
            .hedge_turn(&c.policy, guards, copy.permit, judged, &site, &c.sleeper);
        match turn {
            HedgeTurn::Won => {
                let latency = between(copy.started, c.sleeper.now());
                self.hedging.accepted_after(latency);
            }
            HedgeTurn::Ended(reason) => {
                let shown = OutcomeText(&c.responses, outcome);
                trace_give_up(&site, self.step.attempt(), reason, &shown);
            }
            HedgeTurn::Next(wait) => {
                let elapsed = self.step.elapsed(&c.sleeper).unwrap_or_default();
                let info = RetryInfo::new(copy.number, wait, elapsed);
                c.hook.call(outcome, &info);
            }
            HedgeTurn::Exhausted(_) => {}
        }
        (turn, copy.number == 1)
    }

    #[cold]
    fn all_failed(&mut self, reason: GiveUp, last: &Self::Outcome) {
        let site = Site::named(&self.config.name);
        let reason = self.step.hedges_over(reason, last.is_ok(), &site);
        let shown = OutcomeText(&self.config.responses, last);
        trace_give_up(&site, self.step.attempt(), reason, &shown);
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

    /// Pacing → the first copy → the race (the engine's: timer, readiness, copies, the hedge
    /// turn).
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            let started = match &mut this.phase {
                Phase::Admit { first } => match this.call.admit() {
                    Ok(wait) if wait.is_zero() => {
                        let first = first.take();
                        this.start(first)
                    }
                    Ok(wait) => {
                        let sleep = Box::pin(this.call.sleep(wait));
                        this.phase = Phase::Paced {
                            sleep,
                            first: first.take(),
                        };
                        continue;
                    }
                    Err(refused) => Err(refused),
                },
                Phase::Paced { sleep, first } => {
                    ready!(sleep.as_mut().poll(cx));
                    let first = first.take();
                    this.start(first)
                }
                Phase::Racing => {
                    let (Finish::Won(outcome) | Finish::GaveUp(outcome)) =
                        ready!(this.race.poll(&mut this.call, cx));
                    this.phase = Phase::Finished;
                    return Poll::Ready(outcome);
                }
                // Polled after it returned: nothing more to do.
                Phase::Finished => return Poll::Pending,
            };
            if let Err(refused) = started {
                this.phase = Phase::Finished;
                return Poll::Ready(Err(refused));
            }
        }
    }
}
