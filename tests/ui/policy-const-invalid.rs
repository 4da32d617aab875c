use retry_runtime::{retry, Policy};

const BAD_POLICY: Policy = Policy::new().with_attempts(0);

#[retry(policy = BAD_POLICY)]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {
    let _ = fetch();
}
