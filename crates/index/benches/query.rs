//! Query speed over generated traffic: top-10 users, a filtered query, an object history.
//!
//! `cargo bench -p index` generates `INDEX_BENCH_EVENTS` events (default 1,000,000; the
//! issue's benchmark is 10,000,000) with `synth`, writes them as segments of 1M events into
//! a temporary directory, and times the answers. For the comparison with DuckDB over the
//! same files in the same run, use `scripts/bench-query.sh`.

#![allow(clippy::unwrap_used, missing_docs)]

/// The allocator of the `auditrail` binary, as in `examples/query_bench.rs`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use index::report::{self, Dimension};
use index::{Dataset, Filter, Segment, TextPattern, write_segment};
use synth::{Generator, SynthConfig};

const SEGMENT_EVENTS: u64 = 1_000_000;

fn dataset(dir: &std::path::Path) -> Dataset {
    let events: u64 = std::env::var("INDEX_BENCH_EVENTS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(1_000_000);
    let mut generator = Generator::new(42, SynthConfig::default());
    let mut seq = 0_u64;
    let mut segments = Vec::new();
    while seq < events {
        let count = SEGMENT_EVENTS.min(events - seq);
        let path = dir.join(format!("segment-{}.parquet", segments.len()));
        let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let batch = (&mut generator).take(count as usize).map(|event| {
            seq += 1;
            (seq, event)
        });
        let written = write_segment(file, batch).unwrap();
        segments.push(Segment::open(&path).unwrap().with_keys(written.keys));
    }
    Dataset::new(segments)
}

fn queries(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let dataset = dataset(dir.path());
    let mut group = c.benchmark_group("query");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("top_10_users", |b| {
        b.iter(|| report::top_users(&dataset, &Filter::default(), Dimension::User, 10).unwrap())
    });
    let filter = Filter {
        verbs: vec![TextPattern::parse("delete")],
        resources: vec![TextPattern::parse("secrets")],
        namespaces: vec![TextPattern::parse("payments")],
        ..Filter::default()
    };
    group.bench_function("delete_secrets_in_namespace_newest_100", |b| {
        b.iter(|| dataset.query(&filter, 100).unwrap())
    });
    group.bench_function("object_history_rows", |b| {
        b.iter(|| {
            dataset
                .segments()
                .iter()
                .filter_map(Segment::keys)
                .map(|keys| keys.object_rows("deployments", "checkout", "queue").len())
                .sum::<usize>()
        })
    });
    group.bench_function("object_history_events", |b| {
        b.iter(|| {
            dataset
                .object_events("deployments", "checkout", "queue")
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, queries);
criterion_main!(benches);
