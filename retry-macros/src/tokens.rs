//! Helpers over token streams shared by the stages: spans, searches, and code shown in messages.

use proc_macro2::{Group, Span, TokenStream, TokenTree};
use quote::ToTokens;

/// `tokens` with every span set to `span`, so that errors about them point there.
pub fn respan(tokens: &TokenStream, span: Span) -> TokenStream {
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
pub fn last_span(tokens: &TokenStream, default: Span) -> Span {
    tokens
        .clone()
        .into_iter()
        .last()
        .map_or(default, |tt| tt.span())
}

/// Code as a message quotes it: `value`'s tokens printed (`MyError :: Io (_)`).
pub fn shown(value: &impl ToTokens) -> String {
    value.to_token_stream().to_string()
}

/// Whether `ident` occurs anywhere in `tokens`, inside groups too.
pub fn mentions_ident(tokens: &TokenStream, ident: &str) -> bool {
    tokens.clone().into_iter().any(|tt| match tt {
        TokenTree::Ident(i) => i == ident,
        TokenTree::Group(g) => mentions_ident(&g.stream(), ident),
        _ => false,
    })
}

/// The span of the `&` of the first `&mut` (or `&'a mut`) in `tokens`, inside groups too.
pub fn first_mut_reference(tokens: TokenStream) -> Option<Span> {
    let mut previous_and: Option<Span> = None;
    let mut lifetime_pending = false;
    for tt in tokens {
        match &tt {
            TokenTree::Punct(p) if p.as_char() == '&' => {
                previous_and = Some(p.span());
                lifetime_pending = false;
                continue;
            }
            TokenTree::Punct(p) if p.as_char() == '\'' && previous_and.is_some() => {
                lifetime_pending = true;
                continue;
            }
            TokenTree::Ident(ident) if previous_and.is_some() => {
                if ident == "mut" {
                    return previous_and;
                }
                if lifetime_pending {
                    lifetime_pending = false;
                    continue;
                }
            }
            TokenTree::Group(group) => {
                if let Some(span) = first_mut_reference(group.stream()) {
                    return Some(span);
                }
            }
            _ => {}
        }
        previous_and = None;
        lifetime_pending = false;
    }
    None
}

/// The lifetimes of the borrows in `tokens` (a type): each reference (`&T`, `&'a T`) and each
/// lifetime argument (`Guard<'a>`), `None` where it is elided (`&T`, `'_`); `'static` is left
/// out (it borrows from no argument).
pub fn borrowed_lifetimes(tokens: TokenStream) -> Vec<Option<String>> {
    let mut found = Vec::new();
    let mut tokens = tokens.into_iter().peekable();
    while let Some(tt) = tokens.next() {
        match &tt {
            TokenTree::Punct(p) if p.as_char() == '&' => {
                let named =
                    matches!(tokens.peek(), Some(TokenTree::Punct(q)) if q.as_char() == '\'');
                if !named {
                    found.push(None);
                }
            }
            TokenTree::Punct(p) if p.as_char() == '\'' => {
                if let Some(TokenTree::Ident(name)) = tokens.next() {
                    match name.to_string().as_str() {
                        "static" => {}
                        "_" => found.push(None),
                        other => found.push(Some(other.to_owned())),
                    }
                }
            }
            TokenTree::Group(group) => found.extend(borrowed_lifetimes(group.stream())),
            _ => {}
        }
    }
    found
}
