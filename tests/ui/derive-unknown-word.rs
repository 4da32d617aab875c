use retry_runtime::Classify;

#[derive(Classify)]
enum ApiError {
    #[classify(retyr)]
    Busy,
}

fn main() {}
