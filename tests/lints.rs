//! The code `#[retry]` generates must not trip any lint in the user's crate: this file denies all
//! warnings and all of clippy's default lints, and uses every argument on async and sync
//! functions and methods (the error filters, `timeout`, `context`, `on_retry` and `budget` too).
//! It must build warning-free under `cargo test` and `cargo clippy --all-targets -- -D warnings`.
#![deny(warnings, clippy::all)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use retry_runtime::{
    retry, Backoff, Classify, Decision, Jitter, Policy, RetryBudget, RetryInfo, TimedOut,
};

const POLICY: Policy = Policy::new()
    .with_attempts(2)
    .with_base(Duration::from_millis(1))
    .with_backoff(Backoff::Linear)
    .with_jitter(Jitter::Equal);

fn runtime_policy() -> Policy {
    Policy::new().with_attempts(2).with_base(Duration::ZERO)
}

/// Fails on the first call of each pair, succeeds on the second.
fn flaky(calls: &AtomicU32) -> Result<u32, String> {
    let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
    if n % 2 == 1 {
        Err(format!("call {n} failed"))
    } else {
        Ok(n)
    }
}

#[retry(attempts = 2)]
async fn attempts(calls: &AtomicU32) -> Result<u32, String> {
    flaky(calls)
}

#[retry(base = "1ms")]
async fn base(calls: &AtomicU32) -> Result<u32, String> {
    flaky(calls)
}

#[retry(attempts = 2, base = "1ms", max = "5ms")]
async fn max(calls: &AtomicU32) -> Result<u32, String> {
    flaky(calls)
}

#[retry(attempts = 2, base = "1ms", factor = 1.5)]
async fn factor(calls: &AtomicU32) -> Result<u32, String> {
    flaky(calls)
}

#[retry(attempts = 2, base = "1ms", factor = 3)]
async fn integer_factor(calls: &AtomicU32) -> Result<u32, String> {
    flaky(calls)
}

#[retry(attempts = 2, base = "1ms", backoff = exponential)]
async fn backoff_exponential(calls: &AtomicU32) -> Result<u32, String> {
    flaky(calls)
}

#[retry(attempts = 2, base = "1ms", backoff = constant)]
async fn backoff_constant(calls: &AtomicU32) -> Result<u32, String> {
    flaky(calls)
}

#[retry(attempts = 2, base = "1ms", backoff = linear)]
async fn backoff_linear(calls: &AtomicU32) -> Result<u32, String> {
    flaky(calls)
}

#[retry(attempts = 2, base = "1ms", backoff = fibonacci)]
async fn backoff_fibonacci(calls: &AtomicU32) -> Result<u32, String> {
    flaky(calls)
}

#[retry(attempts = 2, base = "1ms", jitter)]
async fn jitter_bare(calls: &AtomicU32) -> Result<u32, String> {
    flaky(calls)
}

#[retry(attempts = 2, base = "1ms", jitter = full)]
async fn jitter_full(calls: &AtomicU32) -> Result<u32, String> {
    flaky(calls)
}

#[retry(attempts = 2, base = "1ms", jitter = equal)]
async fn jitter_equal(calls: &AtomicU32) -> Result<u32, String> {
    flaky(calls)
}

#[retry(attempts = 2, base = "1ms", jitter = decorrelated)]
async fn jitter_decorrelated(calls: &AtomicU32) -> Result<u32, String> {
    flaky(calls)
}

#[retry(attempts = 2, base = "1ms", jitter = none)]
async fn jitter_none(calls: &AtomicU32) -> Result<u32, String> {
    flaky(calls)
}

#[retry(attempts = 2, base = "1ms", deadline = "1s")]
async fn deadline(calls: &AtomicU32) -> Result<u32, String> {
    flaky(calls)
}

#[retry(policy = POLICY)]
async fn policy_const(calls: &AtomicU32) -> Result<u32, String> {
    flaky(calls)
}

#[retry(policy = runtime_policy())]
async fn policy_expr(calls: &AtomicU32) -> Result<u32, String> {
    flaky(calls)
}

#[retry(policy = POLICY, deadline = "1s")]
async fn policy_deadline(calls: &AtomicU32) -> Result<u32, String> {
    flaky(calls)
}

#[retry(crate = "::retry_runtime", attempts = 2, base = "1ms")]
async fn crate_path(calls: &AtomicU32) -> Result<u32, String> {
    flaky(calls)
}

#[retry(
    attempts = 2,
    base = "1ms",
    max = "10ms",
    factor = 2.5,
    backoff = exponential,
    jitter = decorrelated,
    deadline = "1s",
    crate = "::retry_runtime",
)]
async fn everything(calls: &AtomicU32) -> Result<u32, String> {
    flaky(calls)
}

/// By-value, `&mut` and pattern arguments, `?` and `return`, a unit `Ok`.
#[retry(attempts = 2, base = "1ms", jitter)]
async fn arguments(
    label: String,
    mut count: u32,
    (a, b): (u8, u8),
    out: &mut Vec<String>,
    calls: &AtomicU32,
) -> Result<(), String> {
    count += u32::from(a) + u32::from(b);
    let n = flaky(calls)?;
    if n == 0 {
        return Err("unreachable".to_string());
    }
    out.push(format!("{label}{count}"));
    Ok(())
}

#[retry(attempts = 2, base = "0ms")]
fn sync_keys(calls: &AtomicU32) -> Result<u32, String> {
    flaky(calls)
}

#[retry(attempts = 2, base = "0ms", max = "1ms", factor = 2.0, backoff = exponential, jitter = equal, deadline = "1s", crate = "::retry_runtime")]
fn sync_everything(calls: &AtomicU32) -> Result<u32, String> {
    flaky(calls)
}

#[retry(attempts = 2, base = "0ms", jitter = decorrelated)]
fn sync_decorrelated(calls: &AtomicU32) -> Result<u32, String> {
    flaky(calls)
}

#[retry(policy = runtime_policy())]
fn sync_policy_expr(calls: &AtomicU32) -> Result<u32, String> {
    flaky(calls)
}

#[retry(policy = POLICY, deadline = "1s")]
fn sync_policy_const(calls: &AtomicU32) -> Result<u32, String> {
    flaky(calls)
}

#[retry(attempts = 2, base = "0ms", jitter)]
fn sync_arguments(mut text: String, (a, b): (u8, u8), out: &mut Vec<String>) -> Result<(), String> {
    text.push(char::from(b'a' + a + b));
    let n: u32 = text.len().try_into().map_err(|_| "too long".to_string())?;
    if out.is_empty() {
        out.push(text);
        return Err(format!("first try of {n}"));
    }
    out.push(text);
    Ok(())
}

#[derive(Clone, Default)]
struct Service {
    calls: std::sync::Arc<AtomicU32>,
    seen: u32,
}

impl Service {
    #[retry(attempts = 2, base = "1ms", jitter)]
    async fn by_ref(&self) -> Result<u32, String> {
        flaky(&self.calls)
    }

    #[retry(attempts = 2, base = "1ms", backoff = fibonacci, jitter = equal)]
    async fn by_mut(&mut self) -> Result<u32, String> {
        self.seen += 1;
        flaky(&self.calls)
    }

    #[retry(attempts = 2, base = "1ms", max = "2ms", deadline = "1s")]
    async fn by_value(mut self) -> Result<u32, String> {
        self.seen += 1;
        flaky(&self.calls).map(|n| n + self.seen)
    }

    #[retry(policy = runtime_policy(), deadline = "1s")]
    async fn with_policy(&self) -> Result<u32, String> {
        flaky(&self.calls)
    }

    #[retry(attempts = 2, base = "0ms", jitter = decorrelated)]
    fn sync_by_mut(&mut self) -> Result<u32, String> {
        self.seen += 1;
        flaky(&self.calls)
    }

    #[retry(policy = POLICY, crate = "::retry_runtime")]
    fn sync_by_ref(&self) -> Result<u32, String> {
        flaky(&self.calls)
    }
}

#[tokio::test(start_paused = true)]
async fn every_key_on_async_functions() {
    let calls = AtomicU32::new(0);
    assert_eq!(attempts(&calls).await, Ok(2));
    assert_eq!(base(&calls).await, Ok(4));
    assert_eq!(max(&calls).await, Ok(6));
    assert_eq!(factor(&calls).await, Ok(8));
    assert_eq!(integer_factor(&calls).await, Ok(10));
    assert_eq!(backoff_exponential(&calls).await, Ok(12));
    assert_eq!(backoff_constant(&calls).await, Ok(14));
    assert_eq!(backoff_linear(&calls).await, Ok(16));
    assert_eq!(backoff_fibonacci(&calls).await, Ok(18));
    assert_eq!(jitter_bare(&calls).await, Ok(20));
    assert_eq!(jitter_full(&calls).await, Ok(22));
    assert_eq!(jitter_equal(&calls).await, Ok(24));
    assert_eq!(jitter_decorrelated(&calls).await, Ok(26));
    assert_eq!(jitter_none(&calls).await, Ok(28));
    assert_eq!(deadline(&calls).await, Ok(30));
    assert_eq!(policy_const(&calls).await, Ok(32));
    assert_eq!(policy_expr(&calls).await, Ok(34));
    assert_eq!(policy_deadline(&calls).await, Ok(36));
    assert_eq!(crate_path(&calls).await, Ok(38));
    assert_eq!(everything(&calls).await, Ok(40));

    let mut out = Vec::new();
    assert_eq!(
        arguments("n=".to_string(), 1, (2, 3), &mut out, &calls).await,
        Ok(())
    );
    assert_eq!(out, ["n=6"]);
}

#[test]
fn every_key_on_sync_functions() {
    let calls = AtomicU32::new(0);
    assert_eq!(sync_keys(&calls), Ok(2));
    assert_eq!(sync_everything(&calls), Ok(4));
    assert_eq!(sync_decorrelated(&calls), Ok(6));
    assert_eq!(sync_policy_expr(&calls), Ok(8));
    assert_eq!(sync_policy_const(&calls), Ok(10));

    let mut out = Vec::new();
    assert_eq!(sync_arguments("x".to_string(), (0, 1), &mut out), Ok(()));
    assert_eq!(out, ["xb", "xb"]);
}

#[tokio::test(start_paused = true)]
async fn every_key_on_methods() {
    let mut svc = Service::default();
    assert_eq!(svc.by_ref().await, Ok(2));
    assert_eq!(svc.by_mut().await, Ok(4));
    assert_eq!(svc.seen, 2);
    assert_eq!(svc.clone().by_value().await, Ok(9));
    assert_eq!(svc.with_policy().await, Ok(8));
    assert_eq!(svc.sync_by_mut(), Ok(10));
    assert_eq!(svc.sync_by_ref(), Ok(12));
}

// ---- error filters, timeout, context, hooks, budget -------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum ApiError {
    Busy,
    Status(u16),
    Fatal,
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
            ApiError::Busy | ApiError::TimedOut => Decision::Retry,
            ApiError::Status(code) if *code >= 500 => {
                Decision::RetryAfter(Duration::from_millis(2))
            }
            ApiError::Status(_) | ApiError::Fatal => Decision::Stop,
        }
    }
}

static BUDGET: RetryBudget = RetryBudget::new(100, 0.5);
static HOOK_CALLS: AtomicU32 = AtomicU32::new(0);

fn is_transient(err: &ApiError) -> bool {
    !matches!(err, ApiError::Fatal)
}

fn log_retry(_: &ApiError, info: &RetryInfo) {
    assert!(info.attempt() >= 1);
    HOOK_CALLS.fetch_add(1, Ordering::SeqCst);
}

/// Fails with `first` on the first call of each pair, succeeds on the second.
fn flaky_api(calls: &AtomicU32, first: ApiError) -> Result<u32, ApiError> {
    let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
    if n % 2 == 1 {
        Err(first)
    } else {
        Ok(n)
    }
}

#[retry(attempts = 2, base = "1ms", timeout = "1s")]
async fn timeout(calls: &AtomicU32) -> Result<u32, ApiError> {
    flaky_api(calls, ApiError::Busy)
}

#[retry(attempts = 2, base = "1ms", on = ApiError::Busy | ApiError::Status(500..=599))]
async fn on(calls: &AtomicU32) -> Result<u32, ApiError> {
    flaky_api(calls, ApiError::Status(503))
}

#[retry(attempts = 2, base = "1ms", unless = ApiError::Status(code) if *code < 500)]
async fn unless(calls: &AtomicU32) -> Result<u32, ApiError> {
    flaky_api(calls, ApiError::Busy)
}

#[retry(attempts = 2, base = "1ms", when = is_transient)]
async fn when_path(calls: &AtomicU32) -> Result<u32, ApiError> {
    flaky_api(calls, ApiError::Busy)
}

#[retry(attempts = 2, base = "1ms", when = |err| *err != ApiError::Fatal)]
async fn when_closure(calls: &AtomicU32) -> Result<u32, ApiError> {
    flaky_api(calls, ApiError::Busy)
}

#[retry(attempts = 2, base = "1ms", classify)]
async fn classify(calls: &AtomicU32) -> Result<u32, ApiError> {
    flaky_api(calls, ApiError::Status(502))
}

#[retry(attempts = 2, base = "1ms", context = ctx)]
async fn context(calls: &AtomicU32) -> Result<String, ApiError> {
    let n = flaky_api(calls, ApiError::Busy)?;
    Ok(format!(
        "{n}@{} key {}",
        ctx.attempt(),
        ctx.idempotency_key()
    ))
}

#[retry(attempts = 2, base = "1ms", on_retry = log_retry)]
async fn on_retry_path(calls: &AtomicU32) -> Result<u32, ApiError> {
    flaky_api(calls, ApiError::Busy)
}

#[retry(attempts = 2, base = "1ms", on_retry = |err, info| {
    assert_eq!(*err, ApiError::Busy);
    assert_eq!(info.attempt(), 1);
})]
async fn on_retry_closure(calls: &AtomicU32) -> Result<u32, ApiError> {
    flaky_api(calls, ApiError::Busy)
}

#[retry(attempts = 2, base = "1ms", budget = BUDGET)]
async fn budget(calls: &AtomicU32) -> Result<u32, ApiError> {
    flaky_api(calls, ApiError::Busy)
}

#[retry(
    attempts = 3,
    base = "1ms",
    max = "5ms",
    jitter = decorrelated,
    deadline = "1s",
    timeout = "100ms",
    unless = ApiError::Fatal,
    on = ApiError::Busy | ApiError::TimedOut | ApiError::Status(_),
    when = is_transient,
    classify,
    context = ctx,
    on_retry = log_retry,
    budget = BUDGET,
    crate = "::retry_runtime",
)]
async fn all_filters(calls: &AtomicU32) -> Result<u32, ApiError> {
    let n = flaky_api(calls, ApiError::Status(500))?;
    Ok(n + ctx.attempt())
}

#[retry(attempts = 2, base = "0ms", unless = ApiError::Fatal, on = ApiError::Busy, when = is_transient, classify, context = ctx, on_retry = log_retry, budget = BUDGET)]
fn sync_filters(calls: &AtomicU32) -> Result<u32, ApiError> {
    let n = flaky_api(calls, ApiError::Busy)?;
    Ok(n + ctx.attempt())
}

impl Service {
    #[retry(attempts = 2, base = "1ms", timeout = "1s", classify, context = ctx, on_retry = log_retry)]
    async fn filtered(&mut self) -> Result<u32, ApiError> {
        self.seen += ctx.attempt();
        flaky_api(&self.calls, ApiError::Busy)
    }

    #[retry(policy = runtime_policy(), on = ApiError::Busy, budget = BUDGET)]
    fn sync_filtered(&self) -> Result<u32, ApiError> {
        flaky_api(&self.calls, ApiError::Busy)
    }
}

#[tokio::test(start_paused = true)]
async fn every_filter_and_hook_key() {
    let calls = AtomicU32::new(0);
    assert_eq!(timeout(&calls).await, Ok(2));
    assert_eq!(on(&calls).await, Ok(4));
    assert_eq!(unless(&calls).await, Ok(6));
    assert_eq!(when_path(&calls).await, Ok(8));
    assert_eq!(when_closure(&calls).await, Ok(10));
    assert_eq!(classify(&calls).await, Ok(12));
    let text = context(&calls).await.unwrap();
    assert!(text.starts_with("14@2 key "), "{text}");
    assert_eq!(on_retry_closure(&calls).await, Ok(16));
    assert_eq!(budget(&calls).await, Ok(18));
    assert_eq!(all_filters(&calls).await, Ok(22));
    assert_eq!(sync_filters(&calls), Ok(24));

    let hooks = HOOK_CALLS.load(Ordering::SeqCst);
    let calls = AtomicU32::new(0);
    assert_eq!(on_retry_path(&calls).await, Ok(2));
    assert!(HOOK_CALLS.load(Ordering::SeqCst) > hooks);

    let mut svc = Service::default();
    assert_eq!(svc.filtered().await, Ok(2));
    assert_eq!(svc.seen, 3);
    assert_eq!(svc.sync_filtered(), Ok(4));
}

#[retry(hedge = "1ms", hedges = 2, when = |e: &String| e.contains("failed"), context = attempt)]
async fn hedged(calls: &AtomicU32, tag: String, (a, b): (u8, u8)) -> Result<String, String> {
    let n = flaky(calls)?;
    Ok(format!("{tag}{a}{b}{n}@{}", attempt.attempt()))
}

#[retry(hedge = p99_9, fallback = |e: String| async move { Err(e) })]
async fn hedged_at_a_percentile(calls: &AtomicU32) -> Result<u32, String> {
    flaky(calls)
}

#[tokio::test(start_paused = true)]
async fn hedged_calls() {
    let calls = AtomicU32::new(0);
    let text = hedged(&calls, String::from("t"), (1, 2)).await.unwrap();
    assert!(text.starts_with("t12"), "{text}");
    let calls = AtomicU32::new(1);
    assert_eq!(hedged_at_a_percentile(&calls).await, Ok(2));
}
