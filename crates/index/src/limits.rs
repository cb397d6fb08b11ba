//! Every buffer, batch and list size of the crate, named once.
//!
//! Invariant: the const assertions at the bottom hold; a change that breaks one is a design
//! change, not a tuning change.

/// Rows per Parquet row group: the unit of pruning, of parallel work and of loading. DuckDB's
/// own default is 122,880; a power of two keeps row indices simple.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

/// zstd level for every column. Segments are written while events are imported, so the
/// level is part of the import's cost.
pub const ZSTD_LEVEL: i32 = 3;

/// Rows decoded at a time when a segment's events are read back one batch after the other
/// (re-hashing a segment's records for `verify` or before the ledger takes it).
pub const READ_BATCH_ROWS: usize = 8192;

/// Target size of one Parquet data page before compression. Larger pages compress the JSON
/// columns better; page statistics still let point reads skip most of a row group.
pub const DATA_PAGE_BYTES: usize = 1024 * 1024;

/// Largest dictionary page per column chunk; past it the writer falls back to plain encoding
/// for the rest of the chunk (still correct, only bigger and slower to filter).
pub const DICTIONARY_PAGE_BYTES: usize = 4 * 1024 * 1024;

/// Parquet statistics keep at most this many bytes of a string minimum or maximum.
pub const STATISTICS_TRUNCATE_BYTES: usize = 64;

/// False-positive probability of the per-row-group bloom filters on the equality-filter
/// columns.
pub const BLOOM_FILTER_FPP: f64 = 0.01;

/// Rows decoded at a time when a scan reads a row group whole: the Parquet reader grows its
/// buffers page by page (about 20,000 rows each), so a batch of a few pages keeps the
/// buffers small enough to stay in the core's cache and be reused, where a batch of a whole
/// row group copied them at every page. (The first step of a two-step read, which selects
/// the rows, still reads the row group as one batch.)
pub const SCAN_BATCH_ROWS: usize = 32 * 1024;

/// Most threads a scan uses, whatever the machine offers.
pub const SCAN_THREADS_MAX: usize = 64;

/// Most rows a query or report returns.
pub const RESULT_ROWS_MAX: usize = 1_000_000;

/// Most values one filter field accepts ("any of").
pub const FILTER_VALUES_MAX: usize = 256;

/// Longest filter value or glob pattern, in bytes.
pub const FILTER_VALUE_BYTES_MAX: usize = 4096;

/// Most entries ("top users", "top URIs") a ranked list in a report keeps.
pub const TOP_ROWS_MAX: usize = 10_000;

/// Most operations one JSON diff between two object versions holds; a larger difference is
/// reported as one whole-document replacement.
pub const DIFF_OPERATIONS_MAX: usize = 10_000;

/// Deepest JSON nesting the diff descends into before replacing the subtree whole.
pub const DIFF_DEPTH_MAX: usize = 64;

/// Largest key index (`.keys` file) read back, in bytes.
pub const KEY_INDEX_BYTES_MAX: usize = 1 << 30;

/// Most rows one segment holds (row numbers in the key index are `u32`).
pub const SEGMENT_ROWS_MAX: usize = u32::MAX as usize;

const _: () = assert!(ROW_GROUP_ROWS <= SEGMENT_ROWS_MAX);
const _: () = assert!(SCAN_BATCH_ROWS <= ROW_GROUP_ROWS);
const _: () = assert!(DATA_PAGE_BYTES <= DICTIONARY_PAGE_BYTES);
const _: () = assert!(ZSTD_LEVEL >= 1 && ZSTD_LEVEL <= 22);
const _: () = assert!(RESULT_ROWS_MAX >= TOP_ROWS_MAX);
