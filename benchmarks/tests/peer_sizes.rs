//! The future of a retried call is smaller than the future of the same retry through any peer
//! (DESIGN.md, "Performance contract"), for a 1-byte body, measured with `size_of_val` before
//! it is first polled. `examples/sizes.rs` prints the full table
//! (`cargo run --release -p retry-benchmarks --example sizes`).

use std::mem::size_of_val;

use retry_runtime::retry;

async fn one_byte() -> Result<u8, std::io::Error> {
    Ok(std::hint::black_box(1u8))
}

#[retry(attempts = 3, base = "10ms", jitter = decorrelated, deadline = "5s")]
async fn one_byte_retried() -> Result<u8, std::io::Error> {
    Ok(std::hint::black_box(1u8))
}

/// `examples/sizes.rs` prints the full table; this pins its conclusion. Ours is measured with
/// the most loop state it can carry (decorrelated jitter and a deadline).
#[test]
fn smaller_than_every_peer_for_a_one_byte_body() {
    use backon::Retryable;
    let ten_ms = std::time::Duration::from_millis(10);
    let ours = size_of_val(&one_byte_retried());
    let peers = [
        (
            "backon",
            size_of_val(&one_byte.retry(backon::ExponentialBuilder::default().with_max_times(2))),
        ),
        (
            "tokio-retry2",
            size_of_val(&tokio_retry2::Retry::spawn(
                tokio_retry2::strategy::ExponentialBackoff::from_millis(10).take(2),
                || async {
                    one_byte()
                        .await
                        .map_err(tokio_retry2::RetryError::transient)
                },
            )),
        ),
        (
            "tokio-retry",
            size_of_val(&tokio_retry::Retry::start(
                tokio_retry::strategy::ExponentialBackoff::from_millis(10).take(2),
                one_byte,
            )),
        ),
        (
            "tryhard",
            size_of_val(
                &tryhard::retry_fn(one_byte)
                    .retries(2)
                    .exponential_backoff(ten_ms),
            ),
        ),
    ];
    println!("#[retry]: {ours} B");
    for (name, bytes) in peers {
        println!("{name}: {bytes} B");
        assert!(
            ours < bytes,
            "#[retry] ({ours} B) is not smaller than {name} ({bytes} B)"
        );
    }
}

/// `Policy::retry`, awaited, for the same 1-byte body: smaller than backon's `Retryable`
/// doing the same work (DESIGN.md, "Performance contract").
#[test]
fn the_builder_future_is_smaller_than_backons() {
    use backon::Retryable;
    use std::future::IntoFuture;
    let policy = retry_runtime::Policy::new();
    let ours = size_of_val(&policy.retry(async |_| one_byte().await).into_future());
    let with_everything = size_of_val(
        &policy
            .retry(async |_| one_byte().await)
            .when(|_: &std::io::Error| true)
            .until(|_: &u8| true)
            .timeout(std::time::Duration::from_secs(1))
            .into_future(),
    );
    let backon =
        size_of_val(&one_byte.retry(backon::ExponentialBuilder::default().with_max_times(2)));
    println!("Policy::retry: {ours} B ({with_everything} B with a timeout and filters); backon: {backon} B");
    assert!(
        ours < backon,
        "Policy::retry ({ours} B) is not smaller than backon ({backon} B)"
    );
}
