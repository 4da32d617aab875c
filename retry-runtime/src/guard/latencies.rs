//! [`Latencies`]: a small lock-free histogram of a call site's latencies, for a hedge that
//! waits for a percentile of them (`hedge = p95`, [`hedge_at`](crate::builder::Retry::hedge_at)).

use core::sync::atomic::{AtomicU32, Ordering};
use core::time::Duration;

/// Sub-buckets per power of two: a bucket is at most 1/16 (6.25%) wider than its lower bound.
const SUB_BITS: u32 = 4;
const SUB: usize = 1 << SUB_BITS;
/// Buckets: microseconds `0..16` one each, then 16 per power of two up to `2^35` µs (9.5 hours).
const BUCKETS: usize = SUB * 32;
/// When this many samples are held, every count is halved: recent latencies weigh more, and
/// a change of the service shows within a few thousand calls.
const WINDOW: u32 = 4096;
/// The samples a percentile needs before a hedge waits for it ([`Latencies::new`]).
pub const DEFAULT_MIN_SAMPLES: u32 = 20;

/// A call site's recent latencies, in buckets of microseconds no more than 6.25% wide, for a
/// hedge sent at a percentile of them (as tower's `hedge` does, without its lock): recording
/// and reading are a few atomic operations, shared by every call of the site.
///
/// It holds no percentile until [`min_samples`](Latencies::with_min_samples) latencies are in
/// (20 by default): until then a hedged call sends no copy on a timer. Every 4,096 samples
/// the counts are halved, so the percentile follows the service as it changes.
///
/// ```
/// use retry_runtime::Latencies;
/// use std::time::Duration;
///
/// static LATENCIES: Latencies = Latencies::new();
/// assert_eq!(LATENCIES.percentile(0.95), None);
/// for ms in 1..=100 {
///     LATENCIES.record(Duration::from_millis(ms));
/// }
/// let p95 = LATENCIES.percentile(0.95).unwrap();
/// assert!(p95 >= Duration::from_millis(89) && p95 <= Duration::from_millis(95), "{p95:?}");
/// ```
pub struct Latencies {
    buckets: [AtomicU32; BUCKETS],
    held: AtomicU32,
    min_samples: u32,
}

impl Latencies {
    /// An empty histogram that answers percentiles after 20 samples.
    pub const fn new() -> Self {
        Self::with_min_samples(DEFAULT_MIN_SAMPLES)
    }

    /// An empty histogram that answers percentiles after `min_samples` samples (at least 1).
    pub const fn with_min_samples(min_samples: u32) -> Self {
        Latencies {
            buckets: [const { AtomicU32::new(0) }; BUCKETS],
            held: AtomicU32::new(0),
            min_samples: if min_samples == 0 { 1 } else { min_samples },
        }
    }

    /// Records one latency.
    pub fn record(&self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.buckets[bucket(micros)].fetch_add(1, Ordering::Relaxed);
        if self.held.fetch_add(1, Ordering::Relaxed) + 1 >= WINDOW {
            self.halve();
        }
    }

    /// The samples held now (recent ones count fully, older ones less).
    pub fn samples(&self) -> u32 {
        self.held.load(Ordering::Relaxed)
    }

    /// The latency by which a fraction `percentile` of the samples had answered: the lower
    /// edge of the bucket that holds that rank (at most 6.25% below it, so that a hedge at the
    /// percentile goes no later than it), or `None` before `min_samples` samples. `percentile` is clamped to
    /// `0.0..=1.0` (a NaN reads as the median).
    pub fn percentile(&self, percentile: f64) -> Option<Duration> {
        let held = self.samples();
        if held < self.min_samples {
            return None;
        }
        let percentile = if percentile.is_nan() {
            0.5
        } else {
            percentile.clamp(0.0, 1.0)
        };
        // The rank of the sample, 1-based, in integers: ceil(p * held).
        let per_million = (percentile * 1_000_000.0) as u64;
        let rank = (u64::from(held) * per_million).div_ceil(1_000_000).max(1);
        let mut seen = 0u64;
        for (index, count) in self.buckets.iter().enumerate() {
            seen += u64::from(count.load(Ordering::Relaxed));
            if seen >= rank {
                return Some(Duration::from_micros(lower_edge(index)));
            }
        }
        // Samples halved while counting: the largest bucket with any.
        let last = self
            .buckets
            .iter()
            .rposition(|count| count.load(Ordering::Relaxed) > 0)?;
        Some(Duration::from_micros(lower_edge(last)))
    }

    /// Halves every bucket and the count held (racing recorders may be halved or not: the
    /// histogram stays approximate, never wrong by more than the samples in flight).
    #[cold]
    fn halve(&self) {
        let mut held = 0;
        for count in &self.buckets {
            let before =
                count.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| Some(c - c / 2));
            held += before.map_or(0, |c| c - c / 2);
        }
        self.held.store(held, Ordering::Relaxed);
    }
}

impl Default for Latencies {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Debug for Latencies {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Latencies")
            .field("samples", &self.samples())
            .field("min_samples", &self.min_samples)
            .field("p50", &self.percentile(0.5))
            .field("p95", &self.percentile(0.95))
            .finish()
    }
}

/// The bucket of `micros`: one per microsecond below 16, then 16 per power of two.
fn bucket(micros: u64) -> usize {
    if micros < SUB as u64 {
        return micros as usize;
    }
    let exponent = 63 - micros.leading_zeros(); // >= SUB_BITS
    let sub = (micros >> (exponent - SUB_BITS)) as usize & (SUB - 1);
    let index = (exponent - SUB_BITS + 1) as usize * SUB + sub;
    index.min(BUCKETS - 1)
}

/// The smallest microsecond count in bucket `index`.
fn lower_edge(index: usize) -> u64 {
    if index == 0 {
        0
    } else {
        upper_edge(index - 1)
    }
}

/// The largest whole microsecond count in bucket `index`, plus one: the bucket's upper edge.
fn upper_edge(index: usize) -> u64 {
    if index < SUB {
        return index as u64 + 1;
    }
    let exponent = (index / SUB) as u32 + SUB_BITS - 1;
    let sub = (index % SUB) as u64;
    (SUB as u64 + sub + 1) << (exponent - SUB_BITS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn buckets_are_at_most_an_eighth_wide_and_cover_their_values() {
        for micros in [
            0u64, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100, 1_000, 12_345, 10_000_000,
        ] {
            let index = bucket(micros);
            let upper = upper_edge(index);
            assert!(micros < upper, "{micros} in bucket {index} below {upper}");
            let lower = if index == 0 { 0 } else { upper_edge(index - 1) };
            assert!(micros >= lower, "{micros} in bucket {index} from {lower}");
            assert!(
                (upper - lower) * 8 <= lower.max(8),
                "{micros}: {lower}..{upper}"
            );
        }
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn no_percentile_before_min_samples() {
        let latencies = Latencies::new();
        for _ in 0..19 {
            latencies.record(MS * 10);
        }
        assert_eq!(latencies.percentile(0.95), None);
        latencies.record(MS * 10);
        let p = latencies.percentile(0.95).expect("20 samples");
        assert!(p > MS * 9 && p <= MS * 10, "{p:?}");
    }

    #[test]
    fn the_percentile_reads_the_rank() {
        let latencies = Latencies::with_min_samples(1);
        // 95 fast, 5 slow: p95 is fast, p96 slow.
        for _ in 0..95 {
            latencies.record(MS * 10);
        }
        for _ in 0..5 {
            latencies.record(MS * 500);
        }
        assert!(latencies.percentile(0.95).unwrap() <= MS * 10);
        assert!(latencies.percentile(0.96).unwrap() > MS * 450);
        assert!(latencies.percentile(0.0).unwrap() <= MS * 10);
        assert_eq!(latencies.percentile(f64::NAN), latencies.percentile(0.5));
        assert_eq!(latencies.percentile(7.0), latencies.percentile(1.0));
    }

    #[test]
    fn a_full_window_is_halved_and_follows_a_change() {
        let latencies = Latencies::with_min_samples(1);
        for _ in 0..WINDOW - 1 {
            latencies.record(MS * 10);
        }
        assert_eq!(latencies.samples(), WINDOW - 1);
        latencies.record(MS * 10);
        assert_eq!(latencies.samples(), WINDOW / 2);
        // The service slows down: within a window the median follows.
        for _ in 0..WINDOW {
            latencies.record(MS * 100);
        }
        assert!(latencies.percentile(0.5).unwrap() >= MS * 94);
    }

    #[test]
    fn recorded_from_many_threads_at_once() {
        let latencies = Latencies::with_min_samples(1);
        std::thread::scope(|scope| {
            for t in 0..4u64 {
                let latencies = &latencies;
                scope.spawn(move || {
                    for i in 0..1_000 {
                        latencies.record(Duration::from_micros(100 + t * 10 + i % 7));
                    }
                });
            }
        });
        assert_eq!(latencies.samples(), 4_000);
        let p = latencies.percentile(0.5).unwrap();
        assert!(
            p >= Duration::from_micros(100) && p <= Duration::from_micros(160),
            "{p:?}"
        );
    }
}
