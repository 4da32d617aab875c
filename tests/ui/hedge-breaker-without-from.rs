use retry_runtime::{retry, CircuitBreaker};

static BREAKER: CircuitBreaker = CircuitBreaker::new();

#[retry(hedge = "150ms", breaker = BREAKER)]
async fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {
    let _ = fetch();
}
