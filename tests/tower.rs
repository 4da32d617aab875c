//! The tower layer against real parts: a tonic `Channel`, a hyper-util client and an axum
//! handler, through `RetryLayer`.
//!
//! Two servers on 127.0.0.1, both counting what they receive:
//! - a gRPC server (tonic's server-side `Grpc` codec on hyper's HTTP/2, as in `tests/grpc.rs`),
//!   spawned on the test's own runtime, so that its slow answers sleep on the test's paused
//!   clock and a per-attempt timeout races them exactly;
//! - an HTTP/1 server (hyper, as in `tests/http.rs`) on its own thread and runtime, scripted per
//!   request (statuses, `Retry-After`, connection resets), keeping every request's body as
//!   bytes. Keep-alive is off: every request is one TCP connection.
//!
//! Every client runs on tokio's paused clock: the sleeps between attempts take no real time and
//! the times asserted are exact.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{HeaderName, RETRY_AFTER};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use retry_runtime::tower::{BoxError, Hedge, ResponsesClassified, Retry, RetryLayer};
use retry_runtime::{
    Backoff, BreakerOpen, BreakerState, CircuitBreaker, Policy, RetryBudget, RetryInfo, TimedOut,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, Notify};
use tokio::time::Instant;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;
use tonic::{Code, Status};
use tower::{Service, ServiceBuilder, ServiceExt};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// `attempts` attempts, exponential from `base`, no jitter.
fn policy(attempts: u32, base: Duration) -> Policy {
    Policy::new().with_attempts(attempts).with_base(base)
}

// ---------------------------------------------------------------------------------------------
// The gRPC server (from tests/grpc.rs), with slow answers.
// ---------------------------------------------------------------------------------------------

/// Messages as raw bytes: no code generation needed.
#[derive(Clone, Copy, Default)]
struct Raw;

struct RawEncoder;
struct RawDecoder;

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

impl Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

/// How the gRPC server answers one call.
#[derive(Clone)]
enum Answer {
    Ok(&'static [u8]),
    Fail(Code, Option<&'static str>),
    /// OK, after sleeping this long (on the test's clock).
    Slow(Duration),
}

/// The handler of the one method, answering from the script (OK past its end).
#[derive(Clone)]
struct GrpcHandler {
    script: Arc<Mutex<std::vec::IntoIter<Answer>>>,
    calls: Arc<AtomicUsize>,
}

type Unary = Pin<Box<dyn Future<Output = Result<tonic::Response<Vec<u8>>, Status>> + Send>>;

impl tonic::server::UnaryService<Vec<u8>> for GrpcHandler {
    type Response = Vec<u8>;
    type Future = Unary;
    fn call(&mut self, _: tonic::Request<Vec<u8>>) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let answer = self
            .script
            .lock()
            .unwrap()
            .next()
            .unwrap_or(Answer::Ok(b"done"));
        Box::pin(async move {
            match answer {
                Answer::Ok(body) => Ok(tonic::Response::new(body.to_vec())),
                Answer::Slow(wait) => {
                    tokio::time::sleep(wait).await;
                    Ok(tonic::Response::new(b"slow".to_vec()))
                }
                Answer::Fail(code, pushback) => {
                    let mut status = Status::new(code, "scripted");
                    if let Some(ms) = pushback {
                        status
                            .metadata_mut()
                            .insert("grpc-retry-pushback-ms", ms.parse().unwrap());
                    }
                    Err(status)
                }
            }
        })
    }
}

/// Starts the gRPC server on an ephemeral port, on the current runtime; returns its address
/// and its call count.
async fn grpc_serve(script: Vec<Answer>) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let handler = GrpcHandler {
        script: Arc::new(Mutex::new(script.into_iter())),
        calls: calls.clone(),
    };
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let handler = handler.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let handler = handler.clone();
                    async move {
                        let mut grpc = tonic::server::Grpc::new(Raw);
                        Ok::<_, Infallible>(grpc.unary(handler, request).await)
                    }
                });
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, calls)
}

/// A tonic `Channel` to `addr`, wrapped in `layer`.
async fn grpc_channel(
    addr: SocketAddr,
    layer: RetryLayer<ResponsesClassified>,
) -> Retry<Channel, ResponsesClassified> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    ServiceBuilder::new().layer(layer).service(channel)
}

/// One unary call through tonic's client, with the raw codec.
async fn grpc_call<S>(service: S) -> Result<Vec<u8>, Status>
where
    S: tonic::client::GrpcService<tonic::body::Body>,
    S::Error: Into<BoxError>,
    S::ResponseBody: hyper::body::Body<Data = Bytes> + Send + 'static,
    <S::ResponseBody as hyper::body::Body>::Error: Into<BoxError>,
{
    let mut client = tonic::client::Grpc::new(service);
    client
        .ready()
        .await
        .map_err(|err| Status::unavailable(err.into().to_string()))?;
    let path = hyper::http::uri::PathAndQuery::from_static("/test.Flaky/Call");
    let response = client
        .unary(tonic::Request::new(vec![1]), path, Raw)
        .await?;
    Ok(response.into_inner())
}

// ---------------------------------------------------------------------------------------------
// The HTTP server (from tests/http.rs), keeping each request's body as bytes.
// ---------------------------------------------------------------------------------------------

/// One request as the server received it.
#[derive(Clone, Debug)]
struct Seen {
    method: Method,
    path: String,
    body: Bytes,
}

/// How the server answers one request.
enum Reply {
    Respond {
        status: StatusCode,
        headers: Vec<(HeaderName, String)>,
        body: String,
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
        }
    }

    fn ok(text: &str) -> Self {
        Reply::Respond {
            status: StatusCode::OK,
            headers: Vec::new(),
            body: text.to_owned(),
        }
    }

    fn header(mut self, name: HeaderName, value: &str) -> Self {
        if let Reply::Respond { headers, .. } = &mut self {
            headers.push((name, value.to_owned()));
        }
        self
    }
}

/// A server on 127.0.0.1, on its own thread and runtime (real clock), that answers its n-th
/// request with `script[n - 1]` (500 past the end) and records every request.
struct Server {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

type Script = Arc<Mutex<std::vec::IntoIter<Reply>>>;

impl Server {
    fn scripted(script: Vec<Reply>) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = oneshot::channel();
        let script: Script = Arc::new(Mutex::new(script.into_iter()));
        let log = seen.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(accept_loop(listener, script, log, stopped));
        });
        Server {
            addr,
            seen,
            stop: Some(stop),
            thread: Some(thread),
        }
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
    script: Script,
    seen: Arc<Mutex<Vec<Seen>>>,
    mut stopped: oneshot::Receiver<()>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    tokio::spawn(serve_connection(stream, script.clone(), seen.clone()));
                }
            }
        }
    }
}

async fn serve_connection(stream: TcpStream, script: Script, seen: Arc<Mutex<Vec<Seen>>>) {
    let reset = Arc::new(AtomicBool::new(false));
    let reset_now = Arc::new(Notify::new());
    let io = ResettableStream {
        stream,
        reset: reset.clone(),
    };
    let notify = reset_now.clone();
    let service = service_fn(move |request: hyper::Request<Incoming>| {
        let (script, seen, reset, notify) =
            (script.clone(), seen.clone(), reset.clone(), notify.clone());
        async move {
            let (parts, body) = request.into_parts();
            let body = match body.collect().await {
                Ok(bytes) => bytes.to_bytes(),
                Err(_) => Bytes::new(),
            };
            seen.lock().unwrap().push(Seen {
                method: parts.method,
                path: parts.uri.path().to_owned(),
                body,
            });
            let reply = script.lock().unwrap().next().unwrap_or(Reply::status(500));
            match reply {
                Reply::Reset => {
                    reset.store(true, Ordering::SeqCst);
                    notify.notify_one();
                    std::future::pending::<Result<hyper::Response<String>, Infallible>>().await
                }
                Reply::Respond {
                    status,
                    headers,
                    body,
                } => {
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
// The HTTP client side: hyper-util's legacy client, plain and streamed bodies.
// ---------------------------------------------------------------------------------------------

/// hyper-util's client without pooling: every request is one connection.
fn hyper_client<B>() -> Client<HttpConnector, B>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
{
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build_http()
}

type Plain = Client<HttpConnector, Full<Bytes>>;

/// hyper-util's client for `Full` bodies, wrapped in `layer`.
fn plain(layer: RetryLayer<ResponsesClassified>) -> Retry<Plain, ResponsesClassified> {
    ServiceBuilder::new().layer(layer).service(hyper_client())
}

fn request<B>(method: Method, url: &str, body: B) -> hyper::Request<B> {
    hyper::Request::builder()
        .method(method)
        .uri(url)
        .body(body)
        .unwrap()
}

fn empty(method: Method, url: &str) -> hyper::Request<Full<Bytes>> {
    request(method, url, Full::new(Bytes::new()))
}

async fn text(response: hyper::Response<Incoming>) -> String {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Whether a connection reset (not a clean close) is somewhere in the error's sources.
fn is_reset(err: &BoxError) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&**err);
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

type Streamed = BoxBody<Bytes, BoxError>;

/// A stream of chunks that is pending (and wakes itself) before each one, as a body read from
/// elsewhere would be.
struct Chunks {
    chunks: VecDeque<Bytes>,
    waited: bool,
}

impl futures_core::Stream for Chunks {
    type Item = Result<Frame<Bytes>, BoxError>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if !self.waited {
            self.waited = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.waited = false;
        Poll::Ready(self.chunks.pop_front().map(|chunk| Ok(Frame::data(chunk))))
    }
}

/// `data` as a streamed body (no size hint) of `chunk`-byte frames.
fn streamed(data: &Bytes, chunk: usize) -> Streamed {
    let chunks = (0..data.len())
        .step_by(chunk)
        .map(|at| data.slice(at..(at + chunk).min(data.len())))
        .collect();
    BoxBody::new(StreamBody::new(Chunks {
        chunks,
        waited: false,
    }))
}

/// `len` bytes in which no 4 KiB chunk repeats another.
fn pattern(len: usize) -> Bytes {
    (0..len)
        .map(|i| (i % 251) as u8 ^ (i / 4096) as u8)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// 1. tonic: a `Channel` through the layer, by gRPC's rules.
// ---------------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn grpc_unavailable_twice_then_ok_takes_three_calls() {
    let (addr, calls) = grpc_serve(vec![
        Answer::Fail(Code::Unavailable, None),
        Answer::Fail(Code::Unavailable, None),
        Answer::Ok(b"hello"),
    ])
    .await;
    let service = grpc_channel(addr, RetryLayer::new(policy(4, ms(10))).classify_ok()).await;
    let start = Instant::now();
    assert_eq!(grpc_call(service).await.unwrap(), b"hello");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    // The two backoffs: 10ms, then 20ms.
    assert_eq!(start.elapsed(), ms(30));
}

#[tokio::test(start_paused = true)]
async fn grpc_resource_exhausted_waits_for_the_pushback_not_the_backoff() {
    let (addr, calls) = grpc_serve(vec![
        Answer::Fail(Code::ResourceExhausted, Some("300")),
        Answer::Ok(b"hello"),
    ])
    .await;
    let service = grpc_channel(addr, RetryLayer::new(policy(4, ms(10))).classify_ok()).await;
    let start = Instant::now();
    assert_eq!(grpc_call(service).await.unwrap(), b"hello");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(start.elapsed(), ms(300));
}

#[tokio::test(start_paused = true)]
async fn grpc_invalid_argument_is_returned_after_one_call() {
    let (addr, calls) = grpc_serve(vec![
        Answer::Fail(Code::InvalidArgument, None),
        Answer::Ok(b"never"),
    ])
    .await;
    let service = grpc_channel(addr, RetryLayer::new(policy(4, ms(10))).classify_ok()).await;
    let start = Instant::now();
    let status = grpc_call(service).await.unwrap_err();
    assert_eq!(
        (status.code(), status.message()),
        (Code::InvalidArgument, "scripted")
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(start.elapsed(), Duration::ZERO);
}

/// Every gRPC call is a POST: `ABORTED` (the server may have acted) is retried only with
/// `retry_non_idempotent`.
#[tokio::test(start_paused = true)]
async fn grpc_aborted_is_retried_only_with_retry_non_idempotent() {
    let (addr, calls) = grpc_serve(vec![
        Answer::Fail(Code::Aborted, None),
        Answer::Ok(b"never"),
    ])
    .await;
    let service = grpc_channel(addr, RetryLayer::new(policy(4, ms(10))).classify_ok()).await;
    let status = grpc_call(service).await.unwrap_err();
    assert_eq!(status.code(), Code::Aborted);
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    let (addr, calls) = grpc_serve(vec![
        Answer::Fail(Code::Aborted, None),
        Answer::Ok(b"hello"),
    ])
    .await;
    let layer = RetryLayer::new(policy(4, ms(10)))
        .classify_ok()
        .retry_non_idempotent();
    let service = grpc_channel(addr, layer).await;
    let start = Instant::now();
    assert_eq!(grpc_call(service).await.unwrap(), b"hello");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(start.elapsed(), ms(10));
}

/// The `TimedOut` a call ended with, through tonic's `Status` (its source is the layer's
/// `BoxError`).
fn timed_out(status: &Status) -> bool {
    let source = std::error::Error::source(status);
    source.is_some_and(|err| err.downcast_ref::<TimedOut>().is_some())
}

#[tokio::test(start_paused = true)]
async fn grpc_slow_answers_are_cut_off_and_the_deadline_bounds_the_calls() {
    let slow = || vec![Answer::Slow(Duration::from_secs(10)); 10];
    let bounded = Policy::new()
        .with_attempts(10)
        .with_base(ms(100))
        .with_backoff(Backoff::Constant)
        .with_deadline(ms(2_500));

    // A cut-off POST may have been acted on: not retried by default.
    let (addr, calls) = grpc_serve(slow()).await;
    let layer = RetryLayer::new(bounded)
        .classify_ok()
        .with_timeout(Duration::from_secs(1));
    let service = grpc_channel(addr, layer).await;
    let start = Instant::now();
    let status = grpc_call(service).await.unwrap_err();
    assert!(timed_out(&status), "{status:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(start.elapsed(), Duration::from_secs(1));

    // With the opt-in: cut at 1s, 2.1s, then at the 2.5s deadline; no retry fits after it.
    let (addr, calls) = grpc_serve(slow()).await;
    let layer = RetryLayer::new(bounded)
        .classify_ok()
        .with_timeout(Duration::from_secs(1))
        .retry_non_idempotent();
    let service = grpc_channel(addr, layer).await;
    let start = Instant::now();
    let status = grpc_call(service).await.unwrap_err();
    assert_eq!(status.code(), Code::Unknown);
    assert!(timed_out(&status), "{status:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(start.elapsed(), ms(2_500));
}

// ---------------------------------------------------------------------------------------------
// 2. hyper-util: statuses, `Retry-After`, resets, idempotency, streamed bodies.
// ---------------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn hyper_get_503_with_retry_after_waits_the_hint() {
    let server = Server::scripted(vec![
        Reply::status(503).header(RETRY_AFTER, "2"),
        Reply::ok("hello"),
    ]);
    let client = plain(RetryLayer::new(policy(3, ms(10))).classify_ok());
    let start = Instant::now();
    let response = client
        .oneshot(empty(Method::GET, &server.url("/greeting")))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(text(response).await, "hello");
    assert_eq!(server.requests(), 2);
    assert!(server
        .seen()
        .iter()
        .all(|s| s.method == Method::GET && s.path == "/greeting"));
    assert_eq!(start.elapsed(), Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn hyper_a_reset_get_is_retried() {
    let server = Server::scripted(vec![Reply::Reset, Reply::ok("through")]);
    let client = plain(RetryLayer::new(policy(3, ms(10))).classify_ok());
    let start = Instant::now();
    let response = client
        .oneshot(empty(Method::GET, &server.url("/")))
        .await
        .unwrap();
    assert_eq!(text(response).await, "through");
    assert_eq!(server.requests(), 2);
    assert_eq!(start.elapsed(), ms(10));
}

#[tokio::test(start_paused = true)]
async fn hyper_a_reset_post_is_not_retried() {
    let server = Server::scripted(vec![Reply::Reset, Reply::ok("never")]);
    let client = plain(RetryLayer::new(policy(3, ms(10))).classify_ok());
    let start = Instant::now();
    let body = Full::new(Bytes::from_static(b"order"));
    let err = client
        .oneshot(request(Method::POST, &server.url("/orders"), body))
        .await
        .unwrap_err();
    assert!(is_reset(&err), "{err:?}");
    assert_eq!(server.requests(), 1);
    assert_eq!(&server.seen()[0].body[..], b"order");
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn hyper_a_post_answered_503_is_retried_and_one_answered_500_is_not() {
    let server = Server::scripted(vec![Reply::status(503), Reply::ok("created")]);
    let client = plain(RetryLayer::new(policy(3, ms(10))).classify_ok());
    let start = Instant::now();
    let body = Full::new(Bytes::from_static(b"order"));
    let response = client
        .clone()
        .oneshot(request(Method::POST, &server.url("/orders"), body.clone()))
        .await
        .unwrap();
    assert_eq!(text(response).await, "created");
    assert_eq!(server.requests(), 2);
    assert!(server
        .seen()
        .iter()
        .all(|s| s.method == Method::POST && &s.body[..] == b"order"));
    assert_eq!(start.elapsed(), ms(10));

    // A 500: the server may have acted on it.
    let server = Server::scripted(vec![Reply::status(500), Reply::ok("never")]);
    let response = client
        .oneshot(request(Method::POST, &server.url("/orders"), body))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(server.requests(), 1);
}

/// Without `classify_ok` every response is the call's answer.
#[tokio::test(start_paused = true)]
async fn hyper_without_classify_ok_a_503_is_the_answer() {
    let server = Server::scripted(vec![Reply::status(503), Reply::ok("never")]);
    let client = ServiceBuilder::new()
        .layer(RetryLayer::new(policy(3, ms(10))))
        .service(hyper_client::<Full<Bytes>>());
    let response = client
        .oneshot(empty(Method::GET, &server.url("/")))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(server.requests(), 1);
}

/// A refused connection: the POST never left, so it is retried until the attempts run out.
#[tokio::test(start_paused = true)]
async fn hyper_a_post_that_could_not_connect_is_retried() {
    // A port that was just free: nothing listens on it any more.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let retries = Arc::new(Mutex::new(Vec::new()));
    let log = retries.clone();
    let client = ServiceBuilder::new()
        .layer(RetryLayer::new(policy(3, ms(10))).classify_ok().on_retry(
            move |_: &Result<hyper::Response<Incoming>, BoxError>, info: &RetryInfo| {
                log.lock().unwrap().push((info.attempt(), info.delay()));
            },
        ))
        .service(hyper_client::<Full<Bytes>>());
    let start = Instant::now();
    let body = Full::new(Bytes::from_static(b"order"));
    let err = client
        .oneshot(request(Method::POST, &format!("http://{addr}/"), body))
        .await
        .unwrap_err();
    let refused = err
        .downcast_ref::<hyper_util::client::legacy::Error>()
        .is_some_and(|err| err.is_connect());
    assert!(refused, "{err:?}");
    assert_eq!(*retries.lock().unwrap(), [(1, ms(10)), (2, ms(20))]);
    assert_eq!(start.elapsed(), ms(30));
}

type StreamedClient = Client<HttpConnector, Streamed>;

fn streamed_client(
    layer: RetryLayer<ResponsesClassified>,
) -> Retry<StreamedClient, ResponsesClassified> {
    ServiceBuilder::new().layer(layer).service(hyper_client())
}

#[tokio::test(start_paused = true)]
async fn hyper_a_streamed_body_under_the_limit_is_sent_whole_again() {
    let data = pattern(40 * 1024);
    let server = Server::scripted(vec![Reply::status(503), Reply::ok("stored")]);
    let client = streamed_client(RetryLayer::new(policy(3, ms(10))).classify_ok());
    let start = Instant::now();
    let response = client
        .oneshot(request(
            Method::PUT,
            &server.url("/blob"),
            streamed(&data, 4096),
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(text(response).await, "stored");
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    for request in &seen {
        assert_eq!(request.method, Method::PUT);
        assert_eq!(request.body.len(), data.len());
        assert!(request.body == data, "the body differs from the one sent");
    }
    assert_eq!(start.elapsed(), ms(10));
}

#[tokio::test(start_paused = true)]
async fn hyper_a_streamed_body_over_the_limit_is_sent_once_and_its_answer_returned() {
    let data = pattern(100 * 1024);
    let server = Server::scripted(vec![Reply::status(503), Reply::ok("never")]);
    let client = streamed_client(RetryLayer::new(policy(3, ms(10))).classify_ok());
    let start = Instant::now();
    let response = client
        .oneshot(request(
            Method::PUT,
            &server.url("/blob"),
            streamed(&data, 4096),
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].body.len(), data.len());
    assert!(seen[0].body == data, "the body differs from the one sent");
    assert_eq!(start.elapsed(), Duration::ZERO);
}

// ---------------------------------------------------------------------------------------------
// 3. Readiness: never a call to a service that has not said Ready.
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    /// `poll_ready` on clone `n` answered `Pending`.
    Pending(usize),
    /// `poll_ready` on clone `n` answered `Ready(Ok)`.
    Ready(usize),
    /// `call` on clone `n`, which had (`true`) or had not said Ready since its last call.
    Call(usize, bool),
}

#[derive(Default)]
struct Log {
    events: Mutex<Vec<Event>>,
    clones: AtomicUsize,
}

impl Log {
    fn push(&self, event: Event) {
        self.events.lock().unwrap().push(event);
    }

    fn take(&self) -> Vec<Event> {
        std::mem::take(&mut self.events.lock().unwrap())
    }
}

/// A service that is not ready the first time each clone is polled (it answers `Pending` and
/// wakes the task), and logs every `poll_ready` and `call`.
struct Gate<S> {
    inner: S,
    id: usize,
    polled: bool,
    ready: bool,
    log: Arc<Log>,
}

impl<S> Gate<S> {
    fn new(inner: S, log: Arc<Log>) -> Self {
        Gate {
            inner,
            id: log.clones.fetch_add(1, Ordering::SeqCst),
            polled: false,
            ready: false,
            log,
        }
    }
}

impl<S: Clone> Clone for Gate<S> {
    fn clone(&self) -> Self {
        Gate::new(self.inner.clone(), self.log.clone())
    }
}

impl<S: Service<R>, R> Service<R> for Gate<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        if !self.polled {
            self.polled = true;
            self.log.push(Event::Pending(self.id));
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let ready = std::task::ready!(self.inner.poll_ready(cx));
        if ready.is_ok() {
            self.ready = true;
            self.log.push(Event::Ready(self.id));
        }
        Poll::Ready(ready)
    }

    fn call(&mut self, request: R) -> S::Future {
        self.log.push(Event::Call(self.id, self.ready));
        self.ready = false;
        self.inner.call(request)
    }
}

#[tokio::test(start_paused = true)]
async fn every_attempt_goes_to_a_service_that_said_ready() {
    use Event::{Call, Pending, Ready};
    let server = Server::scripted(vec![
        Reply::status(503),
        Reply::status(503),
        Reply::ok("third"),
        Reply::ok("next"),
    ]);
    let log = Arc::new(Log::default());
    let mut service = ServiceBuilder::new()
        .layer(RetryLayer::new(policy(3, ms(10))).classify_ok())
        .service(Gate::new(hyper_client::<Full<Bytes>>(), log.clone()));

    let url = server.url("/");
    let response = service
        .ready()
        .await
        .unwrap()
        .call(empty(Method::GET, &url))
        .await
        .unwrap();
    assert_eq!(text(response).await, "third");
    assert_eq!(server.requests(), 3);
    // Clone 0, readied by the caller, takes the first attempt; each retry asks it again. The
    // layer keeps clone 1 for its next caller.
    assert_eq!(
        log.take(),
        [
            Pending(0),
            Ready(0),
            Call(0, true),
            Ready(0),
            Call(0, true),
            Ready(0),
            Call(0, true),
        ]
    );
    assert_eq!(log.clones.load(Ordering::SeqCst), 2);

    // The next call: clone 1 is made ready first (pending once, as a fresh clone is).
    let response = service
        .ready()
        .await
        .unwrap()
        .call(empty(Method::GET, &url))
        .await
        .unwrap();
    assert_eq!(text(response).await, "next");
    assert_eq!(server.requests(), 4);
    assert_eq!(log.take(), [Pending(1), Ready(1), Call(1, true)]);
    assert_eq!(log.clones.load(Ordering::SeqCst), 3);
}

// ---------------------------------------------------------------------------------------------
// 4. axum: a handler's downstream call through the layer.
// ---------------------------------------------------------------------------------------------

#[derive(Clone)]
struct Downstream {
    client: Retry<Plain, ResponsesClassified>,
    url: String,
}

async fn proxy(
    axum::extract::State(downstream): axum::extract::State<Downstream>,
) -> (StatusCode, String) {
    let request = empty(Method::GET, &downstream.url);
    match downstream.client.oneshot(request).await {
        Ok(response) => (response.status(), text(response).await),
        Err(err) => (StatusCode::BAD_GATEWAY, err.to_string()),
    }
}

#[tokio::test(start_paused = true)]
async fn an_axum_handler_retries_its_downstream_call() {
    let server = Server::scripted(vec![Reply::status(503), Reply::ok("from downstream")]);
    let downstream = Downstream {
        client: plain(RetryLayer::new(policy(3, ms(10))).classify_ok()),
        url: server.url("/inventory"),
    };
    let router = axum::Router::new()
        .route("/proxy", axum::routing::get(proxy))
        .with_state(downstream);
    let start = Instant::now();
    let request = hyper::Request::builder()
        .uri("/proxy")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = router.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"from downstream");
    assert_eq!(server.requests(), 2);
    assert!(server.seen().iter().all(|s| s.path == "/inventory"));
    assert_eq!(start.elapsed(), ms(10));
}

// ---------------------------------------------------------------------------------------------
// 5. The budget and the breaker, through the layer.
// ---------------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn an_open_breaker_refuses_and_sends_nothing() {
    let breaker: &'static CircuitBreaker = Box::leak(Box::new(
        CircuitBreaker::new()
            .with_consecutive_failures(1)
            .with_break(Duration::from_secs(60))
            .with_break_jitter(0.0),
    ));
    breaker.try_acquire().unwrap().failure();
    assert_eq!(breaker.state(), BreakerState::Open);
    let server = Server::scripted(vec![Reply::ok("never")]);
    let client = plain(
        RetryLayer::new(policy(3, ms(10)))
            .classify_ok()
            .with_breaker(breaker),
    );
    let start = Instant::now();
    let err = client
        .oneshot(empty(Method::GET, &server.url("/")))
        .await
        .unwrap_err();
    assert!(err.downcast_ref::<BreakerOpen>().is_some(), "{err:?}");
    assert_eq!(server.requests(), 0);
    assert_eq!(start.elapsed(), Duration::ZERO);
}

/// The layer's own failures trip the breaker: the call that opens it ends with its last answer,
/// the next one is refused.
#[tokio::test(start_paused = true)]
async fn the_layer_trips_the_breaker_then_is_refused() {
    let breaker: &'static CircuitBreaker = Box::leak(Box::new(
        CircuitBreaker::new()
            .with_consecutive_failures(2)
            .with_break(Duration::from_secs(60))
            .with_break_jitter(0.0),
    ));
    let server = Server::scripted(vec![
        Reply::status(503),
        Reply::status(503),
        Reply::ok("never"),
    ]);
    let client = plain(
        RetryLayer::new(policy(5, ms(10)))
            .classify_ok()
            .with_breaker(breaker),
    );
    let start = Instant::now();
    let response = client
        .clone()
        .oneshot(empty(Method::GET, &server.url("/")))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(server.requests(), 2);
    assert_eq!(breaker.state(), BreakerState::Open);
    assert_eq!(start.elapsed(), ms(10));

    let err = client
        .oneshot(empty(Method::GET, &server.url("/")))
        .await
        .unwrap_err();
    assert!(err.downcast_ref::<BreakerOpen>().is_some(), "{err:?}");
    assert_eq!(server.requests(), 2);
}

#[tokio::test(start_paused = true)]
async fn an_empty_budget_stops_after_the_first_attempt() {
    let budget: &'static RetryBudget = Box::leak(Box::new(RetryBudget::new(1, 0.1)));
    assert!(budget.try_withdraw());
    let server = Server::scripted(vec![Reply::status(503), Reply::ok("never")]);
    let client = plain(
        RetryLayer::new(policy(3, ms(10)))
            .classify_ok()
            .with_budget(budget),
    );
    let start = Instant::now();
    let response = client
        .oneshot(empty(Method::GET, &server.url("/")))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(server.requests(), 1);
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(budget.tokens(), 0.0);
}

/// One token: the first call's retry spends it (its success earns back 0.1), the second call
/// has none left.
#[tokio::test(start_paused = true)]
async fn a_budget_of_one_retry_is_spent_once() {
    let budget: &'static RetryBudget = Box::leak(Box::new(RetryBudget::new(1, 0.1)));
    let server = Server::scripted(vec![
        Reply::status(503),
        Reply::ok("first"),
        Reply::status(503),
        Reply::ok("never"),
    ]);
    let client = plain(
        RetryLayer::new(policy(3, ms(10)))
            .classify_ok()
            .with_budget(budget),
    );
    let response = client
        .clone()
        .oneshot(empty(Method::GET, &server.url("/")))
        .await
        .unwrap();
    assert_eq!(text(response).await, "first");
    assert_eq!(server.requests(), 2);
    assert_eq!(budget.tokens(), 0.1);

    let response = client
        .oneshot(empty(Method::GET, &server.url("/")))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(server.requests(), 3);
}

// ---------------------------------------------------------------------------------------------
// Hedging through the layer.
// ---------------------------------------------------------------------------------------------

/// A tonic `Channel` to `addr`, wrapped in the layer's hedging.
async fn grpc_hedged(
    addr: SocketAddr,
    layer: retry_runtime::tower::HedgeLayer<ResponsesClassified>,
) -> Hedge<Channel, ResponsesClassified> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    ServiceBuilder::new().layer(layer).service(channel)
}

/// A slow first answer is hedged after the delay on a clone of the channel; the copy's answer
/// wins and the server saw two calls. A gRPC call is a `POST`: hedged only with the opt-in that
/// says the method is safe to send twice; without it the one call is waited for.
#[tokio::test(start_paused = true)]
async fn grpc_a_slow_answer_is_hedged_and_the_copy_wins() {
    let script = || vec![Answer::Slow(Duration::from_secs(10)), Answer::Ok(b"copy")];
    let (addr, calls) = grpc_serve(script()).await;
    let layer = RetryLayer::new(Policy::new())
        .classify_ok()
        .retry_non_idempotent()
        .hedge(ms(100), 1);
    let service = grpc_hedged(addr, layer).await;
    let start = Instant::now();
    assert_eq!(grpc_call(service).await.unwrap(), b"copy");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert!(
        start.elapsed() >= ms(100) && start.elapsed() < ms(200),
        "{:?}",
        start.elapsed()
    );

    let (addr, calls) = grpc_serve(script()).await;
    let layer = RetryLayer::new(Policy::new())
        .classify_ok()
        .hedge(ms(100), 1);
    let service = grpc_hedged(addr, layer).await;
    assert_eq!(grpc_call(service).await.unwrap(), b"slow");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// UNAVAILABLE from the first copy sends the next at once; every copy failing returns the
/// first copy's status.
#[tokio::test(start_paused = true)]
async fn grpc_a_failed_copy_sends_the_next_at_once_and_all_failed_returns_the_first() {
    let (addr, calls) = grpc_serve(vec![
        Answer::Fail(Code::Unavailable, None),
        Answer::Ok(b"second"),
    ])
    .await;
    let layer = RetryLayer::new(Policy::new())
        .classify_ok()
        .retry_non_idempotent()
        .hedge(Duration::from_secs(5), 1);
    let start = Instant::now();
    assert_eq!(
        grpc_call(grpc_hedged(addr, layer).await).await.unwrap(),
        b"second"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert!(start.elapsed() < ms(50), "{:?}", start.elapsed());

    let (addr, calls) = grpc_serve(vec![
        Answer::Fail(Code::Unavailable, Some("10")),
        Answer::Fail(Code::ResourceExhausted, None),
    ])
    .await;
    let layer = RetryLayer::new(Policy::new())
        .classify_ok()
        .retry_non_idempotent()
        .hedge(Duration::from_secs(5), 1);
    let status = grpc_call(grpc_hedged(addr, layer).await).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}
