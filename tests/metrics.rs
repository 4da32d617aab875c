//! The `metrics` feature: calls, attempts, retries and give-ups by reason, and a histogram of
//! attempts per call, labelled by function; checked with a recorder that counts.

use std::collections::BTreeMap;
use std::future::IntoFuture;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use metrics::{
    Counter, CounterFn, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use retry_runtime::retry;

/// Every counter's total and every histogram's values, by name and labels.
#[derive(Default)]
struct Counting {
    counters: Mutex<BTreeMap<String, Arc<AtomicU64>>>,
    histograms: Mutex<BTreeMap<String, Arc<Values>>>,
}

#[derive(Default)]
struct Values(Mutex<Vec<f64>>);

struct Total(Arc<AtomicU64>);

impl CounterFn for Total {
    fn increment(&self, value: u64) {
        self.0.fetch_add(value, Ordering::SeqCst);
    }
    fn absolute(&self, value: u64) {
        self.0.store(value, Ordering::SeqCst);
    }
}

impl HistogramFn for Values {
    fn record(&self, value: f64) {
        self.0.lock().unwrap().push(value);
    }
}

fn name(key: &Key) -> String {
    let mut labels: Vec<String> = key
        .labels()
        .map(|l| format!("{}={}", l.key(), l.value()))
        .collect();
    labels.sort();
    format!("{}{{{}}}", key.name(), labels.join(","))
}

impl Recorder for Counting {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let total = self
            .counters
            .lock()
            .unwrap()
            .entry(name(key))
            .or_default()
            .clone();
        Counter::from_arc(Arc::new(Total(total)))
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        let values = self
            .histograms
            .lock()
            .unwrap()
            .entry(name(key))
            .or_default()
            .clone();
        Histogram::from_arc(values)
    }
}

impl Counting {
    fn counters(&self) -> BTreeMap<String, u64> {
        self.counters
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.load(Ordering::SeqCst)))
            // Registered handles that never counted are not counts.
            .filter(|(_, v)| *v > 0)
            .collect()
    }
}

#[derive(Debug, PartialEq)]
struct Busy;

#[retry(attempts = 3, base = "0ms")]
fn flaky(calls: &mut u32, fail: u32) -> Result<u32, Busy> {
    *calls += 1;
    if *calls <= fail {
        Err(Busy)
    } else {
        Ok(*calls)
    }
}

#[retry(attempts = 3, base = "0ms", when = |_| false)]
fn permanent() -> Result<(), Busy> {
    Err(Busy)
}

#[test]
fn calls_attempts_retries_and_give_ups_are_counted_by_function() {
    let recorder = Counting::default();
    metrics::with_local_recorder(&recorder, || {
        let mut calls = 0;
        assert_eq!(flaky(&mut calls, 0), Ok(1)); // success at once
        let mut calls = 0;
        assert_eq!(flaky(&mut calls, 2), Ok(3)); // two retries
        let mut calls = 0;
        assert!(flaky(&mut calls, 5).is_err()); // out of attempts
        assert!(permanent().is_err()); // not retried
    });
    let counters = recorder.counters();
    let expected: BTreeMap<String, u64> = [
        ("retry_calls_total{function=flaky,outcome=success}", 2),
        ("retry_calls_total{function=flaky,outcome=gave_up}", 1),
        ("retry_attempts_total{function=flaky}", 1 + 3 + 3),
        ("retry_retries_total{function=flaky}", 2 + 2),
        (
            "retry_give_ups_total{function=flaky,reason=out_of_attempts}",
            1,
        ),
        ("retry_calls_total{function=permanent,outcome=gave_up}", 1),
        ("retry_attempts_total{function=permanent}", 1),
        ("retry_give_ups_total{function=permanent,reason=when}", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(counters, expected);
    let histograms = recorder.histograms.lock().unwrap();
    let flaky = histograms["retry_attempts_per_call{function=flaky}"]
        .0
        .lock()
        .unwrap()
        .clone();
    assert_eq!(flaky, [1.0, 3.0, 3.0]);
}

/// The builders count under their own names, with the attribute's metrics; a breaker's refusal
/// is its own reason.
#[test]
fn the_builders_count_under_their_own_names() {
    use retry_runtime::{BreakerOpen, CircuitBreaker, Policy};

    #[derive(Debug, PartialEq)]
    enum Error {
        Busy,
        Open,
    }
    impl From<BreakerOpen> for Error {
        fn from(_: BreakerOpen) -> Self {
            Error::Open
        }
    }

    let recorder = Counting::default();
    let policy = Policy::new()
        .with_attempts(3)
        .with_base(std::time::Duration::ZERO);
    let breaker = CircuitBreaker::new().with_consecutive_failures(2);
    metrics::with_local_recorder(&recorder, || {
        let mut calls = 0;
        let out = policy
            .retry_blocking(|_| {
                calls += 1;
                if calls < 2 {
                    Err(Error::Busy)
                } else {
                    Ok(calls)
                }
            })
            .call();
        assert_eq!(out, Ok(2)); // one retry, then success
        let out = policy
            .retry_blocking(|_| Err::<(), _>(Error::Busy))
            .breaker(&breaker)
            .call();
        // Two failures open it: the second is the call's outcome.
        assert_eq!(out, Err(Error::Busy));
        let out = policy
            .retry_blocking(|_| Err::<(), _>(Error::Busy))
            .breaker(&breaker)
            .call();
        // While it is open the attempt is refused: not an attempt, counted apart.
        assert_eq!(out, Err(Error::Open));
    });
    let counters = recorder.counters();
    let expected: BTreeMap<String, u64> = [
        (
            "retry_calls_total{function=Policy::retry_blocking,outcome=success}",
            1,
        ),
        (
            "retry_calls_total{function=Policy::retry_blocking,outcome=gave_up}",
            2,
        ),
        (
            "retry_attempts_total{function=Policy::retry_blocking}",
            2 + 2,
        ),
        ("retry_refused_total{function=Policy::retry_blocking}", 1),
        (
            "retry_retries_total{function=Policy::retry_blocking}",
            1 + 1,
        ),
        (
            "retry_give_ups_total{function=Policy::retry_blocking,reason=breaker_opened}",
            1,
        ),
        (
            "retry_give_ups_total{function=Policy::retry_blocking,reason=breaker_open}",
            1,
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(counters, expected);
}

#[retry(attempts = 2, base = "0ms", name = "provider-a")]
fn named_call(fail: bool) -> Result<(), String> {
    if fail {
        Err("down".into())
    } else {
        Ok(())
    }
}

/// Two providers' retries told apart: `name = "..."` on the attribute, `.name(..)` on the
/// builder, each counted under its own name.
#[test]
fn calls_are_counted_under_their_names() {
    let recorder = Counting::default();
    let policy = retry_runtime::Policy::new()
        .with_attempts(2)
        .with_base(std::time::Duration::ZERO);
    metrics::with_local_recorder(&recorder, || {
        assert_eq!(named_call(false), Ok(()));
        assert!(named_call(true).is_err());
        let out = policy
            .retry_blocking(|_| Err::<(), _>("down"))
            .name("provider-b")
            .call();
        assert!(out.is_err());
    });
    let counters = recorder.counters();
    let count = |key: &str| counters.get(key).copied().unwrap_or_default();
    assert_eq!(
        count("retry_calls_total{function=provider-a,outcome=success}"),
        1
    );
    assert_eq!(
        count("retry_calls_total{function=provider-a,outcome=gave_up}"),
        1
    );
    assert_eq!(count("retry_attempts_total{function=provider-a}"), 1 + 2);
    assert_eq!(
        count("retry_calls_total{function=provider-b,outcome=gave_up}"),
        1
    );
    assert_eq!(count("retry_attempts_total{function=provider-b}"), 2);
    assert_eq!(
        count("retry_give_ups_total{function=provider-b,reason=out_of_attempts}"),
        1
    );
    assert!(
        !counters.keys().any(|key| key.contains("named_call")),
        "{counters:#?}"
    );
}

/// A hedged call counts its extra copies apart from retries (`retry_hedges_total`) and every
/// copy as an attempt.
#[test]
fn hedges_are_counted_apart_from_retries() {
    use std::time::Duration;
    let recorder = Counting::default();
    let policy = retry_runtime::Policy::new();
    metrics::with_local_recorder(&recorder, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let out = runtime.block_on(
            policy
                .retry(|attempt: retry_runtime::Attempt| async move {
                    let ms = if attempt.attempt() == 1 { 500 } else { 10 };
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    Ok::<_, String>(attempt.attempt())
                })
                .name("hedged-call")
                .hedge(Duration::from_millis(20), 2)
                .into_future(),
        );
        assert_eq!(out, Ok(2));
    });
    let counters = recorder.counters();
    let count = |key: &str| counters.get(key).copied().unwrap_or_default();
    assert_eq!(count("retry_hedges_total{function=hedged-call}"), 1);
    assert_eq!(count("retry_retries_total{function=hedged-call}"), 0);
    assert_eq!(count("retry_attempts_total{function=hedged-call}"), 2);
    assert_eq!(
        count("retry_calls_total{function=hedged-call,outcome=success}"),
        1
    );
}
