//! `RetryBudget` bounds the extra load retries add: under a total outage a fleet of calls makes
//! barely more attempts than calls, and under a healthy service the budget never refuses.
//!
//! The calls here drive the budget by hand, exactly as the code generated for
//! `#[retry(budget = PATH)]` does: `deposit()` after a success, `try_withdraw()` before each
//! retry, and the error returned at once when it refuses.

use retry_runtime::RetryBudget;

const CALLS: u32 = 10_000;
const ATTEMPTS: u32 = 3;

/// What one retried call did.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Tally {
    attempts: u32,
    refusals: u32,
    successes: u32,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.attempts += other.attempts;
        self.refusals += other.refusals;
        self.successes += other.successes;
    }
}

/// One call with up to `ATTEMPTS` attempts; `fails(attempt)` says whether that attempt fails.
fn call(budget: Option<&RetryBudget>, mut fails: impl FnMut(u32) -> bool) -> Tally {
    let mut tally = Tally::default();
    for attempt in 1..=ATTEMPTS {
        tally.attempts += 1;
        if !fails(attempt) {
            if let Some(budget) = budget {
                budget.deposit();
            }
            tally.successes += 1;
            return tally;
        }
        if attempt == ATTEMPTS {
            break;
        }
        if let Some(budget) = budget {
            if !budget.try_withdraw() {
                tally.refusals += 1;
                break;
            }
        }
    }
    tally
}

fn run(budget: Option<&RetryBudget>, mut fails: impl FnMut(u32, u32) -> bool) -> Tally {
    let mut total = Tally::default();
    for i in 0..CALLS {
        total.add(call(budget, |attempt| fails(i, attempt)));
    }
    total
}

#[test]
fn total_outage_without_a_budget_triples_the_load() {
    let total = run(None, |_, _| true);
    println!("100% failures, no budget: {} attempts", total.attempts);
    assert_eq!(total.attempts, CALLS * ATTEMPTS);
}

#[test]
fn total_outage_with_a_budget_adds_at_most_ten_percent() {
    let budget = RetryBudget::new(10, 0.1);
    let initial = budget.max_tokens();
    let total = run(Some(&budget), |_, _| true);
    println!(
        "100% failures, RetryBudget::new(10, 0.1): {} attempts for {CALLS} calls ({:.3}x), {} refused",
        total.attempts,
        f64::from(total.attempts) / f64::from(CALLS),
        total.refusals
    );
    // Nothing succeeds, so nothing refills: the initial burst is all the retrying there is.
    assert_eq!(total.attempts, CALLS + initial);
    assert!(f64::from(total.attempts - initial) <= 1.1 * f64::from(CALLS));
    assert_eq!(total.refusals, CALLS - initial / (ATTEMPTS - 1));
    assert!(!budget.can_retry());
}

#[test]
fn partial_outage_retries_stay_within_the_ratio_of_successes() {
    // Three calls in four fail on every attempt; the fourth succeeds at once.
    let ratio = 0.1;
    let budget = RetryBudget::new(10, ratio);
    let total = run(Some(&budget), |i, _| i % 4 != 0);
    let retries = total.attempts - CALLS;
    println!(
        "75% failing calls, RetryBudget::new(10, 0.1): {} attempts, {retries} retries, {} successes",
        total.attempts, total.successes
    );
    assert_eq!(total.successes, CALLS / 4);
    assert!(f64::from(retries) <= ratio * f64::from(total.successes) + 10.0);
    // And the budget is not stingier than it promises: every earned token was spent.
    assert!(f64::from(retries) >= ratio * f64::from(total.successes));
    let no_budget = run(None, |i, _| i % 4 != 0);
    assert!(no_budget.attempts > 2 * total.attempts);
}

#[test]
fn healthy_service_never_drains_the_budget() {
    let budget = RetryBudget::new(10, 0.1);
    let total = run(Some(&budget), |_, _| false);
    assert_eq!(total.attempts, CALLS);
    assert_eq!(total.refusals, 0);
    assert_eq!(budget.tokens(), 10.0);
    assert!(budget.can_retry());
}

#[test]
fn occasional_failures_below_the_ratio_are_never_refused() {
    // One call in twenty fails its first attempt and then succeeds: 5% retries, below 10%.
    let budget = RetryBudget::new(10, 0.1);
    let total = run(Some(&budget), |i, attempt| i % 20 == 0 && attempt == 1);
    assert_eq!(total.refusals, 0);
    assert_eq!(total.successes, CALLS);
    assert_eq!(total.attempts, CALLS + CALLS / 20);
}

#[test]
fn a_static_budget_shared_by_threads_is_never_overdrawn() {
    static SHARED: RetryBudget = RetryBudget::new(10, 0.1);
    let total = std::thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let mut total = Tally::default();
                    for _ in 0..CALLS / 4 {
                        total.add(call(Some(&SHARED), |_| true));
                    }
                    total
                })
            })
            .collect();
        let mut total = Tally::default();
        for worker in workers {
            total.add(worker.join().unwrap_or_default());
        }
        total
    });
    assert_eq!(total.attempts, CALLS + SHARED.max_tokens());
}

// The same bounds through `#[retry(budget = PATH)]`, which drives the budget itself.

mod through_the_macro {
    use super::{ATTEMPTS, CALLS};
    use retry_runtime::{retry, RetryBudget};
    use retry_suite::Counter;

    static OUTAGE_BUDGET: RetryBudget = RetryBudget::new(10, 0.1);
    static OUTAGE_ATTEMPTS: Counter = Counter::new();

    #[retry(attempts = 3, base = "0ms", budget = OUTAGE_BUDGET)]
    fn always_fails() -> Result<(), u32> {
        Err(OUTAGE_ATTEMPTS.bump())
    }

    static NO_BUDGET_ATTEMPTS: Counter = Counter::new();

    #[retry(attempts = 3, base = "0ms")]
    fn always_fails_without_budget() -> Result<(), u32> {
        Err(NO_BUDGET_ATTEMPTS.bump())
    }

    #[test]
    fn total_outage_adds_at_most_ten_percent() {
        for _ in 0..CALLS {
            assert!(always_fails().is_err());
            assert!(always_fails_without_budget().is_err());
        }
        let (with, without) = (OUTAGE_ATTEMPTS.get(), NO_BUDGET_ATTEMPTS.get());
        println!("#[retry(budget)], 100% failures: {with} attempts; without a budget: {without}");
        assert_eq!(without, CALLS * ATTEMPTS);
        assert_eq!(with, CALLS + OUTAGE_BUDGET.max_tokens());
        assert!(f64::from(with - OUTAGE_BUDGET.max_tokens()) <= 1.1 * f64::from(CALLS));
    }

    static HEALTHY_BUDGET: RetryBudget = RetryBudget::new(10, 0.1);
    static HEALTHY_ATTEMPTS: Counter = Counter::new();

    /// One call in twenty fails its first attempt, then succeeds.
    #[retry(attempts = 3, base = "0ms", budget = HEALTHY_BUDGET)]
    fn occasionally_fails(call: u32, attempt: &Counter) -> Result<u32, u32> {
        HEALTHY_ATTEMPTS.bump();
        if call.is_multiple_of(20) && attempt.bump() == 1 {
            return Err(call);
        }
        Ok(call)
    }

    #[test]
    fn healthy_service_is_never_refused() {
        for call in 0..CALLS {
            assert_eq!(occasionally_fails(call, &Counter::new()), Ok(call));
        }
        assert_eq!(HEALTHY_ATTEMPTS.get(), CALLS + CALLS / 20);
        assert_eq!(HEALTHY_BUDGET.tokens(), 10.0);
    }
}

/// A permanent answer (a 400, a 404: `Decision::Stop`) is the service answering: it refills the
/// budget as a success does, on the attribute and the builders alike, so a healthy service
/// that rejects bad requests does not drain it.
#[test]
fn a_permanent_answer_refills_the_budget_on_every_door() {
    use retry_runtime::{Classify, Decision, Policy, RetryBudget};

    #[derive(Debug)]
    struct NotFound;
    impl Classify for NotFound {
        fn classify(&self) -> Decision {
            Decision::Stop
        }
    }

    static ATTRIBUTE: RetryBudget = RetryBudget::new(10, 0.5);
    #[retry_runtime::retry(attempts = 3, base = "0ms", classify, budget = ATTRIBUTE)]
    fn lookup() -> Result<(), NotFound> {
        Err(NotFound)
    }

    assert!(ATTRIBUTE.try_withdraw());
    assert_eq!(ATTRIBUTE.tokens(), 9.0);
    assert!(lookup().is_err());
    assert_eq!(ATTRIBUTE.tokens(), 9.5);

    let builder = RetryBudget::new(10, 0.5);
    assert!(builder.try_withdraw());
    let out = Policy::new()
        .with_base(std::time::Duration::ZERO)
        .retry_blocking(|_| Err::<(), _>(NotFound))
        .classify()
        .budget(&builder)
        .call();
    assert!(out.is_err());
    assert_eq!(builder.tokens(), 9.5);
}
