//! The `tracing` feature: one INFO event per retry and one when the call gives up (WARN after
//! retries, DEBUG when the first outcome was final), with the retried function's module as the
//! target, the method named with its type, the error shown with `Display` when it has one, and
//! each give-up reason its own.

use std::fmt::{self, Debug, Display};
use std::future::IntoFuture;
use std::sync::{Arc, Mutex};

use retry_runtime::retry;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// Records every event as its level, target and `name=value` fields.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<(Level, String, String)>>>);

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.push_str(&format!("{}={:?} ", field.name(), value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push_str(&format!("{}={} ", field.name(), value));
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        let meta = event.metadata();
        self.0.lock().unwrap().push((
            *meta.level(),
            meta.target().to_string(),
            fields.0.trim_end().to_string(),
        ));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// `Debug` shows a whole structure; events show `Display`.
struct Unavailable(u32);

impl Debug for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Unavailable {{ call: {}, headers: [...] }}", self.0)
    }
}

impl Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unavailable (call {})", self.0)
    }
}

/// Only `Debug`.
#[derive(Debug, PartialEq)]
struct Opaque(u32);

mod orders {
    use super::*;

    #[retry(attempts = 3, base = "100ms")]
    pub async fn fetch_order(calls: &mut u32) -> Result<(), Unavailable> {
        *calls += 1;
        Err(Unavailable(*calls))
    }

    #[retry(attempts = 3, base = "100ms", on = Unavailable(1))]
    pub async fn stops_on_second(calls: &mut u32) -> Result<(), Unavailable> {
        *calls += 1;
        Err(Unavailable(*calls))
    }

    #[retry(attempts = 3, base = "100ms", when = |_| false)]
    pub async fn permanent(calls: &mut u32) -> Result<(), Opaque> {
        *calls += 1;
        Err(Opaque(*calls))
    }

    #[retry(attempts = 2, base = "100ms", until = |n: &u32| *n > 10)]
    pub async fn never_ready(calls: &mut u32) -> Result<u32, Opaque> {
        *calls += 1;
        Ok(*calls)
    }

    pub struct Client;

    impl Client {
        #[retry(attempts = 2, base = "100ms")]
        pub async fn call(&self) -> Result<(), Opaque> {
            Err(Opaque(0))
        }
    }
}

fn run<F: std::future::Future>(recorder: &Recorder, fut: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    tracing::subscriber::with_default(recorder.clone(), || runtime.block_on(fut))
}

fn take(recorder: &Recorder) -> Vec<(Level, String, String)> {
    std::mem::take(&mut *recorder.0.lock().unwrap())
}

#[test]
fn info_per_retry_and_warn_on_giving_up_after_retries() {
    let recorder = Recorder::default();
    let mut calls = 0;
    assert!(run(&recorder, orders::fetch_order(&mut calls)).is_err());
    let events = take(&recorder);
    let levels: Vec<Level> = events.iter().map(|e| e.0).collect();
    assert_eq!(
        levels,
        [Level::INFO, Level::INFO, Level::WARN],
        "{events:#?}"
    );
    // The target is the retried function's module, so it can be filtered per module.
    assert!(
        events.iter().all(|e| e.1 == "tracing::orders"),
        "{events:#?}"
    );
    let retry_1 = &events[0].2;
    for part in [
        "function=fetch_order",
        "attempt=1",
        "delay=100ms",
        "from_hint=false",
        "error=unavailable (call 1)",
    ] {
        assert!(retry_1.contains(part), "missing {part} in {retry_1}");
    }
    assert!(
        !retry_1.contains("headers"),
        "Display, not Debug: {retry_1}"
    );
    let gave_up = &events[2].2;
    for part in [
        "giving up",
        "attempts=3",
        "reason=out of attempts",
        "error=unavailable (call 3)",
    ] {
        assert!(gave_up.contains(part), "missing {part} in {gave_up}");
    }
}

#[test]
fn each_reason_is_its_own_and_a_first_permanent_error_is_debug() {
    let recorder = Recorder::default();
    let mut calls = 0;
    assert!(run(&recorder, orders::stops_on_second(&mut calls)).is_err());
    let events = take(&recorder);
    assert_eq!(events.len(), 2, "{events:#?}");
    assert_eq!(events[1].0, Level::WARN);
    assert!(
        events[1].2.contains("reason=did not match `on`"),
        "{}",
        events[1].2
    );

    // Not retried at all: DEBUG, with `Debug` for an error without `Display`.
    let mut calls = 0;
    assert!(run(&recorder, orders::permanent(&mut calls)).is_err());
    let events = take(&recorder);
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0].0, Level::DEBUG);
    assert!(
        events[0].2.contains("reason=`when` returned false"),
        "{}",
        events[0].2
    );
    assert!(events[0].2.contains("error=Opaque(1)"), "{}", events[0].2);

    // A value that never satisfied `until`.
    let mut calls = 0;
    assert_eq!(run(&recorder, orders::never_ready(&mut calls)), Ok(2));
    let events = take(&recorder);
    assert_eq!(events.len(), 2, "{events:#?}");
    assert!(
        events[1]
            .2
            .contains("reason=out of attempts, the last value was still judged a failure"),
        "{}",
        events[1].2
    );
}

#[test]
fn methods_are_named_with_their_type() {
    let recorder = Recorder::default();
    let _ = run(&recorder, orders::Client.call());
    let events = take(&recorder);
    assert!(events[0].2.contains("function=Client::call"), "{events:#?}");
}

#[test]
fn the_builder_emits_the_same_levels() {
    let recorder = Recorder::default();
    let policy = retry_runtime::Policy::new()
        .with_attempts(2)
        .with_base(std::time::Duration::from_millis(1));
    let out = run(&recorder, async {
        policy.retry(async |_| Err::<(), _>(Opaque(7))).await
    });
    assert_eq!(out, Err(Opaque(7)));
    let events = take(&recorder);
    let levels: Vec<Level> = events.iter().map(|e| e.0).collect();
    assert_eq!(levels, [Level::INFO, Level::WARN], "{events:#?}");
    assert!(
        events[1].2.contains("reason=out of attempts"),
        "{events:#?}"
    );
}

mod guarded {
    use super::*;
    use retry_runtime::{BreakerOpen, CircuitBreaker};

    #[derive(Debug, PartialEq)]
    pub enum Error {
        Down,
        Open,
    }

    impl From<BreakerOpen> for Error {
        fn from(_: BreakerOpen) -> Self {
            Error::Open
        }
    }

    pub static BREAKER: CircuitBreaker = CircuitBreaker::new()
        .with_consecutive_failures(2)
        .with_break(std::time::Duration::from_millis(50))
        .with_break_jitter(0.0);

    #[retry(attempts = 5, base = "1ms", breaker = BREAKER)]
    pub async fn call(ok: bool) -> Result<(), Error> {
        if ok {
            Ok(())
        } else {
            Err(Error::Down)
        }
    }
}

#[test]
fn breaker_transitions_and_refusals_are_events() {
    let recorder = Recorder::default();
    // The failure that opens the breaker is the call's outcome.
    assert_eq!(
        run(&recorder, guarded::call(false)),
        Err(guarded::Error::Down)
    );
    let events = take(&recorder);
    let opened: Vec<_> = events
        .iter()
        .filter(|(_, _, fields)| fields.contains("circuit breaker opened"))
        .collect();
    assert_eq!(opened.len(), 1, "{events:#?}");
    assert_eq!(opened[0].0, Level::WARN);
    assert!(opened[0].2.contains("from=closed"), "{}", opened[0].2);
    let gave_up = events.last().unwrap();
    assert_eq!(gave_up.0, Level::WARN);
    assert!(
        gave_up
            .2
            .contains("reason=the circuit breaker has just opened"),
        "{}",
        gave_up.2
    );
    // While it is open, a call is refused without an attempt: a DEBUG event, as for any call
    // whose first outcome is final.
    assert_eq!(
        run(&recorder, guarded::call(true)),
        Err(guarded::Error::Open)
    );
    let events = take(&recorder);
    let refused = events.last().unwrap();
    assert_eq!(refused.0, Level::DEBUG);
    assert!(
        refused.2.contains("reason=the circuit breaker is open")
            && refused.2.contains("attempts=0"),
        "{}",
        refused.2
    );
    // After the break, the next call is a probe; its success closes the breaker.
    let later = async {
        tokio::time::sleep(std::time::Duration::from_millis(60)).await;
        guarded::call(true).await
    };
    assert_eq!(run(&recorder, later), Ok(()));
    let events = take(&recorder);
    let changes: Vec<&str> = events
        .iter()
        .filter(|(_, _, fields)| fields.contains("circuit breaker changed state"))
        .map(|(_, _, fields)| fields.as_str())
        .collect();
    assert_eq!(changes.len(), 2, "{events:#?}");
    assert!(changes[0].contains("from=open") && changes[0].contains("to=half_open"));
    assert!(changes[1].contains("from=half_open") && changes[1].contains("to=closed"));
}

/// A response judged a failure (`classify_ok`) is shown by its status, not dumped with its
/// headers; the call is named by `name = "..."`.
#[cfg(feature = "http")]
mod responses {
    use retry_runtime::retry;

    pub type Response = http::Response<&'static str>;

    pub fn unavailable() -> Response {
        http::Response::builder()
            .status(503)
            .header("x-secret-header", "do-not-log")
            .body("busy")
            .unwrap()
    }

    #[retry(attempts = 2, base = "10ms", classify_ok, name = "provider-a")]
    pub async fn chat() -> Result<Response, std::io::Error> {
        Ok(unavailable())
    }
}

#[cfg(feature = "http")]
#[test]
fn a_response_judged_a_failure_is_shown_by_its_status_under_the_call_name() {
    let recorder = Recorder::default();
    let out = run(&recorder, responses::chat()).expect("the last response");
    assert_eq!(out.status(), 503);
    let events = take(&recorder);
    assert_eq!(events.len(), 2, "{events:#?}");
    for (_, _, fields) in &events {
        assert!(fields.contains("function=provider-a"), "{fields}");
        assert!(fields.contains("error=503 Service Unavailable"), "{fields}");
        assert!(!fields.contains("x-secret-header"), "{fields}");
    }
}

/// The builders cannot name the outcome's types: their events say what failed (the error's own
/// description under `.classify()`), never a type name, under the builder's call name.
#[test]
fn the_builders_events_name_the_call_and_no_type() {
    let recorder = Recorder::default();
    let policy = retry_runtime::Policy::new()
        .with_attempts(2)
        .with_base(std::time::Duration::from_millis(10));
    let call = policy
        .retry(async |_| Err::<(), _>(Unavailable(7)))
        .name("provider-b");
    assert!(run(&recorder, call.into_future()).is_err());
    let events = take(&recorder);
    assert_eq!(events.len(), 2, "{events:#?}");
    for (_, _, fields) in &events {
        assert!(fields.contains("function=provider-b"), "{fields}");
        assert!(fields.contains("error=an error"), "{fields}");
        assert!(!fields.contains("Unavailable"), "{fields}");
    }
    // With `.classify()`, the error's own `Classify::describe`: an I/O error's `Display`.
    let call = policy
        .retry(async |_| {
            Err::<(), _>(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "peer hung up",
            ))
        })
        .classify();
    assert!(run(&recorder, call.into_future()).is_err());
    let events = take(&recorder);
    assert_eq!(events.len(), 2, "{events:#?}");
    for (_, _, fields) in &events {
        assert!(fields.contains("error=peer hung up"), "{fields}");
    }
}

/// A server asking for longer than `max_hint` ends the call at once: an operator wants to know,
/// so that is a WARN event even on the first attempt (a permanent error there is DEBUG).
mod hints {
    use retry_runtime::{retry, Classify, Decision};

    #[derive(Debug)]
    pub struct Busy;

    impl std::fmt::Display for Busy {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("busy for an hour")
        }
    }

    impl Classify for Busy {
        fn classify(&self) -> Decision {
            Decision::RetryAfter(std::time::Duration::from_secs(3600))
        }
    }

    #[retry(attempts = 3, base = "10ms", classify)]
    pub async fn call() -> Result<(), Busy> {
        Err(Busy)
    }
}

#[test]
fn a_hint_beyond_max_hint_is_a_warning_on_the_first_attempt() {
    let recorder = Recorder::default();
    assert!(run(&recorder, hints::call()).is_err());
    let events = take(&recorder);
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0].0, Level::WARN);
    assert!(events[0].2.contains("attempts=1"), "{}", events[0].2);
    assert!(
        events[0].2.contains("longer than `max_hint`"),
        "{}",
        events[0].2
    );
}

/// Records the spans (name and fields as recorded) and, for every event, the span it was in.
#[derive(Clone, Default)]
struct Spans {
    spans: Arc<Mutex<Vec<(String, String)>>>,
    /// Each event's message with its span's name and fields at that time.
    events: Arc<Mutex<Vec<(String, String, String)>>>,
}

thread_local! {
    static CURRENT: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Subscriber for Spans {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, attributes: &Attributes<'_>) -> Id {
        let mut fields = Fields(String::new());
        attributes.record(&mut fields);
        let mut spans = self.spans.lock().unwrap();
        spans.push((attributes.metadata().name().to_string(), fields.0));
        Id::from_u64(spans.len() as u64)
    }
    fn record(&self, id: &Id, values: &Record<'_>) {
        let mut fields = Fields(String::new());
        values.record(&mut fields);
        let mut spans = self.spans.lock().unwrap();
        let span = &mut spans[id.into_u64() as usize - 1];
        span.1.push_str(&fields.0);
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        let current = CURRENT.with(|stack| stack.borrow().last().copied());
        let (name, span_fields) = match current {
            Some(id) => self.spans.lock().unwrap()[id as usize - 1].clone(),
            None => (String::new(), String::new()),
        };
        self.events
            .lock()
            .unwrap()
            .push((fields.0.trim_end().to_string(), name, span_fields));
    }
    fn enter(&self, id: &Id) {
        CURRENT.with(|stack| stack.borrow_mut().push(id.into_u64()));
    }
    fn exit(&self, _: &Id) {
        CURRENT.with(|stack| stack.borrow_mut().pop());
    }
}

impl Spans {
    /// The body's events (`message=body`): their span's name and its latest `attempt`.
    fn body_events(&self) -> Vec<(String, String)> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|(fields, _, _)| fields.contains("message=body"))
            .map(|(_, name, fields)| {
                // Fields are appended as they are recorded: the last `attempt=` is the current.
                let attempt = fields
                    .rsplit("attempt=")
                    .next()
                    .filter(|_| fields.contains("attempt="))
                    .map(|rest| rest.split(' ').next().unwrap_or("").to_string())
                    .unwrap_or_default();
                (name.clone(), attempt)
            })
            .collect()
    }

    fn span_fields(&self, name: &str) -> String {
        let spans = self.spans.lock().unwrap();
        let (_, fields) = spans.iter().find(|(n, _)| n == name).expect(name);
        fields.clone()
    }
}

fn run_spans<F: std::future::Future>(spans: &Spans, fut: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    tracing::subscriber::with_default(spans.clone(), || runtime.block_on(fut))
}

fn attempts(name: &str, n: usize) -> Vec<(String, String)> {
    (1..=n).map(|i| (name.to_string(), i.to_string())).collect()
}

#[retry(attempts = 3, base = "1ms")]
fn blocking_fetch(calls: &mut u32) -> Result<u32, Opaque> {
    *calls += 1;
    tracing::info!("body");
    if *calls < 3 {
        Err(Opaque(*calls))
    } else {
        Ok(*calls)
    }
}

#[retry(attempts = 3, base = "1ms", name = "orders")]
async fn async_fetch(calls: &mut u32) -> Result<u32, Opaque> {
    *calls += 1;
    // The span is entered on every poll of the attempt, not only the first.
    tokio::task::yield_now().await;
    tracing::info!("body");
    if *calls < 3 {
        Err(Opaque(*calls))
    } else {
        Ok(*calls)
    }
}

/// An `async fn` runs each attempt in its own span (OpenTelemetry's span per resend), named by
/// the call name, with the attempt's number.
#[test]
fn an_async_retried_function_runs_each_attempt_in_a_span_with_its_number() {
    let spans = Spans::default();
    let mut calls = 0;
    let out = run_spans(&spans, async_fetch(&mut calls));
    assert_eq!(out, Ok(3));
    assert_eq!(spans.body_events(), attempts("orders", 3));
    let opened = spans.spans.lock().unwrap().len();
    assert_eq!(opened, 3, "one span per attempt");
}

#[test]
fn a_blocking_retried_function_runs_in_its_span_with_the_attempt() {
    let spans = Spans::default();
    let mut calls = 0;
    let out = tracing::subscriber::with_default(spans.clone(), || blocking_fetch(&mut calls));
    assert_eq!(out, Ok(3));
    assert_eq!(spans.body_events(), attempts("blocking_fetch", 3));
}

#[test]
fn the_builders_run_in_a_retry_span_named_by_otel_name() {
    let policy = retry_runtime::Policy::new()
        .with_attempts(3)
        .with_base(std::time::Duration::from_millis(1));
    let body = |attempt: retry_runtime::Attempt| {
        tracing::info!("body");
        if attempt.attempt() < 3 {
            Err(Opaque(attempt.attempt()))
        } else {
            Ok(attempt.attempt())
        }
    };

    let spans = Spans::default();
    let out = run_spans(&spans, async {
        policy
            .retry(async |attempt| body(attempt))
            .name("awaited")
            .await
    });
    assert_eq!(out, Ok(3));
    assert_eq!(spans.body_events(), attempts("retry", 3));
    assert!(spans.span_fields("retry").contains("otel.name=awaited"));

    let spans = Spans::default();
    let out = run_spans(&spans, async {
        policy.retry(async |attempt| body(attempt)).run().await
    });
    assert_eq!(out, Ok(3));
    assert_eq!(spans.body_events(), attempts("retry", 3));
    assert!(spans
        .span_fields("retry")
        .contains("otel.name=Policy::retry"));

    let spans = Spans::default();
    let out = tracing::subscriber::with_default(spans.clone(), || {
        policy.retry_blocking(body).name("blocking").call()
    });
    assert_eq!(out, Ok(3));
    assert_eq!(spans.body_events(), attempts("retry", 3));
    assert!(spans.span_fields("retry").contains("otel.name=blocking"));
}

/// The tower layer on an HTTP service: the span records `http.request.resend_count` (the
/// resends, from the second attempt on) beside `attempt`.
#[cfg(feature = "tower")]
#[test]
fn the_tower_layer_records_the_resend_count_on_http_requests() {
    use retry_runtime::tower::RetryLayer;
    use tower::{Layer, Service, ServiceExt};

    let sent = Arc::new(Mutex::new(0u32));
    let count = sent.clone();
    let service = tower::service_fn(
        move |_: http::Request<http_body_util::Empty<bytes::Bytes>>| {
            let count = count.clone();
            async move {
                let mut n = count.lock().unwrap();
                *n += 1;
                tracing::info!("body");
                let status = if *n < 3 { 503 } else { 200 };
                Ok::<_, std::io::Error>(http::Response::builder().status(status).body(()).unwrap())
            }
        },
    );
    let policy = retry_runtime::Policy::new()
        .with_attempts(3)
        .with_base(std::time::Duration::from_millis(1));
    let mut service = RetryLayer::new(policy).classify_ok().layer(service);
    let spans = Spans::default();
    let response = run_spans(&spans, async {
        let request = http::Request::get("http://localhost/")
            .body(http_body_util::Empty::new())
            .unwrap();
        service.ready().await.unwrap().call(request).await
    })
    .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(spans.body_events(), attempts("retry", 3));
    let fields = spans.span_fields("retry");
    for part in [
        "otel.name=tower",
        "http.request.resend_count=1",
        "http.request.resend_count=2",
    ] {
        assert!(fields.contains(part), "missing {part} in {fields}");
    }
    assert!(!fields.contains("http.request.resend_count=0"), "{fields}");
}

/// The reqwest middleware: the span records `http.request.resend_count` beside `attempt`, and
/// the layers below it (here, one answering 503 twice, then 200) run inside it.
#[cfg(feature = "http")]
#[test]
fn the_middleware_records_the_resend_count() {
    use retry_runtime::middleware::RetryMiddleware;

    struct Answers(Arc<Mutex<u32>>);

    #[async_trait::async_trait]
    impl reqwest_middleware::Middleware for Answers {
        async fn handle(
            &self,
            _: reqwest::Request,
            _: &mut http::Extensions,
            _: reqwest_middleware::Next<'_>,
        ) -> reqwest_middleware::Result<reqwest::Response> {
            let status = {
                let mut n = self.0.lock().unwrap();
                *n += 1;
                if *n < 3 {
                    503
                } else {
                    200
                }
            };
            tracing::info!("body");
            let response = http::Response::builder().status(status).body("").unwrap();
            Ok(reqwest::Response::from(response))
        }
    }

    let policy = retry_runtime::Policy::new()
        .with_attempts(3)
        .with_base(std::time::Duration::from_millis(1));
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(RetryMiddleware::new(policy).with_name("orders"))
        .with(Answers(Arc::default()))
        .build();
    let spans = Spans::default();
    let response = run_spans(&spans, client.get("http://localhost/").send()).unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(spans.body_events(), attempts("retry", 3));
    let fields = spans.span_fields("retry");
    for part in [
        "otel.name=orders",
        "http.request.resend_count=1",
        "http.request.resend_count=2",
    ] {
        assert!(fields.contains(part), "missing {part} in {fields}");
    }
}

/// A hedged call runs each copy in its own `retry` span with the copy's attempt number, so
/// copies running at once are told apart.
#[test]
fn each_copy_of_a_hedged_call_runs_in_its_own_span() {
    use std::time::Duration;
    let spans = Spans::default();
    let policy = retry_runtime::Policy::new();
    let out = run_spans(
        &spans,
        policy
            .retry(|attempt: retry_runtime::Attempt| async move {
                tracing::info!("body");
                let ms = if attempt.attempt() == 1 { 500 } else { 5 };
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok::<_, Opaque>(attempt.attempt())
            })
            .name("hedged")
            .hedge(Duration::from_millis(20), 1)
            .into_future(),
    );
    assert_eq!(out, Ok(2));
    assert_eq!(spans.body_events(), attempts("retry", 2));
    assert!(spans.span_fields("retry").contains("otel.name=hedged"));
}
