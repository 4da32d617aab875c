//! No library: the tests are in `tests/wasm.rs`, built for `wasm32-unknown-unknown` and run in
//! node by `wasm-bindgen-test-runner` (see `run.sh`).
