//! Compile-fail cases for `#[retry]`: every bad argument or misuse must fail to compile with
//! its own message, spanned on the offending token, and nothing else.
//!
//! Regenerate the expected output with `TRYBUILD=overwrite cargo test --features ui --test ui`, then read
//! every changed `.stderr`.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
    cases.pass("tests/ui-pass/*.rs");
}
