//! Segment rollover and sealing, and re-hashing sealed segments from another
//! representation through `SealedRecords`.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::{at, config_small_segments, record};
use ledger::{
    Error, Finding, Ledger, MemStorage, RecordIter, SealedRecords, SegmentInfo, VerifyOptions,
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

/// Sealed segments kept elsewhere (as the query layer's Parquet files will be).
struct Elsewhere {
    records: BTreeMap<u64, Vec<Vec<u8>>>,
}

impl SealedRecords for Elsewhere {
    fn records<'a>(&'a self, segment: &SegmentInfo) -> Result<RecordIter<'a>, Error> {
        let records = self
            .records
            .get(&segment.first_seq)
            .ok_or(Error::NoSuchRecord {
                seq: segment.first_seq,
                size: 0,
            })?;
        Ok(Box::new(records.iter().cloned().map(Ok)))
    }
}

#[test]
fn verify_rehashes_sealed_segments_from_another_representation() {
    let (storage, all, segments) = build();
    let mut copy = Elsewhere {
        records: BTreeMap::new(),
    };
    for segment in segments.iter().filter(|s| s.sealed) {
        let range = segment.first_seq as usize..(segment.first_seq + segment.record_count) as usize;
        copy.records.insert(segment.first_seq, all[range].to_vec());
    }
    let report = verify_with(&storage, &VerifyOptions::default(), Some(&copy)).unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    assert_eq!(report.records_checked, all.len() as u64);

    // One edited record in the other representation is caught.
    let first = segments[1].first_seq;
    copy.records.get_mut(&first).unwrap()[3] = b"edited".to_vec();
    let report = verify_with(&storage, &VerifyOptions::default(), Some(&copy)).unwrap();
    assert!(
        report
            .findings
            .iter()
            .any(|f| matches!(f, Finding::CheckpointRootMismatch { .. })),
        "{:?}",
        report.findings
    );
    // A record dropped from it too.
    copy.records.get_mut(&first).unwrap().pop();
    let report = verify_with(&storage, &VerifyOptions::default(), Some(&copy)).unwrap();
    assert!(!report.is_intact());
}
