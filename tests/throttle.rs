//! The client-side throttle and the CUBIC rate limiter on every door: each attempt is asked
//! before it goes out (a retry at its turn), each answer is reported as an accept or an
//! overload, a refused first attempt is the caller's `E::from(Throttled)` or the fallback's
//! answer, a refused retry returns the last outcome; the limiter's token lengthens a retry's
//! delay and never past the deadline.
//!
//! Time is a [`TestClock`]: exact, instant. The throttle's draws come from the thread's jitter
//! generator, seeded per test with [`seed_jitter`], so a rejection with probability
//! 10 000/10 001 is also the same on every run.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::IntoFuture;
use std::time::Duration;

use retry_runtime::runtime::{guard_time, TestClock};
use retry_runtime::{
    retry, seed_jitter, AdaptiveThrottle, Classify, Decision, Policy, RateLimiter, Throttled,
};

#[derive(Clone, Debug, PartialEq)]
enum ApiError {
    /// A 503: retried, and an overload answer.
    Overloaded,
    /// A 404: permanent, and an accept (the service answered).
    NotFound,
    /// A 500: retried, an accept.
    Internal,
    /// Refused on the client.
    Throttled,
}

impl Classify for ApiError {
    fn classify(&self) -> Decision {
        match self {
            ApiError::Overloaded | ApiError::Internal => Decision::Retry,
            ApiError::NotFound | ApiError::Throttled => Decision::Stop,
        }
    }
    fn overloaded(&self) -> bool {
        matches!(self, ApiError::Overloaded)
    }
}

impl From<Throttled> for ApiError {
    fn from(_: Throttled) -> Self {
        ApiError::Throttled
    }
}

const MS: Duration = Duration::from_millis(1);

/// Enough accepts in the window ending at `clock`'s now that the throttle rejects nothing until
/// the requests pass twice their number.
fn accepted(throttle: &AdaptiveThrottle, clock: &TestClock, accepts: u32) {
    for _ in 0..accepts {
        throttle.record(guard_time(clock), true);
    }
}

/// `requests` rejected requests in the window ending at `clock`'s now: the throttle then rejects
/// with probability `requests / (requests + 1)` (nothing accepted).
fn refused(throttle: &AdaptiveThrottle, clock: &TestClock, requests: u32) {
    for _ in 0..requests {
        let _ = throttle.admit(guard_time(clock), u32::MAX);
    }
}

/// The requests and accepts the throttle counted, now.
fn counts(throttle: &AdaptiveThrottle, clock: &TestClock) -> (u32, u32) {
    let now = guard_time(clock);
    (throttle.requests(now), throttle.accepts(now))
}

static COUNTED: AdaptiveThrottle = AdaptiveThrottle::new();

thread_local! {
    static CLOCK: TestClock = TestClock::new();
    static CALLS: Cell<u32> = const { Cell::new(0) };
    static SCRIPT: RefCell<VecDeque<ApiError>> = const { RefCell::new(VecDeque::new()) };
}

/// This test's clock (each test runs on a thread of its own).
fn clock() -> TestClock {
    CLOCK.with(TestClock::clone)
}

/// The operation's calls in this test so far.
fn calls() -> u32 {
    CALLS.with(Cell::get)
}

/// The next calls fail with `errors`, in order, then succeed.
fn script(errors: &[ApiError]) {
    SCRIPT.with(|script| script.borrow_mut().extend(errors.iter().cloned()));
}

/// One call of the operation: the next scripted error, else `Ok(n)` for the `n`th call.
fn answer() -> Result<u32, ApiError> {
    let n = CALLS.with(|calls| {
        calls.set(calls.get() + 1);
        calls.get()
    });
    match SCRIPT.with(|script| script.borrow_mut().pop_front()) {
        Some(error) => Err(error),
        None => Ok(n),
    }
}

#[retry(attempts = 4, base = "10ms", classify, throttle = COUNTED, sleeper = clock())]
async fn counted() -> Result<u32, ApiError> {
    answer()
}

#[test]
fn the_attribute_counts_every_attempt_and_only_non_overload_answers_as_accepts() {
    let clock = clock();
    accepted(&COUNTED, &clock, 10);
    script(&[
        ApiError::Overloaded,
        ApiError::Internal,
        ApiError::Overloaded,
    ]);
    assert_eq!(clock.run(counted()).now_or_never(), Some(Ok(4)));
    // Four attempts asked; the 500 and the success accepted, the two 503s not.
    assert_eq!(counts(&COUNTED, &clock), (4, 10 + 2));
    assert_eq!(clock.sleeps(), [MS * 10, MS * 20, MS * 40]);
    // A 404 is the service answering: an accept, and the end of the call.
    script(&[ApiError::NotFound]);
    assert_eq!(
        clock.run(counted()).now_or_never(),
        Some(Err(ApiError::NotFound))
    );
    assert_eq!(counts(&COUNTED, &clock), (5, 13));
}

static REFUSING: AdaptiveThrottle = AdaptiveThrottle::new();

#[retry(attempts = 3, base = "10ms", classify, throttle = REFUSING, sleeper = clock())]
async fn refused_at_once() -> Result<u32, ApiError> {
    answer()
}

#[retry(
    attempts = 3,
    base = "10ms",
    classify,
    throttle = REFUSING,
    sleeper = clock(),
    fallback = |_| Ok(0)
)]
async fn refused_with_fallback() -> Result<u32, ApiError> {
    answer()
}

#[test]
fn a_refused_first_attempt_is_the_callers_error_or_the_fallbacks_answer_and_never_runs() {
    seed_jitter(1);
    let clock = clock();
    refused(&REFUSING, &clock, 10_000);
    assert_eq!(
        clock.run(refused_at_once()).now_or_never(),
        Some(Err(ApiError::Throttled))
    );
    assert_eq!(
        clock.run(refused_with_fallback()).now_or_never(),
        Some(Ok(0))
    );
    assert_eq!(calls(), 0, "a refused attempt never reaches the operation");
    assert!(clock.sleeps().is_empty());
    // Each refusal was a request too.
    assert_eq!(counts(&REFUSING, &clock), (10_002, 0));
}

static BLOCKING: AdaptiveThrottle = AdaptiveThrottle::new();

#[retry(attempts = 3, base = "10ms", classify, throttle = BLOCKING, sleeper = clock())]
fn blocking_counted() -> Result<u32, ApiError> {
    answer()
}

#[test]
fn the_blocking_attribute_asks_the_throttle_too() {
    seed_jitter(2);
    let clock = clock();
    accepted(&BLOCKING, &clock, 10);
    script(&[ApiError::Overloaded]);
    assert_eq!(blocking_counted(), Ok(2));
    assert_eq!(counts(&BLOCKING, &clock), (2, 11));
    refused(&BLOCKING, &clock, 30_000);
    assert_eq!(blocking_counted(), Err(ApiError::Throttled));
    assert_eq!(calls(), 2);
}

static RETRY_REFUSED: AdaptiveThrottle = AdaptiveThrottle::new();

/// The first attempt goes out (no history); while it runs, 10 000 other requests are refused
/// as overloaded, so its retry is rejected at its turn: the call returns its own answer.
#[retry(attempts = 3, base = "10ms", classify, throttle = RETRY_REFUSED, sleeper = clock())]
async fn crowded() -> Result<u32, ApiError> {
    let out = answer();
    refused(&RETRY_REFUSED, &clock(), 10_000);
    out
}

#[test]
fn a_refused_retry_ends_the_call_with_its_last_outcome_before_sleeping() {
    seed_jitter(3);
    let clock = clock();
    script(&[ApiError::Overloaded]);
    assert_eq!(
        clock.run(crowded()).now_or_never(),
        Some(Err(ApiError::Overloaded))
    );
    assert_eq!(calls(), 1);
    assert!(clock.sleeps().is_empty(), "no sleep before a refused retry");
    // The first attempt, the crowd and the refused retry.
    assert_eq!(counts(&RETRY_REFUSED, &clock), (10_002, 0));
}

static BUILDER: AdaptiveThrottle = AdaptiveThrottle::new();

#[test]
fn the_builders_ask_the_throttle_before_every_attempt() {
    seed_jitter(4);
    let clock = clock();
    let policy = Policy::new().with_attempts(3).with_base(MS * 10);
    accepted(&BUILDER, &clock, 10);
    script(&[ApiError::Overloaded]);
    let call = policy
        .retry(|_| async { answer() })
        .throttle(&BUILDER)
        .sleeper(clock.clone());
    assert_eq!(clock.run(call.into_future()).now_or_never(), Some(Ok(2)));
    assert_eq!(counts(&BUILDER, &clock), (2, 11));
    script(&[ApiError::Overloaded, ApiError::Internal]);
    let out = policy
        .retry_blocking(|_| answer())
        .throttle(&BUILDER)
        .sleeper(clock.clone())
        .call();
    assert_eq!(out, Ok(5));
    assert_eq!(counts(&BUILDER, &clock), (5, 13));

    refused(&BUILDER, &clock, 30_000);
    let call = policy
        .retry(|_| async { answer() })
        .throttle(&BUILDER)
        .sleeper(clock.clone());
    assert_eq!(
        clock.run(call.into_future()).now_or_never(),
        Some(Err(ApiError::Throttled))
    );
    let out = policy
        .retry_blocking(|_| answer())
        .throttle(&BUILDER)
        .fallback(|_| Ok(0))
        .sleeper(clock.clone())
        .call();
    assert_eq!(out, Ok(0));
    assert_eq!(calls(), 5, "refused attempts never reach the operation");
}

#[test]
fn the_limiter_paces_retries_after_the_first_overload_and_never_past_the_deadline() {
    let clock = clock();
    let limiter = RateLimiter::new();
    let policy = Policy::new().with_attempts(3).with_base(MS * 10);
    // Off until the service throttles: a 500 is not a throttling answer.
    script(&[ApiError::Internal]);
    let out = policy
        .retry_blocking(|_| answer())
        .rate_limiter(&limiter)
        .sleeper(clock.clone())
        .call();
    assert_eq!(out, Ok(2));
    assert_eq!(limiter.fill_rate(), None);
    assert_eq!(clock.sleeps(), [MS * 10]);
    // The first 503 (at 10 ms) turns pacing on at the slowest rate (0.5 a second) with an
    // empty bucket that has filled since the limiter's first answer at 0 ms: the retry waits
    // the 1.99 s left for its token instead of the 10 ms backoff.
    script(&[ApiError::Overloaded]);
    let out = policy
        .retry_blocking(|_| answer())
        .rate_limiter(&limiter)
        .sleeper(clock.clone())
        .call();
    assert_eq!(out, Ok(4));
    // On since the 503 (the success after it regrew the rate on its cubic curve).
    assert!(limiter.fill_rate().is_some());
    assert_eq!(clock.sleeps(), [MS * 10, MS * 1_990]);

    // With a deadline nearer than the next token, the call ends with its last error.
    let limiter = RateLimiter::new();
    let policy = policy.with_deadline(Duration::from_secs(1));
    script(&[ApiError::Overloaded]);
    let call = policy
        .retry(|_| async { answer() })
        .rate_limiter(&limiter)
        .sleeper(clock.clone());
    assert_eq!(
        clock.run(call.into_future()).now_or_never(),
        Some(Err(ApiError::Overloaded))
    );
    // A first attempt whose token comes after the deadline is not sent.
    let call = policy
        .retry(|_| async { answer() })
        .rate_limiter(&limiter)
        .sleeper(clock.clone());
    assert_eq!(
        clock.run(call.into_future()).now_or_never(),
        Some(Err(ApiError::Throttled))
    );
    assert_eq!(calls(), 5);
    assert_eq!(clock.sleeps().len(), 2, "{:?}", clock.sleeps());
}

static PACED: RateLimiter = RateLimiter::new();

#[retry(attempts = 2, base = "10ms", classify, rate_limiter = PACED, sleeper = clock())]
async fn paced() -> Result<u32, ApiError> {
    answer()
}

#[test]
fn the_attribute_waits_for_the_limiters_token_before_the_first_attempt() {
    let clock = clock();
    script(&[ApiError::Overloaded]);
    assert_eq!(clock.run(paced()).now_or_never(), Some(Ok(2)));
    assert_eq!(clock.sleeps(), [Duration::from_secs(2)]);
    // The next call's first attempt waits for the token after that one.
    assert_eq!(clock.run(paced()).now_or_never(), Some(Ok(3)));
    let sleeps = clock.sleeps();
    assert_eq!(sleeps.len(), 2, "{sleeps:?}");
    assert!(sleeps[1] > Duration::ZERO, "{sleeps:?}");
}

/// `Future::now_or_never` without a dependency: one poll with a no-op waker.
trait NowOrNever: std::future::Future + Sized {
    fn now_or_never(self) -> Option<Self::Output> {
        let mut future = std::pin::pin!(self);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match future.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(out) => Some(out),
            std::task::Poll::Pending => None,
        }
    }
}

impl<F: std::future::Future> NowOrNever for F {}

/// `#[derive(Classify)]`: a transparent variant answers `overloaded` as its field does; a
/// variant with a decision of its own is not an overload answer.
#[test]
fn the_derive_passes_overloaded_through_transparent_variants() {
    #[derive(Debug, Classify)]
    enum Wrapper {
        #[classify(transparent)]
        Api(ApiError),
        #[classify(retry)]
        Busy,
    }
    assert!(Wrapper::Api(ApiError::Overloaded).overloaded());
    assert!(!Wrapper::Api(ApiError::Internal).overloaded());
    assert!(!Wrapper::Busy.overloaded());
}
