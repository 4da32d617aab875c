use retry_runtime::retry;

#[retry(hedge = p100, hedges = -1, attempts = 2)]
async fn fetch(buf: &mut Vec<u8>, log: &mut String) -> Result<u32, String> {
    buf.push(1);
    log.push('x');
    Ok(1)
}

fn main() {
    let _ = fetch(&mut Vec::new(), &mut String::new());
}
