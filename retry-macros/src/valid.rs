//! Stage 2: check every argument and the rules between them, producing a typed [`Config`].

use proc_macro2::Span;
use syn::{Expr, Lit, LitStr};

use crate::attr::{closest, list, Args, Filter, Number, Spanned};
use crate::duration::{self, Dur, DurationError};

/// Backoff strategy names, as written in `backoff = …`.
pub const BACKOFFS: &[&str] = &["exponential", "constant", "linear", "fibonacci"];
/// Jitter kind names, as written in `jitter = …`.
pub const JITTERS: &[&str] = &["full", "equal", "decorrelated", "none"];

/// Where the policy comes from.
pub enum PolicySource {
    /// Built from `attempts`, `base`, … at compile time.
    Keys(KeyPolicy),
    /// `policy = EXPR`, evaluated at call time; `is_const` when the expression names a
    /// `const`-looking path, which is then also checked at compile time.
    Expr { expr: Expr, deadline: Option<Dur> },
}

/// A policy fully known at compile time. Every field is validated.
pub struct KeyPolicy {
    pub attempts: u32,
    pub base: Option<Dur>,
    pub max: Option<Dur>,
    pub factor: Option<f64>,
    /// Index into [`BACKOFFS`].
    pub backoff: Option<&'static str>,
    /// Index into [`JITTERS`].
    pub jitter: Option<&'static str>,
    pub deadline: Option<Dur>,
}

/// The validated configuration handed to code generation.
pub struct Config {
    pub policy: PolicySource,
    /// Path to the runtime crate.
    pub krate: syn::Path,
    /// `timeout = "…"` and the span of its key (for trait-bound errors).
    pub timeout: Option<(Dur, Span)>,
    /// `on = …`: retry only errors matching it.
    pub on: Option<Filter>,
    /// `unless = …`: never retry errors matching it.
    pub unless: Option<Filter>,
    /// `when = …`: a predicate over `&E`.
    pub when: Option<Expr>,
    /// `classify`: the span of the flag.
    pub classify: Option<Span>,
    /// `context = name`.
    pub context: Option<syn::Ident>,
    /// `on_retry = …`: a hook over `(&E, &RetryInfo)`.
    pub on_retry: Option<Expr>,
    /// `budget = …`: a shared `RetryBudget`.
    pub budget: Option<Expr>,
}

/// Collects errors so that every bad argument is reported at once.
#[derive(Default)]
struct Errors(Vec<syn::Error>);

impl Errors {
    fn push(&mut self, span: Span, message: impl std::fmt::Display) {
        self.add(syn::Error::new(span, message));
    }

    fn add(&mut self, err: syn::Error) {
        self.0.extend(err);
    }

    /// All errors as one, in source order (where the compiler reports positions).
    fn into_error(mut self) -> Option<syn::Error> {
        self.0.sort_by_key(|err| {
            let start = err.span().start();
            (start.line, start.column)
        });
        let mut errors = self.0.into_iter();
        let mut all = errors.next()?;
        for err in errors {
            all.combine(err);
        }
        Some(all)
    }
}

/// Checks `args` (plus the errors the parser already found) and builds the [`Config`].
pub fn build(
    args: Args,
    parse_errors: Vec<syn::Error>,
    is_async: bool,
) -> Result<Config, syn::Error> {
    let mut errors = Errors::default();
    for err in parse_errors {
        errors.add(err);
    }

    let attempts = args
        .attempts
        .as_ref()
        .and_then(|a| check_attempts(a, &mut errors));
    let base = args
        .base
        .as_ref()
        .and_then(|d| check_duration(d, "base", &mut errors));
    let max = args
        .max
        .as_ref()
        .and_then(|d| check_duration(d, "max", &mut errors));
    let deadline = args
        .deadline
        .as_ref()
        .and_then(|d| check_duration(d, "deadline", &mut errors));
    let factor = args
        .factor
        .as_ref()
        .and_then(|f| check_factor(f, &mut errors));
    let backoff = args
        .backoff
        .as_ref()
        .and_then(|b| check_choice(&b.value, b.span, "backoff", BACKOFFS, &mut errors));
    let jitter = match &args.jitter {
        Some(Spanned { value: None, .. }) => Some("full"),
        Some(Spanned {
            value: Some(ident),
            span,
            ..
        }) => check_choice(ident, *span, "jitter", JITTERS, &mut errors),
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
        if backoff != "exponential" {
            errors.push(
                factor_arg.key,
                format!("`factor` only applies to `backoff = exponential`; remove it or change `backoff = {backoff}`"),
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

    let timeout = args
        .timeout
        .as_ref()
        .and_then(|d| check_duration(d, "timeout", &mut errors));
    if let (Some(timeout), Some(arg)) = (timeout, &args.timeout) {
        if timeout.as_nanos() == 0 {
            errors.push(
                arg.span,
                "`timeout = \"0ms\"` would cut off every attempt at once; give each attempt some time, such as `timeout = \"2s\"`",
            );
        }
        if !is_async {
            errors.push(
                arg.key,
                "`timeout` needs an `async fn`: a blocking call cannot be cut off; make the function `async` or remove `timeout`",
            );
        }
    }
    for (name, filter) in [("on", &args.on), ("unless", &args.unless)] {
        if let Some(filter) = filter {
            check_filter(name, filter, &mut errors);
        }
    }

    if let Some(err) = errors.into_error() {
        return Err(err);
    }

    let krate = match args.krate {
        Some(k) => k.value,
        None => syn::parse_quote!(::retry_runtime),
    };
    let policy = match args.policy {
        Some(policy) => PolicySource::Expr {
            expr: policy.value,
            deadline,
        },
        None => PolicySource::Keys(KeyPolicy {
            attempts: attempts.unwrap_or(3),
            base,
            max,
            factor,
            backoff,
            jitter,
            deadline,
        }),
    };
    Ok(Config {
        policy,
        krate,
        timeout: timeout.zip(args.timeout.map(|t| t.key)),
        on: args.on.map(|f| f.value),
        unless: args.unless.map(|f| f.value),
        when: args.when.map(|w| w.value),
        classify: args.classify.map(|c| c.key),
        context: args.context.map(|c| c.value),
        on_retry: args.on_retry.map(|h| h.value),
        budget: args.budget.map(|b| b.value),
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

fn check_choice(
    ident: &syn::Ident,
    span: Span,
    key: &str,
    choices: &[&'static str],
    errors: &mut Errors,
) -> Option<&'static str> {
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
