//! What bounds the load a caller puts on a service besides its own policy: the shared
//! [`RetryBudget`](crate::RetryBudget) and the [`CircuitBreaker`](crate::CircuitBreaker).

pub(crate) mod breaker;
pub(crate) mod budget;
