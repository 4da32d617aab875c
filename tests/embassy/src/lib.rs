//! An executor for host tests on embassy-time's mock driver: [`block_on`] polls a future and,
//! while it waits, moves the mock clock forward one tick at a time until a timer fires, so the
//! clock stops exactly at each timer's expiry and a schedule's total time can be asserted to
//! the tick.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use embassy_time::{Duration, Instant, MockDriver};

/// The most mock time a future may wait in [`block_on`] before the executor gives up on it.
pub const LIMIT: Duration = Duration::from_secs(10);

/// Set when the future is woken.
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Runs `future` to completion on the mock clock, and returns its output with the mock time it
/// took.
///
/// The future is polled when woken. While it is pending and not woken, the mock driver is
/// advanced by one tick, which fires every timer due at that tick: the clock never passes a
/// timer's expiry. Panics if the future still waits after [`LIMIT`] of mock time.
pub fn block_on<F: Future>(future: F) -> (F::Output, Duration) {
    let flag = Arc::new(Flag(AtomicBool::new(true)));
    let waker = Waker::from(Arc::clone(&flag));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    let driver = MockDriver::get();
    let start = Instant::now();
    loop {
        if flag.0.swap(false, Ordering::SeqCst) {
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return (out, Instant::now() - start);
            }
            continue;
        }
        let waited = Instant::now() - start;
        assert!(
            waited < LIMIT,
            "the future still waits after {} ms of mock time",
            waited.as_millis()
        );
        driver.advance(Duration::from_ticks(1));
    }
}

/// Serialises the tests of a binary (they share the mock driver, the jitter generator and
/// their statics) and resets the mock driver: time 0, no timers. Hold the guard for the whole
/// test.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    let guard = LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    MockDriver::get().reset();
    guard
}
