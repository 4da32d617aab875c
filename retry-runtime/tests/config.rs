//! Feature `serde`: a `Policy` from the configuration files people write, validated on load.
#![cfg(feature = "serde")]

use std::time::Duration;

use retry_runtime::{Backoff, Jitter, Policy};

const MS: Duration = Duration::from_millis(1);

#[test]
fn every_field_from_toml() {
    let policy: Policy = toml::from_str(
        r#"
        attempts = 5
        base = "100ms"
        max = "2s"
        backoff = "exponential"
        factor = 3.0
        jitter = "full"
        deadline = "10s"
        max_hint = "30s"
        timeout = "750ms"
        "#,
    )
    .unwrap();
    let expected = Policy::new()
        .with_attempts(5)
        .with_base(MS * 100)
        .with_max(Duration::from_secs(2))
        .with_backoff(Backoff::Exponential)
        .with_factor(3.0)
        .with_jitter(Jitter::Full)
        .with_deadline(Duration::from_secs(10))
        .with_max_hint(Duration::from_secs(30))
        .with_timeout(MS * 750);
    assert_eq!(policy, expected);
}

#[test]
fn missing_fields_take_the_attribute_defaults() {
    let policy: Policy = toml::from_str("").unwrap();
    assert_eq!(policy, Policy::new());
    let policy: Policy = toml::from_str(r#"base = "5s""#).unwrap();
    // The default `max` follows a larger `base`, as in the attribute.
    assert_eq!(policy.max(), Duration::from_secs(5));
}

#[test]
fn round_trips_through_toml_and_json() {
    for policy in [
        Policy::new(),
        Policy::new()
            .with_attempts(7)
            .with_base(Duration::from_micros(1500))
            .with_max(MS * 900)
            .with_backoff(Backoff::Fibonacci)
            .with_jitter(Jitter::Decorrelated)
            .with_deadline(Duration::from_secs(90))
            .with_max_hint(Duration::from_secs(5))
            .with_timeout(Duration::from_secs(30)),
        Policy::new().with_timeout(Duration::from_nanos(1_500_000_001)),
        Policy::new().with_timeout(Duration::MAX),
        Policy::new()
            .with_backoff(Backoff::Linear)
            .with_jitter(Jitter::Equal),
    ] {
        let text = toml::to_string(&policy).unwrap();
        assert_eq!(toml::from_str::<Policy>(&text).unwrap(), policy, "{text}");
        let json = serde_json::to_string(&policy).unwrap();
        assert_eq!(
            serde_json::from_str::<Policy>(&json).unwrap(),
            policy,
            "{json}"
        );
    }
}

/// A bad field is an error naming it and what was expected, never a silently fixed policy.
#[test]
fn bad_fields_are_errors_that_name_them() {
    for (text, expected) in [
        (
            "attempts = 0",
            "`attempts`: invalid value: integer `0`, expected a whole number from 1 to 4294967295",
        ),
        (
            r#"base = "2 parsecs""#,
            r#"`base`: invalid value: string "2 parsecs", expected a duration such as `"200ms"`"#,
        ),
        (
            r#"base = "3s"
max = "1s""#,
            r#"`max`: `"1s"` is below `base` (`"3s"`)"#,
        ),
        (
            r#"max = "100ms""#,
            r#"`max`: `"100ms"` is below `base` (`"200ms"`)"#,
        ),
        (
            "factor = 0.5",
            "`factor`: invalid value: floating point `0.5`, expected a finite number of at least 1.0",
        ),
        (
            "factor = inf",
            "`factor`: invalid value: floating point `inf`",
        ),
        (
            r#"backoff = "expo""#,
            r#"`backoff`: invalid value: string "expo", expected one of `"exponential"`, `"constant"`, `"linear"`, `"fibonacci"`"#,
        ),
        (
            r#"jitter = "lots""#,
            r#"`jitter`: invalid value: string "lots", expected one of `"none"`, `"full"`"#,
        ),
        (r#"deadline = "-1s""#, r#"`deadline`: invalid value: string "-1s""#),
        (
            r#"deadline = "18446744073709551616s""#,
            "expected a duration of at most `Duration::MAX`",
        ),
        (r#"max_hint = "soon""#, r#"`max_hint`: invalid value: string "soon""#),
        (
            r#"timeout = "0ms""#,
            r#"`timeout`: invalid value: string "0ms", expected a duration above zero"#,
        ),
        (r#"timeout = "30""#, r#"`timeout`: invalid value: string "30""#),
        (
            r#"backoff = "constant"
factor = 2.0"#,
            r#"`factor`: only applies to `backoff = "exponential"`, not `backoff = "constant"`"#,
        ),
        ("retries = 3", "unknown field `retries`, expected one of `attempts`"),
        ("timeuot = \"1s\"", "unknown field `timeuot`"),
    ] {
        let err = toml::from_str::<Policy>(text).unwrap_err().to_string();
        assert!(err.contains(expected), "{text:?}: {err}");
    }
}

/// A value of the wrong type or out of range, in JSON and in the same TOML: the error names the
/// field in backticks and says what was expected, whatever the format.
#[test]
fn wrong_types_and_ranges_name_the_field_in_json_and_toml() {
    const WHOLE: &str = "expected a whole number from 1 to 4294967295";
    const FACTOR: &str = "expected a finite number of at least 1.0";
    const DURATION: &str = "expected a duration such as";
    for (json, toml_text, field, expected) in [
        (r#"{"attempts": -1}"#, "attempts = -1", "attempts", WHOLE),
        (
            r#"{"attempts": 4294967296}"#,
            "attempts = 4294967296",
            "attempts",
            WHOLE,
        ),
        (r#"{"attempts": 2.5}"#, "attempts = 2.5", "attempts", WHOLE),
        (
            r#"{"attempts": "3"}"#,
            r#"attempts = "3""#,
            "attempts",
            WHOLE,
        ),
        // Too large for an `f64`: the format's own error, with the field in front.
        (r#"{"factor": 1e400}"#, "factor = 1e400", "factor", ""),
        (
            r#"{"factor": "NaN"}"#,
            r#"factor = "NaN""#,
            "factor",
            FACTOR,
        ),
        (r#"{"base": 5}"#, "base = 5", "base", DURATION),
        (
            r#"{"max_hint": true}"#,
            "max_hint = true",
            "max_hint",
            DURATION,
        ),
        (
            r#"{"jitter": 1}"#,
            "jitter = 1",
            "jitter",
            "expected one of",
        ),
    ] {
        let json_err = serde_json::from_str::<Policy>(json)
            .unwrap_err()
            .to_string();
        let toml_err = toml::from_str::<Policy>(toml_text).unwrap_err().to_string();
        for (input, err) in [(json, json_err), (toml_text, toml_err)] {
            assert!(err.contains(&format!("`{field}`: ")), "{input}: {err}");
            assert!(err.contains(expected), "{input}: {err}");
            // The position is given once, not once per wrapping.
            assert!(err.matches("at line").count() <= 1, "{input}: {err}");
        }
    }
}

/// In a larger configuration, the error names the field, and TOML points at its value.
#[test]
fn errors_of_a_nested_policy_name_the_field() {
    #[derive(Debug, serde::Deserialize)]
    struct Service {
        #[allow(dead_code)]
        retry: Policy,
    }
    let err = toml::from_str::<Service>("[retry]\nattempts = 3\nbase = 5\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 3, column 8"), "{err}");
    assert!(err.contains("`base`: invalid type: integer `5`"), "{err}");
    let err = serde_json::from_str::<Service>(r#"{"retry": {"jitter": "lots"}}"#)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(r#"`jitter`: invalid value: string "lots""#),
        "{err}"
    );
}

#[test]
fn a_field_written_twice_is_an_error() {
    let err = serde_json::from_str::<Policy>(r#"{"attempts": 3, "attempts": 4}"#).unwrap_err();
    assert!(
        err.to_string().contains("duplicate field `attempts`"),
        "{err}"
    );
}

/// `null` (JSON, YAML) leaves a field at its default, as if it were not written.
#[test]
fn null_leaves_a_field_unset() {
    let policy: Policy = serde_json::from_str(r#"{"attempts": null, "timeout": null}"#).unwrap();
    assert_eq!(policy, Policy::new());
}

#[test]
fn timeout_is_read_and_written() {
    let policy: Policy = toml::from_str(r#"timeout = "1.5s""#).unwrap();
    assert_eq!(policy.timeout(), Some(MS * 1500));
    let text = toml::to_string(&policy).unwrap();
    assert!(text.contains(r#"timeout = "1500ms""#), "{text}");
    let text = toml::to_string(&Policy::new()).unwrap();
    assert!(!text.contains("timeout"), "{text}");
}
