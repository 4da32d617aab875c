use retry_runtime::retry;

#[retry(max = "fast")]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {
    let _ = fetch();
}
