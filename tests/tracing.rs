//! The `tracing` feature: one WARN event per retry and one when the call gives up.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use retry_runtime::retry;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// Records every event as its level and `name=value` fields.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<(Level, String)>>>);

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
        let level = *event.metadata().level();
        self.0
            .lock()
            .unwrap()
            .push((level, fields.0.trim_end().to_string()));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[derive(Debug)]
struct Unavailable(u32);

#[retry(attempts = 3, base = "100ms")]
async fn fetch_order(calls: &mut u32) -> Result<(), Unavailable> {
    *calls += 1;
    Err(Unavailable(*calls))
}

#[retry(attempts = 3, base = "100ms", on = Unavailable(1))]
async fn stops_on_second(calls: &mut u32) -> Result<(), Unavailable> {
    *calls += 1;
    Err(Unavailable(*calls))
}

fn run<F: std::future::Future>(recorder: &Recorder, fut: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    tracing::subscriber::with_default(recorder.clone(), || runtime.block_on(fut))
}

#[test]
fn one_warn_per_retry_and_one_on_giving_up() {
    let recorder = Recorder::default();
    let mut calls = 0;
    assert!(run(&recorder, fetch_order(&mut calls)).is_err());
    let events = recorder.0.lock().unwrap().clone();
    assert_eq!(events.len(), 3, "{events:#?}");
    assert!(events.iter().all(|(level, _)| *level == Level::WARN));
    let retry_1 = &events[0].1;
    assert!(retry_1.contains("function=fetch_order"), "{retry_1}");
    assert!(retry_1.contains("attempt=1"), "{retry_1}");
    assert!(retry_1.contains("delay=100ms"), "{retry_1}");
    assert!(retry_1.contains("error=Unavailable(1)"), "{retry_1}");
    assert!(events[1].1.contains("attempt=2") && events[1].1.contains("delay=200ms"));
    let gave_up = &events[2].1;
    assert!(gave_up.contains("giving up"), "{gave_up}");
    assert!(gave_up.contains("attempts=3"), "{gave_up}");
    assert!(gave_up.contains("error=Unavailable(3)"), "{gave_up}");
}

#[test]
fn a_non_retryable_error_gives_up_with_its_reason() {
    let recorder = Recorder::default();
    let mut calls = 0;
    assert!(run(&recorder, stops_on_second(&mut calls)).is_err());
    assert_eq!(calls, 2);
    let events = recorder.0.lock().unwrap().clone();
    assert_eq!(events.len(), 2, "{events:#?}");
    assert!(
        events[1].1.contains("reason=did not match `on`"),
        "{}",
        events[1].1
    );
}
