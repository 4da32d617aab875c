//! [`AdaptiveThrottle`]: rejects requests on the client while the service refuses most of them.

use core::fmt;
use core::sync::atomic::{fence, AtomicU32, Ordering};
use core::time::Duration;

/// The ring of counters: the window is this many buckets.
const BUCKETS: usize = 12;
/// Fixed-point scale of `k`: thousandths.
const SCALE: u64 = 1_000;
/// Default `k`, in thousandths.
const DEFAULT_K_PERMILLE: u32 = 2_000;
/// Largest `k`, in thousandths.
const MAX_K_PERMILLE: u32 = 1_000_000;
/// Default window: the SRE book's two minutes.
const DEFAULT_WINDOW: Duration = Duration::from_secs(120);
/// The narrowest bucket, in milliseconds (a window of at least 1.2 s).
const MIN_BUCKET_MS: u64 = 100;
/// Bucket periods are stored in 31 bits; the top bit marks a bucket being cleared...
const CLEARING: u32 = 1 << 31;
/// ...or one that has never counted anything.
const EMPTY: u32 = u32::MAX;
/// The 31 bits of a bucket period.
const PERIOD_MASK: u32 = CLEARING - 1;
/// A bucket period at most this far ahead of a caller's own (modulo 2³¹) is newer; one
/// further ahead is older, from before the period counter wrapped.
const AHEAD_LIMIT: u32 = 1 << 16;
/// How many times a count waits for another thread to finish clearing its bucket before it is
/// dropped.
const CLEARING_SPINS: u32 = 64;

/// The error of a request that an [`AdaptiveThrottle`] rejected: it was not sent.
///
/// ```
/// use retry_runtime::{AdaptiveThrottle, Throttled};
/// use std::time::Duration;
///
/// let throttle = AdaptiveThrottle::new();
/// let now = Duration::ZERO;
/// throttle.admit(now, u32::MAX).unwrap(); // one request, never accepted
/// let rejected: Throttled = throttle.admit(now, 0).unwrap_err();
/// assert_eq!(
///     rejected.to_string(),
///     "the request was throttled locally: the service accepted too few recent requests",
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Throttled {
    _private: (),
}

impl Throttled {
    /// A `Throttled` for your own throttle-like code or tests.
    ///
    /// ```
    /// use retry_runtime::Throttled;
    /// assert_eq!(Throttled::new(), Throttled::default());
    /// ```
    pub const fn new() -> Self {
        Throttled { _private: () }
    }
}

impl Default for Throttled {
    /// [`Throttled::new`].
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for Throttled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "the request was throttled locally: the service accepted too few recent requests",
        )
    }
}

impl core::error::Error for Throttled {}

#[cfg(feature = "std")]
impl From<Throttled> for std::io::Error {
    /// An [`std::io::ErrorKind::Other`] error carrying the [`Throttled`].
    ///
    /// ```
    /// let err = std::io::Error::from(retry_runtime::Throttled::new());
    /// assert_eq!(err.kind(), std::io::ErrorKind::Other);
    /// ```
    fn from(throttled: Throttled) -> Self {
        std::io::Error::other(throttled)
    }
}

/// One bucket of the window: the period it counts, and its two counters.
struct Bucket {
    /// The bucket's period (31 bits), [`CLEARING`] while a thread resets it for a new one, or
    /// [`EMPTY`].
    period: AtomicU32,
    requests: AtomicU32,
    accepts: AtomicU32,
}

impl Bucket {
    const fn new() -> Self {
        Bucket {
            period: AtomicU32::new(EMPTY),
            requests: AtomicU32::new(0),
            accepts: AtomicU32::new(0),
        }
    }
}

/// Which counter of a bucket a count goes to.
#[derive(Clone, Copy)]
enum Counter {
    Requests,
    Accepts,
}

/// Client-side adaptive throttling, from Google's SRE book ("Handling Overload"): once a service
/// turns most requests away as overloaded, the client rejects a share of its own requests
/// before sending them, so the service spends nothing on them.
///
/// Over a sliding window (two minutes by default) the throttle counts the `requests` the client
/// attempted and the `accepts`, the answers that were not an overload refusal. Each new request
/// is rejected locally with probability
///
/// ```text
/// max(0, (requests - k × accepts) / (requests + 1))
/// ```
///
/// While the service accepts at least one request in `k`, nothing is rejected. Once it refuses
/// more, the client keeps sending about `k` times what the service accepts: the service sees a
/// bounded excess, enough to notice when it recovers (the probability falls as accepts come
/// back), and every other request fails at once on the client. A larger `k` is more lenient;
/// `k = 1` sends about what the service accepts.
///
/// Call [`admit`](AdaptiveThrottle::admit) before each attempt and
/// [`record`](AdaptiveThrottle::record) after each answer. Both take the time as `now`, the time
/// elapsed since any fixed instant of a monotonic clock (the same one for every call on one
/// throttle, for instance `start.elapsed()`), and `admit` takes a uniform random `u32` from any
/// generator: the throttle reads no clock and no random source, so it needs no `std`, and it is
/// exact under test.
///
/// The window is a ring of 12 buckets of `window / 12` each, keyed by `now`: a count stays in
/// the window until `now` has moved past its bucket by the whole window, so the window covers
/// between `window - window / 12` and `window` of history. Buckets that have fallen out of the
/// window are cleared when a count next falls into them. Every counter is an [`AtomicU32`], so
/// the throttle fits in a `static` (the constructors are `const fn`), never blocks, never
/// allocates and never panics. Under contention the counts stay exact but for rare races, and
/// are never added twice: a count made at the very instant another thread starts a new period
/// in its bucket may be lost (or land in the new period), and one whose `now` has already left
/// the window (a caller whose clock read most of a window before another's) is dropped.
///
/// # Default
///
/// | setting | default | why |
/// |---|---|---|
/// | `k` | 2 | the SRE book's value: the service sees at most twice what it accepts, and requests it would accept are rarely rejected |
/// | `window` | 120 s | the SRE book's two minutes: long enough to smooth a burst of refusals, short enough to follow a recovery |
///
/// Limits: `k` is clamped to `1..=1000` (NaN counts as 2) and stored in thousandths; `window`
/// is at least 1.2 s (100 ms buckets), and the bucket width is rounded down to the millisecond.
///
/// # Example
///
/// ```
/// use retry_runtime::AdaptiveThrottle;
/// use std::time::Duration;
///
/// static THROTTLE: AdaptiveThrottle = AdaptiveThrottle::new();
///
/// let now = Duration::from_secs(1);
/// // Ten requests (a draw of `u32::MAX` is never rejected), two of them accepted.
/// for i in 0..10 {
///     THROTTLE.admit(now, u32::MAX).unwrap();
///     THROTTLE.record(now, i < 2);
/// }
/// // The next request is rejected with probability (10 - 2 × 2) / (10 + 1).
/// assert_eq!(THROTTLE.rejection_probability(now), 6.0 / 11.0);
/// assert!(THROTTLE.admit(now, 0).is_err());
/// assert!(THROTTLE.admit(now, u32::MAX).is_ok());
/// assert_eq!(THROTTLE.requests(now), 12);
/// ```
pub struct AdaptiveThrottle {
    buckets: [Bucket; BUCKETS],
    /// `k` in thousandths.
    k_permille: u32,
    /// The width of one bucket, in milliseconds.
    bucket_ms: u64,
}

impl AdaptiveThrottle {
    /// A throttle with the defaults of the `# Default` table on [`AdaptiveThrottle`], and no
    /// history: it admits everything until answers come back refused.
    ///
    /// ```
    /// use retry_runtime::AdaptiveThrottle;
    /// use std::time::Duration;
    ///
    /// static THROTTLE: AdaptiveThrottle = AdaptiveThrottle::new();
    /// assert_eq!(THROTTLE.k(), 2.0);
    /// assert_eq!(THROTTLE.window(), Duration::from_secs(120));
    /// assert_eq!(THROTTLE.rejection_probability(Duration::ZERO), 0.0);
    /// ```
    pub const fn new() -> Self {
        AdaptiveThrottle {
            buckets: [const { Bucket::new() }; BUCKETS],
            k_permille: DEFAULT_K_PERMILLE,
            bucket_ms: DEFAULT_WINDOW.as_millis() as u64 / BUCKETS as u64,
        }
    }

    /// Sets `k`, the multiple of the accepted requests that the client may send: clamped to
    /// `1.0..=1000.0` (NaN as the default 2) and stored in thousandths, rounded to the nearest.
    ///
    /// ```
    /// use retry_runtime::AdaptiveThrottle;
    ///
    /// assert_eq!(AdaptiveThrottle::new().with_k(1.5).k(), 1.5);
    /// assert_eq!(AdaptiveThrottle::new().with_k(0.5).k(), 1.0);
    /// assert_eq!(AdaptiveThrottle::new().with_k(f64::NAN).k(), 2.0);
    /// ```
    pub const fn with_k(mut self, k: f64) -> Self {
        self.k_permille = if k.is_nan() {
            DEFAULT_K_PERMILLE
        } else if k <= 1.0 {
            SCALE as u32
        } else if k >= (MAX_K_PERMILLE / SCALE as u32) as f64 {
            MAX_K_PERMILLE
        } else {
            (k * SCALE as f64 + 0.5) as u32
        };
        self
    }

    /// Sets how much history the probability is computed over: 12 buckets of `window / 12`
    /// each (rounded down to the millisecond), with `window` at least 1.2 s.
    ///
    /// ```
    /// use retry_runtime::AdaptiveThrottle;
    /// use std::time::Duration;
    ///
    /// let throttle = AdaptiveThrottle::new().with_window(Duration::from_secs(60));
    /// assert_eq!(throttle.window(), Duration::from_secs(60));
    /// let short = AdaptiveThrottle::new().with_window(Duration::from_millis(1));
    /// assert_eq!(short.window(), Duration::from_millis(1_200));
    /// ```
    pub const fn with_window(mut self, window: Duration) -> Self {
        let ms = window.as_millis() / BUCKETS as u128;
        self.bucket_ms = if ms < MIN_BUCKET_MS as u128 {
            MIN_BUCKET_MS
        } else if ms > u64::MAX as u128 {
            u64::MAX
        } else {
            ms as u64
        };
        self
    }

    /// `k` as stored: a multiple of 1/1000 in `1.0..=1000.0`.
    ///
    /// ```
    /// use retry_runtime::AdaptiveThrottle;
    /// assert_eq!(AdaptiveThrottle::new().with_k(3.0).k(), 3.0);
    /// ```
    pub fn k(&self) -> f64 {
        f64::from(self.k_permille) / SCALE as f64
    }

    /// The window as stored: 12 times the bucket width.
    ///
    /// ```
    /// use retry_runtime::AdaptiveThrottle;
    /// use std::time::Duration;
    ///
    /// let throttle = AdaptiveThrottle::new().with_window(Duration::from_millis(10_005));
    /// assert_eq!(throttle.window(), Duration::from_millis(9_996));
    /// ```
    pub const fn window(&self) -> Duration {
        Duration::from_millis(self.bucket_ms.saturating_mul(BUCKETS as u64))
    }

    /// Decides whether to send an attempt now: `Ok(())` to send it, `Err(Throttled)` to fail it
    /// without sending.
    ///
    /// `draw` is a uniform random `u32` (from any generator, for instance `rand::random()`):
    /// the attempt is rejected exactly when `draw < p × 2³²`, where `p` is
    /// [`rejection_probability(now)`](AdaptiveThrottle::rejection_probability) as it was just
    /// before the call. Either way, the attempt is then counted in `requests`: as the SRE book
    /// has it, `requests` counts every request the client attempted, the ones it rejected
    /// itself included, so a client facing a service that accepts nothing still lets about one
    /// request in `requests + 1` through, and learns when the service is back.
    ///
    /// ```
    /// use retry_runtime::AdaptiveThrottle;
    /// use std::time::Duration;
    ///
    /// let throttle = AdaptiveThrottle::new();
    /// let now = Duration::ZERO;
    /// // No history: probability 0, nothing is rejected.
    /// assert!(throttle.admit(now, 0).is_ok());
    /// // One request, no accepts: probability 1/2.
    /// assert!(throttle.admit(now, u32::MAX / 2).is_err());
    /// assert!(throttle.admit(now, u32::MAX).is_ok());
    /// assert_eq!(throttle.requests(now), 3);
    /// ```
    pub fn admit(&self, now: Duration, draw: u32) -> Result<(), Throttled> {
        let (requests, accepts) = self.totals(now);
        let (num, den) = self.odds(requests, accepts);
        self.count(now, Counter::Requests);
        // draw < (num / den) × 2³², exactly, in integers.
        if u128::from(draw) * u128::from(den) < u128::from(num) << 32 {
            Err(Throttled::new())
        } else {
            Ok(())
        }
    }

    /// Records the answer to an attempt that [`admit`](AdaptiveThrottle::admit) let through:
    /// `accepted` unless the service refused it as overloaded.
    ///
    /// An accept is any answer that is not an overload refusal, failures included: a 404, a
    /// 400 or a 500 caused by the request are accepts (the service had the capacity to
    /// answer); a 429, a 503, a 529 or a gRPC `RESOURCE_EXHAUSTED` are not. A refusal changes
    /// no counter (the attempt was counted when it was admitted); an accept is counted in the
    /// bucket of `now`.
    ///
    /// ```
    /// use retry_runtime::AdaptiveThrottle;
    /// use std::time::Duration;
    ///
    /// let throttle = AdaptiveThrottle::new();
    /// let now = Duration::ZERO;
    /// throttle.admit(now, u32::MAX).unwrap();
    /// throttle.record(now, true);
    /// throttle.admit(now, u32::MAX).unwrap();
    /// throttle.record(now, false);
    /// assert_eq!((throttle.requests(now), throttle.accepts(now)), (2, 1));
    /// ```
    pub fn record(&self, now: Duration, accepted: bool) {
        if accepted {
            self.count(now, Counter::Accepts);
        }
    }

    /// The probability that a request attempted now is rejected:
    /// `max(0, (requests - k × accepts) / (requests + 1))` over the window ending at `now`.
    ///
    /// ```
    /// use retry_runtime::AdaptiveThrottle;
    /// use std::time::Duration;
    ///
    /// let throttle = AdaptiveThrottle::new();
    /// let now = Duration::from_secs(30);
    /// for _ in 0..4 {
    ///     throttle.admit(now, u32::MAX).unwrap();
    /// }
    /// throttle.record(now, true);
    /// assert_eq!(throttle.rejection_probability(now), 2.0 / 5.0);
    /// // Two minutes later the window has forgotten them.
    /// assert_eq!(throttle.rejection_probability(now + throttle.window()), 0.0);
    /// ```
    pub fn rejection_probability(&self, now: Duration) -> f64 {
        let (requests, accepts) = self.totals(now);
        let (num, den) = self.odds(requests, accepts);
        num as f64 / den as f64
    }

    /// The requests counted in the window ending at `now` (saturating at `u32::MAX`).
    ///
    /// ```
    /// use retry_runtime::AdaptiveThrottle;
    /// use std::time::Duration;
    ///
    /// let throttle = AdaptiveThrottle::new();
    /// throttle.admit(Duration::ZERO, u32::MAX).unwrap();
    /// assert_eq!(throttle.requests(Duration::from_secs(119)), 1);
    /// assert_eq!(throttle.requests(Duration::from_secs(120)), 0);
    /// ```
    pub fn requests(&self, now: Duration) -> u32 {
        saturate(self.totals(now).0)
    }

    /// The accepts counted in the window ending at `now` (saturating at `u32::MAX`).
    ///
    /// ```
    /// use retry_runtime::AdaptiveThrottle;
    /// use std::time::Duration;
    ///
    /// let throttle = AdaptiveThrottle::new();
    /// throttle.record(Duration::ZERO, true);
    /// assert_eq!(throttle.accepts(Duration::ZERO), 1);
    /// ```
    pub fn accepts(&self, now: Duration) -> u32 {
        saturate(self.totals(now).1)
    }

    /// The rejection probability as a fraction `(num, den)` with `num < den`, from the totals
    /// of the window.
    fn odds(&self, requests: u64, accepts: u64) -> (u64, u64) {
        // A window holds at most 12 × u32::MAX of each, so neither product overflows.
        let sent = requests * SCALE;
        let allowed = accepts * u64::from(self.k_permille);
        (sent.saturating_sub(allowed), (requests + 1) * SCALE)
    }

    /// The full period index of `now`.
    fn period(&self, now: Duration) -> u64 {
        let period = now.as_millis() / u128::from(self.bucket_ms);
        u64::try_from(period).unwrap_or(u64::MAX)
    }

    /// Adds one to `counter` in the bucket of `now`, clearing the bucket first if it still
    /// holds a period that has left the window.
    fn count(&self, now: Duration, counter: Counter) {
        let period = self.period(now);
        let bucket = &self.buckets[(period % BUCKETS as u64) as usize];
        let tag = period as u32 & PERIOD_MASK;
        let target = match counter {
            Counter::Requests => &bucket.requests,
            Counter::Accepts => &bucket.accepts,
        };
        for _ in 0..CLEARING_SPINS {
            let held = bucket.period.load(Ordering::Acquire);
            if held == CLEARING {
                core::hint::spin_loop();
                continue;
            }
            if held != EMPTY {
                let ahead = ahead_by(held, tag);
                if ahead == 0 {
                    target.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                // A newer period, started by a caller whose clock read at least most of a
                // window later: this count's period has left the ring, so it is dropped.
                if ahead < AHEAD_LIMIT {
                    return;
                }
            }
            // An older period, or none yet: claim the bucket, reset it for this one, count.
            if bucket
                .period
                .compare_exchange(held, CLEARING, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                // Readers that see the zeroes also see `CLEARING` on their second look.
                fence(Ordering::Release);
                bucket.requests.store(0, Ordering::Relaxed);
                bucket.accepts.store(0, Ordering::Relaxed);
                bucket.period.store(tag, Ordering::Release);
                target.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        // Another thread is still clearing the bucket: this one count is dropped.
    }

    /// `(requests, accepts)` summed over the buckets whose period is within the window ending
    /// at `now`.
    fn totals(&self, now: Duration) -> (u64, u64) {
        let period = self.period(now);
        let tag = period as u32 & PERIOD_MASK;
        let slot = (period % BUCKETS as u64) as u32;
        let (mut requests, mut accepts) = (0u64, 0u64);
        for (index, bucket) in (0u32..).zip(&self.buckets) {
            // The period this bucket holds if it is in the window.
            let behind = (slot + BUCKETS as u32 - index) % BUCKETS as u32;
            let current = tag.wrapping_sub(behind) & PERIOD_MASK;
            let held = bucket.period.load(Ordering::Acquire);
            if held != current {
                continue; // out of the window, or being cleared
            }
            let r = bucket.requests.load(Ordering::Relaxed);
            let a = bucket.accepts.load(Ordering::Relaxed);
            fence(Ordering::Acquire);
            if bucket.period.load(Ordering::Relaxed) == held {
                requests += u64::from(r);
                accepts += u64::from(a);
            }
        }
        (requests, accepts)
    }
}

/// How far period `a` is ahead of period `b`, modulo 2³¹.
const fn ahead_by(a: u32, b: u32) -> u32 {
    a.wrapping_sub(b) & PERIOD_MASK
}

fn saturate(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Default for AdaptiveThrottle {
    /// [`AdaptiveThrottle::new`]: see the `# Default` table on [`AdaptiveThrottle`].
    ///
    /// ```
    /// use retry_runtime::AdaptiveThrottle;
    /// use std::time::Duration;
    ///
    /// let throttle = AdaptiveThrottle::default();
    /// assert_eq!((throttle.k(), throttle.window()), (2.0, Duration::from_secs(120)));
    /// ```
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for AdaptiveThrottle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdaptiveThrottle")
            .field("k", &self.k())
            .field("window", &self.window())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: u32 = u32::MAX;

    /// A throttle holding `requests` requests and `accepts` accepts, all at `now`.
    fn filled(throttle: &AdaptiveThrottle, now: Duration, requests: u32, accepts: u32) {
        for _ in 0..requests {
            assert!(throttle.admit(now, MAX).is_ok());
        }
        for _ in 0..accepts {
            throttle.record(now, true);
        }
    }

    /// xorshift32: a deterministic stream of draws.
    fn xorshift(state: &mut u32) -> u32 {
        *state ^= *state << 13;
        *state ^= *state >> 17;
        *state ^= *state << 5;
        *state
    }

    #[test]
    fn probability_follows_the_formula() {
        let now = Duration::from_secs(7);
        for (requests, accepts, k) in [
            (0, 0, 2.0),
            (1, 0, 2.0),
            (10, 3, 2.0),
            (50, 10, 1.5),
            (9, 2, 1.0),
        ] {
            let throttle = AdaptiveThrottle::new().with_k(k);
            filled(&throttle, now, requests, accepts);
            let expected =
                ((f64::from(requests) - k * f64::from(accepts)) / f64::from(requests + 1)).max(0.0);
            let p = throttle.rejection_probability(now);
            assert!(
                (p - expected).abs() < 1e-12,
                "{requests}/{accepts}/{k}: {p} != {expected}"
            );
            assert_eq!(
                (throttle.requests(now), throttle.accepts(now)),
                (requests, accepts)
            );
        }
    }

    #[test]
    fn enough_accepts_reject_nothing() {
        let throttle = AdaptiveThrottle::new();
        let now = Duration::from_secs(1);
        filled(&throttle, now, 100, 50);
        assert_eq!(throttle.rejection_probability(now), 0.0);
        assert!(throttle.admit(now, 0).is_ok());
    }

    #[test]
    fn few_accepts_reject_exactly_below_the_threshold() {
        let throttle = AdaptiveThrottle::new();
        let now = Duration::from_secs(1);
        filled(&throttle, now, 100, 10);
        assert_eq!(throttle.rejection_probability(now), (100.0 - 20.0) / 101.0);
        // 80/101 × 2³² = 3_401_954_293.86…: draws up to 3_401_954_293 are rejected.
        let boundary: u32 = 3_401_954_293;
        assert_eq!(u64::from(boundary), (80u64 << 32) / 101);
        assert_eq!(throttle.admit(now, boundary), Err(Throttled::new()));
        // That rejected request counts: now 101 requests, (101 - 20) / 102.
        assert_eq!(throttle.rejection_probability(now), 81.0 / 102.0);
        let throttle = AdaptiveThrottle::new();
        filled(&throttle, now, 100, 10);
        assert_eq!(throttle.admit(now, boundary + 1), Ok(()));
    }

    #[test]
    fn the_window_forgets_old_buckets() {
        let throttle = AdaptiveThrottle::new();
        let start = Duration::from_secs(1_000);
        filled(&throttle, start, 10, 0);
        let later = start + Duration::from_secs(60);
        filled(&throttle, later, 5, 1);
        assert_eq!(throttle.requests(later), 15);
        // Both buckets are within the window until `window` after each.
        let edge = Duration::from_secs(1_000 + 119);
        assert_eq!(throttle.requests(edge), 15);
        let edge = Duration::from_secs(1_000 + 120);
        assert_eq!((throttle.requests(edge), throttle.accepts(edge)), (5, 1));
        let gone = later + Duration::from_secs(120);
        assert_eq!((throttle.requests(gone), throttle.accepts(gone)), (0, 0));
        assert_eq!(throttle.rejection_probability(gone), 0.0);
        // A count into the bucket of an old period clears it first.
        filled(&throttle, gone, 1, 0);
        assert_eq!(throttle.requests(gone), 1);
    }

    #[test]
    fn a_custom_window_forgets_sooner() {
        let throttle = AdaptiveThrottle::new().with_window(Duration::from_secs(12));
        filled(&throttle, Duration::ZERO, 3, 0);
        assert_eq!(throttle.requests(Duration::from_millis(11_999)), 3);
        assert_eq!(throttle.requests(Duration::from_secs(12)), 0);
    }

    #[test]
    fn a_long_idle_gap_does_not_resurrect_old_counts() {
        let throttle = AdaptiveThrottle::new().with_window(Duration::from_millis(1_200));
        filled(&throttle, Duration::ZERO, 7, 0);
        // Whole multiples of the ring, and a wrap of the 31-bit period.
        for periods in [12u64, 13, 768, 12 << 20, 1 << 31, (1 << 31) + 12] {
            let now = Duration::from_millis(periods * 100);
            assert_eq!(throttle.requests(now), 0, "{periods}");
        }
    }

    #[test]
    fn any_epoch_works() {
        let throttle = AdaptiveThrottle::new().with_window(Duration::from_millis(1_200));
        // Periods just below a wrap of the 31-bit period counter, then across it.
        let start = ((1u64 << 31) - 5) * 100;
        for step in 0..20 {
            let now = Duration::from_millis(start + step * 100);
            filled(&throttle, now, 1, 0);
            assert_eq!(throttle.requests(now), (step as u32 + 1).min(12), "{step}");
        }
        let throttle = AdaptiveThrottle::new();
        let unix = Duration::from_secs(1_700_000_000);
        filled(&throttle, unix, 3, 1);
        assert_eq!((throttle.requests(unix), throttle.accepts(unix)), (3, 1));
    }

    #[test]
    fn an_older_now_does_not_erase_a_newer_bucket() {
        let throttle = AdaptiveThrottle::new();
        let late = Duration::from_secs(125);
        filled(&throttle, late, 2, 1);
        // A caller whose clock read 5 s (the same bucket, one round earlier) counts nothing.
        filled(&throttle, Duration::from_secs(5), 1, 1);
        assert_eq!((throttle.requests(late), throttle.accepts(late)), (2, 1));
        assert_eq!(throttle.requests(Duration::from_secs(5)), 0);
    }

    #[test]
    fn k_and_window_are_clamped() {
        assert_eq!(AdaptiveThrottle::new().with_k(1e9).k(), 1_000.0);
        assert_eq!(AdaptiveThrottle::new().with_k(-3.0).k(), 1.0);
        assert_eq!(AdaptiveThrottle::new().with_k(2.0004).k(), 2.0);
        let huge = AdaptiveThrottle::new().with_window(Duration::MAX);
        let _ = huge.window();
        assert_eq!(huge.requests(Duration::MAX), 0);
        huge.record(Duration::MAX, true);
        assert_eq!(huge.accepts(Duration::MAX), 1);
    }

    /// A backend that accepts `capacity` requests a second, offered `multiple` times that:
    /// the client ends up sending about `k` times what the backend accepts.
    #[test]
    fn an_overloaded_backend_sees_about_k_times_its_capacity() {
        const CAPACITY: u64 = 50;
        const SECONDS: u64 = 600;
        for multiple in [2u64, 3, 5, 10] {
            let throttle = AdaptiveThrottle::new();
            let mut rng = 0x9E37_79B9u32 ^ multiple as u32;
            let offered = CAPACITY * multiple;
            let (mut sent, mut accepted) = (0u64, 0u64);
            for second in 0..SECONDS {
                let mut served = 0;
                for i in 0..offered {
                    let now = Duration::from_secs(second)
                        + Duration::from_secs(1) * i as u32 / offered as u32;
                    if throttle.admit(now, xorshift(&mut rng)).is_err() {
                        continue;
                    }
                    let ok = served < CAPACITY;
                    served += u64::from(ok);
                    throttle.record(now, ok);
                    // Measured over the last two minutes only, once the window is full.
                    if second >= SECONDS - 120 {
                        sent += 1;
                        accepted += u64::from(ok);
                    }
                }
            }
            let per_second = sent as f64 / 120.0;
            assert_eq!(
                accepted,
                CAPACITY * 120,
                "{multiple}: the backend is saturated"
            );
            let target = 2.0 * CAPACITY as f64;
            assert!(
                (per_second - target).abs() < 0.1 * target,
                "offered {multiple}× capacity: sent {per_second}/s, expected about {target}/s",
            );
            assert!((sent as f64 / accepted as f64 - 2.0).abs() < 0.2);
        }
    }

    #[test]
    fn concurrent_counts_are_exact_within_a_bucket() {
        let throttle = AdaptiveThrottle::new();
        let now = Duration::from_secs(3);
        std::thread::scope(|s| {
            for t in 0..4 {
                let throttle = &throttle;
                s.spawn(move || {
                    for i in 0..10_000 {
                        let _ = throttle.admit(now, MAX);
                        throttle.record(now, (i + t) % 4 == 0);
                    }
                });
            }
        });
        assert_eq!(throttle.requests(now), 40_000);
        assert_eq!(throttle.accepts(now), 10_000);
    }

    #[test]
    fn concurrent_counts_across_rotations_never_exceed_what_was_recorded() {
        // 100 ms buckets; each thread walks through 3 windows, so buckets rotate under load.
        let throttle = AdaptiveThrottle::new().with_window(Duration::from_millis(1_200));
        let end = Duration::from_millis(3_600);
        const THREADS: u32 = 4;
        const STEPS: u32 = 36_000;
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let throttle = &throttle;
                s.spawn(move || {
                    let mut rng = 0x1234_5678 + t;
                    for i in 0..STEPS {
                        let now = end * i / STEPS;
                        let _ = throttle.admit(now, xorshift(&mut rng));
                        throttle.record(now, i % 3 == 0);
                        let p = throttle.rejection_probability(now);
                        assert!((0.0..1.0).contains(&p));
                        // Nothing a window holds can exceed all that any thread recorded.
                        assert!(throttle.requests(now) <= THREADS * STEPS);
                    }
                });
            }
        });
        // The last window holds at most what was recorded in it: 12 of 36 buckets.
        let last = end - Duration::from_millis(1);
        let per_window = THREADS * STEPS / 3;
        // (Give or take a count per thread, added just as its bucket moved on to a new period.)
        assert!(
            throttle.requests(last) <= per_window + THREADS,
            "{}",
            throttle.requests(last)
        );
        assert!(throttle.accepts(last) <= per_window / 3 + THREADS);
        assert!(throttle.requests(last) > 0);
    }

    #[test]
    fn throttled_is_an_error() {
        let err: &dyn core::error::Error = &Throttled::new();
        assert!(err.source().is_none());
        assert!(format!("{:?}", AdaptiveThrottle::new()).starts_with("AdaptiveThrottle"));
    }
}
