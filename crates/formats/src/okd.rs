//! OpenShift/OKD 3.x master API audit output.
//!
//! OKD 3.3–3.6 (and Kubernetes ≤ 1.12 `WithLegacyAudit`) write two lines per request, paired
//! by `id`:
//!
//! ```text
//! 2017-03-21T03:57:09.106841886-04:00 AUDIT: id="c939…" ip="127.0.0.1" method="GET" user="admin" groups="\"system:masters\",\"system:authenticated\"" as="<self>" asgroups="<lookup>" namespace="default" uri="/api/v1/namespaces/default/pods"
//! 2017-03-21T03:57:09.108403639-04:00 AUDIT: id="c939…" response="200"
//! ```
//!
//! Values are Go `%q` quoted, `groups`/`asgroups` are quoted lists quoted again, `groups` is
//! absent in 3.3–3.5, `method` is the upper-case HTTP method and the sentinels `<none>`,
//! `<self>`, `<lookup>`, `<unknown>` mean absent. Lines may carry a journal or glog prefix;
//! the time comes from the prefix (RFC 3339 first, then journal `short-iso`, then a glog or
//! journal `short` header without a year, which takes the year of the last full time seen).
//! OKD 3.7+ may write the one-line `stage=` format ([`crate::legacy`]) or v1beta1 JSON
//! ([`crate::k8s`]) instead; [`Pairing::decode`] accepts all three.
//!
//! Pairing: a request line waits in [`Pairing`] until its response line comes; the pair is
//! one event at stage `ResponseComplete` with `time` from the request line and `stage_time`
//! from the response line. A request whose response never comes (the handler wrote a body
//! without an explicit status, a panic, a dropped connection, a restart) is given up after
//! [`OKD_RESPONSE_WAIT_SECONDS`] of log time, when [`OKD_PENDING_REQUESTS_MAX`] requests
//! wait (oldest first), or at the end of the input; it becomes a `RequestReceived` event with
//! outcome unknown and the annotation `auditrail.io/response: missing`. A response line whose
//! request was never seen becomes an event without request data, annotated
//! `auditrail.io/request: missing`. Paired events are emitted when the response arrives, so
//! output order is response order.

use std::collections::{BTreeMap, HashMap};

use event::{Actor, AuditEvent, Origin, ResponseStatus, SourceKind, Stage, Timestamp};

use crate::diagnostic::{Diagnostic, excerpt};
use crate::goquote::split_quoted_list;
use crate::k8s;
use crate::legacy::{self, Field, MARKER};
use crate::limits::{OKD_PENDING_REQUESTS_MAX, OKD_RESPONSE_WAIT_SECONDS};
use crate::request_info;

/// Annotation on a request whose response line never came.
pub const ANNOTATION_RESPONSE: &str = "auditrail.io/response";
/// Annotation on a response line whose request line was never seen.
pub const ANNOTATION_REQUEST: &str = "auditrail.io/request";
/// Value of [`ANNOTATION_RESPONSE`] and [`ANNOTATION_REQUEST`].
pub const MISSING: &str = "missing";

/// The shape of an OKD line, as far as the text after `AUDIT: ` tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// The one-line `stage=` format (Kubernetes `legacy`).
    OneLine,
    /// A request or response line of the two-line format.
    TwoLine,
}

/// Tells the one-line `stage=` format from the two-line format, for a line with `AUDIT: `.
/// `stage="` always follows a closing quote in the one-line format; inside a `%q` value a quote
/// is escaped, so the pattern cannot come from a value.
pub fn line_kind(line: &[u8]) -> LineKind {
    if memchr::memmem::find(line, b"\" stage=\"").is_some() {
        LineKind::OneLine
    } else {
        LineKind::TwoLine
    }
}

/// Request lines waiting for their response line, for one input.
#[derive(Debug, Default)]
pub struct Pairing {
    /// Request events by OKD `id`, with their arrival number.
    pending: HashMap<String, (u64, Box<AuditEvent>)>,
    /// Arrival number → id, oldest first, for expiry.
    arrivals: BTreeMap<u64, String>,
    next_arrival: u64,
    /// The latest log time seen on an OKD line of this input.
    latest: Option<Timestamp>,
    /// The year of the last full time seen, for prefixes that carry none (glog, journal).
    year: Option<i32>,
    /// Other master log lines skipped.
    skipped: u64,
}

impl Pairing {
    /// Decodes one OKD line: a two-line-format request or response line, a one-line `stage=`
    /// line, or v1beta1 JSON. Appends finished events (and expired requests) to `events`.
    pub fn decode(
        &mut self,
        line: &[u8],
        origin: &Origin,
        events: &mut Vec<AuditEvent>,
        diagnostics: &mut Vec<Diagnostic>,
    ) {
        let before = events.len();
        if matches!(line.first(), Some(b'{' | b'[')) {
            k8s::decode(line, origin, events, diagnostics);
        } else if legacy::detect(line) && line_kind(line) == LineKind::OneLine {
            legacy::decode(line, origin, events, diagnostics);
        } else if legacy::detect(line) {
            self.decode_two_line(line, origin, events, diagnostics);
        } else if is_master_log(line) {
            // The master API's own logging shares the journal with the audit lines.
            self.skipped += 1;
        } else {
            diagnostics.push(Diagnostic::error(
                origin.line.unwrap_or(0),
                origin.offset.unwrap_or(0),
                format!(
                    "not an OKD audit line (expected \"AUDIT: id=…\" or audit JSON; \
                     name another format with --from): {}",
                    excerpt(line)
                ),
            ));
        }
        for event in &mut events[before..] {
            event.origin.source = SourceKind::Okd;
        }
    }

    /// Decodes a line of the two-line format (the caller checked for `AUDIT: `).
    pub fn decode_two_line(
        &mut self,
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
                format!("not an OKD audit line (no \"AUDIT: \"): {}", excerpt(line)),
            ));
            return;
        };
        let fields = match legacy::fields(&line[marker + MARKER.len()..]) {
            Ok(fields) => fields,
            Err(message) => {
                diagnostics.push(Diagnostic::error(
                    line_number,
                    offset,
                    format!("invalid OKD audit line ({message}): {}", excerpt(line)),
                ));
                return;
            }
        };
        let time = self.prefix_time(&line[..marker]);
        if let Some(time) = time {
            self.latest = Some(self.latest.map_or(time, |latest| latest.max(time)));
        }
        let has = |key: &str| fields.iter().any(|field| field.key == key);
        if has("response") && !has("uri") && !has("method") {
            self.pair_response(fields, time, origin, events, diagnostics);
        } else {
            match request_event(fields, time, origin, diagnostics) {
                Some(request) => self.wait(request, events),
                None => diagnostics.push(Diagnostic::error(
                    line_number,
                    offset,
                    format!(
                        "OKD audit line without id, or with neither a uri nor a response: {}",
                        excerpt(line)
                    ),
                )),
            }
        }
        self.expire(events);
    }

    /// Ends the input: every request still waiting is given up as "response missing", oldest
    /// first.
    pub fn finish(&mut self, events: &mut Vec<AuditEvent>) {
        while let Some((_, id)) = self.arrivals.pop_first() {
            if let Some((_, request)) = self.pending.remove(&id) {
                events.push(missing_response(*request));
            }
        }
        self.pending.clear();
    }

    /// Lines of the master's own logging skipped (journal or glog lines without `AUDIT: `).
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Number of request lines waiting for their response.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Byte offset (as given in the lines' origins) of the oldest request line waiting for
    /// its response, if any.
    pub fn pending_offset(&self) -> Option<u64> {
        let (_, id) = self.arrivals.first_key_value()?;
        self.pending.get(id)?.1.origin.offset
    }

    fn wait(&mut self, request: AuditEvent, events: &mut Vec<AuditEvent>) {
        if let Some((arrival, earlier)) = self.pending.remove(&request.id) {
            // The id came again before its response: the earlier request is given up.
            self.arrivals.remove(&arrival);
            events.push(missing_response(*earlier));
        }
        while self.pending.len() >= OKD_PENDING_REQUESTS_MAX {
            let Some((_, id)) = self.arrivals.pop_first() else {
                break;
            };
            if let Some((_, oldest)) = self.pending.remove(&id) {
                events.push(missing_response(*oldest));
            }
        }
        let arrival = self.next_arrival;
        self.next_arrival += 1;
        self.arrivals.insert(arrival, request.id.clone());
        self.pending
            .insert(request.id.clone(), (arrival, Box::new(request)));
    }

    fn pair_response(
        &mut self,
        fields: Vec<Field>,
        time: Option<Timestamp>,
        origin: &Origin,
        events: &mut Vec<AuditEvent>,
        diagnostics: &mut Vec<Diagnostic>,
    ) {
        let line_number = origin.line.unwrap_or(0);
        let offset = origin.offset.unwrap_or(0);
        let mut id = String::new();
        let mut code = None;
        for Field { key, value } in fields {
            match key.as_str() {
                "id" => id = value,
                "response" => match value.parse::<u16>() {
                    Ok(parsed) => code = Some(parsed),
                    Err(_) => diagnostics.push(Diagnostic::warning(
                        line_number,
                        offset,
                        format!("response: not a status code: {value:?}"),
                    )),
                },
                other => diagnostics.push(Diagnostic::warning(
                    line_number,
                    offset,
                    format!("unknown field {other:?} in a response line ignored"),
                )),
            }
        }
        let mut event = match self.pending.remove(&id) {
            Some((arrival, request)) => {
                self.arrivals.remove(&arrival);
                *request
            }
            None => {
                let mut orphan = AuditEvent {
                    origin: okd_origin(origin),
                    id,
                    ..AuditEvent::default()
                };
                orphan
                    .annotations
                    .insert(ANNOTATION_REQUEST.to_owned(), MISSING.to_owned());
                orphan
            }
        };
        event.stage = Some(Stage::ResponseComplete);
        event.stage_time = time;
        event.status = code.map(|code| ResponseStatus {
            code: Some(code),
            ..ResponseStatus::default()
        });
        event.outcome = AuditEvent::outcome_from_http(code, None);
        events.push(event);
    }

    /// Gives up requests that waited longer than [`OKD_RESPONSE_WAIT_SECONDS`] of log time.
    fn expire(&mut self, events: &mut Vec<AuditEvent>) {
        let Some(latest) = self.latest else {
            return;
        };
        let wait_nanos = OKD_RESPONSE_WAIT_SECONDS.saturating_mul(1_000_000_000);
        let deadline = Timestamp::from_unix_nanos(latest.unix_nanos().saturating_sub(wait_nanos));
        while let Some((&arrival, id)) = self.arrivals.first_key_value() {
            let expired = match self.pending.get(id) {
                Some((_, request)) => request.time.is_some_and(|time| time < deadline),
                None => true,
            };
            if !expired {
                return;
            }
            let id = id.clone();
            self.arrivals.remove(&arrival);
            if let Some((_, request)) = self.pending.remove(&id) {
                events.push(missing_response(*request));
            }
        }
    }

    fn prefix_time(&mut self, prefix: &[u8]) -> Option<Timestamp> {
        let full = legacy::prefix_time(prefix).or_else(|| short_iso_time(prefix));
        if let Some(time) = full {
            self.year = year_of(time);
            return Some(time);
        }
        yearless_time(prefix, self.year?)
    }
}

/// Builds the event of a request line; `None` without an id or a uri.
fn request_event(
    fields: Vec<Field>,
    time: Option<Timestamp>,
    origin: &Origin,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<AuditEvent> {
    let line_number = origin.line.unwrap_or(0);
    let offset = origin.offset.unwrap_or(0);
    let mut event = AuditEvent {
        origin: okd_origin(origin),
        time,
        stage_time: time,
        stage: Some(Stage::RequestReceived),
        ..AuditEvent::default()
    };
    let mut warn =
        |message: String| diagnostics.push(Diagnostic::warning(line_number, offset, message));
    let mut namespace = None;
    let mut method = String::new();
    let mut impersonated_groups = None;
    for Field { key, value } in fields {
        match key.as_str() {
            "id" => event.id = value,
            "ip" => {
                if value != "<unknown>" && !value.is_empty() {
                    event.source_ips.push(value);
                }
            }
            "method" => method = value,
            "user" => {
                if value != "<none>" && !value.is_empty() {
                    event.user.name = value;
                }
            }
            "groups" => {
                if value != "<none>" {
                    match split_quoted_list(&value) {
                        Ok(groups) => event.user.groups = Some(groups),
                        Err(error) => warn(format!("groups: {error}")),
                    }
                }
            }
            "as" => {
                if value != "<self>" && !value.is_empty() {
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
                        Err(error) => warn(format!("asgroups: {error}")),
                    }
                }
            }
            "namespace" => {
                if value != "<none>" && !value.is_empty() {
                    namespace = Some(value);
                }
            }
            "uri" => event.uri = value,
            "user-agent" => event.user_agent = Some(value),
            other => warn(format!("unknown field {other:?} ignored")),
        }
    }
    if event.id.is_empty() || event.uri.is_empty() {
        return None;
    }
    if let Some(groups) = impersonated_groups {
        event
            .impersonated_user
            .get_or_insert_with(Actor::default)
            .groups = Some(groups);
    }
    let info = request_info_okd(&event.uri);
    if !method.is_empty() {
        event.verb = request_info::verb_for_method(&method, &info, &event.uri);
        event.method = Some(method.to_ascii_uppercase());
    }
    event.object = info.object;
    if let (Some(namespace), Some(object)) = (namespace, event.object.as_mut()) {
        object.namespace = namespace;
    }
    Some(event)
}

/// The API server's reading of a request path, with OKD 3.x's groupless `/oapi/v1` prefix
/// (routes, deploymentconfigs, builds, projects… before API groups) read like `/api/v1`, as
/// the OKD master configured its request-info resolver.
pub fn request_info_okd(uri: &str) -> request_info::RequestInfo {
    match uri.strip_prefix("/oapi/") {
        Some(rest) => request_info::parse(&format!("/api/{rest}")),
        None => request_info::parse(uri),
    }
}

fn okd_origin(origin: &Origin) -> Origin {
    Origin {
        source: SourceKind::Okd,
        ..origin.clone()
    }
}

fn missing_response(mut request: AuditEvent) -> AuditEvent {
    request
        .annotations
        .insert(ANNOTATION_RESPONSE.to_owned(), MISSING.to_owned());
    request.outcome = event::Outcome::Unknown;
    request
}

/// A journal `short-iso` time (`2017-03-21T03:57:09-0400`, offset without a colon) among
/// the prefix's tokens.
fn short_iso_time(prefix: &[u8]) -> Option<Timestamp> {
    let text = std::str::from_utf8(prefix).ok()?;
    text.split_ascii_whitespace().find_map(|token| {
        let (head, offset) = token.split_at_checked(token.len().checked_sub(5)?)?;
        let bytes = offset.as_bytes();
        if !matches!(bytes.first(), Some(b'+' | b'-')) || !bytes[1..].iter().all(u8::is_ascii_digit)
        {
            return None;
        }
        Timestamp::parse(&format!("{head}{}:{}", &offset[..3], &offset[3..])).ok()
    })
}

/// A glog header (`I0321 03:57:09.106841`) anywhere in the prefix, else a journal `short`
/// time (`Mar 21 03:57:09`) at its start, in `year`, read as UTC (neither carries a zone).
/// The glog header wins: it has microseconds.
fn yearless_time(prefix: &[u8], year: i32) -> Option<Timestamp> {
    let text = std::str::from_utf8(prefix).ok()?;
    let tokens: Vec<&str> = text.split_ascii_whitespace().take(16).collect();
    let glog = tokens.windows(2).find_map(|pair| {
        let header = pair[0].as_bytes();
        let is_header = header.len() == 5
            && matches!(header[0], b'I' | b'W' | b'E' | b'F')
            && header[1..].iter().all(u8::is_ascii_digit);
        is_header.then(|| {
            (
                pair[0][1..3].parse::<u8>().ok(),
                pair[0][3..5].parse::<u8>().ok(),
                pair[1],
            )
        })
    });
    let (month, day, clock) = match glog {
        Some((Some(month), Some(day), clock)) => (month, day, clock),
        _ => {
            let month = MONTHS
                .iter()
                .position(|name| Some(name) == tokens.first())?
                + 1;
            let day = tokens.get(1)?.parse::<u8>().ok()?;
            (u8::try_from(month).ok()?, day, *tokens.get(2)?)
        }
    };
    if !clock.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        return None;
    }
    Timestamp::parse(&format!("{year:04}-{month:02}-{day:02}T{clock}Z")).ok()
}

/// True for a line of the master's own journal or glog output: a journal header
/// (`-- Logs begin at …`), a journal `short` or `short-iso` prefix, or a glog header.
fn is_master_log(line: &[u8]) -> bool {
    if line.starts_with(b"-- ") {
        return true;
    }
    let first = line.split(|byte| *byte == b' ').next().unwrap_or_default();
    let glog = first.len() == 5
        && matches!(first[0], b'I' | b'W' | b'E' | b'F')
        && first[1..].iter().all(u8::is_ascii_digit);
    let journal = MONTHS.iter().any(|month| month.as_bytes() == first);
    let iso = first.len() >= 19 && first[..4].iter().all(u8::is_ascii_digit) && first[10] == b'T';
    glog || journal || iso
}

/// Month abbreviations as journald and syslog print them.
pub(crate) const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn year_of(time: Timestamp) -> Option<i32> {
    time.to_rfc3339().get(..4)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(lines: &[&str]) -> (Vec<AuditEvent>, Vec<Diagnostic>) {
        let mut pairing = Pairing::default();
        let mut events = Vec::new();
        let mut diagnostics = Vec::new();
        for (index, line) in lines.iter().enumerate() {
            let origin = Origin {
                line: Some(index as u64 + 1),
                ..Origin::default()
            };
            pairing.decode(line.as_bytes(), &origin, &mut events, &mut diagnostics);
        }
        pairing.finish(&mut events);
        (events, diagnostics)
    }

    const REQUEST: &str = r#"2017-03-21T03:57:09.106841886-04:00 AUDIT: id="c939d2a7-1c37-4ef1-b2f7-4ba9b1e43b53" ip="192.0.2.10" method="GET" user="admin" groups="\"system:masters\",\"system:authenticated\"" as="<self>" asgroups="<lookup>" namespace="default" uri="/api/v1/namespaces/default/pods""#;
    const RESPONSE: &str = r#"2017-03-21T03:57:09.108403639-04:00 AUDIT: id="c939d2a7-1c37-4ef1-b2f7-4ba9b1e43b53" response="200""#;

    #[test]
    fn request_and_response_pair_by_id() {
        let (events, diagnostics) = decode_all(&[REQUEST, RESPONSE]);
        assert_eq!(diagnostics, vec![]);
        assert_eq!(events.len(), 1);
        let event = &events[0];
        assert_eq!(event.origin.source, SourceKind::Okd);
        assert_eq!(event.origin.line, Some(1));
        assert_eq!(event.stage, Some(Stage::ResponseComplete));
        assert_eq!(event.verb, "list");
        assert_eq!(event.method.as_deref(), Some("GET"));
        assert_eq!(event.user.name, "admin");
        assert_eq!(
            event.user.group_list(),
            ["system:masters", "system:authenticated"]
        );
        assert_eq!(event.impersonated_user, None);
        assert_eq!(event.source_ips, ["192.0.2.10"]);
        assert_eq!(event.code(), Some(200));
        assert_eq!(event.outcome, event::Outcome::Success);
        assert_eq!(event.namespace(), "default");
        assert_eq!(event.object.as_ref().unwrap().resource, "pods");
        assert_eq!(
            event.time.unwrap().to_rfc3339(),
            "2017-03-21T07:57:09.106841886Z"
        );
        assert_eq!(
            event.stage_time.unwrap().to_rfc3339(),
            "2017-03-21T07:57:09.108403639Z"
        );
        assert!(event.annotations.is_empty());
    }

    #[test]
    fn missing_response_is_kept_and_marked_at_finish() {
        let (events, _) = decode_all(&[REQUEST]);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].stage, Some(Stage::RequestReceived));
        assert_eq!(events[0].outcome, event::Outcome::Unknown);
        assert_eq!(events[0].annotations[ANNOTATION_RESPONSE], MISSING);
    }

    #[test]
    fn missing_response_expires_after_the_wait_in_log_time() {
        let later = r#"2017-03-21T04:07:10-04:00 AUDIT: id="other" ip="192.0.2.11" method="DELETE" user="bob" groups="<none>" as="<self>" asgroups="<lookup>" namespace="<none>" uri="/api/v1/nodes/node-1""#;
        let mut pairing = Pairing::default();
        let mut events = Vec::new();
        let mut diagnostics = Vec::new();
        let origin = Origin::default();
        pairing.decode(REQUEST.as_bytes(), &origin, &mut events, &mut diagnostics);
        assert!(events.is_empty());
        pairing.decode(later.as_bytes(), &origin, &mut events, &mut diagnostics);
        assert_eq!(
            events.len(),
            1,
            "the first request waited more than 10 minutes"
        );
        assert_eq!(events[0].annotations[ANNOTATION_RESPONSE], MISSING);
        assert_eq!(pairing.pending(), 1);
        pairing.finish(&mut events);
        assert_eq!(events[1].verb, "delete");
        assert_eq!(events[1].object.as_ref().unwrap().name, "node-1");
        assert!(events[1].user.groups.is_none());
    }

    #[test]
    fn orphan_response_becomes_an_event_without_request_data() {
        let (events, diagnostics) = decode_all(&[RESPONSE]);
        assert_eq!(diagnostics, vec![]);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].code(), Some(200));
        assert_eq!(events[0].time, None);
        assert!(events[0].stage_time.is_some());
        assert_eq!(events[0].annotations[ANNOTATION_REQUEST], MISSING);
    }

    #[test]
    fn origin_variant_without_groups_and_with_impersonation() {
        let line = r#"AUDIT: id="a1" ip="198.51.100.4" method="POST" user="system:admin" as="alice" asgroups="\"dev\"" namespace="team-a" uri="/oapi/v1/namespaces/team-a/deploymentconfigs""#;
        let (events, diagnostics) = decode_all(&[line]);
        assert_eq!(diagnostics, vec![]);
        let event = &events[0];
        assert_eq!(event.user.groups, None);
        let impersonated = event.impersonated_user.as_ref().unwrap();
        assert_eq!(impersonated.name, "alice");
        assert_eq!(impersonated.group_list(), ["dev"]);
        assert_eq!(event.time, None);
        // /oapi/v1 is OKD's groupless API, read like /api/v1.
        assert_eq!(event.verb, "create");
        assert_eq!(event.method.as_deref(), Some("POST"));
        let object = event.object.as_ref().unwrap();
        assert_eq!(object.resource, "deploymentconfigs");
        assert_eq!(object.namespace, "team-a");
        assert_eq!(object.api_group.as_deref(), Some(""));
    }

    #[test]
    fn glog_and_journal_prefixes_give_the_time() {
        let journal = r#"Mar 21 03:57:09 master-1.example.com atomic-openshift-master-api[1234]: I0321 03:57:09.106841    1234 audit.go:45] 2017-03-21T03:57:09.106841886-04:00 AUDIT: id="j1" ip="192.0.2.10" method="GET" user="admin" groups="<none>" as="<self>" asgroups="<lookup>" namespace="<none>" uri="/healthz""#;
        let glog_only = r#"I0321 08:00:00.5    1234 audit.go:45] AUDIT: id="g1" ip="192.0.2.10" method="GET" user="admin" groups="<none>" as="<self>" asgroups="<lookup>" namespace="<none>" uri="/version""#;
        let iso =
            r#"2017-03-21T09:00:00+0000 master-1 origin-master[99]: AUDIT: id="s1" response="404""#;
        let (events, diagnostics) = decode_all(&[journal, glog_only, iso]);
        assert_eq!(diagnostics, vec![]);
        let time = |id: &str| {
            let event = events.iter().find(|event| event.id == id).unwrap();
            event.when().unwrap().to_rfc3339()
        };
        assert_eq!(time("j1"), "2017-03-21T07:57:09.106841886Z");
        assert_eq!(time("g1"), "2017-03-21T08:00:00.5Z");
        assert_eq!(time("s1"), "2017-03-21T09:00:00Z");
    }

    #[test]
    fn one_line_and_json_variants_are_okd_events() {
        let one_line = r#"2018-06-01T08:00:00Z AUDIT: id="x" stage="ResponseComplete" ip="192.0.2.1" method="get" user="u" groups="<none>" as="<self>" asgroups="<lookup>" namespace="<none>" uri="/healthz" response="200""#;
        let json = r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1beta1","metadata":{"creationTimestamp":"2018-06-01T08:00:01Z"},"level":"Metadata","timestamp":"2018-06-01T08:00:01Z","auditID":"y","stage":"ResponseComplete","requestURI":"/healthz","verb":"get","user":{"username":"u"}}"#;
        let (events, diagnostics) = decode_all(&[one_line, json]);
        assert_eq!(diagnostics, vec![]);
        assert_eq!(events.len(), 2);
        assert!(
            events
                .iter()
                .all(|event| event.origin.source == SourceKind::Okd)
        );
        assert_eq!(line_kind(one_line.as_bytes()), LineKind::OneLine);
        assert_eq!(line_kind(REQUEST.as_bytes()), LineKind::TwoLine);
    }

    #[test]
    fn full_pending_map_gives_up_the_oldest_request() {
        let mut pairing = Pairing::default();
        let mut events = Vec::new();
        let mut diagnostics = Vec::new();
        for index in 0..=OKD_PENDING_REQUESTS_MAX {
            let line = format!(
                r#"AUDIT: id="r{index}" ip="192.0.2.1" method="GET" user="u" namespace="<none>" uri="/healthz""#
            );
            pairing.decode(
                line.as_bytes(),
                &Origin::default(),
                &mut events,
                &mut diagnostics,
            );
        }
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].id, "r0");
        assert_eq!(pairing.pending(), OKD_PENDING_REQUESTS_MAX);
    }

    #[test]
    fn repeated_id_gives_up_the_earlier_request_and_bad_lines_are_errors() {
        let (events, diagnostics) =
            decode_all(&[REQUEST, REQUEST, RESPONSE, "AUDIT: id=\"x", "hello"]);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].annotations[ANNOTATION_RESPONSE], MISSING);
        assert_eq!(events[1].code(), Some(200));
        assert_eq!(diagnostics.iter().filter(|d| d.is_error()).count(), 2);
    }
}
