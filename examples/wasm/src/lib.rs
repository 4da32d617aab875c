//! A flaky call retried in WebAssembly: `#[retry]` sleeps between attempts on JavaScript's
//! `setTimeout` (retry-runtime's `wasm` feature), and wasm-bindgen exports the retried call to
//! JavaScript as an `async` function returning a `Promise`.

// The crate's only target: elsewhere retry-runtime's `wasm` feature adds no timer.
#[cfg(not(target_arch = "wasm32"))]
compile_error!(
    "this example is built for WebAssembly: cargo build --target wasm32-unknown-unknown --release"
);

use std::cell::Cell;

use retry_runtime::retry;
use wasm_bindgen::prelude::*;

thread_local! {
    /// The attempts of the current call.
    static ATTEMPTS: Cell<u32> = const { Cell::new(0) };
}

/// A service that fails twice, then answers: three attempts, about 50 ms and 100 ms apart
/// (full jitter draws each delay from zero up to that).
#[retry(attempts = 3, base = "50ms", jitter)]
async fn flaky() -> Result<u32, String> {
    let attempt = ATTEMPTS.with(|n| {
        n.set(n.get() + 1);
        n.get()
    });
    if attempt < 3 {
        Err(format!("attempt {attempt} failed"))
    } else {
        Ok(attempt)
    }
}

/// Calls the flaky service with retries: resolves to `ok after N attempts`, or rejects with
/// the last error.
#[wasm_bindgen]
pub async fn call_flaky() -> Result<JsValue, JsValue> {
    ATTEMPTS.with(|n| n.set(0));
    match flaky().await {
        Ok(attempts) => Ok(JsValue::from_str(&format!("ok after {attempts} attempts"))),
        Err(error) => Err(JsValue::from_str(&error)),
    }
}
