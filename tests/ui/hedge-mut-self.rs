use retry_runtime::retry;

struct Client {
    sent: u32,
}

impl Client {
    #[retry(hedge = "150ms")]
    async fn fetch(&mut self) -> Result<u32, String> {
        self.sent += 1;
        Ok(self.sent)
    }
}

fn main() {
    let _ = Client { sent: 0 }.fetch();
}
