//! `breaker` and `fallback` on both front doors: the attribute and the builders, async and
//! blocking. Every give-up reason reaches the fallback; an open breaker refuses without calling
//! the body and ends the call at once. Timing runs on tokio's paused clock.

use std::future::IntoFuture as _;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use retry_runtime::{
    retry, BreakerOpen, BreakerState, CircuitBreaker, Classify, Decision, Policy, RetryBudget,
    TimedOut,
};
use tokio::time::Instant;

#[derive(Debug, Clone, PartialEq)]
enum Error {
    Busy,
    BadRequest,
    Slow(Duration),
    TimedOut,
    Open,
}

impl From<BreakerOpen> for Error {
    fn from(_: BreakerOpen) -> Self {
        Error::Open
    }
}

impl From<TimedOut> for Error {
    fn from(_: TimedOut) -> Self {
        Error::TimedOut
    }
}

impl Classify for Error {
    fn classify(&self) -> Decision {
        match self {
            Error::Busy | Error::TimedOut => Decision::Retry,
            Error::Slow(wait) => Decision::RetryAfter(*wait),
            Error::BadRequest | Error::Open => Decision::Stop,
        }
    }
}

/// The fallback's answer, with the error it was given.
fn answer(error: Error) -> Result<String, Error> {
    Ok(format!("fallback after {error:?}"))
}

async fn answer_later(error: Error) -> Result<String, Error> {
    tokio::time::sleep(Duration::from_millis(7)).await;
    Ok(format!("async fallback after {error:?}"))
}

// ---- the attribute ---------------------------------------------------------------------------

static OUT_OF_ATTEMPTS: AtomicU32 = AtomicU32::new(0);

#[retry(attempts = 3, base = "10ms", fallback = answer)]
async fn out_of_attempts() -> Result<String, Error> {
    OUT_OF_ATTEMPTS.fetch_add(1, Ordering::SeqCst);
    Err(Error::Busy)
}

#[tokio::test(start_paused = true)]
async fn the_fallback_answers_when_attempts_run_out() {
    let start = Instant::now();
    assert_eq!(
        out_of_attempts().await.as_deref(),
        Ok("fallback after Busy")
    );
    assert_eq!(OUT_OF_ATTEMPTS.load(Ordering::SeqCst), 3);
    assert_eq!(start.elapsed(), Duration::from_millis(10 + 20));
}

#[retry(attempts = 3, base = "10ms", classify, fallback = answer_later)]
async fn permanent_async_fallback() -> Result<String, Error> {
    Err(Error::BadRequest)
}

#[tokio::test(start_paused = true)]
async fn an_async_fallback_answers_a_permanent_error_at_once() {
    let start = Instant::now();
    assert_eq!(
        permanent_async_fallback().await.as_deref(),
        Ok("async fallback after BadRequest")
    );
    // No retry: only the fallback's own 7ms.
    assert_eq!(start.elapsed(), Duration::from_millis(7));
}

#[retry(attempts = 10, base = "100ms", backoff = constant, deadline = "250ms", fallback = |e| Ok(format!("fallback after {e:?}")))]
async fn deadline() -> Result<String, Error> {
    Err(Error::Busy)
}

#[retry(attempts = 3, base = "1ms", classify, max_hint = "1s", fallback = answer)]
async fn hint_too_long() -> Result<String, Error> {
    Err(Error::Slow(Duration::from_secs(5)))
}

static BUDGET: RetryBudget = RetryBudget::new(1, 0.0);

#[retry(attempts = 5, base = "1ms", budget = BUDGET, fallback = answer)]
async fn budget_spent() -> Result<String, Error> {
    Err(Error::Busy)
}

#[tokio::test(start_paused = true)]
async fn every_give_up_reason_reaches_the_fallback() {
    let start = Instant::now();
    assert_eq!(deadline().await.as_deref(), Ok("fallback after Busy"));
    // Attempts at 0, 100 and 200ms; a sleep to 300ms would pass the deadline.
    assert_eq!(start.elapsed(), Duration::from_millis(200));
    assert_eq!(
        hint_too_long().await.as_deref(),
        Ok("fallback after Slow(5s)")
    );
    assert_eq!(budget_spent().await.as_deref(), Ok("fallback after Busy"));
    assert_eq!(BUDGET.tokens(), 0.0);
}

#[retry(attempts = 2, base = "1ms", fallback = answer)]
async fn succeeds() -> Result<String, Error> {
    Ok("fresh".to_string())
}

#[tokio::test(start_paused = true)]
async fn a_success_does_not_reach_the_fallback() {
    assert_eq!(succeeds().await.as_deref(), Ok("fresh"));
}

static POLLS: AtomicU32 = AtomicU32::new(0);

/// With `until`, the fallback answers the whole last outcome: here the value that never
/// satisfied it.
#[retry(
    attempts = 3,
    base = "1ms",
    until = |n: &u32| *n > 10,
    fallback = |last: Result<u32, Error>| last.map(|n| n + 100)
)]
async fn never_ready() -> Result<u32, Error> {
    Ok(POLLS.fetch_add(1, Ordering::SeqCst))
}

#[tokio::test(start_paused = true)]
async fn a_value_that_never_satisfied_until_reaches_the_fallback() {
    assert_eq!(never_ready().await, Ok(102));
}

/// A value `classify_ok` judged a failure (a 503 in an `Ok`) reaches the fallback too, sync or
/// async; a value it accepts does not.
#[derive(Debug, PartialEq)]
struct Status(u16);

impl retry_runtime::Classify for Status {
    fn classify(&self) -> retry_runtime::Decision {
        if self.0 == 503 {
            retry_runtime::Decision::Retry
        } else {
            retry_runtime::Decision::Stop
        }
    }
}

#[retry(attempts = 2, base = "1ms", classify_ok, fallback = |_last| Ok(Status(200)))]
fn unavailable(status: u16) -> Result<Status, Error> {
    Ok(Status(status))
}

#[retry(attempts = 2, base = "1ms", classify_ok, fallback = from_replica)]
async fn unavailable_async() -> Result<Status, Error> {
    Ok(Status(503))
}

async fn from_replica(last: Result<Status, Error>) -> Result<Status, Error> {
    assert_eq!(last, Ok(Status(503)));
    Ok(Status(203))
}

#[tokio::test(start_paused = true)]
async fn a_value_classify_ok_judged_a_failure_reaches_the_fallback() {
    assert_eq!(unavailable(503), Ok(Status(200)));
    assert_eq!(unavailable(404), Ok(Status(404)));
    assert_eq!(unavailable_async().await, Ok(Status(203)));
}

static BREAKER: CircuitBreaker = CircuitBreaker::new()
    .with_consecutive_failures(3)
    .with_break(Duration::from_secs(10))
    .with_break_jitter(0.0);
static GUARDED_CALLS: AtomicU32 = AtomicU32::new(0);

#[retry(attempts = 5, base = "10ms", classify, breaker = BREAKER)]
async fn guarded(fail: Error) -> Result<u32, Error> {
    GUARDED_CALLS.fetch_add(1, Ordering::SeqCst);
    Err(fail)
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_refuses_without_calling_the_body_and_ends_the_call() {
    // Permanent errors do not count.
    for _ in 0..5 {
        assert_eq!(guarded(Error::BadRequest).await, Err(Error::BadRequest));
    }
    assert_eq!(BREAKER.state(), BreakerState::Closed);
    // Three transient failures open it: the call ends with the third (the service was called,
    // and that is its answer), without sleeping before a retry the breaker would refuse.
    let start = Instant::now();
    assert_eq!(guarded(Error::Busy).await, Err(Error::Busy));
    assert_eq!(GUARDED_CALLS.load(Ordering::SeqCst), 8);
    assert_eq!(start.elapsed(), Duration::from_millis(30));
    assert_eq!(BREAKER.state(), BreakerState::Open);
    // While open: refused at once, body not called.
    let start = Instant::now();
    assert_eq!(guarded(Error::Busy).await, Err(Error::Open));
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(GUARDED_CALLS.load(Ordering::SeqCst), 8);
    // After the break, one probe; it fails, so the breaker opens again and the call ends with
    // the probe's own failure.
    tokio::time::advance(Duration::from_secs(10)).await;
    assert_eq!(guarded(Error::Busy).await, Err(Error::Busy));
    assert_eq!(GUARDED_CALLS.load(Ordering::SeqCst), 9);
    assert_eq!(BREAKER.state(), BreakerState::Open);
}

static BREAKER_FB: CircuitBreaker = CircuitBreaker::new()
    .with_consecutive_failures(1)
    .with_break(Duration::from_secs(1))
    .with_break_jitter(0.0);

#[retry(attempts = 3, base = "10ms", breaker = BREAKER_FB, fallback = answer)]
fn blocking_guarded(ok: bool) -> Result<String, Error> {
    if ok {
        Ok("served".into())
    } else {
        Err(Error::Busy)
    }
}

#[test]
fn a_blocking_function_gets_the_breaker_and_the_fallback() {
    // The failure that opens the breaker reaches the fallback as itself.
    assert_eq!(
        blocking_guarded(false).as_deref(),
        Ok("fallback after Busy")
    );
    assert_eq!(BREAKER_FB.state(), BreakerState::Open);
    // Still open: the fallback answers, the body is not run.
    assert_eq!(blocking_guarded(true).as_deref(), Ok("fallback after Open"));
}

// ---- the builders ----------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn the_builder_takes_a_breaker_and_a_fallback() {
    let breaker = CircuitBreaker::new()
        .with_consecutive_failures(2)
        .with_break(Duration::from_secs(5))
        .with_break_jitter(0.0);
    let policy = Policy::new()
        .with_attempts(4)
        .with_base(Duration::from_millis(10));
    let calls = AtomicU32::new(0);
    let out = policy
        .retry(async |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<String, _>(Error::Busy)
        })
        .classify()
        .breaker(&breaker)
        .fallback(answer)
        .await;
    // The second failure opens the breaker: the fallback answers that failure.
    assert_eq!(out.as_deref(), Ok("fallback after Busy"));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // An async fallback, while the breaker is open.
    let out = policy
        .retry(async |_| Ok::<String, Error>("unreachable".into()))
        .breaker(&breaker)
        .fallback_async(answer_later)
        .await;
    assert_eq!(out.as_deref(), Ok("async fallback after Open"));
    // After the break the probe succeeds and closes it.
    tokio::time::advance(Duration::from_secs(5)).await;
    let out = policy
        .retry(async |_| Ok::<String, Error>("fresh".into()))
        .breaker(&breaker)
        .fallback(answer)
        .await;
    assert_eq!(out.as_deref(), Ok("fresh"));
    assert_eq!(breaker.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn run_and_timeout_reach_the_fallback() {
    let policy = Policy::new()
        .with_attempts(2)
        .with_base(Duration::from_millis(1));
    let mut seen = Vec::new();
    let out = policy
        .retry(async |attempt| {
            seen.push(attempt.attempt());
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok::<String, Error>("late".into())
        })
        .timeout(Duration::from_millis(50))
        .fallback(answer)
        .run()
        .await;
    assert_eq!(out.as_deref(), Ok("fallback after TimedOut"));
    assert_eq!(seen, [1, 2]);
}

#[test]
fn the_blocking_builder_reaches_the_fallback_for_every_reason() {
    let policy = Policy::new().with_attempts(3).with_base(Duration::ZERO);
    let out = policy
        .retry_blocking(|_| Err::<String, _>(Error::BadRequest))
        .classify()
        .fallback(answer)
        .call();
    assert_eq!(out.as_deref(), Ok("fallback after BadRequest"));
    let out = policy
        .retry_blocking(|_| Err::<String, _>(Error::Busy))
        .fallback(answer)
        .call();
    assert_eq!(out.as_deref(), Ok("fallback after Busy"));
    let budget = RetryBudget::new(0, 0.0);
    let calls = AtomicU32::new(0);
    let out = policy
        .retry_blocking(|_| {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<String, _>(Error::Busy)
        })
        .budget(&budget)
        .fallback(answer)
        .call();
    assert_eq!(out.as_deref(), Ok("fallback after Busy"));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_probe_gives_its_slot_back() {
    let breaker = CircuitBreaker::new()
        .with_consecutive_failures(1)
        .with_break(Duration::ZERO);
    let policy = Policy::new().with_attempts(1);
    let _ = policy
        .retry(async |_| Err::<(), _>(Error::Busy))
        .breaker(&breaker)
        .await;
    assert_eq!(breaker.state(), BreakerState::Open);
    // A probe that never finishes: cancelled by a timeout around the whole call.
    let hung = policy
        .retry(async |_| {
            std::future::pending::<()>().await;
            Ok::<(), Error>(())
        })
        .breaker(&breaker);
    assert!(
        tokio::time::timeout(Duration::from_millis(5), hung.into_future())
            .await
            .is_err()
    );
    assert_eq!(breaker.stats().probes_in_flight, 0);
    // The next call gets the probe slot and closes the breaker.
    let out = policy
        .retry(async |_| Ok::<u8, Error>(1))
        .breaker(&breaker)
        .await;
    assert_eq!(out, Ok(1));
    assert_eq!(breaker.state(), BreakerState::Closed);
}

/// The builders: `.fallback_outcome` answers a value `classify_ok` judged a failure, `.fallback`
/// answers errors only and returns such a value as it was.
#[tokio::test(start_paused = true)]
async fn the_builders_fallback_outcome_answers_a_value_judged_a_failure() {
    let policy = retry_runtime::Policy::new()
        .with_attempts(2)
        .with_base(Duration::from_millis(1));
    let out = policy
        .retry(async |_| Ok::<_, Error>(Status(503)))
        .classify_ok()
        .fallback_outcome(|last| last.map(|_| Status(200)))
        .await;
    assert_eq!(out, Ok(Status(200)));
    let out = policy
        .retry_blocking(|_| Ok::<_, Error>(Status(503)))
        .classify_ok()
        .fallback_outcome(|last| last.map(|_| Status(200)))
        .call();
    assert_eq!(out, Ok(Status(200)));
    let out = policy
        .retry_blocking(|_| Ok::<_, Error>(Status(503)))
        .classify_ok()
        .fallback(|_| Ok(Status(200)))
        .call();
    assert_eq!(out, Ok(Status(503)));
    // A success never reaches it.
    let out = policy
        .retry_blocking(|_| Ok::<_, Error>(Status(404)))
        .classify_ok()
        .fallback_outcome(|_| Ok(Status(200)))
        .call();
    assert_eq!(out, Ok(Status(404)));
}
