//! The `#[retry]` attribute. Use it through `retry-runtime`, which re-exports it and documents
//! every argument.
//!
//! The macro runs in three stages, one file each: `attr` parses the arguments (keeping their
//! spans), `valid` checks them and the rules between them, and `expand` rewrites the
//! function. This file only converts between `proc_macro` and `proc_macro2`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use proc_macro::TokenStream;

mod attr;
mod duration;
mod expand;
mod valid;

#[cfg(test)]
mod tests;

/// Retries a function that returns a `Result`. See `retry_runtime::retry` for the arguments.
#[proc_macro_attribute]
pub fn retry(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::retry(args.into(), item.into()).into()
}
