use retry_runtime::retry;

trait Handler {
    fn handle(&self) -> Result<u32, String>;
}

#[retry(attempts = 3)]
fn run(handler: Box<dyn Handler>) -> Result<u32, String> {
    handler.handle()
}

fn main() {}
