//! The simulated service: each request's latency (and, on the failing service, its outcome) is an
//! independent draw, slept on tokio's clock; the service counts the requests that reach it.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use retry_benchmarks::sim::hop_ms;

/// One service's parameters.
#[derive(Clone, Copy)]
pub struct Model {
    pub name: &'static str,
    /// The share of requests that are slow...
    pub slow: f64,
    /// ... by a factor drawn uniformly from this range.
    pub slow_factor: (f64, f64),
    /// The share of requests that fail fast with a retryable error...
    pub fail: f64,
    /// ... after this long.
    pub fail_after: Duration,
}

impl Model {
    /// One request: how long it takes and whether it succeeds. Every draw is made whatever the
    /// outcome, so that the two services give a request with the same seed the same latency
    /// unless it fails.
    fn draw(&self, rng: &mut SmallRng) -> (Duration, bool) {
        let fails = rng.random::<f64>() < self.fail;
        let fast = hop_ms(1.0 - rng.random::<f64>(), rng.random());
        let slow = rng.random::<f64>() < self.slow;
        let factor = rng.random_range(self.slow_factor.0..self.slow_factor.1);
        if fails {
            return (self.fail_after, false);
        }
        let ms = if slow { fast * factor } else { fast };
        (Duration::from_secs_f64(ms / 1_000.0), true)
    }

    /// The parameters, for the printed lines.
    pub fn describe(&self) -> String {
        let failing = if self.fail > 0.0 {
            format!(
                ", {}% fail after {} ms with a retryable error",
                self.fail * 100.0,
                self.fail_after.as_millis()
            )
        } else {
            String::new()
        };
        format!(
            "fast |N(10, 2)| ms, {}% slow x{}-x{}{failing}",
            self.slow * 100.0,
            self.slow_factor.0,
            self.slow_factor.1,
        )
    }
}

/// The error of a failed request: retryable (the default judge retries every `Err`).
#[derive(Debug)]
pub struct Unavailable;

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("unavailable")
    }
}

impl std::error::Error for Unavailable {}

struct State {
    requests: AtomicU64,
    /// Requests seen so far for each call, so that the n-th copy of a call draws the same
    /// latency in every configuration.
    copies: Vec<AtomicU32>,
}

/// The service, shared by every copy of every call of one run.
#[derive(Clone)]
pub struct Service {
    model: Model,
    seed: u64,
    state: Arc<State>,
}

pub type Reply = Pin<Box<dyn Future<Output = Result<(), Unavailable>> + Send>>;

impl Service {
    pub fn new(model: Model, seed: u64, calls: u64) -> Self {
        let state = State {
            requests: AtomicU64::new(0),
            copies: (0..calls).map(|_| AtomicU32::new(0)).collect(),
        };
        Self {
            model,
            seed,
            state: Arc::new(state),
        }
    }

    /// The requests that reached the service so far.
    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::Relaxed)
    }

    /// A request of call `call`. It reaches the service when first polled (a future that is
    /// never polled was never sent); a copy dropped before its reply simply stops sleeping.
    pub fn request(&self, call: u64) -> impl Future<Output = Result<(), Unavailable>> + Send {
        let this = self.clone();
        async move {
            this.state.requests.fetch_add(1, Ordering::Relaxed);
            let copy = this.state.copies[call as usize].fetch_add(1, Ordering::Relaxed);
            let key = this.seed ^ call.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(copy) << 56;
            let (after, ok) = this.model.draw(&mut SmallRng::seed_from_u64(key));
            tokio::time::sleep(after).await;
            if ok {
                Ok(())
            } else {
                Err(Unavailable)
            }
        }
    }
}

/// The same service behind `tower::Service`, for `tower::hedge::Hedge`: the request is the
/// call's number.
impl tower::Service<u64> for Service {
    type Response = ();
    type Error = Unavailable;
    type Future = Reply;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Unavailable>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, call: u64) -> Reply {
        Box::pin(self.request(call))
    }
}
