//! An HTTP client that retries the right errors, honours `Retry-After`, and does not repeat a
//! side effect when a response is lost.
//!
//! The example starts a flaky order service on 127.0.0.1 itself, then places an order through
//! an annotated reqwest function. The service creates the order on the first request but loses
//! the answer (503), resets the next connection, answers the third request too slowly, asks for a
//! pause with `429 Retry-After: 1`, and only then answers. Every attempt sends the same
//! `Idempotency-Key`, so the order is created once. A second call sends a bad request, which is
//! not retried.
//!
//! ```text
//! cargo run --example http_client --features http
//! ```

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::RETRY_AFTER;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::StatusCode;
use hyper_util::rt::TokioIo;
use retry_runtime::reqwest::{HttpError, ResponseExt};
use retry_runtime::{retry, RetryInfo};
use tokio::net::TcpListener;

fn log_retry(err: &HttpError, info: &RetryInfo) {
    let err = match err {
        HttpError::Status {
            status, headers, ..
        } => match headers.get(RETRY_AFTER) {
            Some(wait) => format!("{status} (Retry-After: {})", wait.to_str().unwrap_or("?")),
            None => status.to_string(),
        },
        other => root_cause(other),
    };
    println!(
        "  attempt {} failed at {:>4} ms: {err}; next attempt in {} ms",
        info.attempt(),
        info.elapsed().as_millis(),
        info.delay().as_millis()
    );
}

/// Places an order. Up to 6 attempts with jittered exponential backoff from 100ms, each cut off
/// after 300ms, and never past 5s in total; `Retry-After` is honoured; every attempt of one call
/// sends the same `Idempotency-Key`.
#[retry(
    attempts = 6,
    base = "100ms",
    max = "1s",
    jitter = equal,
    deadline = "5s",
    timeout = "300ms",
    classify,
    context = ctx,
    on_retry = log_retry
)]
async fn place_order(client: &reqwest::Client, url: &str, item: &str) -> Result<String, HttpError> {
    println!(
        "  attempt {}: POST {url} (Idempotency-Key: {})",
        ctx.attempt(),
        ctx.idempotency_key()
    );
    let response = client
        .post(url)
        .header("idempotency-key", ctx.idempotency_key().to_string())
        .body(item.to_owned())
        .send()
        .await?;
    // A non-success status becomes an `HttpError` that keeps status, headers and body, and
    // classifies itself by the HTTP rules (Retry-After included): nothing written by hand.
    Ok(response.ensure_success().await?.text().await?)
}

/// The innermost cause, e.g. "connection reset by peer".
fn root_cause(err: &dyn std::error::Error) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[tokio::main]
async fn main() {
    let service = Arc::new(OrderService::default());
    let addr = service.clone().start().await;
    let url = format!("http://{addr}/orders");
    // No connection pooling, so each attempt is a new connection; no proxy, only 127.0.0.1.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .no_proxy()
        .build()
        .expect("a plain HTTP client");

    println!("placing an order with a flaky service at {addr}:");
    let started = std::time::Instant::now();
    let result = place_order(&client, &url, "one book").await;
    println!(
        "  -> {result:?} after {} ms; the service saw {} requests and created {} order(s)\n",
        started.elapsed().as_millis(),
        service.requests.load(Ordering::SeqCst),
        service.orders.lock().unwrap().len()
    );

    println!("an order without an item (a 400 is permanent, so it is not retried):");
    let before = service.requests.load(Ordering::SeqCst);
    let result = place_order(&client, &url, "").await;
    match &result {
        Err(err) => println!("  -> error: {err}"),
        Ok(order) => println!("  -> unexpectedly succeeded: {order}"),
    }
    println!(
        "  the service saw {} request(s)",
        service.requests.load(Ordering::SeqCst) - before
    );
}

/// The flaky order service: it creates an order for each new `Idempotency-Key` and remembers the
/// answer, but misbehaves on its first four requests.
#[derive(Default)]
struct OrderService {
    requests: AtomicUsize,
    orders: Mutex<HashMap<String, String>>,
}

impl OrderService {
    /// Listens on an ephemeral port of 127.0.0.1 and serves in the background.
    async fn start(self: Arc<Self>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a local port");
        let addr = listener.local_addr().expect("a bound address");
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let service = self.clone();
                tokio::spawn(async move {
                    // One request per connection: the client does not pool connections.
                    if service.requests.load(Ordering::SeqCst) == 1 {
                        // The second request: read it, then reset the connection.
                        service.requests.fetch_add(1, Ordering::SeqCst);
                        let mut head = [0; 1024];
                        while stream.readable().await.is_ok() {
                            match stream.try_read(&mut head) {
                                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {
                                    continue
                                }
                                _ => break,
                            }
                        }
                        let _ = stream.set_zero_linger();
                        return;
                    }
                    let handler = service_fn(move |request| service.clone().handle(request));
                    let _ = http1::Builder::new()
                        .keep_alive(false)
                        .serve_connection(TokioIo::new(stream), handler)
                        .await;
                });
            }
        });
        addr
    }

    async fn handle(
        self: Arc<Self>,
        request: hyper::Request<Incoming>,
    ) -> Result<hyper::Response<String>, Infallible> {
        let n = self.requests.fetch_add(1, Ordering::SeqCst) + 1;
        let key = request
            .headers()
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let item = match request.into_body().collect().await {
            Ok(body) => String::from_utf8_lossy(&body.to_bytes()).into_owned(),
            Err(_) => String::new(),
        };
        let (Some(key), false) = (key, item.is_empty()) else {
            return Ok(respond(
                StatusCode::BAD_REQUEST,
                "an order needs an item and a key",
            ));
        };
        let order = {
            let mut orders = self.orders.lock().unwrap();
            let count = orders.len();
            orders
                .entry(key)
                .or_insert_with(|| format!("order-{} ({item})", count + 1))
                .clone()
        };
        Ok(match n {
            // The order is created, but the answer is lost.
            1 => respond(StatusCode::SERVICE_UNAVAILABLE, ""),
            // Too slow: the client's 300ms timeout cuts this attempt off first.
            3 => {
                tokio::time::sleep(Duration::from_secs(2)).await;
                respond(StatusCode::CREATED, &order)
            }
            // Overloaded: come back in a second.
            4 => {
                let mut response = respond(StatusCode::TOO_MANY_REQUESTS, "");
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, "1".parse().unwrap());
                response
            }
            _ => respond(StatusCode::CREATED, &order),
        })
    }
}

fn respond(status: StatusCode, body: &str) -> hyper::Response<String> {
    let mut response = hyper::Response::new(body.to_owned());
    *response.status_mut() = status;
    response
}
