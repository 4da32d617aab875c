use retry_runtime::{retry, Policy};

const POLICY: Policy = Policy::new().with_attempts(5);

#[retry(policy = POLICY, attempts = 3, jitter)]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {
    let _ = fetch();
}
