//! The retry engine: what happens after an attempt fails, for every front door.
//!
//! A retried call is a loop of *attempt → decide → delay → sleep*. The attempt is the caller's
//! code; everything else lives here, once:
//!
//! - [`Step`] is the per-call state (the attempt number and, only when the policy needs them,
//!   the start time and the previous delay: [`memory`]) and [`Step::turn`] is the one turn
//!   after an attempt: the breaker hears of the outcome, then the [`Verdict`], the attempt
//!   limit, the server's hint, the deadline, jitter, the breaker and the retry budget give
//!   [`Turn::Done`], [`Turn::Retry`] with the delay, or [`Turn::GiveUp`] with the reason; the
//!   counters are kept on the way ([`observe`]).
//! - Every driver is *gate → attempt → judge → turn → return or sleep*: [`run_blocking`] is
//!   the loop for blocking code ([`sleep`]), the builders' futures and the middleware drive
//!   the same turn.
//! - For async code the attribute's loop is a few lines around the same [`Step`]: ask the
//!   gate, run the attempt, return on success, take the turn, sleep, go again. `#[retry]` writes those lines into
//!   the function itself instead of calling a generic `async fn` with a closure, for two
//!   measured reasons. An `AsyncFnMut` closure (which could lend the arguments to each
//!   attempt) makes the caller's future fail its `Send` proof on stable Rust ("higher-ranked
//!   lifetime error"), so a retried method could no longer be spawned. And threading the
//!   arguments by value through a generic async loop costs about 40 bytes more future state
//!   than the inline loop, which would break the 64-byte budget of the performance contract.
//!   The loop holds no policy logic: a behaviour fixed here is fixed for every front door.
//!
//! The success path touches none of this: the first attempt's result is checked and returned,
//! and every function here that runs after a failure is out of line (`#[cold]`).

pub(crate) mod guards;
#[cfg(feature = "std")]
pub(crate) mod hedge;
pub(crate) mod memory;
pub(crate) mod observe;
#[cfg(feature = "std")]
pub(crate) mod race;
pub(crate) mod report;
pub(crate) mod sleep;
pub mod span;
pub(crate) mod turn;
pub(crate) mod verdict;

pub use guards::Guards;
#[cfg(feature = "std")]
pub use hedge::{HedgeDelay, HedgeTurn, Hedging};
pub use memory::{Memory, NoMemory, PreviousDelay, StartAndPrevious, StartTime};
#[cfg(feature = "metrics")]
pub use observe::{FunctionMetrics, MetricsCell};
pub use observe::{Qualified, Site};
pub use report::{CallReport, NoReport, Stop, Tally};
pub use sleep::{run_blocking, sleep, Flow};
pub use span::CallSpan;
pub use turn::{Step, Turn};
pub use verdict::{GiveUp, Judged, Verdict};
