//! Other crates' stacks, on the engine's one turn.

#[cfg(feature = "reqwest-middleware")]
pub mod middleware;
#[cfg(any(feature = "tower", feature = "reqwest-middleware"))]
pub mod replay;
#[cfg(feature = "tower")]
pub mod tower;
