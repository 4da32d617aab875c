// Under `classify_ok` the hook sees the whole outcome: a hook over the error alone is reported
// at the hook, not on the whole attribute.
use retry_runtime::{retry, Classify, Decision, RetryInfo};

struct Reply;
impl Classify for Reply {
    fn classify(&self) -> Decision {
        Decision::Stop
    }
}

fn log(_: &String, _: &RetryInfo) {}

#[retry(attempts = 3, classify_ok, on_retry = log)]
fn call() -> Result<Reply, String> {
    Ok(Reply)
}

fn main() {
    let _ = call();
}
