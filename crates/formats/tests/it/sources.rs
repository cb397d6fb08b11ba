//! The OKD, MKE and DC/OS decoders take any bytes without panicking, and every line of a
//! sample stays accounted for under mutation.

use event::Origin;
use formats::frame::LineFramer;
use formats::{Decoder, InputFormat};
use proptest::prelude::*;

const SOURCES: [(InputFormat, &str); 8] = [
    (InputFormat::Okd, "tests/data/okd/two-line.log"),
    (InputFormat::Okd, "tests/data/okd/journal.log"),
    (InputFormat::Okd, "tests/data/okd/one-line-and-json.log"),
    (InputFormat::Mke, "tests/data/mke/controller.log"),
    (InputFormat::Mke, "tests/data/mke/json-file.log"),
    (InputFormat::Dcos, "tests/data/dcos/master-1.log"),
    (InputFormat::Dcos, "tests/data/dcos/master-2.log"),
    (InputFormat::Dcos, "tests/data/dcos/master-3.jsonl"),
];

/// Feeds `bytes` through a whole decoder (framing, per-line state, finish).
fn decode_all(format: InputFormat, bytes: &[u8]) -> (usize, usize) {
    let mut decoder = Decoder::new(format, "prop");
    let mut events = Vec::new();
    let mut diagnostics = Vec::new();
    let mut framer = LineFramer::new();
    framer.push(bytes, |line| {
        decoder.decode_line(&line, &mut events, &mut diagnostics)
    });
    framer.finish(|line| decoder.decode_line(&line, &mut events, &mut diagnostics));
    decoder.finish(&mut events, &mut diagnostics);
    for event in &events {
        let mut out = Vec::new();
        formats::jsonl::encode(event, &mut out);
        formats::k8s::encode(event, &mut out);
    }
    (events.len(), diagnostics.len())
}

/// Bytes that look a little like each format, so that random cases reach past detection.
fn shaped_bytes() -> impl Strategy<Value = Vec<u8>> {
    let prefixes = prop::sample::select(vec![
        &b"AUDIT: id=\""[..],
        b"2017-03-21T03:57:09Z AUDIT: id=\"a\" response=\"",
        b"{\"log\":\"",
        b"{\"audit\":{",
        b"{\"level\":\"info\",\"msg\":",
        b"{\"__CURSOR\":\"",
        b"auditlog(): type=audit ",
        b"Dec 27 07:53:40 m nginx[1]: 2020/12/27 07:53:40 [notice] auditlog(): type=audit timestamp=",
    ]);
    (prefixes, proptest::collection::vec(any::<u8>(), 0..256)).prop_map(|(prefix, tail)| {
        let mut bytes = prefix.to_vec();
        bytes.extend_from_slice(&tail);
        bytes
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any bytes through each decoder directly and through `Decoder`: no panic.
    #[test]
    fn source_decoders_never_panic(
        bytes in prop_oneof![proptest::collection::vec(any::<u8>(), 0..512), shaped_bytes()],
    ) {
        let origin = Origin::default();
        let mut events = Vec::new();
        let mut diagnostics = Vec::new();
        let mut pairing = formats::okd::Pairing::default();
        pairing.decode(&bytes, &origin, &mut events, &mut diagnostics);
        pairing.finish(&mut events);
        let mut joiner = formats::mke::Joiner::default();
        joiner.decode(&bytes, &origin, &mut events, &mut diagnostics);
        joiner.finish(&mut events, &mut diagnostics);
        formats::dcos::decode(&bytes, &origin, &mut events, &mut diagnostics);
        for format in [InputFormat::Okd, InputFormat::Mke, InputFormat::Dcos, InputFormat::Auto] {
            decode_all(format, &bytes);
        }
    }

    /// Changing one byte of a real sample anywhere never panics, and every line still gives
    /// an event, a diagnostic, or is counted as skipped (MKE fragments and OKD pairs give one
    /// event for two lines, so the bound is half the lines).
    #[test]
    fn mutated_samples_never_panic(
        sample in 0usize..SOURCES.len(),
        position in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let (format, path) = SOURCES[sample];
        let mut bytes = std::fs::read(path).unwrap();
        let at = position.index(bytes.len());
        bytes[at] = byte;
        let lines = bytes.split(|b| *b == b'\n').filter(|line| !line.is_empty()).count();
        let mut decoder = Decoder::new(format, "prop");
        let mut events = Vec::new();
        let mut diagnostics = Vec::new();
        let mut framer = LineFramer::new();
        framer.push(&bytes, |line| decoder.decode_line(&line, &mut events, &mut diagnostics));
        framer.finish(|line| decoder.decode_line(&line, &mut events, &mut diagnostics));
        decoder.finish(&mut events, &mut diagnostics);
        let accounted = events.len() + diagnostics.len() + decoder.skipped_records() as usize;
        prop_assert!(2 * accounted >= lines, "{accounted} for {lines} lines of {path}");
    }
}
