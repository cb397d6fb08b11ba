//! Any bytes through the auto-detecting decoder, as lines and as a document: no panic, and
//! every non-blank line gives an event or a diagnostic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut decoder = formats::Decoder::new(formats::InputFormat::Auto, "fuzz");
    let mut events = Vec::new();
    let mut diagnostics = Vec::new();
    let mut framer = formats::frame::LineFramer::new();
    let mut lines = 0usize;
    framer.push(data, |line| {
        if !line.bytes.iter().all(u8::is_ascii_whitespace) {
            lines += 1;
        }
        decoder.decode_line(&line, &mut events, &mut diagnostics);
    });
    framer.finish(|line| {
        if !line.bytes.iter().all(u8::is_ascii_whitespace) {
            lines += 1;
        }
        decoder.decode_line(&line, &mut events, &mut diagnostics);
    });
    assert!(events.len() + diagnostics.len() >= lines);
    decoder.decode_document(data, &mut events, &mut diagnostics);
    for event in &events {
        let mut out = Vec::new();
        formats::jsonl::encode(event, &mut out);
        formats::k8s::encode(event, &mut out);
    }
});
