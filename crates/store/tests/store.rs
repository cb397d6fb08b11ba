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
    let first = store.append(Prepared::from_events(&batch), now()).unwrap();
    assert_eq!(first.stored, 2000);
    assert_eq!(first.duplicates, 0);
    // Within a batch too.
    let mut twice = batch[..10].to_vec();
    twice.extend_from_slice(&batch[..10]);
    let again = store.append(Prepared::from_events(&twice), now()).unwrap();
    assert_eq!(again.stored, 0);
    assert_eq!(again.duplicates, 20);
    store.close(now()).unwrap();
    // And across opens, from another "file".
    let mut store = Store::open(dir.path(), options(), now()).unwrap();
    let mut moved = batch.clone();
    for event in &mut moved {
        event.origin.input = Some("elsewhere.log".into());
    }
    let outcome = store.append(Prepared::from_events(&moved), now()).unwrap();
    assert_eq!(
        (outcome.stored, outcome.duplicates, outcome.tree_size),
        (0, 2000, 2000)
    );
    let fresh = store
        .append(Prepared::from_events(&events(100, 2)), now())
        .unwrap();
    assert_eq!(fresh.stored, 100);
    store.close(now()).unwrap();
    let report = store::verify(dir.path(), &VerifyOptions::default()).unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    assert_eq!(report.keys_checked, 2100);
}

#[test]
fn stored_events_read_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let batch = events(300, 3);
    let mut store = Store::open(dir.path(), options(), now()).unwrap();
    store.append(Prepared::from_events(&batch), now()).unwrap();
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
fn a_lost_or_torn_key_index_is_rebuilt_from_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path(), options(), now()).unwrap();
    store
        .append(Prepared::from_events(&events(500, 4)), now())
        .unwrap();
    store.close(now()).unwrap();
    let keys = dir.path().join("index/keys.bin");
    let length = std::fs::metadata(&keys).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&keys)
        .unwrap()
        .set_len(length - 16 * 100 - 5)
        .unwrap();
    let mut store = Store::open(dir.path(), options(), now()).unwrap();
    assert_eq!(store.key_repair().keys_rebuilt, 101);
    // Dedup still works for the rebuilt part.
    let outcome = store
        .append(Prepared::from_events(&events(500, 4)), now())
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
fn a_tampered_key_index_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path(), options(), now()).unwrap();
    store
        .append(Prepared::from_events(&events(200, 5)), now())
        .unwrap();
    store.close(now()).unwrap();
    let keys = dir.path().join("index/keys.bin");
    let mut bytes = std::fs::read(&keys).unwrap();
    bytes[16 * 77 + 3] ^= 0x40;
    std::fs::write(&keys, &bytes).unwrap();
    let report = store::verify(dir.path(), &VerifyOptions::default()).unwrap();
    assert_eq!(report.findings, vec![StoreFinding::KeyMismatch { seq: 77 }]);
}

#[test]
fn an_edited_event_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path(), options(), now()).unwrap();
    store
        .append(Prepared::from_events(&events(200, 6)), now())
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
        .append(Prepared::from_events(&events(1000, 7)), now())
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
