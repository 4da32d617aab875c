//! `CircuitBreaker`'s state machine, one step at a time on tokio's paused clock: the failure
//! ratio trips it exactly at the threshold once the minimum throughput is met, and never below
//! it; a run of consecutive failures trips it; an expired sampling window starts fresh counts;
//! an open breaker refuses with exactly the time left; exactly at the end of the break the next
//! attempt is a half-open probe; probes are bounded, their successes close the breaker and a
//! failed one reopens it for a full break from the failure; jittered breaks stay within bounds.
//!
//! Breaks are exact (`with_break_jitter(0.0)`) except in the jitter test, and the clock only
//! moves through `tokio::time::advance`, so every duration is asserted to the nanosecond.
//!
//! ```text
//! cargo test --test breaker
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use retry_runtime::{seed_jitter, BreakerState, CircuitBreaker, Permit, Transition};
use tokio::time::advance;
use BreakerState::{Closed, HalfOpen, Open};

const NS: Duration = Duration::from_nanos(1);

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn fail(breaker: &CircuitBreaker) {
    breaker.try_acquire().expect("admitted").failure();
}

fn succeed(breaker: &CircuitBreaker) {
    breaker.try_acquire().expect("admitted").success();
}

fn probe(breaker: &CircuitBreaker) -> Permit<'_> {
    let permit = breaker.try_acquire().expect("a probe is admitted");
    assert!(permit.is_probe(), "expected a probe while half-open");
    permit
}

/// The state with the ratio counters of the current sampling window.
fn window(breaker: &CircuitBreaker) -> (BreakerState, u32, u32) {
    let stats = breaker.stats();
    (stats.state, stats.attempts, stats.failures)
}

/// How long the breaker still refuses; panics if it admits.
fn refused_for(breaker: &CircuitBreaker) -> Option<Duration> {
    match breaker.try_acquire() {
        Ok(permit) => panic!("admitted ({permit:?}) while {:?}", breaker.state()),
        Err(open) => open.retry_in(),
    }
}

/// Ratio mode with a long sampling window, so that only the counts matter.
fn by_ratio(ratio: f64, min_throughput: u32) -> CircuitBreaker {
    CircuitBreaker::new()
        .with_failure_ratio(ratio)
        .with_min_throughput(min_throughput)
        .with_sampling(secs(3600))
        .with_break(secs(5))
        .with_break_jitter(0.0)
}

fn by_run(failures: u32, probes: u32) -> CircuitBreaker {
    CircuitBreaker::new()
        .with_consecutive_failures(failures)
        .with_break(secs(5))
        .with_break_jitter(0.0)
        .with_probes(probes)
}

#[tokio::test(start_paused = true)]
async fn the_ratio_trips_exactly_at_the_threshold() {
    let breaker = by_ratio(0.5, 10);
    // Successes before the first failure are not counted: the window opens at a failure.
    succeed(&breaker);
    assert_eq!(window(&breaker), (Closed, 0, 0));
    fail(&breaker);
    assert_eq!(window(&breaker), (Closed, 1, 1));
    for _ in 0..5 {
        succeed(&breaker);
    }
    assert_eq!(window(&breaker), (Closed, 6, 1));
    for _ in 0..3 {
        fail(&breaker);
    }
    // 4 of 9: under the minimum throughput.
    assert_eq!(window(&breaker), (Closed, 9, 4));
    succeed(&breaker);
    // 5 of 11: below half.
    fail(&breaker);
    assert_eq!(window(&breaker), (Closed, 11, 5));
    // 6 of 12: exactly half.
    fail(&breaker);
    assert_eq!(window(&breaker), (Open, 12, 6));
    assert_eq!(breaker.transitions(), 1);
    assert_eq!(refused_for(&breaker), Some(secs(5)));
}

#[tokio::test(start_paused = true)]
async fn a_ratio_of_0_3_trips_at_3_failures_in_10_and_not_at_2() {
    let breaker = by_ratio(0.3, 10);
    assert_eq!(breaker.failure_ratio(), Some(0.3));
    fail(&breaker);
    for _ in 0..8 {
        succeed(&breaker);
    }
    fail(&breaker);
    // 2 of 10: the minimum throughput is met, the ratio is not.
    assert_eq!(window(&breaker), (Closed, 10, 2));
    for _ in 0..3 {
        succeed(&breaker);
    }
    fail(&breaker);
    // 3 of 14 = 0.214.
    assert_eq!(window(&breaker), (Closed, 14, 3));

    let breaker = by_ratio(0.3, 10);
    fail(&breaker);
    for _ in 0..7 {
        succeed(&breaker);
    }
    fail(&breaker);
    assert_eq!(window(&breaker), (Closed, 9, 2));
    // 3 of 10 = 0.3 exactly.
    fail(&breaker);
    assert_eq!(window(&breaker), (Open, 10, 3));
    assert_eq!(breaker.transitions(), 1);
}

#[tokio::test(start_paused = true)]
async fn below_the_minimum_throughput_it_never_trips() {
    let breaker = CircuitBreaker::new()
        .with_failure_ratio(0.5)
        .with_min_throughput(10)
        .with_sampling(secs(1))
        .with_break_jitter(0.0);
    // Every attempt fails, but no window ever holds 10 attempts.
    for _ in 0..20 {
        for n in 1..=9 {
            fail(&breaker);
            assert_eq!(window(&breaker), (Closed, n, n));
        }
        advance(secs(1)).await;
    }
    assert_eq!(breaker.transitions(), 0);
    // Within one window, the tenth failure trips it.
    for _ in 0..9 {
        fail(&breaker);
    }
    assert_eq!(breaker.state(), Closed);
    fail(&breaker);
    assert_eq!(window(&breaker), (Open, 10, 10));
    assert_eq!(breaker.transitions(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_run_of_consecutive_failures_trips_it_and_a_success_resets_the_run() {
    let breaker = by_run(3, 1);
    assert_eq!(breaker.consecutive_failures(), Some(3));
    assert_eq!(breaker.failure_ratio(), None);
    fail(&breaker);
    fail(&breaker);
    assert_eq!(breaker.stats().consecutive_failures, 2);
    succeed(&breaker);
    assert_eq!(breaker.stats().consecutive_failures, 0);
    // A run is not a window: hours apart, the failures still add up.
    fail(&breaker);
    advance(secs(3600)).await;
    fail(&breaker);
    advance(secs(3600)).await;
    assert_eq!(breaker.stats().consecutive_failures, 2);
    assert_eq!(breaker.state(), Closed);
    assert_eq!(breaker.transitions(), 0);
    fail(&breaker);
    assert_eq!(breaker.state(), Open);
    assert_eq!(breaker.transitions(), 1);
    assert_eq!(refused_for(&breaker), Some(secs(5)));
}

#[tokio::test(start_paused = true)]
async fn an_expired_sampling_window_starts_fresh_counts() {
    let settings = || {
        CircuitBreaker::new()
            .with_failure_ratio(0.5)
            .with_min_throughput(4)
            .with_sampling(secs(10))
            .with_break_jitter(0.0)
    };

    // One nanosecond before the window ends, its counts still hold: 2 of 4 trips it.
    let breaker = settings();
    fail(&breaker);
    succeed(&breaker);
    succeed(&breaker);
    assert_eq!(window(&breaker), (Closed, 3, 1));
    advance(secs(10) - NS).await;
    fail(&breaker);
    assert_eq!(window(&breaker), (Open, 4, 2));

    // When it ends, the next failure opens a window of its own: 1 of 1.
    let breaker = settings();
    fail(&breaker);
    succeed(&breaker);
    succeed(&breaker);
    advance(secs(10)).await;
    fail(&breaker);
    assert_eq!(window(&breaker), (Closed, 1, 1));
    succeed(&breaker);
    succeed(&breaker);
    fail(&breaker);
    // 2 of 4 in the new window.
    assert_eq!(window(&breaker), (Open, 4, 2));
    assert_eq!(breaker.transitions(), 1);

    // Successes after the window ended are dropped with it at the next failure.
    let breaker = settings();
    fail(&breaker);
    advance(secs(11)).await;
    for _ in 0..5 {
        succeed(&breaker);
    }
    fail(&breaker);
    assert_eq!(window(&breaker), (Closed, 1, 1));
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_refuses_with_exactly_the_time_left() {
    let breaker = by_run(1, 1);
    fail(&breaker);
    assert_eq!(breaker.state(), Open);
    assert_eq!(refused_for(&breaker), Some(secs(5)));
    advance(Duration::from_millis(1250)).await;
    assert_eq!(refused_for(&breaker), Some(Duration::from_millis(3750)));
    advance(Duration::from_millis(3750) - NS).await;
    assert_eq!(refused_for(&breaker), Some(NS));
    // Refusals change nothing.
    let stats = breaker.stats();
    assert_eq!(stats.state, Open);
    assert_eq!(stats.transitions, 1);
    assert_eq!(stats.probes_in_flight, 0);
}

static HALF_OPEN_LOG: Mutex<Vec<Transition>> = Mutex::new(Vec::new());

fn log_half_open(t: Transition) {
    HALF_OPEN_LOG.lock().unwrap().push(t);
}

/// A `static` breaker: the builder is `const`.
static HALF_OPEN_BREAKER: CircuitBreaker = CircuitBreaker::new()
    .with_consecutive_failures(2)
    .with_break(Duration::from_secs(5))
    .with_break_jitter(0.0)
    .on_transition(log_half_open);

fn half_open_log() -> Vec<(BreakerState, BreakerState, Option<Duration>)> {
    HALF_OPEN_LOG
        .lock()
        .unwrap()
        .iter()
        .map(|t| (t.from, t.to, t.open_for))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn exactly_at_the_end_of_the_break_the_next_attempt_is_a_probe() {
    let breaker = &HALF_OPEN_BREAKER;
    fail(breaker);
    assert!(half_open_log().is_empty());
    fail(breaker);
    assert_eq!(half_open_log(), [(Closed, Open, Some(secs(5)))]);

    advance(secs(5) - NS).await;
    assert_eq!(refused_for(breaker), Some(NS));
    advance(NS).await;
    // The break is over, but it only turns half-open when an attempt asks.
    assert_eq!(breaker.state(), Open);
    assert_eq!(half_open_log().len(), 1);
    let permit = probe(breaker);
    assert_eq!(breaker.state(), HalfOpen);
    assert_eq!(
        half_open_log(),
        [(Closed, Open, Some(secs(5))), (Open, HalfOpen, None)]
    );
    assert_eq!(breaker.transitions(), 2);
    assert_eq!(breaker.stats().probes_in_flight, 1);
    permit.success();
    assert_eq!(breaker.state(), Closed);
    assert_eq!(
        half_open_log(),
        [
            (Closed, Open, Some(secs(5))),
            (Open, HalfOpen, None),
            (HalfOpen, Closed, None)
        ]
    );
    assert_eq!(breaker.transitions(), 3);
}

#[tokio::test(start_paused = true)]
async fn half_open_admits_at_most_its_probes_at_once() {
    let breaker = by_run(1, 3);
    fail(&breaker);
    advance(secs(5)).await;
    let first = probe(&breaker);
    let second = probe(&breaker);
    let third = probe(&breaker);
    assert_eq!(breaker.stats().probes_in_flight, 3);
    // All probes are taken: refused, with no time to wait for.
    assert_eq!(refused_for(&breaker), None);
    assert_eq!(refused_for(&breaker), None);
    // A dropped probe gives its slot back, and only one.
    drop(second);
    assert_eq!(breaker.stats().probes_in_flight, 2);
    let fourth = probe(&breaker);
    assert_eq!(refused_for(&breaker), None);
    assert_eq!(breaker.stats().probes_in_flight, 3);
    // Time does not free slots.
    advance(secs(3600)).await;
    assert_eq!(refused_for(&breaker), None);
    assert_eq!(breaker.state(), HalfOpen);
    assert_eq!(breaker.transitions(), 2);
    drop((first, third, fourth));
    assert_eq!(breaker.stats().probes_in_flight, 0);
    assert_eq!(breaker.state(), HalfOpen);
}

#[tokio::test(start_paused = true)]
async fn probe_successes_close_it_with_fresh_counts() {
    let breaker = by_run(2, 3);
    fail(&breaker);
    fail(&breaker);
    advance(secs(5)).await;
    let probes: Vec<_> = (0..3).map(|_| probe(&breaker)).collect();
    let mut probes = probes.into_iter();
    // A dropped probe is no success.
    drop(probes.next());
    probes.next().unwrap().success();
    assert_eq!(breaker.state(), HalfOpen);
    probes.next().unwrap().success();
    assert_eq!(breaker.state(), HalfOpen);
    assert_eq!(breaker.stats().probes_in_flight, 0);
    // The third success closes it.
    probe(&breaker).success();
    let stats = breaker.stats();
    assert_eq!(stats.state, Closed);
    assert_eq!(stats.transitions, 3);
    assert_eq!(stats.consecutive_failures, 0);
    assert_eq!(stats.probes_in_flight, 0);
    let permit = breaker.try_acquire().unwrap();
    assert!(!permit.is_probe());
    permit.failure();
    // One failure of a fresh run of two.
    assert_eq!(breaker.state(), Closed);
    fail(&breaker);
    assert_eq!(breaker.state(), Open);

    // In ratio mode, the window that tripped it is gone too.
    let breaker = by_ratio(0.5, 4).with_probes(1);
    for _ in 0..4 {
        fail(&breaker);
    }
    assert_eq!(window(&breaker), (Open, 4, 4));
    advance(secs(5)).await;
    probe(&breaker).success();
    assert_eq!(window(&breaker), (Closed, 0, 0));
    fail(&breaker);
    assert_eq!(window(&breaker), (Closed, 1, 1));
}

static REOPEN_LOG: Mutex<Vec<Transition>> = Mutex::new(Vec::new());

fn log_reopen(t: Transition) {
    REOPEN_LOG.lock().unwrap().push(t);
}

#[tokio::test(start_paused = true)]
async fn a_failed_probe_reopens_it_for_a_full_break_from_the_failure() {
    let breaker = by_run(1, 2).on_transition(log_reopen);
    fail(&breaker);
    advance(secs(5)).await;
    let first = probe(&breaker);
    let second = probe(&breaker);
    // The probe takes 2 s to fail: the new break counts from then, not from its admission.
    advance(secs(2)).await;
    first.failure();
    assert_eq!(breaker.state(), Open);
    assert_eq!(refused_for(&breaker), Some(secs(5)));
    // The other probe of that half-open period answers late: ignored.
    second.success();
    assert_eq!(breaker.state(), Open);
    assert_eq!(breaker.transitions(), 3);
    advance(secs(5) - NS).await;
    assert_eq!(refused_for(&breaker), Some(NS));
    advance(NS).await;
    let third = probe(&breaker);
    third.failure();
    assert_eq!(refused_for(&breaker), Some(secs(5)));
    let log: Vec<_> = REOPEN_LOG
        .lock()
        .unwrap()
        .iter()
        .map(|t| (t.from, t.to, t.open_for))
        .collect();
    assert_eq!(
        log,
        [
            (Closed, Open, Some(secs(5))),
            (Open, HalfOpen, None),
            (HalfOpen, Open, Some(secs(5))),
            (Open, HalfOpen, None),
            (HalfOpen, Open, Some(secs(5))),
        ]
    );
    assert_eq!(breaker.transitions(), 5);
}

/// The last break announced to the jitter test's listener, in nanoseconds.
static ANNOUNCED: AtomicU64 = AtomicU64::new(0);

fn announce(t: Transition) {
    if let Some(open_for) = t.open_for {
        ANNOUNCED.store(open_for.as_nanos() as u64, Ordering::Relaxed);
    }
}

fn announced() -> Duration {
    Duration::from_nanos(ANNOUNCED.load(Ordering::Relaxed))
}

/// Opens a fresh breaker with this thread's jitter seeded, and returns how long it refuses.
fn jittered_break(seed: u64) -> Duration {
    let breaker = by_run(1, 1)
        .with_break(secs(10))
        .with_break_jitter(0.2)
        .on_transition(announce);
    assert_eq!(breaker.break_jitter(), 0.2);
    seed_jitter(seed);
    fail(&breaker);
    let refused = refused_for(&breaker).expect("open");
    // On the paused clock no time passed: the break refused is the break announced.
    assert_eq!(refused, announced());
    refused
}

#[tokio::test(start_paused = true)]
async fn jittered_breaks_lie_within_break_and_1_2_times_break() {
    let (lo, hi) = (secs(10), secs(12));
    let breaks: Vec<Duration> = (0..1_000).map(jittered_break).collect();
    for (seed, d) in breaks.iter().enumerate() {
        assert!(*d >= lo && *d <= hi, "seed {seed}: {d:?}");
    }
    // Spread over the whole range, not stuck at one end.
    let min = *breaks.iter().min().unwrap();
    let max = *breaks.iter().max().unwrap();
    assert!(min < Duration::from_millis(10_100), "{min:?}");
    assert!(max > Duration::from_millis(11_900), "{max:?}");
    let above_middle = breaks
        .iter()
        .filter(|d| **d > Duration::from_secs(11))
        .count();
    assert!((350..=650).contains(&above_middle), "{above_middle}");
    // Seeded, the draw repeats.
    assert_eq!(jittered_break(7), breaks[7]);
    assert_eq!(jittered_break(999), breaks[999]);

    // A failed probe's break is jittered within the same bounds.
    let breaker = by_run(1, 1)
        .with_break(secs(10))
        .with_break_jitter(0.2)
        .on_transition(announce);
    for seed in 0..200 {
        seed_jitter(seed);
        if breaker.state() == Closed {
            fail(&breaker);
        } else {
            advance(refused_for(&breaker).expect("open")).await;
            probe(&breaker).failure();
            assert_eq!(breaker.state(), Open);
        }
        let d = refused_for(&breaker).expect("open");
        assert_eq!(d, announced());
        assert!(d >= lo && d <= hi, "seed {seed}: {d:?}");
    }
    assert_eq!(breaker.transitions(), 1 + 2 * 199);
}
