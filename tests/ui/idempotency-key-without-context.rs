use retry_runtime::retry;

#[retry(attempts = 3, idempotency_key = request_id)]
async fn submit(request_id: retry_runtime::IdempotencyKey) -> Result<(), String> {
    let _ = request_id;
    Ok(())
}

fn main() {}
