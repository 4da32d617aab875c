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
        // `setTimeout` counts whole milliseconds, at most `i32::MAX` (24.8 days) at a time:
        // rounded up, and a longer delay is slept in such steps.
        let millis = delay.as_nanos().div_ceil(1_000_000);
        WasmSleep::new(u64::try_from(millis).unwrap_or(u64::MAX))
    }
}

/// The longest `setTimeout` waits at once.
const STEP_MILLIS: u64 = i32::MAX as u64;

/// One sleep of [`WasmSleeper`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct WasmSleep {
    timer: gloo_timers::future::TimeoutFuture,
    /// Milliseconds still to sleep after this timer.
    after: u64,
}

impl WasmSleep {
    fn new(millis: u64) -> Self {
        let step = millis.min(STEP_MILLIS);
        WasmSleep {
            timer: gloo_timers::future::TimeoutFuture::new(step as u32),
            after: millis - step,
        }
    }
}

impl Future for WasmSleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            core::task::ready!(Pin::new(&mut self.timer).poll(cx));
            if self.after == 0 {
                return Poll::Ready(());
            }
            let after = self.after;
            *self = WasmSleep::new(after);
        }
    }
}
