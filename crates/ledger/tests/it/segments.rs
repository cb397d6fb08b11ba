//! Segment rollover and sealing, and externalized segments whose records another
//! representation keeps (`SealedRecords`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::{at, config_small_segments, record};
use ledger::{
    Error, Ledger, MemStorage, RecordIter, SealedRecords, SegmentInfo, Storage, VerifyOptions,
    verify, verify_with,
};

fn build() -> (MemStorage, Vec<Vec<u8>>, Vec<SegmentInfo>) {
    let storage = MemStorage::new();
    let mut ledger = Ledger::open(Arc::new(storage.clone()), config_small_segments()).unwrap();
    let mut all = Vec::new();
    for batch in 0..40u64 {
        let records: Vec<Vec<u8>> = (0..25).map(|i| record(batch * 25 + i, 250)).collect();
        ledger.append_batch(&records, at(batch)).unwrap();
        all.extend(records);
    }
    let segments = ledger.segments();
    ledger.close(at(100)).unwrap();
    (storage, all, segments)
}

#[test]
fn segments_roll_over_seal_and_reopen() {
    let (storage, all, segments) = build();
    assert!(segments.len() > 3, "{segments:?}");
    for (index, segment) in segments.iter().enumerate() {
        assert_eq!(segment.sealed, index + 1 < segments.len(), "{segment:?}");
        if index > 0 {
            let previous = &segments[index - 1];
            assert_eq!(
                segment.first_seq,
                previous.first_seq + previous.record_count
            );
        }
    }
    let ledger = Ledger::open(Arc::new(storage.clone()), config_small_segments()).unwrap();
    assert_eq!(ledger.segments(), segments);
    let read: Vec<Vec<u8>> = ledger.records(0..u64::MAX).map(|r| r.unwrap().1).collect();
    assert_eq!(read, all);
    assert_eq!(ledger.read(999).unwrap(), all[999]);
    let report = verify(&storage, &VerifyOptions::default()).unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
}

/// A shareable copy for `Config::sealed` (the ledger holds its source).
#[derive(Debug)]
struct Shared(std::sync::Mutex<BTreeMap<u64, Vec<Vec<u8>>>>);

impl SealedRecords for Shared {
    fn records<'a>(&'a self, segment: &SegmentInfo) -> Result<RecordIter<'a>, Error> {
        let records = self
            .0
            .lock()
            .unwrap()
            .get(&segment.first_seq)
            .cloned()
            .ok_or(Error::NoSuchRecord {
                seq: segment.first_seq,
                size: 0,
            })?;
        Ok(Box::new(records.into_iter().map(Ok)))
    }
}

fn with_source(source: &Arc<Shared>) -> ledger::Config {
    let mut config = config_small_segments();
    config.sealed = Some(source.clone());
    config
}

/// Externalized segments: stubs instead of files, no level-0 tiles, and still every record
/// reads back, proofs and consistency proofs verify, the ledger reopens (finishing an
/// interrupted hand-over), and verify re-hashes them; a wrong copy is refused up front.
#[test]
fn externalized_segments_read_prove_reopen_and_verify() {
    let (storage, all, segments) = build();
    let source = Arc::new(Shared(std::sync::Mutex::new(BTreeMap::new())));
    for segment in segments.iter().filter(|s| s.sealed) {
        let range = segment.first_seq as usize..(segment.first_seq + segment.record_count) as usize;
        source
            .0
            .lock()
            .unwrap()
            .insert(segment.first_seq, all[range].to_vec());
    }
    let mut ledger = Ledger::open(Arc::new(storage.clone()), with_source(&source)).unwrap();
    // A copy that differs is refused and the segment stays.
    let wrong = segments[1].first_seq;
    let saved = source.0.lock().unwrap().get(&wrong).unwrap().clone();
    source.0.lock().unwrap().get_mut(&wrong).unwrap()[2] = b"not it".to_vec();
    assert!(ledger.externalize(wrong, at(200)).is_err());
    source.0.lock().unwrap().insert(wrong, saved);
    for segment in segments.iter().filter(|s| s.sealed) {
        // No full level-0 tile was written to remove.
        assert_eq!(ledger.externalize(segment.first_seq, at(201)).unwrap(), 0);
        assert!(storage.file(&segment.path).is_none(), "{}", segment.path);
    }
    assert!(
        ledger
            .segments()
            .iter()
            .filter(|s| s.sealed)
            .all(|s| s.external)
    );
    let read: Vec<Vec<u8>> = ledger.records(0..u64::MAX).map(|r| r.unwrap().1).collect();
    assert_eq!(read, all);
    ledger.checkpoint(at(202)).unwrap();
    for seq in [0, 255, 256, 600, 999] {
        let proof = ledger.prove(seq).unwrap();
        proof
            .verify(&all[seq as usize], &ledger.verifier())
            .unwrap();
    }
    let proof = ledger.consistency_proof(300, 1000).unwrap();
    ledger::merkle::verify_consistency(
        300,
        1000,
        &ledger.root_at(300).unwrap(),
        &ledger.root_at(1000).unwrap(),
        &proof,
    )
    .unwrap();
    ledger.close(at(203)).unwrap();

    // Without its source the ledger refuses to open; with it, it opens.
    assert!(Ledger::open(Arc::new(storage.clone()), config_small_segments()).is_err());
    // An interrupted hand-over leaves the segment file beside its stub; open removes it.
    let first = segments[0].first_seq;
    storage
        .write(&segments[0].path, b"leftover row copy")
        .unwrap();
    let ledger = Ledger::open(Arc::new(storage.clone()), with_source(&source)).unwrap();
    assert_eq!(ledger.recovery().externalized_segments_removed, 1);
    assert_eq!(ledger.read(first + 1).unwrap(), all[(first + 1) as usize]);
    drop(ledger);

    let report = verify_with(&storage, &VerifyOptions::default(), Some(source.as_ref())).unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    assert_eq!(report.records_checked, all.len() as u64);
    // Without the source, verify says it cannot read them.
    let report = verify(&storage, &VerifyOptions::default()).unwrap();
    assert!(!report.is_intact());
    // An edit in the copy is found.
    source.0.lock().unwrap().get_mut(&wrong).unwrap()[2] = b"edited".to_vec();
    let report = verify_with(&storage, &VerifyOptions::default(), Some(source.as_ref())).unwrap();
    assert!(!report.is_intact());
}

/// A check split among threads: each run reads the source from its own start and the leaves
/// come back in order; a record that differs in any run, one missing, or one more at the end
/// is refused, whatever the number of runs.
#[test]
fn external_check_split_among_threads_finds_every_difference() {
    let source = Arc::new(Shared(std::sync::Mutex::new(BTreeMap::new())));
    let first = 40;
    let records: Vec<Vec<u8>> = (0..30_000).map(|i| record(first + i, 60)).collect();
    source.0.lock().unwrap().insert(first, records.clone());
    let whole = ledger::check_external(source.as_ref(), first, &records, 1).unwrap();
    for parts in [2, 3, 64] {
        let split = ledger::check_external(source.as_ref(), first, &records, parts).unwrap();
        assert_eq!(split, whole, "{parts} runs");
    }
    for at in [0, 9_999, 10_000, 15_001, 29_999] {
        let mut other = records.clone();
        other[at] = b"not it".to_vec();
        for parts in [1, 3] {
            assert!(
                ledger::check_external(source.as_ref(), first, &other, parts).is_err(),
                "record {at} edited, {parts} runs"
            );
        }
    }
    for parts in [1, 3] {
        let fewer = &records[..records.len() - 1];
        assert!(ledger::check_external(source.as_ref(), first, fewer, parts).is_err());
        let mut more = records.clone();
        more.push(record(first + 30_000, 60));
        assert!(ledger::check_external(source.as_ref(), first, &more, parts).is_err());
        let mut missing = records.clone();
        missing.remove(20_000);
        assert!(ledger::check_external(source.as_ref(), first, &missing, parts).is_err());
    }
}

/// Records appended as an external segment directly (a bulk load): the copy is checked
/// first and a differing one refused; the active segment is sealed before it; the external
/// segment may be the last; records read back, prove, reopen and verify, on every core.
#[test]
fn appended_external_segments_prove_reopen_and_verify() {
    let storage = MemStorage::new();
    let source = Arc::new(Shared(std::sync::Mutex::new(BTreeMap::new())));
    let mut ledger = Ledger::open(Arc::new(storage.clone()), with_source(&source)).unwrap();
    let mut all: Vec<Vec<u8>> = (0..10).map(|i| record(i, 100)).collect();
    ledger.append_batch(&all, at(1)).unwrap();
    for (segment, size) in [(0u64, 700u64), (1, 300), (2, 512)] {
        let first = all.len() as u64;
        let records: Vec<Vec<u8>> = (0..size).map(|i| record(first + i, 120)).collect();
        source.0.lock().unwrap().insert(first, records.clone());
        if segment == 0 {
            // A copy that differs from what is to be stored is refused.
            let mut other = records.clone();
            other[5] = b"not it".to_vec();
            assert!(ledger::check_external(source.as_ref(), first, &other, 2).is_err());
            // So is one that starts elsewhere than the tree's end.
            let checked = ledger::check_external(source.as_ref(), first, &records, 3).unwrap();
            let mut elsewhere =
                Ledger::open(Arc::new(MemStorage::new()), with_source(&source)).unwrap();
            assert!(elsewhere.append_external(checked, at(2)).is_err());
        }
        let checked = ledger::check_external(source.as_ref(), first, &records, 3).unwrap();
        let receipt = ledger.append_external(checked, at(3 + segment)).unwrap();
        assert_eq!(receipt.seqs, first..first + size);
        all.extend(records);
    }
    let segments = ledger.segments();
    assert!(segments[0].sealed && !segments[0].external, "{segments:?}");
    assert!(segments[1..].iter().all(|s| s.sealed && s.external));
    // Rows again after an external last segment.
    let tail: Vec<Vec<u8>> = (0..5).map(|i| record(5000 + i, 90)).collect();
    ledger.append_batch(&tail, at(10)).unwrap();
    all.extend(tail);
    ledger.checkpoint(at(11)).unwrap();
    for seq in [0, 9, 10, 255, 256, 709, 1009, 1200, all.len() as u64 - 1] {
        let proof = ledger.prove(seq).unwrap();
        proof
            .verify(&all[seq as usize], &ledger.verifier())
            .unwrap();
    }
    ledger.close(at(12)).unwrap();
    let ledger = Ledger::open(Arc::new(storage.clone()), with_source(&source)).unwrap();
    let read: Vec<Vec<u8>> = ledger.records(0..u64::MAX).map(|r| r.unwrap().1).collect();
    assert_eq!(read, all);
    drop(ledger);
    let report = verify_with(&storage, &VerifyOptions::default(), Some(source.as_ref())).unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    assert_eq!(report.records_checked, all.len() as u64);
    source.0.lock().unwrap().get_mut(&1010).unwrap()[7] = b"edited".to_vec();
    let report = verify_with(&storage, &VerifyOptions::default(), Some(source.as_ref())).unwrap();
    assert!(!report.is_intact());
}

/// The comparison of `externalize` made off the ledger's thread (`check_sealed` over a
/// `SealedSegment` reader that borrows nothing) while the ledger appends, then committed by
/// `externalize_checked` without comparing again; a wrong copy is refused by the check, and
/// a proof is refused once its segment was externalized or pruned meanwhile.
#[test]
fn checked_externalization_runs_beside_appends() {
    let (storage, all, segments) = build();
    let source = Arc::new(Shared(std::sync::Mutex::new(BTreeMap::new())));
    for segment in segments.iter().filter(|s| s.sealed) {
        let range = segment.first_seq as usize..(segment.first_seq + segment.record_count) as usize;
        source
            .0
            .lock()
            .unwrap()
            .insert(segment.first_seq, all[range].to_vec());
    }
    let never = AtomicBool::new(false);
    let mut ledger = Ledger::open(Arc::new(storage.clone()), with_source(&source)).unwrap();
    let last = segments.last().unwrap();
    assert!(ledger.sealed_segment(last.first_seq).is_err(), "active");
    // Checked on another thread while the ledger appends.
    let reader = ledger.sealed_segment(segments[0].first_seq).unwrap();
    assert_eq!(reader.info(), &segments[0]);
    let checking = {
        let source = Arc::clone(&source);
        std::thread::spawn(move || {
            let records: Vec<Vec<u8>> = reader.records().map(|r| r.unwrap().1).collect();
            let checked = ledger::check_sealed(&reader, source.as_ref(), &AtomicBool::new(false));
            (records, checked)
        })
    };
    let more: Vec<Vec<u8>> = (0..50).map(|i| record(5000 + i, 100)).collect();
    ledger.append_batch(&more, at(300)).unwrap();
    let (read, checked) = checking.join().unwrap();
    assert_eq!(read, all[..segments[0].record_count as usize]);
    let checked = checked.unwrap();
    assert_eq!(checked.info(), &segments[0]);
    let redundant = ledger.externalize_checked(checked, at(301)).unwrap();
    assert!(ledger.segments()[0].external);
    // The replaced segment file is the caller's to remove, on any thread; until it is (or
    // after a crash, when open removes it), verify reads the stub's records.
    assert!(!redundant.is_empty());
    assert!(storage.file(&segments[0].path).is_some());
    let report = verify_with(&storage, &VerifyOptions::default(), Some(source.as_ref())).unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    redundant.remove().unwrap();
    assert!(storage.file(&segments[0].path).is_none());
    // A copy that differs fails the check; nothing changes.
    let wrong = segments[1].first_seq;
    let saved = source.0.lock().unwrap().get(&wrong).unwrap().clone();
    source.0.lock().unwrap().get_mut(&wrong).unwrap()[3] = b"not it".to_vec();
    let reader = ledger.sealed_segment(wrong).unwrap();
    assert!(ledger::check_sealed(&reader, source.as_ref(), &never).is_err());
    source.0.lock().unwrap().insert(wrong, saved);
    // Cancelled checks stop.
    assert!(matches!(
        ledger::check_sealed(&reader, source.as_ref(), &AtomicBool::new(true)),
        Err(Error::Cancelled)
    ));
    // A proof for a segment externalized meanwhile is refused.
    let checked = ledger::check_sealed(&reader, source.as_ref(), &never).unwrap();
    ledger.externalize(wrong, at(302)).unwrap();
    assert!(matches!(
        ledger.externalize_checked(checked, at(303)),
        Err(Error::SegmentChanged { .. })
    ));
    // And one for a segment pruned meanwhile.
    let third = segments[2].first_seq;
    let reader = ledger.sealed_segment(third).unwrap();
    let checked = ledger::check_sealed(&reader, source.as_ref(), &never).unwrap();
    ledger
        .prune(segments[3].first_seq, "test", at(304))
        .unwrap();
    assert!(matches!(
        ledger.externalize_checked(checked, at(305)),
        Err(Error::SegmentChanged { .. })
    ));
    // A reader of a pruned segment fails instead of yielding anything.
    assert!(reader.records().any(|r| r.is_err()));
    let expected: Vec<Vec<u8>> = all[segments[3].first_seq as usize..]
        .iter()
        .cloned()
        .chain(more)
        .collect();
    let from = ledger.first_seq();
    let read: Vec<Vec<u8>> = ledger
        .records(from..u64::MAX)
        .map(|r| r.unwrap().1)
        .filter(|r| ledger::PruneRecord::parse(r).is_none())
        .collect();
    assert_eq!(read, expected);
    ledger.close(at(306)).unwrap();
    let report = verify_with(&storage, &VerifyOptions::default(), Some(source.as_ref())).unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
}
