//! Bounded replay of streamed HTTP request bodies (features `tower`, `reqwest-middleware`).
