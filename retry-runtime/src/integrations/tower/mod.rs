//! Feature `tower`: this crate's retries as a `tower` layer.
