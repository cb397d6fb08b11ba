//! Failed fsync and a full disk: the append fails cleanly, nothing stored is damaged,
//! and later appends work.

use std::sync::Arc;

use crate::{at, config_manual, open, record};
use ledger::{CheckpointStatus, Error, Ledger, MemStorage, VerifyOptions, verify};

fn records(from: u64, count: u64) -> Vec<Vec<u8>> {
    (from..from + count).map(|seq| record(seq, 700)).collect()
}

fn assert_store_holds(storage: &MemStorage, expected: &[Vec<u8>]) {
    let mut ledger = open(storage);
    assert_eq!(ledger.tree_size(), expected.len() as u64);
    let read: Vec<Vec<u8>> = ledger.records(0..u64::MAX).map(|r| r.unwrap().1).collect();
    assert_eq!(read, expected);
    ledger.checkpoint(at(1_000)).unwrap();
    let report = verify(storage, &VerifyOptions::default()).unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
}

#[test]
fn enospc_mid_batch_fails_cleanly_and_recovers() {
    let storage = MemStorage::new();
    let mut ledger = open(&storage);
    let first = records(0, 50);
    ledger.append_batch(&first, at(0)).unwrap();
    ledger.checkpoint(at(0)).unwrap();

    storage.set_space_left(Some(300));
    let failed = ledger.append_batch(&records(50, 400), at(1));
    assert!(
        matches!(failed, Err(Error::StorageFull { .. })),
        "{failed:?}"
    );
    assert_eq!(ledger.tree_size(), 50);
    // Still full: fails again, still clean.
    assert!(ledger.append_batch(&records(50, 400), at(2)).is_err());

    // The store on disk is intact while the writer is still running.
    assert_store_holds(&storage, &first);

    storage.set_space_left(None);
    let more = records(50, 400);
    let receipt = ledger.append_batch(&more, at(3)).unwrap();
    assert_eq!(receipt.seqs, 50..450);
    ledger.close(at(4)).unwrap();
    let all: Vec<Vec<u8>> = first.into_iter().chain(more).collect();
    assert_store_holds(&storage, &all);
}

#[test]
fn failed_fsync_fails_the_batch_and_later_appends_work() {
    let storage = MemStorage::new();
    let mut ledger = open(&storage);
    let first = records(0, 10);
    ledger.append_batch(&first, at(0)).unwrap();
    storage.fail_next_syncs(1);
    assert!(matches!(
        ledger.append_batch(&records(10, 10), at(1)),
        Err(Error::Io { .. })
    ));
    assert_eq!(ledger.tree_size(), 10);
    let second = records(100, 10);
    assert_eq!(ledger.append_batch(&second, at(2)).unwrap().seqs, 10..20);
    drop(ledger);
    // Power loss right after: only what was acknowledged must be there.
    storage.crash(|_, _| 0);
    let all: Vec<Vec<u8>> = first.into_iter().chain(second).collect();
    assert_store_holds(&storage, &all);
}

#[test]
fn failed_segment_creation_leaves_nothing_behind() {
    let storage = MemStorage::new();
    let mut ledger = open(&storage);
    storage.fail_next_syncs(1);
    assert!(ledger.append_batch(&records(0, 3), at(0)).is_err());
    assert_eq!(ledger.tree_size(), 0);
    let batch = records(0, 3);
    ledger.append_batch(&batch, at(1)).unwrap();
    ledger.close(at(2)).unwrap();
    assert_store_holds(&storage, &batch);
}

#[test]
fn checkpoint_failure_after_a_durable_batch_is_reported_and_retried() {
    let storage = MemStorage::new();
    let mut config = config_manual();
    config.checkpoint.every_records = 1;
    let mut ledger = Ledger::open(Arc::new(storage.clone()), config).unwrap();
    ledger.append_batch(&records(0, 5), at(0)).unwrap();
    // Measure what the next batch's block takes on a twin store, then leave exactly that
    // much space: the batch fits and is durable, the checkpoint after it does not.
    let twin = MemStorage::new();
    let mut twin_ledger = Ledger::open(Arc::new(twin.clone()), config_manual()).unwrap();
    twin_ledger.append_batch(&records(0, 5), at(0)).unwrap();
    let before = twin_ledger.segments()[0].file_len;
    twin_ledger.append_batch(&records(5, 5), at(1)).unwrap();
    let block_bytes = twin_ledger.segments()[0].file_len - before;

    storage.set_space_left(Some(block_bytes));
    let receipt = ledger.append_batch(&records(5, 5), at(1)).unwrap();
    storage.set_space_left(None);
    assert_eq!(receipt.seqs, 5..10);
    assert!(
        matches!(receipt.checkpoint, CheckpointStatus::Failed(_)),
        "{:?}",
        receipt.checkpoint
    );
    let note = ledger.checkpoint(at(2)).unwrap();
    assert!(note.starts_with("auditrail.test/ledger\n10\n"));
    ledger.close(at(3)).unwrap();
    let all = records(0, 10);
    assert_store_holds(&storage, &all);
}
