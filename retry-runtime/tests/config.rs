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
        .with_max_hint(Duration::from_secs(30));
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
            .with_max_hint(Duration::from_secs(5)),
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
        ("attempts = 0", "invalid `attempts`"),
        (
            r#"base = "2 parsecs""#,
            "invalid `base`: `2 parsecs`; expected a duration",
        ),
        (
            r#"base = "3s"
max = "1s""#,
            "invalid `max`: `max` must not be below `base`",
        ),
        ("factor = 0.5", "invalid `factor`"),
        (
            r#"backoff = "expo""#,
            "invalid `backoff`: `expo`; expected one of",
        ),
        (r#"jitter = "lots""#, "invalid `jitter`: `lots`"),
        (r#"deadline = "-1s""#, "invalid `deadline`"),
        (r#"max_hint = "soon""#, "invalid `max_hint`"),
        (
            r#"backoff = "constant"
factor = 2.0"#,
            "`factor` only applies",
        ),
        ("retries = 3", "unknown field `retries`"),
    ] {
        let err = toml::from_str::<Policy>(text).unwrap_err().to_string();
        assert!(err.contains(expected), "{text:?}: {err}");
    }
}
