//! [`Permit`]: one attempt's leave from a [`CircuitBreaker`], and its report.

use core::fmt;

use super::CircuitBreaker;

/// Leave to make one attempt, from [`CircuitBreaker::try_acquire`]: report how it went with
/// [`success`](Permit::success) or [`failure`](Permit::failure). Dropping it unreported (a
/// cancelled call) counts as neither and gives a probe's slot back.
#[must_use = "report the attempt's outcome with `success()` or `failure()`"]
pub struct Permit<'a> {
    pub(super) breaker: &'a CircuitBreaker,
    pub(super) generation: u32,
    pub(super) probe: bool,
}

impl Permit<'_> {
    /// The service answered: a success, or an error that is not transient.
    ///
    /// ```
    /// let breaker = retry_runtime::CircuitBreaker::new();
    /// breaker.try_acquire().unwrap().success();
    /// ```
    #[inline]
    pub fn success(mut self) {
        if self.probe {
            self.probe = false;
            self.breaker.probe_done(self.generation, Some(true));
        } else {
            self.breaker.closed_success(self.generation);
        }
    }

    /// The attempt failed in a way that says the service is in trouble (a transient error).
    ///
    /// ```
    /// let breaker = retry_runtime::CircuitBreaker::new().with_consecutive_failures(1);
    /// breaker.try_acquire().unwrap().failure();
    /// assert!(breaker.try_acquire().is_err());
    /// ```
    pub fn failure(mut self) {
        if self.probe {
            self.probe = false;
            self.breaker.probe_done(self.generation, Some(false));
        } else {
            self.breaker.closed_failure(self.generation);
        }
    }

    /// Whether this attempt is a half-open breaker's probe.
    ///
    /// ```
    /// let breaker = retry_runtime::CircuitBreaker::new();
    /// assert!(!breaker.try_acquire().unwrap().is_probe());
    /// ```
    pub fn is_probe(&self) -> bool {
        self.probe
    }
}

impl Drop for Permit<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.probe {
            self.breaker.probe_done(self.generation, None);
        }
    }
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("probe", &self.probe)
            .finish_non_exhaustive()
    }
}
