//! Inclusion and consistency proofs from the stored tiles agree with RFC 6962 and fail
//! when tampered with.

use proptest::prelude::*;

use crate::{at, open, record};
use ledger::merkle::{leaf_hash, root_of_leaves, verify_consistency, verify_inclusion};
use ledger::{InclusionProof, MemStorage};

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn consistency_proofs_between_any_two_sizes(
        size in 1u64..1_500,
        a in any::<prop::sample::Index>(),
        b in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
    ) {
        let storage = MemStorage::new();
        let mut ledger = open(&storage);
        let records: Vec<Vec<u8>> = (0..size).map(|seq| record(seq, 40)).collect();
        for chunk in records.chunks(97) {
            ledger.append_batch(chunk, at(0)).unwrap();
        }
        let leaves: Vec<_> = records.iter().map(|r| leaf_hash(r)).collect();
        let (x, y) = (a.index(size as usize + 1) as u64, b.index(size as usize + 1) as u64);
        let (old, new) = (x.min(y), x.max(y));
        let old_root = root_of_leaves(&leaves[..old as usize]);
        let new_root = root_of_leaves(&leaves[..new as usize]);
        prop_assert_eq!(ledger.root_at(old).unwrap(), old_root);
        prop_assert_eq!(ledger.root_at(new).unwrap(), new_root);
        let proof = ledger.consistency_proof(old, new).unwrap();
        prop_assert!(verify_consistency(old, new, &old_root, &new_root, &proof).is_ok());
        if !proof.is_empty() {
            let mut tampered = proof.clone();
            let index = flip.index(tampered.len());
            tampered[index][0] ^= 1;
            prop_assert!(verify_consistency(old, new, &old_root, &new_root, &tampered).is_err());
            let mut short = proof.clone();
            short.pop();
            prop_assert!(verify_consistency(old, new, &old_root, &new_root, &short).is_err());
        }
        if old > 0 && old < new {
            let mut wrong_old = old_root;
            wrong_old[31] ^= 0x80;
            prop_assert!(verify_consistency(old, new, &wrong_old, &new_root, &proof).is_err());
        }
        // Inclusion of one leaf in the bigger tree.
        if new > 0 {
            let index = flip.index(new as usize) as u64;
            let mut reader = ledger::merkle::LeafSlice(&leaves);
            let path = ledger::merkle::inclusion_proof(&mut reader, index, new).unwrap();
            prop_assert!(verify_inclusion(index, new, &leaves[index as usize], &path, &new_root).is_ok());
        }
    }
}

#[test]
fn prove_exports_tlog_proof_and_json_that_verify() {
    let storage = MemStorage::new();
    let mut ledger = open(&storage);
    let records: Vec<Vec<u8>> = (0..700).map(|seq| record(seq, 120)).collect();
    ledger.append_batch(&records, at(0)).unwrap();
    assert!(matches!(
        ledger.prove(3),
        Err(ledger::Error::NotCheckpointed { seq: 3 })
    ));
    ledger.checkpoint(at(1)).unwrap();
    let verifier = ledger.verifier();
    for seq in [0u64, 1, 255, 256, 511, 699] {
        let proof = ledger.prove(seq).unwrap();
        let record = &records[seq as usize];
        let checkpoint = proof.verify(record, &verifier).unwrap();
        assert_eq!(checkpoint.size, 700);

        let text = proof.to_tlog_proof();
        assert!(
            text.starts_with(&format!("c2sp.org/tlog-proof@v1\nindex {seq}\n")),
            "{text}"
        );
        let parsed = InclusionProof::from_tlog_proof(&text, record).unwrap();
        assert_eq!(parsed, proof);

        let json = proof.to_json();
        let parsed = InclusionProof::from_json(&json).unwrap();
        assert_eq!(parsed, proof);
        parsed.verify(record, &verifier).unwrap();

        assert!(proof.verify(b"edited record", &verifier).is_err());
        let mut wrong = proof.clone();
        wrong.index ^= 1;
        assert!(wrong.verify(record, &verifier).is_err());
        let other = ledger::NoteSigner::from_seed(crate::ORIGIN, [8; 32])
            .unwrap()
            .verifier();
        assert!(proof.verify(record, &other).is_err());
    }
}
