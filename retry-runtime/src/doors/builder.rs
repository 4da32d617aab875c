//! The second front door: `Policy::retry` (feature `tokio`) and [`Policy::retry_blocking`] retry
//! a closure on the
//! same engine as `#[retry]`, for code that cannot carry an attribute (a block inside a larger
//! function, a policy a library's users configure at run time).
//!
//! The builders' type parameters record what was configured (filters, hook, timeout), so a
//! call allocates nothing and pays only for what it uses. Their names are rarely written: chain
//! the methods and `.await` (or `.call()`).

use core::time::Duration;

use crate::attempt::CallKey;
use crate::engine::observe::{trace_give_up, trace_retry};
use crate::engine::verdict::longer;
use crate::engine::{
    Flow, GiveUp, Guards, Judged, Memory, Site, StartAndPrevious, StdClock, Step, Turn, Verdict,
};
use crate::{
    Attempt, BreakerOpen, CircuitBreaker, Classify, IdempotencyKey, Permit, Policy, RetryBudget,
    RetryInfo,
};

// ---- deciding on an outcome --------------------------------------------------------------------

/// How a builder judges an attempt's outcome: [`Verdict::Accept`] when it is final, else a
/// retry (with a server's hint if one was given) or a reason to give up. Built up by
/// [`when`](RetryBlocking::when), [`classify`](RetryBlocking::classify), [`until`](RetryBlocking::until) and
/// [`classify_ok`](RetryBlocking::classify_ok); the order is the attribute's: for an error `when` then
/// `classify` (all must agree to retry), for a value `until` then `classify_ok`.
pub trait Judge<T, E> {
    /// The verdict on one outcome.
    fn judge(&self, outcome: &Result<T, E>) -> Verdict;

    /// Whether a value says that the service is in trouble (`classify_ok` calls it
    /// transient), for the circuit breaker. A value that only fails `until` is the service
    /// answering "not yet", not a failure.
    fn value_transient(&self, value: &T) -> bool {
        let _ = value;
        false
    }
}

/// The starting point: every error is retried, every value is final.
#[derive(Clone, Copy, Debug, Default)]
pub struct Errors;

impl<T, E> Judge<T, E> for Errors {
    #[inline]
    fn judge(&self, outcome: &Result<T, E>) -> Verdict {
        match outcome {
            Ok(_) => Verdict::Accept,
            Err(_) => Verdict::RETRY,
        }
    }
}

/// [`RetryBlocking::when`]: errors the predicate rejects are not retried.
#[derive(Clone, Copy, Debug)]
pub struct When<F, J>(F, J);

impl<T, E, F: Fn(&E) -> bool, J: Judge<T, E>> Judge<T, E> for When<F, J> {
    #[inline]
    fn judge(&self, outcome: &Result<T, E>) -> Verdict {
        match (self.1.judge(outcome), outcome) {
            (Verdict::Retry(_), Err(error)) if !(self.0)(error) => Verdict::Stop(GiveUp::When),
            (verdict, _) => verdict,
        }
    }
    #[inline]
    fn value_transient(&self, value: &T) -> bool {
        self.1.value_transient(value)
    }
}

/// [`RetryBlocking::classify`]: the error's own [`Classify`] decides, hints included.
#[derive(Clone, Copy, Debug)]
pub struct Classified<J>(J);

impl<T, E: Classify, J: Judge<T, E>> Judge<T, E> for Classified<J> {
    #[inline]
    fn judge(&self, outcome: &Result<T, E>) -> Verdict {
        match (self.0.judge(outcome), outcome) {
            (verdict @ Verdict::Retry(_), Err(error)) => verdict.and_error(error.classify()),
            (verdict, _) => verdict,
        }
    }
    #[inline]
    fn value_transient(&self, value: &T) -> bool {
        self.0.value_transient(value)
    }
}

/// [`RetryBlocking::until`]: a value the predicate rejects is retried.
#[derive(Clone, Copy, Debug)]
pub struct Until<F, J>(F, J);

impl<T, E, F: Fn(&T) -> bool, J: Judge<T, E>> Judge<T, E> for Until<F, J> {
    #[inline]
    fn judge(&self, outcome: &Result<T, E>) -> Verdict {
        match (self.1.judge(outcome), outcome) {
            (Verdict::Accept, Ok(value)) if !(self.0)(value) => Verdict::RETRY,
            (verdict, _) => verdict,
        }
    }
    #[inline]
    fn value_transient(&self, value: &T) -> bool {
        self.1.value_transient(value)
    }
}

/// [`RetryBlocking::classify_ok`]: the value's own [`Classify`] may retry it (a 503 response).
#[derive(Clone, Copy, Debug)]
pub struct ClassifiedOk<J>(J);

impl<T: Classify, E, J: Judge<T, E>> Judge<T, E> for ClassifiedOk<J> {
    #[inline]
    fn judge(&self, outcome: &Result<T, E>) -> Verdict {
        match (self.0.judge(outcome), outcome) {
            (Verdict::Accept, Ok(value)) => Verdict::of_value(true, value.classify()),
            // `until` already retries the value: its hint, if it gives one, counts too.
            (Verdict::Retry(hint), Ok(value)) => match Verdict::of_value(false, value.classify()) {
                Verdict::Retry(more) => Verdict::Retry(longer(hint, more)),
                verdict => verdict,
            },
            (verdict, _) => verdict,
        }
    }
    #[inline]
    fn value_transient(&self, value: &T) -> bool {
        self.0.value_transient(value) || value.classify().is_retry()
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

// ---- the circuit breaker and the fallback ------------------------------------------------------

/// Whether an attempt may go ahead: [`NoBreaker`], or a [`CircuitBreaker`] set with
/// [`breaker`](RetryBlocking::breaker).
pub trait Gate<'a> {
    /// What the attempt holds while it runs.
    type Permit;
    /// Why an attempt is refused.
    type Refused;
    /// Asks to make an attempt.
    fn enter(&self) -> Result<Self::Permit, Self::Refused>;
    /// The breaker, for the engine's turn.
    fn breaker(&self) -> Option<&'a CircuitBreaker>;
    /// The permit, for the engine's turn to report on.
    fn permit(permit: Option<Self::Permit>) -> Option<Permit<'a>>;
}

/// No circuit breaker.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoBreaker;

impl<'a> Gate<'a> for NoBreaker {
    type Permit = ();
    type Refused = core::convert::Infallible;
    #[inline(always)]
    fn enter(&self) -> Result<(), core::convert::Infallible> {
        Ok(())
    }
    #[inline(always)]
    fn breaker(&self) -> Option<&'a CircuitBreaker> {
        None
    }
    #[inline(always)]
    fn permit(_: Option<()>) -> Option<Permit<'a>> {
        None
    }
}

/// [`RetryBlocking::breaker`]: every attempt asks the breaker first.
#[derive(Clone, Copy, Debug)]
pub struct Guarded<'a>(&'a CircuitBreaker);

impl<'a> Gate<'a> for Guarded<'a> {
    type Permit = Permit<'a>;
    type Refused = BreakerOpen;
    #[inline]
    fn enter(&self) -> Result<Permit<'a>, BreakerOpen> {
        self.0.try_acquire()
    }
    #[inline(always)]
    fn breaker(&self) -> Option<&'a CircuitBreaker> {
        Some(self.0)
    }
    #[inline(always)]
    fn permit(permit: Option<Permit<'a>>) -> Option<Permit<'a>> {
        permit
    }
}

/// A refused attempt's error, as the call's error type.
#[diagnostic::on_unimplemented(
    message = "`.breaker(..)` needs `{E}` to implement `From<retry_runtime::BreakerOpen>`",
    label = "an attempt the breaker refuses must become this error type",
    note = "add `impl From<retry_runtime::BreakerOpen> for {E}` (e.g. a `BreakerOpen` variant of your error enum)"
)]
pub trait Refusal<E> {
    /// The error.
    fn into_error(self) -> E;
}

impl<E> Refusal<E> for core::convert::Infallible {
    fn into_error(self) -> E {
        match self {}
    }
}

impl<E: From<BreakerOpen>> Refusal<E> for BreakerOpen {
    #[cold]
    fn into_error(self) -> E {
        E::from(self)
    }
}

/// What answers when the call gives up with an error: [`NoFallback`], or a function set with
/// [`fallback`](RetryBlocking::fallback) (or `Retry::fallback_async`).
pub trait Recover<T, E> {
    /// The fallback's answer, as a future (a ready one for a plain function).
    type Future: core::future::Future<Output = Result<T, E>>;
    /// The fallback's answer to `error`, or `Err(error)` when there is none (or it already
    /// answered).
    fn recover(&mut self, error: E) -> Result<Self::Future, E>;
}

/// No fallback: the last error is returned.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoFallback;

impl<T, E> Recover<T, E> for NoFallback {
    type Future = core::future::Ready<Result<T, E>>;
    #[inline(always)]
    fn recover(&mut self, error: E) -> Result<Self::Future, E> {
        Err(error)
    }
}

/// [`RetryBlocking::fallback`]: a plain function answers.
#[derive(Clone, Copy, Debug)]
pub struct Fallback<F>(Option<F>);

impl<T, E, F: FnOnce(E) -> Result<T, E>> Recover<T, E> for Fallback<F> {
    type Future = core::future::Ready<Result<T, E>>;
    fn recover(&mut self, error: E) -> Result<Self::Future, E> {
        match self.0.take() {
            Some(fallback) => Ok(core::future::ready(fallback(error))),
            None => Err(error),
        }
    }
}

/// `Retry::fallback_async`: an async function answers.
#[derive(Clone, Copy, Debug)]
pub struct FallbackAsync<F>(Option<F>);

impl<T, E, F, Fut> Recover<T, E> for FallbackAsync<F>
where
    F: FnOnce(E) -> Fut,
    Fut: core::future::Future<Output = Result<T, E>>,
{
    type Future = Fut;
    fn recover(&mut self, error: E) -> Result<Fut, E> {
        match self.0.take() {
            Some(fallback) => Ok(fallback(error)),
            None => Err(error),
        }
    }
}

/// A plain fallback's answer, without a runtime.
fn ready_now<T, E>(ready: core::future::Ready<Result<T, E>>) -> Result<T, E> {
    ready.into_inner()
}

/// The error of an attempt the breaker refused, counted, with the give-up event.
#[cold]
fn refused<T, E, M: Memory>(
    step: &Step<M>,
    refusal: impl Refusal<E>,
    site: &Site<'_>,
) -> Result<T, E> {
    step.refused(site);
    trace_give_up(
        site,
        step.attempts_made(),
        GiveUp::BreakerOpen,
        &GiveUp::BreakerOpen,
    );
    Err(refusal.into_error())
}

/// What the events of a builder show of an outcome whose types need not be `Display`: whether
/// it was an error or a value (never a type name or a `Debug` dump). The attribute and the
/// middleware, which know the types, show the error itself, or a response's status.
fn outcome_text<T, E>(outcome: &Result<T, E>) -> &'static str {
    match outcome {
        Ok(_) => "a value judged a failure",
        Err(_) => "an error",
    }
}

/// What every builder does with an attempt's outcome: judge it, then take the engine's turn.
/// `None` when it is the call's result (a final value, or a failure the engine gives up on),
/// `Some(delay)` to sleep and retry. The events and the hook are the builder's; everything
/// else is the engine's.
#[allow(clippy::too_many_arguments)]
#[inline]
fn settle<'a, T, E, M: Memory, G: Gate<'a>>(
    step: &mut Step<M>,
    policy: &Policy,
    judge: &impl Judge<T, E>,
    hook: &impl Hook<T, E>,
    guards: Guards<'a>,
    permit: Option<G::Permit>,
    site: &Site<'_>,
    outcome: &Result<T, E>,
) -> Option<Duration> {
    let verdict = judge.judge(outcome);
    let judged = match outcome {
        Err(_) => Judged::error(verdict),
        Ok(value) => {
            let transient = verdict != Verdict::Accept && judge.value_transient(value);
            Judged::new(verdict, transient, true)
        }
    };
    if judged.is_accepted() {
        step.accepted(guards, G::permit(permit), site);
        return None;
    }
    failed(
        step,
        policy,
        hook,
        guards,
        G::permit(permit),
        judged,
        site,
        outcome,
    )
}

/// [`settle`] after a failure, out of line.
#[allow(clippy::too_many_arguments)]
#[cold]
#[inline(never)]
fn failed<T, E, M: Memory>(
    step: &mut Step<M>,
    policy: &Policy,
    hook: &impl Hook<T, E>,
    guards: Guards<'_>,
    permit: Option<Permit<'_>>,
    judged: Judged,
    site: &Site<'_>,
    outcome: &Result<T, E>,
) -> Option<Duration> {
    match step.turn(policy, guards, permit, judged, site) {
        Turn::Done => None,
        Turn::Retry(info) => {
            trace_retry(site, &info, &outcome_text(outcome));
            hook.call(outcome, &info);
            Some(info.delay())
        }
        Turn::GiveUp(reason) => {
            trace_give_up(site, step.attempt(), reason, &outcome_text(outcome));
            None
        }
    }
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
            name: "Policy::retry",
            key: None,
            gate: NoBreaker,
            fallback: NoFallback,
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
        }
    }
}

/// An async retry being configured; `.await` runs it. See [`Policy::retry`].
#[cfg(feature = "tokio")]
#[must_use = "a retry does nothing until it is awaited"]
pub struct Retry<'a, Op, J = Errors, H = NoHook, G = NoBreaker, Fb = NoFallback, L = NoTimeout> {
    policy: &'a Policy,
    op: Op,
    judge: J,
    hook: H,
    limit: L,
    budget: Option<&'a RetryBudget>,
    name: &'static str,
    key: Option<IdempotencyKey>,
    gate: G,
    fallback: Fb,
}

/// A blocking retry being configured; `.call()` runs it. See [`Policy::retry_blocking`].
#[must_use = "a retry does nothing until it is called"]
pub struct RetryBlocking<'a, Op, J = Errors, H = NoHook, G = NoBreaker, Fb = NoFallback> {
    policy: &'a Policy,
    op: Op,
    judge: J,
    hook: H,
    budget: Option<&'a RetryBudget>,
    name: &'static str,
    key: Option<IdempotencyKey>,
    gate: G,
    fallback: Fb,
}

/// The configuration methods both builders share. `$field` lists the fields a builder has
/// besides the shared ones.
macro_rules! configure {
    ($builder:ident < $($extra:ident),* > { $($field:ident),* }) => {
        impl<'a, Op, J, H, G, Fb, $($extra),*> $builder<'a, Op, J, H, G, Fb, $($extra),*> {
            /// Retries only the errors `predicate` accepts (the attribute's `when`).
            pub fn when<F>(self, predicate: F) -> $builder<'a, Op, When<F, J>, H, G, Fb, $($extra),*> {
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

            /// Asks the error's [`Classify`] (the attribute's `classify`): `Stop` is returned
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
            pub fn until<F>(self, predicate: F) -> $builder<'a, Op, Until<F, J>, H, G, Fb, $($extra),*> {
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

            /// Also asks the value's [`Classify`] (the attribute's `classify_ok`): a response
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
            pub fn on_retry<F>(self, hook: F) -> $builder<'a, Op, J, OnRetry<F>, G, Fb, $($extra),*> {
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

            /// Names the call in events and metrics (the attribute's `name`): `provider-a` and
            /// `provider-b` retries told apart. By default `Policy::retry` or
            /// `Policy::retry_blocking`.
            pub fn name(mut self, name: &'static str) -> Self {
                self.name = name;
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
            /// gives up with a value (`until` never satisfied) returns it as it was.
            pub fn fallback<F>(self, fallback: F) -> $builder<'a, Op, J, H, G, Fallback<F>, $($extra),*> {
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
        }
    };
}

#[cfg(feature = "tokio")]
configure!(Retry<L> { limit });
configure!(RetryBlocking<> {});

#[cfg(feature = "tokio")]
impl<'a, Op, J, H, G, Fb, L> Retry<'a, Op, J, H, G, Fb, L> {
    /// Cuts each attempt off after `limit`, or at the policy's deadline if that comes first
    /// (the attribute's `timeout`); the cut-off is the error `E::from(TimedOut)`, retried like
    /// any other.
    pub fn timeout(self, limit: Duration) -> Retry<'a, Op, J, H, G, Fb, Timeout> {
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
        }
    }

    /// [`fallback`](Retry::fallback) with an async function (`|error| async move { .. }`):
    /// serve from a cache, or ask another service.
    ///
    /// ```
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
    pub fn fallback_async<F>(self, fallback: F) -> Retry<'a, Op, J, H, G, FallbackAsync<F>, L> {
        Retry {
            policy: self.policy,
            op: self.op,
            judge: self.judge,
            hook: self.hook,
            budget: self.budget,
            name: self.name,
            key: self.key,
            gate: self.gate,
            fallback: FallbackAsync(Some(fallback)),
            limit: self.limit,
        }
    }
}

impl<'a, Op, J, H, G, T, E, F> RetryBlocking<'a, Op, J, H, G, F>
where
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
        } = self;
        let key = CallKey::new(key);
        let site = Site::named(&name);
        let guards = Guards {
            budget,
            breaker: gate.breaker(),
        };
        let step = Step::<StartAndPrevious<StdClock>>::begin(policy, H::ELAPSED);
        let outcome = crate::engine::run_blocking(step, |step| {
            let permit = match gate.enter() {
                Ok(permit) => permit,
                Err(refusal) => return Flow::Done(refused(step, refusal, &site)),
            };
            let outcome = op(key.attempt(step.attempt()));
            let settled = settle::<_, _, _, G>(
                step,
                policy,
                &judge,
                &hook,
                guards,
                Some(permit),
                &site,
                &outcome,
            );
            match settled {
                Some(delay) => Flow::Retry(delay),
                None => Flow::Done(outcome),
            }
        });
        match outcome {
            Err(error) => match fallback.recover(error) {
                Ok(answer) => ready_now(answer),
                Err(error) => Err(error),
            },
            ok => ok,
        }
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
        pub struct RetryFuture<'a, Op, Fut, J, H, L, G, Fb>
        where
            Fut: Future,
            L: Limit<Fut>,
            G: Gate<'a>,
            Fb: RecoverFor<Fut::Output>,
        {
            policy: &'a Policy,
            op: Op,
            judge: J,
            hook: H,
            limit: L,
            budget: Option<&'a RetryBudget>,
            name: &'static str,
            key: CallKey,
            gate: G,
            fallback: Fb,
            step: Step<StartAndPrevious<crate::engine::TokioClock>>,
            #[pin]
            state: State<L::Attempt, G::Permit, Fb::Future>,
        }
    }

    pin_project_lite::pin_project! {
        /// Where the call is; each state holds what it needs.
        #[project = StateProj]
        enum State<A, P, B> {
            // The next attempt asks the gate.
            Start,
            // An attempt runs, holding the gate's permit.
            Running { #[pin] attempt: A, permit: Option<P> },
            // A sleep before the next attempt.
            Sleeping { #[pin] sleep: tokio::time::Sleep },
            // The fallback answers the final error.
            Recovering { #[pin] answer: B },
        }
    }

    impl<'a, Op, Fut, J, H, L, G, Fb, T, E> IntoFuture for Retry<'a, Op, J, H, G, Fb, L>
    where
        Op: FnMut(Attempt) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        J: Judge<T, E>,
        H: Hook<T, E>,
        L: Limit<Fut>,
        G: Gate<'a>,
        G::Refused: Refusal<E>,
        Fb: Recover<T, E>,
    {
        type Output = Result<T, E>;
        type IntoFuture = RetryFuture<'a, Op, Fut, J, H, L, G, Fb>;

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
                name: self.name,
                gate: self.gate,
                fallback: self.fallback,
                state: State::Start,
            }
        }
    }

    impl<'a, Op, Fut, J, H, L, G, Fb, T, E> Future for RetryFuture<'a, Op, Fut, J, H, L, G, Fb>
    where
        Op: FnMut(Attempt) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        J: Judge<T, E>,
        H: Hook<T, E>,
        L: Limit<Fut>,
        G: Gate<'a>,
        G::Refused: Refusal<E>,
        Fb: Recover<T, E>,
    {
        type Output = Result<T, E>;

        /// Gate → attempt → judge → the engine's turn → return or sleep, then the fallback.
        #[inline]
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, E>> {
            let mut this = self.project();
            let site = Site::named(this.name);
            loop {
                let outcome = match this.state.as_mut().project() {
                    StateProj::Start => match this.gate.enter() {
                        Ok(permit) => {
                            let attempt = (this.op)(this.key.attempt(this.step.attempt()));
                            let (step, policy) = (&*this.step, *this.policy);
                            let attempt = this
                                .limit
                                .wrap(attempt, |limit| step.attempt_timeout(policy, limit));
                            let permit = Some(permit);
                            this.state.set(State::Running { attempt, permit });
                            continue;
                        }
                        Err(refusal) => refused(this.step, refusal, &site),
                    },
                    StateProj::Running { attempt, permit } => {
                        let outcome = L::finish(ready!(attempt.poll(cx)));
                        let guards = Guards {
                            budget: *this.budget,
                            breaker: this.gate.breaker(),
                        };
                        let (judge, hook) = (&*this.judge, &*this.hook);
                        let permit = permit.take();
                        let step = &mut *this.step;
                        match settle::<_, _, _, G>(
                            step,
                            this.policy,
                            judge,
                            hook,
                            guards,
                            permit,
                            &site,
                            &outcome,
                        ) {
                            None => outcome,
                            Some(delay) => {
                                drop(outcome);
                                this.state.set(State::sleeping(delay));
                                continue;
                            }
                        }
                    }
                    StateProj::Sleeping { sleep } => {
                        ready!(sleep.poll(cx));
                        this.state.set(State::Start);
                        continue;
                    }
                    StateProj::Recovering { answer } => {
                        let answer = ready!(answer.poll(cx));
                        this.state.set(State::Start);
                        return Poll::Ready(answer);
                    }
                };
                // The call's outcome: an error goes to the fallback, if there is one.
                let error = match outcome {
                    Ok(value) => {
                        this.state.set(State::Start);
                        return Poll::Ready(Ok(value));
                    }
                    Err(error) => error,
                };
                match this.fallback.recover(error) {
                    Ok(answer) => this.state.set(State::Recovering { answer }),
                    Err(error) => {
                        this.state.set(State::Start);
                        return Poll::Ready(Err(error));
                    }
                }
            }
        }
    }

    impl<A, P, B> State<A, P, B> {
        /// The wait before the next attempt: none for a zero delay (no timer to set up).
        fn sleeping(delay: Duration) -> Self {
            if delay.is_zero() {
                State::Start
            } else {
                State::Sleeping {
                    sleep: crate::engine::sleep(delay),
                }
            }
        }
    }

    impl<'a, Op, J, H, G, Fb, L> Retry<'a, Op, J, H, G, Fb, L> {
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
            } = self;
            let key = CallKey::new(key);
            let site = Site::named(&name);
            let guards = Guards {
                budget,
                breaker: gate.breaker(),
            };
            let mut step =
                Step::<StartAndPrevious<crate::engine::TokioClock>>::begin(policy, H::ELAPSED);
            let outcome = loop {
                let permit = match gate.enter() {
                    Ok(permit) => permit,
                    Err(refusal) => break refused(&step, refusal, &site),
                };
                let attempt = op(key.attempt(step.attempt()));
                let outcome = match limit.cut_off(|limit| step.attempt_timeout(policy, limit)) {
                    None => attempt.await,
                    Some((allowed, timed_out)) => tokio::time::timeout(allowed, attempt)
                        .await
                        .unwrap_or_else(|_| timed_out()),
                };
                let permit = Some(permit);
                let settled = settle::<_, _, _, G>(
                    &mut step, policy, &judge, &hook, guards, permit, &site, &outcome,
                );
                let Some(delay) = settled else {
                    break outcome;
                };
                drop(outcome);
                if !delay.is_zero() {
                    crate::engine::sleep(delay).await;
                }
            };
            match outcome {
                Err(error) => match fallback.recover(error) {
                    Ok(answer) => answer.await,
                    Err(error) => Err(error),
                },
                ok => ok,
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
pub use running::{CutOff, CutOffAt, RecoverFor, RetryFuture};
