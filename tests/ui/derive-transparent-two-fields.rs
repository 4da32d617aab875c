use retry_runtime::Classify;

#[derive(Classify)]
enum ApiError {
    #[classify(transparent)]
    Both(std::io::Error, std::io::Error),
}

fn main() {}
