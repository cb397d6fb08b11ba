//! Named limits of the decoders. Every input that crosses one is reported, never silently cut.

/// Longest line a line-oriented decoder accepts. The API server writes one event per line and a
/// RequestResponse event for a large list can reach several MiB; webhook batches are 10 MiB.
pub const LINE_BYTES_MAX: usize = 32 * 1024 * 1024;

/// Largest whole JSON document (pretty-printed `EventList` or JSON array) read in one piece.
pub const DOCUMENT_BYTES_MAX: usize = 512 * 1024 * 1024;

/// Most events taken from one `EventList` or array.
pub const LIST_ITEMS_MAX: usize = 1_000_000;

/// Most source addresses kept per event. A forged `X-Forwarded-For` can make the list
/// arbitrarily long (kubernetes/kubernetes#61887); the last entries are the trustworthy ones.
pub const SOURCE_IPS_MAX: usize = 64;

/// Most raw bytes of a bad record quoted in a diagnostic message.
pub const DIAGNOSTIC_EXCERPT_BYTES_MAX: usize = 120;

/// JSON nesting depth accepted (serde_json's own recursion limit is 128).
pub const JSON_DEPTH_MAX: usize = 128;

/// Nesting depth of arrays and objects inside one value (a body, an unknown key) up to which
/// the Kubernetes peek's byte scanner reads; deeper, it leaves the record to the serde peek.
/// Real bodies nest about 15 deep (`managedFields`); at most 64 fits the scanner's bit stack.
pub const PEEK_SCAN_DEPTH_MAX: u32 = 48;

/// Groups of a user the Kubernetes peek holds without allocating (most users have one to
/// three); more go to the heap.
pub const PEEK_GROUPS_INLINE: usize = 4;

/// Most OKD request lines kept waiting for their response line. When the map is full the
/// oldest request is given up as "response missing", so memory stays bounded whatever the
/// input.
pub const OKD_PENDING_REQUESTS_MAX: usize = 65_536;

/// How long, in log time, an OKD request line waits for its response line before it is
/// given up as "response missing". Long watches log their response when headers go out, so a
/// real response never comes this late.
pub const OKD_RESPONSE_WAIT_SECONDS: i64 = 600;

/// Largest MKE line rejoined from Docker json-file fragments (Docker splits lines at 16 KiB;
/// a Request-level audit line carries the request payload).
pub const MKE_JOINED_LINE_BYTES_MAX: usize = 16 * 1024 * 1024;

const _: () = assert!(LINE_BYTES_MAX <= DOCUMENT_BYTES_MAX);
const _: () =
    assert!(PEEK_SCAN_DEPTH_MAX < u64::BITS && (PEEK_SCAN_DEPTH_MAX as usize) < JSON_DEPTH_MAX);
const _: () = assert!(PEEK_GROUPS_INLINE > 0);
const _: () = assert!(DIAGNOSTIC_EXCERPT_BYTES_MAX < 1024);
const _: () = assert!(MKE_JOINED_LINE_BYTES_MAX <= LINE_BYTES_MAX);
const _: () = assert!(OKD_PENDING_REQUESTS_MAX > 0 && OKD_RESPONSE_WAIT_SECONDS > 0);

/// Linux audit: most events held open (or complete and waiting for an older one) at once.
/// auditd keeps events open for 2 s of log time; past this many, the oldest is closed early
/// (reported) so that memory stays bounded on logs whose records never end an event.
pub const AUDITD_PENDING_EVENTS_MAX: usize = 4096;

/// Linux audit: event identities (node, time, serial) remembered per input, so that an event
/// opened by a record that came after its event was complete gets an id of its own (`#2`).
/// Late records come seconds after their event, a few thousand events at most.
pub const AUDITD_RECENT_IDENTITIES_MAX: usize = 65_536;

/// Linux audit: most records in one event. An execve with a 2 MiB argument list spans about
/// 300 EXECVE records; records beyond this are reported and dropped.
pub const AUDITD_EVENT_RECORDS_MAX: usize = 2048;

/// Linux audit: most fields read from one record. auditd writes at most 8970 bytes per record
/// (about 3000 fields at the shortest); fields beyond this are reported and ignored.
pub const AUDITD_RECORD_FIELDS_MAX: usize = 4096;

/// Linux audit: longest record line. auditd's buffer is 8970 bytes, plus the ENRICHED
/// interpretations and the node name; longer lines are reported and skipped.
pub const AUDITD_RECORD_BYTES_MAX: usize = 64 * 1024;

/// Linux audit: longest field value read (a record is shorter than this unless malformed);
/// longer values are reported and the field is ignored.
pub const AUDITD_FIELD_BYTES_MAX: usize = 32 * 1024;

/// Linux audit: most bytes of record text kept for one event.
pub const AUDITD_EVENT_BYTES_MAX: usize = 4 * 1024 * 1024;

/// Linux audit: most execve arguments rebuilt for one event.
pub const AUDITD_EXECVE_ARGS_MAX: usize = 32 * 1024;

/// Linux audit: most entries read from an operator-supplied passwd or group text.
pub const AUDITD_USER_DB_ENTRIES_MAX: usize = 1_000_000;

const _: () = assert!(AUDITD_FIELD_BYTES_MAX <= AUDITD_RECORD_BYTES_MAX);
const _: () = assert!(AUDITD_RECORD_BYTES_MAX <= AUDITD_EVENT_BYTES_MAX);
const _: () = assert!(AUDITD_EVENT_BYTES_MAX <= u32::MAX as usize);
const _: () = assert!(AUDITD_RECORD_BYTES_MAX <= LINE_BYTES_MAX);
