use retry_runtime::retry;

#[tokio::main]
#[retry(attempts = 3, timeout = "1s")]
async fn main() -> Result<(), String> {
    Ok(())
}
