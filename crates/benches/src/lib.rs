//! Benchmarks only: see `benches/convert.rs`. Run with `cargo bench -p benches`.
