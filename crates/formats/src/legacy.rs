//! The API server log backend's `legacy` one-line format (`--audit-log-format=legacy`):
//!
//! ```text
//! 2025-10-07T16:19:19.643609Z AUDIT: id="…" stage="ResponseComplete" ip="10.0.0.1" method="get" user="alice" groups="\"dev\",\"system:authenticated\"" as="<self>" asgroups="<lookup>" user-agent="kubectl/v1.31.0" namespace="default" uri="/api/v1/namespaces/default/pods" response="200"
//! ```
//!
//! Every value is Go `%q` quoted; `groups`/`asgroups` are quoted lists quoted again; the
//! sentinels `<none>`, `<self>`, `<lookup>`, `<unknown>` and `<deferred>` mean absent. The
//! prefix before `AUDIT:` may hold the time alone or a glog/journal header; the time is the
//! last token of the prefix that reads as RFC 3339. The URI is resolved into an object as the
//! API server would (the format does not carry the API group or resource).

use event::{Actor, AuditEvent, Origin, ResponseStatus, Stage, Timestamp};

use crate::diagnostic::{Diagnostic, excerpt};
use crate::goquote::{split_quoted_list, unquote_prefix};
use crate::request_info;

/// The marker that starts the key/value part of a legacy line.
pub const MARKER: &[u8] = b"AUDIT: ";

/// True when `line` looks like a legacy audit line.
pub fn detect(line: &[u8]) -> bool {
    memchr::memmem::find(line, MARKER).is_some()
}

/// One `key=value` pair of a legacy line, value unquoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The key (`id`, `stage`, `user-agent`, …).
    pub key: String,
    /// The unquoted value.
    pub value: String,
}

/// Splits the text after `AUDIT: ` into fields. Values are Go-quoted strings or bare tokens.
pub fn fields(mut rest: &[u8]) -> Result<Vec<Field>, String> {
    let mut fields = Vec::with_capacity(12);
    loop {
        while let Some((b' ' | b'\t' | b'\r' | b'\n', tail)) = rest.split_first() {
            rest = tail;
        }
        if rest.is_empty() {
            return Ok(fields);
        }
        let Some(equals) = memchr::memchr(b'=', rest) else {
            return Err(format!("expected key=value, got {:?}", excerpt(rest)));
        };
        let key = String::from_utf8_lossy(&rest[..equals]).into_owned();
        if key.is_empty()
            || key
                .bytes()
                .any(|byte| !(byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_'))
        {
            return Err(format!("invalid key {:?}", excerpt(&rest[..equals])));
        }
        rest = &rest[equals + 1..];
        let value = if rest.first() == Some(&b'"') {
            let (value, used) = unquote_prefix(rest).map_err(|error| format!("{key}: {error}"))?;
            rest = &rest[used..];
            value
        } else {
            let end = memchr::memchr(b' ', rest).unwrap_or(rest.len());
            let value = String::from_utf8_lossy(&rest[..end]).into_owned();
            rest = &rest[end..];
            value
        };
        fields.push(Field { key, value });
    }
}

/// The time in the text before `AUDIT:`: the last whitespace-separated token that reads as
/// RFC 3339 (journal and glog headers come before it).
pub fn prefix_time(prefix: &[u8]) -> Option<Timestamp> {
    let text = String::from_utf8_lossy(prefix);
    text.split_ascii_whitespace()
        .rev()
        .find_map(|token| Timestamp::parse(token).ok())
}

/// Decodes one legacy line. Appends the event or a diagnostic.
pub fn decode(
    line: &[u8],
    origin: &Origin,
    events: &mut Vec<AuditEvent>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let line_number = origin.line.unwrap_or(0);
    let offset = origin.offset.unwrap_or(0);
    let Some(marker) = memchr::memmem::find(line, MARKER) else {
        diagnostics.push(Diagnostic::error(
            line_number,
            offset,
            format!(
                "not a legacy audit line (no \"AUDIT: \"): {}",
                excerpt(line)
            ),
        ));
        return;
    };
    let fields = match fields(&line[marker + MARKER.len()..]) {
        Ok(fields) => fields,
        Err(message) => {
            diagnostics.push(Diagnostic::error(
                line_number,
                offset,
                format!("invalid legacy audit line ({message}): {}", excerpt(line)),
            ));
            return;
        }
    };
    let mut event = AuditEvent {
        origin: origin.clone(),
        ..AuditEvent::default()
    };
    event.time = prefix_time(&line[..marker]);
    let mut warnings = Vec::new();
    let mut namespace = None;
    let mut impersonated_groups = None;
    for Field { key, value } in fields {
        match key.as_str() {
            "id" => event.id = value,
            "stage" => match value.parse::<Stage>() {
                Ok(stage) => event.stage = Some(stage),
                Err(error) => warnings.push(error.to_string()),
            },
            "ip" => {
                if value != "<unknown>" && !value.is_empty() {
                    event.source_ips.push(value);
                }
            }
            "method" => event.verb = value,
            "user" => {
                if value != "<none>" {
                    event.user.name = value;
                }
            }
            "groups" => {
                if value != "<none>" {
                    match split_quoted_list(&value) {
                        Ok(groups) => event.user.groups = Some(groups),
                        Err(error) => warnings.push(format!("groups: {error}")),
                    }
                }
            }
            "as" => {
                if value != "<self>" {
                    event.impersonated_user = Some(Actor {
                        name: value,
                        ..Actor::default()
                    });
                }
            }
            "asgroups" => {
                if value != "<lookup>" {
                    match split_quoted_list(&value) {
                        Ok(groups) => impersonated_groups = Some(groups),
                        Err(error) => warnings.push(format!("asgroups: {error}")),
                    }
                }
            }
            "user-agent" => event.user_agent = Some(value),
            "namespace" => {
                if value != "<none>" {
                    namespace = Some(value);
                }
            }
            "uri" => event.uri = value,
            "response" => {
                if value != "<deferred>" {
                    match value.parse::<u16>() {
                        Ok(code) => {
                            event.status = Some(ResponseStatus {
                                code: Some(code),
                                ..ResponseStatus::default()
                            });
                        }
                        Err(_) => warnings.push(format!("response: not a status code: {value:?}")),
                    }
                }
            }
            other => warnings.push(format!("unknown field {other:?} ignored")),
        }
    }
    if let Some(groups) = impersonated_groups {
        event
            .impersonated_user
            .get_or_insert_with(Actor::default)
            .groups = Some(groups);
    }
    if event.id.is_empty() && event.uri.is_empty() {
        diagnostics.push(Diagnostic::error(
            line_number,
            offset,
            format!("legacy audit line without id or uri: {}", excerpt(line)),
        ));
        return;
    }
    let info = request_info::parse(&event.uri);
    event.object = info.object;
    if let (Some(namespace), Some(object)) = (namespace, event.object.as_mut()) {
        object.namespace = namespace;
    }
    if event.stage == Some(Stage::RequestReceived) {
        event.stage_time = event.time;
    }
    event.outcome = AuditEvent::outcome_from_http(event.code(), None);
    for message in warnings {
        diagnostics.push(Diagnostic::warning(line_number, offset, message));
    }
    events.push(event);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_field_and_sentinel() {
        let line = br#"2025-10-07T16:19:19.643609Z AUDIT: id="7f6d" stage="ResponseComplete" ip="10.0.0.7" method="get" user="alice" groups="\"dev\",\"system:authenticated\"" as="bob" asgroups="<lookup>" user-agent="kubectl/v1.31.0 (linux/amd64)" namespace="default" uri="/api/v1/namespaces/default/pods/web-1" response="200""#;
        let mut events = Vec::new();
        let mut diagnostics = Vec::new();
        decode(line, &Origin::default(), &mut events, &mut diagnostics);
        assert_eq!(diagnostics, vec![]);
        let event = &events[0];
        assert_eq!(event.id, "7f6d");
        assert_eq!(event.stage, Some(Stage::ResponseComplete));
        assert_eq!(event.user.name, "alice");
        assert_eq!(event.user.group_list(), ["dev", "system:authenticated"]);
        assert_eq!(event.impersonated_user.as_ref().unwrap().name, "bob");
        assert_eq!(event.impersonated_user.as_ref().unwrap().groups, None);
        assert_eq!(event.code(), Some(200));
        let object = event.object.as_ref().unwrap();
        assert_eq!(
            (object.resource.as_str(), object.name.as_str()),
            ("pods", "web-1")
        );
        assert_eq!(
            event.time.unwrap().to_micro_string(),
            "2025-10-07T16:19:19.643609Z"
        );
    }

    #[test]
    fn deferred_response_and_anonymous_user() {
        let line = br#"I1007 16:19:19.643609 1 audit.go:1] 2025-10-07T12:19:19.5-04:00 AUDIT: id="x" stage="RequestReceived" ip="<unknown>" method="get" user="<none>" groups="<none>" as="<self>" asgroups="" namespace="<none>" uri="/healthz" response="<deferred>""#;
        let mut events = Vec::new();
        let mut diagnostics = Vec::new();
        decode(line, &Origin::default(), &mut events, &mut diagnostics);
        assert_eq!(diagnostics, vec![]);
        let event = &events[0];
        assert!(event.user.is_empty());
        assert_eq!(event.status, None);
        assert_eq!(event.object, None);
        assert!(event.source_ips.is_empty());
        assert_eq!(
            event.impersonated_user.as_ref().unwrap().groups,
            Some(vec![])
        );
        assert_eq!(event.time.unwrap().to_rfc3339(), "2025-10-07T16:19:19.5Z");
    }

    #[test]
    fn broken_quoting_is_a_diagnostic() {
        let mut events = Vec::new();
        let mut diagnostics = Vec::new();
        decode(
            br#"AUDIT: id="x uri="/""#,
            &Origin::default(),
            &mut events,
            &mut diagnostics,
        );
        assert!(events.is_empty());
        assert!(diagnostics[0].is_error());
    }
}
