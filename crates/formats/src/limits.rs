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

const _: () = assert!(LINE_BYTES_MAX <= DOCUMENT_BYTES_MAX);
const _: () = assert!(DIAGNOSTIC_EXCERPT_BYTES_MAX < 1024);
