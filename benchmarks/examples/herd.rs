//! The thundering-herd simulation of Brooker, "Exponential Backoff And Jitter" (AWS Architecture
//! Blog, 2015), with every delay computed by retry-runtime's own [`Policy`].
//!
//! ```text
//! cargo run --release -p retry-benchmarks --example herd                  # table, plot in target/herd.svg
//! cargo run --release -p retry-benchmarks --example herd -- docs/herd.svg
//! ```
//!
//! One server holds one row with a version number; `write(v)` succeeds, and bumps the version,
//! only if `v` is current. N clients all start at t = 0: each reads the version, then writes it;
//! a failed write makes the client back off and read again, with no attempt limit, until its
//! write succeeds. Every network hop takes |Normal(10, 2)| ms. The backoff after the n-th
//! failure, with base 5 ms and cap 2 s, `expo(n) = min(cap, base * 2^n)`:
//!
//! | strategy | sleep after the n-th failure |
//! |---|---|
//! | none | 0 |
//! | exponential | `expo(n)` |
//! | full jitter | `uniform(0, expo(n))` |
//! | equal jitter | `expo(n)/2 + uniform(0, expo(n)/2)` |
//! | decorrelated | `min(cap, uniform(base, 3 * previous))`, `previous` starting at base |
//!
//! For each strategy and N = 10, 20, ..., 190 it runs 100 seeded simulations and reports the
//! mean number of write calls the server handled (the work) and the mean time until the last
//! client succeeded. A second simulation shows what a [`RetryBudget`] does to a fleet of
//! clients during a sustained outage.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use plotters::prelude::*;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use retry_benchmarks::sim::{finish, hop_ms, plot_path, Queue};
use retry_runtime::{Backoff, Jitter, Policy, RetryBudget};

const BASE_MS: u64 = 5;
const CAP_MS: u64 = 2_000;
const RUNS: u32 = 100;
const CLIENTS: [usize; 19] = [
    10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150, 160, 170, 180, 190,
];

/// One backoff strategy of the blog post, as a retry-runtime policy.
struct Strategy {
    name: &'static str,
    policy: Policy,
    color: RGBColor,
}

/// The blog's five strategies.
///
/// `Policy::delay(k)` is `base * factor^(k-1)`, so `base = 10 ms` gives `5 ms * 2^k`: the
/// blog's `expo(n)` with its base of 5 ms. Decorrelated jitter ignores the exponential schedule
/// and draws from `uniform(base, 3 * previous)`, so it keeps the blog's base of 5 ms.
fn strategies() -> [Strategy; 5] {
    let cap = Duration::from_millis(CAP_MS);
    let expo = Policy::new()
        .with_attempts(u32::MAX)
        .with_base(Duration::from_millis(2 * BASE_MS))
        .with_factor(2.0)
        .with_max(cap);
    [
        Strategy {
            name: "none",
            policy: Policy::new()
                .with_attempts(u32::MAX)
                .with_base(Duration::ZERO)
                .with_backoff(Backoff::Constant),
            color: RGBColor(120, 120, 120),
        },
        Strategy {
            name: "exponential",
            policy: expo.with_jitter(Jitter::None),
            color: RGBColor(214, 39, 40),
        },
        Strategy {
            name: "full jitter",
            policy: expo.with_jitter(Jitter::Full),
            color: RGBColor(31, 119, 180),
        },
        Strategy {
            name: "equal jitter",
            policy: expo.with_jitter(Jitter::Equal),
            color: RGBColor(44, 160, 44),
        },
        Strategy {
            name: "decorrelated",
            policy: expo
                .with_base(Duration::from_millis(BASE_MS))
                .with_jitter(Jitter::Decorrelated),
            color: RGBColor(148, 103, 189),
        },
    ]
}

/// One network hop: |Normal(10, 2)| ms (Box-Muller).
fn hop(rng: &mut SmallRng) -> f64 {
    let u1 = 1.0 - rng.random::<f64>();
    hop_ms(u1, rng.random())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

enum Step {
    /// The read request reaches the server.
    Read,
    /// The client learns the version.
    ReadReply(u64),
    /// The write of this version reaches the server.
    Write(u64),
    /// The client learns whether its write succeeded.
    WriteReply(bool),
}

/// One run of the contention model: (write calls, time until the last client succeeded, ms).
fn herd(clients: usize, policy: &Policy, rng: &mut SmallRng) -> (u64, f64) {
    let mut queue = Queue::new();
    let mut version = 0u64;
    let mut writes = 0u64;
    let mut last_success = 0.0f64;
    let mut failures = vec![0u32; clients];
    let mut previous = vec![Duration::ZERO; clients];
    for client in 0..clients {
        let at = hop(rng);
        queue.push(at, (client, Step::Read));
    }
    while let Some((at, (client, kind))) = queue.pop() {
        match kind {
            Step::Read => queue.push(at + hop(rng), (client, Step::ReadReply(version))),
            Step::ReadReply(v) => queue.push(at + hop(rng), (client, Step::Write(v))),
            Step::Write(v) => {
                writes += 1;
                let ok = v == version;
                if ok {
                    version += 1;
                }
                queue.push(at + hop(rng), (client, Step::WriteReply(ok)));
            }
            Step::WriteReply(true) => last_success = last_success.max(at),
            Step::WriteReply(false) => {
                failures[client] = failures[client].saturating_add(1);
                let sleep = policy.jittered_delay(failures[client], previous[client], rng);
                previous[client] = sleep;
                queue.push(at + ms(sleep) + hop(rng), (client, Step::Read));
            }
        }
    }
    (writes, last_success)
}

/// Means over `RUNS` seeded runs.
#[derive(Clone, Copy)]
struct Point {
    clients: usize,
    calls: f64,
    time_ms: f64,
}

fn sweep(index: usize, strategy: &Strategy) -> Vec<Point> {
    CLIENTS
        .iter()
        .map(|&clients| {
            let (mut calls, mut time) = (0.0, 0.0);
            for run in 0..RUNS {
                let seed = (index as u64) << 48 | (clients as u64) << 32 | u64::from(run);
                let mut rng = SmallRng::seed_from_u64(seed);
                let (c, t) = herd(clients, &strategy.policy, &mut rng);
                calls += c as f64;
                time += t;
            }
            Point {
                clients,
                calls: calls / f64::from(RUNS),
                time_ms: time / f64::from(RUNS),
            }
        })
        .collect()
}

/// The blog's claims, checked against this run. Returns the failures.
fn check_orderings(names: &[&str], results: &[Vec<Point>]) -> Vec<String> {
    let find = |name: &str| names.iter().position(|n| *n == name);
    let (Some(none), Some(expo), Some(full), Some(equal), Some(decor)) = (
        find("none"),
        find("exponential"),
        find("full jitter"),
        find("equal jitter"),
        find("decorrelated"),
    ) else {
        return vec!["a strategy is missing".into()];
    };
    let mut failures = Vec::new();
    for (i, &clients) in CLIENTS.iter().enumerate() {
        let calls = |s: usize| results[s][i].calls;
        let time = |s: usize| results[s][i].time_ms;
        if clients >= 50 {
            let jittered = calls(full).max(calls(equal));
            if !(jittered < calls(decor) && calls(decor) < calls(expo) && calls(expo) < calls(none))
            {
                failures.push(format!(
                    "N = {clients}: work is not full/equal < decorrelated < exponential < none \
                     ({:.0}, {:.0} / {:.0} / {:.0} / {:.0})",
                    calls(full),
                    calls(equal),
                    calls(decor),
                    calls(expo),
                    calls(none)
                ));
            }
            // "Full ≈ equal": within 25% of each other.
            let ratio = calls(full).max(calls(equal)) / calls(full).min(calls(equal));
            if ratio > 1.25 {
                failures.push(format!(
                    "N = {clients}: full ({:.0}) and equal ({:.0}) jitter differ by {:.0}%",
                    calls(full),
                    calls(equal),
                    (ratio - 1.0) * 100.0
                ));
            }
        }
        // "Exponential time ≫ every jittered strategy": at least twice as long.
        let slowest_jittered = time(full).max(time(equal)).max(time(decor));
        if clients >= 50 && time(expo) < 2.0 * slowest_jittered {
            failures.push(format!(
                "N = {clients}: exponential takes {:.0} ms, not ≫ the jittered strategies' {:.0} ms",
                time(expo),
                slowest_jittered
            ));
        }
    }
    failures
}

fn plot(
    path: &PathBuf,
    strategies: &[Strategy],
    results: &[Vec<Point>],
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (1200, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(600);
    let max_n = CLIENTS[CLIENTS.len() - 1] as f64;
    type Metric = fn(&Point) -> f64;
    let panels: [(_, &str, &str, Metric); 2] = [
        (left, "Work: write calls", "total calls", |p| p.calls),
        (
            right,
            "Completion time",
            "time until all succeed (s)",
            |p| p.time_ms / 1_000.0,
        ),
    ];
    for (area, caption, y_label, metric) in panels {
        let y_max = results.iter().flatten().map(metric).fold(0.0f64, f64::max) * 1.05;
        let mut chart = ChartBuilder::on(&area)
            .caption(caption, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..max_n + 5.0, 0.0..y_max)?;
        chart
            .configure_mesh()
            .x_desc("clients (N)")
            .y_desc(y_label)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        for (strategy, points) in strategies.iter().zip(results) {
            let color = strategy.color;
            chart
                .draw_series(LineSeries::new(
                    points.iter().map(|p| (p.clients as f64, metric(p))),
                    color.stroke_width(2),
                ))?
                .label(strategy.name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
            chart.draw_series(
                points
                    .iter()
                    .map(|p| Circle::new((p.clients as f64, metric(p)), 3, color.filled())),
            )?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()?;
    }
    root.present()?;
    Ok(())
}

/// The outage model: `clients` processes each start a call every `period_ms` (open loop, so
/// a slow service does not slow the callers down), each call making up to `attempts` attempts
/// with full jitter. The server fails every attempt that reaches it before `outage_ms`, and
/// succeeds after. With a budget, every process has its own `RetryBudget` (as a `static` in
/// each would be), driven exactly as `#[retry(budget = ...)]` drives it.
struct Outage {
    clients: usize,
    period_ms: f64,
    calls_per_client: u32,
    outage_ms: f64,
    attempts: u32,
}

#[derive(Default)]
struct OutageTally {
    attempts_in_outage: u64,
    calls_in_outage: u64,
    attempts_after: u64,
    calls_after: u64,
    failed_calls: u64,
}

enum Call {
    /// An attempt (1-based) of a call reaches the server.
    Attempt(u32),
    /// The reply reaches the client.
    Reply(u32, bool),
}

fn outage(model: &Outage, budget: Option<(u32, f64)>, seed: u64) -> OutageTally {
    let policy = Policy::new()
        .with_attempts(model.attempts)
        .with_base(Duration::from_millis(100))
        .with_max(Duration::from_secs(2))
        .with_jitter(Jitter::Full);
    let mut rng = SmallRng::seed_from_u64(seed);
    let budgets: Vec<RetryBudget> = (0..model.clients)
        .map(|_| match budget {
            Some((tokens, ratio)) => RetryBudget::new(tokens, ratio),
            None => RetryBudget::new(u32::MAX, 0.0),
        })
        .collect();
    let mut queue = Queue::new();
    for client in 0..model.clients {
        let offset = rng.random::<f64>() * model.period_ms;
        for k in 0..model.calls_per_client {
            let at = offset + f64::from(k) * model.period_ms + hop(&mut rng);
            queue.push(at, (client, Call::Attempt(1)));
        }
    }
    let mut tally = OutageTally::default();
    while let Some((at, (client, kind))) = queue.pop() {
        match kind {
            Call::Attempt(attempt) => {
                let in_outage = at < model.outage_ms;
                if in_outage {
                    tally.attempts_in_outage += 1;
                    tally.calls_in_outage += u64::from(attempt == 1);
                } else {
                    tally.attempts_after += 1;
                    tally.calls_after += u64::from(attempt == 1);
                }
                queue.push(
                    at + hop(&mut rng),
                    (client, Call::Reply(attempt, !in_outage)),
                );
            }
            Call::Reply(_, true) => budgets[client].deposit(),
            Call::Reply(attempt, false) => {
                let retry = attempt < policy.attempts()
                    && (budget.is_none() || budgets[client].try_withdraw());
                if retry {
                    let sleep = policy.jittered_delay(attempt, Duration::ZERO, &mut rng);
                    queue.push(
                        at + ms(sleep) + hop(&mut rng),
                        (client, Call::Attempt(attempt + 1)),
                    );
                } else {
                    tally.failed_calls += 1;
                }
            }
        }
    }
    tally
}

fn main() -> ExitCode {
    let path = match plot_path("target/herd.svg") {
        Ok(path) => path,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::FAILURE;
        }
    };
    let strategies = strategies();
    let results: Vec<Vec<Point>> = strategies
        .iter()
        .enumerate()
        .map(|(i, s)| sweep(i, s))
        .collect();

    println!(
        "Herd simulation (Brooker 2015): mean over {RUNS} seeded runs; base {BASE_MS} ms, cap {CAP_MS} ms, hops |N(10, 2)| ms\n"
    );
    let names: Vec<&str> = strategies.iter().map(|s| s.name).collect();
    let header: String = names.iter().map(|n| format!(" {n} |")).collect();
    let rule: String = names.iter().map(|_| "---:|").collect();
    println!("Total write calls\n\n| N |{header}\n|---:|{rule}");
    for (i, &n) in CLIENTS.iter().enumerate() {
        let row: String = results
            .iter()
            .map(|r| format!(" {:.0} |", r[i].calls))
            .collect();
        println!("| {n} |{row}");
    }
    println!("\nTime until the last client succeeds (ms)\n\n| N |{header}\n|---:|{rule}");
    for (i, &n) in CLIENTS.iter().enumerate() {
        let row: String = results
            .iter()
            .map(|r| format!(" {:.0} |", r[i].time_ms))
            .collect();
        println!("| {n} |{row}");
    }

    let model = Outage {
        clients: 100,
        period_ms: 100.0,
        calls_per_client: 600,
        outage_ms: 30_000.0,
        attempts: 3,
    };
    println!(
        "\nSustained outage: {} clients, one call each per {} ms for {} s, attempts = {}, full jitter \
         (base 100 ms); every attempt fails for the first {} s, then all succeed\n",
        model.clients,
        model.period_ms,
        f64::from(model.calls_per_client) * model.period_ms / 1_000.0,
        model.attempts,
        model.outage_ms / 1_000.0
    );
    println!("| retry budget | attempts during outage | per call | attempts after | per call | calls failed |");
    println!("|---|---:|---:|---:|---:|---:|");
    let mut amplification = Vec::new();
    for (label, budget) in [
        ("none", None),
        ("RetryBudget::new(10, 0.1) per client", Some((10, 0.1))),
    ] {
        let t = outage(&model, budget, 7);
        let during = t.attempts_in_outage as f64 / t.calls_in_outage.max(1) as f64;
        let after = t.attempts_after as f64 / t.calls_after.max(1) as f64;
        amplification.push(during);
        println!(
            "| {label} | {} | {during:.3} | {} | {after:.3} | {} |",
            t.attempts_in_outage, t.attempts_after, t.failed_calls
        );
    }

    let mut failures = check_orderings(&names, &results);
    if let [without, with] = amplification[..] {
        if !(with <= 1.1 && without > 2.5) {
            failures.push(format!(
                "the budget should hold the outage's load near 1 attempt per call \
                 ({with:.3}, against {without:.3} without)"
            ));
        }
    }

    finish(
        plot(&path, &strategies, &results),
        &path,
        &failures,
        "orderings hold: work full ≈ equal < decorrelated < exponential < none for N ≥ 50; \
         exponential time ≫ every jittered strategy; the budget caps outage load",
        "ordering not reproduced",
    )
}
