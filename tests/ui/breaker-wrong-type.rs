use retry_runtime::{retry, RetryBudget};

static BUDGET: RetryBudget = RetryBudget::new(10, 0.1);

#[retry(attempts = 3, breaker = BUDGET)]
fn fetch() -> Result<u32, std::io::Error> {
    Err(std::io::Error::other("busy"))
}

fn main() {
    let _ = fetch();
}
