//! Named limits of the collectors. Memory per source is bounded by one batch
//! ([`BATCH_BYTES_MAX`] of input and its events) plus, per open file, one partial line (the
//! decoders' `LINE_BYTES_MAX`) and the decoder's own bounded state.

use std::time::Duration;

/// Bytes of input read into one batch, at most (a batch is delivered, and its offset saved
/// once durable, before more is read). Also the unit of the agent's spool.
pub const BATCH_BYTES_MAX: usize = 4 * 1024 * 1024;

/// Events in one batch, at most.
pub const BATCH_EVENTS_MAX: usize = 8192;

/// Bytes read from a file by one `read` call.
pub const READ_CHUNK_BYTES: usize = 256 * 1024;

/// Bytes at the start of a file that identify it besides its device and inode (a reused
/// inode, or a file truncated and written again, has other first bytes).
pub const FINGERPRINT_BYTES: u64 = 1024;

/// Files tracked per source at once, at most; matching files beyond are left unread until
/// others close (reported in the log).
pub const FILES_OPEN_MAX: usize = 256;

/// File entries kept in a source's state file; beyond this the entries of files that were
/// read to their end and closed are forgotten first (a forgotten file that comes back is
/// read again, and its events deduplicated).
pub const STATE_FILES_MAX: usize = 1024;

/// Largest state file read.
pub const STATE_FILE_BYTES_MAX: u64 = 4 * 1024 * 1024;

/// Paths a source's globs may expand to in one scan, at most.
pub const GLOB_PATHS_MAX: usize = 4096;

/// How often files are checked for growth, rotation and truncation (the default of a
/// source's `poll_interval_ms`).
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// A file renamed or deleted away from every pattern is read until it has not grown for
/// this long, then closed (a writer may still finish a line into the old file).
pub const ROTATE_WAIT: Duration = Duration::from_secs(2);

/// A file that has not grown for this long has the records its decoder still holds flushed
/// (an open Linux audit event, a Docker-split line that never got its end).
pub const IDLE_FLUSH: Duration = Duration::from_secs(5);

/// The same for formats that pair lines far apart (OKD's request and response lines;
/// `auto`, which may read them): as long as the decoder's own wait in log time.
pub const IDLE_FLUSH_PAIRED: Duration =
    Duration::from_secs(formats::limits::OKD_RESPONSE_WAIT_SECONDS as u64);

/// Journal entries waiting between the `journalctl` reader thread and the source, at most
/// (a full queue stops reading the pipe, and journalctl waits).
pub const JOURNAL_QUEUE_ENTRIES: usize = 4096;

/// Longest journal entry line read from `journalctl -o json`.
pub const JOURNAL_LINE_BYTES_MAX: usize = formats::limits::LINE_BYTES_MAX;

/// Cursors kept for entries whose records a decoder still holds; beyond this the decoder is
/// flushed (OKD requests given up as "response missing").
pub const JOURNAL_CURSORS_MAX: usize = 65_536;

/// A batch of journal entries is delivered when no entry came for this long.
pub const JOURNAL_BATCH_WAIT: Duration = Duration::from_millis(200);

/// Wait before restarting `journalctl` after it ended, doubling up to [`RESTART_WAIT_MAX`].
pub const RESTART_WAIT_MIN: Duration = Duration::from_millis(500);

/// Longest wait before restarting a failed source.
pub const RESTART_WAIT_MAX: Duration = Duration::from_secs(30);

const _: () = assert!(BATCH_BYTES_MAX >= READ_CHUNK_BYTES);
