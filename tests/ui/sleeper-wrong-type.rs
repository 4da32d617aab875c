use retry_runtime::retry;
use retry_runtime::runtime::TokioSleeper;

// A value that is no timer at all.
#[retry(sleeper = 5u32)]
async fn not_a_sleeper() -> Result<(), String> {
    Ok(())
}

// An async sleeper on a blocking function: it has no way to wait without a runtime.
#[retry(sleeper = TokioSleeper)]
fn async_sleeper_on_a_blocking_fn() -> Result<(), String> {
    Ok(())
}

fn main() {}
