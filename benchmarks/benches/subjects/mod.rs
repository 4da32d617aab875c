//! The operations the benchmarks measure, shared by `benches/retry.rs` (timed) and
//! `benches/instructions.rs` (counted): the same body with no retry, with `#[retry]`, and in a
//! hand-written loop. Each benchmark uses a subset.
#![allow(dead_code)]

use std::cell::Cell;
use std::hint::black_box;
use std::time::Duration;

use retry_runtime::{retry, Policy};

pub(crate) mod services;

macro_rules! succeed {
    ($x:expr) => {{
        let x: u64 = black_box($x);
        if x == u64::MAX {
            return Err(0u32);
        }
        Ok(x.wrapping_mul(3))
    }};
}

pub(crate) async fn plain(x: u64) -> Result<u64, u32> {
    succeed!(x)
}

#[retry(attempts = 3, base = "200ms")]
pub(crate) async fn ours(x: u64) -> Result<u64, u32> {
    succeed!(x)
}

pub(crate) async fn hand_written(x: u64) -> Result<u64, u32> {
    const POLICY: Policy = Policy::new().with_attempts(3);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result: Result<u64, u32> = async { succeed!(x) }.await;
        if result.is_ok() || attempt >= POLICY.attempts() {
            return result;
        }
        tokio::time::sleep(POLICY.delay(attempt)).await;
    }
}

pub(crate) fn plain_sync(x: u64) -> Result<u64, u32> {
    succeed!(x)
}

#[retry(attempts = 3, base = "200ms")]
pub(crate) fn ours_sync(x: u64) -> Result<u64, u32> {
    succeed!(x)
}

macro_rules! flaky {
    ($tries:expr) => {{
        let tries: &Cell<u32> = $tries;
        let n = tries.get() + 1;
        tries.set(n);
        if n < 3 {
            return Err(n);
        }
        Ok(u64::from(n))
    }};
}

pub(crate) fn flaky_sync(tries: &Cell<u32>) -> Result<u64, u32> {
    flaky!(tries)
}

#[retry(attempts = 3, base = "0ms")]
pub(crate) fn ours_flaky_sync(tries: &Cell<u32>) -> Result<u64, u32> {
    flaky!(tries)
}

pub(crate) fn backon_default() -> backon::ExponentialBuilder {
    backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_times(2)
}
