//! The committed `tests/data/format_v1` store: what this code writes must stay
//! byte-identical to it, and it must keep opening and verifying. A failure here means the
//! on-disk format changed: bump the version, document it in docs/ledger-format.md, and
//! keep reading v1. (A zstd upgrade that changes compressed bytes also trips the byte
//! comparison; then regenerate with LEDGER_REGENERATE_FIXTURE=1 after checking that the
//! old fixture still opens and verifies.)

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::at;
use ledger::{
    CheckpointPolicy, Config, FileStorage, KeySource, Ledger, MemStorage, NoteSigner, Storage,
    VerifyOptions, verify,
};

const FIXTURE_ORIGIN: &str = "auditrail.test/format_v1";

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/format_v1")
}

fn fixture_config() -> Config {
    Config {
        origin: FIXTURE_ORIGIN.to_owned(),
        key: KeySource::Signer(Box::new(
            NoteSigner::from_seed(FIXTURE_ORIGIN, [42; 32]).unwrap(),
        )),
        checkpoint: CheckpointPolicy {
            every_records: 200,
            every: Duration::from_secs(3_600),
        },
        segment_bytes: ledger::limits::SEGMENT_BYTES_TARGET,
        sealed: None,
    }
}

fn fixture_record(seq: u64) -> Vec<u8> {
    format!(
        "{{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"auditID\":\"{seq:08}\",\"verb\":\"get\",\"user\":{{\"username\":\"user-{}\"}}}}",
        seq % 7
    )
    .into_bytes()
}

/// Build the fixture store: 300 records in batches of 60, a heartbeat, and a clean
/// close; checkpoints at 240 (policy) and 301 (close).
fn build(storage: Arc<dyn Storage>) {
    let mut ledger = Ledger::open(storage, fixture_config()).unwrap();
    for batch in 0..5u64 {
        let records: Vec<Vec<u8>> = (batch * 60..batch * 60 + 60).map(fixture_record).collect();
        ledger.append_batch(&records, at(batch)).unwrap();
    }
    ledger.append_heartbeat(at(10)).unwrap();
    ledger.close(at(11)).unwrap();
}

#[test]
fn format_v1_fixture_is_unchanged_and_verifies() {
    let generated = MemStorage::new();
    build(Arc::new(generated.clone()));
    let dir = fixture_dir();
    if std::env::var_os("LEDGER_REGENERATE_FIXTURE").is_some() {
        let _ = std::fs::remove_dir_all(&dir);
        for path in generated.paths() {
            let target = dir.join(&path);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::write(target, generated.file(&path).unwrap()).unwrap();
        }
    }
    // Byte-for-byte equal, file for file.
    let mut committed = Vec::new();
    collect(&dir, &dir, &mut committed);
    committed.sort();
    assert_eq!(committed, generated.paths(), "fixture file list changed");
    for path in &committed {
        let bytes = std::fs::read(dir.join(path)).unwrap();
        assert!(
            bytes == generated.file(path).unwrap(),
            "{path} differs from the committed fixture"
        );
    }

    assert_opens_and_verifies(&dir, &committed);
}

/// The store first written by this code, which kept every full level-0 tile
/// (`tests/data/format_v1_level0`, `tile/0/000`): stores written before level-0 tiles were
/// left to be recomputed from the records must keep opening, verifying and proving.
#[test]
fn format_v1_with_level0_tiles_still_opens_and_verifies() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/format_v1_level0");
    let mut committed = Vec::new();
    collect(&dir, &dir, &mut committed);
    committed.sort();
    assert!(
        committed.contains(&"tile/0/000".to_owned()),
        "{committed:?}"
    );
    assert_opens_and_verifies(&dir, &committed);
}

/// The committed store in `dir` (its files `committed`) verifies against the fixed key,
/// reads back and proves (on a copy: opening may write).
fn assert_opens_and_verifies(dir: &Path, committed: &[String]) {
    let copy = tempfile::tempdir().unwrap();
    for path in committed {
        let target = copy.path().join(path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(dir.join(path), target).unwrap();
    }
    let storage = Arc::new(FileStorage::new(copy.path()));
    let verifier_key = NoteSigner::from_seed(FIXTURE_ORIGIN, [42; 32])
        .unwrap()
        .verifier()
        .verifier_key();
    let options = VerifyOptions {
        external_checkpoints: Vec::new(),
        verifier_key: Some(verifier_key),
    };
    let report = verify(storage.as_ref(), &options).unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    assert_eq!(report.records_checked, 301);
    let ledger = Ledger::open(storage, fixture_config()).unwrap();
    assert_eq!(ledger.tree_size(), 301);
    assert_eq!(ledger.read(123).unwrap(), fixture_record(123));
    assert!(ledger::Heartbeat::parse(&ledger.read(300).unwrap()).is_some());
    let proof = ledger.prove(123).unwrap();
    assert_eq!(proof.tree_size, 301);
    assert!(
        ledger::merkle::verify_inclusion(
            proof.index,
            proof.tree_size,
            &proof.leaf_hash,
            &proof.hashes,
            &ledger.root_at(301).unwrap()
        )
        .is_ok()
    );
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(root, &path, out);
        } else {
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            if relative != "README.md" {
                out.push(relative);
            }
        }
    }
}
