use retry_runtime::retry;

#[retry(when = |e: &u32| *e > 3)]
fn fetch() -> Result<u32, String> {
    Ok(1)
}

fn main() {
    let _ = fetch();
}
