use retry_runtime::retry;

#[retry(hedge = "150ms", timeout = "1s")]
async fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {
    let _ = fetch();
}
