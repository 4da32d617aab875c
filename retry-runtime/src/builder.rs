//! The second front door: `Policy::retry` (feature `tokio`) and [`Policy::retry_blocking`] retry
//! a closure on the
//! same engine as `#[retry]`, for code that cannot carry an attribute (a block inside a larger
//! function, a policy a library's users configure at run time).
//!
//! The builders' type parameters record what was configured (filters, hook, timeout), so a
//! call allocates nothing and pays only for what it uses. Their names are rarely written: chain
//! the methods and `.await` (or `.call()`).

use core::fmt;
use core::time::Duration;

use crate::__private::StdClock;
use crate::attempt::CallKey;
use crate::engine::{Everything, Flow, GiveUp, Step, Verdict};
use crate::{Attempt, Classify, Decision, IdempotencyKey, Policy, RetryBudget, RetryInfo};

// ---- deciding on an outcome --------------------------------------------------------------------

/// How a builder judges an attempt's outcome: `None` when it is final, else the verdict (retry,
/// with a server's hint if one was given, or give up for a reason). Built up by
/// [`when`](RetryBlocking::when), [`classify`](RetryBlocking::classify), [`until`](RetryBlocking::until) and
/// [`classify_ok`](RetryBlocking::classify_ok); the order is the attribute's: for an error `when` then
/// `classify` (all must agree to retry), for a value `until` then `classify_ok`.
pub trait Judge<T, E> {
    /// The verdict on one outcome.
    fn judge(&self, outcome: &Result<T, E>) -> Option<Verdict>;
}

/// The starting point: every error is retried, every value is final.
#[derive(Clone, Copy, Debug, Default)]
pub struct Errors;

impl<T, E> Judge<T, E> for Errors {
    #[inline]
    fn judge(&self, outcome: &Result<T, E>) -> Option<Verdict> {
        outcome.as_ref().err().map(|_| Ok(None))
    }
}

/// [`RetryBlocking::when`]: errors the predicate rejects are not retried.
#[derive(Clone, Copy, Debug)]
pub struct When<F, J>(F, J);

impl<T, E, F: Fn(&E) -> bool, J: Judge<T, E>> Judge<T, E> for When<F, J> {
    #[inline]
    fn judge(&self, outcome: &Result<T, E>) -> Option<Verdict> {
        match (self.1.judge(outcome), outcome) {
            (Some(Ok(_)), Err(error)) if !(self.0)(error) => Some(Err(GiveUp::When)),
            (verdict, _) => verdict,
        }
    }
}

/// [`RetryBlocking::classify`]: the error's own [`Classify`] decides, hints included.
#[derive(Clone, Copy, Debug)]
pub struct Classified<J>(J);

impl<T, E: Classify, J: Judge<T, E>> Judge<T, E> for Classified<J> {
    #[inline]
    fn judge(&self, outcome: &Result<T, E>) -> Option<Verdict> {
        match (self.0.judge(outcome), outcome) {
            (Some(Ok(hint)), Err(error)) => Some(with_decision(hint, error.classify())),
            (verdict, _) => verdict,
        }
    }
}

/// [`RetryBlocking::until`]: a value the predicate rejects is retried.
#[derive(Clone, Copy, Debug)]
pub struct Until<F, J>(F, J);

impl<T, E, F: Fn(&T) -> bool, J: Judge<T, E>> Judge<T, E> for Until<F, J> {
    #[inline]
    fn judge(&self, outcome: &Result<T, E>) -> Option<Verdict> {
        match (self.1.judge(outcome), outcome) {
            (None, Ok(value)) if !(self.0)(value) => Some(Ok(None)),
            (verdict, _) => verdict,
        }
    }
}

/// [`RetryBlocking::classify_ok`]: the value's own [`Classify`] may retry it (a 503 response).
#[derive(Clone, Copy, Debug)]
pub struct ClassifiedOk<J>(J);

impl<T: Classify, E, J: Judge<T, E>> Judge<T, E> for ClassifiedOk<J> {
    #[inline]
    fn judge(&self, outcome: &Result<T, E>) -> Option<Verdict> {
        match (self.0.judge(outcome), outcome) {
            (None, Ok(value)) => match value.classify() {
                Decision::Stop => None,
                decision => Some(with_decision(None, decision)),
            },
            (Some(Ok(hint)), Ok(value)) => Some(with_decision(hint, value.classify()).or(Ok(hint))),
            (verdict, _) => verdict,
        }
    }
}

/// A retry verdict with a hint so far, and a [`Decision`].
fn with_decision(hint: Option<Duration>, decision: Decision) -> Verdict {
    match decision {
        Decision::Stop => Err(GiveUp::Permanent),
        Decision::Retry => Ok(hint),
        Decision::RetryAfter(wait) => Ok(Some(hint.map_or(wait, |hint| hint.max(wait)))),
    }
}

// ---- hooks and timeouts ------------------------------------------------------------------------

/// [`RetryBlocking::on_retry`]: called with the failed outcome before each sleep.
pub trait Hook<T, E> {
    /// Whether the hook reads [`RetryInfo::elapsed`] (then the clock is started).
    const ELAPSED: bool;
    /// Called before each sleep.
    fn call(&self, outcome: &Result<T, E>, info: &RetryInfo);
}

/// No hook.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoHook;

impl<T, E> Hook<T, E> for NoHook {
    const ELAPSED: bool = false;
    #[inline]
    fn call(&self, _: &Result<T, E>, _: &RetryInfo) {}
}

/// A hook function.
#[derive(Clone, Copy, Debug)]
pub struct OnRetry<F>(F);

impl<T, E, F: Fn(&Result<T, E>, &RetryInfo)> Hook<T, E> for OnRetry<F> {
    const ELAPSED: bool = true;
    #[inline]
    fn call(&self, outcome: &Result<T, E>, info: &RetryInfo) {
        (self.0)(outcome, info)
    }
}

/// No per-attempt timeout.
#[cfg(feature = "tokio")]
#[derive(Clone, Copy, Debug, Default)]
pub struct NoTimeout;

/// [`Retry::timeout`]: each attempt is cut off after this long (or at the deadline).
#[cfg(feature = "tokio")]
#[derive(Clone, Copy, Debug)]
pub struct Timeout(Duration);

/// What an event shows of an outcome whose types need not be `Debug`.
struct Outcome(&'static str);

impl fmt::Debug for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

fn outcome_of<T, E>(outcome: &Result<T, E>) -> Outcome {
    Outcome(match outcome {
        Ok(_) => core::any::type_name::<T>(),
        Err(_) => core::any::type_name::<E>(),
    })
}

/// What every builder does with an attempt's outcome: `None` when it is the call's result (a
/// final value, or a failure the engine gives up on), `Some(delay)` to sleep and retry. The
/// decision is the engine's; this adds the judge, the budget's refill and the hook.
fn settle<T, E, M: crate::engine::Memory>(
    step: &mut Step<M>,
    policy: &Policy,
    judge: &impl Judge<T, E>,
    hook: &impl Hook<T, E>,
    budget: Option<&RetryBudget>,
    function: &'static str,
    outcome: &Result<T, E>,
) -> Option<Duration> {
    let Some(verdict) = judge.judge(outcome) else {
        if let Some(budget) = budget {
            budget.deposit();
        }
        return None;
    };
    let info = step
        .failed(policy, verdict, budget, function, &outcome_of(outcome))
        .ok()?;
    hook.call(outcome, &info);
    Some(info.delay())
}

// ---- the builders -------------------------------------------------------------------------------

impl Policy {
    /// Retries `op` by this policy, on the engine `#[retry]` uses: returns a builder to
    /// configure (`.when`, `.classify`, `.until`, `.classify_ok`, `.timeout`, `.on_retry`,
    /// `.budget`) and then `.await`.
    ///
    /// `op` is called once per attempt with the [`Attempt`] context (attempt number, and an
    /// idempotency key that is the same for every attempt of the call): an async closure
    /// (`async |attempt| { .. }`), or a closure returning a future
    /// (`|attempt: Attempt| async move { .. }`). The awaited builder is one future with no
    /// allocation, `Send` when `op` and its futures are. An async closure that mutates the
    /// caller's state (`log.push(..)`: it lends `&mut` to each attempt) cannot be stored in a
    /// nameable future; run it with [`.run()`](Retry::run) instead of `.await`.
    ///
    /// ```
    /// use retry_runtime::Policy;
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let policy = Policy::new().with_attempts(4).with_base(Duration::from_millis(10));
    /// let calls = std::sync::atomic::AtomicU32::new(0);
    /// let reply = policy
    ///     .retry(async |attempt| {
    ///         let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
    ///         if n < 3 { Err(format!("attempt {} failed", attempt.attempt())) } else { Ok(n) }
    ///     })
    ///     .when(|e: &String| e.contains("failed"))
    ///     .await;
    /// assert_eq!(reply, Ok(3));
    /// # }
    /// ```
    ///
    /// The same call with the attribute:
    ///
    /// ```ignore
    /// #[retry(policy = policy, when = |e: &String| e.contains("failed"), context = attempt)]
    /// async fn call(policy: Policy) -> Result<u32, String> { .. }
    /// ```
    #[cfg(feature = "tokio")]
    pub fn retry<Op, T, E>(&self, op: Op) -> Retry<'_, Op>
    where
        Op: AsyncFnMut(Attempt) -> Result<T, E>,
    {
        Retry {
            policy: self,
            op,
            judge: Errors,
            hook: NoHook,
            limit: NoTimeout,
            budget: None,
            key: None,
        }
    }

    /// `Policy::retry` for blocking code: `op` returns the attempt's `Result`; the
    /// configured builder runs with `.call()`, sleeping the thread between attempts.
    ///
    /// ```
    /// use retry_runtime::Policy;
    /// use std::time::Duration;
    ///
    /// let mut log = Vec::new();
    /// let out = Policy::new()
    ///     .with_base(Duration::ZERO)
    ///     .retry_blocking(|attempt| {
    ///         log.push(attempt.attempt()); // `&mut` state of the caller
    ///         if attempt.attempt() < 3 { Err("busy") } else { Ok("done") }
    ///     })
    ///     .call();
    /// assert_eq!(out, Ok("done"));
    /// assert_eq!(log, [1, 2, 3]);
    /// ```
    pub fn retry_blocking<Op, T, E>(&self, op: Op) -> RetryBlocking<'_, Op>
    where
        Op: FnMut(Attempt) -> Result<T, E>,
    {
        RetryBlocking {
            policy: self,
            op,
            judge: Errors,
            hook: NoHook,
            budget: None,
            key: None,
        }
    }
}

/// An async retry being configured; `.await` runs it. See [`Policy::retry`].
#[cfg(feature = "tokio")]
#[must_use = "a retry does nothing until it is awaited"]
pub struct Retry<'a, Op, J = Errors, H = NoHook, L = NoTimeout> {
    policy: &'a Policy,
    op: Op,
    judge: J,
    hook: H,
    limit: L,
    budget: Option<&'a RetryBudget>,
    key: Option<IdempotencyKey>,
}

/// A blocking retry being configured; `.call()` runs it. See [`Policy::retry_blocking`].
#[must_use = "a retry does nothing until it is called"]
pub struct RetryBlocking<'a, Op, J = Errors, H = NoHook> {
    policy: &'a Policy,
    op: Op,
    judge: J,
    hook: H,
    budget: Option<&'a RetryBudget>,
    key: Option<IdempotencyKey>,
}

/// The configuration methods both builders share. `$field` lists the fields a builder has
/// besides the shared ones.
macro_rules! configure {
    ($builder:ident < $($extra:ident),* > { $($field:ident),* }) => {
        impl<'a, Op, J, H, $($extra),*> $builder<'a, Op, J, H, $($extra),*> {
            /// Retries only the errors `predicate` accepts (the attribute's `when`).
            pub fn when<F>(self, predicate: F) -> $builder<'a, Op, When<F, J>, H, $($extra),*> {
                $builder {
                    policy: self.policy,
                    op: self.op,
                    judge: When(predicate, self.judge),
                    hook: self.hook,
                    budget: self.budget,
                    key: self.key,
                    $($field: self.$field),*
                }
            }

            /// Asks the error's [`Classify`] (the attribute's `classify`): `Stop` is returned
            /// at once, `RetryAfter(d)` sleeps at least `d` (up to the policy's `max_hint`).
            pub fn classify(self) -> $builder<'a, Op, Classified<J>, H, $($extra),*> {
                $builder {
                    policy: self.policy,
                    op: self.op,
                    judge: Classified(self.judge),
                    hook: self.hook,
                    budget: self.budget,
                    key: self.key,
                    $($field: self.$field),*
                }
            }

            /// Retries a value that fails `predicate` (the attribute's `until`): polling until
            /// ready. When the call gives up, its last value is returned as it was.
            pub fn until<F>(self, predicate: F) -> $builder<'a, Op, Until<F, J>, H, $($extra),*> {
                $builder {
                    policy: self.policy,
                    op: self.op,
                    judge: Until(predicate, self.judge),
                    hook: self.hook,
                    budget: self.budget,
                    key: self.key,
                    $($field: self.$field),*
                }
            }

            /// Also asks the value's [`Classify`] (the attribute's `classify_ok`): a response
            /// with status 503 and `Retry-After` is retried after the hint.
            pub fn classify_ok(self) -> $builder<'a, Op, ClassifiedOk<J>, H, $($extra),*> {
                $builder {
                    policy: self.policy,
                    op: self.op,
                    judge: ClassifiedOk(self.judge),
                    hook: self.hook,
                    budget: self.budget,
                    key: self.key,
                    $($field: self.$field),*
                }
            }

            /// Calls `hook` with the failed outcome and the [`RetryInfo`] before each sleep
            /// (the attribute's `on_retry`).
            pub fn on_retry<F>(self, hook: F) -> $builder<'a, Op, J, OnRetry<F>, $($extra),*> {
                $builder {
                    policy: self.policy,
                    op: self.op,
                    judge: self.judge,
                    hook: OnRetry(hook),
                    budget: self.budget,
                    key: self.key,
                    $($field: self.$field),*
                }
            }

            /// Uses `key` as the call's idempotency key ([`Attempt::idempotency_key`]) instead
            /// of a random one: a job system's own request id.
            pub fn idempotency_key(mut self, key: IdempotencyKey) -> Self {
                self.key = Some(key);
                self
            }

            /// Draws a token from `budget` for each retry and refills it on success (the
            /// attribute's `budget`); an empty budget ends the call with its last outcome.
            pub fn budget(mut self, budget: &'a RetryBudget) -> Self {
                self.budget = Some(budget);
                self
            }
        }
    };
}

#[cfg(feature = "tokio")]
configure!(Retry<L> { limit });
configure!(RetryBlocking<> {});

#[cfg(feature = "tokio")]
impl<'a, Op, J, H, L> Retry<'a, Op, J, H, L> {
    /// Cuts each attempt off after `limit`, or at the policy's deadline if that comes first
    /// (the attribute's `timeout`); the cut-off is the error `E::from(TimedOut)`, retried like
    /// any other.
    pub fn timeout(self, limit: Duration) -> Retry<'a, Op, J, H, Timeout> {
        Retry {
            policy: self.policy,
            op: self.op,
            judge: self.judge,
            hook: self.hook,
            budget: self.budget,
            key: self.key,
            limit: Timeout(limit),
        }
    }
}

impl<Op, J, H, T, E> RetryBlocking<'_, Op, J, H>
where
    Op: FnMut(Attempt) -> Result<T, E>,
    J: Judge<T, E>,
    H: Hook<T, E>,
{
    /// Runs the call: attempts, sleeping the thread between them, until one is final or the
    /// policy gives up; returns that last outcome.
    pub fn call(self) -> Result<T, E> {
        let RetryBlocking {
            policy,
            mut op,
            judge,
            hook,
            budget,
            key,
        } = self;
        let key = CallKey::new(key);
        let step = Step::<Everything<StdClock>>::begin(policy, H::ELAPSED);
        crate::engine::run_blocking(step, |step| {
            let outcome = op(key.attempt(step.attempt()));
            let settled = settle(
                step,
                policy,
                &judge,
                &hook,
                budget,
                "Policy::retry_blocking",
                &outcome,
            );
            match settled {
                Some(delay) => Flow::Retry(delay),
                None => Flow::Done(outcome),
            }
        })
    }
}

// ---- the async builder's future -----------------------------------------------------------------

/// How an attempt's future is limited in time.
#[cfg(feature = "tokio")]
pub trait Limit<Fut: core::future::Future> {
    /// The attempt as polled.
    type Attempt: core::future::Future;
    /// The attempt, limited to `allowed` if this is a timeout.
    fn wrap(&self, attempt: Fut, allowed: impl FnOnce(Duration) -> Duration) -> Self::Attempt;
    /// The attempt's outcome (a cut-off becomes the error `E::from(TimedOut)`).
    fn finish(out: <Self::Attempt as core::future::Future>::Output) -> Fut::Output;
}

#[cfg(feature = "tokio")]
mod running {
    use core::future::{Future, IntoFuture};
    use core::pin::Pin;
    use core::task::{ready, Context, Poll};

    use super::*;
    use crate::TimedOut;

    impl<Fut: Future> Limit<Fut> for NoTimeout {
        type Attempt = Fut;
        #[inline(always)]
        fn wrap(&self, attempt: Fut, _: impl FnOnce(Duration) -> Duration) -> Fut {
            attempt
        }
        #[inline(always)]
        fn finish(out: Fut::Output) -> Fut::Output {
            out
        }
    }

    impl<Fut, T, E> Limit<Fut> for Timeout
    where
        Fut: Future<Output = Result<T, E>>,
        E: From<TimedOut>,
    {
        type Attempt = tokio::time::Timeout<Fut>;
        fn wrap(&self, attempt: Fut, allowed: impl FnOnce(Duration) -> Duration) -> Self::Attempt {
            tokio::time::timeout(allowed(self.0), attempt)
        }
        fn finish(out: Result<Result<T, E>, tokio::time::error::Elapsed>) -> Result<T, E> {
            out.unwrap_or_else(|_| Err(E::from(TimedOut)))
        }
    }

    pin_project_lite::pin_project! {
        /// The future of an awaited [`Retry`]: attempts and sleeps, in one value with no
        /// allocation.
        #[must_use = "futures do nothing unless polled"]
        pub struct RetryFuture<'a, Op, Fut, J, H, L>
        where
            Fut: Future,
            L: Limit<Fut>,
        {
            policy: &'a Policy,
            op: Op,
            judge: J,
            hook: H,
            limit: L,
            budget: Option<&'a RetryBudget>,
            key: CallKey,
            step: Step<Everything<crate::__private::TokioClock>>,
            #[pin]
            state: State<L::Attempt>,
        }
    }

    pin_project_lite::pin_project! {
        #[project = StateProj]
        enum State<A> {
            Start,
            Running { #[pin] attempt: A },
            Sleeping { #[pin] sleep: tokio::time::Sleep },
        }
    }

    impl<'a, Op, Fut, J, H, L, T, E> IntoFuture for Retry<'a, Op, J, H, L>
    where
        Op: FnMut(Attempt) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        J: Judge<T, E>,
        H: Hook<T, E>,
        L: Limit<Fut>,
    {
        type Output = Result<T, E>;
        type IntoFuture = RetryFuture<'a, Op, Fut, J, H, L>;

        fn into_future(self) -> Self::IntoFuture {
            RetryFuture {
                step: Step::begin(self.policy, H::ELAPSED),
                key: CallKey::new(self.key),
                policy: self.policy,
                op: self.op,
                judge: self.judge,
                hook: self.hook,
                limit: self.limit,
                budget: self.budget,
                state: State::Start,
            }
        }
    }

    impl<Op, Fut, J, H, L, T, E> Future for RetryFuture<'_, Op, Fut, J, H, L>
    where
        Op: FnMut(Attempt) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        J: Judge<T, E>,
        H: Hook<T, E>,
        L: Limit<Fut>,
    {
        type Output = Result<T, E>;

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, E>> {
            let mut this = self.project();
            loop {
                match this.state.as_mut().project() {
                    StateProj::Start => {
                        let attempt = (this.op)(this.key.attempt(this.step.attempt()));
                        let (step, policy) = (&*this.step, *this.policy);
                        let attempt = this
                            .limit
                            .wrap(attempt, |limit| step.attempt_timeout(policy, limit));
                        this.state.set(State::Running { attempt });
                    }
                    StateProj::Running { attempt } => {
                        let outcome = L::finish(ready!(attempt.poll(cx)));
                        let settled = settle(
                            this.step,
                            this.policy,
                            this.judge,
                            this.hook,
                            *this.budget,
                            "Policy::retry",
                            &outcome,
                        );
                        match settled {
                            None => {
                                this.state.set(State::Start);
                                return Poll::Ready(outcome);
                            }
                            Some(delay) => {
                                drop(outcome);
                                if delay.is_zero() {
                                    // Retry at once: no timer to set up.
                                    this.state.set(State::Start);
                                } else {
                                    let sleep = crate::engine::sleep(delay);
                                    this.state.set(State::Sleeping { sleep });
                                }
                            }
                        }
                    }
                    StateProj::Sleeping { sleep } => {
                        ready!(sleep.poll(cx));
                        this.state.set(State::Start);
                    }
                }
            }
        }
    }

    impl<Op, J, H, L> Retry<'_, Op, J, H, L> {
        /// Runs the call with an operation that borrows from the caller across its attempts:
        /// an async closure (`async |attempt| { state.push(..); .. }`), which may hold `&mut`
        /// state. `.await` on the builder cannot take one (its future must be a nameable type,
        /// and an async closure's in-flight future borrows the closure); this is the same
        /// engine as an `async fn`. On stable Rust the compiler cannot yet prove such a future
        /// `Send` when the closure borrows; where `Send` is needed, use a closure returning an
        /// `async move` block and `.await` the builder.
        ///
        /// ```
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
        {
            let Retry {
                policy,
                mut op,
                judge,
                hook,
                limit,
                budget,
                key,
            } = self;
            let key = CallKey::new(key);
            let mut step =
                Step::<Everything<crate::__private::TokioClock>>::begin(policy, H::ELAPSED);
            loop {
                let attempt = op(key.attempt(step.attempt()));
                let outcome = match limit.cut_off(|limit| step.attempt_timeout(policy, limit)) {
                    None => attempt.await,
                    Some((allowed, timed_out)) => tokio::time::timeout(allowed, attempt)
                        .await
                        .unwrap_or_else(|_| timed_out()),
                };
                let Some(delay) = settle(
                    &mut step,
                    policy,
                    &judge,
                    &hook,
                    budget,
                    "Policy::retry",
                    &outcome,
                ) else {
                    return outcome;
                };
                drop(outcome);
                if !delay.is_zero() {
                    crate::engine::sleep(delay).await;
                }
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
}

#[cfg(feature = "tokio")]
pub use running::{CutOff, CutOffAt, RetryFuture};
