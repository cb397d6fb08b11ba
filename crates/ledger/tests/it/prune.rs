//! Retention: pruning a prefix of sealed segments keeps proofs and verification working,
//! records the prune in the signed log, and leaves every kind of tampering detectable.

use std::sync::Arc;

use proptest::prelude::*;

use crate::{at, config_small_segments, record};
use ledger::merkle::verify_consistency;
use ledger::{
    CHECKPOINT_FILE, CHECKPOINT_LOG, Error, Finding, Ledger, MemStorage, PRUNE_FILE, PruneRecord,
    VerifyOptions, verify,
};

/// `batches` batches of `per_batch` records of ~`len` bytes, each batch in its own
/// segment (segments are 4 KiB), with a checkpoint after every third batch. Returns the
/// open ledger, the records and the checkpoints written (size, note).
fn build(
    storage: &MemStorage,
    batches: u64,
    per_batch: u64,
    len: usize,
) -> (Ledger, Vec<Vec<u8>>, Vec<(u64, String)>) {
    let mut ledger = Ledger::open(Arc::new(storage.clone()), config_small_segments()).unwrap();
    let mut all = Vec::new();
    let mut checkpoints = Vec::new();
    for batch in 0..batches {
        let records: Vec<Vec<u8>> = (batch * per_batch..(batch + 1) * per_batch)
            .map(|seq| record(seq, len))
            .collect();
        ledger.append_batch(&records, at(batch)).unwrap();
        all.extend(records);
        if batch % 3 == 1 {
            let note = ledger.checkpoint(at(batch)).unwrap();
            checkpoints.push((ledger.tree_size(), note));
        }
    }
    (ledger, all, checkpoints)
}

fn findings(storage: &MemStorage) -> Vec<Finding> {
    verify(storage, &VerifyOptions::default()).unwrap().findings
}

fn assert_intact(storage: &MemStorage) {
    let found = findings(storage);
    assert!(found.is_empty(), "{found:#?}");
}

/// The first sequence number of the `n`-th segment.
fn boundary(ledger: &Ledger, n: usize) -> u64 {
    ledger.segments()[n].first_seq
}

#[test]
fn prune_keeps_verify_proofs_and_consistency() {
    let storage = MemStorage::new();
    let (mut ledger, all, checkpoints) = build(&storage, 30, 97, 120);
    let before_seq = boundary(&ledger, 20);
    let old_root = ledger.root_at(before_seq).unwrap();
    let outcome = ledger.prune(before_seq, "test retention", at(100)).unwrap();
    assert_eq!(outcome.before_seq, before_seq);
    assert_eq!(outcome.segments.len(), 20);
    assert_eq!(outcome.records, before_seq);
    // Appends write no full level-0 tile; the prune wrote those it keeps: the tile holding
    // the prune point, whose leaves before it are in no record now.
    assert_eq!(outcome.tiles_removed, 0, "{outcome:?}");
    if !before_seq.is_multiple_of(256) {
        let holding = format!("tile/0/{:03}", before_seq / 256);
        assert!(storage.file(&holding).is_some(), "{holding}");
    }
    assert_eq!(ledger.first_seq(), before_seq);
    assert_eq!(outcome.record_seq, all.len() as u64);
    // The prune record is in the log and says what happened.
    let prune = PruneRecord::parse(&ledger.read(outcome.record_seq).unwrap()).unwrap();
    assert_eq!(prune.before_seq, before_seq);
    assert_eq!(prune.root, old_root);
    assert_eq!(prune.segments.len(), 20);
    assert_eq!(prune.reason, "test retention");
    assert!(storage.file(PRUNE_FILE).is_some());
    assert!(storage.file(&outcome.segments[0].path).is_none());

    assert_intact(&storage);
    // Pruned records are gone; the others read, and their proofs verify.
    assert!(matches!(ledger.read(0), Err(Error::Pruned { .. })));
    assert!(matches!(
        ledger.prove(before_seq - 1),
        Err(Error::Pruned { .. })
    ));
    let read: Vec<Vec<u8>> = ledger
        .records(0..all.len() as u64)
        .map(|r| r.unwrap().1)
        .collect();
    assert_eq!(read, all[before_seq as usize..]);
    for seq in [
        before_seq,
        before_seq + 1,
        before_seq + 200,
        all.len() as u64 - 1,
    ] {
        let proof = ledger.prove(seq).unwrap();
        proof
            .verify(&all[seq as usize], &ledger.verifier())
            .unwrap();
    }
    // Consistency from checkpoints before the prune (below and above the prune point) to
    // the latest one.
    let latest = ledger.tree_size();
    let latest_root = ledger.root();
    for (size, _) in &checkpoints {
        let root = ledger.root_at(*size).unwrap();
        let proof = ledger.consistency_proof(*size, latest).unwrap();
        verify_consistency(*size, latest, &root, &latest_root, &proof).unwrap();
    }
    ledger.close(at(101)).unwrap();

    // Reopen, keep appending, prune again: still intact.
    let mut ledger = Ledger::open(Arc::new(storage.clone()), config_small_segments()).unwrap();
    assert_eq!(ledger.first_seq(), before_seq);
    assert_eq!(*ledger.recovery(), ledger::Recovery::default());
    for batch in 0..5u64 {
        let records: Vec<Vec<u8>> = (0..50)
            .map(|i| record(10_000 + batch * 50 + i, 90))
            .collect();
        ledger.append_batch(&records, at(200 + batch)).unwrap();
    }
    let second = boundary(&ledger, 5);
    ledger.prune(second, "again", at(300)).unwrap();
    ledger.close(at(301)).unwrap();
    assert_intact(&storage);
    let ledger = Ledger::open(Arc::new(storage.clone()), config_small_segments()).unwrap();
    assert_eq!(ledger.first_seq(), second);
}

/// Beyond 65,536 records the pruned range holds full level-1 tiles, which are kept and
/// checked against the anchor.
#[test]
fn prune_across_a_full_level_1_tile() {
    let storage = MemStorage::new();
    let (mut ledger, all, _) = build(&storage, 140, 500, 64);
    let before_seq = boundary(&ledger, 136);
    assert!(before_seq > 65_536 + 256);
    ledger.prune(before_seq, "", at(1000)).unwrap();
    assert!(storage.file("tile/1/000").is_some());
    assert!(
        storage.file("tile/0/000").is_none(),
        "level 0 under it removed"
    );
    assert_intact(&storage);
    let seq = all.len() as u64 - 3;
    ledger
        .prove(seq)
        .unwrap()
        .verify(&all[seq as usize], &ledger.verifier())
        .unwrap();
    // An edited level-1 tile standing in for pruned records is found.
    let mut tile = storage.file("tile/1/000").unwrap();
    tile[100] ^= 1;
    storage.set_file("tile/1/000", tile);
    let found = findings(&storage);
    assert!(
        found
            .iter()
            .any(|f| matches!(f, Finding::TileInconsistent { path, .. } if path == "tile/1/000")),
        "{found:#?}"
    );
}

#[test]
fn prune_refuses_the_active_segment_and_non_boundaries() {
    let storage = MemStorage::new();
    let (mut ledger, _, _) = build(&storage, 8, 97, 120);
    let segments = ledger.segments();
    let last = segments.last().unwrap();
    assert!(!last.sealed);
    // The last (active) segment's start is a boundary, but pruning to it keeps it.
    assert!(matches!(
        ledger.prune(last.first_seq + 1, "", at(10)),
        Err(Error::PruneRange { .. })
    ));
    assert!(matches!(
        ledger.prune(7, "", at(10)),
        Err(Error::PruneRange { .. })
    ));
    assert!(matches!(
        ledger.prune(0, "", at(10)),
        Err(Error::PruneRange { .. })
    ));
    let before = boundary(&ledger, 1);
    ledger.prune(before, "", at(10)).unwrap();
    assert!(matches!(
        ledger.prune(before, "", at(11)),
        Err(Error::PruneRange { .. })
    ));
    assert_intact(&storage);
}

fn pruned_store() -> (MemStorage, u64) {
    let storage = MemStorage::new();
    let (mut ledger, _, _) = build(&storage, 12, 97, 120);
    let before_seq = boundary(&ledger, 6);
    ledger.prune(before_seq, "", at(50)).unwrap();
    ledger.close(at(51)).unwrap();
    assert_intact(&storage);
    (storage, before_seq)
}

#[test]
fn deleting_a_segment_that_was_not_pruned_is_found() {
    let (storage, before_seq) = pruned_store();
    let first = format!("segments/{before_seq:020}.seg");
    assert!(storage.file(&first).is_some());
    storage.delete_file(&first);
    let found = findings(&storage);
    assert!(
        found
            .iter()
            .any(|f| matches!(f, Finding::SegmentSequence { .. })),
        "{found:#?}"
    );
}

#[test]
fn deleting_old_segments_without_a_prune_is_found() {
    let storage = MemStorage::new();
    let (ledger, _, _) = build(&storage, 8, 97, 120);
    let segments = ledger.segments();
    ledger.close(at(20)).unwrap();
    for segment in &segments[..3] {
        storage.delete_file(&segment.path);
    }
    assert!(!findings(&storage).is_empty());
}

#[test]
fn moving_the_prune_point_by_hand_is_found() {
    // A legitimate prune, then more segments deleted and the anchor rewritten by someone
    // who can recompute it from the tiles: no prune record covers the new point.
    let (storage, before_seq) = pruned_store();
    let ledger = Ledger::open(Arc::new(storage.clone()), config_small_segments()).unwrap();
    let next = boundary(&ledger, 2);
    drop(ledger);
    // Build the anchor an attacker would write, with a throw-away copy pruned properly.
    let copy = storage.clone_deep();
    let mut forged = Ledger::open(Arc::new(copy.clone()), config_small_segments()).unwrap();
    forged.prune(next, "", at(60)).unwrap();
    storage.set_file(PRUNE_FILE, copy.file(PRUNE_FILE).unwrap());
    for seq in [before_seq, boundary_after(&storage, before_seq)] {
        storage.delete_file(&format!("segments/{seq:020}.seg"));
    }
    let found = findings(&storage);
    assert!(
        found
            .iter()
            .any(|f| matches!(f, Finding::PruneUnrecorded { .. })),
        "{found:#?}"
    );
}

fn boundary_after(storage: &MemStorage, seq: u64) -> u64 {
    let mut starts: Vec<u64> = storage
        .paths()
        .iter()
        .filter_map(|p| {
            p.strip_prefix("segments/")?
                .strip_suffix(".seg")?
                .parse()
                .ok()
        })
        .collect();
    starts.sort();
    starts.into_iter().find(|s| *s > seq).unwrap()
}

#[test]
fn a_prune_record_without_a_covering_checkpoint_is_found() {
    // The prune record is there, but the signed checkpoint over it is removed: what
    // someone without the key could produce by appending a prune record themselves.
    let storage = MemStorage::new();
    let (mut ledger, _, _) = build(&storage, 12, 97, 120);
    let before_seq = boundary(&ledger, 6);
    let outcome = ledger.prune(before_seq, "", at(50)).unwrap();
    drop(ledger);
    let log = storage.file(CHECKPOINT_LOG).unwrap();
    let entries = log_entries(&log);
    let (last_offset, last_note) = entries.last().unwrap();
    assert_eq!(*last_note, outcome.checkpoint);
    let previous = entries[entries.len() - 2].1.clone();
    storage.set_file(CHECKPOINT_LOG, log[..*last_offset].to_vec());
    storage.set_file(CHECKPOINT_FILE, previous.into_bytes());
    let found = findings(&storage);
    assert!(
        found.iter().any(|f| matches!(
            f,
            Finding::PruneUnrecorded { reason, .. } if reason.contains("not covered")
        )),
        "{found:#?}"
    );
}

/// (offset, note) of every entry of a checkpoint log.
fn log_entries(log: &[u8]) -> Vec<(usize, String)> {
    let mut entries = Vec::new();
    let mut offset = 0;
    while offset < log.len() {
        let len = u32::from_le_bytes(log[offset + 4..offset + 8].try_into().unwrap()) as usize;
        let note = String::from_utf8(log[offset + 12..offset + 12 + len].to_vec()).unwrap();
        entries.push((offset, note));
        offset += 12 + len;
    }
    entries
}

#[test]
fn edited_kept_tiles_and_anchor_are_found() {
    let (storage, before_seq) = pruned_store();
    // The level-0 tile holding the prune point keeps pruned leaves' hashes.
    let tile = format!("tile/0/{:03}", before_seq / 256);
    for path in [tile.as_str(), PRUNE_FILE] {
        let copy = storage.clone_deep();
        let mut bytes = copy.file(path).unwrap_or_else(|| panic!("{path} kept"));
        bytes[40] ^= 4;
        copy.set_file(path, bytes);
        assert!(!findings(&copy).is_empty(), "{path}");
    }
    // A kept level-0 tile at an old checkpoint's boundary.
    let kept: Vec<String> = storage
        .paths()
        .into_iter()
        .filter(|p| p.starts_with("tile/0/") && !p.contains(".p"))
        .filter(|p| *p < tile)
        .collect();
    assert!(!kept.is_empty());
    for path in kept {
        let copy = storage.clone_deep();
        let mut bytes = copy.file(&path).unwrap();
        bytes[8000] ^= 1;
        copy.set_file(&path, bytes);
        assert!(!findings(&copy).is_empty(), "{path}");
        let copy = storage.clone_deep();
        copy.delete_file(&path);
        assert!(!findings(&copy).is_empty(), "{path} deleted");
    }
}

#[test]
fn an_interrupted_prune_completes_at_open() {
    let (storage, before_seq) = pruned_store();
    // Put a pruned segment back, as if the crash came before its deletion.
    let copy = MemStorage::new();
    let (ledger, _, _) = build(&copy, 12, 97, 120);
    let first = ledger.segments()[0].path.clone();
    drop(ledger);
    storage.set_file(&first, copy.file(&first).unwrap());
    assert_intact(&storage);
    let ledger = Ledger::open(Arc::new(storage.clone()), config_small_segments()).unwrap();
    assert_eq!(ledger.recovery().pruned_segments_removed, 1);
    assert_eq!(ledger.first_seq(), before_seq);
    assert!(storage.file(&first).is_none());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn any_prune_point_verifies_and_proves(
        batches in 4u64..16,
        per_batch in 1u64..300,
        cut in 1usize..15,
        probe in any::<u64>(),
    ) {
        let storage = MemStorage::new();
        let (mut ledger, all, checkpoints) = build(&storage, batches, per_batch, 60);
        let segments = ledger.segments();
        prop_assume!(segments.len() >= 2);
        let cut = cut.min(segments.len() - 1);
        let before_seq = segments[cut].first_seq;
        ledger.prune(before_seq, "property", at(500)).unwrap();
        prop_assert!(findings(&storage).is_empty(), "{:?}", findings(&storage));
        let seq = before_seq + probe % (all.len() as u64 - before_seq);
        ledger.prove(seq).unwrap().verify(&all[seq as usize], &ledger.verifier()).unwrap();
        let latest = ledger.tree_size();
        for (size, _) in checkpoints {
            let proof = ledger.consistency_proof(size, latest).unwrap();
            verify_consistency(size, latest, &ledger.root_at(size).unwrap(), &ledger.root(), &proof)
                .unwrap();
        }
    }
}

/// The disk fills up at every point of a prune, then the power goes: the ledger reopens,
/// verifies, and the prune can be run again.
#[test]
fn a_prune_cut_short_at_any_point_leaves_a_store_that_verifies() {
    let mut outcomes = std::collections::BTreeSet::new();
    for budget in (0..40_000u64).step_by(1_500) {
        let storage = MemStorage::new();
        let (mut ledger, _, _) = build(&storage, 12, 97, 120);
        ledger.checkpoint(at(40)).unwrap();
        let before_seq = boundary(&ledger, 6);
        storage.set_space_left(Some(budget));
        let result = ledger.prune(before_seq, "", at(50));
        outcomes.insert(result.is_ok());
        drop(ledger);
        storage.set_space_left(None);
        storage.crash(|_, _| 0);
        assert_intact(&storage);
        let mut ledger = Ledger::open(Arc::new(storage.clone()), config_small_segments()).unwrap();
        if ledger.first_seq() < before_seq {
            ledger.prune(before_seq, "again", at(60)).unwrap();
        }
        ledger.close(at(61)).unwrap();
        assert_intact(&storage);
    }
    assert_eq!(
        outcomes.len(),
        2,
        "both failed and complete prunes were seen"
    );
}

fn pruned_template() -> MemStorage {
    static TEMPLATE: std::sync::OnceLock<MemStorage> = std::sync::OnceLock::new();
    TEMPLATE.get_or_init(|| pruned_store().0).clone_deep()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    /// After a prune, every byte of every file verify reads (kept tiles, the anchor and the
    /// prune record included) is still covered.
    #[test]
    fn any_flipped_byte_of_a_pruned_store_is_detected(
        file in any::<prop::sample::Index>(),
        byte in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        let storage = pruned_template();
        let paths: Vec<String> = storage
            .paths()
            .into_iter()
            .filter(|p| p != ledger::SIGNING_KEY_FILE)
            .collect();
        let path = file.get(&paths);
        let mut bytes = storage.file(path).unwrap();
        prop_assume!(!bytes.is_empty());
        let offset = byte.index(bytes.len());
        bytes[offset] ^= mask;
        storage.set_file(path, bytes);
        let found = !findings(&storage).is_empty();
        let opened = Ledger::open(Arc::new(storage.clone()), config_small_segments());
        prop_assert!(found || opened.is_err(), "flip of {} at {} undetected", path, offset);
    }
}
