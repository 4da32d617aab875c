//! Hedged calls on the builder (`.hedge`, `.hedge_at`, `.hedge_with`), on tokio's paused clock:
//! exact copy start times, which copy wins, which are cancelled (counted as they are dropped),
//! what a call returns when every copy fails, and the budget, breaker, deadline and pushback.

use std::future::IntoFuture;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use retry_runtime::{
    Attempt, BreakerOpen, CircuitBreaker, Classify, Decision, IdempotencyKey, Latencies, Policy,
    RetryBudget, TimedOut,
};
use tokio::time::{sleep, Instant};

const MS: Duration = Duration::from_millis(1);

#[derive(Debug, PartialEq)]
enum Error {
    /// A retryable failure of copy `.0`.
    Busy(u32),
    /// A permanent failure of copy `.0`.
    Fatal(u32),
    /// A retryable failure with the server's pushback.
    Wait(u32, Duration),
    TimedOut,
    BreakerOpen,
}

impl Classify for Error {
    fn classify(&self) -> Decision {
        match self {
            Error::Busy(_) | Error::TimedOut | Error::BreakerOpen => Decision::Retry,
            Error::Fatal(_) => Decision::Stop,
            Error::Wait(_, wait) => Decision::RetryAfter(*wait),
        }
    }
}

impl From<TimedOut> for Error {
    fn from(_: TimedOut) -> Self {
        Error::TimedOut
    }
}

impl From<BreakerOpen> for Error {
    fn from(_: BreakerOpen) -> Self {
        Error::BreakerOpen
    }
}

/// What each copy of a call does: after how long it answers, and with what (given its number).
#[derive(Clone, Copy)]
enum Answer {
    Ok(u64),
    Busy(u64),
    Fatal(u64),
    Wait(u64, u64),
}

/// A service that runs copy `n` as `script[n - 1]`, recording when each copy started (ms since
/// `start`), the key it carried, and each copy dropped before it answered.
struct Service {
    start: Instant,
    script: Vec<Answer>,
    started: Mutex<Vec<u64>>,
    keys: Mutex<Vec<IdempotencyKey>>,
    dropped: AtomicU32,
}

/// Counts a copy dropped before it answered.
struct Live<'s>(&'s AtomicU32, bool);

impl Drop for Live<'_> {
    fn drop(&mut self) {
        if !self.1 {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl Service {
    fn new(script: &[Answer]) -> Self {
        Service {
            start: Instant::now(),
            script: script.to_vec(),
            started: Mutex::new(Vec::new()),
            keys: Mutex::new(Vec::new()),
            dropped: AtomicU32::new(0),
        }
    }

    async fn call(&self, attempt: Attempt) -> Result<u32, Error> {
        let n = attempt.attempt();
        self.started
            .lock()
            .unwrap()
            .push(self.start.elapsed().as_millis() as u64);
        self.keys.lock().unwrap().push(attempt.idempotency_key());
        let mut live = Live(&self.dropped, false);
        let answer = self.script[(n - 1) as usize];
        let (after, out) = match answer {
            Answer::Ok(ms) => (ms, Ok(n)),
            Answer::Busy(ms) => (ms, Err(Error::Busy(n))),
            Answer::Fatal(ms) => (ms, Err(Error::Fatal(n))),
            Answer::Wait(ms, wait) => (ms, Err(Error::Wait(n, MS * wait as u32))),
        };
        sleep(MS * after as u32).await;
        live.1 = true;
        out
    }

    fn started(&self) -> Vec<u64> {
        self.started.lock().unwrap().clone()
    }

    fn dropped(&self) -> u32 {
        self.dropped.load(Ordering::SeqCst)
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_first_copy_is_hedged_after_the_delay_and_the_faster_copy_wins() {
    let service = Service::new(&[Answer::Ok(1_000), Answer::Ok(10)]);
    let start = Instant::now();
    let out = Policy::new()
        .retry(|attempt| service.call(attempt))
        .hedge(MS * 50, 1)
        .await;
    assert_eq!(out, Ok(2));
    assert_eq!(start.elapsed(), MS * 60);
    assert_eq!(service.started(), [0, 50]);
    assert_eq!(service.dropped(), 1, "the slow primary is cancelled");
}

#[tokio::test(start_paused = true)]
async fn a_fast_first_copy_sends_no_hedge() {
    let service = Service::new(&[Answer::Ok(20), Answer::Ok(1)]);
    let out = Policy::new()
        .retry(|attempt| service.call(attempt))
        .hedge(MS * 50, 1)
        .await;
    assert_eq!(out, Ok(1));
    assert_eq!(service.started(), [0]);
    assert_eq!(service.dropped(), 0);
}

#[tokio::test(start_paused = true)]
async fn copies_go_every_delay_until_all_are_out() {
    let service = Service::new(&[Answer::Ok(1_000), Answer::Ok(1_000), Answer::Ok(10)]);
    let start = Instant::now();
    let out = Policy::new()
        .retry(|attempt| service.call(attempt))
        .hedge(MS * 100, 2)
        .await;
    assert_eq!(out, Ok(3));
    assert_eq!(start.elapsed(), MS * 210);
    assert_eq!(service.started(), [0, 100, 200]);
    assert_eq!(service.dropped(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_zero_delay_sends_every_copy_at_once() {
    let service = Service::new(&[Answer::Ok(30), Answer::Ok(20), Answer::Ok(10)]);
    let out = Policy::new()
        .retry(|attempt| service.call(attempt))
        .hedge(Duration::ZERO, 2)
        .await;
    assert_eq!(out, Ok(3));
    assert_eq!(service.started(), [0, 0, 0]);
    assert_eq!(service.dropped(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_retryable_failure_sends_the_next_copy_at_once() {
    let service = Service::new(&[Answer::Busy(5), Answer::Ok(10)]);
    let start = Instant::now();
    let out = Policy::new()
        .retry(|attempt| service.call(attempt))
        .classify()
        .hedge(MS * 50, 1)
        .await;
    assert_eq!(out, Ok(2));
    assert_eq!(service.started(), [0, 5]);
    assert_eq!(start.elapsed(), MS * 15);
}

#[tokio::test(start_paused = true)]
async fn a_permanent_failure_ends_the_call_and_cancels_the_others() {
    let service = Service::new(&[Answer::Ok(1_000), Answer::Fatal(10), Answer::Ok(1)]);
    let start = Instant::now();
    let out = Policy::new()
        .retry(|attempt| service.call(attempt))
        .classify()
        .hedge(MS * 50, 2)
        .await;
    assert_eq!(out, Err(Error::Fatal(2)));
    assert_eq!(start.elapsed(), MS * 60);
    assert_eq!(service.started(), [0, 50]);
    assert_eq!(service.dropped(), 1);
}

/// Every copy failed: the primary's outcome is the call's (Polly's rule), whichever failed last.
#[tokio::test(start_paused = true)]
async fn when_every_copy_fails_the_primary_s_outcome_is_returned() {
    let service = Service::new(&[Answer::Busy(80), Answer::Busy(10), Answer::Busy(5)]);
    let start = Instant::now();
    let out = Policy::new()
        .retry(|attempt| service.call(attempt))
        .classify()
        .hedge(MS * 50, 2)
        .await;
    assert_eq!(out, Err(Error::Busy(1)));
    // 0: primary; 50: copy 2 (delay); 60: copy 2 failed, copy 3 at once; 65: it failed;
    // 80: the primary failed, the last.
    assert_eq!(service.started(), [0, 50, 60]);
    assert_eq!(start.elapsed(), MS * 80);
    // The fallback answers the primary's error.
    let service = Service::new(&[Answer::Busy(1), Answer::Busy(1)]);
    let out = Policy::new()
        .retry(|attempt| service.call(attempt))
        .classify()
        .fallback(|error| match error {
            Error::Busy(n) => Ok(100 + n),
            other => Err(other),
        })
        .hedge(MS * 50, 1)
        .await;
    assert_eq!(out, Ok(101));
}

#[tokio::test(start_paused = true)]
async fn a_server_s_pushback_delays_the_next_copy() {
    let service = Service::new(&[Answer::Wait(5, 40), Answer::Ok(10)]);
    let out = Policy::new()
        .retry(|attempt| service.call(attempt))
        .classify()
        .hedge(MS * 500, 1)
        .await;
    assert_eq!(out, Ok(2));
    assert_eq!(service.started(), [0, 45]);
    // A pushback beyond `max_hint` sends no more copies.
    let service = Service::new(&[Answer::Wait(5, 40), Answer::Ok(10)]);
    let out = Policy::new()
        .with_max_hint(MS * 30)
        .retry(|attempt| service.call(attempt))
        .classify()
        .hedge(MS * 500, 1)
        .await;
    assert_eq!(out, Err(Error::Wait(1, MS * 40)));
    assert_eq!(service.started(), [0]);
}

/// One deadline covers every copy: no copy starts after it, and with a timeout each running
/// copy is cut off at it.
#[tokio::test(start_paused = true)]
async fn one_deadline_covers_all_copies() {
    let slow = [Answer::Ok(1_000); 6];
    let service = Service::new(&slow);
    let start = Instant::now();
    let out = Policy::new()
        .with_deadline(MS * 120)
        .retry(|attempt| service.call(attempt))
        .timeout(Duration::from_secs(10))
        .hedge(MS * 50, 5)
        .await;
    assert_eq!(out, Err(Error::TimedOut));
    assert_eq!(service.started(), [0, 50, 100]);
    assert_eq!(start.elapsed(), MS * 120);
    assert_eq!(service.dropped(), 3);
}

#[tokio::test(start_paused = true)]
async fn every_copy_carries_the_call_s_one_idempotency_key() {
    let service = Service::new(&[Answer::Ok(1_000), Answer::Ok(1_000), Answer::Ok(10)]);
    let key = IdempotencyKey::random();
    let out = Policy::new()
        .retry(|attempt| service.call(attempt))
        .idempotency_key(key)
        .hedge(MS * 10, 2)
        .await;
    assert_eq!(out, Ok(3));
    assert_eq!(*service.keys.lock().unwrap(), [key; 3]);
    // Without a given key, the copies still share the call's own.
    let service = Service::new(&[Answer::Ok(1_000), Answer::Ok(10)]);
    let _ = Policy::new()
        .retry(|attempt| service.call(attempt))
        .hedge(MS * 10, 1)
        .await;
    let keys = service.keys.lock().unwrap();
    assert_eq!(keys[0], keys[1]);
}

/// Each extra copy draws a token from the budget: with none left, no more copies go.
#[tokio::test(start_paused = true)]
async fn extra_copies_draw_from_the_budget() {
    let budget = RetryBudget::new(1, 0.0);
    let service = Service::new(&[Answer::Ok(300), Answer::Ok(300), Answer::Ok(10)]);
    let start = Instant::now();
    let out = Policy::new()
        .retry(|attempt| service.call(attempt))
        .budget(&budget)
        .hedge(MS * 10, 2)
        .await;
    assert_eq!(out, Ok(1));
    assert_eq!(service.started(), [0, 10]);
    assert_eq!(start.elapsed(), MS * 300);
    assert_eq!(service.dropped(), 1);
}

/// Each copy asks the breaker: the failure that opens it stops the copies that would follow,
/// and an open breaker refuses the call.
#[tokio::test(start_paused = true)]
async fn copies_ask_the_breaker() {
    let breaker = CircuitBreaker::new().with_consecutive_failures(1);
    let service = Service::new(&[Answer::Busy(5), Answer::Ok(10)]);
    let start = Instant::now();
    let out = Policy::new()
        .retry(|attempt| service.call(attempt))
        .classify()
        .breaker(&breaker)
        .hedge(MS * 50, 1)
        .await;
    assert_eq!(out, Err(Error::Busy(1)));
    assert_eq!(service.started(), [0]);
    assert_eq!(start.elapsed(), MS * 5, "no wait for a copy that cannot go");
    let service = Service::new(&[Answer::Ok(1)]);
    let out = Policy::new()
        .retry(|attempt| service.call(attempt))
        .classify()
        .breaker(&breaker)
        .hedge(MS * 50, 1)
        .await;
    assert_eq!(out, Err(Error::BreakerOpen));
    assert!(service.started().is_empty());
}

#[tokio::test(start_paused = true)]
async fn hedges_can_go_to_an_alternate_operation() {
    let service = Service::new(&[Answer::Ok(1_000)]);
    let backup_calls = AtomicU32::new(0);
    let out = Policy::new()
        .retry(|attempt| service.call(attempt))
        .hedge(MS * 100, 1)
        .hedge_with(|attempt: Attempt| {
            backup_calls.fetch_add(1, Ordering::SeqCst);
            async move {
                sleep(MS * 5).await;
                Ok::<_, Error>(attempt.attempt() + 10)
            }
        })
        .await;
    assert_eq!(out, Ok(12));
    assert_eq!(service.started(), [0]);
    assert_eq!(backup_calls.load(Ordering::SeqCst), 1);
    assert_eq!(service.dropped(), 1);
}

/// The adaptive delay sends no copy before `min_samples` latencies, then hedges at their
/// percentile.
#[tokio::test(start_paused = true)]
async fn the_adaptive_delay_waits_for_samples_then_hedges_at_the_percentile() {
    static LATENCIES: Latencies = Latencies::new();
    let policy = Policy::new();
    for _ in 0..19 {
        let service = Service::new(&[Answer::Ok(10), Answer::Ok(10)]);
        let out = policy
            .retry(|attempt| service.call(attempt))
            .hedge_at(&LATENCIES, 0.95)
            .await;
        assert_eq!(out, Ok(1));
    }
    // The 20th sample is still a cold call: slow, and not hedged.
    let service = Service::new(&[Answer::Ok(500), Answer::Ok(10)]);
    let out = policy
        .retry(|attempt| service.call(attempt))
        .hedge_at(&LATENCIES, 0.95)
        .await;
    assert_eq!(out, Ok(1));
    assert_eq!(service.started(), [0]);
    // Now p95 of nineteen 10 ms and one 500 ms is the lower edge of the 10 ms bucket (9.728
    // ms), which tokio's millisecond timer fires at 10 ms.
    let service = Service::new(&[Answer::Ok(500), Answer::Ok(10)]);
    let start = Instant::now();
    let out = policy
        .retry(|attempt| service.call(attempt))
        .hedge_at(&LATENCIES, 0.95)
        .await;
    assert_eq!(out, Ok(2));
    assert_eq!(service.started(), [0, 10]);
    assert_eq!(start.elapsed(), MS * 20);
}

/// `hedge_at_percentile` keeps one histogram per call site.
#[tokio::test(start_paused = true)]
async fn hedge_at_percentile_keeps_a_histogram_per_call_site() {
    async fn call(service: &Service) -> Result<u32, Error> {
        Policy::new()
            .retry(|attempt| service.call(attempt))
            .hedge_at_percentile(0.5)
            .copies(1)
            .await
    }
    for _ in 0..20 {
        let service = Service::new(&[Answer::Ok(10), Answer::Ok(10)]);
        assert_eq!(call(&service).await, Ok(1));
    }
    let service = Service::new(&[Answer::Ok(500), Answer::Ok(10)]);
    assert_eq!(call(&service).await, Ok(2));
    // Another call site has no samples yet: no hedge.
    let service = Service::new(&[Answer::Ok(500), Answer::Ok(10)]);
    let out = Policy::new()
        .retry(|attempt| service.call(attempt))
        .hedge_at_percentile(0.5)
        .await;
    assert_eq!(out, Ok(1));
    assert_eq!(service.started(), [0]);
}

/// A hedged call's future is `Send` when its operation's is, so it can be spawned.
#[tokio::test(start_paused = true)]
async fn a_hedged_call_can_be_spawned() {
    let policy: &'static Policy = Box::leak(Box::new(Policy::new()));
    let handle = tokio::spawn(
        policy
            .retry(|attempt: Attempt| async move {
                let ms = if attempt.attempt() == 1 { 100 } else { 1 };
                sleep(MS * ms).await;
                Ok::<_, Error>(attempt.attempt())
            })
            .hedge(MS * 10, 1)
            .into_future(),
    );
    assert_eq!(handle.await.unwrap(), Ok(2));
}

/// Many hedged calls at once on a multi-threaded runtime, on the real clock: every call gets
/// one answer, every copy that went out is either the winner or dropped, and the budget is
/// never overdrawn.
#[test]
fn hedged_calls_under_contention_lose_nothing() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let sent = std::sync::Arc::new(AtomicU32::new(0));
    let answered = std::sync::Arc::new(AtomicU32::new(0));
    let budget: &'static RetryBudget = Box::leak(Box::new(RetryBudget::new(50, 0.0)));
    let policy: &'static Policy = Box::leak(Box::new(Policy::new()));
    runtime.block_on(async {
        let mut calls = Vec::new();
        for call in 0..200u32 {
            let (sent, answered) = (sent.clone(), answered.clone());
            calls.push(tokio::spawn(async move {
                policy
                    .retry(move |attempt: Attempt| {
                        let (sent, answered) = (sent.clone(), answered.clone());
                        async move {
                            sent.fetch_add(1, Ordering::SeqCst);
                            let slow = (call + attempt.attempt()).is_multiple_of(3);
                            sleep(if slow {
                                MS * 5
                            } else {
                                Duration::from_micros(200)
                            })
                            .await;
                            answered.fetch_add(1, Ordering::SeqCst);
                            Ok::<_, Error>(attempt.attempt())
                        }
                    })
                    .budget(budget)
                    .hedge(MS, 2)
                    .await
            }));
        }
        for call in calls {
            assert!(call.await.unwrap().is_ok());
        }
    });
    let (sent, answered) = (sent.load(Ordering::SeqCst), answered.load(Ordering::SeqCst));
    assert!(
        (200..=250).contains(&sent),
        "{sent} copies for 200 calls and 50 tokens"
    );
    assert!(
        (200..=sent).contains(&answered),
        "{answered} answered of {sent}"
    );
}
