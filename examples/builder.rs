//! The second front door: retrying a closure with a policy known only at run time, as a chat
//! client library does for the policy its users configure (`Client::new(..).retry(policy)`).
//!
//! Run with `cargo run --example builder`.

use std::time::Duration;

use retry_runtime::{Attempt, Classify, Decision, Policy, RetryInfo};
use tokio::time::Instant;

/// What the (simulated) chat API answers.
#[derive(Debug)]
enum ApiError {
    /// 429, with `Retry-After`.
    RateLimited(Duration),
    /// 529 / 503: overloaded, retry with backoff.
    Overloaded,
    /// 400: the request is wrong; retrying cannot help.
    BadRequest,
}

impl Classify for ApiError {
    fn classify(&self) -> Decision {
        match self {
            ApiError::RateLimited(wait) => Decision::RetryAfter(*wait),
            ApiError::Overloaded => Decision::Retry,
            ApiError::BadRequest => Decision::Stop,
        }
    }
}

/// A client whose users choose the retry policy.
struct ChatClient {
    policy: Policy,
    answers: std::sync::Mutex<Vec<Result<String, ApiError>>>,
}

impl ChatClient {
    /// One request, sent with the call's idempotency key (the same for every attempt).
    async fn send(&self, prompt: &str, attempt: Attempt) -> Result<String, ApiError> {
        println!(
            "  attempt {} (key {}): {prompt:?}",
            attempt.attempt(),
            attempt.idempotency_key()
        );
        self.answers.lock().unwrap().remove(0)
    }

    /// Retries `send` by the user's policy: the library has no attribute to write, only a value.
    async fn chat(&self, prompt: &str) -> Result<String, ApiError> {
        self.policy
            .retry(async |attempt| self.send(prompt, attempt).await)
            .classify()
            .on_retry(|outcome: &Result<String, ApiError>, info: &RetryInfo| {
                println!("  {outcome:?}: retrying in {:?}", info.delay())
            })
            .await
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let client = ChatClient {
        // From configuration in a real program (feature `serde`, see `policy_from_file`).
        policy: Policy::new()
            .with_attempts(4)
            .with_base(Duration::from_millis(100))
            .with_max_hint(Duration::from_secs(5)),
        answers: std::sync::Mutex::new(vec![
            Err(ApiError::Overloaded),
            Err(ApiError::RateLimited(Duration::from_millis(300))),
            Ok("Hello!".to_string()),
            Err(ApiError::BadRequest),
        ]),
    };
    let start = Instant::now();
    println!("chat(\"hi\"):");
    println!(
        "  -> {:?} after {:?}",
        client.chat("hi").await,
        start.elapsed()
    );
    println!("chat(\"bad\"):");
    println!("  -> {:?} (a 400 is not retried)", client.chat("bad").await);
}
