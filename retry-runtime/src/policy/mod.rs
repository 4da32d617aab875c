//! [`Policy`]: how many attempts, and how long to wait between them.

pub(crate) mod backoff;
#[cfg(feature = "serde")]
mod config;
pub(crate) mod jitter;

use core::fmt;
use core::time::Duration;

use rand::Rng;

use crate::policy::backoff::{nanos64, raw_delay, raw_delay_ns, Backoff};
use crate::policy::jitter::{uniform, with_thread_rng, Jitter};

/// Default number of attempts (the first call included).
const DEFAULT_ATTEMPTS: u32 = 3;
/// Default `base` delay.
const DEFAULT_BASE: Duration = Duration::from_millis(200);
/// Default cap on one delay when `base` is smaller.
const DEFAULT_MAX: Duration = Duration::from_secs(2);
/// Default exponential multiplier.
const DEFAULT_FACTOR: f64 = 2.0;
/// Default longest server hint that is honoured.
const DEFAULT_MAX_HINT: Duration = Duration::from_secs(60);

/// A retry policy: the number of attempts, the backoff schedule, jitter and an overall deadline.
///
/// All builders are `const fn`, so a policy can live in a `const` or `static` and be checked at
/// compile time (see [`Policy::validate`]). `#[retry(policy = …)]` accepts any expression that
/// gives a `Policy`, so attempts and delays may also come from configuration at run time.
///
/// Delay computation never panics and never overflows: every input, including attempt numbers
/// up to `u32::MAX`, infinite factors and `Duration::MAX`, saturates at the cap. Values that
/// [`validate`](Policy::validate) would reject are still handled without panicking: zero
/// attempts behave as one, a factor that is below 1 or NaN behaves as 1, and a `max` below
/// `base` caps every delay at `max`.
///
/// # Default
///
/// | setting | default |
/// |---|---|
/// | attempts | 3 (the first call and two retries) |
/// | base | 200 ms |
/// | max | 2 s, or `base` when `base` is larger |
/// | factor | 2.0 |
/// | backoff | [`Backoff::Exponential`] |
/// | jitter | [`Jitter::None`] |
/// | deadline | none |
/// | max_hint | 60 s: a server hint (`Retry-After`, pushback) longer than this ends the call |
/// | timeout | none (see [`with_timeout`](Policy::with_timeout)) |
///
/// # Example
///
/// ```
/// use retry_runtime::{Backoff, Jitter, Policy};
/// use std::time::Duration;
///
/// const POLICY: Policy = Policy::new()
///     .with_attempts(5)
///     .with_base(Duration::from_millis(100))
///     .with_max(Duration::from_millis(500))
///     .with_backoff(Backoff::Exponential)
///     .with_jitter(Jitter::None);
///
/// let delays: Vec<_> = POLICY.delays().collect();
/// assert_eq!(
///     delays,
///     [100, 200, 400, 500].map(Duration::from_millis),
/// );
/// ```
#[derive(Clone, Copy, PartialEq)]
pub struct Policy {
    attempts: u32,
    base: Duration,
    max: Option<Duration>,
    factor: f64,
    backoff: Backoff,
    jitter: Jitter,
    deadline: Option<Duration>,
    max_hint: Duration,
    timeout: Option<Duration>,
}

/// Shows the settings in force: `max` as [`Policy::max`] gives it (the default cap, or `base`
/// when that is larger), not the unset field.
///
/// ```
/// let shown = format!("{:?}", retry_runtime::Policy::new());
/// assert!(shown.contains("max: 2s"), "{shown}");
/// ```
impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("attempts", &self.attempts)
            .field("base", &self.base)
            .field("max", &self.max())
            .field("factor", &self.factor)
            .field("backoff", &self.backoff)
            .field("jitter", &self.jitter)
            .field("deadline", &self.deadline)
            .field("max_hint", &self.max_hint)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self::new()
    }
}

impl Policy {
    /// The default policy (see the `# Default` table on [`Policy`]).
    ///
    /// ```
    /// use retry_runtime::Policy;
    /// assert_eq!(Policy::new(), Policy::default());
    /// assert_eq!(Policy::new().attempts(), 3);
    /// ```
    pub const fn new() -> Self {
        Self {
            attempts: DEFAULT_ATTEMPTS,
            base: DEFAULT_BASE,
            max: None,
            factor: DEFAULT_FACTOR,
            backoff: Backoff::Exponential,
            jitter: Jitter::None,
            deadline: None,
            max_hint: DEFAULT_MAX_HINT,
            timeout: None,
        }
    }

    /// Sets the total number of calls, the first one included (`1` means no retry).
    ///
    /// ```
    /// use retry_runtime::Policy;
    /// assert_eq!(Policy::new().with_attempts(5).delays().count(), 4);
    /// ```
    pub const fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts;
        self
    }

    /// Sets the delay before the first retry, from which the others grow.
    ///
    /// ```
    /// use retry_runtime::Policy;
    /// use std::time::Duration;
    /// let policy = Policy::new().with_base(Duration::from_millis(50));
    /// assert_eq!(policy.delay(1), Duration::from_millis(50));
    /// ```
    pub const fn with_base(mut self, base: Duration) -> Self {
        self.base = base;
        self
    }

    /// Sets the cap on any single delay, applied before and after jitter.
    ///
    /// ```
    /// use retry_runtime::Policy;
    /// use std::time::Duration;
    /// let policy = Policy::new().with_max(Duration::from_millis(300));
    /// assert_eq!(policy.delay(10), Duration::from_millis(300));
    /// ```
    pub const fn with_max(mut self, max: Duration) -> Self {
        self.max = Some(max);
        self
    }

    /// Sets the multiplier of [`Backoff::Exponential`] (at least 1).
    ///
    /// ```
    /// use retry_runtime::Policy;
    /// use std::time::Duration;
    /// let policy = Policy::new().with_factor(3.0);
    /// assert_eq!(policy.delay(2), Duration::from_millis(600));
    /// ```
    pub const fn with_factor(mut self, factor: f64) -> Self {
        self.factor = factor;
        self
    }

    /// Sets the backoff strategy.
    ///
    /// ```
    /// use retry_runtime::{Backoff, Policy};
    /// use std::time::Duration;
    /// let policy = Policy::new().with_backoff(Backoff::Constant);
    /// assert_eq!(policy.delay(7), Duration::from_millis(200));
    /// ```
    pub const fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sets the jitter kind.
    ///
    /// ```
    /// use retry_runtime::{Jitter, Policy};
    /// assert_eq!(Policy::new().with_jitter(Jitter::Equal).jitter(), Jitter::Equal);
    /// ```
    pub const fn with_jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// Sets the total time budget, measured from the start of the first attempt: no retry
    /// starts whose sleep would end after it.
    ///
    /// ```
    /// use retry_runtime::Policy;
    /// use std::time::Duration;
    /// let policy = Policy::new().with_deadline(Duration::from_secs(1));
    /// assert_eq!(policy.deadline(), Some(Duration::from_secs(1)));
    /// ```
    pub const fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Sets the longest server hint that is honoured. A `Decision::RetryAfter(d)` with `d` up to
    /// this long sleeps the larger of `d` and the backoff delay (within the deadline); a longer
    /// one ends the call at once with the last outcome: the server has said it will not be
    /// ready soon, and both sleeping that long and coming back early are wrong by default.
    ///
    /// ```
    /// use retry_runtime::Policy;
    /// use std::time::Duration;
    /// let policy = Policy::new().with_max_hint(Duration::from_secs(5));
    /// assert_eq!(policy.max_hint(), Duration::from_secs(5));
    /// assert_eq!(Policy::new().max_hint(), Duration::from_secs(60));
    /// ```
    pub const fn with_max_hint(mut self, max_hint: Duration) -> Self {
        self.max_hint = max_hint;
        self
    }

    /// Sets a per-attempt timeout: each attempt is cut off after `timeout` (or at the deadline,
    /// if that comes first), and the cut-off is retried like any other failure. It is carried by
    /// the policy so that a policy read from a configuration file (`timeout = "30s"`) can hold
    /// it. The `reqwest-middleware` layer applies it when it has no `with_timeout(d)` of its own.
    /// The builders fix the type of their attempt's future when they are built, so they take a
    /// timeout read at run time explicitly: `.timeout(d)` with `d` from
    /// `policy.timeout()`; the attribute with `policy = EXPR` takes `timeout = EXPR` the same way.
    ///
    /// ```
    /// use retry_runtime::Policy;
    /// use std::time::Duration;
    /// let policy = Policy::new().with_timeout(Duration::from_secs(30));
    /// assert_eq!(policy.timeout(), Some(Duration::from_secs(30)));
    /// assert_eq!(Policy::new().timeout(), None);
    /// ```
    pub const fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The per-attempt timeout, if any (see [`with_timeout`](Policy::with_timeout)).
    ///
    /// ```
    /// assert_eq!(retry_runtime::Policy::new().timeout(), None);
    /// ```
    pub const fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The longest server hint that is honoured (see [`with_max_hint`](Policy::with_max_hint)).
    ///
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(retry_runtime::Policy::new().max_hint(), Duration::from_secs(60));
    /// ```
    pub const fn max_hint(&self) -> Duration {
        self.max_hint
    }

    /// The total number of calls, the first one included.
    ///
    /// ```
    /// assert_eq!(retry_runtime::Policy::new().attempts(), 3);
    /// ```
    pub const fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The delay before the first retry.
    ///
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(retry_runtime::Policy::new().base(), Duration::from_millis(200));
    /// ```
    pub const fn base(&self) -> Duration {
        self.base
    }

    /// The effective cap on one delay: the one set, or else the larger of 2 s and `base`.
    ///
    /// ```
    /// use retry_runtime::Policy;
    /// use std::time::Duration;
    /// assert_eq!(Policy::new().max(), Duration::from_secs(2));
    /// let slow = Policy::new().with_base(Duration::from_secs(5));
    /// assert_eq!(slow.max(), Duration::from_secs(5));
    /// ```
    pub const fn max(&self) -> Duration {
        match self.max {
            Some(max) => max,
            // `DEFAULT_MAX` is whole seconds, so comparing the seconds is enough.
            None => {
                let base_is_larger = self.base.as_secs() > DEFAULT_MAX.as_secs()
                    || (self.base.as_secs() == DEFAULT_MAX.as_secs()
                        && self.base.subsec_nanos() > 0);
                if base_is_larger {
                    self.base
                } else {
                    DEFAULT_MAX
                }
            }
        }
    }

    /// The `max` that was set, if one was.
    #[cfg(feature = "serde")]
    pub(crate) const fn explicit_max(&self) -> Option<Duration> {
        self.max
    }

    /// The exponential multiplier as set.
    ///
    /// ```
    /// assert_eq!(retry_runtime::Policy::new().factor(), 2.0);
    /// ```
    pub const fn factor(&self) -> f64 {
        self.factor
    }

    /// The backoff strategy.
    ///
    /// ```
    /// use retry_runtime::{Backoff, Policy};
    /// assert_eq!(Policy::new().backoff(), Backoff::Exponential);
    /// ```
    pub const fn backoff(&self) -> Backoff {
        self.backoff
    }

    /// The jitter kind.
    ///
    /// ```
    /// use retry_runtime::{Jitter, Policy};
    /// assert_eq!(Policy::new().jitter(), Jitter::None);
    /// ```
    pub const fn jitter(&self) -> Jitter {
        self.jitter
    }

    /// The total time budget, if any.
    ///
    /// ```
    /// assert_eq!(retry_runtime::Policy::new().deadline(), None);
    /// ```
    pub const fn deadline(&self) -> Option<Duration> {
        self.deadline
    }

    /// Checks the policy, returning it unchanged when it is valid.
    ///
    /// Rejected: zero attempts, a factor that is below 1, NaN or infinite, and an explicit
    /// `max` below `base`. Being a `const fn`, it can reject a `const` policy at compile time;
    /// `#[retry(policy = SOME_CONST)]` does that for you.
    ///
    /// ```
    /// use retry_runtime::{Policy, PolicyError};
    /// use std::time::Duration;
    ///
    /// assert!(Policy::new().validate().is_ok());
    /// assert_eq!(Policy::new().with_attempts(0).validate(), Err(PolicyError::ZeroAttempts));
    /// let inverted = Policy::new()
    ///     .with_base(Duration::from_secs(3))
    ///     .with_max(Duration::from_secs(1));
    /// assert_eq!(inverted.validate(), Err(PolicyError::MaxBelowBase));
    /// ```
    pub const fn validate(self) -> Result<Self, PolicyError> {
        if self.attempts == 0 {
            return Err(PolicyError::ZeroAttempts);
        }
        // NaN is neither below 1 nor at least 1: it fails `is_valid_factor` too.
        let is_valid_factor = self.factor >= 1.0 && self.factor < f64::INFINITY;
        if !is_valid_factor {
            return Err(PolicyError::BadFactor);
        }
        if let Some(max) = self.max {
            if max.as_nanos() < self.base.as_nanos() {
                return Err(PolicyError::MaxBelowBase);
            }
        }
        if self.factor != DEFAULT_FACTOR && !self.backoff.takes_factor() {
            return Err(PolicyError::FactorWithoutExponential);
        }
        Ok(self)
    }

    /// The factor made safe for arithmetic: NaN and values below 1 behave as 1.
    #[inline]
    fn safe_factor(&self) -> f64 {
        if self.factor >= 1.0 {
            self.factor
        } else {
            1.0
        }
    }

    /// The capped delay before retry `k` (`k = 1` is the first retry), before jitter.
    ///
    /// `k = 0` is treated as `1`. Saturates at [`max`](Policy::max) for any `k`.
    ///
    /// ```
    /// use retry_runtime::{Backoff, Policy};
    /// use std::time::Duration;
    ///
    /// let fib = Policy::new()
    ///     .with_backoff(Backoff::Fibonacci)
    ///     .with_base(Duration::from_millis(100))
    ///     .with_max(Duration::from_secs(1));
    /// let ks: Vec<_> = (1..=7).map(|k| fib.delay(k).as_millis()).collect();
    /// assert_eq!(ks, [100, 100, 200, 300, 500, 800, 1000]);
    /// assert_eq!(fib.delay(u32::MAX), Duration::from_secs(1));
    /// ```
    #[inline]
    pub fn delay(&self, k: u32) -> Duration {
        raw_delay(self.backoff, self.base, self.safe_factor(), self.max(), k)
    }

    /// The delay actually slept before retry `k`: [`delay`](Policy::delay) with jitter applied,
    /// drawn from `rng`, never above [`max`](Policy::max).
    ///
    /// `previous` is the delay slept before the previous retry (`Duration::ZERO` before the
    /// first); only [`Jitter::Decorrelated`] reads it.
    ///
    /// ```
    /// use retry_runtime::{Jitter, Policy};
    /// use rand::{rngs::SmallRng, SeedableRng};
    /// use std::time::Duration;
    ///
    /// let policy = Policy::new().with_jitter(Jitter::Equal);
    /// let mut rng = SmallRng::seed_from_u64(1);
    /// let d = policy.jittered_delay(2, Duration::ZERO, &mut rng);
    /// assert!(d >= Duration::from_millis(200) && d <= Duration::from_millis(400));
    /// ```
    #[inline]
    pub fn jittered_delay<R: Rng + ?Sized>(
        &self,
        k: u32,
        previous: Duration,
        rng: &mut R,
    ) -> Duration {
        let max = self.max();
        let (Some(base_ns), Some(max_ns)) = (nanos64(self.base), nanos64(max)) else {
            return self.jittered_delay_wide(k, previous, rng);
        };
        let delay_ns = || raw_delay_ns(self.backoff, base_ns, self.safe_factor(), max_ns, k);
        let ns = match self.jitter {
            Jitter::None => delay_ns(),
            Jitter::Full => draw(rng, delay_ns()),
            Jitter::Equal => {
                let d = delay_ns();
                // `d - d / 2` rounds up, so the draw can reach `d` exactly.
                d / 2 + draw(rng, d - d / 2)
            }
            Jitter::Decorrelated => {
                let previous_ns = nanos64(previous).unwrap_or(u64::MAX).max(base_ns);
                let hi = previous_ns.saturating_mul(3);
                (base_ns + draw(rng, hi - base_ns)).min(max_ns)
            }
        };
        Duration::from_nanos(ns)
    }

    /// [`jittered_delay`](Policy::jittered_delay) for durations of 584 years and more.
    #[cold]
    fn jittered_delay_wide<R: Rng + ?Sized>(
        &self,
        k: u32,
        previous: Duration,
        rng: &mut R,
    ) -> Duration {
        let max = self.max();
        match self.jitter {
            Jitter::None => self.delay(k),
            Jitter::Full => uniform(rng, Duration::ZERO, self.delay(k)),
            Jitter::Equal => {
                let d = self.delay(k);
                let half = d / 2;
                half.saturating_add(uniform(rng, Duration::ZERO, d - half))
            }
            Jitter::Decorrelated => {
                let hi = previous.max(self.base).saturating_mul(3);
                uniform(rng, self.base, hi).min(max)
            }
        }
    }

    /// The delays this policy sleeps, in order: one per retry, `attempts - 1` of them, jittered
    /// with this thread's generator (see [`seed_jitter`](crate::seed_jitter)).
    ///
    /// The deadline is not applied here: it depends on how long the attempts take.
    ///
    /// ```
    /// use retry_runtime::Policy;
    /// use std::time::Duration;
    /// let delays: Vec<_> = Policy::new().with_attempts(4).delays().collect();
    /// assert_eq!(delays, [200, 400, 800].map(Duration::from_millis));
    /// ```
    pub fn delays(&self) -> Delays {
        Delays {
            policy: *self,
            next: 1,
            previous: Duration::ZERO,
        }
    }
}

/// A draw from `0..=span`: one 64-bit random number scaled by a widening multiply. Its bias, at
/// most `span / 2^64` of a nanosecond's probability, is far below anything a sleep can show, and
/// it needs no rejection loop.
#[inline]
fn draw<R: Rng + ?Sized>(rng: &mut R, span: u64) -> u64 {
    ((u128::from(rng.next_u64()) * (u128::from(span) + 1)) >> 64) as u64
}

/// Iterator over the delays of a [`Policy`], returned by [`Policy::delays`].
///
/// ```
/// use retry_runtime::Policy;
/// assert_eq!(Policy::new().delays().len(), 2);
/// ```
#[derive(Clone, Debug)]
pub struct Delays {
    policy: Policy,
    next: u32,
    previous: Duration,
}

impl Iterator for Delays {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        if self.next >= self.policy.attempts {
            return None;
        }
        let k = self.next;
        self.next += 1;
        let (policy, previous) = (&self.policy, self.previous);
        let d = with_thread_rng(|rng| policy.jittered_delay(k, previous, rng));
        self.previous = d;
        Some(d)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.policy.attempts.saturating_sub(self.next) as usize;
        (left, Some(left))
    }
}

impl ExactSizeIterator for Delays {}

/// Why [`Policy::validate`] rejected a policy.
///
/// ```
/// use retry_runtime::{Policy, PolicyError};
/// let err = Policy::new().with_factor(0.5).validate().unwrap_err();
/// assert_eq!(err, PolicyError::BadFactor);
/// assert_eq!(err.to_string(), "`factor` must be a finite number of at least 1.0");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PolicyError {
    /// `attempts` is 0; it counts the first call, so it must be at least 1.
    ZeroAttempts,
    /// `factor` is below 1, NaN or infinite.
    BadFactor,
    /// An explicit `max` is below `base`.
    MaxBelowBase,
    /// A `factor` other than the default is set with a backoff that does not multiply
    /// (constant, linear, fibonacci): it would be silently ignored.
    FactorWithoutExponential,
}

impl PolicyError {
    /// The message, usable in `const` context.
    ///
    /// ```
    /// use retry_runtime::PolicyError;
    /// assert!(PolicyError::ZeroAttempts.message().contains("at least 1"));
    /// ```
    pub const fn message(self) -> &'static str {
        match self {
            PolicyError::ZeroAttempts => {
                "`attempts` counts the first call too, so it must be at least 1"
            }
            PolicyError::BadFactor => "`factor` must be a finite number of at least 1.0",
            PolicyError::MaxBelowBase => "`max` must not be below `base`",
            PolicyError::FactorWithoutExponential => {
                "`factor` only applies to exponential backoff: remove it or use `Backoff::Exponential`"
            }
        }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl core::error::Error for PolicyError {}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    const MS: Duration = Duration::from_millis(1);

    const JITTERS: [Jitter; 4] = [
        Jitter::None,
        Jitter::Full,
        Jitter::Equal,
        Jitter::Decorrelated,
    ];

    fn policy() -> Policy {
        Policy::new()
            .with_attempts(6)
            .with_base(MS * 100)
            .with_max(MS * 1000)
    }

    #[test]
    fn delays_are_the_exact_schedule() {
        let got: Vec<_> = policy().delays().map(|d| d.as_millis()).collect();
        assert_eq!(got, [100, 200, 400, 800, 1000]);
    }

    #[test]
    fn default_max_follows_a_large_base() {
        assert_eq!(Policy::new().max(), Duration::from_secs(2));
        let slow = Policy::new().with_base(Duration::from_secs(10));
        assert_eq!(slow.max(), Duration::from_secs(10));
        assert_eq!(slow.delay(5), Duration::from_secs(10));
    }

    /// backon (exponential), backoff and tokio-retry2 added jitter after the cap, so delays
    /// exceeded `max`.
    #[test]
    fn jitter_never_exceeds_max() {
        let mut rng = SmallRng::seed_from_u64(5);
        for jitter in JITTERS {
            let policy = policy().with_jitter(jitter);
            let mut previous = Duration::ZERO;
            for k in (1..=50).chain([1_000, u32::MAX]) {
                for _ in 0..50 {
                    let d = policy.jittered_delay(k, previous, &mut rng);
                    assert!(d <= MS * 1000, "{jitter:?} k={k}: {d:?}");
                    previous = d;
                }
            }
        }
    }

    #[test]
    fn each_jitter_kind_stays_in_its_range() {
        let mut rng = SmallRng::seed_from_u64(6);
        let p = policy();
        for k in 1..=8 {
            let d = p.delay(k);
            for _ in 0..200 {
                let full = p
                    .with_jitter(Jitter::Full)
                    .jittered_delay(k, Duration::ZERO, &mut rng);
                assert!(full <= d);
                let equal =
                    p.with_jitter(Jitter::Equal)
                        .jittered_delay(k, Duration::ZERO, &mut rng);
                assert!(equal >= d / 2 && equal <= d, "equal {equal:?} for d {d:?}");
                assert_eq!(p.jittered_delay(k, Duration::ZERO, &mut rng), d);
            }
        }
    }

    #[test]
    fn decorrelated_follows_the_previous_delay() {
        let mut rng = SmallRng::seed_from_u64(7);
        let p = policy().with_jitter(Jitter::Decorrelated);
        for _ in 0..500 {
            // First retry: `previous` is zero, so the range is [base, 3·base].
            let first = p.jittered_delay(1, Duration::ZERO, &mut rng);
            assert!(first >= MS * 100 && first <= MS * 300, "{first:?}");
            // Later: [base, min(max, 3·previous)].
            let next = p.jittered_delay(2, MS * 200, &mut rng);
            assert!(next >= MS * 100 && next <= MS * 600, "{next:?}");
            let capped = p.jittered_delay(3, MS * 900, &mut rng);
            assert!(capped >= MS * 100 && capped <= MS * 1000, "{capped:?}");
        }
        // Decorrelated ignores the backoff strategy and `k`.
        let mut a = SmallRng::seed_from_u64(8);
        let mut b = SmallRng::seed_from_u64(8);
        assert_eq!(
            p.jittered_delay(1, MS * 150, &mut a),
            p.with_backoff(Backoff::Constant)
                .jittered_delay(40, MS * 150, &mut b)
        );
    }

    #[test]
    fn decorrelated_with_max_below_base_stays_at_max() {
        let p = Policy::new()
            .with_base(MS * 500)
            .with_max(MS * 100)
            .with_jitter(Jitter::Decorrelated);
        let mut rng = SmallRng::seed_from_u64(1);
        for previous in [Duration::ZERO, MS * 50, MS * 500, Duration::MAX] {
            assert_eq!(p.jittered_delay(2, previous, &mut rng), MS * 100);
        }
    }

    #[test]
    fn invalid_values_are_handled_without_panicking() {
        let mut rng = SmallRng::seed_from_u64(2);
        for factor in [f64::NAN, -1.0, 0.0, 0.5, f64::NEG_INFINITY] {
            // A factor below 1 or NaN behaves as 1: a constant schedule.
            let p = policy().with_factor(factor);
            for k in [1, 2, 10, u32::MAX] {
                assert_eq!(p.delay(k), MS * 100, "factor {factor} k={k}");
            }
        }
        let p = policy().with_factor(f64::INFINITY);
        assert_eq!(p.delay(1), MS * 100);
        assert_eq!(p.delay(2), MS * 1000);
        let zero = policy().with_attempts(0);
        assert_eq!(zero.delays().count(), 0);
        for jitter in JITTERS {
            let p = Policy::new()
                .with_base(Duration::MAX)
                .with_max(Duration::MAX)
                .with_factor(f64::MAX)
                .with_jitter(jitter);
            assert!(p.jittered_delay(u32::MAX, Duration::MAX, &mut rng) <= Duration::MAX);
        }
    }

    #[test]
    fn validate_rejects_each_bad_setting() {
        assert_eq!(policy().validate(), Ok(policy()));
        assert_eq!(
            policy().with_attempts(0).validate(),
            Err(PolicyError::ZeroAttempts)
        );
        for factor in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.99, 0.0, -2.0] {
            assert_eq!(
                policy().with_factor(factor).validate(),
                Err(PolicyError::BadFactor),
                "factor {factor}"
            );
        }
        assert_eq!(
            policy().with_factor(1.0).validate(),
            Ok(policy().with_factor(1.0))
        );
        assert_eq!(
            policy().with_max(MS * 99).validate(),
            Err(PolicyError::MaxBelowBase)
        );
        // The default max is never "below base": it follows a large base.
        assert!(Policy::new()
            .with_base(Duration::from_secs(60))
            .validate()
            .is_ok());
        assert!(policy().with_max(MS * 100).validate().is_ok());
    }

    #[test]
    fn validate_works_in_const_context() {
        const CHECKED: Result<Policy, PolicyError> = Policy::new().with_attempts(4).validate();
        const REJECTED: Result<Policy, PolicyError> = Policy::new().with_factor(0.5).validate();
        assert!(CHECKED.is_ok());
        assert_eq!(REJECTED, Err(PolicyError::BadFactor));
    }

    #[test]
    fn delays_iterator_reports_its_length_as_it_goes() {
        let mut delays = policy().delays();
        assert_eq!(delays.len(), 5);
        delays.next();
        delays.next();
        assert_eq!(delays.size_hint(), (3, Some(3)));
        assert_eq!(delays.by_ref().count(), 3);
        assert_eq!(delays.next(), None);
        assert_eq!(Policy::new().with_attempts(1).delays().count(), 0);
        let huge = Policy::new().with_attempts(u32::MAX).delays();
        assert_eq!(huge.len(), u32::MAX as usize - 1);
    }

    #[test]
    fn error_messages() {
        for err in [
            PolicyError::ZeroAttempts,
            PolicyError::BadFactor,
            PolicyError::MaxBelowBase,
        ] {
            assert_eq!(err.to_string(), err.message());
            assert!(err.message().contains('`'));
        }
    }
}
