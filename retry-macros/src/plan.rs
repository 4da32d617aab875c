//! Stage 3: plan. A typed description of the function, built once and read by the renderer:
//! how each argument is prepared for each attempt, what happens to the receiver, the body (with
//! `self` renamed where the receiver is re-bound) and the return type.

use proc_macro2::{Delimiter, Group, Ident, Span, TokenStream, TokenTree};
use quote::{format_ident, ToTokens};
use syn::spanned::Spanned as _;
use syn::{Attribute, FnArg, Pat, PatIdent, ReceiverKind, ReturnType, Signature, Type};

use crate::parse::{
    async_trait_body, future_output, returned_async_block, BoxedBody, ItemFn, ReturnedBlock,
};

/// How the function runs its attempts.
pub enum Flavor {
    /// `async fn`: the loop awaits each attempt and sleeps on the call's sleeper.
    Async,
    /// A plain `fn`: the runtime's blocking loop, sleeping the thread.
    Blocking,
    /// What `#[async_trait]` made of an `async fn`: a plain `fn` returning
    /// `Box::pin(async move { .. })`. The retry loop goes inside that async block.
    Boxed(BoxedBody),
    /// A plain `fn` returning `impl Future<Output = R>` whose body is one `async move { .. }`
    /// block. The retry loop goes inside that block.
    Returned(ReturnedBlock),
}

/// How one argument is prepared at the start of each attempt.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Prep {
    /// `let x = x;`: a shared reference (or a `mut` binding of one) is copied.
    Copy,
    /// `let x = &mut *x;`
    Reborrow,
    /// `let x = Option::as_deref_mut(&mut x);` for `Option<&mut T>`.
    ReborrowOption,
    /// `let x = Pin::as_mut(&mut x);` for `Pin<&mut T>`.
    ReborrowPin,
    /// `let x = RetryArg::__retry_clone(&x);`: anything taken by value.
    Clone,
}

/// One argument's preparation.
pub struct ArgPlan {
    /// What the attempt binds: the user's pattern (`mut tag`, `(a, b)`) or the receiver alias.
    pub bind: TokenStream,
    /// The name the function's signature gives the value.
    pub source: Ident,
    pub prep: Prep,
    /// Where a missing `Clone` is reported.
    pub span: Span,
    /// The type, when it can be named (for a `Clone` error on the type itself).
    pub ty: Option<Type>,
    /// `#[cfg]` and `#[cfg_attr]` of the argument, repeated on its preparation.
    pub cfg: Vec<Attribute>,
}

/// The function, as the renderer needs it.
pub struct Plan {
    pub attrs: Vec<Attribute>,
    pub vis: syn::Visibility,
    /// The signature, with argument patterns adjusted for per-attempt preparation.
    pub sig: Signature,
    pub flavor: Flavor,
    /// Per-attempt preparation, receiver first.
    pub args: Vec<ArgPlan>,
    /// The body to run for each attempt (the async block's contents for [`Flavor::Boxed`] and
    /// [`Flavor::Returned`]).
    pub body: TokenStream,
    /// The span of the body's braces.
    pub brace: Span,
    /// The result type to annotate the attempt with (so `?` knows its target), if nameable.
    pub ret: Option<Type>,
    /// Where the return type is (or would be) written.
    pub ret_span: Span,
    /// The function's name, for events.
    pub name: String,
    /// Whether it is a method (then events name it with its `impl` type).
    pub has_receiver: bool,
}

/// The alias a re-bound receiver gets inside the body.
pub fn self_alias() -> Ident {
    Ident::new("__retry_self", Span::call_site())
}

/// Builds the plan of `func`.
pub fn plan(func: ItemFn) -> Plan {
    let ItemFn {
        attrs,
        vis,
        mut sig,
        brace,
        body,
    } = func;
    let (flavor, body) = flavor_of(&sig, body);
    let mut args = Vec::new();
    let mut rename_receiver = false;
    for (index, input) in sig.inputs.iter_mut().enumerate() {
        let arg = match input {
            FnArg::Receiver(receiver) => receiver_plan(receiver),
            FnArg::Typed(arg) => typed_plan(index, arg, &body),
        };
        if let Some(arg) = arg {
            rename_receiver |= matches!(input, FnArg::Receiver(_));
            args.push(arg);
        }
    }
    let body = if rename_receiver {
        rename_self(body, &self_alias())
    } else {
        body
    };
    let (ret, ret_span) = result_type(&sig, &flavor);
    Plan {
        attrs,
        vis,
        has_receiver: sig.receiver().is_some(),
        name: sig.ident.to_string(),
        sig,
        flavor,
        args,
        body,
        brace,
        ret,
        ret_span,
    }
}

/// How the function runs, and the body each attempt runs: an `async fn`, `#[async_trait]`'s
/// boxed async block, a returned `async move` block, or a blocking body.
fn flavor_of(sig: &Signature, body: TokenStream) -> (Flavor, TokenStream) {
    if sig.asyncness.is_some() {
        (Flavor::Async, body)
    } else if let Some((boxed, inner)) = async_trait_body(&body) {
        (Flavor::Boxed(boxed), inner)
    } else if let Some((block, inner)) = returned_async_block(sig, &body) {
        (Flavor::Returned(block), inner)
    } else {
        (Flavor::Blocking, body)
    }
}

/// The receiver's preparation per attempt; `None` for `&self`, copied into each attempt as it
/// is. The receiver is then re-bound under [`self_alias`].
fn receiver_plan(receiver: &mut syn::Receiver) -> Option<ArgPlan> {
    let self_token = Ident::new("self", receiver.self_token.span);
    let prep = match &receiver.kind {
        ReceiverKind::Reference(_, _, Some(_)) => Prep::Reborrow,
        ReceiverKind::Reference(_, _, None) => Prep::Copy,
        ReceiverKind::Typed(_, ty) => prep_for(ty),
        _ => Prep::Clone,
    };
    if prep == Prep::Copy {
        return None;
    }
    let mutability = receiver.mutability.take();
    if matches!(prep, Prep::ReborrowPin | Prep::ReborrowOption) {
        receiver.mutability = Some(Default::default());
    }
    let alias = self_alias();
    Some(ArgPlan {
        bind: quote::quote!(#mutability #alias),
        source: self_token,
        prep,
        span: receiver.self_token.span,
        ty: None,
        cfg: cfg_attrs(&receiver.attrs),
    })
}

/// A typed argument's preparation per attempt; `None` when the attempt's `async move` block
/// can take it as it is (a `Copy` value, an unused or `_` argument).
fn typed_plan(index: usize, arg: &mut syn::PatType, body: &TokenStream) -> Option<ArgPlan> {
    let prep = prep_for(&arg.ty);
    let cfg = cfg_attrs(&arg.attrs);
    match arg.pat.as_mut() {
        Pat::Ident(PatIdent {
            by_ref: None,
            subpat: None,
            ident,
            mutability,
            ..
        }) => {
            // `x: T` / `mut x: T`: keep the name, shadow it per attempt.
            if prep == Prep::Copy && mutability.is_none() {
                return None; // the attempt's `async move` block copies it
            }
            let user_mut = mutability.take();
            if matches!(prep, Prep::ReborrowPin | Prep::ReborrowOption) {
                *mutability = Some(Default::default());
            }
            if !mentions(body, &ident.to_string()) {
                return None;
            }
            let name = ident.clone();
            Some(ArgPlan {
                bind: quote::quote!(#user_mut #name),
                span: name.span(),
                source: name,
                prep,
                ty: None,
                cfg,
            })
        }
        Pat::Wild(_) => None,
        other => {
            // Destructuring patterns: take the argument under a generated name and destructure
            // a fresh copy for each attempt.
            let name = format_ident!("__retry_arg{}", index, span = Span::mixed_site());
            let bind = other.to_token_stream();
            let span = other.span();
            *other = syn::parse_quote!(#name);
            let ty = (!mentions_impl(&arg.ty.to_token_stream())).then(|| (*arg.ty).clone());
            Some(ArgPlan {
                bind,
                source: name,
                prep,
                span,
                ty,
                cfg,
            })
        }
    }
}

/// The result type to annotate each attempt with, when it can be named, and where it is
/// written.
fn result_type(sig: &Signature, flavor: &Flavor) -> (Option<Type>, Span) {
    match (&sig.output, flavor) {
        // `#[async_trait]` annotates its own result (`let __ret: R = ..`).
        (_, Flavor::Boxed(_)) => (None, sig.ident.span()),
        // `impl Future<Output = R>`: the attempts' result is `R`.
        (_, Flavor::Returned(_)) => match future_output(sig) {
            Some(ty) if !mentions_impl(&ty.to_token_stream()) => (Some(ty.clone()), ty.span()),
            Some(ty) => (None, ty.span()),
            None => (None, sig.ident.span()),
        },
        (ReturnType::Type(_, ty), _) if !mentions_impl(&ty.to_token_stream()) => {
            (Some((**ty).clone()), ty.span())
        }
        (ReturnType::Type(_, ty), _) => (None, ty.span()),
        (ReturnType::Default, _) => {
            let span = sig.ident.span();
            (Some(syn::parse_quote_spanned!(span=> ())), span)
        }
    }
}

/// How an argument of type `ty` is prepared per attempt.
fn prep_for(ty: &Type) -> Prep {
    match ty {
        Type::Reference(r) if r.mutability.is_some() => Prep::Reborrow,
        Type::Reference(_) => Prep::Copy,
        Type::Paren(inner) => prep_for(&inner.elem),
        Type::Group(inner) => prep_for(&inner.elem),
        Type::Path(path) if path.qself.is_none() => {
            let Some(last) = path.path.segments.last() else {
                return Prep::Clone;
            };
            let wraps_mut_ref = match &last.arguments {
                syn::PathArguments::AngleBracketed(args) if args.args.len() == 1 => matches!(
                    args.args.first(),
                    Some(syn::GenericArgument::Type(Type::Reference(r))) if r.mutability.is_some()
                ),
                _ => false,
            };
            let name = last.ident.to_string();
            match (name.as_str(), wraps_mut_ref) {
                ("Option", true) => Prep::ReborrowOption,
                ("Pin", true) => Prep::ReborrowPin,
                // Primitive numbers are `Copy`: the attempt's `async move` copies them as it is.
                _ if path.path.segments.len() == 1 && PRIMITIVES.contains(&name.as_str()) => {
                    Prep::Copy
                }
                _ => Prep::Clone,
            }
        }
        _ => Prep::Clone,
    }
}

/// Types that are `Copy` whatever the crate defines (a local type cannot shadow them in a way
/// that makes them not `Copy` without the user noticing).
const PRIMITIVES: &[&str] = &[
    "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize", "f32",
    "f64", "bool", "char",
];

fn cfg_attrs(attrs: &[Attribute]) -> Vec<Attribute> {
    attrs
        .iter()
        .filter(|attr| attr.path().is_ident("cfg") || attr.path().is_ident("cfg_attr"))
        .cloned()
        .collect()
}

/// Whether a type mentions `impl Trait` (which cannot be written in a `let` annotation).
pub fn mentions_impl(tokens: &TokenStream) -> bool {
    tokens.clone().into_iter().any(|tt| match tt {
        TokenTree::Ident(ident) => ident == "impl",
        TokenTree::Group(group) => mentions_impl(&group.stream()),
        _ => false,
    })
}

/// Whether the body may use the variable `name`: as an identifier that is not a field or
/// method name (`rec.id`) or a path segment (`x::id`), macro input included, or inside a string
/// literal as an inline format argument (`"{name}"`, `"{name:?}"`).
pub fn mentions(tokens: &TokenStream, name: &str) -> bool {
    let inline = format!("{{{name}");
    let mut after_dot_or_path = false;
    for tt in tokens.clone() {
        let found = match &tt {
            TokenTree::Ident(ident) => ident == name && !after_dot_or_path,
            TokenTree::Group(group) => mentions(&group.stream(), name),
            TokenTree::Literal(lit) => lit.to_string().contains(&inline),
            TokenTree::Punct(_) => false,
        };
        if found {
            return true;
        }
        after_dot_or_path =
            matches!(&tt, TokenTree::Punct(p) if p.as_char() == '.' || p.as_char() == ':');
    }
    false
}

/// Macros whose arguments hold a format string, and how many top-level commas come before it.
const FORMAT_MACROS: &[(&str, usize)] = &[
    ("format", 0),
    ("format_args", 0),
    ("print", 0),
    ("println", 0),
    ("eprint", 0),
    ("eprintln", 0),
    ("panic", 0),
    ("unreachable", 0),
    ("todo", 0),
    ("unimplemented", 0),
    ("write", 1),
    ("writeln", 1),
    ("assert", 1),
    ("debug_assert", 1),
    ("assert_eq", 2),
    ("assert_ne", 2),
    ("debug_assert_eq", 2),
    ("debug_assert_ne", 2),
];

/// Replaces the `self` keyword by `alias` in a body whose receiver is re-bound for each attempt.
/// `self::path` (the module) is left alone, nested items (`fn`, `impl`, `trait`, `mod`,
/// `macro_rules!`), whose `self` is their own, are not entered, and in string literals only the
/// implicit captures of a format string (`println!("{self}")`) are renamed.
pub fn rename_self(tokens: TokenStream, alias: &Ident) -> TokenStream {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out: Vec<TokenTree> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        let tt = &tokens[i];
        match tt {
            TokenTree::Ident(ident) if starts_nested_item(&tokens, i) => {
                // Copy the item untouched, up to and including its `{ .. }` body (or `;`).
                let _ = ident;
                while i < tokens.len() {
                    let done = matches!(&tokens[i], TokenTree::Group(g) if g.delimiter() == Delimiter::Brace)
                        || matches!(&tokens[i], TokenTree::Punct(p) if p.as_char() == ';');
                    out.push(tokens[i].clone());
                    i += 1;
                    if done {
                        break;
                    }
                }
                continue;
            }
            TokenTree::Ident(ident) if ident == "self" => {
                let is_module_path = matches!(
                    tokens.get(i + 1),
                    Some(TokenTree::Punct(p)) if p.as_char() == ':'
                );
                if is_module_path {
                    out.push(tt.clone());
                } else {
                    let mut renamed = alias.clone();
                    renamed.set_span(ident.span());
                    out.push(TokenTree::Ident(renamed));
                }
            }
            TokenTree::Group(group) => {
                let format_commas = format_macro_before(&tokens, i);
                let inner = rename_self(group.stream(), alias);
                let inner = match format_commas {
                    Some(commas) => rename_in_format_string(inner, commas, alias),
                    None => inner,
                };
                let mut new = Group::new(group.delimiter(), inner);
                new.set_span(group.span());
                out.push(TokenTree::Group(new));
            }
            other => out.push(other.clone()),
        }
        i += 1;
    }
    out.into_iter().collect()
}

/// Whether `tokens[i]` starts an item nested in the body (`fn name`, `impl`, `trait`, `mod`,
/// `macro_rules!`), whose `self` is not the function's.
fn starts_nested_item(tokens: &[TokenTree], i: usize) -> bool {
    let TokenTree::Ident(ident) = &tokens[i] else {
        return false;
    };
    let next = tokens.get(i + 1);
    match ident.to_string().as_str() {
        // `fn(u8) -> u8` is a type; `fn name` is an item.
        "fn" => matches!(next, Some(TokenTree::Ident(_))),
        "impl" | "trait" | "mod" => {
            // Only at the start of a statement (not `impl Trait` in a nested type position).
            i == 0
                || matches!(&tokens[i - 1], TokenTree::Punct(p) if p.as_char() == ';')
                || matches!(&tokens[i - 1], TokenTree::Group(g) if g.delimiter() == Delimiter::Brace || g.delimiter() == Delimiter::Bracket)
                || matches!(&tokens[i - 1], TokenTree::Ident(w) if w == "pub" || w == "unsafe")
        }
        "macro_rules" => matches!(next, Some(TokenTree::Punct(p)) if p.as_char() == '!'),
        _ => false,
    }
}

/// If `tokens[i]` is the argument group of a format macro (`println ! ( .. )`), how many
/// top-level commas come before its format string.
fn format_macro_before(tokens: &[TokenTree], i: usize) -> Option<usize> {
    if i < 2 || !matches!(&tokens[i - 1], TokenTree::Punct(p) if p.as_char() == '!') {
        return None;
    }
    let TokenTree::Ident(name) = &tokens[i - 2] else {
        return None;
    };
    let name = name.to_string();
    FORMAT_MACROS
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, commas)| *commas)
}

/// Renames `{self}` / `{self:..}` in the string literal that follows `commas` top-level commas.
fn rename_in_format_string(tokens: TokenStream, commas: usize, alias: &Ident) -> TokenStream {
    let mut seen = 0;
    let mut done = false;
    tokens
        .into_iter()
        .map(|tt| match tt {
            TokenTree::Punct(p) if p.as_char() == ',' => {
                seen += 1;
                TokenTree::Punct(p)
            }
            TokenTree::Literal(lit) if seen == commas && !done => {
                done = true;
                TokenTree::Literal(rename_inline_self(lit, &alias.to_string()))
            }
            other => {
                if seen == commas {
                    done = true;
                }
                other
            }
        })
        .collect()
}

/// `"{self:?}"` → `"{alias:?}"` in a plain string literal; `{{self}}` (escaped) is left alone.
fn rename_inline_self(lit: proc_macro2::Literal, alias: &str) -> proc_macro2::Literal {
    let text = lit.to_string();
    if !text.starts_with('"') || !text.contains("{self") {
        return lit;
    }
    let mut renamed = String::with_capacity(text.len());
    let mut rest = text.as_str();
    let mut open_braces = 0usize;
    while let Some(c) = rest.chars().next() {
        let opens_placeholder = open_braces % 2 == 1;
        if c == '{' {
            open_braces += 1;
        } else {
            open_braces = 0;
        }
        if opens_placeholder && rest.starts_with("self") {
            let after = rest[4..].chars().next();
            if matches!(after, Some('}') | Some(':')) {
                renamed.push_str(alias);
                rest = &rest[4..];
                continue;
            }
        }
        renamed.push(c);
        rest = &rest[c.len_utf8()..];
    }
    match renamed.parse::<proc_macro2::Literal>() {
        Ok(mut new) => {
            new.set_span(lit.span());
            new
        }
        Err(_) => lit,
    }
}
