//! [`RateLimits`]: how long to hold the next attempt, from the rate-limit headers of the last
//! response (OpenAI's, Anthropic's and the IETF draft's).

use core::fmt;
use core::time::Duration;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use http::HeaderMap;

/// Nanoseconds in a second.
const NANOS_PER_SEC: u128 = 1_000_000_000;
/// Seconds in a day.
const SECS_PER_DAY: i64 = 86_400;

/// The two kinds of limit an API counts against.
#[derive(Clone, Copy)]
enum Kind {
    Requests,
    Tokens,
}

/// OpenAI's headers: the remaining count, and the time until it resets as a Go duration.
const OPENAI: [(&str, &str, Kind); 2] = [
    (
        "x-ratelimit-remaining-requests",
        "x-ratelimit-reset-requests",
        Kind::Requests,
    ),
    (
        "x-ratelimit-remaining-tokens",
        "x-ratelimit-reset-tokens",
        Kind::Tokens,
    ),
];

/// Anthropic's headers: the remaining count, and the instant it resets in RFC 3339.
const ANTHROPIC: [(&str, &str, Kind); 4] = [
    (
        "anthropic-ratelimit-requests-remaining",
        "anthropic-ratelimit-requests-reset",
        Kind::Requests,
    ),
    (
        "anthropic-ratelimit-tokens-remaining",
        "anthropic-ratelimit-tokens-reset",
        Kind::Tokens,
    ),
    (
        "anthropic-ratelimit-input-tokens-remaining",
        "anthropic-ratelimit-input-tokens-reset",
        Kind::Tokens,
    ),
    (
        "anthropic-ratelimit-output-tokens-remaining",
        "anthropic-ratelimit-output-tokens-reset",
        Kind::Tokens,
    ),
];

/// What one response says about one kind of limit, over all the headers that count it: the
/// lowest remaining count, and the latest reset among the limits that are exhausted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Report {
    remaining: Option<u64>,
    /// The time from the response until the last exhausted limit resets.
    reset: Option<Duration>,
}

impl Report {
    /// Adds one limit: `remaining` left, resetting `reset` from now when known.
    fn add(&mut self, remaining: u64, reset: Option<Duration>) {
        self.remaining = Some(self.remaining.map_or(remaining, |r| r.min(remaining)));
        if let (0, Some(reset)) = (remaining, reset) {
            self.reset = Some(self.reset.map_or(reset, |r| r.max(reset)));
        }
    }
}

/// One kind of limit as the latest update left it, on the caller's monotonic clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Limit {
    remaining: u64,
    /// When the last exhausted limit resets (`None` when none is exhausted, or its reset was
    /// not given or not understood).
    reset_at: Option<Duration>,
    /// The `now` of the update that set it.
    seen: Duration,
}

impl Limit {
    /// The time from `now` until this limit lets calls through again, if it is holding them.
    fn wait(&self, now: Duration) -> Option<Duration> {
        match (self.remaining, self.reset_at) {
            (0, Some(at)) if at > now => Some(at - now),
            _ => None,
        }
    }
}

/// Both kinds of limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct State {
    requests: Option<Limit>,
    tokens: Option<Limit>,
}

impl State {
    const INITIAL: State = State {
        requests: None,
        tokens: None,
    };
}

/// Stores what a response reported for one kind, unless it reported nothing for it or the
/// limit was set by an update with a later `now`.
fn store(slot: &mut Option<Limit>, report: Report, now: Duration) {
    let Some(remaining) = report.remaining else {
        return;
    };
    if slot.is_some_and(|limit| now < limit.seen) {
        return;
    }
    *slot = Some(Limit {
        remaining,
        reset_at: report.reset.map(|reset| now.saturating_add(reset)),
        seen: now,
    });
}

/// The rate limits a service reports in its response headers, kept between calls so that the
/// next attempt waits until the exhausted limit resets instead of being refused again.
///
/// Keep one per API key or host (in a `static` or an `Arc`: the constructor is a `const fn`),
/// give it the headers of every response with [`update`](RateLimits::update), whatever its
/// status, and before each attempt ask [`wait`](RateLimits::wait) how long to hold it. The
/// wait is the time until the reset of a limit whose remaining count the latest response gave
/// as zero; while every limit has something left, or once its reset has passed, there is no
/// wait.
///
/// # Headers
///
/// | family | remaining | reset |
/// |---|---|---|
/// | OpenAI | `x-ratelimit-remaining-requests`, `x-ratelimit-remaining-tokens` | `x-ratelimit-reset-requests`, `x-ratelimit-reset-tokens`: a Go duration from now (`1s`, `6m0s`, `20ms`, `1h2m3.5s`) |
/// | Anthropic | `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-remaining` | `anthropic-ratelimit-…-reset`: an RFC 3339 instant (`2024-05-01T12:00:30Z`, `2024-05-01T12:00:30.250+02:00`) |
/// | IETF draft | `RateLimit: "default";r=50;t=30`, each policy listed (`r`) | the same policy's `t`: seconds from now |
/// | IETF draft, older revisions | `RateLimit-Remaining` | `RateLimit-Reset`: seconds from now |
///
/// Requests and tokens are kept apart; the IETF fields count requests. When one response
/// reports several limits of a kind (Anthropic's input and output tokens, or several IETF
/// policies), the kind's remaining count is the lowest of them and its reset the latest among
/// those exhausted. [`wait`](RateLimits::wait) is the longer of the two kinds' waits.
/// (`RateLimit-Policy` describes the quotas, not what is left of them, and is not needed.)
///
/// A header that is absent or malformed is ignored, never an error: a remaining count that is
/// not a non-negative integer leaves its limit out of the update, and a reset that cannot be
/// read leaves the limit without one. A limit at zero with no reset gives no wait, rather than
/// holding calls for ever.
///
/// # Time
///
/// `now` is the time elapsed since any fixed instant of a monotonic clock (the same one for
/// every call on one value, for instance `start.elapsed()`): resets are stored on that clock.
/// [`update`](RateLimits::update) also takes the wall-clock time, against which Anthropic's
/// RFC 3339 instants are turned into delays. Nothing here reads a clock, so the value is exact
/// under test.
///
/// # Bounds
///
/// The wait is what the service asked for, unbounded: the caller bounds it, as the retry
/// engine bounds every server hint by [`Policy::max_hint`](crate::Policy::max_hint) and the
/// call's deadline. `Retry-After` and `retry-after-ms` are not read here: they are the
/// classification's hint ([`http::hint`](crate::http::hint)).
///
/// # Concurrency
///
/// The state (two limits) is behind a [`Mutex`] held only to copy or store it, never across a
/// parse, a sleep or an `.await`. Each kind is replaced whole by an update that reports it, so
/// a reader never sees the remaining count of one response with the reset of another. An
/// update whose `now` is earlier than that of the update that set a kind (a response read
/// before another but handled after it) leaves that kind as it is.
///
/// # Example
///
/// ```
/// use http::{HeaderMap, HeaderValue};
/// use retry_runtime::RateLimits;
/// use std::time::{Duration, SystemTime};
///
/// static LIMITS: RateLimits = RateLimits::new();
///
/// let mut headers = HeaderMap::new();
/// headers.insert("x-ratelimit-remaining-requests", HeaderValue::from_static("0"));
/// headers.insert("x-ratelimit-reset-requests", HeaderValue::from_static("1.5s"));
/// headers.insert("x-ratelimit-remaining-tokens", HeaderValue::from_static("8000"));
/// headers.insert("x-ratelimit-reset-tokens", HeaderValue::from_static("6m0s"));
///
/// let now = Duration::from_secs(100);
/// LIMITS.update(&headers, now, SystemTime::now());
/// assert_eq!(LIMITS.remaining_requests(), Some(0));
/// assert_eq!(LIMITS.remaining_tokens(), Some(8000));
/// // Requests are exhausted until 1.5 s after the response.
/// assert_eq!(LIMITS.wait(now), Some(Duration::from_millis(1500)));
/// assert_eq!(LIMITS.wait(now + Duration::from_secs(1)), Some(Duration::from_millis(500)));
/// assert_eq!(LIMITS.wait(now + Duration::from_secs(2)), None);
/// ```
///
/// Anthropic's resets are instants, measured against the wall clock given:
///
/// ```
/// use http::{HeaderMap, HeaderValue};
/// use retry_runtime::RateLimits;
/// use std::time::{Duration, SystemTime};
///
/// let limits = RateLimits::new();
/// let mut headers = HeaderMap::new();
/// headers.insert("anthropic-ratelimit-tokens-remaining", HeaderValue::from_static("0"));
/// headers.insert(
///     "anthropic-ratelimit-tokens-reset",
///     HeaderValue::from_static("2024-05-01T12:00:30Z"),
/// );
/// // 2024-05-01T12:00:00Z
/// let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_714_564_800);
/// limits.update(&headers, Duration::ZERO, wall);
/// assert_eq!(limits.wait(Duration::ZERO), Some(Duration::from_secs(30)));
/// ```
pub struct RateLimits {
    state: Mutex<State>,
}

impl RateLimits {
    /// A value that has seen no response: no limits known, and no wait.
    ///
    /// ```
    /// use retry_runtime::RateLimits;
    /// use std::time::Duration;
    ///
    /// static LIMITS: RateLimits = RateLimits::new();
    /// assert_eq!(LIMITS.wait(Duration::ZERO), None);
    /// assert_eq!(LIMITS.remaining_requests(), None);
    /// ```
    pub const fn new() -> Self {
        RateLimits {
            state: Mutex::new(State::INITIAL),
        }
    }

    /// Reads the rate-limit headers of a response received at `now` (on the caller's monotonic
    /// clock), when the wall clock read `wall`.
    ///
    /// Each kind of limit (requests, tokens) that the headers report replaces what an earlier
    /// update stored for it; a kind they do not report is left as it was. See the table on
    /// [`RateLimits`] for the headers read, and how malformed ones are ignored.
    ///
    /// ```
    /// use http::{HeaderMap, HeaderValue};
    /// use retry_runtime::RateLimits;
    /// use std::time::{Duration, SystemTime};
    ///
    /// let limits = RateLimits::new();
    /// let mut headers = HeaderMap::new();
    /// headers.insert("ratelimit", HeaderValue::from_static("\"default\";r=0;t=30"));
    /// limits.update(&headers, Duration::ZERO, SystemTime::now());
    /// assert_eq!(limits.wait(Duration::from_secs(10)), Some(Duration::from_secs(20)));
    ///
    /// // The next response has requests left: no wait.
    /// headers.insert("ratelimit", HeaderValue::from_static("\"default\";r=49;t=29"));
    /// limits.update(&headers, Duration::from_secs(1), SystemTime::now());
    /// assert_eq!(limits.wait(Duration::from_secs(1)), None);
    /// assert_eq!(limits.remaining_requests(), Some(49));
    /// ```
    pub fn update(&self, headers: &HeaderMap, now: Duration, wall: SystemTime) {
        let (requests, tokens) = read(headers, wall);
        if requests.remaining.is_none() && tokens.remaining.is_none() {
            return;
        }
        let mut state = self.lock();
        store(&mut state.requests, requests, now);
        store(&mut state.tokens, tokens, now);
    }

    /// How long to hold the next attempt at `now`: the time until the reset of an exhausted
    /// limit, the longer one when both requests and tokens are exhausted. `None` when no limit
    /// is known to be exhausted, when the resets have passed, or when an exhausted limit came
    /// without a reset that could be read.
    ///
    /// The wait is not bounded here: the caller bounds it (by the policy's
    /// [`max_hint`](crate::Policy::max_hint) and the call's deadline, as the retry engine does
    /// with server hints).
    ///
    /// ```
    /// use http::{HeaderMap, HeaderValue};
    /// use retry_runtime::RateLimits;
    /// use std::time::{Duration, SystemTime};
    ///
    /// let limits = RateLimits::new();
    /// let mut headers = HeaderMap::new();
    /// headers.insert("ratelimit-remaining", HeaderValue::from_static("0"));
    /// headers.insert("ratelimit-reset", HeaderValue::from_static("5"));
    /// limits.update(&headers, Duration::from_secs(60), SystemTime::now());
    /// assert_eq!(limits.wait(Duration::from_secs(62)), Some(Duration::from_secs(3)));
    /// assert_eq!(limits.wait(Duration::from_secs(65)), None);
    /// ```
    pub fn wait(&self, now: Duration) -> Option<Duration> {
        let state = *self.lock();
        let requests = state.requests.and_then(|limit| limit.wait(now));
        let tokens = state.tokens.and_then(|limit| limit.wait(now));
        requests.max(tokens)
    }

    /// The requests left, as the latest response that reported them said (the lowest of its
    /// request limits); `None` before any did.
    ///
    /// ```
    /// use http::{HeaderMap, HeaderValue};
    /// use retry_runtime::RateLimits;
    /// use std::time::{Duration, SystemTime};
    ///
    /// let limits = RateLimits::new();
    /// let mut headers = HeaderMap::new();
    /// headers.insert("anthropic-ratelimit-requests-remaining", HeaderValue::from_static("41"));
    /// limits.update(&headers, Duration::ZERO, SystemTime::now());
    /// assert_eq!(limits.remaining_requests(), Some(41));
    /// assert_eq!(limits.remaining_tokens(), None);
    /// ```
    pub fn remaining_requests(&self) -> Option<u64> {
        self.lock().requests.map(|limit| limit.remaining)
    }

    /// The tokens left, as the latest response that reported them said (the lowest of its
    /// token limits: Anthropic's tokens, input tokens and output tokens); `None` before any
    /// did.
    ///
    /// ```
    /// use http::{HeaderMap, HeaderValue};
    /// use retry_runtime::RateLimits;
    /// use std::time::{Duration, SystemTime};
    ///
    /// let limits = RateLimits::new();
    /// let mut headers = HeaderMap::new();
    /// headers.insert("anthropic-ratelimit-input-tokens-remaining", HeaderValue::from_static("9000"));
    /// headers.insert("anthropic-ratelimit-output-tokens-remaining", HeaderValue::from_static("700"));
    /// limits.update(&headers, Duration::ZERO, SystemTime::now());
    /// assert_eq!(limits.remaining_tokens(), Some(700));
    /// ```
    pub fn remaining_tokens(&self) -> Option<u64> {
        self.lock().tokens.map(|limit| limit.remaining)
    }

    /// The state, locked. A poisoned lock is taken all the same: the state is only ever
    /// stored whole, so a panic cannot have left it half written.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for RateLimits {
    /// [`RateLimits::new`]: no limits known.
    ///
    /// ```
    /// use retry_runtime::RateLimits;
    /// assert_eq!(RateLimits::default().remaining_tokens(), None);
    /// ```
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = *self.lock();
        f.debug_struct("RateLimits")
            .field("remaining_requests", &state.requests.map(|l| l.remaining))
            .field("remaining_tokens", &state.tokens.map(|l| l.remaining))
            .finish_non_exhaustive()
    }
}

/// What the headers say about requests and about tokens.
fn read(headers: &HeaderMap, wall: SystemTime) -> (Report, Report) {
    let mut reports = [Report::default(); 2];
    let mut add = |kind: Kind, remaining: u64, reset: Option<Duration>| {
        reports[kind as usize].add(remaining, reset);
    };
    for (remaining, reset, kind) in OPENAI {
        if let Some(left) = text(headers, remaining).and_then(integer) {
            add(kind, left, text(headers, reset).and_then(go_duration));
        }
    }
    for (remaining, reset, kind) in ANTHROPIC {
        if let Some(left) = text(headers, remaining).and_then(integer) {
            let at = text(headers, reset).and_then(rfc3339);
            add(kind, left, at.map(|at| until(at, wall)));
        }
    }
    if let Some(left) = text(headers, "ratelimit-remaining").and_then(integer) {
        let reset = text(headers, "ratelimit-reset").and_then(integer);
        add(Kind::Requests, left, reset.map(Duration::from_secs));
    }
    for value in headers.get_all("ratelimit") {
        let Ok(value) = value.to_str() else { continue };
        for member in split_unquoted(value, b',') {
            if let Some((left, reset)) = ratelimit_member(member.trim()) {
                add(Kind::Requests, left, reset);
            }
        }
    }
    let [requests, tokens] = reports;
    (requests, tokens)
}

/// A header's first value as text, trimmed; `None` when absent or not visible ASCII.
fn text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    Some(headers.get(name)?.to_str().ok()?.trim())
}

/// The time from `wall` to `at`; zero when `at` has passed.
fn until(at: SystemTime, wall: SystemTime) -> Duration {
    at.duration_since(wall).unwrap_or(Duration::ZERO)
}

/// A non-negative decimal integer, digits only; too many digits saturate at `u64::MAX`.
fn integer(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.parse().unwrap_or(u64::MAX))
}

/// The pieces of `text` between the `sep` bytes that are not inside a quoted string (where
/// `\` escapes the next character), as in a structured field (RFC 9651).
fn split_unquoted(text: &str, sep: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    core::iter::from_fn(move || {
        let piece = rest?;
        let (mut quoted, mut escaped) = (false, false);
        for (i, b) in piece.bytes().enumerate() {
            if escaped {
                escaped = false;
            } else if quoted {
                match b {
                    b'\\' => escaped = true,
                    b'"' => quoted = false,
                    _ => {}
                }
            } else if b == b'"' {
                quoted = true;
            } else if b == sep {
                // `sep` is ASCII, so both sides are on character boundaries.
                rest = Some(&piece[i + 1..]);
                return Some(&piece[..i]);
            }
        }
        rest = None;
        Some(piece)
    })
}

/// One member of a `RateLimit` field (draft-ietf-httpapi-ratelimit-headers):
/// `"policy";r=50;t=30`, its remaining quota `r` and the seconds `t` until it resets. `None`
/// when the member has no policy name or no valid `r`; a missing or invalid `t` gives no
/// reset. Other parameters are skipped; of a repeated one, the last counts.
fn ratelimit_member(member: &str) -> Option<(u64, Option<Duration>)> {
    let mut parts = split_unquoted(member, b';');
    if parts.next()?.trim().is_empty() {
        return None;
    }
    let (mut remaining, mut reset) = (None, None);
    for param in parts {
        let param = param.trim_start_matches(' ');
        // A parameter without a value is the boolean true, which neither `r` nor `t` can be.
        let (key, value) = param.split_once('=').unwrap_or((param, "?1"));
        match key {
            "r" => remaining = integer(value),
            "t" => reset = integer(value).map(Duration::from_secs),
            _ => {}
        }
    }
    Some((remaining?, reset))
}

/// A duration in Go's `time.Duration` form, as OpenAI writes its resets: one or more decimal
/// numbers, each with an optional fraction and a unit (`ns`, `us` or `µs`, `ms`, `s`, `m`,
/// `h`), as in `1h2m3.5s`, `6m0s`, `20ms`, `.5s`; or a bare `0`. No sign (a reset is never
/// negative). A duration too long for a [`Duration`] is [`Duration::MAX`]; digits of a fraction
/// beyond the 18th are ignored. `None` on anything else.
fn go_duration(text: &str) -> Option<Duration> {
    if text == "0" {
        return Some(Duration::ZERO);
    }
    if text.is_empty() {
        return None;
    }
    let mut nanos: u128 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let (whole, after) = split_digits(rest);
        let (fraction, after) = match after.strip_prefix('.') {
            Some(after) => split_digits(after),
            None => ("", after),
        };
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        let end = after
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(end);
        let unit: u128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => NANOS_PER_SEC,
            "m" => 60 * NANOS_PER_SEC,
            "h" => 3_600 * NANOS_PER_SEC,
            _ => return None,
        };
        let whole = whole.bytes().fold(0u128, |n, d| {
            n.saturating_mul(10).saturating_add(u128::from(d - b'0'))
        });
        nanos = nanos
            .saturating_add(whole.saturating_mul(unit))
            .saturating_add(fraction_of(fraction, unit));
        rest = after;
    }
    // Below a billion: fits.
    let subsec = (nanos % NANOS_PER_SEC) as u32;
    Some(match u64::try_from(nanos / NANOS_PER_SEC) {
        Ok(secs) => Duration::new(secs, subsec),
        Err(_) => Duration::MAX,
    })
}

/// `text` split after its leading ASCII digits.
fn split_digits(text: &str) -> (&str, &str) {
    let end = text.bytes().take_while(u8::is_ascii_digit).count();
    text.split_at(end)
}

/// The nanoseconds of `0.<digits>` of a unit of `unit` nanoseconds, rounded down; only the
/// first 18 digits count (at most 10¹⁸ × 3.6 × 10¹² fits in a `u128`).
fn fraction_of(digits: &str, unit: u128) -> u128 {
    let (numerator, scale) = digits
        .bytes()
        .take(18)
        .fold((0u128, 1u128), |(n, scale), d| {
            (n * 10 + u128::from(d - b'0'), scale * 10)
        });
    numerator * unit / scale
}

/// An RFC 3339 date-time (`2024-05-01T12:00:30Z`, `2024-05-01t12:00:30.250+02:00`; a space
/// may stand for the `T`, as the RFC allows), as a [`SystemTime`]. The date and the time are
/// checked (the day against its month, leap years included; a leap second `:60` is read as
/// the start of the next minute); digits of a fraction beyond the nanosecond are ignored.
/// `None` on anything else, or an instant a `SystemTime` cannot hold.
fn rfc3339(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    if b.len() < 20 || [b[4], b[7], b[13], b[16]] != [b'-', b'-', b':', b':'] {
        return None;
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let year = digits(&b[0..4])?;
    let (month, day) = (digits(&b[5..7])?, digits(&b[8..10])?);
    let (hour, minute, second) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    let mut rest = &b[19..];
    let mut nanos = 0;
    if let Some(after) = rest.strip_prefix(b".") {
        let count = after.iter().take_while(|d| d.is_ascii_digit()).count();
        if count == 0 {
            return None;
        }
        nanos = after[..count.min(9)]
            .iter()
            .fold(0, |n, d| n * 10 + u32::from(d - b'0'));
        nanos *= 10u32.pow(9u32.saturating_sub(count as u32));
        rest = &after[count..];
    }
    let offset = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let (h, m) = (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?);
            if h > 23 || m > 59 {
                return None;
            }
            let offset = i64::from(h * 3_600 + m * 60);
            if *sign == b'-' {
                -offset
            } else {
                offset
            }
        }
        _ => return None,
    };
    let valid_date = (1..=12).contains(&month) && (1..=days_in_month(year, month)).contains(&day);
    if !valid_date || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let secs = days_from_civil(i64::from(year), month, day) * SECS_PER_DAY
        + i64::from(hour * 3_600 + minute * 60 + second)
        - offset;
    let at = match u64::try_from(secs) {
        Ok(secs) => UNIX_EPOCH.checked_add(Duration::from_secs(secs)),
        Err(_) => UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs())),
    };
    at?.checked_add(Duration::from_nanos(u64::from(nanos)))
}

/// ASCII digits as a number; `None` if any byte is not a digit.
fn digits(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0u32, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
    })
}

/// The days in `month` (1 to 12) of `year`, in the proleptic Gregorian calendar.
fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

/// The days from 1970-01-01 to a date of the proleptic Gregorian calendar (Howard Hinnant's
/// `days_from_civil`): years counted from March, so that the leap day ends the year, in eras
/// of 400 years (146 097 days).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    /// 2024-05-01T12:00:00Z.
    const NOON: u64 = 1_714_564_800;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for &(name, value) in pairs {
            map.append(name, HeaderValue::from_static(value));
        }
        map
    }

    fn state(limits: &RateLimits) -> State {
        *limits.lock()
    }

    #[test]
    fn openai_headers_are_read() {
        let limits = RateLimits::new();
        let now = Duration::from_secs(50);
        limits.update(
            &headers(&[
                ("x-ratelimit-remaining-requests", "0"),
                ("x-ratelimit-reset-requests", "20ms"),
                ("x-ratelimit-remaining-tokens", "149984"),
                ("x-ratelimit-reset-tokens", "6m0s"),
            ]),
            now,
            at(NOON),
        );
        let requests = Limit {
            remaining: 0,
            reset_at: Some(now + Duration::from_millis(20)),
            seen: now,
        };
        // Not exhausted: its reset does not matter.
        let tokens = Limit {
            remaining: 149_984,
            reset_at: None,
            seen: now,
        };
        assert_eq!(
            state(&limits),
            State {
                requests: Some(requests),
                tokens: Some(tokens)
            }
        );
        assert_eq!(limits.remaining_requests(), Some(0));
        assert_eq!(limits.remaining_tokens(), Some(149_984));
        assert_eq!(limits.wait(now), Some(Duration::from_millis(20)));
    }

    #[test]
    fn anthropic_headers_are_read() {
        let limits = RateLimits::new();
        let now = Duration::from_secs(7);
        limits.update(
            &headers(&[
                ("anthropic-ratelimit-requests-remaining", "12"),
                ("anthropic-ratelimit-requests-reset", "2024-05-01T12:00:05Z"),
                ("anthropic-ratelimit-tokens-remaining", "5000"),
                ("anthropic-ratelimit-tokens-reset", "2024-05-01T12:00:10Z"),
                ("anthropic-ratelimit-input-tokens-remaining", "0"),
                (
                    "anthropic-ratelimit-input-tokens-reset",
                    "2024-05-01T12:00:30.250Z",
                ),
                ("anthropic-ratelimit-output-tokens-remaining", "0"),
                (
                    "anthropic-ratelimit-output-tokens-reset",
                    "2024-05-01T14:00:20+02:00",
                ),
            ]),
            now,
            at(NOON),
        );
        assert_eq!(limits.remaining_requests(), Some(12));
        // The lowest of the three token limits.
        assert_eq!(limits.remaining_tokens(), Some(0));
        // Both exhausted token limits must reset: the later of the two, 30.25 s on.
        assert_eq!(limits.wait(now), Some(Duration::from_millis(30_250)));
        let tokens = state(&limits).tokens.unwrap();
        assert_eq!(tokens.reset_at, Some(now + Duration::from_millis(30_250)));
    }

    #[test]
    fn ietf_ratelimit_field_is_read() {
        let limits = RateLimits::new();
        let now = Duration::from_secs(3);
        limits.update(
            &headers(&[("ratelimit", "\"default\";r=50;t=30")]),
            now,
            at(NOON),
        );
        assert_eq!(limits.remaining_requests(), Some(50));
        assert_eq!(limits.remaining_tokens(), None);
        assert_eq!(limits.wait(now), None);

        // Several policies, over two field lines; quoted names holding `,` `;` `"` and `=`,
        // other parameters, spaces after `;`.
        limits.update(
            &headers(&[
                (
                    "ratelimit",
                    "\"a,b;r=0\";r=7;t=1, \"c\\\";r=0\";pk=:AAE=:; r=0;t=90",
                ),
                ("ratelimit", "daily;t=5;r=0;r=3"),
            ]),
            now,
            at(NOON),
        );
        assert_eq!(limits.remaining_requests(), Some(0));
        assert_eq!(limits.wait(now), Some(Duration::from_secs(90)));

        for bad in [
            "\"x\";t=30",
            ";r=0;t=30",
            "\"x\";r=-1;t=30",
            "\"x\";r=1.5;t=30",
            "\"x\";r= 0;t=30",
            "\"x\";r",
            "limit=100, remaining=0, reset=5",
            "\"unterminated;r=0;t=30",
        ] {
            let limits = RateLimits::new();
            limits.update(&headers(&[("ratelimit", bad)]), now, at(NOON));
            assert_eq!(limits.remaining_requests(), None, "{bad:?}");
        }
        // A bad `t` leaves the policy without a reset: no wait.
        let limits = RateLimits::new();
        limits.update(
            &headers(&[("ratelimit", "\"x\";r=0;t=soon")]),
            now,
            at(NOON),
        );
        assert_eq!(limits.remaining_requests(), Some(0));
        assert_eq!(limits.wait(now), None);
    }

    #[test]
    fn ietf_older_pair_is_read() {
        let limits = RateLimits::new();
        let now = Duration::from_secs(1_000);
        limits.update(
            &headers(&[("ratelimit-remaining", "0"), ("ratelimit-reset", "12")]),
            now,
            at(NOON),
        );
        assert_eq!(limits.remaining_requests(), Some(0));
        assert_eq!(limits.wait(now), Some(Duration::from_secs(12)));
        limits.update(
            &headers(&[("ratelimit-remaining", " 4 "), ("ratelimit-reset", "12")]),
            now,
            at(NOON),
        );
        assert_eq!(limits.remaining_requests(), Some(4));
        // A malformed count is no report at all.
        limits.update(&headers(&[("ratelimit-remaining", "many")]), now, at(NOON));
        assert_eq!(limits.remaining_requests(), Some(4));
    }

    #[test]
    fn go_durations() {
        let ms = Duration::from_millis;
        for (text, expected) in [
            ("1s", ms(1_000)),
            ("6m0s", Duration::from_secs(360)),
            ("20ms", ms(20)),
            ("12ms", ms(12)),
            ("1h2m3.5s", ms(3_723_500)),
            ("0.5s", ms(500)),
            (".5s", ms(500)),
            ("1.s", ms(1_000)),
            ("0", Duration::ZERO),
            ("0s", Duration::ZERO),
            ("1.5h", Duration::from_secs(5_400)),
            ("2m59.56s", ms(179_560)),
            ("100us", Duration::from_micros(100)),
            ("7\u{b5}s", Duration::from_micros(7)),
            ("7\u{3bc}s", Duration::from_micros(7)),
            ("999ns", Duration::from_nanos(999)),
            ("1s1ms1us1ns", Duration::new(1, 1_001_001)),
            (
                "0.333333333333333333333s",
                Duration::from_nanos(333_333_333),
            ),
            ("1.000000001s", Duration::new(1, 1)),
            ("99999999999999999999999h", Duration::MAX),
        ] {
            assert_eq!(go_duration(text), Some(expected), "{text:?}");
        }
        for bad in [
            "", " ", "s", "1", "12", "-1s", "+1s", ".s", ".", "1x", "1S", "1 s", "1s2", "1ss",
            "1d", "s1", "1.2.3s", "soon", "1,5s",
        ] {
            assert_eq!(go_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn garbage_go_duration_leaves_no_reset() {
        let limits = RateLimits::new();
        limits.update(
            &headers(&[
                ("x-ratelimit-remaining-tokens", "0"),
                ("x-ratelimit-reset-tokens", "tomorrow"),
            ]),
            Duration::ZERO,
            at(NOON),
        );
        assert_eq!(limits.remaining_tokens(), Some(0));
        assert_eq!(state(&limits).tokens.unwrap().reset_at, None);
        assert_eq!(limits.wait(Duration::ZERO), None);
    }

    #[test]
    fn rfc3339_instants() {
        let nanos = |secs: u64, nanos: u32| Some(UNIX_EPOCH + Duration::new(secs, nanos));
        for (text, expected) in [
            ("2024-05-01T12:00:30Z", nanos(1_714_564_830, 0)),
            ("2024-05-01t12:00:30z", nanos(1_714_564_830, 0)),
            ("2024-05-01 12:00:30Z", nanos(1_714_564_830, 0)),
            (
                "2024-05-01T12:00:30.250+02:00",
                nanos(1_714_557_630, 250_000_000),
            ),
            ("2024-05-01T12:00:30-05:30", nanos(1_714_584_630, 0)),
            ("2024-05-01T12:00:30+00:00", nanos(1_714_564_830, 0)),
            ("2024-05-01T12:00:30-00:00", nanos(1_714_564_830, 0)),
            ("2024-05-01T12:00:30.5Z", nanos(1_714_564_830, 500_000_000)),
            ("2024-05-01T12:00:30.000000001Z", nanos(1_714_564_830, 1)),
            (
                "2024-05-01T12:00:30.1234567899Z",
                nanos(1_714_564_830, 123_456_789),
            ),
            // Leap years: by 4, not by 100, but by 400.
            ("2024-02-29T00:00:00Z", nanos(1_709_164_800, 0)),
            ("2000-02-29T23:59:59Z", nanos(951_868_799, 0)),
            ("2100-03-01T00:00:00Z", nanos(4_107_542_400, 0)),
            ("1970-01-01T00:00:00Z", nanos(0, 0)),
            ("9999-12-31T23:59:59Z", nanos(253_402_300_799, 0)),
            // A leap second is the start of the next minute.
            ("2016-12-31T23:59:60Z", nanos(1_483_228_800, 0)),
        ] {
            assert_eq!(rfc3339(text), expected, "{text:?}");
        }
        assert_eq!(
            rfc3339("1969-12-31T23:59:59.5Z"),
            UNIX_EPOCH.checked_sub(Duration::from_millis(500))
        );
        assert_eq!(
            rfc3339("0001-01-01T00:00:00Z"),
            UNIX_EPOCH.checked_sub(Duration::from_secs(62_135_596_800))
        );
        assert_eq!(
            rfc3339("0000-03-01T00:00:00Z"),
            UNIX_EPOCH.checked_sub(Duration::from_secs(62_162_035_200))
        );
    }

    #[test]
    fn invalid_rfc3339_is_ignored() {
        for bad in [
            "",
            "2024-05-01",
            "2024-05-01T12:00:30",
            "2023-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-00-01T00:00:00Z",
            "2024-05-00T00:00:00Z",
            "2024-05-32T00:00:00Z",
            "2024-05-01T24:00:00Z",
            "2024-05-01T12:60:00Z",
            "2024-05-01T12:00:61Z",
            "2024-05-01T12:00:30.Z",
            "2024-05-01T12:00:30+24:00",
            "2024-05-01T12:00:30+02:60",
            "2024-05-01T12:00:30+0200",
            "2024-05-01T12:00:30+02",
            "2024-05-01T12:00:30ZZ",
            "2024-05-01T12:00:30Z ",
            "2024-05-01X12:00:30Z",
            "2024/05/01T12:00:30Z",
            "24-05-01T12:00:30Z",
            "2024-5-01T12:00:30Z",
            "+024-05-01T12:00:30Z",
            "2024-05-01T12:00:3aZ",
            "Wed, 01 May 2024 12:00:30 GMT",
            "2024-05-01T12:00:30.2é",
        ] {
            assert_eq!(rfc3339(bad), None, "{bad:?}");
        }
        // In a response: the count is kept, without a reset.
        let limits = RateLimits::new();
        limits.update(
            &headers(&[
                ("anthropic-ratelimit-requests-remaining", "0"),
                ("anthropic-ratelimit-requests-reset", "2023-02-29T00:00:00Z"),
            ]),
            Duration::ZERO,
            at(NOON),
        );
        assert_eq!(limits.remaining_requests(), Some(0));
        assert_eq!(limits.wait(Duration::ZERO), None);
    }

    #[test]
    fn the_wait_is_exact_from_now_and_wall() {
        let limits = RateLimits::new();
        let now = Duration::new(1_000, 125);
        // The wall clock is 5.75 s before the reset.
        let wall = at(NOON + 24) + Duration::from_millis(500);
        limits.update(
            &headers(&[
                ("anthropic-ratelimit-requests-remaining", "0"),
                (
                    "anthropic-ratelimit-requests-reset",
                    "2024-05-01T12:00:30.250Z",
                ),
            ]),
            now,
            wall,
        );
        assert_eq!(limits.wait(now), Some(Duration::from_millis(5_750)));
        assert_eq!(
            limits.wait(now + Duration::from_secs(5)),
            Some(Duration::from_millis(750))
        );
        assert_eq!(
            limits.wait(now + Duration::from_millis(5_750) - Duration::from_nanos(1)),
            Some(Duration::from_nanos(1))
        );
        assert_eq!(limits.wait(now + Duration::from_millis(5_750)), None);
        // An earlier `now` (another thread's clock read) waits longer.
        assert_eq!(
            limits.wait(now - Duration::from_secs(1)),
            Some(Duration::from_millis(6_750))
        );
    }

    #[test]
    fn remaining_above_zero_gives_no_wait() {
        let limits = RateLimits::new();
        limits.update(
            &headers(&[
                ("x-ratelimit-remaining-requests", "1"),
                ("x-ratelimit-reset-requests", "30s"),
                ("anthropic-ratelimit-tokens-remaining", "10"),
                ("anthropic-ratelimit-tokens-reset", "2024-05-01T12:00:30Z"),
            ]),
            Duration::ZERO,
            at(NOON),
        );
        assert_eq!(limits.remaining_requests(), Some(1));
        assert_eq!(limits.remaining_tokens(), Some(10));
        assert_eq!(limits.wait(Duration::ZERO), None);
    }

    #[test]
    fn a_passed_reset_gives_no_wait() {
        let limits = RateLimits::new();
        // The reset is 30 s before the wall clock.
        limits.update(
            &headers(&[
                ("anthropic-ratelimit-requests-remaining", "0"),
                ("anthropic-ratelimit-requests-reset", "2024-05-01T12:00:00Z"),
            ]),
            Duration::from_secs(9),
            at(NOON + 30),
        );
        assert_eq!(limits.remaining_requests(), Some(0));
        assert_eq!(limits.wait(Duration::from_secs(9)), None);
        // A zero reset, or one that `now` has gone past.
        let limits = RateLimits::new();
        limits.update(
            &headers(&[
                ("x-ratelimit-remaining-requests", "0"),
                ("x-ratelimit-reset-requests", "0s"),
                ("x-ratelimit-remaining-tokens", "0"),
                ("x-ratelimit-reset-tokens", "2s"),
            ]),
            Duration::from_secs(9),
            at(NOON),
        );
        assert_eq!(
            limits.wait(Duration::from_secs(9)),
            Some(Duration::from_secs(2))
        );
        assert_eq!(limits.wait(Duration::from_secs(11)), None);
        assert_eq!(limits.wait(Duration::from_secs(3_600)), None);
    }

    #[test]
    fn zero_remaining_without_a_reset_does_not_stall() {
        let limits = RateLimits::new();
        limits.update(
            &headers(&[
                ("x-ratelimit-remaining-requests", "0"),
                ("anthropic-ratelimit-tokens-remaining", "0"),
                ("ratelimit", "\"default\";r=0"),
            ]),
            Duration::ZERO,
            at(NOON),
        );
        assert_eq!(limits.remaining_requests(), Some(0));
        assert_eq!(limits.remaining_tokens(), Some(0));
        assert_eq!(limits.wait(Duration::ZERO), None);
    }

    #[test]
    fn the_longer_wait_wins() {
        let now = Duration::from_secs(100);
        let limits = RateLimits::new();
        limits.update(
            &headers(&[
                ("x-ratelimit-remaining-requests", "0"),
                ("x-ratelimit-reset-requests", "1s"),
                ("x-ratelimit-remaining-tokens", "0"),
                ("x-ratelimit-reset-tokens", "20s"),
            ]),
            now,
            at(NOON),
        );
        assert_eq!(limits.wait(now), Some(Duration::from_secs(20)));
        // The other way round, across families.
        let limits = RateLimits::new();
        limits.update(
            &headers(&[
                ("x-ratelimit-remaining-tokens", "0"),
                ("x-ratelimit-reset-tokens", "3s"),
                ("anthropic-ratelimit-requests-remaining", "0"),
                ("anthropic-ratelimit-requests-reset", "2024-05-01T12:00:10Z"),
                ("ratelimit-remaining", "0"),
                ("ratelimit-reset", "4"),
            ]),
            now,
            at(NOON),
        );
        assert_eq!(limits.wait(now), Some(Duration::from_secs(10)));
        // Once the requests reset, the tokens have long reset too.
        assert_eq!(
            limits.wait(now + Duration::from_secs(5)),
            Some(Duration::from_secs(5))
        );
    }

    #[test]
    fn a_later_update_replaces_its_kind() {
        let limits = RateLimits::new();
        let exhausted = headers(&[
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-reset-requests", "30s"),
            ("x-ratelimit-remaining-tokens", "0"),
            ("x-ratelimit-reset-tokens", "10s"),
        ]);
        limits.update(&exhausted, Duration::from_secs(1), at(NOON));
        assert_eq!(
            limits.wait(Duration::from_secs(1)),
            Some(Duration::from_secs(30))
        );
        // Requests left: only the tokens hold calls now.
        limits.update(
            &headers(&[("x-ratelimit-remaining-requests", "5")]),
            Duration::from_secs(2),
            at(NOON),
        );
        assert_eq!(limits.remaining_requests(), Some(5));
        assert_eq!(
            limits.wait(Duration::from_secs(2)),
            Some(Duration::from_secs(9))
        );
        // Tokens left too: no wait.
        limits.update(
            &headers(&[("anthropic-ratelimit-tokens-remaining", "100")]),
            Duration::from_secs(3),
            at(NOON),
        );
        assert_eq!(limits.remaining_tokens(), Some(100));
        assert_eq!(limits.wait(Duration::from_secs(3)), None);
        // A response with no rate-limit headers changes nothing.
        limits.update(&HeaderMap::new(), Duration::from_secs(4), at(NOON));
        assert_eq!(
            state(&limits).requests.unwrap().seen,
            Duration::from_secs(2)
        );
        // A response read before the last one, handled after it, is older news.
        limits.update(&exhausted, Duration::from_millis(1_500), at(NOON));
        assert_eq!(limits.remaining_requests(), Some(5));
        assert_eq!(limits.remaining_tokens(), Some(100));
        // At the same `now`, the later update wins.
        limits.update(&exhausted, Duration::from_secs(3), at(NOON));
        assert_eq!(limits.remaining_requests(), Some(0));
        assert_eq!(limits.remaining_tokens(), Some(0));
        assert_eq!(
            limits.wait(Duration::from_secs(3)),
            Some(Duration::from_secs(30))
        );
    }

    #[test]
    fn concurrent_updates_leave_a_consistent_state() {
        const THREADS: u64 = 4;
        const UPDATES: u64 = 2_000;
        static LIMITS: RateLimits = RateLimits::new();
        // Thread `t` reports `t` requests left, resetting `t + 1` seconds on, and as many
        // tokens, resetting `t + 10` seconds on.
        let resets = ["1s", "2s", "3s", "4s"];
        let token_resets = ["10s", "11s", "12s", "13s"];
        let counts = ["0", "1", "2", "3"];
        std::thread::scope(|s| {
            for t in 0..THREADS as usize {
                s.spawn(move || {
                    let map = headers(&[
                        ("x-ratelimit-remaining-requests", counts[t]),
                        ("x-ratelimit-reset-requests", resets[t]),
                        ("x-ratelimit-remaining-tokens", counts[t]),
                        ("x-ratelimit-reset-tokens", token_resets[t]),
                    ]);
                    for i in 0..UPDATES {
                        let now = Duration::from_millis(i);
                        LIMITS.update(&map, now, at(NOON));
                        if let Some(wait) = LIMITS.wait(now) {
                            // Another thread's `now` may be ahead of this one's.
                            let most = Duration::from_secs(13) + Duration::from_millis(UPDATES);
                            assert!(wait <= most, "{wait:?}");
                        }
                        assert!(LIMITS.remaining_requests().is_some_and(|r| r < THREADS));
                        let _ = format!("{:?}", &LIMITS);
                    }
                });
            }
        });
        let last = Duration::from_millis(UPDATES - 1);
        let state = state(&LIMITS);
        let (requests, tokens) = (state.requests.unwrap(), state.tokens.unwrap());
        // Each kind holds one whole update, of the latest `now`.
        assert_eq!((requests.seen, tokens.seen), (last, last));
        assert_eq!(requests.remaining, tokens.remaining);
        for (limit, first) in [(requests, 1), (tokens, 10)] {
            assert!(limit.remaining < THREADS);
            let expected = (limit.remaining == 0).then(|| last + Duration::from_secs(first));
            assert_eq!(limit.reset_at, expected);
        }
    }

    #[test]
    fn debug_shows_what_is_left() {
        let limits = RateLimits::default();
        limits.update(
            &headers(&[("x-ratelimit-remaining-tokens", "42")]),
            Duration::ZERO,
            at(NOON),
        );
        assert_eq!(
            format!("{limits:?}"),
            "RateLimits { remaining_requests: None, remaining_tokens: Some(42), .. }"
        );
    }

    #[test]
    fn days_from_civil_matches_a_day_count() {
        // Day by day from 1600-01-01, across leap years and centuries.
        let mut expected = days_from_civil(1600, 1, 1);
        assert_eq!(expected, -135_140);
        for year in 1600..2500u32 {
            for month in 1..=12 {
                for day in 1..=days_in_month(year, month) {
                    assert_eq!(days_from_civil(i64::from(year), month, day), expected);
                    expected += 1;
                }
            }
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
    }
}
