use retry_runtime::retry;

#[derive(Debug)]
struct ApiError;

#[retry(attempts = 3, classify)]
async fn fetch() -> Result<u32, ApiError> {
    Err(ApiError)
}

fn main() {
    let _ = fetch();
}
