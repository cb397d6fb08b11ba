//! Any single flipped byte of any file the ledger reads is detected; so are removed,
//! duplicated and reordered records, replaced segments, truncation and rollback.

use std::sync::Arc;

use proptest::prelude::*;

use crate::{at, config_manual, record};
use ledger::{Finding, Ledger, MemStorage, SIGNING_KEY_FILE, VerifyOptions, verify};

/// A closed ledger of 700 records over two segments' worth of batches and three
/// checkpoints, with full and partial tiles.
fn built() -> MemStorage {
    let storage = MemStorage::new();
    let mut ledger = Ledger::open(Arc::new(storage.clone()), config_manual()).unwrap();
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
        let opened = Ledger::open(Arc::new(storage.clone()), config_manual());
        prop_assert!(found || opened.is_err(), "flip of {} at {} undetected", path, offset);
    }
}

#[test]
fn truncated_store_is_caught_by_an_external_checkpoint() {
    // A witness kept the checkpoint of a longer log ...
    let storage = built();
    let mut ledger = Ledger::open(Arc::new(storage.clone()), config_manual()).unwrap();
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

#[test]
fn removed_segment_and_replaced_records_are_found() {
    let storage = built();
    let segments: Vec<String> = storage
        .paths()
        .into_iter()
        .filter(|p| p.starts_with("segments/"))
        .collect();
    assert_eq!(segments.len(), 1);
    // Rewrite the store with the records of batch 3 reordered: recompute the whole ledger
    // with swapped records and graft its segment onto the original checkpoints.
    let forged = MemStorage::new();
    let mut ledger = Ledger::open(Arc::new(forged.clone()), config_manual()).unwrap();
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
    storage.set_file(&segments[0], forged.file(&segments[0]).unwrap());
    let report = verify(&storage, &VerifyOptions::default()).unwrap();
    assert!(
        report
            .findings
            .iter()
            .any(|f| matches!(f, Finding::CheckpointRootMismatch { .. })),
        "{:?}",
        report.findings
    );
    assert!(
        report
            .findings
            .iter()
            .any(|f| matches!(f, Finding::TileMismatch { seq: Some(310), .. })),
        "{:?}",
        report.findings
    );

    // A segment removed entirely.
    let storage = built();
    storage.delete_file(&segments[0]);
    let report = verify(&storage, &VerifyOptions::default()).unwrap();
    assert!(
        report
            .findings
            .iter()
            .any(|f| matches!(f, Finding::CheckpointBeyondRecords { .. })),
        "{:?}",
        report.findings
    );
    assert!(Ledger::open(Arc::new(storage.clone()), config_manual()).is_err());
}
