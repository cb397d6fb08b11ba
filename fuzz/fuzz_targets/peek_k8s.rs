//! The peek at a Kubernetes JSON line never panics, and whenever it answers, the full
//! decoder gives exactly one event, no diagnostic, and the same policy attributes; stopping
//! early never changes an answer.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for format in [formats::InputFormat::K8s, formats::InputFormat::Auto] {
        let mut decoder = formats::Decoder::new(format, "fuzz");
        let line = formats::frame::Line {
            number: 1,
            offset: 0,
            bytes: data,
            overlong: false,
            length: data.len() as u64,
        };
        let peek = decoder.peek(&line);
        let mut events = Vec::new();
        let mut diagnostics = Vec::new();
        decoder.decode_line(&line, &mut events, &mut diagnostics);
        if let Some(peek) = &peek {
            assert!(diagnostics.is_empty(), "{diagnostics:?}");
            assert_eq!(events.len(), 1);
            assert_eq!(peek.attributes(), events[0].attributes());
        }
        // Stopping early only ever turns an answer into none.
        let stop = data.len() % 2 == 0;
        let early = decoder.peek_unless(&line, &mut |_| !stop);
        match (&early, &peek) {
            (Some(early), Some(peek)) => assert_eq!(early.attributes(), peek.attributes()),
            (Some(_), None) => panic!("an early answer where the full peek has none"),
            (None, Some(_)) => assert!(stop),
            (None, None) => {}
        }
    }
});
