use retry_runtime::{retry, AdaptiveThrottle};

static THROTTLE: AdaptiveThrottle = AdaptiveThrottle::new();

#[derive(Debug)]
struct Error;

#[retry(attempts = 3, throttle = THROTTLE)]
fn fetch() -> Result<u32, Error> {
    Err(Error)
}

fn main() {
    let _ = fetch();
}
