//! Side-by-side benchmarks of `#[retry]` against a hand-written loop and the retry crates people
//! would otherwise use, in one process, with the ratios printed at the end.
//!
//! ```text
//! cargo bench -p retry-benchmarks --bench retry              # everything, about two minutes
//! cargo bench -p retry-benchmarks --bench retry -- success   # one group (criterion's name filter)
//! ```
//!
//! Groups:
//! - `success`: the operation succeeds on its first attempt (the cost of being ready to retry);
//! - `three_attempts`: it fails twice and then succeeds, with zero delay (the loop's own cost per
//!   attempt; run on a current-thread tokio runtime with the paused clock);
//! - `delay`: one delay computation for every backoff x jitter pair (target: <= 10 ns);
//! - `sync`: the blocking path against the `retry` crate;
//! - `tower`: one call through a trivial `tower::Service`, bare and behind retry-runtime's
//!   `RetryLayer`, `tower::retry::Retry` and tower-resilience's retry layer
//!   (`subjects/services.rs`).
//!
//! Ratios use the median over criterion's samples of each benchmark's time per call.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::future::{Future, IntoFuture};
use std::hint::black_box;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use backon::{BlockingRetryable, Retryable};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use retry_runtime::{retry, Backoff, Jitter, Policy};
use retry_suite::run_ready;

#[macro_use]
mod subjects;
use subjects::*;

// ---------------------------------------------------------------------------------------------
// Measurement bookkeeping: every sample criterion takes is also recorded here, so that the
// summary can print ratios between benchmarks of the same run.

static SAMPLES: Mutex<BTreeMap<(&'static str, String), Vec<f64>>> = Mutex::new(BTreeMap::new());

fn record(group: &'static str, name: &str, elapsed: Duration, iters: u64) {
    if iters == 0 {
        return;
    }
    let per_call = elapsed.as_secs_f64() * 1e9 / iters as f64;
    if let Ok(mut samples) = SAMPLES.lock() {
        samples
            .entry((group, name.to_string()))
            .or_default()
            .push(per_call);
    }
}

/// Median nanoseconds per call of one benchmark, if it ran.
fn median(group: &'static str, name: &str) -> Option<f64> {
    let samples = SAMPLES.lock().ok()?;
    let mut values = samples.get(&(group, name.to_string()))?.clone();
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied()
}

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime")
}

/// One call of the operation under test, never inlined into the measuring loop: every
/// contender is measured as a direct call to a function of its own, as a caller would make it.
/// (Inlined into the loop, how the optimiser happens to copy the result out moves the timings
/// by several nanoseconds, differently for each contender.)
#[inline(never)]
fn one_call<F: Fn(u64) -> R, R>(f: &F, x: u64) -> R {
    f(x)
}

/// Benchmarks a call (an async one is polled without a runtime: it must not sleep).
fn bench_call<F>(g: &mut BenchmarkGroup<'_, WallTime>, group: &'static str, name: &str, f: F)
where
    F: Fn(u64) -> Result<u64, u32>,
{
    g.bench_function(name, |b| {
        b.iter_custom(|iters| {
            // The result is folded field by field into a sum that is kept alive at the end:
            // `black_box` on the whole `Result` would reload it with one wide read right after
            // the narrower writes that built it, a store-forwarding stall that costs every
            // contender the same ~5 ns and hides the differences.
            let mut sum = 0u64;
            let start = Instant::now();
            for i in 0..iters {
                sum = match one_call(&f, black_box(i)) {
                    Ok(v) => sum.wrapping_add(v),
                    Err(e) => sum.wrapping_add(u64::from(e)),
                };
            }
            let elapsed = start.elapsed();
            black_box(sum);
            record(group, name, elapsed, iters);
            elapsed
        })
    });
}

/// Benchmarks an async call inside a paused current-thread tokio runtime.
fn bench_tokio<F, Fut, T>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    runtime: &tokio::runtime::Runtime,
    group: &'static str,
    name: &str,
    f: F,
) where
    F: Fn() -> Fut,
    Fut: Future<Output = T>,
{
    g.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let elapsed = runtime.block_on(async {
                let start = tokio::time::Instant::now();
                let wall = Instant::now();
                for _ in 0..iters {
                    black_box(f().await);
                }
                // The paused clock must not have moved: every delay was zero.
                debug_assert_eq!(start.elapsed(), Duration::ZERO);
                wall.elapsed()
            });
            record(group, name, elapsed, iters);
            elapsed
        })
    });
}

// ---------------------------------------------------------------------------------------------
// Success on the first attempt.

#[backon_macros::backon(backoff = backon_default, sleep = tokio::time::sleep)]
async fn backon_macro(x: u64) -> Result<u64, u32> {
    succeed!(x)
}

/// The policy `Policy::retry` runs in the success group: the attribute's, as a value.
const OURS_POLICY: Policy = Policy::new()
    .with_attempts(3)
    .with_base(Duration::from_millis(200));

fn success(c: &mut Criterion) {
    const G: &str = "success";
    let mut g = c.benchmark_group(G);
    bench_call(&mut g, G, "no retry", |x| run_ready(plain(x)));
    bench_call(&mut g, G, "hand-written loop", |x| {
        run_ready(hand_written(x))
    });
    bench_call(&mut g, G, "#[retry]", |x| run_ready(ours(x)));
    bench_call(&mut g, G, "Policy::retry", |x| {
        run_ready(OURS_POLICY.retry(async |_| plain(x).await).into_future())
    });
    bench_call(&mut g, G, "backon", |x| {
        run_ready((move || plain(x)).retry(backon_default()))
    });
    bench_call(&mut g, G, "backon-macros", |x| run_ready(backon_macro(x)));
    bench_call(&mut g, G, "tokio-retry2", |x| {
        run_ready(tokio_retry2::Retry::spawn(
            tokio_retry2::strategy::ExponentialBackoff::from_millis(200).take(2),
            move || async move { plain(x).await.map_err(tokio_retry2::RetryError::transient) },
        ))
        .map_err(|_| 0)
    });
    bench_call(&mut g, G, "tokio-retry", |x| {
        run_ready(tokio_retry::Retry::start(
            tokio_retry::strategy::ExponentialBackoff::from_millis(200).take(2),
            move || plain(x),
        ))
    });
    bench_call(&mut g, G, "tryhard", |x| {
        run_ready(
            tryhard::retry_fn(move || plain(x))
                .retries(2)
                .exponential_backoff(Duration::from_millis(200)),
        )
    });
    g.finish();
}

// ---------------------------------------------------------------------------------------------
// Three attempts with zero delay.

async fn flaky(tries: &Cell<u32>) -> Result<u64, u32> {
    flaky!(tries)
}

#[retry(attempts = 3, base = "0ms")]
async fn ours_flaky(tries: &Cell<u32>) -> Result<u64, u32> {
    flaky!(tries)
}

async fn hand_written_flaky(tries: &Cell<u32>) -> Result<u64, u32> {
    const POLICY: Policy = Policy::new().with_attempts(3).with_base(Duration::ZERO);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result: Result<u64, u32> = async { flaky!(tries) }.await;
        if result.is_ok() || attempt >= POLICY.attempts() {
            return result;
        }
        tokio::time::sleep(POLICY.delay(attempt)).await;
    }
}

/// The policy `Policy::retry` runs in the three-attempt group: the attribute's, as a value.
const ZERO_DELAY: Policy = Policy::new().with_attempts(3).with_base(Duration::ZERO);

fn backon_zero() -> backon::ConstantBuilder {
    backon::ConstantBuilder::new()
        .with_delay(Duration::ZERO)
        .with_max_times(2)
}

#[backon_macros::backon(backoff = backon_zero, sleep = tokio::time::sleep)]
async fn backon_macro_flaky(tries: &Cell<u32>) -> Result<u64, u32> {
    flaky!(tries)
}

fn three_attempts(c: &mut Criterion) {
    const G: &str = "three_attempts";
    let runtime = paused_runtime();
    let mut g = c.benchmark_group(G);
    let rt = &runtime;
    bench_tokio(&mut g, rt, G, "hand-written loop", || async {
        hand_written_flaky(&Cell::new(0)).await
    });
    bench_tokio(&mut g, rt, G, "#[retry]", || async {
        ours_flaky(&Cell::new(0)).await
    });
    bench_tokio(&mut g, rt, G, "Policy::retry", || async {
        let tries = Cell::new(0);
        ZERO_DELAY.retry(async |_| flaky(&tries).await).await
    });
    bench_tokio(&mut g, rt, G, "backon", || async {
        let tries = Cell::new(0);
        (|| flaky(&tries)).retry(backon_zero()).await
    });
    bench_tokio(&mut g, rt, G, "backon-macros", || async {
        backon_macro_flaky(&Cell::new(0)).await
    });
    bench_tokio(&mut g, rt, G, "tokio-retry2", || async {
        let tries = Cell::new(0);
        tokio_retry2::Retry::spawn(
            tokio_retry2::strategy::FixedInterval::from_millis(0).take(2),
            || async {
                flaky(&tries)
                    .await
                    .map_err(tokio_retry2::RetryError::transient)
            },
        )
        .await
    });
    bench_tokio(&mut g, rt, G, "tokio-retry", || async {
        let tries = Cell::new(0);
        tokio_retry::Retry::start(
            tokio_retry::strategy::FixedInterval::from_millis(0).take(2),
            || flaky(&tries),
        )
        .await
    });
    bench_tokio(&mut g, rt, G, "tryhard", || async {
        let tries = Cell::new(0);
        tryhard::retry_fn(|| flaky(&tries))
            .retries(2)
            .fixed_backoff(Duration::ZERO)
            .await
    });
    g.finish();
}

// ---------------------------------------------------------------------------------------------
// One delay computation.

fn delay_name(backoff: Backoff, jitter: Jitter) -> String {
    format!("{} x {}", backoff.name(), jitter.name())
}

fn delay(c: &mut Criterion) {
    const G: &str = "delay";
    let mut g = c.benchmark_group(G);
    for backoff in Backoff::ALL {
        for jitter in Jitter::ALL {
            let policy = Policy::new()
                .with_attempts(u32::MAX)
                .with_base(Duration::from_millis(100))
                .with_max(Duration::from_secs(30))
                .with_backoff(backoff)
                .with_jitter(jitter);
            let name = delay_name(backoff, jitter);
            g.bench_function(name.as_str(), |b| {
                let mut rng = SmallRng::seed_from_u64(1);
                b.iter_custom(|iters| {
                    let policy = black_box(policy);
                    let mut previous = Duration::ZERO;
                    let start = Instant::now();
                    for i in 0..iters {
                        // Retries 1..=16: past the cap for every strategy at the end.
                        let k = (i % 16) as u32 + 1;
                        previous = policy.jittered_delay(black_box(k), previous, &mut rng);
                    }
                    let elapsed = start.elapsed();
                    black_box(previous);
                    record(G, &name, elapsed, iters);
                    elapsed
                })
            });
        }
    }
    g.finish();
}

// ---------------------------------------------------------------------------------------------
// The blocking path.

fn hand_written_sync(x: u64) -> Result<u64, u32> {
    const POLICY: Policy = Policy::new().with_attempts(3);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result = plain_sync(x);
        if result.is_ok() || attempt >= POLICY.attempts() {
            return result;
        }
        std::thread::sleep(POLICY.delay(attempt));
    }
}

fn sync(c: &mut Criterion) {
    const G: &str = "sync";
    let mut g = c.benchmark_group(G);
    bench_call(&mut g, G, "success: no retry", plain_sync);
    bench_call(&mut g, G, "success: hand-written loop", hand_written_sync);
    bench_call(&mut g, G, "success: #[retry]", ours_sync);
    bench_call(&mut g, G, "success: retry crate", |x| {
        retry::retry(retry::delay::Exponential::from_millis(200).take(2), || {
            plain_sync(x)
        })
        .map_err(|_| 0)
    });
    bench_call(&mut g, G, "success: backon", |x| {
        (|| plain_sync(x)).retry(backon_default()).call()
    });
    bench_call(&mut g, G, "three attempts: #[retry]", |_| {
        ours_flaky_sync(&Cell::new(0))
    });
    bench_call(&mut g, G, "three attempts: retry crate", |_| {
        let tries = Cell::new(0);
        retry::retry(retry::delay::Fixed::from_millis(0).take(2), || {
            flaky_sync(&tries)
        })
        .map_err(|_| 0)
    });
    bench_call(&mut g, G, "three attempts: backon", |_| {
        let tries = Cell::new(0);
        (|| flaky_sync(&tries)).retry(backon_zero()).call()
    });
    g.finish();
}

// ---------------------------------------------------------------------------------------------
// A tower service, bare and behind each retry layer.

/// Benchmarks one call of `service` (kept across calls, as a caller keeps it): `poll_ready`,
/// `call`, the future polled to completion.
fn bench_service<S>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    group: &'static str,
    name: &str,
    mut service: S,
) where
    S: tower::Service<services::Req, Response = u64>,
{
    g.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut sum = 0u64;
            let start = Instant::now();
            for i in 0..iters {
                sum = match services::call(&mut service, black_box(i)) {
                    Ok(v) => sum.wrapping_add(v),
                    Err(e) => sum.wrapping_add(u64::from(e)),
                };
            }
            let elapsed = start.elapsed();
            black_box(sum);
            record(group, name, elapsed, iters);
            elapsed
        })
    });
}

/// The `tower` group's cases, in the order of the summary.
const TOWER_CASES: [&str; 4] = [
    "bare service",
    "retry-runtime RetryLayer",
    "tower::retry::Retry",
    "tower-resilience retry",
];

fn tower_layers(c: &mut Criterion) {
    const G: &str = "tower";
    let mut g = c.benchmark_group(G);
    let [bare, ours, tower_retry, tower_resilience] = TOWER_CASES;
    bench_service(&mut g, G, bare, services::bare());
    bench_service(&mut g, G, ours, services::ours());
    bench_service(&mut g, G, tower_retry, services::tower_retry());
    bench_service(&mut g, G, tower_resilience, services::tower_resilience());
    g.finish();
}

// ---------------------------------------------------------------------------------------------
// Summary.

fn ratio_table(group: &'static str, reference: &str, names: &[&str]) {
    let Some(base) = median(group, reference) else {
        return;
    };
    println!("\n{group} (median ns per call; ratio to {reference})\n");
    println!("| | ns | ratio |");
    println!("|---|---:|---:|");
    for name in names {
        if let Some(ns) = median(group, name) {
            println!("| {name} | {ns:.2} | {:.2} |", ns / base);
        }
    }
}

fn summary() {
    ratio_table(
        "success",
        "hand-written loop",
        &[
            "no retry",
            "hand-written loop",
            "#[retry]",
            "Policy::retry",
            "backon",
            "backon-macros",
            "tokio-retry2",
            "tokio-retry",
            "tryhard",
        ],
    );
    ratio_table(
        "three_attempts",
        "hand-written loop",
        &[
            "hand-written loop",
            "#[retry]",
            "Policy::retry",
            "backon",
            "backon-macros",
            "tokio-retry2",
            "tokio-retry",
            "tryhard",
        ],
    );
    ratio_table(
        "sync",
        "success: hand-written loop",
        &[
            "success: no retry",
            "success: hand-written loop",
            "success: #[retry]",
            "success: retry crate",
            "success: backon",
        ],
    );
    ratio_table(
        "sync",
        "three attempts: retry crate",
        &[
            "three attempts: #[retry]",
            "three attempts: retry crate",
            "three attempts: backon",
        ],
    );

    ratio_table("tower", "bare service", &TOWER_CASES);

    let mut worst: Option<(String, f64)> = None;
    let mut rows = String::new();
    for backoff in Backoff::ALL {
        let mut row = format!("| {} |", backoff.name());
        for jitter in Jitter::ALL {
            let name = delay_name(backoff, jitter);
            match median("delay", &name) {
                Some(ns) => {
                    row.push_str(&format!(" {ns:.2} |"));
                    if worst.as_ref().is_none_or(|(_, w)| ns > *w) {
                        worst = Some((name, ns));
                    }
                }
                None => row.push_str(" - |"),
            }
        }
        rows.push_str(&row);
        rows.push('\n');
    }
    if let Some((name, ns)) = worst {
        let header: String = Jitter::ALL
            .iter()
            .map(|j| format!(" {} |", j.name()))
            .collect();
        println!("\ndelay: one `Policy::jittered_delay` (median ns; target <= 10 ns)\n");
        println!("| backoff \\ jitter |{header}");
        println!("|---|---:|---:|---:|---:|");
        print!("{rows}");
        let verdict = if ns <= 10.0 { "within" } else { "OVER" };
        println!("\nslowest: {name} at {ns:.2} ns ({verdict} the 10 ns target)");
    }
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(2_000))
        .sample_size(50)
        .nresamples(20_000)
        .configure_from_args();
    success(&mut c);
    three_attempts(&mut c);
    delay(&mut c);
    sync(&mut c);
    tower_layers(&mut c);
    c.final_summary();
    summary();
}
