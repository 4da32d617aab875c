#![deny(async_fn_in_trait)]

use retry_runtime::retry;

pub trait Fetch {
    #[retry(attempts = 3)]
    async fn fetch(&self) -> Result<u32, String> {
        Ok(1)
    }
}

fn main() {}
