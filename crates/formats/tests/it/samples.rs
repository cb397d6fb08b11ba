//! Snapshot tests over every sample file in `tests/data/`: a new sample is a new test.

use std::fmt::Write as _;
use std::path::Path;

use formats::frame::{self, Framing, LineFramer};
use formats::{Decoder, Diagnostic, InputFormat};

/// Decodes a whole file as `auditrail convert --from auto` would.
pub(crate) fn decode_file(path: &Path) -> (Vec<event::AuditEvent>, Vec<Diagnostic>) {
    let (events, diagnostics, _) = decode_file_as(path, InputFormat::Auto);
    (events, diagnostics)
}

/// Decodes a whole file as `auditrail convert --from FORMAT` would; also gives the number of
/// lines skipped as other logging.
pub(crate) fn decode_file_as(
    path: &Path,
    format: InputFormat,
) -> (Vec<event::AuditEvent>, Vec<Diagnostic>, u64) {
    let bytes = std::fs::read(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy();
    let mut decoder = Decoder::new(format, &name);
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
    let skipped = decoder.skipped_records();
    (events, diagnostics, skipped)
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

/// The format a sample directory holds (`okd`, `mke`, `dcos`, `auditd`).
fn format_of(path: &Path) -> InputFormat {
    let directory = path
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap();
    InputFormat::ALL
        .iter()
        .find(|(_, name)| *name == directory)
        .map(|(format, _)| *format)
        .unwrap()
}

#[test]
fn source_samples_decode_as_snapshotted() {
    insta::glob!("../data", "{okd,mke,dcos}/*.{jsonl,json,log}", |path| {
        let (events, diagnostics, skipped) = decode_file_as(path, format_of(path));
        assert!(!events.is_empty(), "{} gave no events", path.display());
        let mut text = render(&events, &diagnostics);
        writeln!(text, "skipped: {skipped}").unwrap();
        insta::assert_snapshot!(text);
        // Every event also encodes as Kubernetes JSON.
        let mut out = Vec::new();
        for event in &events {
            formats::k8s::encode(event, &mut out);
        }
        for line in String::from_utf8(out).unwrap().lines() {
            serde_json::from_str::<serde_json::Value>(line).unwrap();
        }
    });
}

/// `--from auto` finds the same audit records as the named format; only the lines of other
/// logging, which the named format skips, become errors.
#[test]
fn auto_detection_finds_the_same_events_as_the_named_format() {
    insta::glob!(
        "../data",
        "{okd,mke,dcos,auditd}/*.{jsonl,json,log}",
        |path| {
            let (named, named_diagnostics, skipped) = decode_file_as(path, format_of(path));
            let (auto, auto_diagnostics) = decode_file(path);
            let key =
                |event: &event::AuditEvent| (event.id.clone(), event.when(), event.verb.clone());
            assert_eq!(
                named.iter().map(key).collect::<Vec<_>>(),
                auto.iter().map(key).collect::<Vec<_>>(),
                "{}",
                path.display()
            );
            let errors =
                |diagnostics: &[Diagnostic]| diagnostics.iter().filter(|d| d.is_error()).count();
            // Journal JSON records are recognisable as such, so auto skips their other logging
            // too; text lines of other logging are errors in auto.
            let auto_errors = errors(&auto_diagnostics) as u64;
            let named_errors = errors(&named_diagnostics) as u64;
            assert!(
                named_errors <= auto_errors && auto_errors <= named_errors + skipped,
                "{}: {auto_diagnostics:?}",
                path.display()
            );
        }
    );
}

#[test]
fn okd_pairs_interleaved_lines_and_keeps_requests_without_response() {
    let (events, diagnostics, _) =
        decode_file_as(Path::new("tests/data/okd/two-line.log"), InputFormat::Okd);
    assert!(diagnostics.iter().all(|d| !d.is_error()), "{diagnostics:?}");
    let annotated = |key: &str| {
        events
            .iter()
            .filter(|event| event.annotations.get(key).is_some_and(|v| v == "missing"))
            .map(|event| event.id.as_str())
            .collect::<Vec<_>>()
    };
    // The impersonated DELETE never got its response; the PUT's came 12 minutes later, after
    // the bounded wait, so the request is kept alone and the response is an orphan.
    assert_eq!(
        annotated("auditrail.io/response"),
        [
            "f1e2d3c4-b5a6-4978-8695-a4b3c2d1e005",
            "aaaabbbb-cccc-4ddd-8eee-ffff00001110"
        ]
    );
    assert_eq!(
        annotated("auditrail.io/request"),
        [
            "77777777-6666-4555-8444-333322221108",
            "aaaabbbb-cccc-4ddd-8eee-ffff00001110"
        ]
    );
    let paired = events
        .iter()
        .filter(|event| event.stage == Some(event::Stage::ResponseComplete) && event.time.is_some())
        .count();
    assert_eq!(paired, 8);
}

#[test]
fn mke_json_file_line_split_at_16_kib_is_joined() {
    let (events, diagnostics, skipped) =
        decode_file_as(Path::new("tests/data/mke/json-file.log"), InputFormat::Mke);
    assert_eq!(diagnostics, vec![]);
    assert_eq!(skipped, 2, "the configuration line and the stderr warning");
    let big = events
        .iter()
        .find(|event| event.id == "5d4c3b2a-1908-4f7e-8d6c-5b4a39281701")
        .unwrap();
    assert!(big.request_object.as_ref().unwrap().get().len() > 16 * 1024);
    assert_eq!(big.origin.line, Some(3), "the first fragment's line");
    assert!(events.iter().all(|event| event.time.is_some()));
}

#[test]
fn dcos_masters_merge_into_one_trail_without_duplicates() {
    let mut trail = Vec::new();
    for name in ["master-1.log", "master-2.log", "master-3.jsonl"] {
        let path = Path::new("tests/data/dcos").join(name);
        let (events, diagnostics, _) = decode_file_as(&path, InputFormat::Dcos);
        assert_eq!(diagnostics, vec![], "{name}");
        trail.extend(events);
    }
    assert_eq!(trail.len(), 12);
    formats::dcos::merge_trails(&mut trail);
    assert_eq!(trail.len(), 9, "three records were read from two masters");
    assert!(
        trail
            .windows(2)
            .all(|pair| pair[0].when() <= pair[1].when())
    );
    // The seed's TIMESTAMP USER SERVICE table, with the method.
    let changes: Vec<String> = trail
        .iter()
        .filter(|event| {
            matches!(
                event.method.as_deref(),
                Some("PUT" | "POST" | "PATCH" | "DELETE")
            )
        })
        .filter_map(|event| {
            let object = event.object.as_ref()?;
            Some(format!(
                "{} {} {} {} {}",
                event.when()?.to_seconds_string(),
                event.user.name,
                event.method.as_deref()?,
                object.name,
                event.outcome.as_str()
            ))
        })
        .collect();
    insta::assert_snapshot!(changes.join("\n"));
}

#[test]
fn dcos_and_mke_account_for_every_line() {
    for (path, format) in [
        ("tests/data/dcos/master-1.log", InputFormat::Dcos),
        ("tests/data/mke/controller.log", InputFormat::Mke),
    ] {
        let (events, diagnostics, skipped) = decode_file_as(Path::new(path), format);
        let lines = std::fs::read_to_string(path).unwrap().lines().count() as u64;
        let errors = diagnostics.iter().filter(|d| d.is_error()).count() as u64;
        assert_eq!(events.len() as u64 + errors + skipped, lines, "{path}");
    }
}
