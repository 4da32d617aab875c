//! What the layer needs of a request: a way to send it again ([`Replay`]), and of an HTTP
//! request's body ([`ReplayableBody`]).

use bytes::Bytes;
use http::header::HeaderName;
use http_body_util::{combinators::BoxBody, combinators::UnsyncBoxBody, Empty, Full};

use crate::replay::ReplayBody;

/// A request that [`Retry`](super::Retry) can send more than once.
///
/// Implemented for `http::Request<B>` whose body is a [`ReplayableBody`]: the head is cloned,
/// the body replayed (a streamed body within the layer's limit), and only an idempotent method
/// or a request with an `Idempotency-Key` header is resent after a failure the server may have
/// acted on. For a request type of your own, say how it is copied:
///
/// ```
/// use retry_runtime::tower::Replay;
///
/// #[derive(Clone)]
/// struct GetUser(u64);
///
/// impl Replay for GetUser {
///     type Kept = GetUser;
///     fn keep(self, _body_limit: usize) -> (Self, GetUser) {
///         (self.clone(), self)
///     }
///     fn again(kept: &GetUser) -> Option<Self> {
///         Some(kept.clone())
///     }
/// }
/// ```
pub trait Replay: Sized {
    /// What the call keeps to send the request again.
    type Kept;
    /// Whether the request is an HTTP request: its call's span (feature `tracing`) then
    /// records `http.request.resend_count` too. `false` by default.
    const HTTP: bool = false;
    /// The copy to send first and what is kept for the next attempts. `body_limit` is the
    /// most of a streamed body kept for a replay (the layer's
    /// [`with_body_limit`](super::RetryLayer::with_body_limit)).
    fn keep(self, body_limit: usize) -> (Self, Self::Kept);
    /// The copy for the next attempt, or `None` when the request cannot be sent again (a
    /// streamed body that outgrew its limit).
    fn again(kept: &Self::Kept) -> Option<Self>;
    /// Whether a next copy can still be made: asked before a retry is decided, so that a
    /// request that cannot be sent again ends the call with its answer.
    fn replayable(kept: &Self::Kept) -> bool {
        let _ = kept;
        true
    }
    /// Whether sending the request again is safe whatever the failure (an idempotent
    /// method, an idempotency key). When it is not, only a failure that says the request was
    /// not acted on ([`Classify::unprocessed`](crate::Classify::unprocessed)) is retried. The
    /// default is `true`: a request type of your own says what it knows.
    fn resend_safe(kept: &Self::Kept) -> bool {
        let _ = kept;
        true
    }
}

impl<B: ReplayableBody> Replay for http::Request<B> {
    type Kept = (http::request::Parts, B::Kept);
    const HTTP: bool = true;

    fn keep(self, body_limit: usize) -> (Self, Self::Kept) {
        let (parts, body) = self.into_parts();
        let (body, kept) = body.keep(body_limit);
        (
            http::Request::from_parts(parts.clone(), body),
            (parts, kept),
        )
    }

    fn again((parts, body): &Self::Kept) -> Option<Self> {
        B::again(body).map(|body| http::Request::from_parts(parts.clone(), body))
    }

    fn replayable((_, body): &Self::Kept) -> bool {
        B::replayable(body)
    }

    /// An idempotent method (`GET`, `PUT`, `DELETE`, …) or an `Idempotency-Key` header.
    fn resend_safe((parts, _): &Self::Kept) -> bool {
        parts.method.is_idempotent()
            || parts
                .headers
                .contains_key(HeaderName::from_static("idempotency-key"))
    }
}

/// An HTTP request body that can be sent again: one that clones (`Full`, `Empty`, `String`,
/// `Bytes`, `Vec<u8>`, `()`), or a streamed one (`tonic::body::Body` with the feature `tonic`,
/// `BoxBody`, `UnsyncBoxBody`) buffered as it is sent, up to the layer's body
/// limit: past it the request is sent once, and its first answer is the call's.
pub trait ReplayableBody: Sized {
    /// What is kept to send the body again.
    type Kept;
    /// The body to send first and what is kept.
    fn keep(self, limit: usize) -> (Self, Self::Kept);
    /// The body for the next attempt, if it can still be sent whole.
    fn again(kept: &Self::Kept) -> Option<Self>;
    /// Whether [`again`](ReplayableBody::again) would give a body.
    fn replayable(kept: &Self::Kept) -> bool;
}

/// Bodies that are their own copies.
macro_rules! cloned_body {
    ($($body:ty $(, $param:ident)?;)*) => {$(
        impl$(<$param: Clone>)? ReplayableBody for $body {
            type Kept = Self;
            #[inline]
            fn keep(self, _: usize) -> (Self, Self) {
                (self.clone(), self)
            }
            #[inline]
            fn again(kept: &Self) -> Option<Self> {
                Some(kept.clone())
            }
            #[inline]
            fn replayable(_: &Self) -> bool {
                true
            }
        }
    )*};
}

cloned_body! {
    Full<D>, D;
    Empty<D>, D;
    String;
    Bytes;
    Vec<u8>;
    ();
}

/// Streamed bodies: wrapped in a [`ReplayBody`] that keeps what is sent, up to the limit.
macro_rules! streamed_body {
    ($(($($generics:tt)*) $body:ty => $wrap:expr;)*) => {$(
        impl<$($generics)*> ReplayableBody for $body {
            /// `None` for a body too long to keep from the start (its exact size is over the
            /// limit): it is sent as it is, once.
            type Kept = Option<ReplayBody<$body>>;
            fn keep(self, limit: usize) -> (Self, Self::Kept) {
                let kept = ReplayBody::new(self, limit);
                match kept.try_clone() {
                    Some(first) => ($wrap(first), Some(kept)),
                    None => ($wrap(kept), None),
                }
            }
            /// The new copy reads the inner body from now on, so that the previous attempt's
            /// copy (a client may still be sending it after an early answer) cannot make the
            /// body outgrow the limit while the call sleeps.
            fn again(kept: &Self::Kept) -> Option<Self> {
                let mut next = kept.as_ref()?.try_clone()?;
                next.claim().then(|| $wrap(next))
            }
            fn replayable(kept: &Self::Kept) -> bool {
                kept.as_ref().is_some_and(ReplayBody::is_replayable)
            }
        }
    )*};
}

streamed_body! {
    (E: Send + 'static) BoxBody<Bytes, E> => BoxBody::new;
    (E: 'static) UnsyncBoxBody<Bytes, E> => UnsyncBoxBody::new;
}

#[cfg(feature = "tonic")]
streamed_body! {
    () tonic::body::Body => tonic::body::Body::new;
}
