//! `retry_runtime::middleware::RetryMiddleware` next to `reqwest-retry`'s
//! `RetryTransientMiddleware`, on the same faults from a scripted server on 127.0.0.1: what each
//! does with a 429 and `Retry-After`, a 529, a reset connection, a 400, and a `Retry-After: 3600`.
//! Both are configured alike: up to 4 attempts, backoff from 10 ms. Real clock; the whole run
//! takes a few seconds.
//!
//! ```text
//! cargo run --release -p retry-benchmarks --example http_peers
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One scripted answer.
#[derive(Clone)]
enum Answer {
    /// A status with extra header lines.
    Status(u16, &'static str),
    /// Close the connection with a reset.
    Reset,
}

/// A server that answers its n-th connection with `script[n]` (a 200 past the end), counting
/// requests.
async fn serve(script: Vec<Answer>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let url = format!("http://{}/", listener.local_addr().expect("an address"));
    let seen = Arc::new(AtomicUsize::new(0));
    let count = seen.clone();
    let script = Arc::new(Mutex::new(script.into_iter()));
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let answer = script
                .lock()
                .unwrap()
                .next()
                .unwrap_or(Answer::Status(200, ""));
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut read = 0;
                while !buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf[read..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => read += n,
                    }
                }
                match answer {
                    Answer::Reset => {
                        let _ = stream.set_zero_linger();
                    }
                    Answer::Status(code, headers) => {
                        let body = if code == 200 { "ok" } else { "" };
                        let text = format!(
                            "HTTP/1.1 {code} X\r\ncontent-length: {}\r\nconnection: close\r\n{headers}\r\n{body}",
                            body.len()
                        );
                        let _ = stream.write_all(text.as_bytes()).await;
                    }
                }
            });
        }
    });
    (url, seen)
}

fn plain_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .no_proxy()
        .build()
        .expect("a client")
}

async fn run(client: &reqwest_middleware::ClientWithMiddleware, script: Vec<Answer>) -> String {
    let (url, seen) = serve(script).await;
    let start = Instant::now();
    let outcome = match client.get(&url).send().await {
        Ok(response) => response.status().as_u16().to_string(),
        Err(_) => "error".to_string(),
    };
    format!(
        "{outcome} after {} requests, {} ms",
        seen.load(Ordering::SeqCst),
        start.elapsed().as_millis()
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let ours = reqwest_middleware::ClientBuilder::new(plain_client())
        .with(retry_runtime::middleware::RetryMiddleware::new(
            retry_runtime::Policy::new()
                .with_attempts(4)
                .with_base(Duration::from_millis(10)),
        ))
        .build();
    let policy = retry_policies::policies::ExponentialBackoff::builder()
        .retry_bounds(Duration::from_millis(10), Duration::from_millis(100))
        .build_with_max_retries(3);
    let theirs = reqwest_middleware::ClientBuilder::new(plain_client())
        .with(reqwest_retry::RetryTransientMiddleware::new_with_policy(
            policy,
        ))
        .build();

    let cases: [(&str, Vec<Answer>); 5] = [
        (
            "429, Retry-After: 1",
            vec![Answer::Status(429, "retry-after: 1\r\n")],
        ),
        ("529 overloaded", vec![Answer::Status(529, "")]),
        ("connection reset", vec![Answer::Reset]),
        ("400 bad request", vec![Answer::Status(400, "")]),
        (
            "429, Retry-After: 3600",
            vec![Answer::Status(429, "retry-after: 3600\r\n")],
        ),
    ];
    println!("| fault (then a 200) | retry-runtime's RetryMiddleware | reqwest-retry |");
    println!("|---|---|---|");
    for (name, script) in cases {
        let a = run(&ours, script.clone()).await;
        let b = run(&theirs, script).await;
        println!("| {name} | {a} | {b} |");
    }
}
