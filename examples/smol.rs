//! `#[retry]` and `Policy::retry` under `smol::block_on`, on async-io's timer: no tokio runtime
//! anywhere. `cargo run --example smol --features smol`.

use std::cell::Cell;
use std::time::{Duration, Instant};

use retry_runtime::runtime::SmolSleeper;
use retry_runtime::{retry, Policy, TimedOut};

#[derive(Debug)]
enum Error {
    Busy,
    TimedOut,
}

impl From<TimedOut> for Error {
    fn from(_: TimedOut) -> Self {
        Error::TimedOut
    }
}

/// A call that fails twice before it answers. (`sleeper = SmolSleeper` picks smol's timer in a
/// build that also has tokio, as this workspace does; with only the `smol` feature it is the
/// default and the key can go.)
#[retry(attempts = 3, base = "50ms", timeout = "1s", sleeper = SmolSleeper)]
async fn flaky(calls: &Cell<u32>) -> Result<&'static str, Error> {
    calls.set(calls.get() + 1);
    println!("attempt {}", calls.get());
    if calls.get() < 3 {
        Err(Error::Busy)
    } else {
        Ok("pong")
    }
}

fn main() {
    smol::block_on(async {
        let started = Instant::now();
        let calls = Cell::new(0);
        let reply = flaky(&calls).await;
        println!(
            "#[retry]: {reply:?} after {} attempts, {:?}",
            calls.get(),
            started.elapsed()
        );

        let calls = Cell::new(0);
        let policy = Policy::new()
            .with_attempts(2)
            .with_base(Duration::from_millis(20));
        let reply: Result<(), Error> = policy
            .retry(|_| {
                calls.set(calls.get() + 1);
                std::future::pending()
            })
            .timeout(Duration::from_millis(100))
            .sleeper(SmolSleeper)
            .await;
        println!(
            "Policy::retry: {reply:?} after {} attempts, each cut off at 100ms",
            calls.get()
        );
    });
}
