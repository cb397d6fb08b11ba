//! Lines that [`Decoder::is_independent`] calls independent decode alike in any decoder: a
//! mixed input cut into pieces, independent pieces decoded each by a fresh decoder and the
//! rest by one decoder in order, gives exactly what one decoder gives over the whole input.
//! This is what lets `auditrail import` decode on several threads.

use event::AuditEvent;
use formats::frame::LineFramer;
use formats::{Decoder, Diagnostic, InputFormat};

/// Every sample file of line-oriented formats.
const SAMPLES: [&str; 17] = [
    "tests/data/k8s/v1-log.jsonl",
    "tests/data/k8s/lenient-shapes.jsonl",
    "tests/data/k8s/malformed.jsonl",
    "tests/data/k8s/v1alpha1.jsonl",
    "tests/data/k8s/v1beta1-openshift.jsonl",
    "tests/data/k8s/legacy.log",
    "tests/data/okd/two-line.log",
    "tests/data/okd/journal.log",
    "tests/data/okd/one-line-and-json.log",
    "tests/data/mke/controller.log",
    "tests/data/mke/json-file.log",
    "tests/data/dcos/master-1.log",
    "tests/data/dcos/master-3.jsonl",
    "tests/data/auditd/raw-session.log",
    "tests/data/auditd/enriched.log",
    "tests/data/auditd/interleaved-timeout.log",
    "tests/data/auditd/malformed.log",
];

/// The sample files' lines, interleaved one from each file in turn (so that the formats mix
/// inside every piece), and then each file whole again (so that runs of one format occur).
fn mixed_input() -> Vec<u8> {
    let files: Vec<Vec<u8>> = SAMPLES
        .iter()
        .map(|path| std::fs::read(path).unwrap())
        .collect();
    let mut lines: Vec<std::slice::Split<'_, u8, _>> = files
        .iter()
        .map(|file| file.split(|byte| *byte == b'\n'))
        .collect();
    let mut input = Vec::new();
    loop {
        let mut any = false;
        for file in &mut lines {
            if let Some(line) = file.next() {
                any = true;
                input.extend_from_slice(line);
                input.push(b'\n');
            }
        }
        if !any {
            break;
        }
    }
    for file in &files {
        input.extend_from_slice(file);
        input.push(b'\n');
    }
    input
}

type Decoded = (Vec<AuditEvent>, Vec<Diagnostic>, u64);

fn decode_whole(format: InputFormat, input: &[u8]) -> Decoded {
    let mut decoder = Decoder::new(format, "mixed");
    let (mut events, mut diagnostics) = (Vec::new(), Vec::new());
    let mut framer = LineFramer::new();
    framer.push(input, |line| {
        decoder.decode_line(&line, &mut events, &mut diagnostics)
    });
    framer.finish(|line| decoder.decode_line(&line, &mut events, &mut diagnostics));
    decoder.finish(&mut events, &mut diagnostics);
    (events, diagnostics, decoder.skipped_records())
}

/// Cuts `input` into pieces of `lines_per_piece` lines; a piece of independent lines only is
/// decoded by a decoder of its own, the others by one decoder in order.
fn decode_in_pieces(format: InputFormat, input: &[u8], lines_per_piece: usize) -> Decoded {
    let mut ordered = Decoder::new(format, "mixed");
    let (mut events, mut diagnostics, mut skipped) = (Vec::new(), Vec::new(), 0);
    let mut number = 1;
    let mut offset = 0;
    let lines: Vec<&[u8]> = input.split_inclusive(|byte| *byte == b'\n').collect();
    let mut independent_pieces = 0;
    for piece in lines.chunks(lines_per_piece) {
        let bytes = piece.concat();
        let mut framer = LineFramer::at(number, offset);
        let independent = piece.iter().all(|line| ordered.is_independent(line));
        if independent {
            independent_pieces += 1;
            let mut own = Decoder::new(format, "mixed");
            framer.push(&bytes, |line| {
                own.decode_line(&line, &mut events, &mut diagnostics)
            });
            framer.finish(|line| own.decode_line(&line, &mut events, &mut diagnostics));
            own.finish(&mut events, &mut diagnostics);
            skipped += own.skipped_records();
        } else {
            framer.push(&bytes, |line| {
                ordered.decode_line(&line, &mut events, &mut diagnostics)
            });
            framer.finish(|line| ordered.decode_line(&line, &mut events, &mut diagnostics));
        }
        number += piece.len() as u64;
        offset += bytes.len() as u64;
    }
    ordered.finish(&mut events, &mut diagnostics);
    skipped += ordered.skipped_records();
    assert!(
        lines_per_piece > 8 || independent_pieces > 0,
        "the test must cut independent pieces"
    );
    (events, diagnostics, skipped)
}

#[test]
fn pieces_decode_like_the_whole_input() {
    let input = mixed_input();
    for format in [InputFormat::Auto, InputFormat::K8s, InputFormat::Dcos] {
        let whole = decode_whole(format, &input);
        assert!(whole.0.len() > 10, "{format:?}: {} events", whole.0.len());
        for lines_per_piece in [1, 2, 3, 7, 16, 100, 1000] {
            let pieces = decode_in_pieces(format, &input, lines_per_piece);
            assert_eq!(
                pieces.0.len(),
                whole.0.len(),
                "{format:?} {lines_per_piece}"
            );
            for (index, (a, b)) in pieces.0.iter().zip(&whole.0).enumerate() {
                assert_eq!(a, b, "{format:?} {lines_per_piece}: event {index}");
            }
            assert_eq!(pieces.1, whole.1, "{format:?} {lines_per_piece}");
            assert_eq!(pieces.2, whole.2, "{format:?} {lines_per_piece}");
        }
    }
}

#[test]
fn stateful_lines_are_not_independent() {
    let decoder = Decoder::new(InputFormat::Auto, "t");
    let okd_request = br#"2017-03-21T03:57:09.106841886-04:00 AUDIT: id="c939" ip="192.0.2.1" method="GET" user="u" groups="<none>" as="<self>" asgroups="<lookup>" namespace="<none>" uri="/version""#;
    let auditd =
        b"type=SYSCALL msg=audit(1364481363.243:24287): arch=c000003e syscall=2 success=no";
    let mke = br#"{"log":"{\"audit\":{}}","stream":"stderr","time":"2020-01-01T00:00:00Z"}"#;
    let k8s = br#"{"kind":"Event","auditID":"a"}"#;
    assert!(!decoder.is_independent(okd_request));
    assert!(!decoder.is_independent(auditd));
    assert!(!decoder.is_independent(mke));
    assert!(decoder.is_independent(k8s));
    assert!(decoder.is_independent(b"  \t"));
    assert!(!Decoder::new(InputFormat::Okd, "t").is_independent(k8s));
    assert!(Decoder::new(InputFormat::K8s, "t").is_independent(okd_request));
}
