use retry_runtime::{retry, CallReport};

#[retry(attempts = 3, report = report)]
fn fetch(id: u32, report: CallReport) -> Result<u32, String> {
    let _ = (&report, id);
    Ok(id)
}

fn main() {
    let _ = fetch(1, CallReport::new());
}
