use retry_runtime::retry;

#[retry(hedge = "150ms")]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {
    let _ = fetch();
}
