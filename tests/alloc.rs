//! A `#[retry]` call performs no heap allocation: not on success, not when it retries
//! (DESIGN.md, "Futures").
//!
//! This test binary installs a counting global allocator. Only allocations made on the thread
//! that is measuring, while it is measuring, are counted, so the test harness's own threads do
//! not disturb the count. The runtime is built, and one warm-up call made, before counting
//! starts: one-time setup (the runtime, the thread's jitter generator, tokio's timer) is not a
//! per-call cost.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use retry_runtime::{retry, Backoff, Jitter, Policy};
use retry_suite::run_ready;
use retry_suite::Counter;

struct CountingAlloc;

thread_local! {
    /// Whether this thread is measuring, and what it has counted.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn note_allocation() {
    // `try_with`: the allocator also runs during thread teardown, when the slots may be gone.
    let counting = COUNTING.try_with(Cell::get).unwrap_or(false);
    if counting {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract is upheld by `System`; the bookkeeping only touches const-initialised
// thread-locals, which never allocate.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded unchanged, see above.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded unchanged, see above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded unchanged, see above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged, see above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn start_counting() {
    ALLOCATIONS.with(|n| n.set(0));
    COUNTING.with(|c| c.set(true));
}

/// Heap allocations made on this thread since `start_counting`.
fn stop_counting() -> u64 {
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.with(Cell::get)
}

/// Heap allocations made on this thread while `f` runs.
fn allocations_during<T>(f: impl FnOnce() -> T) -> (T, u64) {
    start_counting();
    let out = f();
    (out, stop_counting())
}

fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime")
}

const CALLS: u64 = 1_000;

#[retry(attempts = 3, base = "10ms", jitter)]
async fn succeeds(data: &[u8], scale: u64) -> Result<u64, std::io::Error> {
    Ok(data.iter().map(|&b| u64::from(b) * scale).sum())
}

static FLAKY_CALLS: Counter = Counter::new();

/// Fails twice, then succeeds, for every group of three attempts.
#[retry(attempts = 3, base = "0ms")]
async fn fails_twice_zero_delay(data: &[u8]) -> Result<u64, u32> {
    let n = FLAKY_CALLS.bump();
    if !n.is_multiple_of(3) {
        return Err(n);
    }
    tokio::task::yield_now().await;
    Ok(data.len() as u64)
}

static JITTERED_CALLS: Counter = Counter::new();

/// The same with real delays and every kind of loop state, under tokio's paused clock.
#[retry(attempts = 3, base = "10ms", jitter = decorrelated, deadline = "10s")]
async fn fails_twice_paused_clock(data: &[u8]) -> Result<u64, u32> {
    let n = JITTERED_CALLS.bump();
    if !n.is_multiple_of(3) {
        return Err(n);
    }
    Ok(data.len() as u64)
}

#[retry(attempts = 3, base = "0ms")]
fn sync_fails_twice(calls: &Counter) -> Result<u32, u32> {
    let n = calls.bump();
    if !n.is_multiple_of(3) {
        Err(n)
    } else {
        Ok(n)
    }
}

#[test]
fn the_counter_sees_allocations() {
    let (boxed, allocations) = allocations_during(|| Box::new(std::hint::black_box(7u64)));
    assert_eq!(*boxed, 7);
    assert_eq!(allocations, 1);
}

#[test]
fn no_allocation_on_success() {
    let data = [1u8, 2, 3];
    assert_eq!(run_ready(succeeds(&data, 2)).unwrap(), 12);
    let (sum, allocations) = allocations_during(|| {
        (0..CALLS)
            .map(|i| run_ready(succeeds(&data, i)).unwrap_or(0))
            .sum::<u64>()
    });
    assert_eq!(sum, 6 * (CALLS * (CALLS - 1) / 2));
    println!("success path: {allocations} allocations in {CALLS} calls");
    assert_eq!(allocations, 0);
}

#[test]
fn no_allocation_when_retrying_with_zero_delay() {
    let runtime = current_thread_runtime();
    let data = [1u8, 2, 3];
    // Counting starts inside `block_on`, after a warm-up call: the runtime's per-`block_on`
    // setup (its deferred-wake list, the timer's first registration) is not a per-call cost.
    let (ok, allocations, calls) = runtime.block_on(async {
        fails_twice_zero_delay(&data).await.unwrap();
        let before = FLAKY_CALLS.get();
        start_counting();
        let mut ok = 0;
        for _ in 0..CALLS {
            ok += u64::from(fails_twice_zero_delay(&data).await.is_ok());
        }
        let allocations = stop_counting();
        (ok, allocations, u64::from(FLAKY_CALLS.get() - before))
    });
    println!("retry path, base 0ms: {allocations} allocations in {CALLS} calls");
    assert_eq!(ok, CALLS);
    assert_eq!(calls, 3 * CALLS);
    assert_eq!(allocations, 0);
}

#[test]
fn no_allocation_when_retrying_under_the_paused_clock() {
    let runtime = current_thread_runtime();
    let data = [1u8, 2, 3];
    // Counting starts inside `block_on`, after a warm-up call: the runtime's per-`block_on`
    // setup (its deferred-wake list, the timer's first registration) is not a per-call cost.
    let (ok, allocations, calls) = runtime.block_on(async {
        fails_twice_paused_clock(&data).await.unwrap();
        let before = JITTERED_CALLS.get();
        start_counting();
        let mut ok = 0;
        for _ in 0..CALLS {
            ok += u64::from(fails_twice_paused_clock(&data).await.is_ok());
        }
        let allocations = stop_counting();
        (ok, allocations, u64::from(JITTERED_CALLS.get() - before))
    });
    println!("retry path, paused clock: {allocations} allocations in {CALLS} calls");
    assert_eq!(ok, CALLS);
    assert_eq!(calls, 3 * CALLS);
    assert_eq!(allocations, 0);
}

#[test]
fn no_allocation_in_the_sync_path() {
    let calls = Counter::new();
    sync_fails_twice(&calls).unwrap();
    let (ok, allocations) = allocations_during(|| {
        (0..CALLS)
            .filter(|_| sync_fails_twice(&calls).is_ok())
            .count()
    });
    println!("sync retry path, base 0ms: {allocations} allocations in {CALLS} calls");
    assert_eq!(ok as u64, CALLS);
    assert_eq!(allocations, 0);
}

#[test]
fn no_allocation_computing_delays() {
    let policies: Vec<Policy> = Backoff::ALL
        .iter()
        .flat_map(|&backoff| {
            Jitter::ALL.iter().map(move |&jitter| {
                Policy::new()
                    .with_attempts(u32::MAX)
                    .with_backoff(backoff)
                    .with_jitter(jitter)
            })
        })
        .collect();
    // The thread's jitter generator is created on first use: not a per-delay cost.
    let _ = policies[0].delays().next();
    let (total, allocations) = allocations_during(|| {
        let mut total = std::time::Duration::ZERO;
        for policy in &policies {
            // Through the thread's generator, as the generated code draws them.
            total += policy.delays().take(100).sum::<std::time::Duration>();
            for k in [1, 2, 10, 100, u32::MAX] {
                total += policy.delay(k);
            }
        }
        total
    });
    println!(
        "delays: {allocations} allocations for {} delays",
        policies.len() * 105
    );
    assert!(total > std::time::Duration::ZERO);
    assert_eq!(allocations, 0);
}

/// The second front door: `Policy::retry(..).await` and `Policy::retry_blocking(..).call()`,
/// on success and through two retries.
#[test]
fn no_allocation_in_the_builders() {
    const POLICY: Policy = Policy::new()
        .with_attempts(3)
        .with_base(std::time::Duration::ZERO);
    let runtime = current_thread_runtime();
    // Counting starts inside `block_on`, after a warm-up call, as above.
    let (ok, allocations) = runtime.block_on(async {
        let mut ok = 0;
        for round in 0..2 {
            // The first round warms the runtime up; the second is counted.
            if round == 1 {
                ok = 0;
                start_counting();
            }
            for i in 0..CALLS {
                let calls = Cell::new(0u64);
                let out = POLICY
                    .retry(async |_| {
                        calls.set(calls.get() + 1);
                        if calls.get() < 3 {
                            Err(0u32)
                        } else {
                            Ok(i)
                        }
                    })
                    .when(|_: &u32| true)
                    .await;
                ok += u64::from(out == Ok(i));
                let first = POLICY.retry(async |_| Ok::<u64, u32>(i)).await;
                ok += u64::from(first == Ok(i));
            }
        }
        (ok, stop_counting())
    });
    assert_eq!(ok, 2 * CALLS);
    assert_eq!(allocations, 0);

    // A warm-up call first: with the `metrics` feature, the first call registers the counters'
    // handles (once per front door), as the attribute's first call does.
    let _ = POLICY.retry_blocking(|_| Err::<(), u32>(0)).call();
    let (ok, allocations) = allocations_during(|| {
        (0..CALLS)
            .filter(|&i| {
                let mut calls = 0;
                let out = POLICY
                    .retry_blocking(|_| {
                        calls += 1;
                        if calls < 3 {
                            Err(0u32)
                        } else {
                            Ok(i)
                        }
                    })
                    .call();
                out == Ok(i)
            })
            .count()
    });
    assert_eq!(ok as u64, CALLS);
    assert_eq!(allocations, 0);
}
