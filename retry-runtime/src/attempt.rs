//! What a retried body and its hooks can see about the current call.

use core::fmt;
use core::time::Duration;

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
    key: KeySource,
}

/// The call's key: given by the caller, or a nonce from which it is derived when asked for
/// (most calls never ask, and then pay for no cryptography).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeySource {
    Given([u64; 2]),
    Derived([u64; 2]),
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
        Self {
            attempt,
            key: KeySource::Given(split(key.0)),
        }
    }

    /// A context whose key is derived, when first asked for, from `nonce` (unique to the call).
    #[doc(hidden)]
    pub const fn with_nonce(attempt: u32, nonce: Nonce) -> Self {
        Self {
            attempt,
            key: KeySource::Derived(split(nonce.0)),
        }
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

    /// The key the caller gave for this call (`idempotency_key = …` on the attribute,
    /// `.idempotency_key(..)` on the builders), if any. Unlike
    /// [`idempotency_key`](Attempt::idempotency_key) it needs no entropy, so it is there
    /// without `std` and `getrandom` too.
    ///
    /// ```
    /// # use retry_runtime::{Attempt, IdempotencyKey};
    /// let key = IdempotencyKey::from_u128(7);
    /// assert_eq!(Attempt::new(1, key).given_key(), Some(key));
    /// ```
    pub const fn given_key(&self) -> Option<IdempotencyKey> {
        match self.key {
            KeySource::Given(bits) => Some(IdempotencyKey(join(bits))),
            KeySource::Derived(_) => None,
        }
    }

    /// The key of this call, identical for every attempt of it: send it as an
    /// `Idempotency-Key` header so the server can drop duplicate side effects. Unless the
    /// caller gave one, it is random (see [`IdempotencyKey`]).
    ///
    /// ```
    /// # use retry_runtime::{Attempt, IdempotencyKey};
    /// let key = IdempotencyKey::random();
    /// assert_eq!(Attempt::new(3, key).idempotency_key(), key);
    /// ```
    ///
    /// Random keys need entropy: `std` (on by default) or, without it, the `getrandom` feature.
    #[cfg(any(feature = "std", feature = "getrandom"))]
    pub fn idempotency_key(&self) -> IdempotencyKey {
        match self.key {
            KeySource::Given(bits) => IdempotencyKey(join(bits)),
            KeySource::Derived(nonce) => IdempotencyKey::derived(Nonce(join(nonce))),
        }
    }
}

/// The key of a call: the caller's, or one derived when asked for.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallKey {
    Given(IdempotencyKey),
    Fresh(Nonce),
}

impl CallKey {
    /// The caller's key, or a fresh nonce.
    #[inline]
    pub fn new(given: Option<IdempotencyKey>) -> Self {
        match given {
            Some(key) => CallKey::Given(key),
            None => CallKey::Fresh(Nonce::fresh()),
        }
    }

    /// The context of attempt `attempt` of this call.
    #[inline]
    pub const fn attempt(self, attempt: u32) -> Attempt {
        match self {
            CallKey::Given(key) => Attempt::new(attempt, key),
            CallKey::Fresh(nonce) => Attempt::with_nonce(attempt, nonce),
        }
    }
}

const fn split(bits: u128) -> [u64; 2] {
    [(bits >> 64) as u64, bits as u64]
}

const fn join(halves: [u64; 2]) -> u128 {
    ((halves[0] as u128) << 64) | halves[1] as u128
}

/// A value unique to one call in this process: a thread's number and that thread's count of
/// calls. Cheap to take (no cryptography); an [`IdempotencyKey`] is derived from it on demand.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Nonce(u128);

impl Nonce {
    /// A nonce no other call of this process has.
    #[cfg(feature = "std")]
    #[inline]
    pub fn fresh() -> Self {
        use core::cell::Cell;
        use core::sync::atomic::{AtomicU64, Ordering};

        /// Threads numbered in the order they first take a nonce; `u64::MAX` is kept for
        /// nonces taken while a thread is being torn down.
        static THREADS: AtomicU64 = AtomicU64::new(0);
        static TEARDOWN: AtomicU64 = AtomicU64::new(0);
        std::thread_local! {
            static NEXT: Cell<(u64, u64)> = const { Cell::new((u64::MAX, 0)) };
        }
        let taken = NEXT.try_with(|next| {
            let (mut thread, count) = next.get();
            if thread == u64::MAX {
                thread = THREADS.fetch_add(1, Ordering::Relaxed);
            }
            next.set((thread, count.wrapping_add(1)));
            (thread, count)
        });
        let (thread, count) =
            taken.unwrap_or_else(|_| (u64::MAX, TEARDOWN.fetch_add(1, Ordering::Relaxed)));
        Nonce(((thread as u128) << 64) | count as u128)
    }

    /// A nonce no other call of this program has: one count for the whole program (no threads
    /// to tell apart without `std`).
    #[cfg(not(feature = "std"))]
    #[inline]
    pub fn fresh() -> Self {
        use core::sync::atomic::Ordering;
        static NEXT: crate::sync::AtomicU64 = crate::sync::AtomicU64::new(0);
        Nonce(u128::from(NEXT.fetch_add(1, Ordering::Relaxed)))
    }
}

/// Where keys come from: ChaCha12, keyed once per process with 256 bits from the operating
/// system (or `getrandom` without `std`), evaluated at the call's nonce (its stream and
/// position): a keyed pseudorandom function, so keys are unpredictable without the secret, and
/// distinct nonces give distinct streams. Independent of the jitter generator: seeding jitter
/// does not touch keys.
#[cfg(any(feature = "std", feature = "getrandom"))]
fn derive_key(nonce: Nonce) -> u128 {
    use rand_chacha::rand_core::{RngCore, SeedableRng};

    let mut chacha = rand_chacha::ChaCha12Rng::from_seed(secret());
    chacha.set_stream((nonce.0 >> 64) as u64);
    chacha.set_word_pos(u128::from(nonce.0 as u64) * 4);
    let hi = chacha.next_u64();
    let lo = chacha.next_u64();
    ((hi as u128) << 64) | lo as u128
}

/// The process's secret: 256 bits from the operating system, taken once.
#[cfg(feature = "std")]
fn secret() -> [u8; 32] {
    use rand::TryRngCore;
    use std::sync::OnceLock;

    static SECRET: OnceLock<[u8; 32]> = OnceLock::new();
    *SECRET.get_or_init(|| {
        let mut secret = [0u8; 32];
        if rand::rngs::OsRng.try_fill_bytes(&mut secret).is_err() {
            // No randomness from the system: keys stay unique (the nonce), but a process
            // started at the same nanosecond at the same address could predict them.
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let place = &secret as *const _ as usize as u128;
            secret[..16].copy_from_slice(&now.to_le_bytes());
            secret[16..].copy_from_slice(&(place ^ u128::from(std::process::id())).to_le_bytes());
        }
        secret
    })
}

/// The program's secret without `std`: 256 bits from `getrandom`, taken by the first call
/// that asks (the others wait the few instructions that takes). If the source fails, the
/// secret stays empty and is asked for again by the next key: until it answers, keys are
/// unique within this run only.
#[cfg(all(not(feature = "std"), feature = "getrandom"))]
fn secret() -> [u8; 32] {
    use core::sync::atomic::{AtomicU32, Ordering};

    const EMPTY: u32 = 0;
    const FILLING: u32 = 1;
    const READY: u32 = 2;
    static STATE: AtomicU32 = AtomicU32::new(EMPTY);
    static WORDS: [AtomicU32; 8] = [const { AtomicU32::new(0) }; 8];
    let read = || {
        let mut secret = [0u8; 32];
        for (chunk, word) in secret.chunks_exact_mut(4).zip(&WORDS) {
            chunk.copy_from_slice(&word.load(Ordering::Relaxed).to_le_bytes());
        }
        secret
    };
    loop {
        match STATE.compare_exchange(EMPTY, FILLING, Ordering::Acquire, Ordering::Acquire) {
            Ok(_) => {
                let mut secret = [0u8; 32];
                let filled = getrandom::fill(&mut secret).is_ok();
                for (chunk, word) in secret.chunks_exact(4).zip(&WORDS) {
                    let bytes = [chunk[0], chunk[1], chunk[2], chunk[3]];
                    word.store(u32::from_le_bytes(bytes), Ordering::Relaxed);
                }
                STATE.store(if filled { READY } else { EMPTY }, Ordering::Release);
                return secret;
            }
            Err(READY) => return read(),
            Err(_) => core::hint::spin_loop(),
        }
    }
}

/// A call's idempotency key: 128 bits, shown as a version-4 UUID
/// (`xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`, lowercase).
///
/// Random keys come from a cryptographically secure generator (ChaCha12 keyed once per
/// process from the operating system), never from the jitter generator: seeding jitter for a
/// test does not make keys repeat, two processes never share a stream, and seeing some keys
/// does not tell the next ones. A caller that already has an identifier for the request (a job
/// id) can give it instead: [`from_u128`](IdempotencyKey::from_u128), and the attribute's
/// `idempotency_key = …` or the builders' `.idempotency_key(…)`.
///
/// What it guarantees: one key per call, the same for every attempt of that call, distinct
/// between calls. What the server must do: remember the keys it has seen (for longer than a
/// call can take, retries included) and answer a request whose key it has already acted on
/// with the first result instead of acting again.
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
    /// A fresh random key.
    ///
    /// Needs entropy: `std` (on by default) or, without it, the `getrandom` feature.
    #[cfg(any(feature = "std", feature = "getrandom"))]
    pub fn random() -> Self {
        Self::derived(Nonce::fresh())
    }

    /// The key of the call that took `nonce`.
    #[cfg(any(feature = "std", feature = "getrandom"))]
    fn derived(nonce: Nonce) -> Self {
        let bits = derive_key(nonce);
        // Version 4, variant 1 (RFC 9562).
        Self((bits & !(0xF << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62))
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
    from_hint: bool,
}

impl RetryInfo {
    /// Attempt `attempt` (1-based) failed; the call sleeps `delay`, `elapsed` after it started.
    pub const fn new(attempt: u32, delay: Duration, elapsed: Duration) -> Self {
        Self {
            attempt,
            delay,
            elapsed,
            from_hint: false,
        }
    }

    /// The same, saying whether the delay is the server's hint (`Retry-After`, pushback)
    /// rather than the policy's backoff.
    ///
    /// ```
    /// use retry_runtime::RetryInfo;
    /// use std::time::Duration;
    /// let info = RetryInfo::new(1, Duration::from_secs(2), Duration::ZERO).with_hint(true);
    /// assert!(info.from_hint());
    /// ```
    pub const fn with_hint(mut self, from_hint: bool) -> Self {
        self.from_hint = from_hint;
        self
    }

    /// Whether the delay is the server's hint rather than the policy's backoff.
    ///
    /// ```
    /// # use retry_runtime::RetryInfo;
    /// # use std::time::Duration;
    /// assert!(!RetryInfo::new(1, Duration::ZERO, Duration::ZERO).from_hint());
    /// ```
    pub const fn from_hint(&self) -> bool {
        self.from_hint
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
