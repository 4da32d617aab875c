//! Stage 2: validate. Every argument, the rules between them and the item itself are checked,
//! producing a typed [`Config`]; every problem goes to the one error sink.

use proc_macro2::Span;
use syn::spanned::Spanned as _;
use syn::{Expr, FnArg, Ident, Lit, LitStr, ReturnType, Type};

use crate::duration::{self, Dur, DurationError};
use crate::errors::Errors;
use crate::parse::{
    async_trait_body, future_output, returned_async_block, Args, Filter, Hedge, ItemFn, Number,
    Spanned, Timeout,
};
use crate::tokens::{borrowed_lifetimes, first_mut_reference, mentions_ident, shown};
use crate::vocab::{
    closest, list, percentile, BackoffKind, Choice, JitterKind, Key, HEDGE_EXPECTED,
};

/// Where the policy comes from.
pub enum PolicySource {
    /// Built from `attempts`, `base`, … at compile time.
    Keys(KeyPolicy),
    /// `policy = EXPR`, evaluated at call time; `is_const` when the expression names a
    /// `const`-looking path, which is then also checked at compile time.
    Expr {
        expr: Expr,
        deadline: Option<Dur>,
        max_hint: Option<Dur>,
    },
}

/// A policy fully known at compile time. Every field is validated.
pub struct KeyPolicy {
    pub attempts: u32,
    pub base: Option<Dur>,
    pub max: Option<Dur>,
    pub factor: Option<f64>,
    pub backoff: Option<BackoffKind>,
    pub jitter: Option<JitterKind>,
    pub deadline: Option<Dur>,
    pub max_hint: Option<Dur>,
}

/// A per-attempt timeout.
pub enum TimeoutValue {
    /// Known at compile time.
    Literal(Dur),
    /// Evaluated once per call (`timeout = self.config.timeout`).
    Expr(Box<Expr>),
}

/// `hedge = …` with `hedges = …`: copies of the call sent while the first is out.
pub struct HedgeConfig {
    pub delay: HedgeDelay,
    /// Extra copies, at least 1.
    pub copies: u32,
    /// The `hedge` key's span.
    pub key: Span,
}

/// When the next copy goes out.
#[derive(Clone, Copy)]
pub enum HedgeDelay {
    /// A fixed delay (`"0ms"`: all at once).
    Fixed(Dur),
    /// A percentile of the function's own latencies, in thousandths (`p95` is 950).
    Percentile(u32),
}

/// The validated configuration handed to code generation.
pub struct Config {
    pub policy: PolicySource,
    /// Path to the runtime crate.
    pub krate: syn::Path,
    /// `timeout = …` and the span of its key (for trait-bound errors).
    pub timeout: Option<(TimeoutValue, Span)>,
    /// `on = …`: retry only errors matching it.
    pub on: Option<Filter>,
    /// `unless = …`: never retry errors matching it.
    pub unless: Option<Filter>,
    /// `when = …`: a predicate over `&E`.
    pub when: Option<Expr>,
    /// `classify`: the span of the flag.
    pub classify: Option<Span>,
    /// `until = …`: a predicate over `&T`; an `Ok` that fails it is retried.
    pub until: Option<Expr>,
    /// `classify_ok`: the span of the flag.
    pub classify_ok: Option<Span>,
    /// `context = name`.
    pub context: Option<syn::Ident>,
    /// `idempotency_key = EXPR`: the caller's key, evaluated once per call.
    pub idempotency_key: Option<Expr>,
    /// `on_retry = …`: a hook over `(&E, &RetryInfo)`.
    pub on_retry: Option<Expr>,
    /// `budget = …`: a shared `RetryBudget`.
    pub budget: Option<Expr>,
    /// `breaker = …`: a shared `CircuitBreaker`, asked before every attempt.
    pub breaker: Option<Expr>,
    /// `throttle = …`: a shared `AdaptiveThrottle`, asked before every attempt goes out.
    pub throttle: Option<Expr>,
    /// `rate_limiter = …`: a shared `RateLimiter` pacing every attempt.
    pub rate_limiter: Option<Expr>,
    /// `sleeper = …`: the timer and clock of the call (a `Sleeper`, or a `BlockingSleeper`
    /// for a plain `fn`), evaluated once per call; the runtime's default otherwise.
    pub sleeper: Option<Expr>,
    /// `fallback = …`: answers the final error.
    pub fallback: Option<Expr>,
    /// `hedge = …` and `hedges = …`: the call runs on the async builder, copies concurrently.
    pub hedge: Option<HedgeConfig>,
    /// `name = "…"`: the call's name in events and metrics (non-empty); `None` for the
    /// function's path.
    pub name: Option<LitStr>,
    /// `report = NAME`: the parameter (a `&mut CallReport`) the call's report is written to.
    pub report: Option<syn::Ident>,
}

/// Checks `args` against each other and against the item, and builds the [`Config`]; `None`
/// when anything was wrong (the reasons are in `errors`).
pub fn config(args: Args, func: &ItemFn, errors: &mut Errors) -> Option<Config> {
    args.validate(func, errors)
}

/// The attempts when `attempts` is not given.
const DEFAULT_ATTEMPTS: u32 = 3;

impl Args {
    /// Every check, each bad argument reported (none stops the others), then the [`Config`]
    /// if `errors` holds nothing, from this stage or an earlier one.
    pub fn validate(self, func: &ItemFn, errors: &mut Errors) -> Option<Config> {
        let shape = Shape::of(func, errors);
        let keys = self.policy_keys(errors);
        self.check_policy_rules(&keys, errors);
        let timeout = self.timeout(shape, errors);
        let hedge = self.hedge(func, shape, errors);
        self.check_idempotency_key(errors);
        self.check_filters(errors);
        self.check_name(errors);
        self.check_report(func, errors);
        if !errors.is_empty() {
            return None;
        }
        Some(self.into_config(keys, timeout, hedge))
    }

    /// `attempts`, `base`, `max`, `factor`, `backoff`, `jitter`, `deadline`, `max_hint`, each
    /// on its own.
    fn policy_keys(&self, errors: &mut Errors) -> KeyPolicy {
        let duration = |arg: &Option<Spanned<LitStr>>, key, errors: &mut Errors| {
            arg.as_ref()
                .and_then(|arg| check_duration(&arg.value, key, errors))
        };
        let attempts = self.attempts.as_ref().and_then(|arg| arg.attempts(errors));
        let base = duration(&self.base, Key::Base, errors);
        let max = duration(&self.max, Key::Max, errors);
        let deadline = duration(&self.deadline, Key::Deadline, errors);
        let max_hint = duration(&self.max_hint, Key::MaxHint, errors);
        KeyPolicy {
            attempts: attempts.unwrap_or(DEFAULT_ATTEMPTS),
            base,
            max,
            factor: self.factor.as_ref().and_then(|arg| arg.factor(errors)),
            backoff: self.backoff.as_ref().and_then(|arg| arg.choice(errors)),
            jitter: self.jitter.as_ref().and_then(|arg| arg.jitter(errors)),
            deadline,
            max_hint,
        }
    }

    /// The rules between policy keys: `max` not below `base`, `factor` only with a strategy
    /// that takes one, and no key beside `policy`.
    fn check_policy_rules(&self, keys: &KeyPolicy, errors: &mut Errors) {
        if let (Some(base), Some(max), Some(max_arg)) = (keys.base, keys.max, &self.max) {
            if max < base {
                errors.push(
                    max_arg.span,
                    format!(
                        "`max` ({}) is below `base` ({}): no delay could reach `base`; raise `max` or lower `base`",
                        duration::display(max),
                        duration::display(base)
                    ),
                );
            }
        }
        if let (Some(factor_arg), Some(backoff)) = (&self.factor, keys.backoff) {
            if !backoff.takes_factor() {
                errors.push(
                    factor_arg.key,
                    format!(
                        "`factor` only applies to `backoff = {}`; remove it or change `backoff = {}`",
                        BackoffKind::WITH_FACTOR.name(),
                        backoff.name()
                    ),
                );
            }
        }
        if self.policy.is_some() {
            self.check_no_key_beside_policy(errors);
        }
    }

    /// With `policy = …`, the keys it replaces are errors at each key.
    fn check_no_key_beside_policy(&self, errors: &mut Errors) {
        let keys = [
            (Key::Attempts, self.attempts.as_ref().map(|a| a.key)),
            (Key::Base, self.base.as_ref().map(|a| a.key)),
            (Key::Max, self.max.as_ref().map(|a| a.key)),
            (Key::Factor, self.factor.as_ref().map(|a| a.key)),
            (Key::Backoff, self.backoff.as_ref().map(|a| a.key)),
            (Key::Jitter, self.jitter.as_ref().map(|a| a.key)),
        ];
        for (key, span) in keys {
            if let Some(span) = span {
                errors.push(
                    span,
                    format!(
                        "`{}` cannot be combined with `policy`; set it on the `Policy` value instead",
                        key.name()
                    ),
                );
            }
        }
    }

    /// `timeout`: a literal must be a non-zero duration, and any timeout needs an async body.
    fn timeout(&self, shape: Option<Shape>, errors: &mut Errors) -> Option<(TimeoutValue, Span)> {
        let arg = self.timeout.as_ref()?;
        let value = match &arg.value {
            Timeout::Literal(lit) => {
                let d = check_duration(lit, Key::Timeout, errors);
                if d.is_some_and(|d| d.as_nanos() == 0) {
                    errors.push(
                        arg.span,
                        "`timeout = \"0ms\"` would cut off every attempt at once; give each attempt some time, such as `timeout = \"2s\"`",
                    );
                }
                d.map(TimeoutValue::Literal)
            }
            Timeout::Expr(expr) => Some(TimeoutValue::Expr(expr.clone())),
        };
        if let Some(shape) = shape.filter(|shape| !shape.is_async) {
            let message = if shape.made_sync_by_runtime_macro {
                "`timeout` needs an `async fn`, and `#[tokio::main]` or `#[tokio::test]` above `#[retry]` has already made this function synchronous; put `#[retry]` above it, so that it sees the `async fn`"
            } else {
                "`timeout` needs an `async fn`: a blocking call cannot be cut off; make the function `async` or remove `timeout`"
            };
            errors.push(arg.key, message);
        }
        value.map(|value| (value, arg.key))
    }

    /// `hedge` and `hedges`: the delay (or percentile), the count of copies, and what a hedged
    /// call cannot have: a plain `fn`, the retry schedule's keys, `&mut` arguments.
    fn hedge(
        &self,
        func: &ItemFn,
        shape: Option<Shape>,
        errors: &mut Errors,
    ) -> Option<HedgeConfig> {
        let copies = self.hedges.as_ref().and_then(|arg| arg.hedges(errors));
        let Some(arg) = &self.hedge else {
            if let Some(hedges) = &self.hedges {
                errors.push(
                    hedges.key,
                    "`hedges` counts the copies `hedge` sends: add `hedge = \"150ms\"` (or `hedge = p95`), or remove `hedges`",
                );
            }
            return None;
        };
        let delay = match &arg.value {
            Hedge::Delay(lit) => check_duration(lit, Key::Hedge, errors).map(HedgeDelay::Fixed),
            Hedge::Percentile(word) => {
                let found = percentile(&word.to_string()).map(HedgeDelay::Percentile);
                if found.is_none() {
                    errors.push(arg.span, format!("{HEDGE_EXPECTED}, found `{word}`"));
                }
                found
            }
        };
        if shape.is_some_and(|shape| !shape.is_async) {
            errors.push(
                arg.key,
                "`hedge` needs an `async fn`: its copies run concurrently; make the function `async` or remove `hedge`",
            );
        }
        self.check_no_schedule_beside_hedge(errors);
        let report = self.report.as_ref().map(|report| &report.value);
        check_hedged_arguments(func, report, errors);
        Some(HedgeConfig {
            delay: delay?,
            copies: copies.unwrap_or(1),
            key: arg.key,
        })
    }

    /// With `hedge`, the retry schedule's keys contradict it: errors at each, naming both.
    fn check_no_schedule_beside_hedge(&self, errors: &mut Errors) {
        let counted = "copies are counted by `hedges`";
        let spaced = "the delay between copies is `hedge`'s";
        let keys = [
            (
                Key::Attempts,
                self.attempts.as_ref().map(|a| a.key),
                counted,
            ),
            (Key::Base, self.base.as_ref().map(|a| a.key), spaced),
            (Key::Max, self.max.as_ref().map(|a| a.key), spaced),
            (Key::Factor, self.factor.as_ref().map(|a| a.key), spaced),
            (Key::Backoff, self.backoff.as_ref().map(|a| a.key), spaced),
            (Key::Jitter, self.jitter.as_ref().map(|a| a.key), spaced),
        ];
        for (key, span, why) in keys {
            if let Some(span) = span {
                let name = key.name();
                errors.push(
                    span,
                    format!("`{name}` cannot be combined with `hedge`: {why}; remove `{name}`"),
                );
            }
        }
    }

    /// `idempotency_key` is read through the attempt context, so it needs `context`.
    fn check_idempotency_key(&self, errors: &mut Errors) {
        if let (Some(key), None) = (&self.idempotency_key, &self.context) {
            errors.push(
                key.key,
                "`idempotency_key` is read through the attempt context: add `context = attempt` and send `attempt.idempotency_key()` with the request",
            );
        }
    }

    /// `on` and `unless` must each decide something.
    fn check_filters(&self, errors: &mut Errors) {
        for (key, filter) in [(Key::On, &self.on), (Key::Unless, &self.unless)] {
            if let Some(filter) = filter {
                filter.check(key, errors);
            }
        }
    }

    /// `name` must name something.
    fn check_name(&self, errors: &mut Errors) {
        if let Some(name) = self
            .name
            .as_ref()
            .filter(|name| name.value.value().is_empty())
        {
            errors.push(
                name.span,
                "`name = \"\"` is empty; name the call as its events and metrics should show it, such as `name = \"provider-a\"`, or remove `name` to keep the function's path",
            );
        }
    }

    /// `report = NAME` names a parameter of the function whose type is `&mut CallReport` (by
    /// any path ending in `CallReport`).
    fn check_report(&self, func: &ItemFn, errors: &mut Errors) {
        let Some(report) = &self.report else { return };
        let name = &report.value;
        let mut params = Vec::new();
        for input in &func.sig.inputs {
            let syn::FnArg::Typed(typed) = input else {
                continue;
            };
            let syn::Pat::Ident(pat) = &*typed.pat else {
                continue;
            };
            if pat.ident != *name {
                params.push(format!("`{}`", pat.ident));
                continue;
            }
            if !is_mut_call_report(&typed.ty) {
                let ty = &typed.ty;
                errors.push(
                    report.span,
                    format!(
                        "`report = {name}` needs `{name}` to be a `&mut CallReport`, but it is `{}`; write `{name}: &mut CallReport`",
                        quote::quote!(#ty).to_string().replace(" :: ", "::").replace("& ", "&")
                    ),
                );
            }
            return;
        }
        let known = if params.is_empty() {
            "it has none".to_string()
        } else {
            format!("it has {}", params.join(", "))
        };
        errors.push(
            report.span,
            format!(
                "`report = {name}` names no parameter of this function ({known}); add `{name}: &mut CallReport` to its parameters"
            ),
        );
    }

    /// The checked arguments as the [`Config`].
    fn into_config(
        self,
        keys: KeyPolicy,
        timeout: Option<(TimeoutValue, Span)>,
        hedge: Option<HedgeConfig>,
    ) -> Config {
        let krate = match self.krate {
            Some(krate) => krate.value,
            None => syn::parse_quote!(::retry_runtime),
        };
        let policy = match self.policy {
            Some(policy) => PolicySource::Expr {
                expr: policy.value,
                deadline: keys.deadline,
                max_hint: keys.max_hint,
            },
            None => PolicySource::Keys(keys),
        };
        Config {
            policy,
            krate,
            timeout,
            on: self.on.map(|f| f.value),
            unless: self.unless.map(|f| f.value),
            when: self.when.map(|w| w.value),
            classify: self.classify.map(|c| c.key),
            until: self.until.map(|u| u.value),
            classify_ok: self.classify_ok.map(|c| c.key),
            context: self.context.map(|c| c.value),
            idempotency_key: self.idempotency_key.map(|k| k.value),
            on_retry: self.on_retry.map(|h| h.value),
            budget: self.budget.map(|b| b.value),
            breaker: self.breaker.map(|b| b.value),
            throttle: self.throttle.map(|t| t.value),
            rate_limiter: self.rate_limiter.map(|l| l.value),
            sleeper: self.sleeper.map(|s| s.value),
            fallback: self.fallback.map(|f| f.value),
            hedge,
            name: self.name.map(|n| n.value),
            report: self.report.map(|r| r.value),
        }
    }
}

/// `&mut CallReport`, `&'a mut retry_runtime::CallReport`, …
fn is_mut_call_report(ty: &syn::Type) -> bool {
    let syn::Type::Reference(reference) = ty else {
        return false;
    };
    let syn::Type::Path(path) = &*reference.elem else {
        return false;
    };
    reference.mutability.is_some()
        && path
            .path
            .segments
            .last()
            .is_some_and(|last| last.ident == "CallReport" && last.arguments.is_none())
}

impl Spanned<Filter> {
    /// Rejects a pattern that matches every error (`on = e`, `on = _`) when it has no guard:
    /// such a filter decides nothing.
    fn check(&self, key: Key, errors: &mut Errors) {
        if self.value.guard.is_some() {
            return;
        }
        let shown = match &self.value.pat {
            syn::Pat::Wild(_) => "_".to_string(),
            syn::Pat::Ident(ident)
                if ident.subpat.is_none()
                    && ident
                        .ident
                        .to_string()
                        .starts_with(|c: char| c.is_lowercase() || c == '_') =>
            {
                ident.ident.to_string()
            }
            _ => return,
        };
        let effect = if key == Key::On {
            "so it filters nothing (retrying every error is already the default)"
        } else {
            "so nothing would ever be retried"
        };
        let name = key.name();
        errors.push(
            self.span,
            format!(
                "`{name} = {shown}` matches every error, {effect}; name the variants to match (`{name} = MyError::Timeout | MyError::Io(_)`), or decide with code: `when = |e| ...`"
            ),
        );
    }
}

impl Spanned<Number> {
    /// `attempts`: a whole number from 1 to `u32::MAX`.
    fn attempts(&self, errors: &mut Errors) -> Option<u32> {
        let span = self.span;
        let Lit::Int(int) = &self.value.lit else {
            errors.push(
                span,
                format!(
                    "`attempts` counts calls, so it must be a whole number such as `attempts = 3`, found `{}`",
                    shown(&self.value.lit)
                ),
            );
            return None;
        };
        if self.value.negative() {
            errors.add(syn::Error::new_spanned(
                self.value.tokens(),
                format!(
                    "`attempts` cannot be negative (found `-{}`); it counts calls, the first included, so use at least `attempts = 1`",
                    int.base10_digits()
                ),
            ));
            return None;
        }
        match int.base10_parse::<u32>() {
            Ok(0) => {
                errors.push(
                    span,
                    "`attempts` counts the first call too, so it must be at least 1 (`attempts = 1` means no retry)",
                );
                None
            }
            Ok(n) => Some(n),
            Err(_) => {
                errors.push(
                    span,
                    format!(
                        "`attempts = {}` does not fit in a `u32`; the largest accepted value is {}",
                        int.base10_digits(),
                        u32::MAX
                    ),
                );
                None
            }
        }
    }

    /// `hedges`: a whole number from 1 to `u32::MAX`.
    fn hedges(&self, errors: &mut Errors) -> Option<u32> {
        let why = "`hedges` counts the extra copies, so it must be a whole number of at least 1, such as `hedges = 1`";
        let Lit::Int(int) = &self.value.lit else {
            errors.push(
                self.span,
                format!("{why}, found `{}`", shown(&self.value.lit)),
            );
            return None;
        };
        if self.value.negative() {
            errors.add(syn::Error::new_spanned(
                self.value.tokens(),
                format!("{why}, found `-{}`", int.base10_digits()),
            ));
            return None;
        }
        match int.base10_parse::<u32>() {
            Ok(0) => {
                errors.push(self.span, format!("{why}; remove `hedge` to send no copy"));
                None
            }
            Ok(n) => Some(n),
            Err(_) => {
                errors.push(
                    self.span,
                    format!(
                        "`hedges = {}` does not fit in a `u32`; the largest accepted value is {}",
                        int.base10_digits(),
                        u32::MAX
                    ),
                );
                None
            }
        }
    }

    /// `factor`: a finite number of at least 1.
    fn factor(&self, errors: &mut Errors) -> Option<f64> {
        let parsed = match &self.value.lit {
            Lit::Int(int) => int.base10_parse::<f64>().ok(),
            Lit::Float(float) => float.base10_parse::<f64>().ok(),
            _ => None,
        };
        let Some(mut factor) = parsed else {
            errors.push(self.span, "expected a number such as `factor = 2.0`");
            return None;
        };
        if self.value.negative() {
            factor = -factor;
        }
        if !factor.is_finite() {
            errors.push(
                self.span,
                format!(
                    "`factor = {}` is too large to be a finite `f64`; use a number such as `factor = 2.0`",
                    shown(&self.value.lit)
                ),
            );
            None
        } else if factor < 1.0 {
            errors.add(syn::Error::new_spanned(
                self.value.tokens(),
                format!("`factor` must be at least 1.0 (found `{factor}`): a smaller factor would shrink the delays; use `backoff = constant` for equal delays"),
            ));
            None
        } else {
            Some(factor)
        }
    }
}

impl Spanned<Ident> {
    /// The choice of `T` this identifier names (`backoff = linear`).
    fn choice<T: Choice>(&self, errors: &mut Errors) -> Option<T> {
        named_choice(&self.value, self.span, errors)
    }
}

impl Spanned<Option<Ident>> {
    /// `jitter = KIND`, or a bare `jitter`.
    fn jitter(&self, errors: &mut Errors) -> Option<JitterKind> {
        match &self.value {
            None => Some(JitterKind::BARE),
            Some(ident) => named_choice(ident, self.span, errors),
        }
    }
}

/// The choice of `T` written `ident`, or an error at `span` with the closest choice.
fn named_choice<T: Choice>(ident: &Ident, span: Span, errors: &mut Errors) -> Option<T> {
    let name = ident.to_string();
    if let Some(found) = T::from_written(&name) {
        return Some(found);
    }
    let choices = T::written_all();
    let hint = match closest(&name, &choices) {
        Some(best) => format!("did you mean `{best}`? expected one of {}", list(&choices)),
        None => format!("expected one of {}", list(&choices)),
    };
    errors.push(span, format!("unknown {} `{name}`; {hint}", T::KEY.name()));
    None
}

/// The duration `lit` holds, or an error at it saying why it is not one.
fn check_duration(lit: &LitStr, key: Key, errors: &mut Errors) -> Option<Dur> {
    let text = lit.value();
    let message = match duration::parse(&text) {
        Ok(d) => return Some(d),
        Err(DurationError::Negative) => format!(
            "`{}` cannot be negative (found `\"{text}\"`); durations start at `\"0ms\"`",
            key.name()
        ),
        Err(DurationError::Unparsable) => duration::explain_unparsable(&text),
        Err(DurationError::Overflow) => format!(
            "`\"{text}\"` is too long: durations must fit in `std::time::Duration` (about 584 billion years)"
        ),
    };
    errors.push(lit.span(), message);
    None
}

/// Under `hedge` copies of the call run at once, each with its own arguments: a `&mut`
/// argument (or `&mut self`) cannot be lent to all of them. An error at each; not at the
/// `report = NAME` parameter, which the call fills in once the copies are done.
fn check_hedged_arguments(func: &ItemFn, report: Option<&syn::Ident>, errors: &mut Errors) {
    let why = "`hedge` runs copies of the call at once, so each needs its own arguments";
    for input in &func.sig.inputs {
        match input {
            FnArg::Receiver(receiver) => {
                let lends_mut = matches!(
                    &receiver.kind,
                    syn::ReceiverKind::Reference(_, _, Some(_))
                ) || matches!(&receiver.kind, syn::ReceiverKind::Typed(_, ty) if mut_reference_in(ty).is_some());
                if lends_mut {
                    errors.add(syn::Error::new_spanned(
                        receiver,
                        format!("{why}, but `self` is `&mut`: take `&self`, or share the state it changes (`Arc<Mutex<_>>`)"),
                    ));
                }
            }
            FnArg::Typed(arg) if is_named(&arg.pat, report) => {}
            FnArg::Typed(arg) if mut_reference_in(&arg.ty).is_some() => {
                errors.add(syn::Error::new_spanned(
                    arg,
                    format!(
                        "{why}, but `{}` is `&mut`: take `&` or an owned `Clone` value, or share it (`Arc<Mutex<_>>`)",
                        shown(&arg.pat)
                    ),
                ));
            }
            FnArg::Typed(_) => {}
        }
    }
}

/// Whether `pat` is the plain name `name`.
fn is_named(pat: &syn::Pat, name: Option<&syn::Ident>) -> bool {
    matches!((pat, name), (syn::Pat::Ident(pat), Some(name)) if pat.ident == *name)
}

/// What the item is, as far as validation needs to know.
#[derive(Clone, Copy)]
pub struct Shape {
    /// An `async fn`, or the boxed future `#[async_trait]` makes of one.
    pub is_async: bool,
    /// A synchronous function whose body runs a runtime (`#[tokio::main]` above `#[retry]`).
    pub made_sync_by_runtime_macro: bool,
}

impl Shape {
    /// Checks of the function itself: what cannot be retried at all. `None` if it cannot.
    fn of(func: &ItemFn, errors: &mut Errors) -> Option<Shape> {
        let sig = &func.sig;
        let mut ok = true;
        if let Some(constness) = &sig.constness {
            errors.push(
                constness.span,
                "`#[retry]` cannot be used on a `const fn`: retrying sleeps between attempts; remove `const`",
            );
            ok = false;
        }
        if let Some(variadic) = &sig.variadic {
            errors.push(
                variadic.dots.spans[0],
                "`#[retry]` cannot retry a variadic function: the arguments cannot be replayed",
            );
            ok = false;
        }
        check_returned_borrow(func, errors);
        let boxed = async_trait_body(&func.body).is_some();
        let returned = returned_async_block(sig, &func.body).is_some();
        if let (None, false, false, Some(_), ReturnType::Type(_, ret)) = (
            &sig.asyncness,
            boxed,
            returned,
            future_output(sig),
            &sig.output,
        ) {
            errors.add(syn::Error::new_spanned(
                ret,
                "`#[retry]` on a function returning `impl Future` needs its whole body to be one `async move { .. }` block (each attempt runs that block); or make it an `async fn`",
            ));
            ok = false;
        }
        ok.then_some(Shape {
            is_async: sig.asyncness.is_some() || boxed || returned,
            made_sync_by_runtime_macro: sig.asyncness.is_none()
                && mentions_ident(&func.body, "block_on"),
        })
    }
}

/// A function returning a borrow of one of its `&mut` arguments (`-> Result<&mut Conn, E>`
/// with `&mut self`) cannot be retried: the loop must lend the argument to the next attempt
/// after an attempt that may have returned a borrow of it, which the borrow checker rejects
/// (its known "conditional return in a loop" limitation) in every expansion that has a loop.
fn check_returned_borrow(func: &ItemFn, errors: &mut Errors) {
    let ReturnType::Type(_, ret) = &func.sig.output else {
        return;
    };
    let lends_mut = func.sig.inputs.iter().any(|input| match input {
        FnArg::Receiver(receiver) => {
            matches!(&receiver.kind, syn::ReceiverKind::Reference(_, _, Some(_)))
                || matches!(&receiver.kind, syn::ReceiverKind::Typed(_, ty) if mut_reference_in(ty).is_some())
        }
        FnArg::Typed(arg) => mut_reference_in(&arg.ty).is_some(),
    });
    let returns_a_borrow_of_it =
        mut_reference_in(ret).is_some() || borrows_from_a_mut_argument(&func.sig, ret);
    if lends_mut && returns_a_borrow_of_it {
        errors.add(syn::Error::new_spanned(
            ret,
            "`#[retry]` cannot return a borrow of a `&mut` argument: each retry lends that argument again, and Rust's borrow checker cannot see that a returned borrow ended the loop; return an owned value (or an index), or retry a helper that does and borrow after the call",
        ));
    }
}

/// Whether the return type `ret` borrows from a `&mut` argument, by the lifetimes written or
/// elided: a named lifetime that a `&mut` argument has, or an elided one that elision ties to
/// `&mut self` (or to the only borrowed argument, when that is a `&mut`).
fn borrows_from_a_mut_argument(sig: &syn::Signature, ret: &Type) -> bool {
    let returned = borrowed_lifetimes(quote::ToTokens::to_token_stream(ret));
    if returned.is_empty() {
        return false;
    }
    let mut mut_lifetimes = Vec::new();
    let (mut borrowed_inputs, mut mut_inputs, mut mut_self, mut has_self) = (0, 0, false, false);
    for input in &sig.inputs {
        let (tokens, is_mut) = match input {
            FnArg::Receiver(receiver) => {
                let (borrowed, is_mut) = match &receiver.kind {
                    syn::ReceiverKind::Reference(_, _, mutability) => (true, mutability.is_some()),
                    syn::ReceiverKind::Typed(_, ty) => {
                        let tokens = quote::ToTokens::to_token_stream(ty);
                        (
                            tokens.to_string().contains('&'),
                            first_mut_reference(tokens).is_some(),
                        )
                    }
                    _ => (false, false),
                };
                has_self = borrowed;
                mut_self = is_mut;
                let tokens = if borrowed {
                    quote::quote!(&Self)
                } else {
                    quote::quote!()
                };
                (tokens, is_mut)
            }
            FnArg::Typed(arg) => {
                let tokens = quote::ToTokens::to_token_stream(&arg.ty);
                let is_mut = first_mut_reference(tokens.clone()).is_some();
                (tokens, is_mut)
            }
        };
        let lifetimes = borrowed_lifetimes(tokens);
        borrowed_inputs += usize::from(!lifetimes.is_empty());
        if is_mut {
            mut_inputs += 1;
            mut_lifetimes.extend(lifetimes.into_iter().flatten());
        }
    }
    // Elided output lifetimes come from `&self` / `&mut self`, else from the only borrowed
    // argument.
    let elision_ties_to_a_mut = if has_self {
        mut_self
    } else {
        borrowed_inputs == 1 && mut_inputs == 1
    };
    returned.iter().any(|lifetime| match lifetime {
        Some(name) => mut_lifetimes.contains(name),
        None => elision_ties_to_a_mut,
    })
}

/// The span of a type holding a `&mut` (or `Pin<&mut …>`), if it holds one.
fn mut_reference_in(ty: &Type) -> Option<Span> {
    first_mut_reference(quote::ToTokens::to_token_stream(ty)).map(|_| ty.span())
}
