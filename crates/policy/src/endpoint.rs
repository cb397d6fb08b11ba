//! Endpoint patterns: `auditrail.ignoredEndpoints` and `auditrail.redactedEndpoints`.
//!
//! A pattern is matched against the request path without its query. `*` matches any run of
//! characters inside one path segment (never a `/`), except a `*` that ends the pattern, which
//! matches any rest of the path, `/` included. A pattern without `*` but at its end is the
//! Kubernetes `nonResourceURLs` form (plain string prefix), so the MKE list `"/version*"` means
//! what it means there; `/secrets/*/update` matches `/secrets/abc/update` only.

use std::collections::HashMap;

use event::AuditEvent;

/// The endpoints Mirantis MKE (and Docker UCP before it) never writes to its audit log.
/// `mke-defaults` in `auditrail.ignoredEndpoints` stands for this list.
pub const MKE_IGNORED_ENDPOINTS: &[&str] = &[
    "/_ping",
    "/ca",
    "/auth",
    "/trustedregistryca",
    "/kubeauth",
    "/metrics",
    "/info",
    "/version*",
    "/debug",
    "/openid_keys",
    "/apidocs",
    "/kubernetesdocs",
    "/manage",
];

/// The endpoints whose payload MKE removes from its audit log, plus the same Docker API paths
/// behind a version prefix (`/v1.41/secrets/create`), which Docker clients normally send.
/// `mke-defaults` in `auditrail.redactedEndpoints` stands for this list. (MKE also redacts
/// Kubernetes Secret create and update; `auditrail.redact.secrets` covers those.)
pub const MKE_REDACTED_ENDPOINTS: &[&str] = &[
    "POST /secrets/create",
    "POST /secrets/*/update",
    "POST /swarm/join",
    "POST /swarm/update",
    "POST /auth/login",
    "POST /v*/secrets/create",
    "POST /v*/secrets/*/update",
    "POST /v*/swarm/join",
    "POST /v*/swarm/update",
];

/// The keyword that expands to the MKE list in either endpoint list.
pub(crate) const MKE_DEFAULTS: &str = "mke-defaults";

/// A compiled path pattern.
#[derive(Debug, Clone)]
pub(crate) struct PathPattern {
    text: Box<str>,
    kind: PatternKind,
}

#[derive(Debug, Clone)]
enum PatternKind {
    /// No `*` at all.
    Exact,
    /// A single `*`, at the end: plain string prefix.
    Prefix(Box<str>),
    /// `*` inside segments. The pattern is split on `/`; when `open_end`, the pattern ended in
    /// `*`, and path segments after the last pattern segment are accepted.
    Glob {
        segments: Box<[Box<str>]>,
        open_end: bool,
    },
}

/// Why a pattern is not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PatternError {
    NoLeadingSlash,
    HasQuery,
    TooLong,
    TooManyWildcards,
}

impl PathPattern {
    pub(crate) fn parse(text: &str) -> Result<PathPattern, PatternError> {
        if !text.starts_with('/') {
            return Err(PatternError::NoLeadingSlash);
        }
        if text.contains('?') {
            return Err(PatternError::HasQuery);
        }
        if text.len() > crate::limits::ENDPOINT_PATTERN_BYTES_MAX {
            return Err(PatternError::TooLong);
        }
        let wildcards = text.bytes().filter(|byte| *byte == b'*').count();
        if wildcards > crate::limits::ENDPOINT_PATTERN_WILDCARDS_MAX {
            return Err(PatternError::TooManyWildcards);
        }
        let kind = match text.strip_suffix('*') {
            None if wildcards == 0 => PatternKind::Exact,
            Some(prefix) if wildcards == 1 => PatternKind::Prefix(prefix.into()),
            // The segments of the text as written: a trailing `*` stays on the last segment,
            // where it absorbs the rest of that segment, and `open_end` accepts the rest.
            stripped => PatternKind::Glob {
                segments: text.split('/').map(Box::from).collect(),
                open_end: stripped.is_some(),
            },
        };
        Ok(PathPattern {
            text: text.into(),
            kind,
        })
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    pub(crate) fn matches(&self, path: &str) -> bool {
        match &self.kind {
            PatternKind::Exact => *self.text == *path,
            PatternKind::Prefix(prefix) => path.starts_with(&**prefix),
            PatternKind::Glob { segments, open_end } => glob_matches(segments, *open_end, path),
        }
    }

    fn is_exact(&self) -> bool {
        matches!(self.kind, PatternKind::Exact)
    }
}

fn glob_matches(segments: &[Box<str>], open_end: bool, path: &str) -> bool {
    let mut path_segments = path.split('/');
    for segment in segments {
        let Some(path_segment) = path_segments.next() else {
            return false;
        };
        if !wildcard_matches(segment.as_bytes(), path_segment.as_bytes()) {
            return false;
        }
    }
    open_end || path_segments.next().is_none()
}

/// Classic `*`-only wildcard matching with one backtrack point; linear in practice.
fn wildcard_matches(pattern: &[u8], text: &[u8]) -> bool {
    let (mut pattern_at, mut text_at) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while text_at < text.len() {
        match pattern.get(pattern_at) {
            Some(b'*') => {
                backtrack = Some((pattern_at, text_at));
                pattern_at += 1;
            }
            Some(byte) if Some(byte) == text.get(text_at) => {
                pattern_at += 1;
                text_at += 1;
            }
            _ => match backtrack {
                Some((star_at, star_text_at)) => {
                    pattern_at = star_at + 1;
                    text_at = star_text_at + 1;
                    backtrack = Some((star_at, star_text_at + 1));
                }
                None => return false,
            },
        }
    }
    pattern
        .get(pattern_at..)
        .unwrap_or_default()
        .iter()
        .all(|byte| *byte == b'*')
}

/// `auditrail.ignoredEndpoints`, compiled: exact paths in a hash map, the rest scanned.
#[derive(Debug, Clone, Default)]
pub(crate) struct IgnoredEndpoints {
    /// Every pattern in the order given, `mke-defaults` expanded.
    patterns: Box<[PathPattern]>,
    /// Exact patterns by path, to their index in `patterns`.
    exact: HashMap<Box<str>, usize>,
    /// Indexes of the non-exact patterns.
    wildcard: Box<[usize]>,
}

impl IgnoredEndpoints {
    pub(crate) fn new(patterns: Vec<PathPattern>) -> IgnoredEndpoints {
        let mut exact = HashMap::new();
        let mut wildcard = Vec::new();
        for (index, pattern) in patterns.iter().enumerate() {
            if pattern.is_exact() {
                exact.entry(pattern.text.clone()).or_insert(index);
            } else {
                wildcard.push(index);
            }
        }
        IgnoredEndpoints {
            patterns: patterns.into(),
            exact,
            wildcard: wildcard.into(),
        }
    }

    /// The index of the first pattern (in list order) that matches `path`.
    pub(crate) fn find(&self, path: &str) -> Option<usize> {
        if self.patterns.is_empty() {
            return None;
        }
        let exact = self.exact.get(path).copied();
        let wildcard = self
            .wildcard
            .iter()
            .copied()
            .take_while(|index| exact.is_none_or(|exact| *index < exact))
            .find(|index| {
                self.patterns
                    .get(*index)
                    .is_some_and(|pattern| pattern.matches(path))
            });
        wildcard.or(exact)
    }

    pub(crate) fn pattern(&self, index: usize) -> Option<&str> {
        self.patterns.get(index).map(PathPattern::as_str)
    }

    pub(crate) fn len(&self) -> usize {
        self.patterns.len()
    }
}

/// One `auditrail.redactedEndpoints` entry.
#[derive(Debug, Clone)]
pub(crate) struct RedactedEndpoint {
    /// Upper case; `None` matches any method.
    method: Option<Box<str>>,
    pattern: PathPattern,
}

impl RedactedEndpoint {
    pub(crate) fn new(method: Option<String>, pattern: PathPattern) -> RedactedEndpoint {
        RedactedEndpoint {
            method: method.map(|method| method.to_ascii_uppercase().into_boxed_str()),
            pattern,
        }
    }

    /// The method is compared with `event.method`, or with the verb when the source recorded
    /// no method (Docker API and DC/OS verbs are lower-cased methods), ignoring case.
    pub(crate) fn matches(&self, event: &AuditEvent) -> bool {
        if let Some(method) = &self.method {
            let event_method = event.method.as_deref().unwrap_or(&event.verb);
            if !method.eq_ignore_ascii_case(event_method) {
                return false;
            }
        }
        self.pattern.matches(event.path())
    }
}

/// Splits `[METHOD ]PATH` into its parts.
pub(crate) fn split_method(text: &str) -> (Option<&str>, &str) {
    match text.split_once(' ') {
        Some((method, path)) => (Some(method), path.trim_start()),
        None => (None, text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, path: &str) -> bool {
        PathPattern::parse(pattern).unwrap().matches(path)
    }

    #[test]
    fn exact_and_trailing_prefix_like_non_resource_urls() {
        assert!(matches("/_ping", "/_ping"));
        assert!(!matches("/_ping", "/_ping/x"));
        assert!(matches("/version*", "/version"));
        assert!(matches("/version*", "/versions/x"));
        assert!(matches("/version*", "/version/x"));
        assert!(!matches("/version*", "/v1.41/version"));
        assert!(matches("/logs/*", "/logs/"));
        assert!(matches("/logs/*", "/logs/a/b"));
        assert!(!matches("/logs/*", "/logs"));
    }

    #[test]
    fn inner_wildcards_stay_within_one_segment() {
        assert!(matches("/secrets/*/update", "/secrets/abc/update"));
        assert!(!matches("/secrets/*/update", "/secrets/a/b/update"));
        assert!(!matches("/secrets/*/update", "/secrets/abc/update/x"));
        assert!(matches("/secrets/*/update", "/secrets//update"));
        assert!(matches("/v*/secrets/create", "/v1.41/secrets/create"));
        assert!(!matches("/v*/secrets/create", "/secrets/create"));
        assert!(matches("/a*b*c/x", "/aXbYbZc/x"));
        assert!(!matches("/a*b*c/x", "/aXbYbZ/x"));
    }

    #[test]
    fn inner_and_trailing_wildcards_combine() {
        assert!(matches("/v*/containers/*", "/v1.41/containers/abc/json"));
        assert!(matches("/v*/info*", "/v1.41/info"));
        assert!(matches("/v*/info*", "/v1.41/infos/x"));
        assert!(!matches("/v*/info*", "/v1.41/inf"));
        assert!(!matches("/v*/info*", "/x1/info"));
    }

    #[test]
    fn invalid_patterns() {
        assert_eq!(
            PathPattern::parse("healthz").unwrap_err(),
            PatternError::NoLeadingSlash
        );
        assert_eq!(
            PathPattern::parse("/a?b=1").unwrap_err(),
            PatternError::HasQuery
        );
        assert_eq!(
            PathPattern::parse("/*/*/*/*/*/*/*/*/*").unwrap_err(),
            PatternError::TooManyWildcards
        );
        let long = format!("/{}", "a".repeat(2000));
        assert_eq!(
            PathPattern::parse(&long).unwrap_err(),
            PatternError::TooLong
        );
    }

    #[test]
    fn ignored_endpoints_report_the_first_matching_pattern() {
        let patterns = ["/metrics*", "/metrics", "/a", "/b*"]
            .iter()
            .map(|text| PathPattern::parse(text).unwrap())
            .collect();
        let ignored = IgnoredEndpoints::new(patterns);
        assert_eq!(ignored.find("/metrics"), Some(0));
        assert_eq!(ignored.find("/a"), Some(2));
        assert_eq!(ignored.find("/bx"), Some(3));
        assert_eq!(ignored.find("/c"), None);
        assert_eq!(ignored.pattern(3), Some("/b*"));
        assert_eq!(ignored.len(), 4);
    }

    #[test]
    fn mke_defaults_are_valid_patterns() {
        for text in MKE_IGNORED_ENDPOINTS {
            PathPattern::parse(text).unwrap();
        }
        for text in MKE_REDACTED_ENDPOINTS {
            let (method, path) = split_method(text);
            assert_eq!(method, Some("POST"));
            PathPattern::parse(path).unwrap();
        }
    }

    #[test]
    fn redacted_endpoint_method_falls_back_to_the_verb() {
        let endpoint = RedactedEndpoint::new(
            Some("post".into()),
            PathPattern::parse("/auth/login").unwrap(),
        );
        let mut event = AuditEvent {
            uri: "/auth/login?x=1".into(),
            ..AuditEvent::default()
        };
        event.verb = "post".into();
        assert!(endpoint.matches(&event));
        event.method = Some("GET".into());
        assert!(!endpoint.matches(&event));
        event.method = Some("POST".into());
        assert!(endpoint.matches(&event));
        let any_method = RedactedEndpoint::new(None, PathPattern::parse("/auth/*").unwrap());
        event.method = Some("PUT".into());
        assert!(any_method.matches(&event));
    }
}
