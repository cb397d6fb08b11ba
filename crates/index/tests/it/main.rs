//! Integration tests of the index crate: one test binary, one module per area.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod filters;
mod reports;
mod segment;
