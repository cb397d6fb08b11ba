//! Named limits of the server. Every queue, body, connection and rate bound lives here; the
//! configurable ones are defaults that `[limits]` in the configuration file overrides.
//!
//! Memory is bounded by `INGEST_CONCURRENT_MAX × (BODY_BYTES_MAX + its decoded events)`: a
//! request holds an ingest slot from before its body is read until its acknowledgement, and
//! a request that finds no free slot, or a full writer queue, is refused with 503 and
//! `Retry-After` before anything is accepted.

use std::time::Duration;

/// Largest request body (kube-apiserver batches reach about 10 MiB). Larger bodies get 413.
pub const BODY_BYTES_MAX: usize = 32 * 1024 * 1024;

/// Ingest requests between reading their body and their acknowledgement, at most.
pub const INGEST_CONCURRENT_MAX: usize = 32;

/// Batches waiting for the writer thread, at most. A request that finds the queue full is
/// refused (503 with `Retry-After`).
pub const QUEUE_BATCHES_MAX: usize = 16;

/// Events merged into one ledger append by the writer (group commit), at most.
pub const GROUP_COMMIT_EVENTS_MAX: usize = 16_384;

/// Ledger records of one merged append, in bytes, at most (a batch is merged while the
/// total stays below).
pub const GROUP_COMMIT_BYTES_MAX: usize = 64 * 1024 * 1024;

/// How long a request waits for its batch to become durable before it answers 503 (the
/// batch may still be stored; a retry is deduplicated). kube-apiserver gives up after 30 s.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(25);

/// `Retry-After` of an overload answer, in seconds.
pub const RETRY_AFTER_SECONDS: u64 = 1;

/// Open client connections, at most; further connections wait to be accepted.
pub const CONNECTIONS_MAX: usize = 1024;

/// Time for a TLS handshake to complete.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Requests per second per principal (token or client certificate), sustained.
pub const RATE_REQUESTS_PER_SECOND: u32 = 1000;

/// Requests per principal in a burst above the sustained rate.
pub const RATE_BURST: u32 = 2000;

/// Principals whose rate is tracked at once; the oldest are forgotten beyond this.
pub const RATE_PRINCIPALS_MAX: usize = 10_000;

/// Largest configuration, token and PEM file read.
pub const CONFIG_FILE_BYTES_MAX: u64 = 1024 * 1024;

/// Largest policy file read.
pub const POLICY_FILE_BYTES_MAX: u64 = 16 * 1024 * 1024;

/// Tokens kept in `tokens.json`, at most.
pub const TOKENS_MAX: usize = 10_000;

/// How long shutdown waits for in-flight requests before closing their connections.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

const _: () = assert!(BODY_BYTES_MAX >= 16 * 1024 * 1024);
const _: () = assert!(QUEUE_BATCHES_MAX <= INGEST_CONCURRENT_MAX);

/// How often the token file is checked for changes (`auditrail token create` and `revoke`
/// while the server runs take effect within this time).
pub const TOKEN_RELOAD_INTERVAL: Duration = Duration::from_secs(1);

/// Checkpoints whose tiles the background checkpointer makes durable at once (the writer
/// signs the next one only after storing the last).
pub const CHECKPOINTS_IN_FLIGHT: usize = 1;

/// Work handed from the writer to the background compactor at once: one segment's
/// compaction (one at a time, oldest first: its column builders are in memory while it
/// runs) and the removal of the ledger tiles the last committed one made redundant.
pub const COMPACTION_WORK_MAX: usize = 2;

/// Finished compactions waiting for the writer to commit them, at most (the writer hands
/// out the next job only after committing the last, so this never fills).
pub const COMPACTIONS_DONE_MAX: usize = 1;

/// How long the writer waits for a batch before it looks at the compactor again when
/// nothing arrives (a finished compaction is committed within this time on an idle server).
pub const WRITER_IDLE_POLL: Duration = Duration::from_millis(100);

/// After a failed compaction, how long before the same segment is tried again.
pub const COMPACTION_RETRY_AFTER: Duration = Duration::from_secs(30);

/// How long a collector waits before offering its batch again to a full writer queue.
pub const SUBMIT_RETRY: Duration = Duration::from_millis(10);

/// Directory of the data directory where collectors keep their positions.
pub const COLLECTOR_STATE_DIR: &str = "collectors";

/// Queries (events, reports, proofs) running at once; each may use every core. A query that
/// finds no free slot within [`QUERY_SLOT_WAIT`] gets 503 with `Retry-After`.
pub const QUERY_CONCURRENT_MAX: usize = 4;

/// How long a query waits for a free slot.
pub const QUERY_SLOT_WAIT: Duration = Duration::from_secs(5);

/// Longest query string of an API request, in bytes (longer: 414).
pub const QUERY_STRING_BYTES_MAX: usize = 64 * 1024;

/// Query parameters of one request, at most.
pub const QUERY_PARAMETERS_MAX: usize = 1024;

/// Events of one `GET /api/v1/events` page when `limit` is not given.
pub const EVENTS_PAGE_DEFAULT: usize = 100;

/// Largest `limit` of one page of events.
pub const EVENTS_PAGE_MAX: usize = 10_000;

/// A page of events stops growing past this many bytes of JSON; its `next` cursor goes on
/// from the last event sent.
pub const EVENTS_PAGE_BYTES_MAX: usize = 32 * 1024 * 1024;

/// Largest `limit` (rows) and `top` of a report through the API.
pub const REPORT_ROWS_MAX: usize = 100_000;

/// Events proven by one `GET /api/v1/proof/{id}` (the stages of one request), at most.
pub const PROOF_EVENTS_MAX: usize = 64;

/// Live-tail subscribers (`GET /api/v1/events/stream`) at once.
pub const STREAM_SUBSCRIBERS_MAX: usize = 64;

/// Messages of stored records the live tail keeps for its slowest subscriber; one further
/// behind is told how many it missed.
pub const STREAM_BACKLOG_MESSAGES: usize = 128;

/// Bytes of records per live-tail message, at most (a larger single record goes alone).
/// The tail holds at most `STREAM_BACKLOG_MESSAGES × STREAM_MESSAGE_BYTES_MAX` (128 MiB).
pub const STREAM_MESSAGE_BYTES_MAX: usize = 1024 * 1024;

/// A comment line is sent on an idle stream this often, so that proxies keep it open.
pub const STREAM_KEEPALIVE: Duration = Duration::from_secs(15);

const _: () = assert!(EVENTS_PAGE_DEFAULT <= EVENTS_PAGE_MAX);

/// Longest URI (path and query string) kept in the audit record of a read; a longer one is
/// cut and the record says so.
pub const AUDIT_URI_BYTES_MAX: usize = 16 * 1024;

/// Largest `POST /api/v1/sql` body (the query, as text or `{"query": …}`). Larger get 413.
pub const SQL_BODY_BYTES_MAX: usize = 256 * 1024;

/// Characters of a SQL query kept as the name in the audit record of its read.
pub const SQL_AUDIT_CHARS_MAX: usize = 1024;

/// Rows of one SQL answer, at most; a longer answer is cut and says `"truncated": true`.
pub const SQL_ROWS_MAX: usize = 10_000;

/// Arrow bytes of one SQL answer's rows, at most (the JSON body is of the same order).
pub const SQL_ANSWER_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Memory of one SQL query's operators (sorts, aggregations, joins), at most. A SQL query
/// takes a query slot like the other queries, so all of them together stay within
/// `QUERY_CONCURRENT_MAX` times this.
pub const SQL_MEMORY_BYTES_MAX: usize = 512 * 1024 * 1024;

/// How long one SQL query may plan and run before it is stopped (400, narrow the query).
pub const SQL_TIMEOUT: Duration = Duration::from_secs(30);

const _: () = assert!(SQL_BODY_BYTES_MAX >= sql::limits::QUERY_BYTES_MAX);
const _: () = assert!(SQL_ROWS_MAX <= sql::limits::ROWS_MAX);
const _: () = assert!(SQL_MEMORY_BYTES_MAX <= sql::limits::MEMORY_BYTES_MAX);
const _: () = assert!(QUERY_CONCURRENT_MAX * SQL_MEMORY_BYTES_MAX <= 2 * 1024 * 1024 * 1024);
