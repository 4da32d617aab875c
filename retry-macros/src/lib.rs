//! The `#[retry]` attribute. Use it through `retry-runtime`, which re-exports it and documents
//! every argument.
//!
//! The macro is a pipeline of one-way stages, one file each:
//!
//! - `vocab`: the keys, backoff and jitter names, and "did you mean" suggestions;
//! - `parse`: the raw arguments with their spans, and the item with its body kept as tokens;
//! - `valid`: the typed `Config` and every check, arguments and item alike,
//!   reporting into one error sink (`errors`);
//! - `plan`: a typed description of the function (how each argument is prepared per attempt,
//!   the receiver, the return type);
//! - `render`: named pieces and one template.
//!
//! `expand` chains them; `derive` is `#[derive(Classify)]`; this file only converts between
//! `proc_macro` and `proc_macro2`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use proc_macro::TokenStream;

mod derive;
mod duration;
mod errors;
mod expand;
mod parse;
mod plan;
mod render;
mod tokens;
mod valid;
mod vocab;

#[cfg(test)]
mod tests;

/// Retries a function that returns a `Result`. See `retry_runtime::retry` for the arguments.
#[proc_macro_attribute]
pub fn retry(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::retry(args.into(), item.into()).into()
}

/// Implements `retry_runtime::Classify` from `#[classify(...)]` on the variants. See
/// `retry_runtime::Classify`.
#[proc_macro_derive(Classify, attributes(classify))]
pub fn derive_classify(input: TokenStream) -> TokenStream {
    derive::classify(input.into()).into()
}
