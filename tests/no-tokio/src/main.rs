//! Blocking retries without tokio; `--features async` adds an `async fn`, which must not compile.

use std::cell::Cell;

use retry_runtime::retry;

#[retry(attempts = 3, base = "1ms")]
fn flaky(calls: &Cell<u32>) -> Result<u32, u32> {
    calls.set(calls.get() + 1);
    if calls.get() < 3 {
        Err(calls.get())
    } else {
        Ok(calls.get())
    }
}

#[cfg(feature = "async")]
#[retry(attempts = 3)]
async fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {
    let calls = Cell::new(0);
    assert_eq!(flaky(&calls), Ok(3));
    println!("blocking retries work without tokio: {} calls", calls.get());
}
