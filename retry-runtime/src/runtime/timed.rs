//! The per-attempt timeout on any runtime: the attempt raced against its sleeper's sleep.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;

use super::Sleeper;

/// `future`, cut off after `limit` on `sleeper`'s timer: `Err(Elapsed)` if the sleep ends
/// first. The attempt is polled before the timer, so an attempt ready when the time is up wins.
#[inline]
pub fn timeout<S: Sleeper + ?Sized, F: Future>(
    sleeper: &S,
    limit: Duration,
    future: F,
) -> Timed<F, S::Sleep> {
    Timed {
        future,
        timer: sleeper.sleep(limit),
    }
}

pin_project_lite::pin_project! {
    /// The future of [`timeout`]: an attempt and the sleep it races.
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct Timed<F, T> {
        #[pin]
        future: F,
        #[pin]
        timer: T,
    }
}

impl<F: Future, T: Future<Output = ()>> Future for Timed<F, T> {
    type Output = Result<F::Output, Elapsed>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(out) = this.future.poll(cx) {
            return Poll::Ready(Ok(out));
        }
        this.timer.poll(cx).map(|()| Err(Elapsed))
    }
}

/// A [`timeout`]'s time ran out before its future was ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Elapsed;

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the attempt's time ran out")
    }
}

impl core::error::Error for Elapsed {}
