//! Backoff strategies: how the delay grows from one retry to the next.

use core::time::Duration;

/// How the delay before retry `k` grows with `k` (before the cap and jitter).
///
/// Retry `k` is the one before attempt `k + 1`, so `k = 1` is the first retry.
///
/// | strategy | delay before retry `k` |
/// |---|---|
/// | [`Exponential`](Backoff::Exponential) | `base · factor^(k-1)` |
/// | [`Constant`](Backoff::Constant) | `base` |
/// | [`Linear`](Backoff::Linear) | `base · k` |
/// | [`Fibonacci`](Backoff::Fibonacci) | `base · F(k)`, `F = 1, 1, 2, 3, 5, …` |
///
/// Every strategy saturates: for any `k` up to `u32::MAX` the result is capped at the policy's
/// `max`, never overflows and never panics.
///
/// # Default
///
/// [`Backoff::Exponential`].
///
/// # Example
///
/// ```
/// use retry_runtime::{Backoff, Policy};
/// use std::time::Duration;
///
/// let policy = Policy::new()
///     .with_backoff(Backoff::Linear)
///     .with_base(Duration::from_millis(100));
/// assert_eq!(policy.delay(3), Duration::from_millis(300));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Backoff {
    /// `base · factor^(k-1)`: 200ms, 400ms, 800ms, … with the defaults.
    #[default]
    Exponential,
    /// `base` every time.
    Constant,
    /// `base · k`: 200ms, 400ms, 600ms, …
    Linear,
    /// `base · F(k)` with `F = 1, 1, 2, 3, 5, 8, …`: 200ms, 200ms, 400ms, 600ms, …
    Fibonacci,
}

impl Backoff {
    /// Every strategy, in the order of the table above.
    ///
    /// ```
    /// use retry_runtime::Backoff;
    /// assert_eq!(Backoff::ALL.len(), 4);
    /// assert_eq!(Backoff::ALL[0], Backoff::default());
    /// ```
    pub const ALL: [Backoff; 4] = [
        Backoff::Exponential,
        Backoff::Constant,
        Backoff::Linear,
        Backoff::Fibonacci,
    ];

    /// The strategy's name as written in `#[retry(backoff = …)]`.
    ///
    /// ```
    /// assert_eq!(retry_runtime::Backoff::Fibonacci.name(), "fibonacci");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            Backoff::Exponential => "exponential",
            Backoff::Constant => "constant",
            Backoff::Linear => "linear",
            Backoff::Fibonacci => "fibonacci",
        }
    }

    /// Whether a `factor` means anything to this strategy: only exponential backoff multiplies.
    /// The one statement of that rule in this crate: [`Policy::validate`](crate::Policy::validate)
    /// and the configuration file form apply it.
    ///
    /// ```
    /// use retry_runtime::Backoff;
    /// assert!(Backoff::Exponential.takes_factor());
    /// assert!(!Backoff::Constant.takes_factor());
    /// ```
    pub const fn takes_factor(self) -> bool {
        matches!(self, Backoff::Exponential)
    }
}

/// Largest `k` whose Fibonacci number fits in a `u128`.
const FIB_LEN: usize = 186;

/// `FIB[k] = F(k)` with `F(0) = 0`, `F(1) = F(2) = 1`.
const FIB: [u128; FIB_LEN + 1] = {
    let mut table = [0u128; FIB_LEN + 1];
    table[1] = 1;
    let mut i = 2;
    while i <= FIB_LEN {
        table[i] = table[i - 1] + table[i - 2];
        i += 1;
    }
    table
};

/// Nanoseconds of a duration as `u128` (exact: `Duration` holds at most ~1.8e28 ns).
#[inline]
pub(crate) const fn nanos(d: Duration) -> u128 {
    d.as_nanos()
}

/// A nanosecond count turned back into a `Duration`, saturating at `cap`.
#[inline]
pub(crate) fn from_nanos_capped(n: u128, cap: Duration) -> Duration {
    if n >= nanos(cap) {
        cap
    } else {
        // `n < nanos(cap)`, so the seconds fit in a `u64` and nothing can overflow.
        Duration::new((n / 1_000_000_000) as u64, (n % 1_000_000_000) as u32)
    }
}

/// `FIB64[k] = F(k)` for every `F(k)` that fits in a `u64` (`k <= 93`).
const FIB64: [u64; 94] = {
    let mut table = [0u64; 94];
    let mut i = 0;
    while i < 94 {
        table[i] = FIB[i] as u64;
        i += 1;
    }
    table
};

/// A duration in nanoseconds as a `u64`, or `None` from `u64::MAX` ns (584 years) up, where
/// the exact 128-bit path takes over.
#[inline]
pub(crate) fn nanos64(d: Duration) -> Option<u64> {
    d.as_secs()
        .checked_mul(1_000_000_000)
        .and_then(|ns| ns.checked_add(u64::from(d.subsec_nanos())))
        .filter(|ns| *ns != u64::MAX)
}

/// [`raw_delay`] in 64-bit nanoseconds, for `base_ns` and `max_ns` below `u64::MAX`: the
/// result is at most `max_ns`.
#[inline]
pub(crate) fn raw_delay_ns(
    backoff: Backoff,
    base_ns: u64,
    factor: f64,
    max_ns: u64,
    k: u32,
) -> u64 {
    let k = k.max(1);
    let d = match backoff {
        Backoff::Constant => base_ns,
        Backoff::Linear => base_ns.saturating_mul(u64::from(k)),
        Backoff::Fibonacci => match FIB64.get(k as usize) {
            Some(f) => base_ns.saturating_mul(*f),
            None if base_ns == 0 => 0,
            None => u64::MAX,
        },
        Backoff::Exponential => {
            let n = k - 1;
            if n == 0 || factor == 1.0 || base_ns == 0 {
                base_ns
            } else if factor == 2.0 {
                // Exact integer arithmetic for the common `factor = 2`.
                if n >= 64 {
                    u64::MAX
                } else {
                    base_ns.saturating_mul(1 << n)
                }
            } else {
                let exp = i32::try_from(n).unwrap_or(i32::MAX);
                let scaled = base_ns as f64 * powi(factor, exp);
                if scaled.is_nan() || scaled >= max_ns as f64 {
                    u64::MAX
                } else {
                    // Finite and below the cap here; `as` saturates anyway.
                    round(scaled) as u64
                }
            }
        }
    };
    d.min(max_ns)
}

/// The capped, un-jittered delay before retry `k` (`k` is clamped to at least 1).
///
/// `factor` must already be sanitised (finite or `+inf`, at least 1).
#[inline]
pub(crate) fn raw_delay(
    backoff: Backoff,
    base: Duration,
    factor: f64,
    max: Duration,
    k: u32,
) -> Duration {
    match (nanos64(base), nanos64(max)) {
        (Some(base_ns), Some(max_ns)) => {
            Duration::from_nanos(raw_delay_ns(backoff, base_ns, factor, max_ns, k))
        }
        _ => raw_delay_wide(backoff, base, factor, max, k),
    }
}

/// [`raw_delay`] in exact 128-bit arithmetic, for durations of 584 years and more.
#[cold]
fn raw_delay_wide(
    backoff: Backoff,
    base: Duration,
    factor: f64,
    max: Duration,
    k: u32,
) -> Duration {
    let k = k.max(1);
    let base_ns = nanos(base);
    if base_ns == 0 {
        return Duration::ZERO;
    }
    match backoff {
        Backoff::Constant => base.min(max),
        Backoff::Linear => from_nanos_capped(base_ns.saturating_mul(u128::from(k)), max),
        Backoff::Fibonacci => {
            let f = FIB.get(k as usize).copied().unwrap_or(u128::MAX);
            from_nanos_capped(base_ns.saturating_mul(f), max)
        }
        Backoff::Exponential => {
            let n = k - 1;
            if n == 0 || factor == 1.0 {
                return base.min(max);
            }
            // Exact integer arithmetic for the common `factor = 2`.
            if factor == 2.0 {
                return if n >= 127 {
                    max
                } else {
                    from_nanos_capped(base_ns.saturating_mul(1u128 << n), max)
                };
            }
            let exp = i32::try_from(n).unwrap_or(i32::MAX);
            let scaled = base_ns as f64 * powi(factor, exp);
            if scaled.is_nan() || scaled >= nanos(max) as f64 {
                max
            } else {
                // `as` saturates and `scaled` is finite and below the cap here.
                from_nanos_capped(round(scaled) as u128, max)
            }
        }
    }
}

/// `x` to the power `n` (`n >= 0`): `f64::powi` with `std`; without it the same
/// square-and-multiply that `powi` lowers to (compiler-rt's `__powidf2`), so schedules agree.
#[cfg(feature = "std")]
#[inline]
fn powi(x: f64, n: i32) -> f64 {
    x.powi(n)
}

#[cfg(not(feature = "std"))]
fn powi(mut x: f64, n: i32) -> f64 {
    let mut n = n.unsigned_abs();
    let mut r = 1.0;
    loop {
        if n & 1 == 1 {
            r *= x;
        }
        n /= 2;
        if n == 0 {
            break r;
        }
        x *= x;
    }
}

/// `x` (finite, `0 <= x`) rounded half away from zero: `f64::round` with `std`.
#[cfg(feature = "std")]
#[inline]
fn round(x: f64) -> f64 {
    x.round()
}

#[cfg(not(feature = "std"))]
fn round(x: f64) -> f64 {
    // Above 2^52 every `f64` is a whole number already; below, the truncation and the
    // difference are exact.
    if x >= 4_503_599_627_370_496.0 {
        return x;
    }
    let whole = x as u64 as f64;
    if x - whole >= 0.5 {
        whole + 1.0
    } else {
        whole
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn fibonacci_table_starts_right_and_ends_in_range() {
        assert_eq!(&FIB[..8], &[0, 1, 1, 2, 3, 5, 8, 13]);
        assert!(FIB[FIB_LEN].checked_add(FIB[FIB_LEN - 1]).is_none());
    }

    #[test]
    fn the_64_bit_path_agrees_with_the_exact_one() {
        let bases = [0, 1, 999, 1_000_000, 200_000_000, 3_000_000_000, 1 << 40];
        let maxes = [0, 1, 1_000_000, 2_000_000_000, 1 << 50, u64::MAX - 1];
        let factors = [1.0, 1.5, 2.0, 3.0, 10.0, f64::INFINITY];
        let backoffs = Backoff::ALL;
        for base in bases {
            for max in maxes {
                for factor in factors {
                    for backoff in backoffs {
                        for k in [1, 2, 3, 10, 63, 64, 65, 93, 94, 200, u32::MAX] {
                            let (b, m) = (Duration::from_nanos(base), Duration::from_nanos(max));
                            let fast = raw_delay(backoff, b, factor, m, k);
                            let wide = raw_delay_wide(backoff, b, factor, m, k);
                            assert_eq!(fast, wide, "{backoff:?} {base} {max} {factor} {k}");
                        }
                    }
                }
            }
        }
    }

    /// Nanosecond counts both paths take: below `u64::MAX`, weighted towards the edges.
    fn nanos_below_u64_max() -> impl Strategy<Value = u64> {
        prop_oneof![
            Just(0u64),
            Just(1u64),
            Just(u64::MAX - 1),
            0u64..=10_000_000_000,
            (u64::MAX - 1_000_000)..u64::MAX,
            (0u32..64).prop_map(|shift| 1u64 << shift),
            0u64..u64::MAX,
        ]
    }

    /// Any `f64`, made safe as `Policy` makes it before computing a delay (below 1 or NaN is
    /// 1; `+inf` stays).
    fn sanitised_factor() -> impl Strategy<Value = f64> {
        let raw = prop_oneof![
            Just(1.0),
            Just(2.0),
            Just(f64::INFINITY),
            Just(f64::MAX),
            Just(1.0 + f64::EPSILON),
            1.0f64..1.000_000_001,
            1.0f64..10.0,
            10.0f64..1e300,
            any::<f64>(),
        ];
        raw.prop_map(|factor| if factor >= 1.0 { factor } else { 1.0 })
    }

    fn any_k() -> impl Strategy<Value = u32> {
        prop_oneof![
            Just(0u32),
            Just(u32::MAX),
            0u32..=200,
            (i32::MAX as u32 - 2)..=(i32::MAX as u32 + 2),
            any::<u32>(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 10_000,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// The 64-bit path gives exactly the delay of the exact 128-bit one, for every strategy,
        /// wherever both apply (`base` and `max` below `u64::MAX` nanoseconds).
        #[test]
        fn the_64_bit_path_equals_the_128_bit_one(
            backoff in prop::sample::select(&Backoff::ALL[..]),
            base_ns in nanos_below_u64_max(),
            max_ns in nanos_below_u64_max(),
            factor in sanitised_factor(),
            k in any_k(),
        ) {
            let (base, max) = (Duration::from_nanos(base_ns), Duration::from_nanos(max_ns));
            let narrow = Duration::from_nanos(raw_delay_ns(backoff, base_ns, factor, max_ns, k));
            let wide = raw_delay_wide(backoff, base, factor, max, k);
            prop_assert_eq!(narrow, wide, "{:?} base {} max {} factor {} k {}", backoff, base_ns, max_ns, factor, k);
            prop_assert_eq!(raw_delay(backoff, base, factor, max, k), wide);
        }
    }

    #[test]
    fn k_zero_is_treated_as_first_retry() {
        let d = raw_delay(Backoff::Linear, MS * 100, 2.0, MS * 1000, 0);
        assert_eq!(d, MS * 100);
    }

    #[test]
    fn non_power_of_two_factor_is_exact_for_round_numbers() {
        let d = raw_delay(Backoff::Exponential, MS * 200, 1.5, Duration::MAX, 3);
        assert_eq!(d, MS * 450);
    }

    #[test]
    fn huge_durations_saturate_at_max() {
        for backoff in Backoff::ALL {
            for k in [1, 2, 100, 1_000, u32::MAX - 1, u32::MAX] {
                let d = raw_delay(backoff, Duration::MAX, f64::INFINITY, Duration::MAX, k);
                assert_eq!(d, Duration::MAX, "{backoff:?} k={k}");
            }
        }
    }

    const ALL: [Backoff; 4] = [
        Backoff::Exponential,
        Backoff::Constant,
        Backoff::Linear,
        Backoff::Fibonacci,
    ];

    fn schedule(backoff: Backoff, factor: f64, max: Duration, ks: u32) -> Vec<u128> {
        (1..=ks)
            .map(|k| raw_delay(backoff, MS * 100, factor, max, k).as_millis())
            .collect()
    }

    #[test]
    fn exact_schedules_of_every_strategy() {
        let max = MS * 1000;
        assert_eq!(
            schedule(Backoff::Exponential, 2.0, max, 6),
            [100, 200, 400, 800, 1000, 1000]
        );
        assert_eq!(
            schedule(Backoff::Exponential, 3.0, max, 4),
            [100, 300, 900, 1000]
        );
        assert_eq!(schedule(Backoff::Constant, 2.0, max, 4), [100; 4]);
        assert_eq!(
            schedule(Backoff::Linear, 2.0, max, 12)[..],
            [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1000, 1000]
        );
        assert_eq!(
            schedule(Backoff::Fibonacci, 2.0, max, 8),
            [100, 100, 200, 300, 500, 800, 1000, 1000]
        );
    }

    /// tokio-retry computed `base^k`: with base 100 ms that is 10 s at the second retry.
    #[test]
    fn exponential_is_base_times_factor_not_base_to_the_power() {
        let d = raw_delay(Backoff::Exponential, MS * 100, 2.0, Duration::MAX, 2);
        assert_eq!(d, MS * 200);
        let d = raw_delay(Backoff::Exponential, MS * 10, 10.0, Duration::MAX, 3);
        assert_eq!(d, MS * 1000);
    }

    /// backon's Fibonacci ignored `max`; here every strategy stops at the cap.
    #[test]
    fn fibonacci_respects_max() {
        for k in [5, 6, 50, 186, 187, 1_000, u32::MAX] {
            assert_eq!(
                raw_delay(Backoff::Fibonacci, MS * 100, 2.0, MS * 250, k),
                MS * 250,
                "k={k}"
            );
        }
    }

    /// backon's Fibonacci and constant strategies added `Duration`s and panicked on long runs;
    /// asyn-retry-policy's `mul_f64` panicked at attempt 80.
    #[test]
    fn long_runs_saturate_instead_of_panicking() {
        for backoff in ALL {
            for factor in [1.0, 1.5, 2.0, 10.0, 1e300, f64::INFINITY] {
                let mut previous = Duration::ZERO;
                for k in (1..=300).chain([1_000, 100_000, u32::MAX / 2, u32::MAX]) {
                    let d = raw_delay(backoff, Duration::from_secs(1), factor, Duration::MAX, k);
                    assert!(d >= previous, "{backoff:?} factor {factor} k={k}");
                    previous = d;
                }
            }
        }
        let d = raw_delay(Backoff::Exponential, MS, 1.5, Duration::MAX, 80);
        assert_eq!(d.as_nanos(), (1e6 * 1.5f64.powi(79)).round() as u128);
    }

    #[test]
    fn zero_base_is_zero_for_every_strategy() {
        for backoff in ALL {
            for k in [0, 1, 2, 100, u32::MAX] {
                assert_eq!(
                    raw_delay(backoff, Duration::ZERO, 2.0, MS * 10, k),
                    Duration::ZERO
                );
            }
        }
    }

    #[test]
    fn max_below_base_caps_every_strategy_at_max() {
        for backoff in ALL {
            for k in [1, 2, 3, 100, u32::MAX] {
                assert_eq!(
                    raw_delay(backoff, MS * 500, 2.0, MS * 100, k),
                    MS * 100,
                    "{backoff:?} k={k}"
                );
            }
        }
    }

    #[test]
    fn zero_max_gives_zero() {
        for backoff in ALL {
            assert_eq!(
                raw_delay(backoff, MS * 500, 2.0, Duration::ZERO, 3),
                Duration::ZERO
            );
        }
    }

    #[test]
    fn factor_two_shift_boundary() {
        // 1 ns · 2^126 fits in a u128; 2^127 and above saturate to the cap.
        let max = Duration::MAX;
        let d = raw_delay(Backoff::Exponential, Duration::from_nanos(1), 2.0, max, 64);
        assert_eq!(d.as_nanos(), 1u128 << 63);
        for k in [127, 128, 129, 1_000, u32::MAX] {
            assert_eq!(
                raw_delay(Backoff::Exponential, Duration::from_nanos(1), 2.0, max, k),
                max
            );
        }
    }

    #[test]
    fn factor_one_is_constant() {
        for k in [1, 2, 50, u32::MAX] {
            assert_eq!(
                raw_delay(Backoff::Exponential, MS * 100, 1.0, MS * 1000, k),
                MS * 100
            );
        }
    }

    #[test]
    fn from_nanos_capped_is_exact_below_the_cap() {
        assert_eq!(
            from_nanos_capped(1_500_000_001, Duration::MAX),
            Duration::new(1, 500_000_001)
        );
        assert_eq!(from_nanos_capped(u128::MAX, MS), MS);
        assert_eq!(from_nanos_capped(nanos(MS), MS), MS);
        assert_eq!(
            from_nanos_capped(nanos(Duration::MAX) - 1, Duration::MAX),
            Duration::new(u64::MAX, 999_999_998)
        );
    }

    #[test]
    fn names_match_the_attribute_spelling() {
        let names: Vec<_> = ALL.iter().map(|b| b.name()).collect();
        assert_eq!(names, ["exponential", "constant", "linear", "fibonacci"]);
        assert_eq!(Backoff::default(), Backoff::Exponential);
    }
}
