//! `#[derive(Classify)]`: decisions per variant, a default, transparent fields, structs,
//! generics, and beside `thiserror::Error`; used through `#[retry(classify)]`.

use std::time::Duration;

use retry_runtime::{retry, Classify, Decision};

#[derive(Debug, thiserror::Error, Classify)]
#[classify(default = stop)]
enum ApiError {
    #[error("service busy")]
    #[classify(retry)]
    Busy,
    #[error("rate limited")]
    #[classify(transparent)]
    Limited(Hint),
    #[error(transparent)]
    #[classify(transparent)]
    Io(#[from] std::io::Error),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("bad request: {field}")]
    BadRequest { field: &'static str },
    #[error("conflict")]
    #[classify(stop)]
    Conflict { retry_later: bool },
}

#[derive(Debug, Classify)]
#[classify(transparent)]
struct Hint(Waited);

#[derive(Debug)]
struct Waited(Duration);

impl Classify for Waited {
    fn classify(&self) -> Decision {
        Decision::RetryAfter(self.0)
    }
}

#[derive(Debug, Classify)]
#[classify(retry)]
struct Flaky;

#[derive(Debug, Classify)]
enum Wrapped<E> {
    #[classify(transparent)]
    Inner(E),
    #[classify(stop)]
    Closed,
}

#[test]
fn each_variant_decides_as_annotated() {
    assert_eq!(ApiError::Busy.classify(), Decision::Retry);
    let wait = Duration::from_millis(300);
    assert_eq!(
        ApiError::Limited(Hint(Waited(wait))).classify(),
        Decision::RetryAfter(wait)
    );
    let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
    assert_eq!(ApiError::Io(reset).classify(), Decision::Retry);
    let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
    assert_eq!(ApiError::from(denied).classify(), Decision::Stop);
    assert_eq!(ApiError::NotFound("x".into()).classify(), Decision::Stop);
    assert_eq!(
        ApiError::BadRequest { field: "id" }.classify(),
        Decision::Stop
    );
    assert_eq!(
        ApiError::Conflict { retry_later: true }.classify(),
        Decision::Stop
    );
    assert_eq!(Flaky.classify(), Decision::Retry);
    assert_eq!(Wrapped::Inner(ApiError::Busy).classify(), Decision::Retry);
    assert_eq!(Wrapped::<ApiError>::Closed.classify(), Decision::Stop);
    // thiserror's Display is untouched.
    assert_eq!(
        ApiError::BadRequest { field: "id" }.to_string(),
        "bad request: id"
    );
}

#[retry(attempts = 5, base = "10ms", classify)]
async fn call(calls: &mut u32, errors: &[fn() -> ApiError]) -> Result<u32, ApiError> {
    *calls += 1;
    match errors.get(*calls as usize - 1) {
        Some(make) => Err(make()),
        None => Ok(*calls),
    }
}

#[tokio::test(start_paused = true)]
async fn a_derived_classification_drives_the_attribute() {
    let start = tokio::time::Instant::now();
    let mut calls = 0;
    let errors: [fn() -> ApiError; 2] = [
        || ApiError::Busy,
        || ApiError::Limited(Hint(Waited(Duration::from_secs(1)))),
    ];
    assert_eq!(call(&mut calls, &errors).await.unwrap(), 3);
    assert_eq!(start.elapsed(), Duration::from_millis(10 + 1000));
    let mut calls = 0;
    let errors: [fn() -> ApiError; 2] = [|| ApiError::NotFound("x".into()), || ApiError::Busy];
    assert!(matches!(
        call(&mut calls, &errors).await,
        Err(ApiError::NotFound(_))
    ));
    assert_eq!(calls, 1);
}
