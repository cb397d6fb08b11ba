//! The peek at a Kubernetes JSON line never panics, and whenever it answers, the full
//! decoder gives exactly one event, no diagnostic, and the same policy attributes; stopping
//! early never changes an answer.
//!
//! The byte scanner in front of it (`k8s::scan_unless`) is checked against the serde peek
//! (`k8s::peek_serde_unless`) and the decoder: an answer equals theirs, `Decode` comes only
//! after `wanted` said no, asked once where and with what the serde peek asks, and the two
//! together ask `wanted` at most once.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// The answer's attributes (`Debug`) and what `wanted` was asked with.
fn serde_run(data: &[u8], answer: bool) -> (Option<String>, Vec<String>) {
    let mut asked = Vec::new();
    let peek = formats::k8s::peek_serde_unless(data, &mut |attributes| {
        asked.push(format!("{attributes:?}"));
        answer
    });
    (peek.map(|peek| format!("{:?}", peek.attributes())), asked)
}

fn check_scanner(data: &[u8]) {
    for answer in [true, false] {
        let (serde, serde_asked) = serde_run(data, answer);
        let mut asked = Vec::new();
        let scan = formats::k8s::scan_unless(data, &mut |attributes| {
            asked.push(format!("{attributes:?}"));
            answer
        });
        assert!(asked.len() <= 1, "asked {} times", asked.len());
        if !asked.is_empty() {
            assert_eq!(asked, serde_asked, "asked otherwise than the serde peek");
        }
        match scan {
            formats::k8s::Scan::Peek(peek) => {
                assert!(answer || asked.is_empty(), "answered after a no");
                let attributes = format!("{:?}", peek.attributes());
                assert_eq!(serde.as_deref(), Some(attributes.as_str()));
                let mut events = Vec::new();
                let mut diagnostics = Vec::new();
                formats::k8s::decode(
                    data,
                    &event::Origin::default(),
                    &mut events,
                    &mut diagnostics,
                );
                assert!(diagnostics.is_empty(), "{diagnostics:?}");
                assert_eq!(events.len(), 1);
                assert_eq!(peek.attributes(), events[0].attributes());
            }
            formats::k8s::Scan::Decode => {
                assert!(!answer, "Decode though wanted said yes");
                assert_eq!(asked.len(), 1, "Decode without asking");
                assert_eq!(serde, None);
            }
            formats::k8s::Scan::Unsure => {}
        }
        let mut calls = 0;
        let combined = formats::k8s::peek_unless(data, &mut |_| {
            calls += 1;
            answer
        })
        .map(|peek| format!("{:?}", peek.attributes()));
        assert!(calls <= 1, "peek_unless asked {calls} times");
        if answer || combined.is_some() {
            assert_eq!(combined, serde);
        }
    }
}

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
    check_scanner(data);
});
