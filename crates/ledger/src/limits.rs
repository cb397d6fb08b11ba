//! Named limits of the ledger, with compile-time checks of how they relate.
//!
//! Every buffer, batch and file the ledger builds or reads is bounded by one of these
//! constants. Readers check lengths read from disk against them *before* allocating, so a
//! corrupted or hostile length field yields a typed error, never an out-of-memory abort.

/// Largest single record (one leaf of the Merkle tree), in bytes.
///
/// Kubernetes truncates an audit event at 100 KiB by default; 4 MiB leaves room for
/// other sources and for generous policy limits while keeping one record far below a
/// segment.
pub const RECORD_BYTES_MAX: usize = 4 * 1024 * 1024;

/// A block is closed once its uncompressed record bytes reach this size.
///
/// storage.md §5 measured zstd level 1 on ~1 MiB blocks of audit JSON at ~11× (one
/// event alone compresses only ~2×), so records are compressed in blocks of this size.
pub const BLOCK_BYTES_TARGET: usize = 1024 * 1024;

/// Largest uncompressed payload of one block: a block holds at least one record, so a
/// record larger than [`BLOCK_BYTES_TARGET`] gets a block of its own.
pub const BLOCK_UNCOMPRESSED_BYTES_MAX: usize = RECORD_BYTES_MAX + RECORD_FRAME_BYTES;

/// Largest compressed payload of one block that a reader accepts.
///
/// zstd's worst-case expansion is a few bytes per 128 KiB, so 1/64 of slack is ample.
pub const BLOCK_COMPRESSED_BYTES_MAX: usize =
    BLOCK_UNCOMPRESSED_BYTES_MAX + BLOCK_UNCOMPRESSED_BYTES_MAX / 64 + 1024;

/// Largest number of records one block may claim to hold.
pub const BLOCK_RECORDS_MAX: usize = BLOCK_UNCOMPRESSED_BYTES_MAX / RECORD_FRAME_BYTES;

/// Bytes of framing in front of each record inside a block (a little-endian `u32` length).
pub const RECORD_FRAME_BYTES: usize = 4;

/// zstd level used for blocks (level 1: ~0.8 GB/s, ~11× on audit JSON, storage.md §5).
pub const BLOCK_ZSTD_LEVEL: i32 = 1;

/// Threads that fsync a checkpoint's new tile files concurrently (the file system then
/// batches their journal commits instead of serializing a few hundred of them).
pub const TILE_SYNC_THREADS: usize = 8;

/// The active segment is sealed, and a new one started, once its file reaches this size.
///
/// A batch is never split over two segments, so a segment file can exceed this by at
/// most one batch (see [`SEGMENT_FILE_BYTES_MAX`]).
pub const SEGMENT_BYTES_TARGET: u64 = 128 * 1024 * 1024;

/// Most records one [`crate::Ledger::append_batch`] call accepts.
pub const BATCH_RECORDS_MAX: usize = 1 << 20;

/// Most record bytes (uncompressed) one batch accepts.
pub const BATCH_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Most record bytes in one external segment appended at once
/// ([`crate::Ledger::append_external`]): the records are compared with the sealed source's
/// and hashed in memory.
pub const EXTERNAL_BATCH_BYTES_MAX: usize = 256 * 1024 * 1024;

/// Upper bound on a segment file's size that readers accept.
pub const SEGMENT_FILE_BYTES_MAX: u64 = SEGMENT_BYTES_TARGET
    + (BATCH_BYTES_MAX + BATCH_BYTES_MAX / 64 + BATCH_BYTES_MAX / BLOCK_BYTES_TARGET * 1024) as u64
    + 64 * 1024;

/// Largest signed checkpoint note the ledger writes or reads, in bytes.
pub const CHECKPOINT_BYTES_MAX: usize = 64 * 1024;

/// Most signature lines a note may carry (signed-note requires verifiers accept ≥ 16).
pub const NOTE_SIGNATURES_MAX: usize = 100;

/// Longest origin (log name) accepted, in bytes.
pub const ORIGIN_BYTES_MAX: usize = 256;

/// Hashes in a full tile (C2SP tlog-tiles: tile height 8).
pub const TILE_WIDTH: usize = 256;

/// Tile height in tree levels (`TILE_WIDTH == 1 << TILE_HEIGHT`).
pub const TILE_HEIGHT: u32 = 8;

/// Full tiles kept in the proof reader's cache.
pub const TILE_CACHE_ENTRIES_MAX: usize = 64;

/// Most segments one prune removes (and lists in its prune record); a larger backlog is
/// pruned by running the prune again.
pub const PRUNE_SEGMENTS_MAX: usize = 10_000;

/// Longest reason text a prune record carries, in bytes.
pub const PRUNE_REASON_BYTES_MAX: usize = 4096;

/// Largest tree size the ledger will grow to (the tiles' level field is 0–63 and
/// sequence numbers must fit in `u64` with room for arithmetic).
pub const TREE_SIZE_MAX: u64 = 1 << 62;

const _: () = assert!(TILE_WIDTH == 1 << TILE_HEIGHT);
const _: () = assert!(
    BLOCK_BYTES_TARGET >= 64 * 1024,
    "blocks must be big enough to compress"
);
const _: () = assert!(BLOCK_UNCOMPRESSED_BYTES_MAX >= BLOCK_BYTES_TARGET);
const _: () = assert!(BLOCK_UNCOMPRESSED_BYTES_MAX >= RECORD_BYTES_MAX + RECORD_FRAME_BYTES);
const _: () = assert!(BLOCK_COMPRESSED_BYTES_MAX <= u32::MAX as usize);
const _: () = assert!(BLOCK_UNCOMPRESSED_BYTES_MAX <= u32::MAX as usize);
const _: () = assert!(
    BATCH_BYTES_MAX >= RECORD_BYTES_MAX,
    "one record must fit in a batch"
);
const _: () = assert!((BATCH_BYTES_MAX as u64) < SEGMENT_BYTES_TARGET);
const _: () = assert!(SEGMENT_FILE_BYTES_MAX > SEGMENT_BYTES_TARGET + BATCH_BYTES_MAX as u64);
const _: () = assert!(NOTE_SIGNATURES_MAX >= 16);
const _: () = assert!(
    PRUNE_SEGMENTS_MAX * 64 + PRUNE_REASON_BYTES_MAX * 6 + 1024 < RECORD_BYTES_MAX,
    "a prune record must fit in one record"
);
const _: () = assert!(ORIGIN_BYTES_MAX < CHECKPOINT_BYTES_MAX / 4);

/// Most threads `verify` reads and hashes externalized segments on, whatever the machine
/// offers (it uses every available core up to this).
pub const VERIFY_THREADS_MAX: usize = 64;

/// Most threads [`crate::check_external`] splits one segment's check among.
pub const CHECK_THREADS_MAX: usize = 64;

/// Fewest records [`crate::check_external`] gives one thread: below that, starting a thread
/// and reading the source from midway costs more than it saves.
pub const CHECK_PART_RECORDS_MIN: usize = 8 * 1024;
