//! Snapshot tests over every sample file in `tests/data/`: a new sample is a new test.

use std::fmt::Write as _;
use std::path::Path;

use formats::frame::{self, Framing, LineFramer};
use formats::{Decoder, Diagnostic, InputFormat};

/// Decodes a whole file as `auditrail convert --from auto` would.
pub(crate) fn decode_file(path: &Path) -> (Vec<event::AuditEvent>, Vec<Diagnostic>) {
    let bytes = std::fs::read(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy();
    let mut decoder = Decoder::new(InputFormat::Auto, &name);
    let mut events = Vec::new();
    let mut diagnostics = Vec::new();
    match frame::detect(&bytes, true) {
        Framing::Document => decoder.decode_document(&bytes, &mut events, &mut diagnostics),
        Framing::Lines => {
            let mut framer = LineFramer::new();
            // Small chunks exercise lines that cross chunk boundaries.
            for chunk in bytes.chunks(97) {
                framer.push(chunk, |line| {
                    decoder.decode_line(&line, &mut events, &mut diagnostics)
                });
            }
            framer.finish(|line| decoder.decode_line(&line, &mut events, &mut diagnostics));
        }
    }
    decoder.finish(&mut events, &mut diagnostics);
    (events, diagnostics)
}

fn render(events: &[event::AuditEvent], diagnostics: &[Diagnostic]) -> String {
    let mut text = String::new();
    for event in events {
        let mut line = Vec::new();
        formats::jsonl::encode(event, &mut line);
        text.push_str(&String::from_utf8(line).unwrap());
    }
    for diagnostic in diagnostics {
        writeln!(text, "{diagnostic}").unwrap();
    }
    text
}

#[test]
fn k8s_samples_decode_as_snapshotted() {
    insta::glob!("../data", "k8s/*.{jsonl,json,log}", |path| {
        let (events, diagnostics) = decode_file(path);
        assert!(!events.is_empty(), "{} gave no events", path.display());
        insta::assert_snapshot!(render(&events, &diagnostics));
    });
}

#[test]
fn k8s_samples_encode_as_snapshotted() {
    insta::glob!("../data", "k8s/*.{jsonl,json,log}", |path| {
        let (events, _) = decode_file(path);
        let mut out = Vec::new();
        for event in &events {
            formats::k8s::encode(event, &mut out);
        }
        let text = String::from_utf8(out).unwrap();
        for line in text.lines() {
            if let Err(error) = serde_json::from_str::<serde_json::Value>(line) {
                panic!("{}: {error}: {line}", path.display());
            }
        }
        insta::assert_snapshot!(text);
    });
}

#[test]
fn every_line_is_accounted_for() {
    let (events, diagnostics) = decode_file(Path::new("tests/data/k8s/malformed.jsonl"));
    let mut errors: Vec<u64> = diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.line)
        .collect();
    errors.dedup();
    let good: Vec<u64> = events.iter().map(|e| e.origin.line.unwrap()).collect();
    // Lines 4 and 5 are blank; every other line is an event or an error.
    assert_eq!(good, vec![1, 8, 9]);
    assert_eq!(errors, vec![2, 3, 6, 7, 10]);
}

#[test]
fn document_items_carry_their_line() {
    let (events, diagnostics) = decode_file(Path::new("tests/data/k8s/webhook-eventlist.json"));
    assert_eq!(diagnostics, vec![]);
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|e| e.origin.line == Some(1)));
}
