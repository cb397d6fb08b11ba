//! The convert path, step by step and whole, over realistic generated traffic
//! (`synth`, about 1 KB per event): Kubernetes JSON decoding, policy application
//! (`examples/policy.yaml`), encoding to audit.k8s.io/v1, jsonl and ECS, and
//! decode + policy + encode together, which is what `auditrail convert` does per event.
//!
//! Throughput is reported per event and per byte of input. Compare with `jq -c .` through
//! `scripts/bench-convert.sh`, which runs both on the same file in the same run.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use event::{AuditEvent, Origin};

const EVENTS: usize = 20_000;

struct Fixture {
    lines: Vec<Vec<u8>>,
    events: Vec<AuditEvent>,
    policy: policy::Policy,
    bytes: u64,
}

fn fixture() -> Fixture {
    let events: Vec<AuditEvent> = synth::Generator::new(7, synth::SynthConfig::default())
        .take(EVENTS)
        .collect();
    let lines: Vec<Vec<u8>> = events
        .iter()
        .map(|event| {
            let mut line = Vec::new();
            formats::k8s::encode(event, &mut line);
            line.pop();
            line
        })
        .collect();
    let bytes = lines.iter().map(|line| line.len() as u64 + 1).sum();
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/policy.yaml"
    ))
    .expect("examples/policy.yaml");
    let policy = policy::Policy::load(&text)
        .expect("example policy loads")
        .policy;
    Fixture {
        lines,
        events,
        policy,
        bytes,
    }
}

fn decode(lines: &[Vec<u8>], out: &mut Vec<AuditEvent>) {
    let origin = Origin::default();
    let mut diagnostics = Vec::new();
    for line in lines {
        formats::k8s::decode(line, &origin, out, &mut diagnostics);
    }
    assert!(diagnostics.is_empty());
}

fn benches(c: &mut Criterion) {
    let fixture = fixture();
    let mut group = c.benchmark_group("convert");
    group.sample_size(20);
    group.throughput(Throughput::Elements(EVENTS as u64));

    group.bench_function("decode_k8s", |b| {
        let mut out = Vec::with_capacity(EVENTS);
        b.iter(|| {
            out.clear();
            decode(&fixture.lines, &mut out);
        });
    });

    group.bench_function("policy_apply", |b| {
        b.iter_batched(
            || fixture.events.clone(),
            |mut events| {
                let mut kept = 0usize;
                for event in &mut events {
                    kept += usize::from(fixture.policy.apply(event).is_kept());
                }
                (kept, events)
            },
            BatchSize::LargeInput,
        );
    });

    type Encoder = fn(&AuditEvent, &mut Vec<u8>);
    let encoders: [(&str, Encoder); 3] = [
        ("encode_k8s", formats::k8s::encode),
        ("encode_jsonl", formats::jsonl::encode),
        ("encode_ecs", formats::ecs::encode),
    ];
    for (name, encode) in encoders {
        group.bench_function(name, |b| {
            let mut out = Vec::with_capacity(fixture.bytes as usize * 2);
            b.iter(|| {
                out.clear();
                for event in &fixture.events {
                    encode(event, &mut out);
                }
                out.len()
            });
        });
    }

    group.throughput(Throughput::Bytes(fixture.bytes));
    group.bench_function("decode_policy_encode_k8s", |b| {
        let mut events = Vec::with_capacity(EVENTS);
        let mut out = Vec::with_capacity(fixture.bytes as usize);
        b.iter(|| {
            events.clear();
            out.clear();
            decode(&fixture.lines, &mut events);
            for event in &mut events {
                if fixture.policy.apply(event).is_kept() {
                    formats::k8s::encode(event, &mut out);
                }
            }
            out.len()
        });
    });
    group.finish();
}

criterion_group!(convert, benches);
criterion_main!(convert);
