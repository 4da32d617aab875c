use retry_runtime::retry;

#[retry(attempts = 3)]
fn fetch() {
    println!("fetching");
}

fn main() {
    fetch();
}
