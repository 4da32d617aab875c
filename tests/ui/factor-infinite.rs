use retry_runtime::retry;

#[retry(factor = 1e400)]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {
    let _ = fetch();
}
