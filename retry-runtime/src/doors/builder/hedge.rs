//! Hedged calls on the async builder: [`Retry::hedge`], [`Retry::hedge_at`],
//! [`Retry::hedge_at_percentile`] and [`Hedged::hedge_with`], and the future that races the
//! copies ([`HedgeFuture`]) on the engine's hedge turn.

use core::future::{Future, IntoFuture};
use core::pin::Pin;
use core::task::{ready, Context, Poll};
use core::time::Duration;
use std::boxed::Box;
use std::vec::Vec;

use super::report::{Finish as Tallied, Reported};
use super::settle::{admit, judgment, refused, OutcomeText};
use super::{CallName, Gate, Hook, Judge, Limit, Recover, RecoverFor, Refusal, Retry};
use crate::attempt::CallKey;
use crate::engine::observe::trace_give_up;
use crate::engine::race::{Copies, Finish, Race};
use crate::engine::span::InSpan;
use crate::engine::{CallSpan, NoReport, Stop, Tally};
use crate::engine::{GiveUp, Guards, HedgeDelay, HedgeTurn, Hedging, Site, StartAndPrevious, Step};
use crate::runtime::clock::between;
use crate::runtime::{Sleeper, Stamp};
use crate::{Attempt, CallReport, Latencies, Policy, RetryBudget, RetryInfo};

pin_project_lite::pin_project! {
    /// One copy of a hedged call: the operation's future, or the alternate's
    /// ([`Hedged::hedge_with`]).
    pub struct HedgeCopy<P, A> {
        #[pin]
        future: Either<P, A>,
    }
}

pin_project_lite::pin_project! {
    #[project = EitherProj]
    enum Either<P, A> {
        // A copy of the operation.
        Same { #[pin] future: P },
        // A copy sent to the alternate operation.
        Alternate { #[pin] future: A },
    }
}

impl<P, A> HedgeCopy<P, A> {
    /// A copy of the operation.
    pub fn same(future: P) -> Self {
        HedgeCopy {
            future: Either::Same { future },
        }
    }

    /// A copy sent to the alternate operation.
    pub fn alternate(future: A) -> Self {
        HedgeCopy {
            future: Either::Alternate { future },
        }
    }
}

impl<P: Future, A: Future<Output = P::Output>> Future for HedgeCopy<P, A> {
    type Output = P::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<P::Output> {
        match self.project().future.project() {
            EitherProj::Same { future } => future.poll(cx),
            EitherProj::Alternate { future } => future.poll(cx),
        }
    }
}

/// Where a hedged call sends its extra copies: the same operation ([`SameOp`]) or another
/// ([`HedgeWith`], from [`Hedged::hedge_with`]).
pub trait Alternate<Op, Fut: Future> {
    /// The alternate's future.
    type Future: Future<Output = Fut::Output>;
    /// An extra copy, for `attempt`.
    fn hedge(&mut self, op: &mut Op, attempt: Attempt) -> HedgeCopy<Fut, Self::Future>;
}

/// Extra copies go to the same operation.
#[derive(Clone, Copy, Debug, Default)]
pub struct SameOp;

impl<Op: FnMut(Attempt) -> Fut, Fut: Future> Alternate<Op, Fut> for SameOp {
    type Future = Fut;
    fn hedge(&mut self, op: &mut Op, attempt: Attempt) -> HedgeCopy<Fut, Fut> {
        HedgeCopy::same(op(attempt))
    }
}

/// [`Hedged::hedge_with`]: extra copies go to another operation.
#[derive(Clone, Copy, Debug)]
pub struct HedgeWith<F>(F);

impl<Op, Fut, F, AltFut> Alternate<Op, Fut> for HedgeWith<F>
where
    Fut: Future,
    F: FnMut(Attempt) -> AltFut,
    AltFut: Future<Output = Fut::Output>,
{
    type Future = AltFut;
    fn hedge(&mut self, _: &mut Op, attempt: Attempt) -> HedgeCopy<Fut, AltFut> {
        HedgeCopy::alternate((self.0)(attempt))
    }
}

/// A hedged call being configured; `.await` runs it. See [`Retry::hedge`].
#[must_use = "a hedged call does nothing until it is awaited"]
pub struct Hedged<'a, Op, J, H, G, Fb, L, N, S, A = SameOp> {
    retry: Retry<'a, Op, J, H, G, Fb, L, N, S>,
    hedging: Hedging<'a>,
    alternate: A,
}

impl<'a, Op, J, H, G, Fb, L, N, S> Retry<'a, Op, J, H, G, Fb, L, N, S> {
    /// Hedges the call: the first copy goes at once, another every `delay` until `copies`
    /// extra copies are out (`Duration::ZERO`: all at once). The first acceptable outcome
    /// wins and the other copies are dropped (cancelled); a copy that fails with a retryable
    /// outcome sends the next copy at once (after a server's pushback: when its hint says); a
    /// permanent outcome ends the call with it. **When every copy fails, the call returns the
    /// primary's (the first copy's) outcome**, to the fallback if one is set.
    ///
    /// Copies run at once, so the operation is called once per copy, each call with the
    /// call's one idempotency key ([`Attempt::idempotency_key`]) and its own attempt number;
    /// each copy asks the breaker and the throttle, and each extra copy takes a token from
    /// the budget (none left: no more copies). The policy's deadline bounds when a copy may
    /// start (and, with `.timeout`, how long each runs); its attempts and backoff are not used.
    /// Needs the `std` feature (the copies are kept on the heap).
    ///
    #[cfg_attr(feature = "tokio", doc = "```")]
    #[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
    /// use retry_runtime::{Attempt, Policy};
    /// use std::time::Duration;
    /// use tokio::time::{sleep, Instant};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let start = Instant::now();
    /// let reply = Policy::new()
    ///     .retry(|attempt: Attempt| async move {
    ///         // The first copy is slow; the second, sent after 50 ms, answers in 10.
    ///         let took = if attempt.attempt() == 1 { 1_000 } else { 10 };
    ///         sleep(Duration::from_millis(took)).await;
    ///         Ok::<_, std::io::Error>(attempt.attempt())
    ///     })
    ///     .hedge(Duration::from_millis(50), 1)
    ///     .await;
    /// assert_eq!(reply.unwrap(), 2);
    /// assert_eq!(start.elapsed(), Duration::from_millis(60));
    /// # }
    /// ```
    pub fn hedge(self, delay: Duration, copies: u32) -> Hedged<'a, Op, J, H, G, Fb, L, N, S> {
        self.hedged(Hedging::new(HedgeDelay::After(delay), copies))
    }

    /// Hedges the call at the `percentile` (`0.0..=1.0`, e.g. `0.95`) of the latencies of its
    /// accepted copies, kept in `latencies` (a `static`, or a value shared by the calls of
    /// one site): one extra copy ([`Hedged::copies`] for more), sent once the call has taken
    /// longer than that percentile. Until `latencies` holds enough samples
    /// ([`Latencies::with_min_samples`], 20 by default) no copy is sent on a timer. Otherwise
    /// as [`hedge`](Retry::hedge).
    pub fn hedge_at(
        self,
        latencies: &'a Latencies,
        percentile: f64,
    ) -> Hedged<'a, Op, J, H, G, Fb, L, N, S> {
        self.hedged(Hedging::new(
            HedgeDelay::Percentile(latencies, percentile),
            1,
        ))
    }

    /// [`hedge_at`](Retry::hedge_at) with a histogram per call site: the place in the source
    /// that calls this method (one histogram for every call made from there, kept for the
    /// process's life).
    #[track_caller]
    pub fn hedge_at_percentile(self, percentile: f64) -> Hedged<'a, Op, J, H, G, Fb, L, N, S> {
        let latencies = site_latencies(core::panic::Location::caller());
        self.hedge_at(latencies, percentile)
    }

    fn hedged(self, hedging: Hedging<'a>) -> Hedged<'a, Op, J, H, G, Fb, L, N, S> {
        Hedged {
            retry: self,
            hedging,
            alternate: SameOp,
        }
    }
}

/// The histogram of one call site of [`Retry::hedge_at_percentile`].
fn site_latencies(site: &'static core::panic::Location<'static>) -> &'static Latencies {
    use std::sync::Mutex;
    type Sites = Vec<(&'static core::panic::Location<'static>, &'static Latencies)>;
    static SITES: Mutex<Sites> = Mutex::new(Vec::new());
    let mut sites = SITES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, latencies)) = sites.iter().find(|(known, _)| *known == site) {
        return latencies;
    }
    let latencies: &'static Latencies = Box::leak(Box::new(Latencies::new()));
    sites.push((site, latencies));
    latencies
}

impl<'a, Op, J, H, G, Fb, L, N, S, A> Hedged<'a, Op, J, H, G, Fb, L, N, S, A> {
    /// Sends up to `copies` extra copies (besides the original).
    pub fn copies(mut self, copies: u32) -> Self {
        self.hedging = self.hedging.with_copies(copies);
        self
    }

    /// Sends the extra copies to `alternate` instead of the operation (a second provider, a
    /// replica): called with each extra copy's [`Attempt`], its future's output the
    /// operation's. The first copy always goes to the operation.
    ///
    #[cfg_attr(feature = "tokio", doc = "```")]
    #[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
    /// use retry_runtime::{Attempt, Policy};
    /// use std::time::Duration;
    ///
    /// async fn primary(_: Attempt) -> Result<&'static str, std::io::Error> {
    ///     tokio::time::sleep(Duration::from_secs(5)).await;
    ///     Ok("primary")
    /// }
    /// async fn backup(_: Attempt) -> Result<&'static str, std::io::Error> {
    ///     Ok("backup")
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let reply = Policy::new()
    ///     .retry(primary)
    ///     .hedge(Duration::from_millis(200), 1)
    ///     .hedge_with(backup)
    ///     .await;
    /// assert_eq!(reply.unwrap(), "backup");
    /// # }
    /// ```
    pub fn hedge_with<F, AltFut>(
        self,
        alternate: F,
    ) -> Hedged<'a, Op, J, H, G, Fb, L, N, S, HedgeWith<F>>
    where
        F: FnMut(Attempt) -> AltFut,
        AltFut: Future,
    {
        Hedged {
            retry: self.retry,
            hedging: self.hedging,
            alternate: HedgeWith(alternate),
        }
    }
}

/// A copy's future as the timeout wraps it.
type CopyOf<Op, A, Fut> = HedgeCopy<Fut, <A as Alternate<Op, Fut>>::Future>;

/// One copy out: its future, its breaker permit, when it started and its number (1: the
/// primary).
pub struct CopyOut<C, P> {
    // With `tracing`, polled in the copy's own span (`retry`, its `attempt`).
    future: Pin<Box<InSpan<C>>>,
    permit: Option<P>,
    started: Stamp,
    number: u32,
}

/// What a hedged call keeps besides its copies: the builder's parts and the engine's step.
struct HedgeCall<'a, Op, A, J, H, L, G, N, S, Tl> {
    policy: &'a Policy,
    op: Op,
    alternate: A,
    judge: J,
    hook: H,
    limit: L,
    budget: Option<&'a RetryBudget>,
    name: N,
    key: CallKey,
    gate: G,
    sleeper: S,
    hedging: Hedging<'a>,
    step: Step<StartAndPrevious>,
    tally: Tl,
}

/// The race of a call's copies.
type CopiesOf<'a, Op, A, Fut, L, G, S> = Race<
    CopyOut<<L as Limit<CopyOf<Op, A, Fut>, S>>::Attempt, <G as Gate<'a>>::Permit>,
    <Fut as Future>::Output,
    <S as Sleeper>::Sleep,
>;

/// Where a hedged call is.
enum Phase<Sl, B> {
    // The first copy asks the throttle and the rate limiter (only when they are set).
    Admit,
    // The first copy waits for its pacing.
    Paced(Pin<Box<Sl>>),
    // Copies are out.
    Racing,
    // The fallback answers the last outcome.
    Recovering(Pin<Box<B>>),
    // The outcome was returned.
    Finished,
}

/// The future of an awaited [`Hedged`].
#[must_use = "futures do nothing unless polled"]
pub struct HedgeFuture<'a, Op, A, Fut, J, H, L, G, Fb, N, S, Tl = NoReport>
where
    Fut: Future,
    A: Alternate<Op, Fut>,
    L: Limit<CopyOf<Op, A, Fut>, S>,
    G: Gate<'a>,
    Fb: RecoverFor<Fut::Output>,
    S: Sleeper,
{
    call: HedgeCall<'a, Op, A, J, H, L, G, N, S, Tl>,
    race: CopiesOf<'a, Op, A, Fut, L, G, S>,
    fallback: Fb,
    phase: Phase<S::Sleep, Fb::Future>,
}

// Everything that needs pinning is boxed.
impl<'a, Op, A, Fut, J, H, L, G, Fb, N, S, Tl> Unpin
    for HedgeFuture<'a, Op, A, Fut, J, H, L, G, Fb, N, S, Tl>
where
    Fut: Future,
    A: Alternate<Op, Fut>,
    L: Limit<CopyOf<Op, A, Fut>, S>,
    G: Gate<'a>,
    Fb: RecoverFor<Fut::Output>,
    S: Sleeper,
{
}

impl<'a, Op, J, H, G, Fb, L, N, S, A> Hedged<'a, Op, J, H, G, Fb, L, N, S, A> {
    /// The future, recording into `tally` as the call goes.
    fn into_future_tallied<Fut, Tl>(
        self,
        tally: Tl,
    ) -> HedgeFuture<'a, Op, A, Fut, J, H, L, G, Fb, N, S, Tl>
    where
        Fut: Future,
        A: Alternate<Op, Fut>,
        L: Limit<CopyOf<Op, A, Fut>, S>,
        G: Gate<'a>,
        Fb: RecoverFor<Fut::Output>,
        S: Sleeper,
    {
        let retry = self.retry;
        HedgeFuture {
            call: HedgeCall {
                step: Step::begin_on(retry.policy, true, &retry.sleeper),
                policy: retry.policy,
                op: retry.op,
                alternate: self.alternate,
                judge: retry.judge,
                hook: retry.hook,
                limit: retry.limit,
                budget: retry.budget,
                name: retry.name,
                key: CallKey::new(retry.key),
                gate: retry.gate,
                sleeper: retry.sleeper,
                hedging: self.hedging,
                tally,
            },
            race: Race::new(),
            fallback: retry.fallback,
            phase: Phase::Admit,
        }
    }

    /// The call's outcome together with its [`CallReport`](crate::CallReport) (attempts,
    /// hedges, time slept, why it stopped): `.await` gives `(Result<T, E>, CallReport)`.
    pub fn report(self) -> Reported<Self> {
        Reported(self)
    }
}

impl<'a, Op, J, H, G, Fb, L, N, S, A, Fut, T, E> IntoFuture
    for Hedged<'a, Op, J, H, G, Fb, L, N, S, A>
where
    Op: FnMut(Attempt) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    A: Alternate<Op, Fut>,
    J: Judge<T, E>,
    H: Hook<T, E>,
    L: Limit<CopyOf<Op, A, Fut>, S>,
    G: Gate<'a>,
    G::Refused: Refusal<E>,
    Fb: Recover<T, E>,
    N: CallName,
    S: Sleeper,
{
    type Output = Result<T, E>;
    type IntoFuture = HedgeFuture<'a, Op, A, Fut, J, H, L, G, Fb, N, S>;

    fn into_future(self) -> Self::IntoFuture {
        self.into_future_tallied(NoReport)
    }
}

impl<'a, Op, J, H, G, Fb, L, N, S, A, Fut, T, E> IntoFuture
    for Reported<Hedged<'a, Op, J, H, G, Fb, L, N, S, A>>
where
    Op: FnMut(Attempt) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    A: Alternate<Op, Fut>,
    J: Judge<T, E>,
    H: Hook<T, E>,
    L: Limit<CopyOf<Op, A, Fut>, S>,
    G: Gate<'a>,
    G::Refused: Refusal<E>,
    Fb: Recover<T, E>,
    N: CallName,
    S: Sleeper,
{
    type Output = (Result<T, E>, CallReport);
    type IntoFuture = HedgeFuture<'a, Op, A, Fut, J, H, L, G, Fb, N, S, CallReport>;

    fn into_future(self) -> Self::IntoFuture {
        self.0.into_future_tallied(CallReport::new())
    }
}

impl<'a, Op, A, Fut, J, H, L, G, N, S, T, E, Tl: Tally> HedgeCall<'a, Op, A, J, H, L, G, N, S, Tl>
where
    Op: FnMut(Attempt) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    A: Alternate<Op, Fut>,
    J: Judge<T, E>,
    H: Hook<T, E>,
    L: Limit<CopyOf<Op, A, Fut>, S>,
    G: Gate<'a>,
    G::Refused: Refusal<E>,
    N: CallName,
    S: Sleeper,
{
    /// The first copy's pacing: the wait before it goes out, or the refusal's outcome.
    fn admit(&mut self) -> Result<Duration, Result<T, E>> {
        let guards = Guards::new(self.budget, self.gate.breaker());
        let site = Site::named(self.name.call_name());
        admit(
            &self.step,
            self.policy,
            &self.judge,
            guards,
            &site,
            &self.sleeper,
            &mut self.tally,
        )
    }

    /// The first copy, under the breaker's permit; or the refusal's outcome.
    fn first(&mut self) -> Result<CopyOut<L::Attempt, G::Permit>, Result<T, E>> {
        match self.gate.enter() {
            Ok(permit) => {
                self.tally.attempt(1);
                let copy = HedgeCopy::same((self.op)(self.key.attempt(1)));
                Ok(self.copy(copy, permit))
            }
            Err(refusal) => {
                let site = Site::named(self.name.call_name());
                Err(refused(&self.step, refusal, &site, &mut self.tally))
            }
        }
    }

    /// A copy out, limited by the timeout (and the deadline).
    fn copy(&self, copy: CopyOf<Op, A, Fut>, permit: G::Permit) -> CopyOut<L::Attempt, G::Permit> {
        let (step, policy, sleeper) = (&self.step, self.policy, &self.sleeper);
        let future = self.limit.wrap(
            copy,
            |limit| step.attempt_timeout(policy, limit, sleeper),
            sleeper,
        );
        let span = CallSpan::new(self.name.call_name());
        span.record_attempt(self.step.attempt());
        CopyOut {
            future: Box::pin(span.instrument(future)),
            permit: Some(permit),
            started: self.sleeper.now(),
            number: self.step.attempt(),
        }
    }
}

impl<'a, Op, A, Fut, J, H, L, G, N, S, T, E, Tl: Tally> Copies
    for HedgeCall<'a, Op, A, J, H, L, G, N, S, Tl>
where
    Op: FnMut(Attempt) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    A: Alternate<Op, Fut>,
    J: Judge<T, E>,
    H: Hook<T, E>,
    L: Limit<CopyOf<Op, A, Fut>, S>,
    G: Gate<'a>,
    G::Refused: Refusal<E>,
    N: CallName,
    S: Sleeper,
{
    type Copy = CopyOut<L::Attempt, G::Permit>;
    type Outcome = Result<T, E>;
    type Sleep = S::Sleep;

    fn send(&mut self) -> Result<Self::Copy, GiveUp> {
        let permit = self.gate.enter().map_err(|_| GiveUp::BreakerOpen)?;
        let site = Site::named(self.name.call_name());
        let guards = self
            .judge
            .pace(Guards::new(self.budget, self.gate.breaker()));
        self.step
            .hedge_leave(self.policy, &self.hedging, guards, &site, &self.sleeper)?;
        self.tally.hedge();
        self.tally.attempt(self.step.attempt());
        let attempt = self.key.attempt(self.step.attempt());
        let copy = self.alternate.hedge(&mut self.op, attempt);
        Ok(self.copy(copy, permit))
    }

    fn next_delay(&self) -> Option<Duration> {
        if self.step.attempt() > self.hedging.copies() {
            return None;
        }
        self.hedging.delay()
    }

    fn sleep(&self, delay: Duration) -> S::Sleep {
        crate::engine::sleep(&self.sleeper, delay)
    }

    fn poll_copy(&mut self, copy: &mut Self::Copy, cx: &mut Context<'_>) -> Poll<Result<T, E>> {
        copy.future.as_mut().poll(cx).map(|(out, _)| L::finish(out))
    }

    fn settle(&mut self, copy: Self::Copy, outcome: &Result<T, E>) -> (HedgeTurn, bool) {
        let judged = judgment(&self.judge, outcome);
        let judged = if judged.is_accepted() {
            judged
        } else {
            judged.overloaded(J::PACES && self.judge.overloaded(outcome))
        };
        let site = Site::named(self.name.call_name());
        let permit = G::permit(copy.permit);
        let guards = self
            .judge
            .pace(Guards::new(self.budget, self.gate.breaker()));
        let turn = self
            .step
            .hedge_turn(self.policy, guards, permit, judged, &site, &self.sleeper);
        match turn {
            HedgeTurn::Won => {
                let latency = between(copy.started, self.sleeper.now());
                self.hedging.accepted_after(latency);
                self.tally.stopped(Stop::Accepted);
            }
            HedgeTurn::Ended(reason) => {
                self.tally.stopped(Stop::GaveUp(reason));
                let text = OutcomeText(&self.judge, outcome);
                trace_give_up(&site, self.step.attempt(), reason, &text);
            }
            HedgeTurn::Next(wait) => {
                let elapsed = self.step.elapsed(&self.sleeper).unwrap_or_default();
                let info = RetryInfo::new(copy.number, wait, elapsed);
                self.hook.call(outcome, &info);
            }
            HedgeTurn::Exhausted(_) => {}
        }
        (turn, copy.number == 1)
    }

    #[cold]
    fn all_failed(&mut self, reason: GiveUp, last: &Result<T, E>) {
        let site = Site::named(self.name.call_name());
        let reason = self.step.hedges_over(reason, last.is_ok(), &site);
        self.tally.stopped(Stop::GaveUp(reason));
        trace_give_up(
            &site,
            self.step.attempt(),
            reason,
            &OutcomeText(&self.judge, last),
        );
    }
}

impl<'a, Op, A, Fut, J, H, L, G, Fb, N, S, T, E, Tl> Future
    for HedgeFuture<'a, Op, A, Fut, J, H, L, G, Fb, N, S, Tl>
where
    Op: FnMut(Attempt) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    A: Alternate<Op, Fut>,
    J: Judge<T, E>,
    H: Hook<T, E>,
    L: Limit<CopyOf<Op, A, Fut>, S>,
    G: Gate<'a>,
    G::Refused: Refusal<E>,
    Fb: Recover<T, E>,
    N: CallName,
    S: Sleeper,
    Tl: Tallied<Result<T, E>>,
{
    type Output = Tl::Output;

    /// Pacing → the first copy → the race (the engine's) → the winner, or the last outcome to
    /// the fallback.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Tl::Output> {
        let this = self.get_mut();
        loop {
            let last = match &mut this.phase {
                Phase::Admit => match this.call.admit() {
                    Ok(wait) if wait.is_zero() => match this.start() {
                        Ok(()) => continue,
                        Err(refused) => refused,
                    },
                    Ok(wait) => {
                        let sleep = crate::engine::sleep(&this.call.sleeper, wait);
                        this.phase = Phase::Paced(Box::pin(sleep));
                        continue;
                    }
                    Err(refused) => refused,
                },
                Phase::Paced(sleep) => {
                    ready!(sleep.as_mut().poll(cx));
                    match this.start() {
                        Ok(()) => continue,
                        Err(refused) => refused,
                    }
                }
                Phase::Racing => match ready!(this.race.poll(&mut this.call, cx)) {
                    Finish::Won(outcome) => {
                        this.phase = Phase::Finished;
                        return Poll::Ready(this.call.tally.finish(outcome));
                    }
                    Finish::GaveUp(last) => last,
                },
                Phase::Recovering(answer) => {
                    let answer = ready!(answer.as_mut().poll(cx));
                    this.phase = Phase::Finished;
                    return Poll::Ready(this.call.tally.finish(answer));
                }
                // Polled after it returned: nothing more to do.
                Phase::Finished => return Poll::Pending,
            };
            match this.fallback.recover(last) {
                Ok(answer) => this.phase = Phase::Recovering(Box::pin(answer)),
                Err(last) => {
                    this.phase = Phase::Finished;
                    return Poll::Ready(this.call.tally.finish(last));
                }
            }
        }
    }
}

impl<'a, Op, A, Fut, J, H, L, G, Fb, N, S, T, E, Tl: Tally>
    HedgeFuture<'a, Op, A, Fut, J, H, L, G, Fb, N, S, Tl>
where
    Op: FnMut(Attempt) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    A: Alternate<Op, Fut>,
    J: Judge<T, E>,
    H: Hook<T, E>,
    L: Limit<CopyOf<Op, A, Fut>, S>,
    G: Gate<'a>,
    G::Refused: Refusal<E>,
    Fb: RecoverFor<Result<T, E>>,
    N: CallName,
    S: Sleeper,
{
    /// The first copy out and the race started; or the refusal's outcome.
    fn start(&mut self) -> Result<(), Result<T, E>> {
        let first = self.call.first()?;
        self.race.start(&mut self.call, first);
        self.phase = Phase::Racing;
        Ok(())
    }
}
