//! Decoding an ingest request's body into a batch for the writer: records out of the body,
//! decoded, the policy applied, encoded as ledger records ([`Prepared`]), every malformed
//! record kept raw for the quarantine file. Pure and CPU-bound: handlers run it on the
//! blocking pool, off the async runtime.
//!
//! A Kubernetes body is one JSON document (an `EventList`, a single event, an array of
//! events) or JSON lines. An `EventList`'s or array's items are decoded one by one, so that a
//! bad item is quarantined on its own and the rest of the batch is kept. Other formats are
//! lines.
//!
//! Invariant: every record of the body is accounted for: kept, dropped by policy, or
//! quarantined.

use std::sync::Arc;

use event::{AuditEvent, Origin};
use formats::frame::{self, Framing, LineFramer};
use formats::{Decoder, Diagnostic, InputFormat, k8s};
use policy::Policy;
use serde::Deserialize;
use serde_json::value::RawValue;
use store::{Prepared, QuarantineEntry};

use crate::metrics::{LabelCounts, ReceivedLabels, code_class, verb_label};

/// What a body gave.
#[derive(Debug, Default)]
pub(crate) struct Decoded {
    /// Events kept by the policy, ready for the ledger.
    pub(crate) prepared: Prepared,
    /// Malformed records, raw.
    pub(crate) quarantine: Vec<QuarantineEntry>,
    /// Events decoded.
    pub(crate) events: u64,
    /// Events dropped by the policy.
    pub(crate) dropped: u64,
    /// Events received and dropped by labels, the labels of the kept ones, decisions.
    pub(crate) counts: LabelCounts,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    items: Option<Vec<&'a RawValue>>,
}

/// Decodes `body` in `format`; `input` names the client for diagnostics and quarantine.
pub(crate) fn decode(format: InputFormat, body: &[u8], input: &str, policy: &Policy) -> Decoded {
    let mut sink = Sink {
        decoded: Decoded::default(),
        events: Vec::new(),
        diagnostics: Vec::new(),
        policy,
        input,
    };
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let start = body.iter().position(|byte| !byte.is_ascii_whitespace());
    let json_capable = matches!(format, InputFormat::K8s | InputFormat::Auto);
    match start.map(|start| body[start]) {
        Some(b'{' | b'[') if json_capable => {
            if !sink.json_document(body) {
                sink.lines(format, body);
            }
        }
        _ => sink.lines(format, body),
    }
    sink.decoded
}

struct Sink<'a> {
    decoded: Decoded,
    events: Vec<AuditEvent>,
    diagnostics: Vec<Diagnostic>,
    policy: &'a Policy,
    input: &'a str,
}

impl Sink<'_> {
    /// Decodes `body` as one JSON document; false when it is not one (JSON lines).
    fn json_document(&mut self, body: &[u8]) -> bool {
        // One parse for the common shapes (the items are only delimited here, and decoded
        // one by one below); a second only to tell a malformed list from JSON lines.
        let document = body.trim_ascii();
        let items: Vec<&[u8]> = if document.starts_with(b"[") {
            match serde_json::from_slice::<Vec<&RawValue>>(document) {
                Ok(items) => items.iter().map(|item| item.get().as_bytes()).collect(),
                Err(_) => return false,
            }
        } else {
            match serde_json::from_slice::<Envelope<'_>>(document) {
                Ok(Envelope { items: Some(items) }) => {
                    items.iter().map(|item| item.get().as_bytes()).collect()
                }
                Ok(Envelope { items: None }) => vec![document],
                // One JSON value that is no list (a single event, or `items` of the wrong
                // type): decoded as one event, which reports what is wrong.
                Err(_) if serde_json::from_slice::<&RawValue>(document).is_ok() => vec![document],
                Err(_) => return false,
            }
        };
        let origin = Origin {
            input: Some(Arc::from(self.input)),
            ..Origin::default()
        };
        // Line numbers counted incrementally: the items come in body order.
        let (mut counted, mut line) = (0, 1);
        for (index, bytes) in items.iter().enumerate() {
            let start = (bytes.as_ptr() as usize).saturating_sub(body.as_ptr() as usize);
            let start = start.clamp(counted, body.len());
            line += memchr::memchr_iter(b'\n', &body[counted..start]).count() as u64;
            counted = start;
            let offset = start as u64;
            let origin = Origin {
                line: Some(line),
                offset: Some(offset),
                ..origin.clone()
            };
            k8s::decode(bytes, &origin, &mut self.events, &mut self.diagnostics);
            self.settle(bytes, line, offset, Some(index));
        }
        true
    }

    fn lines(&mut self, format: InputFormat, body: &[u8]) {
        let mut decoder = Decoder::new(format, self.input);
        if format == InputFormat::Auto && frame::detect(body, true) == Framing::Document {
            decoder.decode_document(body, &mut self.events, &mut self.diagnostics);
            self.settle(body, 1, 0, None);
            return;
        }
        let mut framer = LineFramer::new();
        framer.push(body, |line| {
            decoder.decode_line(&line, &mut self.events, &mut self.diagnostics);
            self.settle(line.bytes, line.number, line.offset, None);
        });
        framer.finish(|line| {
            decoder.decode_line(&line, &mut self.events, &mut self.diagnostics);
            self.settle(line.bytes, line.number, line.offset, None);
        });
        decoder.finish(&mut self.events, &mut self.diagnostics);
        self.settle(b"", 0, 0, None);
    }

    /// Takes the events and errors decoded from `raw` so far.
    fn settle(&mut self, raw: &[u8], line: u64, offset: u64, item: Option<usize>) {
        for diagnostic in self.diagnostics.drain(..) {
            if !diagnostic.is_error() {
                continue;
            }
            let raw = if raw.is_empty() { &[][..] } else { raw };
            let message = match item {
                Some(index) => format!("item {index}: {}", diagnostic.message),
                None => diagnostic.message,
            };
            self.decoded.quarantine.push(QuarantineEntry {
                input: self.input.to_owned(),
                line: if item.is_some() {
                    line
                } else {
                    diagnostic.line
                },
                offset: if item.is_some() {
                    offset
                } else {
                    diagnostic.offset
                },
                message,
                raw: raw.to_vec(),
            });
        }
        for event in self.events.drain(..) {
            self.decoded.keep(event, self.policy);
        }
    }
}

impl Decoded {
    /// Counts `event`, applies the policy, and prepares it for the ledger if kept.
    pub(crate) fn keep(&mut self, mut event: AuditEvent, policy: &Policy) {
        self.events += 1;
        let labels = ReceivedLabels {
            source: event.origin.source.as_str(),
            verb: verb_label(&event.verb),
            code_class: code_class(event.status.as_ref().and_then(|s| s.code)),
        };
        let verdict = policy.apply(&mut event);
        let level = verdict.level().map_or("None", |level| level.as_str());
        self.counts.add(labels, level, verdict.is_kept());
        if verdict.is_kept() {
            self.prepared.push(&event);
        } else {
            self.dropped += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str) -> String {
        format!(
            r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"{id}","stage":"ResponseComplete","requestURI":"/api/v1/pods","verb":"list","user":{{"username":"alice"}},"requestReceivedTimestamp":"2025-01-01T00:00:00.000000Z","stageTimestamp":"2025-01-01T00:00:00.100000Z","responseStatus":{{"code":200}}}}"#
        )
    }

    fn decode_k8s(body: &str) -> Decoded {
        decode(
            InputFormat::K8s,
            body.as_bytes(),
            "test",
            &Policy::permissive(),
        )
    }

    #[test]
    fn every_shape_of_kubernetes_body() {
        let list = format!(
            r#"{{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{{}},"items":[{},{}]}}"#,
            event("a"),
            event("b")
        );
        assert_eq!(decode_k8s(&list).prepared.len(), 2);
        let pretty = format!("{{\n  \"items\": [\n{}\n]\n}}\n", event("a"));
        assert_eq!(decode_k8s(&pretty).prepared.len(), 1);
        assert_eq!(decode_k8s(&event("a")).prepared.len(), 1);
        let array = format!("[{},{}]", event("a"), event("b"));
        assert_eq!(decode_k8s(&array).prepared.len(), 2);
        let lines = format!("{}\n{}\n{}\n", event("a"), event("b"), event("c"));
        let decoded = decode_k8s(&lines);
        assert_eq!(decoded.prepared.len(), 3);
        assert!(decoded.quarantine.is_empty());
        let auto = decode(
            InputFormat::Auto,
            list.as_bytes(),
            "test",
            &Policy::permissive(),
        );
        assert_eq!(auto.prepared.len(), 2);
    }

    #[test]
    fn a_bad_item_is_quarantined_alone() {
        let list = format!(
            r#"{{"kind":"EventList","items":[{},{{"kind":"Event","verb":7}},{}]}}"#,
            event("a"),
            event("b")
        );
        let decoded = decode_k8s(&list);
        assert_eq!(decoded.prepared.len(), 2);
        assert_eq!(decoded.quarantine.len(), 1);
        assert_eq!(decoded.quarantine[0].raw, br#"{"kind":"Event","verb":7}"#);
        assert!(decoded.quarantine[0].message.starts_with("item 1:"));
        // In a pretty-printed list, a bad item's line is where it starts.
        let pretty = format!(
            "{{\n  \"items\": [\n    {},\n    {{\"verb\": 7}},\n    {}\n  ]\n}}\n",
            event("a"),
            event("b")
        );
        let decoded = decode_k8s(&pretty);
        assert_eq!(decoded.prepared.len(), 2);
        assert_eq!(decoded.quarantine.len(), 1);
        assert_eq!(decoded.quarantine[0].line, 4);
        assert_eq!(
            decoded.quarantine[0].offset as usize,
            pretty.find("{\"verb\"").unwrap()
        );
        // `items` that is no list: one value, decoded as one event, quarantined.
        let decoded = decode_k8s(r#"{"kind":"EventList","items":5}"#);
        assert_eq!((decoded.prepared.len(), decoded.quarantine.len()), (0, 1));
        let lines = format!("{}\nnot json\n{}\n", event("a"), event("b"));
        let decoded = decode_k8s(&lines);
        assert_eq!(decoded.prepared.len(), 2);
        assert_eq!(decoded.quarantine.len(), 1);
        assert_eq!(decoded.quarantine[0].raw, b"not json");
        assert_eq!(decoded.quarantine[0].line, 2);
    }
}
