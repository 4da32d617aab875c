use retry_runtime::retry;

struct Connection {
    open: bool,
}

impl Connection {
    #[retry(attempts = 3)]
    fn close(self) -> Result<(), String> {
        if self.open {
            Ok(())
        } else {
            Err("already closed".to_string())
        }
    }
}

fn main() {
    let _ = Connection { open: true }.close();
}
