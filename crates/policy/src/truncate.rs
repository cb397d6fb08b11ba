//! The size limit, `auditrail.maxEventBytes`.
//!
//! Like the API server's truncate backend, an event whose size exceeds the limit first loses
//! its request and response bodies and gains `audit.k8s.io/truncated: "true"`. Where the API
//! server would then discard the event, auditrail keeps it, because an audit trail must never
//! silently lose who did what: it caps `sourceIPs` (the first ones and always the last, the
//! only address the server saw), drops `responseStatus.details` and fields the decoder did not
//! know, then cuts the longest strings (the query of the URI, the user agent, the status
//! message, annotation values) and marks each cut with `...TRUNCATED`. The path of the URI,
//! the user, the verb and the object reference are never cut: rules match them, and they are
//! the who and the what. An event can therefore stay above the limit when those alone exceed
//! it. Size is [`AuditEvent::approximate_size`].
//!
//! Cutting is idempotent: a string is cut only while it is longer than
//! [`TRUNCATED_STRING_KEPT_MIN`] plus the suffix, and a cut string is at most that long
//! unless the event fits after the cut.

use event::{ANNOTATION_REDACTED, ANNOTATION_TRUNCATED, AuditEvent};

use crate::limits::{SOURCE_IPS_TRUNCATED_KEPT, TRUNCATED_STRING_KEPT_MIN};
use crate::redact::TRUNCATED_SUFFIX;

/// Brings `event` under `max` bytes as far as it can; true when it changed anything.
pub(crate) fn fit(event: &mut AuditEvent, max: usize) -> bool {
    if event.approximate_size() <= max {
        return false;
    }
    event.request_object = None;
    event.response_object = None;
    event
        .annotations
        .insert(ANNOTATION_TRUNCATED.to_owned(), "true".to_owned());
    if event.approximate_size() <= max {
        return true;
    }
    cap_source_ips(&mut event.source_ips);
    if let Some(status) = &mut event.status {
        status.details = None;
    }
    event.extensions.unknown.clear();
    cut_longest_strings(event, max);
    true
}

/// Keeps the first `SOURCE_IPS_TRUNCATED_KEPT - 1` addresses and the last one.
fn cap_source_ips(source_ips: &mut Vec<String>) {
    if source_ips.len() <= SOURCE_IPS_TRUNCATED_KEPT {
        return;
    }
    let last = source_ips.pop();
    source_ips.truncate(SOURCE_IPS_TRUNCATED_KEPT - 1);
    source_ips.extend(last);
}

/// A string the size limit may cut.
enum Cuttable<'a> {
    /// Cut anywhere (at a character boundary).
    Text(&'a mut String),
    /// A URI: only its query is cut, at a parameter boundary, so the path that rules and
    /// endpoint patterns match stays whole and no parameter is left half-written.
    UriQuery(&'a mut String),
}

impl Cuttable<'_> {
    fn cuttable_len(&self) -> usize {
        match self {
            Cuttable::Text(text) => text.len(),
            Cuttable::UriQuery(uri) => uri.split_once('?').map_or(0, |(_, query)| query.len()),
        }
    }

    /// Cuts so that the cuttable part shrinks by about `excess` bytes, but keeps at least
    /// [`TRUNCATED_STRING_KEPT_MIN`] bytes before the suffix.
    fn cut(self, excess: usize) {
        let length = self.cuttable_len();
        let kept = length
            .saturating_sub(excess.saturating_add(TRUNCATED_SUFFIX.len()))
            .max(TRUNCATED_STRING_KEPT_MIN);
        match self {
            Cuttable::Text(text) => {
                let mut boundary = kept.min(text.len());
                while !text.is_char_boundary(boundary) {
                    boundary -= 1;
                }
                text.truncate(boundary);
                text.push_str(TRUNCATED_SUFFIX);
            }
            Cuttable::UriQuery(uri) => {
                let Some(query_at) = uri.find('?').map(|at| at + 1) else {
                    return;
                };
                let query = uri.get(query_at..).unwrap_or_default();
                // Whole parameters that fit in `kept - 1` bytes, then `&` and the suffix.
                let keep_params = query
                    .match_indices('&')
                    .map(|(at, _)| at)
                    .take_while(|at| *at < kept)
                    .last();
                match keep_params {
                    Some(end) => {
                        uri.truncate(query_at + end + 1);
                    }
                    None => uri.truncate(query_at),
                }
                uri.push_str(TRUNCATED_SUFFIX);
            }
        }
    }
}

fn cut_longest_strings(event: &mut AuditEvent, max: usize) {
    // Each round either makes the event fit or leaves one more string at its minimum, so the
    // number of candidates bounds the rounds; the cap is a second guard.
    let rounds_max = 3 + event.annotations.len();
    for _ in 0..rounds_max {
        let size = event.approximate_size();
        if size <= max {
            return;
        }
        let excess = size - max;
        let AuditEvent {
            uri,
            user_agent,
            status,
            annotations,
            ..
        } = event;
        let mut candidates: Vec<Cuttable<'_>> = vec![Cuttable::UriQuery(uri)];
        candidates.extend(user_agent.as_mut().map(Cuttable::Text));
        candidates.extend(
            status
                .as_mut()
                .map(|status| Cuttable::Text(&mut status.message)),
        );
        candidates.extend(
            annotations
                .iter_mut()
                .filter(|(key, _)| *key != ANNOTATION_TRUNCATED && *key != ANNOTATION_REDACTED)
                .map(|(_, value)| Cuttable::Text(value)),
        );
        let longest = candidates
            .into_iter()
            .filter(|candidate| {
                candidate.cuttable_len() > TRUNCATED_STRING_KEPT_MIN + TRUNCATED_SUFFIX.len()
            })
            .max_by_key(Cuttable::cuttable_len);
        match longest {
            Some(candidate) => candidate.cut(excess),
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use event::{RawJson, ResponseStatus};

    use super::*;

    fn big_event() -> AuditEvent {
        AuditEvent {
            uri: format!(
                "/api/v1/pods?{}",
                (0..200)
                    .map(|i| format!("p{i}=v"))
                    .collect::<Vec<_>>()
                    .join("&")
            ),
            user_agent: Some("ü".repeat(3000)),
            status: Some(ResponseStatus {
                message: "m".repeat(5000),
                ..ResponseStatus::default()
            }),
            source_ips: (0..100).map(|i| format!("10.0.0.{i}")).collect(),
            request_object: RawJson::from_string(format!("\"{}\"", "x".repeat(10_000))).ok(),
            ..AuditEvent::default()
        }
    }

    #[test]
    fn small_events_are_untouched() {
        let mut event = AuditEvent::default();
        assert!(!fit(&mut event, 2048));
        assert_eq!(event, AuditEvent::default());
    }

    #[test]
    fn bodies_go_first() {
        let mut event = AuditEvent {
            request_object: RawJson::from_string(format!("\"{}\"", "x".repeat(5000))).ok(),
            ..AuditEvent::default()
        };
        assert!(fit(&mut event, 2048));
        assert!(event.request_object.is_none());
        assert_eq!(event.annotations[ANNOTATION_TRUNCATED], "true");
    }

    #[test]
    fn strings_are_cut_until_the_event_fits_and_a_second_pass_changes_nothing() {
        let mut event = big_event();
        assert!(fit(&mut event, 4096));
        assert!(
            event.approximate_size() <= 4096,
            "{}",
            event.approximate_size()
        );
        assert_eq!(event.source_ips.len(), SOURCE_IPS_TRUNCATED_KEPT);
        assert_eq!(
            event.source_ips.last().map(String::as_str),
            Some("10.0.0.99")
        );
        assert!(
            event
                .status
                .as_ref()
                .unwrap()
                .message
                .ends_with(TRUNCATED_SUFFIX)
        );
        assert!(event.uri.starts_with("/api/v1/pods?"));
        let once = event.clone();
        fit(&mut event, 4096);
        assert_eq!(event, once);
    }

    #[test]
    fn an_event_whose_identity_alone_is_too_big_is_kept_at_its_minimum() {
        let mut event = big_event();
        event.user.name = "u".repeat(5000);
        assert!(fit(&mut event, 1024));
        assert!(event.approximate_size() > 1024);
        assert_eq!(event.user.name.len(), 5000);
        let query = event.uri.split_once('?').unwrap().1;
        assert!(
            query.len() <= TRUNCATED_STRING_KEPT_MIN + TRUNCATED_SUFFIX.len(),
            "{query}"
        );
        assert!(query.ends_with(TRUNCATED_SUFFIX));
        let user_agent = event.user_agent.as_ref().unwrap();
        assert!(user_agent.len() <= TRUNCATED_STRING_KEPT_MIN + TRUNCATED_SUFFIX.len());
        let once = event.clone();
        fit(&mut event, 1024);
        assert_eq!(event, once);
    }

    #[test]
    fn query_cuts_keep_whole_parameters() {
        let mut uri = "/p?command=%3Credacted%3E&aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=1".to_owned();
        Cuttable::UriQuery(&mut uri).cut(1000);
        assert_eq!(uri, "/p?command=%3Credacted%3E&...TRUNCATED");
        let mut single = format!("/p?x={}", "y".repeat(500));
        Cuttable::UriQuery(&mut single).cut(1000);
        assert_eq!(single, "/p?...TRUNCATED");
    }
}
