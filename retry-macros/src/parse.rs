//! Stage 1: parse. The attribute's arguments become [`Args`] (raw values, every span kept) and
//! the item becomes an [`ItemFn`] whose body stays tokens.
//!
//! Parsing is forgiving: a bad argument is recorded in the error sink and parsing goes on with
//! the next one, so that every bad argument is reported at once. The body is never parsed: if
//! it holds a syntax error, the item is emitted untouched and rustc reports that error alone.

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use syn::ext::IdentExt;
use syn::parse::discouraged::Speculative;
use syn::parse::{Parse, ParseStream, Parser};
use syn::spanned::Spanned as _;
use syn::{Attribute, Expr, Ident, Lit, LitStr, Pat, Signature, Token, Visibility};

use crate::errors::Errors;
use crate::tokens::shown;
use crate::vocab::{closest, list, Arity, BackoffKind, Choice, JitterKind, Key};

/// A function as written: attributes, visibility and signature parsed, the body kept as the
/// tokens inside its braces (as tracing-attributes' `MaybeItemFn` does).
pub struct ItemFn {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub sig: Signature,
    /// The span of the body's braces.
    pub brace: Span,
    /// The tokens inside the braces.
    pub body: TokenStream,
}

/// What the item turned out to be.
pub enum Item {
    /// A function with a body.
    Fn(Box<ItemFn>),
    /// Not something `#[retry]` can rewrite; the error says why.
    Unsupported(syn::Error),
}

impl Parse for ItemFn {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        let sig: Signature = input.parse()?;
        if input.peek(Token![;]) {
            return Err(input.error("`#[retry]` needs a function with a body"));
        }
        let (brace, body) = input.step(|cursor| match cursor.token_tree() {
            Some((TokenTree::Group(group), rest)) if group.delimiter() == Delimiter::Brace => {
                Ok(((group.span(), group.stream()), rest))
            }
            _ => Err(cursor.error("expected the function's body")),
        })?;
        Ok(ItemFn {
            attrs,
            vis,
            sig,
            brace,
            body,
        })
    }
}

/// The pieces of an `#[async_trait]` body around its async block.
pub struct BoxedBody {
    /// Tokens up to and including `Box::pin`.
    pub before: TokenStream,
    /// The span of `( .. )` after `Box::pin`.
    pub parens: Span,
    /// Tokens after `Box::pin( .. )`.
    pub after: TokenStream,
}

/// Recognises the body `#[async_trait]` gives a method: `Box::pin(async move { .. })`, maybe
/// after declarations. Returns the pieces around the async block and the block's contents.
pub fn async_trait_body(body: &TokenStream) -> Option<(BoxedBody, TokenStream)> {
    let tokens: Vec<TokenTree> = body.clone().into_iter().collect();
    // The last top-level group, right after `pin`, holding exactly `async move { .. }`.
    let at = tokens.iter().rposition(
        |tt| matches!(tt, TokenTree::Group(g) if g.delimiter() == Delimiter::Parenthesis),
    )?;
    if at == 0 || !matches!(&tokens[at - 1], TokenTree::Ident(i) if i == "pin") {
        return None;
    }
    let TokenTree::Group(parens) = &tokens[at] else {
        return None;
    };
    let inner: Vec<TokenTree> = parens.stream().into_iter().collect();
    let [TokenTree::Ident(kw_async), TokenTree::Ident(kw_move), TokenTree::Group(block)] =
        inner.as_slice()
    else {
        return None;
    };
    if kw_async != "async" || kw_move != "move" || block.delimiter() != Delimiter::Brace {
        return None;
    }
    let after: TokenStream = tokens[at + 1..].iter().cloned().collect();
    // Nothing but an optional `;`-free tail may follow.
    if after
        .clone()
        .into_iter()
        .any(|tt| !matches!(tt, TokenTree::Punct(_)))
    {
        return None;
    }
    Some((
        BoxedBody {
            before: tokens[..at].iter().cloned().collect(),
            parens: parens.span(),
            after,
        },
        block.stream(),
    ))
}

/// The async block that is the whole body of a function returning `impl Future`.
pub struct ReturnedBlock {
    /// `async` or `async move`, as written.
    pub keywords: TokenStream,
    /// The span of the block's braces.
    pub brace: Span,
}

/// `R` of a return type `impl Future<Output = R> + ..`, if the function has one.
pub fn future_output(sig: &Signature) -> Option<&syn::Type> {
    let syn::ReturnType::Type(_, ty) = &sig.output else {
        return None;
    };
    let syn::Type::ImplTrait(bounds) = &**ty else {
        return None;
    };
    bounds.bounds.iter().find_map(|bound| {
        let syn::TypeParamBound::Trait(bound) = bound else {
            return None;
        };
        let last = bound.path.segments.last()?;
        let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
            return None;
        };
        if last.ident != "Future" {
            return None;
        }
        args.args.iter().find_map(|arg| match arg {
            syn::GenericArgument::AssocType(assoc) if assoc.ident == "Output" => Some(&assoc.ty),
            _ => None,
        })
    })
}

/// Recognises a plain `fn` returning `impl Future<Output = R>` whose whole body is one
/// `async move { .. }` (or `async { .. }`) block. Returns the block's keywords and span, and
/// its contents.
pub fn returned_async_block(
    sig: &Signature,
    body: &TokenStream,
) -> Option<(ReturnedBlock, TokenStream)> {
    if sig.asyncness.is_some() {
        return None;
    }
    future_output(sig)?;
    let tokens: Vec<TokenTree> = body.clone().into_iter().collect();
    let (keywords, block) = match tokens.as_slice() {
        [TokenTree::Ident(kw_async), TokenTree::Group(block)] if kw_async == "async" => {
            (&tokens[..1], block)
        }
        [TokenTree::Ident(kw_async), TokenTree::Ident(kw_move), TokenTree::Group(block)]
            if kw_async == "async" && kw_move == "move" =>
        {
            (&tokens[..2], block)
        }
        _ => return None,
    };
    (block.delimiter() == Delimiter::Brace).then(|| {
        (
            ReturnedBlock {
                keywords: keywords.iter().cloned().collect(),
                brace: block.span(),
            },
            block.stream(),
        )
    })
}

/// Parses the item `#[retry]` is on.
pub fn item(tokens: TokenStream) -> Item {
    match syn::parse2::<ItemFn>(tokens.clone()) {
        // The body is not parsed (that would cost every expansion a full parse): a syntax
        // error in it is reported by rustc on the emitted code, alone (`tests/ui`).
        Ok(func) => Item::Fn(Box::new(func)),
        Err(_) => Item::Unsupported(not_a_function(&tokens)),
    }
}

fn not_a_function(item: &TokenStream) -> syn::Error {
    // Point at the item's keyword (`struct`, `impl`, …) rather than at all of it.
    let mut tokens = item.clone().into_iter().peekable();
    let mut span = Span::call_site();
    let mut what = String::from("this item");
    while let Some(tt) = tokens.next() {
        match &tt {
            TokenTree::Punct(p) if p.as_char() == '#' => {
                tokens.next();
            }
            TokenTree::Ident(ident) => {
                let word = ident.to_string();
                if matches!(
                    word.as_str(),
                    "pub" | "unsafe" | "const" | "async" | "extern"
                ) {
                    if word == "pub" {
                        if let Some(TokenTree::Group(_)) = tokens.peek() {
                            tokens.next();
                        }
                    }
                    continue;
                }
                span = ident.span();
                what = format!("`{word}`");
                break;
            }
            other => {
                span = other.span();
                break;
            }
        }
    }
    if what == "`fn`" {
        return syn::Error::new(
            span,
            "`#[retry]` needs a function with a body; declarations without one (as in a trait) cannot be retried",
        );
    }
    syn::Error::new(
        span,
        format!("`#[retry]` can only be applied to functions, not to {what}"),
    )
}

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
    pub max_hint: Option<Spanned<LitStr>>,
    pub timeout: Option<Spanned<Timeout>>,
    pub on: Option<Spanned<Filter>>,
    pub unless: Option<Spanned<Filter>>,
    pub when: Option<Spanned<Expr>>,
    pub classify: Option<Spanned<()>>,
    pub until: Option<Spanned<Expr>>,
    pub classify_ok: Option<Spanned<()>>,
    pub context: Option<Spanned<Ident>>,
    pub idempotency_key: Option<Spanned<Expr>>,
    pub on_retry: Option<Spanned<Expr>>,
    pub budget: Option<Spanned<Expr>>,
    pub breaker: Option<Spanned<Expr>>,
    pub throttle: Option<Spanned<Expr>>,
    pub rate_limiter: Option<Spanned<Expr>>,
    pub sleeper: Option<Spanned<Expr>>,
    pub fallback: Option<Spanned<Expr>>,
    pub hedge: Option<Spanned<Hedge>>,
    pub hedges: Option<Spanned<Number>>,
    pub policy: Option<Spanned<Expr>>,
    pub name: Option<Spanned<LitStr>>,
    pub report: Option<Spanned<Ident>>,
    pub krate: Option<Spanned<syn::Path>>,
}

/// `timeout = "2s"` (checked now) or `timeout = EXPR` (a `Duration` at each call).
pub enum Timeout {
    Literal(LitStr),
    Expr(Box<Expr>),
}

impl Timeout {
    fn span(&self) -> Span {
        match self {
            Timeout::Literal(lit) => lit.span(),
            Timeout::Expr(expr) => expr.span(),
        }
    }
}

/// `hedge = "150ms"` (a fixed delay, checked later) or `hedge = p95` (a percentile word, checked
/// later).
pub enum Hedge {
    Delay(LitStr),
    Percentile(Ident),
}

/// `on = PATTERN` or `unless = PATTERN`, with an optional `if` guard.
pub struct Filter {
    /// The pattern, matched against `&E`.
    pub pat: Pat,
    /// The guard after `if`, if any.
    pub guard: Option<Expr>,
}

/// Parses the attribute arguments: what could be parsed; every error goes to `errors`.
pub fn args(tokens: TokenStream, errors: &mut Errors) -> Args {
    let mut out = Args::default();
    let parser = |input: ParseStream| {
        parse_all(input, &mut out, errors);
        Ok(())
    };
    if let Err(err) = parser.parse2(tokens) {
        errors.add(err);
    }
    out
}

fn parse_all(input: ParseStream, out: &mut Args, errors: &mut Errors) {
    while !input.is_empty() {
        if let Err(err) = parse_one(input, out) {
            errors.add(err);
            skip_to_comma(input);
        }
        if input.is_empty() {
            break;
        }
        if let Err(err) = input.parse::<Token![,]>() {
            errors.add(syn::Error::new(
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

/// What `attempts = …` takes, for its errors.
const ATTEMPTS_EXPECTED: &str = "an integer literal such as `attempts = 3`";
/// What `hedges = …` takes, for its errors.
const HEDGES_EXPECTED: &str = "an integer literal such as `hedges = 1`";
/// What `factor = …` takes, for its errors.
const FACTOR_EXPECTED: &str = "a number such as `factor = 2.0`";

/// One argument: its key, then its value parsed by the key's own rule and set once.
fn parse_one(input: ParseStream, out: &mut Args) -> syn::Result<()> {
    let written = WrittenKey::parse(input)?;
    written.check_arity(input)?;
    let key = &written.ident;
    match written.key {
        Key::Attempts => out.set_attempts(key, number(input, ATTEMPTS_EXPECTED)?),
        Key::Base => out.set_base(key, duration_lit(input, Key::Base)?),
        Key::Max => out.set_max(key, duration_lit(input, Key::Max)?),
        Key::Factor => out.set_factor(key, number(input, FACTOR_EXPECTED)?),
        Key::Backoff => out.set_backoff(key, choice::<BackoffKind>(input)?),
        Key::Jitter => {
            let kind = written.has_value.then(|| choice::<JitterKind>(input));
            out.set_jitter(key, kind.transpose()?)
        }
        Key::Deadline => out.set_deadline(key, duration_lit(input, Key::Deadline)?),
        Key::MaxHint => out.set_max_hint(key, duration_lit(input, Key::MaxHint)?),
        Key::Timeout => out.set_timeout(key, timeout(input)?),
        Key::On => out.set_on(key, filter(input)?),
        Key::Unless => out.set_unless(key, filter(input)?),
        Key::When => out.set_when(key, input.parse()?),
        Key::Classify => out.set_classify(key),
        Key::Until => out.set_until(key, input.parse()?),
        Key::ClassifyOk => out.set_classify_ok(key),
        Key::Context => out.set_context(key, context_name(input)?),
        Key::Idempotency => out.set_idempotency_key(key, input.parse()?),
        Key::OnRetry => out.set_on_retry(key, input.parse()?),
        Key::Budget => out.set_budget(key, input.parse()?),
        Key::Breaker => out.set_breaker(key, input.parse()?),
        Key::Throttle => out.set_throttle(key, input.parse()?),
        Key::RateLimiter => out.set_rate_limiter(key, input.parse()?),
        Key::Sleeper => out.set_sleeper(key, input.parse()?),
        Key::Fallback => out.set_fallback(key, input.parse()?),
        Key::Hedge => out.set_hedge(key, hedge(input)?),
        Key::Hedges => out.set_hedges(key, number(input, HEDGES_EXPECTED)?),
        Key::Policy => out.set_policy(key, input.parse()?),
        Key::Name => out.set_name(key, name_lit(input)?),
        Key::Report => out.set_report(key, report_name(input)?),
        Key::Crate => {
            let (path, span) = crate_path(input)?;
            out.set_crate(key, path, span)
        }
    }
}

/// A known key as written, with its `=` (if any) consumed.
struct WrittenKey {
    key: Key,
    /// The key's identifier, for spans and messages.
    ident: Ident,
    /// Whether `=` followed the key.
    has_value: bool,
}

impl WrittenKey {
    /// Parses `key` or `key =`; an unknown key is an error, its value skipped.
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let ident = match input.call(Ident::parse_any) {
            Ok(ident) => ident,
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
        let has_value = input.peek(Token![=]);
        if has_value {
            input.parse::<Token![=]>()?;
        }
        let name = ident.to_string();
        let Some(key) = Key::from_name(&name) else {
            if has_value {
                skip_value(input);
            }
            return Err(syn::Error::new(ident.span(), unknown_key_message(&name)));
        };
        Ok(WrittenKey {
            key,
            ident,
            has_value,
        })
    }

    /// A key that needs a value must have one; a flag must not.
    fn check_arity(&self, input: ParseStream) -> syn::Result<()> {
        let name = self.key.name();
        match (self.key.arity(), self.has_value) {
            (Arity::Value, false) => Err(syn::Error::new(
                self.ident.span(),
                format!(
                    "`{name}` needs a value: write `{name} = {}`",
                    self.key.example()
                ),
            )),
            (Arity::Flag, true) => {
                let value: Expr = input.parse()?;
                Err(syn::Error::new_spanned(
                    value,
                    format!("`{name}` is a flag and takes no value: write `{name}` alone"),
                ))
            }
            (Arity::Value, true) | (Arity::Flag, false) | (Arity::FlagOrValue, _) => Ok(()),
        }
    }
}

/// Skips the value of an unknown key; an expression may hold commas (`|a, b| ...`).
fn skip_value(input: ParseStream) {
    let fork = input.fork();
    if fork.parse::<Expr>().is_ok() {
        input.advance_to(&fork);
    } else {
        skip_to_comma(input);
    }
}

/// "unknown argument" with the closest known key, if one is close.
fn unknown_key_message(name: &str) -> String {
    let keys = Key::names();
    match closest(name, &keys) {
        Some(best) => format!("unknown `#[retry]` argument `{name}`; did you mean `{best}`?"),
        None => format!(
            "unknown `#[retry]` argument `{name}`; expected one of {}",
            list(&keys)
        ),
    }
}

/// One setter per key; each sets its value once, and a second one is an error at its key.
impl Args {
    fn set_attempts(&mut self, key: &Ident, value: Number) -> syn::Result<()> {
        let span = value.lit.span();
        set_once(&mut self.attempts, key, value, span)
    }

    fn set_base(&mut self, key: &Ident, lit: LitStr) -> syn::Result<()> {
        let span = lit.span();
        set_once(&mut self.base, key, lit, span)
    }

    fn set_max(&mut self, key: &Ident, lit: LitStr) -> syn::Result<()> {
        let span = lit.span();
        set_once(&mut self.max, key, lit, span)
    }

    fn set_factor(&mut self, key: &Ident, value: Number) -> syn::Result<()> {
        let span = value.lit.span();
        set_once(&mut self.factor, key, value, span)
    }

    fn set_backoff(&mut self, key: &Ident, ident: Ident) -> syn::Result<()> {
        let span = ident.span();
        set_once(&mut self.backoff, key, ident, span)
    }

    /// `None` for a bare `jitter`.
    fn set_jitter(&mut self, key: &Ident, ident: Option<Ident>) -> syn::Result<()> {
        let span = ident.as_ref().map_or(key.span(), Ident::span);
        set_once(&mut self.jitter, key, ident, span)
    }

    fn set_deadline(&mut self, key: &Ident, lit: LitStr) -> syn::Result<()> {
        let span = lit.span();
        set_once(&mut self.deadline, key, lit, span)
    }

    fn set_max_hint(&mut self, key: &Ident, lit: LitStr) -> syn::Result<()> {
        let span = lit.span();
        set_once(&mut self.max_hint, key, lit, span)
    }

    fn set_timeout(&mut self, key: &Ident, timeout: Timeout) -> syn::Result<()> {
        let span = timeout.span();
        set_once(&mut self.timeout, key, timeout, span)
    }

    fn set_on(&mut self, key: &Ident, filter: Filter) -> syn::Result<()> {
        let span = filter.pat.span();
        set_once(&mut self.on, key, filter, span)
    }

    fn set_unless(&mut self, key: &Ident, filter: Filter) -> syn::Result<()> {
        let span = filter.pat.span();
        set_once(&mut self.unless, key, filter, span)
    }

    fn set_when(&mut self, key: &Ident, expr: Expr) -> syn::Result<()> {
        let span = expr.span();
        set_once(&mut self.when, key, expr, span)
    }

    fn set_classify(&mut self, key: &Ident) -> syn::Result<()> {
        set_once(&mut self.classify, key, (), key.span())
    }

    fn set_until(&mut self, key: &Ident, expr: Expr) -> syn::Result<()> {
        let span = expr.span();
        set_once(&mut self.until, key, expr, span)
    }

    fn set_classify_ok(&mut self, key: &Ident) -> syn::Result<()> {
        set_once(&mut self.classify_ok, key, (), key.span())
    }

    fn set_report(&mut self, key: &Ident, ident: Ident) -> syn::Result<()> {
        let span = ident.span();
        set_once(&mut self.report, key, ident, span)
    }

    fn set_context(&mut self, key: &Ident, ident: Ident) -> syn::Result<()> {
        let span = ident.span();
        set_once(&mut self.context, key, ident, span)
    }

    fn set_idempotency_key(&mut self, key: &Ident, expr: Expr) -> syn::Result<()> {
        let span = expr.span();
        set_once(&mut self.idempotency_key, key, expr, span)
    }

    fn set_on_retry(&mut self, key: &Ident, expr: Expr) -> syn::Result<()> {
        let span = expr.span();
        set_once(&mut self.on_retry, key, expr, span)
    }

    fn set_budget(&mut self, key: &Ident, expr: Expr) -> syn::Result<()> {
        let span = expr.span();
        set_once(&mut self.budget, key, expr, span)
    }

    fn set_breaker(&mut self, key: &Ident, expr: Expr) -> syn::Result<()> {
        let span = expr.span();
        set_once(&mut self.breaker, key, expr, span)
    }

    fn set_throttle(&mut self, key: &Ident, expr: Expr) -> syn::Result<()> {
        let span = expr.span();
        set_once(&mut self.throttle, key, expr, span)
    }

    fn set_rate_limiter(&mut self, key: &Ident, expr: Expr) -> syn::Result<()> {
        let span = expr.span();
        set_once(&mut self.rate_limiter, key, expr, span)
    }

    fn set_sleeper(&mut self, key: &Ident, expr: Expr) -> syn::Result<()> {
        let span = expr.span();
        set_once(&mut self.sleeper, key, expr, span)
    }

    fn set_fallback(&mut self, key: &Ident, expr: Expr) -> syn::Result<()> {
        let span = expr.span();
        set_once(&mut self.fallback, key, expr, span)
    }

    fn set_hedge(&mut self, key: &Ident, hedge: Hedge) -> syn::Result<()> {
        let span = match &hedge {
            Hedge::Delay(lit) => lit.span(),
            Hedge::Percentile(ident) => ident.span(),
        };
        set_once(&mut self.hedge, key, hedge, span)
    }

    fn set_hedges(&mut self, key: &Ident, value: Number) -> syn::Result<()> {
        let span = value.lit.span();
        set_once(&mut self.hedges, key, value, span)
    }

    fn set_policy(&mut self, key: &Ident, expr: Expr) -> syn::Result<()> {
        let span = expr.span();
        set_once(&mut self.policy, key, expr, span)
    }

    fn set_name(&mut self, key: &Ident, lit: LitStr) -> syn::Result<()> {
        let span = lit.span();
        set_once(&mut self.name, key, lit, span)
    }

    /// `span` is the string's: the path was parsed out of it.
    fn set_crate(&mut self, key: &Ident, path: syn::Path, span: Span) -> syn::Result<()> {
        set_once(&mut self.krate, key, path, span)
    }
}

/// Fills `slot`, or fails at `key` if an earlier argument already did.
fn set_once<T>(
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

/// A possibly negated numeric literal; `expected` says which, for the error.
fn number(input: ParseStream, expected: &str) -> syn::Result<Number> {
    let minus: Option<Token![-]> = input.parse()?;
    if input.peek(Lit) {
        let lit: Lit = input.parse()?;
        return match lit {
            Lit::Int(_) | Lit::Float(_) => Ok(Number { lit, minus }),
            other => {
                let hint = match &other {
                    Lit::Str(s) if s.value().trim().parse::<f64>().is_ok() => "; remove the quotes",
                    _ => "",
                };
                let found = format!("`{}`{hint}", shown(&other));
                Err(syn::Error::new(
                    other.span(),
                    format!("expected {expected}, found {found}"),
                ))
            }
        };
    }
    let expr: Expr = input.parse()?;
    let found = shown(&expr);
    Err(syn::Error::new_spanned(
        expr,
        format!("expected {expected}, found `{found}`; only literals can be checked at compile time (for values known at run time, build a `Policy` and write `policy = …`)"),
    ))
}

/// A string literal holding a duration.
fn duration_lit(input: ParseStream, key: Key) -> syn::Result<LitStr> {
    if input.peek(LitStr) {
        return input.parse();
    }
    let key = key.name();
    let expr: Expr = input.parse()?;
    let units = crate::duration::UNITS;
    let message = match &expr {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(int), ..
        }) => {
            let n = int.base10_digits();
            format!("`{key}` needs a unit: write `{key} = \"{n}ms\"` or `{key} = \"{n}s\"` (units: {units})")
        }
        Expr::Lit(syn::ExprLit {
            lit: Lit::Float(float), ..
        }) => {
            let n = float.base10_digits();
            format!("`{key}` needs a unit: write `{key} = \"{n}s\"` or `{key} = \"{n}ms\"` (units: {units})")
        }
        Expr::Lit(_) => format!(
            "expected a duration string such as `{key} = \"200ms\"`, found `{}`",
            shown(&expr)
        ),
        _ => format!(
            "expected a duration string such as `{key} = \"200ms\"`, found `{}`; only literals can be checked at compile time (for values known at run time, build a `Policy` and write `policy = …`)",
            shown(&expr)
        ),
    };
    Err(syn::Error::new_spanned(expr, message))
}

/// `timeout = "2s"`, checked now, or any other expression, evaluated at each call. A bare
/// number has no unit: it is an error saying how to write it.
fn timeout(input: ParseStream) -> syn::Result<Timeout> {
    if input.peek(LitStr) {
        return Ok(Timeout::Literal(input.parse()?));
    }
    if input.peek(syn::LitInt) || input.peek(syn::LitFloat) {
        let number: syn::Lit = input.parse()?;
        let digits = quote::ToTokens::to_token_stream(&number).to_string();
        return Err(syn::Error::new_spanned(
            &number,
            format!(
                "expected a duration with its unit: `timeout = \"{digits}ms\"` (or `\"{digits}s\"`), or an expression giving a `Duration`"
            ),
        ));
    }
    Ok(Timeout::Expr(Box::new(input.parse()?)))
}

/// `hedge = "150ms"` or `hedge = p95`; anything else is an error saying which two forms it takes.
fn hedge(input: ParseStream) -> syn::Result<Hedge> {
    if input.peek(LitStr) {
        return Ok(Hedge::Delay(input.parse()?));
    }
    if input.peek(syn::LitInt) || input.peek(syn::LitFloat) {
        let number: Lit = input.parse()?;
        let digits = shown(&number);
        return Err(syn::Error::new_spanned(
            &number,
            format!("`hedge` needs a unit: write `hedge = \"{digits}ms\"`, or a percentile such as `hedge = p95`"),
        ));
    }
    let value: Expr = input.parse()?;
    if let Expr::Path(path) = &value {
        if let (None, true, Some(ident)) =
            (&path.qself, path.attrs.is_empty(), path.path.get_ident())
        {
            return Ok(Hedge::Percentile(ident.clone()));
        }
    }
    Err(syn::Error::new_spanned(
        &value,
        format!(
            "{}, found `{}`",
            crate::vocab::HEDGE_EXPECTED,
            shown(&value)
        ),
    ))
}

/// `PATTERN` or `PATTERN if GUARD`.
fn filter(input: ParseStream) -> syn::Result<Filter> {
    let pat = Pat::parse_multi_with_leading_vert(input)?;
    let guard = if input.peek(Token![if]) {
        input.parse::<Token![if]>()?;
        Some(input.parse::<Expr>()?)
    } else {
        None
    };
    Ok(Filter { pat, guard })
}

/// `context = NAME`: a plain identifier to bind the attempt to.
fn context_name(input: ParseStream) -> syn::Result<Ident> {
    let value: Expr = input.parse()?;
    if let Expr::Path(path) = &value {
        if path.qself.is_none() && path.attrs.is_empty() {
            if let Some(ident) = path.path.get_ident() {
                return Ok(ident.clone());
            }
        }
    }
    Err(syn::Error::new_spanned(
        &value,
        format!(
            "`context` takes a name to bind the attempt to, such as `context = attempt`, found `{}`",
            shown(&value)
        ),
    ))
}

/// `report = NAME`: the name of a parameter of type `&mut CallReport`.
fn report_name(input: ParseStream) -> syn::Result<Ident> {
    let value: Expr = input.parse()?;
    if let Expr::Path(path) = &value {
        if path.qself.is_none() && path.attrs.is_empty() {
            if let Some(ident) = path.path.get_ident() {
                return Ok(ident.clone());
            }
        }
    }
    Err(syn::Error::new_spanned(
        &value,
        format!(
            "`report` takes the name of a parameter of type `&mut CallReport`, such as `report = report`, found `{}`",
            shown(&value).replace("& mut ", "&mut ")
        ),
    ))
}

/// `name = "provider-a"`: a string literal (whether it is empty is checked later).
fn name_lit(input: ParseStream) -> syn::Result<LitStr> {
    if input.peek(LitStr) {
        return input.parse();
    }
    let expected = format!(
        "expected a string literal such as `name = {}`",
        Key::Name.example()
    );
    match input.parse::<Expr>() {
        Ok(expr) => Err(syn::Error::new_spanned(
            &expr,
            format!("{expected}, found `{}`", shown(&expr)),
        )),
        Err(err) => Err(syn::Error::new(err.span(), expected)),
    }
}

/// `crate = "::retry_runtime"`: the path inside the string, and the string's span.
fn crate_path(input: ParseStream) -> syn::Result<(syn::Path, Span)> {
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
    Ok((path, lit.span()))
}

/// An identifier naming one of `T`'s choices (checked later, with a suggestion).
fn choice<T: Choice>(input: ParseStream) -> syn::Result<Ident> {
    let key = T::KEY.name();
    if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        let value = lit.value();
        return Err(syn::Error::new(
            lit.span(),
            format!("`{key}` takes a name, not a string: write `{key} = {value}`"),
        ));
    }
    input.call(Ident::parse_any).map_err(|err| {
        syn::Error::new(
            err.span(),
            format!(
                "expected one of {} after `{key} =`",
                list(&T::written_all())
            ),
        )
    })
}
