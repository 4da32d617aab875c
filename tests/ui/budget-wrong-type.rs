use retry_runtime::retry;

static BUDGET: u32 = 10;

#[retry(attempts = 3, budget = BUDGET)]
fn fetch() -> Result<u32, String> {
    Err("busy".to_string())
}

fn main() {
    let _ = fetch();
}
