//! Ordinary Rust that the first release rejected or mis-compiled, each case pinned: arguments
//! mentioned by filters and hooks, `#[async_trait]` methods, `#[cfg]` on arguments, reborrowed
//! `Pin<&mut Self>` and `Option<&mut T>`, generic policies, arguments that are never cloned,
//! `{self}` outside format strings, `Send` with `Send + !Sync` arguments, the deadline
//! boundary with a per-attempt timeout, and functions that return `impl Future` with an async
//! block for body.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use retry_runtime::{retry, Policy, RetryInfo, TimedOut};
use tokio::time::Instant;

fn assert_send<T: Send>(_: &T) {}

// ---- filters and hooks that mention arguments ------------------------------------------------

#[derive(Debug, PartialEq)]
enum FetchError {
    Status(u16),
    TimedOut,
}

impl From<TimedOut> for FetchError {
    fn from(_: TimedOut) -> Self {
        FetchError::TimedOut
    }
}

static HOOK_SAW: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The guard, `when` and `on_retry` all read `url` (by value, and consumed by the body) and
/// `seen` (`&mut`, also written by the body): "borrow of moved value" in the first release.
#[retry(
    attempts = 4,
    base = "1ms",
    on = FetchError::Status(s) if *s >= 500 && url.starts_with("https://"),
    unless = FetchError::Status(503) if seen.len() > 2,
    when = |_e| !url.is_empty() && seen.len() < 10,
    on_retry = |e: &FetchError, info: &RetryInfo| HOOK_SAW.lock().unwrap().push(format!("{url} {e:?} {} {}", info.attempt(), seen.len()))
)]
async fn fetch(url: String, seen: &mut Vec<String>, statuses: &[u16]) -> Result<usize, FetchError> {
    let status = statuses[seen.len()];
    seen.push(url); // consumes this attempt's copy of `url`
    if status == 200 {
        Ok(seen.len())
    } else {
        Err(FetchError::Status(status))
    }
}

#[tokio::test(start_paused = true)]
async fn filters_and_hooks_see_by_value_and_mut_arguments_the_body_uses() {
    HOOK_SAW.lock().unwrap().clear();
    let mut seen = Vec::new();
    let url = "https://example.test/a".to_string();
    assert_eq!(fetch(url, &mut seen, &[500, 502, 200]).await, Ok(3));
    assert_eq!(
        *HOOK_SAW.lock().unwrap(),
        [
            "https://example.test/a Status(500) 1 1",
            "https://example.test/a Status(502) 2 2",
        ]
    );
    // `unless` reads `seen`: the third 503 is not retried.
    let mut seen = Vec::new();
    let url = "https://example.test/b".to_string();
    assert_eq!(
        fetch(url, &mut seen, &[503, 503, 503, 200]).await,
        Err(FetchError::Status(503))
    );
    assert_eq!(seen.len(), 3);
    // `on`'s guard reads `url`: not https, not retried.
    let mut seen = Vec::new();
    assert_eq!(
        fetch("http://x".into(), &mut seen, &[500, 200]).await,
        Err(FetchError::Status(500))
    );
    assert_eq!(seen.len(), 1);
}

// ---- #[async_trait] ---------------------------------------------------------------------------

#[async_trait::async_trait]
trait Store {
    async fn get(&self, key: String) -> Result<u32, FetchError>;

    /// A default method retried inside the trait.
    #[retry(attempts = 3, base = "10ms")]
    async fn get_twice(&self, key: String) -> Result<u32, FetchError> {
        let a = self.get(key.clone()).await?;
        let b = self.get(key).await?;
        Ok(a + b)
    }
}

struct Flaky {
    calls: AtomicU32,
    fail_first: u32,
}

#[async_trait::async_trait]
impl Store for Flaky {
    #[retry(attempts = 4, base = "10ms", timeout = "50ms")]
    async fn get(&self, key: String) -> Result<u32, FetchError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if n <= self.fail_first {
            if n == 1 {
                // The first attempt hangs: the timeout cuts it off.
                tokio::time::sleep(Duration::from_secs(10)).await;
            }
            return Err(FetchError::Status(503));
        }
        Ok(key.len() as u32 * 10 + n)
    }
}

struct Counter {
    hits: u32,
}

#[async_trait::async_trait]
trait Bump {
    async fn bump(&mut self, by: u32) -> Result<u32, u32>;
}

#[async_trait::async_trait]
impl Bump for Counter {
    #[retry(attempts = 3, base = "1ms")]
    async fn bump(&mut self, by: u32) -> Result<u32, u32> {
        self.hits += by;
        if self.hits < 3 * by {
            Err(self.hits)
        } else {
            Ok(self.hits)
        }
    }
}

#[tokio::test(start_paused = true)]
async fn async_trait_methods_are_retried_with_timeout_and_mut_self() {
    let store = Flaky {
        calls: AtomicU32::new(0),
        fail_first: 2,
    };
    let start = Instant::now();
    let future = store.get("abc".into());
    assert_send(&future);
    // 1: cut off at 50 ms; 2: 503 after a 10 ms sleep; 3: succeeds after 20 ms.
    assert_eq!(future.await, Ok(33));
    assert_eq!(start.elapsed(), Duration::from_millis(80));

    let store = Flaky {
        calls: AtomicU32::new(0),
        fail_first: 0,
    };
    assert_eq!(store.get_twice("ab".into()).await, Ok(21 + 22));

    let mut counter = Counter { hits: 0 };
    assert_eq!(counter.bump(2).await, Ok(6));
}

// ---- fn -> impl Future whose body is an async block ---------------------------------------------

/// The way a trait says its method's future is `Send`.
trait Remote {
    fn fetch(
        &self,
        id: u64,
        tag: String,
    ) -> impl Future<Output = Result<String, FetchError>> + Send;
}

struct RemoteService {
    calls: AtomicU32,
}

impl Remote for RemoteService {
    /// Written as the trait writes it; each attempt runs the async block again. (Clippy's
    /// `manual_async_fn` is about this shape, with or without `#[retry]`.)
    #[allow(clippy::manual_async_fn)]
    #[retry(attempts = 3, base = "10ms", timeout = "50ms", when = |_| !tag.is_empty())]
    fn fetch(
        &self,
        id: u64,
        tag: String,
    ) -> impl Future<Output = Result<String, FetchError>> + Send {
        async move {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            if n == 1 {
                // The first attempt hangs: the timeout cuts it off.
                tokio::time::sleep(Duration::from_secs(10)).await;
            }
            if n < 3 {
                Err(FetchError::Status(503))?;
            }
            Ok(format!("{id}{tag}{n}"))
        }
    }
}

#[allow(clippy::manual_async_fn)]
#[retry(attempts = 2, base = "5ms")]
fn flaky_future(log: &Mutex<Vec<Instant>>) -> impl Future<Output = Result<(), FetchError>> + '_ {
    async move {
        log.lock().unwrap().push(Instant::now());
        Err(FetchError::Status(500))
    }
}

#[tokio::test(start_paused = true)]
async fn functions_returning_an_async_block_retry_the_block() {
    let service = std::sync::Arc::new(RemoteService {
        calls: AtomicU32::new(0),
    });
    let start = Instant::now();
    let future = service.fetch(7, "x".into());
    assert_send(&future);
    // 1: cut off at 50 ms; 2: 503 after a 10 ms sleep; 3: succeeds after 20 ms.
    assert_eq!(future.await, Ok("7x3".to_string()));
    assert_eq!(start.elapsed(), Duration::from_millis(80));
    // Spawned, as a `Send` trait future is meant to be.
    let spawned = service.clone();
    let task = tokio::spawn(async move { spawned.fetch(8, "y".into()).await });
    assert_eq!(task.await.unwrap(), Ok("8y4".to_string()));
    // `when` reads the by-value argument: an empty tag is not retried.
    assert!(service.fetch(9, String::new()).await.is_ok());

    let log = Mutex::new(Vec::new());
    let start = Instant::now();
    assert_eq!(flaky_future(&log).await, Err(FetchError::Status(500)));
    let at: Vec<_> = log.lock().unwrap().iter().map(|t| *t - start).collect();
    assert_eq!(at, [Duration::ZERO, Duration::from_millis(5)]);
}

// ---- #[cfg] and #[cfg_attr] on arguments -------------------------------------------------------

#[retry(attempts = 2, base = "1ms")]
async fn with_cfg(
    #[cfg(test)] label: String,
    #[cfg(not(test))] label: u8,
    #[cfg_attr(test, allow(unused_mut))] mut n: u32,
) -> Result<String, String> {
    n += 1;
    if n > 0 {
        Ok(format!("{label}{n}"))
    } else {
        Err(label.to_string())
    }
}

#[tokio::test(start_paused = true)]
async fn cfg_attributes_on_arguments_are_kept_on_their_preparation() {
    assert_eq!(with_cfg("x".into(), 1).await, Ok("x2".to_string()));
}

// ---- Pin<&mut Self> and Option<&mut T> ------------------------------------------------------------

struct Machine {
    steps: u32,
    _pinned: std::marker::PhantomPinned,
}

impl Machine {
    fn step(self: Pin<&mut Self>) -> u32 {
        self.get_steps() + 1
    }

    fn get_steps(&self) -> u32 {
        self.steps
    }

    #[retry(attempts = 3, base = "1ms")]
    async fn advance(self: Pin<&mut Self>, log: Option<&mut Vec<u32>>) -> Result<u32, u32> {
        let next = self.step();
        if let Some(log) = log {
            log.push(next);
        }
        Err(next)
    }
}

#[tokio::test(start_paused = true)]
async fn pinned_self_and_optional_mut_references_are_reborrowed_per_attempt() {
    let mut machine = Box::pin(Machine {
        steps: 4,
        _pinned: std::marker::PhantomPinned,
    });
    let mut log = Vec::new();
    assert_eq!(machine.as_mut().advance(Some(&mut log)).await, Err(5));
    assert_eq!(log, [5, 5, 5]);
    assert_eq!(machine.as_mut().advance(None).await, Err(5));
}

#[retry(attempts = 3, base = "1ms")]
fn count_into(counter: Option<&mut u32>) -> Result<(), ()> {
    if let Some(counter) = counter {
        *counter += 1;
    }
    Err(())
}

#[test]
fn optional_mut_reference_in_a_blocking_function_is_reborrowed() {
    let mut n = 0;
    assert_eq!(count_into(Some(&mut n)), Err(()));
    assert_eq!(n, 3);
}

// ---- policy = B::POLICY ------------------------------------------------------------------------

trait Backend {
    const POLICY: Policy;
}

struct Fast;

impl Backend for Fast {
    const POLICY: Policy = Policy::new()
        .with_attempts(4)
        .with_base(Duration::from_millis(5));
}

struct Client<B> {
    calls: u32,
    backend: std::marker::PhantomData<B>,
}

impl<B: Backend> Client<B> {
    #[retry(policy = B::POLICY)]
    async fn call(&mut self) -> Result<u32, u32> {
        self.calls += 1;
        Err(self.calls)
    }
}

trait Service {
    type B: Backend;

    #[retry(policy = <Self::B as Backend>::POLICY)]
    fn serve(&self, calls: &Cell<u32>) -> Result<(), u32> {
        calls.set(calls.get() + 1);
        Err(calls.get())
    }
}

impl Service for Fast {
    type B = Fast;
}

#[tokio::test(start_paused = true)]
async fn a_policy_named_through_a_generic_parameter_of_the_impl() {
    let mut client = Client::<Fast> {
        calls: 0,
        backend: std::marker::PhantomData,
    };
    let start = Instant::now();
    assert_eq!(client.call().await, Err(4));
    assert_eq!(start.elapsed(), Duration::from_millis(5 + 10 + 20));
    let calls = Cell::new(0);
    assert_eq!(Fast.serve(&calls), Err(4));
}

// ---- arguments the body does not use ---------------------------------------------------------

/// Not `Clone`: the function compiles only if `id` is never cloned.
struct Id(#[allow(dead_code)] u64);

struct Record {
    id: u64,
}

impl Record {
    fn id(&self) -> u64 {
        self.id
    }
}

/// `id` appears only as a field and a method name, so it is not an argument use.
#[allow(unused_variables)]
#[retry(attempts = 2, base = "1ms")]
fn field_named_like_an_argument(id: Id, rec: &Record) -> Result<u64, ()> {
    let _ = &rec.id;
    Ok(rec.id() + rec.id)
}

#[test]
fn an_unused_argument_named_like_a_field_is_not_cloned() {
    assert_eq!(
        field_named_like_an_argument(Id(1), &Record { id: 2 }),
        Ok(4)
    );
}

// ---- "{self}" only in format strings -----------------------------------------------------------

#[derive(Clone, Debug)]
struct Name(&'static str);

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl Name {
    #[retry(attempts = 2, base = "1ms")]
    fn describe(self) -> Result<String, ()> {
        let template = "{self}";
        let debug = "{self:?}".to_string();
        Ok(format!("{self} {template} {debug}"))
    }
}

#[test]
fn self_in_string_literals_is_renamed_only_in_format_strings() {
    assert_eq!(Name("n").describe(), Ok("n {self} {self:?}".to_string()));
}

// ---- Send with Send + !Sync arguments ------------------------------------------------------------

struct Conn {
    sent: u32,
}

/// `Send` but not `Sync`.
#[derive(Clone)]
struct Token(Cell<u32>);

impl Conn {
    #[retry(attempts = 3, base = "1ms")]
    async fn send(&mut self, token: Token, payload: String) -> Result<u32, u32> {
        tokio::task::yield_now().await;
        self.sent += token.0.get() + payload.len() as u32;
        if self.sent < 10 {
            Err(self.sent)
        } else {
            Ok(self.sent)
        }
    }
}

#[tokio::test(start_paused = true)]
async fn the_future_stays_send_with_send_but_not_sync_arguments_in_mut_self_methods() {
    let mut conn = Conn { sent: 0 };
    let future = conn.send(Token(Cell::new(2)), "ab".into());
    assert_send(&future);
    assert_eq!(future.await, Ok(12));
}

// ---- deadline and timeout -------------------------------------------------------------------------

#[retry(attempts = 5, base = "100ms", deadline = "300ms", timeout = "100ms")]
async fn slow(log: &mut Vec<Instant>) -> Result<(), FetchError> {
    log.push(Instant::now());
    tokio::time::sleep(Duration::from_millis(1000)).await;
    Err(FetchError::Status(500))
}

/// With a deadline and a timeout, a third attempt used to start exactly at the deadline and be
/// cut off at once, returning a synthetic `TimedOut` for an attempt that never ran.
#[tokio::test(start_paused = true)]
async fn no_attempt_starts_with_no_time_left_before_the_deadline() {
    let mut log = Vec::new();
    let start = Instant::now();
    // Attempt 1: 0-100 (cut off); sleep 100 to 200; attempt 2: 200-300 (cut off at the
    // deadline). No third attempt: a sleep from 300 would end past the deadline.
    assert_eq!(slow(&mut log).await, Err(FetchError::TimedOut));
    assert_eq!(log.len(), 2);
    assert_eq!(start.elapsed(), Duration::from_millis(300));
}

// ---- max_hint ---------------------------------------------------------------------------------

#[derive(Debug, PartialEq)]
struct Busy(Duration);

impl retry_runtime::Classify for Busy {
    fn classify(&self) -> retry_runtime::Decision {
        retry_runtime::Decision::RetryAfter(self.0)
    }
}

#[retry(attempts = 5, base = "10ms", classify, max_hint = "2s")]
async fn busy(log: &mut Vec<Instant>, wait: Duration) -> Result<(), Busy> {
    log.push(Instant::now());
    Err(Busy(wait))
}

/// A hint up to `max_hint` is slept in full; a longer one ends the call at once (a
/// `Retry-After: 3600` stalled the call for an hour in the first release).
#[tokio::test(start_paused = true)]
async fn max_hint_bounds_the_server_hints_that_are_slept() {
    let mut log = Vec::new();
    let start = Instant::now();
    assert_eq!(
        busy(&mut log, Duration::from_secs(2)).await,
        Err(Busy(Duration::from_secs(2)))
    );
    assert_eq!(log.len(), 5);
    assert_eq!(start.elapsed(), Duration::from_secs(8));

    let mut log = Vec::new();
    let start = Instant::now();
    let hour = Duration::from_secs(3600);
    assert_eq!(busy(&mut log, hour).await, Err(Busy(hour)));
    assert_eq!(log.len(), 1);
    assert_eq!(start.elapsed(), Duration::ZERO);
}

// ---- until and classify_ok ----------------------------------------------------------------------

#[derive(Debug, PartialEq)]
enum Job {
    Pending(u32),
    Done(u32),
}

static POLLS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Polling until a job is ready: an `Ok(Pending)` is a failed attempt; the hook sees the
/// whole outcome.
#[retry(
    attempts = 5,
    base = "100ms",
    backoff = constant,
    until = |job: &Job| matches!(job, Job::Done(_)),
    on_retry = |outcome: &Result<Job, String>, info: &RetryInfo| POLLS.lock().unwrap().push(format!("{outcome:?} {}", info.attempt()))
)]
async fn poll_job(polls: &mut u32, ready_after: u32) -> Result<Job, String> {
    *polls += 1;
    if *polls == 2 {
        return Err("flaky".to_string());
    }
    Ok(if *polls >= ready_after {
        Job::Done(*polls)
    } else {
        Job::Pending(*polls)
    })
}

#[tokio::test(start_paused = true)]
async fn until_retries_ok_values_until_they_satisfy_it() {
    POLLS.lock().unwrap().clear();
    let start = Instant::now();
    let mut polls = 0;
    assert_eq!(poll_job(&mut polls, 4).await, Ok(Job::Done(4)));
    assert_eq!(start.elapsed(), Duration::from_millis(300));
    assert_eq!(
        *POLLS.lock().unwrap(),
        ["Ok(Pending(1)) 1", "Err(\"flaky\") 2", "Ok(Pending(3)) 3"]
    );
    // Never satisfied: the last outcome is returned as it was, an `Ok`.
    let mut polls = 0;
    assert_eq!(poll_job(&mut polls, 100).await, Ok(Job::Pending(5)));
    assert_eq!(polls, 5);
}

/// A response-like value that classifies itself.
#[derive(Debug, PartialEq)]
struct Reply {
    status: u16,
    retry_after: Option<Duration>,
}

impl retry_runtime::Classify for Reply {
    fn classify(&self) -> retry_runtime::Decision {
        match (self.status, self.retry_after) {
            (503, Some(wait)) => retry_runtime::Decision::RetryAfter(wait),
            (500..=599, None) => retry_runtime::Decision::Retry,
            _ => retry_runtime::Decision::Stop,
        }
    }
}

#[retry(attempts = 4, base = "10ms", classify_ok)]
async fn call(log: &mut Vec<Instant>, replies: &[Reply]) -> Result<Reply, String> {
    log.push(Instant::now());
    let reply = &replies[log.len() - 1];
    Ok(Reply {
        status: reply.status,
        retry_after: reply.retry_after,
    })
}

#[tokio::test(start_paused = true)]
async fn classify_ok_retries_a_503_value_after_its_hint_and_returns_a_404_at_once() {
    let replies = [
        Reply {
            status: 503,
            retry_after: Some(Duration::from_secs(2)),
        },
        Reply {
            status: 502,
            retry_after: None,
        },
        Reply {
            status: 200,
            retry_after: None,
        },
    ];
    let mut log = Vec::new();
    let start = Instant::now();
    assert_eq!(
        call(&mut log, &replies).await,
        Ok(Reply {
            status: 200,
            retry_after: None
        })
    );
    assert_eq!(start.elapsed(), Duration::from_millis(2000 + 20));
    let replies = [Reply {
        status: 404,
        retry_after: None,
    }];
    let mut log = Vec::new();
    assert_eq!(call(&mut log, &replies).await.map(|r| r.status), Ok(404));
    assert_eq!(log.len(), 1);
}

// ---- a per-attempt timeout from configuration ----------------------------------------------------

struct Configured {
    timeout: Duration,
    calls: u32,
}

impl Configured {
    /// The timeout comes from the value, at each call (rejected in the first release, whose
    /// advice to use `policy = …` was a dead end: a `Policy` has no timeout).
    #[retry(attempts = 3, base = "10ms", timeout = self.timeout)]
    async fn call(&mut self) -> Result<u32, FetchError> {
        self.calls += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
        Ok(self.calls)
    }
}

#[tokio::test(start_paused = true)]
async fn a_timeout_read_from_the_receiver_at_each_call() {
    let mut slow = Configured {
        timeout: Duration::from_millis(50),
        calls: 0,
    };
    let start = Instant::now();
    assert_eq!(slow.call().await, Err(FetchError::TimedOut));
    assert_eq!(slow.calls, 3);
    assert_eq!(start.elapsed(), Duration::from_millis(50 * 3 + 10 + 20));
    slow.timeout = Duration::from_millis(150);
    assert_eq!(slow.call().await, Ok(4));
}

// ---- idempotency keys --------------------------------------------------------------------------

static KEYS: Mutex<Vec<(u32, String)>> = Mutex::new(Vec::new());

#[retry(attempts = 3, base = "1ms", context = attempt)]
async fn send_with_key() -> Result<(), String> {
    KEYS.lock()
        .unwrap()
        .push((attempt.attempt(), attempt.idempotency_key().to_string()));
    Err("busy".into())
}

#[retry(attempts = 2, base = "1ms", context = attempt, idempotency_key = job.key)]
async fn send_job(job: &Job2) -> Result<(), String> {
    KEYS.lock()
        .unwrap()
        .push((attempt.attempt(), attempt.idempotency_key().to_string()));
    Err("busy".into())
}

struct Job2 {
    key: retry_runtime::IdempotencyKey,
}

/// Keys came from the seedable jitter generator: after `seed_jitter(7)` twice, two "random"
/// keys were identical.
#[tokio::test(start_paused = true)]
async fn keys_do_not_repeat_when_jitter_is_seeded_and_stay_the_same_across_attempts() {
    KEYS.lock().unwrap().clear();
    retry_runtime::seed_jitter(7);
    let _ = send_with_key().await;
    retry_runtime::seed_jitter(7);
    let _ = send_with_key().await;
    let keys = std::mem::take(&mut *KEYS.lock().unwrap());
    assert_eq!(
        keys.iter().map(|k| k.0).collect::<Vec<_>>(),
        [1, 2, 3, 1, 2, 3]
    );
    // One key per call, the same for its three attempts; the two calls differ.
    assert!(keys[..3].iter().all(|k| k.1 == keys[0].1));
    assert!(keys[3..].iter().all(|k| k.1 == keys[3].1));
    assert_ne!(keys[0].1, keys[3].1);
    // A version-4 UUID: 8-4-4-4-12 lowercase hex, version nibble 4, variant 8..b.
    for (_, key) in &keys {
        let parts: Vec<&str> = key.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(key
            .chars()
            .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c)));
        assert!(parts[2].starts_with('4'));
        assert!("89ab".contains(&parts[3][..1]));
    }
    // Many keys, no repeat.
    let many: std::collections::HashSet<_> = (0..10_000)
        .map(|_| retry_runtime::IdempotencyKey::random())
        .collect();
    assert_eq!(many.len(), 10_000);

    // The caller's own key, on the attribute and on the builder.
    let key = retry_runtime::IdempotencyKey::from_u128(0xfeed_0000_0000_4000_8000_0000_0000_0001);
    let _ = send_job(&Job2 { key }).await;
    let keys = std::mem::take(&mut *KEYS.lock().unwrap());
    assert_eq!(keys, [(1, key.to_string()), (2, key.to_string())]);
    let policy = Policy::new().with_attempts(2).with_base(Duration::ZERO);
    let seen = Mutex::new(Vec::new());
    let _ = policy
        .retry(async |attempt| {
            seen.lock().unwrap().push(attempt.idempotency_key());
            Err::<(), ()>(())
        })
        .idempotency_key(key)
        .await;
    assert_eq!(*seen.lock().unwrap(), [key, key]);
}
