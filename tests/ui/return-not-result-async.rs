use retry_runtime::retry;

#[retry(attempts = 3)]
async fn fetch(id: u64) -> Option<u64> {
    Some(id)
}

fn main() {
    let _ = fetch(1);
}
