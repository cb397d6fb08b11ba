//! The file-system storage on a real temporary directory.

use std::sync::Arc;

use crate::{at, record};
use ledger::{Config, FileStorage, Ledger, NoteVerifier, VerifyOptions, verify};

#[test]
fn file_storage_end_to_end_with_a_generated_key() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(FileStorage::new(dir.path()));
    let mut ledger = Ledger::open(storage.clone(), Config::new("auditrail.test/files")).unwrap();
    let records: Vec<Vec<u8>> = (0..600).map(|seq| record(seq, 900)).collect();
    for chunk in records.chunks(150) {
        ledger.append_batch(chunk, at(0)).unwrap();
    }
    let verifier_key = ledger.verifier().verifier_key();
    ledger.close(at(1)).unwrap();

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("signing.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "signing key mode {mode:o}");
    }
    let on_disk = std::fs::read_to_string(dir.path().join("verifier.key")).unwrap();
    assert_eq!(on_disk, format!("{verifier_key}\n"));
    let verifier = NoteVerifier::from_verifier_key(&verifier_key).unwrap();
    assert!(verifier_key.starts_with("auditrail.test/files+"));
    for path in ["tile/0/002.p/88", "tile/1/000.p/2", "checkpoint"] {
        assert!(dir.path().join(path).is_file(), "{path} missing");
    }
    // Full level-0 tiles are recomputed from the records, not kept.
    for path in ["tile/0/000", "tile/0/001"] {
        assert!(!dir.path().join(path).exists(), "{path} written");
    }
    let checkpoint = std::fs::read_to_string(dir.path().join("checkpoint")).unwrap();
    let parsed = ledger::Checkpoint::open(&checkpoint, &verifier).unwrap();
    assert_eq!(parsed.size, 600);

    // Reopen: the same key is loaded, records read back, proofs work.
    let ledger = Ledger::open(storage.clone(), Config::new("auditrail.test/files")).unwrap();
    assert_eq!(ledger.verifier().verifier_key(), verifier_key);
    assert_eq!(ledger.read(599).unwrap(), records[599]);
    ledger
        .prove(300)
        .unwrap()
        .verify(&records[300], &verifier)
        .unwrap();
    drop(ledger);

    let options = VerifyOptions {
        external_checkpoints: vec![checkpoint],
        verifier_key: Some(verifier_key),
    };
    let report = verify(storage.as_ref(), &options).unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);

    // The operator's own key file: accepted at 0600, refused when others may read it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key_dir = tempfile::tempdir().unwrap();
        let key_path = key_dir.path().join("operator.key");
        let signer = ledger::NoteSigner::from_seed("auditrail.test/operator", [3; 32]).unwrap();
        std::fs::write(&key_path, format!("{}\n", signer.signer_key())).unwrap();
        std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let store = tempfile::tempdir().unwrap();
        let config = || Config {
            key: ledger::KeySource::File(key_path.clone()),
            ..Config::new("auditrail.test/operator")
        };
        let refused = Ledger::open(Arc::new(FileStorage::new(store.path())), config());
        assert!(
            matches!(refused, Err(ledger::Error::Config { .. })),
            "{refused:?}"
        );
        std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let ledger = Ledger::open(Arc::new(FileStorage::new(store.path())), config()).unwrap();
        assert_eq!(ledger.verifier(), signer.verifier());
        assert!(!store.path().join("signing.key").exists());
    }

    // A different origin with the same key directory is refused.
    let wrong = Ledger::open(storage, Config::new("auditrail.test/other"));
    assert!(matches!(
        wrong,
        Err(ledger::Error::KeyOriginMismatch { .. })
    ));
}
