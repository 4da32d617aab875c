//! Hedged requests against a latency tail: no hedging, our fixed-delay hedge at the p95
//! measured on a warm-up run, our adaptive hedge (p95 of a [`Latencies`] histogram) and
//! `tower::hedge::Hedge` at p95, on the same simulated service.
//!
//! ```text
//! cargo run --release -p retry-benchmarks --example tail                  # lines, plot in target/tail.svg
//! cargo run --release -p retry-benchmarks --example tail -- docs/tail.svg
//! ```
//!
//! Two services, in-process on tokio's paused clock, seeded: a latency tail (each request an
//! independent draw: |Normal(10, 2)| ms, 2% of requests slower by a factor of 10 to 100), and the
//! same service where 1% of requests also fail after 1 ms with a retryable error. Every
//! configuration makes the same calls (8 callers, each making its calls one after another), and
//! the n-th copy of a call draws the same latency in every configuration. The service counts the
//! requests that reach it: "extra requests" are those beyond one per call, as a share of the
//! calls; "failed" are the calls whose outcome is an error.
//!
//! The fixed hedge's delay is the p95 of a warm-up run of the unhedged service (another seed);
//! tower's histogram is primed with that run's latencies, so that it too hedges from the start
//! (unprimed, it sends no hedge in its first 1 s period). Our adaptive hedge starts cold.
//!
//! The example fails unless, on the latency tail, both our hedges cut the p99.9 by at least 10x
//! at no more than 6% extra requests, with a p99.9 no more than 5% above tower's and no more
//! extra requests than tower's; and, on the failing service, both fail fewer calls than tower's
//! (whose hedge returns whichever copy completes first, an error included).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use retry_runtime::{Latencies, Policy};
use tower::Service as _;

#[path = "tail/plot.rs"]
mod plot;
#[path = "tail/service.rs"]
mod service;

use service::Model;

const SEED: u64 = 7;
const CALLS: u64 = 20_000;
/// Callers making calls at once, each one call after another.
const CALLERS: usize = 8;
const PERCENTILE: f64 = 0.95;
/// tower's hedge: the percentile of the previous period's latencies, once it holds this many...
const TOWER_MIN_POINTS: u64 = 20;
/// ... rotated this often (about 380 calls a period here).
const TOWER_PERIOD: Duration = Duration::from_secs(1);

/// One attempt per call: every extra request is a hedge.
const POLICY: Policy = Policy::new().with_attempts(1);

const MODELS: [Model; 2] = [
    Model {
        name: "latency-tail",
        slow: 0.02,
        slow_factor: (10.0, 100.0),
        fail: 0.0,
        fail_after: Duration::from_millis(1),
    },
    Model {
        name: "failing",
        slow: 0.02,
        slow_factor: (10.0, 100.0),
        fail: 0.01,
        fail_after: Duration::from_millis(1),
    },
];

#[derive(Clone, Copy)]
enum Hedging<'a> {
    /// `POLICY.retry(op)`, one attempt: the engine's overhead, no hedge.
    None,
    /// `.hedge(delay, 1)` at the p95 of a warm-up run.
    Fixed(Duration),
    /// `.hedge_at(&Latencies::new(), 0.95)`: one extra copy.
    Adaptive,
    /// `tower::hedge::Hedge` at p95, its histogram primed with the warm-up run's latencies (as
    /// the fixed hedge's delay comes from them), so that it hedges from its first period.
    Tower(&'a [u64]),
}

impl Hedging<'_> {
    fn name(self) -> &'static str {
        match self {
            Hedging::None => "none",
            Hedging::Fixed(_) => "fixed-p95",
            Hedging::Adaptive => "adaptive-p95",
            Hedging::Tower(_) => "tower-hedge",
        }
    }
}

/// One configuration's run on one service.
pub struct Outcome {
    name: &'static str,
    /// Each call's latency in ms, sorted.
    latencies: Vec<u64>,
    requests: u64,
    failed: u64,
}

impl Outcome {
    /// The nearest-rank percentile, in ms.
    fn percentile(&self, p: f64) -> u64 {
        let n = self.latencies.len();
        let rank = ((p * n as f64).ceil() as usize).clamp(1, n.max(1));
        self.latencies.get(rank - 1).copied().unwrap_or(0)
    }

    fn extra_pct(&self) -> f64 {
        let calls = self.latencies.len() as f64;
        (self.requests as f64 - calls) / calls * 100.0
    }

    fn failed_pct(&self) -> f64 {
        self.failed as f64 / self.latencies.len() as f64 * 100.0
    }
}

/// One service's runs, in the order none, fixed, adaptive, tower.
pub struct Service {
    model: Model,
    /// The p95 of the warm-up run, the fixed hedge's delay.
    warm_p95: Duration,
    outcomes: Vec<Outcome>,
}

/// Runs `calls` calls through `call` (true: the call succeeded) from `CALLERS` callers, on the
/// current task; returns each call's latency on tokio's clock (ms, sorted) and the failures.
async fn drive<F, Fut>(calls: u64, call: F) -> (Vec<u64>, u64)
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = bool>,
{
    let next = Cell::new(0u64);
    let tally = RefCell::new((Vec::with_capacity(calls as usize), 0u64));
    let caller = || async {
        loop {
            let id = next.get();
            if id >= calls {
                break;
            }
            next.set(id + 1);
            let start = tokio::time::Instant::now();
            let ok = call(id).await;
            let ms = start.elapsed().as_millis() as u64;
            let mut tally = tally.borrow_mut();
            tally.0.push(ms);
            tally.1 += u64::from(!ok);
        }
    };
    let callers: Vec<_> = (0..CALLERS).map(|_| Box::pin(caller())).collect();
    join_all(callers).await;
    let (mut latencies, failed) = tally.into_inner();
    latencies.sort_unstable();
    (latencies, failed)
}

/// Polls every future until all are done.
async fn join_all<F: Future<Output = ()> + Unpin>(mut futures: Vec<F>) {
    std::future::poll_fn(|cx| {
        futures.retain_mut(|f| std::pin::Pin::new(f).poll(cx).is_pending());
        if futures.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}

/// One run of `hedging` against a fresh service, on a current-thread runtime with the clock
/// paused.
fn run(model: Model, seed: u64, hedging: Hedging<'_>) -> Outcome {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime");
    let service = service::Service::new(model, seed, CALLS);
    let svc = &service;
    let (latencies, failed) = runtime.block_on(async {
        match hedging {
            Hedging::None => {
                drive(CALLS, |id| async move {
                    POLICY.retry(|_| svc.request(id)).await.is_ok()
                })
                .await
            }
            Hedging::Fixed(delay) => {
                drive(CALLS, |id| async move {
                    POLICY
                        .retry(|_| svc.request(id))
                        .hedge(delay, 1)
                        .await
                        .is_ok()
                })
                .await
            }
            Hedging::Adaptive => {
                let latencies = Latencies::new();
                let latencies = &latencies;
                drive(CALLS, |id| async move {
                    POLICY
                        .retry(|_| svc.request(id))
                        .hedge_at(latencies, PERCENTILE)
                        .await
                        .is_ok()
                })
                .await
            }
            Hedging::Tower(warm) => {
                let hedge = RefCell::new(tower::hedge::Hedge::new_with_mock_latencies(
                    service.clone(),
                    AnyCall,
                    TOWER_MIN_POINTS,
                    PERCENTILE as f32,
                    TOWER_PERIOD,
                    warm,
                ));
                let hedge = &hedge;
                drive(CALLS, |id| async move {
                    // The service is always ready: the borrow ends before the await.
                    let ready = std::future::poll_fn(|cx| hedge.borrow_mut().poll_ready(cx));
                    if ready.await.is_err() {
                        return false;
                    }
                    let reply = hedge.borrow_mut().call(id);
                    reply.await.is_ok()
                })
                .await
            }
        }
    });
    Outcome {
        name: hedging.name(),
        latencies,
        requests: service.requests(),
        failed,
    }
}

/// tower's hedge policy: every call may be hedged.
#[derive(Clone)]
struct AnyCall;

impl tower::hedge::Policy<u64> for AnyCall {
    fn clone_request(&self, call: &u64) -> Option<u64> {
        Some(*call)
    }
    fn can_retry(&self, _call: &u64) -> bool {
        true
    }
}

/// The warm-up run, then the four configurations, on one service.
fn simulate(index: u64, model: Model) -> Service {
    let seed = SEED << 8 | index;
    let warm = run(model, seed ^ 0xA5A5_0000, Hedging::None);
    let warm_p95 = Duration::from_millis(warm.percentile(PERCENTILE));
    let outcomes = [
        Hedging::None,
        Hedging::Fixed(warm_p95),
        Hedging::Adaptive,
        Hedging::Tower(&warm.latencies),
    ]
    .into_iter()
    .map(|hedging| run(model, seed, hedging))
    .collect();
    Service {
        model,
        warm_p95,
        outcomes,
    }
}

fn print(service: &Service) {
    let name = service.model.name;
    for o in &service.outcomes {
        println!(
            "tail: {name} {} p50 {} ms, p99 {} ms, p99.9 {} ms, extra requests {:.2}%, failed {:.2}%",
            o.name,
            o.percentile(0.5),
            o.percentile(0.99),
            o.percentile(0.999),
            o.extra_pct(),
            o.failed_pct(),
        );
    }
}

/// The issue's targets: what failed, if anything.
fn checks(services: &[Service]) -> Vec<String> {
    let mut failures = Vec::new();
    let [tail, failing] = services else {
        return vec!["a service is missing".into()];
    };
    let [none, fixed, adaptive, tower] = &tail.outcomes[..] else {
        return vec!["a configuration is missing".into()];
    };
    let p999 = |o: &Outcome| o.percentile(0.999) as f64;
    for ours in [fixed, adaptive] {
        let at = |o: &Outcome| format!("{} ms at {:.2}% extra", p999(o), o.extra_pct());
        if p999(none) < 10.0 * p999(ours) {
            failures.push(format!(
                "{}: {} cuts the p99.9 from {} ms to {}, less than 10x",
                tail.model.name,
                ours.name,
                p999(none),
                at(ours)
            ));
        }
        if ours.extra_pct() > 6.0 {
            failures.push(format!(
                "{}: {} sends {:.2}% extra requests, more than 6%",
                tail.model.name,
                ours.name,
                ours.extra_pct()
            ));
        }
        if p999(ours) > 1.05 * p999(tower) {
            failures.push(format!(
                "{}: {}'s p99.9 ({}) is {:.1}% above tower-hedge's ({}), more than 5%",
                tail.model.name,
                ours.name,
                at(ours),
                (p999(ours) / p999(tower) - 1.0) * 100.0,
                at(tower)
            ));
        }
        if ours.requests > tower.requests {
            failures.push(format!(
                "{}: {} ({}) sends more extra requests than tower-hedge ({})",
                tail.model.name,
                ours.name,
                at(ours),
                at(tower)
            ));
        }
    }
    let failing_tower = &failing.outcomes[3];
    for ours in &failing.outcomes[1..3] {
        if ours.failed >= failing_tower.failed {
            failures.push(format!(
                "{}: {} fails {} calls, not fewer than tower-hedge's {}",
                failing.model.name, ours.name, ours.failed, failing_tower.failed
            ));
        }
    }
    failures
}

fn main() {
    let path: PathBuf = match retry_benchmarks::sim::plot_path("target/tail.svg") {
        Ok(path) => path,
        Err(err) => {
            eprintln!("tail: {err}");
            std::process::exit(1);
        }
    };
    retry_runtime::seed_jitter(SEED);
    for model in &MODELS {
        println!(
            "tail: service {}: {}, seed {SEED}, {CALLS} calls from {CALLERS} callers, one attempt each",
            model.name,
            model.describe()
        );
    }
    println!(
        "tail: configurations: none (Policy::retry, 1 attempt); fixed-p95 (.hedge(p95 of a \
         warm-up run, 1)); adaptive-p95 (.hedge_at(&Latencies::new(), {PERCENTILE})); \
         tower-hedge (Hedge::new(.., min_data_points {TOWER_MIN_POINTS}, percentile \
         {PERCENTILE}, period {TOWER_PERIOD:?}), its histogram primed with the warm-up run's \
         latencies)"
    );
    let services: Vec<Service> = (0u64..)
        .zip(MODELS)
        .map(|(i, model)| simulate(i, model))
        .collect();
    for service in &services {
        println!(
            "tail: {} warm-up p95 {} ms (the fixed hedge's delay)",
            service.model.name,
            service.warm_p95.as_millis()
        );
    }
    for service in &services {
        print(service);
    }
    let failures = checks(&services);
    if let Err(err) = plot::plot(&path, &services) {
        eprintln!("tail: cannot write the plot to {}: {err}", path.display());
        std::process::exit(1);
    }
    println!("tail: plot written to {}", path.display());
    if failures.is_empty() {
        println!("tail: ok");
    } else {
        for failure in &failures {
            eprintln!("tail: failed: {failure}");
        }
        std::process::exit(1);
    }
}
