//! The words of `#[retry(...)]`: its keys, the backoff and jitter names, and "did you mean"
//! suggestions. Imports nothing from the rest of the crate; every other stage matches on these
//! enums exhaustively, so a new key is a compile error until each stage handles it.

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
    Fallback,
    Policy,
    Crate,
}

impl Key {
    /// Every key, in the order the documentation lists them.
    pub const ALL: [Key; 23] = [
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
        Key::Fallback,
        Key::Policy,
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
            Key::Fallback => "fallback",
            Key::Policy => "policy",
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
            Key::Backoff => "exponential",
            Key::Jitter => "full",
            Key::On | Key::Unless => "MyError::Timeout | MyError::Io(_)",
            Key::When => "|e| e.is_transient()",
            Key::Classify | Key::ClassifyOk => "",
            Key::Until => "|job| job.is_done()",
            Key::Context => "attempt",
            Key::Idempotency => "job.request_id",
            Key::OnRetry => "|e, info| eprintln!(\"{e}, retrying in {:?}\", info.delay())",
            Key::Budget => "MY_BUDGET",
            Key::Breaker => "MY_BREAKER",
            Key::Fallback => "|e| Ok(cached())",
            Key::Policy => "MY_POLICY",
            Key::Crate => "\"::retry_runtime\"",
        }
    }

    /// The key named `name`, if there is one.
    pub fn from_name(name: &str) -> Option<Key> {
        Key::ALL.into_iter().find(|key| key.name() == name)
    }

    /// Every key's name, for suggestions.
    pub fn names() -> [&'static str; 23] {
        Key::ALL.map(Key::name)
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

    /// Every name, for suggestions.
    pub fn names() -> [&'static str; 4] {
        BackoffKind::ALL.map(BackoffKind::name)
    }
}

/// `jitter = …` (a bare `jitter` is [`JitterKind::Full`]).
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

    /// Every name, for suggestions.
    pub fn names() -> [&'static str; 4] {
        JitterKind::ALL.map(JitterKind::name)
    }
}

/// Find a name among `T::ALL` by its written form.
pub fn find<T: Copy>(all: &[T], name: impl Fn(T) -> &'static str, word: &str) -> Option<T> {
    all.iter().copied().find(|item| name(*item) == word)
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
        assert_eq!(closest("retries", &keys), None);
        assert_eq!(closest("x", &keys), None);
    }

    #[test]
    fn names_round_trip() {
        for key in Key::ALL {
            assert_eq!(Key::from_name(key.name()), Some(key));
        }
        for kind in BackoffKind::ALL {
            assert_eq!(
                find(&BackoffKind::ALL, BackoffKind::name, kind.name()),
                Some(kind)
            );
        }
        for kind in JitterKind::ALL {
            assert_eq!(
                find(&JitterKind::ALL, JitterKind::name, kind.name()),
                Some(kind)
            );
        }
    }
}
