//! Reading a sensor over a bus that sometimes fails, retried on embassy-time without `std`.
//!
//! [`read_sensor`] carries the policy in its `#[retry]` attribute; [`read_register`] builds the
//! same kind of call at run time with [`Policy::retry`], from a policy the application chooses.
//! Both sleep on [`EmbassySleeper`] (the default sleeper when `embassy` is the only timer
//! feature), cut each attempt off on embassy's timer, and share [`BREAKER`] and [`BUDGET`].
//!
//! The application provides an embassy time driver, a critical-section implementation, and a
//! seed for the jitter at boot ([`boot`]); see README.md.
#![no_std]

use core::future::Future;
use core::time::Duration;

use retry_runtime::runtime::EmbassySleeper;
use retry_runtime::{
    retry, seed_jitter, BreakerOpen, CircuitBreaker, Jitter, Policy, RetryBudget, TimedOut,
};

/// The sensor's temperature register.
pub const TEMPERATURE: u8 = 0x05;

/// What a bus transfer can fail with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BusError {
    /// The device did not acknowledge its address.
    Nack,
    /// Another controller won the bus.
    ArbitrationLost,
    /// The transfer did not finish within the per-attempt timeout.
    TimedOut,
    /// The circuit breaker is open: the bus was not touched.
    Open,
}

impl From<TimedOut> for BusError {
    fn from(_: TimedOut) -> Self {
        BusError::TimedOut
    }
}

impl From<BreakerOpen> for BusError {
    fn from(_: BreakerOpen) -> Self {
        BusError::Open
    }
}

/// A bus that reads 16-bit registers: an I2C or SPI peripheral of the board's HAL, behind
/// this trait.
pub trait Bus {
    /// Reads `register`.
    fn read(&self, register: u8) -> impl Future<Output = Result<u16, BusError>>;
}

/// Five failed transfers in a row stop every read for two seconds (plus up to 20%, so that
/// devices sharing a failed bus do not probe it together).
pub static BREAKER: CircuitBreaker = CircuitBreaker::new()
    .with_consecutive_failures(5)
    .with_break(Duration::from_secs(2));

/// A burst of ten retries, then one retry per ten successful reads.
pub static BUDGET: RetryBudget = RetryBudget::new(10, 0.1);

/// Seeds the jitter once at boot. Without `std` every device starts from the same fixed seed,
/// so give each one its own: a word from the hardware random number generator, or the chip's
/// unique id.
pub fn boot(hardware_random: u64) {
    seed_jitter(hardware_random);
}

/// Reads the temperature: up to five attempts of at most 50 ms each, 10 ms, 20 ms, 40 ms, 80 ms
/// apart before full jitter (never more than 200 ms), while the breaker and the budget allow.
#[retry(
    attempts = 5,
    base = "10ms",
    max = "200ms",
    jitter,
    timeout = "50ms",
    breaker = BREAKER,
    budget = BUDGET
)]
pub async fn read_sensor<B: Bus>(bus: &B) -> Result<u16, BusError> {
    bus.read(TEMPERATURE).await
}

/// A policy for [`read_register`] chosen at run time (from a configuration block in flash, say).
pub const POLICY: Policy = Policy::new()
    .with_attempts(4)
    .with_base(Duration::from_millis(5))
    .with_max(Duration::from_millis(100))
    .with_jitter(Jitter::Equal)
    .with_deadline(Duration::from_millis(500));

/// Reads any register by `policy`, with the builder: a lost arbitration is retried, a missing
/// device is not; each attempt is cut off after `timeout`.
pub async fn read_register<B: Bus>(
    bus: &B,
    register: u8,
    policy: &Policy,
    timeout: Duration,
) -> Result<u16, BusError> {
    policy
        .retry(async |_| bus.read(register).await)
        .when(|error: &BusError| matches!(error, BusError::ArbitrationLost | BusError::TimedOut))
        .sleeper(EmbassySleeper)
        .timeout(timeout)
        .breaker(&BREAKER)
        .budget(&BUDGET)
        .await
}
