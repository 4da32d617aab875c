// A bad attribute reports its own error only: the function is still emitted, so callers,
// methods and trait impls that use it compile as before.
use retry_runtime::retry;

struct Client {
    hits: u32,
}

impl Client {
    #[retry(attempts = 0)]
    async fn fetch(&mut self, id: u64) -> Result<u64, String> {
        self.hits += 1;
        Ok(id)
    }
}

#[retry(base = "fast")]
fn parse(text: &str) -> Result<u32, std::num::ParseIntError> {
    text.parse()
}

async fn caller(client: &mut Client) -> Result<u64, String> {
    let n = parse("5").map_err(|e| e.to_string())?;
    client.fetch(u64::from(n)).await
}

fn main() {
    let mut client = Client { hits: 0 };
    let _ = caller(&mut client);
}
