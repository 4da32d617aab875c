use retry_runtime::retry;

#[retry(attempts = 3)]
fn fetch() -> Result<u32, String> {
    let x = ;
    Ok(x)
}

fn main() {}
