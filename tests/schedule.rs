//! The schedule `#[retry]` actually sleeps, measured on tokio's paused clock: exact gaps for every
//! backoff strategy, exact attempt counts, the deadline, jitter ranges and seeding, `policy = …`,
//! and sync functions.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use retry_runtime::{retry, seed_jitter, Backoff, Jitter, Policy};
use tokio::time::Instant;

/// The gaps between consecutive attempts.
fn gaps(log: &[Instant]) -> Vec<Duration> {
    log.windows(2).map(|w| w[1] - w[0]).collect()
}

fn ms(values: &[u64]) -> Vec<Duration> {
    values.iter().copied().map(Duration::from_millis).collect()
}

/// tokio's timer fires on whole milliseconds, so a sleep of `d` moves the paused clock by `d`
/// rounded up to the next millisecond.
fn tick(d: Duration) -> Duration {
    let ms = d.as_nanos().div_ceil(1_000_000);
    Duration::from_millis(u64::try_from(ms).expect("test delays are small"))
}

/// Records the attempt and fails with its number.
fn fail(log: &mut Vec<Instant>) -> Result<(), usize> {
    log.push(Instant::now());
    Err(log.len())
}

// ---- backoff strategies ---------------------------------------------------------------------

#[retry(attempts = 4, base = "100ms", factor = 2)]
async fn exponential(log: &mut Vec<Instant>) -> Result<(), usize> {
    fail(log)
}

#[tokio::test(start_paused = true)]
async fn exponential_gaps_double() {
    let mut log = Vec::new();
    assert_eq!(exponential(&mut log).await, Err(4));
    assert_eq!(gaps(&log), ms(&[100, 200, 400]));
}

#[retry(attempts = 7, base = "100ms", max = "500ms")]
async fn exponential_capped(log: &mut Vec<Instant>) -> Result<(), usize> {
    fail(log)
}

#[tokio::test(start_paused = true)]
async fn exponential_gaps_stop_at_max() {
    let mut log = Vec::new();
    assert_eq!(exponential_capped(&mut log).await, Err(7));
    assert_eq!(gaps(&log), ms(&[100, 200, 400, 500, 500, 500]));
}

/// tokio-retry computed `base^n`; the factor must multiply: `base · factor^(k-1)`.
#[retry(attempts = 4, base = "10ms", factor = 3.0, max = "1s")]
async fn exponential_factor_three(log: &mut Vec<Instant>) -> Result<(), usize> {
    fail(log)
}

#[tokio::test(start_paused = true)]
async fn exponential_is_base_times_factor_power() {
    let mut log = Vec::new();
    assert_eq!(exponential_factor_three(&mut log).await, Err(4));
    assert_eq!(gaps(&log), ms(&[10, 30, 90]));
}

#[retry(attempts = 4, base = "50ms", backoff = constant)]
async fn constant(log: &mut Vec<Instant>) -> Result<(), usize> {
    fail(log)
}

#[tokio::test(start_paused = true)]
async fn constant_gaps_are_equal() {
    let mut log = Vec::new();
    assert_eq!(constant(&mut log).await, Err(4));
    assert_eq!(gaps(&log), ms(&[50, 50, 50]));
}

#[retry(attempts = 6, base = "100ms", max = "350ms", backoff = linear)]
async fn linear(log: &mut Vec<Instant>) -> Result<(), usize> {
    fail(log)
}

#[tokio::test(start_paused = true)]
async fn linear_gaps_grow_by_base() {
    let mut log = Vec::new();
    assert_eq!(linear(&mut log).await, Err(6));
    assert_eq!(gaps(&log), ms(&[100, 200, 300, 350, 350]));
}

/// backon's Fibonacci ignored `max`.
#[retry(attempts = 9, base = "10ms", max = "100ms", backoff = fibonacci)]
async fn fibonacci(log: &mut Vec<Instant>) -> Result<(), usize> {
    fail(log)
}

#[tokio::test(start_paused = true)]
async fn fibonacci_gaps_follow_the_sequence_and_the_cap() {
    let mut log = Vec::new();
    assert_eq!(fibonacci(&mut log).await, Err(9));
    assert_eq!(gaps(&log), ms(&[10, 10, 20, 30, 50, 80, 100, 100]));
}

#[retry]
async fn defaults(log: &mut Vec<Instant>) -> Result<(), usize> {
    fail(log)
}

#[retry(attempts = 6, base = "500ms")]
async fn default_max(log: &mut Vec<Instant>) -> Result<(), usize> {
    fail(log)
}

#[tokio::test(start_paused = true)]
async fn defaults_are_three_attempts_from_200ms_capped_at_2s() {
    let mut log = Vec::new();
    assert_eq!(defaults(&mut log).await, Err(3));
    assert_eq!(gaps(&log), ms(&[200, 400]));

    let mut log = Vec::new();
    assert_eq!(default_max(&mut log).await, Err(6));
    assert_eq!(gaps(&log), ms(&[500, 1000, 2000, 2000, 2000]));
}

#[retry(attempts = 3, base = "0ms")]
async fn zero_base(log: &mut Vec<Instant>) -> Result<(), usize> {
    fail(log)
}

#[tokio::test(start_paused = true)]
async fn zero_base_retries_without_waiting() {
    let start = Instant::now();
    let mut log = Vec::new();
    assert_eq!(zero_base(&mut log).await, Err(3));
    assert_eq!(gaps(&log), ms(&[0, 0]));
    assert_eq!(start.elapsed(), Duration::ZERO);
}

// ---- attempt counts -------------------------------------------------------------------------

#[retry(attempts = 1, base = "100ms")]
async fn once(log: &mut Vec<Instant>) -> Result<(), usize> {
    fail(log)
}

#[retry(attempts = 2, base = "1ms")]
async fn twice(log: &mut Vec<Instant>) -> Result<(), usize> {
    fail(log)
}

#[retry(attempts = 10, base = "1ms", backoff = constant)]
async fn ten(log: &mut Vec<Instant>) -> Result<(), usize> {
    fail(log)
}

/// retryable ran `attempts = N` N+1 times.
#[tokio::test(start_paused = true)]
async fn attempts_n_runs_exactly_n_times() {
    let start = Instant::now();
    let mut log = Vec::new();
    assert_eq!(once(&mut log).await, Err(1));
    assert_eq!(log.len(), 1);
    // No retry, so no sleep either.
    assert_eq!(start.elapsed(), Duration::ZERO);

    let mut log = Vec::new();
    assert_eq!(twice(&mut log).await, Err(2));
    assert_eq!(log.len(), 2);

    let mut log = Vec::new();
    assert_eq!(ten(&mut log).await, Err(10));
    assert_eq!(gaps(&log), ms(&[1; 9]));
}

#[retry(attempts = 4294967295, base = "1ms", backoff = constant)]
async fn huge_attempts(log: &mut Vec<Instant>) -> Result<usize, usize> {
    log.push(Instant::now());
    if log.len() < 50 {
        Err(log.len())
    } else {
        Ok(log.len())
    }
}

#[tokio::test(start_paused = true)]
async fn u32_max_attempts_still_stop_on_success() {
    let mut log = Vec::new();
    assert_eq!(huge_attempts(&mut log).await, Ok(50));
    assert_eq!(gaps(&log), ms(&[1; 49]));
}

#[retry(attempts = 5, base = "100ms")]
async fn succeeds_third(log: &mut Vec<Instant>) -> Result<&'static str, usize> {
    log.push(Instant::now());
    if log.len() < 3 {
        Err(log.len())
    } else {
        Ok("done")
    }
}

#[tokio::test(start_paused = true)]
async fn success_stops_retrying() {
    let start = Instant::now();
    let mut log = Vec::new();
    assert_eq!(succeeds_third(&mut log).await, Ok("done"));
    assert_eq!(log.len(), 3);
    assert_eq!(gaps(&log), ms(&[100, 200]));
    // Nothing is slept after the success.
    assert_eq!(start.elapsed(), Duration::from_millis(300));
}

// ---- deadline -------------------------------------------------------------------------------

#[retry(attempts = 10, base = "100ms", deadline = "650ms")]
async fn deadline_650(log: &mut Vec<Instant>) -> Result<(), usize> {
    fail(log)
}

#[retry(attempts = 10, base = "100ms", deadline = "700ms")]
async fn deadline_700(log: &mut Vec<Instant>) -> Result<(), usize> {
    fail(log)
}

/// The deadline is measured on tokio's clock (tokio-retry2 and retry-policies used
/// `std::time::Instant`, which a paused clock never moves: all ten attempts would run).
#[tokio::test(start_paused = true)]
async fn deadline_stops_before_a_sleep_that_would_end_after_it() {
    let start = Instant::now();
    let mut log = Vec::new();
    // Attempts at 0, 100 and 300 ms; the next sleep (400 ms) would end at 700 > 650.
    assert_eq!(deadline_650(&mut log).await, Err(3));
    assert_eq!(gaps(&log), ms(&[100, 200]));
    assert_eq!(start.elapsed(), Duration::from_millis(300));
}

#[tokio::test(start_paused = true)]
async fn deadline_refuses_a_sleep_ending_exactly_on_it() {
    let start = Instant::now();
    let mut log = Vec::new();
    // A fourth attempt would start exactly at the deadline, with no time left: it is not run,
    // and the third attempt's error is returned at 300 ms.
    assert_eq!(deadline_700(&mut log).await, Err(3));
    assert_eq!(gaps(&log), ms(&[100, 200]));
    assert_eq!(start.elapsed(), Duration::from_millis(300));
}

#[retry(attempts = 10, base = "100ms", deadline = "800ms")]
async fn slow_attempts(log: &mut Vec<Instant>) -> Result<(), usize> {
    log.push(Instant::now());
    tokio::time::sleep(Duration::from_millis(50)).await;
    Err(log.len())
}

#[tokio::test(start_paused = true)]
async fn deadline_counts_the_time_spent_in_attempts() {
    let start = Instant::now();
    let mut log = Vec::new();
    // Attempts run 0-50, 150-200 and 400-450 ms; a 400 ms sleep from 450 would end at 850.
    assert_eq!(slow_attempts(&mut log).await, Err(3));
    assert_eq!(gaps(&log), ms(&[150, 250]));
    assert_eq!(start.elapsed(), Duration::from_millis(450));
}

#[retry(attempts = 10, base = "100ms", deadline = "50ms")]
async fn deadline_below_base(log: &mut Vec<Instant>) -> Result<(), usize> {
    fail(log)
}

#[tokio::test(start_paused = true)]
async fn deadline_shorter_than_the_first_delay_means_one_attempt() {
    let start = Instant::now();
    let mut log = Vec::new();
    assert_eq!(deadline_below_base(&mut log).await, Err(1));
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[retry(attempts = 3, base = "100ms", deadline = "10s")]
async fn deadline_not_reached(log: &mut Vec<Instant>) -> Result<(), usize> {
    fail(log)
}

#[tokio::test(start_paused = true)]
async fn a_far_deadline_leaves_the_attempt_limit_in_charge() {
    let mut log = Vec::new();
    assert_eq!(deadline_not_reached(&mut log).await, Err(3));
    assert_eq!(gaps(&log), ms(&[100, 200]));
}

// ---- jitter ---------------------------------------------------------------------------------

const BASE: Duration = Duration::from_millis(10);
const MAX: Duration = Duration::from_millis(200);

/// The policy the jitter functions below are written with.
const fn jittered(jitter: Jitter) -> Policy {
    Policy::new()
        .with_attempts(8)
        .with_base(BASE)
        .with_max(MAX)
        .with_jitter(jitter)
}

#[retry(attempts = 8, base = "10ms", max = "200ms", jitter)]
async fn jitter_bare(log: &mut Vec<Instant>) -> Result<(), usize> {
    fail(log)
}

#[retry(attempts = 8, base = "10ms", max = "200ms", jitter = full)]
async fn jitter_full(log: &mut Vec<Instant>) -> Result<(), usize> {
    fail(log)
}

#[retry(attempts = 8, base = "10ms", max = "200ms", jitter = equal)]
async fn jitter_equal(log: &mut Vec<Instant>) -> Result<(), usize> {
    fail(log)
}

#[retry(attempts = 8, base = "10ms", max = "200ms", jitter = decorrelated)]
async fn jitter_decorrelated(log: &mut Vec<Instant>) -> Result<(), usize> {
    fail(log)
}

#[retry(attempts = 8, base = "10ms", max = "200ms", jitter = none)]
async fn jitter_none(log: &mut Vec<Instant>) -> Result<(), usize> {
    fail(log)
}

/// Runs `f` once after seeding the jitter generator, returning the gaps.
async fn seeded_gaps<F, Fut>(seed: u64, f: F) -> Vec<Duration>
where
    F: Fn(Vec<Instant>) -> Fut,
    Fut: std::future::Future<Output = Vec<Instant>>,
{
    seed_jitter(seed);
    let log = f(Vec::new()).await;
    gaps(&log)
}

/// The un-jittered delay before retry `k` of [`jittered`]: `10ms · 2^(k-1)`, capped.
fn plain(k: usize) -> Duration {
    (BASE * (1 << (k - 1))).min(MAX)
}

macro_rules! run {
    ($f:ident) => {
        |mut log: Vec<Instant>| async move {
            assert_eq!($f(&mut log).await, Err(8));
            log
        }
    };
}

#[tokio::test(start_paused = true)]
async fn full_jitter_gaps_lie_in_zero_to_d() {
    let mut spread = false;
    for seed in 0..100 {
        let gaps = seeded_gaps(seed, run!(jitter_full)).await;
        assert_eq!(gaps.len(), 7);
        for (i, gap) in gaps.iter().enumerate() {
            assert!(*gap <= plain(i + 1), "seed {seed}: gap {i} = {gap:?}");
            assert!(*gap <= MAX);
            spread |= *gap < plain(i + 1) / 2;
        }
    }
    assert!(spread, "full jitter never drew below half the delay");
}

#[tokio::test(start_paused = true)]
async fn equal_jitter_gaps_lie_in_half_d_to_d() {
    let mut spread = false;
    for seed in 0..100 {
        let gaps = seeded_gaps(seed, run!(jitter_equal)).await;
        assert_eq!(gaps.len(), 7);
        for (i, gap) in gaps.iter().enumerate() {
            let d = plain(i + 1);
            assert!(*gap >= d / 2 && *gap <= d, "seed {seed}: gap {i} = {gap:?}");
            spread |= *gap < d;
        }
    }
    assert!(spread, "equal jitter never drew below the full delay");
}

#[tokio::test(start_paused = true)]
async fn decorrelated_jitter_gaps_lie_in_base_to_three_times_previous() {
    let mut reached_cap = false;
    for seed in 0..100 {
        let gaps = seeded_gaps(seed, run!(jitter_decorrelated)).await;
        assert_eq!(gaps.len(), 7);
        let mut previous = BASE;
        for (i, gap) in gaps.iter().enumerate() {
            let hi = (previous * 3).min(MAX);
            assert!(
                *gap >= BASE && *gap <= hi,
                "seed {seed}: gap {i} = {gap:?} outside [{BASE:?}, {hi:?}]"
            );
            reached_cap |= *gap > Duration::from_millis(100);
            previous = *gap;
        }
    }
    assert!(reached_cap, "decorrelated jitter never grew past 100ms");
}

#[tokio::test(start_paused = true)]
async fn same_seed_gives_same_gaps() {
    for seed in [0, 1, 42, u64::MAX] {
        assert_eq!(
            seeded_gaps(seed, run!(jitter_full)).await,
            seeded_gaps(seed, run!(jitter_full)).await
        );
        assert_eq!(
            seeded_gaps(seed, run!(jitter_equal)).await,
            seeded_gaps(seed, run!(jitter_equal)).await
        );
        assert_eq!(
            seeded_gaps(seed, run!(jitter_decorrelated)).await,
            seeded_gaps(seed, run!(jitter_decorrelated)).await
        );
    }
    assert_ne!(
        seeded_gaps(1, run!(jitter_full)).await,
        seeded_gaps(2, run!(jitter_full)).await
    );
}

/// The retried function sleeps exactly what `Policy::delays` draws from the same seed (rounded
/// up to tokio's millisecond tick): one draw per retry, from the seeded generator.
#[tokio::test(start_paused = true)]
async fn gaps_equal_the_policy_delays_for_the_same_seed() {
    for seed in 0..20 {
        for (jitter, gaps) in [
            (Jitter::Full, seeded_gaps(seed, run!(jitter_bare)).await),
            (Jitter::Full, seeded_gaps(seed, run!(jitter_full)).await),
            (Jitter::Equal, seeded_gaps(seed, run!(jitter_equal)).await),
            (
                Jitter::Decorrelated,
                seeded_gaps(seed, run!(jitter_decorrelated)).await,
            ),
            (Jitter::None, seeded_gaps(seed, run!(jitter_none)).await),
        ] {
            seed_jitter(seed);
            let expected: Vec<Duration> = jittered(jitter).delays().map(tick).collect();
            assert_eq!(gaps, expected, "{jitter:?} seed {seed}");
        }
    }
}

#[retry(attempts = 30, base = "50ms", max = "300ms", backoff = linear, jitter = equal)]
async fn linear_equal(log: &mut Vec<Instant>) -> Result<(), usize> {
    fail(log)
}

#[retry(attempts = 30, base = "50ms", max = "300ms", backoff = fibonacci, jitter = full)]
async fn fibonacci_full(log: &mut Vec<Instant>) -> Result<(), usize> {
    fail(log)
}

/// backon, backoff and tokio-retry2 added jitter after the cap.
#[tokio::test(start_paused = true)]
async fn jitter_never_pushes_a_gap_above_max() {
    let cap = Duration::from_millis(300);
    for seed in 0..30 {
        seed_jitter(seed);
        let mut log = Vec::new();
        assert_eq!(linear_equal(&mut log).await, Err(30));
        let g = gaps(&log);
        assert!(g.iter().all(|gap| *gap <= cap), "seed {seed}: {g:?}");
        // Once linear growth passes the cap, equal jitter keeps gaps in [cap/2, cap].
        assert!(
            g[6..].iter().all(|gap| *gap >= cap / 2),
            "seed {seed}: {g:?}"
        );

        seed_jitter(seed);
        let mut log = Vec::new();
        assert_eq!(fibonacci_full(&mut log).await, Err(30));
        assert!(gaps(&log).iter().all(|gap| *gap <= cap));
    }
}

// ---- policy = EXPR --------------------------------------------------------------------------

const FOUR_TRIES: Policy = Policy::new()
    .with_attempts(4)
    .with_base(Duration::from_millis(20))
    .with_backoff(Backoff::Linear);

mod config {
    use super::*;

    /// A policy reached through a module path.
    pub const RETRY: Policy = Policy::new()
        .with_attempts(3)
        .with_base(Duration::from_millis(5))
        .with_backoff(Backoff::Constant);
}

#[retry(policy = FOUR_TRIES)]
async fn const_policy(log: &mut Vec<Instant>) -> Result<(), usize> {
    fail(log)
}

#[retry(policy = config::RETRY)]
async fn const_policy_path(log: &mut Vec<Instant>) -> Result<(), usize> {
    fail(log)
}

#[retry(policy = FOUR_TRIES, deadline = "50ms")]
async fn const_policy_deadline(log: &mut Vec<Instant>) -> Result<(), usize> {
    fail(log)
}

#[tokio::test(start_paused = true)]
async fn policy_const_drives_the_schedule() {
    let mut log = Vec::new();
    assert_eq!(const_policy(&mut log).await, Err(4));
    assert_eq!(gaps(&log), ms(&[20, 40, 60]));

    let mut log = Vec::new();
    assert_eq!(const_policy_path(&mut log).await, Err(3));
    assert_eq!(gaps(&log), ms(&[5, 5]));

    // 20 ms then 40 ms would end at 60 > 50.
    let mut log = Vec::new();
    assert_eq!(const_policy_deadline(&mut log).await, Err(2));
    assert_eq!(gaps(&log), ms(&[20]));
}

/// Settings loaded at run time, as from a configuration file.
static CONFIGURED_ATTEMPTS: AtomicU32 = AtomicU32::new(3);

fn configured() -> Policy {
    Policy::new()
        .with_attempts(CONFIGURED_ATTEMPTS.load(Ordering::SeqCst))
        .with_base(Duration::from_millis(10))
        .with_backoff(Backoff::Constant)
}

#[retry(policy = configured())]
async fn runtime_policy(log: &mut Vec<Instant>) -> Result<(), usize> {
    fail(log)
}

#[retry(policy = Policy::new().with_attempts(tries).with_base(Duration::from_millis(7)).with_backoff(Backoff::Constant))]
async fn policy_from_argument(tries: u32, log: &mut Vec<Instant>) -> Result<(), usize> {
    assert!(log.len() < tries as usize, "more attempts than `tries`");
    fail(log)
}

#[retry(policy = configured().with_attempts(10).with_deadline(Duration::from_millis(35)))]
async fn runtime_policy_deadline(log: &mut Vec<Instant>) -> Result<(), usize> {
    fail(log)
}

#[tokio::test(start_paused = true)]
async fn policy_expr_is_evaluated_at_call_time() {
    let mut log = Vec::new();
    assert_eq!(runtime_policy(&mut log).await, Err(3));
    assert_eq!(gaps(&log), ms(&[10, 10]));

    CONFIGURED_ATTEMPTS.store(6, Ordering::SeqCst);
    let mut log = Vec::new();
    assert_eq!(runtime_policy(&mut log).await, Err(6));
    assert_eq!(gaps(&log), ms(&[10; 5]));

    CONFIGURED_ATTEMPTS.store(1, Ordering::SeqCst);
    let mut log = Vec::new();
    assert_eq!(runtime_policy(&mut log).await, Err(1));
    CONFIGURED_ATTEMPTS.store(3, Ordering::SeqCst);

    for tries in [1, 2, 5] {
        let mut log = Vec::new();
        assert_eq!(
            policy_from_argument(tries, &mut log).await,
            Err(tries as usize)
        );
        let expected = vec![Duration::from_millis(7); tries as usize - 1];
        assert_eq!(gaps(&log), expected);
    }

    // A deadline set on the run-time policy is measured on tokio's clock too: 10, 20, 30 ms,
    // and 40 > 35.
    let mut log = Vec::new();
    assert_eq!(runtime_policy_deadline(&mut log).await, Err(4));
    assert_eq!(gaps(&log), ms(&[10, 10, 10]));
}

// ---- sync functions -------------------------------------------------------------------------

#[retry(attempts = 4, base = "0ms")]
fn sync_always_fails(calls: &mut u32) -> Result<(), u32> {
    *calls += 1;
    Err(*calls)
}

#[retry(attempts = 5, base = "0ms")]
fn sync_question_mark(calls: &mut u32, input: &str) -> Result<u32, std::num::ParseIntError> {
    *calls += 1;
    let n: u32 = if *calls < 3 {
        "x".parse()?
    } else {
        input.parse()?
    };
    Ok(n + *calls)
}

#[retry(attempts = 5, base = "0ms")]
fn sync_early_return(calls: &mut u32) -> Result<u32, String> {
    *calls += 1;
    if *calls < 4 {
        return Err(format!("attempt {calls}"));
    }
    Ok(*calls)
}

#[retry(attempts = 3, base = "1ms", backoff = constant, jitter)]
fn sync_tiny_delays(calls: &mut u32) -> Result<(), u32> {
    *calls += 1;
    Err(*calls)
}

#[retry(policy = Policy::new().with_attempts(tries).with_base(Duration::ZERO))]
fn sync_runtime_policy(tries: u32, calls: &mut u32) -> Result<(), u32> {
    assert!(*calls < tries, "more attempts than `tries`");
    *calls += 1;
    Err(*calls)
}

#[test]
fn sync_fn_runs_exactly_n_attempts() {
    let mut calls = 0;
    assert_eq!(sync_always_fails(&mut calls), Err(4));
    assert_eq!(calls, 4);

    let mut calls = 0;
    assert_eq!(sync_tiny_delays(&mut calls), Err(3));
    assert_eq!(calls, 3);

    for tries in [1, 3, 7] {
        let mut calls = 0;
        assert_eq!(sync_runtime_policy(tries, &mut calls), Err(tries));
        assert_eq!(calls, tries);
    }
}

#[test]
fn sync_question_mark_and_return_end_the_attempt() {
    let mut calls = 0;
    assert_eq!(sync_question_mark(&mut calls, "10"), Ok(13));
    assert_eq!(calls, 3);

    let mut calls = 0;
    let err = sync_question_mark(&mut calls, "nope").unwrap_err();
    assert_eq!(err.to_string(), "invalid digit found in string");
    assert_eq!(calls, 5);

    let mut calls = 0;
    assert_eq!(sync_early_return(&mut calls), Ok(4));
    assert_eq!(calls, 4);
}
