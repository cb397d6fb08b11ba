//! The ledger's operating errors. Tampering found by `verify` is not an error but a
//! [`crate::Finding`]; these are the failures that stop an operation.

use std::io;

use crate::note::NoteError;

/// An operation on the ledger failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O call failed (other than running out of space).
    #[error("i/o error on {path}: {source}")]
    Io {
        /// Path relative to the ledger root.
        path: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The disk is full. Nothing acknowledged was damaged; the failed batch was not
    /// stored, and appends succeed again once space is freed.
    #[error("no space left writing {path}")]
    StorageFull {
        /// Path relative to the ledger root.
        path: String,
    },
    /// A file the ledger needs is damaged beyond what crash recovery repairs.
    #[error("corrupt {path} at byte {offset}: {reason}")]
    Corrupt {
        /// Path relative to the ledger root.
        path: String,
        /// Byte offset of the damage.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The store holds fewer records than its latest signed checkpoint: records were
    /// removed (truncation or rollback). The ledger refuses to append, because signing a
    /// new checkpoint would fork the log; run `verify` to locate the loss.
    #[error("store holds {tree_size} records but checkpoint covers {checkpoint_size}")]
    BehindCheckpoint {
        /// Size of the latest stored checkpoint.
        checkpoint_size: u64,
        /// Records found.
        tree_size: u64,
    },
    /// A record exceeds [`crate::limits::RECORD_BYTES_MAX`].
    #[error("record {index} of the batch has {len} bytes, more than the limit {max}")]
    RecordTooLarge {
        /// Position in the batch.
        index: usize,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A batch exceeds [`crate::limits::BATCH_RECORDS_MAX`] or
    /// [`crate::limits::BATCH_BYTES_MAX`].
    #[error("batch of {records} records and {bytes} bytes exceeds the limits")]
    BatchTooLarge {
        /// Records in the batch.
        records: usize,
        /// Bytes in the batch.
        bytes: usize,
    },
    /// The requested sequence number is not stored.
    #[error("no record {seq}: the ledger holds {size} records")]
    NoSuchRecord {
        /// Requested sequence number.
        seq: u64,
        /// Records stored.
        size: u64,
    },
    /// The requested record was removed by a prune.
    #[error("record {seq} was pruned: the ledger keeps records from {first_seq} on")]
    Pruned {
        /// Requested sequence number.
        seq: u64,
        /// First record still stored.
        first_seq: u64,
    },
    /// A prune was asked for a point it cannot prune to.
    #[error("cannot prune before record {before_seq}: {reason}")]
    PruneRange {
        /// The requested prune point.
        before_seq: u64,
        /// Why not.
        reason: String,
    },
    /// A subtree outside the current tree was requested.
    #[error("tree range starting at {start} is outside the tree of size {size}")]
    TreeRange {
        /// First leaf requested.
        start: u64,
        /// Tree size.
        size: u64,
    },
    /// No checkpoint covers the record yet; call [`crate::Ledger::checkpoint`] first.
    #[error("no checkpoint covers record {seq} yet")]
    NotCheckpointed {
        /// The record.
        seq: u64,
    },
    /// A key, note or checkpoint is invalid.
    #[error(transparent)]
    Note(#[from] NoteError),
    /// A segment checked for externalization (`check_sealed`) is no longer that sealed
    /// segment file (pruned or externalized meanwhile); nothing was changed.
    #[error("{path} is no longer the sealed segment that was checked; compact it again")]
    SegmentChanged {
        /// The segment (path relative to the ledger root).
        path: String,
    },
    /// The caller asked the operation to stop (a shutdown); nothing was changed.
    #[error("cancelled")]
    Cancelled,
    /// The configuration is invalid.
    #[error("invalid configuration: {reason}")]
    Config {
        /// What is wrong.
        reason: String,
    },
    /// The signing key's name differs from the configured origin.
    #[error("signing key is for {key_name:?} but the ledger origin is {origin:?}")]
    KeyOriginMismatch {
        /// Name in the key.
        key_name: String,
        /// Configured origin.
        origin: String,
    },
    /// The signing key does not match the store's `verifier.key`, or `signing.key` is
    /// missing from a store that already has one: the existing checkpoints would no
    /// longer verify. Key rotation is not supported yet; restore the original key.
    #[error("signing key does not match the store's verifier key {expected}")]
    KeyMismatch {
        /// The verifier key already in the store.
        expected: String,
    },
    /// The ledger was poisoned by an earlier failure it could not undo; reopen it.
    #[error("ledger needs reopening after an unrecoverable write failure")]
    Poisoned,
    /// Randomness for a new key was unavailable.
    #[error("no operating-system randomness for a new key: {message}")]
    Randomness {
        /// The error from the OS.
        message: String,
    },
}

impl Error {
    /// Wrap an I/O error, turning ENOSPC into [`Error::StorageFull`].
    pub(crate) fn io(path: &str, source: io::Error) -> Error {
        if source.kind() == io::ErrorKind::StorageFull {
            Error::StorageFull {
                path: path.to_owned(),
            }
        } else {
            Error::Io {
                path: path.to_owned(),
                source,
            }
        }
    }
}
