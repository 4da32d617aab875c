//! Polling until a job is ready: an `Ok` that is not ready yet is a failed attempt (`until`),
//! with the attribute and with the builder.
//!
//! Run with `cargo run --example polling`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use retry_runtime::{retry, Policy};
use tokio::time::Instant;

#[derive(Debug, PartialEq)]
enum Job {
    Queued,
    Running(u8),
    Done(String),
}

static POLLS: AtomicU32 = AtomicU32::new(0);

/// The job's status, as a remote service would report it.
async fn status(job: u64) -> Result<Job, String> {
    let n = POLLS.fetch_add(1, Ordering::SeqCst);
    Ok(match n % 4 {
        0 => Job::Queued,
        1 => Job::Running(40),
        2 => Job::Running(90),
        _ => Job::Done(format!("report {job}")),
    })
}

/// Polls every 250 ms, at most 10 times; an unfinished job after that is returned as it is.
#[retry(attempts = 10, base = "250ms", backoff = constant, until = |job: &Job| matches!(job, Job::Done(_)))]
async fn wait_for(job: u64) -> Result<Job, String> {
    let job = status(job).await?;
    println!("  {job:?}");
    Ok(job)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let start = Instant::now();
    println!("#[retry(.., until = |job| matches!(job, Job::Done(_)))]");
    println!("  -> {:?} after {:?}", wait_for(7).await, start.elapsed());

    let policy = Policy::new()
        .with_attempts(10)
        .with_base(Duration::from_millis(250))
        .with_backoff(retry_runtime::Backoff::Constant);
    let start = Instant::now();
    println!("policy.retry(..).until(..)");
    let done = policy
        .retry(async |_| status(8).await)
        .until(|job: &Job| matches!(job, Job::Done(_)))
        .await;
    println!("  -> {done:?} after {:?}", start.elapsed());
}
