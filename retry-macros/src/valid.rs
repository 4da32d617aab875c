//! Stage 2: validate. Every argument, the rules between them and the item itself are checked,
//! producing a typed [`Config`]; every problem goes to the one error sink.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::spanned::Spanned as _;
use syn::{Expr, FnArg, Lit, LitStr, ReturnType, Type};

use crate::duration::{self, Dur, DurationError};
use crate::errors::Errors;
use crate::parse::{
    async_trait_body, future_output, returned_async_block, Args, Filter, ItemFn, Number, Spanned,
    Timeout,
};
use crate::vocab::{closest, find, list, BackoffKind, JitterKind};

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
    /// `fallback = …`: answers the final error.
    pub fallback: Option<Expr>,
}

/// Checks `args` against each other and against the item, and builds the [`Config`]; `None`
/// when anything was wrong (the reasons are in `errors`).
pub fn config(args: Args, func: &ItemFn, errors: &mut Errors) -> Option<Config> {
    let shape = check_item(func, errors);
    let is_async = shape.is_some_and(|s| s.is_async);
    let errors = &mut *errors;

    let attempts = args
        .attempts
        .as_ref()
        .and_then(|a| check_attempts(a, errors));
    let base = args
        .base
        .as_ref()
        .and_then(|d| check_duration(d, "base", errors));
    let max = args
        .max
        .as_ref()
        .and_then(|d| check_duration(d, "max", errors));
    let deadline = args
        .deadline
        .as_ref()
        .and_then(|d| check_duration(d, "deadline", errors));
    let max_hint = args
        .max_hint
        .as_ref()
        .and_then(|d| check_duration(d, "max_hint", errors));
    let factor = args.factor.as_ref().and_then(|f| check_factor(f, errors));
    let backoff = args.backoff.as_ref().and_then(|b| {
        check_choice(&b.value, b.span, "backoff", &BackoffKind::names(), errors)
            .and_then(|name| find(&BackoffKind::ALL, BackoffKind::name, name))
    });
    let jitter = match &args.jitter {
        Some(Spanned { value: None, .. }) => Some(JitterKind::Full),
        Some(Spanned {
            value: Some(ident),
            span,
            ..
        }) => check_choice(ident, *span, "jitter", &JitterKind::names(), errors)
            .and_then(|name| find(&JitterKind::ALL, JitterKind::name, name)),
        None => None,
    };

    // Rules between arguments.
    if let (Some(base), Some(max), Some(max_arg)) = (base, max, &args.max) {
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
    if let (Some(factor_arg), Some(backoff)) = (&args.factor, backoff) {
        if backoff != BackoffKind::Exponential {
            errors.push(
                factor_arg.key,
                format!("`factor` only applies to `backoff = exponential`; remove it or change `backoff = {}`", backoff.name()),
            );
        }
    }
    if args.policy.is_some() {
        let keys = [
            ("attempts", args.attempts.as_ref().map(|a| a.key)),
            ("base", args.base.as_ref().map(|a| a.key)),
            ("max", args.max.as_ref().map(|a| a.key)),
            ("factor", args.factor.as_ref().map(|a| a.key)),
            ("backoff", args.backoff.as_ref().map(|a| a.key)),
            ("jitter", args.jitter.as_ref().map(|a| a.key)),
        ];
        for (name, key) in keys {
            if let Some(span) = key {
                errors.push(
                    span,
                    format!("`{name}` cannot be combined with `policy`; set it on the `Policy` value instead"),
                );
            }
        }
    }

    let timeout = args.timeout.as_ref().and_then(|arg| match &arg.value {
        Timeout::Literal(lit) => {
            let spanned = Spanned {
                value: lit.clone(),
                key: arg.key,
                span: arg.span,
            };
            let d = check_duration(&spanned, "timeout", errors)?;
            if d.as_nanos() == 0 {
                errors.push(
                    arg.span,
                    "`timeout = \"0ms\"` would cut off every attempt at once; give each attempt some time, such as `timeout = \"2s\"`",
                );
            }
            Some(TimeoutValue::Literal(d))
        }
        Timeout::Expr(expr) => Some(TimeoutValue::Expr(expr.clone())),
    });
    if let Some(arg) = &args.timeout {
        if !is_async && shape.is_some() {
            let message = if shape.is_some_and(|s| s.made_sync_by_runtime_macro) {
                "`timeout` needs an `async fn`, and `#[tokio::main]` or `#[tokio::test]` above `#[retry]` has already made this function synchronous; put `#[retry]` above it, so that it sees the `async fn`"
            } else {
                "`timeout` needs an `async fn`: a blocking call cannot be cut off; make the function `async` or remove `timeout`"
            };
            errors.push(arg.key, message);
        }
    }
    if let (Some(key), None) = (&args.idempotency_key, &args.context) {
        errors.push(
            key.key,
            "`idempotency_key` is read through the attempt context: add `context = attempt` and send `attempt.idempotency_key()` with the request",
        );
    }
    for (name, filter) in [("on", &args.on), ("unless", &args.unless)] {
        if let Some(filter) = filter {
            check_filter(name, filter, errors);
        }
    }

    if !errors.is_empty() {
        return None;
    }

    let krate = match args.krate {
        Some(k) => k.value,
        None => syn::parse_quote!(::retry_runtime),
    };
    let policy = match args.policy {
        Some(policy) => PolicySource::Expr {
            expr: policy.value,
            deadline,
            max_hint,
        },
        None => PolicySource::Keys(KeyPolicy {
            attempts: attempts.unwrap_or(3),
            base,
            max,
            factor,
            backoff,
            jitter,
            deadline,
            max_hint,
        }),
    };
    Some(Config {
        policy,
        krate,
        timeout: timeout.zip(args.timeout.map(|t| t.key)),
        on: args.on.map(|f| f.value),
        unless: args.unless.map(|f| f.value),
        when: args.when.map(|w| w.value),
        classify: args.classify.map(|c| c.key),
        until: args.until.map(|u| u.value),
        classify_ok: args.classify_ok.map(|c| c.key),
        context: args.context.map(|c| c.value),
        idempotency_key: args.idempotency_key.map(|k| k.value),
        on_retry: args.on_retry.map(|h| h.value),
        budget: args.budget.map(|b| b.value),
        breaker: args.breaker.map(|b| b.value),
        fallback: args.fallback.map(|f| f.value),
    })
}

/// Rejects a pattern that matches every error (`on = e`, `on = _`) when it has no guard: such a
/// filter decides nothing.
fn check_filter(name: &str, filter: &Spanned<Filter>, errors: &mut Errors) {
    if filter.value.guard.is_some() {
        return;
    }
    let shown = match &filter.value.pat {
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
    let effect = if name == "on" {
        "so it filters nothing (retrying every error is already the default)"
    } else {
        "so nothing would ever be retried"
    };
    errors.push(
        filter.span,
        format!(
            "`{name} = {shown}` matches every error, {effect}; name the variants to match (`{name} = MyError::Timeout | MyError::Io(_)`), or decide with code: `when = |e| ...`"
        ),
    );
}

fn check_attempts(arg: &Spanned<Number>, errors: &mut Errors) -> Option<u32> {
    let span = arg.span;
    let Lit::Int(int) = &arg.value.lit else {
        let shown = quote::ToTokens::to_token_stream(&arg.value.lit).to_string();
        errors.push(
            span,
            format!("`attempts` counts calls, so it must be a whole number such as `attempts = 3`, found `{shown}`"),
        );
        return None;
    };
    if arg.value.negative() {
        errors.add(syn::Error::new_spanned(
            arg.value.tokens(),
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

fn check_duration(arg: &Spanned<LitStr>, key: &str, errors: &mut Errors) -> Option<Dur> {
    let text = arg.value.value();
    match duration::parse(&text) {
        Ok(d) => Some(d),
        Err(DurationError::Negative) => {
            errors.push(
                arg.span,
                format!(
                    "`{key}` cannot be negative (found `\"{text}\"`); durations start at `\"0ms\"`"
                ),
            );
            None
        }
        Err(DurationError::Unparsable) => {
            errors.push(arg.span, duration::explain_unparsable(&text));
            None
        }
        Err(DurationError::Overflow) => {
            errors.push(
                arg.span,
                format!("`\"{text}\"` is too long: durations must fit in `std::time::Duration` (about 584 billion years)"),
            );
            None
        }
    }
}

fn check_factor(arg: &Spanned<Number>, errors: &mut Errors) -> Option<f64> {
    let parsed = match &arg.value.lit {
        Lit::Int(int) => int.base10_parse::<f64>().ok(),
        Lit::Float(float) => float.base10_parse::<f64>().ok(),
        _ => None,
    };
    let Some(mut factor) = parsed else {
        errors.push(arg.span, "expected a number such as `factor = 2.0`");
        return None;
    };
    if arg.value.negative() {
        factor = -factor;
    }
    if !factor.is_finite() {
        let shown = quote::ToTokens::to_token_stream(&arg.value.lit).to_string();
        errors.push(
            arg.span,
            format!("`factor = {shown}` is too large to be a finite `f64`; use a number such as `factor = 2.0`"),
        );
        None
    } else if factor < 1.0 {
        errors.add(syn::Error::new_spanned(
            arg.value.tokens(),
            format!("`factor` must be at least 1.0 (found `{factor}`): a smaller factor would shrink the delays; use `backoff = constant` for equal delays"),
        ));
        None
    } else {
        Some(factor)
    }
}

fn check_choice<'a>(
    ident: &syn::Ident,
    span: Span,
    key: &str,
    choices: &[&'a str],
    errors: &mut Errors,
) -> Option<&'a str> {
    let name = ident.to_string();
    if let Some(found) = choices.iter().find(|choice| **choice == name) {
        return Some(found);
    }
    let hint = match closest(&name, choices) {
        Some(best) => format!("did you mean `{best}`? expected one of {}", list(choices)),
        None => format!("expected one of {}", list(choices)),
    };
    errors.push(span, format!("unknown {key} `{name}`; {hint}"));
    None
}

/// What the item is, as far as validation needs to know.
#[derive(Clone, Copy)]
pub struct Shape {
    /// An `async fn`, or the boxed future `#[async_trait]` makes of one.
    pub is_async: bool,
    /// A synchronous function whose body runs a runtime (`#[tokio::main]` above `#[retry]`).
    pub made_sync_by_runtime_macro: bool,
}

/// Checks of the function itself: what cannot be retried at all. `None` if it cannot.
fn check_item(func: &ItemFn, errors: &mut Errors) -> Option<Shape> {
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

/// A function returning a borrow of one of its `&mut` arguments (`-> Result<&mut Conn, E>`
/// with `&mut self`) cannot be retried: the loop must lend the argument to the next attempt
/// after an attempt that may have returned a borrow of it, which the borrow checker rejects
/// (its known "conditional return in a loop" limitation) in every expansion that has a loop.
fn check_returned_borrow(func: &ItemFn, errors: &mut Errors) {
    let ReturnType::Type(_, ret) = &func.sig.output else {
        return;
    };
    if mut_reference_in(ret).is_none() {
        return;
    }
    let lends_mut = func.sig.inputs.iter().any(|input| match input {
        FnArg::Receiver(receiver) => {
            matches!(&receiver.kind, syn::ReceiverKind::Reference(_, _, Some(_)))
                || matches!(&receiver.kind, syn::ReceiverKind::Typed(_, ty) if mut_reference_in(ty).is_some())
        }
        FnArg::Typed(arg) => mut_reference_in(&arg.ty).is_some(),
    });
    if lends_mut {
        errors.add(syn::Error::new_spanned(
            ret,
            "`#[retry]` cannot return a borrow of a `&mut` argument: each retry lends that argument again, and Rust's borrow checker cannot see that a returned borrow ended the loop; return an owned value (or an index), or retry a helper that does and borrow after the call",
        ));
    }
}

/// The span of the first `&mut` (or `Pin<&mut …>`) in a type.
fn mut_reference_in(ty: &Type) -> Option<Span> {
    fn walk(tokens: TokenStream) -> Option<Span> {
        let mut previous_and: Option<Span> = None;
        let mut lifetime_pending = false;
        for tt in tokens {
            match &tt {
                TokenTree::Punct(p) if p.as_char() == '&' => {
                    previous_and = Some(p.span());
                    lifetime_pending = false;
                    continue;
                }
                TokenTree::Punct(p) if p.as_char() == '\'' && previous_and.is_some() => {
                    lifetime_pending = true;
                    continue;
                }
                TokenTree::Ident(ident) if previous_and.is_some() => {
                    if ident == "mut" {
                        return previous_and;
                    }
                    if lifetime_pending {
                        lifetime_pending = false;
                        continue;
                    }
                }
                TokenTree::Group(group) => {
                    if let Some(span) = walk(group.stream()) {
                        return Some(span);
                    }
                }
                _ => {}
            }
            previous_and = None;
            lifetime_pending = false;
        }
        None
    }
    walk(quote::ToTokens::to_token_stream(ty)).map(|_| ty.span())
}

/// Whether `ident` occurs anywhere in `tokens`.
fn mentions_ident(tokens: &TokenStream, ident: &str) -> bool {
    tokens.clone().into_iter().any(|tt| match tt {
        TokenTree::Ident(i) => i == ident,
        TokenTree::Group(g) => mentions_ident(&g.stream(), ident),
        _ => false,
    })
}
