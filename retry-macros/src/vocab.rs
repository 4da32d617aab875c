//! The words of `#[retry(...)]`: its keys, the backoff and jitter names, the rule between them
//! (`factor` applies to `backoff = exponential` alone), and "did you mean" suggestions.
//! Imports nothing from the rest of the crate; every other stage matches on these enums
//! exhaustively, so a new key is a compile error until each stage handles it.

/// One key of `#[retry(...)]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    Attempts,
    Base,
    Max,
    Factor,
    Backoff,
    Jitter,
    Deadline,
    MaxHint,
    Timeout,
    On,
    Unless,
    When,
    Classify,
    Until,
    ClassifyOk,
    Context,
    Idempotency,
    OnRetry,
    Budget,
    Breaker,
    Throttle,
    RateLimiter,
    Sleeper,
    Fallback,
    Hedge,
    Hedges,
    Policy,
    Name,
    Report,
    Crate,
}

impl Key {
    /// Every key, in the order the documentation lists them.
    pub const ALL: [Key; 30] = [
        Key::Attempts,
        Key::Base,
        Key::Max,
        Key::Factor,
        Key::Backoff,
        Key::Jitter,
        Key::Deadline,
        Key::MaxHint,
        Key::Timeout,
        Key::On,
        Key::Unless,
        Key::When,
        Key::Classify,
        Key::Until,
        Key::ClassifyOk,
        Key::Context,
        Key::Idempotency,
        Key::OnRetry,
        Key::Budget,
        Key::Breaker,
        Key::Throttle,
        Key::RateLimiter,
        Key::Sleeper,
        Key::Fallback,
        Key::Hedge,
        Key::Hedges,
        Key::Policy,
        Key::Name,
        Key::Report,
        Key::Crate,
    ];

    /// The key as written.
    pub const fn name(self) -> &'static str {
        match self {
            Key::Attempts => "attempts",
            Key::Base => "base",
            Key::Max => "max",
            Key::Factor => "factor",
            Key::Backoff => "backoff",
            Key::Jitter => "jitter",
            Key::Deadline => "deadline",
            Key::MaxHint => "max_hint",
            Key::Timeout => "timeout",
            Key::On => "on",
            Key::Unless => "unless",
            Key::When => "when",
            Key::Classify => "classify",
            Key::Until => "until",
            Key::ClassifyOk => "classify_ok",
            Key::Context => "context",
            Key::Idempotency => "idempotency_key",
            Key::OnRetry => "on_retry",
            Key::Budget => "budget",
            Key::Breaker => "breaker",
            Key::Throttle => "throttle",
            Key::RateLimiter => "rate_limiter",
            Key::Sleeper => "sleeper",
            Key::Fallback => "fallback",
            Key::Hedge => "hedge",
            Key::Hedges => "hedges",
            Key::Policy => "policy",
            Key::Name => "name",
            Key::Report => "report",
            Key::Crate => "crate",
        }
    }

    /// A value to show in "write `key = VALUE`" messages; empty for flags.
    pub const fn example(self) -> &'static str {
        match self {
            Key::Attempts => "3",
            Key::Base | Key::Max | Key::Deadline => "\"200ms\"",
            Key::MaxHint => "\"60s\"",
            Key::Timeout => "\"2s\"",
            Key::Factor => "2.0",
            Key::Backoff => BackoffKind::Exponential.name(),
            Key::Jitter => JitterKind::BARE.name(),
            Key::On | Key::Unless => "MyError::Timeout | MyError::Io(_)",
            Key::When => "|e| e.is_transient()",
            Key::Classify | Key::ClassifyOk => "",
            Key::Until => "|job| job.is_done()",
            Key::Context => "attempt",
            Key::Idempotency => "job.request_id",
            Key::OnRetry => "|e, info| eprintln!(\"{e}, retrying in {:?}\", info.delay())",
            Key::Budget => "MY_BUDGET",
            Key::Breaker => "MY_BREAKER",
            Key::Throttle => "MY_THROTTLE",
            Key::RateLimiter => "MY_LIMITER",
            Key::Sleeper => "SmolSleeper",
            Key::Fallback => "|e| Ok(cached())",
            Key::Hedge => "\"150ms\"",
            Key::Hedges => "1",
            Key::Policy => "MY_POLICY",
            Key::Name => "\"provider-a\"",
            Key::Report => "report",
            Key::Crate => "\"::retry_runtime\"",
        }
    }

    /// Whether the key is written with a value, alone, or either way.
    pub const fn arity(self) -> Arity {
        match self {
            Key::Classify | Key::ClassifyOk => Arity::Flag,
            Key::Jitter => Arity::FlagOrValue,
            Key::Attempts
            | Key::Base
            | Key::Max
            | Key::Factor
            | Key::Backoff
            | Key::Deadline
            | Key::MaxHint
            | Key::Timeout
            | Key::On
            | Key::Unless
            | Key::When
            | Key::Until
            | Key::Context
            | Key::Idempotency
            | Key::OnRetry
            | Key::Budget
            | Key::Breaker
            | Key::Throttle
            | Key::RateLimiter
            | Key::Sleeper
            | Key::Fallback
            | Key::Hedge
            | Key::Hedges
            | Key::Policy
            | Key::Name
            | Key::Report
            | Key::Crate => Arity::Value,
        }
    }

    /// The key named `name`, if there is one.
    pub fn from_name(name: &str) -> Option<Key> {
        Key::ALL.into_iter().find(|key| key.name() == name)
    }

    /// Every key's name, for suggestions.
    pub fn names() -> [&'static str; Key::ALL.len()] {
        Key::ALL.map(Key::name)
    }
}

/// How a key is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arity {
    /// `key = value`, always.
    Value,
    /// `key` alone, never with a value (`classify`).
    Flag,
    /// Either way (`jitter`, `jitter = equal`).
    FlagOrValue,
}

/// A key whose value is one name out of a fixed list (`backoff = linear`, `jitter = full`).
/// Parsing and validation take the key, the names and their order from here alone.
pub trait Choice: Copy + 'static {
    /// The key whose value this is.
    const KEY: Key;
    /// Every choice, in the order messages list them.
    const CHOICES: &'static [Self];

    /// The choice as written in the attribute.
    fn written(self) -> &'static str;

    /// Every choice as written, for messages and suggestions.
    fn written_all() -> Vec<&'static str> {
        Self::CHOICES
            .iter()
            .map(|choice| choice.written())
            .collect()
    }

    /// The choice written `word`, if there is one.
    fn from_written(word: &str) -> Option<Self> {
        Self::CHOICES
            .iter()
            .copied()
            .find(|choice| choice.written() == word)
    }
}

/// `backoff = …`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackoffKind {
    Exponential,
    Constant,
    Linear,
    Fibonacci,
}

impl BackoffKind {
    /// Every strategy.
    pub const ALL: [BackoffKind; 4] = [
        BackoffKind::Exponential,
        BackoffKind::Constant,
        BackoffKind::Linear,
        BackoffKind::Fibonacci,
    ];

    /// The name as written in the attribute.
    pub const fn name(self) -> &'static str {
        match self {
            BackoffKind::Exponential => "exponential",
            BackoffKind::Constant => "constant",
            BackoffKind::Linear => "linear",
            BackoffKind::Fibonacci => "fibonacci",
        }
    }

    /// The runtime's `Backoff` variant.
    pub const fn variant(self) -> &'static str {
        match self {
            BackoffKind::Exponential => "Exponential",
            BackoffKind::Constant => "Constant",
            BackoffKind::Linear => "Linear",
            BackoffKind::Fibonacci => "Fibonacci",
        }
    }

    /// The one strategy that multiplies its delays, and so the only one `factor` applies to.
    pub const WITH_FACTOR: BackoffKind = BackoffKind::Exponential;

    /// Whether `factor` may be given with this strategy.
    pub const fn takes_factor(self) -> bool {
        matches!(self, BackoffKind::WITH_FACTOR)
    }
}

impl Choice for BackoffKind {
    const KEY: Key = Key::Backoff;
    const CHOICES: &'static [Self] = &BackoffKind::ALL;

    fn written(self) -> &'static str {
        self.name()
    }
}

/// `jitter = …` (a bare `jitter` is [`JitterKind::BARE`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JitterKind {
    Full,
    Equal,
    Decorrelated,
    None,
}

impl JitterKind {
    /// Every kind.
    pub const ALL: [JitterKind; 4] = [
        JitterKind::Full,
        JitterKind::Equal,
        JitterKind::Decorrelated,
        JitterKind::None,
    ];

    /// What a bare `jitter` flag means.
    pub const BARE: JitterKind = JitterKind::Full;

    /// The name as written in the attribute.
    pub const fn name(self) -> &'static str {
        match self {
            JitterKind::Full => "full",
            JitterKind::Equal => "equal",
            JitterKind::Decorrelated => "decorrelated",
            JitterKind::None => "none",
        }
    }

    /// The runtime's `Jitter` variant.
    pub const fn variant(self) -> &'static str {
        match self {
            JitterKind::Full => "Full",
            JitterKind::Equal => "Equal",
            JitterKind::Decorrelated => "Decorrelated",
            JitterKind::None => "None",
        }
    }
}

impl Choice for JitterKind {
    const KEY: Key = Key::Jitter;
    const CHOICES: &'static [Self] = &JitterKind::ALL;

    fn written(self) -> &'static str {
        self.name()
    }
}

/// What `hedge = …` takes, for its errors.
pub const HEDGE_EXPECTED: &str =
    "expected a duration such as `\"150ms\"` or a percentile such as `p95` (`p1` to `p99`, or `p99_9`)";

/// The percentile a `hedge = pNN` word names, in thousandths: `p95` is 950, `p99_9` (or
/// `p999`) is 999; `None` for any other word.
pub fn percentile(word: &str) -> Option<u32> {
    if word == "p99_9" || word == "p999" {
        return Some(999);
    }
    let digits = word.strip_prefix('p')?;
    if digits.is_empty() || digits.len() > 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if digits.len() == 2 && digits.starts_with('0') {
        return None;
    }
    let n: u32 = digits.parse().ok()?;
    (1..=99).contains(&n).then_some(n * 10)
}

/// `a`, `b`, `c` for error messages.
pub fn list(items: &[&str]) -> String {
    items
        .iter()
        .map(|item| format!("`{item}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a typo.
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|candidate| (edit_distance(word, candidate), *candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len().max(3) / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance, counting an adjacent transposition as one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let keys = Key::names();
        assert_eq!(closest("atempts", &keys), Some("attempts"));
        assert_eq!(closest("attemtps", &keys), Some("attempts"));
        assert_eq!(closest("bsae", &keys), Some("base"));
        assert_eq!(closest("jiter", &keys), Some("jitter"));
        assert_eq!(closest("nmae", &keys), Some("name"));
        assert_eq!(closest("retries", &keys), None);
        assert_eq!(closest("x", &keys), None);
    }

    #[test]
    fn only_exponential_backoff_takes_a_factor() {
        let with_factor: Vec<BackoffKind> = BackoffKind::ALL
            .into_iter()
            .filter(|kind| kind.takes_factor())
            .collect();
        assert_eq!(with_factor, [BackoffKind::Exponential]);
    }

    #[test]
    fn percentiles() {
        assert_eq!(percentile("p95"), Some(950));
        assert_eq!(percentile("p1"), Some(10));
        assert_eq!(percentile("p99"), Some(990));
        assert_eq!(percentile("p99_9"), Some(999));
        assert_eq!(percentile("p999"), Some(999));
        for bad in ["p0", "p100", "p", "p05", "q95", "p9_5", "p95ms", "p99_99"] {
            assert_eq!(percentile(bad), None, "{bad}");
        }
    }

    #[test]
    fn names_round_trip() {
        for key in Key::ALL {
            assert_eq!(Key::from_name(key.name()), Some(key));
        }
        for kind in BackoffKind::ALL {
            assert_eq!(BackoffKind::from_written(kind.name()), Some(kind));
        }
        for kind in JitterKind::ALL {
            assert_eq!(JitterKind::from_written(kind.name()), Some(kind));
        }
        assert_eq!(
            BackoffKind::written_all(),
            BackoffKind::ALL.map(BackoffKind::name)
        );
        assert_eq!(
            JitterKind::written_all(),
            JitterKind::ALL.map(JitterKind::name)
        );
    }
}
