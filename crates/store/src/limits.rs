//! Named limits of the store.

/// Bytes of one identity key.
pub const KEY_BYTES: usize = 16;

/// Most threads reading index segments' footers (their key-time summaries) when a store
/// opens.
pub const KEY_LOAD_THREADS_MAX: usize = 64;

/// Most identity keys of index segments held in memory for deduplication (16 bytes each,
/// plus about one for their lookup table: about 34 MiB). Past it the least recently used
/// segment's keys are dropped, and read again from its identity columns when a lookup needs
/// them. Sixteen bulk-load segments: an import of old events whose times interleave with
/// that many stored segments still reads each once.
pub const KEY_CACHE_KEYS_MAX: usize = 16 * LOAD_SEGMENT_EVENTS as usize;

/// Events per index segment written by a bulk load ([`crate::Loader`]): one Parquet row group.
pub const LOAD_SEGMENT_EVENTS: u64 = index::limits::ROW_GROUP_ROWS as u64;

/// Most record bytes per index segment written by a bulk load (the segment is cut earlier
/// when its events are larger): its Arrow columns hold them in memory until it is written.
pub const LOAD_SEGMENT_BYTES: usize = 192 * 1024 * 1024;

/// Segments of a bulk load being written and checked at once (each on its own thread, beside
/// the decoding); with the one being filled, memory holds this many + 1 segments' columns.
pub const LOAD_SEGMENTS_IN_FLIGHT: usize = 2;

const _: () = assert!(LOAD_SEGMENT_BYTES <= ledger::limits::EXTERNAL_BATCH_BYTES_MAX);
// A segment's keys fit in the cache several times over, so that the segments a lookup
// covers stay in it.
const _: () = assert!(KEY_CACHE_KEYS_MAX >= 4 * LOAD_SEGMENT_EVENTS as usize);

/// Raw bytes of a malformed record kept in the quarantine file (longer records are cut and
/// marked as such).
pub const QUARANTINE_RAW_BYTES_MAX: usize = 1024 * 1024;

/// Largest `store.json`.
pub const STORE_META_BYTES_MAX: u64 = 64 * 1024;

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
