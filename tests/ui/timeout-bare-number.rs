// `timeout = 400` has no unit: the error says to write `"400ms"`.
use retry_runtime::{retry, TimedOut};

#[derive(Debug)]
struct Error;
impl From<TimedOut> for Error {
    fn from(_: TimedOut) -> Self {
        Error
    }
}

#[retry(attempts = 2, timeout = 400)]
async fn call() -> Result<(), Error> {
    Ok(())
}

fn main() {
    let _ = call();
}
