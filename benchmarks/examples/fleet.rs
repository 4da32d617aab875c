//! A fleet of clients through an outage and a recovery: what a [`CircuitBreaker`] and a
//! [`RetryBudget`] do to the load on the service, to the callers, and to the recovery. A second
//! scenario, an overload at twice the service's capacity, adds the [`AdaptiveThrottle`]: see
//! `fleet/overload.rs`, whose lines and details are printed after this scenario's table.
//!
//! ```text
//! cargo run --release -p retry-benchmarks --example fleet                   # table, plot in target/fleet.svg
//! cargo run --release -p retry-benchmarks --example fleet -- docs/fleet.svg
//! ```
//!
//! 100 clients each start one call every 100 ms (open loop, each with a random phase) for 70 s
//! of simulated time: 1,000 calls a second. Every network hop takes |Normal(10, 2)| ms and the
//! service takes 5 ms per attempt, whatever the outcome. The service is healthy, then down from
//! t = 10 s to t = 40 s (every attempt that reaches it fails), then healthy again. It has a
//! capacity of 150 attempts per 100 ms (1.5 times the fleet's base rate): the attempts beyond
//! it in a 100 ms bucket fail as overloaded, so a retry storm can hold back the recovery.
//!
//! Each call makes up to 4 attempts, with exponential backoff (base 100 ms, factor 2, max 2 s)
//! and full jitter, every delay drawn by retry-runtime's [`Policy::jittered_delay`]. Four
//! configurations, every client with its own instances (as a `static` in each process would be):
//!
//! | configuration | per client |
//! |---|---|
//! | none | retries only |
//! | budget | `RetryBudget::new(10, 0.1)` |
//! | breaker | a [`CircuitBreaker`] (settings printed with the table) |
//! | both | the budget and the breaker |
//!
//! The budget and the breaker are driven exactly as `#[retry(budget = ..., breaker = ...)]`
//! drives them: each attempt asks the breaker first, and a refusal ends the call at once with
//! `BreakerOpen`; an attempt's transient failure is reported as `failure()`, a success as
//! `success()`; a failure after which the breaker no longer admits attempts is followed at once
//! by a refused attempt, unless it was the last attempt; each retry withdraws a token and each successful call deposits. The
//! breaker reads tokio's clock, so the event loop runs on a current-thread runtime with the
//! clock paused and advances it to each event's time before handling the event.
//!
//! The example prints a table, writes a plot of the attempts reaching the service per second
//! (this scenario in the upper panel, the overload in the lower one), and fails if the breaker
//! does not cut the attempts reaching the service during the outage to at most half of what
//! unprotected clients send (and the budget with the breaker to at most what the breaker alone
//! lets through), if a configuration never recovers, or if a check of the overload scenario
//! fails.
//!
//! [`AdaptiveThrottle`]: retry_runtime::AdaptiveThrottle

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use plotters::coord::Shift;
use plotters::prelude::*;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use retry_benchmarks::sim::{finish, hop_ms, plot_path, Queue};
use retry_runtime::{CircuitBreaker, Jitter, Permit, Policy, RetryBudget};

#[path = "fleet/overload.rs"]
mod overload;

/// Simulated time is kept in integer nanoseconds.
const MS: u64 = 1_000_000;
const SEC: u64 = 1_000 * MS;

const CLIENTS: usize = 100;
/// Each client starts a call this often.
const PERIOD: u64 = 100 * MS;
/// Calls start until then.
const END: u64 = 70 * SEC;
const OUTAGE_START: u64 = 10 * SEC;
const OUTAGE_END: u64 = 40 * SEC;
/// The service's time per attempt, between the two hops.
const SERVICE_TIME: u64 = 5 * MS;
/// The service counts the attempts that reach it per bucket of this length...
const BUCKET: u64 = 100 * MS;
/// ... and fails those beyond this many in a bucket: 1.5 times the fleet's base rate.
const CAPACITY: u32 = (CLIENTS as u64 * BUCKET / PERIOD) as u32 * 3 / 2;
/// The success rate a 1 s window of calls must reach to count as recovered.
const RECOVERED: f64 = 0.99;
const WINDOW: u64 = SEC;
const SEED: u64 = 0x5EED_F1EE7;

/// The retry policy of every call: 4 attempts, 100 ms base, 2 s cap, full jitter.
const POLICY: Policy = Policy::new()
    .with_attempts(4)
    .with_base(Duration::from_millis(100))
    .with_factor(2.0)
    .with_max(Duration::from_secs(2))
    .with_jitter(Jitter::Full);

/// Each client's budget: a burst of 10 retries, one more earned per 10 successful calls.
fn budget() -> RetryBudget {
    RetryBudget::new(10, 0.1)
}

/// Each client's breaker. A client makes 10 calls a second (up to 40 attempts during an
/// outage), so 20 attempts, half of them failed, within 10 s is a verdict reached in one to two
/// seconds, and a handful of failures is not. The break is 2 s rather than the default 5 s: at
/// 10 calls a second a probe every 2 s costs the service little, and the break bounds how long
/// a client keeps failing after the service is back.
fn breaker() -> CircuitBreaker {
    CircuitBreaker::new()
        .with_failure_ratio(0.5)
        .with_min_throughput(20)
        .with_sampling(Duration::from_secs(10))
        .with_break(Duration::from_secs(2))
        .with_break_jitter(0.2)
        .with_probes(1)
}

struct Config {
    name: &'static str,
    budget: bool,
    breaker: bool,
    color: RGBColor,
}

const CONFIGS: [Config; 4] = [
    Config {
        name: "none",
        budget: false,
        breaker: false,
        color: RGBColor(120, 120, 120),
    },
    Config {
        name: "budget",
        budget: true,
        breaker: false,
        color: RGBColor(31, 119, 180),
    },
    Config {
        name: "breaker",
        budget: false,
        breaker: true,
        color: RGBColor(214, 39, 40),
    },
    Config {
        name: "both",
        budget: true,
        breaker: true,
        color: RGBColor(44, 160, 44),
    },
];

/// One network hop: |Normal(10, 2)| ms (Box-Muller), in nanoseconds.
fn hop(rng: &mut SmallRng) -> u64 {
    let u1 = 1.0 - rng.random::<f64>();
    (hop_ms(u1, rng.random()) * MS as f64).round() as u64
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

enum Step<'a> {
    /// A client starts a call (and schedules its next one).
    Start { client: usize },
    /// A call's backoff is over: it makes its next attempt.
    Retry { call: usize },
    /// An attempt reaches the service.
    Arrive {
        call: usize,
        permit: Option<Permit<'a>>,
    },
    /// The attempt's reply reaches the client.
    Reply {
        call: usize,
        permit: Option<Permit<'a>>,
        ok: bool,
    },
}

struct Call {
    client: usize,
    start: u64,
    /// The attempt being made (1-based).
    attempt: u32,
    /// The previous backoff delay.
    previous: Duration,
}

/// Counts in 100 ms buckets, growing as needed.
#[derive(Default)]
struct Buckets(Vec<u32>);

impl Buckets {
    fn add(&mut self, at: u64) -> u32 {
        let i = (at / BUCKET) as usize;
        if i >= self.0.len() {
            self.0.resize(i + 1, 0);
        }
        self.0[i] += 1;
        self.0[i]
    }
    fn get(&self, i: usize) -> u32 {
        self.0.get(i).copied().unwrap_or(0)
    }
}

#[derive(Default)]
struct Tally {
    /// Attempts reaching the service, by arrival time: also the service's load.
    load: Buckets,
    /// Calls, and calls that succeeded, by start time.
    started: Buckets,
    succeeded: Buckets,
    attempts_in_outage: u64,
    calls_in_outage: u64,
    overloaded: u64,
    refused_calls: u64,
    failed_calls: u64,
    failed_time: u64,
    calls: u64,
    transitions: u64,
    open_at_end: usize,
    /// The tokio clock's reading at the last event, from the runtime's start.
    clock: Duration,
    /// The last event's simulated time.
    last_event: u64,
}

impl Tally {
    /// Seconds from t = 40 s to the start of the first 1 s window (on a 100 ms grid) after
    /// which every 1 s window of call starts has at least 99% of its calls succeeding; `None`
    /// if even the last window does not.
    fn recovery(&self) -> Option<f64> {
        settled_after(&self.started, &self.succeeded, OUTAGE_END, END)
    }

    fn mean_failure_ms(&self) -> f64 {
        self.failed_time as f64 / self.failed_calls.max(1) as f64 / MS as f64
    }
}

/// Seconds from `from` to the start of the first 1 s window (on a 100 ms grid) after which
/// every 1 s window of call starts up to `end` has at least 99% of its calls succeeding; `None`
/// if even the last window does not. `started` and `succeeded` count calls by start time.
fn settled_after(started: &Buckets, succeeded: &Buckets, from: u64, end: u64) -> Option<f64> {
    let per_window = (WINDOW / BUCKET) as usize;
    let first = (from / BUCKET) as usize;
    let last = (end / BUCKET) as usize - per_window;
    let good = |s: usize| {
        let (ok, all) = (s..s + per_window).fold((0u64, 0u64), |(ok, all), i| {
            (
                ok + u64::from(succeeded.get(i)),
                all + u64::from(started.get(i)),
            )
        });
        all > 0 && ok as f64 >= RECOVERED * all as f64
    };
    let mut settled = first;
    for s in (first..=last).rev() {
        if !good(s) {
            if s == last {
                return None;
            }
            settled = s + 1;
            break;
        }
    }
    Some((settled - first) as f64 * BUCKET as f64 / SEC as f64)
}

/// The per-client state of one configuration.
struct Client {
    budget: Option<RetryBudget>,
    breaker: Option<CircuitBreaker>,
}

/// One configuration's run, on a current-thread runtime whose paused clock follows the
/// simulation.
fn simulate(config: &Config) -> Tally {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime");
    runtime.block_on(async {
        let clients: Vec<Client> = (0..CLIENTS)
            .map(|_| Client {
                budget: config.budget.then(budget),
                breaker: config.breaker.then(breaker),
            })
            .collect();
        run(&clients).await
    })
}

/// Settles a call: it ends with an error at `at`.
fn fail(tally: &mut Tally, call: &Call, at: u64) {
    tally.failed_calls += 1;
    tally.failed_time += at - call.start;
}

/// An attempt of `calls[id]` at `at`: asks the breaker, then goes out; a refusal ends the call.
fn attempt<'a>(
    id: usize,
    at: u64,
    calls: &[Call],
    clients: &'a [Client],
    queue: &mut Queue<u64, Step<'a>>,
    tally: &mut Tally,
    rng: &mut SmallRng,
) {
    let call = &calls[id];
    let permit = match &clients[call.client].breaker {
        Some(breaker) => match breaker.try_acquire() {
            Ok(permit) => Some(permit),
            Err(_open) => {
                tally.refused_calls += 1;
                fail(tally, call, at);
                return;
            }
        },
        None => None,
    };
    queue.push(at + hop(rng), Step::Arrive { call: id, permit });
}

async fn run(clients: &[Client]) -> Tally {
    retry_runtime::seed_jitter(SEED);
    let mut rng = SmallRng::seed_from_u64(SEED);
    let mut tally = Tally::default();
    let mut calls: Vec<Call> = Vec::with_capacity(CLIENTS * (END / PERIOD) as usize);
    let mut queue = Queue::new();
    // The phases come from their own generator, so that every configuration sees the same
    // call starts.
    let mut phases = SmallRng::seed_from_u64(SEED ^ 0xFA5E);
    for client in 0..CLIENTS {
        queue.push(phases.random_range(0..PERIOD), Step::Start { client });
    }
    let origin = tokio::time::Instant::now();
    let mut now = 0u64;
    while let Some((at, kind)) = queue.pop() {
        tokio::time::advance(Duration::from_nanos(at - now)).await;
        now = at;
        match kind {
            Step::Start { client } => {
                if at + PERIOD < END {
                    queue.push(at + PERIOD, Step::Start { client });
                }
                let id = calls.len();
                calls.push(Call {
                    client,
                    start: at,
                    attempt: 1,
                    previous: Duration::ZERO,
                });
                tally.calls += 1;
                tally.started.add(at);
                if (OUTAGE_START..OUTAGE_END).contains(&at) {
                    tally.calls_in_outage += 1;
                }
                attempt(id, at, &calls, clients, &mut queue, &mut tally, &mut rng);
            }
            Step::Retry { call } => {
                attempt(call, at, &calls, clients, &mut queue, &mut tally, &mut rng);
            }
            Step::Arrive { call, permit } => {
                let load = tally.load.add(at);
                let down = (OUTAGE_START..OUTAGE_END).contains(&at);
                if down {
                    tally.attempts_in_outage += 1;
                } else if load > CAPACITY {
                    tally.overloaded += 1;
                }
                let ok = !down && load <= CAPACITY;
                queue.push(
                    at + SERVICE_TIME + hop(&mut rng),
                    Step::Reply { call, permit, ok },
                );
            }
            Step::Reply {
                call: id,
                permit,
                ok,
            } => {
                let client = &clients[calls[id].client];
                if let Some(permit) = permit {
                    if ok {
                        permit.success()
                    } else {
                        permit.failure()
                    }
                }
                if ok {
                    if let Some(budget) = &client.budget {
                        budget.deposit();
                    }
                    tally.succeeded.add(calls[id].start);
                    continue;
                }
                if calls[id].attempt < POLICY.attempts()
                    && client.breaker.as_ref().is_some_and(|b| !b.admits())
                {
                    // The failure opened the breaker (or a probe is out): the next attempt is
                    // made at once, and refused. After the last attempt the call returns its
                    // own failure.
                    attempt(id, at, &calls, clients, &mut queue, &mut tally, &mut rng);
                    continue;
                }
                let call = &mut calls[id];
                let retry = call.attempt < POLICY.attempts()
                    && client.budget.as_ref().is_none_or(RetryBudget::try_withdraw);
                if !retry {
                    fail(&mut tally, call, at);
                    continue;
                }
                let delay = POLICY.jittered_delay(call.attempt, call.previous, &mut rng);
                call.previous = delay;
                call.attempt += 1;
                queue.push(at + nanos(delay), Step::Retry { call: id });
            }
        }
    }
    tally.clock = tokio::time::Instant::now() - origin;
    tally.last_event = now;
    for client in clients {
        if let Some(breaker) = &client.breaker {
            let stats = breaker.stats();
            tally.transitions += stats.transitions;
            tally.open_at_end += usize::from(stats.state != retry_runtime::BreakerState::Closed);
        }
    }
    tally
}

/// Writes the plot: the outage scenario's panel above the overload scenario's.
fn plot(
    path: &PathBuf,
    tallies: &[Tally],
    overloaded: &[overload::Tally],
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (1200, 1000)).into_drawing_area();
    root.fill(&WHITE)?;
    let (upper, lower) = root.split_vertically(500);
    outage_panel(&upper, tallies)?;
    overload::panel(&lower, overloaded)?;
    root.present()?;
    Ok(())
}

/// The upper panel: the attempts reaching the service per second through the outage, per
/// configuration.
fn outage_panel(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    tallies: &[Tally],
) -> Result<(), Box<dyn std::error::Error>> {
    let per_second = (SEC / BUCKET) as f64;
    let buckets = (END / BUCKET) as usize;
    let y_max = tallies
        .iter()
        .flat_map(|t| (0..buckets).map(|i| f64::from(t.load.get(i)) * per_second))
        .fold(f64::from(CAPACITY) * per_second, f64::max)
        * 1.08;
    let x_max = END as f64 / SEC as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(
            "Attempts reaching the service: outage from 10 s to 40 s",
            ("sans-serif", 22),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc("attempts per second (100 ms buckets)")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    let outage = RGBColor(214, 39, 40).mix(0.08);
    chart
        .draw_series(std::iter::once(Rectangle::new(
            [
                (OUTAGE_START as f64 / SEC as f64, 0.0),
                (OUTAGE_END as f64 / SEC as f64, y_max),
            ],
            outage.filled(),
        )))?
        .label("service down")
        .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 18, y + 6)], outage.filled()));
    let capacity = f64::from(CAPACITY) * per_second;
    chart
        .draw_series(DashedLineSeries::new(
            [(0.0, capacity), (x_max, capacity)],
            6,
            4,
            BLACK.mix(0.6).stroke_width(1),
        ))?
        .label("capacity")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK.mix(0.6)));
    for (config, tally) in CONFIGS.iter().zip(tallies) {
        let color = config.color;
        chart
            .draw_series(LineSeries::new(
                (0..buckets).map(|i| {
                    (
                        (i as u64 * BUCKET) as f64 / SEC as f64,
                        f64::from(tally.load.get(i)) * per_second,
                    )
                }),
                color.stroke_width(2),
            ))?
            .label(config.name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()?;
    Ok(())
}

fn main() -> ExitCode {
    let path = match plot_path("target/fleet.svg") {
        Ok(path) => path,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::FAILURE;
        }
    };
    let tallies: Vec<Tally> = CONFIGS.iter().map(simulate).collect();
    let overloaded = overload::simulate_all();
    print_outage(&tallies);
    overload::print(&overloaded);
    let mut failures = outage_checks(&tallies);
    failures.extend(overload::checks(&overloaded));
    let held = format!(
        "checks hold: the breaker keeps at most half the unprotected outage load, the budget \
         with it no more than the breaker alone, and every configuration recovers\n{}",
        overload::HELD
    );
    finish(
        plot(&path, &tallies, &overloaded),
        &path,
        &failures,
        &held,
        "check failed",
    )
}

/// Prints the outage scenario's parameters, table and notes.
fn print_outage(tallies: &[Tally]) {
    let b = breaker();
    println!(
        "Fleet simulation: {CLIENTS} clients, one call each per {} ms (open loop) for {} s; \
         hops |N(10, 2)| ms, service time {} ms; service down from t = {} s to t = {} s; \
         capacity {CAPACITY} attempts per {} ms (1.5 x the base rate), the rest fail as overloaded\n",
        PERIOD / MS,
        END / SEC,
        SERVICE_TIME / MS,
        OUTAGE_START / SEC,
        OUTAGE_END / SEC,
        BUCKET / MS,
    );
    println!(
        "Each call: up to {} attempts, exponential backoff base {:?}, max {:?}, full jitter. \
         Per client: budget = RetryBudget::new(10, 0.1); breaker = CircuitBreaker with \
         failure_ratio {}, min_throughput {}, sampling {:?}, break {:?}, break_jitter {}, probes {}\n",
        POLICY.attempts(),
        POLICY.base(),
        POLICY.max(),
        b.failure_ratio().unwrap_or(f64::NAN),
        b.min_throughput().unwrap_or(0),
        b.sampling().unwrap_or_default(),
        b.break_duration(),
        b.break_jitter(),
        b.probes(),
    );
    println!(
        "| configuration | attempts reaching the service in the outage | per call started in the outage \
         | calls refused by the breaker | attempts failed as overloaded | recovery after t = 40 s (s) \
         | mean duration of a failing call (ms) | calls failed |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (config, t) in CONFIGS.iter().zip(tallies) {
        let recovery = t
            .recovery()
            .map_or_else(|| "never".to_string(), |s| format!("{s:.1}"));
        println!(
            "| {} | {} | {:.3} | {} | {} | {recovery} | {:.0} | {} |",
            config.name,
            t.attempts_in_outage,
            t.attempts_in_outage as f64 / t.calls_in_outage.max(1) as f64,
            t.refused_calls,
            t.overloaded,
            t.mean_failure_ms(),
            t.failed_calls,
        );
    }
    println!(
        "\nRecovery: the time from t = 40 s to the start of the first 1 s window, on a 100 ms grid, \
         after which every 1 s window of call starts (up to t = 70 s) has at least 99% of its \
         calls succeeding. Attempts in the outage: those reaching the service between \
         t = {} s and t = {} s; per call: divided by the calls started in that time ({}). A call \
         refused by the breaker ended with BreakerOpen: refused at its first attempt, or at the \
         attempt made at once after a failure that left the breaker open. A failing call lasts \
         from its start until it returns its error. {} calls per configuration.",
        OUTAGE_START / SEC,
        OUTAGE_END / SEC,
        tallies[0].calls_in_outage,
        tallies[0].calls
    );
    for (config, t) in CONFIGS.iter().zip(tallies) {
        if config.breaker {
            println!(
                "{}: {} breaker transitions over the fleet, {} breakers not closed at the end",
                config.name, t.transitions, t.open_at_end
            );
        }
    }
}

/// The outage scenario's checks: what failed, if anything.
fn outage_checks(tallies: &[Tally]) -> Vec<String> {
    let mut failures = Vec::new();
    let find = |name: &str| {
        CONFIGS
            .iter()
            .position(|c| c.name == name)
            .map(|i| &tallies[i])
    };
    if let (Some(none), Some(breaker), Some(both)) = (find("none"), find("breaker"), find("both")) {
        if 2 * breaker.attempts_in_outage > none.attempts_in_outage {
            failures.push(format!(
                "the breaker lets {} attempts reach the service during the outage, more than half \
                 of the {} without protection",
                breaker.attempts_in_outage, none.attempts_in_outage
            ));
        }
        if both.attempts_in_outage > breaker.attempts_in_outage {
            failures.push(format!(
                "the budget with the breaker lets {} attempts through during the outage, more \
                 than the breaker alone ({})",
                both.attempts_in_outage, breaker.attempts_in_outage
            ));
        }
    } else {
        failures.push("a configuration is missing".into());
    }
    for (config, t) in CONFIGS.iter().zip(tallies) {
        if t.recovery().is_none() {
            failures.push(format!("{}: the clients never recover", config.name));
        }
        if t.clock != Duration::from_nanos(t.last_event) {
            failures.push(format!(
                "{}: tokio's clock reads {:?} at the last event, simulated time {:?}",
                config.name,
                t.clock,
                Duration::from_nanos(t.last_event)
            ));
        }
    }
    failures
}
