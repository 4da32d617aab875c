//! A call's report without a hook: the attempts it made, the time it slept, why it stopped;
//! from the builders' `.report()`.

use std::time::Duration;

use retry_runtime::runtime::TestClock;
use retry_runtime::{
    BreakerOpen, CallReport, CircuitBreaker, Classify, Decision, GiveUp, Policy, Stop,
};

const MS: Duration = Duration::from_millis(1);

#[derive(Debug, PartialEq)]
enum Error {
    Busy,
    Fatal,
    Open,
}

impl Classify for Error {
    fn classify(&self) -> Decision {
        match self {
            Error::Busy => Decision::Retry,
            _ => Decision::Stop,
        }
    }
}

impl From<BreakerOpen> for Error {
    fn from(_: BreakerOpen) -> Self {
        Error::Open
    }
}

/// Exponential delays 10ms, 20ms, 40ms, …, no jitter.
fn policy(attempts: u32) -> Policy {
    Policy::new().with_attempts(attempts).with_base(MS * 10)
}

#[tokio::test(start_paused = true)]
async fn the_async_builder_reports_attempts_sleeps_and_acceptance() {
    let start = tokio::time::Instant::now();
    let (out, report) = policy(5)
        .retry(async |attempt| {
            if attempt.attempt() < 3 {
                Err(Error::Busy)
            } else {
                Ok(attempt.attempt())
            }
        })
        .report()
        .await;
    assert_eq!(out, Ok(3));
    assert_eq!(report.attempts(), 3);
    assert_eq!(report.hedges(), 0);
    assert_eq!(report.slept(), MS * 30);
    assert_eq!(start.elapsed(), MS * 30);
    assert_eq!(report.stopped(), Stop::Accepted);
}

#[tokio::test(start_paused = true)]
async fn the_async_builder_reports_why_it_gave_up() {
    let (out, report) = policy(3)
        .retry(async |_| Err::<(), _>(Error::Busy))
        .report()
        .await;
    assert_eq!(out, Err(Error::Busy));
    assert_eq!(report.attempts(), 3);
    assert_eq!(report.slept(), MS * 30);
    assert_eq!(report.stopped(), Stop::GaveUp(GiveUp::OutOfAttempts));

    let (out, report) = policy(3)
        .retry(async |_| Err::<(), _>(Error::Fatal))
        .classify()
        .report()
        .await;
    assert_eq!(out, Err(Error::Fatal));
    assert_eq!((report.attempts(), report.slept()), (1, Duration::ZERO));
    assert_eq!(report.stopped(), Stop::GaveUp(GiveUp::Permanent));

    // The report of a call that ended with its fallback's answer still says why.
    let (out, report) = policy(2)
        .retry(async |_| Err::<u32, _>(Error::Busy))
        .fallback(|_| Ok(0))
        .report()
        .await;
    assert_eq!(out, Ok(0));
    assert_eq!(report.stopped(), Stop::GaveUp(GiveUp::OutOfAttempts));
}

#[tokio::test(start_paused = true)]
async fn a_refused_call_reports_no_attempt() {
    static BREAKER: CircuitBreaker = CircuitBreaker::new()
        .with_consecutive_failures(1)
        .with_break(Duration::from_secs(60));
    let (out, report) = policy(3)
        .retry(async |_| Err::<(), _>(Error::Busy))
        .breaker(&BREAKER)
        .report()
        .await;
    assert_eq!(out, Err(Error::Busy));
    assert_eq!(report.attempts(), 1);
    assert_eq!(report.stopped(), Stop::GaveUp(GiveUp::BreakerOpened));

    let (out, report) = policy(3)
        .retry(async |_| Ok::<(), Error>(()))
        .breaker(&BREAKER)
        .report()
        .await;
    assert_eq!(out, Err(Error::Open));
    assert_eq!((report.attempts(), report.slept()), (0, Duration::ZERO));
    assert_eq!(report.stopped(), Stop::GaveUp(GiveUp::BreakerOpen));
}

#[test]
fn the_blocking_builder_reports_on_a_test_clock() {
    let clock = TestClock::new();
    let (out, report) = policy(4)
        .retry_blocking(|attempt| {
            if attempt.attempt() < 4 {
                Err(Error::Busy)
            } else {
                Ok("done")
            }
        })
        .sleeper(&clock)
        .report()
        .call();
    assert_eq!(out, Ok("done"));
    assert_eq!(report.attempts(), 4);
    assert_eq!(report.slept(), MS * 70);
    assert_eq!(clock.sleeps(), [MS * 10, MS * 20, MS * 40]);
    assert_eq!(report.stopped(), Stop::Accepted);

    let (out, report) = policy(2)
        .retry_blocking(|_| Err::<(), _>(Error::Busy))
        .sleeper(&clock)
        .report()
        .call();
    assert_eq!(out, Err(Error::Busy));
    assert_eq!((report.attempts(), report.slept()), (2, MS * 10));
    assert_eq!(report.stopped(), Stop::GaveUp(GiveUp::OutOfAttempts));

    let (_, report) = policy(5)
        .retry_blocking(|_| Err::<(), _>(Error::Fatal))
        .classify()
        .sleeper(&clock)
        .report()
        .call();
    assert_eq!(report.attempts(), 1);
    assert_eq!(report.stopped(), Stop::GaveUp(GiveUp::Permanent));
}

#[test]
fn a_refused_blocking_call_reports_the_breaker() {
    static BREAKER: CircuitBreaker = CircuitBreaker::new()
        .with_consecutive_failures(1)
        .with_break(Duration::from_secs(60));
    let clock = TestClock::new();
    let (_, report) = policy(3)
        .retry_blocking(|_| Err::<(), _>(Error::Busy))
        .breaker(&BREAKER)
        .sleeper(&clock)
        .report()
        .call();
    assert_eq!(report.stopped(), Stop::GaveUp(GiveUp::BreakerOpened));
    let (out, report) = policy(3)
        .retry_blocking(|_| Ok::<(), Error>(()))
        .breaker(&BREAKER)
        .report()
        .call();
    assert_eq!(out, Err(Error::Open));
    assert_eq!(report.attempts(), 0);
    assert_eq!(report.stopped(), Stop::GaveUp(GiveUp::BreakerOpen));
}

mod attribute {
    use super::*;
    use retry_runtime::retry;

    #[retry(attempts = 4, base = "10ms", classify, report = report)]
    pub async fn fetch(calls: &mut u32, fail: u32, report: &mut CallReport) -> Result<u32, Error> {
        *calls += 1;
        if *calls <= fail {
            Err(Error::Busy)
        } else {
            Ok(*calls)
        }
    }

    #[retry(attempts = 4, base = "10ms", classify, report = report)]
    pub async fn fatal(report: &mut CallReport) -> Result<(), Error> {
        Err(Error::Fatal)
    }

    #[retry(attempts = 3, base = "10ms", sleeper = clock, report = report)]
    pub fn blocking(
        clock: &TestClock,
        calls: &mut u32,
        report: &mut CallReport,
    ) -> Result<(), Error> {
        *calls += 1;
        Err(Error::Busy)
    }

    pub static BREAKER: CircuitBreaker = CircuitBreaker::new()
        .with_consecutive_failures(1)
        .with_break(Duration::from_secs(60));

    #[retry(attempts = 3, base = "10ms", breaker = BREAKER, report = report)]
    pub fn guarded(ok: bool, report: &mut CallReport) -> Result<(), Error> {
        if ok {
            Ok(())
        } else {
            Err(Error::Busy)
        }
    }
}

#[tokio::test(start_paused = true)]
async fn the_attribute_fills_in_the_report_parameter() {
    let mut report = CallReport::new();
    let mut calls = 0;
    assert_eq!(attribute::fetch(&mut calls, 2, &mut report).await, Ok(3));
    assert_eq!(report.attempts(), 3);
    assert_eq!(report.slept(), MS * 30);
    assert_eq!(report.stopped(), Stop::Accepted);

    // A second call starts a new report.
    let mut calls = 0;
    assert_eq!(
        attribute::fetch(&mut calls, 9, &mut report).await,
        Err(Error::Busy)
    );
    assert_eq!((report.attempts(), report.slept()), (4, MS * 70));
    assert_eq!(report.stopped(), Stop::GaveUp(GiveUp::OutOfAttempts));

    assert_eq!(attribute::fatal(&mut report).await, Err(Error::Fatal));
    assert_eq!((report.attempts(), report.slept()), (1, Duration::ZERO));
    assert_eq!(report.stopped(), Stop::GaveUp(GiveUp::Permanent));
}

#[test]
fn the_blocking_attribute_fills_in_the_report_parameter() {
    let clock = TestClock::new();
    let mut report = CallReport::new();
    let mut calls = 0;
    assert_eq!(
        attribute::blocking(&clock, &mut calls, &mut report),
        Err(Error::Busy)
    );
    assert_eq!((report.attempts(), report.slept()), (3, MS * 30));
    assert_eq!(clock.sleeps(), [MS * 10, MS * 20]);
    assert_eq!(report.stopped(), Stop::GaveUp(GiveUp::OutOfAttempts));

    // The failure opens the breaker; the next call is refused without an attempt.
    assert_eq!(attribute::guarded(false, &mut report), Err(Error::Busy));
    assert_eq!(report.stopped(), Stop::GaveUp(GiveUp::BreakerOpened));
    assert_eq!(attribute::guarded(true, &mut report), Err(Error::Open));
    assert_eq!(report.attempts(), 0);
    assert_eq!(report.stopped(), Stop::GaveUp(GiveUp::BreakerOpen));
}
