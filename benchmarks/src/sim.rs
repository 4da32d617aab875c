//! The event queue the simulations (`examples/herd.rs`, `examples/fleet.rs`) run on: what happens
//! next, and when, popped in time order and, at equal times, in the order it was pushed, so that
//! a seeded run repeats exactly.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A point in simulated time: milliseconds as `f64`, or nanoseconds as `u64`.
pub trait Time: Copy {
    /// The order of two points in time (a total order, NaN included).
    fn order(&self, other: &Self) -> Ordering;
}

impl Time for f64 {
    fn order(&self, other: &Self) -> Ordering {
        self.total_cmp(other)
    }
}

impl Time for u64 {
    fn order(&self, other: &Self) -> Ordering {
        self.cmp(other)
    }
}

struct Event<T, K> {
    at: T,
    seq: u64,
    kind: K,
}

impl<T: Time, K> PartialEq for Event<T, K> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl<T: Time, K> Eq for Event<T, K> {}
impl<T: Time, K> PartialOrd for Event<T, K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T: Time, K> Ord for Event<T, K> {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: `BinaryHeap` is a max-heap.
        other
            .at
            .order(&self.at)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

/// A min-heap of events on time, then on insertion order.
///
/// ```
/// use retry_benchmarks::sim::Queue;
///
/// let mut queue = Queue::new();
/// queue.push(20u64, "late");
/// queue.push(10u64, "first");
/// queue.push(10u64, "second");
/// assert_eq!(queue.pop(), Some((10, "first")));
/// assert_eq!(queue.pop(), Some((10, "second")));
/// assert_eq!(queue.pop(), Some((20, "late")));
/// assert_eq!(queue.pop(), None);
/// ```
pub struct Queue<T, K> {
    heap: BinaryHeap<Event<T, K>>,
    seq: u64,
}

impl<T: Time, K> Queue<T, K> {
    /// An empty queue.
    pub fn new() -> Self {
        Self {
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }

    /// Schedules `kind` at `at`.
    pub fn push(&mut self, at: T, kind: K) {
        self.seq += 1;
        self.heap.push(Event {
            at,
            seq: self.seq,
            kind,
        });
    }

    /// The next event and its time.
    pub fn pop(&mut self) -> Option<(T, K)> {
        self.heap.pop().map(|event| (event.at, event.kind))
    }
}

impl<T: Time, K> Default for Queue<T, K> {
    fn default() -> Self {
        Self::new()
    }
}

/// One network hop of Brooker's model, |Normal(10, 2)| milliseconds, from two uniform draws
/// (Box–Muller): `u1` in (0, 1], so that its logarithm stays finite, and `u2` in [0, 1).
///
/// ```
/// let hop = retry_benchmarks::sim::hop_ms(1.0, 0.0);
/// assert_eq!(hop, 10.0);
/// ```
pub fn hop_ms(u1: f64, u2: f64) -> f64 {
    let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    (10.0 + 2.0 * z).abs()
}

/// Where a simulation writes its plot: the first command-line argument, or `default`; its
/// directory is created.
///
/// ```no_run
/// let path = retry_benchmarks::sim::plot_path("target/fleet.svg").unwrap();
/// assert!(path.parent().unwrap().is_dir());
/// ```
pub fn plot_path(default: &str) -> Result<std::path::PathBuf, String> {
    let path = std::env::args_os()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(default));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|err| format!("cannot create {}: {err}", dir.display()))?;
    }
    Ok(path)
}

/// The end of a simulation: says where the plot went (or why it could not be written), then
/// whether its checks held (`held` is printed when they all did; each failure is printed after
/// `failed`). Success only if the plot was written and every check held.
///
/// ```
/// use std::process::ExitCode;
/// let path = std::path::Path::new("target/plot.svg");
/// let ok: Result<(), String> = Ok(());
/// assert_eq!(retry_benchmarks::sim::finish(ok, path, &[], "checks hold", "check failed"), ExitCode::SUCCESS);
/// let failures = ["too many attempts".to_string()];
/// let ok: Result<(), String> = Ok(());
/// assert_eq!(retry_benchmarks::sim::finish(ok, path, &failures, "", "check failed"), ExitCode::FAILURE);
/// let unwritten: Result<(), String> = Err("disk full".into());
/// assert_eq!(retry_benchmarks::sim::finish(unwritten, path, &[], "", ""), ExitCode::FAILURE);
/// ```
pub fn finish(
    plotted: Result<(), impl std::fmt::Display>,
    path: &std::path::Path,
    failures: &[String],
    held: &str,
    failed: &str,
) -> std::process::ExitCode {
    use std::process::ExitCode;
    match plotted {
        Ok(()) => println!("\nplot written to {}", path.display()),
        Err(err) => {
            eprintln!("cannot write the plot to {}: {err}", path.display());
            return ExitCode::FAILURE;
        }
    }
    if failures.is_empty() {
        println!("\n{held}");
        ExitCode::SUCCESS
    } else {
        println!();
        for failure in failures {
            eprintln!("{failed}: {failure}");
        }
        ExitCode::FAILURE
    }
}
