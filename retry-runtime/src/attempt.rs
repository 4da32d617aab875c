//! What a retried body and its hooks can see about the current call.

use core::fmt;
use core::time::Duration;

use rand::Rng;

use crate::jitter::with_thread_rng;

/// The attempt context, bound by `#[retry(context = name)]` inside the body as `&Attempt`.
///
// The attribute is there only with the `macros` feature, async retries only with `tokio` (both
// on by default).
#[cfg_attr(all(feature = "macros", feature = "tokio"), doc = "```")]
#[cfg_attr(not(all(feature = "macros", feature = "tokio")), doc = "```ignore")]
/// use retry_runtime::{retry, Attempt};
///
/// #[retry(attempts = 3, base = "1ms", context = ctx)]
/// async fn submit(seen: &std::sync::Mutex<Vec<(u32, String)>>) -> Result<(), String> {
///     let ctx: &Attempt = ctx;
///     seen.lock().unwrap().push((ctx.attempt(), ctx.idempotency_key().to_string()));
///     if ctx.attempt() < 3 { Err("busy".into()) } else { Ok(()) }
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let seen = std::sync::Mutex::new(Vec::new());
/// submit(&seen).await.unwrap();
/// let seen = seen.into_inner().unwrap();
/// assert_eq!(seen.iter().map(|s| s.0).collect::<Vec<_>>(), [1, 2, 3]);
/// // One key per call, the same for all its attempts.
/// assert!(seen.iter().all(|s| s.1 == seen[0].1));
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attempt {
    attempt: u32,
    key: IdempotencyKey,
}

impl Attempt {
    /// A context for attempt `attempt` (1-based) of the call identified by `key`.
    ///
    /// ```
    /// use retry_runtime::{Attempt, IdempotencyKey};
    /// let key = IdempotencyKey::random();
    /// assert_eq!(Attempt::new(2, key).attempt(), 2);
    /// ```
    pub const fn new(attempt: u32, key: IdempotencyKey) -> Self {
        Self { attempt, key }
    }

    /// The attempt number: 1 for the first call, 2 for the first retry, …
    ///
    /// ```
    /// # use retry_runtime::{Attempt, IdempotencyKey};
    /// assert_eq!(Attempt::new(1, IdempotencyKey::random()).attempt(), 1);
    /// ```
    pub const fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Whether this is a retry rather than the first call.
    ///
    /// ```
    /// # use retry_runtime::{Attempt, IdempotencyKey};
    /// assert!(Attempt::new(2, IdempotencyKey::random()).is_retry());
    /// ```
    pub const fn is_retry(&self) -> bool {
        self.attempt > 1
    }

    /// A random key for this call, identical for every attempt of it: send it as an
    /// `Idempotency-Key` header so the server can drop duplicate side effects.
    ///
    /// ```
    /// # use retry_runtime::{Attempt, IdempotencyKey};
    /// let key = IdempotencyKey::random();
    /// assert_eq!(Attempt::new(3, key).idempotency_key(), key);
    /// ```
    pub const fn idempotency_key(&self) -> IdempotencyKey {
        self.key
    }
}

/// A random 128-bit key, shown as a version-4 UUID (`xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`).
///
/// ```
/// use retry_runtime::IdempotencyKey;
/// let key = IdempotencyKey::random();
/// let text = key.to_string();
/// assert_eq!(text.len(), 36);
/// assert_eq!(&text[14..15], "4");
/// assert_ne!(key, IdempotencyKey::random());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdempotencyKey(u128);

impl IdempotencyKey {
    /// A fresh key from this thread's generator (see [`seed_jitter`](crate::seed_jitter)).
    pub fn random() -> Self {
        let bits: u128 = with_thread_rng(|rng| rng.random());
        // Version 4, variant 1 (RFC 9562).
        let bits = (bits & !(0xF << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
        Self(bits)
    }

    /// A key the caller already has (a job system's request id), as 128 bits.
    ///
    /// ```
    /// use retry_runtime::IdempotencyKey;
    /// let key = IdempotencyKey::from_u128(0x0123_4567_89ab_4def_8123_4567_89ab_cdef);
    /// assert_eq!(key.to_string(), "01234567-89ab-4def-8123-456789abcdef");
    /// ```
    pub const fn from_u128(bits: u128) -> Self {
        Self(bits)
    }

    /// The key's 128 bits.
    ///
    /// ```
    /// let key = retry_runtime::IdempotencyKey::random();
    /// assert_eq!(format!("{:032x}", key.as_u128()), key.to_string().replace('-', ""));
    /// ```
    pub const fn as_u128(&self) -> u128 {
        self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            b >> 96,
            (b >> 80) & 0xFFFF,
            (b >> 64) & 0xFFFF,
            (b >> 48) & 0xFFFF,
            b & 0xFFFF_FFFF_FFFF
        )
    }
}

impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdempotencyKey({self})")
    }
}

/// What `#[retry(on_retry = …)]` hooks learn about a retry that is about to happen.
///
/// ```
/// use retry_runtime::RetryInfo;
/// use std::time::Duration;
///
/// let info = RetryInfo::new(1, Duration::from_millis(200), Duration::from_millis(15));
/// assert_eq!(info.attempt(), 1);
/// assert_eq!(info.delay(), Duration::from_millis(200));
/// assert_eq!(info.elapsed(), Duration::from_millis(15));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryInfo {
    attempt: u32,
    delay: Duration,
    elapsed: Duration,
}

impl RetryInfo {
    /// Attempt `attempt` (1-based) failed; the call sleeps `delay`, `elapsed` after it started.
    pub const fn new(attempt: u32, delay: Duration, elapsed: Duration) -> Self {
        Self {
            attempt,
            delay,
            elapsed,
        }
    }

    /// The attempt that just failed (1-based).
    pub const fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The delay about to be slept before the next attempt.
    pub const fn delay(&self) -> Duration {
        self.delay
    }

    /// Time since the first attempt started (tokio's clock for `async fn`).
    pub const fn elapsed(&self) -> Duration {
        self.elapsed
    }
}
