use retry_runtime::retry;

struct Request {
    body: Vec<u8>,
}

#[retry(hedge = "150ms")]
async fn send(id: u64, request: Request) -> Result<usize, String> {
    Ok(request.body.len() + id as usize)
}

fn main() {
    let _ = send(1, Request { body: Vec::new() });
}
