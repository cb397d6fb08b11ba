//! Decoding and encoding at the crate's boundary: sample files, round trips, no panics.
//! One test binary for the crate (fast to link).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod independent;
mod peek;
mod roundtrip;
mod samples;
mod scan;
mod sources;
