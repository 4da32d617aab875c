//! [`CircuitBreaker`]: stops calling a service that keeps failing, and lets it recover.

#[cfg(feature = "std")]
use core::cell::Cell;
use core::fmt;
use core::sync::atomic::{AtomicU32, Ordering};

use crate::sync::{AtomicI64, AtomicU64};
use core::time::Duration;

use rand::Rng as _;

use crate::policy::jitter::with_thread_rng;
use crate::runtime::Stamp;

mod permit;
mod state;

pub use permit::Permit;
use state::*;

/// Counters are spread over this many cache lines, so that threads recording successes do not
/// write to one shared line.
const STRIPES: usize = 8;
/// The most probes a half-open breaker admits at once.
const MAX_PROBES: u32 = 1_000;

/// The state of a [`CircuitBreaker`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BreakerState {
    /// Calls go through; failures are counted.
    Closed,
    /// Calls are refused with [`BreakerOpen`] until the break is over.
    Open,
    /// A bounded number of probe attempts go through; their outcome closes or reopens it.
    HalfOpen,
}

impl BreakerState {
    /// `closed`, `open` or `half_open`, as in events and metrics.
    ///
    /// ```
    /// assert_eq!(retry_runtime::BreakerState::HalfOpen.as_str(), "half_open");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }

    const fn of(word: u64) -> Self {
        match kind(word) {
            CLOSED => BreakerState::Closed,
            OPEN => BreakerState::Open,
            _ => BreakerState::HalfOpen,
        }
    }
}

impl fmt::Display for BreakerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A change of state, as given to the listener set with
/// [`on_transition`](CircuitBreaker::on_transition).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Transition {
    /// The state it left.
    pub from: BreakerState,
    /// The state it entered.
    pub to: BreakerState,
    /// For a transition to [`Open`](BreakerState::Open): how long the break lasts, jitter
    /// included.
    pub open_for: Option<Duration>,
}

/// The error of an attempt that an open [`CircuitBreaker`] refused: the service was not called.
///
/// `#[retry(breaker = PATH)]` and `.breaker(&B)` turn it into the function's error type, which
/// must implement `From<BreakerOpen>`; a call whose attempt is refused ends at once (it does not
/// sleep until the breaker closes), and its `fallback`, if it has one, answers instead.
///
/// ```
/// use retry_runtime::{BreakerOpen, CircuitBreaker};
///
/// static BREAKER: CircuitBreaker = CircuitBreaker::new().with_consecutive_failures(1);
///
/// BREAKER.try_acquire().unwrap().failure();
/// let refused: BreakerOpen = BREAKER.try_acquire().unwrap_err();
/// assert_eq!(refused.to_string(), "the circuit breaker is open: the service was not called");
/// assert!(refused.retry_in().is_some());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BreakerOpen {
    retry_in: Option<Duration>,
}

impl BreakerOpen {
    /// How long until the breaker lets a probe through, when it is open (`None` while it is
    /// half-open and all its probes are taken).
    ///
    /// ```
    /// use retry_runtime::CircuitBreaker;
    /// use std::time::Duration;
    ///
    /// let breaker = CircuitBreaker::new()
    ///     .with_consecutive_failures(1)
    ///     .with_break(Duration::from_secs(5))
    ///     .with_break_jitter(0.0);
    /// breaker.try_acquire().unwrap().failure();
    /// let wait = breaker.try_acquire().unwrap_err().retry_in().unwrap();
    /// assert!(wait <= Duration::from_secs(5) && wait > Duration::from_secs(4));
    /// ```
    pub const fn retry_in(&self) -> Option<Duration> {
        self.retry_in
    }
}

impl fmt::Display for BreakerOpen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the circuit breaker is open: the service was not called")
    }
}

impl core::error::Error for BreakerOpen {}

#[cfg(feature = "std")]
impl From<BreakerOpen> for std::io::Error {
    /// An [`std::io::ErrorKind::Other`] error carrying the [`BreakerOpen`].
    ///
    /// ```
    /// let err = std::io::Error::from(retry_runtime::BreakerOpen::from_parts(None));
    /// assert_eq!(err.kind(), std::io::ErrorKind::Other);
    /// ```
    fn from(open: BreakerOpen) -> Self {
        std::io::Error::other(open)
    }
}

impl BreakerOpen {
    /// A `BreakerOpen` for your own breaker-like code or tests.
    ///
    /// ```
    /// use retry_runtime::BreakerOpen;
    /// use std::time::Duration;
    ///
    /// let open = BreakerOpen::from_parts(Some(Duration::from_secs(1)));
    /// assert_eq!(open.retry_in(), Some(Duration::from_secs(1)));
    /// ```
    pub const fn from_parts(retry_in: Option<Duration>) -> Self {
        BreakerOpen { retry_in }
    }
}

/// One cache line of counters.
#[repr(align(64))]
struct Stripe {
    attempts: AtomicU32,
    failures: AtomicU32,
}

impl Stripe {
    const fn new() -> Self {
        Stripe {
            attempts: AtomicU32::new(0),
            failures: AtomicU32::new(0),
        }
    }
}

#[cfg(feature = "std")]
std::thread_local! {
    /// This thread's stripe, assigned round-robin on first use.
    static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
}

#[cfg(feature = "std")]
static NEXT_STRIPE: AtomicU32 = AtomicU32::new(0);

/// Without `std` (no threads to tell apart: embedded targets) every count goes to one stripe.
#[cfg(not(feature = "std"))]
fn stripe_index() -> usize {
    0
}

#[cfg(feature = "std")]
fn stripe_index() -> usize {
    STRIPE
        .try_with(|cell| {
            let mut index = cell.get();
            if index == usize::MAX {
                index = NEXT_STRIPE.fetch_add(1, Ordering::Relaxed) as usize % STRIPES;
                cell.set(index);
            }
            index
        })
        .unwrap_or(0)
}

/// What trips a closed breaker.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Trip {
    /// The share of failed attempts in a sampling window.
    Ratio {
        /// Thousandths.
        permille: u32,
        min_throughput: u32,
        sampling: Duration,
    },
    /// This many failed attempts in a row.
    Consecutive(u32),
}

/// A circuit breaker shared by every call that uses it: lock-free, `const`-constructible so it
/// lives in a `static`, never allocating, blocking or panicking.
///
/// - **Closed**: attempts go through. Failed attempts are counted, and when, within a sampling
///   window that opens at a failure, at least `min_throughput` attempts were made and the share
///   of them that failed reaches `failure_ratio`, the breaker opens (the way Polly v8 and
///   resilience4j decide). [`with_consecutive_failures`](CircuitBreaker::with_consecutive_failures)
///   trips it after a run of failures instead.
/// - **Open**: every attempt is refused with [`BreakerOpen`] without calling the service, for
///   the break duration, lengthened by a random share of up to `break_jitter` so that a fleet's
///   breakers do not all probe at the same instant.
/// - **Half-open**: up to `probes` attempts at once go through as probes. When `probes` of them
///   have succeeded it closes; a probe that fails opens it again for another break. (Probes
///   still running when it reopens are not counted again: a service whose probes outlast the
///   break may see more than `probes` at once.)
///
/// Only failures count: an outcome that the retry filters judge permanent (a 400, a
/// `Decision::Stop`) is the service answering, and counts as a success. A probe whose call is
/// cancelled (its future dropped) gives its slot back.
///
/// With `#[retry(breaker = PATH)]` or `.breaker(&B)` every attempt asks the breaker first;
/// used by hand, ask [`try_acquire`](CircuitBreaker::try_acquire) and report the outcome on the
/// [`Permit`].
///
/// # Cost
///
/// A closed breaker in front of a healthy service costs two atomic loads per attempt (one to
/// ask, one to report) and no write. Once failures are being counted, a success adds one to a counter on one of 8 cache
/// lines picked per thread, so threads do not contend on one shared line; only failures and
/// transitions write to the shared state.
///
/// # Default
///
/// | setting | default | why |
/// |---|---|---|
/// | `failure_ratio` | 0.5 | open when at least half the attempts fail: the service is more down than up, and retries would double its load |
/// | `min_throughput` | 20 | a handful of failures on a quiet client is not a verdict on the service |
/// | `sampling` | 10 s | long enough to see 20 attempts at modest rates, short enough to forget an old incident |
/// | `break` | 5 s | Polly's default: long enough for a struggling service to drain its queues |
/// | `break_jitter` | 0.2 | up to 20% more, so a fleet's probes spread over a second instead of arriving together |
/// | `probes` | 1 | one request tests the water: a service that is still down sees one attempt per break |
///
/// # Example
///
/// ```
/// use retry_runtime::{BreakerState, CircuitBreaker};
/// use std::time::Duration;
///
/// static BREAKER: CircuitBreaker = CircuitBreaker::new()
///     .with_failure_ratio(0.5)
///     .with_min_throughput(4)
///     .with_break(Duration::from_secs(30));
///
/// // The sampling window opens at the first failure.
/// for ok in [false, true, true, false] {
///     let permit = BREAKER.try_acquire().expect("closed");
///     if ok { permit.success() } else { permit.failure() }
/// }
/// // 2 failures out of 4 attempts: the breaker is open, and refuses.
/// assert_eq!(BREAKER.state(), BreakerState::Open);
/// assert!(BREAKER.try_acquire().is_err());
/// ```
pub struct CircuitBreaker {
    state: AtomicU64,
    /// While open: when the break ends (a stamp)...
    until: AtomicI64,
    /// ...for the open state of this generation.
    until_generation: AtomicU32,
    /// While counting: when the sampling window started (a stamp).
    window: AtomicI64,
    /// Failures in a row (consecutive mode).
    consecutive: AtomicU32,
    /// Every transition made, in order.
    transitions: AtomicU64,
    stripes: [Stripe; STRIPES],
    /// Thousandths (ratio mode).
    permille: u32,
    min_throughput: u32,
    sampling: Duration,
    /// The run of failures that trips it; 0 in ratio mode.
    consecutive_limit: u32,
    break_duration: Duration,
    break_jitter_permille: u32,
    probes: u32,
    listener: Option<fn(Transition)>,
    /// Where the time is read, when not the default sleeper's clock.
    clock: Option<fn() -> Duration>,
}

impl CircuitBreaker {
    /// A closed breaker with the defaults of the `# Default` table on [`CircuitBreaker`].
    ///
    /// ```
    /// use retry_runtime::{BreakerState, CircuitBreaker};
    ///
    /// static BREAKER: CircuitBreaker = CircuitBreaker::new();
    /// assert_eq!(BREAKER.state(), BreakerState::Closed);
    /// ```
    pub const fn new() -> Self {
        CircuitBreaker {
            state: AtomicU64::new(CLOSED),
            until: AtomicI64::new(0),
            until_generation: AtomicU32::new(u32::MAX),
            window: AtomicI64::new(0),
            consecutive: AtomicU32::new(0),
            transitions: AtomicU64::new(0),
            stripes: [const { Stripe::new() }; STRIPES],
            permille: 500,
            min_throughput: 20,
            sampling: Duration::from_secs(10),
            consecutive_limit: 0,
            break_duration: Duration::from_secs(5),
            break_jitter_permille: 200,
            probes: 1,
            listener: None,
            clock: None,
        }
    }

    /// Reads the time from `now` (the time since any fixed point, such as boot) instead of the
    /// default sleeper's clock (tokio's with the default features, so a paused test clock drives
    /// it; the system's monotonic clock with `std` and no timer feature; embassy's with
    /// `embassy`): a test clock that the test moves, for exact breaks under any executor, or
    /// another runtime's clock. Without `std` and without a timer feature there is no clock to
    /// read, and a breaker needs this one.
    ///
    /// ```
    /// use retry_runtime::CircuitBreaker;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::time::Duration;
    ///
    /// static MILLIS: AtomicU64 = AtomicU64::new(0);
    /// fn now() -> Duration {
    ///     Duration::from_millis(MILLIS.load(Ordering::SeqCst))
    /// }
    ///
    /// static BREAKER: CircuitBreaker = CircuitBreaker::new()
    ///     .with_consecutive_failures(1)
    ///     .with_break(Duration::from_secs(5))
    ///     .with_break_jitter(0.0)
    ///     .with_clock(now);
    /// BREAKER.try_acquire().unwrap().failure();
    /// MILLIS.store(4_999, Ordering::SeqCst);
    /// assert!(!BREAKER.admits());
    /// MILLIS.store(5_000, Ordering::SeqCst);
    /// assert!(BREAKER.admits());
    /// ```
    pub const fn with_clock(mut self, now: fn() -> Duration) -> Self {
        self.clock = Some(now);
        self
    }

    /// Now, on the breaker's clock.
    #[inline]
    fn now(&self) -> Stamp {
        match self.clock {
            None => crate::runtime::guard_now(),
            Some(now) => i64::try_from(now().as_nanos()).unwrap_or(i64::MAX),
        }
    }

    /// Opens when the share of failed attempts within a sampling window reaches `ratio`
    /// (clamped to `0.0..=1.0`, NaN as 1.0; stored in thousandths). Switches back from
    /// [`with_consecutive_failures`](CircuitBreaker::with_consecutive_failures), keeping the
    /// minimum throughput and sampling window set before.
    ///
    /// ```
    /// use retry_runtime::CircuitBreaker;
    /// let breaker = CircuitBreaker::new().with_failure_ratio(0.25);
    /// assert_eq!(breaker.failure_ratio(), Some(0.25));
    /// ```
    pub const fn with_failure_ratio(mut self, ratio: f64) -> Self {
        let permille = if ratio.is_nan() {
            1000
        } else if ratio <= 0.0 {
            0
        } else if ratio >= 1.0 {
            1000
        } else {
            (ratio * 1000.0 + 0.5) as u32
        };
        self.permille = permille;
        self.consecutive_limit = 0;
        self
    }

    /// The fewest attempts in a sampling window before the failure ratio can open the breaker
    /// (at least 1). Ratio mode only: it does not switch a breaker out of consecutive mode.
    ///
    /// ```
    /// use retry_runtime::CircuitBreaker;
    /// let breaker = CircuitBreaker::new().with_min_throughput(100);
    /// assert_eq!(breaker.min_throughput(), Some(100));
    /// ```
    pub const fn with_min_throughput(mut self, attempts: u32) -> Self {
        self.min_throughput = if attempts == 0 { 1 } else { attempts };
        self
    }

    /// How long a sampling window lasts: it opens at a failure, and the next failure after it
    /// has ended starts a fresh one.
    ///
    /// ```
    /// use retry_runtime::CircuitBreaker;
    /// use std::time::Duration;
    /// let breaker = CircuitBreaker::new().with_sampling(Duration::from_secs(30));
    /// assert_eq!(breaker.sampling(), Some(Duration::from_secs(30)));
    /// ```
    pub const fn with_sampling(mut self, window: Duration) -> Self {
        self.sampling = window;
        self
    }

    /// Opens after `failures` failed attempts in a row instead of by ratio (at least 1); any
    /// success resets the run.
    ///
    /// ```
    /// use retry_runtime::{BreakerState, CircuitBreaker};
    ///
    /// let breaker = CircuitBreaker::new().with_consecutive_failures(2);
    /// breaker.try_acquire().unwrap().failure();
    /// breaker.try_acquire().unwrap().success();
    /// breaker.try_acquire().unwrap().failure();
    /// assert_eq!(breaker.state(), BreakerState::Closed);
    /// breaker.try_acquire().unwrap().failure();
    /// assert_eq!(breaker.state(), BreakerState::Open);
    /// ```
    pub const fn with_consecutive_failures(mut self, failures: u32) -> Self {
        self.consecutive_limit = if failures == 0 { 1 } else { failures };
        self
    }

    /// How long the breaker stays open before it lets probes through (before jitter).
    ///
    /// ```
    /// use retry_runtime::CircuitBreaker;
    /// use std::time::Duration;
    /// let breaker = CircuitBreaker::new().with_break(Duration::from_secs(1));
    /// assert_eq!(breaker.break_duration(), Duration::from_secs(1));
    /// ```
    pub const fn with_break(mut self, duration: Duration) -> Self {
        self.break_duration = duration;
        self
    }

    /// Each break lasts `break × (1 + u)` with `u` uniform in `0..=jitter` (clamped to
    /// `0.0..=1.0`, NaN as 0): `0.0` makes breaks exact.
    ///
    /// ```
    /// use retry_runtime::CircuitBreaker;
    /// let breaker = CircuitBreaker::new().with_break_jitter(0.5);
    /// assert_eq!(breaker.break_jitter(), 0.5);
    /// ```
    pub const fn with_break_jitter(mut self, jitter: f64) -> Self {
        self.break_jitter_permille = if jitter.is_nan() || jitter <= 0.0 {
            0
        } else if jitter >= 1.0 {
            1000
        } else {
            (jitter * 1000.0 + 0.5) as u32
        };
        self
    }

    /// How many probe attempts a half-open breaker admits at once, and how many must succeed
    /// to close it (clamped to `1..=1000`).
    ///
    /// ```
    /// use retry_runtime::CircuitBreaker;
    /// assert_eq!(CircuitBreaker::new().with_probes(3).probes(), 3);
    /// assert_eq!(CircuitBreaker::new().with_probes(0).probes(), 1);
    /// ```
    pub const fn with_probes(mut self, probes: u32) -> Self {
        self.probes = if probes == 0 {
            1
        } else if probes > MAX_PROBES {
            MAX_PROBES
        } else {
            probes
        };
        self
    }

    /// Calls `listener` on every transition, from the thread that made it (for logs or
    /// metrics; keep it short: it runs inside the attempt that caused the transition).
    ///
    /// ```
    /// use retry_runtime::{BreakerState, CircuitBreaker, Transition};
    /// use std::sync::atomic::{AtomicU32, Ordering};
    ///
    /// static OPENED: AtomicU32 = AtomicU32::new(0);
    /// fn count(t: Transition) {
    ///     if t.to == BreakerState::Open {
    ///         OPENED.fetch_add(1, Ordering::Relaxed);
    ///     }
    /// }
    /// static BREAKER: CircuitBreaker =
    ///     CircuitBreaker::new().with_consecutive_failures(1).on_transition(count);
    ///
    /// BREAKER.try_acquire().unwrap().failure();
    /// assert_eq!(OPENED.load(Ordering::Relaxed), 1);
    /// ```
    pub const fn on_transition(mut self, listener: fn(Transition)) -> Self {
        self.listener = Some(listener);
        self
    }

    const fn trip(&self) -> Trip {
        if self.consecutive_limit > 0 {
            Trip::Consecutive(self.consecutive_limit)
        } else {
            Trip::Ratio {
                permille: self.permille,
                min_throughput: self.min_throughput,
                sampling: self.sampling,
            }
        }
    }

    /// The failure ratio that opens the breaker, or `None` when it counts consecutive
    /// failures.
    ///
    /// ```
    /// assert_eq!(retry_runtime::CircuitBreaker::new().failure_ratio(), Some(0.5));
    /// ```
    pub fn failure_ratio(&self) -> Option<f64> {
        match self.trip() {
            Trip::Ratio { permille, .. } => Some(f64::from(permille) / 1000.0),
            Trip::Consecutive(_) => None,
        }
    }

    /// The minimum throughput of a sampling window, or `None` when it counts consecutive
    /// failures.
    ///
    /// ```
    /// assert_eq!(retry_runtime::CircuitBreaker::new().min_throughput(), Some(20));
    /// ```
    pub const fn min_throughput(&self) -> Option<u32> {
        match self.trip() {
            Trip::Ratio { min_throughput, .. } => Some(min_throughput),
            Trip::Consecutive(_) => None,
        }
    }

    /// The sampling window, or `None` when it counts consecutive failures.
    ///
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(retry_runtime::CircuitBreaker::new().sampling(), Some(Duration::from_secs(10)));
    /// ```
    pub const fn sampling(&self) -> Option<Duration> {
        match self.trip() {
            Trip::Ratio { sampling, .. } => Some(sampling),
            Trip::Consecutive(_) => None,
        }
    }

    /// The run of failures that opens it, when it counts consecutive failures.
    ///
    /// ```
    /// use retry_runtime::CircuitBreaker;
    /// assert_eq!(CircuitBreaker::new().consecutive_failures(), None);
    /// assert_eq!(CircuitBreaker::new().with_consecutive_failures(5).consecutive_failures(), Some(5));
    /// ```
    pub const fn consecutive_failures(&self) -> Option<u32> {
        match self.trip() {
            Trip::Consecutive(n) => Some(n),
            Trip::Ratio { .. } => None,
        }
    }

    /// The break before jitter.
    ///
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(retry_runtime::CircuitBreaker::new().break_duration(), Duration::from_secs(5));
    /// ```
    pub const fn break_duration(&self) -> Duration {
        self.break_duration
    }

    /// The largest share added to a break at random.
    ///
    /// ```
    /// assert_eq!(retry_runtime::CircuitBreaker::new().break_jitter(), 0.2);
    /// ```
    pub fn break_jitter(&self) -> f64 {
        f64::from(self.break_jitter_permille) / 1000.0
    }

    /// Probes admitted at once while half-open.
    ///
    /// ```
    /// assert_eq!(retry_runtime::CircuitBreaker::new().probes(), 1);
    /// ```
    pub const fn probes(&self) -> u32 {
        self.probes
    }

    /// The state now. An open breaker whose break is over reports [`BreakerState::Open`]
    /// until the next attempt turns it half-open.
    ///
    /// ```
    /// use retry_runtime::{BreakerState, CircuitBreaker};
    /// assert_eq!(CircuitBreaker::new().state(), BreakerState::Closed);
    /// ```
    pub fn state(&self) -> BreakerState {
        BreakerState::of(self.state.load(Ordering::Acquire))
    }

    /// The state with its counters, for dashboards and tests.
    ///
    /// ```
    /// use retry_runtime::{BreakerState, CircuitBreaker};
    ///
    /// let breaker = CircuitBreaker::new().with_min_throughput(10);
    /// breaker.try_acquire().unwrap().failure();
    /// breaker.try_acquire().unwrap().success();
    /// let stats = breaker.stats();
    /// assert_eq!((stats.state, stats.attempts, stats.failures), (BreakerState::Closed, 2, 1));
    /// ```
    pub fn stats(&self) -> BreakerStats {
        let word = self.state.load(Ordering::Acquire);
        let (attempts, failures) = self.window_counts();
        BreakerStats {
            state: BreakerState::of(word),
            attempts,
            failures,
            consecutive_failures: self.consecutive.load(Ordering::Relaxed),
            probes_in_flight: if kind(word) == HALF_OPEN {
                probes(word)
            } else {
                0
            },
            transitions: self.transitions.load(Ordering::Acquire),
        }
    }

    /// Every transition this breaker has made since it was created.
    ///
    /// ```
    /// use retry_runtime::CircuitBreaker;
    /// let breaker = CircuitBreaker::new().with_consecutive_failures(1);
    /// breaker.try_acquire().unwrap().failure();
    /// assert_eq!(breaker.transitions(), 1);
    /// ```
    pub fn transitions(&self) -> u64 {
        self.transitions.load(Ordering::Acquire)
    }

    /// Whether [`try_acquire`](CircuitBreaker::try_acquire) would grant an attempt now,
    /// without taking a probe slot. The retry loops ask it before sleeping, so that a call
    /// whose failure has just opened the breaker ends at once instead of sleeping first.
    ///
    /// ```
    /// use retry_runtime::CircuitBreaker;
    ///
    /// let breaker = CircuitBreaker::new().with_consecutive_failures(1);
    /// assert!(breaker.admits());
    /// breaker.try_acquire().unwrap().failure();
    /// assert!(!breaker.admits());
    /// ```
    pub fn admits(&self) -> bool {
        let word = self.state.load(Ordering::Acquire);
        match kind(word) {
            CLOSED => true,
            OPEN => self.break_left(word).is_zero(),
            _ => probes(word) < self.probes,
        }
    }

    /// Asks to make an attempt: a [`Permit`] to report its outcome on, or [`BreakerOpen`] when
    /// the attempt must not reach the service. An open breaker whose break is over turns
    /// half-open here, and this attempt is its first probe.
    ///
    /// ```
    /// use retry_runtime::CircuitBreaker;
    ///
    /// let breaker = CircuitBreaker::new();
    /// match breaker.try_acquire() {
    ///     Ok(permit) => permit.success(), // call the service, then report
    ///     Err(open) => panic!("refused: {open}"),
    /// };
    /// ```
    #[inline]
    pub fn try_acquire(&self) -> Result<Permit<'_>, BreakerOpen> {
        let word = self.state.load(Ordering::Acquire);
        if kind(word) == CLOSED {
            return Ok(Permit {
                breaker: self,
                generation: generation(word),
                probe: false,
            });
        }
        self.acquire_slow(word)
    }

    #[cold]
    #[inline(never)]
    fn acquire_slow(&self, mut word: u64) -> Result<Permit<'_>, BreakerOpen> {
        loop {
            let new = match kind(word) {
                CLOSED => {
                    return Ok(Permit {
                        breaker: self,
                        generation: generation(word),
                        probe: false,
                    })
                }
                OPEN => {
                    let left = self.break_left(word);
                    if !left.is_zero() {
                        return Err(BreakerOpen {
                            retry_in: Some(left),
                        });
                    }
                    with_probes(next(word, HALF_OPEN), 1, 0)
                }
                _ => {
                    if probes(word) >= self.probes {
                        return Err(BreakerOpen { retry_in: None });
                    }
                    with_probes(word, probes(word) + 1, successes(word))
                }
            };
            match self
                .state
                .compare_exchange_weak(word, new, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    if kind(word) == OPEN {
                        self.transitioned(BreakerState::Open, BreakerState::HalfOpen, None);
                    }
                    return Ok(Permit {
                        breaker: self,
                        generation: generation(new),
                        probe: true,
                    });
                }
                Err(actual) => word = actual,
            }
        }
    }

    /// A success of an attempt admitted while closed: only counted once failures are being
    /// counted, and only in the closed period that admitted it.
    #[inline]
    fn closed_success(&self, permit_generation: u32) {
        let word = self.state.load(Ordering::Relaxed);
        if word & COUNTING == 0 || generation(word) != permit_generation {
            return;
        }
        match self.trip() {
            Trip::Consecutive(_) => {
                if self.consecutive.load(Ordering::Relaxed) != 0 {
                    self.consecutive.store(0, Ordering::Relaxed);
                }
            }
            Trip::Ratio { .. } => {
                self.stripes[stripe_index()]
                    .attempts
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// A failure of an attempt admitted while closed, counted in the closed period that
    /// admitted it (a late report from before the last break is ignored).
    #[cold]
    #[inline(never)]
    fn closed_failure(&self, permit_generation: u32) {
        let word = self.state.load(Ordering::Acquire);
        if kind(word) != CLOSED || generation(word) != permit_generation {
            return;
        }
        let tripped = match self.trip() {
            Trip::Consecutive(limit) => {
                self.start_counting();
                let run = self
                    .consecutive
                    .fetch_add(1, Ordering::Relaxed)
                    .saturating_add(1);
                run >= limit
            }
            Trip::Ratio {
                permille,
                min_throughput,
                sampling,
            } => {
                let now = self.now();
                let start = self.window.load(Ordering::Acquire);
                let expired = now.saturating_sub(start) >= nanos_i64(sampling);
                if (word & COUNTING == 0 || expired)
                    && self
                        .window
                        .compare_exchange(start, now, Ordering::AcqRel, Ordering::Relaxed)
                        .is_ok()
                {
                    // A fresh window: forget the old one's counts.
                    self.clear_counts();
                    self.start_counting();
                }
                let stripe = &self.stripes[stripe_index()];
                stripe.attempts.fetch_add(1, Ordering::Relaxed);
                stripe.failures.fetch_add(1, Ordering::Relaxed);
                let (attempts, failures) = self.window_counts();
                attempts >= min_throughput
                    && u64::from(failures) * 1000 >= u64::from(permille) * u64::from(attempts)
            }
        };
        if tripped {
            // Only from the closed period this decision was made in: if the breaker has opened
            // and closed again meanwhile, the decision is stale.
            let decided_in = generation(word);
            let mut word = self.state.load(Ordering::Acquire);
            while kind(word) == CLOSED && generation(word) == decided_in {
                match self.open_from(word) {
                    Ok(()) => return,
                    Err(actual) => word = actual,
                }
            }
        }
    }

    /// Sets the counting bit, so that successes are counted too.
    fn start_counting(&self) {
        let mut word = self.state.load(Ordering::Relaxed);
        while kind(word) == CLOSED && word & COUNTING == 0 {
            match self.state.compare_exchange_weak(
                word,
                word | COUNTING,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => word = actual,
            }
        }
    }

    fn clear_counts(&self) {
        for stripe in &self.stripes {
            stripe.attempts.store(0, Ordering::Relaxed);
            stripe.failures.store(0, Ordering::Relaxed);
        }
        self.consecutive.store(0, Ordering::Relaxed);
    }

    fn window_counts(&self) -> (u32, u32) {
        self.stripes.iter().fold((0u32, 0u32), |(a, f), stripe| {
            (
                a.saturating_add(stripe.attempts.load(Ordering::Relaxed)),
                f.saturating_add(stripe.failures.load(Ordering::Relaxed)),
            )
        })
    }

    /// Opens the breaker from `word` (closed or half-open) for a jittered break; `Err` with
    /// the current word if another thread changed the state first.
    fn open_from(&self, word: u64) -> Result<(), u64> {
        let open = next(word, OPEN);
        self.state
            .compare_exchange(word, open, Ordering::AcqRel, Ordering::Acquire)?;
        // Only the thread that opened it sets the break, tagged with the generation it
        // belongs to; until the tag matches, the break counts as just begun.
        let open_for = self.jittered_break();
        let until = self.now().saturating_add(nanos_i64(open_for));
        self.until.store(until, Ordering::Relaxed);
        self.until_generation
            .store(generation(open), Ordering::Release);
        self.transitioned(BreakerState::of(word), BreakerState::Open, Some(open_for));
        Ok(())
    }

    /// The time left in the break of the open state `word`: zero when it is over, the whole
    /// break while the thread that opened it has not yet set its end.
    fn break_left(&self, word: u64) -> Duration {
        if self.until_generation.load(Ordering::Acquire) != generation(word) {
            return self.break_duration;
        }
        let left = self
            .until
            .load(Ordering::Relaxed)
            .saturating_sub(self.now());
        Duration::from_nanos(u64::try_from(left).unwrap_or(0))
    }

    fn jittered_break(&self) -> Duration {
        if self.break_jitter_permille == 0 {
            return self.break_duration;
        }
        let share = with_thread_rng(|rng| rng.random_range(0..=self.break_jitter_permille));
        let extra = self.break_duration.as_nanos() * u128::from(share) / 1000;
        self.break_duration.saturating_add(Duration::from_nanos(
            u64::try_from(extra).unwrap_or(u64::MAX),
        ))
    }

    #[cold]
    #[inline(never)]
    fn probe_done(&self, permit_generation: u32, succeeded: Option<bool>) {
        let mut word = self.state.load(Ordering::Acquire);
        loop {
            if kind(word) != HALF_OPEN || generation(word) != permit_generation {
                return;
            }
            let in_flight = probes(word).saturating_sub(1);
            let result = match succeeded {
                Some(false) => match self.open_from(word) {
                    Ok(()) => return,
                    Err(actual) => {
                        word = actual;
                        continue;
                    }
                },
                Some(true) if successes(word) + 1 >= self.probes => {
                    // Enough probes succeeded: close, with fresh counts.
                    self.clear_counts();
                    self.state
                        .compare_exchange(
                            word,
                            next(word, CLOSED),
                            Ordering::AcqRel,
                            Ordering::Acquire,
                        )
                        .map(|_| {
                            self.transitioned(BreakerState::HalfOpen, BreakerState::Closed, None)
                        })
                }
                Some(true) => self
                    .state
                    .compare_exchange(
                        word,
                        with_probes(word, in_flight, successes(word) + 1),
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    )
                    .map(|_| ()),
                None => self
                    .state
                    .compare_exchange(
                        word,
                        with_probes(word, in_flight, successes(word)),
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    )
                    .map(|_| ()),
            };
            match result {
                Ok(()) => return,
                Err(actual) => word = actual,
            }
        }
    }

    fn transitioned(&self, from: BreakerState, to: BreakerState, open_for: Option<Duration>) {
        self.transitions.fetch_add(1, Ordering::AcqRel);
        #[cfg(feature = "tracing")]
        match to {
            BreakerState::Open => tracing::warn!(
                from = from.as_str(),
                open_for = ?open_for,
                "circuit breaker opened"
            ),
            _ => tracing::info!(
                from = from.as_str(),
                to = to.as_str(),
                "circuit breaker changed state"
            ),
        }
        if let Some(listener) = self.listener {
            listener(Transition { from, to, open_for });
        }
    }
}

fn nanos_i64(d: Duration) -> Stamp {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

impl Default for CircuitBreaker {
    /// [`CircuitBreaker::new`]: see the `# Default` table on [`CircuitBreaker`].
    ///
    /// ```
    /// use retry_runtime::CircuitBreaker;
    /// assert_eq!(CircuitBreaker::default().probes(), 1);
    /// ```
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("stats", &self.stats())
            .field("failure_ratio", &self.failure_ratio())
            .field("min_throughput", &self.min_throughput())
            .field("sampling", &self.sampling())
            .field("consecutive_failures", &self.consecutive_failures())
            .field("break", &self.break_duration)
            .field("break_jitter", &self.break_jitter())
            .field("probes", &self.probes)
            .finish()
    }
}

/// A snapshot of a [`CircuitBreaker`] ([`CircuitBreaker::stats`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BreakerStats {
    /// The state.
    pub state: BreakerState,
    /// Attempts counted in the current sampling window (ratio mode).
    pub attempts: u32,
    /// Failed attempts counted in the current sampling window (ratio mode).
    pub failures: u32,
    /// The current run of failures (consecutive mode).
    pub consecutive_failures: u32,
    /// Probes running now (half-open).
    pub probes_in_flight: u32,
    /// Transitions made since the breaker was created.
    pub transitions: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_word_round_trips() {
        let word = with_probes(next(0, HALF_OPEN), 3, 2);
        assert_eq!(
            (kind(word), probes(word), successes(word), generation(word)),
            (HALF_OPEN, 3, 2, 1)
        );
        let wrapped = next(0xFF_FFFF << GEN_SHIFT, OPEN);
        assert_eq!((kind(wrapped), generation(wrapped)), (OPEN, 0));
    }

    #[test]
    fn a_healthy_service_writes_nothing() {
        let breaker = CircuitBreaker::new();
        for _ in 0..100 {
            breaker.try_acquire().unwrap().success();
        }
        assert_eq!(breaker.window_counts(), (0, 0));
        assert_eq!(breaker.state.load(Ordering::Relaxed), CLOSED);
    }

    #[test]
    fn below_min_throughput_it_stays_closed() {
        let breaker = CircuitBreaker::new().with_min_throughput(5);
        for _ in 0..4 {
            breaker.try_acquire().unwrap().failure();
        }
        assert_eq!(breaker.state(), BreakerState::Closed);
        breaker.try_acquire().unwrap().failure();
        assert_eq!(breaker.state(), BreakerState::Open);
    }

    #[test]
    fn the_ratio_is_over_attempts_in_the_window() {
        let breaker = CircuitBreaker::new()
            .with_failure_ratio(0.5)
            .with_min_throughput(4);
        breaker.try_acquire().unwrap().failure();
        for _ in 0..4 {
            breaker.try_acquire().unwrap().success();
        }
        // 2 of 6, then 3 of 7: below half.
        breaker.try_acquire().unwrap().failure();
        breaker.try_acquire().unwrap().failure();
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert_eq!((breaker.stats().attempts, breaker.stats().failures), (7, 3));
        // 4 of 8: half.
        breaker.try_acquire().unwrap().failure();
        assert_eq!(breaker.state(), BreakerState::Open);
    }

    #[test]
    fn half_open_admits_its_probes_and_closes_when_they_succeed() {
        let breaker = CircuitBreaker::new()
            .with_consecutive_failures(1)
            .with_break(Duration::ZERO)
            .with_probes(2);
        breaker.try_acquire().unwrap().failure();
        assert_eq!(breaker.state(), BreakerState::Open);
        let first = breaker.try_acquire().unwrap();
        let second = breaker.try_acquire().unwrap();
        assert!(first.is_probe() && second.is_probe());
        assert_eq!(breaker.try_acquire().unwrap_err().retry_in(), None);
        first.success();
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        // One slot is free again, but the successes needed are counted, not the slots.
        let third = breaker.try_acquire().unwrap();
        drop(third);
        second.success();
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert_eq!(breaker.transitions(), 3);
    }

    #[test]
    fn a_failed_probe_reopens_and_a_dropped_one_frees_its_slot() {
        let breaker = CircuitBreaker::new()
            .with_consecutive_failures(1)
            .with_break(Duration::ZERO);
        breaker.try_acquire().unwrap().failure();
        let probe = breaker.try_acquire().unwrap();
        assert!(breaker.try_acquire().is_err());
        drop(probe);
        let probe = breaker.try_acquire().unwrap();
        probe.failure();
        assert_eq!(breaker.state(), BreakerState::Open);
        assert_eq!(breaker.transitions(), 3);
    }

    #[test]
    fn a_stale_probe_result_changes_nothing() {
        let breaker = CircuitBreaker::new()
            .with_consecutive_failures(1)
            .with_break(Duration::ZERO)
            .with_probes(2);
        breaker.try_acquire().unwrap().failure();
        let a = breaker.try_acquire().unwrap();
        let b = breaker.try_acquire().unwrap();
        a.failure(); // reopens
        let transitions = breaker.transitions();
        b.success(); // from the previous half-open period: ignored
        assert_eq!(breaker.transitions(), transitions);
        assert_eq!(breaker.state(), BreakerState::Open);
    }

    #[test]
    fn a_late_report_from_before_the_break_is_ignored() {
        let breaker = CircuitBreaker::new()
            .with_consecutive_failures(1)
            .with_break(Duration::ZERO);
        let slow = breaker.try_acquire().unwrap();
        breaker.try_acquire().unwrap().failure();
        breaker.try_acquire().unwrap().success(); // the probe closes it again
        assert_eq!(breaker.state(), BreakerState::Closed);
        slow.failure(); // admitted before the break: not counted
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert_eq!(breaker.transitions(), 3);
    }

    #[test]
    fn jitter_lengthens_the_break_within_bounds() {
        let breaker = CircuitBreaker::new()
            .with_break(Duration::from_secs(10))
            .with_break_jitter(0.5);
        for _ in 0..200 {
            let d = breaker.jittered_break();
            assert!(
                d >= Duration::from_secs(10) && d <= Duration::from_secs(15),
                "{d:?}"
            );
        }
    }

    #[test]
    fn settings_are_clamped() {
        let breaker = CircuitBreaker::new()
            .with_failure_ratio(f64::NAN)
            .with_min_throughput(0)
            .with_break_jitter(7.0)
            .with_probes(u32::MAX);
        assert_eq!(breaker.failure_ratio(), Some(1.0));
        assert_eq!(breaker.min_throughput(), Some(1));
        assert_eq!(breaker.break_jitter(), 1.0);
        assert_eq!(breaker.probes(), MAX_PROBES);
        assert_eq!(
            CircuitBreaker::new()
                .with_failure_ratio(-3.0)
                .failure_ratio(),
            Some(0.0)
        );
    }
}
