//! 64-bit atomics everywhere: the processor's where it has them, `portable-atomic`'s (a
//! critical section) on targets without (`thumbv7em` and other 32-bit microcontrollers).

#[cfg(target_has_atomic = "64")]
pub(crate) use core::sync::atomic::{AtomicI64, AtomicU64};
#[cfg(not(target_has_atomic = "64"))]
pub(crate) use portable_atomic::{AtomicI64, AtomicU64};
