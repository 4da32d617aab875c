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
    let (raw, mut parse_errors) = crate::attr::parse(args);
    if let Some(constness) = &func.sig.constness {
        parse_errors.push(syn::Error::new(
            constness.span,
            "`#[retry]` cannot be used on a `const fn`: retrying sleeps between attempts; remove `const`",
        ));
    }
    if let Some(variadic) = &func.sig.variadic {
        parse_errors.push(syn::Error::new(
            variadic.dots.spans[0],
            "`#[retry]` cannot retry a variadic function: the arguments cannot be replayed",
        ));
    }
    match crate::valid::build(raw, parse_errors, func.sig.asyncness.is_some()) {
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

    // Arguments: rename what cannot be shadowed, and prepare a fresh binding per attempt. An
    // argument the body never mentions gets no per-attempt copy at all.
    let block = func.block.to_token_stream();
    let mut preps = Vec::new();
    let mut rename_receiver = false;
    let mut capture_by_ref = false;
    for (index, input) in func.sig.inputs.iter_mut().enumerate() {
        match input {
            FnArg::Receiver(receiver) => {
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
                match kind {
                    // `&self` is copied into each attempt as it is.
                    Prep::Copy => {}
                    // `&mut self` cannot be rebound; the attempt borrows it instead of taking
                    // it, so the next attempt can borrow it again.
                    Prep::Reborrow => capture_by_ref = true,
                    // `self` by value: each attempt gets its own copy, under another name.
                    Prep::Clone => {
                        rename_receiver = true;
                        receiver.mutability = None;
                        preps.push(prep_stmt(
                            &private,
                            quote!(#mutability #self_alias),
                            &self_token,
                            &kind,
                            receiver.self_token.span,
                        ));
                    }
                }
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
                        if !mentions(&block, &ident.to_string()) {
                            continue;
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
                        let ty = &arg.ty;
                        if matches!(kind, Prep::Clone) && !mentions_impl(&ty.to_token_stream()) {
                            // Name the type, so that a missing `Clone` points at it rather
                            // than at the attribute.
                            let ty_span = ty.span();
                            let method = Ident::new(
                                "__retry_clone",
                                last_span(&ty.to_token_stream(), ty_span),
                            );
                            let private = respan(&private, ty_span);
                            let call = quote_spanned!(ty_span=> <#ty as #private::RetryArg>::#method(&#name));
                            preps.push(quote!(let #other = #call;));
                            continue;
                        }
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

    let body = if rename_receiver {
        rename_self(block, &self_alias)
    } else {
        block
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

    let capture = if capture_by_ref {
        quote!()
    } else {
        quote!(move)
    };
    let attempt_body = if is_async {
        quote!(async #capture #body)
    } else {
        quote!((#capture || #body)())
    };
    let clock = if is_async {
        quote!(<#private::TokioClock as #private::Clock>)
    } else {
        quote!(<#private::StdClock as #private::Clock>)
    };
    let run_attempt = match (&config.timeout, is_async) {
        (Some((limit, key_span)), true) => {
            let limit = duration(limit);
            let timed_out = {
                let private = respan(&private, *key_span);
                quote_spanned!(*key_span=> #private::timed_out())
            };
            let policy_ref = policy_ref_tokens(&config.policy, &policy_local);
            let elapsed = elapsed_tokens(&config.policy, config.on_retry.is_some(), &start, &clock);
            quote! {
                match #private::timeout(
                    #private::attempt_timeout(#limit, #policy_ref, #elapsed),
                    #attempt_body,
                ).await {
                    ::core::result::Result::Ok(#result) => #result,
                    ::core::result::Result::Err(_) => #timed_out,
                }
            }
        }
        (_, true) => quote!(#attempt_body.await),
        (_, false) => attempt_body,
    };
    let (sleep, sleep_await) = if is_async {
        (quote!(#private::sleep), quote!(.await))
    } else {
        (quote!(#private::blocking_sleep), quote!())
    };

    // The policy, and the state it needs: a clock only with a deadline (or a hook that reports
    // the elapsed time), the previous delay only with decorrelated jitter.
    let wants_clock = config.on_retry.is_some();
    let policy_ref = policy_ref_tokens(&config.policy, &policy_local);
    let (policy_setup, use_clock, use_prev) = match &config.policy {
        PolicySource::Keys(keys) => {
            let value = key_policy(&private, keys);
            let setup = quote! {
                const __RETRY_POLICY: #private::Policy = #value;
            };
            (
                setup,
                Use::Always(keys.deadline.is_some() || wants_clock),
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
                let private = respan(&private, expr_span);
                if nameable_from_nested_item(expr, &func.sig.generics) {
                    // A `const` item is evaluated by `cargo check` too; an inline `const {}`
                    // only when the function is compiled to code.
                    quote_spanned!(expr_span=> const _: () = #private::check_policy(&#expr);)
                } else {
                    // `Self::POLICY` / `T::POLICY` cannot be named from a nested item.
                    quote_spanned!(expr_span=> const { #private::check_policy(&#expr) };)
                }
            } else {
                quote!()
            };
            let setup = quote! {
                #check
                let #policy_local: #ty = #value;
            };
            let cond = if wants_clock {
                quote!(true)
            } else {
                quote!(#policy_local.deadline().is_some())
            };
            (setup, Use::AtRuntime(cond), Use::AtRuntime(quote!(true)))
        }
    };

    let clock_setup = match &use_clock {
        Use::Always(false) => quote!(),
        Use::Always(true) => quote!(let #start = #clock::stamp();),
        Use::AtRuntime(cond) => quote! {
            let #start = if #cond { #clock::stamp() } else { #private::NO_STAMP };
        },
    };
    let elapsed = elapsed_tokens(&config.policy, wants_clock, &start, &clock);
    let (prev_setup, prev_value, prev_store) = match &use_prev {
        Use::Always(false) => (quote!(), quote!(#private::Duration::ZERO), quote!()),
        _ => (
            // Nanoseconds in a `u64`: half the size of a `Duration` in the future's state.
            quote!(let mut #prev: u64 = 0;),
            quote!(#private::Duration::from_nanos(#prev)),
            quote!(#prev = #private::saturating_nanos(#delay);),
        ),
    };

    // The attempt context.
    let key = Ident::new("__retry_key", mixed);
    let ctx_storage = Ident::new("__retry_ctx", mixed);
    let (key_setup, ctx_prep) = match &config.context {
        Some(name) => (
            quote!(let #key = #private::IdempotencyKey::random();),
            quote! {
                let #ctx_storage = #private::Attempt::new(#attempt, #key);
                let #name = &#ctx_storage;
            },
        ),
        None => (quote!(), quote!()),
    };

    // Deciding whether to retry, in the documented order: unless, on, when, classify; then
    // the policy (attempts, deadline), then the budget.
    let err = Ident::new("__retry_err", mixed);
    let hint = Ident::new("__retry_hint", mixed);
    let label = syn::Lifetime {
        apostrophe: mixed,
        ident: Ident::new("__retry_decide", mixed),
    };
    let stop = |reason: &str| quote!(break #label ::core::result::Result::Err(#reason));
    let mut decide = TokenStream::new();
    if let Some(filter) = &config.unless {
        let pat = &filter.pat;
        let guard = filter.guard.as_ref().map(|g| quote!(if #g));
        let stop = stop("matched `unless`");
        decide.extend(quote! {
            if ::core::matches!(#err, #pat #guard) { #stop; }
        });
    }
    if let Some(filter) = &config.on {
        let pat = &filter.pat;
        let guard = filter.guard.as_ref().map(|g| quote!(if #g));
        let stop = stop("did not match `on`");
        decide.extend(quote! {
            if !::core::matches!(#err, #pat #guard) { #stop; }
        });
    }
    if let Some(when) = &config.when {
        let private = respan(&private, when.span());
        let call = quote_spanned!(when.span()=> #private::check_when(#when, #err));
        let stop = stop("`when` returned false");
        decide.extend(quote! {
            if !#call { #stop; }
        });
    }
    if let Some(span) = config.classify {
        let call = {
            // Bound at the flag, so that a missing `Classify` is reported there.
            let private = respan(&private, span);
            let at_flag = Ident::new("__retry_classified", span);
            quote_spanned!(span=> { let #at_flag = #err; #private::classify(#at_flag) })
        };
        let stop = stop("classified as permanent");
        decide.extend(quote! {
            let #hint = match #call {
                #private::Decision::Stop => { #stop; }
                #private::Decision::Retry => ::core::option::Option::None,
                #private::Decision::RetryAfter(wait) => ::core::option::Option::Some(wait),
            };
        });
    } else {
        decide.extend(quote!(let #hint = ::core::option::Option::None;));
    }
    let exhausted = stop("out of attempts or past the deadline");
    decide.extend(quote! {
        let ::core::option::Option::Some(#delay) =
            #private::next_delay(#policy_ref, #attempt, #prev_value, #elapsed, #hint)
        else {
            #exhausted;
        };
    });
    let mut on_success = quote!();
    let budget_local = Ident::new("__retry_budget", mixed);
    let mut budget_setup = quote!();
    if let Some(budget) = &config.budget {
        // Bound once per call, so that a wrong type is reported once, on the user's path.
        let span = budget.span();
        let ty = respan(&quote!(#private::RetryBudget), span);
        budget_setup = quote_spanned!(span=> let #budget_local: &#ty = &#budget;);
        let stop = stop("retry budget exhausted");
        decide.extend(quote! {
            if !#private::budget_withdraw(#budget_local) { #stop; }
        });
        on_success = quote!(#private::budget_deposit(#budget_local););
    }

    let name = func.sig.ident.to_string();
    let info = Ident::new("__retry_info", mixed);
    let hook = config.on_retry.as_ref().map(|hook| {
        let private = respan(&private, hook.span());
        let call = quote_spanned!(hook.span()=> #private::call_on_retry(#hook, #err, &#info));
        quote!(#call;)
    });
    let debug_err = quote! {
        {
            #[allow(unused_imports)]
            use #private::{ViaDebug as _, ViaNothing as _};
            (&#private::DebugOr(#err)).__retry_debug()
        }
    };

    let check_result = match &ret_ty {
        // Name the return type, so that a non-`Result` is reported once, on that type.
        Some(ty) if !mentions_impl(&ty.to_token_stream()) => {
            let private = respan(&private, ret_span);
            let method = Ident::new("__retry_error", last_span(&ty.to_token_stream(), ret_span));
            quote_spanned! {ret_span=>
                <#ty as #private::RetryResult>::#method(&#result)
            }
        }
        Some(_) => quote_spanned! {ret_span=>
            #private::RetryResult::__retry_error(&#result)
        },
        None => {
            let private = respan(&private, ret_span);
            quote_spanned! {ret_span=>
                <() as #private::RetryResult>::__retry_error(&#result)
            }
        }
    };

    let new_body = quote! {
        {
            #policy_setup
            // The attempt about to run, 1-based; counted up after a failure, off the success path.
            let mut #attempt: u32 = 1;
            #clock_setup
            #prev_setup
            #key_setup
            #budget_setup
            loop {
                // Everything of this attempt, its result and the delay included, is gone by the
                // time the sleep is awaited: only the sleep itself is kept across that await.
                #sleep({
                    #(#preps)*
                    #ctx_prep
                    #[allow(clippy::redundant_closure_call, clippy::needless_return, unreachable_code)]
                    let #result #annotation = #run_attempt;
                    let ::core::option::Option::Some(#err) = #check_result else {
                        #on_success
                        return #result;
                    };
                    let #delay: ::core::result::Result<#private::Duration, &'static str> =
                        #label: {
                            #decide
                            ::core::result::Result::Ok(#delay)
                        };
                    let #delay = match #delay {
                        ::core::result::Result::Ok(#delay) => #delay,
                        ::core::result::Result::Err(reason) => {
                            #private::trace_give_up(#name, #attempt, reason, #debug_err);
                            return #result;
                        }
                    };
                    #prev_store
                    let #info = #private::RetryInfo::new(#attempt, #delay, #elapsed.unwrap_or_default());
                    #hook
                    #private::trace_retry(#name, &#info, #debug_err);
                    #delay
                })#sleep_await;
                #attempt = #attempt.wrapping_add(1);
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

/// `&__RETRY_POLICY` or `&__retry_policy`.
fn policy_ref_tokens(policy: &PolicySource, local: &Ident) -> TokenStream {
    match policy {
        PolicySource::Keys(_) => quote!(&__RETRY_POLICY),
        PolicySource::Expr { .. } => quote!(&#local),
    }
}

/// `Option<Duration>` since the first attempt, where a clock was started.
fn elapsed_tokens(
    policy: &PolicySource,
    wants_clock: bool,
    start: &Ident,
    clock: &TokenStream,
) -> TokenStream {
    match policy {
        PolicySource::Keys(keys) if keys.deadline.is_none() && !wants_clock => {
            quote!(::core::option::Option::None::<::core::time::Duration>)
        }
        _ => quote!(#clock::since(#start)),
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
/// own copy of a by-value receiver. `self::path` (the module) is left alone; inline format
/// arguments (`"{self:?}"`) in macro calls are renamed too.
fn rename_self(tokens: TokenStream, alias: &Ident) -> TokenStream {
    rename_self_in(tokens, alias, false)
}

fn rename_self_in(tokens: TokenStream, alias: &Ident, in_macro: bool) -> TokenStream {
    let mut out: Vec<TokenTree> = Vec::new();
    let mut tokens = tokens.into_iter().peekable();
    while let Some(tt) = tokens.next() {
        let after_bang = matches!(out.last(), Some(TokenTree::Punct(p)) if p.as_char() == '!');
        out.push(match tt {
            TokenTree::Ident(ident) if ident == "self" => {
                let is_module_path = matches!(
                    tokens.peek(),
                    Some(TokenTree::Punct(p)) if p.as_char() == ':'
                );
                if is_module_path {
                    TokenTree::Ident(ident)
                } else {
                    let mut renamed = alias.clone();
                    renamed.set_span(ident.span());
                    TokenTree::Ident(renamed)
                }
            }
            TokenTree::Group(group) => {
                let inner = rename_self_in(group.stream(), alias, in_macro || after_bang);
                let mut new = Group::new(group.delimiter(), inner);
                new.set_span(group.span());
                TokenTree::Group(new)
            }
            TokenTree::Literal(lit) if in_macro => {
                TokenTree::Literal(rename_inline_self(lit, &alias.to_string()))
            }
            other => other,
        });
    }
    out.into_iter().collect()
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

/// Whether the body may use `name`: as an identifier token anywhere (macro input included), or
/// inside a string literal as an inline format argument (`"{name}"`, `"{name:?}"`).
fn mentions(tokens: &TokenStream, name: &str) -> bool {
    let inline = format!("{{{name}");
    tokens.clone().into_iter().any(|tt| match tt {
        TokenTree::Ident(ident) => ident == name,
        TokenTree::Group(group) => mentions(&group.stream(), name),
        TokenTree::Literal(lit) => lit.to_string().contains(&inline),
        TokenTree::Punct(_) => false,
    })
}

/// `tokens` with every span set to `span`, so that errors about them point there.
fn respan(tokens: &TokenStream, span: Span) -> TokenStream {
    tokens
        .clone()
        .into_iter()
        .map(|mut tt| {
            if let TokenTree::Group(group) = &tt {
                let mut new = Group::new(group.delimiter(), respan(&group.stream(), span));
                new.set_span(span);
                tt = TokenTree::Group(new);
            } else {
                tt.set_span(span);
            }
            tt
        })
        .collect()
}

/// The span of the last token of `tokens` (or `default`). A path whose first token has a
/// type's first span and whose last has its last span covers exactly that type, so rustc
/// reports an obligation on the path and one on the type as a single error.
fn last_span(tokens: &TokenStream, default: Span) -> Span {
    tokens
        .clone()
        .into_iter()
        .last()
        .map_or(default, |tt| tt.span())
}

/// Whether the path `expr` can be named from an item nested in the function: it does not start
/// with `Self` or with one of the function's generic parameters.
fn nameable_from_nested_item(expr: &syn::Expr, generics: &syn::Generics) -> bool {
    let syn::Expr::Path(path) = expr else {
        return false;
    };
    if path.path.leading_colon.is_some() {
        return true;
    }
    let Some(first) = path.path.segments.first() else {
        return false;
    };
    if first.ident == "Self" {
        return false;
    }
    !generics.params.iter().any(|param| match param {
        syn::GenericParam::Type(ty) => ty.ident == first.ident,
        syn::GenericParam::Const(c) => c.ident == first.ident,
        syn::GenericParam::Lifetime(_) => false,
    })
}
