//! What bounds the load a caller puts on a service besides its own policy: the shared
//! [`RetryBudget`](crate::RetryBudget), the [`CircuitBreaker`](crate::CircuitBreaker), the
//! client-side [`AdaptiveThrottle`](crate::AdaptiveThrottle) and the CUBIC
//! [`RateLimiter`](crate::RateLimiter).

pub(crate) mod breaker;
pub(crate) mod budget;
pub(crate) mod latencies;
pub(crate) mod rate_limiter;
pub(crate) mod throttle;
