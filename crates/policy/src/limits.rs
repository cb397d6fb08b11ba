//! Named limits, checked when a policy is loaded or applied.
//!
//! Every list a policy file can grow, and every size the size limit works with, has a bound
//! here so that a hostile or mistaken policy cannot make loading or evaluation unbounded. The
//! loader reports a clear error naming the limit when one is exceeded.

/// Largest policy text accepted, in bytes. Real policies are a few KiB; the GKE and OpenShift
/// defaults are under 20 KiB.
pub const POLICY_BYTES_MAX: usize = 1024 * 1024;

/// Most rules in one policy. Evaluation walks the rules in order, so this also bounds the
/// cost of evaluating one event.
pub const RULES_MAX: usize = 1024;

/// Most entries in any one list of a rule (`users`, `userGroups`, `verbs`, `namespaces`,
/// `resources`, a group's `resources` and `resourceNames`, `nonResourceURLs`).
pub const RULE_LIST_ENTRIES_MAX: usize = 1024;

/// Most patterns in `auditrail.ignoredEndpoints` or `auditrail.redactedEndpoints`, after
/// `mke-defaults` is expanded.
pub const ENDPOINT_PATTERNS_MAX: usize = 256;

/// Longest endpoint path pattern, in bytes.
pub const ENDPOINT_PATTERN_BYTES_MAX: usize = 1024;

/// Most `*` wildcards in one endpoint path pattern.
pub const ENDPOINT_PATTERN_WILDCARDS_MAX: usize = 8;

/// Most entries in `auditrail.redact.paths`.
pub const REDACT_PATHS_MAX: usize = 64;

/// Most segments (`name`, `[*]`, `*`, `["key"]`) in one `jsonPath`.
pub const JSON_PATH_DEPTH_MAX: usize = 32;

/// Longest `jsonPath`, in bytes.
pub const JSON_PATH_BYTES_MAX: usize = 1024;

/// Smallest `auditrail.maxEventBytes`: an event's fixed fields alone take a few hundred bytes.
pub const EVENT_BYTES_MIN: usize = 1024;

/// Largest `auditrail.maxEventBytes` (64 MiB). The API server's truncate backend defaults to
/// 100 KiB per event and 10 MiB per batch.
pub const EVENT_BYTES_MAX: usize = 64 * 1024 * 1024;

/// How many `sourceIPs` an oversized event keeps: the first ones (what the client claims) and
/// always the last one (the only address the server saw itself).
pub const SOURCE_IPS_TRUNCATED_KEPT: usize = 16;

/// A string cut by the size limit keeps at least this many bytes before the suffix.
pub const TRUNCATED_STRING_KEPT_MIN: usize = 64;

/// Most problems listed in one [`crate::LoadError::Invalid`]; the rest are counted.
pub const PROBLEMS_LISTED_MAX: usize = 200;

const _: () = assert!(EVENT_BYTES_MIN < EVENT_BYTES_MAX);
const _: () = assert!(TRUNCATED_STRING_KEPT_MIN * 8 < EVENT_BYTES_MIN);
const _: () = assert!(SOURCE_IPS_TRUNCATED_KEPT >= 2);
const _: () = assert!(ENDPOINT_PATTERN_BYTES_MAX <= POLICY_BYTES_MAX);
const _: () = assert!(JSON_PATH_DEPTH_MAX * 2 <= JSON_PATH_BYTES_MAX);
