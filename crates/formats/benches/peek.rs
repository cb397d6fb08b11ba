//! The Kubernetes peek's throughput on generated API-server lines (the same lines
//! `auditrail-synth --seed 42` writes, about 970 bytes each), per core, in bytes per second:
//!
//! - `scan`: the byte scanner alone (`k8s::scan_unless`),
//! - `serde_peek`: the serde peek alone (`k8s::peek_serde_unless`), the scanner's reference,
//! - `peek`: what `import` calls (`k8s::peek_unless`: the scanner, the serde peek when unsure),
//! - `serde_json_ignored_any`: `serde_json::from_str::<IgnoredAny>`, a peer that only checks
//!   the JSON.
//!
//! Run with `cargo bench -p formats --bench peek`; compare the four within one run (the
//! machine's CPU steal moves absolute figures between runs).

#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde::de::IgnoredAny;

/// The allocator the `auditrail` binary uses, so that the numbers are the product's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Generated events per iteration (about 2 MB of lines).
const EVENTS: usize = 2_000;

fn lines() -> Vec<Vec<u8>> {
    synth::Generator::new(42, synth::SynthConfig::default())
        .take(EVENTS)
        .map(|event| {
            let mut line = Vec::new();
            formats::k8s::encode(&event, &mut line);
            line.pop();
            line
        })
        .collect()
}

fn peek(c: &mut Criterion) {
    let lines = lines();
    let bytes: usize = lines.iter().map(Vec::len).sum();
    // Every line is answered by each reader (the benchmark would measure give-ups otherwise).
    for line in &lines {
        assert!(matches!(
            formats::k8s::scan_unless(line, &mut |_| true),
            formats::k8s::Scan::Peek(_)
        ));
        assert!(formats::k8s::peek_serde_unless(line, &mut |_| true).is_some());
    }
    let mut group = c.benchmark_group("k8s_peek");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("scan", |b| {
        b.iter(|| {
            let mut answered = 0usize;
            for line in &lines {
                let scan = formats::k8s::scan_unless(black_box(line), &mut |_| true);
                answered += usize::from(matches!(scan, formats::k8s::Scan::Peek(_)));
            }
            answered
        });
    });
    group.bench_function("serde_peek", |b| {
        b.iter(|| {
            let mut answered = 0usize;
            for line in &lines {
                let peek = formats::k8s::peek_serde_unless(black_box(line), &mut |_| true);
                answered += usize::from(peek.is_some());
            }
            answered
        });
    });
    group.bench_function("peek", |b| {
        b.iter(|| {
            let mut answered = 0usize;
            for line in &lines {
                answered += usize::from(formats::k8s::peek(black_box(line)).is_some());
            }
            answered
        });
    });
    group.bench_function("serde_json_ignored_any", |b| {
        b.iter(|| {
            let mut valid = 0usize;
            for line in &lines {
                let text = std::str::from_utf8(black_box(line)).unwrap();
                valid += usize::from(serde_json::from_str::<IgnoredAny>(text).is_ok());
            }
            valid
        });
    });
    group.finish();
}

criterion_group!(benches, peek);
criterion_main!(benches);
