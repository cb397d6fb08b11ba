//! The data directory end to end: dedup, repair, tamper detection, locking, quarantine.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use event::AuditEvent;
use ledger::VerifyOptions;
use store::{Prepared, QuarantineEntry, Store, StoreError, StoreFinding, StoreOptions};

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_760_000_000)
}

fn events(count: usize, seed: u64) -> Vec<AuditEvent> {
    synth::Generator::new(seed, synth::SynthConfig::default())
        .take(count)
        .collect()
}

fn options() -> StoreOptions {
    StoreOptions {
        origin: Some("test.example/store".to_owned()),
        ..StoreOptions::default()
    }
}

#[test]
fn the_same_events_are_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let batch = events(2000, 1);
    let mut store = Store::open(dir.path(), options(), now()).unwrap();
    let first = store.append(&Prepared::from_events(&batch), now()).unwrap();
    assert_eq!(first.stored, 2000);
    assert_eq!(first.duplicates, 0);
    // Within a batch too.
    let mut twice = batch[..10].to_vec();
    twice.extend_from_slice(&batch[..10]);
    let again = store.append(&Prepared::from_events(&twice), now()).unwrap();
    assert_eq!(again.stored, 0);
    assert_eq!(again.duplicates, 20);
    store.close(now()).unwrap();
    // And across opens, from another "file".
    let mut store = Store::open(dir.path(), options(), now()).unwrap();
    let mut moved = batch.clone();
    for event in &mut moved {
        event.origin.input = Some("elsewhere.log".into());
    }
    let outcome = store.append(&Prepared::from_events(&moved), now()).unwrap();
    assert_eq!(
        (outcome.stored, outcome.duplicates, outcome.tree_size),
        (0, 2000, 2000)
    );
    let fresh = store
        .append(&Prepared::from_events(&events(100, 2)), now())
        .unwrap();
    assert_eq!(fresh.stored, 100);
    store.close(now()).unwrap();
    let report = store::verify(dir.path(), &VerifyOptions::default()).unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    assert_eq!(report.ledger.records_checked, 2100);
}

#[test]
fn duplicates_are_named_by_their_index_in_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let batch = events(30, 3);
    let mut store = Store::open(dir.path(), options(), now()).unwrap();
    store
        .append(&Prepared::from_events(&batch[..10]), now())
        .unwrap();
    // Indices 0..10 are stored already; 25.. repeat 20.. within the batch.
    let mut mixed = batch.clone();
    mixed.extend_from_slice(&batch[20..25]);
    let mut noted = Vec::new();
    let outcome = store
        .append_noting_duplicates(&Prepared::from_events(&mixed), now(), &mut |index| {
            noted.push(index);
        })
        .unwrap();
    let expected: Vec<usize> = (0..10).chain(30..35).collect();
    assert_eq!(noted, expected);
    assert_eq!((outcome.stored, outcome.duplicates), (20, 15));
}

#[test]
fn stored_events_read_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let batch = events(300, 3);
    let mut store = Store::open(dir.path(), options(), now()).unwrap();
    store.append(&Prepared::from_events(&batch), now()).unwrap();
    for (seq, event) in batch.iter().enumerate() {
        assert_eq!(store.event(seq as u64).unwrap().as_ref(), Some(event));
    }
    let id = &batch[42].id;
    let found = store.find_id(id).unwrap();
    assert!(found.contains(&42));
    for seq in found {
        assert_eq!(&store.event(seq).unwrap().unwrap().id, id);
    }
}

#[test]
fn the_keys_of_stored_events_are_computed_on_open_with_no_file_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path(), options(), now()).unwrap();
    store
        .append(&Prepared::from_events(&events(500, 4)), now())
        .unwrap();
    store.close(now()).unwrap();
    assert!(!dir.path().join("index/keys.bin").exists());
    let mut store = Store::open(dir.path(), options(), now()).unwrap();
    assert_eq!(store.key_repair().keys_rebuilt, 500);
    let outcome = store
        .append(&Prepared::from_events(&events(500, 4)), now())
        .unwrap();
    assert_eq!(outcome.duplicates, 500);
    store.close(now()).unwrap();
    assert!(
        store::verify(dir.path(), &VerifyOptions::default())
            .unwrap()
            .is_intact()
    );
}

#[test]
fn a_bulk_load_writes_index_segments_that_verify_prove_and_deduplicate() {
    let dir = tempfile::tempdir().unwrap();
    let all = events(3000, 11);
    let mut store = Store::open(dir.path(), options(), now()).unwrap();
    // Some events in row form first: the load seals their segment and goes on after it.
    store
        .append(&Prepared::from_events(&all[..100]), now())
        .unwrap();
    let mut loader = store.loader();
    let mut outcome = store::LoadOutcome::default();
    for (at, batch) in all.chunks(700).enumerate() {
        // Leaves hashed where the records are made, not at all (the loader hashes), or for
        // a prefix only (batches joined): the check takes each as the record's leaf.
        let prepared = match at % 3 {
            0 => {
                let mut prepared = Prepared::from_events(batch);
                prepared.hash_leaves();
                prepared
            }
            1 => Prepared::from_events(batch),
            _ => {
                let (front, back) = batch.split_at(batch.len() / 3);
                let (middle, back) = back.split_at(back.len() / 2);
                let mut prepared = Prepared::from_events(front);
                prepared.hash_leaves();
                prepared.extend_from(&Prepared::from_events(middle));
                let mut hashed = Prepared::from_events(back);
                hashed.hash_leaves();
                prepared.extend_from(&hashed);
                prepared
            }
        };
        outcome = loader.append(&prepared, batch, now()).unwrap();
    }
    assert_eq!(outcome.duplicates, 100);
    let outcome = loader.finish(now()).unwrap();
    assert_eq!((outcome.accepted, outcome.stored), (2900, 2900));
    // 100 row-form events, then one external segment: 2,900 events and its index record.
    assert_eq!(outcome.tree_size, 3001);
    let segments = store.ledger().segments();
    assert!(segments.last().unwrap().external, "{segments:?}");
    let files = store::index_segment_files(dir.path()).unwrap();
    assert_eq!((files[0].first_seq, files[0].end_seq), (100, 3001));
    // The row-form segment is compacted too.
    store.compact(now(), |_| {}).unwrap();
    for (seq, event) in all.iter().enumerate().step_by(97) {
        let seq = seq as u64;
        assert_eq!(store.event(seq).unwrap().as_ref(), Some(event), "{seq}");
    }
    store.checkpoint(now()).unwrap();
    let proof = store.ledger().prove(2500).unwrap();
    proof
        .verify(
            &store.ledger().read(2500).unwrap(),
            &store.ledger().verifier(),
        )
        .unwrap();
    store.close(now()).unwrap();
    let report = store::verify(dir.path(), &VerifyOptions::default()).unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    assert!(report.index_files_checked >= 4, "{report:?}");

    // Reopened, the index segments are summarised from their footers and their keys read
    // from their identity columns when looked up: nothing is stored twice.
    let mut store = Store::open(dir.path(), options(), now()).unwrap();
    assert!(store.key_repair().segments_summarised >= 2);
    assert_eq!(store.key_stats().loads, 0);
    let mut loader = store.loader();
    loader
        .append(&Prepared::from_events(&all), &all, now())
        .unwrap();
    let again = loader.finish(now()).unwrap();
    assert_eq!((again.stored, again.duplicates), (0, 3000));
    store.close(now()).unwrap();

    // An edited Parquet file is found.
    let parquet = &store::index_segment_files(dir.path()).unwrap()[1].parquet;
    let mut bytes = std::fs::read(parquet).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x20;
    std::fs::write(parquet, &bytes).unwrap();
    let report = store::verify(dir.path(), &VerifyOptions::default()).unwrap();
    assert!(
        report
            .findings
            .iter()
            .any(|finding| matches!(finding, StoreFinding::IndexMismatch { .. })),
        "{:?}",
        report.findings
    );
}

#[test]
fn index_files_a_crash_left_beyond_the_ledger_are_removed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path(), options(), now()).unwrap();
    store
        .append(&Prepared::from_events(&events(10, 12)), now())
        .unwrap();
    store.close(now()).unwrap();
    let segments = dir.path().join("index/segments");
    std::fs::create_dir_all(&segments).unwrap();
    let orphan = segments.join("00000000000000000010-00000000000000000020.parquet");
    std::fs::write(&orphan, b"half written").unwrap();
    let temporary = segments.join("00000000000000000010-00000000000000000020.keys.tmp");
    std::fs::write(&temporary, b"x").unwrap();
    let store = Store::open(dir.path(), options(), now()).unwrap();
    assert!(!orphan.exists() && !temporary.exists());
    store.close(now()).unwrap();
    assert!(
        store::verify(dir.path(), &VerifyOptions::default())
            .unwrap()
            .is_intact()
    );
}

#[test]
fn an_older_store_layout_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("store.json"),
        br#"{"format":"auditrail-store","version":2,"origin":"test.example/store"}"#,
    )
    .unwrap();
    let error = Store::open(dir.path(), options(), now()).unwrap_err();
    assert!(
        error.to_string().contains("import its events again"),
        "{error}"
    );
}

#[test]
fn an_edited_event_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path(), options(), now()).unwrap();
    store
        .append(&Prepared::from_events(&events(200, 6)), now())
        .unwrap();
    store.close(now()).unwrap();
    let segments = dir.path().join("ledger/segments");
    let segment = std::fs::read_dir(&segments)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&segment).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&segment, &bytes).unwrap();
    let report = store::verify(dir.path(), &VerifyOptions::default()).unwrap();
    assert!(!report.is_intact());
    assert!(
        report
            .findings
            .iter()
            .any(|finding| matches!(finding, StoreFinding::Ledger(_))),
        "{:?}",
        report.findings
    );
}

#[test]
fn one_writer_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let _store = Store::open(dir.path(), options(), now()).unwrap();
    match Store::open(dir.path(), options(), now()) {
        Err(StoreError::Locked { .. }) => {}
        other => panic!("expected Locked, got {other:?}"),
    }
}

#[test]
fn quarantine_keeps_raw_records() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path(), options(), now()).unwrap();
    let entries = [
        QuarantineEntry {
            input: "a.log".into(),
            line: 3,
            offset: 10,
            message: "bad".into(),
            raw: b"{oops".to_vec(),
        },
        QuarantineEntry {
            input: "a.log".into(),
            line: 4,
            offset: 16,
            message: "bad".into(),
            raw: vec![0xff, 0xfe],
        },
    ];
    store.quarantine(&entries, now()).unwrap();
    let text = std::fs::read_to_string(store.quarantine_path()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines[0]["raw"], "{oops");
    assert_eq!(lines[0]["line"], 3);
    assert_eq!(lines[1]["raw_base64"], "//4=");
}

#[test]
fn proofs_verify_against_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path(), options(), now()).unwrap();
    store
        .append(&Prepared::from_events(&events(1000, 7)), now())
        .unwrap();
    store.checkpoint(now()).unwrap();
    let proof = store.ledger().prove(123).unwrap();
    let record = store.ledger().read(123).unwrap();
    proof.verify(&record, &store.ledger().verifier()).unwrap();
    assert!(
        proof
            .verify(b"{\"forged\":true}", &store.ledger().verifier())
            .is_err()
    );
}

/// A version-1 data directory (as written before retention existed) with 16 KiB segments.
fn small_segment_store(dir: &std::path::Path) {
    std::fs::write(
        dir.join("store.json"),
        r#"{"format":"auditrail-store","version":3,"origin":"test.example/store","segment_bytes":8192}"#,
    )
    .unwrap();
}

#[test]
fn prune_removes_old_segments_and_keys_and_still_verifies() {
    let dir = tempfile::tempdir().unwrap();
    small_segment_store(dir.path());
    let all = events(2000, 7);
    let mut store = Store::open(dir.path(), options(), now()).unwrap();
    for batch in all.chunks(200) {
        store.append(&Prepared::from_events(batch), now()).unwrap();
    }
    let segments = store.ledger().segments();
    assert!(segments.len() >= 9, "{}", segments.len());

    // Everything in the first five batches is older than the cutoff.
    let cutoff = all[..1000]
        .iter()
        .filter_map(AuditEvent::when)
        .max()
        .map(|t| event::Timestamp::from_unix_nanos(t.unix_nanos() + 1))
        .unwrap();
    let criteria = store::PruneCriteria {
        before: Some(cutoff),
        max_bytes: None,
    };
    let plan = store.plan_prune(&criteria).unwrap();
    assert!(
        plan.segments.len() >= 4 && plan.segments.len() < segments.len() - 2,
        "{plan:?}"
    );
    assert_eq!(plan.first_seq, 0);
    let outcome = store.prune(&plan, "test", now()).unwrap().unwrap();
    assert_eq!(outcome.before_seq, plan.before_seq);
    assert_eq!(store.ledger().first_seq(), plan.before_seq);
    // Nothing more qualifies by that cutoff.
    assert!(store.plan_prune(&criteria).unwrap().is_empty());
    store.close(now()).unwrap();

    let report = store::verify(dir.path(), &VerifyOptions::default()).unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    assert_eq!(report.ledger.records_checked, 2001 - plan.before_seq);
    let meta = std::fs::read_to_string(dir.path().join("store.json")).unwrap();
    let meta: serde_json::Value = serde_json::from_str(&meta).unwrap();
    assert_eq!(meta["version"], 3);
    let log = std::fs::read_to_string(dir.path().join("prune.log")).unwrap();
    assert_eq!(log.lines().count(), 1);
    assert!(
        log.contains(&format!("\"before_seq\":{}", plan.before_seq)),
        "{log}"
    );

    // Pruned events are no longer known: imported again, they are stored again; the
    // others are still duplicates.
    let mut store = Store::open(dir.path(), options(), now()).unwrap();
    let again = store
        .append(&Prepared::from_events(&all[..10]), now())
        .unwrap();
    assert_eq!(again.stored, 10);
    let kept = store
        .append(&Prepared::from_events(&all[1990..]), now())
        .unwrap();
    assert_eq!(kept.duplicates, 10);
    let last_id = &all[1999].id;
    assert!(!store.find_id(last_id).unwrap().is_empty());
    store.close(now()).unwrap();
    let report = store::verify(dir.path(), &VerifyOptions::default()).unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);

    // A segment that was not pruned, removed, is found.
    let first_kept = store_segments(dir.path())[0].clone();
    std::fs::remove_file(first_kept).unwrap();
    let report = store::verify(dir.path(), &VerifyOptions::default()).unwrap();
    assert!(!report.is_intact());
}

#[test]
fn prune_by_size_keeps_the_newest_segments() {
    let dir = tempfile::tempdir().unwrap();
    small_segment_store(dir.path());
    let mut store = Store::open(dir.path(), options(), now()).unwrap();
    for batch in events(1600, 9).chunks(200) {
        store.append(&Prepared::from_events(batch), now()).unwrap();
    }
    let segments = store.ledger().segments();
    let total: u64 = segments.iter().map(|s| s.file_len).sum();
    let budget = total / 2;
    let plan = store
        .plan_prune(&store::PruneCriteria {
            before: None,
            max_bytes: Some(budget),
        })
        .unwrap();
    assert!(!plan.is_empty());
    assert!(plan.kept_bytes <= budget, "{plan:?}");
    assert_eq!(plan.kept_segments + plan.segments.len(), segments.len());
    // A budget of nothing still keeps the last segment.
    let all = store
        .plan_prune(&store::PruneCriteria {
            before: None,
            max_bytes: Some(0),
        })
        .unwrap();
    assert_eq!(all.kept_segments, 1);
    store.prune(&plan, "size", now()).unwrap();
    store.close(now()).unwrap();
    let report = store::verify(dir.path(), &VerifyOptions::default()).unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
}

fn store_segments(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut paths: Vec<_> = std::fs::read_dir(dir.join("ledger/segments"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    paths
}

/// Sealed segments become columnar index segments, the one copy of their records: the
/// segment files become stubs, level-0 tiles go, and yet every record reads back the same,
/// proofs still verify, the store reopens and appends, queries see everything once, and
/// `verify` re-hashes every leaf from the Parquet files, so an edited one is found.
#[test]
fn compaction_keeps_one_columnar_copy_that_verifies_and_proves() {
    let dir = tempfile::tempdir().unwrap();
    small_segment_store(dir.path());
    let batch = events(3000, 8);
    let mut store = Store::open(dir.path(), options(), now()).unwrap();
    for (index, chunk) in batch.chunks(100).enumerate() {
        store.append(&Prepared::from_events(chunk), now()).unwrap();
        if index == 1 {
            store.heartbeat(now()).unwrap();
        }
    }
    store
        .append(&Prepared::from_events(&events(50, 9)), now())
        .unwrap();
    let before: Vec<(u64, Vec<u8>)> = store
        .ledger()
        .records(0..store.ledger().tree_size())
        .map(Result::unwrap)
        .collect();
    let sealed = store.compactable().len();
    assert!(sealed >= 3, "{sealed} sealed segments");
    let done = store.compact(now(), |_| {}).unwrap();
    assert!(done.segments as usize >= sealed);
    assert!(store.compactable().is_empty());
    let sealed = done.segments as usize;
    assert_eq!(store.compact(now(), |_| {}).unwrap().segments, 0, "once");
    // The row copies are gone; records still read back byte for byte.
    let stubs = store_segments(dir.path())
        .iter()
        .filter(|path| path.extension().is_some_and(|e| e == "ext"))
        .count();
    assert_eq!(stubs, sealed);
    for (seq, record) in &before {
        assert_eq!(&store.ledger().read(*seq).unwrap(), record, "record {seq}");
    }
    // Proofs over externalized records recompute the dropped level-0 tiles.
    store.checkpoint(now()).unwrap();
    let proof = store.ledger().prove(5).unwrap();
    proof
        .verify(&before[5].1, &store.ledger().verifier())
        .unwrap();
    store.close(now()).unwrap();
    // Reopens, deduplicates against compacted events, appends.
    let mut store = Store::open(dir.path(), options(), now()).unwrap();
    let again = store.append(&Prepared::from_events(&batch), now()).unwrap();
    assert_eq!(again.stored, 0);
    store
        .append(&Prepared::from_events(&events(10, 10)), now())
        .unwrap();
    store.close(now()).unwrap();
    let dataset = store::open_dataset(dir.path()).unwrap();
    assert_eq!(dataset.segments().len(), sealed);
    let everything = dataset
        .query(&index::Filter::default(), usize::MAX)
        .unwrap();
    let mut unique = std::collections::HashSet::new();
    for event in batch.iter().chain(&events(50, 9)).chain(&events(10, 10)) {
        unique.insert(store::key(event));
    }
    assert_eq!(everything.events.len(), unique.len());
    let report = store::verify(dir.path(), &VerifyOptions::default()).unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    assert!(report.ledger.records_checked >= before.len() as u64);
    // One flipped byte in a Parquet file is found.
    let files = store::index_segment_files(dir.path()).unwrap().remove(1);
    let mut bytes = std::fs::read(&files.parquet).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&files.parquet, &bytes).unwrap();
    let report = store::verify(dir.path(), &VerifyOptions::default()).unwrap();
    assert!(
        report
            .findings
            .iter()
            .any(|finding| matches!(finding, StoreFinding::IndexMismatch { .. })),
        "{:?}",
        report.findings
    );
    // So is a removed non-event record.
    std::fs::write(&files.parquet, {
        bytes[middle] ^= 0x01;
        &bytes
    })
    .unwrap();
    let first = store::index_segment_files(dir.path()).unwrap().remove(0);
    let extra = std::fs::read(&first.extra).unwrap();
    assert!(extra.len() >= 32);
    std::fs::remove_file(&first.extra).unwrap();
    let report = store::verify(dir.path(), &VerifyOptions::default()).unwrap();
    assert!(!report.is_intact());
}

/// `compact_next` (what a server calls while idle) converts one segment per call, oldest
/// first, and the store verifies between calls.
#[test]
fn compact_next_converts_one_segment_per_call() {
    let dir = tempfile::tempdir().unwrap();
    small_segment_store(dir.path());
    let mut store = Store::open(dir.path(), options(), now()).unwrap();
    for chunk in events(1000, 11).chunks(100) {
        store.append(&Prepared::from_events(chunk), now()).unwrap();
    }
    let before = store.compactable().len();
    assert!(before >= 2, "{before}");
    assert!(store.compact_next(now()).unwrap());
    let first = store.ledger().segments().remove(0);
    assert!(first.external, "{first:?}");
    let mut calls = 1;
    while store.compact_next(now()).unwrap() {
        calls += 1;
        assert!(calls < 100, "compact_next does not finish");
    }
    assert!(calls >= before);
    assert!(store.compactable().is_empty());
    store.close(now()).unwrap();
    let report = store::verify(dir.path(), &VerifyOptions::default()).unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
}
