//! Mirantis MKE / Docker UCP audit records: the `ucp-controller` container's log.
//!
//! An audit record is a logrus JSON line with the event under `audit` (logrus sorts keys, so
//! `audit` comes first):
//!
//! ```text
//! {"audit":{"kind":"docker-swarm","level":"metadata","auditID":"…","verb":"POST","requestURI":"/services/create",…},"level":"info","msg":"audit","time":"2019-01-30T17:21:45Z"}
//! ```
//!
//! read bare (`docker logs`) or inside Docker's json-file wrapper
//! (`{"log":"<line>\n","stream":"stdout","time":"…"}`), where Docker splits lines longer than
//! 16 KiB into several records and only the last fragment's `log` ends in `\n`; [`Joiner`]
//! joins them back, per stream, up to [`MKE_JOINED_LINE_BYTES_MAX`].
//!
//! Other controller log lines share the stream (logrus JSON without `audit`, plain text).
//! They are not audit records and not malformed: they are skipped without a diagnostic and
//! counted ([`Joiner::skipped`], surfaced as [`crate::Decoder::skipped_records`]). A line that
//! starts like JSON but does not parse is an error, because it may be a broken audit record.
//!
//! The event itself is Kubernetes-shaped and goes through [`crate::k8s::decode`]; then:
//! - `time` is `requestReceivedTimestamp`, else `stageTimestamp`, else the logrus `time`,
//!   else the json-file `time` (MKE writes `null` timestamps);
//! - `sourceIPs` entries carry a port (`172.31.45.250:48516`, `[2001:db8::1]:443`): the address
//!   stays in `source_ips`, the port of the last entry that has one becomes `source_port`;
//! - `user.username` is the account id: when it equals the uid or reads as a UUID and
//!   `user.extra.username[0]` exists, that login becomes the name and the id the `uid`;
//! - `user.extra.licenseKey` is sensitive and dropped, recorded in `auditrail.io/redacted`;
//! - Swarm events (`kind: docker-swarm`, or an upper-case HTTP method as `verb`) keep the
//!   method in `method`, get a lower-case Kubernetes-style verb, and an object read from the
//!   Docker API path (`/services/{id}/update` → `services`, name `{id}`, verb `update`);
//!   Kubernetes-API events keep their own verb and objectRef.

use event::{AuditEvent, ObjectRef, Origin, SourceKind, Timestamp};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::diagnostic::{Diagnostic, excerpt};
use crate::k8s;
use crate::limits::MKE_JOINED_LINE_BYTES_MAX;
use crate::request_info;

/// The `user.extra` key that holds the MKE license key.
pub const LICENSE_KEY: &str = "licenseKey";

/// True when a JSON line starts the way only MKE lines do: Docker's json-file wrapper
/// (`{"log":`) or a logrus audit line (`{"audit":`).
pub fn detect_json(line: &[u8]) -> bool {
    line.starts_with(b"{\"log\":") || line.starts_with(b"{\"audit\":")
}

/// True when a JSON line is controller logging rather than an audit record: it parses, and
/// has none of `log` (json-file), `audit` (logrus audit line), `auditID` or `requestURI` (an
/// event). Auto-detection asks this of JSON lines that carry logrus's `"msg":`, so that a
/// Kubernetes event that merely contains `"msg":` stays a Kubernetes event.
pub fn is_other_logging(line: &[u8]) -> bool {
    serde_json::from_slice::<Envelope<'_>>(line).is_ok_and(|envelope| {
        envelope.log.is_none()
            && envelope.audit.is_none()
            && envelope.audit_id.is_none()
            && envelope.request_uri.is_none()
    })
}

/// Joins Docker json-file fragments and decodes MKE lines, for one input.
#[derive(Debug, Default)]
pub struct Joiner {
    /// The line being joined, per stream (stdout, stderr).
    fragments: [Fragment; 2],
    skipped: u64,
}

#[derive(Debug, Default)]
struct Fragment {
    text: String,
    /// Where the first fragment was read; `None` when nothing is pending.
    origin: Option<Origin>,
    wrapper_time: Option<Timestamp>,
    /// The joined line passed the limit; its fragments are dropped until its end.
    overflowed: bool,
}

/// The keys of any line in the stream that tell what it is.
#[derive(Deserialize)]
struct Envelope<'a> {
    /// json-file wrapper.
    log: Option<String>,
    stream: Option<String>,
    /// logrus: `time` (also the wrapper's time) and the audit event.
    time: Option<String>,
    #[serde(borrow)]
    audit: Option<&'a RawValue>,
    /// A bare Kubernetes event.
    #[serde(rename = "auditID")]
    audit_id: Option<serde::de::IgnoredAny>,
    #[serde(rename = "requestURI")]
    request_uri: Option<serde::de::IgnoredAny>,
}

impl Joiner {
    /// Lines skipped as other controller logging.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Counts a line the caller found to be other controller logging ([`is_other_logging`]).
    pub fn skip_other_logging(&mut self) {
        self.skipped += 1;
    }

    /// Decodes one physical line: a json-file record (maybe a fragment), a logrus line, a
    /// bare Kubernetes event, or other controller logging (skipped and counted).
    pub fn decode(
        &mut self,
        line: &[u8],
        origin: &Origin,
        events: &mut Vec<AuditEvent>,
        diagnostics: &mut Vec<Diagnostic>,
    ) {
        if line.first() != Some(&b'{') {
            self.skipped += 1;
            return;
        }
        let Some(envelope) = parse_envelope(line, "", origin, diagnostics) else {
            return;
        };
        match envelope.log {
            Some(log) => {
                let wrapper_time = parse_time(envelope.time.as_deref());
                let stream = usize::from(envelope.stream.as_deref() == Some("stderr"));
                self.push_fragment(stream, log, wrapper_time, origin, events, diagnostics);
            }
            None => self.decode_envelope(line, &envelope, None, origin, events, diagnostics),
        }
    }

    /// Byte offset (as given in the lines' origins) of the first fragment of a line still
    /// being joined, if any.
    pub fn pending_offset(&self) -> Option<u64> {
        self.fragments
            .iter()
            .filter_map(|fragment| fragment.origin.as_ref()?.offset)
            .min()
    }

    /// Ends the input: a line whose last fragment never came is decoded if it is complete
    /// JSON, else reported.
    pub fn finish(&mut self, events: &mut Vec<AuditEvent>, diagnostics: &mut Vec<Diagnostic>) {
        for stream in 0..self.fragments.len() {
            let fragment = std::mem::take(&mut self.fragments[stream]);
            let Some(origin) = fragment.origin else {
                continue;
            };
            diagnostics.push(Diagnostic::warning(
                origin.line.unwrap_or(0),
                origin.offset.unwrap_or(0),
                "the input ended inside a line Docker split into fragments (no final newline)",
            ));
            if !fragment.overflowed {
                self.decode_inner(
                    fragment.text.as_bytes(),
                    fragment.wrapper_time,
                    &origin,
                    events,
                    diagnostics,
                );
            }
        }
    }

    fn push_fragment(
        &mut self,
        stream: usize,
        log: String,
        wrapper_time: Option<Timestamp>,
        origin: &Origin,
        events: &mut Vec<AuditEvent>,
        diagnostics: &mut Vec<Diagnostic>,
    ) {
        let fragment = &mut self.fragments[stream];
        let complete = log.ends_with('\n');
        if fragment.origin.is_none() {
            if complete {
                // The common case: a whole line in one record.
                let text = log.trim_end_matches(['\n', '\r']);
                self.decode_inner(text.as_bytes(), wrapper_time, origin, events, diagnostics);
                return;
            }
            fragment.origin = Some(origin.clone());
            fragment.wrapper_time = wrapper_time;
        }
        if fragment.text.len() + log.len() > MKE_JOINED_LINE_BYTES_MAX {
            fragment.overflowed = true;
            fragment.text = String::new();
        }
        if !fragment.overflowed {
            fragment.text.push_str(&log);
        }
        if !complete {
            return;
        }
        let fragment = std::mem::take(fragment);
        let first_origin = fragment.origin.unwrap_or_else(|| origin.clone());
        if fragment.overflowed {
            diagnostics.push(Diagnostic::error(
                first_origin.line.unwrap_or(0),
                first_origin.offset.unwrap_or(0),
                format!(
                    "line joined from Docker json-file fragments exceeds the limit of \
                     {MKE_JOINED_LINE_BYTES_MAX} bytes; it was dropped (lower the MKE audit \
                     level from request to metadata to shrink such lines)"
                ),
            ));
            return;
        }
        let text = fragment.text.trim_end_matches(['\n', '\r']);
        self.decode_inner(
            text.as_bytes(),
            fragment.wrapper_time,
            &first_origin,
            events,
            diagnostics,
        );
    }

    /// Decodes the text of a json-file record (a logrus line, or other logging).
    fn decode_inner(
        &mut self,
        text: &[u8],
        wrapper_time: Option<Timestamp>,
        origin: &Origin,
        events: &mut Vec<AuditEvent>,
        diagnostics: &mut Vec<Diagnostic>,
    ) {
        let start = text
            .iter()
            .position(|byte| !byte.is_ascii_whitespace())
            .unwrap_or(text.len());
        let text = &text[start..];
        if text.first() != Some(&b'{') {
            self.skipped += 1;
            return;
        }
        let context = " inside the json-file wrapper";
        if let Some(envelope) = parse_envelope(text, context, origin, diagnostics) {
            self.decode_envelope(text, &envelope, wrapper_time, origin, events, diagnostics);
        }
    }

    /// Decodes a logrus line (or a bare Kubernetes event) whose top-level keys are read.
    fn decode_envelope(
        &mut self,
        line: &[u8],
        envelope: &Envelope<'_>,
        wrapper_time: Option<Timestamp>,
        origin: &Origin,
        events: &mut Vec<AuditEvent>,
        diagnostics: &mut Vec<Diagnostic>,
    ) {
        let mke_origin = Origin {
            source: SourceKind::Mke,
            ..origin.clone()
        };
        let record = match envelope.audit {
            Some(audit) if audit.get().starts_with('{') => audit.get().as_bytes(),
            Some(_) => {
                diagnostics.push(Diagnostic::error(
                    origin.line.unwrap_or(0),
                    origin.offset.unwrap_or(0),
                    format!(
                        "MKE audit line whose \"audit\" is not an object: {}",
                        excerpt(line)
                    ),
                ));
                return;
            }
            None if envelope.audit_id.is_some() || envelope.request_uri.is_some() => line,
            None => {
                // Other controller logging (`msg` is not an audit record).
                self.skipped += 1;
                return;
            }
        };
        let logrus_time = parse_time(envelope.time.as_deref());
        let before = events.len();
        k8s::decode(record, &mke_origin, events, diagnostics);
        for event in &mut events[before..] {
            normalize(event, logrus_time.or(wrapper_time));
        }
    }
}

/// Reads the top-level keys of a JSON line; a line that does not parse is an error (it may be a
/// broken audit record).
fn parse_envelope<'a>(
    text: &'a [u8],
    context: &str,
    origin: &Origin,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Envelope<'a>> {
    match serde_json::from_slice::<Envelope<'a>>(text) {
        Ok(envelope) => Some(envelope),
        Err(error) => {
            diagnostics.push(Diagnostic::error(
                origin.line.unwrap_or(0),
                origin.offset.unwrap_or(0),
                format!(
                    "invalid JSON in an MKE controller line{context} ({error}): {}",
                    excerpt(text)
                ),
            ));
            None
        }
    }
}

fn parse_time(text: Option<&str>) -> Option<Timestamp> {
    text.and_then(|text| Timestamp::parse(text).ok())
}

/// Applies MKE's quirks to an event the Kubernetes decoder read.
pub fn normalize(event: &mut AuditEvent, fallback_time: Option<Timestamp>) {
    event.origin.source = SourceKind::Mke;
    event.time = event.time.or(event.stage_time).or(fallback_time);
    let mut port = None;
    for address in &mut event.source_ips {
        let (host, address_port) = split_host_port(address);
        if let Some(address_port) = address_port {
            port = Some(address_port);
            *address = host.to_owned();
        }
    }
    if port.is_some() {
        event.source_port = port;
    }
    let mut redacted = Vec::new();
    if drop_license_key(&mut event.user) {
        redacted.push("user.extra.licenseKey");
    }
    if let Some(actor) = event.impersonated_user.as_mut() {
        if drop_license_key(actor) {
            redacted.push("impersonatedUser.extra.licenseKey");
        }
        use_login_name(actor);
    }
    if !redacted.is_empty() {
        let note = event
            .annotations
            .entry(event::ANNOTATION_REDACTED.to_owned())
            .or_default();
        for path in redacted {
            if !note.is_empty() {
                note.push(',');
            }
            note.push_str(path);
        }
    }
    use_login_name(&mut event.user);
    let swarm = event.extensions.kind.as_deref() == Some("docker-swarm");
    let http_method =
        !event.verb.is_empty() && event.verb.bytes().all(|byte| byte.is_ascii_uppercase());
    if swarm || http_method {
        read_http_request(event);
    }
}

/// Splits `address:port`, `[v6]:port` or a bare address.
pub fn split_host_port(address: &str) -> (&str, Option<u16>) {
    if let Some(rest) = address.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((host, tail)) => (host, tail.strip_prefix(':').and_then(|p| p.parse().ok())),
            None => (address, None),
        };
    }
    match address.split_once(':') {
        Some((host, port)) if !port.contains(':') => match port.parse() {
            Ok(port) => (host, Some(port)),
            Err(_) => (address, None),
        },
        _ => (address, None),
    }
}

fn drop_license_key(actor: &mut event::Actor) -> bool {
    let Some(extra) = actor.extra.as_mut() else {
        return false;
    };
    let removed = extra.remove(LICENSE_KEY).is_some();
    if extra.is_empty() {
        actor.extra = None;
    }
    removed
}

/// Puts the human login in `name` when `name` is the account id.
fn use_login_name(actor: &mut event::Actor) {
    let is_id = !actor.name.is_empty() && (actor.name == actor.uid || is_uuid(&actor.name));
    if !is_id {
        return;
    }
    let login = actor
        .extra
        .as_ref()
        .and_then(|extra| extra.get("username"))
        .and_then(|names| names.first())
        .filter(|name| !name.is_empty())
        .cloned();
    if let Some(login) = login {
        if actor.uid.is_empty() {
            actor.uid = std::mem::take(&mut actor.name);
        }
        actor.name = login;
    }
}

fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.bytes().enumerate().all(|(index, byte)| match index {
            8 | 13 | 18 | 23 => byte == b'-',
            _ => byte.is_ascii_hexdigit(),
        })
}

/// A Swarm event: the verb is the HTTP method; the object comes from the Docker API path (or
/// the Kubernetes path, for a Kubernetes request logged this way).
fn read_http_request(event: &mut AuditEvent) {
    let method = event.verb.to_ascii_uppercase();
    let path = event.path().to_owned();
    let kubernetes = path.starts_with("/apis/")
        || path
            .strip_prefix("/api/v")
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()));
    if kubernetes {
        let info = request_info::parse(&event.uri);
        event.verb = request_info::verb_for_method(&method, &info, &event.uri);
        if event.object.is_none() {
            event.object = info.object;
        }
    } else {
        let (object, verb) = docker_request(&method, &path);
        event.verb = verb;
        if event.object.is_none() {
            event.object = object;
        }
    }
    event.method = Some(method);
}

/// Docker Engine API collections that name objects.
const DOCKER_RESOURCES: [&str; 13] = [
    "containers",
    "services",
    "secrets",
    "configs",
    "nodes",
    "networks",
    "volumes",
    "images",
    "tasks",
    "plugins",
    "swarm",
    "exec",
    "distribution",
];

/// Path actions on a collection (`/services/create`, `/containers/json`).
const COLLECTION_ACTIONS: [&str; 4] = ["create", "prune", "json", "pull"];

/// Path actions on one object (`/services/{id}/update`, `/containers/{id}/start`).
const OBJECT_ACTIONS: [&str; 28] = [
    "update",
    "json",
    "inspect",
    "start",
    "stop",
    "restart",
    "kill",
    "pause",
    "unpause",
    "attach",
    "exec",
    "logs",
    "wait",
    "rename",
    "resize",
    "top",
    "changes",
    "export",
    "stats",
    "archive",
    "tag",
    "push",
    "history",
    "get",
    "connect",
    "disconnect",
    "upgrade",
    "enable",
];

/// The object and normalized verb of a Docker Engine API request.
pub fn docker_request(method: &str, path: &str) -> (Option<ObjectRef>, String) {
    let lower = method.to_ascii_lowercase();
    let mut segments: Vec<&str> = path.split('/').filter(|part| !part.is_empty()).collect();
    let mut api_version = "";
    if let Some(first) = segments.first() {
        let numeric = first.strip_prefix('v').is_some_and(|rest| {
            !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        });
        if numeric {
            api_version = first;
            segments.remove(0);
        }
    }
    let Some((&resource, rest)) = segments.split_first() else {
        return (None, lower);
    };
    if !DOCKER_RESOURCES.contains(&resource) {
        return (None, lower);
    }
    let (name, action) = match rest {
        [] => (String::new(), ""),
        _ if resource == "swarm" => (String::new(), rest.last().copied().unwrap_or_default()),
        [single] if COLLECTION_ACTIONS.contains(single) => (String::new(), *single),
        [head @ .., last] if !head.is_empty() && OBJECT_ACTIONS.contains(last) => {
            (head.join("/"), *last)
        }
        _ => (rest.join("/"), ""),
    };
    let verb = match (lower.as_str(), action) {
        (_, "create") => "create",
        (_, "update") => "update",
        ("get" | "head", "json" | "inspect" | "") if name.is_empty() => "list",
        ("get" | "head", _) => "get",
        ("delete", _) => "delete",
        ("post", "") if name.is_empty() => "create",
        _ => lower.as_str(),
    };
    let subresource = match action {
        "create" | "update" | "json" | "inspect" => "",
        other => other,
    };
    let object = ObjectRef {
        resource: resource.to_owned(),
        name,
        api_version: api_version.to_owned(),
        subresource: subresource.to_owned(),
        ..ObjectRef::default()
    };
    (Some(object), verb.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_lines(lines: &[&str]) -> (Vec<AuditEvent>, Vec<Diagnostic>, u64) {
        let mut joiner = Joiner::default();
        let mut events = Vec::new();
        let mut diagnostics = Vec::new();
        for (index, line) in lines.iter().enumerate() {
            let origin = Origin {
                line: Some(index as u64 + 1),
                ..Origin::default()
            };
            joiner.decode(line.as_bytes(), &origin, &mut events, &mut diagnostics);
        }
        joiner.finish(&mut events, &mut diagnostics);
        (events, diagnostics, joiner.skipped())
    }

    const SWARM: &str = r#"{"audit":{"kind":"docker-swarm","level":"metadata","timestamp":null,"metadata":{"creationTimestamp":null},"auditID":"8d3f2c1b-7a6e-4d5c-9b8a-7f6e5d4c3b2a","stage":"ResponseComplete","requestURI":"/services/kx7wq3/update?version=42\u0026registryAuthFrom=spec","verb":"POST","user":{"username":"4f1e5c2d-3b4a-4968-8776-a5b4c3d2e1f0","uid":"4f1e5c2d-3b4a-4968-8776-a5b4c3d2e1f0","extra":{"licenseKey":["secret-license"],"username":["jane"]}},"sourceIPs":["203.0.113.9:48516"],"responseStatus":{"metadata":{},"code":200},"requestReceivedTimestamp":null,"stageTimestamp":null},"level":"info","msg":"audit","time":"2019-01-30T17:21:45Z"}"#;

    #[test]
    fn swarm_event_fields() {
        let (events, diagnostics, skipped) = decode_lines(&[SWARM]);
        assert_eq!(diagnostics, vec![]);
        assert_eq!(skipped, 0);
        let event = &events[0];
        assert_eq!(event.origin.source, SourceKind::Mke);
        assert_eq!(event.verb, "update");
        assert_eq!(event.method.as_deref(), Some("POST"));
        let object = event.object.as_ref().unwrap();
        assert_eq!(
            (object.resource.as_str(), object.name.as_str()),
            ("services", "kx7wq3")
        );
        assert_eq!(event.user.name, "jane");
        assert_eq!(event.user.uid, "4f1e5c2d-3b4a-4968-8776-a5b4c3d2e1f0");
        assert!(!event.user.extra.as_ref().unwrap().contains_key(LICENSE_KEY));
        assert_eq!(
            event.annotations[event::ANNOTATION_REDACTED],
            "user.extra.licenseKey"
        );
        assert_eq!(event.source_ips, ["203.0.113.9"]);
        assert_eq!(event.source_port, Some(48516));
        assert_eq!(event.time.unwrap().to_rfc3339(), "2019-01-30T17:21:45Z");
        assert_eq!(event.level, Some(event::Level::Metadata));
        assert_eq!(
            event.uri,
            "/services/kx7wq3/update?version=42&registryAuthFrom=spec"
        );
    }

    #[test]
    fn json_file_wrapper_and_fragments_are_joined() {
        let whole = serde_json::to_string(&format!("{SWARM}\n")).unwrap();
        let wrapped =
            format!(r#"{{"log":{whole},"stream":"stdout","time":"2019-01-30T17:21:46.5Z"}}"#);
        let (first, second) = SWARM.split_at(100);
        let part = |text: &str, time: &str| {
            format!(
                r#"{{"log":{},"stream":"stdout","time":"{time}"}}"#,
                serde_json::to_string(text).unwrap()
            )
        };
        let split_a = part(first, "2019-01-30T17:21:47Z");
        let other = part(
            "{\"level\":\"info\",\"msg\":\"interleaved\"}\n",
            "2019-01-30T17:21:47Z",
        )
        .replace("stdout", "stderr");
        let split_b = part(&format!("{second}\n"), "2019-01-30T17:21:48Z");
        let (events, diagnostics, skipped) = decode_lines(&[&wrapped, &split_a, &other, &split_b]);
        assert_eq!(diagnostics, vec![]);
        assert_eq!(skipped, 1);
        assert_eq!(events.len(), 2);
        assert_eq!(events[1].origin.line, Some(2), "the first fragment's line");
        assert_eq!(
            events[0],
            AuditEvent {
                origin: events[0].origin.clone(),
                ..events[1].clone()
            }
        );
    }

    #[test]
    fn time_falls_back_from_received_to_stage_to_logrus_to_wrapper() {
        let no_logrus_time = SWARM.replace(r#","time":"2019-01-30T17:21:45Z""#, "");
        let wrapped = format!(
            r#"{{"log":{},"stream":"stdout","time":"2019-01-30T17:30:00Z"}}"#,
            serde_json::to_string(&format!("{no_logrus_time}\n")).unwrap()
        );
        let staged = SWARM.replace(
            r#""stageTimestamp":null"#,
            r#""stageTimestamp":"2019-01-30T17:21:44.000001Z""#,
        );
        let received = staged.replace(
            r#""requestReceivedTimestamp":null"#,
            r#""requestReceivedTimestamp":"2019-01-30T17:21:43.5Z""#,
        );
        let (events, diagnostics, _) = decode_lines(&[&wrapped, &staged, &received]);
        assert_eq!(diagnostics, vec![]);
        let times: Vec<String> = events
            .iter()
            .map(|e| e.time.unwrap().to_rfc3339())
            .collect();
        assert_eq!(
            times,
            [
                "2019-01-30T17:30:00Z",
                "2019-01-30T17:21:44.000001Z",
                "2019-01-30T17:21:43.5Z"
            ]
        );
    }

    #[test]
    fn other_controller_lines_are_skipped_and_broken_json_is_an_error() {
        let (events, diagnostics, skipped) = decode_lines(&[
            r#"{"level":"info","msg":"reconciling","time":"2019-01-30T17:21:45Z"}"#,
            "time=\"2019-01-30T17:21:45Z\" level=info msg=\"plain text\"",
            r#"{"audit":{"kind":"docker-swarm""#,
            r#"{"audit":42,"msg":"audit"}"#,
        ]);
        assert!(events.is_empty());
        assert_eq!(skipped, 2);
        assert_eq!(diagnostics.iter().filter(|d| d.is_error()).count(), 2);
    }

    #[test]
    fn kubernetes_events_keep_their_verb_and_object() {
        let line = r#"{"audit":{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"k1","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/team-a/secrets/db","verb":"get","user":{"username":"jane","uid":"5a1e","extra":{"licenseKey":["x"]}},"sourceIPs":["[2001:db8::7]:52114"],"objectRef":{"resource":"secrets","namespace":"team-a","name":"db","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":200},"requestReceivedTimestamp":"2024-05-02T10:00:00.000001Z","stageTimestamp":"2024-05-02T10:00:00.000002Z"},"level":"info","msg":"audit","time":"2024-05-02T10:00:00Z"}"#;
        let (events, diagnostics, _) = decode_lines(&[line]);
        assert_eq!(diagnostics, vec![]);
        let event = &events[0];
        assert_eq!(event.verb, "get");
        assert_eq!(event.method, None);
        assert_eq!(event.user.name, "jane");
        assert_eq!(event.user.extra, None);
        assert_eq!(event.source_ips, ["2001:db8::7"]);
        assert_eq!(event.source_port, Some(52114));
        assert_eq!(event.object.as_ref().unwrap().namespace, "team-a");
    }

    #[test]
    fn host_port_forms() {
        assert_eq!(split_host_port("192.0.2.1:443"), ("192.0.2.1", Some(443)));
        assert_eq!(split_host_port("192.0.2.1"), ("192.0.2.1", None));
        assert_eq!(split_host_port("[::1]:443"), ("::1", Some(443)));
        assert_eq!(split_host_port("[::1]"), ("::1", None));
        assert_eq!(split_host_port("2001:db8::1"), ("2001:db8::1", None));
        assert_eq!(split_host_port("host:notaport"), ("host:notaport", None));
    }

    #[test]
    fn docker_paths() {
        let read = |method: &str, path: &str| {
            let (object, verb) = docker_request(method, path);
            let object = object.map(|o| (o.resource, o.name, o.subresource, o.api_version));
            (object, verb)
        };
        let some =
            |r: &str, n: &str, s: &str, v: &str| Some((r.into(), n.into(), s.into(), v.into()));
        assert_eq!(
            read("POST", "/services/create"),
            (some("services", "", "", ""), "create".into())
        );
        assert_eq!(
            read("POST", "/v1.41/services/abc/update"),
            (some("services", "abc", "", "v1.41"), "update".into())
        );
        assert_eq!(
            read("DELETE", "/secrets/s1"),
            (some("secrets", "s1", "", ""), "delete".into())
        );
        assert_eq!(
            read("POST", "/secrets/create"),
            (some("secrets", "", "", ""), "create".into())
        );
        assert_eq!(
            read("GET", "/containers/json"),
            (some("containers", "", "", ""), "list".into())
        );
        assert_eq!(
            read("GET", "/containers/c1/json"),
            (some("containers", "c1", "", ""), "get".into())
        );
        assert_eq!(
            read("POST", "/containers/c1/start"),
            (some("containers", "c1", "start", ""), "post".into())
        );
        assert_eq!(
            read("GET", "/nodes"),
            (some("nodes", "", "", ""), "list".into())
        );
        assert_eq!(
            read("POST", "/nodes/n1/update"),
            (some("nodes", "n1", "", ""), "update".into())
        );
        assert_eq!(
            read("POST", "/swarm/join"),
            (some("swarm", "", "join", ""), "post".into())
        );
        assert_eq!(
            read("GET", "/images/library/nginx/json"),
            (some("images", "library/nginx", "", ""), "get".into())
        );
        assert_eq!(read("GET", "/_ping"), (None, "get".into()));
        assert_eq!(read("PUT", "/api/ucp/config/logging"), (None, "put".into()));
    }
}
