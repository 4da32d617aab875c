//! Prints the size of the future a retried call returns, for a 1-byte body, next to the same
//! operation through backon, tokio-retry2, tokio-retry and tryhard: `size_of_val` of the
//! future before it is first polled, so every byte is memory the caller pays for each call in
//! flight.
//!
//! ```text
//! cargo run --release -p retry-benchmarks --example sizes
//! ```
//!
//! Exits with an error if `#[retry]` is not the smallest. A second table: the future of one
//! `call` on a trivial `tower::Service`, bare and behind each retry layer (the services of
//! `benches/subjects/services.rs`).

use std::mem::size_of_val;
use std::process::ExitCode;
use std::time::Duration;

use backon::Retryable;
use retry_runtime::retry;

type Error = std::io::Error;

#[allow(dead_code)]
#[path = "../benches/subjects/services.rs"]
mod services;

/// The body everyone runs: one byte of state, ready at once.
async fn one_byte() -> Result<u8, Error> {
    Ok(std::hint::black_box(1u8))
}

#[retry(attempts = 3, base = "10ms")]
async fn ours() -> Result<u8, Error> {
    Ok(std::hint::black_box(1u8))
}

#[retry(attempts = 3, base = "10ms", max = "1s", jitter = full)]
async fn ours_full_jitter() -> Result<u8, Error> {
    Ok(std::hint::black_box(1u8))
}

#[retry(attempts = 3, base = "10ms", jitter = decorrelated, deadline = "5s")]
async fn ours_all_state() -> Result<u8, Error> {
    Ok(std::hint::black_box(1u8))
}

fn ten_ms_backon() -> backon::ExponentialBuilder {
    backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(10))
        .with_max_times(2)
}

#[backon_macros::backon(backoff = ten_ms_backon, sleep = tokio::time::sleep)]
async fn backon_macro() -> Result<u8, Error> {
    Ok(std::hint::black_box(1u8))
}

struct Row {
    name: &'static str,
    bytes: usize,
    ours: bool,
}

fn rows() -> Vec<Row> {
    let row = |name, bytes, ours| Row { name, bytes, ours };
    let tokio_retry2_action = || async {
        one_byte()
            .await
            .map_err(tokio_retry2::RetryError::transient)
    };
    vec![
        row("#[retry] (attempts = 3)", size_of_val(&ours()), true),
        row(
            "#[retry] (full jitter, max)",
            size_of_val(&ours_full_jitter()),
            true,
        ),
        row(
            "#[retry] (decorrelated, deadline)",
            size_of_val(&ours_all_state()),
            true,
        ),
        row(
            "backon Retryable",
            size_of_val(&one_byte.retry(ten_ms_backon())),
            false,
        ),
        row(
            "backon-macros #[backon]",
            size_of_val(&backon_macro()),
            false,
        ),
        row(
            "tokio-retry2 Retry::spawn",
            size_of_val(&tokio_retry2::Retry::spawn(
                tokio_retry2::strategy::ExponentialBackoff::from_millis(10).take(2),
                tokio_retry2_action,
            )),
            false,
        ),
        row(
            "tokio-retry Retry::spawn",
            size_of_val(&tokio_retry::Retry::start(
                tokio_retry::strategy::ExponentialBackoff::from_millis(10).take(2),
                one_byte,
            )),
            false,
        ),
        row(
            "tryhard retry_fn",
            size_of_val(
                &tryhard::retry_fn(one_byte)
                    .retries(2)
                    .exponential_backoff(Duration::from_millis(10)),
            ),
            false,
        ),
    ]
}

/// The future of `Service::call` on the same trivial service, bare and behind each layer.
fn tower_table() {
    use tower::Service;
    println!(
        "\nFuture of one `call` on a trivial tower service (size_of_val before the first poll)\n"
    );
    println!("| service | bytes |");
    println!("|---|---:|");
    println!(
        "| bare `service_fn` | {} |",
        services::future_size(services::bare())
    );
    println!(
        "| retry-runtime `RetryLayer` | {} |",
        services::future_size(services::ours())
    );
    println!(
        "| `tower::retry::Retry` | {} |",
        services::future_size(services::tower_retry())
    );
    // A boxed future: the box on the stack, the state machine on the heap.
    let mut resilience = services::tower_resilience();
    let _ = resilience.poll_ready(&mut std::task::Context::from_waker(std::task::Waker::noop()));
    let boxed = resilience.call(services::Req(1));
    println!(
        "| tower-resilience retry | {} (+ {} on the heap) |",
        size_of_val(&boxed),
        size_of_val(&*boxed)
    );
}

fn main() -> ExitCode {
    let rows = rows();
    println!("Future size for a 1-byte body (size_of_val before the first poll)\n");
    println!("| future | bytes |");
    println!("|---|---:|");
    println!(
        "| the body alone, no retry | {} |",
        size_of_val(&one_byte())
    );
    println!(
        "| tokio::time::Sleep | {} |",
        std::mem::size_of::<tokio::time::Sleep>()
    );
    for row in &rows {
        println!("| {} | {} |", row.name, row.bytes);
    }
    tower_table();
    let largest_ours = rows.iter().filter(|r| r.ours).map(|r| r.bytes).max();
    let smallest_peer = rows.iter().filter(|r| !r.ours).min_by_key(|r| r.bytes);
    match (largest_ours, smallest_peer) {
        (Some(ours), Some(peer)) if ours < peer.bytes => {
            println!(
                "\nevery #[retry] future is smaller than the smallest peer ({}: {} B)",
                peer.name, peer.bytes
            );
            ExitCode::SUCCESS
        }
        (Some(ours), Some(peer)) => {
            eprintln!(
                "\n#[retry] is not the smallest: {ours} B against {} at {} B",
                peer.name, peer.bytes
            );
            ExitCode::FAILURE
        }
        _ => ExitCode::FAILURE,
    }
}
