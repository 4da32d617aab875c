//! The span a retried call runs in (feature `tracing`): one INFO span per call, on which each
//! attempt records its number, so that the events of the retried code carry `attempt = n`.
//!
//! | door | span name | fields |
//! |---|---|---|
//! | `#[retry]` on a plain `fn` | the call name: `name = "..."`, or the function's name | `attempt` |
//! | `#[retry]` on an `async fn`: one span per attempt | the call name | `attempt` |
//! | `Policy::retry`, `.run()`, `Policy::retry_blocking` | `retry` | `otel.name` (the call name), `attempt` |
//! | the reqwest middleware, the tower layer | `retry` | `otel.name` (the call name), `attempt`, `http.request.resend_count` |
//!
//! `attempt` is the attempt running (1-based, a `u32`). `http.request.resend_count` is
//! OpenTelemetry's name for the number of times an HTTP request was sent again (`attempt - 1`),
//! recorded from the second attempt on. A span's name is fixed where it is declared, so the
//! doors whose call name is known only at run time name their span `retry` and give the call
//! name as `otel.name`, the field OpenTelemetry exporters (`tracing-opentelemetry`) take for a
//! span's name.
//!
//! Without the `tracing` feature a [`CallSpan`] is an empty value and every method here is
//! nothing. With it, a span that no subscriber wants is not kept at all (nothing is allocated),
//! so a call that nobody traces stores one empty pointer.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

/// The span of one retried call, or nothing when no subscriber wants it.
#[derive(Debug, Default)]
pub struct CallSpan {
    #[cfg(feature = "tracing")]
    span: Option<alloc_box::Box<tracing::Span>>,
}

#[cfg(feature = "tracing")]
mod alloc_box {
    pub use std::boxed::Box;
}

/// The span a builder's call runs in: `retry`, with the call name as `otel.name`.
#[cfg(feature = "tracing")]
#[inline]
fn builder_span(name: &'static str) -> tracing::Span {
    tracing::info_span!("retry", otel.name = name, attempt = tracing::field::Empty)
}

/// The span an HTTP door's call runs in: [`builder_span`]'s fields and
/// `http.request.resend_count`.
#[cfg(feature = "tracing")]
#[inline]
fn http_span(name: &'static str) -> tracing::Span {
    tracing::info_span!(
        "retry",
        otel.name = name,
        attempt = tracing::field::Empty,
        http.request.resend_count = tracing::field::Empty
    )
}

impl CallSpan {
    /// No span.
    #[inline(always)]
    pub const fn none() -> Self {
        CallSpan {
            #[cfg(feature = "tracing")]
            span: None,
        }
    }

    /// The span of a builder's call named `name` (span `retry`, field `otel.name`).
    #[inline(always)]
    pub fn new(name: &'static str) -> Self {
        #[cfg(feature = "tracing")]
        return Self::of(builder_span(name));
        #[cfg(not(feature = "tracing"))]
        {
            let _ = name;
            Self::none()
        }
    }

    /// The span of an HTTP call named `name` (the middleware, the tower layer): as
    /// [`new`](Self::new), with `http.request.resend_count`.
    #[inline(always)]
    pub fn http(name: &'static str) -> Self {
        #[cfg(feature = "tracing")]
        return Self::of(http_span(name));
        #[cfg(not(feature = "tracing"))]
        {
            let _ = name;
            Self::none()
        }
    }

    /// `span`, kept only when a subscriber wants it.
    #[cfg(feature = "tracing")]
    #[inline]
    pub fn of(span: tracing::Span) -> Self {
        CallSpan {
            span: (!span.is_disabled()).then(|| alloc_box::Box::new(span)),
        }
    }

    /// Records that attempt `n` (1-based) runs: `attempt = n`, and on an HTTP span
    /// `http.request.resend_count = n - 1` from the second attempt on.
    #[inline(always)]
    pub fn record_attempt(&self, n: u32) {
        #[cfg(feature = "tracing")]
        if let Some(span) = &self.span {
            record(span, n);
        }
        #[cfg(not(feature = "tracing"))]
        let _ = n;
    }

    /// Runs `f` inside the span.
    #[inline(always)]
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        #[cfg(feature = "tracing")]
        if let Some(span) = &self.span {
            return span.in_scope(f);
        }
        f()
    }

    /// Enters the span until the guard is dropped (around one poll, never across an
    /// `.await`).
    #[inline(always)]
    pub fn enter(&self) -> Entered<'_> {
        Entered {
            #[cfg(feature = "tracing")]
            _entered: self.span.as_ref().map(|span| span.enter()),
            _span: core::marker::PhantomData,
        }
    }

    /// `future`, polled inside the span; its output comes back with the span, so that one
    /// value is kept for the call whether an attempt runs or the call sleeps.
    #[inline(always)]
    pub fn instrument<F: Future>(self, future: F) -> InSpan<F> {
        InSpan { future, span: self }
    }
}

/// Records attempt `n` on `span`, out of line (only when a subscriber wants the span).
#[cfg(feature = "tracing")]
#[inline(never)]
fn record(span: &tracing::Span, n: u32) {
    span.record("attempt", n);
    if n > 1 {
        span.record("http.request.resend_count", n - 1);
    }
}

/// The guard of [`CallSpan::enter`].
#[must_use = "the span is exited when the guard is dropped"]
pub struct Entered<'a> {
    #[cfg(feature = "tracing")]
    _entered: Option<tracing::span::Entered<'a>>,
    _span: core::marker::PhantomData<&'a CallSpan>,
}

pin_project_lite::pin_project! {
    /// [`CallSpan::instrument`]: a future polled inside the call's span.
    pub struct InSpan<F> {
        #[pin]
        future: F,
        span: CallSpan,
    }
}

impl<F: Future> Future for InSpan<F> {
    type Output = (F::Output, CallSpan);

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let entered = this.span.enter();
        let out = core::task::ready!(this.future.poll(cx));
        drop(entered);
        Poll::Ready((out, core::mem::take(this.span)))
    }
}
