//! The fleet's second scenario: a service offered twice its capacity for six minutes, then half
//! of it, and what an [`AdaptiveThrottle`], a [`RetryBudget`] and a [`CircuitBreaker`] do to
//! the load that reaches it, to its goodput, and to the callers.
//!
//! 100 clients each start calls in open loop, at the times of a Poisson process: one call per
//! 250 ms on average from t = 0 to t = 360 s, 400 first attempts a second. The service serves
//! 20 attempts per 100 ms bucket (capacity C = 200 a second), in 5 ms each; the attempts beyond
//! that in a bucket are answered at once with a cheap 503 (0.5 ms of service time), an overload
//! answer. So the first attempts alone offer 2C. From t = 360 s to t = 5,760 s (90 minutes, 45
//! throttle windows) each client starts one call a second on average: 100 a second, 0.5C. Every
//! network hop takes |Normal(10, 2)| ms. The starts are random rather than periodic as in the
//! outage scenario: here the capacity binds all the time, and a client with a fixed phase would
//! land at the same place in the service's 100 ms count at every call, so the same clients
//! would always be the ones answered 503.
//!
//! Each call makes up to 3 attempts, with exponential backoff (base 100 ms, factor 2, max 2 s)
//! and full jitter, every delay drawn by retry-runtime's [`Policy::jittered_delay`]. Six
//! configurations, every client with its own instances (as a `static` in each process would be):
//!
//! | configuration | per client |
//! |---|---|
//! | none | retries only |
//! | budget | `RetryBudget::new(10, 0.1)` |
//! | breaker | the outage scenario's [`CircuitBreaker`] |
//! | throttle K=2 | `AdaptiveThrottle::new()`: k = 2, the default 120 s window |
//! | throttle K=1.1 | `AdaptiveThrottle::new().with_k(1.1)` |
//! | throttle K=2 + budget | the K = 2 throttle and the budget |
//!
//! The guards are driven in the order retry-runtime's engine uses, the contract this scenario
//! stands on:
//!
//! 1. A call's first attempt asks the throttle, `admit(now, draw)` with `now` the simulated
//!    time and `draw` a uniform `u32` from the seeded generator: `Err(Throttled)` ends the call
//!    at once, rejected on the client. Then the breaker's `try_acquire()`: a refusal ends the
//!    call, also rejected on the client. Then the attempt is sent.
//! 2. After each answer the breaker's permit reports `failure()` for a 503 (a transient
//!    failure) and `success()` otherwise; the throttle hears `record(now, accepted)`, where only
//!    a 503 is not accepted; the budget deposits on a success.
//! 3. After a 503 with an attempt left, in this order: the backoff delay is drawn; if the
//!    breaker no longer `admits()`, the call ends with that 503; the throttle is asked for the
//!    retry, `admit(now, draw)`, at this turn, before the sleep (so the retry is counted as a
//!    request then), and a rejection ends the call with its 503, rejected on the client; the
//!    budget's `try_withdraw()` without a token ends the call. Then the call sleeps the delay,
//!    and the retry asks the breaker's `try_acquire()` before it goes out, as in step 1.
//!
//! The breaker reads tokio's clock, so the event loop runs on a current-thread runtime with the
//! clock paused and advances it to each event's time.
//!
//! Measured over the overload after the throttle's first window, t = 120 s to t = 360 s. Every
//! throttle starts with an empty window, which it fills during the first 120 s; from then on each
//! admission weighs a full window of overload, the steady state the throttle's bound is about
//! (the whole phase is printed too):
//!
//! - server arrivals: the attempts that reached the service (served or answered 503), per
//!   second, as a multiple of C;
//! - goodput: the attempts the service served, per second, as a percentage of C;
//! - client-side rejects: the attempts rejected on the client (throttle rejections and breaker
//!   refusals) out of the attempts the clients asked to make (those sent and those rejected),
//!   counted when they were asked for. A retry the budget refuses, or one not asked for because
//!   the breaker stopped admitting, is neither: the call gave it up and returned its 503.
//!
//! Recovery is the time from t = 360 s to the start of the first 1 s window of call starts, on
//! a 100 ms grid, after which every 1 s window (up to t = 5,760 s) has at least 99% of its calls
//! succeeding, the outage scenario's measure: back to full goodput, as the service answers
//! every call it is sent at 0.5C. A recovery less than a minute before the end of the run is
//! counted as none: a few good seconds at the end are no evidence.
//!
//! The throttles recover slowly, by their design, and the scenario measures how slowly. During
//! the overload K times the service's acceptance ratio is 1, a neutral equilibrium: a client's
//! rejection probability drifts, and some clients end near p = 0.998. Once the service is healthy
//! each window's accepts admit K times as many requests in the next, so a client's admitted share
//! grows as e^(λt), λW solving K (1 - e^(-λW)) / (λW) = 1: a time constant of 75 s for K = 2
//! (recovery in 5 to 20 minutes over six seeds) and of 620 s for K = 1.1 (30 to 65 minutes).
//!
//! The plot's lower panel shows the whole run, the attempts reaching the service per second in
//! 10 s means.
//!
//! The scenario fails its checks unless the unprotected fleet's arrivals exceed 4C, each
//! throttle keeps them at or below 1.1 K C, every throttled configuration keeps goodput at or
//! above 90% of C, and every configuration recovers (as above, by t = 5,700 s).

use std::time::Duration;

use plotters::coord::Shift;
use plotters::prelude::*;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use retry_benchmarks::sim::Queue;
use retry_runtime::{AdaptiveThrottle, CircuitBreaker, Jitter, Permit, Policy, RetryBudget};

use super::{breaker, budget, hop, nanos, settled_after, Buckets, BUCKET, MS, SEC};

const CLIENTS: usize = 100;
/// Each client starts a call this often on average during the overload...
const OVERLOAD_PERIOD: u64 = 250 * MS;
/// ...and this often after it.
const RECOVERY_PERIOD: u64 = SEC;
/// The overload runs from t = 0 until then...
const OVERLOAD_END: u64 = 360 * SEC;
/// ...then the recovery phase, this long: the throttle K = 1.1 takes 30 to 65 minutes to
/// recover (over six seeds), so 90 minutes leave a margin...
const RECOVERY: u64 = 90 * 60 * SEC;
/// ...and calls start until then.
const END: u64 = OVERLOAD_END + RECOVERY;
/// The throttle's window: the default two minutes.
const WINDOW: Duration = AdaptiveThrottle::new().window();
/// The measurements start once the throttles have a full window of overload behind them.
const MEASURED_FROM: u64 = WINDOW.as_nanos() as u64;
/// The attempts the service serves per 100 ms bucket: C = 200 a second.
const CAPACITY: u32 = 20;
/// The service's time for an attempt it serves...
const SERVICE_TIME: u64 = 5 * MS;
/// ...and for its 503 to an attempt beyond its capacity.
const OVERLOAD_ANSWER_TIME: u64 = MS / 2;
/// The most an arrival multiple may be for a throttle of multiple K: 1.1 K.
const THROTTLE_SLACK: f64 = 1.1;
/// The least goodput of a throttled configuration, as a share of capacity.
const THROTTLED_GOODPUT: f64 = 0.9;
/// The unprotected fleet's arrivals must exceed this multiple of capacity.
const UNPROTECTED_ARRIVALS: f64 = 4.0;
const SEED: u64 = 0x0E12_10AD;

/// The retry policy of every call: 3 attempts, 100 ms base, 2 s cap, full jitter.
const POLICY: Policy = Policy::new()
    .with_attempts(3)
    .with_base(Duration::from_millis(100))
    .with_factor(2.0)
    .with_max(Duration::from_secs(2))
    .with_jitter(Jitter::Full);

pub struct Config {
    pub name: &'static str,
    budget: bool,
    breaker: bool,
    /// The throttle's K, if the clients have a throttle.
    throttle_k: Option<f64>,
    color: RGBColor,
}

pub const CONFIGS: [Config; 6] = [
    Config {
        name: "none",
        budget: false,
        breaker: false,
        throttle_k: None,
        color: RGBColor(120, 120, 120),
    },
    Config {
        name: "budget",
        budget: true,
        breaker: false,
        throttle_k: None,
        color: RGBColor(31, 119, 180),
    },
    Config {
        name: "breaker",
        budget: false,
        breaker: true,
        throttle_k: None,
        color: RGBColor(214, 39, 40),
    },
    Config {
        name: "throttle K=2",
        budget: false,
        breaker: false,
        throttle_k: Some(2.0),
        color: RGBColor(255, 127, 14),
    },
    Config {
        name: "throttle K=1.1",
        budget: false,
        breaker: false,
        throttle_k: Some(1.1),
        color: RGBColor(148, 103, 189),
    },
    Config {
        name: "throttle K=2 + budget",
        budget: true,
        breaker: false,
        throttle_k: Some(2.0),
        color: RGBColor(44, 160, 44),
    },
];

/// Each client's throttle of multiple `k`, with the default window.
fn throttle(k: f64) -> AdaptiveThrottle {
    AdaptiveThrottle::new().with_k(k)
}

enum Step<'a> {
    /// A client starts a call (and schedules its next one).
    Start { client: usize },
    /// A call's backoff is over: its retry asks the breaker and goes out.
    Retry { call: usize },
    /// An attempt reaches the service.
    Arrive {
        call: usize,
        permit: Option<Permit<'a>>,
    },
    /// The attempt's answer reaches the client: `served`, or a 503.
    Answer {
        call: usize,
        permit: Option<Permit<'a>>,
        served: bool,
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

/// The per-client state of one configuration.
struct Client {
    budget: Option<RetryBudget>,
    breaker: Option<CircuitBreaker>,
    throttle: Option<AdaptiveThrottle>,
}

/// What one configuration's run counted, in 100 ms buckets where a time range is asked of it.
#[derive(Default)]
pub struct Tally {
    /// Attempts reaching the service, by arrival time.
    arrivals: Buckets,
    /// Attempts the service served (not answered 503), by arrival time.
    served: Buckets,
    /// Attempts that left a client, by the time they left.
    sent: Buckets,
    /// Attempts rejected by the throttle, and refused by the breaker, when asked for.
    throttled: Buckets,
    refused: Buckets,
    /// Calls, and calls that succeeded, by start time.
    started: Buckets,
    succeeded: Buckets,
    /// Calls that returned a 503 because the breaker stopped admitting after it, or because
    /// the budget had no token for the retry.
    ended_by_breaker: u64,
    ended_by_budget: u64,
    /// The tokio clock's reading at the last event, from the runtime's start.
    clock: Duration,
    /// The last event's simulated time.
    last_event: u64,
}

/// The sum of `buckets` over the 100 ms buckets of `from..to`.
fn sum(buckets: &Buckets, from: u64, to: u64) -> u64 {
    ((from / BUCKET) as usize..(to / BUCKET) as usize)
        .map(|i| u64::from(buckets.get(i)))
        .sum()
}

impl Tally {
    /// The attempts that reached the service in `from..to`, as a multiple of its capacity.
    fn arrivals(&self, from: u64, to: u64) -> f64 {
        sum(&self.arrivals, from, to) as f64 / capacity(from, to)
    }

    /// The attempts the service served in `from..to`, as a percentage of its capacity.
    fn goodput(&self, from: u64, to: u64) -> f64 {
        100.0 * sum(&self.served, from, to) as f64 / capacity(from, to)
    }

    /// The attempts asked for in `from..to` that the client rejected itself, in percent.
    fn rejects(&self, from: u64, to: u64) -> f64 {
        let rejected = sum(&self.throttled, from, to) + sum(&self.refused, from, to);
        let asked = rejected + sum(&self.sent, from, to);
        100.0 * rejected as f64 / asked.max(1) as f64
    }

    /// The calls started in `from..to` that succeeded, in percent.
    fn call_success(&self, from: u64, to: u64) -> f64 {
        let started = sum(&self.started, from, to).max(1);
        100.0 * sum(&self.succeeded, from, to) as f64 / started as f64
    }

    /// Seconds from the end of the overload until every 1 s window of calls has at least 99%
    /// of its calls succeeding; `None` if that comes less than a minute before the end of the
    /// run (or never), too late to tell a recovery from a lucky stretch.
    fn recovery(&self) -> Option<f64> {
        let latest = (END - LAST - OVERLOAD_END) as f64 / SEC as f64;
        settled_after(&self.started, &self.succeeded, OVERLOAD_END, END)
            .filter(|&seconds| seconds <= latest)
    }
}

/// The attempts the service can serve in `from..to`.
fn capacity(from: u64, to: u64) -> f64 {
    f64::from(CAPACITY) * ((to - from) / BUCKET) as f64
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
                throttle: config.throttle_k.map(throttle),
            })
            .collect();
        run(&clients).await
    })
}

/// Every configuration's run, in the order of [`CONFIGS`].
pub fn simulate_all() -> Vec<Tally> {
    CONFIGS.iter().map(simulate).collect()
}

/// The event loop's state, but for the clients its events borrow from.
struct World<'a> {
    calls: Vec<Call>,
    queue: Queue<u64, Step<'a>>,
    tally: Tally,
    /// Hops, backoff delays and the throttle's draws.
    rng: SmallRng,
    /// Each client's own generator of call starts, so that every configuration sees the same
    /// ones.
    starts: Vec<SmallRng>,
}

async fn run(clients: &[Client]) -> Tally {
    retry_runtime::seed_jitter(SEED);
    let mut world = World {
        calls: Vec::with_capacity(CLIENTS * (OVERLOAD_END / OVERLOAD_PERIOD) as usize),
        queue: Queue::new(),
        tally: Tally::default(),
        rng: SmallRng::seed_from_u64(SEED),
        starts: (0..CLIENTS as u64)
            .map(|client| SmallRng::seed_from_u64(SEED ^ 0xFA5E ^ (client << 32)))
            .collect(),
    };
    for client in 0..CLIENTS {
        let first = world.next_start(client, 0);
        world.queue.push(first, Step::Start { client });
    }
    let origin = tokio::time::Instant::now();
    let mut now = 0u64;
    while let Some((at, step)) = world.queue.pop() {
        tokio::time::advance(Duration::from_nanos(at - now)).await;
        now = at;
        match step {
            Step::Start { client } => world.start(client, at, clients),
            Step::Retry { call } => world.send(call, at, clients),
            Step::Arrive { call, permit } => world.arrive(call, permit, at),
            Step::Answer {
                call,
                permit,
                served,
            } => world.answer(call, permit, served, at, clients),
        }
    }
    world.tally.clock = tokio::time::Instant::now() - origin;
    world.tally.last_event = now;
    world.tally
}

/// An exponential gap of mean `mean` nanoseconds, from a uniform draw.
fn gap(rng: &mut SmallRng, mean: u64) -> u64 {
    let u: f64 = rng.random();
    (-(1.0 - u).ln() * mean as f64).round() as u64
}

impl<'a> World<'a> {
    /// When `client`, which started a call at `at` (or starts at `at = 0`), starts its next
    /// one: a Poisson process of the overload's rate until its end, then of the recovery's.
    fn next_start(&mut self, client: usize, at: u64) -> u64 {
        let rng = &mut self.starts[client];
        if at < OVERLOAD_END {
            let next = at + gap(rng, OVERLOAD_PERIOD);
            if next < OVERLOAD_END {
                return next;
            }
            // Memoryless: the recovery's process starts afresh at the end of the overload.
            return OVERLOAD_END + gap(rng, RECOVERY_PERIOD);
        }
        at + gap(rng, RECOVERY_PERIOD)
    }

    /// `client` starts a call at `at`: the throttle is asked for its first attempt, which is
    /// then sent (or refused by the breaker).
    fn start(&mut self, client: usize, at: u64, clients: &'a [Client]) {
        let next = self.next_start(client, at);
        if next < END {
            self.queue.push(next, Step::Start { client });
        }
        let id = self.calls.len();
        self.calls.push(Call {
            client,
            start: at,
            attempt: 1,
            previous: Duration::ZERO,
        });
        self.tally.started.add(at);
        if let Some(throttle) = &clients[client].throttle {
            if throttle
                .admit(Duration::from_nanos(at), self.rng.random())
                .is_err()
            {
                self.tally.throttled.add(at);
                return;
            }
        }
        self.send(id, at, clients);
    }

    /// An attempt of call `id` at `at`: asks the breaker, then goes out; a refusal ends the
    /// call.
    fn send(&mut self, id: usize, at: u64, clients: &'a [Client]) {
        let permit = match &clients[self.calls[id].client].breaker {
            Some(breaker) => match breaker.try_acquire() {
                Ok(permit) => Some(permit),
                Err(_open) => {
                    self.tally.refused.add(at);
                    return;
                }
            },
            None => None,
        };
        self.tally.sent.add(at);
        let arrival = at + hop(&mut self.rng);
        self.queue.push(arrival, Step::Arrive { call: id, permit });
    }

    /// An attempt reaches the service at `at`: served if its bucket has room, else a 503.
    fn arrive(&mut self, call: usize, permit: Option<Permit<'a>>, at: u64) {
        let served = self.tally.arrivals.add(at) <= CAPACITY;
        let service = if served {
            self.tally.served.add(at);
            SERVICE_TIME
        } else {
            OVERLOAD_ANSWER_TIME
        };
        let answered = at + service + hop(&mut self.rng);
        self.queue.push(
            answered,
            Step::Answer {
                call,
                permit,
                served,
            },
        );
    }

    /// An answer reaches the client at `at`: the breaker, the throttle and the budget hear of
    /// it; a 503 with an attempt left goes to [`World::retry_turn`].
    fn answer(
        &mut self,
        id: usize,
        permit: Option<Permit<'a>>,
        served: bool,
        at: u64,
        clients: &'a [Client],
    ) {
        let client = &clients[self.calls[id].client];
        if let Some(permit) = permit {
            if served {
                permit.success()
            } else {
                permit.failure()
            }
        }
        if let Some(throttle) = &client.throttle {
            throttle.record(Duration::from_nanos(at), served);
        }
        if served {
            if let Some(budget) = &client.budget {
                budget.deposit();
            }
            self.tally.succeeded.add(self.calls[id].start);
        } else if self.calls[id].attempt < POLICY.attempts() {
            self.retry_turn(id, at, client);
        }
    }

    /// The turn after a 503 with an attempt left, in the engine's order: the delay, the
    /// breaker's admission, the throttle's (asked now, for the retry), the budget's token;
    /// then the retry is scheduled after the delay. Any refusal ends the call with its 503.
    fn retry_turn(&mut self, id: usize, at: u64, client: &Client) {
        let call = &mut self.calls[id];
        let delay = POLICY.jittered_delay(call.attempt, call.previous, &mut self.rng);
        if client.breaker.as_ref().is_some_and(|b| !b.admits()) {
            self.tally.ended_by_breaker += 1;
            return;
        }
        if let Some(throttle) = &client.throttle {
            if throttle
                .admit(Duration::from_nanos(at), self.rng.random())
                .is_err()
            {
                self.tally.throttled.add(at);
                return;
            }
        }
        if client.budget.as_ref().is_some_and(|b| !b.try_withdraw()) {
            self.tally.ended_by_budget += 1;
            return;
        }
        call.previous = delay;
        call.attempt += 1;
        self.queue.push(at + nanos(delay), Step::Retry { call: id });
    }
}

/// Prints the scenario's parameters, its line per configuration, and the details.
pub fn print(tallies: &[Tally]) {
    let (from, to) = (MEASURED_FROM, OVERLOAD_END);
    println!(
        "\nOverload scenario: {CLIENTS} clients, each starting calls at Poisson times (open loop), \
         one per {} ms on average from t = 0 to t = {} s, then one per {} ms until t = {} s (a \
         recovery phase of {} min); capacity C = {CAPACITY} attempts per {} ms ({} per second), \
         the attempts beyond it in a bucket answered 503 in {} us (served: {} ms); \
         first attempts offered {:.1}x C during the overload and {:.1}x C after it; hops \
         |N(10, 2)| ms. Each call: up to {} attempts, exponential backoff base {:?}, max {:?}, \
         full jitter. Per client: budget = RetryBudget::new(10, 0.1); breaker as above; \
         throttle = AdaptiveThrottle with the default {:?} window, K as named. Measured from \
         t = {} s (one window into the overload) to t = {} s.\n",
        OVERLOAD_PERIOD / MS,
        OVERLOAD_END / SEC,
        RECOVERY_PERIOD / MS,
        END / SEC,
        RECOVERY / (60 * SEC),
        BUCKET / MS,
        u64::from(CAPACITY) * SEC / BUCKET,
        OVERLOAD_ANSWER_TIME / 1_000,
        SERVICE_TIME / MS,
        offered(OVERLOAD_PERIOD),
        offered(RECOVERY_PERIOD),
        POLICY.attempts(),
        POLICY.base(),
        POLICY.max(),
        WINDOW,
        from / SEC,
        to / SEC,
    );
    for (config, t) in CONFIGS.iter().zip(tallies) {
        println!(
            "overload 2x: {} goodput {:.1}% of capacity, server arrivals {:.2}x capacity, \
             client-side rejects {:.1}%",
            config.name,
            t.goodput(from, to),
            t.arrivals(from, to),
            t.rejects(from, to),
        );
    }
    println!();
    for (config, t) in CONFIGS.iter().zip(tallies) {
        print_details(config, t);
    }
    println!(
        "\nRecovery: the time from t = {} s to the start of the first 1 s window of call \
         starts, on a 100 ms grid, after which every 1 s window (up to t = {} s) has at least 99% \
         of its calls succeeding; \"never\" if that is not so by t = {} s.",
        OVERLOAD_END / SEC,
        END / SEC,
        (END - LAST) / SEC,
    );
}

/// One configuration's line of details: the whole overload phase, the calls, the recovery.
fn print_details(config: &Config, t: &Tally) {
    let (from, to) = (MEASURED_FROM, OVERLOAD_END);
    let recovery = t
        .recovery()
        .map_or_else(|| "never".to_string(), |s| format!("{s:.1} s"));
    println!(
        "{}: over the whole overload (t = 0 to {} s) goodput {:.1}%, arrivals {:.2}x, rejects \
         {:.1}%; calls started from t = {} s to {} s succeeding {:.1}%; over the run, attempts \
         rejected {} by the throttle and {} by the breaker, calls ended at a retry's turn {} by \
         the breaker and {} by the budget; calls started after t = {} s succeeding {:.1}% in the \
         first {} s, {:.1}% in the last {} s; recovery: {recovery}",
        config.name,
        to / SEC,
        t.goodput(0, to),
        t.arrivals(0, to),
        t.rejects(0, to),
        from / SEC,
        to / SEC,
        t.call_success(from, to),
        total(&t.throttled),
        total(&t.refused),
        t.ended_by_breaker,
        t.ended_by_budget,
        to / SEC,
        t.call_success(to, to + MEASURED_FROM),
        MEASURED_FROM / SEC,
        t.call_success(END - LAST, END),
        LAST / SEC,
    );
}

/// The end of the run over which the details report call success, and that a recovery must
/// leave: the last minute.
const LAST: u64 = 60 * SEC;

/// Every count of `buckets`.
fn total(buckets: &Buckets) -> u64 {
    buckets.0.iter().map(|&n| u64::from(n)).sum()
}

/// First attempts a second, as a multiple of capacity, for calls started every `period`.
fn offered(period: u64) -> f64 {
    CLIENTS as f64 * SEC as f64 / period as f64 / (f64::from(CAPACITY) * (SEC / BUCKET) as f64)
}

/// The scenario's checks: what failed, if anything.
pub fn checks(tallies: &[Tally]) -> Vec<String> {
    let (from, to) = (MEASURED_FROM, OVERLOAD_END);
    let mut failures = Vec::new();
    for (config, t) in CONFIGS.iter().zip(tallies) {
        let arrivals = t.arrivals(from, to);
        let goodput = t.goodput(from, to);
        if config.name == "none" && arrivals <= UNPROTECTED_ARRIVALS {
            failures.push(format!(
                "overload: without protection the arrivals are {arrivals:.2}x capacity, not \
                 above {UNPROTECTED_ARRIVALS}x"
            ));
        }
        if let Some(k) = config.throttle_k {
            let bound = THROTTLE_SLACK * k;
            if arrivals > bound {
                failures.push(format!(
                    "overload: {} lets {arrivals:.2}x capacity reach the service, above {bound:.2}x",
                    config.name
                ));
            }
            if goodput < 100.0 * THROTTLED_GOODPUT {
                failures.push(format!(
                    "overload: {} keeps goodput at {goodput:.1}% of capacity, below {:.0}%",
                    config.name,
                    100.0 * THROTTLED_GOODPUT
                ));
            }
        }
        if t.recovery().is_none() {
            failures.push(format!(
                "overload: {}: the clients do not return to full goodput by t = {} s",
                config.name,
                (END - LAST) / SEC
            ));
        }
        if t.clock != Duration::from_nanos(t.last_event) {
            failures.push(format!(
                "overload: {}: tokio's clock reads {:?} at the last event, simulated time {:?}",
                config.name,
                t.clock,
                Duration::from_nanos(t.last_event)
            ));
        }
    }
    failures
}

/// What the scenario's checks say when they all hold.
pub const HELD: &str = "overload checks hold: without protection the arrivals exceed 4x \
    capacity, each throttle keeps them at or below 1.1 K x capacity with goodput at or above 90% \
    of capacity, and every configuration returns to full goodput";

/// The plot's lower panel averages the attempts reaching the service over this long.
const MEAN: u64 = 10 * SEC;

/// The lower panel: the attempts reaching the service per second, in 10 s means over the whole
/// run, per configuration.
pub fn panel(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    tallies: &[Tally],
) -> Result<(), Box<dyn std::error::Error>> {
    let per_mean = (MEAN / BUCKET) as usize;
    let means = (END / MEAN) as usize;
    // The attempts per second over the `m`th 10 s.
    let rate = |t: &Tally, m: usize| -> f64 {
        let attempts: u64 = (m * per_mean..(m + 1) * per_mean)
            .map(|i| u64::from(t.arrivals.get(i)))
            .sum();
        attempts as f64 * SEC as f64 / MEAN as f64
    };
    let capacity = f64::from(CAPACITY) * (SEC / BUCKET) as f64;
    let y_max = tallies
        .iter()
        .flat_map(|t| (0..means).map(move |m| rate(t, m)))
        .fold(capacity, f64::max)
        * 1.08;
    let x_max = END as f64 / SEC as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!(
                "Attempts reaching the service: offered 2x capacity until {} s, then 0.5x \
                 until {} s",
                OVERLOAD_END / SEC,
                END / SEC
            ),
            ("sans-serif", 22),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc("attempts per second (10 s means)")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    let overload = RGBColor(214, 39, 40).mix(0.08);
    let overload_end = OVERLOAD_END as f64 / SEC as f64;
    chart
        .draw_series(std::iter::once(Rectangle::new(
            [(0.0, 0.0), (overload_end, y_max)],
            overload.filled(),
        )))?
        .label("overload (measured from 120 s)")
        .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 18, y + 6)], overload.filled()));
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
                (0..means).map(|m| ((m as u64 * MEAN) as f64 / SEC as f64, rate(tally, m))),
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
