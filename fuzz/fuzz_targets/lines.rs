//! Shared by the per-source fuzz targets (`decode_okd`, `decode_mke`, `decode_dcos`,
//! `decode_legacy`, `decode_jsonl`): feeds
//! bytes in small chunks through a `Decoder` of one format, finishes the input, and checks
//! that every non-blank line gives an event, a diagnostic or a counted skip (two lines may
//! give one event: a request and its response, or two Docker fragments) and that every event
//! encodes.

pub fn decode_lines_of(format: formats::InputFormat, data: &[u8]) {
    let mut decoder = formats::Decoder::new(format, "fuzz");
    let mut events = Vec::new();
    let mut diagnostics = Vec::new();
    let mut framer = formats::frame::LineFramer::new();
    let mut lines = 0usize;
    let mut on_line = |line: formats::frame::Line<'_>| {
        if !line.bytes.iter().all(u8::is_ascii_whitespace) {
            lines += 1;
        }
        decoder.decode_line(&line, &mut events, &mut diagnostics);
    };
    for chunk in data.chunks(61) {
        framer.push(chunk, &mut on_line);
    }
    framer.finish(&mut on_line);
    decoder.finish(&mut events, &mut diagnostics);
    let accounted = events.len() + diagnostics.len() + decoder.skipped_records() as usize;
    assert!(2 * accounted >= lines);
    for event in &events {
        let mut out = Vec::new();
        formats::jsonl::encode(event, &mut out);
        formats::k8s::encode(event, &mut out);
    }
}
