//! Integration tests of the ledger through its public API.

// Helpers outside `#[test]` functions panic on failure by design.
#![allow(clippy::unwrap_used)]

mod crash;
mod faults;
mod files;
mod fixture;
mod proofs;
mod roundtrip;
mod tamper;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ledger::{CheckpointPolicy, Config, KeySource, Ledger, MemStorage, NoteSigner, Storage};

pub(crate) const ORIGIN: &str = "auditrail.test/ledger";

/// A fixed time plus `seconds`.
pub(crate) fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_750_000_000 + seconds)
}

/// A configuration with a fixed key and checkpoints only when asked.
pub(crate) fn config_manual() -> Config {
    Config {
        origin: ORIGIN.to_owned(),
        key: KeySource::Signer(Box::new(NoteSigner::from_seed(ORIGIN, [7; 32]).unwrap())),
        checkpoint: CheckpointPolicy {
            every_records: u64::MAX,
            every: Duration::from_secs(1 << 40),
        },
    }
}

pub(crate) fn open(storage: &MemStorage) -> Ledger {
    let storage: Arc<dyn Storage> = Arc::new(storage.clone());
    Ledger::open(storage, config_manual()).unwrap()
}

/// A deterministic record of roughly `len` bytes that looks a little like audit JSON.
pub(crate) fn record(seq: u64, len: usize) -> Vec<u8> {
    let mut text = format!("{{\"auditID\":\"{seq:08x}\",\"verb\":\"get\",\"pad\":\"");
    while text.len() + 2 < len {
        text.push(char::from(
            b'a' + (seq.wrapping_mul(31).wrapping_add(text.len() as u64) % 26) as u8,
        ));
    }
    text.push_str("\"}");
    text.into_bytes()
}
