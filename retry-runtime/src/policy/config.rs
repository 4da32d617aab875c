//! Feature `serde`: a [`Policy`] read from and written to configuration files, in the shape
//! people write by hand, with the attribute's duration grammar and defaults, validated on load.

use core::fmt;
use core::time::Duration;

use serde::de::{self, Deserializer};
use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};

use crate::{Backoff, Jitter, Policy, PolicyError};

/// The fields as written; every one optional (the attribute's defaults fill the rest).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields {
    attempts: Option<u32>,
    base: Option<Text>,
    max: Option<Text>,
    factor: Option<f64>,
    backoff: Option<Text>,
    jitter: Option<Text>,
    deadline: Option<Text>,
    max_hint: Option<Text>,
}

/// A string field, kept as written for the error message.
#[derive(Deserialize)]
#[serde(transparent)]
struct Text(String);

/// A field that did not parse: which one, and what was expected.
fn invalid<E: de::Error>(field: &str, found: &str, expected: &str) -> E {
    E::custom(format_args!(
        "invalid `{field}`: `{found}`; expected {expected}"
    ))
}

fn duration<E: de::Error>(field: &str, text: &Text) -> Result<Duration, E> {
    parse_duration(&text.0).ok_or_else(|| {
        invalid(
            field,
            &text.0,
            "a duration such as \"200ms\" or \"1.5s\" (units: ns, us, ms, s, m, h)",
        )
    })
}

impl<'de> Deserialize<'de> for Policy {
    /// Reads `{ attempts = 5, base = "100ms", max = "2s", backoff = "exponential", factor =
    /// 2.0, jitter = "full", deadline = "10s", max_hint = "60s" }`, every field optional.
    /// A bad field is an error that names it; nothing is silently fixed.
    ///
    /// ```
    /// use retry_runtime::{Jitter, Policy};
    /// use std::time::Duration;
    ///
    /// let policy: Policy = serde_json::from_str(r#"{ "attempts": 5, "base": "100ms", "jitter": "full" }"#)?;
    /// assert_eq!(policy.attempts(), 5);
    /// assert_eq!(policy.base(), Duration::from_millis(100));
    /// assert_eq!(policy.jitter(), Jitter::Full);
    /// assert_eq!(policy.max(), Duration::from_secs(2)); // the default
    ///
    /// let err = serde_json::from_str::<Policy>(r#"{ "base": "2 parsecs" }"#).unwrap_err();
    /// assert!(err.to_string().contains("invalid `base`: `2 parsecs`"), "{err}");
    /// let err = serde_json::from_str::<Policy>(r#"{ "attempts": 0 }"#).unwrap_err();
    /// assert!(err.to_string().contains("`attempts`"), "{err}");
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let fields = Fields::deserialize(deserializer)?;
        let mut policy = Policy::new();
        if let Some(attempts) = fields.attempts {
            policy = policy.with_attempts(attempts);
        }
        if let Some(base) = &fields.base {
            policy = policy.with_base(duration("base", base)?);
        }
        if let Some(max) = &fields.max {
            policy = policy.with_max(duration("max", max)?);
        }
        if let Some(factor) = fields.factor {
            policy = policy.with_factor(factor);
        }
        if let Some(name) = &fields.backoff {
            let backoff = Backoff::ALL
                .into_iter()
                .find(|b| b.name() == name.0)
                .ok_or_else(|| {
                    invalid(
                        "backoff",
                        &name.0,
                        "one of \"exponential\", \"constant\", \"linear\", \"fibonacci\"",
                    )
                })?;
            if fields.factor.is_some() && backoff != Backoff::Exponential {
                return Err(de::Error::custom(
                    "`factor` only applies to `backoff = \"exponential\"`",
                ));
            }
            policy = policy.with_backoff(backoff);
        }
        if let Some(name) = &fields.jitter {
            let jitter = Jitter::ALL
                .into_iter()
                .find(|j| j.name() == name.0)
                .ok_or_else(|| {
                    invalid(
                        "jitter",
                        &name.0,
                        "one of \"full\", \"equal\", \"decorrelated\", \"none\"",
                    )
                })?;
            policy = policy.with_jitter(jitter);
        }
        if let Some(deadline) = &fields.deadline {
            policy = policy.with_deadline(duration("deadline", deadline)?);
        }
        if let Some(max_hint) = &fields.max_hint {
            policy = policy.with_max_hint(duration("max_hint", max_hint)?);
        }
        policy.validate().map_err(|err| {
            let field = match err {
                PolicyError::ZeroAttempts => "attempts",
                PolicyError::BadFactor => "factor",
                PolicyError::MaxBelowBase => "max",
            };
            de::Error::custom(format_args!("invalid `{field}`: {err}"))
        })
    }
}

impl Serialize for Policy {
    /// Writes every field in the shape [`Deserialize`] reads, durations as strings (`"200ms"`),
    /// so a policy round-trips through TOML, JSON or YAML.
    ///
    /// ```
    /// use retry_runtime::Policy;
    /// use std::time::Duration;
    /// let policy = Policy::new().with_attempts(4).with_base(Duration::from_millis(150));
    /// let json = serde_json::to_string(&policy)?;
    /// assert!(json.contains(r#""base":"150ms""#), "{json}");
    /// assert_eq!(serde_json::from_str::<Policy>(&json)?, policy);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // `factor` only means something (and is only accepted) with exponential backoff.
        let exponential = self.backoff() == Backoff::Exponential;
        let fields = 5
            + usize::from(exponential)
            + usize::from(self.explicit_max().is_some())
            + usize::from(self.deadline().is_some());
        let mut out = serializer.serialize_struct("Policy", fields)?;
        out.serialize_field("attempts", &self.attempts())?;
        out.serialize_field("base", &Shown(self.base()))?;
        if let Some(max) = self.explicit_max() {
            out.serialize_field("max", &Shown(max))?;
        }
        if exponential {
            out.serialize_field("factor", &self.factor())?;
        }
        out.serialize_field("backoff", self.backoff().name())?;
        out.serialize_field("jitter", self.jitter().name())?;
        if let Some(deadline) = self.deadline() {
            out.serialize_field("deadline", &Shown(deadline))?;
        }
        out.serialize_field("max_hint", &Shown(self.max_hint()))?;
        out.end()
    }
}

/// A duration written the way the attribute reads it back, exactly: the largest unit that
/// divides it (`"1500ms"`, `"2s"`, `"7ns"`).
struct Shown(Duration);

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0.as_nanos();
        for (unit, size) in [
            ("h", 3_600_000_000_000u128),
            ("m", 60_000_000_000),
            ("s", 1_000_000_000),
            ("ms", 1_000_000),
            ("us", 1_000),
        ] {
            if ns >= size && ns % size == 0 {
                return write!(f, "{}{unit}", ns / size);
            }
        }
        write!(f, "{ns}ns")
    }
}

impl Serialize for Shown {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// `"<number><unit>"` as the attribute reads it: a decimal number (a fraction allowed, `_`
/// separators ignored), optional spaces, then `ns`, `us` (or `µs`), `ms`, `s`, `m` or `h`.
/// `None` for anything else, a negative number, or more than `Duration::MAX`.
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))?;
    let (number, unit) = text.split_at(split);
    let unit_nanos: u128 = match unit.trim_start() {
        "ns" => 1,
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    };
    let number = number.replace('_', "");
    let (int, frac) = number.split_once('.').unwrap_or((number.as_str(), ""));
    if (int.is_empty() && frac.is_empty()) || frac.contains('.') {
        return None;
    }
    let mut total: u128 = 0;
    for digit in int.bytes() {
        total = total
            .checked_mul(10)?
            .checked_add(u128::from(digit - b'0'))?;
    }
    total = total.checked_mul(unit_nanos)?;
    let mut scale = unit_nanos;
    for digit in frac.bytes() {
        if scale < 10 {
            break;
        }
        scale /= 10;
        total += u128::from(digit - b'0') * scale;
    }
    let secs = u64::try_from(total / 1_000_000_000).ok()?;
    Some(Duration::new(secs, (total % 1_000_000_000) as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_as_the_attribute_reads_them() {
        let ms = Duration::from_millis;
        assert_eq!(parse_duration("250ms"), Some(ms(250)));
        assert_eq!(parse_duration("1.5s"), Some(ms(1500)));
        assert_eq!(parse_duration("10 ms"), Some(ms(10)));
        assert_eq!(parse_duration("1_000ms"), Some(ms(1000)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1\u{3bc}s"), Some(Duration::from_micros(1)));
        for bad in [
            "",
            "5",
            "-1s",
            "5 parsecs",
            "1.2.3s",
            ".s",
            "99999999999999999999999h",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn shown_durations_read_back_exactly() {
        for d in [
            Duration::from_millis(1500),
            Duration::from_secs(7200),
            Duration::from_nanos(7),
            Duration::from_micros(3),
            Duration::MAX,
            Duration::ZERO,
        ] {
            assert_eq!(parse_duration(&Shown(d).to_string()), Some(d), "{d:?}");
        }
    }

    /// The grammar's cases, shared with the attribute's parser (`retry-macros`).
    const CORPUS: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/durations.corpus"
    ));

    /// `SECS.NANOS` as the corpus writes a duration, or `error`; `panicked` if parsing panicked.
    fn corpus_answer(input: &str) -> String {
        match std::panic::catch_unwind(|| parse_duration(input)) {
            Ok(Some(d)) => format!("{}.{:09}", d.as_secs(), d.subsec_nanos()),
            Ok(None) => "error".to_string(),
            Err(_) => "panicked".to_string(),
        }
    }

    #[test]
    fn every_case_of_the_duration_corpus() {
        let mut failures = Vec::new();
        let mut cases = 0;
        for (index, line) in CORPUS.lines().enumerate() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = index + 1;
            let (input, expected) = line
                .split_once('\t')
                .unwrap_or_else(|| panic!("durations.corpus:{at}: no tab in {line:?}"));
            let got = corpus_answer(input);
            if got != expected {
                failures.push(format!(
                    "durations.corpus:{at}: {input:?} parsed as {got}, expected {expected}"
                ));
            }
            cases += 1;
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert!(cases > 100, "durations.corpus has only {cases} cases");
    }
}
