use retry_runtime::retry;

#[retry(hedge = p100)]
async fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {
    let _ = fetch();
}
