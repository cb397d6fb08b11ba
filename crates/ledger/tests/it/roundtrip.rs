//! What is appended reads back identically, before and after reopening.

use proptest::prelude::*;

use crate::{at, open};
use ledger::{MemStorage, VerifyOptions, verify};

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn appended_records_read_back(batches in prop::collection::vec(
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..2_000), 0..40), 1..12)
    ) {
        let storage = MemStorage::new();
        let mut ledger = open(&storage);
        let mut all: Vec<Vec<u8>> = Vec::new();
        for (index, batch) in batches.iter().enumerate() {
            let receipt = ledger.append_batch(batch, at(index as u64)).unwrap();
            prop_assert_eq!(receipt.seqs.start, all.len() as u64);
            all.extend(batch.iter().cloned());
            prop_assert_eq!(receipt.tree_size, all.len() as u64);
        }
        for (seq, expected) in all.iter().enumerate() {
            prop_assert_eq!(&ledger.read(seq as u64).unwrap(), expected);
        }
        let ranged: Vec<Vec<u8>> = ledger.records(0..u64::MAX).map(|r| r.unwrap().1).collect();
        prop_assert_eq!(&ranged, &all);
        ledger.close(at(100)).unwrap();

        let reopened = open(&storage);
        prop_assert_eq!(reopened.tree_size(), all.len() as u64);
        let ranged: Vec<Vec<u8>> = reopened.records(0..u64::MAX).map(|r| r.unwrap().1).collect();
        prop_assert_eq!(&ranged, &all);
        let report = verify(&storage, &VerifyOptions::default()).unwrap();
        prop_assert!(report.is_intact(), "{:?}", report.findings);
        prop_assert_eq!(report.records_checked, all.len() as u64);
    }
}

#[test]
fn large_batch_spans_blocks_and_tiles() {
    let storage = MemStorage::new();
    let mut ledger = open(&storage);
    let records: Vec<Vec<u8>> = (0..3_000).map(|seq| crate::record(seq, 1_000)).collect();
    ledger.append_batch(&records, at(0)).unwrap();
    let segments = ledger.segments();
    assert_eq!(segments.len(), 1);
    // ~3 MB of records (random letters: ~4.7 bits each) are stored compressed.
    assert!(segments[0].file_len < 2_000_000, "{}", segments[0].file_len);
    assert_eq!(ledger.read(2_999).unwrap(), records[2_999]);
    assert_eq!(ledger.read(0).unwrap(), records[0]);
    assert!(ledger.read(3_000).is_err());
    let middle: Vec<Vec<u8>> = ledger.records(1_000..1_010).map(|r| r.unwrap().1).collect();
    assert_eq!(middle, records[1_000..1_010]);
    ledger.close(at(1)).unwrap();
    // Full level-0 tiles are recomputed from the records, not kept; the partial tiles of
    // every level are written for the checkpoint at close.
    assert!(storage.file("tile/0/000").is_none());
    assert!(storage.file("tile/0/010").is_none());
    assert!(storage.file("tile/1/000.p/11").is_some());
    assert!(
        storage.file("tile/0/011.p/184").is_some(),
        "{:?}",
        storage.paths()
    );
    let report = verify(&storage, &VerifyOptions::default()).unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    // Reopening rebuilds the tree's edge at the checkpoint with the missing level-0 tiles
    // recomputed from the records, not by hashing the whole log again.
    let reopened = open(&storage);
    assert!(!reopened.recovery().tree_rebuilt_from_records);
    assert_eq!(reopened.recovery().tiles_rebuilt, 0);
    assert_eq!(reopened.root_at(3_000).unwrap(), ledger_root(&records));
    let proof = reopened.prove(1_234).unwrap();
    proof.verify(&records[1_234], &reopened.verifier()).unwrap();
    // A level-0 partial tile (written at the checkpoint) that lies is found, although the
    // full tile it is compared with is not on disk.
    let partial = "tile/0/011.p/184";
    let mut bytes = storage.file(partial).unwrap();
    bytes[40] ^= 1;
    storage.set_file(partial, bytes);
    let report = verify(&storage, &VerifyOptions::default()).unwrap();
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.to_string().contains(partial)),
        "{:?}",
        report.findings
    );
}

/// The RFC 6962 root of `records`, computed directly.
fn ledger_root(records: &[Vec<u8>]) -> ledger::merkle::Hash {
    let leaves: Vec<ledger::merkle::Hash> = records
        .iter()
        .map(|r| ledger::merkle::leaf_hash(r))
        .collect();
    ledger::merkle::root_of_leaves(&leaves)
}

#[test]
fn heartbeats_are_leaves_and_checkpoints_follow_the_policy() {
    let storage = MemStorage::new();
    let mut config = crate::config_manual();
    config.checkpoint = ledger::CheckpointPolicy {
        every_records: 5,
        every: std::time::Duration::from_secs(60),
    };
    let mut ledger = ledger::Ledger::open(std::sync::Arc::new(storage.clone()), config).unwrap();
    let receipt = ledger
        .append_batch(&[b"a".as_slice(), b"b"], at(0))
        .unwrap();
    assert!(matches!(
        receipt.checkpoint,
        ledger::CheckpointStatus::NotDue
    ));
    let receipt = ledger.append_heartbeat(at(61)).unwrap();
    assert!(matches!(
        receipt.checkpoint,
        ledger::CheckpointStatus::Written { size: 3 }
    ));
    let beat = ledger::Heartbeat::parse(&ledger.read(2).unwrap()).unwrap();
    assert_eq!(beat.tree_size, 2);
    let receipt = ledger.append_batch(&[b"c".as_slice(); 5], at(62)).unwrap();
    assert!(matches!(
        receipt.checkpoint,
        ledger::CheckpointStatus::Written { size: 8 }
    ));
    let latest = ledger.latest_checkpoint().unwrap().to_owned();
    assert!(latest.starts_with("auditrail.test/ledger\n8\n"), "{latest}");
    assert!(
        latest.contains("\n\n\u{2014} auditrail.test/ledger "),
        "{latest}"
    );
}
