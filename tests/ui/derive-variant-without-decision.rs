use retry_runtime::Classify;

#[derive(Classify)]
enum ApiError {
    #[classify(retry)]
    Busy,
    NotFound,
}

fn main() {}
