//! Every bound of the SQL engine, named once. The command line uses the defaults of
//! [`crate::Options`]; the server passes its own, smaller ones.

use std::time::Duration;

/// Longest SQL text accepted, in bytes.
pub const QUERY_BYTES_MAX: usize = 64 * 1024;

/// Memory DataFusion's operators (sorts, aggregations, joins) may hold, in bytes. Spilling to
/// disk is off: audit data stays in the data directory, so a query that needs more fails and
/// says how to narrow it.
pub const MEMORY_BYTES_MAX: usize = 1024 * 1024 * 1024;

/// Rows an answer holds, at most; past it the answer is cut and marked truncated.
pub const ROWS_MAX: usize = 1_000_000;

/// Arrow bytes of the result batches an answer holds, at most; past it the answer is cut and
/// marked truncated. Results are not tracked by DataFusion's memory pool, so this bounds them.
pub const ANSWER_BYTES_MAX: usize = 512 * 1024 * 1024;

/// Worker threads of a query, at most, whatever the machine offers.
pub const THREADS_MAX: usize = 64;

/// Rows per record batch inside DataFusion (its own default).
pub const BATCH_ROWS: usize = 8192;

/// Names listed in an "unknown column" error, at most.
pub const SUGGESTED_COLUMNS_MAX: usize = 40;

/// How long a timed-out query's runtime gets to stop its workers before they are left to
/// finish in the background.
pub const SHUTDOWN_GRACE: Duration = Duration::from_millis(200);

const _: () = assert!(ROWS_MAX <= index::limits::RESULT_ROWS_MAX);
const _: () = assert!(ANSWER_BYTES_MAX <= MEMORY_BYTES_MAX);
