//! The future of a `#[retry]` async fn is at most 64 bytes larger than the future of the same
//! fn without the attribute, for a body whose own future is larger than tokio's `Sleep` and
//! whose arguments are references or `Copy` (DESIGN.md, "Futures").
//!
//! The retry loop keeps the attempt's future and the sleep in the same space (they are never
//! alive at the same time), so the overhead is the loop's own state: the attempt counter, the
//! reference arguments (kept for the whole call, and copied into each attempt's future, as a
//! hand-written loop does), and whatever the policy needs: an 8-byte start stamp with
//! `deadline`, the previous delay as 8 bytes of nanoseconds with decorrelated jitter.

use std::mem::size_of_val;

use retry_runtime::retry;
use tokio::task::yield_now;

/// The contract's bound on what the retry loop may add. With the `tracing` feature each
/// attempt's future also holds the attempt's span: one pointer, 8 bytes (empty when no
/// subscriber wants the span), so the bound is 8 bytes more there.
const MAX_OVERHEAD: usize = if cfg!(feature = "tracing") {
    64 + 8
} else {
    64
};

/// Fills a 256-byte buffer, awaits with it alive, then reads it: the body's future holds the
/// buffer across the await, so it is larger than tokio's `Sleep`.
macro_rules! body {
    ($data:expr, $out:expr) => {{
        let mut buf = [0u8; 256];
        for (slot, byte) in buf.iter_mut().zip($data.iter().cycle()) {
            *slot = *byte;
        }
        yield_now().await;
        let sum: u64 = buf.iter().map(|&b| u64::from(b)).sum();
        *$out += sum;
        if sum == 0 {
            return Err(0u32);
        }
        Ok(sum)
    }};
}

async fn plain(data: &[u8], out: &mut u64) -> Result<u64, u32> {
    body!(data, out)
}

#[retry(attempts = 3, base = "10ms")]
async fn retried(data: &[u8], out: &mut u64) -> Result<u64, u32> {
    body!(data, out)
}

#[retry(attempts = 5, base = "10ms", max = "1s", jitter = full)]
async fn retried_full_jitter(data: &[u8], out: &mut u64) -> Result<u64, u32> {
    body!(data, out)
}

#[retry(attempts = 5, base = "10ms", deadline = "5s")]
async fn retried_with_deadline(data: &[u8], out: &mut u64) -> Result<u64, u32> {
    body!(data, out)
}

#[retry(attempts = 5, base = "10ms", jitter = decorrelated)]
async fn retried_decorrelated(data: &[u8], out: &mut u64) -> Result<u64, u32> {
    body!(data, out)
}

#[retry(attempts = 5, base = "10ms", jitter = decorrelated, deadline = "5s")]
async fn retried_with_all_state(data: &[u8], out: &mut u64) -> Result<u64, u32> {
    body!(data, out)
}

struct Client {
    seed: u8,
}

impl Client {
    async fn plain(&self, n: u32, out: &mut u64) -> Result<u64, u32> {
        let data = [self.seed, n as u8];
        body!(data, out)
    }

    #[retry(attempts = 3, base = "10ms", jitter)]
    async fn retried(&self, n: u32, out: &mut u64) -> Result<u64, u32> {
        let data = [self.seed, n as u8];
        body!(data, out)
    }
}

fn sleep_size() -> usize {
    std::mem::size_of::<tokio::time::Sleep>()
}

fn check(name: &str, plain: usize, retried: usize) {
    check_within(name, plain, retried, MAX_OVERHEAD);
}

fn check_within(name: &str, plain: usize, retried: usize, bound: usize) {
    let overhead = retried.saturating_sub(plain);
    println!("{name:<40} plain {plain:>4} B   #[retry] {retried:>4} B   overhead {overhead:>3} B");
    assert!(
        plain > sleep_size(),
        "{name}: the body's future ({plain} B) must be larger than tokio's Sleep ({} B) for the bound to apply",
        sleep_size()
    );
    assert!(
        overhead <= bound,
        "{name}: #[retry] adds {overhead} bytes to the future ({plain} B -> {retried} B), more than {bound}"
    );
}

#[test]
fn retried_future_is_at_most_64_bytes_larger() {
    println!("tokio Sleep: {} B", sleep_size());
    let data = [1u8, 2, 3];
    let mut out = 0;
    let plain_size = size_of_val(&plain(&data, &mut out));
    check(
        "attempts = 3",
        plain_size,
        size_of_val(&retried(&data, &mut out)),
    );
    check(
        "jitter = full, max",
        plain_size,
        size_of_val(&retried_full_jitter(&data, &mut out)),
    );
    check(
        "deadline",
        plain_size,
        size_of_val(&retried_with_deadline(&data, &mut out)),
    );
    check(
        "jitter = decorrelated",
        plain_size,
        size_of_val(&retried_decorrelated(&data, &mut out)),
    );
    check(
        "jitter = decorrelated, deadline",
        plain_size,
        size_of_val(&retried_with_all_state(&data, &mut out)),
    );
    let client = Client { seed: 7 };
    let plain_method = size_of_val(&client.plain(1, &mut out));
    check(
        "method: &self, Copy and &mut args",
        plain_method,
        size_of_val(&client.retried(1, &mut out)),
    );
}

/// The futures measured above do run: the sizes are of working code.
#[tokio::test(start_paused = true)]
async fn measured_futures_run_to_completion() {
    let data = [1u8, 2, 3];
    let mut out = 0;
    let expected = plain(&data, &mut out).await;
    assert_eq!(retried(&data, &mut out).await, expected);
    assert_eq!(retried_full_jitter(&data, &mut out).await, expected);
    assert_eq!(retried_with_deadline(&data, &mut out).await, expected);
    assert_eq!(retried_decorrelated(&data, &mut out).await, expected);
    assert_eq!(retried_with_all_state(&data, &mut out).await, expected);
    let client = Client { seed: 7 };
    assert_eq!(
        client.retried(1, &mut out).await,
        client.plain(1, &mut out).await
    );
    // An all-zero buffer fails every attempt: the error comes back after the retries.
    assert_eq!(retried(&[0], &mut out).await, Err(0));
}
