//! Regression tests, each named after the bug it pins.
#![deny(warnings)]

use retry_runtime::{retry, Policy};

fn helper() -> u32 {
    7
}

#[derive(Debug, Clone, Default)]
struct Service {
    hits: u32,
}

impl Service {
    /// `self::helper()` was rewritten to `__retry_self::helper()`, which does not resolve.
    #[retry(attempts = 2, base = "0ms")]
    fn module_path_in_method(&self) -> Result<u32, ()> {
        Ok(self::helper() + self.hits)
    }

    /// `{self:?}` in a format string was not renamed, so `&mut self` was moved into the first
    /// attempt and the second could not use it.
    #[retry(attempts = 3, base = "0ms")]
    fn format_self_mut(&mut self) -> Result<String, String> {
        self.hits += 1;
        if self.hits < 3 {
            return Err(format!("{self:?}"));
        }
        Ok(format!("{self:?}"))
    }

    /// The same through a by-value receiver: each attempt formats its own copy.
    #[retry(attempts = 2, base = "0ms")]
    fn format_self_by_value(self) -> Result<String, String> {
        Ok(format!("{self:?}"))
    }
}

/// An argument used only in `policy = ...` got an unused per-attempt copy, an `unused_variables`
/// warning from generated code.
#[retry(policy = Policy::new().with_attempts(tries).with_base(std::time::Duration::ZERO))]
fn argument_used_only_by_the_policy(tries: u32, calls: &mut u32) -> Result<(), ()> {
    *calls += 1;
    Err(())
}

#[test]
fn module_paths_and_format_strings_in_methods() {
    let mut service = Service::default();
    assert_eq!(service.module_path_in_method(), Ok(7));
    assert_eq!(
        service.format_self_mut(),
        Ok("Service { hits: 3 }".to_string())
    );
    assert_eq!(service.hits, 3, "mutations through `&mut self` accumulate");
    assert_eq!(
        service.format_self_by_value(),
        Ok("Service { hits: 3 }".to_string())
    );
}

#[test]
fn policy_only_arguments_compile_without_warnings() {
    let mut calls = 0;
    assert_eq!(argument_used_only_by_the_policy(4, &mut calls), Err(()));
    assert_eq!(calls, 4);
}
