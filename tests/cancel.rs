//! Dropping a retried future at any await point cancels it cleanly: no further attempts, and
//! every per-attempt value (argument copies, body locals) is dropped exactly once.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use retry_runtime::retry;
use retry_suite::Counter;
use tokio::time::{advance, timeout};

/// Counts live copies: +1 on clone or creation, -1 on drop.
#[derive(Debug)]
struct Tracked(Arc<AtomicI32>);

impl Tracked {
    fn new(live: &Arc<AtomicI32>) -> Self {
        live.fetch_add(1, Ordering::SeqCst);
        Tracked(Arc::clone(live))
    }
}

impl Clone for Tracked {
    fn clone(&self) -> Self {
        Tracked::new(&self.0)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[retry(attempts = 5, base = "1s")]
async fn fails_fast(calls: &Counter, token: Tracked) -> Result<(), String> {
    calls.bump();
    let _local = token.clone();
    Err("unavailable".into())
}

#[retry(attempts = 5, base = "1s")]
async fn hangs(calls: &Counter, token: Tracked) -> Result<(), String> {
    calls.bump();
    let _local = token;
    tokio::time::sleep(Duration::from_secs(3600)).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn dropped_while_sleeping_between_attempts() {
    let calls = Counter::new();
    let live = Arc::new(AtomicI32::new(0));
    // The first attempt fails at once; the future is then asleep for 1s and dropped at 500ms.
    let cut = timeout(
        Duration::from_millis(500),
        fails_fast(&calls, Tracked::new(&live)),
    )
    .await;
    assert!(cut.is_err(), "the call was still sleeping");
    assert_eq!(calls.get(), 1);
    assert_eq!(live.load(Ordering::SeqCst), 0, "every copy was dropped");
    advance(Duration::from_secs(60)).await;
    assert_eq!(calls.get(), 1, "no attempt runs after the drop");
}

#[tokio::test(start_paused = true)]
async fn dropped_in_the_middle_of_an_attempt() {
    let calls = Counter::new();
    let live = Arc::new(AtomicI32::new(0));
    let cut = timeout(Duration::from_secs(10), hangs(&calls, Tracked::new(&live))).await;
    assert!(cut.is_err());
    assert_eq!(calls.get(), 1);
    assert_eq!(
        live.load(Ordering::SeqCst),
        0,
        "the attempt's copy and the original were dropped"
    );
}

#[tokio::test(start_paused = true)]
async fn aborting_a_spawned_call() {
    static CALLS: Counter = Counter::new();
    let live = Arc::new(AtomicI32::new(0));
    let token = Tracked::new(&live);
    let task = tokio::spawn(async move { fails_fast(&CALLS, token).await });
    // Let it fail once and go to sleep, then abort it.
    tokio::task::yield_now().await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(CALLS.get(), 1);
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    advance(Duration::from_secs(60)).await;
    assert_eq!(CALLS.get(), 1);
    assert_eq!(live.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn completed_calls_leave_no_copies_behind() {
    let calls = Counter::new();
    let live = Arc::new(AtomicI32::new(0));
    assert!(fails_fast(&calls, Tracked::new(&live)).await.is_err());
    assert_eq!(calls.get(), 5);
    assert_eq!(live.load(Ordering::SeqCst), 0);
}
