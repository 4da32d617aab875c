use retry_runtime::retry;

#[retry(hedge = "150ms")]
async fn fetch(id: u64, buf: &mut Vec<u8>) -> Result<u64, String> {
    buf.push(1);
    Ok(id)
}

fn main() {
    let _ = fetch(1, &mut Vec::new());
}
