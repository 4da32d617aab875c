//! The guards a call consults besides its policy ([`Guards`]), and the pacing asked before an
//! attempt goes out: the client-side throttle, the CUBIC rate limiter and, with feature `http`,
//! the rate-limit headers of earlier responses.

use core::time::Duration;

pub(crate) use crate::runtime::guard_time;

use crate::{AdaptiveThrottle, CircuitBreaker, RateLimiter, RetryBudget, Throttled};

/// The guards shared across calls that a call consults, each optional: the retry budget, the
/// circuit breaker, the client-side throttle, the rate limiter and (feature `http`) the
/// rate-limit headers. [`Guards::new`] takes the budget and the breaker; `with_*` add the
/// others.
#[derive(Clone, Copy, Debug, Default)]
pub struct Guards<'a> {
    /// The retry budget: a retry draws a token, a success or a permanent answer refills.
    pub(crate) budget: Option<&'a RetryBudget>,
    /// The circuit breaker: asked before every attempt, and again before a retry's sleep.
    pub(crate) breaker: Option<&'a CircuitBreaker>,
    /// The client-side throttle: asked before every attempt goes out (a retry at its turn),
    /// told of every answer whether it was an overload refusal.
    pub(crate) throttle: Option<&'a AdaptiveThrottle>,
    /// The CUBIC rate limiter: a token before every attempt, a delay when there is none.
    pub(crate) limiter: Option<&'a RateLimiter>,
    /// The rate-limit headers of the latest responses: at zero remaining, the next attempt
    /// waits for the reset.
    #[cfg(feature = "http")]
    pub(crate) rate_limits: Option<&'a crate::RateLimits>,
}

impl<'a> Guards<'a> {
    /// No guard at all.
    pub const NONE: Guards<'static> = Guards {
        budget: None,
        breaker: None,
        throttle: None,
        limiter: None,
        #[cfg(feature = "http")]
        rate_limits: None,
    };

    /// The budget and the breaker, no pacing.
    #[inline(always)]
    pub const fn new(budget: Option<&'a RetryBudget>, breaker: Option<&'a CircuitBreaker>) -> Self {
        Guards {
            budget,
            breaker,
            ..Guards::NONE
        }
    }

    /// With `throttle` asked before every attempt.
    #[inline(always)]
    pub const fn with_throttle(mut self, throttle: Option<&'a AdaptiveThrottle>) -> Self {
        self.throttle = throttle;
        self
    }

    /// With `limiter` pacing every attempt.
    #[inline(always)]
    pub const fn with_limiter(mut self, limiter: Option<&'a RateLimiter>) -> Self {
        self.limiter = limiter;
        self
    }

    /// With the rate-limit headers of `limits` pacing every attempt.
    #[cfg(feature = "http")]
    #[inline(always)]
    pub const fn with_rate_limits(mut self, limits: Option<&'a crate::RateLimits>) -> Self {
        self.rate_limits = limits;
        self
    }

    /// Whether a guard paces attempts or hears of overload answers: the throttle, the limiter
    /// or the rate-limit headers.
    #[inline(always)]
    pub(crate) const fn paces(&self) -> bool {
        #[cfg(feature = "http")]
        let headers = self.rate_limits.is_some();
        #[cfg(not(feature = "http"))]
        let headers = false;
        self.throttle.is_some() || self.limiter.is_some() || headers
    }

    /// The throttle's leave to send an attempt at `now`, drawing a uniform `u32` for it.
    pub(crate) fn throttle_admits(&self, now: Duration) -> bool {
        let Some(throttle) = self.throttle else {
            return true;
        };
        let draw = crate::policy::jitter::with_thread_rng(rand::RngCore::next_u32);
        throttle.admit(now, draw).is_ok()
    }

    /// How long the rate-limit headers hold the next attempt at `now`.
    #[inline]
    pub(crate) fn header_wait(&self, now: Duration) -> Option<Duration> {
        #[cfg(feature = "http")]
        if let Some(limits) = self.rate_limits {
            return limits.wait(now);
        }
        let _ = now;
        None
    }

    /// A token of the rate limiter for an attempt sent at most `max_wait` from `now`: the
    /// wait, or `Err` with nothing taken when the token comes later.
    #[inline]
    pub(crate) fn limiter_wait(&self, now: Duration, max_wait: Duration) -> Result<Duration, ()> {
        match self.limiter {
            None => Ok(Duration::ZERO),
            Some(limiter) => limiter.try_acquire(now, max_wait).map_err(|_| ()),
        }
    }

    /// The first attempt's pacing at `now`, sent at most `max_wait` from now: the throttle,
    /// the rate-limit headers (their wait bounded by `max_hint`), the rate limiter; the wait
    /// before sending, or [`Throttled`] when it may not go (or not in time).
    pub(crate) fn admit(
        &self,
        now: Duration,
        max_hint: Duration,
        max_wait: Duration,
    ) -> Result<Duration, Throttled> {
        if !self.throttle_admits(now) {
            return Err(Throttled::new());
        }
        let headers = self.header_wait(now).unwrap_or_default();
        if headers > max_hint || headers >= max_wait {
            return Err(Throttled::new());
        }
        let token = self
            .limiter_wait(now, max_wait)
            .map_err(|()| Throttled::new())?;
        Ok(headers.max(token))
    }

    /// Tells the throttle and the limiter how an attempt was answered at `now`: `overload`
    /// when the service refused it for lack of capacity (429, 503, 529,
    /// `RESOURCE_EXHAUSTED`: [`Classify::overloaded`](crate::Classify::overloaded)).
    #[inline]
    pub(crate) fn answered(&self, now: Duration, overload: bool) {
        if let Some(throttle) = self.throttle {
            throttle.record(now, !overload);
        }
        if let Some(limiter) = self.limiter {
            limiter.record(now, overload);
        }
    }
}
