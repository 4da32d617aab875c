use retry_runtime::retry;

fn log(attempt: u32) {
    println!("attempt {attempt}");
}

#[retry(attempts = 3, on_retry = log)]
fn fetch() -> Result<u32, String> {
    Err("busy".to_string())
}

fn main() {
    let _ = fetch();
}
