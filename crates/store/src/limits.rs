//! Named limits of the store.

/// Bytes of one identity key in `index/keys.bin`.
pub const KEY_BYTES: usize = 16;

/// Raw bytes of a malformed record kept in the quarantine file (longer records are cut and
/// marked as such).
pub const QUARANTINE_RAW_BYTES_MAX: usize = 1024 * 1024;

/// Largest `store.json`.
pub const STORE_META_BYTES_MAX: u64 = 64 * 1024;

/// Records read per step while rebuilding or verifying the key index.
pub const KEY_REBUILD_BATCH: u64 = 65_536;

/// `prune.log` stops growing past this size (it is informational; the signed prune records
/// are in the ledger).
pub const PRUNE_LOG_BYTES_MAX: u64 = 16 * 1024 * 1024;

/// Ledger segment size of a store (unless `store.json` sets another): each sealed segment
/// becomes one columnar index segment (~100,000 Kubernetes events at ~80 compressed bytes
/// each), and the unsealed rest is the tail that queries decode row by row, so this bounds
/// that work too.
pub const STORE_SEGMENT_BYTES: u64 = 8 * 1024 * 1024;

/// Largest index record (`auditrail_index`) accepted when reading one back.
pub const INDEX_RECORD_BYTES_MAX: usize = 4096;
