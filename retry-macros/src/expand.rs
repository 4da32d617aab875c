//! Stage 3: rewrite the function into a retry loop.

use proc_macro2::{Group, Ident, Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, Pat, PatIdent, ReceiverKind, ReturnType, Type};

use crate::duration::Dur;
use crate::valid::{Config, KeyPolicy, PolicySource};

/// The whole macro: arguments and item in, rewritten item out. On any error the original item
/// is emitted unchanged next to the `compile_error!`s, so the rest of the crate still sees it.
pub fn retry(args: TokenStream, item: TokenStream) -> TokenStream {
    let func = match syn::parse2::<ItemFn>(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            let err = not_a_function(&item);
            return with_error(item, err);
        }
    };
    let (raw, parse_errors) = crate::attr::parse(args);
    match crate::valid::build(raw, parse_errors) {
        Ok(config) => expand(&config, func),
        Err(err) => with_error(item, err),
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

/// The original item followed by the errors.
fn with_error(item: TokenStream, err: syn::Error) -> TokenStream {
    let errors = err.to_compile_error();
    quote!(#item #errors)
}

/// How one argument is prepared for each attempt.
enum Prep {
    /// `let PAT = NAME;` (a shared reference is copied).
    Copy,
    /// `let PAT = &mut *NAME;`
    Reborrow,
    /// `let PAT = RetryArg::__retry_clone(&NAME);`
    Clone,
}

fn expand(config: &Config, mut func: ItemFn) -> TokenStream {
    let krate = &config.krate;
    let private = quote!(#krate::__private);
    let is_async = func.sig.asyncness.is_some();
    let mixed = Span::mixed_site();

    // Locals of the generated loop; the user's code cannot name them.
    let attempt = Ident::new("__retry_attempt", mixed);
    let result = Ident::new("__retry_result", mixed);
    let delay = Ident::new("__retry_delay", mixed);
    let start = Ident::new("__retry_start", mixed);
    let prev = Ident::new("__retry_prev", mixed);
    let policy_local = Ident::new("__retry_policy", mixed);
    // Body tokens have the call site's hygiene; `self` is renamed to this one.
    let self_alias = Ident::new("__retry_self", Span::call_site());

    // Arguments: rename what cannot be shadowed, and prepare a fresh binding per attempt.
    let mut preps = Vec::new();
    let mut has_receiver = false;
    for (index, input) in func.sig.inputs.iter_mut().enumerate() {
        match input {
            FnArg::Receiver(receiver) => {
                has_receiver = true;
                let self_token = Ident::new("self", receiver.self_token.span);
                let mutability = receiver.mutability;
                let kind = match &receiver.kind {
                    ReceiverKind::Reference(_, _, Some(_)) => Prep::Reborrow,
                    ReceiverKind::Reference(_, _, None) => Prep::Copy,
                    ReceiverKind::Typed(_, ty) => match ty.as_ref() {
                        Type::Reference(r) if r.mutability.is_some() => Prep::Reborrow,
                        Type::Reference(_) => Prep::Copy,
                        _ => Prep::Clone,
                    },
                    _ => Prep::Clone,
                };
                // `mut self` by value: the attempt's copy is the mutable one.
                receiver.mutability = None;
                let bind = if matches!(kind, Prep::Clone) {
                    quote!(#mutability #self_alias)
                } else {
                    quote!(#self_alias)
                };
                preps.push(prep_stmt(
                    &private,
                    bind,
                    &self_token,
                    &kind,
                    receiver.self_token.span,
                ));
            }
            FnArg::Typed(arg) => {
                let kind = match arg.ty.as_ref() {
                    Type::Reference(r) if r.mutability.is_some() => Prep::Reborrow,
                    Type::Reference(_) => Prep::Copy,
                    _ => Prep::Clone,
                };
                let pat = (*arg.pat).clone();
                match pat {
                    Pat::Ident(PatIdent {
                        by_ref: None,
                        subpat: None,
                        ref ident,
                        mutability,
                        ..
                    }) => {
                        // `x: T` / `mut x: T`: keep the name, shadow it per attempt.
                        if matches!(kind, Prep::Copy) && mutability.is_none() {
                            continue; // the `async move` block / `move` closure copies it
                        }
                        if let Pat::Ident(outer) = arg.pat.as_mut() {
                            outer.mutability = None;
                        }
                        let name = ident.clone();
                        let span = ident.span();
                        preps.push(prep_stmt(
                            &private,
                            quote!(#mutability #name),
                            &name,
                            &kind,
                            span,
                        ));
                    }
                    Pat::Wild(_) => {}
                    other => {
                        // Destructuring patterns: take the argument under a generated name and
                        // destructure a fresh copy for each attempt.
                        let name = format_ident!("__retry_arg{}", index, span = mixed);
                        let span = other.span();
                        *arg.pat = syn::parse_quote!(#name);
                        preps.push(prep_stmt(
                            &private,
                            other.to_token_stream(),
                            &name,
                            &kind,
                            span,
                        ));
                    }
                }
            }
        }
    }

    let body = if has_receiver {
        rename_self(func.block.to_token_stream(), &self_alias)
    } else {
        func.block.to_token_stream()
    };

    // The result type: written out so that `?` inside the body knows its target.
    let (ret_ty, ret_span) = match &func.sig.output {
        ReturnType::Type(_, ty) => (Some(ty.as_ref().clone()), ty.span()),
        ReturnType::Default => (None, func.sig.ident.span()),
    };
    let annotation = match &ret_ty {
        Some(ty) if !mentions_impl(&ty.to_token_stream()) => quote!(: #ty),
        Some(_) => quote!(),
        None => quote!(: ()),
    };

    let run_attempt = if is_async {
        quote!(async move #body.await)
    } else {
        quote!((move || #body)())
    };
    let sleep = if is_async {
        quote!(#private::sleep(#delay).await)
    } else {
        quote!(#private::blocking_sleep(#delay))
    };
    let instant = if is_async {
        quote!(#private::TokioInstant)
    } else {
        quote!(#private::StdInstant)
    };

    // The policy, and the state it needs: a clock only with a deadline, the previous delay only
    // with decorrelated jitter.
    let (policy_setup, policy_ref, use_clock, use_prev) = match &config.policy {
        PolicySource::Keys(keys) => {
            let value = key_policy(&private, keys);
            let setup = quote! {
                const __RETRY_POLICY: #private::Policy = #value;
            };
            (
                setup,
                quote!(&__RETRY_POLICY),
                Use::Always(keys.deadline.is_some()),
                Use::Always(keys.jitter == Some("decorrelated")),
            )
        }
        PolicySource::Expr { expr, deadline } => {
            let expr_span = expr.span();
            let ty = quote_spanned!(expr_span=> #private::Policy);
            let mut value = quote!(#expr);
            if let Some(d) = deadline {
                let d = duration(d);
                value = quote!((#value).with_deadline(#d));
            }
            let check = if looks_const(expr) {
                quote_spanned!(expr_span=> const { #private::check_policy(&#expr) };)
            } else {
                quote!()
            };
            let setup = quote! {
                #check
                let #policy_local: #ty = #value;
            };
            (
                setup,
                quote!(&#policy_local),
                Use::AtRuntime(quote!(#policy_local.deadline().is_some())),
                Use::AtRuntime(quote!(true)),
            )
        }
    };

    let clock_setup = match &use_clock {
        Use::Always(false) => quote!(),
        Use::Always(true) => quote!(let #start = #instant::now();),
        Use::AtRuntime(cond) => quote! {
            let #start = if #cond { ::core::option::Option::Some(#instant::now()) } else { ::core::option::Option::None };
        },
    };
    let elapsed = match &use_clock {
        Use::Always(false) => quote!(::core::option::Option::None),
        Use::Always(true) => quote!(::core::option::Option::Some(#start.elapsed())),
        Use::AtRuntime(_) => quote!(#start.map(|s| s.elapsed())),
    };
    let (prev_setup, prev_value, prev_store) = match &use_prev {
        Use::Always(false) => (quote!(), quote!(#private::Duration::ZERO), quote!()),
        _ => (
            quote!(let mut #prev = #private::Duration::ZERO;),
            quote!(#prev),
            quote!(#prev = #delay;),
        ),
    };

    let check_result = quote_spanned! {ret_span=>
        #private::RetryResult::__retry_error(&#result)
    };

    let new_body = quote! {
        {
            #policy_setup
            let mut #attempt: u32 = 0;
            #clock_setup
            #prev_setup
            loop {
                #attempt = #attempt.wrapping_add(1);
                #(#preps)*
                #[allow(clippy::redundant_closure_call, clippy::needless_return, unreachable_code)]
                let #result #annotation = #run_attempt;
                if #check_result.is_none() {
                    return #result;
                }
                let #delay = #private::next_delay(#policy_ref, #attempt, #prev_value, #elapsed);
                let ::core::option::Option::Some(#delay) = #delay else {
                    return #result;
                };
                #prev_store
                #sleep;
            }
        }
    };

    let attrs = &func.attrs;
    let vis = &func.vis;
    let sig = &func.sig;
    quote! {
        #(#attrs)*
        #vis #sig #new_body
    }
}

/// Whether a piece of state is needed: known at compile time, or decided by the policy value.
enum Use {
    Always(bool),
    AtRuntime(TokenStream),
}

fn prep_stmt(
    private: &TokenStream,
    bind: TokenStream,
    name: &Ident,
    kind: &Prep,
    span: Span,
) -> TokenStream {
    match kind {
        Prep::Copy => quote!(let #bind = #name;),
        Prep::Reborrow => quote!(let #bind = &mut *#name;),
        Prep::Clone => {
            let call = quote_spanned!(span=> #private::RetryArg::__retry_clone(&#name));
            quote!(let #bind = #call;)
        }
    }
}

/// The `const` policy value built from the keys.
fn key_policy(private: &TokenStream, keys: &KeyPolicy) -> TokenStream {
    let mut value = quote!(#private::Policy::new());
    let attempts = keys.attempts;
    value = quote!(#value.with_attempts(#attempts));
    if let Some(base) = &keys.base {
        let d = duration(base);
        value = quote!(#value.with_base(#d));
    }
    if let Some(max) = &keys.max {
        let d = duration(max);
        value = quote!(#value.with_max(#d));
    }
    if let Some(factor) = keys.factor {
        let lit = proc_macro2::Literal::f64_suffixed(factor);
        value = quote!(#value.with_factor(#lit));
    }
    if let Some(backoff) = keys.backoff {
        let variant = Ident::new(&capitalize(backoff), Span::call_site());
        value = quote!(#value.with_backoff(#private::Backoff::#variant));
    }
    if let Some(jitter) = keys.jitter {
        let variant = Ident::new(&capitalize(jitter), Span::call_site());
        value = quote!(#value.with_jitter(#private::Jitter::#variant));
    }
    if let Some(deadline) = &keys.deadline {
        let d = duration(deadline);
        value = quote!(#value.with_deadline(#d));
    }
    value
}

fn duration(d: &Dur) -> TokenStream {
    let (secs, nanos) = (d.secs, d.nanos);
    quote!(::core::time::Duration::new(#secs, #nanos))
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// `SOME_POLICY` or `config::RETRY`: a path whose last segment is upper case names a constant
/// (or a static), so it can also be checked at compile time.
fn looks_const(expr: &syn::Expr) -> bool {
    match expr {
        syn::Expr::Path(path) if path.qself.is_none() => path
            .path
            .segments
            .last()
            .map(|seg| {
                let name = seg.ident.to_string();
                name.chars().any(|c| c.is_ascii_uppercase())
                    && !name.chars().any(|c| c.is_ascii_lowercase())
            })
            .unwrap_or(false),
        _ => false,
    }
}

/// Whether a type mentions `impl Trait` (which cannot be written in a `let` annotation).
fn mentions_impl(tokens: &TokenStream) -> bool {
    tokens.clone().into_iter().any(|tt| match tt {
        TokenTree::Ident(ident) => ident == "impl",
        TokenTree::Group(group) => mentions_impl(&group.stream()),
        _ => false,
    })
}

/// Replaces the `self` keyword by `alias` throughout the body, so that each attempt works on its
/// own reborrow or copy of the receiver.
fn rename_self(tokens: TokenStream, alias: &Ident) -> TokenStream {
    tokens
        .into_iter()
        .map(|tt| match tt {
            TokenTree::Ident(ident) if ident == "self" => {
                let mut renamed = alias.clone();
                renamed.set_span(ident.span());
                TokenTree::Ident(renamed)
            }
            TokenTree::Group(group) => {
                let mut new = Group::new(group.delimiter(), rename_self(group.stream(), alias));
                new.set_span(group.span());
                TokenTree::Group(new)
            }
            other => other,
        })
        .collect()
}
