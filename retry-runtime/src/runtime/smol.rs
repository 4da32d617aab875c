//! `async-io`'s timer (feature `smol`): smol, and async-std, which runs on the same reactor.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;

use super::{Clock, Sleeper, Stamp, StdClock};

/// Sleeps on `async-io`'s timer (the reactor of smol and async-std; it needs no runtime to be
/// entered: `smol::block_on` or any executor drives it), on the system's monotonic clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SmolSleeper;

impl Clock for SmolSleeper {
    #[inline]
    fn now(&self) -> Stamp {
        StdClock.now()
    }
}

impl Sleeper for SmolSleeper {
    type Sleep = SmolSleep;
    #[inline]
    fn sleep(&self, delay: Duration) -> SmolSleep {
        // A delay too long for an `Instant` (centuries) never fires.
        SmolSleep(async_io::Timer::after(delay))
    }
}

/// One sleep of [`SmolSleeper`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct SmolSleep(async_io::Timer);

impl Future for SmolSleep {
    type Output = ();
    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(|_| ())
    }
}
