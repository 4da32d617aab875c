//! `#[retry(budget = PATH)]`: a shared `RetryBudget` bounds the retries of every call using it.

use retry_runtime::{retry, RetryBudget};
use retry_suite::Counter;

const CALLS: u32 = 10_000;

#[tokio::test(start_paused = true)]
async fn a_drained_budget_caps_retry_load_under_a_total_outage() {
    static BUDGET: RetryBudget = RetryBudget::new(10, 0.1);
    static ATTEMPTS: Counter = Counter::new();

    #[retry(attempts = 3, base = "10ms", budget = BUDGET)]
    async fn always_fails() -> Result<(), &'static str> {
        ATTEMPTS.bump();
        Err("outage")
    }

    for _ in 0..CALLS {
        assert_eq!(always_fails().await, Err("outage"));
    }
    // Without a budget: 3 attempts per call. With it: the 10 initial tokens, then none.
    let attempts = ATTEMPTS.get();
    assert_eq!(attempts, CALLS + 10);
    assert!(f64::from(attempts) <= 1.1 * f64::from(CALLS));
}

#[tokio::test(start_paused = true)]
async fn retries_stay_within_the_ratio_of_successes() {
    static BUDGET: RetryBudget = RetryBudget::new(10, 0.1);
    static ATTEMPTS: Counter = Counter::new();

    /// Fails once when `flaky`, then succeeds if it was allowed to retry.
    #[retry(attempts = 3, base = "10ms", budget = BUDGET)]
    async fn call(flaky: &mut bool) -> Result<(), &'static str> {
        ATTEMPTS.bump();
        if std::mem::take(flaky) {
            return Err("transient");
        }
        Ok(())
    }

    // One call in five fails once: 2,000 calls would like a retry.
    let mut ok = 0u32;
    for i in 0..CALLS {
        let mut flaky = i % 5 == 0;
        if call(&mut flaky).await.is_ok() {
            ok += 1;
        }
    }
    let retries = ATTEMPTS.get() - CALLS;
    // Every retry succeeded here, so the refused ones are the failed calls.
    assert_eq!(CALLS - ok, CALLS / 5 - retries);
    // The budget's bound: the initial burst plus `ratio` per success (rounding aside).
    assert!(
        f64::from(retries) <= 10.0 + 0.1 * f64::from(ok) + 1.0,
        "retries = {retries}, ok = {ok}"
    );
    // And it does not starve: about 900 of the 2,000 wanted retries go ahead.
    assert!(retries >= 850, "retries = {retries}");
}

#[tokio::test(start_paused = true)]
async fn a_healthy_service_never_sees_a_refusal() {
    static BUDGET: RetryBudget = RetryBudget::new(10, 0.1);
    static ATTEMPTS: Counter = Counter::new();

    #[retry(attempts = 3, base = "10ms", budget = BUDGET)]
    async fn healthy() -> Result<u32, &'static str> {
        Ok(ATTEMPTS.bump())
    }

    for i in 1..=CALLS {
        assert_eq!(healthy().await, Ok(i));
    }
    assert_eq!(BUDGET.tokens(), 10.0, "the bucket stays full");
}
