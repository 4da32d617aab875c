//! The front doors besides the attribute: the builders ([`Policy::retry`](crate::Policy),
//! [`Policy::retry_blocking`](crate::Policy::retry_blocking)) and the step API
//! ([`Policy::schedule`](crate::Policy::schedule)). Each is a driver of the engine's one turn.

pub(crate) mod attribute;
pub mod builder;
mod schedule;

pub use schedule::Schedule;
