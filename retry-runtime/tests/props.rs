//! Property tests of the delay engine over the whole policy space: every attempt count, any
//! durations (`Duration::MAX` included), any factor (huge, infinite, NaN, below 1), every
//! backoff strategy and jitter kind, and any retry number up to `u32::MAX`.

use std::time::Duration;

use proptest::prelude::*;
use rand::rngs::SmallRng;
use rand::SeedableRng;
use retry_runtime::{seed_jitter, Backoff, Jitter, Policy, PolicyError};

fn any_backoff() -> impl Strategy<Value = Backoff> {
    prop::sample::select(&Backoff::ALL[..])
}

fn any_jitter() -> impl Strategy<Value = Jitter> {
    prop::sample::select(&Jitter::ALL[..])
}

/// Durations from zero to `Duration::MAX`, weighted towards the edges and realistic values.
fn any_duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        Just(Duration::MAX),
        Just(Duration::from_nanos(1)),
        (0u64..=10_000).prop_map(Duration::from_millis),
        (0u64..=u64::MAX).prop_map(Duration::from_nanos),
        (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
        (u64::MAX - 10..=u64::MAX, 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
    ]
}

/// Any `f64`, with the awkward ones made likely.
fn any_factor() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(f64::MAX),
        Just(f64::MIN_POSITIVE),
        Just(0.0),
        Just(-0.0),
        Just(1.0),
        Just(2.0),
        Just(1.0 + f64::EPSILON),
        1.0f64..1.000_000_001,
        1.0f64..10.0,
        0.0f64..1.0,
        -1e9f64..1e9,
        1e10f64..1e300,
        any::<f64>(),
    ]
}

/// Retry numbers, `0` and `u32::MAX` included.
fn any_k() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(0u32),
        Just(u32::MAX),
        Just(u32::MAX - 1),
        0u32..=200,
        any::<u32>(),
    ]
}

prop_compose! {
    /// A policy with any settings at all, valid or not.
    fn any_policy()(
        attempts in any::<u32>(),
        base in any_duration(),
        max in prop::option::of(any_duration()),
        factor in any_factor(),
        backoff in any_backoff(),
        jitter in any_jitter(),
        deadline in prop::option::of(any_duration()),
        max_hint in prop::option::of(any_duration()),
    ) -> Policy {
        let policy = build(attempts, base, max, factor, backoff, jitter, deadline);
        match max_hint {
            Some(max_hint) => policy.with_max_hint(max_hint),
            None => policy,
        }
    }
}

/// A policy from every setting, `max` and `deadline` only when given.
fn build(
    attempts: u32,
    base: Duration,
    max: Option<Duration>,
    factor: f64,
    backoff: Backoff,
    jitter: Jitter,
    deadline: Option<Duration>,
) -> Policy {
    let mut policy = Policy::new()
        .with_attempts(attempts)
        .with_base(base)
        .with_factor(factor)
        .with_backoff(backoff)
        .with_jitter(jitter);
    if let Some(max) = max {
        policy = policy.with_max(max);
    }
    if let Some(deadline) = deadline {
        policy = policy.with_deadline(deadline);
    }
    policy
}

fn nanos(d: Duration) -> u128 {
    d.as_nanos()
}

/// `d` rounded up to a whole millisecond, saturating.
fn ceil_millis(d: Duration) -> Duration {
    let partial = d.subsec_nanos() % 1_000_000;
    if partial == 0 {
        d
    } else {
        d.saturating_add(Duration::from_nanos(u64::from(1_000_000 - partial)))
    }
}

/// `F(k)` with `F(1) = F(2) = 1`, for small `k`.
fn fib(k: u32) -> u128 {
    let (mut a, mut b) = (0u128, 1u128);
    for _ in 0..k {
        (a, b) = (b, a + b);
    }
    a
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2048,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// `delay(k)` never panics and never exceeds `max()`, whatever the policy and `k`.
    #[test]
    fn delay_never_exceeds_max(policy in any_policy(), k in any_k()) {
        let d = policy.delay(k);
        prop_assert!(d <= policy.max(), "delay({k}) = {d:?} > max {:?} for {policy:?}", policy.max());
    }

    /// Jittered delays never panic and never exceed `max()`; each kind stays in its range.
    #[test]
    fn jittered_delay_stays_in_its_range(
        policy in any_policy(),
        k in any_k(),
        previous in any_duration(),
        seed in any::<u64>(),
    ) {
        let mut rng = SmallRng::seed_from_u64(seed);
        let max = policy.max();
        let d = policy.jittered_delay(k, previous, &mut rng);
        prop_assert!(d <= max, "jittered {d:?} > max {max:?} for {policy:?} k={k}");
        let raw = policy.delay(k);
        match policy.jitter() {
            Jitter::None => prop_assert_eq!(d, raw),
            Jitter::Full => prop_assert!(d <= raw, "full {d:?} > d {raw:?}"),
            Jitter::Equal => {
                prop_assert!(d <= raw, "equal {d:?} > d {raw:?}");
                prop_assert!(d >= raw / 2, "equal {d:?} < d/2 of {raw:?}");
            }
            Jitter::Decorrelated => {
                let lo = policy.base().min(max);
                let hi = previous.max(policy.base()).saturating_mul(3).min(max);
                prop_assert!(d >= lo, "decorrelated {d:?} < base {lo:?}");
                prop_assert!(d <= hi.max(lo), "decorrelated {d:?} > {hi:?}");
            }
        }
    }

    /// Un-jittered delays never decrease from one retry to the next, up to `u32::MAX`.
    #[test]
    fn unjittered_delays_are_non_decreasing(policy in any_policy(), k in any_k()) {
        let policy = policy.with_jitter(Jitter::None);
        let k = k.min(u32::MAX - 1);
        let (a, b) = (policy.delay(k), policy.delay(k + 1));
        prop_assert!(a <= b, "delay({k}) = {a:?} > delay({}) = {b:?} for {policy:?}", k + 1);
    }

    /// Consecutive delays over a run of retries never decrease (catches a dip anywhere in the
    /// first hundred retries, not only at one sampled `k`).
    #[test]
    fn unjittered_schedule_is_monotone(policy in any_policy()) {
        let policy = policy.with_jitter(Jitter::None);
        let mut previous = Duration::ZERO;
        for k in 1..=100 {
            let d = policy.delay(k);
            prop_assert!(d >= previous, "delay({k}) = {d:?} < {previous:?} for {policy:?}");
            previous = d;
        }
    }

    /// Exponential with a factor a few ulps above 1 and delays too long for `f64` to hold to
    /// the nanosecond: rounding must not make a later delay shorter than an earlier one.
    #[test]
    fn exponential_near_one_factor_is_monotone(
        base_ns in (1u64 << 50)..=u64::MAX,
        ulps in 1u32..=2000,
        k in 1u32..=100_000,
    ) {
        let factor = 1.0 + f64::from(ulps) * f64::EPSILON;
        let policy = Policy::new()
            .with_base(Duration::from_nanos(base_ns))
            .with_max(Duration::MAX)
            .with_factor(factor);
        let (a, b) = (policy.delay(k), policy.delay(k + 1));
        prop_assert!(a <= b, "delay({k}) = {a:?} > delay({}) = {b:?} (factor {factor})", k + 1);
    }

    /// Exponential is `base·factor^(k-1)` (not `base^k`), capped at `max`, within rounding.
    #[test]
    fn exponential_matches_formula(
        base_ns in 1u64..=10_000_000_000,
        factor in 1.0f64..4.0,
        k in 1u32..=40,
        max in prop::option::of(1u64..=1_000_000_000_000u64),
    ) {
        let base = Duration::from_nanos(base_ns);
        let mut policy = Policy::new().with_base(base).with_factor(factor);
        let cap = match max {
            Some(max) if max >= base_ns => {
                policy = policy.with_max(Duration::from_nanos(max));
                max as f64
            }
            _ => {
                policy = policy.with_max(Duration::MAX);
                f64::MAX
            }
        };
        let expected = (base_ns as f64 * factor.powf(f64::from(k - 1))).min(cap);
        prop_assume!(expected < 1e18);
        let got = nanos(policy.delay(k)) as f64;
        let tolerance = (expected * 1e-9).max(1.0);
        prop_assert!(
            (got - expected).abs() <= tolerance,
            "delay({k}) = {got} ns, expected {expected} ns (base {base_ns} ns, factor {factor})"
        );
    }

    /// Factor 2 is exact: `base·2^(k-1)` in integer nanoseconds, capped.
    #[test]
    fn exponential_factor_two_is_exact(
        base_ns in 1u64..=u64::MAX,
        k in 1u32..=200,
        extra in any_duration(),
    ) {
        let base = Duration::from_nanos(base_ns);
        let max = base.saturating_add(extra);
        let policy = Policy::new().with_base(base).with_max(max);
        let exact = u128::from(base_ns).checked_shl(k - 1).filter(|v| v >> (k - 1) == u128::from(base_ns));
        let expected = match exact {
            Some(v) if v < nanos(max) => v,
            _ => nanos(max),
        };
        prop_assert_eq!(nanos(policy.delay(k)), expected);
    }

    /// Constant, linear and Fibonacci are exact integer formulas, capped at `max`.
    #[test]
    fn integer_strategies_are_exact(
        base in any_duration(),
        max in any_duration(),
        k in 1u32..=150,
    ) {
        let base_ns = nanos(base);
        let cap = nanos(max);
        let with = |backoff| Policy::new().with_base(base).with_max(max).with_backoff(backoff);
        prop_assert_eq!(nanos(with(Backoff::Constant).delay(k)), base_ns.min(cap));
        prop_assert_eq!(
            nanos(with(Backoff::Linear).delay(k)),
            base_ns.saturating_mul(u128::from(k)).min(cap)
        );
        prop_assert_eq!(
            nanos(with(Backoff::Fibonacci).delay(k)),
            base_ns.saturating_mul(fib(k)).min(cap)
        );
    }

    /// `delays()` yields exactly `attempts - 1` items (none for 0 or 1 attempts), each at most
    /// `max()`, and reports that length up front.
    #[test]
    fn delays_yields_attempts_minus_one(policy in any_policy(), attempts in 0u32..=300) {
        let policy = policy.with_attempts(attempts);
        let expected = attempts.saturating_sub(1) as usize;
        let delays = policy.delays();
        prop_assert_eq!(delays.len(), expected);
        let all: Vec<Duration> = delays.collect();
        prop_assert_eq!(all.len(), expected);
        for d in all {
            prop_assert!(d <= policy.max());
        }
    }

    /// For huge attempt counts the iterator still knows its length and starts normally.
    #[test]
    fn delays_length_for_huge_attempts(policy in any_policy(), attempts in 300u32..=u32::MAX) {
        let policy = policy.with_attempts(attempts);
        let mut delays = policy.delays();
        prop_assert_eq!(delays.len(), (attempts - 1) as usize);
        for _ in 0..5 {
            prop_assert!(delays.next().is_some());
        }
        prop_assert_eq!(delays.len(), (attempts - 6) as usize);
    }

    /// `delays()` with jitter none equals `delay(1..attempts)`.
    #[test]
    fn delays_without_jitter_follow_delay(policy in any_policy(), attempts in 0u32..=60) {
        let policy = policy.with_attempts(attempts).with_jitter(Jitter::None);
        let got: Vec<Duration> = policy.delays().collect();
        let want: Vec<Duration> = (1..attempts).map(|k| policy.delay(k)).collect();
        prop_assert_eq!(got, want);
    }

    /// The same seed gives the same jittered schedule. With `std` the generator is the
    /// thread's; without it, it is the program's one sequence, which the other tests of this
    /// binary draw from at the same time (the embassy tests check it single-threaded).
    #[cfg(feature = "std")]
    #[test]
    fn seeded_jitter_is_reproducible(policy in any_policy(), seed in any::<u64>()) {
        let policy = policy.with_attempts(policy.attempts() % 40);
        seed_jitter(seed);
        let first: Vec<Duration> = policy.delays().collect();
        seed_jitter(seed);
        let second: Vec<Duration> = policy.delays().collect();
        prop_assert_eq!(first, second);
    }

    /// Decorrelated jitter through `delays()`: each delay lies in `[base, min(max, 3·prev)]`,
    /// with `prev` starting at `base`.
    #[test]
    fn decorrelated_chain_stays_in_range(policy in any_policy(), seed in any::<u64>()) {
        let policy = policy.with_attempts(policy.attempts() % 50).with_jitter(Jitter::Decorrelated);
        let max = policy.max();
        let lo = policy.base().min(max);
        seed_jitter(seed);
        let mut previous = policy.base();
        for d in policy.delays() {
            let hi = previous.max(policy.base()).saturating_mul(3).min(max).max(lo);
            prop_assert!(d >= lo && d <= hi, "{d:?} outside [{lo:?}, {hi:?}]");
            previous = d;
        }
    }

    /// `validate()` accepts exactly: attempts ≥ 1, a finite factor ≥ 1, no explicit `max`
    /// below `base`, no factor but the default without exponential backoff; and reports the
    /// first problem in that order.
    #[test]
    fn validate_accepts_exactly_the_valid_policies(
        attempts in prop_oneof![Just(0u32), Just(1u32), any::<u32>()],
        base in any_duration(),
        max in prop::option::of(any_duration()),
        factor in any_factor(),
        backoff in any_backoff(),
        jitter in any_jitter(),
        deadline in prop::option::of(any_duration()),
    ) {
        let policy = build(attempts, base, max, factor, backoff, jitter, deadline);
        let expected = if attempts == 0 {
            Err(PolicyError::ZeroAttempts)
        } else if !factor.is_finite() || factor < 1.0 {
            Err(PolicyError::BadFactor)
        } else if max.is_some_and(|max| max < base) {
            Err(PolicyError::MaxBelowBase)
        } else if factor != 2.0 && backoff != Backoff::Exponential {
            Err(PolicyError::FactorWithoutExponential)
        } else {
            Ok(policy)
        };
        prop_assert_eq!(policy.validate(), expected);
    }

    /// The effective `max()`: the one set, or else the larger of 2 s and `base`.
    #[test]
    fn effective_max(base in any_duration(), max in prop::option::of(any_duration())) {
        let mut policy = Policy::new().with_base(base);
        if let Some(max) = max {
            policy = policy.with_max(max);
        }
        let expected = max.unwrap_or_else(|| base.max(Duration::from_secs(2)));
        prop_assert_eq!(policy.max(), expected);
    }

    /// The macro's step function: gives up once the attempts are spent and never returns a
    /// sleep that would end at or past the deadline, even with a `Retry-After` hint (backon's
    /// `adjust` and backoff's `retry_after` let a hint bypass both); sleeps the larger of the
    /// hint and the policy's delay.
    #[test]
    fn next_delay_respects_attempts_and_deadline(
        policy in any_policy(),
        failed in any_k(),
        previous in any_duration(),
        elapsed in prop::option::of(any_duration()),
        hint in prop::option::of(any_duration()),
        near_the_limit in prop::option::of(-3i64..=3),
        at_the_deadline in any::<bool>(),
    ) {
        use retry_runtime::__private::next_delay;
        // Half the time, look at the attempts around the limit, where off-by-one bugs live.
        let failed = match near_the_limit {
            Some(offset) => (i64::from(policy.attempts()) + offset).clamp(0, i64::from(u32::MAX)) as u32,
            None => failed,
        };
        // Half the time, start the sleep exactly one un-jittered delay before the deadline.
        let elapsed = match (at_the_deadline, policy.deadline()) {
            (true, Some(deadline)) => Some(deadline.saturating_sub(policy.delay(failed))),
            _ => elapsed,
        };
        let got = next_delay(&policy, failed, previous, elapsed, hint).ok();
        if failed >= policy.attempts() {
            prop_assert_eq!(got, None);
        }
        if let Some(d) = got {
            // No sleep ever exceeds max(max, max_hint).
            prop_assert!(d <= policy.max().max(policy.max_hint()));
            prop_assert!(d <= policy.max().max(hint.unwrap_or_default()));
            if let Some(hint) = hint {
                prop_assert!(d >= hint);
            }
            if let (Some(deadline), Some(elapsed)) = (policy.deadline(), elapsed) {
                prop_assert!(elapsed.saturating_add(d) < deadline);
            }
        }
        // Without jitter the answer is fully determined.
        let plain = policy.with_jitter(Jitter::None);
        let got = next_delay(&plain, failed, previous, elapsed, hint).ok();
        let d = plain.delay(failed).max(hint.unwrap_or_default());
        // tokio ends a sleep on a whole millisecond, so the sleep counts rounded up.
        let fits = match (plain.deadline(), elapsed) {
            (Some(deadline), Some(elapsed)) => elapsed.saturating_add(ceil_millis(d)) < deadline,
            _ => true,
        };
        let hint_ok = hint.is_none_or(|hint| hint <= plain.max_hint());
        let expected = (failed < plain.attempts() && fits && hint_ok).then_some(d);
        prop_assert_eq!(got, expected);
    }
}
