//! Other crates' stacks, on the engine's one turn.

#[cfg(feature = "reqwest-middleware")]
pub mod middleware;
