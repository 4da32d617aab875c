//! The async builder's future ([`RetryFuture`]) and [`Retry::run`](super::Retry::run).

/// How an attempt's future is limited in time, on sleeper `S`.
pub trait Limit<Fut: core::future::Future, S> {
    /// The attempt as polled.
    type Attempt: core::future::Future;
    /// The attempt, limited to `allowed` on `sleeper`'s timer if this is a timeout.
    fn wrap(
        &self,
        attempt: Fut,
        allowed: impl FnOnce(Duration) -> Duration,
        sleeper: &S,
    ) -> Self::Attempt;
    /// The attempt's outcome (a cut-off becomes the error `E::from(TimedOut)`).
    fn finish(out: <Self::Attempt as core::future::Future>::Output) -> Fut::Output;
}

use core::future::{Future, IntoFuture};
use core::pin::Pin;
use core::task::{ready, Context, Poll};
use core::time::Duration;

use super::{
    admit, refused, settle, CallName, Finish, Gate, Hook, Judge, NoReport, NoTimeout, Recover,
    Refusal, Retry, Settled, Timeout,
};
use crate::attempt::CallKey;
use crate::engine::{CallSpan, Guards, Site, StartAndPrevious, Step, Tally};
use crate::runtime::{Elapsed, Sleeper, Timed};
use crate::{Attempt, Policy, RetryBudget, TimedOut};

impl<Fut: Future, S> Limit<Fut, S> for NoTimeout {
    type Attempt = Fut;
    #[inline(always)]
    fn wrap(&self, attempt: Fut, _: impl FnOnce(Duration) -> Duration, _: &S) -> Fut {
        attempt
    }
    #[inline(always)]
    fn finish(out: Fut::Output) -> Fut::Output {
        out
    }
}

impl<Fut, T, E, S> Limit<Fut, S> for Timeout
where
    Fut: Future<Output = Result<T, E>>,
    E: From<TimedOut>,
    S: Sleeper,
{
    type Attempt = Timed<Fut, S::Sleep>;
    fn wrap(
        &self,
        attempt: Fut,
        allowed: impl FnOnce(Duration) -> Duration,
        sleeper: &S,
    ) -> Self::Attempt {
        crate::runtime::timeout(sleeper, allowed(self.0), attempt)
    }
    fn finish(out: Result<Result<T, E>, Elapsed>) -> Result<T, E> {
        out.unwrap_or_else(|_| Err(E::from(TimedOut)))
    }
}

/// [`Recover`] for an attempt's output type, so that the future can name the fallback's.
pub trait RecoverFor<R> {
    /// The fallback's future.
    type Future: Future<Output = R>;
}

impl<T, E, F: Recover<T, E>> RecoverFor<Result<T, E>> for F {
    type Future = F::Future;
}

pin_project_lite::pin_project! {
    /// The future of an awaited [`Retry`]: attempts, sleeps and the fallback, in one value
    /// with no allocation.
    #[must_use = "futures do nothing unless polled"]
    pub struct RetryFuture<'a, Op, Fut, J, H, L, G, Fb, N, S, Tl = NoReport>
    where
        Fut: Future,
        L: Limit<Fut, S>,
        G: Gate<'a>,
        Fb: RecoverFor<Fut::Output>,
        S: Sleeper,
    {
        call: Call<'a, Op, J, H, L, G, N, S, Tl>,
        fallback: Fb,
        span: CallSpan,
        #[pin]
        state: State<L::Attempt, G::Permit, Fb::Future, S::Sleep>,
    }
}

/// What the call keeps from attempt to attempt.
struct Call<'a, Op, J, H, L, G, N, S, Tl> {
    policy: &'a Policy,
    op: Op,
    judge: J,
    hook: H,
    limit: L,
    budget: Option<&'a RetryBudget>,
    name: N,
    key: CallKey,
    gate: G,
    sleeper: S,
    step: Step<StartAndPrevious>,
    tally: Tl,
}

pin_project_lite::pin_project! {
    /// Where the call is; each state holds what it needs.
    #[project = StateProj]
    enum State<A, P, B, Sl> {
        // The next attempt asks the gate.
        Start,
        // An attempt runs, holding the gate's permit.
        Running { #[pin] attempt: A, permit: Option<P> },
        // A sleep before the next attempt.
        Sleeping { #[pin] sleep: Sl },
        // The fallback answers the final error.
        Recovering { #[pin] answer: B },
        // The first attempt asks the throttle and the rate limiter (only when they are set).
        Admit,
    }
}

impl<'a, Op, Fut, J, H, L, G, Fb, N, S, T, E> IntoFuture for Retry<'a, Op, J, H, G, Fb, L, N, S>
where
    Op: FnMut(Attempt) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    J: Judge<T, E>,
    H: Hook<T, E>,
    L: Limit<Fut, S>,
    G: Gate<'a>,
    G::Refused: Refusal<E>,
    Fb: Recover<T, E>,
    N: CallName,
    S: Sleeper,
{
    type Output = Result<T, E>;
    type IntoFuture = RetryFuture<'a, Op, Fut, J, H, L, G, Fb, N, S>;

    fn into_future(self) -> Self::IntoFuture {
        self.into_future_tallied(NoReport)
    }
}

impl<'a, Op, J, H, G, Fb, L, N: CallName, S> Retry<'a, Op, J, H, G, Fb, L, N, S> {
    /// The future, recording into `tally` as the call goes.
    #[inline(always)]
    pub(super) fn into_future_tallied<Fut, T, E, Tl>(
        self,
        tally: Tl,
    ) -> RetryFuture<'a, Op, Fut, J, H, L, G, Fb, N, S, Tl>
    where
        Op: FnMut(Attempt) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        J: Judge<T, E>,
        L: Limit<Fut, S>,
        G: Gate<'a>,
        Fb: Recover<T, E>,
        H: Hook<T, E>,
        S: Sleeper,
    {
        let span = CallSpan::new(self.name.call_name());
        RetryFuture {
            call: Call {
                step: Step::begin_on(self.policy, H::ELAPSED, &self.sleeper),
                sleeper: self.sleeper,
                key: CallKey::new(self.key),
                policy: self.policy,
                op: self.op,
                judge: self.judge,
                hook: self.hook,
                limit: self.limit,
                budget: self.budget,
                name: self.name,
                gate: self.gate,
                tally,
            },
            fallback: self.fallback,
            span,
            state: if J::PACES { State::Admit } else { State::Start },
        }
    }
}

impl<'a, Op, Fut, J, H, L, G, N, S, T, E, Tl: Tally> Call<'a, Op, J, H, L, G, N, S, Tl>
where
    Op: FnMut(Attempt) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    J: Judge<T, E>,
    H: Hook<T, E>,
    L: Limit<Fut, S>,
    G: Gate<'a>,
    G::Refused: Refusal<E>,
    N: CallName,
    S: Sleeper,
{
    /// The first attempt's pacing: the wait before it goes out, or the refusal's outcome.
    #[inline(always)]
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

    /// The gate, then the next attempt under its permit; or the refusal's outcome.
    #[inline]
    fn start(&mut self) -> Result<(L::Attempt, G::Permit), Result<T, E>> {
        let permit = match self.gate.enter() {
            Ok(permit) => permit,
            Err(refusal) => {
                return Err(refused(
                    &self.step,
                    refusal,
                    &Site::named(self.name.call_name()),
                    &mut self.tally,
                ))
            }
        };
        let attempt = (self.op)(self.key.attempt(self.step.attempt()));
        let (step, policy, sleeper) = (&self.step, self.policy, &self.sleeper);
        let attempt = self.limit.wrap(
            attempt,
            |limit| step.attempt_timeout(policy, limit, sleeper),
            sleeper,
        );
        Ok((attempt, permit))
    }

    /// The judgment and the engine's turn: the delay before the next attempt, or `None`
    /// when `outcome` is the call's.
    #[inline]
    fn settle(&mut self, permit: Option<G::Permit>, outcome: &Result<T, E>) -> Settled {
        let guards = Guards::new(self.budget, self.gate.breaker());
        let site = Site::named(self.name.call_name());
        let (judge, hook) = (&self.judge, &self.hook);
        settle::<_, _, _, G, _>(
            &mut self.step,
            self.policy,
            judge,
            hook,
            guards,
            permit,
            &site,
            outcome,
            &self.sleeper,
            &mut self.tally,
        )
    }

    /// The wait before the next attempt: none for a zero delay (no timer to set up).
    fn sleeping<P, B>(&self, delay: Duration) -> State<L::Attempt, P, B, S::Sleep> {
        if delay.is_zero() {
            State::Start
        } else {
            State::Sleeping {
                sleep: crate::engine::sleep(&self.sleeper, delay),
            }
        }
    }
}

impl<'a, Op, Fut, J, H, L, G, Fb, N, S, T, E, Tl> Future
    for RetryFuture<'a, Op, Fut, J, H, L, G, Fb, N, S, Tl>
where
    Tl: Finish<Result<T, E>>,
    Op: FnMut(Attempt) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    J: Judge<T, E>,
    H: Hook<T, E>,
    L: Limit<Fut, S>,
    G: Gate<'a>,
    G::Refused: Refusal<E>,
    Fb: Recover<T, E>,
    N: CallName,
    S: Sleeper,
{
    type Output = Tl::Output;

    /// Gate → attempt → judge → the engine's turn → return or sleep, then the fallback.
    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Tl::Output> {
        let mut this = self.project();
        let _entered = this.span.enter();
        // The first attempt's pacing, only for a judge that paces (no code otherwise).
        let mut paced = None;
        if J::PACES {
            if let StateProj::Admit = this.state.as_mut().project() {
                match this.call.admit() {
                    Ok(wait) => this.state.set(this.call.sleeping(wait)),
                    Err(refused) => paced = Some(refused),
                }
            }
        }
        'turn: loop {
            let last = 'outcome: {
                if let Some(refused) = paced.take() {
                    break 'outcome refused;
                }
                let mut state = this.state.as_mut().project();
                if let StateProj::Start = state {
                    this.span.record_attempt(this.call.step.attempt());
                    match this.call.start() {
                        Ok((attempt, permit)) => {
                            this.state.set(State::running(attempt, permit));
                            // Polled at once, below, without going round the loop.
                            state = this.state.as_mut().project();
                        }
                        Err(refused) => break 'outcome refused,
                    }
                }
                match state {
                    StateProj::Start => continue 'turn,
                    StateProj::Admit => {
                        this.state.set(State::Start);
                        continue 'turn;
                    }
                    StateProj::Running { attempt, permit } => {
                        let outcome = L::finish(ready!(attempt.poll(cx)));
                        match this.call.settle(permit.take(), &outcome) {
                            Settled::Accepted => {
                                this.state.set(State::Start);
                                return Poll::Ready(this.call.tally.finish(outcome));
                            }
                            Settled::GaveUp => outcome,
                            Settled::Retry(delay) => {
                                drop(outcome);
                                this.state.set(this.call.sleeping(delay));
                                continue 'turn;
                            }
                        }
                    }
                    StateProj::Sleeping { sleep } => {
                        ready!(sleep.poll(cx));
                        this.state.set(State::Start);
                        continue 'turn;
                    }
                    StateProj::Recovering { answer } => {
                        let answer = ready!(answer.poll(cx));
                        this.state.set(State::Start);
                        return Poll::Ready(this.call.tally.finish(answer));
                    }
                }
            };
            // The last outcome of a call that gave up goes to the fallback, if there is one.
            match this.fallback.recover(last) {
                Ok(answer) => this.state.set(State::Recovering { answer }),
                Err(last) => {
                    this.state.set(State::Start);
                    return Poll::Ready(this.call.tally.finish(last));
                }
            }
        }
    }
}

impl<A, P, B, Sl> State<A, P, B, Sl> {
    /// An attempt under way, with its permit.
    fn running(attempt: A, permit: P) -> Self {
        State::Running {
            attempt,
            permit: Some(permit),
        }
    }
}

impl<'a, Op, J, H, G, Fb, L, N: CallName, S: Sleeper> Retry<'a, Op, J, H, G, Fb, L, N, S> {
    /// Runs the call with an operation that borrows from the caller across its attempts:
    /// an async closure (`async |attempt| { state.push(..); .. }`), which may hold `&mut`
    /// state. `.await` on the builder cannot take one (its future must be a nameable type,
    /// and an async closure's in-flight future borrows the closure); this is the same
    /// engine as an `async fn`. On stable Rust the compiler cannot yet prove such a future
    /// `Send` when the closure borrows; where `Send` is needed, use a closure returning an
    /// `async move` block and `.await` the builder.
    ///
    #[cfg_attr(feature = "tokio", doc = "```")]
    #[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
    /// use retry_runtime::Policy;
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let mut log: Vec<u32> = Vec::new();
    /// let out = Policy::new()
    ///     .with_base(Duration::from_millis(5))
    ///     .retry(async |attempt| {
    ///         log.push(attempt.attempt()); // the caller's `&mut` state
    ///         if log.len() < 3 { Err("busy") } else { Ok(log.len()) }
    ///     })
    ///     .run()
    ///     .await;
    /// assert_eq!(out, Ok(3));
    /// assert_eq!(log, [1, 2, 3]);
    /// # }
    /// ```
    pub async fn run<T, E>(self) -> Result<T, E>
    where
        Op: AsyncFnMut(Attempt) -> Result<T, E>,
        J: Judge<T, E>,
        H: Hook<T, E>,
        L: CutOff<T, E>,
        G: Gate<'a>,
        G::Refused: Refusal<E>,
        Fb: Recover<T, E>,
    {
        let Retry {
            policy,
            mut op,
            judge,
            hook,
            limit,
            budget,
            name,
            key,
            gate,
            mut fallback,
            sleeper,
        } = self;
        let key = CallKey::new(key);
        let site = Site::named(name.call_name());
        let guards = Guards::new(budget, gate.breaker());
        let mut step = Step::<StartAndPrevious>::begin_on(policy, H::ELAPSED, &sleeper);
        let mut span = CallSpan::new(name.call_name());
        let last = 'call: {
            match admit(
                &step,
                policy,
                &judge,
                guards,
                &site,
                &sleeper,
                &mut NoReport,
            ) {
                Ok(wait) if wait.is_zero() => {}
                Ok(wait) => crate::engine::sleep(&sleeper, wait).await,
                Err(refused) => break 'call refused,
            }
            loop {
                let permit = match gate.enter() {
                    Ok(permit) => permit,
                    Err(refusal) => break refused(&step, refusal, &site, &mut NoReport),
                };
                span.record_attempt(step.attempt());
                let attempt = span.in_scope(|| op(key.attempt(step.attempt())));
                let allowed = |limit| step.attempt_timeout(policy, limit, &sleeper);
                let outcome = match limit.cut_off(allowed) {
                    None => {
                        let (outcome, back) = span.instrument(attempt).await;
                        span = back;
                        outcome
                    }
                    Some((allowed, timed_out)) => {
                        let timed = crate::runtime::timeout(&sleeper, allowed, attempt);
                        let (outcome, back) = span.instrument(timed).await;
                        span = back;
                        outcome.unwrap_or_else(|_| timed_out())
                    }
                };
                let permit = Some(permit);
                let settled = settle::<_, _, _, G, _>(
                    &mut step,
                    policy,
                    &judge,
                    &hook,
                    guards,
                    permit,
                    &site,
                    &outcome,
                    &sleeper,
                    &mut NoReport,
                );
                let delay = match settled {
                    Settled::Retry(delay) => delay,
                    Settled::Accepted => return outcome,
                    Settled::GaveUp => break outcome,
                };
                drop(outcome);
                if !delay.is_zero() {
                    crate::engine::sleep(&sleeper, delay).await;
                }
            }
        };
        match fallback.recover(last) {
            Ok(answer) => answer.await,
            Err(last) => last,
        }
    }
}

/// The time an attempt is allowed, and the outcome of one that is cut off.
pub type CutOffAt<T, E> = (Duration, fn() -> Result<T, E>);

/// A per-attempt timeout for [`Retry::run`].
pub trait CutOff<T, E> {
    /// The time allowed and the cut-off's outcome, if this is a timeout.
    fn cut_off(&self, allowed: impl FnOnce(Duration) -> Duration) -> Option<CutOffAt<T, E>>;
}

impl<T, E> CutOff<T, E> for NoTimeout {
    fn cut_off(&self, _: impl FnOnce(Duration) -> Duration) -> Option<CutOffAt<T, E>> {
        None
    }
}

impl<T, E: From<TimedOut>> CutOff<T, E> for Timeout {
    fn cut_off(&self, allowed: impl FnOnce(Duration) -> Duration) -> Option<CutOffAt<T, E>> {
        Some((allowed(self.0), || Err(E::from(TimedOut))))
    }
}
