//! Stage 4: render. Named pieces, each a small function over the [`Config`] and the [`Plan`],
//! put together by one template at the end ([`render`]). Every generated identifier is made in
//! [`Names`].

use proc_macro2::{Group, Ident, Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned as _;

use crate::duration::Dur;
use crate::plan::{ArgPlan, Flavor, Plan, Prep};
use crate::valid::{Config, KeyPolicy, PolicySource, TimeoutValue};
use crate::vocab::JitterKind;

/// The generated identifiers. Locals use `Span::mixed_site()`, so the user's code can neither
/// see nor shadow them.
struct Names {
    private: TokenStream,
    step: Ident,
    result: Ident,
    err: Ident,
    delay: Ident,
    info: Ident,
    policy_local: Ident,
    budget_local: Ident,
    breaker_local: Ident,
    permit: Ident,
    timeout_local: Ident,
    key: Ident,
    label: syn::Lifetime,
}

impl Names {
    fn new(config: &Config) -> Self {
        let mixed = Span::mixed_site();
        let krate = &config.krate;
        let local = |name: &str| Ident::new(name, mixed);
        Names {
            private: quote!(#krate::__private),
            step: local("__retry_step"),
            result: local("__retry_result"),
            err: local("__retry_err"),
            delay: local("__retry_delay"),
            info: local("__retry_info"),
            policy_local: local("__retry_policy"),
            budget_local: local("__retry_budget"),
            breaker_local: local("__retry_breaker"),
            permit: local("__retry_permit"),
            timeout_local: local("__retry_timeout"),
            key: local("__retry_key"),
            label: syn::Lifetime {
                apostrophe: mixed,
                ident: local("__retry_decide"),
            },
        }
    }
}

/// The optional signals the runtime was built with. retry-runtime's `tracing` and `metrics`
/// features turn on this crate's features of the same names; without them no event or counter
/// is written into the function at all (not even a macro call that expands to nothing), which
/// keeps `cargo check` of many retried functions fast.
#[derive(Clone, Copy, Debug)]
pub struct Signals {
    pub tracing: bool,
    pub metrics: bool,
}

impl Signals {
    /// What this build of the macro was compiled with.
    pub const BUILT: Signals = Signals {
        tracing: cfg!(feature = "tracing"),
        metrics: cfg!(feature = "metrics"),
    };
}

/// The rewritten function.
pub fn render(config: &Config, plan: &Plan, signals: Signals) -> TokenStream {
    let names = Names::new(config);
    // A signal's tokens, or nothing when the runtime was built without it.
    let traced = |tokens: TokenStream| if signals.tracing { tokens } else { quote!() };
    let counted = |tokens: TokenStream| if signals.metrics { tokens } else { quote!() };
    let private = &names.private;
    let (step, result, delay) = (&names.step, &names.result, &names.delay);
    let is_blocking = matches!(plan.flavor, Flavor::Blocking);

    let policy_setup = policy_setup(config, plan, &names);
    let policy = policy_ref(config, &names);
    let memory = memory_type(config, &names, is_blocking);
    let wants_clock = config.on_retry.is_some();
    let budget_setup = budget_setup(config, &names);
    // The call's key: the caller's (`idempotency_key = EXPR`, typed at the expression), or a
    // nonce from which a random key is derived only if the body asks for it.
    let key_setup = config.context.as_ref().map(|_| {
        let key = &names.key;
        let given = match &config.idempotency_key {
            Some(expr) => {
                let span = expr.span();
                let ty = {
                    let private = respan(private, span);
                    quote_spanned!(span=> #private::IdempotencyKey)
                };
                quote_spanned!(span=> ::core::option::Option::Some::<#ty>(#expr))
            }
            None => quote!(::core::option::Option::None),
        };
        quote!(let #key = #private::CallKey::new(#given);)
    });
    let annotation = plan.ret.as_ref().map(|ty| quote!(: #ty));
    let attempt = attempt_runner(config, plan, &names);
    let step_mut = if is_blocking {
        quote!(&mut *#step)
    } else {
        quote!(&mut #step)
    };
    let finish = |r: &Ident| {
        if is_blocking {
            quote!(return #private::Flow::Done(#r))
        } else {
            quote!(return #r)
        }
    };
    let go_on = |d: TokenStream| {
        if is_blocking {
            quote!(#private::Flow::Retry(#d))
        } else {
            d
        }
    };
    let function = if plan.has_receiver {
        let name = &plan.name;
        quote!(#private::Qualified(::core::any::type_name::<Self>(), #name))
    } else {
        let name = &plan.name;
        quote!(#name)
    };
    let step_ref = if is_blocking {
        quote!(&*#step)
    } else {
        quote!(&#step)
    };
    let deposit = config.budget.as_ref().map(|_| {
        let budget = &names.budget_local;
        quote!(#private::RetryBudget::deposit(#budget);)
    });
    let permit = &names.permit;
    let has_breaker = config.breaker.is_some();
    let permit_success = has_breaker.then(|| quote!(#private::Permit::success(#permit);));
    let count_success = counted(
        quote!(#private::count_done!(#function, #private::Step::attempt(#step_ref), "success");),
    );
    let on_success = quote! {
        #permit_success
        #deposit
        #count_success
    };
    let check_result = result_check(plan, &names, "__retry_error");
    let judges_ok = config.until.is_some() || config.classify_ok.is_some();
    let decide_chain = decide_chain(config, &names);
    // Bindings nothing reads are not made: the error is read by the filters, the hook and the
    // events; the reason by the events and counters.
    let err_read = config.unless.is_some()
        || config.on.is_some()
        || config.when.is_some()
        || config.classify.is_some()
        || config.on_retry.is_some()
        || signals.tracing;
    let err_pat = if err_read {
        names.err.to_token_stream()
    } else {
        quote!(_)
    };
    let budget_arg = match &config.budget {
        Some(_) => {
            let budget = &names.budget_local;
            quote!(::core::option::Option::Some(#budget))
        }
        None => quote!(#private::NO_BUDGET),
    };
    let (err, info) = (&names.err, &names.info);
    // The hook sees the error, or the whole outcome when `Ok` values may be retried too.
    let hook_sees = if judges_ok {
        quote!(&#result)
    } else {
        quote!(#err)
    };
    let hook = config.on_retry.as_ref().map(|hook| {
        let private = respan(private, hook.span());
        let call = quote_spanned!(hook.span()=> #private::call_on_retry(#hook, #hook_sees, &#info));
        quote!(#call;)
    });
    let return_success = finish(result);
    let give_up = match &config.fallback {
        None => finish(result),
        Some(fallback) => {
            let span = fallback.span();
            let answer_ident = Ident::new("__retry_answer", Span::mixed_site());
            let error = Ident::new("__retry_final", Span::mixed_site());
            let called = {
                let private = respan(private, span);
                quote_spanned!(span=> #private::call_fallback(#fallback, #error))
            };
            let answer = if is_blocking {
                called
            } else {
                quote! {{
                    #[allow(unused_imports)]
                    use #private::{AnswerIsFuture as _, AnswerIsValue as _};
                    let #answer_ident = #private::Answer(#called);
                    #answer_ident.__retry_answer().await
                }}
            };
            let value = quote! {
                match #private::RetryResult::__retry_take_error(#result) {
                    ::core::result::Result::Ok(#result) => #result,
                    ::core::result::Result::Err(#error) => #answer,
                }
            };
            if is_blocking {
                quote!(return #private::Flow::Done(#value))
            } else {
                quote!(return #value)
            }
        }
    };
    let retry_after = go_on(quote!(#private::RetryInfo::delay(&#info)));

    // One attempt and the decision after it: the value is the delay to sleep before the next
    // attempt; success and giving up return from the function (or the blocking loop's turn).
    let verdict = Ident::new("__retry_verdict", Span::mixed_site());
    let judge = if judges_ok {
        // `until` and `classify_ok` may turn an `Ok` into a failed attempt.
        let outcome = result_check(plan, &names, "__retry_outcome");
        let ok = Ident::new("__retry_ok", Span::mixed_site());
        let satisfied = match &config.until {
            Some(until) => {
                let private = respan(private, until.span());
                quote_spanned!(until.span()=> #private::check_until(#until, #ok))
            }
            None => quote!(true),
        };
        let decision = match config.classify_ok {
            Some(span) => {
                let private = respan(private, span);
                let at_flag = Ident::new("__retry_classified", span);
                quote_spanned!(span=> { let #at_flag = #ok; #private::classify_ok(#at_flag) })
            }
            None => quote!(#private::Decision::Stop),
        };
        if has_breaker {
            // The breaker counts a value as a failure only when `classify_ok` calls it
            // transient: a value that fails `until` is the service answering "not yet".
            let (satisfied_local, decision_local) = (
                Ident::new("__retry_satisfied", Span::mixed_site()),
                Ident::new("__retry_decision", Span::mixed_site()),
            );
            quote! {
                let #verdict = match #outcome {
                    ::core::result::Result::Ok(#ok) => {
                        let #satisfied_local: bool = #satisfied;
                        let #decision_local: #private::Decision = #decision;
                        match #private::ok_verdict(#satisfied_local, #decision_local) {
                            ::core::option::Option::None => {
                                #on_success
                                #return_success;
                            }
                            ::core::option::Option::Some(verdict) => {
                                #private::breaker_report(#permit, #private::Decision::is_retry(#decision_local));
                                verdict
                            }
                        }
                    }
                    ::core::result::Result::Err(#err) => {
                        let verdict = #decide_chain;
                        #private::breaker_report(#permit, ::core::result::Result::is_ok(&verdict));
                        verdict
                    }
                };
            }
        } else {
            quote! {
                let #verdict = match #outcome {
                    ::core::result::Result::Ok(#ok) => match #private::ok_verdict(#satisfied, #decision) {
                        ::core::option::Option::None => {
                            #on_success
                            #return_success;
                        }
                        ::core::option::Option::Some(verdict) => verdict,
                    },
                    ::core::result::Result::Err(#err) => #decide_chain,
                };
            }
        }
    } else if has_breaker {
        // A transient error counts against the service; a permanent one is the service
        // answering.
        quote! {
            let ::core::option::Option::Some(#err_pat) = #check_result else {
                #on_success
                #return_success;
            };
            let #verdict = #decide_chain;
            #private::breaker_report(#permit, ::core::result::Result::is_ok(&#verdict));
        }
    } else {
        quote! {
            let ::core::option::Option::Some(#err_pat) = #check_result else {
                #on_success
                #return_success;
            };
        }
    };
    // Without `until`/`classify_ok` (or a breaker) the verdict is written into the engine call.
    let verdict = if judges_ok || has_breaker {
        quote!(#verdict)
    } else {
        decide_chain
    };
    let shown = if judges_ok {
        quote!(&#result)
    } else {
        quote!(#err)
    };
    // The engine's decision; the events are emitted here, so that their target is the
    // retried function's module (they expand to nothing without the `tracing` feature).
    let reason = Ident::new("__retry_reason", Span::mixed_site());
    let reason_pat = if signals.tracing || signals.metrics {
        quote!(#reason)
    } else {
        quote!(_)
    };
    let reason_shown = if judges_ok {
        quote!(#private::reason_for(#reason, #private::RetryResult::__retry_error(&#result).is_none()))
    } else {
        quote!(#reason)
    };
    let trace_retry =
        traced(quote!(#private::trace_retry!(#function, &#info, #private::shown!(#shown));));
    let count_retry = counted(quote!(#private::count_retry!(#function);));
    let trace_give_up = traced(quote! {
        #private::trace_give_up!(
            #function,
            #private::Step::attempt(#step_ref),
            #reason_shown,
            #private::shown!(#shown)
        );
    });
    let count_give_up = counted(quote! {
        #private::count_give_up!(#function, #reason_shown);
        #private::count_done!(#function, #private::Step::attempt(#step_ref), "gave_up");
    });
    let decision = quote! {
        match #private::Step::decide(#step_mut, #policy, #verdict, #budget_arg) {
            ::core::result::Result::Ok(#info) => {
                #trace_retry
                #count_retry
                #hook
                #retry_after
            }
            ::core::result::Result::Err(#reason_pat) => {
                #trace_give_up
                #count_give_up
                #give_up;
            }
        }
    };
    // With a breaker, the attempt asks it first; a refusal ends the call at once.
    let gate = config.breaker.as_ref().map(|breaker| {
        let breaker_local = &names.breaker_local;
        let open = Ident::new("__retry_open", Span::mixed_site());
        let refused = {
            let span = breaker.span();
            let private = respan(private, span);
            quote_spanned!(span=> #private::breaker_refused(#open))
        };
        let trace_refused = traced(quote! {
            #private::trace_give_up!(
                #function,
                #private::Step::attempt(#step_ref),
                #private::GiveUp::BreakerOpen,
                #private::shown!(&#open)
            );
        });
        let count_refused = counted(quote! {
            #private::count_give_up!(#function, #private::GiveUp::BreakerOpen);
            #private::count_done!(#function, #private::Step::attempt(#step_ref), "gave_up");
        });
        quote! {
            let #permit = match #private::CircuitBreaker::try_acquire(#breaker_local) {
                ::core::result::Result::Ok(#permit) => #permit,
                ::core::result::Result::Err(#open) => {
                    #[allow(unreachable_code)]
                    let #result #annotation = #refused;
                    #trace_refused
                    #count_refused
                    #give_up;
                }
            };
        }
    });
    // With a breaker that the failure has just opened, the next attempt is refused at once,
    // without a sleep.
    let decision = match &config.breaker {
        Some(_) => {
            let breaker_local = &names.breaker_local;
            let at_once = go_on(quote!(::core::time::Duration::ZERO));
            quote! {
                if ::core::result::Result::is_ok(&#verdict)
                    && #private::Step::has_attempts_left(#step_ref, #policy)
                    && !#private::CircuitBreaker::admits(#breaker_local)
                {
                    #at_once
                } else {
                    #decision
                }
            }
        }
        None => decision,
    };
    let turn = quote! {
        #gate
        #[allow(clippy::redundant_closure_call, clippy::needless_return, unreachable_code)]
        let #result #annotation = #attempt;
        #judge
        #decision
    };

    // Input:
    //
    //     #[retry(attempts = 3, base = "200ms", jitter)]
    //     async fn fetch(&mut self, url: String) -> Result<Page, Error> { BODY }
    //
    // Output (async; a plain `fn` runs the same turn in `__private::run_blocking`; for
    // `#[async_trait]`'s `Box::pin(async move { BODY })` and for `-> impl Future` with
    // `async move { BODY }`, the same lines go inside that async block):
    //
    //     async fn fetch(&mut self, url: String) -> Result<Page, Error> {
    //         const __RETRY_POLICY: Policy = Policy::new().with_attempts(3)...;
    //         let mut __retry_step = Step::<Nothing>::begin(&__RETRY_POLICY, false);
    //         loop {
    //             let __retry_delay = {
    //                 let __retry_result: Result<Page, Error> = {
    //                     let __retry_self = &mut *self;          // per-attempt preparation
    //                     let url = RetryArg::__retry_clone(&url);
    //                     async move { BODY /* self renamed __retry_self */ }
    //                 }
    //                 .await;
    //                 let Some(__retry_err) = RetryResult::__retry_error(&__retry_result) else {
    //                     return __retry_result;                   // the success path
    //                 };
    //                 // The filters (`unless`, `on`, `when`, `classify`) give the verdict; the
    //                 // engine applies attempts, deadline, jitter, hints and budget, and traces.
    //                 let Some(__retry_delay) = Step::delay_after(&mut __retry_step,
    //                     &__RETRY_POLICY, RETRY, NO_BUDGET, "fetch", shown!(__retry_err))
    //                 else {
    //                     return __retry_result;                   // giving up
    //                 };
    //                 __retry_delay
    //             };
    //             sleep(__retry_delay).await;
    //         }
    //     }
    // A run-time timeout is evaluated once per call, with its type checked at the expression.
    let timeout_setup = match &config.timeout {
        Some((TimeoutValue::Expr(expr), _)) => {
            let local = &names.timeout_local;
            let span = expr.span();
            let ty = quote_spanned!(span=> ::core::time::Duration);
            quote!(let #local: #ty = #expr;)
        }
        _ => quote!(),
    };
    let breaker_setup = config.breaker.as_ref().map(|breaker| {
        let span = breaker.span();
        let private = respan(private, span);
        let ty = quote_spanned!(span=> #private::CircuitBreaker);
        let local = &names.breaker_local;
        quote_spanned!(span=> let #local: &#ty = &#breaker;)
    });
    let setup = quote! {
        #policy_setup
        #budget_setup
        #breaker_setup
        #key_setup
        #timeout_setup
    };
    let begin = quote!(#private::Step::<#memory>::begin(#policy, #wants_clock));
    let body = match &plan.flavor {
        Flavor::Blocking => quote! {
            #setup
            #private::run_blocking(#begin, |#step| { #turn })
        },
        Flavor::Async | Flavor::Boxed(_) | Flavor::Returned(_) => quote! {
            #private::async_needs_tokio!();
            #setup
            let mut #step = #begin;
            loop {
                let #delay = { #turn };
                // A zero delay retries at once: no timer to set up.
                if #delay != ::core::time::Duration::ZERO {
                    #private::sleep(#delay).await;
                }
            }
        },
    };
    let body = match &plan.flavor {
        Flavor::Boxed(boxed) => {
            let before = &boxed.before;
            let after = &boxed.after;
            let mut parens = Group::new(
                proc_macro2::Delimiter::Parenthesis,
                quote!(async move { #body }),
            );
            parens.set_span(boxed.parens);
            quote!(#before #parens #after)
        }
        Flavor::Returned(returned) => {
            let keywords = &returned.keywords;
            let mut block = Group::new(proc_macro2::Delimiter::Brace, body);
            block.set_span(returned.brace);
            quote!(#keywords #block)
        }
        _ => body,
    };
    // The body's braces keep their span, so that lints and suggestions about the function
    // point at the user's code rather than at the attribute.
    let mut block = Group::new(proc_macro2::Delimiter::Brace, body);
    block.set_span(plan.brace);
    let attrs = &plan.attrs;
    let vis = &plan.vis;
    let sig = &plan.sig;
    quote! {
        #(#attrs)*
        #vis #sig #block
    }
}

/// `const __RETRY_POLICY: Policy = …;` for key policies, `let __retry_policy = EXPR;` (checked
/// at compile time when it names a constant) for `policy = EXPR`.
fn policy_setup(config: &Config, plan: &Plan, names: &Names) -> TokenStream {
    let private = &names.private;
    match &config.policy {
        PolicySource::Keys(keys) => {
            let value = key_policy(private, keys);
            quote! {
                const __RETRY_POLICY: #private::Policy = #value;
            }
        }
        PolicySource::Expr {
            expr,
            deadline,
            max_hint,
        } => {
            let expr_span = expr.span();
            let ty = quote_spanned!(expr_span=> #private::Policy);
            let mut value = quote!(#expr);
            if let Some(d) = deadline {
                let d = duration(d);
                value = quote!((#value).with_deadline(#d));
            }
            if let Some(d) = max_hint {
                let d = duration(d);
                value = quote!((#value).with_max_hint(#d));
            }
            let check = if looks_const(expr) {
                let private = respan(private, expr_span);
                if nameable_from_nested_item(expr, &plan.sig.generics) {
                    // A `const` item is evaluated by `cargo check` too; an inline `const {}`
                    // only when the function is compiled to code.
                    quote_spanned!(expr_span=> const _: () = #private::check_policy(&#expr);)
                } else {
                    // `Self::POLICY` / `B::POLICY` cannot be named from a nested item.
                    quote_spanned!(expr_span=> const { #private::check_policy(&#expr) };)
                }
            } else {
                quote!()
            };
            let local = &names.policy_local;
            quote! {
                #check
                let #local: #ty = #value;
            }
        }
    }
}

/// `&__RETRY_POLICY` or `&__retry_policy`.
fn policy_ref(config: &Config, names: &Names) -> TokenStream {
    match &config.policy {
        PolicySource::Keys(_) => quote!(&__RETRY_POLICY),
        PolicySource::Expr { .. } => {
            let local = &names.policy_local;
            quote!(&#local)
        }
    }
}

/// What the call remembers between attempts: only what the policy reads.
fn memory_type(config: &Config, names: &Names, is_blocking: bool) -> TokenStream {
    let private = &names.private;
    let clock = if is_blocking {
        quote!(#private::StdClock)
    } else {
        quote!(#private::TokioClock)
    };
    match &config.policy {
        PolicySource::Keys(keys) => {
            let needs_clock = keys.deadline.is_some() || config.on_retry.is_some();
            let needs_previous = keys.jitter == Some(JitterKind::Decorrelated);
            match (needs_clock, needs_previous) {
                (false, false) => quote!(#private::Nothing),
                (false, true) => quote!(#private::Previous),
                (true, false) => quote!(#private::Started<#clock>),
                (true, true) => quote!(#private::Everything<#clock>),
            }
        }
        PolicySource::Expr { .. } => quote!(#private::Everything<#clock>),
    }
}

/// `let __retry_budget: &RetryBudget = &PATH;`, once per call, so a wrong type is reported once.
fn budget_setup(config: &Config, names: &Names) -> TokenStream {
    let Some(budget) = &config.budget else {
        return quote!();
    };
    let span = budget.span();
    let private = respan(&names.private, span);
    let ty = quote_spanned!(span=> #private::RetryBudget);
    let local = &names.budget_local;
    quote_spanned!(span=> let #local: &#ty = &#budget;)
}

/// One attempt, as an expression giving its result: the arguments prepared, the body run in
/// its own `async move` block (or closure), so that `?` and `return` end the attempt only.
fn attempt_runner(config: &Config, plan: &Plan, names: &Names) -> TokenStream {
    let private = &names.private;
    let is_blocking = matches!(plan.flavor, Flavor::Blocking);
    let preps = plan.args.iter().map(|arg| prep_stmt(private, arg));
    let body = &plan.body;
    let context = config.context.as_ref().map(|ctx| {
        let (step, key) = (&names.step, &names.key);
        let value = Ident::new("__retry_context", Span::mixed_site());
        (
            quote!(let #value = #private::CallKey::attempt(#key, #private::Step::attempt(&#step));),
            quote!(let #ctx = &#value;),
        )
    });
    let (context_value, context_bind) = match &context {
        Some((value, bind)) => (value.clone(), bind.clone()),
        None => (quote!(), quote!()),
    };
    if is_blocking {
        return quote! {
            {
                #(#preps)*
                #context_value
                (move || { #context_bind #body })()
            }
        };
    }
    let future = quote! {
        {
            #(#preps)*
            #context_value
            async move { #context_bind #body }
        }
    };
    match &config.timeout {
        Some((limit, key_span)) => {
            let limit = match limit {
                TimeoutValue::Literal(d) => duration(d),
                TimeoutValue::Expr(_) => {
                    let local = &names.timeout_local;
                    quote!(#local)
                }
            };
            let timed_out = {
                let private = respan(private, *key_span);
                quote_spanned!(*key_span=> #private::timed_out())
            };
            let step = &names.step;
            let policy = policy_ref(config, names);
            quote! {
                match #private::timeout(
                    #private::Step::attempt_timeout(&#step, #policy, #limit),
                    #future,
                ).await {
                    ::core::result::Result::Ok(r) => r,
                    ::core::result::Result::Err(_) => #timed_out,
                }
            }
        }
        None => quote!(#future.await),
    }
}

/// `let PAT = <prepared value>;`, under the argument's `#[cfg]`s.
fn prep_stmt(private: &TokenStream, arg: &ArgPlan) -> TokenStream {
    let ArgPlan {
        bind,
        source,
        prep,
        span,
        ty,
        cfg,
    } = arg;
    let value = match prep {
        Prep::Copy => quote!(#source),
        Prep::Reborrow => quote!(&mut *#source),
        Prep::ReborrowOption => quote!(::core::option::Option::as_deref_mut(&mut #source)),
        Prep::ReborrowPin => quote!(::core::pin::Pin::as_mut(&mut #source)),
        Prep::Clone => match ty {
            // Name the type, so that a missing `Clone` points at it.
            Some(ty) => {
                let ty_span = ty.span();
                let method = Ident::new("__retry_clone", last_span(&ty.to_token_stream(), ty_span));
                quote_spanned!(ty_span=> <#ty as #private::RetryArg>::#method(&#source))
            }
            None => quote_spanned!(*span=> #private::RetryArg::__retry_clone(&#source)),
        },
    };
    quote!(#(#cfg)* let #bind = #value;)
}

/// `Option<&E>`: the error of a failed attempt, through the return type, so that a function
/// not returning a `Result` is reported once, on that type.
fn result_check(plan: &Plan, names: &Names, method: &str) -> TokenStream {
    let private = &names.private;
    let result = &names.result;
    let span = plan.ret_span;
    match &plan.ret {
        Some(ty) => {
            let private = respan(private, span);
            let method = Ident::new(method, last_span(&ty.to_token_stream(), span));
            quote_spanned! {span=>
                <#ty as #private::RetryResult>::#method(&#result)
            }
        }
        None => {
            let method = Ident::new(method, span);
            quote_spanned! {span=>
                #private::RetryResult::#method(&#result)
            }
        }
    }
}

/// The filters, in order (`unless`, `on`, `when`, `classify`), as one `Verdict` expression.
/// They run after the attempt, where the arguments are the function's own, as declared.
fn decide_chain(config: &Config, names: &Names) -> TokenStream {
    let private = &names.private;
    let (err, label) = (&names.err, &names.label);
    let stop = |reason: &str| {
        let reason = Ident::new(reason, Span::call_site());
        quote!(break #label ::core::result::Result::Err(#private::GiveUp::#reason))
    };
    let mut chain = TokenStream::new();
    if let Some(filter) = &config.unless {
        let pat = &filter.pat;
        let guard = filter.guard.as_ref().map(|g| quote!(if #g));
        let stop = stop("Unless");
        chain.extend(quote!(if ::core::matches!(#err, #pat #guard) { #stop; }));
    }
    if let Some(filter) = &config.on {
        let pat = &filter.pat;
        let guard = filter.guard.as_ref().map(|g| quote!(if #g));
        let stop = stop("NotOn");
        chain.extend(quote!(if !::core::matches!(#err, #pat #guard) { #stop; }));
    }
    if let Some(when) = &config.when {
        let private = respan(private, when.span());
        let call = quote_spanned!(when.span()=> #private::check_when(#when, #err));
        let stop = stop("When");
        chain.extend(quote!(if !#call { #stop; }));
    }
    let last = match config.classify {
        Some(span) => {
            let call = {
                // Bound at the flag, so that a missing `Classify` is reported there.
                let private = respan(private, span);
                let at_flag = Ident::new("__retry_classified", span);
                quote_spanned!(span=> { let #at_flag = #err; #private::classify(#at_flag) })
            };
            let stop = stop("Permanent");
            quote! {
                match #call {
                    #private::Decision::Stop => { #stop; }
                    #private::Decision::Retry => ::core::result::Result::Ok(::core::option::Option::None),
                    #private::Decision::RetryAfter(wait) => ::core::result::Result::Ok(::core::option::Option::Some(wait)),
                }
            }
        }
        None => quote!(#private::RETRY),
    };
    if chain.is_empty() && config.classify.is_none() {
        return last;
    }
    quote!(#label: { #chain #last })
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
        let variant = Ident::new(backoff.variant(), Span::call_site());
        value = quote!(#value.with_backoff(#private::Backoff::#variant));
    }
    if let Some(jitter) = keys.jitter {
        let variant = Ident::new(jitter.variant(), Span::call_site());
        value = quote!(#value.with_jitter(#private::Jitter::#variant));
    }
    if let Some(deadline) = &keys.deadline {
        let d = duration(deadline);
        value = quote!(#value.with_deadline(#d));
    }
    if let Some(max_hint) = &keys.max_hint {
        let d = duration(max_hint);
        value = quote!(#value.with_max_hint(#d));
    }
    value
}

fn duration(d: &Dur) -> TokenStream {
    let (secs, nanos) = (d.secs, d.nanos);
    quote!(::core::time::Duration::new(#secs, #nanos))
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

/// Whether the path `expr` can be named from an item nested in the function: it does not start
/// with `Self`, with one of the function's generic parameters, or with a type-like name that
/// may be a generic parameter of the enclosing `impl` or trait (`B::POLICY`).
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
    if path.path.segments.len() > 1
        && first
            .ident
            .to_string()
            .starts_with(|c: char| c.is_ascii_uppercase())
    {
        return false;
    }
    !generics.params.iter().any(|param| match param {
        syn::GenericParam::Type(ty) => ty.ident == first.ident,
        syn::GenericParam::Const(c) => c.ident == first.ident,
        syn::GenericParam::Lifetime(_) => false,
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
