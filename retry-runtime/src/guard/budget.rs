//! [`RetryBudget`]: a token bucket that bounds how much extra load retries may add.

use core::fmt;
use core::sync::atomic::{AtomicU32, Ordering};

/// Fixed-point scale: the bucket counts thousandths of a token.
const SCALE: u32 = 1_000;
/// Default capacity, in whole tokens.
const DEFAULT_MAX_TOKENS: u32 = 10;
/// Default refill per success, as a fraction of a token.
const DEFAULT_RATIO: f64 = 0.1;
/// Largest capacity that fits the fixed-point counter: `u32::MAX / SCALE` whole tokens.
const MAX_TOKENS_LIMIT: u32 = u32::MAX / SCALE;

/// A retry budget shared by every call that uses it: a lock-free token bucket.
///
/// Each retry withdraws one token ([`try_withdraw`](RetryBudget::try_withdraw)); each call that
/// succeeds deposits `ratio` of a token ([`deposit`](RetryBudget::deposit)), up to `max_tokens`.
/// When less than one whole token is left, retries are refused and the error of the failed
/// attempt is returned at once. This is the per-client retry ratio of Google's SRE book and the
/// retry throttling of gRPC: once the bucket has drained, retries add at most `ratio` times the
/// number of successful calls, so a fleet of clients does not multiply the load on a service that
/// is already failing. A healthy service keeps the bucket full and never sees a refusal.
///
/// The bucket starts full. Its state is one [`AtomicU32`] counting thousandths of a token, so
/// the budget fits in a `static` (the constructor is a `const fn`), never blocks, never
/// allocates and never panics.
///
/// With `#[retry(budget = PATH)]`, `.budget(&B)` or the middleware's `with_budget` the engine
/// calls the two methods itself (a permanent answer, such as a 404, refills it as a success
/// does: the service answered); used by hand it looks like the example below.
///
/// # Default
///
/// | setting | default | meaning |
/// |---|---|---|
/// | `max_tokens` | 10 | burst of retries allowed with a full bucket |
/// | `ratio` | 0.1 | one retry earned per 10 successes: at most 10% extra load once drained |
///
/// Limits: `max_tokens` is capped at `u32::MAX / 1000` (4,294,967); `ratio` is clamped to
/// `0..=max_tokens`, and NaN counts as 0.
///
/// # Example
///
/// ```
/// use retry_runtime::RetryBudget;
///
/// static BUDGET: RetryBudget = RetryBudget::new(2, 0.5);
///
/// // A full bucket allows a burst of two retries, then refuses.
/// assert!(BUDGET.try_withdraw());
/// assert!(BUDGET.try_withdraw());
/// assert!(!BUDGET.try_withdraw());
///
/// // Two successes earn one more retry.
/// BUDGET.deposit();
/// BUDGET.deposit();
/// assert!(BUDGET.try_withdraw());
/// assert!(!BUDGET.try_withdraw());
/// ```
pub struct RetryBudget {
    /// Thousandths of a token in the bucket.
    tokens: AtomicU32,
    /// Capacity, in thousandths.
    max: u32,
    /// Refill per success, in thousandths.
    refill: u32,
}

impl RetryBudget {
    /// A full bucket of `max_tokens` retries, refilled by `ratio` of a token per success.
    ///
    /// `ratio` is the long-run bound on retries per successful call: `0.1` allows one retry
    /// for every ten successes. It is stored with a resolution of 1/1000 (rounded to the nearest).
    /// Out-of-range values are clamped rather than rejected (see the limits on
    /// [`RetryBudget`]), so this never panics.
    ///
    /// ```
    /// use retry_runtime::RetryBudget;
    ///
    /// static BUDGET: RetryBudget = RetryBudget::new(20, 0.25);
    /// assert_eq!(BUDGET.max_tokens(), 20);
    /// assert_eq!(BUDGET.ratio(), 0.25);
    /// assert_eq!(BUDGET.tokens(), 20.0);
    /// ```
    pub const fn new(max_tokens: u32, ratio: f64) -> Self {
        let max_whole = if max_tokens > MAX_TOKENS_LIMIT {
            MAX_TOKENS_LIMIT
        } else {
            max_tokens
        };
        let max = max_whole * SCALE;
        // Rounded to the nearest thousandth (`0.29 * 1000.0` is just below 290). `as` saturates:
        // NaN becomes 0 and huge values `u32::MAX`; negative values are caught first.
        let scaled = ratio * SCALE as f64 + 0.5;
        let refill = if scaled >= 0.0 { scaled as u32 } else { 0 };
        let refill = if refill > max { max } else { refill };
        Self {
            tokens: AtomicU32::new(max),
            max,
            refill,
        }
    }

    /// Takes one token for a retry: `true` if the retry may go ahead, `false` (and the bucket
    /// untouched) when less than one token is left.
    ///
    /// ```
    /// use retry_runtime::RetryBudget;
    ///
    /// let budget = RetryBudget::new(1, 0.1);
    /// assert!(budget.try_withdraw());
    /// assert!(!budget.try_withdraw());
    /// ```
    #[inline]
    pub fn try_withdraw(&self) -> bool {
        self.tokens
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |tokens| {
                tokens.checked_sub(SCALE)
            })
            .is_ok()
    }

    /// Records a successful call: adds `ratio` of a token, up to `max_tokens`.
    ///
    /// On a full bucket this is a single load and no write, so the success path of a healthy
    /// service does not contend on the counter.
    ///
    /// ```
    /// use retry_runtime::RetryBudget;
    ///
    /// let budget = RetryBudget::new(1, 0.5);
    /// assert!(budget.try_withdraw());
    /// budget.deposit();
    /// assert_eq!(budget.tokens(), 0.5);
    /// budget.deposit();
    /// budget.deposit();
    /// assert_eq!(budget.tokens(), 1.0); // capped at `max_tokens`
    /// ```
    #[inline]
    pub fn deposit(&self) {
        let (max, refill) = (self.max, self.refill);
        if refill == 0 || self.tokens.load(Ordering::Relaxed) >= max {
            return;
        }
        let _ = self
            .tokens
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |tokens| {
                (tokens < max).then(|| tokens.saturating_add(refill).min(max))
            });
    }

    /// Whether a retry would be allowed now (at least one whole token is left). Another thread
    /// may take the token before you do; [`try_withdraw`](RetryBudget::try_withdraw) is the
    /// atomic check-and-take.
    ///
    /// ```
    /// use retry_runtime::RetryBudget;
    ///
    /// let budget = RetryBudget::new(1, 0.1);
    /// assert!(budget.can_retry());
    /// budget.try_withdraw();
    /// assert!(!budget.can_retry());
    /// ```
    pub fn can_retry(&self) -> bool {
        self.tokens.load(Ordering::Relaxed) >= SCALE
    }

    /// The tokens in the bucket now, with their fraction (thousandths).
    ///
    /// ```
    /// use retry_runtime::RetryBudget;
    ///
    /// let budget = RetryBudget::new(3, 0.1);
    /// budget.try_withdraw();
    /// budget.deposit();
    /// assert_eq!(budget.tokens(), 2.1);
    /// ```
    pub fn tokens(&self) -> f64 {
        f64::from(self.tokens.load(Ordering::Relaxed)) / f64::from(SCALE)
    }

    /// The capacity in whole tokens, after the cap described on [`RetryBudget`].
    ///
    /// ```
    /// use retry_runtime::RetryBudget;
    ///
    /// assert_eq!(RetryBudget::new(5, 0.1).max_tokens(), 5);
    /// assert_eq!(RetryBudget::new(u32::MAX, 0.1).max_tokens(), u32::MAX / 1000);
    /// ```
    pub const fn max_tokens(&self) -> u32 {
        self.max / SCALE
    }

    /// The refill per success as stored: a multiple of 1/1000, clamped to `0..=max_tokens`.
    ///
    /// ```
    /// use retry_runtime::RetryBudget;
    ///
    /// assert_eq!(RetryBudget::new(10, 0.1).ratio(), 0.1);
    /// assert_eq!(RetryBudget::new(10, f64::NAN).ratio(), 0.0);
    /// assert_eq!(RetryBudget::new(10, -1.0).ratio(), 0.0);
    /// assert_eq!(RetryBudget::new(2, 50.0).ratio(), 2.0);
    /// ```
    pub fn ratio(&self) -> f64 {
        f64::from(self.refill) / f64::from(SCALE)
    }
}

impl Default for RetryBudget {
    /// `RetryBudget::new(10, 0.1)`: see the `# Default` table on [`RetryBudget`].
    ///
    /// ```
    /// use retry_runtime::RetryBudget;
    ///
    /// let budget = RetryBudget::default();
    /// assert_eq!((budget.max_tokens(), budget.ratio()), (10, 0.1));
    /// ```
    fn default() -> Self {
        Self::new(DEFAULT_MAX_TOKENS, DEFAULT_RATIO)
    }
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBudget")
            .field("tokens", &self.tokens())
            .field("max_tokens", &self.max_tokens())
            .field("ratio", &self.ratio())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_capacity_never_allows_a_retry() {
        let budget = RetryBudget::new(0, 1.0);
        assert!(!budget.try_withdraw());
        budget.deposit();
        assert!(!budget.try_withdraw());
        assert_eq!(budget.tokens(), 0.0);
    }

    #[test]
    fn zero_ratio_never_refills() {
        let budget = RetryBudget::new(1, 0.0);
        assert!(budget.try_withdraw());
        for _ in 0..1_000 {
            budget.deposit();
        }
        assert!(!budget.try_withdraw());
    }

    #[test]
    fn ratio_is_rounded_to_the_nearest_thousandth() {
        assert_eq!(RetryBudget::new(1, 0.29).ratio(), 0.29);
        assert_eq!(RetryBudget::new(1, 0.0004).ratio(), 0.0);
        assert_eq!(RetryBudget::new(1, 0.0006).ratio(), 0.001);
    }

    #[test]
    fn fractions_accumulate_to_whole_tokens() {
        let budget = RetryBudget::new(1, 0.001);
        assert!(budget.try_withdraw());
        for _ in 0..999 {
            budget.deposit();
        }
        assert!(!budget.can_retry());
        budget.deposit();
        assert!(budget.try_withdraw());
    }

    #[test]
    fn extreme_inputs_are_clamped() {
        for ratio in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.5, 1e300] {
            let budget = RetryBudget::new(u32::MAX, ratio);
            assert!(budget.ratio() >= 0.0 && budget.ratio() <= f64::from(budget.max_tokens()));
            budget.deposit();
            assert!(budget.try_withdraw());
            budget.deposit();
            assert!(budget.tokens() <= f64::from(budget.max_tokens()));
        }
    }

    #[test]
    fn concurrent_withdrawals_never_exceed_the_tokens() {
        let budget = RetryBudget::new(1_000, 0.0);
        let granted = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| s.spawn(|| (0..1_000).filter(|_| budget.try_withdraw()).count()))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or(0))
                .sum::<usize>()
        });
        assert_eq!(granted, 1_000);
        assert!(!budget.can_retry());
    }
}
