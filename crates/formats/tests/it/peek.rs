//! `k8s::peek` and `Decoder::peek` against the full decoder: whenever the peek answers, the
//! line decodes to exactly one event without any diagnostic, and the peek's attributes are
//! that event's. Over generated traffic, the sample files, hand-made edge cases and
//! mutations of real lines.

use std::sync::LazyLock;

use event::Origin;
use formats::frame::Line;
use formats::{Decoder, InputFormat};
use proptest::prelude::*;

/// Checks one line; returns whether the peek answered.
fn agrees(line: &[u8]) -> bool {
    let mut answered = false;
    for format in [InputFormat::K8s, InputFormat::Auto] {
        let mut decoder = Decoder::new(format, "input");
        let framed = Line {
            number: 7,
            offset: 100,
            bytes: line,
            overlong: false,
            length: line.len() as u64,
        };
        let peek = decoder.peek(&framed);
        let mut events = Vec::new();
        let mut diagnostics = Vec::new();
        decoder.decode_line(&framed, &mut events, &mut diagnostics);
        if let Some(peek) = peek {
            assert!(
                diagnostics.is_empty(),
                "{format:?}: peek answered for a line with diagnostics {diagnostics:?}: {}",
                String::from_utf8_lossy(line)
            );
            assert_eq!(events.len(), 1, "{}", String::from_utf8_lossy(line));
            assert_eq!(
                peek.attributes(),
                events[0].attributes(),
                "{}",
                String::from_utf8_lossy(line)
            );
            answered = true;
        }
    }
    // Stopping early never gives a different answer: only none.
    let full = formats::k8s::peek(line).map(|peek| format!("{:?}", peek.attributes()));
    for answer in [true, false] {
        let mut asked = 0;
        let early = formats::k8s::peek_unless(line, &mut |_| {
            asked += 1;
            answer
        });
        assert!(asked <= 1, "asked {asked} times");
        match early {
            Some(peek) => assert_eq!(Some(format!("{:?}", peek.attributes())), full),
            None => assert!(full.is_none() || !answer),
        }
    }
    // The k8s entry point alone agrees with the decoder's.
    if let Some(peek) = formats::k8s::peek(line) {
        let mut events = Vec::new();
        let mut diagnostics = Vec::new();
        formats::k8s::decode(line, &Origin::default(), &mut events, &mut diagnostics);
        assert!(diagnostics.is_empty() && events.len() == 1);
        assert_eq!(peek.attributes(), events[0].attributes());
    }
    answered
}

fn synth_lines(seed: u64, count: usize) -> Vec<Vec<u8>> {
    synth::Generator::new(seed, synth::SynthConfig::default())
        .take(count)
        .map(|event| {
            let mut line = Vec::new();
            formats::k8s::encode(&event, &mut line);
            line.pop();
            line
        })
        .collect()
}

/// Generated lines for the property tests, made once.
static MUTABLE: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| synth_lines(7, 400));

#[test]
fn peek_agrees_with_decoding_over_generated_traffic() {
    let lines = synth_lines(42, 20_000);
    let answered = lines.iter().filter(|line| agrees(line)).count();
    // Generated traffic is plain v1: the peek must answer for (nearly) every line, or it
    // saves nothing.
    assert!(
        answered * 100 >= lines.len() * 99,
        "answered {answered} of {}",
        lines.len()
    );
}

#[test]
fn peek_agrees_with_decoding_over_sample_files() {
    let mut answered = 0;
    for entry in std::fs::read_dir("tests/data/k8s").unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read(&path).unwrap();
        for line in text.split(|byte| *byte == b'\n') {
            answered += usize::from(agrees(line));
        }
    }
    assert!(answered > 10, "answered for {answered} sample lines");
}

/// Lines the peek must leave to the decoder, and duplicate keys resolved like it.
#[test]
fn peek_gives_up_where_the_decoder_reports_or_reshapes() {
    let base = r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a","stage":"ResponseComplete","requestURI":"/api/v1/pods?x=1","verb":"list","user":{"username":"alice","groups":["g1","g\u0032"]},"objectRef":{"resource":"pods","apiVersion":"v1"},"requestReceivedTimestamp":"2025-10-07T16:00:00.000000Z","stageTimestamp":"2025-10-07T16:00:00.100000Z"}"#;
    assert!(agrees(base.as_bytes()));
    let peek = formats::k8s::peek(base.as_bytes()).unwrap();
    let attributes = peek.attributes();
    assert_eq!(attributes.path, "/api/v1/pods");
    assert_eq!(
        attributes.user.unwrap().groups.iter().collect::<Vec<_>>(),
        ["g1", "g2"]
    );
    let ips = (0..=formats::limits::SOURCE_IPS_MAX)
        .map(|i| format!("\"10.0.0.{i}\""))
        .collect::<Vec<_>>()
        .join(",");
    let gives_up = [
        base.replace(r#""level":"Metadata""#, r#""level":"Loud""#),
        base.replace(r#""stage":"ResponseComplete""#, r#""stage":"Done""#),
        base.replace("2025-10-07T16:00:00.000000Z", "yesterday"),
        base.replace("2025-10-07T16:00:00.100000Z", "soon"),
        base.replace(
            r#""verb":"list""#,
            &format!(r#""verb":"list","sourceIPs":[{ips}]"#),
        ),
        base.replace(r#""kind":"Event""#, r#""kind":"EventList""#),
        base.replace("audit.k8s.io/v1\"", "audit.k8s.io/v1alpha1\""),
        base.replace(r#""verb":"list""#, r#""verb":"list","items":[]"#),
        base.replace(r#""verb":"list""#, r#""verb":7"#),
        base.replace(r#""groups":["g1""#, r#""groups":[1"#),
        base.replace(r#""resource":"pods""#, r#""resource":{}"#),
        base.replace(r#""user":{"#, r#""annotations":{"a":1},"user":{"#),
        base.replace(r#""user":{"#, r#""user":{"extra":{"k":"v"},"#),
        base.replace(r#""auditID":"a","#, "")
            .replace(r#""requestURI":"/api/v1/pods?x=1","verb":"list","#, ""),
        format!("{base} x"),
        format!("[{base}]"),
        base.replace("}", ""),
    ];
    for line in &gives_up {
        assert!(!agrees(line.as_bytes()), "peek answered for {line}");
    }
    let answers = [
        // Repeated keys: the last one counts, as in the decoder; a null level keeps the
        // level read before it.
        base.replace(r#""verb":"list""#, r#""verb":"list","verb":null"#),
        base.replace(r#""level":"Metadata""#, r#""level":"None","level":null"#),
        base.replace(r#""user":{"#, r#""user":{"username":"bob"},"user":{"#),
        base.replace(r#""user":{"#, r#""user":{"groups":null,"uid":"u","username":""},"old":{"#),
        base.replace(r#""objectRef":{"#, r#""objectRef":null,"x":{"#),
        base.replace(r#""resource":"pods""#, r#""resource":"pods","apiGroup":"apps","apiGroup":null"#),
        base.replace(r#""user":{"#, r#""user":{"extra":{"k":["v"]},"#),
        base.replace(r#""user":{"username":"alice","groups":["g1","g\u0032"]}"#, r#""user":{}"#),
        base.replace(r#""user":{"username":"alice","groups":["g1","g\u0032"]}"#, r#""user":null"#),
        base.replace(r#""verb":"list""#, r#""verb":"list","requestObject":{"a":[1,{"b":null}]},"responseStatus":{"code":"x","details":null},"metadata":{"creationTimestamp":"bad"},"timestamp":3"#),
        format!("{base}  "),
    ];
    for line in &answers {
        assert!(agrees(line.as_bytes()), "peek gave up on {line}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Changing, removing or inserting bytes of generated lines anywhere: the peek still
    /// agrees with the decoder whenever it answers.
    #[test]
    fn peek_agrees_on_mutated_lines(
        index in 0usize..400,
        edits in prop::collection::vec(
            (any::<prop::sample::Index>(), 0u8..3, prop::sample::select(vec![
                b'"', b'{', b'}', b'[', b']', b',', b':', b'\\', b'n', b'u', b'0', b' ', b'x', 0xff,
            ])),
            1..4,
        ),
    ) {
        let mut line = MUTABLE[index].clone();
        for (position, operation, byte) in edits {
            let at = position.index(line.len());
            match operation {
                0 => line[at] = byte,
                1 => { line.remove(at); }
                _ => line.insert(at, byte),
            }
        }
        agrees(&line);
    }

    /// Mangling a field's value into other JSON types: the peek agrees with the decoder.
    #[test]
    fn peek_agrees_on_retyped_fields(
        index in 0usize..400,
        key in prop::sample::select(vec![
            "level", "stage", "verb", "requestURI", "auditID", "user", "username", "groups",
            "uid", "extra", "objectRef", "resource", "apiGroup", "namespace", "subresource",
            "responseStatus", "sourceIPs", "userAgent", "annotations", "kind", "apiVersion",
            "requestReceivedTimestamp", "stageTimestamp", "impersonatedUser", "code",
        ]),
        value in prop::sample::select(vec![
            "null", "1", "\"\"", "\"x\"", "[]", "[\"a\"]", "{}", "{\"a\":\"b\"}", "{\"a\":[\"b\"]}",
            "true", "\"None\"", "\"RequestReceived\"", "\"2025-01-01T00:00:00Z\"",
        ]),
    ) {
        let text = String::from_utf8(MUTABLE[index].clone()).unwrap();
        let needle = format!("\"{key}\":");
        if let Some(start) = text.find(&needle) {
            let value_start = start + needle.len();
            // Replace the value up to the end of its JSON token, using the decoder of
            // serde_json to find where it ends.
            let mut stream = serde_json::Deserializer::from_str(&text[value_start..])
                .into_iter::<serde_json::Value>();
            if stream.next().is_some_and(|value| value.is_ok()) {
                let end = value_start + stream.byte_offset();
                let changed = format!("{}{value}{}", &text[..value_start], &text[end..]);
                agrees(changed.as_bytes());
            }
        }
        // Also a duplicate of the key at the end of the event.
        let duplicated = format!("{},\"{key}\":{value}}}", &text[..text.len() - 1]);
        agrees(duplicated.as_bytes());
    }
}
