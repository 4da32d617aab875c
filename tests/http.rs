//! Fault injection against a real HTTP server on 127.0.0.1.
//!
//! Each test starts a hyper server on an ephemeral port, on its own thread with its own tokio
//! runtime (real clock), scripted per request: 503s, 429 with `Retry-After` in seconds and as an
//! HTTP date, 400, connection resets and responses slower than the attempt timeout. The annotated
//! functions call it with reqwest. Connection pooling is off, so every request is one TCP
//! connection and the server can answer each one differently.
//!
//! Clocks: the client runs on tokio's paused clock wherever no timer is pending while it waits on
//! the socket, which makes backoff and `Retry-After` sleeps instant and exact. A paused runtime
//! that waits on real I/O with a timer pending jumps straight to that timer, so the tests of
//! `timeout` (whose timer is pending during the request) run on the real clock with lower bounds
//! and sub-second waits (see `paused_clock_fires_attempt_timeouts_before_the_server_answers`).

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{HeaderName, RETRY_AFTER};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{HeaderMap, Method, StatusCode};
use hyper_util::rt::TokioIo;
use retry_runtime::{retry, Classify, Decision, RetryInfo, TimedOut};
use retry_suite::Counter;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, Notify};
use tokio::time::Instant;

// ---------------------------------------------------------------------------------------------
// The scripted server.
// ---------------------------------------------------------------------------------------------

/// One request as the server received it.
#[derive(Clone, Debug)]
struct Seen {
    /// 1-based arrival order.
    n: usize,
    method: Method,
    path: String,
    key: Option<String>,
    body: String,
}

/// How the server answers one request.
enum Reply {
    Respond {
        status: StatusCode,
        headers: Vec<(HeaderName, String)>,
        body: String,
        delay: Duration,
    },
    /// Close the connection with `SO_LINGER` 0 once the request is read: the client sees a reset.
    Reset,
}

impl Reply {
    fn status(code: u16) -> Self {
        Reply::Respond {
            status: StatusCode::from_u16(code).unwrap(),
            headers: Vec::new(),
            body: String::new(),
            delay: Duration::ZERO,
        }
    }

    fn ok(body: impl Into<String>) -> Self {
        Reply::status(200).body(body)
    }

    fn body(mut self, text: impl Into<String>) -> Self {
        if let Reply::Respond { body, .. } = &mut self {
            *body = text.into();
        }
        self
    }

    fn header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        if let Reply::Respond { headers, .. } = &mut self {
            headers.push((name, value.into()));
        }
        self
    }

    /// Answer only after `wait` (real time, on the server's runtime).
    fn after(mut self, wait: Duration) -> Self {
        if let Reply::Respond { delay, .. } = &mut self {
            *delay = wait;
        }
        self
    }
}

type Handler = dyn Fn(&Seen) -> Reply + Send + Sync;

/// A server on 127.0.0.1 that answers every request through `handler` and records it.
struct Server {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = oneshot::channel();
        let handler: Arc<Handler> = Arc::new(handler);
        let log = seen.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(accept_loop(listener, handler, log, stopped));
        });
        Server {
            addr,
            seen,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// A server that answers its n-th request (1-based) with `script[n - 1]`, and with 500 past
    /// the end of the script.
    fn scripted(script: Vec<Reply>) -> Self {
        let script = Mutex::new(script.into_iter());
        Server::start(move |_| script.lock().unwrap().next().unwrap_or(Reply::status(500)))
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn requests(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept_loop(
    listener: std::net::TcpListener,
    handler: Arc<Handler>,
    seen: Arc<Mutex<Vec<Seen>>>,
    mut stopped: oneshot::Receiver<()>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    tokio::spawn(serve_connection(stream, handler.clone(), seen.clone()));
                }
            }
        }
    }
}

async fn serve_connection(stream: TcpStream, handler: Arc<Handler>, seen: Arc<Mutex<Vec<Seen>>>) {
    let reset = Arc::new(AtomicBool::new(false));
    let reset_now = Arc::new(Notify::new());
    let io = ResettableStream {
        stream,
        reset: reset.clone(),
    };
    let notify = reset_now.clone();
    let service = service_fn(move |request: hyper::Request<Incoming>| {
        let (handler, seen, reset, notify) =
            (handler.clone(), seen.clone(), reset.clone(), notify.clone());
        async move {
            let (parts, body) = request.into_parts();
            let body = match body.collect().await {
                Ok(bytes) => String::from_utf8_lossy(&bytes.to_bytes()).into_owned(),
                Err(_) => String::new(),
            };
            let request = {
                let mut log = seen.lock().unwrap();
                let request = Seen {
                    n: log.len() + 1,
                    method: parts.method,
                    path: parts.uri.path().to_owned(),
                    key: parts
                        .headers
                        .get("idempotency-key")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned),
                    body,
                };
                log.push(request.clone());
                request
            };
            match handler(&request) {
                Reply::Reset => {
                    reset.store(true, Ordering::SeqCst);
                    notify.notify_one();
                    std::future::pending::<Result<hyper::Response<String>, Infallible>>().await
                }
                Reply::Respond {
                    status,
                    headers,
                    body,
                    delay,
                } => {
                    tokio::time::sleep(delay).await;
                    let mut response = hyper::Response::new(body);
                    *response.status_mut() = status;
                    for (name, value) in headers {
                        response.headers_mut().insert(name, value.parse().unwrap());
                    }
                    Ok(response)
                }
            }
        }
    });
    let connection = http1::Builder::new()
        .keep_alive(false)
        .serve_connection(TokioIo::new(io), service);
    tokio::select! {
        _ = connection => {}
        // Dropping the connection drops the stream, which resets it.
        _ = reset_now.notified() => {}
    }
}

/// A TCP stream that, once `reset` is set, is closed with `SO_LINGER` 0, so the peer gets an RST
/// instead of a FIN.
struct ResettableStream {
    stream: TcpStream,
    reset: Arc<AtomicBool>,
}

impl Drop for ResettableStream {
    fn drop(&mut self) {
        if self.reset.load(Ordering::SeqCst) {
            let _ = self.stream.set_zero_linger();
        }
    }
}

impl AsyncRead for ResettableStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResettableStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

// ---------------------------------------------------------------------------------------------
// The client side: an error type that keeps the status and headers, and a hook log.
// ---------------------------------------------------------------------------------------------

/// Without pooling, every request opens its own connection. No proxy: only 127.0.0.1 is reached.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .no_proxy()
        .build()
        .unwrap()
}

#[derive(Debug)]
enum FetchError {
    /// A non-success answer, with its headers (for `Retry-After`).
    Status {
        status: StatusCode,
        headers: HeaderMap,
    },
    /// No answer: connection refused or reset, or a broken body.
    Transport(reqwest::Error),
    /// Cut off by `#[retry(timeout = ...)]`.
    TimedOut,
}

impl FetchError {
    /// A short label to compare in assertions: `503`, `reset`, `transport`, `timed out`.
    fn label(&self) -> String {
        match self {
            FetchError::Status { status, .. } => status.as_u16().to_string(),
            FetchError::Transport(err) if is_reset(err) => "reset".to_owned(),
            FetchError::Transport(_) => "transport".to_owned(),
            FetchError::TimedOut => "timed out".to_owned(),
        }
    }
}

impl From<reqwest::Error> for FetchError {
    fn from(err: reqwest::Error) -> Self {
        FetchError::Transport(err)
    }
}

impl From<TimedOut> for FetchError {
    fn from(_: TimedOut) -> Self {
        FetchError::TimedOut
    }
}

/// Status and `Retry-After` by retry-runtime's HTTP rules, transport errors by its reqwest rules.
impl Classify for FetchError {
    fn classify(&self) -> Decision {
        match self {
            FetchError::Status { status, headers } => {
                retry_runtime::http::decision(*status, headers)
            }
            FetchError::Transport(err) => err.classify(),
            FetchError::TimedOut => Decision::Retry,
        }
    }
}

/// Whether a connection reset (not a clean close) is somewhere in the error's sources.
fn is_reset(err: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            if io.kind() == io::ErrorKind::ConnectionReset {
                return true;
            }
        }
        source = err.source();
    }
    false
}

/// The body of a 2xx answer, or the status and headers of any other.
async fn read(response: reqwest::Response) -> Result<String, FetchError> {
    let status = response.status();
    if !status.is_success() {
        let headers = response.headers().clone();
        return Err(FetchError::Status { status, headers });
    }
    Ok(response.text().await?)
}

/// What the `on_retry` hook saw: (failed attempt, delay about to be slept, error label).
#[derive(Default)]
struct Hooks(Mutex<Vec<(u32, Duration, String)>>);

impl Hooks {
    fn record(&self, err: &FetchError, info: &RetryInfo) {
        self.0
            .lock()
            .unwrap()
            .push((info.attempt(), info.delay(), err.label()));
    }

    fn record_http(&self, err: &HttpError, info: &RetryInfo) {
        let label = err
            .status()
            .map_or_else(|| "transport".to_owned(), |s| s.as_u16().to_string());
        self.0
            .lock()
            .unwrap()
            .push((info.attempt(), info.delay(), label));
    }

    fn take(&self) -> Vec<(u32, Duration, String)> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn entry(attempt: u32, delay: Duration, label: &str) -> (u32, Duration, String) {
    (attempt, delay, label.to_owned())
}

fn label<T>(result: &Result<T, FetchError>) -> String {
    match result {
        Ok(_) => "ok".to_owned(),
        Err(err) => err.label(),
    }
}

// ---------------------------------------------------------------------------------------------
// Status codes.
// ---------------------------------------------------------------------------------------------

#[retry(attempts = 3, base = "10ms", classify, on_retry = |e, info| hooks.record(e, info))]
async fn get(client: &reqwest::Client, url: &str, hooks: &Hooks) -> Result<String, FetchError> {
    read(client.get(url).send().await?).await
}

#[tokio::test(start_paused = true)]
async fn gets_through_503s_with_the_policy_backoff() {
    let server = Server::scripted(vec![
        Reply::status(503),
        Reply::status(503),
        Reply::ok("hello"),
    ]);
    let hooks = Hooks::default();
    let start = Instant::now();
    let result = get(&client(), &server.url("/greeting"), &hooks).await;
    assert_eq!(result.unwrap(), "hello");
    assert_eq!(server.requests(), 3);
    assert!(server
        .seen()
        .iter()
        .all(|s| s.method == Method::GET && s.path == "/greeting"));
    assert_eq!(
        hooks.take(),
        [entry(1, ms(10), "503"), entry(2, ms(20), "503")]
    );
    // Paused clock: only the two backoff sleeps advance it; the requests themselves take no time.
    assert_eq!(start.elapsed(), ms(30));
}

#[tokio::test(start_paused = true)]
async fn gives_up_after_the_last_attempt_with_the_last_status() {
    let server = Server::scripted(vec![
        Reply::status(503),
        Reply::status(502),
        Reply::status(504),
        Reply::ok("late"),
    ]);
    let hooks = Hooks::default();
    let result = get(&client(), &server.url("/"), &hooks).await;
    assert_eq!(label(&result), "504");
    assert_eq!(
        server.requests(),
        3,
        "attempts = 3 means three requests, not four"
    );
    assert_eq!(
        hooks.take(),
        [entry(1, ms(10), "503"), entry(2, ms(20), "502")]
    );
}

#[tokio::test(start_paused = true)]
async fn a_400_is_returned_at_once() {
    let server = Server::scripted(vec![
        Reply::status(400).body("bad request"),
        Reply::ok("never"),
    ]);
    let hooks = Hooks::default();
    let start = Instant::now();
    let result = get(&client(), &server.url("/"), &hooks).await;
    assert_eq!(label(&result), "400");
    assert_eq!(server.requests(), 1);
    assert_eq!(hooks.take(), []);
    assert_eq!(start.elapsed(), Duration::ZERO);
}

// ---------------------------------------------------------------------------------------------
// Retry-After.
// ---------------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn retry_after_in_seconds_is_slept_in_full() {
    let server = Server::scripted(vec![
        Reply::status(429).header(RETRY_AFTER, "2"),
        Reply::status(503).header(RETRY_AFTER, "1"),
        Reply::ok("done"),
    ]);
    let hooks = Hooks::default();
    let start = Instant::now();
    let result = get(&client(), &server.url("/"), &hooks).await;
    assert_eq!(result.unwrap(), "done");
    assert_eq!(server.requests(), 3);
    // max(backoff, hint): 10ms vs 2s, then 20ms vs 1s.
    assert_eq!(
        hooks.take(),
        [entry(1, ms(2_000), "429"), entry(2, ms(1_000), "503")]
    );
    assert_eq!(start.elapsed(), ms(3_000));
}

#[tokio::test(start_paused = true)]
async fn retry_after_as_an_http_date_is_slept_until_that_date() {
    // The server writes "now + 3s" in whole seconds, so the hint is in (2s, 3s].
    let server = Server::start(|seen| match seen.n {
        1 => Reply::status(429).header(
            RETRY_AFTER,
            httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(3)),
        ),
        _ => Reply::ok("done"),
    });
    let hooks = Hooks::default();
    let start = Instant::now();
    let result = get(&client(), &server.url("/"), &hooks).await;
    assert_eq!(result.unwrap(), "done");
    assert_eq!(server.requests(), 2);
    let log = hooks.take();
    assert_eq!(log.len(), 1);
    let (attempt, delay, error) = &log[0];
    assert_eq!((*attempt, error.as_str()), (1, "429"));
    assert!(*delay > ms(1_900) && *delay <= ms(3_000), "{delay:?}");
    // The hint reported to on_retry is the one slept (tokio's timers round up to the millisecond).
    let elapsed = start.elapsed();
    assert!(
        elapsed >= *delay && elapsed <= *delay + ms(1),
        "slept {elapsed:?} for a {delay:?} hint"
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_date_in_the_past_falls_back_to_the_backoff() {
    let server = Server::start(|seen| match seen.n {
        1 => Reply::status(503).header(
            RETRY_AFTER,
            httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(60)),
        ),
        _ => Reply::ok("done"),
    });
    let hooks = Hooks::default();
    let start = Instant::now();
    assert_eq!(
        get(&client(), &server.url("/"), &hooks).await.unwrap(),
        "done"
    );
    assert_eq!(server.requests(), 2);
    assert_eq!(hooks.take(), [entry(1, ms(10), "503")]);
    assert_eq!(start.elapsed(), ms(10));
}

#[tokio::test(start_paused = true)]
async fn retry_after_past_the_deadline_ends_the_call_with_the_last_error() {
    #[retry(
        attempts = 5,
        base = "10ms",
        deadline = "5s",
        classify,
        on_retry = |e, info| hooks.record(e, info)
    )]
    async fn get_within_5s(
        client: &reqwest::Client,
        url: &str,
        hooks: &Hooks,
    ) -> Result<String, FetchError> {
        read(client.get(url).send().await?).await
    }
    let server = Server::scripted(vec![
        Reply::status(429).header(RETRY_AFTER, "3"),
        Reply::status(429).header(RETRY_AFTER, "3"),
        Reply::ok("too late"),
    ]);
    let hooks = Hooks::default();
    let start = Instant::now();
    let result = get_within_5s(&client(), &server.url("/"), &hooks).await;
    assert_eq!(label(&result), "429");
    // 3s fits in the 5s deadline; a second 3s pause would end at 6s, so the call gives up at 3s.
    assert_eq!(server.requests(), 2);
    assert_eq!(hooks.take(), [entry(1, ms(3_000), "429")]);
    assert_eq!(start.elapsed(), ms(3_000));
}

#[tokio::test(start_paused = true)]
async fn deadline_bounds_the_requests_sent() {
    #[retry(attempts = 10, base = "1s", deadline = "2500ms", classify)]
    async fn get_within(client: &reqwest::Client, url: &str) -> Result<String, FetchError> {
        read(client.get(url).send().await?).await
    }
    let server = Server::start(|_| Reply::status(503));
    let start = Instant::now();
    let result = get_within(&client(), &server.url("/")).await;
    assert_eq!(label(&result), "503");
    // Requests at 0s and 1s; the next backoff (2s) would end at 3s, past the 2.5s deadline.
    assert_eq!(server.requests(), 2);
    assert_eq!(start.elapsed(), ms(1_000));
}

// ---------------------------------------------------------------------------------------------
// Connection resets.
// ---------------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn connection_resets_are_retried() {
    let server = Server::scripted(vec![Reply::Reset, Reply::Reset, Reply::ok("through")]);
    let hooks = Hooks::default();
    let result = get(&client(), &server.url("/"), &hooks).await;
    assert_eq!(result.unwrap(), "through");
    assert_eq!(server.requests(), 3);
    assert_eq!(
        hooks.take(),
        [entry(1, ms(10), "reset"), entry(2, ms(20), "reset")]
    );
}

#[tokio::test(start_paused = true)]
async fn a_reset_on_every_attempt_returns_the_transport_error() {
    let server = Server::start(|_| Reply::Reset);
    let hooks = Hooks::default();
    let result = get(&client(), &server.url("/"), &hooks).await;
    match &result {
        Err(FetchError::Transport(err)) => assert!(is_reset(err), "{err:?}"),
        other => panic!("expected a transport error, got {other:?}"),
    }
    assert_eq!(server.requests(), 3);
    assert_eq!(hooks.take().len(), 2);
}

// ---------------------------------------------------------------------------------------------
// reqwest's own errors, classified by retry-runtime's `reqwest` feature.
// ---------------------------------------------------------------------------------------------

#[retry(attempts = 3, base = "10ms", classify, on_retry = |_, _| { retries.bump(); })]
async fn get_raw(
    client: &reqwest::Client,
    url: &str,
    retries: &Counter,
) -> Result<String, reqwest::Error> {
    client
        .get(url)
        .send()
        .await?
        .error_for_status()?
        .text()
        .await
}

#[tokio::test(start_paused = true)]
async fn reqwest_status_errors_retry_a_503_and_stop_at_a_404() {
    let server = Server::scripted(vec![
        Reply::status(503),
        Reply::status(404),
        Reply::ok("never"),
    ]);
    let retries = Counter::new();
    let err = get_raw(&client(), &server.url("/"), &retries)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::NOT_FOUND));
    assert_eq!(server.requests(), 2);
    assert_eq!(retries.get(), 1);
}

#[tokio::test(start_paused = true)]
async fn refused_connections_are_retried_until_the_attempts_run_out() {
    // A port that was just free: nothing listens on it any more.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let retries = Counter::new();
    let start = Instant::now();
    let err = get_raw(&client(), &format!("http://{addr}/"), &retries)
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    assert_eq!(retries.get(), 2);
    assert_eq!(start.elapsed(), ms(30));
}

// ---------------------------------------------------------------------------------------------
// Idempotency keys: a POST whose response is lost is retried without a second side effect.
// ---------------------------------------------------------------------------------------------

/// An order service: the first request with a new `Idempotency-Key` creates an order; a request
/// with a known key gets the stored answer back. `lose` decides, per request, whether the answer
/// is lost after the order was created (503 or a reset).
struct Orders {
    created: Mutex<Vec<(String, String)>>,
    answers: Mutex<HashMap<String, String>>,
}

impl Orders {
    fn serve(
        self: &Arc<Self>,
        lose: impl Fn(usize) -> Option<Reply> + Send + Sync + 'static,
    ) -> Server {
        let orders = self.clone();
        Server::start(move |seen| {
            if seen.method != Method::POST {
                return Reply::status(405);
            }
            let Some(key) = seen.key.clone() else {
                return Reply::status(400).body("missing Idempotency-Key");
            };
            let stored = orders.answers.lock().unwrap().get(&key).cloned();
            let answer = match stored {
                Some(answer) => answer,
                None => {
                    let mut created = orders.created.lock().unwrap();
                    created.push((key.clone(), seen.body.clone()));
                    let answer = format!("order-{}", created.len());
                    orders.answers.lock().unwrap().insert(key, answer.clone());
                    answer
                }
            };
            lose(seen.n).unwrap_or_else(|| Reply::status(201).body(answer))
        })
    }

    fn created(&self) -> Vec<(String, String)> {
        self.created.lock().unwrap().clone()
    }
}

fn orders() -> Arc<Orders> {
    Arc::new(Orders {
        created: Mutex::new(Vec::new()),
        answers: Mutex::new(HashMap::new()),
    })
}

#[retry(
    attempts = 4,
    base = "10ms",
    classify,
    context = ctx,
    on_retry = |e, info| hooks.record(e, info)
)]
async fn create_order(
    client: &reqwest::Client,
    url: &str,
    item: &str,
    hooks: &Hooks,
) -> Result<String, FetchError> {
    let request = client
        .post(url)
        .header("idempotency-key", ctx.idempotency_key().to_string())
        .body(item.to_owned());
    read(request.send().await?).await
}

#[tokio::test(start_paused = true)]
async fn lost_responses_to_a_post_do_not_repeat_its_side_effect() {
    let orders = orders();
    // Request 1 creates the order and answers 503; request 2 is reset; request 3 gets the answer.
    let server = orders.serve(|n| match n {
        1 => Some(Reply::status(503)),
        2 => Some(Reply::Reset),
        _ => None,
    });
    let hooks = Hooks::default();
    let result = create_order(&client(), &server.url("/orders"), "book", &hooks).await;
    assert_eq!(result.unwrap(), "order-1");
    assert_eq!(server.requests(), 3);
    assert_eq!(
        hooks.take(),
        [entry(1, ms(10), "503"), entry(2, ms(20), "reset")]
    );

    let seen = server.seen();
    let key = seen[0]
        .key
        .clone()
        .expect("the first request carries a key");
    assert_eq!(key.len(), 36, "a UUID: {key}");
    assert!(
        seen.iter().all(|s| s.key.as_deref() == Some(key.as_str())),
        "one key for all attempts: {seen:?}"
    );
    assert_eq!(
        orders.created(),
        [(key.clone(), "book".to_owned())],
        "the order was created exactly once"
    );

    // A second call is a new operation: a new key, a second order.
    let result = create_order(&client(), &server.url("/orders"), "pen", &hooks).await;
    assert_eq!(result.unwrap(), "order-2");
    assert_eq!(server.requests(), 4);
    let created = orders.created();
    assert_eq!(created.len(), 2);
    assert_ne!(created[1].0, key);
    assert_eq!(created[1].1, "pen");
}

// ---------------------------------------------------------------------------------------------
// Slow responses and the attempt timeout (real clock: see the module docs).
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn slow_responses_are_cut_off_and_the_post_is_applied_once() {
    #[retry(
        attempts = 3,
        base = "10ms",
        timeout = "100ms",
        classify,
        context = ctx,
        on_retry = |e, info| hooks.record(e, info)
    )]
    async fn create(
        client: &reqwest::Client,
        url: &str,
        hooks: &Hooks,
    ) -> Result<String, FetchError> {
        let request = client
            .post(url)
            .header("idempotency-key", ctx.idempotency_key().to_string())
            .body("slow book");
        read(request.send().await?).await
    }
    let orders = orders();
    // Requests 1 and 2 are answered after 5s, long after the client gave up on them; the first
    // one still creates the order. Request 3 gets the stored answer at once.
    let server = orders.serve(|n| {
        (n < 3).then(|| {
            Reply::status(201)
                .body("too slow")
                .after(Duration::from_secs(5))
        })
    });
    let hooks = Hooks::default();
    let start = Instant::now();
    let result = create(&client(), &server.url("/orders"), &hooks).await;
    let elapsed = start.elapsed();
    assert_eq!(result.unwrap(), "order-1");
    assert_eq!(server.requests(), 3);
    assert_eq!(
        hooks.take(),
        [entry(1, ms(10), "timed out"), entry(2, ms(20), "timed out")]
    );
    assert_eq!(
        orders.created().len(),
        1,
        "the order was created exactly once"
    );
    // Two full timeouts and two backoffs, and nowhere near the server's 5s.
    assert!(elapsed >= ms(230) && elapsed < ms(4_000), "{elapsed:?}");
}

#[tokio::test]
async fn a_server_that_never_answers_in_time_ends_with_timed_out() {
    #[retry(attempts = 2, base = "10ms", timeout = "100ms", classify)]
    async fn get_quick(client: &reqwest::Client, url: &str) -> Result<String, FetchError> {
        read(client.get(url).send().await?).await
    }
    let server = Server::start(|_| Reply::ok("slow").after(Duration::from_secs(5)));
    let start = Instant::now();
    let result = get_quick(&client(), &server.url("/")).await;
    let elapsed = start.elapsed();
    assert_eq!(label(&result), "timed out");
    assert_eq!(server.requests(), 2);
    assert!(elapsed >= ms(210) && elapsed < ms(4_000), "{elapsed:?}");
}

#[tokio::test]
async fn the_deadline_cuts_off_a_slow_attempt_before_its_timeout() {
    #[retry(
        attempts = 3,
        base = "10ms",
        timeout = "3s",
        deadline = "200ms",
        classify
    )]
    async fn get_by_deadline(client: &reqwest::Client, url: &str) -> Result<String, FetchError> {
        read(client.get(url).send().await?).await
    }
    let server = Server::start(|_| Reply::ok("slow").after(Duration::from_secs(5)));
    let start = Instant::now();
    let result = get_by_deadline(&client(), &server.url("/")).await;
    let elapsed = start.elapsed();
    assert_eq!(label(&result), "timed out");
    // Cut at the 200ms deadline, not at the 3s timeout, and no retry fits after it.
    assert_eq!(server.requests(), 1);
    assert!(elapsed >= ms(200) && elapsed < ms(2_000), "{elapsed:?}");
}

/// Why the tests above use the real clock: on a paused clock, a runtime that waits on real I/O
/// with a timer pending advances straight to that timer, so a 30s attempt timeout fires before a
/// server that answers within 200ms gets its answer through. (Should tokio ever stop doing this,
/// this test fails and the timeout tests can move to the paused clock.)
#[tokio::test(start_paused = true)]
async fn paused_clock_fires_attempt_timeouts_before_the_server_answers() {
    #[retry(attempts = 1, timeout = "30s", classify)]
    async fn get_once(client: &reqwest::Client, url: &str) -> Result<String, FetchError> {
        read(client.get(url).send().await?).await
    }
    let server = Server::start(|_| Reply::ok("quick").after(ms(200)));
    let start = Instant::now();
    let result = get_once(&client(), &server.url("/")).await;
    assert_eq!(label(&result), "timed out");
    assert_eq!(start.elapsed(), Duration::from_secs(30));
}

// ---------------------------------------------------------------------------------------------
// Responses that arrive as `Ok`: `classify_ok` on the attribute and on the builder.
// ---------------------------------------------------------------------------------------------

/// The response is returned as `Ok` whatever its status; `classify_ok` asks the response.
#[retry(attempts = 4, base = "10ms", classify_ok)]
async fn get_response(
    client: &reqwest::Client,
    url: &str,
) -> Result<reqwest::Response, reqwest::Error> {
    client.get(url).send().await
}

#[tokio::test(start_paused = true)]
async fn a_503_response_with_retry_after_is_retried_after_the_hint_and_a_404_returned_at_once() {
    let server = Server::scripted(vec![
        Reply::status(503).header(RETRY_AFTER, "2"),
        Reply::ok("done"),
    ]);
    let start = Instant::now();
    let response = get_response(&client(), &server.url("/")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(server.requests(), 2);
    assert_eq!(start.elapsed(), ms(2_000));

    let server = Server::scripted(vec![Reply::status(404), Reply::ok("never")]);
    let response = get_response(&client(), &server.url("/")).await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(server.requests(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_builder_retries_a_503_response_and_returns_a_404_at_once() {
    let policy = retry_runtime::Policy::new()
        .with_attempts(4)
        .with_base(ms(10));
    let client = client();
    let server = Server::scripted(vec![
        Reply::status(503).header(RETRY_AFTER, "1"),
        Reply::status(503),
        Reply::ok("done"),
    ]);
    let url = server.url("/");
    let start = Instant::now();
    let response = policy
        .retry(async |_| client.get(&url).send().await)
        .classify_ok()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "done");
    assert_eq!(server.requests(), 3);
    // max(10ms, 1s), then the 20ms backoff.
    assert_eq!(start.elapsed(), ms(1_020));

    let server = Server::scripted(vec![Reply::status(404)]);
    let url = server.url("/");
    let response = policy
        .retry(async |_| client.get(&url).send().await)
        .classify_ok()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(server.requests(), 1);
}

/// A `Retry-After: 3600` ends the call at once, with that response (it used to stall the call
/// for an hour).
#[tokio::test(start_paused = true)]
async fn a_retry_after_beyond_max_hint_ends_the_call_at_once() {
    let server = Server::scripted(vec![
        Reply::status(429).header(RETRY_AFTER, "3600"),
        Reply::ok("never"),
    ]);
    let start = Instant::now();
    let response = get_response(&client(), &server.url("/")).await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(server.requests(), 1);
    assert_eq!(start.elapsed(), Duration::ZERO);
}

/// A `retry-after-ms` too long for a `Duration` is a hint beyond `max_hint`, not an absent one:
/// the call ends at once with the server's answer, on the attribute, the builder and the
/// middleware (it used to be retried after the backoff).
#[tokio::test(start_paused = true)]
async fn a_huge_retry_after_ms_ends_the_call_at_once_on_every_door() {
    let policy = retry_runtime::Policy::new()
        .with_attempts(4)
        .with_base(ms(10));
    let middleware = middleware_client(RetryMiddleware::new(policy));
    for huge in ["99999999999999999999999999", "1e30"] {
        let script = || {
            Server::scripted(vec![
                Reply::status(503).header(HeaderName::from_static("retry-after-ms"), huge),
                Reply::ok("never"),
            ])
        };
        let start = Instant::now();
        let server = script();
        let response = get_response(&client(), &server.url("/")).await.unwrap();
        assert_eq!(
            (response.status(), server.requests()),
            (StatusCode::SERVICE_UNAVAILABLE, 1)
        );

        let server = script();
        let (client, url) = (client(), server.url("/"));
        let response = policy
            .retry(async |_| client.get(&url).send().await)
            .classify_ok()
            .await
            .unwrap();
        assert_eq!(
            (response.status(), server.requests()),
            (StatusCode::SERVICE_UNAVAILABLE, 1)
        );

        let server = script();
        let response = middleware.get(server.url("/")).send().await.unwrap();
        assert_eq!(
            (response.status(), server.requests()),
            (StatusCode::SERVICE_UNAVAILABLE, 1)
        );
        assert_eq!(start.elapsed(), Duration::ZERO, "{huge}");
    }
}

// ---------------------------------------------------------------------------------------------
// What LLM and cloud APIs send: 529, retry-after-ms, x-should-retry; the ready error type.
// ---------------------------------------------------------------------------------------------

use retry_runtime::reqwest::{HttpError, ResponseExt};

/// The shortest correct client: `?` on the transport, `ensure_success` on the status.
#[retry(attempts = 4, base = "50ms", classify, on_retry = |e: &HttpError, info: &RetryInfo| hooks.record_http(e, info))]
async fn complete(client: &reqwest::Client, url: &str, hooks: &Hooks) -> Result<String, HttpError> {
    let response = client.post(url).body("{}").send().await?;
    Ok(response.ensure_success().await?.text().await?)
}

#[tokio::test(start_paused = true)]
async fn a_529_overloaded_is_retried() {
    let server = Server::scripted(vec![Reply::status(529), Reply::ok("hello")]);
    let hooks = Hooks::default();
    assert_eq!(
        complete(&client(), &server.url("/"), &hooks).await.unwrap(),
        "hello"
    );
    assert_eq!(server.requests(), 2);
}

#[tokio::test(start_paused = true)]
async fn retry_after_ms_is_slept_and_wins_over_retry_after() {
    let server = Server::scripted(vec![
        Reply::status(429)
            .header(HeaderName::from_static("retry-after-ms"), "1500")
            .header(RETRY_AFTER, "20"),
        Reply::ok("hello"),
    ]);
    let hooks = Hooks::default();
    let start = Instant::now();
    assert_eq!(
        complete(&client(), &server.url("/"), &hooks).await.unwrap(),
        "hello"
    );
    assert_eq!(start.elapsed(), ms(1_500));
    assert_eq!(hooks.take(), [entry(1, ms(1_500), "429")]);
}

#[tokio::test(start_paused = true)]
async fn x_should_retry_overrides_the_status_both_ways() {
    let should = HeaderName::from_static("x-should-retry");
    // A 400 the server says to retry.
    let server = Server::scripted(vec![
        Reply::status(400).header(should.clone(), "true"),
        Reply::ok("hello"),
    ]);
    let hooks = Hooks::default();
    assert_eq!(
        complete(&client(), &server.url("/"), &hooks).await.unwrap(),
        "hello"
    );
    assert_eq!(server.requests(), 2);
    // A 503 the server says not to retry: returned at once, body and headers kept.
    let server = Server::scripted(vec![
        Reply::status(503)
            .header(should, "false")
            .body("{\"error\":\"gone\"}"),
        Reply::ok("never"),
    ]);
    let err = complete(&client(), &server.url("/"), &hooks)
        .await
        .unwrap_err();
    assert_eq!(server.requests(), 1);
    match &err {
        HttpError::Status {
            status,
            headers,
            body,
            ..
        } => {
            assert_eq!(*status, StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(headers["x-should-retry"], "false");
            assert_eq!(body, "{\"error\":\"gone\"}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().starts_with(
            "HTTP status server error (503 Service Unavailable) for url (http://127.0.0.1:"
        ),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_400_stops_and_a_reset_is_retried_through_the_ready_error() {
    let server = Server::scripted(vec![Reply::Reset, Reply::status(400), Reply::ok("never")]);
    let hooks = Hooks::default();
    let err = complete(&client(), &server.url("/"), &hooks)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::BAD_REQUEST));
    assert_eq!(server.requests(), 2);
}

// ---------------------------------------------------------------------------------------------
// The reqwest-middleware layer.
// ---------------------------------------------------------------------------------------------

use retry_runtime::middleware::RetryMiddleware;

fn middleware_client(layer: RetryMiddleware) -> reqwest_middleware::ClientWithMiddleware {
    reqwest_middleware::ClientBuilder::new(client())
        .with(layer)
        .build()
}

#[tokio::test(start_paused = true)]
async fn the_middleware_retries_by_the_http_rules_with_exact_counts() {
    let policy = retry_runtime::Policy::new()
        .with_attempts(5)
        .with_base(ms(100));
    let client = middleware_client(RetryMiddleware::new(policy));
    let server = Server::scripted(vec![
        Reply::status(503),
        Reply::status(429).header(RETRY_AFTER, "2"),
        Reply::Reset,
        Reply::status(529),
        Reply::ok("done"),
    ]);
    let start = Instant::now();
    let response = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "done");
    assert_eq!(server.requests(), 5);
    // 100ms, max(200ms, 2s), 400ms, 800ms.
    assert_eq!(start.elapsed(), ms(100 + 2_000 + 400 + 800));

    // A 400 is returned at once; a 3600 s Retry-After ends the call at once.
    let server = Server::scripted(vec![Reply::status(400), Reply::ok("never")]);
    let response = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(
        (response.status(), server.requests()),
        (StatusCode::BAD_REQUEST, 1)
    );
    let server = Server::scripted(vec![
        Reply::status(429).header(RETRY_AFTER, "3600"),
        Reply::ok("never"),
    ]);
    let start = Instant::now();
    let response = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(
        (response.status(), server.requests()),
        (StatusCode::TOO_MANY_REQUESTS, 1)
    );
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn the_middleware_sends_one_idempotency_key_per_post_and_none_for_a_get() {
    let policy = retry_runtime::Policy::new()
        .with_attempts(3)
        .with_base(ms(10));
    let client = middleware_client(RetryMiddleware::new(policy).with_idempotency_key());
    let server = Server::scripted(vec![
        Reply::status(503),
        Reply::status(502),
        Reply::ok("made"),
    ]);
    let response = client
        .post(server.url("/orders"))
        .body("{\"item\":1}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "made");
    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    let key = seen[0].key.clone().expect("an Idempotency-Key header");
    assert!(seen
        .iter()
        .all(|s| s.key.as_deref() == Some(key.as_str()) && s.body == "{\"item\":1}"));

    let server = Server::scripted(vec![Reply::ok("read")]);
    let _ = client.get(server.url("/orders")).send().await.unwrap();
    assert_eq!(server.seen()[0].key, None);
}

#[tokio::test(start_paused = true)]
async fn the_middleware_spends_a_budget() {
    static BUDGET: retry_runtime::RetryBudget = retry_runtime::RetryBudget::new(1, 0.0);
    let policy = retry_runtime::Policy::new()
        .with_attempts(5)
        .with_base(ms(10));
    let client = middleware_client(RetryMiddleware::new(policy).with_budget(&BUDGET));
    let server = Server::scripted(vec![
        Reply::status(503),
        Reply::status(503),
        Reply::status(503),
    ]);
    let response = client.get(server.url("/")).send().await.unwrap();
    // One token: one retry, two requests.
    assert_eq!(
        (response.status(), server.requests()),
        (StatusCode::SERVICE_UNAVAILABLE, 2)
    );
}

#[tokio::test(start_paused = true)]
async fn the_middleware_asks_a_breaker_and_a_404_does_not_trip_it() {
    static BREAKER: retry_runtime::CircuitBreaker = retry_runtime::CircuitBreaker::new()
        .with_consecutive_failures(2)
        .with_break(Duration::from_secs(30))
        .with_break_jitter(0.0);
    let policy = retry_runtime::Policy::new()
        .with_attempts(5)
        .with_base(ms(10));
    let client = middleware_client(RetryMiddleware::new(policy).with_breaker(&BREAKER));
    // Answers that are not transient count for the service.
    let server = Server::scripted(vec![Reply::status(404), Reply::status(404)]);
    for _ in 0..2 {
        let response = client.get(server.url("/")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    assert_eq!(BREAKER.state(), retry_runtime::BreakerState::Closed);
    // Two 503s open it: the second 503 is returned at once, without a sleep.
    let server = Server::scripted(vec![
        Reply::status(503),
        Reply::status(503),
        Reply::ok("never"),
    ]);
    let start = Instant::now();
    let response = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(
        (response.status(), server.requests()),
        (StatusCode::SERVICE_UNAVAILABLE, 2)
    );
    assert_eq!(start.elapsed(), ms(10));
    // While it is open, nothing is sent.
    let err = client.get(server.url("/")).send().await.unwrap_err();
    assert!(err.to_string().contains("circuit breaker is open"), "{err}");
    assert_eq!(server.requests(), 2);
}

/// The middleware's per-attempt timeout: the first answer comes too late and is cut off; the
/// second is in time. Real clock (a timer is pending during the request).
#[tokio::test]
async fn the_middleware_cuts_slow_attempts_off() {
    let policy = retry_runtime::Policy::new()
        .with_attempts(3)
        .with_base(ms(10));
    // The layer's own timeout, or the one the policy carries (as read from a policy file).
    for layer in [
        RetryMiddleware::new(policy).with_timeout(ms(100)),
        RetryMiddleware::new(policy.with_timeout(ms(100))),
    ] {
        let client = middleware_client(layer);
        let server = Server::scripted(vec![
            Reply::ok("late").after(Duration::from_secs(5)),
            Reply::ok("in time"),
        ]);
        let start = std::time::Instant::now();
        let response = client.get(server.url("/")).send().await.unwrap();
        assert_eq!(response.text().await.unwrap(), "in time");
        assert_eq!(server.requests(), 2);
        assert!(start.elapsed() >= ms(110) && start.elapsed() < Duration::from_secs(5));
    }
}

/// A stream of ready items.
fn tokio_stream_of<T: Unpin + Send + 'static>(
    items: Vec<T>,
) -> impl futures_core::Stream<Item = T> + Send + 'static {
    struct Ready<T>(std::vec::IntoIter<T>);
    impl<T: Unpin> futures_core::Stream for Ready<T> {
        type Item = T;
        fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<T>> {
            Poll::Ready(self.0.next())
        }
    }
    Ready(items.into_iter())
}

/// `HttpError` takes `breaker = ...` as it is: a refusal is `HttpError::BreakerOpen`, and the
/// request is not sent.
#[tokio::test(start_paused = true)]
async fn http_error_works_with_a_breaker() {
    static BREAKER: retry_runtime::CircuitBreaker = retry_runtime::CircuitBreaker::new()
        .with_consecutive_failures(1)
        .with_break(Duration::from_secs(60))
        .with_break_jitter(0.0);
    #[retry(attempts = 3, base = "10ms", classify, breaker = BREAKER)]
    async fn guarded(client: &reqwest::Client, url: &str) -> Result<String, HttpError> {
        Ok(client
            .get(url)
            .send()
            .await?
            .ensure_success()
            .await?
            .text()
            .await?)
    }
    let server = Server::scripted(vec![Reply::status(503), Reply::ok("never")]);
    let (client, url) = (client(), server.url("/"));
    // The 503 opens the breaker: it is the call's outcome.
    let first = guarded(&client, &url).await;
    assert!(
        matches!(first, Err(HttpError::Status { status, .. }) if status == 503),
        "{first:?}"
    );
    // While it is open, the request is not sent.
    let second = guarded(&client, &url).await;
    assert!(
        matches!(second, Err(HttpError::BreakerOpen(_))),
        "{second:?}"
    );
    assert_eq!(server.requests(), 1);
}

// ---------------------------------------------------------------------------------------------
// The middleware does not repeat a `POST` the server may have acted on: one test per row of
// `RetryMiddleware`'s table, with the server's own count.
// ---------------------------------------------------------------------------------------------

/// What the server saw of one `POST` answered first by `first`, then by a 200, through a
/// middleware with `attempts = 3`.
async fn posts_seen(layer: RetryMiddleware, first: Reply, key: Option<&str>) -> usize {
    let client = middleware_client(layer);
    let server = Server::scripted(vec![first, Reply::ok("done")]);
    let mut request = client.post(server.url("/charge")).body("{}");
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let _ = request.send().await;
    server.requests()
}

fn three_attempts() -> RetryMiddleware {
    RetryMiddleware::new(
        retry_runtime::Policy::new()
            .with_attempts(3)
            .with_base(ms(10)),
    )
}

#[tokio::test(start_paused = true)]
async fn a_post_is_not_repeated_after_a_failure_the_server_may_have_acted_on() {
    for first in [
        Reply::status(500),
        Reply::status(502),
        Reply::status(504),
        Reply::Reset,
    ] {
        assert_eq!(posts_seen(three_attempts(), first, None).await, 1);
    }
    // A GET is idempotent: the same 500 is retried.
    let client = middleware_client(three_attempts());
    let server = Server::scripted(vec![Reply::status(500), Reply::ok("done")]);
    let response = client.get(server.url("/")).send().await.unwrap();
    assert_eq!((response.status(), server.requests()), (StatusCode::OK, 2));
}

#[tokio::test(start_paused = true)]
async fn a_post_is_retried_when_the_server_says_it_did_not_act() {
    for status in [429, 503, 529] {
        assert_eq!(
            posts_seen(three_attempts(), Reply::status(status), None).await,
            2,
            "{status}"
        );
    }
    let told = Reply::status(500).header(HeaderName::from_static("x-should-retry"), "true");
    assert_eq!(posts_seen(three_attempts(), told, None).await, 2);
}

#[tokio::test(start_paused = true)]
async fn a_post_with_an_idempotency_key_or_the_opt_in_is_retried() {
    let with_key = three_attempts().with_idempotency_key();
    assert_eq!(posts_seen(with_key, Reply::status(500), None).await, 2);
    let own_key = Some("order-42");
    assert_eq!(posts_seen(three_attempts(), Reply::Reset, own_key).await, 2);
    let opted_in = three_attempts().retry_non_idempotent();
    assert_eq!(posts_seen(opted_in, Reply::status(500), None).await, 2);
}

/// A `POST` whose connection could not be made was never sent: it is retried (here until the
/// attempts run out, against a port nothing listens on: 10ms + 20ms of backoff).
#[tokio::test(start_paused = true)]
async fn a_post_that_could_not_connect_is_retried() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/charge", closed.local_addr().unwrap());
    drop(closed);
    let client = middleware_client(three_attempts());
    let start = Instant::now();
    let out = client.post(&url).body("{}").send().await;
    assert!(out.is_err());
    assert_eq!(start.elapsed(), ms(10 + 20));
}

/// A raw HTTP/1.1 server on 127.0.0.1 that answers the first `cut` connections with a 200 whose
/// body stops halfway (the connection closes after 7 of 100 promised bytes), then whole
/// answers; it counts connections.
fn cutting_server(cut: usize) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(cut + 1) {
            let Ok(mut stream) = stream else { return };
            let n = seen.fetch_add(1, Ordering::SeqCst) + 1;
            let mut request = Vec::new();
            let mut byte = [0u8; 1];
            while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                request.push(byte[0]);
            }
            let answer: &[u8] = if n <= cut {
                b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\nconnection: close\r\n\r\npartial"
            } else {
                b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nwhole"
            };
            let _ = stream.write_all(answer);
        }
    });
    (url, count)
}

/// A body cut off mid-read is the connection lost, not bad data: the README's client retries
/// it (reqwest calls it a decode error, as it does bad JSON).
#[tokio::test]
async fn a_body_cut_off_mid_read_is_retried() {
    #[retry(attempts = 3, base = "1ms", classify)]
    async fn read_all(client: &reqwest::Client, url: &str) -> Result<String, HttpError> {
        Ok(client
            .get(url)
            .send()
            .await?
            .ensure_success()
            .await?
            .text()
            .await?)
    }
    let (url, connections) = cutting_server(1);
    assert_eq!(read_all(&client(), &url).await.unwrap(), "whole");
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

// ---------------------------------------------------------------------------------------------
// Pacing from rate-limit headers, and the client-side throttle, through the middleware.
// ---------------------------------------------------------------------------------------------

/// What the quota server saw: each request's arrival on the test's clock, and its status.
type Arrivals = Arc<Mutex<Vec<(Duration, u16)>>>;

/// A server with a quota of `quota` requests per fixed 1 s window of the test's (paused) clock,
/// on a task of the test's own runtime, that says so honestly in OpenAI's headers
/// (`x-ratelimit-remaining-requests`, and `x-ratelimit-reset-requests` as the time left in the
/// window). A request over the quota is answered 429.
async fn quota_server(quota: u32) -> (String, Arrivals) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let arrivals: Arrivals = Arc::default();
    let seen = arrivals.clone();
    let start = Instant::now();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let seen = seen.clone();
            let service = service_fn(move |_request: hyper::Request<Incoming>| {
                let at = start.elapsed();
                let window = at.as_secs();
                let mut seen = seen.lock().unwrap();
                let used = seen
                    .iter()
                    .filter(|(t, status)| t.as_secs() == window && *status == 200)
                    .count() as u32;
                let status = if used < quota { 200 } else { 429 };
                seen.push((at, status));
                let reset = Duration::from_secs(window + 1) - at;
                let remaining = quota.saturating_sub(used + u32::from(status == 200));
                let response = hyper::Response::builder()
                    .status(status)
                    .header("x-ratelimit-remaining-requests", remaining.to_string())
                    .header(
                        "x-ratelimit-reset-requests",
                        format!("{}ms", reset.as_millis()),
                    )
                    .body(http_body_util::Full::new(bytes_of("ok")))
                    .unwrap();
                async move { Ok::<_, Infallible>(response) }
            });
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, arrivals)
}

fn bytes_of(text: &'static str) -> hyper::body::Bytes {
    hyper::body::Bytes::from_static(text.as_bytes())
}

/// Ten requests in a row against a quota of three a second: with the headers read, the client
/// waits for each reset and the server answers 200 ten times, no 429; without, it draws 429s.
#[tokio::test(start_paused = true)]
async fn the_middleware_paces_by_the_rate_limit_headers_and_draws_no_429() {
    static LIMITS: retry_runtime::RateLimits = retry_runtime::RateLimits::new();
    let policy = retry_runtime::Policy::new()
        .with_attempts(3)
        .with_base(ms(100));
    let (url, arrivals) = quota_server(3).await;
    let paced = middleware_client(RetryMiddleware::new(policy).with_rate_limits(&LIMITS));
    for _ in 0..10 {
        let response = paced.get(&url).send().await.unwrap();
        assert_eq!(response.status(), 200);
    }
    let seen = arrivals.lock().unwrap().clone();
    assert_eq!(seen.len(), 10, "{seen:?}");
    assert!(seen.iter().all(|(_, status)| *status == 200), "{seen:?}");
    // Three in each window, the next one sent at the reset.
    let windows: Vec<u64> = seen.iter().map(|(at, _)| at.as_secs()).collect();
    assert_eq!(windows, [0, 0, 0, 1, 1, 1, 2, 2, 2, 3]);

    // The same client without the headers read: the fourth request of a window draws a 429.
    let (url, arrivals) = quota_server(3).await;
    let unpaced = middleware_client(RetryMiddleware::new(policy));
    for _ in 0..4 {
        let _ = unpaced.get(&url).send().await.unwrap();
    }
    let seen = arrivals.lock().unwrap().clone();
    assert!(seen.iter().any(|(_, status)| *status == 429), "{seen:?}");
}

/// A reset longer than the policy's `max_hint` is not waited for: the first request fails at
/// once with `Throttled`, unsent.
#[tokio::test(start_paused = true)]
async fn a_rate_limit_reset_beyond_max_hint_fails_the_request_unsent() {
    static LIMITS: retry_runtime::RateLimits = retry_runtime::RateLimits::new();
    let policy = retry_runtime::Policy::new().with_max_hint(ms(500));
    let (url, arrivals) = quota_server(1).await;
    let client = middleware_client(RetryMiddleware::new(policy).with_rate_limits(&LIMITS));
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    // Remaining 0, reset in 1 s: more than `max_hint`.
    let err = client.get(&url).send().await.unwrap_err();
    assert!(
        matches!(&err, reqwest_middleware::Error::Middleware(e) if e.downcast_ref::<retry_runtime::Throttled>().is_some()),
        "{err:?}"
    );
    assert_eq!(arrivals.lock().unwrap().len(), 1);
}

/// The throttle through the middleware: every request counted, a 429 not an accept, a 404 an
/// accept; once the service refuses nearly everything, requests fail on the client, unsent.
#[tokio::test(start_paused = true)]
async fn the_middleware_asks_the_throttle_before_every_request() {
    static THROTTLE: retry_runtime::AdaptiveThrottle = retry_runtime::AdaptiveThrottle::new();
    retry_runtime::seed_jitter(5);
    let clock = retry_runtime::runtime::TokioSleeper;
    let now = || retry_runtime::runtime::guard_time(&clock);
    for _ in 0..20 {
        THROTTLE.record(now(), true);
    }
    let server = Server::scripted(vec![Reply::status(429), Reply::status(404)]);
    let policy = retry_runtime::Policy::new()
        .with_attempts(3)
        .with_base(ms(10));
    let client = middleware_client(RetryMiddleware::new(policy).with_throttle(&THROTTLE));
    let response = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!((THROTTLE.requests(now()), THROTTLE.accepts(now())), (2, 21));
    assert_eq!(server.requests(), 2);
    for _ in 0..100_000 {
        let _ = THROTTLE.admit(now(), u32::MAX);
    }
    let err = client.get(server.url("/")).send().await.unwrap_err();
    assert!(
        matches!(&err, reqwest_middleware::Error::Middleware(e) if e.downcast_ref::<retry_runtime::Throttled>().is_some()),
        "{err:?}"
    );
    assert_eq!(server.requests(), 2, "a throttled request is not sent");
}

// ---------------------------------------------------------------------------------------------
// Streamed request bodies through the middleware: replayed up to the body limit, else sent once.
// ---------------------------------------------------------------------------------------------

/// A streamed body of `chunks` chunks of `size` bytes each (ASCII, each chunk its own), and the
/// whole body as the server should see it.
fn streamed_body(chunks: usize, size: usize) -> (reqwest::Body, String) {
    let parts: Vec<String> = (0..chunks)
        .map(|n| {
            let letter = char::from(b'a' + (n % 26) as u8);
            let mut part = format!("<{n}>");
            part.extend(std::iter::repeat_n(letter, size - part.len()));
            part
        })
        .collect();
    let whole = parts.concat();
    let items: Vec<Result<String, std::io::Error>> = parts.into_iter().map(Ok).collect();
    (reqwest::Body::wrap_stream(tokio_stream_of(items)), whole)
}

fn streaming_policy() -> retry_runtime::Policy {
    retry_runtime::Policy::new()
        .with_attempts(3)
        .with_base(ms(10))
}

/// A streamed body within the limit is kept as it is sent and sent again whole.
#[tokio::test(start_paused = true)]
async fn the_middleware_replays_a_streamed_body_within_the_limit() {
    let client = middleware_client(RetryMiddleware::new(streaming_policy()));
    let server = Server::scripted(vec![Reply::status(503), Reply::ok("done")]);
    let (body, whole) = streamed_body(8, 1000);
    let response = client
        .post(server.url("/upload"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "done");
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|request| request.body == whole));
    assert!(seen.iter().all(|request| request.path == "/upload"));
}

/// A streamed body larger than the limit (100 KiB, past the default 64 KiB) is sent once,
/// whole, and its first answer is the call's.
#[tokio::test(start_paused = true)]
async fn the_middleware_sends_a_streamed_body_past_the_limit_once() {
    let client = middleware_client(RetryMiddleware::new(streaming_policy()));
    let server = Server::scripted(vec![Reply::status(503), Reply::ok("never")]);
    let (body, whole) = streamed_body(25, 4096);
    assert_eq!(whole.len(), 100 * 1024);
    let response = client
        .post(server.url("/"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (response.status(), server.requests()),
        (StatusCode::SERVICE_UNAVAILABLE, 1)
    );
    assert_eq!(server.seen()[0].body, whole);
}

/// With a body limit of 0, a streamed body is sent once; a body of bytes is still retried.
#[tokio::test(start_paused = true)]
async fn the_middleware_sends_a_streamed_body_once_with_a_limit_of_zero() {
    let client = middleware_client(RetryMiddleware::new(streaming_policy()).with_body_limit(0));
    let server = Server::scripted(vec![Reply::status(503), Reply::ok("never")]);
    let chunks: Vec<Result<&'static str, std::io::Error>> = vec![Ok("part 1, "), Ok("part 2")];
    let body = reqwest::Body::wrap_stream(tokio_stream_of(chunks));
    let response = client
        .post(server.url("/"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (response.status(), server.requests()),
        (StatusCode::SERVICE_UNAVAILABLE, 1)
    );
    assert_eq!(server.seen()[0].body, "part 1, part 2");

    let server = Server::scripted(vec![Reply::status(503), Reply::ok("done")]);
    let response = client
        .post(server.url("/"))
        .body("bytes")
        .send()
        .await
        .unwrap();
    assert_eq!((response.status(), server.requests()), (StatusCode::OK, 2));
    assert!(server.seen().iter().all(|request| request.body == "bytes"));
}

/// A hedged request against the local server, whose first answer is slow: the second copy,
/// sent after 100 ms with the same idempotency key, wins; the server saw exactly two requests.
/// Real clock (a timer is pending while the client waits on the socket).
#[tokio::test]
async fn a_hedged_request_takes_the_faster_of_two_copies() {
    let server = Server::scripted(vec![
        Reply::ok("slow").after(Duration::from_secs(3)),
        Reply::ok("fast"),
    ]);
    let client = client();
    let url = server.url("/hedged");
    let policy = retry_runtime::Policy::new();
    let start = std::time::Instant::now();
    let body = policy
        .retry(|attempt: retry_runtime::Attempt| {
            let request = client
                .get(&url)
                .header("idempotency-key", attempt.idempotency_key().to_string());
            async move { request.send().await?.text().await }
        })
        .hedge(Duration::from_millis(100), 1)
        .await
        .unwrap();
    assert_eq!(body, "fast");
    assert!(start.elapsed() >= Duration::from_millis(100));
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert!(seen[0].key.is_some());
    assert_eq!(seen[0].key, seen[1].key);
}
