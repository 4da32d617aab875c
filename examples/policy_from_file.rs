//! A retry policy read from a configuration file at run time (feature `serde`), then used by
//! `#[retry(policy = ...)]` and by a hand-driven loop through `Policy::schedule`.
//!
//! ```sh
//! cargo run --example policy_from_file --features serde            # examples/retry.toml
//! cargo run --example policy_from_file --features serde -- my.toml
//! ```

use std::cell::Cell;
use std::time::Duration;

use retry_runtime::{retry, Decision, Policy};

/// A call that fails twice, then succeeds; the policy comes from the caller.
#[retry(policy = *policy)]
fn flaky(policy: &Policy, calls: &Cell<u32>) -> Result<u32, String> {
    calls.set(calls.get() + 1);
    if calls.get() < 3 {
        Err(format!("attempt {} failed", calls.get()))
    } else {
        Ok(calls.get())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/examples/retry.toml").into());
    let text = std::fs::read_to_string(&path)?;
    // Validated on load: `attempts = 0` or `base = "2 parsecs"` would be an error naming the field.
    // `timeout = "30s"` is read too, into `Policy::timeout`.
    let policy: Policy = toml::from_str(&text)?;
    println!("{path}: {policy:?}");
    println!("delays: {:?}", policy.delays().collect::<Vec<_>>());

    let calls = Cell::new(0);
    println!(
        "#[retry(policy = *policy)]: {:?} after {} calls",
        flaky(&policy, &calls),
        calls.get()
    );

    // The same decisions, for a loop driven by hand.
    let mut schedule = policy.schedule();
    let elapsed = Some(Duration::ZERO);
    while let Ok(info) = schedule.next(Decision::Retry, elapsed) {
        println!("retry {} after {:?}", info.attempt(), info.delay());
    }
    println!("and the written policy:\n{}", toml::to_string(&policy)?);

    // A bad value is an error that names the field and points at the value.
    let bad = "attempts = 4\nbase = 250\n";
    if let Err(err) = toml::from_str::<Policy>(bad) {
        println!("and a file with a mistake:\n{err}");
    }
    Ok(())
}
