//! Instructions per call, counted by callgrind rather than timed: the deterministic half of the
//! performance contract ("at most 10 instructions more than the same body without the
//! attribute"), immune to a busy machine.
//!
//! ```text
//! benchmarks/scripts/instructions.sh     # needs valgrind; prints the table
//! ```
//!
//! The script runs this binary as `instructions SCENARIO CALLS` under
//! `valgrind --tool=callgrind` twice, with two call counts, and divides the difference in
//! instructions by the difference in calls, so start-up and one-time costs cancel out. Run
//! by `cargo bench` (no arguments but `--bench`), it runs every scenario once as a smoke test.

use std::cell::Cell;
use std::hint::black_box;
use std::process::ExitCode;
use std::time::Duration;

use backon::Retryable;
use rand::rngs::SmallRng;
use rand::SeedableRng;
use retry_runtime::{retry, Backoff, Jitter, Policy};
use retry_suite::run_ready;

#[macro_use]
mod subjects;
use subjects::*;

#[retry(attempts = 3, base = "200ms", jitter = decorrelated, deadline = "5s")]
async fn ours_all_state(x: u64) -> Result<u64, u32> {
    succeed!(x)
}

/// The scenarios, by name: each runs its operation `calls` times.
const SCENARIOS: &[&str] = &[
    "async: no retry",
    "async: hand-written loop",
    "async: #[retry]",
    "async: Policy::retry",
    "async: #[retry] decorrelated + deadline",
    "async: backon",
    "async: tokio-retry2",
    "tower: bare service",
    "tower: retry-runtime RetryLayer",
    "tower: tower::retry::Retry",
    "tower: tower-resilience retry",
    "sync: no retry",
    "sync: #[retry]",
    "sync: retry crate",
    "sync three attempts: plain calls",
    "sync three attempts: #[retry]",
    "sync three attempts: retry crate",
    "delay: exponential x none",
    "delay: exponential x full",
    "delay: exponential x equal",
    "delay: exponential x decorrelated",
    "delay: constant x none",
    "delay: constant x full",
    "delay: constant x equal",
    "delay: constant x decorrelated",
    "delay: linear x none",
    "delay: linear x full",
    "delay: linear x equal",
    "delay: linear x decorrelated",
    "delay: fibonacci x none",
    "delay: fibonacci x full",
    "delay: fibonacci x equal",
    "delay: fibonacci x decorrelated",
];

fn run(scenario: &str, calls: u64) -> Option<u64> {
    let mut acc = 0u64;
    let mut add = |r: Result<u64, u32>| acc = acc.wrapping_add(r.unwrap_or(1));
    match scenario {
        "async: no retry" => (0..calls).for_each(|i| add(run_ready(plain(i)))),
        "async: hand-written loop" => (0..calls).for_each(|i| add(run_ready(hand_written(i)))),
        "async: #[retry]" => (0..calls).for_each(|i| add(run_ready(ours(i)))),
        "async: Policy::retry" => {
            const POLICY: Policy = Policy::new()
                .with_attempts(3)
                .with_base(Duration::from_millis(200));
            (0..calls).for_each(|i| {
                add(run_ready(std::future::IntoFuture::into_future(
                    POLICY.retry(async |_| plain(i).await),
                )))
            })
        }
        "async: #[retry] decorrelated + deadline" => {
            // The deadline reads tokio's clock, which needs a runtime.
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .ok()?;
            runtime.block_on(async {
                for i in 0..calls {
                    add(ours_all_state(i).await);
                }
            });
        }
        "async: backon" => (0..calls).for_each(|i| {
            add(run_ready((move || plain(i)).retry(backon_default())));
        }),
        "async: tokio-retry2" => (0..calls).for_each(|i| {
            add(run_ready(tokio_retry2::Retry::spawn(
                tokio_retry2::strategy::ExponentialBackoff::from_millis(200).take(2),
                move || async move { plain(i).await.map_err(tokio_retry2::RetryError::transient) },
            )));
        }),
        "tower: bare service" => {
            let mut service = services::bare();
            (0..calls).for_each(|i| add(services::call(&mut service, i)));
        }
        "tower: retry-runtime RetryLayer" => {
            let mut service = services::ours();
            (0..calls).for_each(|i| add(services::call(&mut service, i)));
        }
        "tower: tower::retry::Retry" => {
            let mut service = services::tower_retry();
            (0..calls).for_each(|i| add(services::call(&mut service, i)));
        }
        "tower: tower-resilience retry" => {
            let mut service = services::tower_resilience();
            (0..calls).for_each(|i| add(services::call(&mut service, i)));
        }
        "sync: no retry" => (0..calls).for_each(|i| add(plain_sync(i))),
        "sync: #[retry]" => (0..calls).for_each(|i| add(ours_sync(i))),
        "sync: retry crate" => (0..calls).for_each(|i| {
            add(
                retry::retry(retry::delay::Exponential::from_millis(200).take(2), || {
                    plain_sync(i)
                })
                .map_err(|_| 0),
            );
        }),
        "sync three attempts: plain calls" => (0..calls).for_each(|_| {
            let tries = Cell::new(0);
            let _ = flaky_sync(black_box(&tries));
            let _ = flaky_sync(black_box(&tries));
            add(flaky_sync(black_box(&tries)));
        }),
        "sync three attempts: #[retry]" => {
            (0..calls).for_each(|_| add(ours_flaky_sync(black_box(&Cell::new(0)))));
        }
        "sync three attempts: retry crate" => (0..calls).for_each(|_| {
            let tries = Cell::new(0);
            add(
                retry::retry(retry::delay::Fixed::from_millis(0).take(2), || {
                    flaky_sync(black_box(&tries))
                })
                .map_err(|_| 0),
            );
        }),
        delay if delay.starts_with("delay: ") => {
            let (backoff, jitter) = delay_pair(&delay["delay: ".len()..])?;
            let policy = black_box(
                Policy::new()
                    .with_attempts(u32::MAX)
                    .with_base(Duration::from_millis(100))
                    .with_max(Duration::from_secs(30))
                    .with_backoff(backoff)
                    .with_jitter(jitter),
            );
            let mut rng = SmallRng::seed_from_u64(1);
            let mut previous = Duration::ZERO;
            for i in 0..calls {
                let k = (i % 16) as u32 + 1;
                previous = policy.jittered_delay(black_box(k), previous, &mut rng);
                acc = acc.wrapping_add(previous.subsec_nanos().into());
            }
        }
        _ => return None,
    }
    Some(black_box(acc))
}

fn delay_pair(name: &str) -> Option<(Backoff, Jitter)> {
    let (backoff, jitter) = name.split_once(" x ")?;
    let backoff = Backoff::ALL.into_iter().find(|b| b.name() == backoff)?;
    let jitter = Jitter::ALL.into_iter().find(|j| j.name() == jitter)?;
    Some((backoff, jitter))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match &args[..] {
        [scenario, calls] if !scenario.starts_with("--") => {
            let Ok(calls) = calls.parse() else {
                eprintln!("CALLS must be a number, not {calls:?}");
                return ExitCode::FAILURE;
            };
            match run(scenario, calls) {
                Some(_) => ExitCode::SUCCESS,
                None => {
                    eprintln!("unknown scenario {scenario:?}; one of:");
                    for name in SCENARIOS {
                        eprintln!("  {name}");
                    }
                    ExitCode::FAILURE
                }
            }
        }
        [list] if list == "--list-scenarios" => {
            for name in SCENARIOS {
                println!("{name}");
            }
            ExitCode::SUCCESS
        }
        _ => {
            // `cargo bench`: check that every scenario runs; counting needs the script.
            for name in SCENARIOS {
                if run(name, 10).is_none() {
                    eprintln!("scenario {name:?} did not run");
                    return ExitCode::FAILURE;
                }
            }
            println!(
                "instructions: {} scenarios run; count instructions with benchmarks/scripts/instructions.sh",
                SCENARIOS.len()
            );
            ExitCode::SUCCESS
        }
    }
}
