//! Stage 1: parse the attribute's arguments into [`Args`], keeping every span.
//!
//! Parsing is forgiving: a bad argument is recorded as an error and parsing goes on with the
//! next one, so that every bad argument is reported at once.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::ext::IdentExt;
use syn::parse::discouraged::Speculative;
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned as _;
use syn::{Expr, Ident, Lit, LitStr, Pat, Token};

/// Every key `#[retry(...)]` accepts, for "did you mean" suggestions.
pub const KEYS: &[&str] = &[
    "attempts", "base", "max", "factor", "backoff", "jitter", "deadline", "timeout", "on",
    "unless", "when", "classify", "context", "on_retry", "budget", "policy", "crate",
];

/// A value together with the span of its key and of the value itself.
pub struct Spanned<T> {
    /// The parsed value.
    pub value: T,
    /// The key's span (`attempts` in `attempts = 3`).
    pub key: Span,
    /// The value's span (`3`), or the key's for flags.
    pub span: Span,
}

/// A number as written: `3`, `-3`, `1.5`, `-0.5`.
pub struct Number {
    /// The literal (integer or float).
    pub lit: Lit,
    /// The `-` before it, if any.
    pub minus: Option<Token![-]>,
}

impl Number {
    /// Whether a `-` preceded the literal.
    pub fn negative(&self) -> bool {
        self.minus.is_some()
    }

    /// The number's tokens, `-` included, for errors that underline all of it.
    pub fn tokens(&self) -> TokenStream {
        let (minus, lit) = (&self.minus, &self.lit);
        quote::quote!(#minus #lit)
    }
}

/// The raw arguments, as written, before any cross-argument check.
#[derive(Default)]
pub struct Args {
    pub attempts: Option<Spanned<Number>>,
    pub base: Option<Spanned<LitStr>>,
    pub max: Option<Spanned<LitStr>>,
    pub factor: Option<Spanned<Number>>,
    pub backoff: Option<Spanned<Ident>>,
    /// `None` inside for a bare `jitter` flag.
    pub jitter: Option<Spanned<Option<Ident>>>,
    pub deadline: Option<Spanned<LitStr>>,
    pub timeout: Option<Spanned<LitStr>>,
    pub on: Option<Spanned<Filter>>,
    pub unless: Option<Spanned<Filter>>,
    pub when: Option<Spanned<Expr>>,
    pub classify: Option<Spanned<()>>,
    pub context: Option<Spanned<Ident>>,
    pub on_retry: Option<Spanned<Expr>>,
    pub budget: Option<Spanned<Expr>>,
    pub policy: Option<Spanned<Expr>>,
    pub krate: Option<Spanned<syn::Path>>,
}

/// `on = PATTERN` or `unless = PATTERN`, with an optional `if` guard.
pub struct Filter {
    /// The pattern, matched against `&E`.
    pub pat: Pat,
    /// The guard after `if`, if any.
    pub guard: Option<Expr>,
}

/// Parses the attribute arguments. Returns what could be parsed and every error found.
pub fn parse(args: TokenStream) -> (Args, Vec<syn::Error>) {
    let mut out = Args::default();
    let mut errors = Vec::new();
    let parser = |input: ParseStream| {
        parse_all(input, &mut out, &mut errors);
        Ok(())
    };
    if let Err(err) = parser.parse2(args) {
        errors.push(err);
    }
    (out, errors)
}

fn parse_all(input: ParseStream, out: &mut Args, errors: &mut Vec<syn::Error>) {
    while !input.is_empty() {
        if let Err(err) = parse_one(input, out) {
            errors.push(err);
            skip_to_comma(input);
        }
        if input.is_empty() {
            break;
        }
        if let Err(err) = input.parse::<Token![,]>() {
            errors.push(syn::Error::new(
                err.span(),
                "expected `,` between `#[retry]` arguments",
            ));
            skip_to_comma(input);
            let _ = input.parse::<Token![,]>();
        }
    }
}

/// Skips the rest of a bad argument, up to (not including) the next top-level `,`.
fn skip_to_comma(input: ParseStream) {
    let _ = input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((tt, next)) = rest.token_tree() {
            if matches!(&tt, TokenTree::Punct(p) if p.as_char() == ',') {
                break;
            }
            rest = next;
        }
        Ok(((), rest))
    });
}

fn parse_one(input: ParseStream, out: &mut Args) -> syn::Result<()> {
    let key = match input.call(Ident::parse_any) {
        Ok(key) => key,
        Err(_) => {
            let tt: TokenTree = input.parse()?;
            return Err(syn::Error::new(
                tt.span(),
                format!(
                    "expected an argument name such as `attempts`, found `{tt}`; \
                     arguments are written `key = value` or as a bare flag such as `jitter`"
                ),
            ));
        }
    };
    let name = key.to_string();
    let has_value = input.peek(Token![=]);
    if has_value {
        input.parse::<Token![=]>()?;
    }
    let needs_value = |what: &str| -> syn::Result<()> {
        if has_value {
            Ok(())
        } else {
            Err(syn::Error::new(
                key.span(),
                format!("`{name}` needs a value: write `{name} = {what}`"),
            ))
        }
    };
    match name.as_str() {
        "attempts" => {
            needs_value("3")?;
            let value = number(input, "an integer literal such as `attempts = 3`")?;
            set(&mut out.attempts, &key, value)
        }
        "base" | "max" | "deadline" | "timeout" => {
            needs_value("\"200ms\"")?;
            let lit = duration_lit(input, &name)?;
            let slot = match name.as_str() {
                "base" => &mut out.base,
                "max" => &mut out.max,
                "timeout" => &mut out.timeout,
                _ => &mut out.deadline,
            };
            set(slot, &key, lit)
        }
        "on" | "unless" => {
            needs_value("MyError::Timeout | MyError::Io(_)")?;
            let pat = Pat::parse_multi_with_leading_vert(input)?;
            let guard = if input.peek(Token![if]) {
                input.parse::<Token![if]>()?;
                Some(input.parse::<Expr>()?)
            } else {
                None
            };
            let span = pat.span();
            let slot = if name == "on" {
                &mut out.on
            } else {
                &mut out.unless
            };
            set_spanned(slot, &key, Filter { pat, guard }, span)
        }
        "when" | "on_retry" | "budget" => {
            let example = match name.as_str() {
                "when" => "|e| e.is_transient()",
                "on_retry" => "|e, info| eprintln!(\"{e}, retrying in {:?}\", info.delay())",
                _ => "MY_BUDGET",
            };
            needs_value(example)?;
            let expr: Expr = input.parse()?;
            let span = expr.span();
            let slot = match name.as_str() {
                "when" => &mut out.when,
                "on_retry" => &mut out.on_retry,
                _ => &mut out.budget,
            };
            set_spanned(slot, &key, expr, span)
        }
        "classify" => {
            if has_value {
                let value: Expr = input.parse()?;
                return Err(syn::Error::new_spanned(
                    value,
                    "`classify` is a flag and takes no value: write `classify` alone",
                ));
            }
            set_spanned(&mut out.classify, &key, (), key.span())
        }
        "context" => {
            needs_value("attempt")?;
            let value: Expr = input.parse()?;
            match &value {
                Expr::Path(path)
                    if path.qself.is_none()
                        && path.attrs.is_empty()
                        && path.path.get_ident().is_some() =>
                {
                    let ident = path
                        .path
                        .get_ident()
                        .cloned()
                        .unwrap_or_else(|| key.clone());
                    let span = ident.span();
                    set_spanned(&mut out.context, &key, ident, span)
                }
                other => {
                    let shown = quote::ToTokens::to_token_stream(other).to_string();
                    Err(syn::Error::new_spanned(
                        other,
                        format!("`context` takes a name to bind the attempt to, such as `context = attempt`, found `{shown}`"),
                    ))
                }
            }
        }
        "factor" => {
            needs_value("2.0")?;
            let value = number(input, "a number such as `factor = 2.0`")?;
            set(&mut out.factor, &key, value)
        }
        "backoff" => {
            needs_value("exponential")?;
            let ident = choice(input, "backoff", crate::valid::BACKOFFS)?;
            set(&mut out.backoff, &key, ident)
        }
        "jitter" => {
            if has_value {
                let ident = choice(input, "jitter", crate::valid::JITTERS)?;
                let span = ident.span();
                set_spanned(&mut out.jitter, &key, Some(ident), span)
            } else {
                set_spanned(&mut out.jitter, &key, None, key.span())
            }
        }
        "policy" => {
            needs_value("MY_POLICY")?;
            let expr: Expr = input.parse()?;
            let span = expr.span();
            set_spanned(&mut out.policy, &key, expr, span)
        }
        "crate" => {
            needs_value("\"::retry_runtime\"")?;
            let lit: LitStr = input.parse().map_err(|err| {
                syn::Error::new(
                    err.span(),
                    "expected the runtime crate's path as a string, such as `crate = \"::retry_runtime\"`",
                )
            })?;
            let path: syn::Path = lit.parse().map_err(|_| {
                syn::Error::new(
                    lit.span(),
                    format!(
                        "`{}` is not a path; expected something like `crate = \"::retry_runtime\"`",
                        lit.value()
                    ),
                )
            })?;
            set_spanned(&mut out.krate, &key, path, lit.span())
        }
        _ => {
            if has_value {
                // Skip the value; an expression may hold commas (`|a, b| ...`).
                let fork = input.fork();
                if fork.parse::<Expr>().is_ok() {
                    input.advance_to(&fork);
                } else {
                    skip_to_comma(input);
                }
            }
            Err(syn::Error::new(key.span(), unknown_key_message(&name)))
        }
    }
}

/// "unknown argument" with the closest known key, if one is close.
fn unknown_key_message(name: &str) -> String {
    match closest(name, KEYS) {
        Some(best) => format!("unknown `#[retry]` argument `{name}`; did you mean `{best}`?"),
        None => format!(
            "unknown `#[retry]` argument `{name}`; expected one of {}",
            list(KEYS)
        ),
    }
}

/// `a`, `b`, `c` for error messages.
pub fn list(items: &[&str]) -> String {
    items
        .iter()
        .map(|item| format!("`{item}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a typo.
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|candidate| (edit_distance(word, candidate), *candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len().max(3) / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance, counting an adjacent transposition as one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

fn set<T: Spannable>(slot: &mut Option<Spanned<T>>, key: &Ident, value: T) -> syn::Result<()> {
    let span = value.value_span();
    set_spanned(slot, key, value, span)
}

fn set_spanned<T>(
    slot: &mut Option<Spanned<T>>,
    key: &Ident,
    value: T,
    span: Span,
) -> syn::Result<()> {
    if slot.is_some() {
        return Err(syn::Error::new(
            key.span(),
            format!("`{key}` is given more than once; keep only one"),
        ));
    }
    *slot = Some(Spanned {
        value,
        key: key.span(),
        span,
    });
    Ok(())
}

/// Things whose span is the value's span.
trait Spannable {
    fn value_span(&self) -> Span;
}

impl Spannable for Number {
    fn value_span(&self) -> Span {
        self.lit.span()
    }
}

impl Spannable for LitStr {
    fn value_span(&self) -> Span {
        self.span()
    }
}

impl Spannable for Ident {
    fn value_span(&self) -> Span {
        self.span()
    }
}

/// A possibly negated numeric literal.
fn number(input: ParseStream, expected: &str) -> syn::Result<Number> {
    let minus: Option<Token![-]> = input.parse()?;
    let fail = |span: Span, found: String| {
        syn::Error::new(span, format!("expected {expected}, found {found}"))
    };
    if input.peek(Lit) {
        let lit: Lit = input.parse()?;
        match lit {
            Lit::Int(_) | Lit::Float(_) => Ok(Number { lit, minus }),
            other => {
                let shown = quote::ToTokens::to_token_stream(&other).to_string();
                let hint = match &other {
                    Lit::Str(s) if s.value().trim().parse::<f64>().is_ok() => "; remove the quotes",
                    _ => "",
                };
                Err(fail(other.span(), format!("`{shown}`{hint}")))
            }
        }
    } else {
        let expr: Expr = input.parse()?;
        let shown = quote::ToTokens::to_token_stream(&expr).to_string();
        Err(syn::Error::new_spanned(
            expr,
            format!("expected {expected}, found `{shown}`; only literals can be checked at compile time (for a value known at run time, use `policy = …`)"),
        ))
    }
}

/// A string literal holding a duration.
fn duration_lit(input: ParseStream, key: &str) -> syn::Result<LitStr> {
    if input.peek(LitStr) {
        return input.parse();
    }
    let expr: Expr = input.parse()?;
    let shown = quote::ToTokens::to_token_stream(&expr).to_string();
    let message = match &expr {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(int), ..
        }) => {
            let n = int.base10_digits();
            format!("`{key}` needs a unit: write `{key} = \"{n}ms\"` or `{key} = \"{n}s\"` (units: {})", crate::duration::UNITS)
        }
        Expr::Lit(syn::ExprLit {
            lit: Lit::Float(float), ..
        }) => {
            let n = float.base10_digits();
            format!("`{key}` needs a unit: write `{key} = \"{n}s\"` or `{key} = \"{n}ms\"` (units: {})", crate::duration::UNITS)
        }
        Expr::Lit(_) => {
            format!("expected a duration string such as `{key} = \"200ms\"`, found `{shown}`")
        }
        _ => format!(
            "expected a duration string such as `{key} = \"200ms\"`, found `{shown}`; only literals can be checked at compile time (for a value known at run time, use `policy = …`)"
        ),
    };
    Err(syn::Error::new_spanned(expr, message))
}

/// An identifier naming one of `choices`.
fn choice(input: ParseStream, key: &str, choices: &[&str]) -> syn::Result<Ident> {
    if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        let value = lit.value();
        return Err(syn::Error::new(
            lit.span(),
            format!("`{key}` takes a name, not a string: write `{key} = {value}`"),
        ));
    }
    let ident = input.call(Ident::parse_any).map_err(|err| {
        syn::Error::new(
            err.span(),
            format!("expected one of {} after `{key} =`", list(choices)),
        )
    })?;
    Ok(ident)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(closest("atempts", KEYS), Some("attempts"));
        assert_eq!(closest("attemtps", KEYS), Some("attempts"));
        assert_eq!(closest("bsae", KEYS), Some("base"));
        assert_eq!(closest("jiter", KEYS), Some("jitter"));
        assert_eq!(closest("retries", KEYS), None);
        assert_eq!(closest("x", KEYS), None);
    }
}
