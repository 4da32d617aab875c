use retry_runtime::retry;

#[retry(attempts = 3, until = |ready: &bool| *ready)]
async fn poll() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
