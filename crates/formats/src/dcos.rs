//! DC/OS adminrouter audit records: the nginx lua `auditlog()` lines of
//! `dcos-adminrouter.service` on every master.
//!
//! From `journalctl` short (or short-iso) output:
//!
//! ```text
//! Dec 27 07:53:40 master-1 nginx[91289]: 2020/12/27 07:53:40 [notice] 21300#0: *113742601 [lua] ee.lua:57: auditlog(): type=audit timestamp=2020-12-27T07:53:40.412Z authorizer=adminrouter object=dcos:adminrouter:service:marathon action=full result=allow reason="IAM PQ response" srcip=198.51.100.7 srcport=51234 request_uri=/service/marathon/v2/apps//web?force=true uid=alice@example.com while sending to client, client: 198.51.100.7, server: master.mesos, request: "PUT /service/marathon/v2/apps//web?force=true HTTP/1.1", host: "dcos.example.com"
//! ```
//!
//! and from `journalctl -o json`, where that text (from the nginx time on) is `MESSAGE`, the
//! master is `_HOSTNAME` and `__REALTIME_TIMESTAMP` is the journal time in microseconds.
//!
//! - `key=value` fields come first; a value is bare (up to a space, `request_uri` included) or
//!   double-quoted (`reason`); a `timestamp` whose time follows after a space (Mesos style,
//!   `2018-04-10 02:38:24.75+00:00`) is joined. The first word that is not `key=value` (nginx's
//!   ` while sending to client` context) ends them. nginx's `, client: …, server: …,
//!   request: "METHOD URI PROTO", host: "…"` tail follows.
//! - `result=allow|deny` is the outcome (and the `authorization.k8s.io/decision` annotation,
//!   `allow`/`forbid`), `reason` the `authorization.k8s.io/reason`; `uid` the user; `srcip` and
//!   `srcport` the source; `request_uri` (else the request's URI) the `uri`; the request's
//!   method `method`; the master's host name `node`. `object`, `action`, `authorizer`, `server`,
//!   `host` and any other field are kept as `dcos.io/<key>` annotations.
//! - Marathon app ids in the URI (`/service/marathon/v2/apps//NAME`, `…/apps/group/name`) are
//!   the object: resource `apps` (or `groups`, `pods`, `deployments`), name the app id with one
//!   leading `/` (`/group/name`), so that a report of changes can print TIMESTAMP USER SERVICE
//!   with the method. `verb` is the Kubernetes-style verb of the method on that object
//!   (`PUT` of an app is `update`), the lower-cased method for other paths, or the IAM action
//!   when the line carries no request.
//! - Time: `timestamp=`, else the journal's `__REALTIME_TIMESTAMP`, else nginx's own
//!   `YYYY/MM/DD HH:MM:SS` (the master's local time, read as UTC: DC/OS masters run in UTC),
//!   else a `short-iso` journal prefix.
//!
//! Several masters each hold part of the log, and collecting overlapping journal windows
//! repeats records. Every event gets a deterministic `id` derived from its content (FNV-1a
//! 128 of the timestamp text, srcip, srcport, uid, method, URI, action, object and result; not
//! the master), so the same record read twice, from one master or two, has the same id;
//! [`merge_trails`] (and any store deduplicating on `(source, id)`) merges inputs into one
//! time-ordered trail without duplicates.
//!
//! Other adminrouter lines (access logs, errors, journal headers) are not audit records: they
//! are skipped without a diagnostic and counted by the caller ([`Record::Other`]).

use event::{AuditEvent, ObjectRef, Origin, Outcome, SourceKind, Timestamp};
use serde::Deserialize;

use crate::diagnostic::{Diagnostic, excerpt};
use crate::okd::MONTHS;
use crate::request_info::{self, RequestInfo};

/// What a line turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    /// An audit record: it gave an event or an error diagnostic.
    Audit,
    /// Other logging of the service, skipped without a diagnostic.
    Other,
}

/// The text that starts an adminrouter audit record.
const AUDITLOG_MARKER: &[u8] = b"auditlog(): ";
/// The first field of every audit record.
const TYPE_AUDIT: &[u8] = b"type=audit";

/// True when a text line holds an adminrouter audit record.
pub fn detect_text(line: &[u8]) -> bool {
    memchr::memmem::find(line, AUDITLOG_MARKER).is_some()
        || memchr::memmem::find(line, b"type=audit ").is_some()
}

/// True when a JSON line is a journal export record (`journalctl -o json` writes
/// `__CURSOR` and `__REALTIME_TIMESTAMP` first; with `--output-fields` `MESSAGE` may be).
pub fn detect_journal_json(line: &[u8]) -> bool {
    line.starts_with(b"{\"__") || line.starts_with(b"{\"MESSAGE\":")
}

/// Decodes one line: journal text or a `journalctl -o json` record.
pub fn decode(
    line: &[u8],
    origin: &Origin,
    events: &mut Vec<AuditEvent>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Record {
    if line.first() == Some(&b'{') {
        decode_journal_json(line, origin, events, diagnostics)
    } else {
        let context = Context::from_prefix(line);
        decode_text(line, context, origin, events, diagnostics)
    }
}

/// What the surroundings of the message say: the master and the journal's time.
#[derive(Debug, Default)]
struct Context {
    node: Option<String>,
    journal_time: Option<Timestamp>,
}

impl Context {
    /// Reads a journal `short` (`Dec 27 07:53:40 host ident[pid]: `) or `short-iso`
    /// (`2020-12-27T07:53:40+0000 host ident[pid]: `) prefix.
    fn from_prefix(line: &[u8]) -> Context {
        let head = &line[..line.len().min(256)];
        let text = String::from_utf8_lossy(head);
        let tokens: Vec<&str> = text.split_ascii_whitespace().take(5).collect();
        let host = match tokens.as_slice() {
            [month, _, _, host, ..] if MONTHS.contains(month) => Some(*host),
            [time, host, ..] if parse_iso(time).is_some() => Some(*host),
            _ => None,
        };
        let journal_time = tokens.first().and_then(|time| parse_iso(time));
        let node = host
            .map(|host| host.split('[').next().unwrap_or(host).trim_end_matches(':'))
            .filter(|host| !host.is_empty())
            .map(str::to_owned);
        Context { node, journal_time }
    }
}

#[derive(Deserialize)]
struct JournalEntry {
    #[serde(rename = "MESSAGE")]
    message: Option<Message>,
    #[serde(rename = "_HOSTNAME")]
    hostname: Option<String>,
    #[serde(rename = "__REALTIME_TIMESTAMP")]
    realtime: Option<String>,
}

/// journald writes a message that is not valid UTF-8 as an array of bytes.
#[derive(Deserialize)]
#[serde(untagged)]
enum Message {
    Text(String),
    Bytes(Vec<u8>),
}

fn decode_journal_json(
    line: &[u8],
    origin: &Origin,
    events: &mut Vec<AuditEvent>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Record {
    let entry = match serde_json::from_slice::<JournalEntry>(line) {
        Ok(entry) => entry,
        Err(error) => {
            diagnostics.push(Diagnostic::error(
                origin.line.unwrap_or(0),
                origin.offset.unwrap_or(0),
                format!("invalid journal JSON record ({error}): {}", excerpt(line)),
            ));
            return Record::Audit;
        }
    };
    let message = match entry.message {
        Some(Message::Text(text)) => text.into_bytes(),
        Some(Message::Bytes(bytes)) => bytes,
        None => return Record::Other,
    };
    let journal_time = entry
        .realtime
        .and_then(|micros| micros.parse::<i64>().ok())
        .map(|micros| Timestamp::from_unix_nanos(micros.saturating_mul(1000)));
    let context = Context {
        node: entry.hostname.filter(|host| !host.is_empty()),
        journal_time,
    };
    decode_text(&message, context, origin, events, diagnostics)
}

fn decode_text(
    line: &[u8],
    context: Context,
    origin: &Origin,
    events: &mut Vec<AuditEvent>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Record {
    let line_number = origin.line.unwrap_or(0);
    let offset = origin.offset.unwrap_or(0);
    let (prefix, body) = match memchr::memmem::find(line, AUDITLOG_MARKER) {
        Some(at) => (&line[..at], &line[at + AUDITLOG_MARKER.len()..]),
        None => match memchr::memmem::find(line, TYPE_AUDIT) {
            Some(at) => (&line[..at], &line[at..]),
            None => return Record::Other,
        },
    };
    let (message, tail) = match memchr::memmem::find(body, b", client: ") {
        Some(at) => (&body[..at], &body[at + 2..]),
        None => (body, &b""[..]),
    };
    let fields = match key_values(message) {
        Ok(fields) => fields,
        Err(problem) => {
            diagnostics.push(Diagnostic::error(
                line_number,
                offset,
                format!("invalid DC/OS audit record ({problem}): {}", excerpt(line)),
            ));
            return Record::Audit;
        }
    };
    if !fields
        .iter()
        .any(|(key, value)| key == "type" && value == "audit")
    {
        return Record::Other;
    }
    let nginx = match nginx_tail(tail) {
        Ok(nginx) => nginx,
        Err(problem) => {
            diagnostics.push(Diagnostic::warning(
                line_number,
                offset,
                format!("nginx fields after the audit record ignored ({problem})"),
            ));
            Vec::new()
        }
    };
    let mut event = AuditEvent {
        origin: Origin {
            source: SourceKind::Dcos,
            ..origin.clone()
        },
        node: context.node,
        ..AuditEvent::default()
    };
    let mut record = AuditFields::default();
    for (key, value) in fields {
        record.take(key, value, &mut event, diagnostics, line_number, offset);
    }
    for (key, value) in nginx {
        match key.as_str() {
            "client" => record.client = Some(value),
            "request" => record.request = Some(value),
            _ => {
                event.annotations.insert(format!("dcos.io/{key}"), value);
            }
        }
    }
    event.time = record
        .time
        .or(context.journal_time)
        .or_else(|| nginx_time(prefix));
    record.finish(&mut event, diagnostics, line_number, offset);
    events.push(event);
    Record::Audit
}

/// The audit fields that need each other before they can be interpreted.
#[derive(Default)]
struct AuditFields {
    timestamp_text: String,
    time: Option<Timestamp>,
    action: String,
    object: String,
    result: String,
    source_port: String,
    client: Option<String>,
    request: Option<String>,
}

impl AuditFields {
    fn take(
        &mut self,
        key: String,
        value: String,
        event: &mut AuditEvent,
        diagnostics: &mut Vec<Diagnostic>,
        line_number: u64,
        offset: u64,
    ) {
        match key.as_str() {
            "type" => {}
            "timestamp" => {
                self.time = parse_iso(&value).or_else(|| parse_iso(&value.replacen(' ', "T", 1)));
                if self.time.is_none() {
                    diagnostics.push(Diagnostic::warning(
                        line_number,
                        offset,
                        format!("timestamp {value:?} is not RFC 3339; the log time is used"),
                    ));
                }
                self.timestamp_text = value;
            }
            "result" => self.result = value,
            "reason" => {
                event
                    .annotations
                    .insert(event::ANNOTATION_REASON.to_owned(), value);
            }
            "srcip" => {
                if !value.is_empty() {
                    event.source_ips = vec![value];
                }
            }
            "srcport" => self.source_port = value,
            "request_uri" => event.uri = value,
            "uid" => event.user.name = value,
            "action" => {
                event
                    .annotations
                    .insert("dcos.io/action".to_owned(), value.clone());
                self.action = value;
            }
            "object" => {
                event
                    .annotations
                    .insert("dcos.io/object".to_owned(), value.clone());
                self.object = value;
            }
            _ => {
                event.annotations.insert(format!("dcos.io/{key}"), value);
            }
        }
    }

    fn finish(
        self,
        event: &mut AuditEvent,
        diagnostics: &mut Vec<Diagnostic>,
        line_number: u64,
        offset: u64,
    ) {
        event.outcome = match self.result.as_str() {
            "allow" => Outcome::Allow,
            "deny" => Outcome::Deny,
            other => {
                diagnostics.push(Diagnostic::warning(
                    line_number,
                    offset,
                    format!("result {other:?} is neither allow nor deny; outcome unknown"),
                ));
                Outcome::Unknown
            }
        };
        if !event.outcome.is_unknown() {
            let decision = if event.outcome == Outcome::Allow {
                "allow"
            } else {
                "forbid"
            };
            event
                .annotations
                .insert(event::ANNOTATION_DECISION.to_owned(), decision.to_owned());
        }
        if !self.source_port.is_empty() {
            match self.source_port.parse::<u16>() {
                Ok(port) => event.source_port = Some(port),
                Err(_) => diagnostics.push(Diagnostic::warning(
                    line_number,
                    offset,
                    format!("srcport {:?} is not a port; ignored", self.source_port),
                )),
            }
        }
        if event.source_ips.is_empty()
            && let Some(client) = self.client.clone()
        {
            event.source_ips.push(client);
        }
        let mut method = String::new();
        if let Some(request) = &self.request {
            let mut parts = request.split(' ');
            method = parts.next().unwrap_or_default().to_owned();
            let uri = parts.next().unwrap_or_default();
            if event.uri.is_empty() {
                event.uri = uri.to_owned();
            }
        }
        event.object = marathon_object(&event.uri);
        event.verb = if method.is_empty() {
            self.action.clone()
        } else {
            let info = RequestInfo {
                object: event.object.clone(),
                path_verb: None,
            };
            request_info::verb_for_method(&method, &info, &event.uri)
        };
        if !method.is_empty() {
            event.method = Some(method.to_ascii_uppercase());
        }
        event.id = record_id(&self, event);
    }
}

/// The content-derived id that makes one request read twice (from two masters, or twice
/// from one) the same event.
fn record_id(fields: &AuditFields, event: &AuditEvent) -> String {
    let time_text = if fields.timestamp_text.is_empty() {
        event
            .time
            .map(|time| time.unix_seconds().to_string())
            .unwrap_or_default()
    } else {
        fields.timestamp_text.clone()
    };
    let parts = [
        time_text.as_str(),
        event.source_ips.first().map_or("", String::as_str),
        fields.source_port.as_str(),
        event.user.name.as_str(),
        event.method.as_deref().unwrap_or_default(),
        event.uri.as_str(),
        fields.action.as_str(),
        fields.object.as_str(),
        fields.result.as_str(),
    ];
    format!("dcos-{:032x}", fnv1a_128(&parts))
}

/// FNV-1a, 128 bits, over the parts separated by a zero byte: stable across versions and
/// platforms, which a derived id must be.
fn fnv1a_128(parts: &[&str]) -> u128 {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    let mut hash = OFFSET;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0)) {
            hash ^= u128::from(byte);
            hash = hash.wrapping_mul(PRIME);
        }
    }
    hash
}

/// Sorts events of several inputs by time and drops repeated ids of the same source (the
/// same DC/OS record read from two masters or two overlapping journal exports), keeping the
/// first read.
pub fn merge_trails(events: &mut Vec<AuditEvent>) {
    events.sort_by(|a, b| a.when().cmp(&b.when()).then_with(|| a.id.cmp(&b.id)));
    events.dedup_by(|later, earlier| {
        !later.id.is_empty()
            && later.id == earlier.id
            && later.origin.source == earlier.origin.source
    });
}

/// The Marathon object a URI names: `/service/marathon/v2/apps//web` is app `/web`.
pub fn marathon_object(uri: &str) -> Option<ObjectRef> {
    let path = uri.split_once('?').map_or(uri, |(path, _)| path);
    let rest = path
        .strip_prefix("/service/marathon")
        .or_else(|| path.strip_prefix("/marathon"))?;
    let rest = rest.strip_prefix("/v2/")?;
    let (resource, id) = rest.split_once('/').unwrap_or((rest, ""));
    if !matches!(resource, "apps" | "groups" | "pods" | "deployments") {
        return None;
    }
    let mut segments: Vec<&str> = id.split('/').filter(|part| !part.is_empty()).collect();
    let mut subresource = "";
    if resource == "apps"
        && segments.len() > 1
        && let Some(last) = segments.last()
        && matches!(*last, "restart" | "tasks" | "versions")
    {
        subresource = last;
        segments.pop();
    }
    let name = if segments.is_empty() {
        String::new()
    } else {
        format!("/{}", segments.join("/"))
    };
    Some(ObjectRef {
        resource: resource.to_owned(),
        name,
        api_group: Some("marathon".to_owned()),
        api_version: "v2".to_owned(),
        subresource: subresource.to_owned(),
        ..ObjectRef::default()
    })
}

/// Splits the audit message into `key=value` fields; stops at the first word that is not one.
fn key_values(mut rest: &[u8]) -> Result<Vec<(String, String)>, String> {
    let mut fields = Vec::with_capacity(12);
    loop {
        while let Some((b' ' | b'\t', tail)) = rest.split_first() {
            rest = tail;
        }
        let key_length = rest
            .iter()
            .position(|byte| !(byte.is_ascii_alphanumeric() || *byte == b'_' || *byte == b'-'))
            .unwrap_or(rest.len());
        if key_length == 0 || rest.get(key_length) != Some(&b'=') {
            return Ok(fields);
        }
        let key = String::from_utf8_lossy(&rest[..key_length]).into_owned();
        rest = &rest[key_length + 1..];
        let mut value = if rest.first() == Some(&b'"') {
            let (value, used) =
                quoted(rest).ok_or_else(|| format!("{key}: unterminated quoted value"))?;
            rest = &rest[used..];
            value
        } else {
            let end = memchr::memchr(b' ', rest).unwrap_or(rest.len());
            let value = String::from_utf8_lossy(&rest[..end]).into_owned();
            rest = &rest[end..];
            value
        };
        if key == "timestamp" {
            // Mesos style: `timestamp=2018-04-10 02:38:24.752481024+00:00`.
            let next = rest.strip_prefix(b" ").unwrap_or(rest);
            let end = memchr::memchr(b' ', next).unwrap_or(next.len());
            let token = &next[..end];
            if token.first().is_some_and(u8::is_ascii_digit)
                && token.get(2) == Some(&b':')
                && !token.contains(&b'=')
            {
                value.push(' ');
                value.push_str(&String::from_utf8_lossy(token));
                rest = &next[end..];
            }
        }
        fields.push((key, value));
    }
}

/// A double-quoted value at the start of `input` (backslash escapes the next byte); the text
/// and the bytes used.
fn quoted(input: &[u8]) -> Option<(String, usize)> {
    let mut text = Vec::new();
    let mut index = 1;
    while index < input.len() {
        match input[index] {
            b'"' => return Some((String::from_utf8_lossy(&text).into_owned(), index + 1)),
            b'\\' if index + 1 < input.len() => {
                text.push(input[index + 1]);
                index += 2;
            }
            byte => {
                text.push(byte);
                index += 1;
            }
        }
    }
    None
}

/// nginx's `client: …, server: …, request: "…", host: "…"` context fields.
fn nginx_tail(mut rest: &[u8]) -> Result<Vec<(String, String)>, String> {
    let mut fields = Vec::new();
    while !rest.is_empty() {
        let Some(colon) = memchr::memmem::find(rest, b": ") else {
            return Err(format!("expected \"key: value\", got {:?}", excerpt(rest)));
        };
        let key = String::from_utf8_lossy(&rest[..colon]).trim().to_owned();
        rest = &rest[colon + 2..];
        let value = if rest.first() == Some(&b'"') {
            let (value, used) =
                quoted(rest).ok_or_else(|| format!("{key}: unterminated quoted value"))?;
            rest = &rest[used..];
            value
        } else {
            let end = memchr::memmem::find(rest, b", ").unwrap_or(rest.len());
            let value = String::from_utf8_lossy(&rest[..end]).into_owned();
            rest = &rest[end..];
            value
        };
        fields.push((key, value));
        rest = rest.strip_prefix(b", ").unwrap_or(rest);
        if !rest.is_empty() && fields.len() > 32 {
            return Err("too many nginx fields".to_owned());
        }
    }
    Ok(fields)
}

/// nginx's error-log time (`2020/12/27 07:53:40`), read as UTC.
fn nginx_time(prefix: &[u8]) -> Option<Timestamp> {
    let text = std::str::from_utf8(prefix).ok()?;
    let mut tokens = text.split_ascii_whitespace();
    while let Some(token) = tokens.next() {
        let bytes = token.as_bytes();
        if bytes.len() == 10 && bytes[4] == b'/' && bytes[7] == b'/' {
            let clock = tokens.next()?;
            let date = token.replace('/', "-");
            return Timestamp::parse(&format!("{date}T{clock}Z")).ok();
        }
    }
    None
}

/// RFC 3339, also with a `+0000` offset as journald's short-iso writes it.
fn parse_iso(text: &str) -> Option<Timestamp> {
    if let Ok(time) = Timestamp::parse(text) {
        return Some(time);
    }
    let (head, zone) = text.split_at_checked(text.len().checked_sub(5)?)?;
    let zone_bytes = zone.as_bytes();
    if !matches!(zone_bytes.first(), Some(b'+' | b'-'))
        || !zone_bytes[1..].iter().all(u8::is_ascii_digit)
        || !head.contains('T')
    {
        return None;
    }
    Timestamp::parse(&format!("{head}{}:{}", &zone[..3], &zone[3..])).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"Dec 27 07:53:40 master-1.example.com nginx[91289]: 2020/12/27 07:53:40 [notice] 21300#0: *113742601 [lua] ee.lua:57: auditlog(): type=audit timestamp=2020-12-27T07:53:40.412Z authorizer=adminrouter object=dcos:adminrouter:service:marathon action=full result=allow reason="IAM PQ response" srcip=198.51.100.7 srcport=51234 request_uri=/service/marathon/v2/apps//test-service-audit?force=true&partialUpdate=false uid=alice@example.com while sending to client, client: 198.51.100.7, server: master.mesos, request: "PUT /service/marathon/v2/apps//test-service-audit?force=true&partialUpdate=false HTTP/1.1", host: "dcos.example.com""#;

    fn decode_one(line: &str) -> (Vec<AuditEvent>, Vec<Diagnostic>, Record) {
        let mut events = Vec::new();
        let mut diagnostics = Vec::new();
        let record = decode(
            line.as_bytes(),
            &Origin::default(),
            &mut events,
            &mut diagnostics,
        );
        (events, diagnostics, record)
    }

    #[test]
    fn journal_text_line() {
        let (events, diagnostics, record) = decode_one(LINE);
        assert_eq!(diagnostics, vec![]);
        assert_eq!(record, Record::Audit);
        let event = &events[0];
        assert_eq!(event.origin.source, SourceKind::Dcos);
        assert_eq!(event.node.as_deref(), Some("master-1.example.com"));
        assert_eq!(event.time.unwrap().to_rfc3339(), "2020-12-27T07:53:40.412Z");
        assert_eq!(event.user.name, "alice@example.com");
        assert_eq!(event.source_ips, ["198.51.100.7"]);
        assert_eq!(event.source_port, Some(51234));
        assert_eq!(event.method.as_deref(), Some("PUT"));
        assert_eq!(event.verb, "update");
        assert_eq!(event.outcome, Outcome::Allow);
        assert_eq!(
            event.annotations[event::ANNOTATION_REASON],
            "IAM PQ response"
        );
        assert_eq!(event.annotations[event::ANNOTATION_DECISION], "allow");
        assert_eq!(
            event.annotations["dcos.io/object"],
            "dcos:adminrouter:service:marathon"
        );
        assert_eq!(event.annotations["dcos.io/action"], "full");
        assert_eq!(event.annotations["dcos.io/host"], "dcos.example.com");
        assert_eq!(event.annotations["dcos.io/server"], "master.mesos");
        let object = event.object.as_ref().unwrap();
        assert_eq!(
            (object.resource.as_str(), object.name.as_str()),
            ("apps", "/test-service-audit")
        );
        assert!(
            event
                .uri
                .starts_with("/service/marathon/v2/apps//test-service-audit?force")
        );
        assert!(event.id.starts_with("dcos-") && event.id.len() == 37);
    }

    #[test]
    fn journal_json_record_has_the_same_id() {
        let message = &LINE[LINE.find("2020/12/27").unwrap()..];
        let json = format!(
            r#"{{"__CURSOR":"s=1;i=2","__REALTIME_TIMESTAMP":"1609055620412345","_HOSTNAME":"master-2.example.com","MESSAGE":{}}}"#,
            serde_json::to_string(message).unwrap()
        );
        assert!(detect_journal_json(json.as_bytes()));
        let (events, diagnostics, _) = decode_one(&json);
        assert_eq!(diagnostics, vec![]);
        let (text_events, _, _) = decode_one(LINE);
        assert_eq!(events[0].node.as_deref(), Some("master-2.example.com"));
        assert_eq!(events[0].id, text_events[0].id);
        let mut both = vec![events[0].clone(), text_events[0].clone()];
        merge_trails(&mut both);
        assert_eq!(both.len(), 1);
    }

    #[test]
    fn deny_without_timestamp_uses_nginx_time_and_journal_bytes_message() {
        let line = r#"2021/03/01 10:00:05 [notice] 1#0: *9 [lua] ee.lua:57: auditlog(): type=audit authorizer=adminrouter object=dcos:adminrouter:service:marathon action=full result=deny reason="not authorized" srcip=203.0.113.50 srcport=40000 request_uri=/service/marathon/v2/apps/prod/api uid=mallory, client: 203.0.113.50, server: master.mesos, request: "DELETE /service/marathon/v2/apps/prod/api HTTP/1.1", host: "dcos.example.com""#;
        let bytes: Vec<u8> = line.bytes().collect();
        let json =
            serde_json::json!({"__CURSOR": "c", "MESSAGE": bytes, "_HOSTNAME": "m3"}).to_string();
        let (events, diagnostics, _) = decode_one(&json);
        assert_eq!(diagnostics, vec![]);
        let event = &events[0];
        assert_eq!(event.outcome, Outcome::Deny);
        assert_eq!(event.annotations[event::ANNOTATION_DECISION], "forbid");
        assert_eq!(event.time.unwrap().to_rfc3339(), "2021-03-01T10:00:05Z");
        assert_eq!(event.verb, "delete");
        assert_eq!(event.object.as_ref().unwrap().name, "/prod/api");
    }

    #[test]
    fn mesos_style_quoted_values_and_spaced_timestamp() {
        let line = r#"dstip=10.0.3.81 type=audit timestamp=2018-04-10 02:38:24.752481024+00:00 reason="Valid authorization token" uid="dcos_net_agent" object="/slave(1)/state" authorizer="mesos-agent" action="GET" result=allow srcip=192.0.2.81 dstport=5051 srcport=56595"#;
        let (events, diagnostics, _) = decode_one(line);
        assert_eq!(diagnostics, vec![]);
        let event = &events[0];
        assert_eq!(
            event.time.unwrap().to_rfc3339(),
            "2018-04-10T02:38:24.752481024Z"
        );
        assert_eq!(event.user.name, "dcos_net_agent");
        assert_eq!(event.verb, "GET");
        assert_eq!(event.method, None);
        assert_eq!(event.object, None);
    }

    #[test]
    fn other_lines_are_skipped_and_broken_records_reported() {
        let access = r#"Dec 27 07:53:41 master-1 nginx[91289]: 198.51.100.7 - - [27/Dec/2020:07:53:41 +0000] "GET /service/marathon/v2/apps HTTP/1.1" 200"#;
        assert_eq!(decode_one(access).2, Record::Other);
        assert_eq!(
            decode_one("-- Logs begin at Sun 2020-12-27 00:00:00 UTC. --").2,
            Record::Other
        );
        let (events, diagnostics, record) =
            decode_one(r#"auditlog(): type=audit reason="unterminated"#);
        assert!(events.is_empty());
        assert_eq!(record, Record::Audit);
        assert!(diagnostics[0].is_error());
        let (_, diagnostics, _) = decode_one(r#"{"__CURSOR": 1"#);
        assert!(diagnostics[0].is_error());
    }

    #[test]
    fn marathon_paths() {
        let name = |uri: &str| marathon_object(uri).map(|o| (o.resource, o.name, o.subresource));
        let some = |r: &str, n: &str, s: &str| Some((r.to_owned(), n.to_owned(), s.to_owned()));
        assert_eq!(
            name("/service/marathon/v2/apps//web"),
            some("apps", "/web", "")
        );
        assert_eq!(
            name("/service/marathon/v2/apps/group/name?force=true"),
            some("apps", "/group/name", "")
        );
        assert_eq!(
            name("/marathon/v2/apps/team/api/restart"),
            some("apps", "/team/api", "restart")
        );
        assert_eq!(name("/service/marathon/v2/apps"), some("apps", "", ""));
        assert_eq!(
            name("/service/marathon/v2/groups//prod"),
            some("groups", "/prod", "")
        );
        assert_eq!(name("/service/marathon/v2/info"), None);
        assert_eq!(name("/mesos/master/state"), None);
    }
}
