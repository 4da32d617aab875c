#!/usr/bin/env bash
# Instructions per call on the success path, as a user builds: a separate crate that depends on
# retry-runtime by path, built with the default release profile (`cargo build --release`, no
# tuning), counted by callgrind as the difference of two runs with different call counts (so
# start-up cancels out). Each call builds the future where it is polled (as `.await` does) and
# polls it to completion with a no-op waker. backon and tokio-retry2 run the same body beside
# ours, at the versions in the workspace's Cargo.lock. The `tower:` rows call one trivial
# `tower::Service` (`service_fn` answering `future::ready(Ok(..))`), bare and behind
# retry-runtime's `RetryLayer`, `tower::retry::Retry` (a policy that retries nothing) and
# tower-resilience's retry layer (its defaults), as a caller does: `poll_ready`, `call`, the
# future polled to completion; the same cases as benchmarks/benches/subjects/services.rs.
#
#   benchmarks/scripts/success-path.sh     # needs valgrind
#
# The scratch crate is removed afterwards (KEEP=1 keeps it).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
LOW="${LOW:-1000}"
HIGH="${HIGH:-11000}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/retry-success-path.XXXXXX")"
if [[ "${KEEP:-0}" != 1 ]]; then
    trap 'rm -rf "$WORK"' EXIT
fi
export CARGO_TARGET_DIR="$WORK/target"

mkdir -p "$WORK/src"
cp "$ROOT/Cargo.lock" "$WORK/Cargo.lock"
cat > "$WORK/Cargo.toml" <<TOML
[package]
name = "success-path"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
retry-runtime = { path = "$ROOT/retry-runtime", features = ["tower"] }
tokio = { version = "1.40", features = ["time", "rt"] }
# Peers, at the versions the workspace's lock file has (copied below).
backon = "1.6"
tokio-retry2 = { version = "0.9", features = ["jitter"] }
tower = { version = "0.5", default-features = false, features = ["util", "retry"] }
tower-resilience = { version = "0.13", features = ["retry"] }

[workspace]
TOML
cat > "$WORK/src/main.rs" <<'RUST'
use std::future::Future;
use std::hint::black_box;
use std::pin::{pin, Pin};
use std::task::{Context, Poll, Waker};

use retry_runtime::{retry, Decision, Policy};

macro_rules! succeed {
    ($x:expr) => {{
        let x: u64 = black_box($x);
        if x == u64::MAX {
            return Err(0u32);
        }
        Ok(x.wrapping_mul(3))
    }};
}

async fn plain(x: u64) -> Result<u64, u32> {
    succeed!(x)
}

#[retry(attempts = 3, base = "200ms")]
async fn ours(x: u64) -> Result<u64, u32> {
    succeed!(x)
}

#[retry(attempts = 3, base = "200ms", jitter = decorrelated, deadline = "5s")]
async fn ours_all_state(x: u64) -> Result<u64, u32> {
    succeed!(x)
}

async fn hand_written(x: u64) -> Result<u64, u32> {
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

/// The shape a macro would emit if it peeled the first attempt off the loop: the body written
/// twice (so type-checked twice), the loop's state made only after the first failure.
async fn hand_written_peeled(x: u64) -> Result<u64, u32> {
    const POLICY: Policy = Policy::new().with_attempts(3);
    let mut result: Result<u64, u32> = async { succeed!(x) }.await;
    if result.is_ok() {
        return result;
    }
    let mut schedule = POLICY.schedule();
    loop {
        match schedule.next(Decision::Retry, None) {
            Ok(info) => tokio::time::sleep(info.delay()).await,
            Err(_) => return result,
        }
        result = async { succeed!(x) }.await;
        if result.is_ok() {
            return result;
        }
    }
}

async fn builder(x: u64) -> Result<u64, u32> {
    const POLICY: Policy = Policy::new().with_attempts(3);
    POLICY.retry(async |_| succeed!(x)).await
}

async fn backon(x: u64) -> Result<u64, u32> {
    use backon::Retryable;
    let backoff = backon::ExponentialBuilder::default()
        .with_min_delay(std::time::Duration::from_millis(200))
        .with_max_times(2);
    (move || plain(x)).retry(backoff).await
}

async fn tokio_retry2(x: u64) -> Result<u64, u32> {
    use tokio_retry2::strategy::ExponentialBackoff;
    tokio_retry2::Retry::spawn(ExponentialBackoff::from_millis(200).take(2), move || async move {
        plain(x).await.map_err(tokio_retry2::RetryError::transient)
    })
    .await
}

fn plain_sync(x: u64) -> Result<u64, u32> {
    succeed!(x)
}

#[retry(attempts = 3, base = "200ms")]
fn ours_sync(x: u64) -> Result<u64, u32> {
    succeed!(x)
}

/// Polls to completion where the future was built.
#[inline(always)]
fn run<F: Future>(mut future: Pin<&mut F>) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
    }
}

/// `fn $name(i) -> Result<u64, u32>`, out of line, that builds `$f(i)`'s future where it is
/// polled and polls it to completion.
macro_rules! poll_here {
    ($($name:ident => $f:ident),* $(,)?) => {$(
        #[inline(never)]
        fn $name(i: u64) -> Result<u64, u32> {
            run(pin!($f(i)))
        }
    )*};
}

poll_here! {
    call_plain => plain,
    call_ours => ours,
    call_hand_written => hand_written,
    call_hand_written_peeled => hand_written_peeled,
    call_builder => builder,
    call_backon => backon,
    call_tokio_retry2 => tokio_retry2,
}

#[inline(never)]
fn call_plain_sync(i: u64) -> Result<u64, u32> {
    plain_sync(i)
}

#[inline(never)]
fn call_ours_sync(i: u64) -> Result<u64, u32> {
    ours_sync(i)
}

/// The `tower:` rows: one trivial service, bare and behind each retry layer.
mod services {
    use std::fmt;
    use std::future::{ready, Ready};
    use std::hint::black_box;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use retry_runtime::tower::Replay;
    use tower::{Layer, Service};

    #[derive(Clone, Debug)]
    pub struct Req(pub u64);

    impl Replay for Req {
        type Kept = Req;
        fn keep(self, _body_limit: usize) -> (Self, Req) {
            (self.clone(), self)
        }
        fn again(kept: &Req) -> Option<Self> {
            Some(kept.clone())
        }
    }

    #[derive(Debug)]
    pub struct Failed;

    impl fmt::Display for Failed {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("failed")
        }
    }

    impl std::error::Error for Failed {}

    fn answer(request: Req) -> Ready<Result<u64, Failed>> {
        let x = black_box(request.0);
        ready(if x == u64::MAX { Err(Failed) } else { Ok(x.wrapping_mul(3)) })
    }

    fn bare() -> impl Service<Req, Response = u64, Error = Failed, Future = Ready<Result<u64, Failed>>>
           + Clone
           + Send
           + 'static {
        tower::service_fn(answer)
    }

    #[derive(Clone, Copy)]
    struct RetryNothing;

    impl<Res, E> tower::retry::Policy<Req, Res, E> for RetryNothing {
        type Future = Ready<()>;
        fn retry(&mut self, _: &mut Req, _: &mut Result<Res, E>) -> Option<Self::Future> {
            None
        }
        fn clone_request(&mut self, request: &Req) -> Option<Req> {
            Some(request.clone())
        }
    }

    /// One call as a tower caller makes it: `poll_ready`, `call`, the future polled to
    /// completion where it was built.
    #[inline(never)]
    fn call<S: Service<Req, Response = u64>>(service: &mut S, x: u64) -> Result<u64, u32> {
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            match service.poll_ready(&mut cx) {
                Poll::Ready(Ok(())) => break,
                Poll::Ready(Err(_)) => return Err(0),
                Poll::Pending => {}
            }
        }
        super::run(pin!(service.call(Req(x)))).map_err(|_| 0)
    }

    /// `calls` calls on one service, kept across them as a caller keeps it.
    fn drive<S: Service<Req, Response = u64>>(mut service: S, calls: u64) -> u64 {
        let mut acc = 0u64;
        for i in 0..calls {
            acc = acc.wrapping_add(call(&mut service, i).unwrap_or(1));
        }
        acc
    }

    /// The `tower:` scenario `name`, run `calls` times.
    pub fn run(name: &str, calls: u64) -> Option<u64> {
        Some(match name {
            "tower: bare service" => drive(bare(), calls),
            "tower: retry-runtime RetryLayer" => drive(
                retry_runtime::tower::RetryLayer::new(retry_runtime::Policy::new()).layer(bare()),
                calls,
            ),
            "tower: tower::retry::Retry" => {
                drive(tower::retry::RetryLayer::new(RetryNothing).layer(bare()), calls)
            }
            "tower: tower-resilience retry" => drive(
                tower_resilience::retry::RetryLayer::<Req, u64, Failed>::exponential_backoff()
                    .build()
                    .layer(bare()),
                calls,
            ),
            _ => return None,
        })
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let scenario = args.next().unwrap_or_default();
    let calls: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(1000);
    if let Some(acc) = services::run(&scenario, calls) {
        println!("{acc}");
        return;
    }
    if scenario == "async: #[retry] decorrelated + deadline" {
        // The deadline reads tokio's clock, which needs a runtime.
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let acc = runtime.block_on(async {
            let mut acc = 0u64;
            for i in 0..calls {
                acc = acc.wrapping_add(ours_all_state(i).await.unwrap_or(1));
            }
            acc
        });
        println!("{acc}");
        return;
    }
    // Chosen once: every scenario pays the same indirect call per iteration.
    let call: fn(u64) -> Result<u64, u32> = match scenario.as_str() {
        "async: no retry" => call_plain,
        "async: #[retry]" => call_ours,
        "async: hand-written loop" => call_hand_written,
        "async: hand-written loop, first attempt peeled" => call_hand_written_peeled,
        "async: Policy::retry" => call_builder,
        "async: backon" => call_backon,
        "async: tokio-retry2" => call_tokio_retry2,
        "sync: no retry" => call_plain_sync,
        "sync: #[retry]" => call_ours_sync,
        _ => return,
    };
    let call = black_box(call);
    let mut acc = 0u64;
    for i in 0..calls {
        acc = acc.wrapping_add(call(i).unwrap_or(1));
    }
    println!("{acc}");
}
RUST

(cd "$WORK" && cargo build --release --quiet)
exe="$CARGO_TARGET_DIR/release/success-path"

count() { # $1 = scenario, $2 = calls
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$exe" "$1" "$2" 2>&1 |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

echo "Instructions per call, default release profile, a separate crate (rustc $(rustc --version | cut -d' ' -f2))"
echo
echo "| scenario | instructions per call |"
echo "|---|---:|"
declare -A per_call
for scenario in "async: no retry" "async: #[retry]" "async: hand-written loop" \
    "async: hand-written loop, first attempt peeled" "async: Policy::retry" \
    "async: backon" "async: tokio-retry2" \
    "async: #[retry] decorrelated + deadline" "sync: no retry" "sync: #[retry]" \
    "tower: bare service" "tower: retry-runtime RetryLayer" "tower: tower::retry::Retry" \
    "tower: tower-resilience retry"; do
    low=$(count "$scenario" "$LOW")
    high=$(count "$scenario" "$HIGH")
    per_call["$scenario"]=$(awk -v l="$low" -v h="$high" -v a="$LOW" -v b="$HIGH" \
        'BEGIN { printf "%.1f", (h - l) / (b - a) }')
    echo "| $scenario | ${per_call[$scenario]} |"
done

echo
echo "The tower layers, ratio to the bare service"
echo
echo "| service | instructions per call | ratio |"
echo "|---|---:|---:|"
for scenario in "tower: bare service" "tower: retry-runtime RetryLayer" \
    "tower: tower::retry::Retry" "tower: tower-resilience retry"; do
    awk -v s="${scenario#tower: }" -v n="${per_call[$scenario]}" -v b="${per_call[tower: bare service]}" \
        'BEGIN { printf "| %s | %.1f | %.2f |\n", s, n, n / b }'
done
