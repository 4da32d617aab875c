//! One `CircuitBreaker` hammered by 64 tasks on a 4-worker tokio runtime, on the real clock,
//! through a healthy phase, an outage and a recovery: never more probes in flight than
//! `probes`, the breaker opens during the outage and is closed after the recovery, and the
//! transition listener sees every transition the breaker counts, forming a consistent history.
//! Then failures of attempts admitted while closed race to open a breaker, and the break it
//! keeps must be the one its listener was told.
//!
//! ```text
//! cargo test --test breaker_stress
//! for i in $(seq 20); do cargo test -q --test breaker_stress a_shared_breaker || break; done
//! ```

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use retry_runtime::{BreakerState, CircuitBreaker, Transition};

const TASKS: usize = 64;
const PROBES: u32 = 3;
const BREAK: Duration = Duration::from_millis(20);

static LISTENED: AtomicU64 = AtomicU64::new(0);
static HISTORY: Mutex<Vec<Transition>> = Mutex::new(Vec::new());

fn listen(t: Transition) {
    LISTENED.fetch_add(1, Ordering::SeqCst);
    HISTORY.lock().unwrap().push(t);
}

static BREAKER: CircuitBreaker = CircuitBreaker::new()
    .with_failure_ratio(0.5)
    .with_min_throughput(20)
    .with_sampling(Duration::from_millis(200))
    .with_break(BREAK)
    .with_break_jitter(0.0)
    .with_probes(PROBES)
    .on_transition(listen);

/// The service is down.
static OUTAGE: AtomicBool = AtomicBool::new(false);
static STOP: AtomicBool = AtomicBool::new(false);
/// Probe permits held now, and the most ever held at once.
static PROBING: AtomicU32 = AtomicU32::new(0);
static MAX_PROBING: AtomicU32 = AtomicU32::new(0);

#[derive(Default, Debug, Clone, Copy)]
struct Tally {
    calls: u64,
    failures: u64,
    refusals: u64,
    probes: u64,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.calls += other.calls;
        self.failures += other.failures;
        self.refusals += other.refusals;
        self.probes += other.probes;
    }
}

async fn client() -> Tally {
    let mut tally = Tally::default();
    while !STOP.load(Ordering::Relaxed) {
        match BREAKER.try_acquire() {
            Ok(permit) => {
                let probe = permit.is_probe();
                if probe {
                    tally.probes += 1;
                    let now = PROBING.fetch_add(1, Ordering::SeqCst) + 1;
                    MAX_PROBING.fetch_max(now, Ordering::SeqCst);
                    // Hold the probe a little, so that other tasks ask while it is out.
                    tokio::task::yield_now().await;
                }
                tally.calls += 1;
                let ok = !OUTAGE.load(Ordering::SeqCst);
                if probe {
                    PROBING.fetch_sub(1, Ordering::SeqCst);
                }
                if ok {
                    permit.success();
                } else {
                    tally.failures += 1;
                    permit.failure();
                }
            }
            Err(_) => tally.refusals += 1,
        }
        tokio::task::yield_now().await;
    }
    tally
}

/// Waits until the breaker is in `state`, for at most `limit`.
async fn wait_for(state: BreakerState, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if BREAKER.state() == state {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    false
}

fn count(history: &[Transition], from: BreakerState, to: BreakerState) -> usize {
    history
        .iter()
        .filter(|t| t.from == from && t.to == to)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_shared_breaker_survives_an_outage_under_contention() {
    use BreakerState::{Closed, HalfOpen, Open};
    let started = Instant::now();
    let clients: Vec<_> = (0..TASKS).map(|_| tokio::spawn(client())).collect();

    // Healthy: nothing trips.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(BREAKER.state(), Closed);
    assert_eq!(BREAKER.transitions(), 0);

    // Outage: it opens, and keeps reopening as its probes fail.
    OUTAGE.store(true, Ordering::SeqCst);
    assert!(
        wait_for(Open, Duration::from_millis(500)).await,
        "never opened"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let during_outage = BREAKER.transitions();
    assert!(
        during_outage >= 3,
        "{during_outage} transitions in the outage"
    );
    assert_ne!(BREAKER.state(), Closed);

    // Recovery: the probes succeed and close it, and it stays closed.
    OUTAGE.store(false, Ordering::SeqCst);
    assert!(
        wait_for(Closed, Duration::from_secs(1)).await,
        "never closed"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    STOP.store(true, Ordering::SeqCst);
    let mut tally = Tally::default();
    for client in clients {
        tally.add(client.await.unwrap());
    }
    let elapsed = started.elapsed();

    let stats = BREAKER.stats();
    assert_eq!(stats.state, Closed, "{stats:?}");
    assert_eq!(stats.probes_in_flight, 0);
    assert_eq!(PROBING.load(Ordering::SeqCst), 0);

    // (a) Never more probes out at once than `probes`.
    let max_probing = MAX_PROBING.load(Ordering::SeqCst);
    assert!(
        (1..=PROBES).contains(&max_probing),
        "{max_probing} probes at once"
    );

    // (c) The listener saw every transition the breaker counted.
    let history = HISTORY.lock().unwrap().clone();
    let transitions = BREAKER.transitions();
    assert_eq!(LISTENED.load(Ordering::SeqCst), transitions);
    assert_eq!(history.len() as u64, transitions);

    // A consistent history: only the edges of the state machine, the breaks exact, and as many
    // ways into each state as out of it (the listener runs after the state changed, so two
    // transitions close together may be recorded in either order; the counts do not depend on
    // it).
    for t in &history {
        let edge = (t.from, t.to);
        assert!(
            matches!(
                edge,
                (Closed, Open) | (Open, HalfOpen) | (HalfOpen, Open) | (HalfOpen, Closed)
            ),
            "{t:?}"
        );
        let expected = (t.to == Open).then_some(BREAK);
        assert_eq!(t.open_for, expected, "{t:?}");
    }
    let closed_open = count(&history, Closed, Open);
    let open_half = count(&history, Open, HalfOpen);
    let half_open = count(&history, HalfOpen, Open);
    let half_closed = count(&history, HalfOpen, Closed);
    let summary = format!(
        "closed->open {closed_open}, open->half_open {open_half}, half_open->open {half_open}, \
         half_open->closed {half_closed}; {tally:?}; max probes at once {max_probing}; {elapsed:?}"
    );
    // (b) It opened during the outage.
    assert!(closed_open >= 1, "{summary}");
    assert!(half_open >= 1, "{summary}");
    // It ends closed: every stay in Open and in HalfOpen was left the way it was entered.
    assert_eq!(open_half, closed_open + half_open, "{summary}");
    assert_eq!(half_open + half_closed, open_half, "{summary}");
    assert_eq!(half_closed, closed_open, "{summary}");
    assert_eq!(history.first().map(|t| t.from), Some(Closed), "{summary}");
    // The order recorded, for information: each transition from the state the previous one
    // entered, unless two listener calls overtook each other.
    let out_of_order = history
        .windows(2)
        .filter(|pair| pair[0].to != pair[1].from)
        .count();

    assert!(
        tally.failures > 0 && tally.refusals > 0 && tally.probes > 0,
        "{summary}"
    );
    eprintln!("{summary}; {out_of_order} links out of order");
}

/// The break announced to `announce_break`'s listener, in nanoseconds.
static ANNOUNCED: AtomicU64 = AtomicU64::new(0);

fn announce_break(t: Transition) {
    if let Some(open_for) = t.open_for {
        ANNOUNCED.store(open_for.as_nanos() as u64, Ordering::SeqCst);
    }
}

/// Failures of attempts admitted while closed race to open the breaker; one wins, and the
/// `open_for` it announces must be the break the breaker then keeps (jitter 1.0, so that two
/// draws differ by seconds). Each trial: 8 threads hold permits, fail at once behind a
/// barrier, and the refusal that follows says how much of the break is left, which must lie
/// between the announced break less the time the trial took, and the announced break.
#[test]
fn failures_racing_to_open_it_keep_the_break_they_announce() {
    const THREADS: usize = 8;
    const TRIALS: usize = 2_000;
    let (mut shorter, mut longer) = (Vec::new(), Vec::new());
    for _ in 0..TRIALS {
        let breaker = CircuitBreaker::new()
            .with_consecutive_failures(1)
            .with_break(Duration::from_secs(100))
            .with_break_jitter(1.0)
            .on_transition(announce_break);
        let barrier = std::sync::Barrier::new(THREADS);
        let start = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| {
                    let permit = breaker.try_acquire().expect("closed");
                    barrier.wait();
                    permit.failure();
                });
            }
        });
        assert_eq!(breaker.transitions(), 1);
        let announced = Duration::from_nanos(ANNOUNCED.load(Ordering::SeqCst));
        let left = breaker
            .try_acquire()
            .expect_err("open")
            .retry_in()
            .expect("open, not half-open");
        let elapsed = start.elapsed();
        if left > announced {
            longer.push((announced, left));
        } else if left + elapsed < announced {
            shorter.push((announced, left));
        }
    }
    assert!(
        shorter.is_empty() && longer.is_empty(),
        "of {TRIALS} trials, {} kept a shorter break than announced and {} a longer one; \
         (announced, left) e.g. {:?} {:?}",
        shorter.len(),
        longer.len(),
        shorter.first(),
        longer.first(),
    );
}
