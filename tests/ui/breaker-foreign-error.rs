// A foreign error type cannot be given `From<BreakerOpen>` (the orphan rule): the note says to
// wrap it in an enum of one's own.
use retry_runtime::{retry, CircuitBreaker};

static BREAKER: CircuitBreaker = CircuitBreaker::new();

#[retry(attempts = 2, breaker = BREAKER)]
fn call() -> Result<(), String> {
    Err("down".into())
}

fn main() {
    let _ = call();
}
