//! `#[retry(hedge = ..)]`: copies of the call run concurrently on the builder's hedging driver,
//! on exact timelines under tokio's paused clock; each copy gets its own arguments.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use retry_runtime::{retry, Classify, Decision};
use tokio::time::{sleep, Instant};

const MS: Duration = Duration::from_millis(1);

#[derive(Debug, PartialEq)]
enum Error {
    Busy,
    Fatal,
}

impl Classify for Error {
    fn classify(&self) -> Decision {
        match self {
            Error::Busy => Decision::Retry,
            Error::Fatal => Decision::Stop,
        }
    }
}

/// When each copy started, in milliseconds after `start`.
fn started(log: &Mutex<Vec<(u32, u128)>>) -> Vec<(u32, u128)> {
    log.lock().unwrap().clone()
}

#[tokio::test(start_paused = true)]
async fn the_second_copy_starts_at_the_hedge_delay_and_wins() {
    static LOG: Mutex<Vec<(u32, u128)>> = Mutex::new(Vec::new());

    #[retry(hedge = "150ms", context = attempt)]
    async fn fetch(start: Instant) -> Result<u32, Error> {
        let n = attempt.attempt();
        LOG.lock().unwrap().push((n, start.elapsed().as_millis()));
        // The first copy is slow; the second answers in 20 ms.
        sleep(if n == 1 { 1000 * MS } else { 20 * MS }).await;
        Ok(n)
    }

    let start = Instant::now();
    assert_eq!(fetch(start).await, Ok(2));
    assert_eq!(start.elapsed(), 170 * MS);
    assert_eq!(started(&LOG), [(1, 0), (2, 150)]);
}

#[tokio::test(start_paused = true)]
async fn two_hedges_at_zero_start_three_copies_at_once() {
    static LOG: Mutex<Vec<(u32, u128)>> = Mutex::new(Vec::new());

    #[retry(hedge = "0ms", hedges = 2, context = attempt)]
    async fn fetch(start: Instant) -> Result<u32, Error> {
        let n = attempt.attempt();
        LOG.lock().unwrap().push((n, start.elapsed().as_millis()));
        sleep(100 * MS * (4 - n)).await;
        Ok(n)
    }

    let start = Instant::now();
    // The third copy is the fastest (100 ms).
    assert_eq!(fetch(start).await, Ok(3));
    assert_eq!(start.elapsed(), 100 * MS);
    assert_eq!(started(&LOG), [(1, 0), (2, 0), (3, 0)]);
}

#[tokio::test(start_paused = true)]
async fn a_fast_retryable_failure_starts_the_next_copy_at_once() {
    static LOG: Mutex<Vec<(u32, u128)>> = Mutex::new(Vec::new());

    #[retry(hedge = "150ms", classify, context = attempt)]
    async fn fetch(start: Instant) -> Result<u32, Error> {
        let n = attempt.attempt();
        LOG.lock().unwrap().push((n, start.elapsed().as_millis()));
        if n == 1 {
            sleep(10 * MS).await;
            return Err(Error::Busy);
        }
        sleep(20 * MS).await;
        Ok(n)
    }

    let start = Instant::now();
    assert_eq!(fetch(start).await, Ok(2));
    assert_eq!(started(&LOG), [(1, 0), (2, 10)]);
    assert_eq!(start.elapsed(), 30 * MS);
}

#[tokio::test(start_paused = true)]
async fn a_permanent_failure_ends_the_call() {
    static CALLS: AtomicU32 = AtomicU32::new(0);

    #[retry(hedge = "150ms", hedges = 3, classify)]
    async fn fetch() -> Result<u32, Error> {
        CALLS.fetch_add(1, Ordering::SeqCst);
        sleep(10 * MS).await;
        Err(Error::Fatal)
    }

    let start = Instant::now();
    assert_eq!(fetch().await, Err(Error::Fatal));
    assert_eq!(start.elapsed(), 10 * MS);
    assert_eq!(CALLS.load(Ordering::SeqCst), 1);
}

/// Counts its clones, so that a test sees how many copies of the call got one.
struct Counted<'a>(&'a AtomicU32, String);

impl Clone for Counted<'_> {
    fn clone(&self) -> Self {
        self.0.fetch_add(1, Ordering::SeqCst);
        Counted(self.0, self.1.clone())
    }
}

#[tokio::test(start_paused = true)]
async fn each_copy_gets_its_own_clone_of_the_arguments() {
    #[retry(hedge = "0ms", hedges = 2, context = attempt)]
    async fn fetch(request: Counted<'_>, tag: &str) -> Result<String, Error> {
        let n = attempt.attempt();
        sleep(100 * MS * (4 - n)).await;
        Ok(format!("{}-{tag}-{n}", request.1))
    }

    let clones = AtomicU32::new(0);
    let request = Counted(&clones, String::from("req"));
    assert_eq!(fetch(request, "t").await.as_deref(), Ok("req-t-3"));
    assert_eq!(clones.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn a_percentile_hedge_sends_no_copy_before_twenty_samples() {
    static CALLS: AtomicU32 = AtomicU32::new(0);

    #[retry(hedge = p95)]
    async fn fetch(took: Duration) -> Result<Duration, Error> {
        CALLS.fetch_add(1, Ordering::SeqCst);
        sleep(took).await;
        Ok(took)
    }

    // Nineteen calls teach the histogram 10 ms; none of them, and not the twentieth (slow,
    // 1 s), is hedged: no copy is sent on a timer before 20 samples.
    for _ in 0..19 {
        assert_eq!(fetch(10 * MS).await, Ok(10 * MS));
    }
    assert_eq!(CALLS.swap(0, Ordering::SeqCst), 19);
    let start = Instant::now();
    assert_eq!(fetch(1000 * MS).await, Ok(1000 * MS));
    assert_eq!(start.elapsed(), 1000 * MS);
    assert_eq!(CALLS.swap(0, Ordering::SeqCst), 1);

    // With 20 samples, a slow call is hedged once it has taken longer than p95 (10 ms): the
    // copy (also 1 s here) does not beat the first, but it was sent.
    let start = Instant::now();
    assert_eq!(fetch(1000 * MS).await, Ok(1000 * MS));
    assert_eq!(start.elapsed(), 1000 * MS);
    assert_eq!(CALLS.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn every_copy_failing_returns_the_primarys_outcome() {
    #[retry(hedge = "50ms", hedges = 2, context = attempt)]
    async fn fetch() -> Result<u32, (u32, Error)> {
        let n = attempt.attempt();
        sleep(200 * MS).await;
        Err((n, Error::Busy))
    }

    assert_eq!(fetch().await, Err((1, Error::Busy)));
}

#[tokio::test(start_paused = true)]
async fn a_method_with_a_shared_receiver_is_hedged() {
    struct Client {
        calls: AtomicU32,
    }

    impl Client {
        #[retry(hedge = "10ms", on = Error::Busy, fallback = |_| Ok(0))]
        async fn fetch(&self) -> Result<u32, Error> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            sleep(5 * MS).await;
            if n == 1 {
                Err(Error::Busy)
            } else {
                Err(Error::Fatal)
            }
        }
    }

    let client = Client {
        calls: AtomicU32::new(0),
    };
    // The primary's retryable failure starts the copy at once; the copy's permanent
    // failure ends the call; the fallback answers.
    assert_eq!(client.fetch().await, Ok(0));
    assert_eq!(client.calls.load(Ordering::SeqCst), 2);
}

/// Every other key beside `hedge`, on the builder method that says the same thing.
mod every_key {
    use super::*;
    use retry_runtime::{
        AdaptiveThrottle, BreakerOpen, CircuitBreaker, IdempotencyKey, Policy, RateLimiter,
        RetryBudget, RetryInfo, Throttled, TimedOut,
    };

    #[derive(Debug, PartialEq)]
    enum Failure {
        Busy,
        #[allow(dead_code)] // only matched, by `unless`
        Bad,
        Open,
        Throttled,
        TimedOut,
    }

    impl Classify for Failure {
        fn classify(&self) -> Decision {
            match self {
                Failure::Busy | Failure::TimedOut => Decision::Retry,
                _ => Decision::Stop,
            }
        }
    }
    impl From<BreakerOpen> for Failure {
        fn from(_: BreakerOpen) -> Self {
            Failure::Open
        }
    }
    impl From<Throttled> for Failure {
        fn from(_: Throttled) -> Self {
            Failure::Throttled
        }
    }
    impl From<TimedOut> for Failure {
        fn from(_: TimedOut) -> Self {
            Failure::TimedOut
        }
    }

    static BUDGET: RetryBudget = RetryBudget::new(10, 0.1);
    static BREAKER: CircuitBreaker = CircuitBreaker::new();
    static THROTTLE: AdaptiveThrottle = AdaptiveThrottle::new();
    static LIMITER: RateLimiter = RateLimiter::new();
    const POLICY: Policy = Policy::new();
    static HOOKED: AtomicU32 = AtomicU32::new(0);
    static KEYS: Mutex<Vec<IdempotencyKey>> = Mutex::new(Vec::new());

    fn hook(_: &Failure, _: &RetryInfo) {
        HOOKED.fetch_add(1, Ordering::SeqCst);
    }

    #[retry(
        hedge = "20ms",
        hedges = 2,
        unless = Failure::Bad,
        on = Failure::Busy | Failure::TimedOut,
        when = |e: &Failure| *e != Failure::Open,
        classify,
        context = attempt,
        idempotency_key = IdempotencyKey::from_u128(7),
        on_retry = hook,
        budget = BUDGET,
        breaker = BREAKER,
        throttle = THROTTLE,
        rate_limiter = LIMITER,
        timeout = "50ms",
        deadline = "1s",
        max_hint = "5s",
        name = "every-key",
        fallback = |_| async { Ok(0) },
    )]
    async fn filtered(slow: Duration) -> Result<u32, Failure> {
        KEYS.lock().unwrap().push(attempt.idempotency_key());
        sleep(slow).await;
        match attempt.attempt() {
            3 => Ok(3),
            _ => Err(Failure::Busy),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_filters_guards_and_hooks_apply_to_every_copy() {
        let start = Instant::now();
        // Copies 1 and 2 fail busy after 5 ms each; copy 3 answers.
        assert_eq!(filtered(5 * MS).await, Ok(3));
        assert_eq!(start.elapsed(), 15 * MS);
        let keys = KEYS.lock().unwrap().clone();
        assert_eq!(keys, [IdempotencyKey::from_u128(7); 3]);
        // Every copy was cut off at 50 ms: the fallback answers.
        assert_eq!(filtered(1000 * MS).await, Ok(0));
    }

    #[derive(Debug, PartialEq)]
    struct Reply(u32);

    impl Classify for Reply {
        fn classify(&self) -> Decision {
            if self.0 > 1 {
                Decision::Stop
            } else {
                Decision::Retry
            }
        }
    }

    #[retry(
        hedge = "10ms",
        policy = POLICY,
        until = |reply: &Reply| reply.0 > 0,
        classify_ok,
        on_retry = |outcome: &Result<Reply, Failure>, _: &RetryInfo| assert!(outcome.is_ok()),
        fallback = |last: Result<Reply, Failure>| async move { last.map(|r| Reply(r.0 + 100)) },
        sleeper = retry_runtime::runtime::DefaultSleeper {},
        context = attempt,
    )]
    async fn polled() -> Result<Reply, Failure> {
        Ok(Reply(attempt.attempt().min(1)))
    }

    #[tokio::test(start_paused = true)]
    async fn values_are_judged_and_the_outcome_fallback_answers() {
        // Both copies give 1, which `classify_ok` retries: the primary's value reaches the
        // fallback.
        assert_eq!(polled().await, Ok(Reply(101)));
    }
}

#[tokio::test(start_paused = true)]
async fn generic_and_impl_trait_arguments_are_cloned_and_the_future_is_send() {
    #[retry(hedge = "0ms")]
    async fn join<T: Clone + std::fmt::Display + Send>(
        head: T,
        tail: impl AsRef<str> + Clone + Send,
    ) -> Result<String, Error> {
        Ok(format!("{head}{}", tail.as_ref()))
    }

    fn assert_send<F: Send>(future: F) -> F {
        future
    }
    assert_eq!(assert_send(join(1, "x")).await.as_deref(), Ok("1x"));
}

/// `report = NAME` under `hedge`: the report counts every copy as an attempt, the extra ones
/// as hedges, and says which way the call stopped.
#[tokio::test(start_paused = true)]
async fn a_hedged_call_fills_in_its_report() {
    use retry_runtime::{CallReport, GiveUp, Stop};

    #[retry(hedge = "20ms", hedges = 2, classify, report = report, context = attempt)]
    async fn fetch(fail: bool, report: &mut CallReport) -> Result<u32, Error> {
        let n = attempt.attempt();
        if fail {
            sleep(MS * 5).await;
            return Err(Error::Busy);
        }
        sleep(if n == 1 { MS * 1_000 } else { MS * 10 }).await;
        Ok(n)
    }

    let mut report = CallReport::new();
    let start = Instant::now();
    assert_eq!(fetch(false, &mut report).await, Ok(2));
    assert_eq!(start.elapsed(), MS * 30);
    assert_eq!((report.attempts(), report.hedges()), (2, 1));
    assert_eq!(report.stopped(), Stop::Accepted);

    assert_eq!(fetch(true, &mut report).await, Err(Error::Busy));
    assert_eq!((report.attempts(), report.hedges()), (3, 2));
    assert_eq!(report.stopped(), Stop::GaveUp(GiveUp::OutOfAttempts));
}
