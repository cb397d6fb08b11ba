//! Retention: what the ledger keeps of records it pruned, and the signed record of a prune.
//!
//! Pruning removes a prefix of whole sealed segments, records `0 .. before_seq`. What is
//! kept so that the remaining proofs and `verify` still work:
//!
//! - the **prune anchor** (`pruned`): the right edge of the tree at `before_seq` (for every
//!   level, the hashes of the incomplete tile at that size, at most 255 per level). The tree
//!   continues from it: open and verify push the remaining records' leaves onto it. It is
//!   committed to by every checkpoint at or above `before_seq`, because those roots are
//!   recomputed from it and the remaining records;
//! - every tile at levels ≥ 1, and the level-0 tiles that hold a stored checkpoint's
//!   boundary (so that old checkpoints' roots and the consistency proofs between them can
//!   still be computed), and the level-0 tile holding `before_seq` itself. Verify checks each
//!   kept tile below `before_seq` against the level above it, up to the anchor;
//! - a **prune record** appended to the log itself and checkpointed before anything is
//!   deleted: `{"auditrail_prune":{"v":1,"before_seq":…,"root":…,"segments":[…],…}}`.
//!   `verify` requires one, covered by a signed checkpoint, for the anchor's `before_seq`:
//!   segments missing without it are tampering.
//!
//! Anchor file, little-endian:
//!
//! ```text
//!  0  8  magic "ADTRLPRN"
//!  8  4  version = 1
//! 12  4  level count L (≤ 64)
//! 16  8  before_seq (the tree size of the edge)
//! 24  …  for each level 0 .. L: u32 hash count (= (before_seq >> 8·level) mod 256), hashes
//!  …  4  crc32c of every byte before it
//! ```

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::limits::{PRUNE_REASON_BYTES_MAX, TILE_HEIGHT, TILE_WIDTH};
use crate::merkle::Hash;
use crate::storage::Storage;
use crate::tiles::TreeEdge;

/// File name of the prune anchor, relative to the ledger root.
pub const PRUNE_FILE: &str = "pruned";
/// Magic of the prune anchor file.
pub const PRUNE_MAGIC: [u8; 8] = *b"ADTRLPRN";
/// Version of the prune anchor file.
pub const PRUNE_VERSION: u32 = 1;

const PREFIX: &str = "{\"auditrail_prune\":";
const LEVELS_MAX: usize = 64;

/// The signed statement of a prune, appended to the log as an ordinary record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneRecord {
    /// Records `0 .. before_seq` were removed.
    pub before_seq: u64,
    /// RFC 6962 root of the tree of size `before_seq` (what the anchor reproduces).
    pub root: Hash,
    /// File names of the segments removed by this prune.
    pub segments: Vec<String>,
    /// Records removed by this prune.
    pub records: u64,
    /// Segment bytes removed by this prune.
    pub bytes: u64,
    /// Caller's clock, nanoseconds since the Unix epoch.
    pub time_unix_ns: u128,
    /// Why (free text from the operator or the configured policy).
    pub reason: String,
}

#[derive(Serialize, Deserialize)]
struct Outer {
    auditrail_prune: Inner,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Inner {
    v: u32,
    before_seq: u64,
    root: String,
    segments: Vec<String>,
    records: u64,
    bytes: u64,
    time_unix_ns: u128,
    reason: String,
}

impl PruneRecord {
    /// The record bytes: one JSON object with a single `auditrail_prune` member.
    pub fn to_record(&self) -> Vec<u8> {
        let outer = Outer {
            auditrail_prune: Inner {
                v: 1,
                before_seq: self.before_seq,
                root: base64::engine::general_purpose::STANDARD.encode(self.root),
                segments: self.segments.clone(),
                records: self.records,
                bytes: self.bytes,
                time_unix_ns: self.time_unix_ns,
                reason: self.reason.clone(),
            },
        };
        // Serializing plain strings and integers cannot fail.
        serde_json::to_vec(&outer).unwrap_or_default()
    }

    /// Whether a record claims to be a prune record (cheap prefix test).
    pub fn is_prune_record(record: &[u8]) -> bool {
        record.starts_with(PREFIX.as_bytes())
    }

    /// Recognise a prune record.
    pub fn parse(record: &[u8]) -> Option<PruneRecord> {
        if !PruneRecord::is_prune_record(record) {
            return None;
        }
        let outer: Outer = serde_json::from_slice(record).ok()?;
        let inner = outer.auditrail_prune;
        if inner.v != 1 {
            return None;
        }
        let root: Hash = base64::engine::general_purpose::STANDARD
            .decode(inner.root)
            .ok()?
            .try_into()
            .ok()?;
        Some(PruneRecord {
            before_seq: inner.before_seq,
            root,
            segments: inner.segments,
            records: inner.records,
            bytes: inner.bytes,
            time_unix_ns: inner.time_unix_ns,
            reason: inner.reason,
        })
    }
}

/// Nanoseconds since the Unix epoch (0 before it).
pub(crate) fn unix_ns(now: SystemTime) -> u128 {
    now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

/// Check a prune reason against its limit.
pub(crate) fn check_reason(reason: &str) -> Result<(), Error> {
    if reason.len() > PRUNE_REASON_BYTES_MAX {
        return Err(Error::PruneRange {
            before_seq: 0,
            reason: format!("reason longer than {PRUNE_REASON_BYTES_MAX} bytes"),
        });
    }
    Ok(())
}

/// Serialize the anchor (the tree's right edge at the prune point).
pub(crate) fn encode_anchor(edge: &TreeEdge) -> Vec<u8> {
    let levels = anchor_levels(edge.size());
    let mut out = Vec::with_capacity(32 + levels * (4 + TILE_WIDTH * 32));
    out.extend_from_slice(&PRUNE_MAGIC);
    out.extend_from_slice(&PRUNE_VERSION.to_le_bytes());
    out.extend_from_slice(&(levels as u32).to_le_bytes());
    out.extend_from_slice(&edge.size().to_le_bytes());
    for level in 0..levels {
        let hashes = edge.partial(level as u32);
        out.extend_from_slice(&(hashes.len() as u32).to_le_bytes());
        for hash in hashes {
            out.extend_from_slice(hash);
        }
    }
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Number of levels an edge of `size` leaves has (0 for the empty tree).
fn anchor_levels(size: u64) -> usize {
    let mut levels = 0;
    while TILE_HEIGHT as usize * levels < 64 && size >> (TILE_HEIGHT as usize * levels) > 0 {
        levels += 1;
    }
    levels
}

/// Parse an anchor file; the reason on failure.
pub(crate) fn decode_anchor(bytes: &[u8]) -> Result<TreeEdge, String> {
    let max = 24 + LEVELS_MAX * (4 + TILE_WIDTH * 32) + 4;
    if bytes.len() < 28 || bytes.len() > max {
        return Err(format!("{} bytes is not a prune anchor", bytes.len()));
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    let stored = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc32c::crc32c(body) != stored {
        return Err("checksum mismatch".to_owned());
    }
    if body[0..8] != PRUNE_MAGIC {
        return Err("bad magic".to_owned());
    }
    let u32_at = |at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(body.get(at..at + 4)?.try_into().ok()?))
    };
    let version = u32_at(8).ok_or("truncated")?;
    if version != PRUNE_VERSION {
        return Err(format!("unsupported prune anchor version {version}"));
    }
    let levels = u32_at(12).ok_or("truncated")? as usize;
    let size = u64::from_le_bytes(body[16..24].try_into().map_err(|_| "truncated")?);
    if levels != anchor_levels(size) {
        return Err(format!("{levels} levels for size {size}"));
    }
    let mut at = 24;
    let mut partial = Vec::with_capacity(levels);
    for level in 0..levels {
        let count = u32_at(at).ok_or("truncated")? as usize;
        let expected = ((size >> (TILE_HEIGHT as usize * level)) % TILE_WIDTH as u64) as usize;
        if count != expected {
            return Err(format!(
                "level {level} has {count} hashes, {expected} expected"
            ));
        }
        at += 4;
        let mut hashes = Vec::with_capacity(count);
        for _ in 0..count {
            let hash: Hash = body
                .get(at..at + 32)
                .ok_or("truncated")?
                .try_into()
                .map_err(|_| "truncated")?;
            hashes.push(hash);
            at += 32;
        }
        partial.push(hashes);
    }
    if at != body.len() {
        return Err("trailing bytes".to_owned());
    }
    Ok(TreeEdge::from_parts(size, partial))
}

/// Read the prune anchor of the ledger in `storage`: the empty edge when it was never
/// pruned.
pub fn read_anchor(storage: &dyn Storage) -> Result<TreeEdge, Error> {
    match storage.read(PRUNE_FILE) {
        Ok(bytes) => decode_anchor(&bytes).map_err(|reason| Error::Corrupt {
            path: PRUNE_FILE.to_owned(),
            offset: 0,
            reason,
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(TreeEdge::new()),
        Err(error) => Err(Error::io(PRUNE_FILE, error)),
    }
}

/// The first sequence number still stored in the ledger in `storage` (0 when it was never
/// pruned): records below it were removed by a prune.
pub fn pruned_before(storage: &dyn Storage) -> Result<u64, Error> {
    Ok(read_anchor(storage)?.size())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::leaf_hash;

    #[test]
    fn record_round_trips_and_is_recognised() {
        let record = PruneRecord {
            before_seq: 1000,
            root: [7; 32],
            segments: vec!["00000000000000000000.seg".to_owned()],
            records: 1000,
            bytes: 123_456,
            time_unix_ns: 1_700_000_000_000_000_000,
            reason: "before 2026-01-01T00:00:00Z".to_owned(),
        };
        let bytes = record.to_record();
        assert!(bytes.starts_with(b"{\"auditrail_prune\":{\"v\":1,\"before_seq\":1000,"));
        assert_eq!(PruneRecord::parse(&bytes), Some(record));
        assert_eq!(PruneRecord::parse(b"{\"auditrail_prune\":{}}"), None);
        assert_eq!(PruneRecord::parse(b"{\"kind\":\"Event\"}"), None);
    }

    #[test]
    fn anchor_round_trips_and_rejects_damage() {
        for size in [0u64, 1, 255, 256, 257, 65_535, 65_536, 70_001] {
            let mut edge = TreeEdge::new();
            for i in 0..size {
                edge.push(leaf_hash(&i.to_le_bytes()), &mut |_| {});
            }
            let bytes = encode_anchor(&edge);
            let back = decode_anchor(&bytes).unwrap();
            assert_eq!(back.size(), size);
            assert_eq!(back.root(), edge.root(), "size {size}");
            let mut damaged = bytes.clone();
            let last = damaged.len() - 5;
            damaged[last] ^= 1;
            assert!(decode_anchor(&damaged).is_err());
        }
    }
}
