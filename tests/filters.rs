//! Error filters (`unless`, `on`, `when`, `classify`), `timeout`, `context` and `on_retry`.

use std::sync::Mutex;
use std::time::Duration;

use retry_runtime::{retry, Classify, Decision, RetryInfo, TimedOut};
use retry_suite::Counter;
use tokio::time::Instant;

#[derive(Debug, Clone, PartialEq)]
enum ApiError {
    Io(std::io::ErrorKind),
    Status(u16),
    Busy(Duration),
    TimedOut,
}

impl From<TimedOut> for ApiError {
    fn from(_: TimedOut) -> Self {
        ApiError::TimedOut
    }
}

impl Classify for ApiError {
    fn classify(&self) -> Decision {
        match self {
            ApiError::Io(_) | ApiError::TimedOut => Decision::Retry,
            ApiError::Status(s) if *s >= 500 => Decision::Retry,
            ApiError::Status(_) => Decision::Stop,
            ApiError::Busy(wait) => Decision::RetryAfter(*wait),
        }
    }
}

/// Fails with `errors[n]` on call `n` (0-based), then succeeds.
fn script(calls: &Counter, errors: &[ApiError]) -> Result<u32, ApiError> {
    let n = calls.bump();
    match errors.get(n as usize - 1) {
        Some(err) => Err(err.clone()),
        None => Ok(n),
    }
}

#[tokio::test(start_paused = true)]
async fn on_retries_only_matching_errors() {
    #[retry(attempts = 5, base = "10ms", on = ApiError::Io(_) | ApiError::Status(500..=599))]
    async fn call(calls: &Counter, errors: &[ApiError]) -> Result<u32, ApiError> {
        script(calls, errors)
    }
    let calls = Counter::new();
    let io = ApiError::Io(std::io::ErrorKind::ConnectionReset);
    assert_eq!(
        call(&calls, &[io.clone(), ApiError::Status(503)]).await,
        Ok(3)
    );
    let calls = Counter::new();
    assert_eq!(
        call(&calls, &[io, ApiError::Status(404), ApiError::Status(503)]).await,
        Err(ApiError::Status(404))
    );
    assert_eq!(
        calls.get(),
        2,
        "a 404 does not match `on`, so it is returned at once"
    );
}

#[tokio::test(start_paused = true)]
async fn on_with_guard_and_unless_checked_first() {
    #[retry(
        attempts = 5,
        base = "10ms",
        on = ApiError::Status(s) if *s >= 500,
        unless = ApiError::Status(501)
    )]
    async fn call(calls: &Counter, errors: &[ApiError]) -> Result<u32, ApiError> {
        script(calls, errors)
    }
    let calls = Counter::new();
    assert_eq!(
        call(&calls, &[ApiError::Status(500), ApiError::Status(502)]).await,
        Ok(3)
    );
    let calls = Counter::new();
    assert_eq!(
        call(&calls, &[ApiError::Status(500), ApiError::Status(501)]).await,
        Err(ApiError::Status(501))
    );
    assert_eq!(calls.get(), 2);
    let calls = Counter::new();
    assert_eq!(
        call(&calls, &[ApiError::Status(429)]).await,
        Err(ApiError::Status(429))
    );
    assert_eq!(calls.get(), 1);
}

fn is_transient(err: &ApiError) -> bool {
    matches!(err, ApiError::Io(_))
}

#[tokio::test(start_paused = true)]
async fn when_takes_a_path_or_a_closure() {
    #[retry(attempts = 4, base = "10ms", when = is_transient)]
    async fn by_path(calls: &Counter, errors: &[ApiError]) -> Result<u32, ApiError> {
        script(calls, errors)
    }
    #[retry(attempts = 4, base = "10ms", when = |e| !matches!(e, ApiError::Status(400..=499)))]
    async fn by_closure(calls: &Counter, errors: &[ApiError]) -> Result<u32, ApiError> {
        script(calls, errors)
    }
    let io = ApiError::Io(std::io::ErrorKind::TimedOut);
    let calls = Counter::new();
    assert_eq!(
        by_path(&calls, &[io.clone(), ApiError::Status(500)]).await,
        Err(ApiError::Status(500))
    );
    assert_eq!(calls.get(), 2);
    let calls = Counter::new();
    assert_eq!(
        by_closure(&calls, &[io, ApiError::Status(500)]).await,
        Ok(3)
    );
    let calls = Counter::new();
    assert_eq!(
        by_closure(&calls, &[ApiError::Status(409)]).await,
        Err(ApiError::Status(409))
    );
    assert_eq!(calls.get(), 1);
}

#[tokio::test(start_paused = true)]
async fn classify_stops_permanent_errors_and_honours_retry_after() {
    #[retry(attempts = 4, base = "100ms", max = "1s", classify)]
    async fn call(calls: &Counter, errors: &[ApiError]) -> Result<u32, ApiError> {
        script(calls, errors)
    }
    let calls = Counter::new();
    assert_eq!(
        call(&calls, &[ApiError::Status(400)]).await,
        Err(ApiError::Status(400))
    );
    assert_eq!(calls.get(), 1);

    // RetryAfter sleeps max(backoff, hint): 100ms backoff vs a 3s hint, then 200ms vs 50ms.
    let calls = Counter::new();
    let start = Instant::now();
    let errors = [
        ApiError::Busy(Duration::from_secs(3)),
        ApiError::Busy(Duration::from_millis(50)),
    ];
    assert_eq!(call(&calls, &errors).await, Ok(3));
    assert_eq!(start.elapsed(), Duration::from_millis(3_200));
}

#[tokio::test(start_paused = true)]
async fn retry_after_never_outlives_the_deadline_or_the_attempts() {
    #[retry(attempts = 10, base = "100ms", deadline = "5s", classify)]
    async fn call(calls: &Counter, errors: &[ApiError]) -> Result<u32, ApiError> {
        script(calls, errors)
    }
    let calls = Counter::new();
    let start = Instant::now();
    let busy = ApiError::Busy(Duration::from_secs(2));
    let errors = vec![busy.clone(); 10];
    assert_eq!(call(&calls, &errors).await, Err(busy.clone()));
    // 2s + 2s fit in 5s; a third 2s pause would end at 6s, so the call gives up at 4s.
    assert_eq!(calls.get(), 3);
    assert_eq!(start.elapsed(), Duration::from_secs(4));

    #[retry(attempts = 2, base = "100ms", classify)]
    async fn two(calls: &Counter, errors: &[ApiError]) -> Result<u32, ApiError> {
        script(calls, errors)
    }
    let calls = Counter::new();
    assert_eq!(two(&calls, &errors).await, Err(busy));
    assert_eq!(calls.get(), 2, "a Retry-After hint does not add attempts");
}

#[tokio::test(start_paused = true)]
async fn timeout_cuts_off_slow_attempts_and_retries_them() {
    #[retry(attempts = 3, base = "10ms", timeout = "1s")]
    async fn slow_then_fast(calls: &Counter) -> Result<u32, ApiError> {
        let n = calls.bump();
        if n < 3 {
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        Ok(n)
    }
    let calls = Counter::new();
    let start = Instant::now();
    assert_eq!(slow_then_fast(&calls).await, Ok(3));
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(1_000 + 10 + 1_000 + 20)
    );
}

#[tokio::test(start_paused = true)]
async fn timeout_is_also_cut_at_the_remaining_deadline() {
    #[retry(attempts = 5, base = "100ms", timeout = "10s", deadline = "3s")]
    async fn hangs(calls: &Counter) -> Result<u32, ApiError> {
        calls.bump();
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok(0)
    }
    let calls = Counter::new();
    let start = Instant::now();
    assert_eq!(hangs(&calls).await, Err(ApiError::TimedOut));
    // The first attempt is cut at the 3s deadline, and no retry fits after it.
    assert_eq!(calls.get(), 1);
    assert_eq!(start.elapsed(), Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn context_numbers_attempts_and_keeps_one_key_per_call() {
    #[retry(attempts = 3, base = "10ms", context = ctx)]
    async fn call(seen: &Mutex<Vec<(u32, String)>>) -> Result<(), ApiError> {
        seen.lock()
            .unwrap()
            .push((ctx.attempt(), ctx.idempotency_key().to_string()));
        if ctx.attempt() < 3 {
            return Err(ApiError::Status(503));
        }
        Ok(())
    }
    let first = Mutex::new(Vec::new());
    call(&first).await.unwrap();
    let second = Mutex::new(Vec::new());
    call(&second).await.unwrap();
    let (first, second) = (first.into_inner().unwrap(), second.into_inner().unwrap());
    assert_eq!(first.iter().map(|s| s.0).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(first.iter().all(|s| s.1 == first[0].1));
    assert!(second.iter().all(|s| s.1 == second[0].1));
    assert_ne!(first[0].1, second[0].1, "each call gets its own key");
}

#[tokio::test(start_paused = true)]
async fn on_retry_runs_before_each_sleep_in_order() {
    static LOG: Mutex<Vec<(u32, Duration, Duration, ApiError)>> = Mutex::new(Vec::new());
    fn record(err: &ApiError, info: &RetryInfo) {
        LOG.lock()
            .unwrap()
            .push((info.attempt(), info.delay(), info.elapsed(), err.clone()));
    }
    #[retry(attempts = 4, base = "100ms", on_retry = record)]
    async fn call(calls: &Counter, errors: &[ApiError]) -> Result<u32, ApiError> {
        tokio::time::sleep(Duration::from_millis(5)).await;
        script(calls, errors)
    }
    let calls = Counter::new();
    let errors = [500, 502, 503, 504].map(ApiError::Status);
    assert_eq!(call(&calls, &errors).await, Err(ApiError::Status(504)));
    let log = LOG.lock().unwrap().clone();
    assert_eq!(
        log,
        [
            (
                1,
                Duration::from_millis(100),
                Duration::from_millis(5),
                ApiError::Status(500)
            ),
            (
                2,
                Duration::from_millis(200),
                Duration::from_millis(110),
                ApiError::Status(502)
            ),
            (
                3,
                Duration::from_millis(400),
                Duration::from_millis(315),
                ApiError::Status(503)
            ),
        ],
        "one call per retry, none after the last attempt"
    );

    static HITS: Counter = Counter::new();
    #[retry(attempts = 3, base = "1ms", on_retry = |e, info| {
        assert_eq!(*e, ApiError::Status(500));
        assert_eq!(info.attempt(), HITS.bump());
    })]
    async fn with_closure(calls: &Counter) -> Result<u32, ApiError> {
        calls.bump();
        Err(ApiError::Status(500))
    }
    let calls = Counter::new();
    assert_eq!(with_closure(&calls).await, Err(ApiError::Status(500)));
    assert_eq!((calls.get(), HITS.get()), (3, 2));
}
