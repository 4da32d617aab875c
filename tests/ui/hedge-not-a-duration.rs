use retry_runtime::retry;

#[retry(hedge = 150)]
async fn fast() -> Result<u32, String> {
    Ok(1)
}

#[retry(hedge = "150 parsecs")]
async fn slow() -> Result<u32, String> {
    Ok(1)
}

fn main() {
    let _ = fast();
    let _ = slow();
}
