use retry_runtime::retry;

const MAX_ATTEMPTS: u32 = 3;

#[retry(attempts = MAX_ATTEMPTS)]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {
    let _ = fetch();
}
