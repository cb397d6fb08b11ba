//! Any single flipped byte of any file the ledger reads is detected; so are removed,
//! duplicated and reordered records, replaced segments, truncation and rollback.

use std::sync::Arc;

use proptest::prelude::*;

use crate::{at, config_small_segments, record};
use ledger::{Finding, Ledger, MemStorage, SIGNING_KEY_FILE, VerifyOptions, verify};

/// A closed ledger of 700 records in batches of 100 over several sealed segments, with
/// three checkpoints and full and partial tiles.
fn built() -> MemStorage {
    let storage = MemStorage::new();
    let mut ledger = Ledger::open(Arc::new(storage.clone()), config_small_segments()).unwrap();
    for batch in 0..7u64 {
        let records: Vec<Vec<u8>> = (batch * 100..batch * 100 + 100)
            .map(|seq| record(seq, 300))
            .collect();
        ledger.append_batch(&records, at(batch)).unwrap();
        if batch % 3 == 0 {
            ledger.checkpoint(at(batch)).unwrap();
        }
    }
    ledger.close(at(10)).unwrap();
    storage
}

fn detected(storage: &MemStorage) -> bool {
    let report = verify(storage, &VerifyOptions::default()).unwrap();
    !report.is_intact()
}

#[test]
fn intact_store_verifies() {
    let storage = built();
    let report = verify(&storage, &VerifyOptions::default()).unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    assert_eq!(report.records_checked, 700);
    assert_eq!(report.checkpoints_checked, 3);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_flipped_byte_is_detected(file in any::<prop::sample::Index>(), byte in any::<prop::sample::Index>(), mask in 1u8..=255) {
        let storage = built();
        // The private key is not integrity data (verify never reads it).
        let paths: Vec<String> = storage.paths().into_iter().filter(|p| p != SIGNING_KEY_FILE).collect();
        let path = file.get(&paths);
        let mut bytes = storage.file(path).unwrap();
        prop_assume!(!bytes.is_empty());
        let offset = byte.index(bytes.len());
        bytes[offset] ^= mask;
        storage.set_file(path, bytes);
        let found = detected(&storage);
        let opened = Ledger::open(Arc::new(storage.clone()), config_small_segments());
        prop_assert!(found || opened.is_err(), "flip of {} at {} undetected", path, offset);
    }
}

#[test]
fn truncated_store_is_caught_by_an_external_checkpoint() {
    // A witness kept the checkpoint of a longer log ...
    let storage = built();
    let mut ledger = Ledger::open(Arc::new(storage.clone()), config_small_segments()).unwrap();
    ledger.append_batch(&[b"later".as_slice()], at(20)).unwrap();
    ledger.close(at(21)).unwrap();
    let kept = ledger_latest(&storage);
    let options = VerifyOptions {
        external_checkpoints: vec![kept],
        verifier_key: None,
    };
    assert!(verify(&storage, &options).unwrap().is_intact());

    // ... and the store is rolled back to its earlier, internally consistent state.
    let rolled_back = built();
    assert!(
        verify(&rolled_back, &VerifyOptions::default())
            .unwrap()
            .is_intact()
    );
    let report = verify(&rolled_back, &options).unwrap();
    assert!(
        report.findings.iter().any(|f| matches!(
            f,
            Finding::CheckpointBeyondRecords {
                checkpoint_size: 701,
                tree_size: 700,
                ..
            }
        )),
        "{:?}",
        report.findings
    );
}

fn ledger_latest(storage: &MemStorage) -> String {
    String::from_utf8(storage.file(ledger::CHECKPOINT_FILE).unwrap()).unwrap()
}

fn segment_paths(storage: &MemStorage) -> Vec<String> {
    storage
        .paths()
        .into_iter()
        .filter(|p| p.starts_with("segments/"))
        .collect()
}

#[test]
fn reordered_records_are_found_and_located() {
    let storage = built();
    // Re-create the store with records 310 and 311 swapped and graft its segments onto
    // the original tiles and checkpoints.
    let forged = MemStorage::new();
    let mut ledger = Ledger::open(Arc::new(forged.clone()), config_small_segments()).unwrap();
    for batch in 0..7u64 {
        let mut records: Vec<Vec<u8>> = (batch * 100..batch * 100 + 100)
            .map(|seq| record(seq, 300))
            .collect();
        if batch == 3 {
            records.swap(10, 11);
        }
        ledger.append_batch(&records, at(batch)).unwrap();
    }
    drop(ledger);
    for path in segment_paths(&storage) {
        storage.delete_file(&path);
    }
    for path in segment_paths(&forged) {
        storage.set_file(&path, forged.file(&path).unwrap());
    }
    let report = verify(&storage, &VerifyOptions::default()).unwrap();
    let findings = &report.findings;
    assert!(
        findings
            .iter()
            .any(|f| matches!(f, Finding::CheckpointRootMismatch { size: 700, .. })),
        "{findings:?}"
    );
    assert!(
        findings
            .iter()
            .any(|f| matches!(f, Finding::TileMismatch { seq: Some(310), .. })),
        "{findings:?}"
    );
    assert!(
        !findings
            .iter()
            .any(|f| matches!(f, Finding::CheckpointRootMismatch { size: 100, .. })),
        "{findings:?}"
    );
}

#[test]
fn removed_or_duplicated_segments_are_found() {
    let storage = built();
    let segments = segment_paths(&storage);
    assert!(segments.len() >= 3, "{segments:?}");

    // A middle segment removed.
    storage.delete_file(&segments[1]);
    let report = verify(&storage, &VerifyOptions::default()).unwrap();
    assert!(
        report
            .findings
            .iter()
            .any(|f| matches!(f, Finding::SegmentSequence { .. })),
        "{:?}",
        report.findings
    );
    assert!(matches!(
        Ledger::open(Arc::new(storage.clone()), config_small_segments()),
        Err(ledger::Error::Corrupt { .. })
    ));

    // The last segment removed: the checkpoint reveals it.
    let storage = built();
    storage.delete_file(segments.last().unwrap());
    let report = verify(&storage, &VerifyOptions::default()).unwrap();
    assert!(
        report
            .findings
            .iter()
            .any(|f| matches!(f, Finding::CheckpointBeyondRecords { .. })),
        "{:?}",
        report.findings
    );
    assert!(matches!(
        Ledger::open(Arc::new(storage.clone()), config_small_segments()),
        Err(ledger::Error::BehindCheckpoint { .. })
    ));

    // A segment's contents duplicated over the next one.
    let storage = built();
    storage.set_file(&segments[2], storage.file(&segments[1]).unwrap());
    let report = verify(&storage, &VerifyOptions::default()).unwrap();
    assert!(!report.is_intact());
}
