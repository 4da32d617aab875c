use retry_runtime::retry;

async fn cached(_: String) -> Result<u32, String> {
    Ok(1)
}

#[retry(attempts = 3, fallback = cached)]
fn fetch() -> Result<u32, String> {
    Err("busy".to_string())
}

fn main() {
    let _ = fetch();
}
