use retry_runtime::retry;

#[retry(attempts = 2.5)]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {
    let _ = fetch();
}
