//! The second front door: `Policy::retry` (on any sleeper) and [`Policy::retry_blocking`] retry
//! a closure on the
//! same engine as `#[retry]`, for code that cannot carry an attribute (a block inside a larger
//! function, a policy a library's users configure at run time).
//!
//! The builders' type parameters record what was configured (filters, hook, timeout), so a
//! call allocates nothing and pays only for what it uses. Their names are rarely written: chain
//! the methods and `.await` (or `.call()`).

use core::time::Duration;

use crate::attempt::CallKey;
use crate::engine::{CallSpan, Flow, Guards, Site, StartAndPrevious, Step};
pub use crate::engine::{NoReport, Tally};
use crate::runtime::{BlockingSleeper, DefaultBlockingSleeper, DefaultSleeper};
use crate::{
    AdaptiveThrottle, Attempt, CircuitBreaker, Classify, IdempotencyKey, Policy, RateLimiter,
    RetryBudget, RetryInfo, Throttled,
};

mod attribute;
mod fallback;
mod future;
mod gate;
#[cfg(feature = "std")]
mod hedge;
mod hooks;
mod judge;
mod report;
mod settle;

use fallback::ready_now;
pub use fallback::{Fallback, FallbackAsync, FallbackOutcome, NoFallback, Recover};
pub use future::{CutOff, CutOffAt, Limit, RecoverFor, RetryFuture};
pub use gate::{Gate, Guarded, NoBreaker, Refusal};
#[cfg(feature = "std")]
pub use hedge::{Alternate, HedgeCopy, HedgeFuture, HedgeWith, Hedged, SameOp};
pub use hooks::{Hook, NoHook, OnRetry};
pub use hooks::{NoTimeout, Timeout};
pub use judge::{Classified, ClassifiedOk, Errors, Judge, Paced, Until, When};
pub use report::{Finish, Reported};
use settle::{admit, refused, settle, Settled};

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
    #[cfg_attr(feature = "tokio", doc = "```")]
    #[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
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
    ///
    /// The call sleeps on [`DefaultSleeper`] (tokio's timer with the default features);
    /// [`.sleeper(..)`](Retry::sleeper) gives another.
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
            name: DefaultName,
            key: None,
            gate: NoBreaker,
            fallback: NoFallback,
            sleeper: DefaultSleeper {},
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
            name: "Policy::retry_blocking",
            key: None,
            gate: NoBreaker,
            fallback: NoFallback,
            sleeper: DefaultBlockingSleeper {},
        }
    }
}

/// An async retry being configured; `.await` runs it. See [`Policy::retry`].
#[must_use = "a retry does nothing until it is awaited"]
pub struct Retry<
    'a,
    Op,
    J = Errors,
    H = NoHook,
    G = NoBreaker,
    Fb = NoFallback,
    L = NoTimeout,
    N = DefaultName,
    S = DefaultSleeper,
> {
    policy: &'a Policy,
    op: Op,
    judge: J,
    hook: H,
    limit: L,
    budget: Option<&'a RetryBudget>,
    name: N,
    key: Option<IdempotencyKey>,
    gate: G,
    fallback: Fb,
    sleeper: S,
}

/// A blocking retry being configured; `.call()` runs it. See [`Policy::retry_blocking`].
#[must_use = "a retry does nothing until it is called"]
pub struct RetryBlocking<
    'a,
    Op,
    J = Errors,
    H = NoHook,
    G = NoBreaker,
    Fb = NoFallback,
    S = DefaultBlockingSleeper,
> {
    policy: &'a Policy,
    op: Op,
    judge: J,
    hook: H,
    budget: Option<&'a RetryBudget>,
    name: &'static str,
    key: Option<IdempotencyKey>,
    gate: G,
    fallback: Fb,
    sleeper: S,
}

/// The configuration methods both builders share. `$field` lists the fields a builder has
/// besides the shared ones.
/// `$op` is the operation's bound, `Op: $op(Attempt) -> Result<T, E>`: it names the outcome's
/// types, so each closure method can carry the `Fn` bound its closure needs and unannotated
/// closures infer.
macro_rules! configure {
    ($builder:ident < $($extra:ident),* > { $($field:ident),* } $op:ident) => {
        impl<'a, Op, J, H, G, Fb, $($extra),*> $builder<'a, Op, J, H, G, Fb, $($extra),*> {
            /// Retries only the errors `predicate` accepts (the attribute's `when`).
            pub fn when<F, T, E>(self, predicate: F) -> $builder<'a, Op, When<F, J>, H, G, Fb, $($extra),*>
            where
                Op: $op(Attempt) -> Result<T, E>,
                F: Fn(&E) -> bool,
            {
                $builder {
                    policy: self.policy,
                    op: self.op,
                    judge: When(predicate, self.judge),
                    hook: self.hook,
                    budget: self.budget,
                    name: self.name,
                    key: self.key,
                    gate: self.gate,
                    fallback: self.fallback,
                    $($field: self.$field),*
                }
            }

            /// Asks the error's [`Classify`](crate::Classify) (the attribute's `classify`): `Stop` is returned
            /// at once, `RetryAfter(d)` sleeps at least `d` (up to the policy's `max_hint`).
            pub fn classify(self) -> $builder<'a, Op, Classified<J>, H, G, Fb, $($extra),*> {
                $builder {
                    policy: self.policy,
                    op: self.op,
                    judge: Classified(self.judge),
                    hook: self.hook,
                    budget: self.budget,
                    name: self.name,
                    key: self.key,
                    gate: self.gate,
                    fallback: self.fallback,
                    $($field: self.$field),*
                }
            }

            /// Retries a value that fails `predicate` (the attribute's `until`): polling until
            /// ready. When the call gives up, its last value is returned as it was.
            pub fn until<F, T, E>(self, predicate: F) -> $builder<'a, Op, Until<F, J>, H, G, Fb, $($extra),*>
            where
                Op: $op(Attempt) -> Result<T, E>,
                F: Fn(&T) -> bool,
            {
                $builder {
                    policy: self.policy,
                    op: self.op,
                    judge: Until(predicate, self.judge),
                    hook: self.hook,
                    budget: self.budget,
                    name: self.name,
                    key: self.key,
                    gate: self.gate,
                    fallback: self.fallback,
                    $($field: self.$field),*
                }
            }

            /// Asks `throttle` before every attempt goes out, first attempts included (the
            /// attribute's `throttle`): while the service refuses most requests as overloaded,
            /// the throttle rejects attempts on the client, with the probability
            /// `max(0, (requests - k·accepts) / (requests + 1))`. A rejected first attempt ends
            /// the call with `E::from(Throttled)` (or its fallback's answer); a rejected retry
            /// with its last outcome ([`GiveUp::Throttled`](crate::GiveUp::Throttled)). Each
            /// answer is reported to it: an error whose [`Classify::overloaded`](crate::Classify::overloaded)
            /// says so (a 429, 503, 529, `RESOURCE_EXHAUSTED`) is not an accept; any other answer is.
            pub fn throttle<T, E>(self, throttle: &'a AdaptiveThrottle) -> $builder<'a, Op, Paced<'a, J>, H, G, Fb, $($extra),*>
            where
                Op: $op(Attempt) -> Result<T, E>,
                E: Classify + From<Throttled>,
            {
                self.paced(Some(throttle), None)
            }

            /// Paces every attempt by `limiter` (the attribute's `rate_limiter`): off until the
            /// service first refuses an attempt as overloaded ([`Classify::overloaded`](crate::Classify::overloaded)),
            /// then an attempt waits for a token (after a retry's delay, or instead of it when
            /// longer), never past the deadline: a first attempt whose token would come too late
            /// ends the call with `E::from(Throttled)`, a retry with its last outcome.
            pub fn rate_limiter<T, E>(self, limiter: &'a RateLimiter) -> $builder<'a, Op, Paced<'a, J>, H, G, Fb, $($extra),*>
            where
                Op: $op(Attempt) -> Result<T, E>,
                E: Classify + From<Throttled>,
            {
                self.paced(None, Some(limiter))
            }

            fn paced(
                self,
                throttle: Option<&'a AdaptiveThrottle>,
                limiter: Option<&'a RateLimiter>,
            ) -> $builder<'a, Op, Paced<'a, J>, H, G, Fb, $($extra),*> {
                $builder {
                    policy: self.policy,
                    op: self.op,
                    judge: Paced { judge: self.judge, throttle, limiter },
                    hook: self.hook,
                    budget: self.budget,
                    name: self.name,
                    key: self.key,
                    gate: self.gate,
                    fallback: self.fallback,
                    $($field: self.$field),*
                }
            }

            /// Also asks the value's [`Classify`](crate::Classify) (the attribute's `classify_ok`): a response
            /// with status 503 and `Retry-After` is retried after the hint.
            pub fn classify_ok(self) -> $builder<'a, Op, ClassifiedOk<J>, H, G, Fb, $($extra),*> {
                $builder {
                    policy: self.policy,
                    op: self.op,
                    judge: ClassifiedOk(self.judge),
                    hook: self.hook,
                    budget: self.budget,
                    name: self.name,
                    key: self.key,
                    gate: self.gate,
                    fallback: self.fallback,
                    $($field: self.$field),*
                }
            }

            /// Calls `hook` with the failed outcome and the [`RetryInfo`] before each sleep
            /// (the attribute's `on_retry`).
            pub fn on_retry<F, T, E>(self, hook: F) -> $builder<'a, Op, J, OnRetry<F>, G, Fb, $($extra),*>
            where
                Op: $op(Attempt) -> Result<T, E>,
                F: Fn(&Result<T, E>, &RetryInfo),
            {
                $builder {
                    policy: self.policy,
                    op: self.op,
                    judge: self.judge,
                    hook: OnRetry(hook),
                    budget: self.budget,
                    name: self.name,
                    key: self.key,
                    gate: self.gate,
                    fallback: self.fallback,
                    $($field: self.$field),*
                }
            }

            /// Uses `key` as the call's idempotency key ([`Attempt::idempotency_key`]) instead
            /// of a random one: a job system's own request id.
            pub fn idempotency_key(mut self, key: IdempotencyKey) -> Self {
                self.key = Some(key);
                self
            }

            /// Draws a token from `budget` for each retry and refills it on success or a
            /// permanent answer (the attribute's `budget`); an empty budget ends the call with
            /// its last outcome.
            pub fn budget(mut self, budget: &'a RetryBudget) -> Self {
                self.budget = Some(budget);
                self
            }

            /// Asks `breaker` before every attempt (the attribute's `breaker`): while it is
            /// open the operation is not called, and the call ends at once with
            /// `E::from(BreakerOpen)` (or its fallback's answer). Each attempt's outcome is
            /// reported to it: a transient failure counts against the service, a success or a
            /// permanent error for it.
            pub fn breaker(self, breaker: &'a CircuitBreaker) -> $builder<'a, Op, J, H, Guarded<'a>, Fb, $($extra),*> {
                $builder {
                    policy: self.policy,
                    op: self.op,
                    judge: self.judge,
                    hook: self.hook,
                    budget: self.budget,
                    name: self.name,
                    key: self.key,
                    gate: Guarded(breaker),
                    fallback: self.fallback,
                    $($field: self.$field),*
                }
            }

            /// Answers with `fallback(error)` when the call gives up with an error, whatever
            /// the reason: out of attempts, deadline, a permanent error, the budget, the
            /// breaker, a hint beyond `max_hint` (the attribute's `fallback`). A call that
            /// gives up on a value (`until` never satisfied, `classify_ok` still saying
            /// retry) returns it as it was; [`fallback_outcome`](Self::fallback_outcome)
            /// answers those too.
            pub fn fallback<F, T, E>(self, fallback: F) -> $builder<'a, Op, J, H, G, Fallback<F>, $($extra),*>
            where
                Op: $op(Attempt) -> Result<T, E>,
                F: FnOnce(E) -> Result<T, E>,
            {
                $builder {
                    policy: self.policy,
                    op: self.op,
                    judge: self.judge,
                    hook: self.hook,
                    budget: self.budget,
                    name: self.name,
                    key: self.key,
                    gate: self.gate,
                    fallback: Fallback(Some(fallback)),
                    $($field: self.$field),*
                }
            }

            /// Answers the whole last outcome of a call that gives up, a value judged a
            /// failure included: the attribute's `fallback` when `until` or `classify_ok` is
            /// given. A success never reaches it.
            pub fn fallback_outcome<F, T, E>(self, fallback: F) -> $builder<'a, Op, J, H, G, FallbackOutcome<F>, $($extra),*>
            where
                Op: $op(Attempt) -> Result<T, E>,
                F: FnOnce(Result<T, E>) -> Result<T, E>,
            {
                $builder {
                    policy: self.policy,
                    op: self.op,
                    judge: self.judge,
                    hook: self.hook,
                    budget: self.budget,
                    name: self.name,
                    key: self.key,
                    gate: self.gate,
                    fallback: FallbackOutcome(Some(fallback)),
                    $($field: self.$field),*
                }
            }
        }
    };
}

configure!(Retry<L, N, S> { limit, sleeper } AsyncFnMut);
configure!(RetryBlocking<S> { sleeper } FnMut);

impl<'a, Op, J, H, G, Fb, S> RetryBlocking<'a, Op, J, H, G, Fb, S> {
    /// Names the call in events and metrics (the attribute's `name`): `provider-a` and
    /// `provider-b` retries told apart. By default `Policy::retry_blocking`.
    pub fn name(mut self, name: &'static str) -> Self {
        self.name = name;
        self
    }

    /// Waits between attempts on `sleeper` (the attribute's `sleeper`), and measures the
    /// deadline on its clock: a [`TestClock`](crate::runtime::TestClock) in tests, or a
    /// board's delay without `std`. By default the thread sleeps.
    pub fn sleeper<S2: BlockingSleeper>(
        self,
        sleeper: S2,
    ) -> RetryBlocking<'a, Op, J, H, G, Fb, S2> {
        RetryBlocking {
            policy: self.policy,
            op: self.op,
            judge: self.judge,
            hook: self.hook,
            budget: self.budget,
            name: self.name,
            key: self.key,
            gate: self.gate,
            fallback: self.fallback,
            sleeper,
        }
    }
}

/// The async builder's call name when none is given: `Policy::retry`. A type of its own, so
/// that a call that names nothing keeps no name in its future.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultName;

/// [`Retry::name`]: the call's name.
#[derive(Clone, Copy, Debug)]
pub struct Named(&'static str);

/// Where an async builder's call name comes from.
pub trait CallName {
    /// The name.
    fn call_name(&self) -> &&'static str;
}

impl CallName for DefaultName {
    #[inline(always)]
    fn call_name(&self) -> &&'static str {
        &"Policy::retry"
    }
}

impl CallName for Named {
    #[inline(always)]
    fn call_name(&self) -> &&'static str {
        &self.0
    }
}

impl<'a, Op, J, H, G, Fb, L, N, S> Retry<'a, Op, J, H, G, Fb, L, N, S> {
    /// Sleeps between attempts and times the per-attempt timeout on `sleeper` (the attribute's
    /// `sleeper`), measuring the deadline on its clock: smol's, embassy's, a
    /// [`TestClock`](crate::runtime::TestClock), or one of your own
    /// ([`Sleeper`](crate::runtime::Sleeper)). By default [`DefaultSleeper`].
    pub fn sleeper<S2>(self, sleeper: S2) -> Retry<'a, Op, J, H, G, Fb, L, N, S2> {
        Retry {
            policy: self.policy,
            op: self.op,
            judge: self.judge,
            hook: self.hook,
            budget: self.budget,
            name: self.name,
            key: self.key,
            gate: self.gate,
            fallback: self.fallback,
            limit: self.limit,
            sleeper,
        }
    }

    /// Names the call in events and metrics (the attribute's `name`): `provider-a` and
    /// `provider-b` retries told apart. By default `Policy::retry`.
    pub fn name(self, name: &'static str) -> Retry<'a, Op, J, H, G, Fb, L, Named, S> {
        Retry {
            policy: self.policy,
            op: self.op,
            judge: self.judge,
            hook: self.hook,
            budget: self.budget,
            name: Named(name),
            key: self.key,
            gate: self.gate,
            fallback: self.fallback,
            limit: self.limit,
            sleeper: self.sleeper,
        }
    }

    /// Cuts each attempt off after `limit`, or at the policy's deadline if that comes first
    /// (the attribute's `timeout`); the cut-off is the error `E::from(TimedOut)`, retried like
    /// any other.
    pub fn timeout(self, limit: Duration) -> Retry<'a, Op, J, H, G, Fb, Timeout, N, S> {
        Retry {
            policy: self.policy,
            op: self.op,
            judge: self.judge,
            hook: self.hook,
            budget: self.budget,
            name: self.name,
            key: self.key,
            gate: self.gate,
            fallback: self.fallback,
            limit: Timeout(limit),
            sleeper: self.sleeper,
        }
    }

    /// [`fallback`](Retry::fallback) with an async function (`|error| async move { .. }`):
    /// serve from a cache, or ask another service.
    ///
    #[cfg_attr(feature = "tokio", doc = "```")]
    #[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
    /// use retry_runtime::Policy;
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let cache = String::from("yesterday's answer");
    /// let reply = Policy::new()
    ///     .with_attempts(2)
    ///     .with_base(Duration::from_millis(10))
    ///     .retry(async |_| Err::<String, _>("down"))
    ///     .fallback_async(|_error| async { Ok(cache.clone()) })
    ///     .await;
    /// assert_eq!(reply.as_deref(), Ok("yesterday's answer"));
    /// # }
    /// ```
    pub fn fallback_async<F, Fut, T, E>(
        self,
        fallback: F,
    ) -> Retry<'a, Op, J, H, G, FallbackAsync<F>, L, N, S>
    where
        Op: AsyncFnMut(Attempt) -> Result<T, E>,
        F: FnOnce(E) -> Fut,
        Fut: core::future::Future<Output = Result<T, E>>,
    {
        self.with_fallback(FallbackAsync(Some(fallback)))
    }

    /// The same call with `fallback` answering when it gives up.
    pub(super) fn with_fallback<Fb2>(self, fallback: Fb2) -> Retry<'a, Op, J, H, G, Fb2, L, N, S> {
        Retry {
            policy: self.policy,
            op: self.op,
            judge: self.judge,
            hook: self.hook,
            budget: self.budget,
            name: self.name,
            key: self.key,
            gate: self.gate,
            fallback,
            limit: self.limit,
            sleeper: self.sleeper,
        }
    }
}

impl<'a, Op, J, H, G, T, E, F, S> RetryBlocking<'a, Op, J, H, G, F, S>
where
    S: BlockingSleeper,
    Op: FnMut(Attempt) -> Result<T, E>,
    J: Judge<T, E>,
    H: Hook<T, E>,
    G: Gate<'a>,
    G::Refused: Refusal<E>,
    F: Recover<T, E, Future = core::future::Ready<Result<T, E>>>,
{
    /// Runs the call: attempts, sleeping the thread between them, until one is final or the
    /// policy gives up; returns that last outcome (or the fallback's answer to its error).
    ///
    /// ```
    /// use retry_runtime::{BreakerOpen, CircuitBreaker, Policy};
    ///
    /// #[derive(Debug, PartialEq)]
    /// enum Error { Down, Open }
    /// impl From<BreakerOpen> for Error {
    ///     fn from(_: BreakerOpen) -> Self { Error::Open }
    /// }
    ///
    /// static BREAKER: CircuitBreaker = CircuitBreaker::new().with_consecutive_failures(3);
    /// let policy = Policy::new().with_attempts(5).with_base(std::time::Duration::ZERO);
    ///
    /// // Three transient failures open the breaker: the call returns the third one (the
    /// // service was called, and that is its answer).
    /// let out = policy.retry_blocking(|_| Err::<(), _>(Error::Down)).breaker(&BREAKER).call();
    /// assert_eq!(out, Err(Error::Down));
    ///
    /// // While it is open, the operation is not called: the call ends with `BreakerOpen`...
    /// let out = policy.retry_blocking(|_| Err::<(), _>(Error::Down)).breaker(&BREAKER).call();
    /// assert_eq!(out, Err(Error::Open));
    ///
    /// // ...or a fallback answers.
    /// let out = policy
    ///     .retry_blocking(|_| -> Result<&str, Error> { unreachable!("not called") })
    ///     .breaker(&BREAKER)
    ///     .fallback(|_| Ok("cached"))
    ///     .call();
    /// assert_eq!(out, Ok("cached"));
    /// ```
    pub fn call(self) -> Result<T, E> {
        self.call_tallied(&mut crate::engine::NoReport)
    }

    /// [`call`](Self::call), recording into `tally` as the call goes.
    #[inline(always)]
    pub(crate) fn call_tallied(self, tally: &mut impl Tally) -> Result<T, E> {
        let RetryBlocking {
            policy,
            mut op,
            judge,
            hook,
            budget,
            name,
            key,
            gate,
            mut fallback,
            sleeper,
        } = self;
        let key = CallKey::new(key);
        let site = Site::named(&name);
        let span = CallSpan::new(name);
        let guards = Guards::new(budget, gate.breaker());
        let step = Step::<StartAndPrevious>::begin_on(policy, H::ELAPSED, &sleeper);
        match admit(&step, policy, &judge, guards, &site, &sleeper, tally) {
            Ok(wait) if wait.is_zero() => {}
            Ok(wait) => sleeper.block(wait),
            Err(refused) => {
                return match fallback.recover(refused) {
                    Ok(answer) => ready_now(answer),
                    Err(last) => last,
                }
            }
        }
        let outcome = crate::engine::run_blocking(step, &sleeper, |step| {
            let permit = match gate.enter() {
                Ok(permit) => permit,
                Err(refusal) => return Flow::Done((refused(step, refusal, &site, tally), true)),
            };
            span.record_attempt(step.attempt());
            let outcome = span.in_scope(|| op(key.attempt(step.attempt())));
            let settled = settle::<_, _, _, G, _>(
                step,
                policy,
                &judge,
                &hook,
                guards,
                Some(permit),
                &site,
                &outcome,
                &sleeper,
                tally,
            );
            match settled {
                Settled::Retry(delay) => Flow::Retry(delay),
                Settled::Accepted => Flow::Done((outcome, false)),
                Settled::GaveUp => Flow::Done((outcome, true)),
            }
        });
        let (outcome, gave_up) = outcome;
        if !gave_up {
            return outcome;
        }
        match fallback.recover(outcome) {
            Ok(answer) => ready_now(answer),
            Err(last) => last,
        }
    }
}
