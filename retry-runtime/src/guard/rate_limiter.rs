//! [`RateLimiter`]: paces a client that the service has throttled, as the AWS SDKs' adaptive
//! retry mode does (a token bucket whose rate follows CUBIC).

use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use core::time::Duration;

/// The lowest fill rate, in tokens a second.
const MIN_FILL_RATE: f64 = 0.5;
/// The smallest bucket, in tokens: one attempt can always be saved up for.
const MIN_CAPACITY: f64 = 1.0;
/// The weight of the latest interval in the smoothed send rate.
const SMOOTH: f64 = 0.8;
/// The share of the rate kept after a throttling answer.
const BETA: f64 = 0.7;
/// CUBIC's scaling constant `C`: how fast the rate grows back.
const SCALE: f64 = 0.4;
/// The tokens one attempt takes.
const COST: f64 = 1.0;

/// Bits of the flags word.
const ENABLED: u32 = 1;
const REFILLED: u32 = 1 << 1;
const MEASURING: u32 = 1 << 2;

/// The whole state of the limiter, as plain values: loaded from the atomics, updated and
/// stored back while the lock is held.
#[derive(Clone, Copy, Debug, PartialEq)]
struct State {
    /// Whether a throttling answer has turned pacing on.
    enabled: bool,
    /// Tokens a second.
    fill_rate: f64,
    /// The most tokens the bucket holds.
    max_capacity: f64,
    /// Tokens in the bucket; below zero when attempts have reserved tokens still to come.
    capacity: f64,
    /// When the bucket was last filled, in seconds.
    last_refill: Option<f64>,
    /// The smoothed send rate, in answers a second.
    measured: f64,
    /// The half-second interval being counted, as a number of half seconds.
    interval: Option<u64>,
    /// Answers counted since that interval began.
    count: u32,
    /// The rate before the last throttling answer cut it.
    last_max_rate: f64,
    /// When the last throttling answer came, in seconds.
    last_throttle: f64,
}

impl State {
    const INITIAL: State = State {
        enabled: false,
        fill_rate: MIN_FILL_RATE,
        max_capacity: MIN_CAPACITY,
        capacity: 0.0,
        last_refill: None,
        measured: 0.0,
        interval: None,
        count: 0,
        last_max_rate: 0.0,
        last_throttle: 0.0,
    };

    /// Adds the tokens accrued since the last refill, up to the bucket's size. A `now` older
    /// than the last refill (another thread's clock read a little later) adds nothing.
    fn refill(&mut self, now: f64) {
        match self.last_refill {
            Some(last) if now <= last => return,
            Some(last) => {
                let filled = self.capacity + (now - last) * self.fill_rate;
                self.capacity = filled.min(self.max_capacity);
            }
            None => {}
        }
        self.last_refill = Some(now);
    }

    /// Counts one answer in the send rate, and folds the last interval into the smoothed
    /// rate when `now` has moved to a later half second.
    fn measure(&mut self, now: Duration) {
        let interval = half_seconds(now);
        let Some(last) = self.interval else {
            self.interval = Some(interval);
            self.count = 1;
            return;
        };
        self.count = self.count.saturating_add(1);
        if interval > last {
            let rate = f64::from(self.count) / ((interval - last) as f64 / 2.0);
            self.measured = rate * SMOOTH + self.measured * (1.0 - SMOOTH);
            self.count = 0;
            self.interval = Some(interval);
        }
    }

    /// Adapts the fill rate to one answer.
    fn record(&mut self, now: Duration, throttled: bool) {
        let seconds = now.as_secs_f64();
        self.measure(now);
        let rate = if throttled {
            let current = if self.enabled {
                self.measured.min(self.fill_rate)
            } else {
                self.measured
            };
            self.last_max_rate = current;
            self.last_throttle = seconds;
            self.enabled = true;
            cubic_throttle(current)
        } else {
            cubic_success(seconds, self.last_throttle, self.last_max_rate)
        };
        let rate = rate.min(2.0 * self.measured);
        // The tokens accrued so far accrued at the old rate.
        self.refill(seconds);
        self.fill_rate = rate.max(MIN_FILL_RATE);
        self.max_capacity = rate.max(MIN_CAPACITY);
        self.capacity = self.capacity.min(self.max_capacity);
    }

    /// Takes a token for an attempt if the wait for it is at most `max_wait`: `Ok(wait)` with
    /// the token taken, or `Err(wait)` with the bucket untouched.
    fn reserve(&mut self, now: Duration, max_wait: Duration) -> Result<Duration, Duration> {
        if !self.enabled {
            return Ok(Duration::ZERO);
        }
        self.refill(now.as_secs_f64());
        let wait = if self.capacity >= COST {
            Duration::ZERO
        } else {
            let seconds = (COST - self.capacity) / self.fill_rate;
            Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX)
        };
        if wait > max_wait {
            return Err(wait);
        }
        self.capacity -= COST;
        Ok(wait)
    }
}

/// How many whole half seconds `now` is.
fn half_seconds(now: Duration) -> u64 {
    let half = u64::from(now.subsec_nanos() >= 500_000_000);
    now.as_secs().saturating_mul(2).saturating_add(half)
}

/// CUBIC's `K`: how long after a throttling answer the curve is back at `last_max_rate`.
fn time_window(last_max_rate: f64) -> f64 {
    cbrt(last_max_rate * (1.0 - BETA) / SCALE)
}

/// The CUBIC curve at `now`: `C × (t - K)³ + last_max_rate`, `t` the time since the last
/// throttling answer.
fn cubic_success(now: f64, last_throttle: f64, last_max_rate: f64) -> f64 {
    let dt = now - last_throttle - time_window(last_max_rate);
    SCALE * dt * dt * dt + last_max_rate
}

/// The rate after a throttling answer.
fn cubic_throttle(rate: f64) -> f64 {
    rate * BETA
}

/// The cube root of `x`, with `+`, `-`, `*`, `/` only: a first guess from the bits, then
/// Newton's iteration. Exact to about an ulp; `x <= 0`, NaN and infinity come back unchanged.
fn cbrt(x: f64) -> f64 {
    /// 2⁵⁴ and its cube root 2¹⁸, to lift subnormals into the normal range.
    const TWO_54: f64 = 18_014_398_509_481_984.0;
    const TWO_18: f64 = 262_144.0;
    if x.is_nan() || x <= 0.0 || x == f64::INFINITY {
        return x;
    }
    if x < f64::MIN_POSITIVE {
        return cbrt(x * TWO_54) / TWO_18;
    }
    // Dividing the bits by three divides the exponent by three: within a few percent.
    let mut y = f64::from_bits(x.to_bits() / 3 + 0x2A9F_7893_782D_A1CE);
    for _ in 0..6 {
        y -= (y - x / (y * y)) / 3.0;
    }
    y
}

/// 64 bits in two [`AtomicU32`]s, read and written only while the lock is held.
struct Word {
    high: AtomicU32,
    low: AtomicU32,
}

impl Word {
    const fn new(bits: u64) -> Self {
        Word {
            high: AtomicU32::new((bits >> 32) as u32),
            low: AtomicU32::new(bits as u32),
        }
    }

    const fn of(value: f64) -> Self {
        Word::new(value.to_bits())
    }

    fn get(&self) -> u64 {
        let high = u64::from(self.high.load(Ordering::Relaxed));
        high << 32 | u64::from(self.low.load(Ordering::Relaxed))
    }

    fn set(&self, bits: u64) {
        self.high.store((bits >> 32) as u32, Ordering::Relaxed);
        self.low.store(bits as u32, Ordering::Relaxed);
    }

    fn get_f64(&self) -> f64 {
        f64::from_bits(self.get())
    }

    fn set_f64(&self, value: f64) {
        self.set(value.to_bits());
    }
}

/// A client-side rate limiter that slows a client down once the service throttles it: the
/// adaptive retry mode of the AWS SDKs, a token bucket whose rate follows CUBIC (the TCP
/// congestion control).
///
/// It does nothing until the first throttling answer: [`acquire`](RateLimiter::acquire)
/// returns zero at once. From then on every attempt takes a token from a bucket that fills at
/// `fill_rate` tokens a second and holds at most `max(fill_rate, 1)`; when it is empty,
/// `acquire` says how long to wait for the token. The rate adapts to every answer given to
/// [`record`](RateLimiter::record):
///
/// - the client's send rate is measured over half-second intervals, smoothed exponentially
///   (the latest interval weighs 0.8);
/// - a throttling answer cuts the rate to 0.7 times the rate at the time (the lower of the
///   measured rate and the fill rate), and remembers the rate it cut from as `last_max`;
/// - any other answer grows it back along the CUBIC curve
///   `W(t) = 0.4 × (t - K)³ + last_max`, where `t` is the time since the last throttling
///   answer and `K = ∛(last_max × 0.3 / 0.4)`: fast at first, flat around `last_max`, then
///   probing beyond it;
/// - the new rate is never above twice the measured send rate, nor below 0.5 tokens a second.
///
/// Once on, pacing stays on: a service that accepts everything soon has a fill rate above what
/// the client sends, and `acquire` returns zero again.
///
/// Time is passed in as `now`, the time elapsed since any fixed instant of a monotonic clock
/// (the same one for every call on one limiter): the limiter reads no clock, so it needs no
/// `std`, and it is exact under test.
///
/// # Concurrency
///
/// The state is ten numbers kept in [`AtomicU32`]s and guarded by a spin lock on an
/// [`AtomicBool`]: each call holds it for a few dozen loads, stores and floating-point
/// operations, and never for anything that blocks, allocates or panics. The constructor is a
/// `const fn`, so the limiter fits in a `static`. While pacing is off, `acquire` is a single
/// load and takes no lock. (Do not call it from an interrupt handler that can preempt a holder
/// of the lock on the same core.)
///
/// # Default
///
/// | setting | value | meaning |
/// |---|---|---|
/// | beta | 0.7 | the share of the rate kept after a throttling answer |
/// | `C` | 0.4 | CUBIC's scaling constant: how fast the rate grows back |
/// | smoothing | 0.8 | the weight of the latest half second in the measured send rate |
/// | minimum fill rate | 0.5 tokens/s | the slowest pace: one attempt every two seconds |
/// | minimum bucket | 1 token | one attempt can always be saved up for |
/// | cost | 1 token | taken by each attempt |
///
/// These are the AWS SDKs' values, and are fixed.
///
/// # Example
///
/// ```
/// use retry_runtime::RateLimiter;
/// use std::time::Duration;
///
/// static LIMITER: RateLimiter = RateLimiter::new();
///
/// let now = Duration::from_secs(10);
/// // Off until the service throttles: no waiting.
/// assert_eq!(LIMITER.acquire(now), Duration::ZERO);
/// assert_eq!(LIMITER.fill_rate(), None);
///
/// // The first answer is a 429: pacing starts, at the slowest rate, with an empty bucket.
/// LIMITER.record(now, true);
/// assert_eq!(LIMITER.fill_rate(), Some(0.5));
/// assert_eq!(LIMITER.acquire(now), Duration::from_secs(2));
/// // The next attempt waits for the token after that one.
/// assert_eq!(LIMITER.acquire(now), Duration::from_secs(4));
/// ```
pub struct RateLimiter {
    lock: AtomicBool,
    /// [`ENABLED`], [`REFILLED`] and [`MEASURING`].
    flags: AtomicU32,
    count: AtomicU32,
    fill_rate: Word,
    max_capacity: Word,
    capacity: Word,
    last_refill: Word,
    measured: Word,
    interval: Word,
    last_max_rate: Word,
    last_throttle: Word,
}

/// The lock, held: released when dropped.
struct Held<'a>(&'a AtomicBool);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl RateLimiter {
    /// A limiter with pacing off, and nothing measured yet.
    ///
    /// ```
    /// use retry_runtime::RateLimiter;
    ///
    /// static LIMITER: RateLimiter = RateLimiter::new();
    /// assert_eq!(LIMITER.fill_rate(), None);
    /// assert_eq!(LIMITER.measured_rate(), 0.0);
    /// ```
    pub const fn new() -> Self {
        let s = State::INITIAL;
        RateLimiter {
            lock: AtomicBool::new(false),
            flags: AtomicU32::new(0),
            count: AtomicU32::new(s.count),
            fill_rate: Word::of(s.fill_rate),
            max_capacity: Word::of(s.max_capacity),
            capacity: Word::of(s.capacity),
            last_refill: Word::of(0.0),
            measured: Word::of(s.measured),
            interval: Word::new(0),
            last_max_rate: Word::of(s.last_max_rate),
            last_throttle: Word::of(s.last_throttle),
        }
    }

    /// Takes a token for an attempt, and returns how long to wait before sending it: zero
    /// while pacing is off or a token is there, otherwise the time until the token accrues.
    ///
    /// The token is the caller's as soon as this returns: sleep the returned delay, then send
    /// (the next caller waits for the token after it). When the caller cannot wait that long
    /// (its deadline is nearer), [`try_acquire`](RateLimiter::try_acquire) checks the wait
    /// before taking anything.
    ///
    /// ```
    /// use retry_runtime::RateLimiter;
    /// use std::time::Duration;
    ///
    /// let limiter = RateLimiter::new();
    /// limiter.record(Duration::ZERO, true); // pacing on, 0.5 tokens a second, bucket empty
    /// assert_eq!(limiter.acquire(Duration::ZERO), Duration::from_secs(2));
    /// // One second later, half the next token has accrued behind the one reserved.
    /// assert_eq!(limiter.acquire(Duration::from_secs(1)), Duration::from_secs(3));
    /// ```
    pub fn acquire(&self, now: Duration) -> Duration {
        match self.try_acquire(now, Duration::MAX) {
            Ok(wait) | Err(wait) => wait,
        }
    }

    /// Takes a token for an attempt only if the wait for it is at most `max_wait`:
    /// `Ok(wait)` with the token taken (sleep `wait`, then send), or `Err(wait)` with nothing
    /// taken, when the token would come later than the caller can wait.
    ///
    /// ```
    /// use retry_runtime::RateLimiter;
    /// use std::time::Duration;
    ///
    /// let limiter = RateLimiter::new();
    /// limiter.record(Duration::ZERO, true);
    /// let now = Duration::ZERO;
    /// assert_eq!(limiter.try_acquire(now, Duration::from_secs(1)), Err(Duration::from_secs(2)));
    /// assert_eq!(limiter.try_acquire(now, Duration::from_secs(2)), Ok(Duration::from_secs(2)));
    /// ```
    pub fn try_acquire(&self, now: Duration, max_wait: Duration) -> Result<Duration, Duration> {
        // Pacing, once on, is never turned off: while it is off there is nothing to take.
        if self.flags.load(Ordering::Relaxed) & ENABLED == 0 {
            return Ok(Duration::ZERO);
        }
        self.update(|state| state.reserve(now, max_wait))
    }

    /// Adapts the rate to an answer: `throttled` when the service refused the attempt to slow
    /// the client down (an HTTP 429, a 503 `SlowDown`, a gRPC `RESOURCE_EXHAUSTED`, an AWS
    /// `ThrottlingException`), `false` for any other answer, failures included. Every answer
    /// also counts in the measured send rate.
    ///
    /// ```
    /// use retry_runtime::RateLimiter;
    /// use std::time::Duration;
    ///
    /// let limiter = RateLimiter::new();
    /// limiter.record(Duration::from_millis(100), false);
    /// assert_eq!(limiter.fill_rate(), None);
    /// limiter.record(Duration::from_millis(200), true);
    /// assert!(limiter.fill_rate().is_some());
    /// ```
    pub fn record(&self, now: Duration, throttled: bool) {
        self.update(|state| state.record(now, throttled));
    }

    /// The rate at which the bucket fills, in tokens (attempts) a second; `None` while pacing
    /// is off, before the first throttling answer.
    ///
    /// ```
    /// use retry_runtime::RateLimiter;
    /// use std::time::Duration;
    ///
    /// let limiter = RateLimiter::new();
    /// assert_eq!(limiter.fill_rate(), None);
    /// limiter.record(Duration::ZERO, true);
    /// assert_eq!(limiter.fill_rate(), Some(0.5)); // nothing measured yet: the minimum
    /// ```
    pub fn fill_rate(&self) -> Option<f64> {
        let state = self.snapshot();
        state.enabled.then_some(state.fill_rate)
    }

    /// The client's smoothed send rate, in answers a second, as [`record`](RateLimiter::record)
    /// measured it (measured whether pacing is on or off).
    ///
    /// ```
    /// use retry_runtime::RateLimiter;
    /// use std::time::Duration;
    ///
    /// let limiter = RateLimiter::new();
    /// // The answer that opens a new half second closes the last one: 4 answers in 0.5 s.
    /// for ms in [0, 100, 200, 500] {
    ///     limiter.record(Duration::from_millis(ms), false);
    /// }
    /// // 8 a second, weighted 0.8 against the 0 measured before.
    /// assert!((limiter.measured_rate() - 6.4).abs() < 1e-9);
    /// ```
    pub fn measured_rate(&self) -> f64 {
        self.snapshot().measured
    }

    /// Takes the lock: a spin on the flag, held for the few operations of one call.
    fn lock(&self) -> Held<'_> {
        loop {
            if self
                .lock
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return Held(&self.lock);
            }
            while self.lock.load(Ordering::Relaxed) {
                core::hint::spin_loop();
            }
        }
    }

    /// Runs `f` on the state with the lock held, and stores what it changed.
    fn update<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let _held = self.lock();
        let mut state = self.load();
        let result = f(&mut state);
        self.store(&state);
        result
    }

    /// The state, read with the lock held.
    fn snapshot(&self) -> State {
        let _held = self.lock();
        self.load()
    }

    /// Reads the state; the lock must be held.
    fn load(&self) -> State {
        let flags = self.flags.load(Ordering::Relaxed);
        State {
            enabled: flags & ENABLED != 0,
            fill_rate: self.fill_rate.get_f64(),
            max_capacity: self.max_capacity.get_f64(),
            capacity: self.capacity.get_f64(),
            last_refill: (flags & REFILLED != 0).then(|| self.last_refill.get_f64()),
            measured: self.measured.get_f64(),
            interval: (flags & MEASURING != 0).then(|| self.interval.get()),
            count: self.count.load(Ordering::Relaxed),
            last_max_rate: self.last_max_rate.get_f64(),
            last_throttle: self.last_throttle.get_f64(),
        }
    }

    /// Writes the state; the lock must be held.
    fn store(&self, state: &State) {
        let mut flags = 0;
        if state.enabled {
            flags |= ENABLED;
        }
        if let Some(last) = state.last_refill {
            flags |= REFILLED;
            self.last_refill.set_f64(last);
        }
        if let Some(interval) = state.interval {
            flags |= MEASURING;
            self.interval.set(interval);
        }
        self.flags.store(flags, Ordering::Relaxed);
        self.count.store(state.count, Ordering::Relaxed);
        self.fill_rate.set_f64(state.fill_rate);
        self.max_capacity.set_f64(state.max_capacity);
        self.capacity.set_f64(state.capacity);
        self.measured.set_f64(state.measured);
        self.last_max_rate.set_f64(state.last_max_rate);
        self.last_throttle.set_f64(state.last_throttle);
    }
}

impl Default for RateLimiter {
    /// [`RateLimiter::new`]: pacing off, with the fixed values of the `# Default` table on
    /// [`RateLimiter`].
    ///
    /// ```
    /// use retry_runtime::RateLimiter;
    /// use std::time::Duration;
    ///
    /// assert_eq!(RateLimiter::default().acquire(Duration::ZERO), Duration::ZERO);
    /// ```
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.snapshot();
        f.debug_struct("RateLimiter")
            .field("fill_rate", &state.enabled.then_some(state.fill_rate))
            .field("measured_rate", &state.measured)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected values come from aws-smithy-runtime's client_rate_limiter tests
    /// (smithy-rs, rust-runtime/aws-smithy-runtime/src/client/retries/client_rate_limiter.rs),
    /// ported there from aws-sdk-go-v2 (aws/retry/adaptive_ratelimit_test.go) and botocore's
    /// adaptive retry tests. They compare with `approx::assert_relative_eq!`.
    #[track_caller]
    fn assert_close(actual: f64, expected: f64) {
        let tolerance = 1e-12 * expected.abs().max(1.0);
        assert!(
            (actual - expected).abs() <= tolerance,
            "{actual} is not {expected}"
        );
    }

    /// The state of a limiter, read directly.
    fn state(limiter: &RateLimiter) -> State {
        limiter.snapshot()
    }

    #[test]
    fn cube_root_matches_std() {
        let mut x = 1e-310;
        while x < 1e300 {
            let (ours, theirs) = (cbrt(x), x.cbrt());
            assert!(
                (ours - theirs).abs() <= 4.0 * f64::EPSILON * theirs,
                "{x}: {ours} vs {theirs}"
            );
            x *= 1.37;
        }
        for x in [
            0.0,
            1.0,
            8.0,
            27.0,
            7.5,
            1e-320,
            f64::MIN_POSITIVE,
            f64::MAX,
        ] {
            assert!(
                (cbrt(x) - x.cbrt()).abs() <= 4.0 * f64::EPSILON * x.cbrt(),
                "{x}"
            );
        }
        assert_eq!(cbrt(-1.0), -1.0);
        assert!(cbrt(f64::NAN).is_nan());
        assert_eq!(cbrt(f64::INFINITY), f64::INFINITY);
    }

    #[test]
    fn half_seconds_are_exact() {
        assert_eq!(half_seconds(Duration::from_millis(499)), 0);
        assert_eq!(half_seconds(Duration::from_millis(500)), 1);
        assert_eq!(half_seconds(Duration::from_millis(2_600)), 5);
        assert_eq!(half_seconds(Duration::MAX), u64::MAX);
    }

    /// smithy: `should_match_beta_decrease`.
    #[test]
    fn a_throttle_keeps_beta_of_the_rate() {
        assert_close(cubic_throttle(10.0), 7.0);
        // At the instant of the throttle, the curve starts at beta × last_max.
        assert_close(cubic_success(1.0, 1.0, 10.0), 7.0);
    }

    /// smithy: `test_calculated_rate_with_successes`.
    #[test]
    fn the_cubic_curve_after_a_throttle() {
        let expected = [
            (5.0, 7.0),
            (6.0, 9.64893600966),
            (7.0, 10.000030849917364),
            (8.0, 10.453284520772092),
            (9.0, 13.408697022224185),
            (10.0, 21.26626835427364),
            (11.0, 36.425998516920465),
        ];
        for (now, rate) in expected {
            assert_close(cubic_success(now, 5.0, 10.0), rate);
        }
    }

    /// smithy: `test_calculated_rate_with_throttles`.
    #[test]
    fn the_cubic_curve_through_throttles() {
        let expected = [
            (false, 5.0, 7.0),
            (false, 6.0, 9.64893600966),
            (true, 7.0, 6.754255206761999),
            (true, 8.0, 4.727978644733399),
            (false, 9.0, 4.670125557970046),
            (false, 10.0, 4.770870456867401),
            (false, 11.0, 6.011819748005445),
            (false, 12.0, 10.792973431384178),
        ];
        let (mut last_max, mut last_throttle, mut rate) = (10.0, 5.0, 0.0);
        for (throttled, now, expected) in expected {
            if throttled {
                rate = cubic_throttle(rate);
                last_throttle = now;
                last_max = rate;
            } else {
                rate = cubic_success(now, last_throttle, last_max);
            }
            assert_close(rate, expected);
        }
    }

    /// smithy: `test_client_sending_rates`: one answer every 200 ms, through `record`, with
    /// the measured send rate and the fill rate after each.
    #[test]
    fn sending_rates_follow_the_reference_sequence() {
        let expected = [
            (false, 0.000000, 0.500000),
            (false, 0.000000, 0.500000),
            (false, 4.800000000000001, 0.500000),
            (false, 4.800000000000001, 0.500000),
            (false, 4.160000, 0.500000),
            (false, 4.160000, 0.691200),
            (false, 4.160000, 1.0975999999999997),
            (false, 5.632000000000001, 1.6384000000000005),
            (false, 5.632000000000001, 2.332800),
            (true, 4.326400, 3.0284799999999996),
            (false, 4.326400, 3.48663917347026),
            (false, 4.326400, 3.821874416040255),
            (false, 5.665280, 4.053385727709987),
            (false, 5.665280, 4.200373108479454),
            (false, 4.333056, 4.282036558348658),
            (true, 4.333056, 2.99742559084406),
            (false, 4.333056, 3.4522263943863463),
        ];
        let limiter = RateLimiter::new();
        for (step, (throttled, measured, fill_rate)) in (1u32..).zip(expected) {
            let now = Duration::from_millis(200) * step;
            limiter.record(now, throttled);
            let state = state(&limiter);
            assert_close(state.measured, measured);
            assert_close(state.fill_rate, fill_rate);
            assert_eq!(state.enabled, step >= 10, "at {now:?}");
            assert_close(limiter.measured_rate(), measured);
        }
        assert_close(limiter.fill_rate().unwrap(), 3.4522263943863463);
    }

    /// smithy: `test_when_throttling_is_enabled_requests_can_still_be_sent`, with a seeded
    /// stream of steps instead of random ones.
    #[test]
    fn paced_requests_keep_the_clock() {
        let limiter = RateLimiter::new();
        limiter.record(Duration::ZERO, true);
        let mut now = Duration::ZERO;
        let mut seed = 0x2545_F491u32;
        for _ in 0..100 {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            now += Duration::from_nanos(u64::from(seed) % 1_000_000_000);
            now += limiter.acquire(now);
            limiter.record(now, false);
        }
        let state = state(&limiter);
        assert!(state.enabled);
        assert_close(state.last_refill.unwrap(), now.as_secs_f64());
        assert!(state.fill_rate >= MIN_FILL_RATE);
    }

    #[test]
    fn pacing_is_off_until_the_first_throttle() {
        let limiter = RateLimiter::new();
        for ms in 0..1_000u64 {
            let now = Duration::from_millis(ms * 10);
            assert_eq!(limiter.acquire(now), Duration::ZERO);
            limiter.record(now, false);
        }
        assert_eq!(limiter.fill_rate(), None);
        assert!(limiter.measured_rate() > 50.0);
        let now = Duration::from_secs(10);
        limiter.record(now, true);
        let rate = limiter.fill_rate().unwrap();
        // The rate it cut from is the measured rate (pacing was off): 100 answers a second.
        assert_close(rate, 0.7 * limiter.measured_rate());
        assert_close(state(&limiter).last_max_rate, limiter.measured_rate());
    }

    #[test]
    fn an_empty_bucket_gives_the_wait_for_the_next_token() {
        let limiter = RateLimiter::new();
        limiter.record(Duration::ZERO, true);
        assert_eq!(limiter.fill_rate(), Some(0.5));
        assert_eq!(state(&limiter).max_capacity, 1.0);
        // Each reservation waits one more token: 2 s at 0.5 tokens a second.
        assert_eq!(limiter.acquire(Duration::ZERO), Duration::from_secs(2));
        assert_eq!(limiter.acquire(Duration::ZERO), Duration::from_secs(4));
        // At 10 s the debt of 2 is paid and the bucket is full again (1 token).
        let now = Duration::from_secs(10);
        assert_eq!(limiter.acquire(now), Duration::ZERO);
        assert_eq!(limiter.acquire(now), Duration::from_secs(2));
        // A caller that cannot wait takes nothing.
        assert_eq!(
            limiter.try_acquire(now, Duration::from_secs(3)),
            Err(Duration::from_secs(4))
        );
        assert_eq!(
            limiter.try_acquire(now, Duration::from_secs(4)),
            Ok(Duration::from_secs(4))
        );
        // A partly filled bucket: 0.25 s later, 1/8 of a token has accrued towards -2.
        let wait = limiter.acquire(now + Duration::from_millis(250));
        assert_eq!(wait, Duration::from_millis(5_750));
    }

    #[test]
    fn the_fill_rate_never_drops_below_the_minimum() {
        let limiter = RateLimiter::new();
        for step in 0..200u32 {
            let now = Duration::from_millis(50) * step;
            limiter.record(now, true);
            assert!(limiter.fill_rate().unwrap() >= MIN_FILL_RATE);
            assert!(state(&limiter).max_capacity >= MIN_CAPACITY);
        }
        // Throttled all along at 20 answers a second: cut to the floor.
        assert_eq!(limiter.fill_rate(), Some(MIN_FILL_RATE));
    }

    #[test]
    fn the_rate_grows_back_but_not_beyond_twice_the_send_rate() {
        let limiter = RateLimiter::new();
        let mut now = Duration::ZERO;
        for _ in 0..100 {
            now += Duration::from_millis(100);
            limiter.record(now, false);
        }
        limiter.record(now, true);
        let cut = limiter.fill_rate().unwrap();
        for _ in 0..600 {
            now += Duration::from_millis(100);
            limiter.record(now, false);
            assert!(limiter.fill_rate().unwrap() <= 2.0 * limiter.measured_rate() + 1e-9);
        }
        assert!(limiter.fill_rate().unwrap() > cut);
        assert_close(limiter.fill_rate().unwrap(), 2.0 * limiter.measured_rate());
    }

    #[test]
    fn an_older_now_does_not_rewind_the_bucket() {
        let limiter = RateLimiter::new();
        limiter.record(Duration::from_secs(5), true);
        let before = state(&limiter);
        assert_eq!(
            limiter.acquire(Duration::from_secs(4)),
            Duration::from_secs(2)
        );
        let after = state(&limiter);
        assert_eq!(after.last_refill, before.last_refill);
        assert_eq!(after.capacity, before.capacity - 1.0);
    }

    #[test]
    fn concurrent_reservations_each_get_their_own_token() {
        let limiter = RateLimiter::new();
        limiter.record(Duration::ZERO, true);
        let now = Duration::ZERO;
        let mut waits: Vec<Duration> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| s.spawn(|| (0..500).map(|_| limiter.acquire(now)).collect::<Vec<_>>()))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        });
        waits.sort();
        assert_eq!(waits.len(), 2_000);
        for (n, wait) in (1u64..).zip(&waits) {
            // The n-th reservation waits for n tokens at 0.5 a second.
            assert_eq!(*wait, Duration::from_secs(2 * n));
        }
        assert_eq!(state(&limiter).capacity, -2_000.0);
    }

    #[test]
    fn concurrent_answers_keep_the_state_sound() {
        let limiter = RateLimiter::new();
        std::thread::scope(|s| {
            for t in 0..4u32 {
                let limiter = &limiter;
                s.spawn(move || {
                    for i in 0..5_000u32 {
                        let now = Duration::from_micros(u64::from(i) * 1_000 + u64::from(t));
                        let _ = limiter.try_acquire(now, Duration::from_millis(10));
                        limiter.record(now, (i + t) % 50 == 0);
                        if let Some(rate) = limiter.fill_rate() {
                            assert!(rate.is_finite() && rate >= MIN_FILL_RATE);
                        }
                    }
                });
            }
        });
        let state = state(&limiter);
        assert!(state.enabled);
        assert!(state.measured.is_finite() && state.measured > 0.0);
        assert!(state.capacity <= state.max_capacity);
        assert!(!limiter.lock.load(Ordering::Relaxed));
        assert!(format!("{limiter:?}").starts_with("RateLimiter"));
    }
}
