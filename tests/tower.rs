//! The tower layer against real parts: a tonic `Channel`, a hyper-util client and an axum
//! handler, through `RetryLayer`.
