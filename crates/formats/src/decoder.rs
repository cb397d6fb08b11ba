//! Decoding one input: choosing the format (per input, or per line for `auto`), numbering
//! records, and keeping what a format needs across lines.

use std::sync::Arc;

use event::{AuditEvent, Origin, SourceKind};
use serde_json::value::RawValue;

use crate::diagnostic::{Diagnostic, excerpt};
use crate::frame::Line;
use crate::limits::LINE_BYTES_MAX;
use crate::{auditd, dcos, jsonl, k8s, legacy, mke, okd};

/// The format of an input, as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputFormat {
    /// Decide per line: Kubernetes JSON, the legacy one-line format, OKD two-line lines, MKE
    /// controller lines, DC/OS adminrouter lines, or auditrail's own JSON.
    Auto,
    /// Kubernetes `audit.k8s.io` JSON (events, `EventList`s, arrays).
    K8s,
    /// The Kubernetes log backend's `legacy` one-line format.
    K8sLegacy,
    /// OpenShift/OKD 3.x master API log: two-line `AUDIT:` format, one-line `stage=`, JSON.
    Okd,
    /// Mirantis MKE / Docker UCP `ucp-controller` log (logrus JSON, json-file wrapper).
    Mke,
    /// DC/OS adminrouter `auditlog()` lines (journal text or `journalctl -o json`).
    Dcos,
    /// Linux audit logs (`/var/log/audit/audit.log`), raw or ENRICHED.
    Auditd,
    /// auditrail's normalized JSON lines.
    Jsonl,
}

impl InputFormat {
    /// Every format with its command-line name.
    pub const ALL: [(InputFormat, &'static str); 8] = [
        (InputFormat::Auto, "auto"),
        (InputFormat::K8s, "k8s"),
        (InputFormat::K8sLegacy, "k8s-legacy"),
        (InputFormat::Okd, "okd"),
        (InputFormat::Mke, "mke"),
        (InputFormat::Dcos, "dcos"),
        (InputFormat::Auditd, "auditd"),
        (InputFormat::Jsonl, "jsonl"),
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        InputFormat::ALL
            .iter()
            .find(|(format, _)| *format == self)
            .map_or("auto", |(_, name)| name)
    }
}

/// Decodes the records of one input.
///
/// State that spans lines lives here: OKD request lines waiting for their response line,
/// MKE lines Docker split into fragments, and the count of lines skipped as not audit records
/// (other `ucp-controller` log lines, other adminrouter journal lines). Call [`Decoder::finish`]
/// at the end of the input to flush it.
#[derive(Debug)]
pub struct Decoder {
    format: InputFormat,
    origin: Origin,
    okd: okd::Pairing,
    mke: mke::Joiner,
    dcos_skipped: u64,
    /// Linux audit grouping; records of one event span lines.
    auditd: auditd::Grouper,
}

impl Decoder {
    /// A decoder for the input named `input` (a path, `-`, or a peer address).
    pub fn new(format: InputFormat, input: &str) -> Decoder {
        let origin = Origin {
            source: SourceKind::K8s,
            input: Some(Arc::from(input)),
            line: None,
            offset: None,
        };
        Decoder {
            format,
            origin,
            okd: okd::Pairing::default(),
            mke: mke::Joiner::default(),
            dcos_skipped: 0,
            auditd: auditd::Grouper::new(input),
        }
    }

    /// Names Linux audit uids and gids with the log host's passwd and group files (never the
    /// reading machine's).
    pub fn with_user_db(mut self, user_db: std::sync::Arc<auditd::UserDb>) -> Decoder {
        self.auditd =
            std::mem::replace(&mut self.auditd, auditd::Grouper::new("")).with_user_db(user_db);
        self
    }

    /// Lines read but skipped without an event or a diagnostic because they are not audit
    /// records of a format that shares its stream with other logging: OKD master journal and
    /// glog lines without `AUDIT: ` (with `--from okd`), MKE controller lines other than
    /// audit records, DC/OS adminrouter lines other than `auditlog()`. They are not
    /// malformed; callers report the count so that every line stays accounted for.
    pub fn skipped_records(&self) -> u64 {
        self.okd.skipped() + self.mke.skipped() + self.dcos_skipped
    }

    /// Byte offset (as given in [`Line::offset`]) of the oldest line whose record this decoder
    /// still holds (an OKD request waiting for its response, a Docker-split MKE line, an
    /// open Linux audit event), or `None` when it holds nothing. A reader that must resume
    /// after a restart without losing records resumes there (or at the end of the last line
    /// read, when nothing is held); events decoded again are deduplicated by identity.
    pub fn pending_offset(&self) -> Option<u64> {
        [
            self.okd.pending_offset(),
            self.mke.pending_offset(),
            self.auditd.pending_offset(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Decodes one line. Blank lines are skipped silently.
    pub fn decode_line(
        &mut self,
        line: &Line<'_>,
        events: &mut Vec<AuditEvent>,
        diagnostics: &mut Vec<Diagnostic>,
    ) {
        self.origin.line = Some(line.number);
        self.origin.offset = Some(line.offset);
        if line.overlong {
            diagnostics.push(Diagnostic::error(
                line.number,
                line.offset,
                format!(
                    "line of {} bytes exceeds the limit of {LINE_BYTES_MAX} bytes: {}",
                    line.length,
                    excerpt(line.bytes)
                ),
            ));
            return;
        }
        let bytes = trim_start(line.bytes);
        if bytes.is_empty() {
            return;
        }
        match self.format {
            InputFormat::K8s => k8s::decode(bytes, &self.origin, events, diagnostics),
            InputFormat::K8sLegacy => legacy::decode(bytes, &self.origin, events, diagnostics),
            InputFormat::Okd => self.okd.decode(bytes, &self.origin, events, diagnostics),
            InputFormat::Mke => self.mke.decode(bytes, &self.origin, events, diagnostics),
            InputFormat::Dcos => self.decode_dcos(bytes, events, diagnostics),
            InputFormat::Auditd => {
                self.auditd
                    .push_line(bytes, line.number, line.offset, events, diagnostics);
            }
            InputFormat::Jsonl => jsonl::decode(bytes, &self.origin, events, diagnostics),
            InputFormat::Auto => self.decode_auto(bytes, events, diagnostics),
        }
    }

    /// Decodes one line of an `auto` input in the format [`route_auto`] chose.
    fn decode_auto(
        &mut self,
        bytes: &[u8],
        events: &mut Vec<AuditEvent>,
        diagnostics: &mut Vec<Diagnostic>,
    ) {
        match route_auto(bytes) {
            Route::K8s => k8s::decode(bytes, &self.origin, events, diagnostics),
            Route::Jsonl => jsonl::decode(bytes, &self.origin, events, diagnostics),
            Route::Mke => self.mke.decode(bytes, &self.origin, events, diagnostics),
            Route::MkeOtherLogging => self.mke.skip_other_logging(),
            Route::Dcos => self.decode_dcos(bytes, events, diagnostics),
            Route::Legacy => legacy::decode(bytes, &self.origin, events, diagnostics),
            Route::OkdTwoLine => {
                self.okd
                    .decode_two_line(bytes, &self.origin, events, diagnostics);
            }
            Route::Auditd => {
                let (line, offset) = (
                    self.origin.line.unwrap_or(0),
                    self.origin.offset.unwrap_or(0),
                );
                self.auditd
                    .push_line(bytes, line, offset, events, diagnostics);
            }
            Route::Unrecognized => diagnostics.push(Diagnostic::error(
                self.origin.line.unwrap_or(0),
                self.origin.offset.unwrap_or(0),
                format!(
                    "unrecognized line: tried Kubernetes audit JSON, legacy and OKD \"AUDIT:\" \
                     lines, MKE controller JSON, DC/OS adminrouter auditlog() lines, Linux audit \
                     records and auditrail jsonl (name the format with --from): {}",
                    excerpt(bytes)
                ),
            )),
        }
    }

    /// A cheap view of `line` for a policy to decide on before decoding it ([`k8s::peek`]):
    /// `Some` only when [`Decoder::decode_line`] would decode the line as one Kubernetes
    /// event without any diagnostic, and then the view's [`k8s::Peek::attributes`] are that
    /// event's. Such a line is independent ([`Decoder::is_independent`]), so skipping its
    /// decoding changes nothing else.
    pub fn peek<'a>(&self, line: &Line<'a>) -> Option<k8s::Peek<'a>> {
        self.peek_unless(line, &mut |_| true)
    }

    /// [`Decoder::peek`] that stops early when `wanted` says no ([`k8s::peek_unless`]).
    pub fn peek_unless<'a>(
        &self,
        line: &Line<'a>,
        wanted: &mut dyn FnMut(&event::Attributes<'_>) -> bool,
    ) -> Option<k8s::Peek<'a>> {
        if line.overlong {
            return None;
        }
        let bytes = trim_start(line.bytes);
        let k8s = match self.format {
            InputFormat::K8s => true,
            InputFormat::Auto => route_auto(bytes) == Route::K8s,
            _ => false,
        };
        if k8s {
            k8s::peek_unless(bytes, wanted)
        } else {
            None
        }
    }

    /// True when decoding `line` (one line of this decoder's input, as framed) neither reads
    /// nor changes what the decoder keeps across lines, apart from counts that add up (lines
    /// skipped as other logging). Such a line gives the same events and diagnostics from any
    /// [`Decoder`] of the same format and input, in any order, so independent lines can be
    /// decoded in parallel while the others go through one decoder in input order; the
    /// result is the same as decoding every line in order with one decoder.
    ///
    /// Kubernetes JSON, legacy one-line, DC/OS and jsonl lines are independent; OKD two-line
    /// request and response lines (paired by id), MKE lines (Docker fragments are rejoined)
    /// and Linux audit records (grouped by serial) are not.
    pub fn is_independent(&self, line: &[u8]) -> bool {
        match self.format {
            InputFormat::K8s | InputFormat::K8sLegacy | InputFormat::Dcos | InputFormat::Jsonl => {
                true
            }
            InputFormat::Okd | InputFormat::Mke | InputFormat::Auditd => false,
            InputFormat::Auto => match route_auto(trim_start(line)) {
                Route::K8s
                | Route::Jsonl
                | Route::MkeOtherLogging
                | Route::Dcos
                | Route::Legacy
                | Route::Unrecognized => true,
                Route::Mke | Route::OkdTwoLine | Route::Auditd => false,
            },
        }
    }

    fn decode_dcos(
        &mut self,
        bytes: &[u8],
        events: &mut Vec<AuditEvent>,
        diagnostics: &mut Vec<Diagnostic>,
    ) {
        if dcos::decode(bytes, &self.origin, events, diagnostics) == dcos::Record::Other {
            self.dcos_skipped += 1;
        }
    }

    /// Decodes a whole input whose records span lines (see [`crate::frame::detect`]): a
    /// sequence of JSON values, each an event, an `EventList` or an array.
    pub fn decode_document(
        &mut self,
        document: &[u8],
        events: &mut Vec<AuditEvent>,
        diagnostics: &mut Vec<Diagnostic>,
    ) {
        let document = document.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(document);
        let mut stream = serde_json::Deserializer::from_slice(document).into_iter::<&RawValue>();
        let mut line = 1u64;
        let mut counted_to = 0usize;
        loop {
            let start = skip_whitespace(document, stream.byte_offset());
            line += memchr::memchr_iter(b'\n', &document[counted_to..start]).count() as u64;
            counted_to = start;
            self.origin.line = Some(line);
            self.origin.offset = Some(start as u64);
            match stream.next() {
                None => return,
                Some(Ok(value)) => match self.format {
                    InputFormat::Jsonl => {
                        jsonl::decode(value.get().as_bytes(), &self.origin, events, diagnostics)
                    }
                    _ => k8s::decode(value.get().as_bytes(), &self.origin, events, diagnostics),
                },
                Some(Err(error)) => {
                    diagnostics.push(Diagnostic::error(
                        line,
                        start as u64,
                        format!(
                            "invalid JSON document ({error}); the rest of the input from here was not read: {}",
                            excerpt(&document[start..])
                        ),
                    ));
                    return;
                }
            }
        }
    }

    /// Ends the input. Formats that pair records across lines flush what is pending here: OKD
    /// requests still waiting for a response (kept, marked as response missing), an MKE
    /// line whose last Docker fragment never came, and Linux audit events still open.
    pub fn finish(&mut self, events: &mut Vec<AuditEvent>, diagnostics: &mut Vec<Diagnostic>) {
        self.okd.finish(events);
        self.mke.finish(events, diagnostics);
        self.auditd.finish(events, diagnostics);
    }
}

/// How an `auto` input's line is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// Kubernetes audit JSON: an event, an `EventList` or an array.
    K8s,
    /// auditrail's own JSON line.
    Jsonl,
    /// An MKE controller line: Docker json-file wrapper or logrus audit line.
    Mke,
    /// Other `ucp-controller` logging (logrus JSON without an audit record), skipped.
    MkeOtherLogging,
    /// A DC/OS adminrouter line, journal text or `journalctl -o json`.
    Dcos,
    /// The log backend's legacy one-line format (`stage=`).
    Legacy,
    /// An OKD 3.x two-line request or response line.
    OkdTwoLine,
    /// A Linux audit record.
    Auditd,
    /// None of the above.
    Unrecognized,
}

/// Chooses the format of one line (without leading whitespace). The order matters for speed:
/// the API server writes every JSON event starting with `{"kind":`, so that check comes first
/// and costs one comparison; the other JSON shapes are told apart by their first key (jsonl
/// `origin`, Docker json-file `log`, logrus `audit`, journal `__CURSOR`/`__REALTIME_TIMESTAMP`),
/// and only a JSON line with none of these is searched for logrus's `"msg":` (other MKE
/// controller logging, skipped and counted); the rest is Kubernetes JSON. Text lines with
/// `AUDIT: ` are legacy one-line (`stage=`) or OKD two-line; then Linux audit, then DC/OS
/// `auditlog()`.
fn route_auto(bytes: &[u8]) -> Route {
    match bytes.first() {
        Some(b'{') => {
            if bytes.starts_with(b"{\"kind\":") {
                Route::K8s
            } else if bytes.starts_with(b"{\"origin\":") {
                Route::Jsonl
            } else if mke::detect_json(bytes) {
                Route::Mke
            } else if dcos::detect_journal_json(bytes) {
                Route::Dcos
            } else if memchr::memmem::find(bytes, b"\"msg\":").is_some()
                && mke::is_other_logging(bytes)
            {
                Route::MkeOtherLogging
            } else {
                Route::K8s
            }
        }
        Some(b'[') => Route::K8s,
        _ if legacy::detect(bytes) => match okd::line_kind(bytes) {
            okd::LineKind::OneLine => Route::Legacy,
            okd::LineKind::TwoLine => Route::OkdTwoLine,
        },
        _ if auditd::detect(bytes) => Route::Auditd,
        _ if dcos::detect_text(bytes) => Route::Dcos,
        _ => Route::Unrecognized,
    }
}

fn trim_start(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|byte| !byte.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    &bytes[start..]
}

fn skip_whitespace(bytes: &[u8], from: usize) -> usize {
    bytes[from.min(bytes.len())..]
        .iter()
        .position(|byte| !byte.is_ascii_whitespace())
        .map_or(bytes.len(), |skip| from + skip)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::LineFramer;

    fn decode_auto(input: &str) -> (Vec<AuditEvent>, Vec<Diagnostic>, u64) {
        let mut decoder = Decoder::new(InputFormat::Auto, "test");
        let mut events = Vec::new();
        let mut diagnostics = Vec::new();
        let mut framer = LineFramer::new();
        framer.push(input.as_bytes(), |line| {
            decoder.decode_line(&line, &mut events, &mut diagnostics)
        });
        framer.finish(|line| decoder.decode_line(&line, &mut events, &mut diagnostics));
        decoder.finish(&mut events, &mut diagnostics);
        let skipped = decoder.skipped_records();
        (events, diagnostics, skipped)
    }

    #[test]
    fn auto_tells_every_shape_apart_per_line() {
        let input = [
            r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"k","stage":"ResponseComplete","requestURI":"/healthz","verb":"get","user":{}}"#,
            r#"{"level":"Metadata","auditID":"k2","stage":"ResponseComplete","requestURI":"/api","verb":"get","user":{},"annotations":{"msg":"x"},"x-note":{"msg":1}}"#,
            r#"{"origin":{"source":"dcos"},"id":"j"}"#,
            r#"2025-01-01T00:00:00Z AUDIT: id="l" stage="ResponseComplete" ip="192.0.2.1" method="get" user="u" groups="<none>" as="<self>" asgroups="<lookup>" namespace="<none>" uri="/healthz" response="200""#,
            r#"2025-01-01T00:00:01Z AUDIT: id="o" ip="192.0.2.1" method="GET" user="u" groups="<none>" as="<self>" asgroups="<lookup>" namespace="<none>" uri="/version""#,
            r#"2025-01-01T00:00:02Z AUDIT: id="o" response="200""#,
            r#"{"audit":{"kind":"docker-swarm","level":"metadata","auditID":"m","stage":"ResponseComplete","requestURI":"/nodes","verb":"GET","user":{"username":"u"}},"level":"info","msg":"audit","time":"2025-01-01T00:00:03Z"}"#,
            r#"{"level":"info","msg":"reconciling","time":"2025-01-01T00:00:03Z"}"#,
            r#"{"__CURSOR":"c","MESSAGE":"2025/01/01 00:00:04 [notice] 1#0: *1 [lua] ee.lua:57: auditlog(): type=audit timestamp=2025-01-01T00:00:04Z object=o action=full result=allow reason=\"r\" srcip=192.0.2.9 srcport=1 request_uri=/ uid=d"}"#,
            r#"Jan 01 00:00:05 m1 nginx[1]: 2025/01/01 00:00:05 [notice] 1#0: *2 [lua] ee.lua:57: auditlog(): type=audit timestamp=2025-01-01T00:00:05Z object=o action=full result=deny reason="r" srcip=192.0.2.9 srcport=2 request_uri=/ uid=d"#,
            "something else entirely",
        ]
        .join("\n");
        let (events, diagnostics, skipped) = decode_auto(&input);
        let sources: Vec<(&str, &str)> = events
            .iter()
            .map(|event| (event.id.as_str(), event.origin.source.as_str()))
            .collect();
        assert_eq!(
            &sources[..6],
            [
                ("k", "k8s"),
                ("k2", "k8s"),
                ("j", "dcos"),
                ("l", "k8s"),
                ("o", "okd"),
                ("m", "mke"),
            ]
        );
        assert_eq!(sources.len(), 8, "{sources:?} {diagnostics:?}");
        assert!(sources[6..].iter().all(|(_, source)| *source == "dcos"));
        assert_eq!(skipped, 1);
        assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
        let message = &diagnostics[0].message;
        for named in ["Kubernetes", "OKD", "MKE", "DC/OS", "jsonl", "--from"] {
            assert!(message.contains(named), "{message}");
        }
    }
}

#[cfg(test)]
mod pending_tests {
    use super::*;
    use crate::frame::LineFramer;

    /// Feeds `input` line by line, returning the pending offset after each line.
    fn pending_after_each_line(format: InputFormat, input: &str) -> Vec<Option<u64>> {
        let mut decoder = Decoder::new(format, "test");
        let (mut events, mut diagnostics, mut pending) = (Vec::new(), Vec::new(), Vec::new());
        let mut framer = LineFramer::new();
        framer.push(input.as_bytes(), |line| {
            decoder.decode_line(&line, &mut events, &mut diagnostics);
            pending.push(decoder.pending_offset());
        });
        pending
    }

    #[test]
    fn pending_offset_names_the_oldest_line_held() {
        let okd = "2025-01-01T00:00:01Z AUDIT: id=\"o\" ip=\"192.0.2.1\" method=\"GET\" user=\"u\" groups=\"<none>\" as=\"<self>\" asgroups=\"<lookup>\" namespace=\"<none>\" uri=\"/version\"\n\
                   2025-01-01T00:00:01Z AUDIT: id=\"p\" ip=\"192.0.2.1\" method=\"GET\" user=\"u\" groups=\"<none>\" as=\"<self>\" asgroups=\"<lookup>\" namespace=\"<none>\" uri=\"/api\"\n\
                   2025-01-01T00:00:02Z AUDIT: id=\"o\" response=\"200\"\n\
                   2025-01-01T00:00:02Z AUDIT: id=\"p\" response=\"200\"\n";
        let second = okd.find("\n").unwrap() as u64 + 1;
        assert_eq!(
            pending_after_each_line(InputFormat::Okd, okd),
            [Some(0), Some(0), Some(second), None]
        );
        let auditd = "type=SYSCALL msg=audit(1700000000.000:7): arch=c000003e syscall=59 success=yes exit=0 pid=1 uid=0 comm=\"ls\"\n\
                      type=EOE msg=audit(1700000000.000:7): \n";
        assert_eq!(
            pending_after_each_line(InputFormat::Auditd, auditd),
            [Some(0), None]
        );
        let k8s = "{\"kind\":\"Event\",\"auditID\":\"a\",\"stage\":\"ResponseComplete\",\"verb\":\"get\",\"requestURI\":\"/\",\"user\":{}}\n";
        assert_eq!(pending_after_each_line(InputFormat::K8s, k8s), [None]);
    }
}
