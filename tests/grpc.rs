//! `Classify` for `tonic::Status` against a real gRPC server on 127.0.0.1: a tonic client (the
//! `Channel` users build) calling an HTTP/2 server that answers through tonic's own server-side
//! gRPC codec, scripted per call, counting the calls it saw.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, BufMut};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use retry_runtime::retry;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::{Code, Status};

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

/// How the server answers one call.
#[derive(Clone)]
enum Answer {
    Ok(&'static [u8]),
    Fail(Code, Option<&'static str>),
}

/// The handler of the one method, answering from the script (OK past its end).
#[derive(Clone)]
struct Handler {
    script: Arc<Mutex<std::vec::IntoIter<Answer>>>,
    calls: Arc<AtomicUsize>,
}

impl tonic::server::UnaryService<Vec<u8>> for Handler {
    type Response = Vec<u8>;
    type Future = std::future::Ready<Result<tonic::Response<Vec<u8>>, Status>>;
    fn call(&mut self, _: tonic::Request<Vec<u8>>) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let answer = self
            .script
            .lock()
            .unwrap()
            .next()
            .unwrap_or(Answer::Ok(b"done"));
        std::future::ready(match answer {
            Answer::Ok(body) => Ok(tonic::Response::new(body.to_vec())),
            Answer::Fail(code, pushback) => {
                let mut status = Status::new(code, "scripted");
                if let Some(ms) = pushback {
                    status
                        .metadata_mut()
                        .insert("grpc-retry-pushback-ms", ms.parse().unwrap());
                }
                Err(status)
            }
        })
    }
}

/// Starts the server on an ephemeral port; returns its address and its call count.
async fn serve(script: Vec<Answer>) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let handler = Handler {
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

async fn channel(addr: SocketAddr) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// A unary call, retried by gRPC's rules.
#[retry(attempts = 4, base = "10ms", classify)]
async fn call(channel: &tonic::transport::Channel) -> Result<Vec<u8>, Status> {
    let mut client = tonic::client::Grpc::new(channel.clone());
    client
        .ready()
        .await
        .map_err(|err| Status::unavailable(err.to_string()))?;
    let path = hyper::http::uri::PathAndQuery::from_static("/test.Flaky/Call");
    let response = client
        .unary(tonic::Request::new(vec![1]), path, Raw)
        .await?;
    Ok(response.into_inner())
}

#[tokio::test]
async fn unavailable_and_aborted_are_retried_with_exact_counts() {
    let (addr, calls) = serve(vec![
        Answer::Fail(Code::Unavailable, None),
        Answer::Fail(Code::Aborted, None),
        Answer::Ok(b"hello"),
    ])
    .await;
    let channel = channel(addr).await;
    assert_eq!(call(&channel).await.unwrap(), b"hello");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn resource_exhausted_waits_for_the_pushback() {
    let (addr, calls) = serve(vec![
        Answer::Fail(Code::ResourceExhausted, Some("300")),
        Answer::Ok(b"hello"),
    ])
    .await;
    let channel = channel(addr).await;
    let start = std::time::Instant::now();
    assert_eq!(call(&channel).await.unwrap(), b"hello");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // The 300 ms pushback, not the 10 ms backoff.
    assert!(
        start.elapsed() >= Duration::from_millis(300),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn a_negative_pushback_and_permanent_codes_are_not_retried() {
    for answer in [
        Answer::Fail(Code::Unavailable, Some("-1")),
        Answer::Fail(Code::InvalidArgument, None),
        Answer::Fail(Code::DeadlineExceeded, None),
        Answer::Fail(Code::Internal, None),
    ] {
        let (addr, calls) = serve(vec![answer, Answer::Ok(b"never")]).await;
        let channel = channel(addr).await;
        assert!(call(&channel).await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
