//! Duration strings: `"250ms"`, `"1.5s"`, `"2m"`, `"500us"`.

/// Accepted units, in the order the error message lists them.
pub const UNITS: &str = "`ns`, `us` (or `µs`, `μs`), `ms`, `s`, `m`, `h`";

/// Why a duration string was rejected.
#[derive(Debug, PartialEq, Eq)]
pub enum DurationError {
    /// Starts with `-`.
    Negative,
    /// Not a number followed by a known unit.
    Unparsable,
    /// Larger than `Duration::MAX`.
    Overflow,
}

/// A parsed duration as whole seconds and nanoseconds (`nanos < 1_000_000_000`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur {
    /// Whole seconds.
    pub secs: u64,
    /// Nanoseconds past `secs`.
    pub nanos: u32,
}

impl Dur {
    /// The duration in nanoseconds.
    pub fn as_nanos(self) -> u128 {
        u128::from(self.secs) * 1_000_000_000 + u128::from(self.nanos)
    }
}

/// Nanoseconds in a second.
const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Parses `"<number><unit>"`; the number may have a fractional part (`"1.5s"`), whitespace
/// between number and unit is allowed (`"10 ms"`). The value is the number times the unit,
/// exactly, truncated to whole nanoseconds. `tests/durations.corpus` holds the grammar's cases.
pub fn parse(text: &str) -> Result<Dur, DurationError> {
    let text = text.trim();
    if text.starts_with('-') {
        return Err(DurationError::Negative);
    }
    let (number, unit) = split_number(text);
    let unit_nanos = unit_nanos(unit.trim_start()).ok_or(DurationError::Unparsable)?;
    let number = number.replace('_', "");
    let (int, frac) = number.split_once('.').unwrap_or((number.as_str(), ""));
    if int.is_empty() && frac.is_empty() || frac.contains('.') {
        return Err(DurationError::Unparsable);
    }
    // Saturating far above `Duration::MAX`, so that overflow is detected below.
    let whole = int
        .bytes()
        .fold(0u128, |total, digit| {
            total
                .saturating_mul(10)
                .saturating_add(u128::from(digit - b'0'))
        })
        .saturating_mul(unit_nanos);
    let total = whole.saturating_add(fraction_nanos(frac, unit_nanos));
    let secs = u64::try_from(total / NANOS_PER_SEC).map_err(|_| DurationError::Overflow)?;
    Ok(Dur {
        secs,
        nanos: (total % NANOS_PER_SEC) as u32,
    })
}

/// `text` split where the number (digits, `.` and `_`) ends; the unit may be empty.
fn split_number(text: &str) -> (&str, &str) {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(text.len());
    text.split_at(split)
}

/// The nanoseconds in one `unit`, if it is one of [`UNITS`].
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

/// `0.<frac>` units in whole nanoseconds, exactly, truncated. Folding the digits from the last
/// one, `floor((digit * unit + below) / 10)` keeps every digit's share (a digit of an hour worth
/// a fraction of a nanosecond still adds to the digits before it), and the running value stays
/// below one unit, so it cannot overflow however many digits there are.
fn fraction_nanos(frac: &str, unit_nanos: u128) -> u128 {
    frac.bytes().rev().fold(0, |below, digit| {
        (u128::from(digit - b'0') * unit_nanos + below) / 10
    })
}

/// Why `text` (rejected as [`DurationError::Unparsable`]) is not a duration, as one line of an
/// error message: a missing unit, an unknown unit (with the accepted spelling when the unit is a
/// common long form such as `secs`), or not a number at all.
pub fn explain_unparsable(text: &str) -> String {
    let (number, unit) = split_number(text.trim());
    let unit = unit.trim_start();
    let is_number = number.bytes().any(|b| b.is_ascii_digit())
        && number.bytes().filter(|b| *b == b'.').count() <= 1;
    if !is_number || !unit.chars().all(char::is_alphabetic) {
        return format!(
            "`\"{text}\"` is not a duration; expected a number and a unit such as `\"200ms\"` or `\"1.5s\"` (units: {UNITS})"
        );
    }
    if unit.is_empty() {
        return format!(
            "`\"{text}\"` has no unit; write `\"{number}ms\"` or `\"{number}s\"` (units: {UNITS})"
        );
    }
    match long_unit(unit) {
        Some(short) => format!(
            "unknown unit `{unit}` in `\"{text}\"`; write `\"{number}{short}\"` (units: {UNITS})"
        ),
        None => format!("unknown unit `{unit}` in `\"{text}\"`; expected one of {UNITS}"),
    }
}

/// The accepted unit for a common longer spelling (`secs` -> `s`) or another case (`MS`).
fn long_unit(unit: &str) -> Option<&'static str> {
    let unit = unit.to_ascii_lowercase();
    let short = match unit.as_str() {
        "ns" | "nsec" | "nsecs" | "nano" | "nanos" | "nanosecond" | "nanoseconds" => "ns",
        "us" | "usec" | "usecs" | "micro" | "micros" | "microsecond" | "microseconds" => "us",
        "ms" | "msec" | "msecs" | "milli" | "millis" | "millisecond" | "milliseconds" => "ms",
        "s" | "sec" | "secs" | "second" | "seconds" => "s",
        "m" | "min" | "mins" | "minute" | "minutes" => "m",
        "h" | "hr" | "hrs" | "hour" | "hours" => "h",
        _ => return None,
    };
    Some(short)
}

/// `Dur` shown the way a user would write it back, e.g. `1.5s` or `250ms`.
pub fn display(d: Dur) -> String {
    let ns = d.as_nanos();
    for (unit, size) in [
        ("h", 3_600_000_000_000u128),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
    ] {
        if ns >= size && ns % size == 0 {
            return format!("{}{unit}", ns / size);
        }
    }
    if ns >= 1_000_000_000 {
        return format!("{}s", ns as f64 / 1e9);
    }
    format!("{ns}ns")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(text: &str) -> u128 {
        parse(text).unwrap().as_nanos()
    }

    #[test]
    fn units() {
        assert_eq!(ns("7ns"), 7);
        assert_eq!(ns("500us"), 500_000);
        assert_eq!(ns("500\u{b5}s"), 500_000);
        assert_eq!(ns("1\u{3bc}s"), 1_000);
        assert_eq!(ns("250ms"), 250_000_000);
        assert_eq!(ns("2s"), 2_000_000_000);
        assert_eq!(ns("1m"), 60_000_000_000);
        assert_eq!(ns("1h"), 3_600_000_000_000);
        assert_eq!(ns("0ms"), 0);
    }

    #[test]
    fn fractions_and_spacing() {
        assert_eq!(ns("1.5s"), 1_500_000_000);
        assert_eq!(ns(".5s"), 500_000_000);
        assert_eq!(ns("2.s"), 2_000_000_000);
        assert_eq!(ns("10 ms"), 10_000_000);
        assert_eq!(ns("1_000ms"), 1_000_000_000);
        assert_eq!(ns("0.0000000001s"), 0);
    }

    #[test]
    fn rejections() {
        assert_eq!(parse("-1s"), Err(DurationError::Negative));
        for bad in [
            "",
            "s",
            "ms",
            "5",
            "5 parsecs",
            "1.2.3s",
            "five s",
            ".s",
            "1e3ms",
        ] {
            assert_eq!(parse(bad), Err(DurationError::Unparsable), "{bad:?}");
        }
        assert_eq!(
            parse("99999999999999999999999h"),
            Err(DurationError::Overflow)
        );
        assert!(parse("18446744073709551615s").is_ok());
        assert_eq!(parse("18446744073709551616s"), Err(DurationError::Overflow));
    }

    #[test]
    fn explanations() {
        assert!(explain_unparsable("200").starts_with("`\"200\"` has no unit; write `\"200ms\"`"));
        assert!(explain_unparsable("2 parsecs")
            .starts_with("unknown unit `parsecs` in `\"2 parsecs\"`; expected one of"));
        assert!(explain_unparsable("5 secs")
            .starts_with("unknown unit `secs` in `\"5 secs\"`; write `\"5s\"`"));
        assert!(explain_unparsable("1.5 Minutes").contains("write `\"1.5m\"`"));
        assert!(explain_unparsable("100MS").contains("write `\"100ms\"`"));
        for not_a_number in ["fast", "", "ms", "1.2.3s", ".s", "1e3ms", "-"] {
            assert!(
                explain_unparsable(not_a_number).contains("is not a duration"),
                "{not_a_number:?}"
            );
        }
    }

    /// The grammar's cases, shared with retry-runtime's copy of the parser.
    const CORPUS: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/durations.corpus"
    ));

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
            let parsed = match parse(input) {
                Ok(d) => format!("{}.{:09}", d.secs, d.nanos),
                Err(_) => "error".to_string(),
            };
            if parsed != expected {
                failures.push(format!(
                    "durations.corpus:{at}: {input:?} parsed as {parsed}, expected {expected}"
                ));
            }
            cases += 1;
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert!(cases > 100, "durations.corpus has only {cases} cases");
    }

    #[test]
    fn display_round_trips() {
        for text in ["250ms", "2s", "1m", "1h", "500us", "7ns"] {
            assert_eq!(display(parse(text).unwrap()), text);
        }
        assert_eq!(display(parse("1.5s").unwrap()), "1500ms");
    }
}
