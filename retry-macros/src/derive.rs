//! `#[derive(Classify)]`: each variant of an error enum (or a struct) says whether it is worth
//! another attempt, so the `match` every user wrote by hand is written once, checked.
//!
//! The same stages as the attribute, small: parse the `#[classify(...)]` words of the type and
//! of each variant (every problem into one sink), then render one `impl`.
//!
//! ```text
//! #[derive(Classify)]                      impl Classify for ApiError {
//! #[classify(default = stop)]                  fn classify(&self) -> Decision {
//! enum ApiError {                                  match self {
//!     #[classify(retry)]                               Self::Timeout { .. } => Decision::Retry,
//!     Timeout,                           →             Self::Io(inner) => Classify::classify(inner),
//!     #[classify(transparent)]                         Self::BadRequest { .. } => Decision::Stop,
//!     Io(std::io::Error),                          }
//!     BadRequest(String),                      }
//! }                                        }
//! ```

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned as _;
use syn::{Attribute, Data, DeriveInput, Fields, Ident};

use crate::errors::Errors;
use crate::vocab::{closest, list};

/// What a `#[classify(...)]` says about a variant or a struct.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rule {
    Retry,
    Stop,
    /// Ask the single field's own `Classify`.
    Transparent,
}

/// The words a variant may carry.
const WORDS: [&str; 3] = ["retry", "stop", "transparent"];

/// The derive, as a plain function over tokens.
pub fn classify(input: TokenStream) -> TokenStream {
    let input = match syn::parse2::<DeriveInput>(input) {
        Ok(input) => input,
        Err(err) => return err.to_compile_error(),
    };
    let mut errors = Errors::default();
    let arms = match &input.data {
        Data::Enum(data) => {
            let default = type_default(&input.attrs, &mut errors);
            data.variants
                .iter()
                .filter_map(|variant| {
                    let before = errors.len();
                    let rule = rule_of(&variant.attrs, &mut errors).or(default);
                    let Some(rule) = rule else {
                        if errors.len() > before {
                            // Its `#[classify]` was wrong, and that error says so.
                            return None;
                        }
                        errors.push(
                            variant.ident.span(),
                            format!(
                                "variant `{}` has no retry decision: add `#[classify(retry)]`, `#[classify(stop)]` or `#[classify(transparent)]`, or give the enum `#[classify(default = retry)]` or `#[classify(default = stop)]`",
                                variant.ident
                            ),
                        );
                        return None;
                    };
                    let ident = &variant.ident;
                    arm(quote!(Self::#ident), &variant.fields, rule, variant.ident.span(), &mut errors)
                })
                .collect::<Vec<_>>()
        }
        Data::Struct(data) => {
            let before = errors.len();
            let rule = rule_of(&input.attrs, &mut errors);
            match rule {
                None if errors.len() > before => Vec::new(),
                Some(rule) => arm(
                    quote!(Self),
                    &data.fields,
                    rule,
                    input.ident.span(),
                    &mut errors,
                )
                .into_iter()
                .collect(),
                None => {
                    errors.push(
                        input.ident.span(),
                        format!(
                            "`{}` has no retry decision: add `#[classify(retry)]`, `#[classify(stop)]` or `#[classify(transparent)]` to the struct",
                            input.ident
                        ),
                    );
                    Vec::new()
                }
            }
        }
        Data::Union(data) => {
            errors.push(
                data.union_token.span,
                "`#[derive(Classify)]` works on enums and structs, not unions",
            );
            Vec::new()
        }
    };
    if let Some(err) = errors.into_error() {
        return err.to_compile_error();
    }
    render(&input, &arms)
}

/// One match arm: `Self::V { .. } => Decision::Retry`, or the field's own decision.
fn arm(
    path: TokenStream,
    fields: &Fields,
    rule: Rule,
    span: Span,
    errors: &mut Errors,
) -> Option<Arm> {
    let private = quote!(::retry_runtime::__private);
    match rule {
        Rule::Retry => Some(Arm::decided(
            quote!(#path { .. } => #private::Decision::Retry,),
            &path,
        )),
        Rule::Stop => Some(Arm::decided(
            quote!(#path { .. } => #private::Decision::Stop,),
            &path,
        )),
        Rule::Transparent => {
            if fields.len() != 1 {
                errors.push(
                    span,
                    format!(
                        "`#[classify(transparent)]` asks the single field's own `Classify`, but this has {} fields; give it exactly one, or decide with `retry` or `stop`",
                        fields.len()
                    ),
                );
                return None;
            }
            let field = fields.iter().next()?;
            let inner = Ident::new("__retry_inner", Span::mixed_site());
            let pattern = match &field.ident {
                Some(name) => quote!(#path { #name: #inner }),
                None => quote!(#path(#inner)),
            };
            let ty = &field.ty;
            let call = quote_spanned!(ty.span()=> <#ty as #private::Classify>::classify(#inner));
            let overloaded =
                quote_spanned!(ty.span()=> <#ty as #private::Classify>::overloaded(#inner));
            Some(Arm {
                classify: quote!(#pattern => #call,),
                overloaded: quote!(#pattern => #overloaded,),
                field: Some(ty.clone()),
            })
        }
    }
}

/// One variant's (or the struct's) arms: its decision, and whether it is an overload answer
/// (a transparent field's own answer; a decided variant is not one).
struct Arm {
    classify: TokenStream,
    overloaded: TokenStream,
    /// A transparent variant's field type, for the `Classify` bound of a generic type.
    field: Option<syn::Type>,
}

impl Arm {
    fn decided(classify: TokenStream, path: &TokenStream) -> Self {
        Arm {
            classify,
            overloaded: quote!(#path { .. } => false,),
            field: None,
        }
    }
}

/// `#[classify(default = retry|stop)]` on the enum.
fn type_default(attrs: &[Attribute], errors: &mut Errors) -> Option<Rule> {
    let mut default = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("classify")) {
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("default") {
                let value: Ident = meta.value()?.parse()?;
                default = match value.to_string().as_str() {
                    "retry" => Some(Rule::Retry),
                    "stop" => Some(Rule::Stop),
                    other => {
                        return Err(syn::Error::new(
                            value.span(),
                            format!("unknown default `{other}`; expected `default = retry` or `default = stop`"),
                        ))
                    }
                };
                Ok(())
            } else {
                Err(meta.error(
                    "on the enum, `#[classify]` takes `default = retry` or `default = stop`; put `retry`, `stop` or `transparent` on the variants",
                ))
            }
        });
        if let Err(err) = parsed {
            errors.add(err);
        }
    }
    default
}

/// `#[classify(retry|stop|transparent)]` on a variant (or a struct).
fn rule_of(attrs: &[Attribute], errors: &mut Errors) -> Option<Rule> {
    let mut rule = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("classify")) {
        let parsed = attr.parse_nested_meta(|meta| {
            let Some(word) = meta.path.get_ident().map(Ident::to_string) else {
                return Err(meta.error(format!("expected one of {}", list(&WORDS))));
            };
            let found = match word.as_str() {
                "retry" => Rule::Retry,
                "stop" => Rule::Stop,
                "transparent" => Rule::Transparent,
                _ => {
                    let hint = match closest(&word, &WORDS) {
                        Some(best) => {
                            format!("did you mean `{best}`? expected one of {}", list(&WORDS))
                        }
                        None => format!("expected one of {}", list(&WORDS)),
                    };
                    return Err(meta.error(format!("unknown `#[classify]` word `{word}`; {hint}")));
                }
            };
            if rule.is_some() {
                return Err(meta.error("give one decision per variant"));
            }
            rule = Some(found);
            Ok(())
        });
        if let Err(err) = parsed {
            errors.add(err);
        }
    }
    rule
}

/// The `impl`, with a `Classify` bound for every transparent field's type.
fn render(input: &DeriveInput, arms: &[Arm]) -> TokenStream {
    let private = quote!(::retry_runtime::__private);
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let mut predicates: Vec<TokenStream> = where_clause
        .map(|w| w.predicates.iter().map(|p| quote!(#p)).collect())
        .unwrap_or_default();
    if !input.generics.params.is_empty() {
        for ty in arms.iter().filter_map(|arm| arm.field.as_ref()) {
            predicates.push(quote!(#ty: #private::Classify));
        }
    }
    let empty = matches!(input.data, Data::Enum(ref e) if e.variants.is_empty());
    let body = |arms: Vec<&TokenStream>| {
        if empty {
            quote!(match *self {})
        } else {
            quote!(match self { #(#arms)* })
        }
    };
    let overloaded = body(arms.iter().map(|arm| &arm.overloaded).collect());
    let body = body(arms.iter().map(|arm| &arm.classify).collect());
    quote! {
        #[automatically_derived]
        #[allow(unreachable_code, clippy::match_single_binding)]
        impl #impl_generics #private::Classify for #name #ty_generics
        where
            #(#predicates,)*
        {
            fn classify(&self) -> #private::Decision {
                #body
            }
            fn overloaded(&self) -> bool {
                #overloaded
            }
        }
    }
}
