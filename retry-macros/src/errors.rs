//! The one error sink every stage writes to (as serde's `internals/ctxt.rs`), so that every bad
//! argument, and every problem with the item, is reported at once.

use proc_macro2::Span;

/// Errors collected so far.
#[derive(Default)]
pub struct Errors(Vec<syn::Error>);

impl Errors {
    /// Records an error at `span`.
    pub fn push(&mut self, span: Span, message: impl std::fmt::Display) {
        self.add(syn::Error::new(span, message));
    }

    /// Records an error (or several, if `err` was combined).
    pub fn add(&mut self, err: syn::Error) {
        self.0.extend(err);
    }

    /// How many errors were recorded.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// All errors as one, in source order (where the compiler reports positions).
    pub fn into_error(mut self) -> Option<syn::Error> {
        self.0.sort_by_key(|err| {
            let start = err.span().start();
            (start.line, start.column)
        });
        let mut errors = self.0.into_iter();
        let mut all = errors.next()?;
        for err in errors {
            all.combine(err);
        }
        Some(all)
    }
}
