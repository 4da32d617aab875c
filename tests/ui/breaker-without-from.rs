use retry_runtime::{retry, CircuitBreaker};

static BREAKER: CircuitBreaker = CircuitBreaker::new();

#[derive(Debug)]
struct Error;

#[retry(attempts = 3, breaker = BREAKER)]
fn fetch() -> Result<u32, Error> {
    Err(Error)
}

fn main() {
    let _ = fetch();
}
