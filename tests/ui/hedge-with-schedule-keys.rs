use retry_runtime::retry;

#[retry(hedge = "150ms", attempts = 3, base = "10ms", max = "1s", factor = 2.0, backoff = exponential, jitter)]
async fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {
    let _ = fetch();
}
