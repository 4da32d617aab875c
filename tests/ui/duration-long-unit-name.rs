use retry_runtime::retry;

#[retry(deadline = "30 seconds")]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {
    let _ = fetch();
}
