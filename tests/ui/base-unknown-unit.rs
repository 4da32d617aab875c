use retry_runtime::retry;

#[retry(base = "2 parsecs")]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {
    let _ = fetch();
}
