use retry_runtime::{retry, CallReport};

#[retry(attempts = 3, report = stats)]
fn fetch(id: u32, report: &mut CallReport) -> Result<u32, String> {
    let _ = &report;
    Ok(id)
}

fn main() {
    let mut report = CallReport::new();
    let _ = fetch(1, &mut report);
}
