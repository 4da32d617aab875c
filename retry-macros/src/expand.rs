//! The whole macro as a plain function over `proc_macro2` tokens (unit- and property-testable
//! outside a compiler invocation):
//!
//! ```text
//! vocab ─▶ parse ─▶ valid ─▶ plan ─▶ render
//! ```
//!
//! Each stage imports only from the stages before it; every error goes to one sink.

use proc_macro2::TokenStream;
use quote::quote;

use crate::errors::Errors;
use crate::parse::{self, Item};
use crate::render::Signals;

/// Arguments and item in, rewritten item out. On any error the original item is emitted
/// unchanged next to the `compile_error!`s, so the rest of the crate still sees it.
pub fn retry(args: TokenStream, item: TokenStream) -> TokenStream {
    retry_with(args, item, Signals::BUILT)
}

/// [`retry`] with the signals given rather than those this build has.
pub fn retry_with(args: TokenStream, item: TokenStream, signals: Signals) -> TokenStream {
    let mut errors = Errors::default();
    let raw = parse::args(args, &mut errors);
    let func = match parse::item(item.clone()) {
        Item::Fn(func) => func,
        Item::Unsupported(err) => {
            errors.add(err);
            return with_errors(item, errors);
        }
    };
    match crate::valid::config(raw, &func, &mut errors) {
        Some(config) if errors.is_empty() => {
            crate::render::render(&config, &crate::plan::plan(*func), signals)
        }
        _ => with_errors(item, errors),
    }
}

/// The original item followed by the errors.
fn with_errors(item: TokenStream, errors: Errors) -> TokenStream {
    let errors = errors.into_error().map(|err| err.to_compile_error());
    quote!(#item #errors)
}
