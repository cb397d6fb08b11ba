//! The filters of `auditrail query` and of every report.
//!
//! Semantics (what `--since 1h --user alice --verb delete` means):
//! - Time: `since <= when < until`, where `when` is [`AuditEvent::when`] (request received,
//!   else stage reached). With either bound set, an event without a time never matches.
//! - Text fields (`user`, `verb`, `resource`, `namespace`, `name`): a value is an exact,
//!   case-sensitive match, unless it contains `*`, which then matches any run of characters
//!   (`system:serviceaccount:kube-system:*`, `*alice*` for a substring). Kubernetes names
//!   are case-sensitive and admins copy them from `kubectl` output, so exact is the default
//!   and a wildcard is opt-in. `user` is the authenticated user (see the `activity` report
//!   for impersonation); an empty field (anonymous, non-resource request) never matches.
//! - `code`: an exact code (`404`) or a class (`4xx`); an event without a code never matches.
//! - `source`: the source kind.
//! - Several values of one field mean "any of"; different fields must all match.
//!
//! Invariant: the columnar scan ([`crate::Dataset`]) selects exactly the events for which
//! [`Filter::matches`] is true (checked by a property test).

use event::{AuditEvent, SourceKind, Timestamp};

use crate::error::{Error, Result};
use crate::limits::{FILTER_VALUE_BYTES_MAX, FILTER_VALUES_MAX};

/// A match on one text field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextPattern {
    /// The whole value, case-sensitive.
    Exact(String),
    /// A pattern where `*` matches any run of characters.
    Glob(String),
}

impl TextPattern {
    /// `*` anywhere makes a glob; anything else is exact.
    pub fn parse(text: &str) -> TextPattern {
        if text.contains('*') {
            TextPattern::Glob(text.to_owned())
        } else {
            TextPattern::Exact(text.to_owned())
        }
    }

    /// True when `value` matches.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            TextPattern::Exact(exact) => exact == value,
            TextPattern::Glob(glob) => glob_matches(glob.as_bytes(), value.as_bytes()),
        }
    }

    /// The exact value, when the pattern is one.
    pub fn exact(&self) -> Option<&str> {
        match self {
            TextPattern::Exact(exact) => Some(exact),
            TextPattern::Glob(_) => None,
        }
    }

    fn text(&self) -> &str {
        match self {
            TextPattern::Exact(text) | TextPattern::Glob(text) => text,
        }
    }
}

/// A match on the response code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeMatch {
    /// One code.
    Exact(u16),
    /// A class: `4` for `4xx`.
    Class(u16),
}

impl CodeMatch {
    /// Reads `404` or `4xx` (also `4XX`).
    pub fn parse(text: &str) -> Result<CodeMatch> {
        let bad = || Error::Filter {
            field: "code",
            reason: format!("{text:?} is not a code such as 404 or a class such as 4xx"),
        };
        let lower = text.to_ascii_lowercase();
        if let Some(class) = lower.strip_suffix("xx") {
            let class: u16 = class.parse().map_err(|_| bad())?;
            return (1..=9)
                .contains(&class)
                .then_some(CodeMatch::Class(class))
                .ok_or_else(bad);
        }
        let code: u16 = text.parse().map_err(|_| bad())?;
        (100..=999)
            .contains(&code)
            .then_some(CodeMatch::Exact(code))
            .ok_or_else(bad)
    }

    /// True when `code` matches.
    pub fn matches(self, code: u16) -> bool {
        match self {
            CodeMatch::Exact(exact) => code == exact,
            CodeMatch::Class(class) => code / 100 == class,
        }
    }

    /// The smallest and largest code that can match.
    pub fn range(self) -> (u16, u16) {
        match self {
            CodeMatch::Exact(exact) => (exact, exact),
            CodeMatch::Class(class) => (class * 100, class * 100 + 99),
        }
    }
}

/// What `auditrail query` and the reports select. The default selects everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Earliest time, inclusive.
    pub since: Option<Timestamp>,
    /// Latest time, exclusive.
    pub until: Option<Timestamp>,
    /// Authenticated user name.
    pub users: Vec<TextPattern>,
    /// Verb.
    pub verbs: Vec<TextPattern>,
    /// Object resource type.
    pub resources: Vec<TextPattern>,
    /// Object namespace.
    pub namespaces: Vec<TextPattern>,
    /// Object name.
    pub names: Vec<TextPattern>,
    /// Response code or class.
    pub codes: Vec<CodeMatch>,
    /// Source kind.
    pub sources: Vec<SourceKind>,
}

impl Filter {
    /// Checks the limits on values ([`FILTER_VALUES_MAX`], [`FILTER_VALUE_BYTES_MAX`]).
    pub fn validate(&self) -> Result<()> {
        let fields: [(&'static str, &[TextPattern]); 5] = [
            ("user", &self.users),
            ("verb", &self.verbs),
            ("resource", &self.resources),
            ("namespace", &self.namespaces),
            ("name", &self.names),
        ];
        for (field, patterns) in fields {
            if patterns.len() > FILTER_VALUES_MAX {
                return Err(Error::Filter {
                    field,
                    reason: format!("at most {FILTER_VALUES_MAX} values"),
                });
            }
            if patterns
                .iter()
                .any(|pattern| pattern.text().len() > FILTER_VALUE_BYTES_MAX)
            {
                return Err(Error::Filter {
                    field,
                    reason: format!("a value is longer than {FILTER_VALUE_BYTES_MAX} bytes"),
                });
            }
        }
        if self.codes.len() > FILTER_VALUES_MAX || self.sources.len() > FILTER_VALUES_MAX {
            return Err(Error::Filter {
                field: "code",
                reason: format!("at most {FILTER_VALUES_MAX} values"),
            });
        }
        Ok(())
    }

    /// True when the event is selected (the reference semantics of every scan).
    pub fn matches(&self, event: &AuditEvent) -> bool {
        if !self.time_matches(event.when()) {
            return false;
        }
        let object = event.object.as_ref();
        text_matches(&self.users, &event.user.name)
            && text_matches(&self.verbs, &event.verb)
            && text_matches(
                &self.resources,
                object.map_or("", |object| object.resource.as_str()),
            )
            && text_matches(&self.namespaces, event.namespace())
            && text_matches(
                &self.names,
                object.map_or("", |object| object.name.as_str()),
            )
            && (self.codes.is_empty()
                || event
                    .code()
                    .is_some_and(|code| self.codes.iter().any(|want| want.matches(code))))
            && (self.sources.is_empty() || self.sources.contains(&event.origin.source))
    }

    pub(crate) fn has_time(&self) -> bool {
        self.since.is_some() || self.until.is_some()
    }

    pub(crate) fn time_matches(&self, when: Option<Timestamp>) -> bool {
        if !self.has_time() {
            return true;
        }
        let Some(when) = when else {
            return false;
        };
        self.since.is_none_or(|since| when >= since) && self.until.is_none_or(|until| when < until)
    }
}

/// The filters as a person types them: the `auditrail query` flags and the query parameters
/// of `GET /api/v1/events` and `/api/v1/reports/{name}`, one parser for both so that they mean
/// the same. Each repeatable field is "any of".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterText {
    /// `since`: a duration back from now (`1h`), `today`, or an RFC 3339 time.
    pub since: Option<String>,
    /// `until`: like `since`, exclusive.
    pub until: Option<String>,
    /// `user` values.
    pub user: Vec<String>,
    /// `verb` values.
    pub verb: Vec<String>,
    /// `resource` values.
    pub resource: Vec<String>,
    /// `namespace` values.
    pub namespace: Vec<String>,
    /// `name` values.
    pub name: Vec<String>,
    /// `code` values: `404` or `4xx`.
    pub code: Vec<String>,
    /// `source` values: source kinds.
    pub source: Vec<String>,
}

impl FilterText {
    /// Adds `value` to the field called `key` (`since`, `user`, …); false when no field has
    /// that name. `since` and `until` take the last value given.
    pub fn set(&mut self, key: &str, value: &str) -> bool {
        let value = value.to_owned();
        match key {
            "since" => self.since = Some(value),
            "until" => self.until = Some(value),
            "user" => self.user.push(value),
            "verb" => self.verb.push(value),
            "resource" => self.resource.push(value),
            "namespace" => self.namespace.push(value),
            "name" => self.name.push(value),
            "code" => self.code.push(value),
            "source" => self.source.push(value),
            _ => return false,
        }
        true
    }

    /// The field names [`FilterText::set`] knows.
    pub const FIELDS: [&'static str; 9] = [
        "since",
        "until",
        "user",
        "verb",
        "resource",
        "namespace",
        "name",
        "code",
        "source",
    ];

    /// `(name, value)` pairs of every value set, in field order (for building a query string).
    pub fn pairs(&self) -> Vec<(&'static str, &str)> {
        let mut pairs = Vec::new();
        pairs.extend(self.since.as_deref().map(|value| ("since", value)));
        pairs.extend(self.until.as_deref().map(|value| ("until", value)));
        let lists: [(&'static str, &[String]); 7] = [
            ("user", &self.user),
            ("verb", &self.verb),
            ("resource", &self.resource),
            ("namespace", &self.namespace),
            ("name", &self.name),
            ("code", &self.code),
            ("source", &self.source),
        ];
        for (name, values) in lists {
            pairs.extend(values.iter().map(|value| (name, value.as_str())));
        }
        pairs
    }

    /// The [`Filter`] these values mean, relative times counted back from `now`. Errors name
    /// the field and say what is expected; the limits of [`Filter::validate`] are checked.
    pub fn parse(&self, now: Timestamp) -> Result<Filter> {
        let time = |text: &Option<String>, field: &'static str| -> Result<Option<Timestamp>> {
            text.as_deref()
                .map(|text| {
                    parse_time_bound(text, now).map_err(|error| match error {
                        Error::Filter { reason, .. } => Error::Filter { field, reason },
                        other => other,
                    })
                })
                .transpose()
        };
        let patterns = |values: &[String]| values.iter().map(|v| TextPattern::parse(v)).collect();
        let filter = Filter {
            since: time(&self.since, "since")?,
            until: time(&self.until, "until")?,
            users: patterns(&self.user),
            verbs: patterns(&self.verb),
            resources: patterns(&self.resource),
            namespaces: patterns(&self.namespace),
            names: patterns(&self.name),
            codes: self
                .code
                .iter()
                .map(|code| CodeMatch::parse(code))
                .collect::<Result<_>>()?,
            sources: self
                .source
                .iter()
                .map(|source| parse_source_kind(source))
                .collect::<Result<_>>()?,
        };
        filter.validate()?;
        Ok(filter)
    }
}

/// Every source kind, for parsing and for messages.
pub const SOURCE_KINDS: [SourceKind; 6] = [
    SourceKind::K8s,
    SourceKind::Okd,
    SourceKind::Mke,
    SourceKind::Dcos,
    SourceKind::Auditd,
    SourceKind::Auditrail,
];

/// A source kind by its name (`k8s`, `okd`, `mke`, `dcos`, `auditd`, `auditrail`).
pub fn parse_source_kind(text: &str) -> Result<SourceKind> {
    SOURCE_KINDS
        .into_iter()
        .find(|kind| kind.as_str() == text)
        .ok_or_else(|| Error::Filter {
            field: "source",
            reason: format!(
                "{:?} is not one of k8s, okd, mke, dcos, auditd, auditrail",
                text.chars().take(64).collect::<String>()
            ),
        })
}

/// True when `patterns` is empty or one of them matches a non-empty `value`.
pub(crate) fn text_matches(patterns: &[TextPattern], value: &str) -> bool {
    patterns.is_empty() || (!value.is_empty() && patterns.iter().any(|p| p.matches(value)))
}

/// Wildcard match where `*` is any run of bytes (iterative, linear in practice).
fn glob_matches(pattern: &[u8], value: &[u8]) -> bool {
    let (mut p, mut v) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while v < value.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, v));
                p += 1;
            }
            Some(byte) if *byte == value[v] => {
                p += 1;
                v += 1;
            }
            _ => match star {
                Some((star_p, star_v)) => {
                    p = star_p + 1;
                    v = star_v + 1;
                    star = Some((star_p, star_v + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|byte| *byte == b'*')
}

/// Reads a time bound the way `--since` and `--until` take it, relative to `now` (which the
/// caller reads from its clock): a duration back from `now` (`90s`, `15m`, `1h`, `7d`, `2w`),
/// `now`, `today` or `yesterday` (midnight UTC), or an RFC 3339 time.
pub fn parse_time_bound(text: &str, now: Timestamp) -> Result<Timestamp> {
    const NANOS_PER_SECOND: i64 = 1_000_000_000;
    const DAY: i64 = 86_400 * NANOS_PER_SECOND;
    let bad = || Error::Filter {
        field: "time",
        reason: format!(
            "{text:?} is not a duration (15m, 1h, 7d), now, today, yesterday or an RFC 3339 time"
        ),
    };
    let midnight = now.unix_nanos().div_euclid(DAY) * DAY;
    match text {
        "now" => return Ok(now),
        "today" => return Ok(Timestamp::from_unix_nanos(midnight)),
        "yesterday" => return Ok(Timestamp::from_unix_nanos(midnight - DAY)),
        _ => {}
    }
    let unit_at = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    if unit_at > 0 {
        let (number, unit) = text.split_at(unit_at);
        let seconds = match unit {
            "s" => Some(1),
            "m" => Some(60),
            "h" => Some(3600),
            "d" => Some(86_400),
            "w" => Some(7 * 86_400),
            _ => None,
        };
        if let (Some(seconds), Ok(number)) = (seconds, number.parse::<i64>()) {
            let back = number
                .checked_mul(seconds)
                .and_then(|total| total.checked_mul(NANOS_PER_SECOND))
                .ok_or_else(bad)?;
            return Ok(Timestamp::from_unix_nanos(
                now.unix_nanos().saturating_sub(back),
            ));
        }
    }
    Timestamp::parse(text).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_a_shell() {
        let glob = |p: &str, v: &str| TextPattern::parse(p).matches(v);
        assert!(glob("system:serviceaccount:*", "system:serviceaccount:a:b"));
        assert!(glob("*alice*", "alice@example.com"));
        assert!(glob("*@example.com", "bob@example.com"));
        assert!(!glob("*@example.com", "bob@example.org"));
        assert!(glob("a*b*c", "aXXbYYc"));
        assert!(!glob("a*b*c", "aXXbYY"));
        assert!(glob("*", ""));
        assert!(!glob("alice", "alice@example.com"));
        assert!(glob("alice", "alice"));
    }

    #[test]
    fn codes_parse_exact_and_class() {
        assert_eq!(CodeMatch::parse("404").unwrap(), CodeMatch::Exact(404));
        assert_eq!(CodeMatch::parse("4xx").unwrap(), CodeMatch::Class(4));
        assert_eq!(CodeMatch::parse("5XX").unwrap(), CodeMatch::Class(5));
        assert!(CodeMatch::parse("4x").is_err());
        assert!(CodeMatch::parse("40").is_err());
        assert!(CodeMatch::Class(4).matches(403));
        assert!(!CodeMatch::Class(4).matches(500));
    }

    #[test]
    fn time_bounds_parse_relative_to_now() {
        let now = Timestamp::parse("2025-10-07T16:19:19Z").unwrap();
        let at = |text: &str| parse_time_bound(text, now).unwrap().to_rfc3339();
        assert_eq!(at("15m"), "2025-10-07T16:04:19Z");
        assert_eq!(at("1h"), "2025-10-07T15:19:19Z");
        assert_eq!(at("7d"), "2025-09-30T16:19:19Z");
        assert_eq!(at("today"), "2025-10-07T00:00:00Z");
        assert_eq!(at("yesterday"), "2025-10-06T00:00:00Z");
        assert_eq!(at("2025-01-01T00:00:00+01:00"), "2024-12-31T23:00:00Z");
        assert!(parse_time_bound("15x", now).is_err());
        assert!(parse_time_bound("", now).is_err());
    }

    #[test]
    fn filter_text_parses_like_the_flags() {
        let now = Timestamp::parse("2025-10-07T16:19:19Z").unwrap();
        let mut text = FilterText::default();
        for (key, value) in [
            ("since", "1h"),
            ("user", "alice"),
            ("user", "bob*"),
            ("code", "4xx"),
            ("source", "auditrail"),
        ] {
            assert!(text.set(key, value));
        }
        assert!(!text.set("limit", "5"));
        let filter = text.parse(now).unwrap();
        assert_eq!(filter.since.unwrap().to_rfc3339(), "2025-10-07T15:19:19Z");
        assert_eq!(
            filter.users,
            vec![
                TextPattern::Exact("alice".to_owned()),
                TextPattern::Glob("bob*".to_owned())
            ]
        );
        assert_eq!(filter.codes, vec![CodeMatch::Class(4)]);
        assert_eq!(filter.sources, vec![SourceKind::Auditrail]);
        assert_eq!(text.pairs().len(), 5);
        let bad = |key: &str, value: &str| {
            let mut text = FilterText::default();
            text.set(key, value);
            text.parse(now).unwrap_err().to_string()
        };
        assert!(bad("until", "later").starts_with("filter until:"));
        assert!(bad("source", "syslog").starts_with("filter source:"));
        assert!(bad("code", "2x").starts_with("filter code:"));
    }
}
