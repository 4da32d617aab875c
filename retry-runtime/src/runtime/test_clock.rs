//! [`TestClock`]: a clock and sleeper whose time the test moves, under any executor.

use core::future::Future;
use core::pin::Pin;
use core::sync::atomic::{AtomicBool, Ordering};
use core::task::{Context, Poll, Waker};
use core::time::Duration;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Wake;
use std::vec::Vec;

use super::clock::nanos;
use super::{BlockingSleeper, Clock, Sleeper, Stamp};

/// A clock and sleeper for tests, under any executor: its time stands still until the test
/// moves it, so schedules, deadlines and timeouts are exact and instant (what
/// `#[tokio::test(start_paused = true)]` gives on tokio, for smol, embassy, wasm or none).
///
/// Give it to the call (`#[retry(sleeper = CLOCK)]`, `.sleeper(&clock)`); then either move time
/// by hand with [`advance`](TestClock::advance), or drive the test with
/// [`run`](TestClock::run), which moves time to the end of the next sleep whenever the future is
/// only waiting for a sleep. As a [`BlockingSleeper`] it moves its own time by each delay and
/// returns at once. [`sleeps`](TestClock::sleeps) lists every sleep asked of it, in order.
/// Clones share one time.
///
/// ```
/// use retry_runtime::runtime::TestClock;
/// use retry_runtime::Policy;
/// use std::time::Duration;
///
/// let clock = TestClock::new();
/// let policy = Policy::new().with_attempts(3).with_base(Duration::from_millis(100));
/// let calls = std::cell::Cell::new(0);
/// let call = policy
///     .retry(|_| {
///         calls.set(calls.get() + 1);
///         async { if calls.get() < 3 { Err("busy") } else { Ok(calls.get()) } }
///     })
///     .sleeper(&clock);
/// // Any executor; this one is the smallest there is.
/// let out = block_on(clock.run(call.into_future()));
/// assert_eq!(out, Ok(3));
/// assert_eq!(clock.sleeps(), [Duration::from_millis(100), Duration::from_millis(200)]);
/// assert_eq!(clock.elapsed(), Duration::from_millis(300));
/// # use std::future::{Future, IntoFuture};
/// # fn block_on<F: Future>(f: F) -> F::Output {
/// #     let mut f = std::pin::pin!(f);
/// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// #     loop { if let std::task::Poll::Ready(out) = f.as_mut().poll(&mut cx) { return out } }
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct TestClock {
    shared: Arc<Mutex<Shared>>,
}

#[derive(Debug, Default)]
struct Shared {
    now: Duration,
    next_id: u64,
    /// Sleeps not yet over: their id, when they end, and who to wake then.
    timers: Vec<(u64, Duration, Option<Waker>)>,
    slept: Vec<Duration>,
}

impl TestClock {
    /// A clock at zero, with no sleeps.
    pub fn new() -> Self {
        TestClock::default()
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The time since the clock was made (moved only by [`advance`](TestClock::advance),
    /// [`run`](TestClock::run) and blocking sleeps).
    pub fn elapsed(&self) -> Duration {
        self.lock().now
    }

    /// Moves time on by `by`, and wakes the sleeps that are then over.
    pub fn advance(&self, by: Duration) {
        let to = self.elapsed().saturating_add(by);
        self.advance_to(to);
    }

    fn advance_to(&self, to: Duration) {
        let wake: Vec<Waker> = {
            let mut shared = self.lock();
            shared.now = shared.now.max(to);
            let now = shared.now;
            shared
                .timers
                .iter_mut()
                .filter(|(_, at, _)| *at <= now)
                .filter_map(|(_, _, waker)| waker.take())
                .collect()
        };
        wake.into_iter().for_each(Waker::wake);
    }

    /// Every sleep asked of this clock so far, in order (timeouts' included).
    pub fn sleeps(&self) -> Vec<Duration> {
        self.lock().slept.clone()
    }

    /// How many sleeps have begun and are not over (nor dropped).
    pub fn pending(&self) -> usize {
        let shared = self.lock();
        shared.timers.iter().filter(|t| t.1 > shared.now).count()
    }

    /// `future`, with this clock's time moved to the end of the next sleep whenever polling
    /// leaves it waiting and nothing woke it meanwhile: sleeps take no real time, and the
    /// time they take on this clock is exact. A future waiting on something else (a socket, a
    /// task on another thread) should be driven by [`advance`](TestClock::advance) instead.
    pub fn run<F: Future>(&self, future: F) -> TestTime<F> {
        TestTime {
            future,
            clock: self.clone(),
            woken: Arc::new(Woken::default()),
        }
    }

    fn next_end(&self) -> Option<Duration> {
        self.lock().timers.iter().map(|t| t.1).min()
    }
}

impl Clock for TestClock {
    fn now(&self) -> Stamp {
        nanos(self.elapsed())
    }
}

impl Sleeper for TestClock {
    type Sleep = TestSleep;
    fn sleep(&self, delay: Duration) -> TestSleep {
        let mut shared = self.lock();
        shared.slept.push(delay);
        let id = shared.next_id;
        shared.next_id += 1;
        let at = shared.now.saturating_add(delay);
        shared.timers.push((id, at, None));
        TestSleep {
            clock: self.clone(),
            id,
            at,
        }
    }
}

impl BlockingSleeper for TestClock {
    fn block(&self, delay: Duration) {
        self.lock().slept.push(delay);
        self.advance(delay);
    }
}

/// One sleep on a [`TestClock`]: over when the clock reaches its end.
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct TestSleep {
    clock: TestClock,
    id: u64,
    at: Duration,
}

impl Future for TestSleep {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut shared = self.clock.lock();
        if shared.now >= self.at {
            shared.timers.retain(|t| t.0 != self.id);
            return Poll::Ready(());
        }
        if let Some(timer) = shared.timers.iter_mut().find(|t| t.0 == self.id) {
            timer.2 = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl Drop for TestSleep {
    fn drop(&mut self) {
        self.clock.lock().timers.retain(|t| t.0 != self.id);
    }
}

/// Whether the future driven by [`TestTime`] was woken, and the executor's waker.
#[derive(Debug, Default)]
struct Woken {
    woken: AtomicBool,
    outer: Mutex<Option<Waker>>,
}

impl Wake for Woken {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        let outer = self.outer.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(waker) = outer.as_ref() {
            waker.wake_by_ref();
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`TestClock::run`].
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct TestTime<F> {
        #[pin]
        future: F,
        clock: TestClock,
        woken: Arc<Woken>,
    }
}

impl<F: Future> Future for TestTime<F> {
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let mut this = self.project();
        *this
            .woken
            .outer
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(cx.waker().clone());
        let waker = Waker::from(this.woken.clone());
        loop {
            this.woken.woken.store(false, Ordering::SeqCst);
            if let Poll::Ready(out) = this.future.as_mut().poll(&mut Context::from_waker(&waker)) {
                return Poll::Ready(out);
            }
            if this.woken.woken.load(Ordering::SeqCst) {
                continue;
            }
            match this.clock.next_end() {
                Some(end) => this.clock.advance_to(end),
                None => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: Future>(future: F) -> F::Output {
        let mut future = core::pin::pin!(future);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
        }
    }

    #[test]
    fn sleeps_end_when_the_test_moves_time() {
        let clock = TestClock::new();
        let mut sleep = core::pin::pin!(clock.sleep(Duration::from_millis(10)));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(sleep.as_mut().poll(&mut cx).is_pending());
        clock.advance(Duration::from_millis(9));
        assert!(sleep.as_mut().poll(&mut cx).is_pending());
        assert_eq!(clock.pending(), 1);
        clock.advance(Duration::from_millis(1));
        assert!(sleep.as_mut().poll(&mut cx).is_ready());
        assert_eq!(clock.pending(), 0);
        assert_eq!(clock.now(), 10_000_000);
    }

    #[test]
    fn run_moves_time_to_each_sleeps_end_in_order() {
        let clock = TestClock::new();
        let (a, b) = (clock.clone(), clock.clone());
        let order = block_on(clock.run(async move {
            let mut order = Vec::new();
            a.sleep(Duration::from_secs(2)).await;
            order.push(a.elapsed());
            b.sleep(Duration::from_millis(500)).await;
            order.push(b.elapsed());
            order
        }));
        assert_eq!(order, [Duration::from_secs(2), Duration::from_millis(2500)]);
        assert_eq!(
            clock.sleeps(),
            [Duration::from_secs(2), Duration::from_millis(500)]
        );
    }

    #[test]
    fn a_timeout_on_the_test_clock_cuts_off_a_slower_sleep_exactly() {
        let clock = TestClock::new();
        let slow = clock.sleep(Duration::from_millis(500));
        let out = block_on(clock.run(super::super::timeout(
            &clock,
            Duration::from_millis(400),
            slow,
        )));
        assert_eq!(out, Err(super::super::Elapsed));
        assert_eq!(clock.elapsed(), Duration::from_millis(400));
        // The cut-off sleep was dropped with the timeout.
        assert_eq!(clock.pending(), 0);
    }

    #[test]
    fn blocking_sleeps_move_the_clock_at_once() {
        let clock = TestClock::new();
        clock.block(Duration::from_secs(3));
        clock.block(Duration::from_secs(1));
        assert_eq!(clock.elapsed(), Duration::from_secs(4));
        assert_eq!(clock.sleeps().len(), 2);
    }
}
