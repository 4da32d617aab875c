use retry_runtime::retry;

#[derive(Debug)]
enum ApiError {
    Busy,
}

#[derive(Debug)]
enum OtherError {
    Timeout,
}

#[retry(attempts = 3, on = OtherError::Timeout)]
fn fetch() -> Result<u32, ApiError> {
    Err(ApiError::Busy)
}

fn main() {
    let _ = fetch();
    let _ = OtherError::Timeout;
}
