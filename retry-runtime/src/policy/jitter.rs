//! Jitter: spreading retries of many clients apart in time.

#[cfg(feature = "std")]
use core::cell::RefCell;
use core::time::Duration;

use rand::rngs::SmallRng;
use rand::Rng;
#[cfg(any(feature = "std", test))]
use rand::SeedableRng;

use crate::policy::backoff::{from_nanos_capped, nanos};

/// How a computed delay `d` is randomised (Brooker, "Exponential Backoff And Jitter").
///
/// | kind | delay actually slept |
/// |---|---|
/// | [`None`](Jitter::None) | `d` |
/// | [`Full`](Jitter::Full) | `uniform(0, d)` |
/// | [`Equal`](Jitter::Equal) | `d/2 + uniform(0, d/2)` |
/// | [`Decorrelated`](Jitter::Decorrelated) | `min(max, uniform(base, 3 · previous))` |
///
/// Jitter is applied after the cap and the result is capped again, so no delay ever exceeds the
/// policy's `max`. Decorrelated jitter ignores the backoff strategy: each delay is drawn from the
/// previous one, starting at `base`.
///
/// # Default
///
/// [`Jitter::None`]. A bare `jitter` flag in `#[retry(...)]` means [`Jitter::Full`].
///
/// # Example
///
/// ```
/// use retry_runtime::{Jitter, Policy};
/// use std::time::Duration;
///
/// let policy = Policy::new().with_jitter(Jitter::Full);
/// for d in policy.delays() {
///     assert!(d <= Duration::from_secs(2));
/// }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Jitter {
    /// Sleep exactly the computed delay.
    #[default]
    None,
    /// Sleep `uniform(0, d)`.
    Full,
    /// Sleep `d/2 + uniform(0, d/2)`.
    Equal,
    /// Sleep `min(max, uniform(base, 3 · previous))`, with `previous` starting at `base`.
    Decorrelated,
}

impl Jitter {
    /// Every kind, in the order of the table above.
    ///
    /// ```
    /// use retry_runtime::Jitter;
    /// assert_eq!(Jitter::ALL.len(), 4);
    /// assert_eq!(Jitter::ALL[0], Jitter::default());
    /// ```
    pub const ALL: [Jitter; 4] = [
        Jitter::None,
        Jitter::Full,
        Jitter::Equal,
        Jitter::Decorrelated,
    ];

    /// The kind's name as written in `#[retry(jitter = …)]`.
    ///
    /// ```
    /// assert_eq!(retry_runtime::Jitter::Equal.name(), "equal");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            Jitter::None => "none",
            Jitter::Full => "full",
            Jitter::Equal => "equal",
            Jitter::Decorrelated => "decorrelated",
        }
    }
}

/// A duration drawn uniformly from `lo..=hi` (`hi` below `lo` gives `lo`).
#[inline]
pub(crate) fn uniform<R: Rng + ?Sized>(rng: &mut R, lo: Duration, hi: Duration) -> Duration {
    if hi <= lo {
        return lo;
    }
    let lo_ns = nanos(lo);
    let span = nanos(hi) - lo_ns;
    // Spans beyond `u64::MAX` ns (584 years) are drawn at `u64` resolution: still uniform enough
    // and never above `hi`.
    let draw = match u64::try_from(span) {
        Ok(span) => u128::from(rng.random_range(0..=span)),
        Err(_) => {
            let scale = span / u128::from(u64::MAX) + 1;
            u128::from(rng.random::<u64>())
                .saturating_mul(scale)
                .min(span)
        }
    };
    from_nanos_capped(lo_ns + draw, hi)
}

#[cfg(feature = "std")]
std::thread_local! {
    static RNG: RefCell<SmallRng> = RefCell::new(fresh_rng());
}

/// A generator seeded from the OS, or from the clock if the OS has no randomness to give.
#[cfg(feature = "std")]
fn fresh_rng() -> SmallRng {
    SmallRng::try_from_os_rng().unwrap_or_else(|_| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        SmallRng::seed_from_u64(now as u64)
    })
}

/// Re-seeds the jitter random number generator of the current thread (without `std`: the one
/// generator of the program).
///
/// Retries on this thread then draw a reproducible sequence of jittered delays, which makes
/// tests exact. Under a current-thread tokio runtime (the default of `#[tokio::test]`) every
/// retried future runs on the test's own thread.
///
/// Without `std` there is no OS to seed the generator from: every device starts from the same
/// fixed seed until this is called, so call it once at boot with a value that differs between
/// devices (a hardware random number, a serial number), or a fleet's retries stay in step.
///
/// # Example
///
/// ```
/// use retry_runtime::{seed_jitter, Jitter, Policy};
///
/// let policy = Policy::new().with_attempts(5).with_jitter(Jitter::Full);
/// seed_jitter(7);
/// let first: Vec<_> = policy.delays().collect();
/// seed_jitter(7);
/// let second: Vec<_> = policy.delays().collect();
/// assert_eq!(first, second);
/// ```
pub fn seed_jitter(seed: u64) {
    #[cfg(feature = "std")]
    {
        // During thread teardown the generator may be gone already; there is nothing to seed then.
        let _ = RNG.try_with(|rng| {
            if let Ok(mut rng) = rng.try_borrow_mut() {
                *rng = SmallRng::seed_from_u64(seed);
            }
        });
    }
    #[cfg(not(feature = "std"))]
    shared::seed(seed)
}

/// Runs `f` with this thread's jitter RNG. The borrow never outlives the call, so no RNG is ever
/// held across an `.await`.
#[cfg(feature = "std")]
#[inline]
pub(crate) fn with_thread_rng<T>(mut f: impl FnMut(&mut SmallRng) -> T) -> T {
    // Thread teardown or re-entrancy: draw from a fresh generator instead of panicking.
    RNG.try_with(|cell| match cell.try_borrow_mut() {
        Ok(mut rng) => f(&mut rng),
        Err(_) => f(&mut fresh_rng()),
    })
    .unwrap_or_else(|_| f(&mut fresh_rng()))
}

/// Without `std`: a generator for this draw, seeded from the program's one lock-free sequence
/// (no thread-local storage, safe from interrupts).
#[cfg(not(feature = "std"))]
#[inline]
pub(crate) fn with_thread_rng<T>(mut f: impl FnMut(&mut SmallRng) -> T) -> T {
    f(&mut shared::next())
}

/// The program-wide seed sequence of `no_std` builds: a Weyl sequence in one atomic word, each
/// value seeding a fresh `SmallRng` (which mixes it).
#[cfg(not(feature = "std"))]
mod shared {
    use core::sync::atomic::Ordering;

    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    use crate::sync::AtomicU64;

    /// The golden-ratio increment of SplitMix64.
    const STEP: u64 = 0x9E37_79B9_7F4A_7C15;
    static NEXT: AtomicU64 = AtomicU64::new(0x853C_49E6_748F_EA9B);

    pub(super) fn seed(seed: u64) {
        NEXT.store(seed, Ordering::Relaxed);
    }

    pub(super) fn next() -> SmallRng {
        SmallRng::seed_from_u64(NEXT.fetch_add(STEP, Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn uniform_stays_within_bounds() {
        let mut rng = SmallRng::seed_from_u64(3);
        for _ in 0..10_000 {
            let d = uniform(&mut rng, MS * 10, MS * 20);
            assert!(d >= MS * 10 && d <= MS * 20, "{d:?}");
        }
    }

    #[test]
    fn uniform_degenerate_ranges_give_lo() {
        let mut rng = SmallRng::seed_from_u64(3);
        assert_eq!(uniform(&mut rng, MS * 5, MS * 5), MS * 5);
        assert_eq!(uniform(&mut rng, MS * 5, MS * 2), MS * 5);
        assert_eq!(
            uniform(&mut rng, Duration::ZERO, Duration::ZERO),
            Duration::ZERO
        );
        assert_eq!(
            uniform(&mut rng, Duration::MAX, Duration::MAX),
            Duration::MAX
        );
    }

    #[test]
    fn uniform_huge_spans_do_not_overflow() {
        // Spans above `u64::MAX` nanoseconds take the scaled path.
        let mut rng = SmallRng::seed_from_u64(9);
        let mut seen_high = false;
        for _ in 0..1_000 {
            let d = uniform(&mut rng, Duration::ZERO, Duration::MAX);
            seen_high |= d > Duration::MAX / 2;
            let d = uniform(&mut rng, Duration::from_secs(1), Duration::MAX);
            assert!(d >= Duration::from_secs(1));
        }
        assert!(
            seen_high,
            "draws over a huge span never reached its upper half"
        );
    }

    #[test]
    fn uniform_covers_its_range() {
        // Not a distribution test: only that draws are spread, not stuck at one end.
        let mut rng = SmallRng::seed_from_u64(11);
        let draws: Vec<_> = (0..1_000)
            .map(|_| uniform(&mut rng, Duration::ZERO, MS * 100))
            .collect();
        assert!(draws.iter().any(|d| *d < MS * 10));
        assert!(draws.iter().any(|d| *d > MS * 90));
    }

    #[test]
    fn seeding_makes_the_thread_generator_reproducible() {
        let draw = || with_thread_rng(|rng| uniform(rng, Duration::ZERO, Duration::from_secs(1)));
        seed_jitter(42);
        let a: Vec<_> = (0..8).map(|_| draw()).collect();
        seed_jitter(42);
        let b: Vec<_> = (0..8).map(|_| draw()).collect();
        seed_jitter(43);
        let c: Vec<_> = (0..8).map(|_| draw()).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn nested_use_of_the_thread_generator_does_not_panic() {
        let d = with_thread_rng(|outer| {
            let inner = with_thread_rng(|inner| uniform(inner, MS, MS * 2));
            uniform(outer, MS, MS * 2) + inner
        });
        assert!(d >= MS * 2 && d <= MS * 4);
        // Seeding while the generator is borrowed is ignored rather than panicking.
        with_thread_rng(|_| seed_jitter(1));
    }

    #[test]
    fn names_match_the_attribute_spelling() {
        let names: Vec<_> = [
            Jitter::None,
            Jitter::Full,
            Jitter::Equal,
            Jitter::Decorrelated,
        ]
        .iter()
        .map(|j| j.name())
        .collect();
        assert_eq!(names, ["none", "full", "equal", "decorrelated"]);
        assert_eq!(Jitter::default(), Jitter::None);
    }
}
