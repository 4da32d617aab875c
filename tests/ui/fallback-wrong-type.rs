use retry_runtime::retry;

fn cached(_: String) -> Result<&'static str, String> {
    Ok("cached")
}

#[retry(attempts = 3, fallback = cached)]
fn fetch() -> Result<u32, String> {
    Err("busy".to_string())
}

#[retry(attempts = 3, fallback = |e: u8| Ok(u32::from(e)))]
fn fetch_again() -> Result<u32, String> {
    Err("busy".to_string())
}

fn main() {
    let _ = fetch();
    let _ = fetch_again();
}
