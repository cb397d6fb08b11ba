//! The crate's error type.

use std::path::PathBuf;

/// What went wrong while writing, reading or scanning segments.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The Parquet library refused a file or a write.
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// Arrow refused to build an array or batch.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// Events were not handed over in strictly increasing ledger order.
    #[error(
        "ledger sequence {seq} follows {previous}: events must come in increasing sequence order"
    )]
    SeqOrder {
        /// The previous sequence number.
        previous: u64,
        /// The offending one.
        seq: u64,
    },
    /// A segment holds more rows than a row number can address.
    #[error("a segment holds at most {max} rows")]
    SegmentTooLarge {
        /// The limit.
        max: usize,
    },
    /// A file is not a segment this version wrote (a column is missing or has another type).
    #[error("not an auditrail segment: {reason}")]
    Schema {
        /// What did not match.
        reason: String,
    },
    /// A row could not be turned back into an event.
    #[error("row {row} of a segment cannot be read back as an event: {reason}")]
    Row {
        /// Row number within the segment.
        row: u64,
        /// What was wrong.
        reason: String,
    },
    /// A key index file is damaged or of another version.
    #[error("key index: {reason}")]
    KeyIndex {
        /// What was wrong.
        reason: String,
    },
    /// A filter value is not acceptable.
    #[error("filter {field}: {reason}")]
    Filter {
        /// The filter field (`user`, `code`, …).
        field: &'static str,
        /// What was wrong, and what is expected.
        reason: String,
    },
    /// A scan thread panicked (a bug).
    #[error("a scan thread failed")]
    ScanThread,
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
