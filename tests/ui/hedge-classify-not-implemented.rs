use retry_runtime::retry;

#[derive(Debug)]
struct MyError;

#[retry(hedge = "150ms", classify)]
async fn fetch() -> Result<u32, MyError> {
    Ok(1)
}

fn main() {
    let _ = fetch();
}
