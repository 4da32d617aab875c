// The builders' closures infer their parameter types: each method carries the `Fn` bound its
// closure needs (README's `.on_retry(|outcome, info| ..)` once failed to compile).
use retry_runtime::Policy;

async fn chat(_: &str) -> Result<String, std::io::Error> {
    Ok("hi".into())
}

fn main() {
    let policy = Policy::new();
    let _call = policy
        .retry(async |_| chat("hello").await)
        .when(|e| e.kind() == std::io::ErrorKind::ConnectionReset)
        .until(|reply| !reply.is_empty())
        .on_retry(|outcome, info| println!("{:?} after {:?}", outcome.is_err(), info.delay()))
        .fallback(|e| Err(e));
    let _blocking = policy
        .retry_blocking(|_| Ok::<u32, String>(1))
        .when(|e| e.is_empty())
        .on_retry(|outcome, _| drop(outcome.clone()))
        .call();
}
