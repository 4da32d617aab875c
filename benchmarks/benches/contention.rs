//! The shared-state cost of the success path under contention: nanoseconds per call with one
//! thread, and with one thread per core all calling at once on the same object.
//!
//! - a closed `CircuitBreaker` in front of a healthy service (`try_acquire().success()`: two
//!   loads, no write);
//! - `RetryBudget::deposit()` on a full bucket (one load, no write);
//! - a closed breaker that is counting, after one failure (each success adds to a counter on
//!   one of 8 cache lines picked per thread);
//! - for contrast, `fetch_add` on one shared `AtomicU64`: the contended write the two designs
//!   avoid.
//!
//! ```text
//! cargo bench -p retry-benchmarks --bench contention
//! ```
//!
//! Each measurement runs a fixed number of calls per thread, started together behind a
//! barrier, and keeps the best of three runs; a call costs its thread's elapsed time divided by
//! its calls, averaged over the threads. On a machine with one core both columns are the same.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use retry_runtime::{BreakerState, CircuitBreaker, RetryBudget};

/// Calls made by each thread in one run.
const CALLS: u64 = 20_000_000;
/// Runs of each measurement; the fastest counts.
const RUNS: usize = 3;

static HEALTHY: CircuitBreaker = CircuitBreaker::new();
static COUNTING: CircuitBreaker = CircuitBreaker::new().with_min_throughput(u32::MAX);
static BUDGET: RetryBudget = RetryBudget::new(10, 0.1);
static SHARED: AtomicU64 = AtomicU64::new(0);

fn healthy_breaker() {
    HEALTHY
        .try_acquire()
        .expect("a healthy breaker is closed")
        .success();
}

fn counting_breaker() {
    COUNTING
        .try_acquire()
        .expect("the counting breaker never trips")
        .success();
}

fn full_budget() {
    BUDGET.deposit();
}

fn shared_counter() {
    SHARED.fetch_add(1, Ordering::Relaxed);
}

/// Nanoseconds per call of `op`, on `threads` threads calling at once.
fn per_call(op: impl Fn() + Sync, threads: usize) -> f64 {
    (0..RUNS)
        .map(|_| {
            let barrier = Barrier::new(threads);
            let elapsed: Duration = thread::scope(|s| {
                let handles: Vec<_> = (0..threads)
                    .map(|_| {
                        s.spawn(|| {
                            // A warm-up outside the timing: first-use thread-locals, caches.
                            for _ in 0..1_000 {
                                op();
                            }
                            barrier.wait();
                            let start = Instant::now();
                            for _ in 0..CALLS {
                                op();
                            }
                            start.elapsed()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("benchmark thread"))
                    .sum()
            });
            elapsed.as_secs_f64() * 1e9 / (threads as f64 * CALLS as f64)
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let cores = thread::available_parallelism().map_or(1, |n| n.get());

    // One failure, and successes are counted from then on; a minimum throughput of u32::MAX
    // attempts keeps it closed.
    COUNTING.try_acquire().expect("closed").failure();
    assert_eq!(COUNTING.state(), BreakerState::Closed);

    println!(
        "contention: {cores} cores (available_parallelism), {CALLS} calls per thread, best of {RUNS}"
    );
    println!();
    let one = "ns/call, 1 thread".to_string();
    let all = format!("ns/call, {cores} threads");
    println!("| operation | {one} | {all} | ratio |");
    println!("|---|---:|---:|---:|");
    let started = Instant::now();
    let row = |name: &str, single: f64, many: f64| {
        println!(
            "| {name} | {single:.2} | {many:.2} | {:.2}x |",
            many / single
        );
    };
    row(
        "closed breaker, healthy: `try_acquire().unwrap().success()`",
        per_call(healthy_breaker, 1),
        per_call(healthy_breaker, cores),
    );
    row(
        "`RetryBudget::deposit()`, full bucket",
        per_call(full_budget, 1),
        per_call(full_budget, cores),
    );
    row(
        "closed breaker, counting: `try_acquire().unwrap().success()`",
        per_call(counting_breaker, 1),
        per_call(counting_breaker, cores),
    );
    row(
        "one shared `AtomicU64::fetch_add` (contrast)",
        per_call(shared_counter, 1),
        per_call(shared_counter, cores),
    );

    let stats = COUNTING.stats();
    assert_eq!(stats.state, BreakerState::Closed);
    assert_eq!(
        HEALTHY.stats().attempts,
        0,
        "a healthy breaker counts nothing"
    );
    assert!(
        stats.attempts > 1,
        "the counting breaker counted its successes"
    );
    black_box(SHARED.load(Ordering::Relaxed));
    println!();
    println!("({:.1} s)", started.elapsed().as_secs_f64());
}
