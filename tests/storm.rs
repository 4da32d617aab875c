//! No retry storm, on any door: a circuit breaker that re-admits exactly between a failure and
//! the next check must not let the call run an attempt the engine did not count.
//!
//! The breakers here read a test clock that moves one tick every time it is read
//! ([`CircuitBreaker::with_clock`]), so a break of a few ticks ends exactly between two of the
//! breaker's own reads: after the failure opened it and before, or just after, the engine asks
//! whether it still admits an attempt. Every break length from half a tick to five ticks is
//! tried, on every door, with `attempts = 2` and a budget of one token: each call makes at most
//! two attempts, and each attempt after the first drew exactly one token. (The engine once let
//! such a breaker loop: up to 5,645 attempts for `attempts = 2`.) A bounded multi-thread stress
//! test on the real clock sits beside them.

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use retry_runtime::{retry, BreakerOpen, CircuitBreaker, Policy, RetryBudget};

#[derive(Debug, PartialEq)]
enum Error {
    Down,
    Open,
}

impl From<BreakerOpen> for Error {
    fn from(_: BreakerOpen) -> Self {
        Error::Open
    }
}

thread_local! {
    /// The test clock, in nanoseconds; each test runs its calls on its own thread.
    static NOW_NS: Cell<u64> = const { Cell::new(0) };
}

/// How far the test clock moves at each read.
const TICK_NS: u64 = 1_000;

/// The test clock: one tick later at every read.
fn ticking() -> Duration {
    let now = NOW_NS.with(|now| {
        let at = now.get();
        now.set(at + TICK_NS);
        at
    });
    Duration::from_nanos(now)
}

/// Breaks from half a tick to five ticks, so that one of them ends between any two reads.
const BREAKS_NS: [u64; 10] = [
    500, 1_000, 1_500, 2_000, 2_500, 3_000, 3_500, 4_000, 4_500, 5_000,
];
const RUNS: usize = BREAKS_NS.len();

/// Opens at the first failure, for `break_ns`, on the test clock.
const fn breaker(break_ns: u64) -> CircuitBreaker {
    CircuitBreaker::new()
        .with_consecutive_failures(1)
        .with_break(Duration::from_nanos(break_ns))
        .with_break_jitter(0.0)
        .with_clock(ticking)
}

/// One breaker per break length, for a door whose breaker must be a `static`.
macro_rules! breakers {
    () => {
        [
            breaker(BREAKS_NS[0]),
            breaker(BREAKS_NS[1]),
            breaker(BREAKS_NS[2]),
            breaker(BREAKS_NS[3]),
            breaker(BREAKS_NS[4]),
            breaker(BREAKS_NS[5]),
            breaker(BREAKS_NS[6]),
            breaker(BREAKS_NS[7]),
            breaker(BREAKS_NS[8]),
            breaker(BREAKS_NS[9]),
        ]
    };
}

/// One token per run: at most one retry may be paid for.
const fn one_token() -> RetryBudget {
    RetryBudget::new(1, 0.0)
}

/// A storm would run the attempt again and again; past this many attempts the operation
/// succeeds, so that the test fails on its counts instead of never ending.
const STORM: u32 = 10;

/// What one run must show: at most two attempts, and exactly one token drawn per retry.
fn assert_no_storm(door: &str, run: usize, attempts: u32, budget: &RetryBudget) {
    let break_ns = BREAKS_NS[run];
    assert!(
        (1..=2).contains(&attempts),
        "{door}, break {break_ns} ns: {attempts} attempts for `attempts = 2`"
    );
    let drawn = 1.0 - budget.tokens();
    assert_eq!(
        drawn,
        f64::from(attempts - 1),
        "{door}, break {break_ns} ns: {attempts} attempts but {drawn} tokens drawn"
    );
}

/// The operation of every door: fails until a storm would have gone on too long.
fn attempt(calls: &AtomicU32) -> Result<(), Error> {
    if calls.fetch_add(1, Ordering::SeqCst) + 1 >= STORM {
        Ok(())
    } else {
        Err(Error::Down)
    }
}

static ASYNC_BREAKERS: [CircuitBreaker; RUNS] = breakers!();
static ASYNC_BUDGETS: [RetryBudget; RUNS] = [const { one_token() }; RUNS];
static ASYNC_CALLS: [AtomicU32; RUNS] = [const { AtomicU32::new(0) }; RUNS];

#[retry(attempts = 2, base = "0ms", breaker = ASYNC_BREAKERS[run], budget = ASYNC_BUDGETS[run])]
async fn attribute_async(run: usize) -> Result<(), Error> {
    attempt(&ASYNC_CALLS[run])
}

#[tokio::test(start_paused = true)]
async fn the_attribute_on_an_async_fn_holds_the_limit_under_any_break() {
    for run in 0..RUNS {
        let out = attribute_async(run).await;
        assert_eq!(out, Err(Error::Down), "break {} ns", BREAKS_NS[run]);
        let attempts = ASYNC_CALLS[run].load(Ordering::SeqCst);
        assert_no_storm("#[retry] async", run, attempts, &ASYNC_BUDGETS[run]);
    }
}

static SYNC_BREAKERS: [CircuitBreaker; RUNS] = breakers!();
static SYNC_BUDGETS: [RetryBudget; RUNS] = [const { one_token() }; RUNS];
static SYNC_CALLS: [AtomicU32; RUNS] = [const { AtomicU32::new(0) }; RUNS];

#[retry(attempts = 2, base = "0ms", breaker = SYNC_BREAKERS[run], budget = SYNC_BUDGETS[run])]
fn attribute_blocking(run: usize) -> Result<(), Error> {
    attempt(&SYNC_CALLS[run])
}

#[test]
fn the_attribute_on_a_blocking_fn_holds_the_limit_under_any_break() {
    for run in 0..RUNS {
        assert_eq!(attribute_blocking(run), Err(Error::Down));
        let attempts = SYNC_CALLS[run].load(Ordering::SeqCst);
        assert_no_storm("#[retry] fn", run, attempts, &SYNC_BUDGETS[run]);
    }
}

const POLICY: Policy = Policy::new().with_attempts(2).with_base(Duration::ZERO);

#[tokio::test(start_paused = true)]
async fn the_awaited_builder_holds_the_limit_under_any_break() {
    for (run, &break_ns) in BREAKS_NS.iter().enumerate() {
        let (breaker, budget, calls) = (breaker(break_ns), one_token(), AtomicU32::new(0));
        let out = POLICY
            .retry(|_| {
                let out = attempt(&calls);
                async move { out }
            })
            .breaker(&breaker)
            .budget(&budget)
            .await;
        assert_eq!(out, Err(Error::Down));
        assert_no_storm("Policy::retry", run, calls.load(Ordering::SeqCst), &budget);
    }
}

#[tokio::test(start_paused = true)]
async fn the_run_builder_holds_the_limit_under_any_break() {
    for (run, &break_ns) in BREAKS_NS.iter().enumerate() {
        let (breaker, budget, calls) = (breaker(break_ns), one_token(), AtomicU32::new(0));
        let out = POLICY
            .retry(async |_| attempt(&calls))
            .breaker(&breaker)
            .budget(&budget)
            .run()
            .await;
        assert_eq!(out, Err(Error::Down));
        assert_no_storm("Retry::run", run, calls.load(Ordering::SeqCst), &budget);
    }
}

#[test]
fn the_blocking_builder_holds_the_limit_under_any_break() {
    for (run, &break_ns) in BREAKS_NS.iter().enumerate() {
        let (breaker, budget, calls) = (breaker(break_ns), one_token(), AtomicU32::new(0));
        let out = POLICY
            .retry_blocking(|_| attempt(&calls))
            .breaker(&breaker)
            .budget(&budget)
            .call();
        assert_eq!(out, Err(Error::Down));
        assert_no_storm(
            "Policy::retry_blocking",
            run,
            calls.load(Ordering::SeqCst),
            &budget,
        );
    }
}

/// The reqwest-middleware layer, in front of a stand-in server that answers 503 at once.
#[cfg(feature = "http")]
mod middleware {
    use super::*;
    use retry_runtime::middleware::RetryMiddleware;

    /// Answers every request with a 503, without a network.
    struct Unavailable(&'static AtomicU32);

    #[async_trait::async_trait]
    impl reqwest_middleware::Middleware for Unavailable {
        async fn handle(
            &self,
            _: reqwest::Request,
            _: &mut http::Extensions,
            _: reqwest_middleware::Next<'_>,
        ) -> reqwest_middleware::Result<reqwest::Response> {
            let status = match attempt(self.0) {
                Ok(()) => 200,
                Err(_) => 503,
            };
            let response = http::Response::builder()
                .status(status)
                .body(Vec::<u8>::new())
                .expect("a response");
            Ok(reqwest::Response::from(response))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_middleware_holds_the_limit_under_any_break() {
        for (run, &break_ns) in BREAKS_NS.iter().enumerate() {
            let breaker: &'static CircuitBreaker = Box::leak(Box::new(breaker(break_ns)));
            let budget: &'static RetryBudget = Box::leak(Box::new(one_token()));
            let calls: &'static AtomicU32 = Box::leak(Box::new(AtomicU32::new(0)));
            let layer = RetryMiddleware::new(POLICY)
                .with_breaker(breaker)
                .with_budget(budget);
            let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
                .with(layer)
                .with(Unavailable(calls))
                .build();
            let response = client
                .get("http://127.0.0.1:9/")
                .send()
                .await
                .expect("the server's answer");
            assert_eq!(response.status(), 503);
            assert_no_storm("middleware", run, calls.load(Ordering::SeqCst), budget);
        }
    }
}

/// Eight threads share one breaker with breaks of 10 ns to 5 µs on the real clock, and one
/// empty budget: whatever the interleaving, no call makes a second attempt (the budget pays
/// for none), and none makes more than `attempts`.
#[test]
fn threads_sharing_a_flapping_breaker_never_exceed_the_limit() {
    const THREADS: usize = 8;
    const CALLS: usize = 2_000;
    static EMPTY: RetryBudget = RetryBudget::new(0, 0.0);
    for break_ns in [10, 100, 1_000, 5_000] {
        let breaker = CircuitBreaker::new()
            .with_consecutive_failures(1)
            .with_break(Duration::from_nanos(break_ns))
            .with_break_jitter(0.0);
        let policy = Policy::new().with_attempts(2).with_base(Duration::ZERO);
        let most = AtomicU32::new(0);
        let unpaid = AtomicU32::new(0);
        std::thread::scope(|scope| {
            for _ in 0..THREADS {
                scope.spawn(|| {
                    for _ in 0..CALLS {
                        let calls = AtomicU32::new(0);
                        let paid = policy
                            .retry_blocking(|_| attempt(&calls))
                            .breaker(&breaker)
                            .budget(&EMPTY)
                            .call();
                        let _ = paid;
                        let n = calls.load(Ordering::SeqCst);
                        most.fetch_max(n, Ordering::SeqCst);
                        if n > 1 {
                            unpaid.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                });
            }
        });
        let most = most.load(Ordering::SeqCst);
        assert!(
            most <= 1,
            "break {break_ns} ns: a call made {most} attempts"
        );
        assert_eq!(unpaid.load(Ordering::SeqCst), 0, "break {break_ns} ns");
        assert_eq!(EMPTY.tokens(), 0.0);
    }
}
