//! Named limits of the command line.

/// Bytes read from an input at a time.
pub(crate) const READ_CHUNK_BYTES: usize = 1024 * 1024;

/// Output is written in blocks of about this size.
pub(crate) const WRITE_BUFFER_BYTES: usize = 1024 * 1024;

/// Events decoded before they are handed on for policy and encoding.
pub(crate) const EVENT_BATCH_MAX: usize = 4096;

/// Diagnostics printed per run; past this only a count is given.
pub(crate) const DIAGNOSTICS_PRINTED_MAX: usize = 1000;

/// Largest policy file read.
pub(crate) const POLICY_FILE_BYTES_MAX: u64 = 16 * 1024 * 1024;

const _: () = assert!(READ_CHUNK_BYTES <= formats::limits::LINE_BYTES_MAX);

/// Largest external checkpoint or verifier key file read by `verify`.
pub(crate) const NOTE_FILE_BYTES_MAX: u64 = 64 * 1024;

/// Longest line of a server's event stream read by `query --follow` (one event as JSON).
pub(crate) const STREAM_LINE_BYTES_MAX: usize = 4 * formats::limits::LINE_BYTES_MAX;

/// Most bytes of a server's error answer read.
pub(crate) const ERROR_BODY_BYTES_MAX: u64 = 64 * 1024;

/// Largest CA, certificate or key file read.
pub(crate) const PEM_FILE_BYTES_MAX: u64 = 1024 * 1024;

/// Input handed to a decode worker of `import` at a time: whole lines, cut at the last line
/// break within this many bytes (a longer line makes a larger piece, up to
/// [`formats::limits::LINE_BYTES_MAX`]). Big enough that one piece's events make one ledger
/// batch with one fsync, small enough to keep both cores busy to the end of an input.
pub(crate) const IMPORT_PIECE_BYTES: usize = 4 * 1024 * 1024;

/// Pieces of input between reading and storing at once: queued for a worker, being decoded,
/// or decoded and waiting for their turn to be stored in input order. With the piece being
/// read and the one being stored, memory holds at most this many + 2 pieces and their
/// encoded events.
pub(crate) const IMPORT_PIECES_IN_FLIGHT: usize = 6;

/// Most decode workers of `import` (one per available core, up to this).
pub(crate) const IMPORT_WORKERS_MAX: usize = 16;

const _: () = assert!(IMPORT_PIECE_BYTES <= formats::limits::LINE_BYTES_MAX);
const _: () = assert!(IMPORT_PIECES_IN_FLIGHT >= 2);
