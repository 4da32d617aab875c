//! Stage 4: render. Typed pieces that render themselves (`ToTokens`), each built from the
//! [`Config`] and the [`Plan`], put together by one template at the end ([`render`]). Every
//! generated identifier is made in [`Names`].
//!
//! The generated loop holds no rule of the retry: it asks the gate (the breaker), runs the
//! attempt, judges the outcome with the filters, and hands the verdict to the engine's one turn
//! (`Step::turn`), which reports to the breaker, keeps the budget, counts, and says to retry
//! after a delay or to give up. Only the events are written here, so that their target is the
//! retried function's module.

use proc_macro2::{Group, Ident, Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned as _;

use crate::duration::Dur;
use crate::plan::{ArgPlan, Flavor, Plan, Prep};
use crate::tokens::{last_span, respan};
use crate::valid::{Config, KeyPolicy, PolicySource, TimeoutValue};
use crate::vocab::JitterKind;

mod hedge;

/// The generated identifiers. Locals use `Span::mixed_site()`, so the user's code can neither
/// see nor shadow them.
struct Names {
    private: TokenStream,
    step: Ident,
    result: Ident,
    err: Ident,
    ok: Ident,
    delay: Ident,
    info: Ident,
    reason: Ident,
    judged: Ident,
    turn: Ident,
    open: Ident,
    answer: Ident,
    final_error: Ident,
    context: Ident,
    policy_local: Ident,
    budget_local: Ident,
    breaker_local: Ident,
    throttle_local: Ident,
    limiter_local: Ident,
    throttled: Ident,
    wait: Ident,
    permit: Ident,
    timeout_local: Ident,
    sleeper_local: Ident,
    key: Ident,
    span: Ident,
    metrics: Ident,
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
            ok: local("__retry_ok"),
            delay: local("__retry_delay"),
            info: local("__retry_info"),
            reason: local("__retry_reason"),
            judged: local("__retry_judged"),
            turn: local("__retry_turn"),
            open: local("__retry_open"),
            answer: local("__retry_answer"),
            final_error: local("__retry_final"),
            context: local("__retry_context"),
            policy_local: local("__retry_policy"),
            budget_local: local("__retry_budget"),
            breaker_local: local("__retry_breaker"),
            throttle_local: local("__retry_throttle"),
            limiter_local: local("__retry_limiter"),
            throttled: local("__retry_throttled"),
            wait: local("__retry_wait"),
            permit: local("__retry_permit"),
            timeout_local: local("__retry_timeout"),
            sleeper_local: local("__retry_sleeper"),
            key: local("__retry_key"),
            span: local("__retry_span"),
            metrics: Ident::new("__RETRY_METRICS", mixed),
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

/// What every piece reads: the configuration, the plan, the names, the signals.
struct Ctx<'a> {
    config: &'a Config,
    plan: &'a Plan,
    names: Names,
    signals: Signals,
}

impl Ctx<'_> {
    /// Whether the call reads time (its memory keeps a start: a deadline, a hook, a policy
    /// known only at run time); the engine then reads it on the sleeper's clock.
    fn reads_time(&self) -> bool {
        match &self.config.policy {
            PolicySource::Keys(keys) => keys.deadline.is_some() || self.config.on_retry.is_some(),
            PolicySource::Expr { .. } => true,
        }
    }

    /// The call's sleeper (its clock too): a reference to the caller's (`sleeper = EXPR`), or
    /// the runtime's default one for async or blocking code, by value (a unit struct: nothing
    /// to keep in the future's state).
    fn sleeper(&self) -> TokenStream {
        let private = &self.names.private;
        if self.config.sleeper.is_some() {
            self.names.sleeper_local.to_token_stream()
        } else if self.is_blocking() {
            quote!(#private::DEFAULT_BLOCKING_SLEEPER)
        } else {
            quote!(#private::ASYNC_SLEEPER)
        }
    }

    /// Whether a throttle or a rate limiter paces the call: the first attempt asks them, every
    /// answer is reported to them (with the error's overload), and the turn reads the clock.
    fn paced(&self) -> bool {
        self.config.throttle.is_some() || self.config.rate_limiter.is_some()
    }

    /// The clock the turn reads: the sleeper's when the call reads time or is paced, `()`
    /// (nothing) otherwise.
    fn turn_clock(&self) -> TokenStream {
        if self.reads_time() || self.paced() {
            self.sleeper()
        } else {
            quote!(())
        }
    }

    fn is_blocking(&self) -> bool {
        matches!(self.plan.flavor, Flavor::Blocking)
    }

    /// Whether `until` or `classify_ok` may turn an `Ok` into a failed attempt.
    fn judges_ok(&self) -> bool {
        self.config.until.is_some() || self.config.classify_ok.is_some()
    }

    /// `&__retry_step` (or `&*__retry_step` in the blocking loop's closure).
    fn step_ref(&self) -> TokenStream {
        let step = &self.names.step;
        if self.is_blocking() {
            quote!(&*#step)
        } else {
            quote!(&#step)
        }
    }

    /// `&mut __retry_step` (or `&mut *__retry_step`).
    fn step_mut(&self) -> TokenStream {
        let step = &self.names.step;
        if self.is_blocking() {
            quote!(&mut *#step)
        } else {
            quote!(&mut #step)
        }
    }

    /// `return VALUE` from the function, or from the blocking loop's turn.
    fn finish(&self, value: TokenStream) -> TokenStream {
        let private = &self.names.private;
        if self.is_blocking() {
            quote!(return #private::Flow::Done(#value))
        } else {
            quote!(return #value)
        }
    }

    /// `Tally::METHOD(&mut *NAME, ARG);` with `report = NAME`: the call's report filled in as
    /// it goes; nothing otherwise.
    fn tally(&self, method: &str, arg: TokenStream) -> TokenStream {
        let Some(report) = &self.config.report else {
            return TokenStream::new();
        };
        let private = &self.names.private;
        let method = Ident::new(method, Span::call_site());
        quote!(#private::Tally::#method(&mut *#report, #arg);)
    }

    /// `tally("stopped", Stop::GaveUp(REASON))`.
    fn tally_gave_up(&self, reason: TokenStream) -> TokenStream {
        let private = &self.names.private;
        self.tally("stopped", quote!(#private::Stop::GaveUp(#reason)))
    }

    /// `tally("stopped", Stop::Accepted)`.
    fn tally_accepted(&self) -> TokenStream {
        let private = &self.names.private;
        self.tally("stopped", quote!(#private::Stop::Accepted))
    }

    /// `tokens` when the runtime emits events, nothing otherwise.
    fn traced(&self, tokens: TokenStream) -> TokenStream {
        if self.signals.tracing {
            tokens
        } else {
            TokenStream::new()
        }
    }

    /// The call's name for events and counters: `name = "..."`, or the function's path
    /// (`Client::fetch` for a method).
    fn call_name(&self) -> TokenStream {
        let private = &self.names.private;
        let name = &self.plan.name;
        match &self.config.name {
            Some(given) => quote!(#given),
            None if self.plan.has_receiver => {
                quote!(#private::Qualified(::core::any::type_name::<Self>(), #name))
            }
            None => quote!(#name),
        }
    }

    /// Whether the engine's turn needs the guards and the counters' site: with no breaker, no
    /// budget and no counters the generated code takes the shorter unguarded turn and writes no
    /// success turn (it would do nothing).
    fn guarded(&self) -> bool {
        self.config.budget.is_some()
            || self.config.breaker.is_some()
            || self.paced()
            || self.signals.metrics
    }

    /// How the events show the failed outcome.
    fn shown(&self) -> TokenStream {
        let (private, result, err) = (&self.names.private, &self.names.result, &self.names.err);
        if self.judges_ok() {
            quote!(#private::shown_outcome!(&#result))
        } else {
            quote!(#private::shown!(#err))
        }
    }
}

/// `&Site::new(&NAME)` (or, with the `metrics` feature, `&Site::with_cell(&NAME, &HANDLES)`):
/// where the engine's counters go.
struct SiteArg<'a>(&'a Ctx<'a>);

impl ToTokens for SiteArg<'_> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let ctx = self.0;
        let private = &ctx.names.private;
        let name = ctx.call_name();
        tokens.extend(if ctx.signals.metrics {
            let cell = &ctx.names.metrics;
            quote!(&#private::Site::with_cell(&#name, &#cell))
        } else {
            quote!(&#private::Site::new(&#name))
        });
    }
}

/// `Guards::new(budget, breaker)` (with `.with_throttle(..)`, `.with_limiter(..)`), or
/// `Guards::NONE`.
struct GuardsArg<'a>(&'a Ctx<'a>);

impl ToTokens for GuardsArg<'_> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let ctx = self.0;
        let Ctx { config, names, .. } = ctx;
        let private = &names.private;
        if config.budget.is_none() && config.breaker.is_none() && !ctx.paced() {
            tokens.extend(quote!(#private::Guards::NONE));
            return;
        }
        let some = |present: bool, local: &Ident| {
            if present {
                quote!(::core::option::Option::Some(#local))
            } else {
                quote!(::core::option::Option::None)
            }
        };
        let budget = some(config.budget.is_some(), &names.budget_local);
        let breaker = some(config.breaker.is_some(), &names.breaker_local);
        tokens.extend(quote!(#private::Guards::new(#budget, #breaker)));
        if config.throttle.is_some() {
            let throttle = some(true, &names.throttle_local);
            tokens.extend(quote!(.with_throttle(#throttle)));
        }
        if config.rate_limiter.is_some() {
            let limiter = some(true, &names.limiter_local);
            tokens.extend(quote!(.with_limiter(#limiter)));
        }
    }
}

/// The permit the attempt runs under: the gate's, or `None` without a breaker.
struct PermitArg<'a>(&'a Ctx<'a>);

impl ToTokens for PermitArg<'_> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let Ctx { config, names, .. } = self.0;
        tokens.extend(match config.breaker {
            Some(_) => names.permit.to_token_stream(),
            None => quote!(::core::option::Option::None),
        });
    }
}

/// How the call ends when it gives up: its last outcome, or the fallback's answer to its
/// error.
struct GiveUpReturn<'a>(&'a Ctx<'a>);

impl ToTokens for GiveUpReturn<'_> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let ctx = self.0;
        let (private, result) = (&ctx.names.private, &ctx.names.result);
        let Some(fallback) = &ctx.config.fallback else {
            tokens.extend(ctx.finish(quote!(#result)));
            return;
        };
        let span = fallback.span();
        // With `until` or `classify_ok` a value may be the outcome the call gives up on: the
        // fallback then answers the whole outcome (as `on_retry` sees it), else the error.
        let error = if ctx.judges_ok() {
            result
        } else {
            &ctx.names.final_error
        };
        let called = {
            let private = respan(private, span);
            quote_spanned!(span=> #private::call_fallback(#fallback, #error))
        };
        let answer = if ctx.is_blocking() {
            called
        } else {
            let answer = &ctx.names.answer;
            quote! {{
                #[allow(unused_imports)]
                use #private::{AnswerIsFuture as _, AnswerIsValue as _};
                let #answer = #private::Answer(#called);
                #answer.__retry_answer().await
            }}
        };
        if ctx.judges_ok() {
            tokens.extend(ctx.finish(answer));
            return;
        }
        tokens.extend(ctx.finish(quote! {
            match #private::RetryResult::__retry_take_error(#result) {
                ::core::result::Result::Ok(#result) => #result,
                ::core::result::Result::Err(#error) => #answer,
            }
        }));
    }
}

/// With a throttle or a rate limiter, the first attempt asks them before anything else
/// (`Step::admit`; a retry was asked at its turn): the wait to sleep before it goes out, or a
/// refusal that ends the call at once, with `E::from(Throttled)` or the fallback's answer.
struct Pacing<'a>(&'a Ctx<'a>);

impl ToTokens for Pacing<'_> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let ctx = self.0;
        let Some(paced_by) = ctx
            .config
            .throttle
            .as_ref()
            .or(ctx.config.rate_limiter.as_ref())
        else {
            return;
        };
        let Names {
            private,
            throttled,
            wait,
            result,
            ..
        } = &ctx.names;
        let refused = {
            let span = paced_by.span();
            let private = respan(private, span);
            quote_spanned!(span=> #private::throttled_refused(#throttled))
        };
        let step_ref = ctx.step_ref();
        let policy = policy_ref(ctx.config, &ctx.names);
        let (guards, site) = (GuardsArg(ctx), SiteArg(ctx));
        let sleeper = ctx.sleeper();
        let annotation = ctx.plan.ret.as_ref().map(|ty| quote!(: #ty));
        let name = ctx.call_name();
        let trace = ctx.traced(quote! {
            #private::trace_give_up!(
                #name,
                #private::Step::attempts_made(#step_ref),
                #private::GiveUp::Throttled,
                #private::shown!(&#throttled)
            );
        });
        let sleep = if ctx.is_blocking() {
            quote!(#private::BlockingSleeper::block(&#sleeper, #wait))
        } else if ctx.config.sleeper.is_some() {
            quote!(#private::sleep_on(#sleeper, #wait).await)
        } else {
            quote!(#private::sleep(#wait).await)
        };
        let give_up = GiveUpReturn(ctx);
        let slept = ctx.tally("slept", wait.to_token_stream());
        let stopped = ctx.tally_gave_up(quote!(#private::GiveUp::Throttled));
        tokens.extend(quote! {
            match #private::Step::admit(#step_ref, #policy, #guards, #sleeper) {
                ::core::result::Result::Ok(#wait) => {
                    if #wait != ::core::time::Duration::ZERO {
                        #slept
                        #sleep;
                    }
                }
                ::core::result::Result::Err(#throttled) => {
                    #private::Step::throttled(#step_ref, #site);
                    #stopped
                    #trace
                    #[allow(unreachable_code)]
                    let #result #annotation = #refused;
                    #give_up;
                }
            }
        });
    }
}

/// With a breaker, the attempt asks it first; a refusal ends the call at once, with
/// `E::from(BreakerOpen)` or the fallback's answer.
struct Gate<'a>(&'a Ctx<'a>);

impl ToTokens for Gate<'_> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let ctx = self.0;
        let Some(breaker) = &ctx.config.breaker else {
            return;
        };
        let Names {
            private,
            permit,
            open,
            result,
            breaker_local,
            ..
        } = &ctx.names;
        let refused = {
            let span = breaker.span();
            let private = respan(private, span);
            quote_spanned!(span=> #private::breaker_refused(#open))
        };
        let step_ref = ctx.step_ref();
        let annotation = ctx.plan.ret.as_ref().map(|ty| quote!(: #ty));
        let site = SiteArg(ctx);
        let name = ctx.call_name();
        let trace = ctx.traced(quote! {
            #private::trace_give_up!(
                #name,
                #private::Step::attempts_made(#step_ref),
                #private::GiveUp::BreakerOpen,
                #private::shown!(&#open)
            );
        });
        let give_up = GiveUpReturn(ctx);
        let stopped = ctx.tally_gave_up(quote!(#private::GiveUp::BreakerOpen));
        tokens.extend(quote! {
            let #permit = match #private::Step::enter(#step_ref, ::core::option::Option::Some(#breaker_local)) {
                ::core::result::Result::Ok(#permit) => #permit,
                ::core::result::Result::Err(#open) => {
                    #private::Step::refused(#step_ref, #site);
                    #stopped
                    #trace
                    #[allow(unreachable_code)]
                    let #result #annotation = #refused;
                    #give_up;
                }
            };
        });
    }
}

/// The success path, then the judgment of a failed outcome: `let __retry_judged: Judged = …;`.
/// An accepted outcome takes the engine's (inlined) success turn and returns.
struct Judge<'a>(&'a Ctx<'a>);

impl ToTokens for Judge<'_> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let ctx = self.0;
        let Ctx { config, names, .. } = ctx;
        let Names {
            private,
            judged,
            err,
            ok,
            result,
            ..
        } = names;
        let step_ref = ctx.step_ref();
        let (guards, permit, site) = (GuardsArg(ctx), PermitArg(ctx), SiteArg(ctx));
        let clock = ctx.turn_clock();
        let accepted = ctx.guarded().then(|| {
            quote! {
                #private::Step::accepted(#step_ref, #guards, #permit, #site, #clock);
            }
        });
        let tallied = ctx.tally_accepted();
        let accepted = quote!(#accepted #tallied);
        tokens.extend(ctx.tally("attempt", quote!(#private::Step::attempt(#step_ref))));
        let return_success = ctx.finish(quote!(#result));
        let errors = decide_chain(config, names);
        // The error binding is made only where something reads it: the filters, the hook,
        // the events.
        let err_read = config.unless.is_some()
            || config.on.is_some()
            || config.when.is_some()
            || config.classify.is_some()
            || (config.on_retry.is_some() && !ctx.judges_ok())
            || (ctx.signals.tracing && !ctx.judges_ok())
            || ctx.paced();
        let err_pat = if err_read {
            err.to_token_stream()
        } else {
            quote!(_)
        };
        if !ctx.judges_ok() {
            let check = result_check(ctx.plan, names, "__retry_error");
            let filtered = config.unless.is_some()
                || config.on.is_some()
                || config.when.is_some()
                || config.classify.is_some();
            let judgment = if filtered {
                quote!(#private::Judged::error(#errors))
            } else {
                quote!(#private::Judged::RETRY)
            };
            let judgment = overloaded(ctx, judgment, err);
            tokens.extend(quote! {
                let ::core::option::Option::Some(#err_pat) = #check else {
                    #accepted
                    #return_success;
                };
                let #judged = #judgment;
            });
            return;
        }
        let outcome = result_check(ctx.plan, names, "__retry_outcome");
        let satisfied = match &config.until {
            Some(until) => {
                let private = respan(private, until.span());
                quote_spanned!(until.span()=> #private::check_until(#until, #ok))
            }
            None => quote!(true),
        };
        let error_judged = overloaded(ctx, quote!(#private::Judged::error(#errors)), err);
        // Under `classify_ok` a value may be an overload answer too (a 429 response).
        let value_judged = match config.classify_ok {
            Some(_) if ctx.paced() => overloaded(ctx, quote!(#judged), ok),
            _ => quote!(#judged),
        };
        let decision = match config.classify_ok {
            Some(span) => {
                let private = respan(private, span);
                let at_flag = Ident::new("__retry_classified", span);
                quote_spanned!(span=> { let #at_flag = #ok; #private::classify_ok(#at_flag) })
            }
            None => quote!(#private::Decision::Stop),
        };
        tokens.extend(quote! {
            let #judged = match #outcome {
                ::core::result::Result::Ok(#ok) => {
                    let #judged = #private::Judged::value(#satisfied, #decision);
                    if #private::Judged::is_accepted(&#judged) {
                        #accepted
                        #return_success;
                    }
                    #value_judged
                }
                ::core::result::Result::Err(#err_pat) => #error_judged,
            };
        });
    }
}

/// `judgment`, saying whether the outcome bound to `outcome` was an overload answer, for a
/// paced call (`throttle`, `rate_limiter`): asked of its `Classify`.
fn overloaded(ctx: &Ctx<'_>, judgment: TokenStream, outcome: &Ident) -> TokenStream {
    if !ctx.paced() {
        return judgment;
    }
    let private = &ctx.names.private;
    let span = ctx
        .config
        .throttle
        .as_ref()
        .or(ctx.config.rate_limiter.as_ref())
        .map_or_else(Span::call_site, |expr| expr.span());
    // The outcome is bound to a name spanned at the guard, so that a missing `Classify` is
    // reported there.
    let check = {
        let private = respan(private, span);
        let at_guard = Ident::new("__retry_overload_of", span);
        quote_spanned!(span=> { let #at_guard = #outcome; #private::overloaded(#at_guard) })
    };
    quote!(#private::Judged::overloaded(#judgment, #check))
}

/// The engine's turn after a failed attempt, and what the function does with its answer: the
/// delay to sleep (after the event and the hook), or the give-up return.
struct TurnMatch<'a>(&'a Ctx<'a>);

impl ToTokens for TurnMatch<'_> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let ctx = self.0;
        let Names {
            private,
            judged,
            turn,
            info,
            reason,
            result,
            err,
            ..
        } = &ctx.names;
        let (step_mut, step_ref) = (ctx.step_mut(), ctx.step_ref());
        let policy = policy_ref(ctx.config, &ctx.names);
        let (guards, permit, site) = (GuardsArg(ctx), PermitArg(ctx), SiteArg(ctx));
        let name = ctx.call_name();
        let shown = ctx.shown();
        let trace_retry = ctx.traced(quote!(#private::trace_retry!(#name, &#info, #shown);));
        let trace_give_up = ctx.traced(quote! {
            #private::trace_give_up!(#name, #private::Step::attempt(#step_ref), #reason, #shown);
        });
        // The hook sees the error, or the whole outcome when `Ok` values may be retried too.
        let hook = ctx.config.on_retry.as_ref().map(|hook| {
            let sees = if ctx.judges_ok() {
                quote!(&#result)
            } else {
                quote!(#err)
            };
            let private = respan(private, hook.span());
            let call = quote_spanned!(hook.span()=> #private::call_on_retry(#sees, #hook, &#info));
            quote!(#call;)
        });
        let delay = quote!(#private::RetryInfo::delay(&#info));
        let retry_after = if ctx.is_blocking() {
            quote!(#private::Flow::Retry(#delay))
        } else {
            delay.clone()
        };
        let slept = ctx.tally("slept", delay);
        let gave_up = ctx.tally_gave_up(reason.to_token_stream());
        let done = ctx.tally_accepted();
        let reason_pat = if ctx.signals.tracing || ctx.config.report.is_some() {
            reason.to_token_stream()
        } else {
            quote!(_)
        };
        let give_up = GiveUpReturn(ctx);
        let return_success = ctx.finish(quote!(#result));
        // The short form for a call with no guards, no counters and no time to read.
        let take_turn = if ctx.guarded() || ctx.reads_time() {
            let clock = ctx.turn_clock();
            quote!(#private::Step::turn(#step_mut, #policy, #guards, #permit, #judged, #site, #clock))
        } else {
            quote!(#private::Step::turn_unguarded(#step_mut, #policy, #judged))
        };
        if !ctx.signals.tracing
            && hook.is_none()
            && ctx.config.fallback.is_none()
            && ctx.config.report.is_none()
        {
            // Nothing to do but sleep or return: the shortest form.
            tokens.extend(quote! {
                let #private::Turn::Retry(#info) = #take_turn else {
                    #return_success;
                };
                #retry_after
            });
            return;
        }
        tokens.extend(quote! {
            let #turn = #take_turn;
            match #turn {
                #private::Turn::Retry(#info) => {
                    #slept
                    #trace_retry
                    #hook
                    #retry_after
                }
                #private::Turn::GiveUp(#reason_pat) => {
                    #gave_up
                    #trace_give_up
                    #give_up;
                }
                #private::Turn::Done => {
                    #done
                    #return_success;
                }
            }
        });
    }
}

/// What a call sets up once: the policy, the guards, the key, the timeout, the counters'
/// handles.
struct Setup<'a>(&'a Ctx<'a>);

impl ToTokens for Setup<'_> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let ctx = self.0;
        let (config, names) = (ctx.config, &ctx.names);
        let private = &names.private;
        tokens.extend(policy_setup(config, ctx.plan, names));
        tokens.extend(budget_setup(config, names));
        let shared = [
            (&config.breaker, "CircuitBreaker", &names.breaker_local),
            (&config.throttle, "AdaptiveThrottle", &names.throttle_local),
            (&config.rate_limiter, "RateLimiter", &names.limiter_local),
        ];
        for (expr, ty, local) in shared {
            let Some(expr) = expr else { continue };
            let span = expr.span();
            let private = respan(private, span);
            let ty = Ident::new(ty, span);
            tokens.extend(quote_spanned!(span=> let #local: &#private::#ty = &#expr;));
        }
        // The call's key: the caller's (`idempotency_key = EXPR`, typed at the expression), or
        // a nonce from which a random key is derived only if the body asks for it.
        if config.context.is_some() {
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
            tokens.extend(quote!(let #key = #private::CallKey::new(#given);));
        }
        // The caller's sleeper, evaluated once per call and checked at the expression: a
        // `Sleeper` for async code, a `BlockingSleeper` for a plain `fn`.
        if let Some(sleeper) = &config.sleeper {
            let span = sleeper.span();
            let private = respan(private, span);
            let (check, method) = if ctx.is_blocking() {
                (
                    quote_spanned!(span=> #private::BlockingSleeperArg),
                    quote_spanned!(span=> __retry_blocking_sleeper),
                )
            } else {
                (
                    quote_spanned!(span=> #private::AsyncSleeper),
                    quote_spanned!(span=> __retry_sleeper),
                )
            };
            let local = &names.sleeper_local;
            // `let x = &EXPR;` keeps a temporary (`sleeper = TestClock::new()`) for the call.
            let value = Ident::new("__retry_sleeper_value", Span::mixed_site());
            tokens.extend(quote_spanned!(span=>
                let #value = &#sleeper;
                let #local = {
                    use #check as _;
                    #value.#method()
                };
            ));
        }
        // A run-time timeout is evaluated once per call, with its type checked at the
        // expression.
        if let Some((TimeoutValue::Expr(expr), _)) = &config.timeout {
            let local = &names.timeout_local;
            let ty = quote_spanned!(expr.span()=> ::core::time::Duration);
            tokens.extend(quote!(let #local: #ty = #expr;));
        }
        // `report = NAME`: the report starts empty, typed at the name.
        if let Some(report) = &config.report {
            let span = report.span();
            let private = respan(private, span);
            tokens.extend(quote_spanned!(span=> *#report = #private::CallReport::new();));
        }
        if ctx.signals.metrics {
            let cell = &names.metrics;
            tokens.extend(quote! {
                static #cell: #private::MetricsCell = #private::MetricsCell::new();
            });
        }
    }
}

// Input:
//
//     #[retry(attempts = 3, base = "200ms", jitter)]
//     async fn fetch(&mut self, url: String) -> Result<Page, Error> { BODY }
//
// Output, from the template in `render` (async; a plain `fn` runs the same turn in `__private::run_blocking`; for
// `#[async_trait]`'s `Box::pin(async move { BODY })` and for `-> impl Future` with
// `async move { BODY }`, the same lines go inside that async block). This comment is the
// real expansion, checked by `the_sample_expansion_in_render_is_the_real_one`:
//
// SAMPLE-EXPANSION-START
//     async fn fetch(&mut self, url: String) -> Result<Page, Error> {
//         ::retry_runtime::__private::async_needs_timer!();
//         const __RETRY_POLICY: ::retry_runtime::__private::Policy = ::retry_runtime::__private::Policy::new()
//             .with_attempts(3u32)
//             .with_base(::core::time::Duration::new(0u64, 200000000u32))
//             .with_jitter(::retry_runtime::__private::Jitter::Full);
//         let mut __retry_step =
//             ::retry_runtime::__private::Step::<::retry_runtime::__private::NoMemory>::begin(&__RETRY_POLICY);
//         loop {
//             ::retry_runtime::__private::sleep({
//                 let __retry_delay = {
//                     #[allow(clippy::redundant_closure_call, clippy::needless_return, unreachable_code)]
//                     let __retry_result: Result<Page, Error> = {
//                         let __retry_self = &mut *self;
//                         async move { BODY }
//                     }
//                     .await;
//                     let ::core::option::Option::Some(_) =
//                         <Result<Page, Error> as ::retry_runtime::__private::RetryResult>::__retry_error(&__retry_result)
//                     else {
//                         return __retry_result;
//                     };
//                     let __retry_judged = ::retry_runtime::__private::Judged::RETRY;
//                     let ::retry_runtime::__private::Turn::Retry(__retry_info) =
//                         ::retry_runtime::__private::Step::turn_unguarded(
//                             &mut __retry_step,
//                             &__RETRY_POLICY,
//                             __retry_judged,
//                         )
//                     else {
//                         return __retry_result;
//                     };
//                     ::retry_runtime::__private::RetryInfo::delay(&__retry_info)
//                 };
//                 if __retry_delay == ::core::time::Duration::ZERO {
//                     continue;
//                 }
//                 __retry_delay
//             })
//             .await;
//         }
//     }
// SAMPLE-EXPANSION-END

/// The rewritten function.
pub fn render(config: &Config, plan: &Plan, signals: Signals) -> TokenStream {
    let ctx = Ctx {
        config,
        plan,
        names: Names::new(config),
        signals,
    };
    let Names {
        private,
        step,
        result,
        delay,
        ..
    } = &ctx.names;
    if let Some(hedge) = &config.hedge {
        let body = hedge::hedged_body(&ctx, hedge);
        return item_with_body(plan, wrap_async_block(plan, body));
    }
    let annotation = plan.ret.as_ref().map(|ty| quote!(: #ty));
    let attempt = attempt_runner(&ctx);
    let (pacing, gate) = (Pacing(&ctx), Gate(&ctx));
    let (judge, turn) = (Judge(&ctx), TurnMatch(&ctx));
    let one_turn = quote! {
        #pacing
        #gate
        #[allow(clippy::redundant_closure_call, clippy::needless_return, unreachable_code)]
        let #result #annotation = #attempt;
        #judge
        #turn
    };
    let setup = Setup(&ctx);
    let memory = memory_type(config, &ctx.names);
    let policy = policy_ref(config, &ctx.names);
    let wants_clock = config.on_retry.is_some();
    let sleeper = ctx.sleeper();
    let begin = if ctx.reads_time() {
        quote!(#private::Step::<#memory>::begin_on(#policy, #wants_clock, #sleeper))
    } else {
        quote!(#private::Step::<#memory>::begin(#policy))
    };

    let span_setup = span_setup(&ctx);
    let body = match &plan.flavor {
        Flavor::Blocking => quote! {
            #setup
            #span_setup
            #private::run_blocking(#begin, #sleeper, |#step| { #one_turn })
        },
        Flavor::Async | Flavor::Boxed(_) | Flavor::Returned(_) => {
            // The delay the turn decided, or `continue` at once for a zero delay. The default
            // sleeper's sleep takes only the delay: no reference is held across the `.await`.
            let delay_after_turn = quote!({
                let #delay = { #one_turn };
                // A zero delay retries at once: no timer to set up.
                if #delay == ::core::time::Duration::ZERO {
                    continue;
                }
                #delay
            });
            let sleep = if config.sleeper.is_some() {
                quote!(#private::sleep_on(#sleeper, #delay_after_turn))
            } else {
                quote!(#private::sleep(#delay_after_turn))
            };
            // With no sleeper given, the runtime must have a timer: one clear error if not.
            let needs_timer = config
                .sleeper
                .is_none()
                .then(|| quote!(#private::async_needs_timer!();));
            quote! {
                #needs_timer
                #setup
                let mut #step = #begin;
                loop {
                    // The turn is a block that ends before the sleep's `.await`, so that none
                    // of its locals is kept in the future's state while it sleeps.
                    #sleep.await;
                }
            }
        }
    };
    item_with_body(plan, wrap_async_block(plan, body))
}

/// The function with its new body. The body's braces keep their span, so that lints and
/// suggestions about the function point at the user's code rather than at the attribute.
fn item_with_body(plan: &Plan, body: TokenStream) -> TokenStream {
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

/// With the `tracing` feature, for a plain `fn`, `let __retry_span = CallSpan::of(span!(..));`:
/// the call's INFO span, named by its call name (`name = "..."` or the function's name), targeted at the
/// function's module, with an `attempt` field each attempt records.
fn span_setup(ctx: &Ctx<'_>) -> TokenStream {
    // An `async fn` opens a span per attempt instead ([`attempt_span`]): one kept for the whole
    // call would add a second 8-byte handle to its future.
    if !ctx.signals.tracing || !ctx.is_blocking() {
        return TokenStream::new();
    }
    let (private, span) = (&ctx.names.private, &ctx.names.span);
    let name = span_name(ctx);
    quote! {
        let #span = #private::CallSpan::of(#private::tracing::span!(
            target: ::core::module_path!(),
            #private::tracing::Level::INFO,
            #name,
            attempt = #private::tracing::field::Empty
        ));
    }
}

/// The span's name: the call name (`name = "..."`) or the function's name.
fn span_name(ctx: &Ctx<'_>) -> String {
    match &ctx.config.name {
        Some(given) => given.value(),
        None => ctx.plan.name.clone(),
    }
}

/// With the `tracing` feature, for an `async fn`, the span of the attempt about to run:
/// `CallSpan::of(span!(..))`, INFO, named by the call name, targeted at the function's module,
/// with the attempt's number as `attempt`.
fn attempt_span(ctx: &Ctx<'_>) -> Option<TokenStream> {
    if !ctx.signals.tracing {
        return None;
    }
    let (private, step) = (&ctx.names.private, &ctx.names.step);
    let name = span_name(ctx);
    Some(quote! {
        #private::CallSpan::of(#private::tracing::span!(
            target: ::core::module_path!(),
            #private::tracing::Level::INFO,
            #name,
            attempt = #private::Step::attempt(&#step)
        ))
    })
}

/// For `#[async_trait]`'s `Box::pin(async move { .. })` and `-> impl Future` with an
/// `async move` block, the loop goes back inside that block.
fn wrap_async_block(plan: &Plan, body: TokenStream) -> TokenStream {
    match &plan.flavor {
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
fn memory_type(config: &Config, names: &Names) -> TokenStream {
    let private = &names.private;
    match &config.policy {
        PolicySource::Keys(keys) => {
            let needs_clock = keys.deadline.is_some() || config.on_retry.is_some();
            let needs_previous = keys.jitter == Some(JitterKind::Decorrelated);
            match (needs_clock, needs_previous) {
                (false, false) => quote!(#private::NoMemory),
                (false, true) => quote!(#private::PreviousDelay),
                (true, false) => quote!(#private::StartTime),
                (true, true) => quote!(#private::StartAndPrevious),
            }
        }
        PolicySource::Expr { .. } => quote!(#private::StartAndPrevious),
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
fn attempt_runner(ctx: &Ctx<'_>) -> TokenStream {
    let (config, plan, names) = (ctx.config, ctx.plan, &ctx.names);
    let private = &names.private;
    let is_blocking = matches!(plan.flavor, Flavor::Blocking);
    let preps = plan.args.iter().map(|arg| prep_stmt(private, arg));
    let body = &plan.body;
    let context = config.context.as_ref().map(|ctx| {
        let (step, key) = (&names.step, &names.key);
        let value = &names.context;
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
        let attempt = quote! {
            {
                #(#preps)*
                #context_value
                (move || { #context_bind #body })()
            }
        };
        if !ctx.signals.tracing {
            return attempt;
        }
        let (span, step) = (&names.span, &names.step);
        return quote! {{
            #private::CallSpan::record_attempt(&#span, #private::Step::attempt(#step));
            #private::CallSpan::in_scope(&#span, || #attempt)
        }};
    }
    let future = quote! {
        {
            #(#preps)*
            #context_value
            async move { #context_bind #body }
        }
    };
    // With `tracing`, each attempt runs in its own span (OpenTelemetry's "a span per resend"),
    // whose output comes back with the span: `.0` is the attempt's outcome.
    let (future, outcome) = match attempt_span(ctx) {
        Some(span) => (
            quote!(#private::CallSpan::instrument(#span, #future)),
            quote!(.0),
        ),
        None => (future, quote!()),
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
            let sleeper = ctx.sleeper();
            let allowed =
                quote!(#private::Step::attempt_timeout(&#step, #policy, #limit, #sleeper));
            // The default timer's own timeout (tokio's), or the attempt raced against the
            // given sleeper's sleep.
            let timed = if config.sleeper.is_some() {
                quote!(#private::timeout_on(#sleeper, #allowed, #future))
            } else {
                quote!(#private::timeout(#allowed, #future))
            };
            quote! {
                match #timed.await {
                    ::core::result::Result::Ok(r) => r #outcome,
                    ::core::result::Result::Err(_) => #timed_out,
                }
            }
        }
        None => quote!(#future.await #outcome),
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

/// The filters, in order (`unless`, `on`, `when`, `classify`), as one `Verdict` expression
/// (a `Classify` decision becomes a verdict in the runtime, by its one mapping).
/// They run after the attempt, where the arguments are the function's own, as declared.
fn decide_chain(config: &Config, names: &Names) -> TokenStream {
    let private = &names.private;
    let (err, label) = (&names.err, &names.label);
    let stop = |reason: &str| {
        let reason = Ident::new(reason, Span::call_site());
        quote!(break #label #private::Verdict::Stop(#private::GiveUp::#reason))
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
            quote!(#private::Verdict::of_error(#call))
        }
        None => quote!(#private::Verdict::RETRY),
    };
    if chain.is_empty() {
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
