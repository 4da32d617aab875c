use retry_runtime::{CircuitBreaker, Policy};

#[derive(Debug)]
struct Error;

fn main() {
    let breaker = CircuitBreaker::new();
    let _ = Policy::new()
        .retry_blocking(|_| Err::<u32, _>(Error))
        .breaker(&breaker)
        .call();
}
