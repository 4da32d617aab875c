//! The layer on a [`TestClock`]: exact schedules, readiness, the idempotency rules.

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tower_layer::Layer;
use tower_service::Service;

use super::{BoxError, RetryLayer};
use crate::runtime::TestClock;
use crate::Policy;

const MS: Duration = Duration::from_millis(1);

/// One scripted answer: a response, or an I/O error of this kind.
type Answer = Result<http::Response<()>, io::ErrorKind>;

/// A service answering from a script, counting its calls and readiness checks; not ready
/// the first time each clone is asked.
#[derive(Clone)]
struct Scripted {
    answers: Arc<Mutex<Vec<Answer>>>,
    log: Arc<Mutex<Vec<&'static str>>>,
    asked: bool,
}

impl Scripted {
    fn new(mut answers: Vec<Answer>) -> Self {
        answers.reverse();
        Scripted {
            answers: Arc::new(Mutex::new(answers)),
            log: Arc::default(),
            asked: false,
        }
    }
    fn log(&self) -> Vec<&'static str> {
        self.log.lock().unwrap().clone()
    }
}

impl Service<http::Request<String>> for Scripted {
    type Response = http::Response<()>;
    type Error = io::Error;
    type Future = core::future::Ready<Result<http::Response<()>, io::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        if !self.asked {
            self.asked = true;
            self.log.lock().unwrap().push("pending");
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.log.lock().unwrap().push("ready");
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<String>) -> Self::Future {
        assert_eq!(
            request.body(),
            "payload",
            "every attempt sends the whole request"
        );
        self.log.lock().unwrap().push("call");
        let answer = self
            .answers
            .lock()
            .unwrap()
            .pop()
            .unwrap_or(Ok(status(200)));
        core::future::ready(answer.map_err(io::Error::from))
    }
}

fn status(code: u16) -> http::Response<()> {
    http::Response::builder().status(code).body(()).unwrap()
}

fn request(method: &str) -> http::Request<String> {
    http::Request::builder()
        .method(method)
        .uri("http://127.0.0.1/")
        .body("payload".to_string())
        .unwrap()
}

/// Polls `future` to its end on the clock (readiness wakes at once; sleeps take no time).
fn block_on<F: Future>(clock: &TestClock, future: F) -> F::Output {
    let mut future = pin!(clock.run(future));
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..100 {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
    panic!("the call did not end");
}

/// Readies `service` as a caller must, then calls it.
async fn ready_call<S: Service<R>, R>(
    service: &mut S,
    request: R,
) -> Result<S::Response, S::Error> {
    core::future::poll_fn(|cx| service.poll_ready(cx)).await?;
    service.call(request).await
}

fn policy() -> Policy {
    Policy::new().with_attempts(4).with_base(100 * MS)
}

#[test]
fn errors_and_responses_are_retried_on_the_policy_schedule_and_each_retry_is_readied() {
    let clock = TestClock::new();
    let inner = Scripted::new(vec![
        Err(io::ErrorKind::ConnectionReset),
        Ok(status(503)),
        Ok(status(200)),
    ]);
    let mut service = RetryLayer::new(policy())
        .classify_ok()
        .sleeper(clock.clone())
        .layer(inner.clone());
    let response = block_on(&clock, ready_call(&mut service, request("GET"))).unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(clock.sleeps(), [100 * MS, 200 * MS]);
    // The caller readies the service (not ready at first: it is not called); each retry asks
    // the call's clone again before calling it.
    assert_eq!(
        inner.log(),
        ["pending", "ready", "call", "ready", "call", "ready", "call"]
    );
}

#[test]
fn a_retry_after_is_slept_and_a_final_status_is_returned_at_once() {
    let clock = TestClock::new();
    let busy = http::Response::builder()
        .status(503)
        .header("retry-after", "2")
        .body(())
        .unwrap();
    let inner = Scripted::new(vec![Ok(busy), Ok(status(404))]);
    let mut service = RetryLayer::new(policy())
        .classify_ok()
        .sleeper(clock.clone())
        .layer(inner.clone());
    let response = block_on(&clock, ready_call(&mut service, request("GET"))).unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(clock.sleeps(), [2000 * MS]);
    assert_eq!(inner.log().iter().filter(|&&e| e == "call").count(), 2);
}

#[test]
fn without_classify_ok_every_response_is_final() {
    let clock = TestClock::new();
    let inner = Scripted::new(vec![Ok(status(503))]);
    let mut service = RetryLayer::new(policy())
        .sleeper(clock.clone())
        .layer(inner.clone());
    let response = block_on(&clock, ready_call(&mut service, request("GET"))).unwrap();
    assert_eq!(response.status(), 503);
    assert!(clock.sleeps().is_empty());
}

#[test]
fn a_post_is_sent_again_only_when_the_failure_says_it_was_not_acted_on() {
    for (answer, calls) in [
        (Err(io::ErrorKind::ConnectionReset), 1),
        (Ok(status(500)), 1),
        (Err(io::ErrorKind::ConnectionRefused), 2),
        (Ok(status(503)), 2),
        (Ok(status(429)), 2),
    ] {
        let clock = TestClock::new();
        let inner = Scripted::new(vec![answer]);
        let mut service = RetryLayer::new(policy())
            .classify_ok()
            .sleeper(clock.clone())
            .layer(inner.clone());
        let _ = block_on(&clock, ready_call(&mut service, request("POST")));
        let made = inner.log().iter().filter(|&&e| e == "call").count();
        assert_eq!(made, calls, "{:?}", inner.log());
    }
    // With an idempotency key, or when the caller opts in, a reset POST is sent again.
    for keyed in [true, false] {
        let clock = TestClock::new();
        let inner = Scripted::new(vec![Err(io::ErrorKind::ConnectionReset)]);
        let layer = RetryLayer::new(policy())
            .classify_ok()
            .sleeper(clock.clone());
        let mut post = request("POST");
        let mut service = if keyed {
            post.headers_mut()
                .insert("idempotency-key", "k-1".parse().unwrap());
            layer.layer(inner.clone())
        } else {
            layer.retry_non_idempotent().layer(inner.clone())
        };
        let response = block_on(&clock, ready_call(&mut service, post)).unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(inner.log().iter().filter(|&&e| e == "call").count(), 2);
    }
}

#[test]
fn a_permanent_error_and_the_last_attempt_return_the_service_error_boxed() {
    let clock = TestClock::new();
    let inner = Scripted::new(vec![Err(io::ErrorKind::PermissionDenied)]);
    let mut service = RetryLayer::new(policy())
        .sleeper(clock.clone())
        .layer(inner.clone());
    let error: BoxError = block_on(&clock, ready_call(&mut service, request("GET"))).unwrap_err();
    let io_error = error.downcast_ref::<io::Error>().unwrap();
    assert_eq!(io_error.kind(), io::ErrorKind::PermissionDenied);
    assert!(clock.sleeps().is_empty());

    let clock = TestClock::new();
    let inner = Scripted::new(vec![Err(io::ErrorKind::ConnectionReset); 4]);
    let mut service = RetryLayer::new(policy())
        .sleeper(clock.clone())
        .layer(inner.clone());
    let error = block_on(&clock, ready_call(&mut service, request("GET"))).unwrap_err();
    assert!(error.downcast_ref::<io::Error>().is_some());
    assert_eq!(clock.sleeps(), [100 * MS, 200 * MS, 400 * MS]);
    assert_eq!(inner.log().iter().filter(|&&e| e == "call").count(), 4);
}

#[test]
fn the_hook_hears_each_retry() {
    let clock = TestClock::new();
    let heard = Arc::new(Mutex::new(Vec::new()));
    let inner = Scripted::new(vec![Ok(status(503)), Ok(status(502))]);
    let log = heard.clone();
    let mut service = RetryLayer::new(policy())
        .classify_ok()
        .on_retry(
            move |outcome: &Result<http::Response<()>, BoxError>, info: &crate::RetryInfo| {
                let status = outcome.as_ref().map(|r| r.status().as_u16()).unwrap_or(0);
                log.lock()
                    .unwrap()
                    .push((status, info.attempt(), info.delay()));
            },
        )
        .sleeper(clock.clone())
        .layer(inner);
    block_on(&clock, ready_call(&mut service, request("GET"))).unwrap();
    assert_eq!(
        *heard.lock().unwrap(),
        [(503, 1, 100 * MS), (502, 2, 200 * MS)]
    );
}

#[test]
fn a_failure_that_opens_the_breaker_ends_the_call_and_the_next_call_sends_nothing() {
    static BREAKER: crate::CircuitBreaker = crate::CircuitBreaker::new()
        .with_consecutive_failures(1)
        .with_break(Duration::from_secs(60));
    let clock = TestClock::new();
    let inner = Scripted::new(vec![Err(io::ErrorKind::ConnectionReset)]);
    let mut service = RetryLayer::new(policy())
        .with_breaker(&BREAKER)
        .sleeper(clock.clone())
        .layer(inner.clone());
    let error = block_on(&clock, ready_call(&mut service, request("GET"))).unwrap_err();
    assert!(error.downcast_ref::<io::Error>().is_some());
    assert!(clock.sleeps().is_empty());
    let error = block_on(&clock, ready_call(&mut service, request("GET"))).unwrap_err();
    assert!(error.downcast_ref::<crate::BreakerOpen>().is_some());
    assert_eq!(inner.log().iter().filter(|&&e| e == "call").count(), 1);
}
