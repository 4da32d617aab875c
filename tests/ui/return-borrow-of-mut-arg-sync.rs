// A plain `fn` returning a borrow of its `&mut` argument gets the same one error as the async
// case, not the borrow checker's loop noise.
use retry_runtime::retry;

#[retry(attempts = 3)]
fn first(items: &mut Vec<u8>) -> Result<&u8, String> {
    items.first().ok_or_else(|| "empty".to_string())
}

fn main() {
    let mut items = vec![1];
    let _ = first(&mut items);
}
