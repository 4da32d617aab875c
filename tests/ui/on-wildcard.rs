use retry_runtime::retry;

#[derive(Debug)]
enum ApiError {
    Busy,
}

#[retry(attempts = 3, unless = _)]
fn fetch() -> Result<u32, ApiError> {
    Err(ApiError::Busy)
}

fn main() {
    let _ = fetch();
}
