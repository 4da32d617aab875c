//! WebAssembly in a JavaScript host (feature `wasm`, on `wasm32`): the browser, node, workers.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;

use wasm_bindgen::{JsCast, JsValue};

use super::{Clock, Sleeper, Stamp};

/// Sleeps on JavaScript's `setTimeout` (through `gloo-timers`, which works wherever there is
/// a JavaScript event loop: browsers, node, Deno, workers), on `performance.now()` (the
/// monotonic clock of every such host; `Date.now()` where it is missing). Drive the futures with
/// `wasm-bindgen-futures` (`spawn_local`, or an exported `async fn`).
#[derive(Clone, Copy, Debug, Default)]
pub struct WasmSleeper;

impl Clock for WasmSleeper {
    fn now(&self) -> Stamp {
        let millis = performance_now().unwrap_or_else(js_sys::Date::now);
        // Milliseconds as a float, with microsecond (or coarser) resolution.
        (millis * 1e6) as Stamp
    }
}

/// `performance.now()`, read through the global object (no bindings to generate).
fn performance_now() -> Option<f64> {
    let performance = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("performance"))
        .ok()
        .filter(|p| p.is_object())?;
    let now = js_sys::Reflect::get(&performance, &JsValue::from_str("now")).ok()?;
    let now: js_sys::Function = now.dyn_into().ok()?;
    now.call0(&performance).ok()?.as_f64()
}

impl Sleeper for WasmSleeper {
    type Sleep = WasmSleep;
    fn sleep(&self, delay: Duration) -> WasmSleep {
        let until = self
            .now()
            .saturating_add(i64::try_from(delay.as_nanos()).unwrap_or(i64::MAX));
        WasmSleep {
            timer: timer_for(delay),
            until,
        }
    }
}

/// The longest `setTimeout` waits at once: `i32::MAX` milliseconds (24.8 days).
const STEP_MILLIS: u128 = i32::MAX as u128;

/// A `setTimeout` for `delay`, rounded up to whole milliseconds and capped at one step.
fn timer_for(delay: Duration) -> gloo_timers::future::TimeoutFuture {
    let millis = delay.as_nanos().div_ceil(1_000_000).clamp(1, STEP_MILLIS);
    gloo_timers::future::TimeoutFuture::new(millis as u32)
}

/// One sleep of [`WasmSleeper`]: never shorter than asked. A host's timer may fire a fraction
/// of a millisecond early by `performance.now()` (node's counts whole milliseconds), and a
/// long delay is slept in steps; either way the sleep goes on until the clock has passed its
/// end.
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct WasmSleep {
    timer: gloo_timers::future::TimeoutFuture,
    /// When the sleep ends, on [`WasmSleeper`]'s clock.
    until: Stamp,
}

impl Future for WasmSleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            core::task::ready!(Pin::new(&mut self.timer).poll(cx));
            let left = self.until.saturating_sub(WasmSleeper.now());
            if left <= 0 {
                return Poll::Ready(());
            }
            self.timer = timer_for(Duration::from_nanos(left as u64));
        }
    }
}
