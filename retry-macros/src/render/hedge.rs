//! The hedged call: under `hedge`, copies of the call run concurrently, which the inline loop
//! cannot do, so the function becomes a call of the async builder (the same engine, the
//! builder's hedging driver). Each key becomes the builder method that says the same thing.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned as _;

use super::{budget_setup, duration, policy_ref, policy_setup, prep_stmt, Ctx};
use crate::plan::{ArgPlan, Prep};
use crate::tokens::{last_span, respan};
use crate::valid::{HedgeConfig, HedgeDelay, TimeoutValue};

// Input:
//
//     #[retry(hedge = "150ms", hedges = 2, timeout = "1s", context = attempt)]
//     async fn fetch(&self, url: String) -> Result<Page, Error> { self.get(&url, attempt).await }
//
// Output (with `hedge = p95`, `static __RETRY_LATENCIES: Latencies = Latencies::new();` in the
// body and `.hedge_at(&__RETRY_LATENCIES, 0.95f64).copies(2u32)` instead of `.hedge(..)`). This
// comment is the real expansion, checked by `the_hedged_sample_expansion_is_the_real_one`:
//
// HEDGE-SAMPLE-START
//     async fn fetch(&self, url: String) -> Result<Page, Error> {
//         let _: fn() -> Result<Page, Error> = ::retry_runtime::__private::timed_out;
//         const __RETRY_POLICY: ::retry_runtime::__private::Policy =
//             ::retry_runtime::__private::Policy::new().with_attempts(3u32);
//         #[allow(
//             clippy::redundant_closure_call,
//             clippy::needless_return,
//             unreachable_code
//         )]
//         ::retry_runtime::__private::HedgedCall::__retry_hedged(
//             ::retry_runtime::__private::Policy::retry(
//                 &__RETRY_POLICY,
//                 move |__retry_attempt: ::retry_runtime::__private::Attempt| {
//                     let url = ::retry_runtime::__private::HedgeArg::__hedge_clone(&url);
//                     ::retry_runtime::__private::hedged_attempt::<Result<Page, Error>, _>(async move {
//                         let attempt = &__retry_attempt;
//                         self.get(&url, attempt).await
//                     })
//                 },
//             )
//             .name("fetch")
//             .timeout(::core::time::Duration::new(1u64, 0u32))
//             .hedge(::core::time::Duration::new(0u64, 150000000u32), 2u32),
//         )
//         .await
//     }
// HEDGE-SAMPLE-END

/// The body of a hedged function.
pub(super) fn hedged_body(ctx: &Ctx<'_>, hedge: &HedgeConfig) -> TokenStream {
    let (config, plan, names) = (ctx.config, ctx.plan, &ctx.names);
    let private = &names.private;
    let policy = policy_setup(config, plan, names);
    let budget = budget_setup(config, names);
    let policy_ref = policy_ref(config, names);
    let sleeper = sleeper_setup(ctx);
    let timeout = match &config.timeout {
        Some((TimeoutValue::Expr(expr), _)) => {
            let local = &names.timeout_local;
            let ty = quote_spanned!(expr.span()=> ::core::time::Duration);
            quote!(let #local: #ty = #expr;)
        }
        _ => quote!(),
    };
    let latencies = Ident::new("__RETRY_LATENCIES", Span::mixed_site());
    let (histogram, hedged) = match hedge.delay {
        HedgeDelay::Fixed(d) => {
            let (d, copies) = (duration(&d), hedge.copies);
            (quote!(), quote_spanned!(hedge.key=> .hedge(#d, #copies)))
        }
        HedgeDelay::Percentile(thousandths) => {
            let copies = hedge.copies;
            let at = proc_macro2::Literal::f64_suffixed(f64::from(thousandths) / 1000.0);
            (
                quote!(static #latencies: #private::Latencies = #private::Latencies::new();),
                quote_spanned!(hedge.key=> .hedge_at(&#latencies, #at).copies(#copies)),
            )
        }
    };
    let (op, methods) = (operation(ctx), Methods(ctx));
    let checks = bound_checks(ctx);
    let chain = quote! {
        #private::Policy::retry(#policy_ref, #op)
            #methods
            #hedged
    };
    // Spanned at `hedge`, so that a bound the keys' own checks did not name is reported there.
    let call = {
        let private = respan(private, hedge.key);
        match &config.report {
            None => quote_spanned!(hedge.key=> #private::HedgedCall::__retry_hedged(#chain).await),
            // `report = NAME`: the call's outcome comes with its report, written to `NAME`.
            Some(report) => {
                let (out, filled) = (
                    Ident::new("__retry_out", Span::mixed_site()),
                    Ident::new("__retry_report", Span::mixed_site()),
                );
                quote_spanned!(hedge.key=> {
                    let (#out, #filled) =
                        #private::HedgedCall::__retry_hedged(#chain.report()).await;
                    *#report = #filled;
                    #out
                })
            }
        }
    };
    quote! {
        #checks
        #policy
        #budget
        #sleeper
        #timeout
        #histogram
        #[allow(clippy::redundant_closure_call, clippy::needless_return, unreachable_code)]
        #call
    }
}

/// What the keys ask of the error type, checked where they are written with the attribute's
/// own messages (`E: From<TimedOut>` at `timeout`, ...), rather than as one unmet bound of the
/// whole hedged call.
fn bound_checks(ctx: &Ctx<'_>) -> TokenStream {
    let (config, private) = (ctx.config, &ctx.names.private);
    let Some(ret) = &ctx.plan.ret else {
        return quote!();
    };
    let paced = config.throttle.as_ref().or(config.rate_limiter.as_ref());
    let checks = [
        (
            config.timeout.as_ref().map(|(_, key)| *key),
            "timed_out",
            None,
        ),
        (
            config.breaker.as_ref().map(|b| b.span()),
            "breaker_refused",
            Some(quote!(#private::BreakerOpen)),
        ),
        (
            paced.map(|p| p.span()),
            "throttled_refused",
            Some(quote!(#private::Throttled)),
        ),
    ];
    let mut out = TokenStream::new();
    let error = quote!(&<#ret as #private::RetryResult>::Error);
    let value = quote!(&<#ret as #private::RetryResult>::Ok);
    let judged = [
        (
            config.classify,
            "classify",
            &error,
            quote!(#private::Decision),
        ),
        (
            config.classify_ok,
            "classify_ok",
            &value,
            quote!(#private::Decision),
        ),
        (paced.map(|p| p.span()), "overloaded", &error, quote!(bool)),
    ];
    for (span, check, input, output) in judged {
        if let Some(span) = span {
            let path = {
                let private = respan(private, span);
                let check = Ident::new(check, span);
                quote_spanned!(span=> #private::#check)
            };
            out.extend(quote!(let _: fn(#input) -> #output = #path;));
        }
    }
    for (span, check, input) in checks {
        if let Some(span) = span {
            // The function's type is written apart, so that the unmet bound is reported at
            // the key, where the path is.
            let path = {
                let private = respan(private, span);
                let check = Ident::new(check, span);
                quote_spanned!(span=> #private::#check)
            };
            out.extend(quote!(let _: fn(#input) -> #ret = #path;));
        }
    }
    out
}

/// The operation each copy runs: its own arguments, then the body in its own `async move`
/// block (so `?` and `return` end that copy only), typed by the function's result.
fn operation(ctx: &Ctx<'_>) -> TokenStream {
    let (config, plan, names) = (ctx.config, ctx.plan, &ctx.names);
    let private = &names.private;
    let attempt = Ident::new("__retry_attempt", Span::mixed_site());
    // The `report = NAME` parameter stays with the call, which fills it in at the end.
    let preps = plan
        .args
        .iter()
        .filter(|arg| config.report.as_ref() != Some(&arg.source))
        .map(|arg| hedge_prep(private, arg));
    let context = config
        .context
        .as_ref()
        .map(|name| quote!(let #name = &#attempt;));
    let body = &plan.body;
    let future = quote!(async move { #context #body });
    let future = match &plan.ret {
        Some(ty) => quote!(#private::hedged_attempt::<#ty, _>(#future)),
        None => future,
    };
    quote! {
        move |#attempt: #private::Attempt| {
            #(#preps)*
            #future
        }
    }
}

/// `let PAT = <copy's own value>;`: a by-value argument is cloned for each copy, through a
/// trait whose error says why; anything else as the loop prepares it.
fn hedge_prep(private: &TokenStream, arg: &ArgPlan) -> TokenStream {
    if arg.prep != Prep::Clone {
        return prep_stmt(private, arg);
    }
    let ArgPlan {
        bind,
        source,
        span,
        ty,
        cfg,
        ..
    } = arg;
    let value = match ty {
        Some(ty) => {
            let ty_span = ty.span();
            let method = Ident::new("__hedge_clone", last_span(&ty.to_token_stream(), ty_span));
            quote_spanned!(ty_span=> <#ty as #private::HedgeArg>::#method(&#source))
        }
        None => quote_spanned!(*span=> #private::HedgeArg::__hedge_clone(&#source)),
    };
    quote!(#(#cfg)* let #bind = #value;)
}

/// `sleeper = EXPR`, evaluated once per call and checked at the expression.
fn sleeper_setup(ctx: &Ctx<'_>) -> TokenStream {
    let Some(sleeper) = &ctx.config.sleeper else {
        return quote!();
    };
    let span = sleeper.span();
    let private = respan(&ctx.names.private, span);
    let local = &ctx.names.sleeper_local;
    let value = Ident::new("__retry_sleeper_value", Span::mixed_site());
    quote_spanned!(span=>
        let #value = &#sleeper;
        let #local = {
            use #private::AsyncSleeper as _;
            #value.__retry_sleeper()
        };
    )
}

/// The builder methods the other keys map to, in the order the engine asks them.
struct Methods<'a>(&'a Ctx<'a>);

impl ToTokens for Methods<'_> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let ctx = self.0;
        let (config, names) = (ctx.config, &ctx.names);
        let private = &names.private;
        tokens.extend(filters(ctx));
        if let Some(span) = config.classify {
            tokens.extend(quote_spanned!(span=> .classify()));
        }
        if let Some(until) = &config.until {
            tokens.extend(quote_spanned!(until.span()=> .until(#until)));
        }
        if let Some(span) = config.classify_ok {
            tokens.extend(quote_spanned!(span=> .classify_ok()));
        }
        for (expr, method) in [
            (&config.throttle, "throttle"),
            (&config.rate_limiter, "rate_limiter"),
        ] {
            if let Some(expr) = expr {
                let method = Ident::new(method, expr.span());
                tokens.extend(quote_spanned!(expr.span()=> .#method(&#expr)));
            }
        }
        tokens.extend(on_retry(ctx));
        if let Some(key) = &config.idempotency_key {
            let ty = {
                let private = respan(private, key.span());
                quote_spanned!(key.span()=> #private::IdempotencyKey)
            };
            tokens.extend(quote_spanned!(key.span()=> .idempotency_key(::core::convert::identity::<#ty>(#key))));
        }
        if config.budget.is_some() {
            let local = &names.budget_local;
            tokens.extend(quote!(.budget(#local)));
        }
        if let Some(breaker) = &config.breaker {
            let span = breaker.span();
            let private = respan(private, span);
            tokens.extend(quote_spanned!(span=> .breaker({
                let __retry_breaker: &#private::CircuitBreaker = &#breaker;
                __retry_breaker
            })));
        }
        tokens.extend(fallback(ctx));
        if config.sleeper.is_some() {
            let local = &names.sleeper_local;
            tokens.extend(quote!(.sleeper(#local)));
        }
        let name = match &config.name {
            Some(given) => given.to_token_stream(),
            None => ctx.plan.name.to_token_stream(),
        };
        tokens.extend(quote!(.name(#name)));
        if let Some((limit, key_span)) = &config.timeout {
            let limit = match limit {
                TimeoutValue::Literal(d) => duration(d),
                TimeoutValue::Expr(_) => names.timeout_local.to_token_stream(),
            };
            tokens.extend(quote_spanned!(*key_span=> .timeout(#limit)));
        }
    }
}

/// `unless`, `on` and `when` as one predicate, in that order (the builder has `when` alone).
fn filters(ctx: &Ctx<'_>) -> TokenStream {
    let config = ctx.config;
    if config.unless.is_none() && config.on.is_none() && config.when.is_none() {
        return quote!();
    }
    let private = &ctx.names.private;
    let err = &ctx.names.err;
    let mut checks = Vec::new();
    if let Some(filter) = &config.unless {
        let (pat, guard) = (&filter.pat, filter.guard.as_ref().map(|g| quote!(if #g)));
        checks.push(quote!(!::core::matches!(#err, #pat #guard)));
    }
    if let Some(filter) = &config.on {
        let (pat, guard) = (&filter.pat, filter.guard.as_ref().map(|g| quote!(if #g)));
        checks.push(quote!(::core::matches!(#err, #pat #guard)));
    }
    if let Some(when) = &config.when {
        let private = respan(private, when.span());
        checks.push(quote_spanned!(when.span()=> #private::check_when(#when, #err)));
    }
    quote!(.when(move |#err| #(#checks)&&*))
}

/// `on_retry`: the builder's hook sees the whole outcome; the attribute's sees the error, or
/// the outcome under `until` or `classify_ok`.
fn on_retry(ctx: &Ctx<'_>) -> TokenStream {
    let Some(hook) = &ctx.config.on_retry else {
        return quote!();
    };
    let (result, err, info) = (&ctx.names.result, &ctx.names.err, &ctx.names.info);
    let span = hook.span();
    let private = respan(&ctx.names.private, span);
    if ctx.judges_ok() {
        let call = quote_spanned!(span=> #private::call_on_retry(#result, #hook, #info));
        return quote!(.on_retry(move |#result, #info| #call));
    }
    let call = quote_spanned!(span=> #private::call_on_retry(#err, #hook, #info));
    quote! {
        .on_retry(move |#result, #info| {
            if let ::core::result::Result::Err(#err) = #result {
                #call;
            }
        })
    }
}

/// `fallback`: plain or async, answering the final error (or, under `until` or
/// `classify_ok`, the last outcome); which of the two is decided by the answer's type.
fn fallback(ctx: &Ctx<'_>) -> TokenStream {
    let Some(fallback) = &ctx.config.fallback else {
        return quote!();
    };
    let private = &ctx.names.private;
    let (answer, last) = (&ctx.names.answer, &ctx.names.final_error);
    let span = fallback.span();
    let called = {
        let private = respan(private, span);
        quote_spanned!(span=> #private::call_fallback(#fallback, #last))
    };
    let method = if ctx.judges_ok() {
        quote!(__fallback_outcome_async)
    } else {
        quote!(fallback_async)
    };
    quote! {
        .#method(move |#last| {
            #[allow(unused_imports)]
            use #private::{AnswerIsFuture as _, AnswerIsValue as _};
            let #answer = #private::Answer(#called);
            #answer.__retry_answer()
        })
    }
}
