use retry_runtime::retry;

#[retry(attempts = 3)]
fn fetch() -> u32 {
    1
}

fn main() {
    let _ = fetch();
}
