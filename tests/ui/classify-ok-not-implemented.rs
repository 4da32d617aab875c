use retry_runtime::retry;

struct Reply(u16);

#[retry(attempts = 3, classify_ok)]
fn call() -> Result<Reply, String> {
    Ok(Reply(200))
}

fn main() {}
