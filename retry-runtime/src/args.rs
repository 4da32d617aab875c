//! What `#[retry]` asks of by-value arguments. The trait is named at the crate's root (hidden
//! from the docs) so that a compile error about it reads `retry_runtime::CloneForRetry`, not a
//! private path.

/// A by-value argument of a retried function is cloned for every attempt.
#[diagnostic::on_unimplemented(
    message = "`#[retry]` needs to clone this argument for every attempt, but `{Self}` is not `Clone`",
    label = "taken by value here, so every attempt needs its own copy",
    note = "take the argument by reference (`&{Self}` or `&mut {Self}`), or make `{Self}` `Clone` (for a generic or `impl Trait` argument, add a `Clone` bound)"
)]
pub trait CloneForRetry: Sized {
    /// A fresh copy for one attempt.
    fn __retry_clone(&self) -> Self;
}

#[diagnostic::do_not_recommend]
impl<T: Clone> CloneForRetry for T {
    #[inline(always)]
    fn __retry_clone(&self) -> Self {
        self.clone()
    }
}
