// What `#[retry(attempts = 3, base = "200ms", jitter)]` makes of README's `fetch_user`,
// exactly, without the `tracing` and `metrics` features (which add one event per retry and per
// give-up, and a static for the counters' handles); checked by
// `the_documented_expansion_is_the_real_one` in
// retry-macros.
async fn fetch_user(client: &Client, id: u64) -> Result<User, ApiError> {
    ::retry_runtime::__private::async_needs_timer!();
    const __RETRY_POLICY: ::retry_runtime::__private::Policy = ::retry_runtime::__private::Policy::new()
        .with_attempts(3u32)
        .with_base(::core::time::Duration::new(0u64, 200000000u32))
        .with_jitter(::retry_runtime::__private::Jitter::Full);
    let mut __retry_step =
        ::retry_runtime::__private::Step::<::retry_runtime::__private::NoMemory>::begin(&__RETRY_POLICY);
    loop {
        ::retry_runtime::__private::sleep({
            let __retry_delay = {
                #[allow(clippy::redundant_closure_call, clippy::needless_return, unreachable_code)]
                let __retry_result: Result<User, ApiError> =
                    { async move { client.get(format!("/users/{id}")).send().await?.json().await } }.await;
                let ::core::option::Option::Some(_) =
                    <Result<User, ApiError> as ::retry_runtime::__private::RetryResult>::__retry_error(&__retry_result)
                else {
                    return __retry_result;
                };
                let __retry_judged = ::retry_runtime::__private::Judged::RETRY;
                let ::retry_runtime::__private::Turn::Retry(__retry_info) =
                    ::retry_runtime::__private::Step::turn_unguarded(
                        &mut __retry_step,
                        &__RETRY_POLICY,
                        __retry_judged,
                    )
                else {
                    return __retry_result;
                };
                ::retry_runtime::__private::RetryInfo::delay(&__retry_info)
            };
            if __retry_delay == ::core::time::Duration::ZERO {
                continue;
            }
            __retry_delay
        })
        .await;
    }
}
