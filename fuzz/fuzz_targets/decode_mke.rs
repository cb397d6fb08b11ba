//! Any bytes through the MKE/UCP logrus and Docker json-file lines, fragment joining decoder, as lines and in
//! small chunks: no panic, every non-blank line gives an event, a diagnostic or a skip (two
//! lines may give one event: a request and its response, or two Docker fragments), and every
//! event encodes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut decoder = formats::Decoder::new(formats::InputFormat::Mke, "fuzz");
    let mut events = Vec::new();
    let mut diagnostics = Vec::new();
    let mut framer = formats::frame::LineFramer::new();
    let mut lines = 0usize;
    for chunk in data.chunks(61) {
        framer.push(chunk, |line| {
            if !line.bytes.iter().all(u8::is_ascii_whitespace) {
                lines += 1;
            }
            decoder.decode_line(&line, &mut events, &mut diagnostics);
        });
    }
    framer.finish(|line| {
        if !line.bytes.iter().all(u8::is_ascii_whitespace) {
            lines += 1;
        }
        decoder.decode_line(&line, &mut events, &mut diagnostics);
    });
    decoder.finish(&mut events, &mut diagnostics);
    let accounted = events.len() + diagnostics.len() + decoder.skipped_records() as usize;
    assert!(2 * accounted >= lines);
    for event in &events {
        let mut out = Vec::new();
        formats::jsonl::encode(event, &mut out);
        formats::k8s::encode(event, &mut out);
    }
});
