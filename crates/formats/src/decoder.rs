//! Decoding one input: choosing the format (per input, or per line for `auto`), numbering
//! records, and keeping what a format needs across lines.

use std::sync::Arc;

use event::{AuditEvent, Origin, SourceKind};
use serde_json::value::RawValue;

use crate::diagnostic::{Diagnostic, excerpt};
use crate::frame::Line;
use crate::limits::LINE_BYTES_MAX;
use crate::{jsonl, k8s, legacy};

/// The format of an input, as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputFormat {
    /// Decide per line: Kubernetes JSON, the legacy one-line format, or auditrail's own JSON.
    Auto,
    /// Kubernetes `audit.k8s.io` JSON (events, `EventList`s, arrays).
    K8s,
    /// The Kubernetes log backend's `legacy` one-line format.
    K8sLegacy,
    /// auditrail's normalized JSON lines.
    Jsonl,
}

impl InputFormat {
    /// Every format with its command-line name.
    pub const ALL: [(InputFormat, &'static str); 4] = [
        (InputFormat::Auto, "auto"),
        (InputFormat::K8s, "k8s"),
        (InputFormat::K8sLegacy, "k8s-legacy"),
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
#[derive(Debug)]
pub struct Decoder {
    format: InputFormat,
    origin: Origin,
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
        Decoder { format, origin }
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
            InputFormat::Jsonl => jsonl::decode(bytes, &self.origin, events, diagnostics),
            InputFormat::Auto => self.decode_auto(bytes, events, diagnostics),
        }
    }

    fn decode_auto(
        &mut self,
        bytes: &[u8],
        events: &mut Vec<AuditEvent>,
        diagnostics: &mut Vec<Diagnostic>,
    ) {
        if bytes.starts_with(b"{\"origin\":") {
            jsonl::decode(bytes, &self.origin, events, diagnostics);
        } else if matches!(bytes.first(), Some(b'{' | b'[')) {
            k8s::decode(bytes, &self.origin, events, diagnostics);
        } else if legacy::detect(bytes) {
            legacy::decode(bytes, &self.origin, events, diagnostics);
        } else {
            diagnostics.push(Diagnostic::error(
                self.origin.line.unwrap_or(0),
                self.origin.offset.unwrap_or(0),
                format!(
                    "unrecognized line, expected Kubernetes audit JSON or a legacy \"AUDIT:\" line \
                     (name the format with --from): {}",
                    excerpt(bytes)
                ),
            ));
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

    /// Ends the input. Formats that pair records across lines flush what is pending here.
    pub fn finish(&mut self, _events: &mut Vec<AuditEvent>, _diagnostics: &mut Vec<Diagnostic>) {}
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
