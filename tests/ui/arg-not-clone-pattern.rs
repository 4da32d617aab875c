use retry_runtime::retry;

#[derive(Debug)]
struct Token(String);

#[retry(attempts = 3)]
fn send((id, token): (u64, Token)) -> Result<usize, String> {
    Ok(token.0.len() + id as usize)
}

fn main() {
    let _ = send((1, Token(String::new())));
}
