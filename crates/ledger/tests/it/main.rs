//! Integration tests of the ledger through its public API.

// Helpers outside `#[test]` functions panic on failure by design.
#![allow(clippy::unwrap_used)]

mod background;
mod crash;
mod faults;
mod files;
mod fixture;
mod proofs;
mod prune;
mod roundtrip;
mod segments;
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
        segment_bytes: ledger::limits::SEGMENT_BYTES_TARGET,
        sealed: None,
    }
}

/// [`config_manual`] with segments sealed every 4 KiB, so that tests see many.
pub(crate) fn config_small_segments() -> Config {
    Config {
        segment_bytes: 4096,
        ..config_manual()
    }
}

pub(crate) fn open(storage: &MemStorage) -> Ledger {
    let storage: Arc<dyn Storage> = Arc::new(storage.clone());
    Ledger::open(storage, config_manual()).unwrap()
}

/// A deterministic record of roughly `len` bytes that looks a little like audit JSON.
pub(crate) fn record(seq: u64, len: usize) -> Vec<u8> {
    let mut text = format!("{{\"auditID\":\"{seq:08x}\",\"verb\":\"get\",\"pad\":\"");
    // xorshift noise, so that blocks compress like real events rather than to nothing
    let mut state = seq.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    while text.len() + 2 < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        text.push(char::from(b'a' + (state % 26) as u8));
    }
    text.push_str("\"}");
    text.into_bytes()
}
