//! The async doors in WebAssembly, in node: `#[retry]` and `Policy::retry` on JavaScript's timer
//! (`WasmSleeper`, the default sleeper with only the `wasm` feature), exact schedules on the
//! test clock, per-attempt timeouts, the budget, the breaker, jitter and idempotency keys (the
//! last two drawing on `getrandom`'s `wasm_js` backend).
#![cfg(target_arch = "wasm32")]

use std::cell::Cell;
use std::future::IntoFuture;
use std::time::Duration;

use retry_runtime::runtime::{Clock, Sleeper, TestClock, WasmSleeper};
use retry_runtime::{
    retry, BreakerOpen, CircuitBreaker, IdempotencyKey, Policy, RetryBudget, TimedOut,
};
use wasm_bindgen_test::wasm_bindgen_test;

const MS: Duration = Duration::from_millis(1);

#[derive(Debug, PartialEq)]
enum Error {
    Busy,
    TimedOut,
    Open,
}

impl From<TimedOut> for Error {
    fn from(_: TimedOut) -> Self {
        Error::TimedOut
    }
}

impl From<BreakerOpen> for Error {
    fn from(_: BreakerOpen) -> Self {
        Error::Open
    }
}

/// Counts a call and fails until the `succeed_on`-th.
fn count(calls: &Cell<u32>, succeed_on: u32) -> Result<u32, Error> {
    calls.set(calls.get() + 1);
    if calls.get() < succeed_on {
        Err(Error::Busy)
    } else {
        Ok(calls.get())
    }
}

/// Fails twice, then answers: three attempts, 5 ms and 10 ms apart on `setTimeout`.
#[retry(attempts = 3, base = "5ms")]
async fn flaky(calls: &Cell<u32>) -> Result<u32, Error> {
    count(calls, 3)
}

#[wasm_bindgen_test]
async fn the_attribute_retries_on_javascripts_timer() {
    let calls = Cell::new(0);
    assert_eq!(flaky(&calls).await, Ok(3));
    assert_eq!(calls.get(), 3);
}

#[wasm_bindgen_test]
async fn the_builder_retries_on_javascripts_timer() {
    let policy = Policy::new().with_attempts(3).with_base(MS * 5);
    let calls = Cell::new(0);
    let out = policy
        .retry(|_| {
            let out = count(&calls, 3);
            async move { out }
        })
        .await;
    assert_eq!(out, Ok(3));
    assert_eq!(calls.get(), 3);
}

/// Jittered delays are drawn from a generator seeded by `getrandom`.
#[retry(attempts = 4, base = "2ms", jitter)]
async fn jittered(calls: &Cell<u32>) -> Result<u32, Error> {
    count(calls, 4)
}

#[wasm_bindgen_test]
async fn jitter_draws_its_delays_in_wasm() {
    let calls = Cell::new(0);
    assert_eq!(jittered(&calls).await, Ok(4));
    assert_eq!(calls.get(), 4);
}

#[retry(attempts = 3, base = "100ms", sleeper = clock)]
async fn flaky_on(clock: &TestClock, calls: &Cell<u32>) -> Result<u32, Error> {
    count(calls, 3)
}

#[wasm_bindgen_test]
async fn the_attribute_sleeps_the_exact_schedule_on_the_test_clock() {
    let clock = TestClock::new();
    let calls = Cell::new(0);
    let out = clock.run(flaky_on(&clock, &calls)).await;
    assert_eq!(out, Ok(3));
    assert_eq!(calls.get(), 3);
    assert_eq!(clock.sleeps(), [MS * 100, MS * 200]);
    assert_eq!(clock.elapsed(), MS * 300);
}

#[wasm_bindgen_test]
async fn the_builder_sleeps_the_exact_schedule_on_the_test_clock() {
    let clock = TestClock::new();
    let policy = Policy::new().with_attempts(3).with_base(MS * 100);
    let calls = Cell::new(0);
    let call = policy
        .retry(|_| {
            let out = count(&calls, 3);
            async move { out }
        })
        .sleeper(&clock);
    let out = clock.run(call.into_future()).await;
    assert_eq!(out, Ok(3));
    assert_eq!(calls.get(), 3);
    assert_eq!(clock.sleeps(), [MS * 100, MS * 200]);
    assert_eq!(clock.elapsed(), MS * 300);
}

#[wasm_bindgen_test]
async fn a_timeout_on_the_test_clock_cuts_each_attempt_off_exactly() {
    let clock = TestClock::new();
    let policy = Policy::new().with_attempts(2).with_base(MS * 10);
    let calls = Cell::new(0);
    let call = policy
        .retry(|_| {
            calls.set(calls.get() + 1);
            std::future::pending::<Result<(), Error>>()
        })
        .timeout(MS * 20)
        .sleeper(&clock);
    let out = clock.run(call.into_future()).await;
    assert_eq!(out, Err(Error::TimedOut));
    assert_eq!(calls.get(), 2);
    // Attempt cut off at 20 ms, 10 ms sleep, attempt cut off at 20 ms.
    assert_eq!(clock.sleeps(), [MS * 20, MS * 10, MS * 20]);
    assert_eq!(clock.elapsed(), MS * 50);
    assert_eq!(clock.pending(), 0);
}

/// Never answers: each attempt is cut off by a `setTimeout` of 20 ms.
#[retry(attempts = 2, base = "1ms", timeout = "20ms")]
async fn hangs(calls: &Cell<u32>) -> Result<(), Error> {
    calls.set(calls.get() + 1);
    std::future::pending().await
}

#[wasm_bindgen_test]
async fn the_attributes_timeout_ends_an_attempt_that_never_answers() {
    let calls = Cell::new(0);
    assert_eq!(hangs(&calls).await, Err(Error::TimedOut));
    assert_eq!(calls.get(), 2);
}

#[wasm_bindgen_test]
async fn the_builders_timeout_ends_an_attempt_that_never_answers() {
    let policy = Policy::new().with_attempts(2).with_base(MS);
    let calls = Cell::new(0);
    let out = policy
        .retry(|_| {
            calls.set(calls.get() + 1);
            std::future::pending::<Result<(), Error>>()
        })
        .timeout(MS * 20)
        .await;
    assert_eq!(out, Err(Error::TimedOut));
    assert_eq!(calls.get(), 2);
}

static BUDGET: RetryBudget = RetryBudget::new(1, 0.0);

/// Always fails: the budget's one token allows one retry of the four the policy would make.
#[retry(attempts = 5, base = "0ms", budget = BUDGET)]
async fn drains_the_budget(calls: &Cell<u32>) -> Result<(), Error> {
    calls.set(calls.get() + 1);
    Err(Error::Busy)
}

#[wasm_bindgen_test]
async fn the_budget_stops_retries() {
    let calls = Cell::new(0);
    assert_eq!(drains_the_budget(&calls).await, Err(Error::Busy));
    assert_eq!(calls.get(), 2);
}

static BREAKER: CircuitBreaker = CircuitBreaker::new()
    .with_consecutive_failures(1)
    .with_break(Duration::from_secs(60));

#[retry(attempts = 3, base = "1ms", breaker = BREAKER)]
async fn behind_the_breaker(calls: &Cell<u32>) -> Result<(), Error> {
    calls.set(calls.get() + 1);
    Err(Error::Busy)
}

#[wasm_bindgen_test]
async fn the_attributes_breaker_refuses_once_open() {
    // The first failure opens it: the call ends with that failure's own error.
    let calls = Cell::new(0);
    assert_eq!(behind_the_breaker(&calls).await, Err(Error::Busy));
    assert_eq!(calls.get(), 1);
    // While it is open, the function is not called.
    let calls = Cell::new(0);
    assert_eq!(behind_the_breaker(&calls).await, Err(Error::Open));
    assert_eq!(calls.get(), 0);
}

static BUILDERS_BREAKER: CircuitBreaker = CircuitBreaker::new()
    .with_consecutive_failures(1)
    .with_break(Duration::from_secs(60));

/// One call through `BUILDERS_BREAKER` of an operation that always fails: its outcome, and how
/// many times the operation was called.
async fn through_the_builders_breaker(policy: &Policy) -> (Result<(), Error>, u32) {
    let calls = Cell::new(0);
    let out = policy
        .retry(|_| {
            calls.set(calls.get() + 1);
            async { Err::<(), _>(Error::Busy) }
        })
        .breaker(&BUILDERS_BREAKER)
        .await;
    (out, calls.get())
}

#[wasm_bindgen_test]
async fn the_builders_breaker_refuses_once_open() {
    let policy = Policy::new().with_attempts(3).with_base(MS);
    assert_eq!(
        through_the_builders_breaker(&policy).await,
        (Err(Error::Busy), 1)
    );
    assert_eq!(
        through_the_builders_breaker(&policy).await,
        (Err(Error::Open), 0)
    );
}

#[wasm_bindgen_test]
async fn the_wasm_clock_moves_forward_across_a_sleep() {
    let start = WasmSleeper.now();
    WasmSleeper.sleep(MS * 10).await;
    let slept = WasmSleeper.now() - start;
    // `Stamp`s are nanoseconds, read from `performance.now()`.
    assert!(
        slept >= 10_000_000,
        "the clock moved {slept} ns across a 10 ms sleep"
    );
    assert!(slept < 10_000_000_000, "a 10 ms sleep took {slept} ns");
}

#[wasm_bindgen_test]
async fn idempotency_keys_are_random_in_wasm() {
    let (a, b) = (IdempotencyKey::random(), IdempotencyKey::random());
    assert_ne!(a, b);
    let text = a.to_string();
    assert_eq!(text.len(), 36);
    assert_eq!(&text[14..15], "4");
}
