use retry_runtime::retry;

#[retry(backoff = constant, factor = 3.0)]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {
    let _ = fetch();
}
