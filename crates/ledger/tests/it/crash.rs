//! Crashes at any point lose nothing acknowledged, and the store reopens and verifies.

use proptest::prelude::*;

use crate::{at, open, record};
use ledger::{Error, MemStorage, VerifyOptions, verify};

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Truncating the last segment at any offset keeps every record whose batch ended
    /// (was fsynced) at or before that offset.
    #[test]
    fn truncation_at_any_offset_keeps_acknowledged_records(
        batch_sizes in prop::collection::vec(1usize..30, 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let storage = MemStorage::new();
        let mut ledger = open(&storage);
        let mut all = Vec::new();
        let mut acked_at: Vec<(u64, u64)> = Vec::new(); // (segment length, records) after each batch
        for (index, size) in batch_sizes.iter().enumerate() {
            let batch: Vec<Vec<u8>> = (0..*size).map(|i| record((all.len() + i) as u64, 200)).collect();
            ledger.append_batch(&batch, at(index as u64)).unwrap();
            all.extend(batch);
            acked_at.push((ledger.segments()[0].file_len, all.len() as u64));
        }
        let path = ledger.segments()[0].path.clone();
        drop(ledger); // a crash: no close, no checkpoint
        let mut bytes = storage.file(&path).unwrap();
        let offset = cut.index(bytes.len() + 1);
        bytes.truncate(offset);
        storage.set_file(&path, bytes);

        let kept = acked_at.iter().filter(|(len, _)| *len <= offset as u64).map(|(_, n)| *n).max().unwrap_or(0);
        let mut ledger = open(&storage);
        prop_assert_eq!(ledger.tree_size(), kept);
        for seq in 0..kept {
            prop_assert_eq!(&ledger.read(seq).unwrap(), &all[seq as usize]);
        }
        ledger.append_batch(&[b"after".as_slice()], at(99)).unwrap();
        ledger.close(at(100)).unwrap();
        let report = verify(&storage, &VerifyOptions::default()).unwrap();
        prop_assert!(report.is_intact(), "{:?}", report.findings);
    }

    /// Power loss with torn, partly persisted unsynced writes at random points.
    #[test]
    fn power_loss_keeps_acknowledged_records(
        steps in prop::collection::vec((1usize..40, any::<bool>()), 1..10),
        keep_fraction in 0.0f64..1.0,
    ) {
        let storage = MemStorage::new();
        let mut ledger = open(&storage);
        let mut all = Vec::new();
        for (index, (size, checkpoint)) in steps.iter().enumerate() {
            let batch: Vec<Vec<u8>> = (0..*size).map(|i| record((all.len() + i) as u64, 500)).collect();
            ledger.append_batch(&batch, at(index as u64)).unwrap();
            all.extend(batch);
            if *checkpoint {
                ledger.checkpoint(at(index as u64)).unwrap();
            }
        }
        // Leave an unacknowledged batch half-written when the power goes.
        storage.fail_next_syncs(1);
        let unacked: Vec<Vec<u8>> = (0..20).map(|i| record(10_000 + i, 500)).collect();
        prop_assert!(ledger.append_batch(&unacked, at(50)).is_err());
        drop(ledger);
        storage.crash(|_, unsynced| (unsynced as f64 * keep_fraction) as usize);

        let ledger = open(&storage);
        prop_assert_eq!(ledger.tree_size(), all.len() as u64);
        let read: Vec<Vec<u8>> = ledger.records(0..u64::MAX).map(|r| r.unwrap().1).collect();
        prop_assert_eq!(&read, &all);
        ledger.close(at(60)).unwrap();
        let report = verify(&storage, &VerifyOptions::default()).unwrap();
        prop_assert!(report.is_intact(), "{:?}", report.findings);
    }
}

#[test]
fn truncation_below_a_checkpoint_refuses_to_append() {
    let storage = MemStorage::new();
    let mut ledger = open(&storage);
    for batch in 0..3u64 {
        ledger
            .append_batch(&[record(batch, 100)], at(batch))
            .unwrap();
    }
    let path = ledger.segments()[0].path.clone();
    ledger.close(at(5)).unwrap();
    let mut bytes = storage.file(&path).unwrap();
    bytes.truncate(bytes.len() - 10);
    storage.set_file(&path, bytes);
    let result = ledger::Ledger::open(std::sync::Arc::new(storage.clone()), crate::config_manual());
    assert!(
        matches!(
            result,
            Err(Error::BehindCheckpoint {
                checkpoint_size: 3,
                tree_size: 2
            })
        ),
        "{result:?}"
    );
    let report = verify(&storage, &VerifyOptions::default()).unwrap();
    assert!(!report.is_intact());
}
