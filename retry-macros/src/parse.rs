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
use crate::vocab::{closest, list, BackoffKind, JitterKind, Key};

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
    pub fallback: Option<Spanned<Expr>>,
    pub policy: Option<Spanned<Expr>>,
    pub krate: Option<Spanned<syn::Path>>,
}

/// `timeout = "2s"` (checked now) or `timeout = EXPR` (a `Duration` at each call).
pub enum Timeout {
    Literal(LitStr),
    Expr(Box<Expr>),
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
    let Some(known) = Key::from_name(&name) else {
        if has_value {
            // Skip the value; an expression may hold commas (`|a, b| ...`).
            let fork = input.fork();
            if fork.parse::<Expr>().is_ok() {
                input.advance_to(&fork);
            } else {
                skip_to_comma(input);
            }
        }
        return Err(syn::Error::new(key.span(), unknown_key_message(&name)));
    };
    let needs_value = || -> syn::Result<()> {
        if has_value {
            Ok(())
        } else {
            Err(syn::Error::new(
                key.span(),
                format!(
                    "`{name}` needs a value: write `{name} = {}`",
                    known.example()
                ),
            ))
        }
    };
    match known {
        Key::Attempts => {
            needs_value()?;
            let value = number(input, "an integer literal such as `attempts = 3`")?;
            set(&mut out.attempts, &key, value)
        }
        Key::Timeout => {
            needs_value()?;
            // A string is a duration checked now; anything else is evaluated at each call.
            if input.peek(LitStr) {
                let lit: LitStr = input.parse()?;
                let span = lit.span();
                set_spanned(&mut out.timeout, &key, Timeout::Literal(lit), span)
            } else {
                let expr: Expr = input.parse()?;
                let span = expr.span();
                set_spanned(&mut out.timeout, &key, Timeout::Expr(Box::new(expr)), span)
            }
        }
        Key::Base | Key::Max | Key::Deadline | Key::MaxHint => {
            needs_value()?;
            let lit = duration_lit(input, &name)?;
            let slot = match known {
                Key::Base => &mut out.base,
                Key::Max => &mut out.max,
                Key::MaxHint => &mut out.max_hint,
                _ => &mut out.deadline,
            };
            set(slot, &key, lit)
        }
        Key::On | Key::Unless => {
            needs_value()?;
            let pat = Pat::parse_multi_with_leading_vert(input)?;
            let guard = if input.peek(Token![if]) {
                input.parse::<Token![if]>()?;
                Some(input.parse::<Expr>()?)
            } else {
                None
            };
            let span = pat.span();
            let slot = if known == Key::On {
                &mut out.on
            } else {
                &mut out.unless
            };
            set_spanned(slot, &key, Filter { pat, guard }, span)
        }
        Key::When
        | Key::Until
        | Key::OnRetry
        | Key::Budget
        | Key::Breaker
        | Key::Fallback
        | Key::Policy
        | Key::Idempotency => {
            needs_value()?;
            let expr: Expr = input.parse()?;
            let span = expr.span();
            let slot = match known {
                Key::When => &mut out.when,
                Key::Until => &mut out.until,
                Key::Idempotency => &mut out.idempotency_key,
                Key::OnRetry => &mut out.on_retry,
                Key::Budget => &mut out.budget,
                Key::Breaker => &mut out.breaker,
                Key::Fallback => &mut out.fallback,
                _ => &mut out.policy,
            };
            set_spanned(slot, &key, expr, span)
        }
        Key::Classify | Key::ClassifyOk => {
            if has_value {
                let value: Expr = input.parse()?;
                return Err(syn::Error::new_spanned(
                    value,
                    format!("`{name}` is a flag and takes no value: write `{name}` alone"),
                ));
            }
            let slot = if known == Key::Classify {
                &mut out.classify
            } else {
                &mut out.classify_ok
            };
            set_spanned(slot, &key, (), key.span())
        }
        Key::Context => {
            needs_value()?;
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
        Key::Factor => {
            needs_value()?;
            let value = number(input, "a number such as `factor = 2.0`")?;
            set(&mut out.factor, &key, value)
        }
        Key::Backoff => {
            needs_value()?;
            let ident = choice(input, "backoff", &BackoffKind::names())?;
            set(&mut out.backoff, &key, ident)
        }
        Key::Jitter => {
            if has_value {
                let ident = choice(input, "jitter", &JitterKind::names())?;
                let span = ident.span();
                set_spanned(&mut out.jitter, &key, Some(ident), span)
            } else {
                set_spanned(&mut out.jitter, &key, None, key.span())
            }
        }
        Key::Crate => {
            needs_value()?;
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
            format!("expected {expected}, found `{shown}`; only literals can be checked at compile time (for values known at run time, build a `Policy` and write `policy = …`)"),
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
            "expected a duration string such as `{key} = \"200ms\"`, found `{shown}`; only literals can be checked at compile time (for values known at run time, build a `Policy` and write `policy = …`)"
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
