use retry_runtime::retry;

#[retry(attempts = 3, report = attempts)]
fn fetch(id: u32, attempts: &mut u32) -> Result<u32, String> {
    let _ = (&attempts, id);
    Ok(id)
}

fn main() {
    let mut attempts = 0;
    let _ = fetch(1, &mut attempts);
}
