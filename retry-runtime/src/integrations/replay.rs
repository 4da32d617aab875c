//! Bounded replay of streamed HTTP request bodies (features `tower`, `reqwest-middleware`).
//!
//! A request whose body is a stream cannot be cloned before it is sent: what the stream yields is
//! gone once it is written. [`ReplayBody`] keeps those bytes as they are sent, up to a limit, so
//! that a copy of the body sends them again from the beginning and then reads on where the
//! stream stopped. A body that outgrows its limit is sent once, whole: it is never truncated nor
//! resent in part.

use core::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{ready, Context, Poll, Wake, Waker};

use bytes::{Buf, Bytes};
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};

/// The bytes of a streamed body kept for its replay unless told otherwise: 64 KiB.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// An HTTP body that keeps what its inner body yields, as it is sent, up to a byte limit, so
/// that a copy ([`try_clone`](ReplayBody::try_clone)) sends the same body again: the bytes kept
/// so far, then the rest of the inner body, then its trailers.
///
/// Once the body has yielded more bytes than the limit, it keeps nothing more and drops what it
/// kept: the copy being read goes on delivering every byte of the inner body, and the body can no
/// longer be replayed ([`is_replayable`](ReplayBody::is_replayable) is false, `try_clone` returns
/// `None`). A body whose size hint already says it is larger than the limit keeps nothing and is
/// not replayable from the start. An error of the inner body goes to the copy that read it and
/// ends replay the same way.
///
/// ```
/// use http_body::Body as _;
/// use retry_runtime::replay::{ReplayBody, DEFAULT_BODY_LIMIT};
///
/// let body = ReplayBody::new(String::from("hello"), DEFAULT_BODY_LIMIT);
/// let copy = body.try_clone().expect("within the limit");
/// assert_eq!(copy.size_hint().exact(), Some(5));
/// ```
///
/// # Copies read at the same time
///
/// All copies share the kept bytes and the inner body, behind a lock. Each copy yields the body
/// from its beginning: the bytes kept, then what the inner body yields next. The copy started
/// last (the last one polled for the first time) reads the inner body; an older copy that has
/// yielded every byte kept waits, and is woken when the reading copy keeps more, ends the body,
/// or is dropped (then the next copy to be polled reads on). Within the limit, every copy so
/// yields the whole body, whatever the order in which they are polled.
///
/// Past the limit, the copy reading the inner body delivers it whole; any other copy has missed
/// bytes that were not kept and cannot be completed: it yields no further frame (its
/// `poll_frame` stays pending and `is_end_stream` is false), rather than end a truncated body.
/// A copy that finds itself in that state from its first poll never reads the inner body. Check
/// `is_replayable` on a copy before sending it.
pub struct ReplayBody<B> {
    shared: Arc<Mutex<Shared<B>>>,
    cursor: Cursor,
}

/// What the copies share.
struct Shared<B> {
    inner: Pin<Box<B>>,
    limit: usize,
    /// The data frames read from the inner body, while they fit in the limit.
    kept: Vec<Bytes>,
    /// The bytes in `kept`.
    kept_bytes: usize,
    /// The data frames read from the inner body, kept or not.
    frames: usize,
    /// The bytes read from the inner body, kept or not.
    read: u64,
    trailers: Option<HeaderMap>,
    /// The inner body yielded its trailers or its end: it is not polled again.
    ended: bool,
    /// Some bytes were read and not kept (or the body was larger than the limit from the start).
    overflowed: bool,
    /// The inner body yielded an error.
    failed: bool,
    /// The ticket of the copy that reads the inner body.
    owner: Option<u64>,
    /// The next ticket to hand out.
    tickets: u64,
    waiters: Arc<Waiters>,
    /// Wakes every waiter: the waker the inner body is polled with.
    fanout: Waker,
}

/// Where one copy is.
#[derive(Debug, Default)]
struct Cursor {
    /// The data frames this copy has yielded.
    frames: usize,
    /// The bytes this copy has yielded.
    bytes: u64,
    /// Handed out on the first poll; the copy with the newest one reads the inner body.
    ticket: Option<u64>,
    trailers_sent: bool,
    /// This copy yielded the inner body's error: it ends.
    errored: bool,
}

/// The wakers of the copies waiting on the inner body or on the copy reading it.
#[derive(Default)]
struct Waiters(Mutex<Vec<Waker>>);

impl Waiters {
    fn register(&self, waker: &Waker) {
        let mut wakers = lock(&self.0);
        if !wakers.iter().any(|known| known.will_wake(waker)) {
            wakers.push(waker.clone());
        }
    }

    fn wake_all(&self) {
        let wakers = core::mem::take(&mut *lock(&self.0));
        wakers.into_iter().for_each(Waker::wake);
    }

    fn wake_others(&self, current: &Waker) {
        let wakers = core::mem::take(&mut *lock(&self.0));
        for waker in wakers {
            if !waker.will_wake(current) {
                waker.wake();
            }
        }
    }
}

impl Wake for Waiters {
    fn wake(self: Arc<Self>) {
        self.wake_all();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wake_all();
    }
}

/// A lock whose holder panicked is still sound here: every update leaves the state consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<B> Shared<B> {
    fn replayable(&self) -> bool {
        !self.overflowed && !self.failed
    }

    /// The copy has missed bytes that were not kept.
    fn stranded(&self, cursor: &Cursor) -> bool {
        self.overflowed && cursor.frames < self.frames
    }

    /// Makes `cursor` the copy that reads the inner body.
    fn take_over(&mut self, cursor: &mut Cursor) {
        let ticket = *cursor.ticket.get_or_insert_with(|| {
            self.tickets += 1;
            self.tickets
        });
        self.owner = Some(ticket);
    }

    /// Counts a data frame read from the inner body, and keeps it while the limit allows.
    fn keep(&mut self, chunk: &Bytes) {
        self.frames += 1;
        self.read += chunk.len() as u64;
        if self.overflowed {
            return;
        }
        if chunk.len() <= self.limit - self.kept_bytes {
            self.kept_bytes += chunk.len();
            self.kept.push(chunk.clone());
        } else {
            self.overflowed = true;
            self.kept = Vec::new();
            self.kept_bytes = 0;
        }
    }
}

impl<B> ReplayBody<B>
where
    B: Body,
    B::Data: Buf,
{
    /// Wraps `body`, keeping up to `limit` bytes of it for replay (0: none, the body is
    /// replayable only while it has yielded no byte).
    ///
    /// ```
    /// use retry_runtime::replay::ReplayBody;
    ///
    /// let body = ReplayBody::new(String::from("hello"), 4);
    /// assert!(!body.is_replayable(), "its size hint is above the limit");
    /// ```
    pub fn new(body: B, limit: usize) -> Self {
        let overflowed = body.size_hint().lower() > u64::try_from(limit).unwrap_or(u64::MAX);
        let waiters = Arc::new(Waiters::default());
        let shared = Shared {
            inner: Box::pin(body),
            limit,
            kept: Vec::new(),
            kept_bytes: 0,
            frames: 0,
            read: 0,
            trailers: None,
            ended: false,
            overflowed,
            failed: false,
            owner: None,
            tickets: 0,
            fanout: Waker::from(Arc::clone(&waiters)),
            waiters,
        };
        ReplayBody {
            shared: Arc::new(Mutex::new(shared)),
            cursor: Cursor::default(),
        }
    }

    /// A copy that yields the body from its beginning: the bytes kept so far, then the rest of
    /// the inner body, then its trailers. `None` once the body has outgrown its limit (or its
    /// inner body failed): it cannot be sent again whole.
    ///
    /// ```
    /// use retry_runtime::replay::ReplayBody;
    ///
    /// let body = ReplayBody::new(String::from("hello"), 1024);
    /// assert!(body.try_clone().is_some());
    /// ```
    pub fn try_clone(&self) -> Option<Self> {
        if !lock(&self.shared).replayable() {
            return None;
        }
        Some(ReplayBody {
            shared: Arc::clone(&self.shared),
            cursor: Cursor::default(),
        })
    }

    /// Whether a copy can still send the whole body: nothing it yielded was dropped.
    ///
    /// ```
    /// use retry_runtime::replay::ReplayBody;
    ///
    /// assert!(ReplayBody::new(String::from("hello"), 1024).is_replayable());
    /// assert!(!ReplayBody::new(String::from("hello"), 0).is_replayable());
    /// ```
    pub fn is_replayable(&self) -> bool {
        lock(&self.shared).replayable()
    }

    /// Makes this copy the one that reads the inner body from now on, if the body is still
    /// replayable, and says whether it is: once it has, no older copy still being sent can
    /// make it outgrow the limit.
    pub(crate) fn claim(&mut self) -> bool {
        let mut shared = lock(&self.shared);
        if !shared.replayable() {
            return false;
        }
        shared.take_over(&mut self.cursor);
        true
    }
}

impl<B> Body for ReplayBody<B>
where
    B: Body,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.get_mut();
        let cursor = &mut this.cursor;
        let mut guard = lock(&this.shared);
        let shared = &mut *guard;
        if cursor.errored {
            return Poll::Ready(None);
        }
        if cursor.ticket.is_none() && !shared.stranded(cursor) {
            shared.take_over(cursor);
        }
        // The bytes kept that this copy has not yielded yet.
        if !shared.overflowed {
            if let Some(chunk) = shared.kept.get(cursor.frames) {
                cursor.frames += 1;
                cursor.bytes += chunk.len() as u64;
                return Poll::Ready(Some(Ok(Frame::data(chunk.clone()))));
            }
        }
        if cursor.frames < shared.frames {
            // Missed bytes that were not kept: this copy cannot be completed.
            return Poll::Pending;
        }
        if shared.ended {
            if !cursor.trailers_sent {
                cursor.trailers_sent = true;
                if let Some(trailers) = &shared.trailers {
                    return Poll::Ready(Some(Ok(Frame::trailers(trailers.clone()))));
                }
            }
            return Poll::Ready(None);
        }
        if shared.failed {
            // The error went to the copy that read it; what follows it is unknown.
            return Poll::Pending;
        }
        match shared.owner {
            Some(owner) if cursor.ticket != Some(owner) => {
                shared.waiters.register(cx.waker());
                return Poll::Pending;
            }
            _ => shared.take_over(cursor),
        }
        shared.waiters.register(cx.waker());
        let polled = shared
            .inner
            .as_mut()
            .poll_frame(&mut Context::from_waker(&shared.fanout));
        let frame = match ready!(polled) {
            Some(Ok(frame)) => frame,
            Some(Err(err)) => {
                shared.failed = true;
                cursor.errored = true;
                return Poll::Ready(Some(Err(err)));
            }
            None => {
                shared.ended = true;
                shared.waiters.wake_others(cx.waker());
                return Poll::Ready(None);
            }
        };
        shared.waiters.wake_others(cx.waker());
        match frame.into_data() {
            Ok(mut data) => {
                let chunk = data.copy_to_bytes(data.remaining());
                shared.keep(&chunk);
                cursor.frames += 1;
                cursor.bytes += chunk.len() as u64;
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
            Err(frame) => match frame.into_trailers() {
                Ok(trailers) => {
                    shared.trailers = Some(trailers.clone());
                    shared.ended = true;
                    cursor.trailers_sent = true;
                    Poll::Ready(Some(Ok(Frame::trailers(trailers))))
                }
                // A frame neither data nor trailers (none exists in `http-body` 1): skipped.
                Err(_) => {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        let shared = lock(&self.shared);
        let cursor = &self.cursor;
        if cursor.errored {
            return true;
        }
        if cursor.frames < shared.frames {
            return false;
        }
        if shared.ended {
            return shared.trailers.is_none() || cursor.trailers_sent;
        }
        !shared.failed && shared.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let shared = lock(&self.shared);
        let cursor = &self.cursor;
        if cursor.errored {
            return SizeHint::with_exact(0);
        }
        if shared.stranded(cursor) {
            return SizeHint::new();
        }
        let kept = shared.read.saturating_sub(cursor.bytes);
        if shared.ended {
            return SizeHint::with_exact(kept);
        }
        let mut hint = SizeHint::new();
        if shared.failed {
            hint.set_lower(kept);
            return hint;
        }
        let inner = shared.inner.size_hint();
        hint.set_lower(inner.lower().saturating_add(kept));
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper.saturating_add(kept));
        }
        hint
    }
}

impl<B> Drop for ReplayBody<B> {
    fn drop(&mut self) {
        let mut shared = lock(&self.shared);
        if shared.owner.is_some() && shared.owner == self.cursor.ticket {
            // The next copy polled reads on.
            shared.owner = None;
            shared.waiters.wake_all();
        }
    }
}

impl<B> fmt::Debug for ReplayBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = lock(&self.shared);
        f.debug_struct("ReplayBody")
            .field("limit", &shared.limit)
            .field("kept", &shared.kept_bytes)
            .field("replayable", &shared.replayable())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::collections::VecDeque;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http::HeaderValue;
    use http_body_util::{BodyExt, Full};

    /// A streamed body of scripted frames, with no size hint. With `pending`, each frame comes
    /// after one `Pending` (the waker woken at once). Not `Sync` (a `Cell`).
    struct Script {
        frames: VecDeque<Result<Frame<Bytes>, &'static str>>,
        pending: bool,
        ready: Cell<bool>,
    }

    impl Script {
        fn new(chunks: &[&'static str], trailers: bool) -> Self {
            let mut frames: VecDeque<_> = chunks
                .iter()
                .map(|chunk| Ok(Frame::data(Bytes::from_static(chunk.as_bytes()))))
                .collect();
            if trailers {
                frames.push_back(Ok(Frame::trailers(trailers_map())));
            }
            Script {
                frames,
                pending: false,
                ready: Cell::new(false),
            }
        }

        fn pending(mut self) -> Self {
            self.pending = true;
            self
        }

        fn then_fail(mut self) -> Self {
            self.frames.push_back(Err("the stream broke"));
            self
        }
    }

    impl Body for Script {
        type Data = Bytes;
        type Error = &'static str;

        fn poll_frame(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, &'static str>>> {
            let this = self.get_mut();
            if this.pending && !this.ready.replace(false) && !this.frames.is_empty() {
                this.ready.set(true);
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Poll::Ready(this.frames.pop_front())
        }

        fn is_end_stream(&self) -> bool {
            self.frames.is_empty()
        }
    }

    fn trailers_map() -> HeaderMap {
        let mut trailers = HeaderMap::new();
        trailers.insert("x-checksum", HeaderValue::from_static("abc"));
        trailers
    }

    /// Counts its wake-ups.
    #[derive(Default)]
    struct Wakes(AtomicUsize);

    impl Wake for Wakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    type Polled<E> = Poll<Option<Result<Frame<Bytes>, E>>>;

    fn poll_with<B>(body: &mut B, waker: &Waker) -> Polled<B::Error>
    where
        B: Body<Data = Bytes> + Unpin,
    {
        Pin::new(body).poll_frame(&mut Context::from_waker(waker))
    }

    fn poll<B: Body<Data = Bytes> + Unpin>(body: &mut B) -> Polled<B::Error> {
        poll_with(body, Waker::noop())
    }

    /// One frame, past the script's `Pending`s.
    fn next<B: Body<Data = Bytes> + Unpin>(body: &mut B) -> Option<Result<Frame<Bytes>, B::Error>> {
        for _ in 0..4 {
            if let Poll::Ready(frame) = poll(body) {
                return frame;
            }
        }
        panic!("the body stays pending");
    }

    fn data<B: Body<Data = Bytes> + Unpin>(body: &mut B) -> Bytes
    where
        B::Error: fmt::Debug,
    {
        next(body).unwrap().unwrap().into_data().unwrap()
    }

    /// The data frames and trailers of a body read to its end.
    fn read_all<B: Body<Data = Bytes> + Unpin>(body: &mut B) -> (Vec<Bytes>, Option<HeaderMap>)
    where
        B::Error: fmt::Debug,
    {
        let (mut chunks, mut trailers) = (Vec::new(), None);
        while let Some(frame) = next(body) {
            match frame.unwrap().into_data() {
                Ok(chunk) => chunks.push(chunk),
                Err(frame) => trailers = Some(frame.into_trailers().unwrap()),
            }
        }
        assert!(body.is_end_stream());
        (chunks, trailers)
    }

    const CHUNKS: [&str; 3] = ["first, ", "second, ", "third"];

    fn expected() -> (Vec<Bytes>, Option<HeaderMap>) {
        let chunks = CHUNKS.iter().map(|c| Bytes::from_static(c.as_bytes()));
        (chunks.collect(), Some(trailers_map()))
    }

    #[test]
    fn a_stream_read_in_full_replays_chunks_and_trailers() {
        let mut body = ReplayBody::new(Script::new(&CHUNKS, true).pending(), 64);
        assert_eq!(read_all(&mut body), expected());
        let mut copy = body.try_clone().unwrap();
        assert_eq!(copy.size_hint().exact(), Some(20));
        assert!(!copy.is_end_stream());
        assert_eq!(read_all(&mut copy), expected());
        assert_eq!(read_all(&mut copy.try_clone().unwrap()), expected());
        assert!(body.is_replayable());
    }

    #[test]
    fn a_stream_read_in_part_replays_from_the_beginning() {
        let mut body = ReplayBody::new(Script::new(&CHUNKS, true).pending(), 64);
        assert_eq!(data(&mut body), "first, ");
        let mut copy = body.try_clone().unwrap();
        assert_eq!(read_all(&mut copy), expected());
        // The first copy follows the second one's reads.
        assert_eq!(data(&mut body), "second, ");
        assert_eq!(data(&mut body), "third");
        assert_eq!(
            next(&mut body).unwrap().unwrap().into_trailers().ok(),
            Some(trailers_map())
        );
        assert!(next(&mut body).is_none());
    }

    #[tokio::test]
    async fn a_copy_collects_to_the_same_body() {
        let mut body = ReplayBody::new(Script::new(&CHUNKS, true), DEFAULT_BODY_LIMIT);
        assert_eq!(data(&mut body), "first, ");
        let collected = body.try_clone().unwrap().collect().await.unwrap();
        assert_eq!(collected.trailers(), Some(&trailers_map()));
        assert_eq!(collected.to_bytes(), "first, second, third");
    }

    #[test]
    fn a_stream_past_the_limit_is_delivered_whole_and_not_replayable() {
        let mut body = ReplayBody::new(Script::new(&CHUNKS, true), 10);
        let mut kept = body.try_clone().unwrap();
        assert_eq!(data(&mut body), "first, ");
        assert!(body.is_replayable() && kept.is_replayable());
        assert_eq!(data(&mut body), "second, ");
        assert!(!body.is_replayable() && !kept.is_replayable());
        assert!(body.try_clone().is_none() && kept.try_clone().is_none());
        assert_eq!(data(&mut body), "third");
        assert_eq!(
            next(&mut body).unwrap().unwrap().into_trailers().ok(),
            Some(trailers_map())
        );
        assert!(next(&mut body).is_none() && body.is_end_stream());
        // The copy made before the overflow cannot be completed: it yields nothing at all.
        assert!(poll(&mut kept).is_pending());
        assert!(!kept.is_end_stream());
    }

    #[test]
    fn an_exact_size_above_the_limit_is_not_kept() {
        let mut body = ReplayBody::new(Full::new(Bytes::from(vec![7u8; 100])), 99);
        assert!(!body.is_replayable() && body.try_clone().is_none());
        assert_eq!(body.size_hint().exact(), Some(100));
        assert_eq!(data(&mut body), vec![7u8; 100]);
        assert!(next(&mut body).is_none());

        let mut body = ReplayBody::new(Full::new(Bytes::from(vec![7u8; 100])), 100);
        assert_eq!(data(&mut body), vec![7u8; 100]);
        let copy = body.try_clone().unwrap();
        assert_eq!(copy.size_hint().exact(), Some(100));
    }

    #[test]
    fn a_limit_of_zero_replays_only_an_empty_body() {
        let mut body = ReplayBody::new(Script::new(&["x"], false), 0);
        assert!(body.is_replayable(), "nothing sent yet");
        assert_eq!(data(&mut body), "x");
        assert!(!body.is_replayable() && body.try_clone().is_none());
        assert!(next(&mut body).is_none());

        let mut empty = ReplayBody::new(Script::new(&[], true), 0);
        assert_eq!(read_all(&mut empty), (Vec::new(), Some(trailers_map())));
        let mut copy = empty.try_clone().unwrap();
        assert_eq!(copy.size_hint().exact(), Some(0));
        assert_eq!(read_all(&mut copy), (Vec::new(), Some(trailers_map())));
    }

    #[test]
    fn the_copy_started_last_reads_and_an_older_one_waits_for_it() {
        let mut first = ReplayBody::new(Script::new(&CHUNKS, false), 64);
        assert_eq!(data(&mut first), "first, ");
        let mut second = first.try_clone().unwrap();
        assert_eq!(data(&mut second), "first, ");
        // The first copy is at the front but no longer reads: it waits, and is woken when the
        // second keeps more.
        let wakes = Arc::new(Wakes::default());
        assert!(poll_with(&mut first, &Waker::from(wakes.clone())).is_pending());
        assert_eq!(data(&mut second), "second, ");
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
        assert_eq!(data(&mut first), "second, ");
        assert!(poll_with(&mut first, &Waker::from(wakes.clone())).is_pending());
        // Dropping the reading copy wakes the waiting one, which reads on.
        drop(second);
        assert_eq!(wakes.0.load(Ordering::SeqCst), 2);
        assert_eq!(data(&mut first), "third");
        assert!(next(&mut first).is_none());
    }

    #[test]
    fn a_claimed_copy_keeps_an_older_one_from_outgrowing_the_limit() {
        let mut first = ReplayBody::new(Script::new(&CHUNKS, false), 10);
        let mut second = first.try_clone().unwrap();
        assert_eq!(data(&mut first), "first, ");
        assert!(second.claim());
        assert!(poll(&mut first).is_pending());
        assert!(second.is_replayable());
        assert_eq!(read_all(&mut second).0.concat(), b"first, second, third");
        assert!(!second.claim());
    }

    #[test]
    fn an_error_goes_to_the_reading_copy_and_ends_replay() {
        let mut body = ReplayBody::new(Script::new(&["ok"], false).then_fail(), 64);
        let mut kept = body.try_clone().unwrap();
        assert_eq!(data(&mut body), "ok");
        assert_eq!(next(&mut body).unwrap().unwrap_err(), "the stream broke");
        assert!(!body.is_replayable() && kept.try_clone().is_none());
        assert!(next(&mut body).is_none() && body.is_end_stream());
        // The other copy yields what was kept, then nothing: never a truncated end.
        assert_eq!(data(&mut kept), "ok");
        assert!(poll(&mut kept).is_pending() && !kept.is_end_stream());
    }

    #[test]
    fn size_hints_add_the_kept_bytes_to_the_inner_hint() {
        let mut body = ReplayBody::new(Full::new(Bytes::from_static(b"0123456789")), 64);
        assert_eq!(body.size_hint().exact(), Some(10));
        let copy = body.try_clone().unwrap();
        assert_eq!(data(&mut body), "0123456789");
        assert_eq!(body.size_hint().exact(), Some(0));
        assert_eq!(copy.size_hint().exact(), Some(10));
        let mut stream = ReplayBody::new(Script::new(&CHUNKS, false), 64);
        assert_eq!(data(&mut stream), "first, ");
        let copy = stream.try_clone().unwrap();
        let hint = copy.size_hint();
        assert_eq!((hint.lower(), hint.upper()), (7, None));
    }

    #[test]
    fn is_send_and_sync_over_a_send_body() {
        fn send_sync<T: Send + Sync + 'static>() {}
        send_sync::<ReplayBody<Script>>();
    }
}
