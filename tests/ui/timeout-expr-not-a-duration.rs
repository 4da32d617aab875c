use retry_runtime::{retry, TimedOut};

#[derive(Debug)]
struct Error;

impl From<TimedOut> for Error {
    fn from(_: TimedOut) -> Self {
        Error
    }
}

struct Client {
    timeout_ms: u64,
}

impl Client {
    #[retry(attempts = 3, timeout = self.timeout_ms)]
    async fn call(&self) -> Result<u32, Error> {
        Ok(1)
    }
}

fn main() {}
