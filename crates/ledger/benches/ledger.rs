//! Append and verify throughput on a real temporary directory (fsync included).
//!
//! Run with `cargo bench -p ledger`; the numbers to compare are in the crate docs.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ledger::{CheckpointPolicy, Config, FileStorage, KeySource, Ledger, NoteSigner, VerifyOptions};

const ORIGIN: &str = "auditrail.bench/ledger";

fn config() -> Config {
    Config {
        origin: ORIGIN.to_owned(),
        key: KeySource::Signer(Box::new(NoteSigner::from_seed(ORIGIN, [1; 32]).unwrap())),
        checkpoint: CheckpointPolicy {
            every_records: 100_000,
            every: Duration::from_secs(3_600),
        },
        segment_bytes: ledger::limits::SEGMENT_BYTES_TARGET,
        sealed: None,
    }
}

/// A ~1 KB record shaped like a Kubernetes audit event, varied enough that zstd does
/// not find whole-record repeats.
fn record(seq: u64) -> Vec<u8> {
    let users = [
        "alice",
        "bob",
        "system:serviceaccount:kube-system:deployment-controller",
        "carol",
    ];
    let verbs = [
        "get", "list", "watch", "update", "patch", "delete", "create",
    ];
    let mut state = seq.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0xdead_beef;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let text = format!(
        concat!(
            r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"{:016x}-{:08x}","#,
            r#""stage":"ResponseComplete","requestURI":"/api/v1/namespaces/ns-{}/pods/pod-{:x}","verb":"{}","#,
            r#""user":{{"username":"{}","groups":["system:authenticated"]}},"sourceIPs":["10.{}.{}.{}"],"#,
            r#""userAgent":"kubectl/v1.30.1 (linux/amd64) kubernetes/{:07x}","objectRef":{{"resource":"pods","#,
            r#""namespace":"ns-{}","name":"pod-{:x}","apiVersion":"v1"}},"responseStatus":{{"metadata":{{}},"code":{}}},"#,
            r#""requestReceivedTimestamp":"2026-01-01T00:{:02}:{:02}.{:06}Z","stageTimestamp":"2026-01-01T00:{:02}:{:02}.{:06}Z","#,
            r#""annotations":{{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by ClusterRoleBinding \"system:{:x}\" of ClusterRole \"edit\" to Group \"dev-{}\""}}}}"#
        ),
        next(),
        next() as u32,
        next() % 40,
        next() % 100_000,
        verbs[(next() % 7) as usize],
        users[(next() % 4) as usize],
        next() % 256,
        next() % 256,
        next() % 256,
        next() % 0xfff_ffff,
        next() % 40,
        next() % 100_000,
        [200, 201, 404, 403, 409][(next() % 5) as usize],
        next() % 60,
        next() % 60,
        next() % 1_000_000,
        next() % 60,
        next() % 60,
        next() % 1_000_000,
        next() % 0xffff,
        next() % 12,
    );
    text.into_bytes()
}

fn append(c: &mut Criterion) {
    let mut group = c.benchmark_group("append");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(10));
    for batch in [100usize, 1_000] {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(Arc::new(FileStorage::new(dir.path())), config()).unwrap();
        let records: Vec<Vec<u8>> = (0..batch as u64).map(record).collect();
        let bytes: usize = records.iter().map(Vec::len).sum();
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(
            format!("batch_{batch}_records_{}B_avg", bytes / batch),
            |b| {
                b.iter(|| ledger.append_batch(&records, UNIX_EPOCH).unwrap());
            },
        );
    }
    // The same work without the disk: compression, hashing and tiles only.
    let storage = Arc::new(ledger::MemStorage::new());
    let mut ledger = Ledger::open(storage, config()).unwrap();
    let records: Vec<Vec<u8>> = (0..1_000u64).map(record).collect();
    group.throughput(Throughput::Elements(1_000));
    group.bench_function("batch_1000_in_memory_no_fsync", |b| {
        b.iter(|| ledger.append_batch(&records, UNIX_EPOCH).unwrap());
    });
    group.finish();
}

fn verify(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(FileStorage::new(dir.path()));
    let mut ledger = Ledger::open(storage.clone(), config()).unwrap();
    let mut bytes = 0u64;
    for chunk in 0..50u64 {
        let records: Vec<Vec<u8>> = (chunk * 1_000..chunk * 1_000 + 1_000).map(record).collect();
        bytes += records.iter().map(|r| r.len() as u64).sum::<u64>();
        ledger.append_batch(&records, UNIX_EPOCH).unwrap();
    }
    ledger.close(UNIX_EPOCH).unwrap();
    let mut group = c.benchmark_group("verify");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("50k_records", |b| {
        b.iter(|| {
            let report = ledger::verify(storage.as_ref(), &VerifyOptions::default()).unwrap();
            assert!(report.is_intact());
        });
    });
    group.finish();
}

criterion_group!(benches, append, verify);
criterion_main!(benches);
