//! The second front door, `Policy::retry` and `Policy::retry_blocking`: the same engine as the
//! attribute, so the same schedules (exact under tokio's paused clock), filters, hints, timeouts,
//! hooks and budgets; an async closure that mutates the caller's state; `Send` futures.

use std::cell::Cell;
use std::future::IntoFuture;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use retry_runtime::{Attempt, Classify, Decision, Policy, RetryBudget, RetryInfo, TimedOut};
use tokio::time::Instant;

const MS: Duration = Duration::from_millis(1);

fn assert_send<T: Send>(_: &T) {}

#[derive(Debug, PartialEq)]
enum Error {
    Busy,
    Fatal,
    Wait(Duration),
    TimedOut,
}

impl Classify for Error {
    fn classify(&self) -> Decision {
        match self {
            Error::Busy | Error::TimedOut => Decision::Retry,
            Error::Fatal => Decision::Stop,
            Error::Wait(d) => Decision::RetryAfter(*d),
        }
    }
}

impl From<TimedOut> for Error {
    fn from(_: TimedOut) -> Self {
        Error::TimedOut
    }
}

#[tokio::test(start_paused = true)]
async fn the_schedule_is_the_policy_exactly() {
    let policy = Policy::new().with_attempts(4).with_base(MS * 100);
    let log = Mutex::new(Vec::new());
    let start = Instant::now();
    let out = policy
        .retry(async |attempt| {
            log.lock()
                .unwrap()
                .push((attempt.attempt(), start.elapsed()));
            Err::<(), _>(Error::Busy)
        })
        .await;
    assert_eq!(out, Err(Error::Busy));
    assert_eq!(
        *log.lock().unwrap(),
        [
            (1, Duration::ZERO),
            (2, MS * 100),
            (3, MS * 300),
            (4, MS * 700)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn an_async_closure_mutates_the_callers_state_across_attempts() {
    let policy = Policy::new().with_base(MS);
    let mut seen: Vec<u32> = Vec::new();
    let mut total = 0;
    let out = policy
        .retry(async |attempt| {
            seen.push(attempt.attempt());
            total += 10;
            if seen.len() < 3 {
                Err(Error::Busy)
            } else {
                Ok(total)
            }
        })
        .run()
        .await;
    assert_eq!(out, Ok(30));
    assert_eq!(seen, [1, 2, 3]);
    assert_eq!(total, 30);
}

#[tokio::test(start_paused = true)]
async fn filters_decide_as_the_attributes_do() {
    let policy = Policy::new().with_attempts(5).with_base(MS * 10);
    let calls = AtomicU32::new(0);
    let answers = [
        Error::Busy,
        Error::Wait(MS * 500),
        Error::Fatal,
        Error::Busy,
    ];
    let start = Instant::now();
    let out = policy
        .retry(async |_| {
            let n = calls.fetch_add(1, Ordering::SeqCst) as usize;
            Err::<(), _>(match answers[n] {
                Error::Wait(d) => Error::Wait(d),
                Error::Busy => Error::Busy,
                _ => Error::Fatal,
            })
        })
        .classify()
        .await;
    // Busy (10ms), Wait(500ms) honoured over the 20ms backoff, then Fatal stops at once.
    assert_eq!(out, Err(Error::Fatal));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(start.elapsed(), MS * 510);

    // `when` says no: returned at once.
    let calls = AtomicU32::new(0);
    let out = policy
        .retry(async |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(Error::Busy)
        })
        .when(|e: &Error| *e != Error::Busy)
        .await;
    assert_eq!((out, calls.load(Ordering::SeqCst)), (Err(Error::Busy), 1));
}

#[tokio::test(start_paused = true)]
async fn until_polls_and_returns_the_last_value_when_it_gives_up() {
    let policy = Policy::new().with_attempts(3).with_base(MS * 100);
    let polls = AtomicU32::new(0);
    let hooked = Mutex::new(Vec::new());
    let out = policy
        .retry(async |_| Ok::<u32, Error>(polls.fetch_add(1, Ordering::SeqCst) + 1))
        .until(|n: &u32| *n >= 10)
        .on_retry(|outcome: &Result<u32, Error>, info: &RetryInfo| {
            hooked
                .lock()
                .unwrap()
                .push((outcome.as_ref().ok().copied(), info.delay()))
        })
        .await;
    assert_eq!(out, Ok(3));
    assert_eq!(
        *hooked.lock().unwrap(),
        [(Some(1), MS * 100), (Some(2), MS * 200)]
    );
}

#[tokio::test(start_paused = true)]
async fn a_timeout_cuts_each_attempt_off() {
    let policy = Policy::new().with_attempts(3).with_base(MS * 10);
    let calls = AtomicU32::new(0);
    let start = Instant::now();
    let future = policy
        .retry(async |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok::<(), Error>(())
        })
        .timeout(MS * 50)
        .into_future();
    assert_send(&future);
    assert_eq!(future.await, Err(Error::TimedOut));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(start.elapsed(), MS * (50 * 3 + 10 + 20));
}

#[tokio::test(start_paused = true)]
async fn max_hint_ends_the_call_on_a_long_hint() {
    let policy = Policy::new().with_max_hint(Duration::from_secs(5));
    let start = Instant::now();
    let out = policy
        .retry(async |_| Err::<(), _>(Error::Wait(Duration::from_secs(3600))))
        .classify()
        .await;
    assert_eq!(out, Err(Error::Wait(Duration::from_secs(3600))));
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn an_empty_budget_stops_the_retries() {
    static BUDGET: RetryBudget = RetryBudget::new(2, 0.0);
    let policy = Policy::new().with_attempts(10).with_base(MS);
    let calls = AtomicU32::new(0);
    let out = policy
        .retry(async |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(Error::Busy)
        })
        .budget(&BUDGET)
        .await;
    assert_eq!(out, Err(Error::Busy));
    // Two tokens: two retries, three calls.
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn the_awaited_builder_is_send_and_the_key_is_the_same_for_every_attempt() {
    let keys = Mutex::new(Vec::new());
    let policy = Policy::new().with_base(MS);
    let future = policy
        .retry(|attempt: Attempt| {
            keys.lock().unwrap().push(attempt.idempotency_key());
            async move {
                tokio::task::yield_now().await;
                if attempt.attempt() < 3 {
                    Err(Error::Busy)
                } else {
                    Ok(())
                }
            }
        })
        .into_future();
    assert_send(&future);
    assert_eq!(future.await, Ok(()));
    let keys = keys.into_inner().unwrap();
    assert_eq!(keys.len(), 3);
    assert!(keys.iter().all(|k| *k == keys[0]));
}

#[test]
fn the_blocking_builder_sleeps_the_policys_delays() {
    let policy = Policy::new().with_attempts(3).with_base(MS * 5);
    let mut attempts = Vec::new();
    let start = std::time::Instant::now();
    let out = policy
        .retry_blocking(|attempt| {
            attempts.push(attempt.attempt());
            Err::<(), _>(Error::Busy)
        })
        .classify()
        .call();
    assert_eq!(out, Err(Error::Busy));
    assert_eq!(attempts, [1, 2, 3]);
    assert!(start.elapsed() >= MS * 15);

    let calls = Cell::new(0);
    let out = policy
        .retry_blocking(|_| {
            calls.set(calls.get() + 1);
            Err::<(), _>(Error::Fatal)
        })
        .classify()
        .call();
    assert_eq!((out, calls.get()), (Err(Error::Fatal), 1));
}

/// Closures given to the builders infer their parameter types, as backon's `.when` and
/// `.notify` do: each method carries the `Fn` bound its closure needs (the README's builder
/// example once failed with "`Retry<..>` is not a future").
#[tokio::test(start_paused = true)]
async fn unannotated_closures_infer_on_every_builder_method() {
    let policy = retry_runtime::Policy::new()
        .with_attempts(4)
        .with_base(std::time::Duration::from_millis(10));
    let seen = std::sync::Mutex::new(Vec::new());
    let calls = std::sync::atomic::AtomicU32::new(0);
    let out = policy
        .retry(async |_| {
            let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            if n < 3 {
                Err(format!("busy {n}"))
            } else {
                Ok(n)
            }
        })
        .when(|e| e.starts_with("busy"))
        .until(|n| *n >= 3)
        .on_retry(|outcome, info| seen.lock().unwrap().push((outcome.clone(), info.attempt())))
        .fallback(|e| Err(format!("gave up: {e}")))
        .await;
    assert_eq!(out, Ok(3));
    assert_eq!(
        *seen.lock().unwrap(),
        [
            (Err("busy 1".to_string()), 1),
            (Err("busy 2".to_string()), 2)
        ]
    );
    let blocking = policy
        .retry_blocking(|attempt| {
            if attempt.attempt() < 2 {
                Err("no")
            } else {
                Ok(7)
            }
        })
        .when(|e| *e == "no")
        .on_retry(|outcome, _| assert!(outcome.is_err()))
        .fallback(|e| if e == "no" { Err(e) } else { Ok(0) })
        .call();
    assert_eq!(blocking, Ok(7));
    let fallen_back = policy
        .retry(async |_| Err::<u32, _>("down"))
        .fallback_async(|e| async move {
            if e == "down" {
                Ok(0)
            } else {
                Err(e)
            }
        })
        .await;
    assert_eq!(fallen_back, Ok(0));
}
