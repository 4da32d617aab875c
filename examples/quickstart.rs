//! Retries a flaky operation and prints each attempt, its delay and the outcome.
//!
//! Run with `cargo run --example quickstart`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use retry_runtime::{retry, RetryInfo};

/// How many times the flaky service has been called.
static CALLS: AtomicU32 = AtomicU32::new(0);

#[derive(Debug)]
enum FetchError {
    Unavailable(u32),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::Unavailable(n) => write!(f, "service unavailable (call {n})"),
        }
    }
}

fn report(err: &FetchError, info: &RetryInfo) {
    println!(
        "  attempt {} failed: {err}; retrying in {:?} ({:?} elapsed)",
        info.attempt(),
        info.delay(),
        info.elapsed()
    );
}

/// Fails three times, then answers.
#[retry(attempts = 5, base = "200ms", max = "1s", jitter, on_retry = report)]
async fn fetch_user(id: u64) -> Result<String, FetchError> {
    let call = CALLS.fetch_add(1, Ordering::SeqCst) + 1;
    println!("  attempt {call}: GET /users/{id}");
    if call <= 3 {
        return Err(FetchError::Unavailable(call));
    }
    Ok(format!("user {id}"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    println!("#[retry(attempts = 5, base = \"200ms\", max = \"1s\", jitter, on_retry = report)]");
    let started = Instant::now();
    match fetch_user(42).await {
        Ok(user) => println!(
            "outcome: Ok({user:?}) after {} calls in {:?}",
            CALLS.load(Ordering::SeqCst),
            started.elapsed()
        ),
        Err(err) => println!("outcome: Err({err}) after {:?}", started.elapsed()),
    }
}
