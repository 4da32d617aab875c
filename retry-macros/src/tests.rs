//! Tests of [`crate::expand::retry`] on `proc_macro2` tokens, outside a compiler invocation:
//! what good arguments expand to, that bad ones give `compile_error!` next to the untouched
//! function, and a property test that no attribute token stream makes the macro panic.

use std::str::FromStr;

use proc_macro2::{Delimiter, Group, TokenStream, TokenTree};
use proptest::prelude::*;
use quote::{quote, ToTokens};

use crate::expand::retry;

fn tokens(text: &str) -> TokenStream {
    TokenStream::from_str(text).expect("test tokens lex")
}

fn expand(args: &str, item: &TokenStream) -> String {
    retry(tokens(args), item.clone()).to_string()
}

fn async_item() -> TokenStream {
    quote! {
        /// Fetches a user.
        #[inline]
        #[must_use = "check the result"]
        pub(crate) async fn fetch(id: u64, name: &str, buf: &mut Vec<u8>) -> Result<u64, String> {
            buf.push(1);
            let n: u64 = name.parse().map_err(|_| String::from("bad"))?;
            if n == 0 {
                return Err(String::from("zero"));
            }
            Ok(id + n)
        }
    }
}

fn sync_item() -> TokenStream {
    quote! {
        fn read(path: &str) -> std::io::Result<String> {
            std::fs::read_to_string(path)
        }
    }
}

fn method_item() -> TokenStream {
    quote! {
        async fn call(&mut self, (a, b): (u8, u8), mut tag: String) -> Result<(), ()> {
            self.hits += 1;
            tag.push(char::from(a + b));
            Err(())
        }
    }
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// The output, which must always be valid Rust items.
fn parse_file(out: &str) -> syn::File {
    syn::parse_str::<syn::File>(out)
        .unwrap_or_else(|err| panic!("output is not Rust: {err}\n{out}"))
}

/// The functions in the output.
fn functions(out: &str) -> Vec<syn::ItemFn> {
    parse_file(out)
        .items
        .into_iter()
        .filter_map(|item| match item {
            syn::Item::Fn(f) => Some(f),
            _ => None,
        })
        .collect()
}

// ---- good arguments -------------------------------------------------------------------------

#[test]
fn good_arguments_produce_a_loop_and_keep_the_signature_and_attributes() {
    let item = async_item();
    let out = expand(r#"attempts = 3, base = "200ms", jitter"#, &item);
    assert!(!out.contains("compile_error"), "{out}");
    assert!(out.contains("loop"), "{out}");
    let funcs = functions(&out);
    assert_eq!(funcs.len(), 1);
    let original: syn::ItemFn = syn::parse2(item).unwrap();
    let expanded = &funcs[0];
    // Same signature, visibility and attributes; only the body changed.
    let text = |t: &dyn ToTokens| t.to_token_stream().to_string();
    assert_eq!(text(&expanded.sig), text(&original.sig));
    assert_eq!(text(&expanded.vis), "pub (crate)");
    let attrs: Vec<String> = expanded.attrs.iter().map(|a| text(a)).collect();
    let original_attrs: Vec<String> = original.attrs.iter().map(|a| text(a)).collect();
    assert_eq!(attrs, original_attrs);
    assert_eq!(attrs.len(), 3);
    let attrs = attrs.join(" ");
    assert!(attrs.contains("Fetches a user."), "{attrs}");
    assert!(
        attrs.contains("inline") && attrs.contains("must_use"),
        "{attrs}"
    );
    assert_ne!(text(&expanded.block), text(&original.block));
}

#[test]
fn generated_code_names_the_runtime_by_absolute_path() {
    let out = expand(r#"attempts = 2"#, &async_item());
    assert!(out.contains(":: retry_runtime :: __private"), "{out}");
    let out = expand(r#"crate = "::my_rt", attempts = 2"#, &async_item());
    assert!(out.contains(":: my_rt :: __private"), "{out}");
    assert!(!out.contains("retry_runtime"), "{out}");
    let out = expand(r#"crate = "my::path""#, &sync_item());
    assert!(out.contains("my :: path :: __private"), "{out}");
}

#[test]
fn async_sleeps_on_tokio_and_sync_blocks() {
    let out = expand("", &async_item());
    assert!(out.contains("sleep (") && out.contains(". await"), "{out}");
    assert!(!out.contains("run_blocking"), "{out}");
    let out = expand("", &sync_item());
    assert!(out.contains("run_blocking"), "{out}");
    assert!(!out.contains(". await"), "{out}");
    assert!(functions(&out)[0].sig.asyncness.is_none());
}

#[test]
fn a_function_returning_an_async_block_gets_the_loop_inside_the_block() {
    let item = quote! {
        fn fetch(id: u64) -> impl Future<Output = Result<u64, String>> + Send {
            async move { Ok(id) }
        }
    };
    let out = expand(r#"timeout = "1s""#, &item);
    assert!(!out.contains("compile_error"), "{out}");
    let func = &functions(&out)[0];
    assert!(func.sig.asyncness.is_none());
    // The body is still one `async move` block, and the loop and its sleep are inside it.
    let body: Vec<TokenTree> = func.block.stmts[0].to_token_stream().into_iter().collect();
    assert!(
        matches!(&body[..2], [TokenTree::Ident(a), TokenTree::Ident(m)] if a == "async" && m == "move"),
        "{out}"
    );
    let TokenTree::Group(block) = &body[2] else {
        panic!("{out}")
    };
    let inner = block.stream().to_string();
    assert!(
        inner.contains("loop") && inner.contains("sleep ("),
        "{inner}"
    );
    // `R` annotates each attempt's result.
    assert!(inner.contains("Result < u64 , String >"), "{inner}");

    // Work before the block would run once: refused, pointing at the return type.
    let item = quote! {
        fn fetch(id: u64) -> impl Future<Output = Result<u64, String>> {
            let twice = id * 2;
            async move { Ok(twice) }
        }
    };
    let out = expand("", &item);
    assert!(
        out.contains("compile_error") && out.contains("one `async move"),
        "{out}"
    );
    // Another `impl Trait` return is a blocking function, as before.
    let item = quote! {
        fn numbers() -> impl Iterator<Item = u8> { [1].into_iter() }
    };
    let out = expand("", &item);
    assert!(out.contains("run_blocking"), "{out}");
}

/// Pay only for what the policy uses: no clock without a deadline, no previous-delay state
/// without decorrelated jitter.
#[test]
fn state_only_for_what_the_policy_uses() {
    let memory = |out: &str| {
        let at = out.find("Step :: <").expect("a step");
        out[at..]
            .split(":: begin")
            .next()
            .unwrap_or_default()
            .to_string()
    };
    // No time read: no clock is named.
    let out = expand(r#"attempts = 3, jitter"#, &async_item());
    assert!(memory(&out).contains("NoMemory"), "{out}");
    assert!(
        out.contains(
            "Step :: < :: retry_runtime :: __private :: NoMemory > :: begin (& __RETRY_POLICY)"
        ),
        "{out}"
    );

    // The start time is read on the call's sleeper: the default async one, the thread's for
    // a plain `fn`, or the one given.
    let out = expand(r#"deadline = "1s""#, &async_item());
    assert!(memory(&out).contains("StartTime"), "{out}");
    assert!(
        out.contains(
            "begin_on (& __RETRY_POLICY , false , :: retry_runtime :: __private :: ASYNC_SLEEPER)"
        ),
        "{out}"
    );
    let out = expand(r#"deadline = "1s""#, &sync_item());
    assert!(
        out.contains("false , :: retry_runtime :: __private :: DEFAULT_BLOCKING_SLEEPER)"),
        "{out}"
    );
    let out = expand(r#"deadline = "1s", sleeper = CLOCK"#, &async_item());
    assert!(
        out.contains("let __retry_sleeper_value = & CLOCK ;"),
        "{out}"
    );
    assert!(
        out.contains("__retry_sleeper_value . __retry_sleeper ()"),
        "{out}"
    );
    assert!(
        out.contains("begin_on (& __RETRY_POLICY , false , __retry_sleeper)"),
        "{out}"
    );
    assert!(
        !out.contains("ASYNC_SLEEPER") && !out.contains("async_needs_timer"),
        "{out}"
    );

    let out = expand(r#"jitter = decorrelated"#, &async_item());
    assert!(memory(&out).contains("PreviousDelay"), "{out}");
    let out = expand(r#"jitter = decorrelated, deadline = "1s""#, &async_item());
    assert!(memory(&out).contains("StartAndPrevious"), "{out}");
}

#[test]
fn key_arguments_become_a_const_policy() {
    let out = expand(
        r#"attempts = 5, base = "1.5s", max = "1m", factor = 3, backoff = exponential, jitter = equal, deadline = "2m""#,
        &async_item(),
    );
    assert!(!out.contains("compile_error"), "{out}");
    for part in [
        "const __RETRY_POLICY",
        "with_attempts (5u32)",
        "with_backoff (:: retry_runtime :: __private :: Backoff :: Exponential)",
        "with_jitter (:: retry_runtime :: __private :: Jitter :: Equal)",
        "with_factor (3f64)",
        "Duration :: new (1u64 , 500000000u32)",
        "Duration :: new (60u64 , 0u32)",
        "Duration :: new (120u64 , 0u32)",
    ] {
        assert!(out.contains(part), "missing `{part}` in {out}");
    }
}

#[test]
fn policy_expressions_are_evaluated_per_call_and_consts_checked() {
    let out = expand("policy = POLICY", &async_item());
    assert!(out.contains("check_policy"), "{out}");
    assert!(out.contains("__retry_policy"), "{out}");
    let out = expand("policy = config::RETRY", &async_item());
    assert!(out.contains("check_policy"), "{out}");
    let out = expand("policy = make_policy(id)", &async_item());
    assert!(!out.contains("check_policy"), "{out}");
    assert!(out.contains("make_policy (id)"), "{out}");
    let out = expand(r#"policy = POLICY, deadline = "3s""#, &async_item());
    assert!(out.contains("with_deadline"), "{out}");
}

#[test]
fn methods_and_patterns_expand() {
    let out = expand(r#"attempts = 2, base = "1ms""#, &method_item());
    assert!(!out.contains("compile_error"), "{out}");
    let funcs = functions(&out);
    assert_eq!(funcs.len(), 1);
    // The receiver is kept; each attempt reborrows `&mut self` under another name and moves
    // that reborrow into its `async move` block, so by-value arguments are moved, not borrowed
    // (a `Send` but not `Sync` argument keeps the future `Send`).
    assert!(matches!(
        funcs[0].sig.inputs.first(),
        Some(syn::FnArg::Receiver(_))
    ));
    assert!(out.contains("let __retry_self = & mut * self"), "{out}");
    assert!(out.contains("async move"), "{out}");
    assert!(out.contains("__retry_self . hits"), "{out}");

    // A by-value receiver is cloned per attempt under another name; `self::f` is a path.
    let by_value = quote! {
        fn consume(self) -> Result<u32, ()> { self::helper(); Ok(self.0) }
    };
    let out = expand("", &by_value);
    assert!(out.contains("__retry_self . 0"), "{out}");
    assert!(out.contains("self :: helper"), "{out}");
    assert!(out.contains("move ||"), "{out}");
}

#[test]
fn arguments_the_body_never_mentions_are_not_copied() {
    let item = quote! {
        fn f(used: String, unused: String, in_format: String) -> Result<(), ()> {
            drop(used);
            println!("{in_format:?}");
            Err(())
        }
    };
    let out = expand("", &item);
    assert_eq!(count(&out, "__retry_clone (& used)"), 1, "{out}");
    assert_eq!(count(&out, "__retry_clone (& in_format)"), 1, "{out}");
    assert_eq!(count(&out, "__retry_clone (& unused)"), 0, "{out}");
}

// ---- bad arguments --------------------------------------------------------------------------

/// Every bad argument gives a `compile_error!`, and the original function is emitted unchanged
/// beside it (so the rest of the crate and rust-analyzer still see it).
#[test]
fn bad_arguments_give_compile_errors_and_keep_the_original_function() {
    let bad = [
        "attempts = 0",
        "attempts = -1",
        "attempts = 1.5",
        "attempts = 99999999999999",
        "attempts = \"3\"",
        "attempts = three",
        "attempts",
        "base = \"2 parsecs\"",
        "base = \"-1s\"",
        "base = 200",
        "base = \"99999999999999999999999h\"",
        "base",
        "max = \"1ms\", base = \"1s\"",
        "factor = 0.5",
        "factor = -2",
        "factor = 1e400",
        "factor = \"2\"",
        "factor = 2.0, backoff = constant",
        "backoff = quadratic",
        "backoff = \"linear\"",
        "jitter = loud",
        "jitter = 3",
        "deadline = \"soon\"",
        "atempts = 3",
        "retries = 3",
        "attempts = 3, attempts = 4",
        "jitter, jitter",
        "policy = POLICY, attempts = 3",
        "policy",
        "crate = 5",
        "crate = \"not a path!\"",
        "= 3",
        "3",
        "attempts = 3 base = \"1s\"",
        ", ,",
        "\"attempts\" = 3",
        "attempts = 3,, base = \"1ms\"",
    ];
    let items = [async_item(), sync_item(), method_item()];
    for args in bad {
        for item in &items {
            let out = expand(args, item);
            assert!(
                out.contains("compile_error"),
                "no error for `{args}`: {out}"
            );
            assert!(
                out.starts_with(&item.to_string()),
                "original lost for `{args}`: {out}"
            );
            assert!(!out.contains("loop"), "expanded despite `{args}`: {out}");
            assert_eq!(functions(&out).len(), 1, "`{args}`");
        }
    }
}

#[test]
fn error_messages_say_what_was_expected() {
    let item = async_item();
    let out = expand("atempts = 3", &item);
    assert!(out.contains("did you mean `attempts`?"), "{out}");
    let out = expand("backoff = fibonaci", &item);
    assert!(out.contains("did you mean `fibonacci`?"), "{out}");
    let out = expand("attempts = 0", &item);
    assert!(out.contains("at least 1"), "{out}");
    let out = expand("base = \"2 parsecs\"", &item);
    assert!(out.contains("parsecs") && out.contains("expected"), "{out}");
    let out = expand("max = \"1ms\", base = \"1s\"", &item);
    assert!(out.contains("below `base`"), "{out}");
}

#[test]
fn several_bad_arguments_are_reported_together() {
    let out = expand(
        r#"attempts = 0, base = "x", backoff = nope, atempts = 1"#,
        &async_item(),
    );
    assert_eq!(count(&out, "compile_error"), 4, "{out}");
}

#[test]
fn non_functions_are_rejected_and_kept() {
    let item = quote!(
        struct S;
    );
    let out = expand("attempts = 2", &item);
    assert!(out.contains("compile_error"), "{out}");
    assert!(out.contains("can only be applied to functions"), "{out}");
    assert!(out.starts_with(&item.to_string()), "{out}");

    let declaration = quote!(
        fn f(&self) -> Result<(), ()>;
    );
    let out = expand("", &declaration);
    assert!(out.contains("needs a function with a body"), "{out}");

    let out = expand(
        "",
        &quote!(
            const fn f() -> Result<(), ()> {
                Ok(())
            }
        ),
    );
    assert!(out.contains("const fn"), "{out}");

    let out = expand("attempts = 2", &TokenStream::new());
    assert!(out.contains("compile_error"), "{out}");
}

// ---- `name = "..."` -------------------------------------------------------------------------

/// The arguments parsed and validated against `async_item()`: the config, and every error
/// message with the column it starts at.
fn checked(args: &str) -> (Option<crate::valid::Config>, Vec<(String, usize)>) {
    let mut errors = crate::errors::Errors::default();
    let raw = crate::parse::args(tokens(args), &mut errors);
    let func: crate::parse::ItemFn = syn::parse2(async_item()).expect("the item parses");
    let config = crate::valid::config(raw, &func, &mut errors);
    let messages = errors
        .into_error()
        .into_iter()
        .flatten()
        .map(|err| (err.to_string(), err.span().start().column))
        .collect();
    (config, messages)
}

#[test]
fn a_name_is_accepted_and_reaches_the_config() {
    let (config, messages) = checked(r#"name = "provider-a", attempts = 2"#);
    assert!(messages.is_empty(), "{messages:?}");
    let name = config.expect("a config").name.expect("the name");
    assert_eq!(name.value(), "provider-a");
    let (config, _) = checked("attempts = 2");
    assert!(config.expect("a config").name.is_none());
    // `name` is not a policy key: it goes with `policy` too.
    let (config, messages) = checked(r#"policy = POLICY, name = "provider-a""#);
    assert!(config.is_some() && messages.is_empty(), "{messages:?}");
    let out = expand(r#"name = "provider-a""#, &async_item());
    assert!(!out.contains("compile_error"), "{out}");
}

#[test]
fn an_empty_name_is_rejected() {
    let (config, messages) = checked(r#"attempts = 2, name = """#);
    assert!(config.is_none());
    assert_eq!(
        messages,
        [(
            "`name = \"\"` is empty; name the call as its events and metrics should show it, such as `name = \"provider-a\"`, or remove `name` to keep the function's path".to_string(),
            21
        )]
    );
}

#[test]
fn a_name_that_is_not_a_string_literal_is_rejected() {
    for (args, found) in [
        ("name = 3", "3"),
        ("name = provider_a", "provider_a"),
        ("name = b\"provider-a\"", "b\"provider-a\""),
        ("name = NAMES[0]", "NAMES [0]"),
    ] {
        let (config, messages) = checked(args);
        assert!(config.is_none(), "`{args}`");
        let expected =
            format!("expected a string literal such as `name = \"provider-a\"`, found `{found}`");
        assert_eq!(messages, [(expected, 7)], "`{args}`");
    }
    let (_, messages) = checked("name");
    assert_eq!(
        messages,
        [(
            "`name` needs a value: write `name = \"provider-a\"`".to_string(),
            0
        )]
    );
    let (_, messages) = checked("name = , attempts = 2");
    assert_eq!(
        messages,
        [(
            "expected a string literal such as `name = \"provider-a\"`".to_string(),
            7
        )]
    );
}

#[test]
fn a_name_given_twice_is_rejected_at_the_second() {
    let (config, messages) = checked(r#"name = "a", name = "b""#);
    assert!(config.is_none());
    assert_eq!(
        messages,
        [(
            "`name` is given more than once; keep only one".to_string(),
            12
        )]
    );
}

// ---- property test: random attribute token streams ------------------------------------------

/// Single tokens the argument parser could meet: every key, `=`, `,`, `|`, signs, literals of
/// every kind (negative, huge, non-finite, weird strings), keywords and stray identifiers.
const VOCABULARY: &[&str] = &[
    "attempts",
    "base",
    "max",
    "factor",
    "backoff",
    "jitter",
    "deadline",
    "timeout",
    "on",
    "unless",
    "when",
    "classify",
    "context",
    "on_retry",
    "budget",
    "policy",
    "name",
    "crate",
    "hedge",
    "hedges",
    "p95",
    "p99_9",
    "p100",
    "exponential",
    "constant",
    "linear",
    "fibonacci",
    "full",
    "equal",
    "decorrelated",
    "none",
    "atempts",
    "x",
    "_",
    "self",
    "Self",
    "fn",
    "async",
    "move",
    "if",
    "true",
    "r#type",
    "=",
    "=",
    "=",
    ",",
    ",",
    ",",
    "|",
    "-",
    "+",
    ".",
    "..",
    "..=",
    "::",
    ":",
    ";",
    "#",
    "!",
    "&",
    "*",
    "/",
    "?",
    "'a",
    "=>",
    "<",
    ">",
    "0",
    "1",
    "3",
    "-1",
    "4294967295",
    "4294967296",
    "18446744073709551616",
    "340282366920938463463374607431768211455",
    "3u8",
    "3i128",
    "0x10",
    "0b1",
    "1_000",
    "1.5",
    "0.0",
    "2.0",
    "1e400",
    "1e-400",
    "2.0f32",
    "1f64",
    "-0.5",
    "\"200ms\"",
    "\"0ms\"",
    "\"1.5s\"",
    "\"\"",
    "\"-1s\"",
    "\"1.2.3s\"",
    "\"µs\"",
    "\"5µs\"",
    "\"99999999999999999999999h\"",
    "\"18446744073709551616s\"",
    "\"1e3ms\"",
    "\"   \"",
    "\"10 ms\"",
    "\"0.0000000000001s\"",
    "\"\\u{0}\"",
    "\"::retry_runtime\"",
    "\"provider-a\"",
    "\"a b c\"",
    "\"∞s\"",
    "r\"1s\"",
    "b\"1s\"",
    "'c'",
    "b'c'",
    "c\"x\"",
];

fn any_token() -> impl Strategy<Value = TokenStream> {
    prop::sample::select(VOCABULARY).prop_map(tokens)
}

/// A random stream: a sequence of vocabulary tokens and nested groups.
fn any_args() -> impl Strategy<Value = TokenStream> {
    let leaf = prop::collection::vec(any_token(), 0..8)
        .prop_map(|parts| parts.into_iter().collect::<TokenStream>());
    leaf.prop_recursive(3, 48, 6, |inner| {
        prop::collection::vec(
            prop_oneof![
                3 => any_token(),
                1 => (inner, 0..4usize).prop_map(|(stream, d)| {
                    let delimiter = [
                        Delimiter::Parenthesis,
                        Delimiter::Bracket,
                        Delimiter::Brace,
                        Delimiter::None,
                    ][d];
                    TokenStream::from(TokenTree::Group(Group::new(delimiter, stream)))
                }),
            ],
            0..10,
        )
        .prop_map(|parts| parts.into_iter().collect::<TokenStream>())
    })
}

/// Streams shaped like real arguments: `key = value` pairs with random values.
fn keyish_args() -> impl Strategy<Value = TokenStream> {
    let key = prop::sample::select(crate::vocab::Key::names().to_vec());
    let pair = (
        key,
        prop::option::of(prop::collection::vec(any_token(), 1..4)),
    )
        .prop_map(|(key, value)| {
            let key = tokens(key);
            match value {
                Some(value) => {
                    let value: TokenStream = value.into_iter().collect();
                    quote!(#key = #value)
                }
                None => key,
            }
        });
    prop::collection::vec(pair, 0..6).prop_map(|pairs| quote!(#(#pairs),*))
}

fn any_item() -> impl Strategy<Value = TokenStream> {
    prop_oneof![
        Just(async_item()),
        Just(sync_item()),
        Just(method_item()),
        Just(quote!(
            struct NotAFunction;
        )),
    ]
}

/// Whatever the arguments, the macro returns (an error or an expansion), never panics, and its
/// output is valid Rust that still holds the function.
fn check_never_panics(args: TokenStream, item: TokenStream) -> Result<(), TestCaseError> {
    let out = retry(args, item.clone()).to_string();
    let file = syn::parse_str::<syn::File>(&out)
        .map_err(|err| TestCaseError::fail(format!("output is not Rust: {err}\n{out}")))?;
    let original = syn::parse2::<syn::ItemFn>(item.clone());
    match original {
        Ok(original) => {
            let kept = file
                .items
                .iter()
                .any(|it| matches!(it, syn::Item::Fn(f) if f.sig.ident == original.sig.ident));
            prop_assert!(kept, "function lost: {}", out);
            if out.contains("compile_error") {
                prop_assert!(
                    out.starts_with(&item.to_string()),
                    "original changed: {}",
                    out
                );
            }
        }
        Err(_) => prop_assert!(out.contains("compile_error"), "accepted a non-function"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2048,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_attribute_streams_never_panic(args in any_args(), item in any_item()) {
        check_never_panics(args, item)?;
    }

    #[test]
    fn random_key_value_arguments_never_panic(args in keyish_args(), item in any_item()) {
        check_never_panics(args, item)?;
    }
}

#[test]
fn inline_format_self_is_renamed_only_in_placeholders() {
    let item = quote! {
        fn show(self) -> Result<String, ()> {
            let text = "{self}";
            Ok(format!("{self:?} {{self}} {self} {selfish}", selfish = 1) + text)
        }
    };
    let out = expand("", &item);
    assert!(
        out.contains(r#""{__retry_self:?} {{self}} {__retry_self} {selfish}""#),
        "{out}"
    );
    assert!(out.contains(r#"let text = "{self}""#), "{out}");
}

// ---- the expansion shown in README and the crate docs --------------------------------------------

/// The README's example, as the README shows it.
fn readme_example() -> TokenStream {
    quote! {
        async fn fetch_user(client: &Client, id: u64) -> Result<User, ApiError> {
            client.get(format!("/users/{id}")).send().await?.json().await
        }
    }
}

/// Tokens as words, ignoring spacing and the trailing commas rustfmt adds.
fn normalized(tokens: TokenStream) -> Vec<String> {
    let mut out = Vec::new();
    for tt in tokens {
        match tt {
            proc_macro2::TokenTree::Group(group) => {
                let (open, close) = match group.delimiter() {
                    proc_macro2::Delimiter::Parenthesis => ("(", ")"),
                    proc_macro2::Delimiter::Brace => ("{", "}"),
                    proc_macro2::Delimiter::Bracket => ("[", "]"),
                    proc_macro2::Delimiter::None => ("", ""),
                };
                out.push(open.to_string());
                let mut inner = normalized(group.stream());
                if inner.last().is_some_and(|last| last == ",") {
                    inner.pop();
                }
                out.extend(inner);
                out.push(close.to_string());
            }
            proc_macro2::TokenTree::Punct(p) => out.push(p.as_char().to_string()),
            other => out.push(other.to_string()),
        }
    }
    out
}

/// `docs/expansion.rs` is what the macro really emits for the README's example (formatted, with
/// comments); README.md and the crate docs show the same file, so none of them can drift.
#[test]
fn the_documented_expansion_is_the_real_one() {
    let stored = include_str!("../../docs/expansion.rs");
    // As users get it without the `tracing` and `metrics` features.
    let none = crate::render::Signals {
        tracing: false,
        metrics: false,
    };
    let args = tokens(r#"attempts = 3, base = "200ms", jitter"#);
    let expanded = crate::expand::retry_with(args, readme_example(), none).to_string();
    let stored_tokens: TokenStream = stored.parse().expect("docs/expansion.rs parses");
    let expanded_tokens: TokenStream = expanded.parse().expect("the expansion parses");
    assert_eq!(
        normalized(expanded_tokens),
        normalized(stored_tokens),
        "docs/expansion.rs is stale: regenerate it from this output (then rustfmt it): {expanded}"
    );
    let code = stored
        .lines()
        .skip_while(|line| line.starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    for (doc, text) in [
        ("README.md", include_str!("../../README.md")),
        (
            "retry-runtime/src/retry.md",
            include_str!("../../retry-runtime/src/retry.md"),
        ),
    ] {
        assert!(
            text.contains(code.trim()),
            "{doc} does not show docs/expansion.rs as it is"
        );
    }
}

/// Events and counters are written into the function only when the runtime was built with
/// `tracing` / `metrics`: without them not even a macro call that expands to nothing is left.
#[test]
fn signals_are_written_only_when_the_runtime_has_them() {
    let args = || tokens(r#"attempts = 3, breaker = B"#);
    let with = |tracing, metrics| {
        let signals = crate::render::Signals { tracing, metrics };
        crate::expand::retry_with(args(), async_item(), signals).to_string()
    };
    let none = with(false, false);
    assert!(!none.contains("trace_") && !none.contains("MetricsCell") && !none.contains("shown"));
    assert!(none.contains("Site :: new"), "{none}");
    let traced = with(true, false);
    assert!(traced.contains("trace_retry") && traced.contains("trace_give_up"));
    assert!(!traced.contains("MetricsCell"));
    // The counters are the engine's: the function only gives it a place for its handles.
    let counted = with(false, true);
    assert!(counted.contains("MetricsCell") && counted.contains("Site :: with_cell"));
    assert!(!counted.contains("trace_") && !counted.contains("Site :: new"));
}

/// `#[async_trait]` expands first and hands `#[retry]` a plain `fn` returning
/// `Box::pin(async move { .. })`: the retry loop goes inside that async block, and `timeout`
/// (which needs an async body) is accepted.
#[test]
fn the_shape_async_trait_emits_is_retried_inside_its_async_block() {
    let item = quote! {
        fn get<'life0, 'async_trait>(
            &'life0 self,
            key: String,
        ) -> ::core::pin::Pin<Box<dyn ::core::future::Future<Output = Result<u32, E>> + ::core::marker::Send + 'async_trait>>
        where
            'life0: 'async_trait,
            Self: 'async_trait,
        {
            Box::pin(async move {
                if let ::core::option::Option::Some(__ret) = ::core::option::Option::None::<Result<u32, E>> {
                    #[allow(unreachable_code)]
                    return __ret;
                }
                let __self = self;
                let key = key;
                let __ret: Result<u32, E> = { __self.lookup(&key).await };
                #[allow(unreachable_code)]
                __ret
            })
        }
    };
    let out = expand(r#"attempts = 3, timeout = "1s""#, &item);
    assert!(!out.contains("compile_error"), "{out}");
    let body = out
        .split_once("Box :: pin (async move {")
        .expect("the boxed block")
        .1;
    assert!(body.contains("loop"), "{out}");
    assert!(body.contains("timeout ("), "{out}");
    // The attempt copies `key` before async-trait's own `let key = key;` moves it.
    assert!(
        body.contains("let key = :: retry_runtime :: __private :: RetryArg"),
        "{out}"
    );
    assert!(!body.contains("run_blocking"), "{out}");

    // A plain function with the same `timeout` is refused.
    let out = expand(r#"timeout = "1s""#, &sync_item());
    assert!(out.contains("`timeout` needs an `async fn`"), "{out}");
}

/// A syntax error in the body is left to rustc (`tests/ui/body-syntax-error.rs` shows its error
/// is the only one): the body's tokens are passed through untouched, with no error of the
/// macro's own.
#[test]
fn a_body_that_does_not_parse_is_passed_through() {
    let item: TokenStream = "fn f() -> Result<(), ()> { let x = ; Ok(()) }"
        .parse()
        .unwrap();
    let out = expand("attempts = 2", &item);
    assert!(!out.contains("compile_error"), "{out}");
    assert!(out.contains("let x = ;"), "{out}");
}

/// The Input/Output comment above `render`'s template is the real expansion of its input
/// (formatted), so it cannot name functions the runtime no longer has.
#[test]
fn the_sample_expansion_in_render_is_the_real_one() {
    let source = include_str!("render.rs");
    let start = source
        .find("// SAMPLE-EXPANSION-START")
        .expect("start marker");
    let end = source.find("// SAMPLE-EXPANSION-END").expect("end marker");
    let sample: String = source[start..end]
        .lines()
        .skip(1)
        .map(|line| line.trim_start().trim_start_matches("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let none = crate::render::Signals {
        tracing: false,
        metrics: false,
    };
    let args = tokens(r#"attempts = 3, base = "200ms", jitter"#);
    let item = quote! {
        async fn fetch(&mut self, url: String) -> Result<Page, Error> { BODY }
    };
    let expanded = crate::expand::retry_with(args, item, none).to_string();
    let sample_tokens: TokenStream = sample.parse().expect("the sample parses");
    let expanded_tokens: TokenStream = expanded.parse().expect("the expansion parses");
    assert_eq!(
        normalized(expanded_tokens),
        normalized(sample_tokens),
        "the sample in render.rs is stale: regenerate it from this output (then rustfmt it): {expanded}"
    );
}

/// A function returning a borrow of a `&mut` argument is one clear error, sync or async, by the
/// lifetimes written or elided; borrows from elsewhere are not.
#[test]
fn a_returned_borrow_of_a_mut_argument_is_found_by_its_lifetimes() {
    let flagged = |item: TokenStream| {
        crate::expand::retry(tokens("attempts = 2"), item)
            .to_string()
            .contains("cannot return a borrow of a `&mut` argument")
    };
    assert!(flagged(
        quote! { fn f(v: &mut Vec<u8>) -> Result<&u8, E> { BODY } }
    ));
    assert!(flagged(
        quote! { fn f<'a>(v: &'a mut Vec<u8>, k: &str) -> Result<&'a u8, E> { BODY } }
    ));
    assert!(flagged(
        quote! { fn f(&mut self) -> Result<Guard<'_>, E> { BODY } }
    ));
    assert!(flagged(
        quote! { async fn f(&mut self) -> Result<&str, E> { BODY } }
    ));
    // Elided from `&self`, named from a shared argument, or `'static`: not a borrow of the `&mut`.
    assert!(!flagged(
        quote! { fn f(&self, out: &mut Vec<u8>) -> Result<&str, E> { BODY } }
    ));
    assert!(!flagged(
        quote! { fn f<'a>(d: &'a [u8], out: &mut u8) -> Result<&'a [u8], E> { BODY } }
    ));
    assert!(!flagged(
        quote! { fn f(out: &mut u8) -> Result<&'static str, E> { BODY } }
    ));
    assert!(!flagged(
        quote! { fn f(out: &mut u8, k: &str) -> Result<u8, E> { BODY } }
    ));
}

// ---- `hedge` and `hedges` ---------------------------------------------------------------------

fn hedged_item() -> TokenStream {
    quote! {
        async fn fetch(&self, url: String) -> Result<Page, Error> { self.get(&url, attempt).await }
    }
}

/// The Input/Output comment in `render/hedge.rs` is the real expansion of its input.
#[test]
fn the_hedged_sample_expansion_is_the_real_one() {
    let source = include_str!("render/hedge.rs");
    let start = source.find("// HEDGE-SAMPLE-START").expect("start marker");
    let end = source.find("// HEDGE-SAMPLE-END").expect("end marker");
    let sample: String = source[start..end]
        .lines()
        .skip(1)
        .map(|line| line.trim_start().trim_start_matches("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let none = crate::render::Signals {
        tracing: false,
        metrics: false,
    };
    let args = tokens(r#"hedge = "150ms", hedges = 2, timeout = "1s", context = attempt"#);
    let expanded = crate::expand::retry_with(args, hedged_item(), none).to_string();
    let sample_tokens: TokenStream = sample.parse().expect("the sample parses");
    let expanded_tokens: TokenStream = expanded.parse().expect("the expansion parses");
    assert_eq!(
        normalized(expanded_tokens),
        normalized(sample_tokens),
        "the sample in render/hedge.rs is stale: regenerate it from this output (then rustfmt it): {expanded}"
    );
}

#[test]
fn a_hedged_function_expands_to_the_builder_not_the_loop() {
    let out = expand(r#"hedge = "150ms""#, &hedged_item());
    assert!(!out.contains("compile_error"), "{out}");
    assert!(!out.contains("loop"), "{out}");
    assert!(out.contains("Policy :: retry (& __RETRY_POLICY"), "{out}");
    assert!(
        out.contains(
            ". hedge (:: core :: time :: Duration :: new (0u64 , 150000000u32) , 1u32)) . await"
        ),
        "{out}"
    );
    assert!(out.contains("HedgeArg :: __hedge_clone (& url)"), "{out}");
    assert!(!out.contains("RetryArg"), "{out}");
    assert!(out.contains(". name (\"fetch\")"), "{out}");
    // The signature is kept.
    let original: syn::ItemFn = syn::parse2(hedged_item()).unwrap();
    let text = |t: &dyn ToTokens| t.to_token_stream().to_string();
    assert_eq!(text(&functions(&out)[0].sig), text(&original.sig));

    let out = expand(r#"hedge = "0ms", hedges = 3"#, &hedged_item());
    assert!(
        out.contains("Duration :: new (0u64 , 0u32) , 3u32)"),
        "{out}"
    );
}

#[test]
fn a_percentile_hedge_keeps_a_histogram_in_the_function() {
    for (word, at) in [
        ("p95", "0.95f64"),
        ("p1", "0.01f64"),
        ("p99_9", "0.999f64"),
        ("p999", "0.999f64"),
    ] {
        let out = expand(&format!("hedge = {word}, hedges = 2"), &hedged_item());
        assert!(!out.contains("compile_error"), "{out}");
        assert!(
            out.contains("static __RETRY_LATENCIES : :: retry_runtime :: __private :: Latencies = :: retry_runtime :: __private :: Latencies :: new () ;"),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                ". hedge_at (& __RETRY_LATENCIES , {at}) . copies (2u32)) . await"
            )),
            "{out}"
        );
    }
}

#[test]
fn keys_beside_hedge_become_builder_methods() {
    let item = quote! {
        async fn fetch(id: u64) -> Result<u64, E> { Ok(id) }
    };
    let out = expand(
        r#"hedge = "10ms", unless = E::Bad, on = E::Busy, when = ok, classify, budget = B, breaker = K, throttle = T, rate_limiter = R, on_retry = hook, context = attempt, idempotency_key = key(), name = "n", timeout = d, sleeper = S, deadline = "1s", max_hint = "5s", fallback = fb"#,
        &item,
    );
    assert!(!out.contains("compile_error"), "{out}");
    for part in [
        ". when (move | __retry_err | ! :: core :: matches ! (__retry_err , E :: Bad) && :: core :: matches ! (__retry_err , E :: Busy) && :: retry_runtime :: __private :: check_when (ok , __retry_err))",
        ". classify ()",
        ". budget (__retry_budget)",
        ". breaker (",
        ". throttle (& T)",
        ". rate_limiter (& R)",
        ". on_retry (move | __retry_result , __retry_info |",
        ". idempotency_key (",
        ". fallback_async (move | __retry_final |",
        ". sleeper (__retry_sleeper)",
        ". name (\"n\")",
        ". timeout (__retry_timeout)",
        "with_deadline (:: core :: time :: Duration :: new (1u64 , 0u32))",
        "with_max_hint (:: core :: time :: Duration :: new (5u64 , 0u32))",
        "let attempt = & __retry_attempt ;",
    ] {
        assert!(out.contains(part), "missing `{part}` in {out}");
    }
    // Under `until` or `classify_ok` the fallback answers the whole outcome.
    let out = expand(
        r#"hedge = "10ms", until = done, classify_ok, fallback = fb"#,
        &item,
    );
    for part in [
        ". until (done)",
        ". classify_ok ()",
        ". __fallback_outcome_async (",
    ] {
        assert!(out.contains(part), "missing `{part}` in {out}");
    }
    // A runtime policy carries the deadline.
    let out = expand(r#"hedge = "10ms", policy = POLICY"#, &item);
    assert!(out.contains("Policy :: retry (& __retry_policy"), "{out}");
}

#[test]
fn hedge_errors_name_the_problem() {
    let cases: [(&str, &[&str]); 8] = [
        ("hedges = 2", &["`hedges` counts the copies `hedge` sends: add `hedge = \"150ms\"`"]),
        ("hedge = p100", &["expected a duration such as `\"150ms\"` or a percentile such as `p95` (`p1` to `p99`, or `p99_9`), found `p100`"]),
        ("hedge = fast", &["found `fast`"]),
        ("hedge = 150", &["`hedge` needs a unit: write `hedge = \"150ms\"`"]),
        ("hedge = \"1 parsec\"", &["parsec"]),
        ("hedge = \"1ms\", hedges = 0", &["at least 1"]),
        ("hedge = \"1ms\", hedges = 1.5", &["found `1.5`"]),
        (
            "hedge = \"1ms\", attempts = 2, jitter",
            &[
                "`attempts` cannot be combined with `hedge`: copies are counted by `hedges`",
                "`jitter` cannot be combined with `hedge`: the delay between copies is `hedge`'s",
            ],
        ),
    ];
    let item = quote! { async fn f(id: u64) -> Result<u64, E> { Ok(id) } };
    for (args, messages) in cases {
        let out = expand(args, &item);
        assert!(
            out.starts_with(&item.to_string()),
            "original lost for `{args}`: {out}"
        );
        for message in messages {
            let escaped = format!("{message:?}");
            let escaped = &escaped[1..escaped.len() - 1];
            assert!(
                out.contains(escaped),
                "`{args}`: missing {message} in {out}"
            );
        }
    }
    // `&mut` arguments and `&mut self`, each at its argument; a plain `fn`.
    let (_, messages) = checked(r#"hedge = "1ms""#);
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(
        messages[0].0.contains("but `buf` is `&mut`"),
        "{messages:?}"
    );
    let out = expand(r#"hedge = "1ms""#, &method_item());
    assert!(out.contains("but `self` is `&mut`"), "{out}");
    let out = expand(r#"hedge = "1ms""#, &sync_item());
    assert!(
        out.contains("`hedge` needs an `async fn`: its copies run concurrently"),
        "{out}"
    );
}
