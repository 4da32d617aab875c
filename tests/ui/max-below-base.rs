use retry_runtime::retry;

#[retry(base = "3s", max = "500ms")]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {
    let _ = fetch();
}
