//! Benchmarks and peer comparisons for `retry-runtime` (unpublished).
//!
//! This member holds everything that measures `#[retry]` against hand-written loops and the
//! retry crates people would otherwise use, so that the root package (the README's
//! `cargo run --example quickstart`) does not build the peers:
//!
//! - `benches/retry.rs`: criterion, side by side, with ratios
//!   (`cargo bench -p retry-benchmarks --bench retry`);
//! - `benches/instructions.rs`: instructions per call under callgrind
//!   (`benchmarks/scripts/instructions.sh`);
//! - `examples/sizes.rs`: the future-size table
//!   (`cargo run --release -p retry-benchmarks --example sizes`);
//! - `examples/herd.rs`: the herd simulation
//!   (`cargo run --release -p retry-benchmarks --example herd -- docs/herd.svg`);
//! - `examples/fleet.rs`: a fleet of clients through an outage, with budgets and breakers
//!   (`cargo run --release -p retry-benchmarks --example fleet -- docs/fleet.svg`);
//! - `examples/tail.rs`: hedged requests against a latency tail, beside `tower::hedge`
//!   (`cargo run --release -p retry-benchmarks --example tail -- docs/tail.svg`);
//! - `benches/contention.rs`: the breaker's and the budget's cost per call, one thread and all
//!   cores (`cargo bench -p retry-benchmarks --bench contention`);
//! - `tests/peer_sizes.rs`: the retried future is smaller than every peer's;
//! - `scripts/compile-time.sh`: the attribute's compile-time cost.
//!
//! The library holds what the simulations share: [`sim::Queue`], their event queue.
#![forbid(unsafe_code)]

pub mod sim;
