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

/// Ledger records per columnar index segment (a Parquet file of `crates/index`). Records after
/// the last complete range are the tail, read from the ledger at query time.
pub const INDEX_SEGMENT_RECORDS: u64 = 65_536;

/// Largest index record (`auditrail_index`) accepted when reading one back.
pub const INDEX_RECORD_BYTES_MAX: usize = 4096;
