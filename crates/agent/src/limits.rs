//! Named limits of the agent.

use std::time::Duration;

/// Default size of the spool directory (`spool_bytes`): batches read but not yet
/// acknowledged by the server. When it is full, sources stop reading until the server
/// acknowledges (back-pressure); nothing is dropped.
pub const SPOOL_BYTES_DEFAULT: u64 = 256 * 1024 * 1024;

/// Smallest spool accepted. The spool holds at most its limit plus one batch (a batch is at
/// most `collect::limits::BATCH_BYTES_MAX` of input, as JSON lines somewhat more).
pub const SPOOL_BYTES_MIN: u64 = 1024 * 1024;

/// Spool entries kept at once, at most (besides the byte limit).
pub const SPOOL_ENTRIES_MAX: usize = 100_000;

/// Largest spool entry read back (a batch's events as JSON lines, with its header).
pub const SPOOL_ENTRY_BYTES_MAX: u64 = 64 * 1024 * 1024;

/// Largest configuration or token file read.
pub const CONFIG_FILE_BYTES_MAX: u64 = 1024 * 1024;

/// Time for one request to the server, connection included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// First wait after a failed request; doubles up to [`RETRY_WAIT_MAX`].
pub const RETRY_WAIT_MIN: Duration = Duration::from_millis(250);

/// Longest wait between retries (also the cap on a server's `Retry-After`).
pub const RETRY_WAIT_MAX: Duration = Duration::from_secs(30);

/// How often the metrics endpoint checks whether the agent is stopping.
pub const METRICS_STOP_POLL: Duration = Duration::from_millis(100);

/// How often the sender looks for a new spool entry when the spool is empty.
pub const SPOOL_POLL: Duration = Duration::from_millis(50);

/// Largest response body read from the server.
pub const RESPONSE_BYTES_MAX: u64 = 64 * 1024;

const _: () = assert!(SPOOL_BYTES_DEFAULT >= SPOOL_BYTES_MIN);
