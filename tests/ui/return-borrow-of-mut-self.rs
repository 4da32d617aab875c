use retry_runtime::retry;

struct Pool {
    conn: String,
}

impl Pool {
    #[retry(attempts = 3)]
    fn conn(&mut self) -> Result<&mut String, String> {
        Ok(&mut self.conn)
    }
}

fn main() {}
