//! The async doors under smol, with no tokio runtime anywhere: exact schedules, deadlines and
//! timeouts on the test clock (`TestClock::run` moves its time, `smol::block_on` drives), and
//! the real async-io timer for a timeout, the budget and the breaker.

use std::cell::Cell;
use std::future::IntoFuture;
use std::time::Duration;

use retry_runtime::runtime::{SmolSleeper, TestClock};
use retry_runtime::{retry, BreakerOpen, CircuitBreaker, Policy, RetryBudget, TimedOut};

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

#[retry(attempts = 4, base = "100ms", sleeper = clock)]
async fn flaky(clock: &TestClock, calls: &Cell<u32>) -> Result<u32, Error> {
    calls.set(calls.get() + 1);
    if calls.get() < 4 {
        Err(Error::Busy)
    } else {
        Ok(calls.get())
    }
}

#[test]
fn the_attribute_sleeps_the_exact_schedule_on_the_test_clock() {
    let clock = TestClock::new();
    let calls = Cell::new(0);
    let out = smol::block_on(clock.run(flaky(&clock, &calls)));
    assert_eq!(out, Ok(4));
    assert_eq!(calls.get(), 4);
    assert_eq!(clock.sleeps(), [MS * 100, MS * 200, MS * 400]);
    assert_eq!(clock.elapsed(), MS * 700);
}

/// 100 + 200 would end at 300 ms, past the 250 ms deadline: two attempts, 100 ms.
#[retry(attempts = 5, base = "100ms", deadline = "250ms", sleeper = clock)]
async fn past_the_deadline(clock: &TestClock, calls: &Cell<u32>) -> Result<(), Error> {
    calls.set(calls.get() + 1);
    Err(Error::Busy)
}

#[test]
fn the_deadline_is_measured_on_the_sleepers_clock() {
    let clock = TestClock::new();
    let calls = Cell::new(0);
    let out = smol::block_on(clock.run(past_the_deadline(&clock, &calls)));
    assert_eq!(out, Err(Error::Busy));
    assert_eq!(calls.get(), 2);
    assert_eq!(clock.elapsed(), MS * 100);
}

/// Each attempt takes 500 ms on the test clock and is cut off at 200 ms.
#[retry(attempts = 3, base = "10ms", timeout = "200ms", sleeper = clock)]
async fn slow(clock: &TestClock, calls: &Cell<u32>) -> Result<(), Error> {
    calls.set(calls.get() + 1);
    retry_runtime::Sleeper::sleep(clock, MS * 500).await;
    Ok(())
}

#[test]
fn a_timeout_cuts_each_attempt_off_exactly() {
    let clock = TestClock::new();
    let calls = Cell::new(0);
    let out = smol::block_on(clock.run(slow(&clock, &calls)));
    assert_eq!(out, Err(Error::TimedOut));
    assert_eq!(calls.get(), 3);
    // 200 + 10 + 200 + 20 + 200.
    assert_eq!(clock.elapsed(), MS * 630);
    // Every cut-off attempt's own sleep was dropped with it.
    assert_eq!(clock.pending(), 0);
}

#[test]
fn the_builder_runs_on_the_test_clock() {
    let clock = TestClock::new();
    let policy = Policy::new().with_attempts(3).with_base(MS * 50);
    let calls = Cell::new(0);
    let call = policy
        .retry(|_| {
            calls.set(calls.get() + 1);
            let n = calls.get();
            let clock = clock.clone();
            async move {
                retry_runtime::Sleeper::sleep(&clock, MS * 30).await;
                if n < 3 {
                    Err(Error::Busy)
                } else {
                    Ok(n)
                }
            }
        })
        .timeout(MS * 40)
        .sleeper(&clock);
    let out = smol::block_on(clock.run(call.into_future()));
    assert_eq!(out, Ok(3));
    // 30 (attempt) + 50 + 30 + 100 + 30; each attempt's timer and its own sleep recorded.
    assert_eq!(clock.elapsed(), MS * 240);
    assert_eq!(
        clock.sleeps(),
        [
            MS * 40,
            MS * 30,
            MS * 50,
            MS * 40,
            MS * 30,
            MS * 100,
            MS * 40,
            MS * 30
        ]
    );
}

#[test]
fn the_blocking_builder_waits_on_the_test_clock() {
    let clock = TestClock::new();
    let calls = Cell::new(0);
    let out = Policy::new()
        .with_attempts(3)
        .with_base(Duration::from_secs(1))
        .retry_blocking(|_| {
            calls.set(calls.get() + 1);
            Err::<(), _>(Error::Busy)
        })
        .sleeper(&clock)
        .call();
    assert_eq!(out, Err(Error::Busy));
    assert_eq!(calls.get(), 3);
    assert_eq!(clock.elapsed(), Duration::from_secs(3));
}

#[retry(attempts = 2, base = "1ms", timeout = "10ms", sleeper = SmolSleeper)]
async fn hangs(calls: &Cell<u32>) -> Result<(), Error> {
    calls.set(calls.get() + 1);
    std::future::pending().await
}

#[test]
fn a_timeout_on_async_ios_timer_ends_an_attempt_that_never_answers() {
    let calls = Cell::new(0);
    assert_eq!(smol::block_on(hangs(&calls)), Err(Error::TimedOut));
    assert_eq!(calls.get(), 2);
}

static BUDGET: RetryBudget = RetryBudget::new(1, 0.0);

#[retry(attempts = 5, base = "1ms", budget = BUDGET, sleeper = SmolSleeper)]
async fn drains_the_budget(calls: &Cell<u32>) -> Result<(), Error> {
    calls.set(calls.get() + 1);
    Err(Error::Busy)
}

#[test]
fn the_budget_stops_retries_under_smol() {
    let calls = Cell::new(0);
    assert_eq!(smol::block_on(drains_the_budget(&calls)), Err(Error::Busy));
    assert_eq!(calls.get(), 2);
}

static BREAKER: CircuitBreaker = CircuitBreaker::new()
    .with_consecutive_failures(1)
    .with_break(Duration::from_secs(60));

#[test]
fn the_breaker_refuses_under_smol() {
    let policy = Policy::new().with_attempts(3).with_base(MS);
    let calls = Cell::new(0);
    let call = || {
        policy
            .retry(|_| {
                calls.set(calls.get() + 1);
                async { Err::<(), _>(Error::Busy) }
            })
            .breaker(&BREAKER)
            .sleeper(SmolSleeper)
    };
    assert_eq!(smol::block_on(call().into_future()), Err(Error::Busy));
    assert_eq!(smol::block_on(call().into_future()), Err(Error::Open));
    assert_eq!(calls.get(), 1);
}
