use retry_runtime::retry;

#[retry(attempts = 0, base = "2 parsecs", backoff = exponental, atempts = 3, factor = 0.5)]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {
    let _ = fetch();
}
