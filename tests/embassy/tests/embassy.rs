//! The `no_std` build of retry-runtime on embassy-time, on the host: every call runs under
//! [`block_on`] on the mock driver, and each test asserts the exact number of attempts and the
//! exact mock time the call took (the sum of its sleeps and cut-offs, to the microsecond tick).
//! `#[retry]` and `Policy::retry` on `EmbassySleeper`, per-attempt timeouts, the deadline, the
//! budget, the breaker on embassy's clock, seeded jitter, `Classify` hints, filters, fallbacks,
//! and `Policy::schedule` in a loop of one's own.

use std::cell::{Cell, RefCell};
use std::time::Duration as StdDuration;

use embassy_time::{Duration, Instant, MockDriver, Timer};
use retry_embassy_tests::{block_on, serial};
use retry_runtime::runtime::{Clock, EmbassySleeper, Sleeper};
use retry_runtime::{
    retry, seed_jitter, BreakerOpen, BreakerState, CircuitBreaker, Classify, Decision, GiveUp,
    Jitter, Policy, RetryBudget, RetryInfo, TimedOut,
};

const MS: StdDuration = StdDuration::from_millis(1);

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

/// A mock-time span in whole milliseconds.
fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// Fails twice, then answers: sleeps of 100 ms and 200 ms on `EmbassySleeper`, the default
/// sleeper with only the `embassy` feature.
#[retry(attempts = 3, base = "100ms")]
async fn flaky(calls: &Cell<u32>) -> Result<u32, Error> {
    count(calls, 3)
}

#[test]
fn the_attribute_sleeps_on_the_embassy_timer() {
    let _serial = serial();
    let calls = Cell::new(0);
    let (out, took) = block_on(flaky(&calls));
    assert_eq!(out, Ok(3));
    assert_eq!(calls.get(), 3);
    assert_eq!(took, ms(100 + 200));
    assert_eq!(Instant::now(), Instant::from_millis(300));
}

#[test]
fn the_builder_sleeps_on_the_embassy_timer() {
    let _serial = serial();
    let policy = Policy::new().with_attempts(3).with_base(MS * 100);
    let calls = Cell::new(0);
    let (out, took) = block_on(async {
        policy
            .retry(|_| {
                let out = count(&calls, 3);
                async move { out }
            })
            .await
    });
    assert_eq!(out, Ok(3));
    assert_eq!(calls.get(), 3);
    assert_eq!(took, ms(100 + 200));
    assert_eq!(Instant::now(), Instant::from_millis(300));
}

#[test]
fn the_builder_takes_the_embassy_sleeper_by_name() {
    let _serial = serial();
    let policy = Policy::new().with_attempts(4).with_base(MS * 25);
    let calls = Cell::new(0);
    let (out, took) = block_on(async {
        policy
            .retry(async |_| count(&calls, 4))
            .sleeper(EmbassySleeper)
            .await
    });
    assert_eq!(out, Ok(4));
    assert_eq!(calls.get(), 4);
    assert_eq!(took, ms(25 + 50 + 100));
}

/// Each attempt waits 500 ms on an embassy timer and is cut off after 200 ms.
#[retry(attempts = 2, base = "10ms", timeout = "200ms")]
async fn slow(calls: &Cell<u32>) -> Result<u32, Error> {
    calls.set(calls.get() + 1);
    Timer::after_millis(500).await;
    Ok(calls.get())
}

#[test]
fn the_attribute_cuts_attempts_off_on_the_embassy_timer() {
    let _serial = serial();
    let calls = Cell::new(0);
    let (out, took) = block_on(slow(&calls));
    assert_eq!(out, Err(Error::TimedOut));
    assert_eq!(calls.get(), 2);
    // Cut off at 200 ms, a 10 ms sleep, cut off 200 ms later.
    assert_eq!(took, ms(200 + 10 + 200));
}

#[test]
fn the_builder_cuts_attempts_off_on_the_embassy_timer() {
    let _serial = serial();
    let policy = Policy::new().with_attempts(3).with_base(MS * 10);
    let calls = Cell::new(0);
    let (out, took) = block_on(async {
        policy
            .retry(async |_| {
                calls.set(calls.get() + 1);
                if calls.get() < 3 {
                    Timer::after_millis(500).await;
                }
                Ok::<_, Error>(calls.get())
            })
            .sleeper(EmbassySleeper)
            .timeout(MS * 50)
            .await
    });
    assert_eq!(out, Ok(3));
    assert_eq!(calls.get(), 3);
    // Two attempts cut off at 50 ms, after sleeps of 10 ms and 20 ms; the third answers at once.
    assert_eq!(took, ms(50 + 10 + 50 + 20));
}

/// Always fails; gives up before a sleep that would end past 250 ms.
#[retry(attempts = 5, base = "100ms", deadline = "250ms")]
async fn until_the_deadline(calls: &Cell<u32>) -> Result<u32, Error> {
    count(calls, u32::MAX)
}

#[test]
fn the_deadline_is_measured_on_the_embassy_clock() {
    let _serial = serial();
    let calls = Cell::new(0);
    let (out, took) = block_on(until_the_deadline(&calls));
    assert_eq!(out, Err(Error::Busy));
    // Attempt 1 at 0 ms, sleep 100 ms, attempt 2 at 100 ms; a 200 ms sleep would end at
    // 300 ms, past the deadline, so the call gives up there.
    assert_eq!(calls.get(), 2);
    assert_eq!(took, ms(100));
}

static BUDGET: RetryBudget = RetryBudget::new(1, 0.0);

/// Always fails; one token in the budget allows one retry.
#[retry(attempts = 5, base = "100ms", budget = BUDGET)]
async fn on_a_budget(calls: &Cell<u32>) -> Result<u32, Error> {
    count(calls, u32::MAX)
}

#[test]
fn the_budget_ends_the_call() {
    let _serial = serial();
    let calls = Cell::new(0);
    let (out, took) = block_on(on_a_budget(&calls));
    assert_eq!(out, Err(Error::Busy));
    assert_eq!(calls.get(), 2);
    assert_eq!(took, ms(100));
    assert_eq!(BUDGET.tokens(), 0.0);

    // The bucket is empty, and a ratio of 0 never refills it: no retry at all.
    calls.set(0);
    let (out, took) = block_on(on_a_budget(&calls));
    assert_eq!(out, Err(Error::Busy));
    assert_eq!(calls.get(), 1);
    assert_eq!(took, ms(0));
}

/// Without `std` the breaker's default clock is the default sleeper's: embassy's.
static BREAKER: CircuitBreaker = CircuitBreaker::new()
    .with_consecutive_failures(1)
    .with_break(StdDuration::from_secs(5))
    .with_break_jitter(0.0);

#[retry(attempts = 3, base = "100ms", breaker = BREAKER)]
async fn guarded(calls: &Cell<u32>, succeed_on: u32) -> Result<u32, Error> {
    count(calls, succeed_on)
}

#[test]
fn the_breaker_breaks_on_the_embassy_clock() {
    let _serial = serial();
    let driver = MockDriver::get();
    let calls = Cell::new(0);

    // The first failure opens it, and ends the call with its own error.
    let (out, took) = block_on(guarded(&calls, u32::MAX));
    assert_eq!(out, Err(Error::Busy));
    assert_eq!(calls.get(), 1);
    assert_eq!(took, ms(0));
    assert_eq!(BREAKER.state(), BreakerState::Open);

    // While it is open the operation is not called.
    calls.set(0);
    let (out, took) = block_on(guarded(&calls, 1));
    assert_eq!(out, Err(Error::Open));
    assert_eq!(calls.get(), 0);
    assert_eq!(took, ms(0));

    // The break is 5 s of mock time, to the tick.
    driver.advance(ms(5_000) - Duration::from_ticks(1));
    let (out, _) = block_on(guarded(&calls, 1));
    assert_eq!(out, Err(Error::Open));
    assert_eq!(calls.get(), 0);

    driver.advance(Duration::from_ticks(1));
    assert_eq!(Instant::now(), Instant::from_secs(5));
    let (out, took) = block_on(guarded(&calls, 1));
    assert_eq!(out, Ok(1));
    assert_eq!(calls.get(), 1);
    assert_eq!(took, ms(0));
    assert_eq!(BREAKER.state(), BreakerState::Closed);
}

#[test]
fn the_breaker_clock_is_the_embassy_sleepers() {
    let _serial = serial();
    MockDriver::get().advance(ms(1_234));
    assert_eq!(EmbassySleeper.now(), 1_234_000_000);
}

#[test]
fn seeded_jitter_is_reproducible_without_std() {
    let _serial = serial();
    let policy = Policy::new().with_attempts(5).with_jitter(Jitter::Full);
    let nominal: Vec<StdDuration> = policy.with_jitter(Jitter::None).delays().collect();

    seed_jitter(7);
    let first: Vec<StdDuration> = policy.delays().collect();
    seed_jitter(7);
    let second: Vec<StdDuration> = policy.delays().collect();
    assert_eq!(first.len(), 4);
    assert_eq!(first, second);
    assert!(first.iter().zip(&nominal).all(|(d, max)| d <= max));

    seed_jitter(8);
    let other: Vec<StdDuration> = policy.delays().collect();
    assert_ne!(first, other);
}

/// Fails three times, then answers, with full jitter.
#[retry(attempts = 4, base = "100ms", jitter)]
async fn jittered(calls: &Cell<u32>) -> Result<u32, Error> {
    count(calls, 4)
}

#[test]
fn seeded_jitter_makes_the_attributes_schedule_reproducible() {
    let _serial = serial();
    let calls = Cell::new(0);
    seed_jitter(7);
    let (out, first) = block_on(jittered(&calls));
    assert_eq!(out, Ok(4));
    assert_eq!(calls.get(), 4);

    // The same draws as the policy's own delays from the same seed, each slept to the next
    // microsecond tick.
    let policy = Policy::new()
        .with_attempts(4)
        .with_base(MS * 100)
        .with_jitter(Jitter::Full);
    seed_jitter(7);
    let slept: u64 = policy
        .delays()
        .map(|d| d.as_nanos().div_ceil(1_000) as u64)
        .sum();
    assert_eq!(first, Duration::from_micros(slept));
    assert!(first <= ms(100 + 200 + 400));

    calls.set(0);
    seed_jitter(7);
    let (out, second) = block_on(jittered(&calls));
    assert_eq!(out, Ok(4));
    assert_eq!(calls.get(), 4);
    assert_eq!(first, second);
}

/// A remote service's answers: some transient (one with a hint), one permanent.
#[derive(Debug, PartialEq)]
enum Remote {
    Busy,
    SlowDown(StdDuration),
    Gone,
}

impl Classify for Remote {
    fn classify(&self) -> Decision {
        match self {
            Remote::Busy => Decision::Retry,
            Remote::SlowDown(wait) => Decision::RetryAfter(*wait),
            Remote::Gone => Decision::Stop,
        }
    }
}

thread_local! {
    static RETRIES: RefCell<Vec<(u32, StdDuration)>> = const { RefCell::new(Vec::new()) };
}

fn record(_: &Remote, info: &RetryInfo) {
    RETRIES.with(|log| log.borrow_mut().push((info.attempt(), info.delay())));
}

/// Answers from `script`, one entry per attempt.
#[retry(attempts = 4, base = "10ms", classify, on_retry = record)]
async fn classified(script: &RefCell<Vec<Result<u32, Remote>>>) -> Result<u32, Remote> {
    script.borrow_mut().remove(0)
}

#[test]
fn hints_are_slept_on_the_embassy_timer() {
    let _serial = serial();
    RETRIES.with(|log| log.borrow_mut().clear());
    let script = RefCell::new(vec![
        Err(Remote::Busy),
        Err(Remote::SlowDown(MS * 300)),
        Ok(7),
    ]);
    let (out, took) = block_on(classified(&script));
    assert_eq!(out, Ok(7));
    // 10 ms after the first failure; the larger of 20 ms and the hint after the second.
    assert_eq!(took, ms(10 + 300));
    let retries = RETRIES.with(|log| log.borrow().clone());
    assert_eq!(retries, [(1, MS * 10), (2, MS * 300)]);

    // A permanent answer is returned at once.
    RETRIES.with(|log| log.borrow_mut().clear());
    let script = RefCell::new(vec![Err(Remote::Busy), Err(Remote::Gone), Ok(7)]);
    let (out, took) = block_on(classified(&script));
    assert_eq!(out, Err(Remote::Gone));
    assert_eq!(took, ms(10));
    assert_eq!(script.borrow().len(), 1);
}

/// Retries only `Busy`; answers from a cache when it gives up.
#[retry(
    attempts = 3,
    base = "50ms",
    on = Error::Busy,
    fallback = |_| Ok(0)
)]
async fn with_fallback(calls: &Cell<u32>) -> Result<u32, Error> {
    count(calls, u32::MAX)
}

#[test]
fn filters_and_fallbacks_work_without_std() {
    let _serial = serial();
    let calls = Cell::new(0);
    let (out, took) = block_on(with_fallback(&calls));
    assert_eq!(out, Ok(0));
    assert_eq!(calls.get(), 3);
    assert_eq!(took, ms(50 + 100));
}

#[test]
fn a_schedule_drives_a_loop_of_your_own_on_the_embassy_clock() {
    let _serial = serial();
    let policy = Policy::new()
        .with_attempts(5)
        .with_base(MS * 40)
        .with_deadline(MS * 150);
    let mut schedule = policy.schedule();
    let start = EmbassySleeper.now();
    let mut attempts = 0;
    let (gave_up, took) = block_on(async {
        loop {
            attempts += 1;
            let elapsed = StdDuration::from_nanos((EmbassySleeper.now() - start) as u64);
            match schedule.next(Decision::Retry, Some(elapsed)) {
                Ok(retry) => EmbassySleeper.sleep(retry.delay()).await,
                Err(reason) => break reason,
            }
        }
    });
    // Sleeps of 40 ms and 80 ms; a 160 ms one would end past 150 ms.
    assert_eq!(gave_up, GiveUp::Deadline);
    assert_eq!(attempts, 3);
    assert_eq!(took, ms(40 + 80));
}
