use retry_runtime::retry;
use std::future::Future;

// Work before the async block would run once, not per attempt: not accepted.
#[retry(attempts = 3)]
fn fetch(id: u64) -> impl Future<Output = Result<u64, String>> {
    let doubled = id * 2;
    async move { Ok(doubled) }
}

fn main() {}
