//! The future of a [`Retry`](super::Retry) call: pacing, readiness, attempts and sleeps in one
//! value, on the engine's one turn.

use core::future::Future;
use core::pin::Pin;
use core::task::{ready, Context, Poll};
use core::time::Duration;

use tower_service::Service;

use super::judge::{judge, OutcomeText, Responses};
use super::{BoxError, Config, Replay};
use crate::builder::Hook;
use crate::engine::observe::{trace_give_up, trace_retry};
use crate::engine::{CallSpan, GiveUp, Judged, Site, StartAndPrevious, Step, Turn};
use crate::runtime::{Elapsed, Sleeper, Timed};
use crate::{Permit, TimedOut};

pin_project_lite::pin_project! {
    /// The future of a [`Retry`](super::Retry) call. No allocation: it holds the service's
    /// clone, what is kept of the request, and where the call is.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<Svc, Req, K, H, S>
    where
        Svc: Service<Req>,
        Req: Replay,
        S: Sleeper,
    {
        call: Call<Svc, Req, K, H, S>,
        #[pin]
        state: State<Svc::Future, S::Sleep>,
    }
}

/// What the call keeps from attempt to attempt.
struct Call<Svc, Req: Replay, K, H, S> {
    config: Config<K, H, S>,
    service: Svc,
    kept: Req::Kept,
    /// The copy of the request the next attempt sends.
    next: Option<Req>,
    /// Whether `service` is ready for `next` (the caller readied it for the first attempt).
    ready: bool,
    resend_safe: bool,
    step: Step<StartAndPrevious>,
    span: CallSpan,
}

pin_project_lite::pin_project! {
    /// Where the call is; each state holds what it needs.
    #[project = StateProj]
    enum State<F, Sl> {
        // The first attempt asks the throttle, the rate limiter and the rate-limit headers.
        Admit,
        // The next attempt waits for the service to be ready, then asks the breaker.
        Ready,
        // An attempt runs, holding the breaker's permit.
        Running { #[pin] attempt: Attempt<F, Sl>, permit: Option<Permit<'static>> },
        // A sleep before the next attempt.
        Sleeping { #[pin] sleep: Sl },
    }
}

/// The state of a call of `Svc`.
type CallState<Svc, Req, S> = State<<Svc as Service<Req>>::Future, <S as Sleeper>::Sleep>;

pin_project_lite::pin_project! {
    /// An attempt, cut off after the per-attempt timeout when there is one.
    #[project = AttemptProj]
    pub(super) enum Attempt<F, Sl> {
        Bare { #[pin] sent: F },
        Timed { #[pin] sent: Timed<F, Sl> },
    }
}

impl<F: Future<Output = Result<T, E>>, Sl: Future<Output = ()>, T, E: Into<BoxError>> Future
    for Attempt<F, Sl>
{
    type Output = Result<T, BoxError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(match self.project() {
            AttemptProj::Bare { sent } => ready!(sent.poll(cx)).map_err(Into::into),
            AttemptProj::Timed { sent } => match ready!(sent.poll(cx)) {
                Ok(outcome) => outcome.map_err(Into::into),
                Err(Elapsed) => Err(TimedOut.into()),
            },
        })
    }
}

impl<Svc, Req, K, H, S> ResponseFuture<Svc, Req, K, H, S>
where
    Svc: Service<Req>,
    Req: Replay,
    H: Hook<Svc::Response, BoxError>,
    S: Sleeper,
{
    /// The call of `request` on `service` (made ready by the caller).
    #[inline]
    pub(super) fn new(service: Svc, request: Req, config: Config<K, H, S>) -> Self {
        let (first, kept) = request.keep(config.body_limit);
        let paces =
            config.throttle.is_some() || config.limiter.is_some() || config.rate_limits.is_some();
        ResponseFuture {
            call: Call {
                step: Step::begin_on(&config.policy, H::ELAPSED, &config.sleeper),
                span: if Req::HTTP {
                    CallSpan::http(config.name)
                } else {
                    CallSpan::new(config.name)
                },
                resend_safe: config.non_idempotent || Req::resend_safe(&kept),
                config,
                service,
                kept,
                next: Some(first),
                ready: true,
            },
            state: if paces { State::Admit } else { State::Ready },
        }
    }
}

impl<Svc, Req, K, H, S> Call<Svc, Req, K, H, S>
where
    Svc: Service<Req>,
    Svc::Error: Into<BoxError>,
    Req: Replay,
    K: Responses<Svc::Response>,
    H: Hook<Svc::Response, BoxError>,
    S: Sleeper,
{
    /// The first attempt's pacing: the wait before it goes out, or the refusal.
    fn admit(&self) -> Result<Duration, BoxError> {
        let c = &self.config;
        match self.step.admit(&c.policy, self.config.guards(), &c.sleeper) {
            Ok(wait) => Ok(wait),
            Err(throttled) => {
                let site = Site::named(&c.name);
                self.step.throttled(&site);
                trace_give_up(&site, 0, GiveUp::Throttled, &throttled);
                Err(throttled.into())
            }
        }
    }

    /// The service's readiness, then the breaker, then the attempt.
    #[inline]
    fn start(&mut self, cx: &mut Context<'_>) -> Poll<Result<CallState<Svc, Req, S>, BoxError>> {
        if !self.ready {
            ready!(self.service.poll_ready(cx)).map_err(Into::into)?;
            self.ready = true;
        }
        let permit = match self.step.enter(self.config.breaker) {
            Ok(permit) => permit,
            Err(open) => {
                let site = Site::named(&self.config.name);
                self.step.refused(&site);
                trace_give_up(&site, self.step.attempts_made(), GiveUp::BreakerOpen, &open);
                return Poll::Ready(Err(open.into()));
            }
        };
        let Some(request) = self.next.take() else {
            return Poll::Ready(Err("the request could not be sent again".into()));
        };
        self.ready = false;
        self.span.record_attempt(self.step.attempt());
        let sent = self.span.in_scope(|| self.service.call(request));
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
        Poll::Ready(Ok(State::Running { attempt, permit }))
    }

    /// The judgment and the engine's turn: the delay before the next attempt, or `None` when
    /// `outcome` is the call's.
    #[inline]
    fn settle(
        &mut self,
        permit: Option<Permit<'static>>,
        outcome: &Result<Svc::Response, BoxError>,
    ) -> Option<Duration> {
        let c = &self.config;
        if let Ok(response) = outcome {
            c.responses.seen(response, &c.sleeper);
        }
        let replayable = Req::replayable(&self.kept);
        let judged = judge(&c.responses, outcome, replayable, self.resend_safe);
        if judged.is_accepted() {
            let site = Site::named(&c.name);
            self.step
                .accepted(self.config.guards(), permit, &site, &c.sleeper);
            return None;
        }
        self.failed(permit, judged, outcome)
    }

    /// [`settle`](Call::settle) after a failure, out of line.
    #[cold]
    #[inline(never)]
    fn failed(
        &mut self,
        permit: Option<Permit<'static>>,
        judged: Judged,
        outcome: &Result<Svc::Response, BoxError>,
    ) -> Option<Duration> {
        let c = &self.config;
        let (guards, site) = (self.config.guards(), Site::named(&c.name));
        let shown = OutcomeText(&c.responses, outcome);
        match self
            .step
            .turn(&c.policy, guards, permit, judged, &site, &c.sleeper)
        {
            Turn::Done => None,
            Turn::GiveUp(reason) => {
                trace_give_up(&site, self.step.attempt(), reason, &shown);
                None
            }
            Turn::Retry(info) => {
                trace_retry(&site, &info, &shown);
                c.hook.call(outcome, &info);
                // Checked as `replayable` above: the copy can be made.
                self.next = Req::again(&self.kept);
                self.next.as_ref().map(|_| info.delay())
            }
        }
    }

    /// The wait before the next attempt: none for a zero delay.
    fn sleeping(&self, delay: Duration) -> CallState<Svc, Req, S> {
        if delay.is_zero() {
            State::Ready
        } else {
            State::Sleeping {
                sleep: crate::engine::sleep(&self.config.sleeper, delay),
            }
        }
    }
}

impl<Svc, Req, K, H, S> Future for ResponseFuture<Svc, Req, K, H, S>
where
    Svc: Service<Req>,
    Svc::Error: Into<BoxError>,
    Req: Replay,
    K: Responses<Svc::Response>,
    H: Hook<Svc::Response, BoxError>,
    S: Sleeper,
{
    type Output = Result<Svc::Response, BoxError>;

    /// Pacing → readiness → breaker → attempt → judge → the engine's turn → return or sleep.
    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let next = match this.state.as_mut().project() {
                StateProj::Admit => match this.call.admit() {
                    Ok(wait) => this.call.sleeping(wait),
                    Err(refused) => return Poll::Ready(Err(refused)),
                },
                StateProj::Ready => match ready!(this.call.start(cx)) {
                    Ok(running) => running,
                    Err(error) => return Poll::Ready(Err(error)),
                },
                StateProj::Running { attempt, permit } => {
                    let outcome = {
                        let _entered = this.call.span.enter();
                        ready!(attempt.poll(cx))
                    };
                    match this.call.settle(permit.take(), &outcome) {
                        None => return Poll::Ready(outcome),
                        Some(delay) => this.call.sleeping(delay),
                    }
                }
                StateProj::Sleeping { sleep } => {
                    ready!(sleep.poll(cx));
                    State::Ready
                }
            };
            this.state.set(next);
        }
    }
}
