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
const _: () = assert!(DIAGNOSTIC_EXCERPT_BYTES_MAX < 1024);
const _: () = assert!(MKE_JOINED_LINE_BYTES_MAX <= LINE_BYTES_MAX);
const _: () = assert!(OKD_PENDING_REQUESTS_MAX > 0 && OKD_RESPONSE_WAIT_SECONDS > 0);
