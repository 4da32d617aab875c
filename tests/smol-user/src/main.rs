//! `#[retry]` and `Policy::retry` on smol, as a user without tokio writes them. Exits non-zero
//! when a count or an outcome is not the expected one.

use std::cell::Cell;
use std::time::{Duration, Instant};

use retry_runtime::{retry, CircuitBreaker, Policy, RetryBudget, TimedOut};

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

impl From<retry_runtime::BreakerOpen> for Error {
    fn from(_: retry_runtime::BreakerOpen) -> Self {
        Error::Open
    }
}

/// Fails twice, then answers: three attempts, 5 ms and 10 ms apart on async-io's timer.
#[retry(attempts = 3, base = "5ms")]
async fn flaky(calls: &Cell<u32>) -> Result<u32, Error> {
    calls.set(calls.get() + 1);
    if calls.get() < 3 {
        Err(Error::Busy)
    } else {
        Ok(calls.get())
    }
}

/// Never answers: each attempt is cut off after 20 ms.
#[retry(attempts = 2, base = "1ms", timeout = "20ms")]
async fn hangs(calls: &Cell<u32>) -> Result<(), Error> {
    calls.set(calls.get() + 1);
    std::future::pending().await
}

static BUDGET: RetryBudget = RetryBudget::new(1, 0.0);

#[retry(attempts = 5, base = "1ms", budget = BUDGET)]
async fn always_busy(calls: &Cell<u32>) -> Result<(), Error> {
    calls.set(calls.get() + 1);
    Err(Error::Busy)
}

static BREAKER: CircuitBreaker = CircuitBreaker::new()
    .with_consecutive_failures(1)
    .with_break(Duration::from_secs(60));

#[retry(attempts = 3, base = "1ms", breaker = BREAKER)]
async fn behind_breaker(calls: &Cell<u32>) -> Result<(), Error> {
    calls.set(calls.get() + 1);
    Err(Error::Busy)
}

fn check<T: std::fmt::Debug + PartialEq>(what: &str, got: T, want: T) {
    if got != want {
        eprintln!("{what}: got {got:?}, expected {want:?}");
        std::process::exit(1);
    }
    println!("{what}: {got:?}");
}

fn main() {
    smol::block_on(async {
        let calls = Cell::new(0);
        let started = Instant::now();
        check("attribute", flaky(&calls).await, Ok(3));
        check("attribute attempts", calls.get(), 3);
        // Slept 5 ms + 10 ms on the real timer (at least; never less).
        check("attribute slept", started.elapsed() >= Duration::from_millis(15), true);

        let calls = Cell::new(0);
        check("timeout", hangs(&calls).await, Err(Error::TimedOut));
        check("timeout attempts", calls.get(), 2);

        let policy = Policy::new()
            .with_attempts(4)
            .with_base(Duration::from_millis(2));
        let calls = Cell::new(0);
        let out = policy
            .retry(|_| {
                calls.set(calls.get() + 1);
                let n = calls.get();
                async move { if n < 4 { Err(Error::Busy) } else { Ok(n) } }
            })
            .await;
        check("builder", out, Ok(4));
        check("builder attempts", calls.get(), 4);

        let calls = Cell::new(0);
        let out: Result<(), Error> = policy
            .retry(|_| {
                calls.set(calls.get() + 1);
                std::future::pending()
            })
            .timeout(Duration::from_millis(10))
            .await;
        check("builder timeout", out, Err(Error::TimedOut));
        check("builder timeout attempts", calls.get(), 4);

        let calls = Cell::new(0);
        check("budget", always_busy(&calls).await, Err(Error::Busy));
        check("budget attempts", calls.get(), 2);

        let calls = Cell::new(0);
        check("breaker opens", behind_breaker(&calls).await, Err(Error::Busy));
        check("breaker refuses", behind_breaker(&calls).await, Err(Error::Open));
        check("breaker attempts", calls.get(), 1);
    });
    println!("smol: all checks passed");
}
