use retry_runtime::retry;

#[derive(Debug)]
enum ApiError {
    Io(std::io::Error),
    NotFound,
}

#[retry(attempts = 3, on = e)]
fn fetch() -> Result<u32, ApiError> {
    Err(ApiError::NotFound)
}

fn main() {
    let _ = fetch();
    let _ = ApiError::Io(std::io::Error::other("x"));
}
