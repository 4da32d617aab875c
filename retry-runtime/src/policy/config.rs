//! Feature `serde`: a [`Policy`] read from and written to configuration files, in the shape
//! people write by hand, with the attribute's duration grammar and defaults, validated on load.

use core::fmt;
use core::marker::PhantomData;
use core::time::Duration;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Unexpected, Visitor};
use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};

use crate::{Backoff, Jitter, Policy};

/// A key of a policy file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Attempts,
    Base,
    Max,
    Factor,
    Backoff,
    Jitter,
    Deadline,
    MaxHint,
    Timeout,
}

impl Field {
    /// Every key, in the order they are written.
    const ALL: [Field; 9] = [
        Field::Attempts,
        Field::Base,
        Field::Max,
        Field::Factor,
        Field::Backoff,
        Field::Jitter,
        Field::Deadline,
        Field::MaxHint,
        Field::Timeout,
    ];

    /// The key as written in the file.
    const fn name(self) -> &'static str {
        match self {
            Field::Attempts => "attempts",
            Field::Base => "base",
            Field::Max => "max",
            Field::Factor => "factor",
            Field::Backoff => "backoff",
            Field::Jitter => "jitter",
            Field::Deadline => "deadline",
            Field::MaxHint => "max_hint",
            Field::Timeout => "timeout",
        }
    }
}

/// The keys as written, for `deserialize_struct` and the "unknown field" error.
const FIELD_NAMES: [&str; 9] = {
    let mut names = [""; 9];
    let mut i = 0;
    while i < names.len() {
        names[i] = Field::ALL[i].name();
        i += 1;
    }
    names
};

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_identifier(FieldVisitor)
    }
}

/// Reads a key; any other is an "unknown field" error listing the accepted ones.
struct FieldVisitor;

impl Visitor<'_> for FieldVisitor {
    type Value = Field;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field of a retry policy")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Field, E> {
        Field::ALL
            .into_iter()
            .find(|field| field.name() == key)
            .ok_or_else(|| E::unknown_field(key, &FIELD_NAMES))
    }
}

/// The fields read so far; `None` for those not written (the attribute's defaults fill them).
#[derive(Default)]
struct Fields {
    attempts: Option<u32>,
    base: Option<Duration>,
    max: Option<Duration>,
    factor: Option<f64>,
    backoff: Option<Backoff>,
    jitter: Option<Jitter>,
    deadline: Option<Duration>,
    max_hint: Option<Duration>,
    timeout: Option<Duration>,
}

impl Fields {
    fn is_set(&self, field: Field) -> bool {
        match field {
            Field::Attempts => self.attempts.is_some(),
            Field::Base => self.base.is_some(),
            Field::Max => self.max.is_some(),
            Field::Factor => self.factor.is_some(),
            Field::Backoff => self.backoff.is_some(),
            Field::Jitter => self.jitter.is_some(),
            Field::Deadline => self.deadline.is_some(),
            Field::MaxHint => self.max_hint.is_some(),
            Field::Timeout => self.timeout.is_some(),
        }
    }

    /// Reads `field`'s value from `value`, asking the format for the type the field holds
    /// (so formats that need a hint, such as environment variables, work too).
    fn read<'de, D: Deserializer<'de>>(&mut self, field: Field, value: D) -> Result<(), D::Error> {
        let duration = DurationText { above_zero: false };
        match field {
            Field::Attempts => self.attempts = Some(value.deserialize_u32(WholeNumber)?),
            Field::Factor => self.factor = Some(value.deserialize_f64(Factor)?),
            Field::Backoff => self.backoff = Some(value.deserialize_str(OneOf(PhantomData))?),
            Field::Jitter => self.jitter = Some(value.deserialize_str(OneOf(PhantomData))?),
            Field::Base => self.base = Some(value.deserialize_str(duration)?),
            Field::Max => self.max = Some(value.deserialize_str(duration)?),
            Field::Deadline => self.deadline = Some(value.deserialize_str(duration)?),
            Field::MaxHint => self.max_hint = Some(value.deserialize_str(duration)?),
            Field::Timeout => {
                let duration = DurationText { above_zero: true };
                self.timeout = Some(value.deserialize_str(duration)?);
            }
        }
        Ok(())
    }

    /// The policy the fields describe, once the checks that involve two fields have passed.
    fn into_policy<E: de::Error>(self) -> Result<Policy, E> {
        let mut policy = Policy::new();
        if let Some(attempts) = self.attempts {
            policy = policy.with_attempts(attempts);
        }
        if let Some(base) = self.base {
            policy = policy.with_base(base);
        }
        if let Some(max) = self.max {
            policy = policy.with_max(max);
        }
        if let Some(factor) = self.factor {
            policy = policy.with_factor(factor);
        }
        if let Some(backoff) = self.backoff {
            policy = policy.with_backoff(backoff);
        }
        if let Some(jitter) = self.jitter {
            policy = policy.with_jitter(jitter);
        }
        if let Some(deadline) = self.deadline {
            policy = policy.with_deadline(deadline);
        }
        if let Some(max_hint) = self.max_hint {
            policy = policy.with_max_hint(max_hint);
        }
        if let Some(timeout) = self.timeout {
            policy = policy.with_timeout(timeout);
        }
        check_pairs(&policy, self.factor.is_some())?;
        // The fields were checked one by one; this keeps any later rule of `validate` in force.
        policy.validate().map_err(E::custom)
    }
}

/// The rules between two fields: `factor` needs exponential backoff, `max` is at least `base`.
fn check_pairs<E: de::Error>(policy: &Policy, factor_is_written: bool) -> Result<(), E> {
    if factor_is_written && !policy.backoff().takes_factor() {
        return Err(E::custom(format_args!(
            "`factor`: only applies to `backoff = \"exponential\"`, not `backoff = \"{}\"`; remove `factor` or use exponential backoff",
            policy.backoff().name()
        )));
    }
    if let Some(max) = policy.explicit_max() {
        if max < policy.base() {
            return Err(E::custom(format_args!(
                "`max`: `\"{}\"` is below `base` (`\"{}\"`); expected a duration of at least `base`",
                WrittenDuration(max),
                WrittenDuration(policy.base())
            )));
        }
    }
    Ok(())
}

/// Where one field's value is read: `null` (JSON, YAML) leaves the field unset, as if it were
/// not written.
struct Slot<'a> {
    field: Field,
    fields: &'a mut Fields,
}

impl<'de> DeserializeSeed<'de> for Slot<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, value: D) -> Result<(), D::Error> {
        let field = self.field;
        value
            .deserialize_option(self)
            .map_err(|err| named(field, err))
    }
}

impl<'de> Visitor<'de> for Slot<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a value for `{}`", self.field.name())
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, value: D) -> Result<(), D::Error> {
        self.fields.read(self.field, value)
    }
}

/// `err`, raised while reading `field`, with the field's name in front
/// (`` `base`: invalid value: string "2 parsecs", expected a duration … ``).
///
/// Errors of the format itself (a number out of range) are wrapped too. serde_json writes the
/// position at the end of its messages and adds it again to the wrapping error, so the inner
/// one is dropped.
fn named<E: de::Error>(field: Field, err: E) -> E {
    let message = err.to_string();
    E::custom(format_args!(
        "`{}`: {}",
        field.name(),
        without_position(message.trim_end())
    ))
}

/// `message` without a trailing ` at line L column C`.
fn without_position(message: &str) -> &str {
    let is_number = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    match message.rsplit_once(" at line ") {
        Some((head, tail)) => match tail.split_once(" column ") {
            Some((line, column)) if is_number(line) && is_number(column) => head,
            _ => message,
        },
        None => message,
    }
}

/// `attempts`: a whole number from 1 to `u32::MAX`.
struct WholeNumber;

impl Visitor<'_> for WholeNumber {
    type Value = u32;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a whole number from 1 to {}", u32::MAX)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u32, E> {
        u32::try_from(v)
            .ok()
            .filter(|attempts| *attempts > 0)
            .ok_or_else(|| E::invalid_value(Unexpected::Unsigned(v), &self))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u32, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(E::invalid_value(Unexpected::Signed(v), &self)),
        }
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<u32, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(big_integer(&v, &self)),
        }
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<u32, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(big_integer(&v, &self)),
        }
    }
}

/// `E::invalid_value` for an integer beyond 64 bits, which serde's `Unexpected` cannot hold.
fn big_integer<E: de::Error>(v: &dyn fmt::Display, expected: &dyn de::Expected) -> E {
    E::custom(format_args!(
        "invalid value: integer `{v}`, expected {expected}"
    ))
}

/// `factor`: a finite number of at least 1 (an integer is accepted, as `f64` accepts it).
struct Factor;

impl Visitor<'_> for Factor {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a finite number of at least 1.0")
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        if v >= 1.0 && v.is_finite() {
            Ok(v)
        } else {
            Err(E::invalid_value(Unexpected::Float(v), &self))
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        self.visit_f64(v as f64)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        self.visit_f64(v as f64)
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<f64, E> {
        self.visit_f64(v as f64)
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<f64, E> {
        self.visit_f64(v as f64)
    }
}

/// The strategies and kinds a file names by string.
trait Named: Copy + 'static {
    const CHOICES: &'static [Self];
    fn name(self) -> &'static str;
}

impl Named for Backoff {
    const CHOICES: &'static [Self] = &Backoff::ALL;
    fn name(self) -> &'static str {
        Backoff::name(self)
    }
}

impl Named for Jitter {
    const CHOICES: &'static [Self] = &Jitter::ALL;
    fn name(self) -> &'static str {
        Jitter::name(self)
    }
}

/// `backoff` or `jitter`: one of the names of `T`.
struct OneOf<T>(PhantomData<T>);

impl<T: Named> Visitor<'_> for OneOf<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("one of ")?;
        for (i, choice) in T::CHOICES.iter().enumerate() {
            let separator = if i == 0 { "" } else { ", " };
            write!(f, "{separator}`\"{}\"`", choice.name())?;
        }
        Ok(())
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<T, E> {
        T::CHOICES
            .iter()
            .copied()
            .find(|choice| choice.name() == name)
            .ok_or_else(|| E::invalid_value(Unexpected::Str(name), &self))
    }
}

/// The units of the duration grammar, for error messages.
const UNITS: &str = "units: `ns`, `us`, `ms`, `s`, `m`, `h`";

/// A duration field: a string in the attribute's grammar; `timeout` must be above zero.
#[derive(Clone, Copy)]
struct DurationText {
    above_zero: bool,
}

impl Visitor<'_> for DurationText {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.above_zero {
            write!(f, "a duration above zero such as `\"30s\"` ({UNITS})")
        } else {
            write!(f, "a duration such as `\"200ms\"` or `\"1.5s\"` ({UNITS})")
        }
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
        match parse_duration(text) {
            Ok(d) if self.above_zero && d.is_zero() => Err(E::invalid_value(
                Unexpected::Str(text),
                &"a duration above zero (a zero timeout would cut off every attempt at once)",
            )),
            Ok(d) => Ok(d),
            Err(BadDuration::TooLong) => Err(E::invalid_value(
                Unexpected::Str(text),
                &"a duration of at most `Duration::MAX` (`\"18446744073709551615.999999999s\"`)",
            )),
            Err(BadDuration::NotADuration) => Err(E::invalid_value(Unexpected::Str(text), &self)),
        }
    }
}

/// Reads the fields of a policy, each key once at most, each value checked on its own.
struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = Fields;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a retry policy: a table of `attempts`, `base`, `max`, … (every one optional)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
        let mut fields = Fields::default();
        while let Some(field) = map.next_key::<Field>()? {
            if fields.is_set(field) {
                return Err(de::Error::duplicate_field(field.name()));
            }
            map.next_value_seed(Slot {
                field,
                fields: &mut fields,
            })?;
        }
        Ok(fields)
    }
}

impl<'de> Deserialize<'de> for Policy {
    /// Reads `{ attempts = 5, base = "100ms", max = "2s", backoff = "exponential", factor =
    /// 2.0, jitter = "full", deadline = "10s", max_hint = "60s", timeout = "30s" }`, every field
    /// optional. A bad field is an error that names it and says what was expected; nothing is
    /// silently fixed, and an unknown field (a typo) is an error too.
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
    /// assert!(err.to_string().starts_with(r#"`base`: invalid value: string "2 parsecs", expected a duration"#), "{err}");
    /// let err = serde_json::from_str::<Policy>(r#"{ "attempts": -1 }"#).unwrap_err();
    /// assert!(err.to_string().starts_with("`attempts`: invalid value: integer `-1`, expected a whole number from 1 to 4294967295"), "{err}");
    /// let err = serde_json::from_str::<Policy>(r#"{ "retries": 3 }"#).unwrap_err();
    /// assert!(err.to_string().starts_with("unknown field `retries`"), "{err}");
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    ///
    /// # Inside a larger configuration
    ///
    /// Keep the policy in a table of its own (`[retry]` in TOML, `"retry": { … }` in JSON): it
    /// then rejects a misspelt key. A policy embedded with `#[serde(flatten)]` cannot: serde
    /// hands a flattened field only the keys it knows and passes every other key through, so a
    /// typo is silently dropped and its field keeps the default.
    ///
    /// ```
    /// use retry_runtime::Policy;
    /// use serde::Deserialize;
    /// use std::time::Duration;
    ///
    /// #[derive(Debug, Deserialize)]
    /// struct Service {
    ///     url: String,
    ///     retry: Policy,
    /// }
    ///
    /// let service: Service = toml::from_str("url = \"http://api\"\n[retry]\nbase = \"1s\"\n")?;
    /// assert_eq!(service.retry.base(), Duration::from_secs(1));
    /// // The typo `bsae` is an error.
    /// let err = toml::from_str::<Service>("url = \"http://api\"\n[retry]\nbsae = \"1s\"\n").unwrap_err();
    /// assert!(err.to_string().contains("unknown field `bsae`"), "{err}");
    /// # Ok::<(), toml::de::Error>(())
    /// ```
    ///
    /// ```
    /// use retry_runtime::Policy;
    /// use serde::Deserialize;
    /// use std::time::Duration;
    ///
    /// #[derive(Deserialize)]
    /// struct Service {
    ///     url: String,
    ///     #[serde(flatten)]
    ///     retry: Policy,
    /// }
    ///
    /// // Flattened, the typo `bsae` is not seen: `base` keeps its default.
    /// let service: Service = toml::from_str("url = \"http://api\"\nbsae = \"1s\"\n")?;
    /// assert_eq!(service.retry.base(), Duration::from_millis(200));
    /// # let _ = service.url;
    /// # Ok::<(), toml::de::Error>(())
    /// ```
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // The rules between fields are checked once the map is read, so that a format that
        // points at the failing value does not point at the first key instead.
        deserializer
            .deserialize_struct("Policy", &FIELD_NAMES, FieldsVisitor)?
            .into_policy()
    }
}

impl Serialize for Policy {
    /// Writes every field in the shape [`Deserialize`] reads, durations as strings (`"200ms"`),
    /// so a policy round-trips through TOML, JSON or YAML. `max`, `deadline` and `timeout` are
    /// written only when set, `factor` only with exponential backoff. A zero `timeout` is
    /// written as `"0ns"`, which loading rejects.
    ///
    /// Embedded in a larger configuration, prefer a table of its own over `#[serde(flatten)]`:
    /// both write the same keys, but only the table rejects a misspelt key when read back (see
    /// [`Deserialize`]).
    ///
    /// ```
    /// use retry_runtime::Policy;
    /// use std::time::Duration;
    /// let policy = Policy::new()
    ///     .with_attempts(4)
    ///     .with_base(Duration::from_millis(150))
    ///     .with_timeout(Duration::from_secs(30));
    /// let json = serde_json::to_string(&policy)?;
    /// assert!(json.contains(r#""base":"150ms""#), "{json}");
    /// assert!(json.contains(r#""timeout":"30s""#), "{json}");
    /// assert_eq!(serde_json::from_str::<Policy>(&json)?, policy);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // `factor` only means something (and is only accepted) with exponential backoff.
        let exponential = self.backoff().takes_factor();
        let field_count = 5
            + usize::from(exponential)
            + usize::from(self.explicit_max().is_some())
            + usize::from(self.deadline().is_some())
            + usize::from(self.timeout().is_some());
        let mut out = serializer.serialize_struct("Policy", field_count)?;
        out.serialize_field("attempts", &self.attempts())?;
        out.serialize_field("base", &WrittenDuration(self.base()))?;
        if let Some(max) = self.explicit_max() {
            out.serialize_field("max", &WrittenDuration(max))?;
        }
        if exponential {
            out.serialize_field("factor", &self.factor())?;
        }
        out.serialize_field("backoff", self.backoff().name())?;
        out.serialize_field("jitter", self.jitter().name())?;
        if let Some(deadline) = self.deadline() {
            out.serialize_field("deadline", &WrittenDuration(deadline))?;
        }
        out.serialize_field("max_hint", &WrittenDuration(self.max_hint()))?;
        if let Some(timeout) = self.timeout() {
            out.serialize_field("timeout", &WrittenDuration(timeout))?;
        }
        out.end()
    }
}

/// A duration written the way the attribute reads it back, exactly: the largest unit that
/// divides it (`"1500ms"`, `"2s"`, `"7ns"`).
struct WrittenDuration(Duration);

impl fmt::Display for WrittenDuration {
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

impl Serialize for WrittenDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Why a string is not a duration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BadDuration {
    /// Not a number and a unit of the grammar (a negative number included).
    NotADuration,
    /// Longer than `Duration::MAX`.
    TooLong,
}

/// Nanoseconds in a second.
const NANOS_PER_SEC: u128 = 1_000_000_000;

/// `"<number><unit>"` as the attribute reads it: a decimal number (a fraction allowed, `_`
/// separators ignored), optional spaces, then `ns`, `us` (or `µs`, `μs`), `ms`, `s`, `m` or
/// `h`. The value is the number times the unit, exactly, truncated to whole nanoseconds.
/// `tests/durations.corpus` holds the grammar's cases. Never panics.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, BadDuration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .ok_or(BadDuration::NotADuration)?;
    let (number, unit) = text.split_at(split);
    let unit_nanos = unit_nanos(unit.trim_start()).ok_or(BadDuration::NotADuration)?;
    let number = number.replace('_', "");
    let (int, frac) = number.split_once('.').unwrap_or((number.as_str(), ""));
    if (int.is_empty() && frac.is_empty()) || frac.contains('.') {
        return Err(BadDuration::NotADuration);
    }
    let total = whole_nanos(int, unit_nanos)?
        .checked_add(fraction_nanos(frac, unit_nanos)?)
        .ok_or(BadDuration::TooLong)?;
    let secs = u64::try_from(total / NANOS_PER_SEC).map_err(|_| BadDuration::TooLong)?;
    let nanos = u32::try_from(total % NANOS_PER_SEC).map_err(|_| BadDuration::TooLong)?;
    Ok(Duration::new(secs, nanos))
}

/// The nanoseconds in one `unit` of the grammar.
fn unit_nanos(unit: &str) -> Option<u128> {
    match unit {
        "ns" => Some(1),
        // The micro sign (U+00B5) and the Greek mu (U+03BC) look alike; accept both.
        "us" | "\u{b5}s" | "\u{3bc}s" => Some(1_000),
        "ms" => Some(1_000_000),
        "s" => Some(1_000_000_000),
        "m" => Some(60_000_000_000),
        "h" => Some(3_600_000_000_000),
        _ => None,
    }
}

/// The value of one ASCII digit.
fn digit_value(digit: u8) -> Result<u128, BadDuration> {
    char::from(digit)
        .to_digit(10)
        .map(u128::from)
        .ok_or(BadDuration::NotADuration)
}

/// `int` units in nanoseconds; `TooLong` past `u128::MAX`.
fn whole_nanos(int: &str, unit_nanos: u128) -> Result<u128, BadDuration> {
    let units = int.bytes().try_fold(0u128, |total, digit| {
        let value = digit_value(digit)?;
        total
            .checked_mul(10)
            .and_then(|total| total.checked_add(value))
            .ok_or(BadDuration::TooLong)
    })?;
    units.checked_mul(unit_nanos).ok_or(BadDuration::TooLong)
}

/// `0.<frac>` units in whole nanoseconds, exactly, truncated. Folding the digits from the last
/// one, `floor((digit * unit + below) / 10)` keeps every digit's share (a digit of an hour worth
/// a fraction of a nanosecond still adds to the digits before it), and the running value stays
/// below one unit, so it cannot overflow however many digits there are.
fn fraction_nanos(frac: &str, unit_nanos: u128) -> Result<u128, BadDuration> {
    frac.bytes().rev().try_fold(0u128, |below, digit| {
        digit_value(digit)?
            .checked_mul(unit_nanos)
            .and_then(|share| share.checked_add(below))
            .map(|sum| sum / 10)
            .ok_or(BadDuration::TooLong)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_as_the_attribute_reads_them() {
        let ms = Duration::from_millis;
        assert_eq!(parse_duration("250ms"), Ok(ms(250)));
        assert_eq!(parse_duration("1.5s"), Ok(ms(1500)));
        assert_eq!(parse_duration("10 ms"), Ok(ms(10)));
        assert_eq!(parse_duration("1_000ms"), Ok(ms(1000)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1\u{3bc}s"), Ok(Duration::from_micros(1)));
        for bad in ["", "5", "-1s", "5 parsecs", "1.2.3s", ".s"] {
            assert_eq!(
                parse_duration(bad),
                Err(BadDuration::NotADuration),
                "{bad:?}"
            );
        }
        for long in [
            "99999999999999999999999h",
            "18446744073709551616s",
            "340282366920938463463374607431768211.9us",
        ] {
            assert_eq!(parse_duration(long), Err(BadDuration::TooLong), "{long:?}");
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
            assert_eq!(
                parse_duration(&WrittenDuration(d).to_string()),
                Ok(d),
                "{d:?}"
            );
        }
    }

    #[test]
    fn field_names_are_the_keys_in_order() {
        assert_eq!(
            FIELD_NAMES,
            [
                "attempts", "base", "max", "factor", "backoff", "jitter", "deadline", "max_hint",
                "timeout"
            ]
        );
    }

    #[test]
    fn only_a_trailing_position_is_dropped() {
        assert_eq!(without_position("bad at line 1 column 15"), "bad");
        assert_eq!(
            without_position("bad at line 1 column x"),
            "bad at line 1 column x"
        );
        assert_eq!(
            without_position("bad at line  column 2"),
            "bad at line  column 2"
        );
        assert_eq!(
            without_position("floating-point number overflowed"),
            "floating-point number overflowed"
        );
    }

    /// The grammar's cases, shared with the attribute's parser (`retry-macros`).
    const CORPUS: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/durations.corpus"
    ));

    /// `SECS.NANOS` as the corpus writes a duration, or `error`; `panicked` if parsing panicked.
    fn corpus_answer(input: &str) -> String {
        match std::panic::catch_unwind(|| parse_duration(input)) {
            Ok(Ok(d)) => format!("{}.{:09}", d.as_secs(), d.subsec_nanos()),
            Ok(Err(_)) => "error".to_string(),
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
