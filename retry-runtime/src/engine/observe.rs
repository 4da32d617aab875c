//! What a call tells the world, under its call name: `tracing` events (feature `tracing`) and
//! `metrics` counters (feature `metrics`). Without those features everything here is a no-op.
//!
//! The counters are the engine's, on every door. The events of the builders and the
//! middleware are written here; `#[retry]` writes its own (the same fields and levels), so that
//! their target is the retried function's module.

use core::fmt;

#[cfg(feature = "metrics")]
use std::sync::OnceLock;

use super::GiveUp;
use crate::RetryInfo;

/// Where a call comes from, for its events and counters: its name (`name = "..."`,
/// `.name(..)`, by default the function's path or the door's name) and, with the `metrics`
/// feature, its metric handles.
pub struct Site<'a> {
    // Read by the events and the counters, which the features compile in.
    #[cfg_attr(not(any(feature = "tracing", feature = "metrics")), allow(dead_code))]
    name: &'a (dyn fmt::Display + Sync),
    #[cfg(feature = "metrics")]
    handles: Option<&'a MetricsCell>,
}

/// One call site's metric handles, registered at its first call: a `static` per retried
/// function.
#[cfg(feature = "metrics")]
pub type MetricsCell = OnceLock<FunctionMetrics>;

impl<'a> Site<'a> {
    /// A site that counts nothing (the attribute without the `metrics` feature).
    #[inline(always)]
    pub fn new(name: &'a (dyn fmt::Display + Sync)) -> Self {
        Site {
            name,
            #[cfg(feature = "metrics")]
            handles: None,
        }
    }

    /// A site whose handles live in `cell` (the attribute: one `static` per function).
    #[cfg(feature = "metrics")]
    #[inline(always)]
    pub fn with_cell(name: &'a (dyn fmt::Display + Sync), cell: &'a MetricsCell) -> Self {
        Site {
            name,
            handles: Some(cell),
        }
    }

    /// A site named at run time (the builders and the middleware): its handles are looked up
    /// by name, registered once per name.
    #[inline]
    pub fn named(name: &'a &'static str) -> Self {
        Site {
            name,
            #[cfg(feature = "metrics")]
            handles: Some(registered(name)),
        }
    }

    #[cfg(feature = "metrics")]
    #[inline]
    fn handles(&self) -> Option<&FunctionMetrics> {
        let name = self.name;
        self.handles
            .map(|cell| cell.get_or_init(|| FunctionMetrics::new(name)))
    }

    /// The call returned a success after `attempts` attempts.
    #[inline(always)]
    pub(crate) fn accepted(&self, attempts: u32) {
        #[cfg(feature = "metrics")]
        if let Some(handles) = self.handles() {
            handles.done(attempts, true);
        }
        #[cfg(not(feature = "metrics"))]
        let _ = attempts;
    }

    /// A retry is about to happen.
    #[inline]
    pub(crate) fn retried(&self) {
        #[cfg(feature = "metrics")]
        if let Some(handles) = self.handles() {
            handles.retried();
        }
    }

    /// Copy number `copy` of a hedged call is about to go out: counted apart from retries,
    /// with its event.
    #[cfg(feature = "std")]
    #[cold]
    pub(crate) fn hedged(&self, copy: u32) {
        #[cfg(feature = "metrics")]
        if let Some(handles) = self.handles() {
            handles.hedges.increment(1);
        }
        #[cfg(feature = "tracing")]
        tracing::info!(function = %self.name, attempt = copy, "sending a hedged copy");
        #[cfg(not(feature = "tracing"))]
        let _ = copy;
    }

    /// The call gave up for `reason` after `attempts` attempts that reached the operation.
    #[cold]
    pub(crate) fn gave_up(&self, reason: GiveUp, attempts: u32) {
        #[cfg(feature = "metrics")]
        if let Some(handles) = self.handles() {
            handles.gave_up(reason);
            handles.done(attempts, false);
        }
        #[cfg(not(feature = "metrics"))]
        let _ = (reason, attempts);
    }

    /// The breaker refused an attempt after `attempts` attempts that reached the operation.
    #[cold]
    pub(crate) fn refused(&self, attempts: u32) {
        self.refused_for(GiveUp::BreakerOpen, attempts);
    }

    /// A guard (the breaker, the throttle) refused an attempt, for `reason`, after `attempts`
    /// attempts that reached the operation.
    #[cold]
    pub(crate) fn refused_for(&self, reason: GiveUp, attempts: u32) {
        #[cfg(feature = "metrics")]
        if let Some(handles) = self.handles() {
            handles.refused.increment(1);
        }
        self.gave_up(reason, attempts);
    }
}

/// The handles of the sites named at run time, one per name, kept for the process's life.
#[cfg(feature = "metrics")]
fn registered(name: &'static str) -> &'static MetricsCell {
    use std::sync::Mutex;
    static NAMED: Mutex<Vec<(&'static str, &'static MetricsCell)>> = Mutex::new(Vec::new());
    let mut named = NAMED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, cell)) = named.iter().find(|(known, _)| *known == name) {
        return cell;
    }
    let cell: &'static MetricsCell = Box::leak(Box::new(OnceLock::new()));
    named.push((name, cell));
    cell
}

/// One call site's metric handles.
#[cfg(feature = "metrics")]
pub struct FunctionMetrics {
    function: metrics::SharedString,
    success: metrics::Counter,
    gave_up: metrics::Counter,
    attempts: metrics::Counter,
    retries: metrics::Counter,
    hedges: metrics::Counter,
    refused: metrics::Counter,
    per_call: metrics::Histogram,
}

#[cfg(feature = "metrics")]
impl FunctionMetrics {
    /// The handles of the call named `function`.
    pub fn new(function: &dyn fmt::Display) -> Self {
        let function = metrics::SharedString::from(function.to_string());
        let f = function.clone();
        FunctionMetrics {
            success: metrics::counter!("retry_calls_total", "function" => f.clone(), "outcome" => "success"),
            gave_up: metrics::counter!("retry_calls_total", "function" => f.clone(), "outcome" => "gave_up"),
            attempts: metrics::counter!("retry_attempts_total", "function" => f.clone()),
            retries: metrics::counter!("retry_retries_total", "function" => f.clone()),
            hedges: metrics::counter!("retry_hedges_total", "function" => f.clone()),
            refused: metrics::counter!("retry_refused_total", "function" => f.clone()),
            per_call: metrics::histogram!("retry_attempts_per_call", "function" => f),
            function,
        }
    }

    /// A call ended after `attempts` attempts that reached the operation.
    fn done(&self, attempts: u32, success: bool) {
        if success {
            self.success.increment(1);
        } else {
            self.gave_up.increment(1);
        }
        self.attempts.increment(u64::from(attempts));
        self.per_call.record(f64::from(attempts));
    }

    /// A retry is about to happen.
    fn retried(&self) {
        self.retries.increment(1);
    }

    /// The call gave up for `reason` (registered when it happens: giving up is rare).
    fn gave_up(&self, reason: GiveUp) {
        metrics::counter!("retry_give_ups_total", "function" => self.function.clone(), "reason" => reason.label())
            .increment(1);
    }
}

/// One INFO event per retry, for the builders and the middleware.
#[cold]
pub(crate) fn trace_retry(site: &Site<'_>, info: &RetryInfo, outcome: &dyn fmt::Display) {
    #[cfg(feature = "tracing")]
    tracing::info!(
        function = %site.name,
        attempt = info.attempt(),
        delay = ?info.delay(),
        from_hint = info.from_hint(),
        error = %outcome,
        "attempt failed, retrying"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = (site, info, outcome);
}

/// One event when a call returns its last outcome, for the builders and the middleware: WARN
/// after retries or when a server asked for a wait beyond `max_hint` (an operator wants to
/// know), DEBUG when the first outcome was final.
#[cold]
pub(crate) fn trace_give_up(
    site: &Site<'_>,
    attempts: u32,
    reason: GiveUp,
    outcome: &dyn fmt::Display,
) {
    #[cfg(feature = "tracing")]
    if attempts > 1 || reason == GiveUp::HintTooLong {
        tracing::warn!(function = %site.name, attempts, reason = reason.as_str(), error = %outcome, "giving up");
    } else {
        tracing::debug!(function = %site.name, attempts, reason = reason.as_str(), error = %outcome, "not retried");
    }
    #[cfg(not(feature = "tracing"))]
    let _ = (site, attempts, reason, outcome);
}

/// A method's name with its `impl` type (`Client::fetch`), for events.
pub struct Qualified(pub &'static str, pub &'static str);

impl fmt::Display for Qualified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `my_crate::api::Client<T>` -> `Client`.
        let owner = self.0.split('<').next().unwrap_or(self.0);
        let owner = owner.rsplit("::").next().unwrap_or(owner);
        write!(f, "{owner}::{}", self.1)
    }
}
