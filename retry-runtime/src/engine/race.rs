//! The race of a hedged call's copies, once for every hedging driver (the builders' `.hedge`,
//! the tower layer's): which copies are out, the timer for the next one, the primary's failed
//! outcome and why no more copies go. A driver says how to send, poll and judge one copy
//! ([`Copies`]); the judging is the engine's hedge turn ([`Step::hedge_turn`](super::Step)).

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;
use std::boxed::Box;
use std::vec::Vec;

use super::hedge::HedgeTurn;
use super::verdict::GiveUp;

/// What a hedging driver does with one copy of its call.
pub trait Copies {
    /// A copy out.
    type Copy;
    /// A copy's outcome.
    type Outcome;
    /// The timer's future.
    type Sleep: Future<Output = ()>;

    /// Sends the next copy now, if the breaker and the engine's
    /// [`hedge_leave`](super::Step::hedge_leave) allow; or why not.
    fn send(&mut self) -> Result<Self::Copy, GiveUp>;
    /// After a copy went out: the wait before the next one goes on the timer (zero: at once),
    /// or `None` for no timer (no copy left, or none sent on a timer).
    fn next_delay(&self) -> Option<Duration>;
    /// A sleep of `delay`.
    fn sleep(&self, delay: Duration) -> Self::Sleep;
    /// Polls one copy.
    fn poll_copy(&mut self, copy: &mut Self::Copy, cx: &mut Context<'_>) -> Poll<Self::Outcome>;
    /// The engine's hedge turn on a copy's outcome (with the driver's events and hook), and
    /// whether the copy was the primary.
    fn settle(&mut self, copy: Self::Copy, outcome: &Self::Outcome) -> (HedgeTurn, bool);
    /// Every copy failed and none will follow, for `reason`: the give-up of the call, whose
    /// outcome is `last` (the primary's).
    fn all_failed(&mut self, reason: GiveUp, last: &Self::Outcome);
}

/// How a race ends: a winner, or the outcome of a call that gave up.
pub enum Finish<O> {
    /// The first acceptable outcome.
    Won(O),
    /// A permanent outcome, or the primary's when every copy failed.
    GaveUp(O),
}

/// The copies of one hedged call.
pub struct Race<C, O, Sl> {
    copies: Vec<C>,
    // The next copy's timer (the hedge delay, or a server's pushback).
    timer: Option<Pin<Box<Sl>>>,
    // The primary's failed outcome (or, until it fails, the latest failed copy's).
    failed: Option<O>,
    // Why no more copies go out.
    closed: Option<GiveUp>,
}

impl<C, O, Sl: Future<Output = ()>> Race<C, O, Sl> {
    /// A race with no copy out yet.
    pub const fn new() -> Self {
        Race {
            copies: Vec::new(),
            timer: None,
            failed: None,
            closed: None,
        }
    }

    /// The first copy goes out (the driver sent it), then the next ones as their delay says.
    pub fn start<D: Copies<Copy = C, Outcome = O, Sleep = Sl>>(
        &mut self,
        driver: &mut D,
        first: C,
    ) {
        self.copies.push(first);
        if self.arm(driver) {
            self.send_next(driver);
        }
    }

    /// The next copies that may go now: one, or all that a zero delay sends at once.
    fn send_next<D: Copies<Copy = C, Outcome = O, Sleep = Sl>>(&mut self, driver: &mut D) {
        while self.closed.is_none() {
            match driver.send() {
                Ok(copy) => self.copies.push(copy),
                Err(reason) => return self.close(reason),
            }
            if !self.arm(driver) {
                return;
            }
        }
    }

    /// After a copy went out: the timer for the next one. `true` when the next goes at once.
    fn arm<D: Copies<Copy = C, Outcome = O, Sleep = Sl>>(&mut self, driver: &D) -> bool {
        self.timer = None;
        match driver.next_delay() {
            Some(delay) if delay.is_zero() => true,
            Some(delay) => {
                self.timer = Some(Box::pin(driver.sleep(delay)));
                false
            }
            None => false,
        }
    }

    /// No more copies go out, for `reason` (the first one given).
    fn close(&mut self, reason: GiveUp) {
        self.closed.get_or_insert(reason);
        self.timer = None;
    }

    /// Polls the timer and the copies until one ends the call or all are pending; the other
    /// copies are dropped (cancelled) when it ends.
    pub fn poll<D: Copies<Copy = C, Outcome = O, Sleep = Sl>>(
        &mut self,
        driver: &mut D,
        cx: &mut Context<'_>,
    ) -> Poll<Finish<O>> {
        loop {
            let mut moved = false;
            if let Some(timer) = self.timer.as_mut() {
                if timer.as_mut().poll(cx).is_ready() {
                    self.timer = None;
                    self.send_next(driver);
                    moved = true;
                }
            }
            let mut index = 0;
            while index < self.copies.len() {
                let Poll::Ready(outcome) = driver.poll_copy(&mut self.copies[index], cx) else {
                    index += 1;
                    continue;
                };
                let copy = self.copies.swap_remove(index);
                if let Some(finish) = self.settle(driver, copy, outcome) {
                    self.copies.clear();
                    self.timer = None;
                    return Poll::Ready(finish);
                }
                moved = true;
            }
            if self.copies.is_empty() && self.timer.is_none() {
                if let Some(last) = self.failed.take() {
                    driver.all_failed(self.closed.unwrap_or(GiveUp::OutOfAttempts), &last);
                    return Poll::Ready(Finish::GaveUp(last));
                }
            }
            if !moved {
                return Poll::Pending;
            }
        }
    }

    /// One copy's outcome, by the engine's hedge turn: `Some` when it ends the call.
    fn settle<D: Copies<Copy = C, Outcome = O, Sleep = Sl>>(
        &mut self,
        driver: &mut D,
        copy: C,
        outcome: O,
    ) -> Option<Finish<O>> {
        let (turn, primary) = driver.settle(copy, &outcome);
        match turn {
            HedgeTurn::Won => return Some(Finish::Won(outcome)),
            HedgeTurn::Ended(_) => return Some(Finish::GaveUp(outcome)),
            HedgeTurn::Next(wait) if wait.is_zero() => self.send_next(driver),
            HedgeTurn::Next(wait) => {
                if self.closed.is_none() {
                    self.timer = Some(Box::pin(driver.sleep(wait)));
                }
            }
            HedgeTurn::Exhausted(reason) => self.close(reason),
        }
        if primary || self.failed.is_none() {
            self.failed = Some(outcome);
        }
        None
    }
}

impl<C, O, Sl: Future<Output = ()>> Default for Race<C, O, Sl> {
    fn default() -> Self {
        Self::new()
    }
}
