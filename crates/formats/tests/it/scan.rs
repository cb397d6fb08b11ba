//! The Kubernetes peek's byte scanner (`k8s::scan_unless`) against the serde peek
//! (`k8s::peek_serde_unless`) and the decoder, over generated lines, the sample files,
//! hand-made edge cases and perturbed lines (escapes, nulls, duplicate keys, whitespace,
//! numbers, nesting, truncation, control bytes, bytes that are not UTF-8, trailing bytes,
//! wrong types). The three-way contract:
//!
//! - `Peek(p)`: the serde peek answers `q` with `q.attributes() == p.attributes()` (and the
//!   decoder gives one event, no diagnostic, the same attributes);
//! - `Decode`: only when `wanted` said no, asked once, with the attributes the serde peek asks
//!   with (and the serde peek gives up too when told no);
//! - `Unsure`: anything, but a scanner that asked asked what the serde peek asks;
//!
//! and `peek_unless`, which puts the two together, asks `wanted` at most once and gives the
//! serde peek's answer.

use std::sync::LazyLock;

use event::Origin;
use formats::k8s::{self, Scan};
use proptest::prelude::*;

/// What one reader did with a line: its answer's attributes (`Debug`), and the attributes it
/// asked `wanted` with.
#[derive(Debug, PartialEq)]
struct Run {
    answer: Option<String>,
    asked: Vec<String>,
}

fn serde_run(line: &[u8], answer: bool) -> Run {
    let mut asked = Vec::new();
    let peek = k8s::peek_serde_unless(line, &mut |attributes| {
        asked.push(format!("{attributes:?}"));
        answer
    });
    Run {
        answer: peek.map(|peek| format!("{:?}", peek.attributes())),
        asked,
    }
}

/// Checks the scanner's contract on `line`; returns whether it answered.
fn scan_agrees(line: &[u8]) -> bool {
    let text = String::from_utf8_lossy(line);
    let mut answered = false;
    for answer in [true, false] {
        let serde = serde_run(line, answer);
        let mut asked = Vec::new();
        let scan = k8s::scan_unless(line, &mut |attributes| {
            asked.push(format!("{attributes:?}"));
            answer
        });
        assert!(asked.len() <= 1, "asked {} times: {text}", asked.len());
        // Asked only where the serde peek asks, with the same attributes.
        if !asked.is_empty() {
            assert_eq!(
                asked, serde.asked,
                "asked otherwise than the serde peek: {text:?}"
            );
        }
        match scan {
            Scan::Peek(peek) => {
                let attributes = format!("{:?}", peek.attributes());
                assert_eq!(
                    serde.answer.as_deref(),
                    Some(attributes.as_str()),
                    "scanner answered otherwise than the serde peek: {text}"
                );
                assert!(answer || asked.is_empty(), "answered after a no: {text}");
                decodes_to(line, &peek.attributes());
                answered |= answer;
            }
            Scan::Decode => {
                assert!(!answer, "Decode though wanted said yes: {text}");
                assert_eq!(asked.len(), 1, "Decode without asking: {text}");
                assert_eq!(serde.answer, None, "{text}");
            }
            Scan::Unsure => {}
        }
        // The scanner and the serde peek together.
        let mut calls = 0;
        let peek = k8s::peek_unless(line, &mut |_| {
            calls += 1;
            answer
        });
        assert!(calls <= 1, "peek_unless asked {calls} times: {text}");
        let combined = peek.map(|peek| format!("{:?}", peek.attributes()));
        // Told no, it may give up where the serde peek was not asked; never otherwise.
        if answer || combined.is_some() {
            assert_eq!(combined, serde.answer, "{text}");
        }
    }
    answered
}

/// The decoder gives one event, no diagnostic, and `attributes`.
fn decodes_to(line: &[u8], attributes: &event::Attributes<'_>) {
    let mut events = Vec::new();
    let mut diagnostics = Vec::new();
    k8s::decode(line, &Origin::default(), &mut events, &mut diagnostics);
    assert!(
        diagnostics.is_empty() && events.len() == 1,
        "{diagnostics:?}: {}",
        String::from_utf8_lossy(line)
    );
    assert_eq!(&events[0].attributes(), attributes);
}

fn synth_lines(seed: u64, count: usize) -> Vec<Vec<u8>> {
    synth::Generator::new(seed, synth::SynthConfig::default())
        .take(count)
        .map(|event| {
            let mut line = Vec::new();
            k8s::encode(&event, &mut line);
            line.pop();
            line
        })
        .collect()
}

/// Generated lines for the property tests, made once.
static LINES: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| synth_lines(11, 400));

/// The lines of the sample files.
fn sample_lines() -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    for entry in std::fs::read_dir("tests/data/k8s").unwrap() {
        let text = std::fs::read(entry.unwrap().path()).unwrap();
        lines.extend(text.split(|byte| *byte == b'\n').map(<[u8]>::to_vec));
    }
    lines
}

/// The scanner answers for every line the serde peek answers for, in the sample files and
/// generated traffic: otherwise the fast path would be dead code.
#[test]
fn scanner_answers_wherever_the_serde_peek_does() {
    let samples = sample_lines();
    let generated = synth_lines(42, 20_000);
    for (name, lines) in [("samples", &samples), ("generated", &generated)] {
        let mut serde_answers = 0;
        for line in lines {
            let answered = scan_agrees(line);
            if serde_run(line, true).answer.is_some() {
                serde_answers += 1;
                assert!(
                    answered,
                    "{name}: the scanner gave up on a line the serde peek reads: {}",
                    String::from_utf8_lossy(line)
                );
            }
        }
        assert!(serde_answers > 10, "{name}: {serde_answers} answers");
    }
}

const BASE: &str = r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a","stage":"ResponseComplete","requestURI":"/api/v1/pods?x=1","verb":"list","user":{"username":"alice","uid":"u1","groups":["g1","g2"],"extra":{"k":["v"]}},"sourceIPs":["10.0.0.1"],"userAgent":"kubectl","objectRef":{"resource":"pods","namespace":"ns","name":"p","uid":"x","apiGroup":"","apiVersion":"v1","resourceVersion":"7","subresource":"log"},"responseStatus":{"metadata":{},"status":"Failure","message":"m","reason":"r","code":404},"requestObject":{"a":[1,-2.5e3,true,false,null,{"b":"c"}]},"responseObject":null,"requestReceivedTimestamp":"2025-10-07T16:00:00.000000Z","stageTimestamp":"2025-10-07T16:00:00.100000Z","annotations":{"a":"b"}}"#;

/// Hand-made lines: what the scanner reads, and where it must leave the line to the serde
/// peek (which may still answer).
#[test]
fn scanner_reads_plain_lines_and_leaves_odd_ones() {
    assert!(scan_agrees(BASE.as_bytes()));
    let reads = [
        BASE.to_owned(),
        // Whitespace between every token, of every kind JSON allows.
        String::from_utf8(between_tokens(BASE.as_bytes(), b" \t\r\n", &mut || 0))
            .unwrap()
            .trim_start()
            .to_owned()
            + " \n",
        // Escapes in attribute strings, keys of maps and bodies.
        BASE.replace("/api/v1/pods?x=1", r"\/api\/v1\/pods?x=1\u0026y=\u00e9\t"),
        BASE.replace(r#""alice""#, r#""al\"i\\ce\u20AC""#),
        BASE.replace(r#""g2""#, r#""g\u0032""#),
        BASE.replace(r#"{"a":"b"}"#, r#"{"a\n":"b\r\f\b"}"#),
        // Nulls where the serde peek takes them.
        BASE.replace(r#""user":{"#, r#""impersonatedUser":null,"user":{"#),
        BASE.replace(r#""groups":["g1","g2"]"#, r#""groups":null"#),
        BASE.replace(r#""groups":["g1","g2"]"#, r#""groups":[]"#),
        BASE.replace(r#""extra":{"k":["v"]}"#, r#""extra":null"#),
        BASE.replace(r#""extra":{"k":["v"]}"#, r#""extra":{}"#),
        BASE.replace(r#""apiGroup":"""#, r#""apiGroup":null"#),
        BASE.replace(r#""level":"Metadata""#, r#""level":null"#),
        BASE.replace(r#""annotations":{"a":"b"}"#, r#""annotations":null"#),
        BASE.replace(r#""objectRef":{"#, r#""objectRef":null,"x":{"#),
        BASE.replace(r#""responseStatus":{"#, r#""responseStatus":null,"y":{"#),
        BASE.replace(
            r#""stageTimestamp":"2025-10-07T16:00:00.100000Z""#,
            r#""stageTimestamp":null"#,
        ),
        // Keys out of the API server's order, unknown keys everywhere.
        BASE.replace(r#""kind":"Event","apiVersion":"audit.k8s.io/v1","#, "")
            .replace(
                r#""annotations""#,
                r#""apiVersion":"audit.k8s.io/v1","kind":"Event","annotations""#,
            ),
        BASE.replace(
            r#""username":"alice","uid":"u1","#,
            r#""uid":"u1","x":[{}],"username":"alice","#,
        ),
        BASE.replace(
            r#""resource":"pods","#,
            r#""z":{"a":[]},"resource":"pods","#,
        ),
        // Numbers of every valid form, deep (but not too deep) nesting.
        BASE.replace(
            "[1,-2.5e3",
            "[0,-0,1.0,-0.5e-3,7E+2,12345678901234567890123456789e99999,-2.5e3",
        ),
        BASE.replace(
            r#""requestObject":{"#,
            &format!(
                r#""deep":{}1{},"requestObject":{{"#,
                "[".repeat(40),
                "]".repeat(40)
            ),
        ),
        // Many groups (held beyond the inline ones), many source addresses (at the limit).
        BASE.replace(
            r#""groups":["g1","g2"]"#,
            r#""groups":["a","b","c","d","e","f","g"]"#,
        ),
        BASE.replace(
            r#""sourceIPs":["10.0.0.1"]"#,
            &format!(
                r#""sourceIPs":[{}]"#,
                vec![r#""1""#; formats::limits::SOURCE_IPS_MAX].join(",")
            ),
        ),
        // Non-ASCII text.
        BASE.replace("alice", "ålïcé 世界 🦀"),
        // Users that are empty, or not, by one key.
        BASE.replace(
            r#""username":"alice","uid":"u1","groups":["g1","g2"],"extra":{"k":["v"]}"#,
            r#""groups":null"#,
        ),
        BASE.replace(
            r#""username":"alice","uid":"u1","groups":["g1","g2"],"extra":{"k":["v"]}"#,
            r#""groups":[]"#,
        ),
        BASE.replace(
            r#""username":"alice","uid":"u1","groups":["g1","g2"],"extra":{"k":["v"]}"#,
            r#""extra":null"#,
        ),
        BASE.replace(
            r#""username":"alice","uid":"u1","groups":["g1","g2"],"extra":{"k":["v"]}"#,
            r#""extra":{}"#,
        ),
        BASE.replace(
            r#""username":"alice","uid":"u1","groups":["g1","g2"],"extra":{"k":["v"]}"#,
            r#""uid":"""#,
        ),
        BASE.replace(
            r#""username":"alice","uid":"u1","groups":["g1","g2"],"extra":{"k":["v"]}"#,
            r#""uid":"x""#,
        ),
        BASE.replace(
            r#""username":"alice","uid":"u1","groups":["g1","g2"],"extra":{"k":["v"]}"#,
            r#""username":null"#,
        ),
        // Any one of the three keys that make an event is enough.
        BASE.replace(r#""requestURI":"/api/v1/pods?x=1","verb":"list","#, ""),
        BASE.replace(r#""auditID":"a","#, "")
            .replace(r#""verb":"list","#, ""),
        BASE.replace(r#""auditID":"a","#, "")
            .replace(r#""requestURI":"/api/v1/pods?x=1","#, ""),
        BASE.replace(r#""auditID":"a""#, r#""auditID":null"#)
            .replace(r#""requestURI":"/api/v1/pods?x=1","verb":"list","#, ""),
    ];
    for (index, line) in reads.iter().enumerate() {
        assert!(
            index == 0 || line != BASE,
            "an edit that changes nothing: {index}"
        );
        assert!(scan_agrees(line.as_bytes()), "scanner gave up on {line:?}");
    }
    let leaves = [
        // Duplicate keys the peek reads.
        BASE.replace(r#""verb":"list""#, r#""verb":"list","verb":"get""#),
        BASE.replace(
            r#""username":"alice""#,
            r#""username":"alice","username":"bob""#,
        ),
        BASE.replace(
            r#""resource":"pods""#,
            r#""resource":"pods","resource":"pods""#,
        ),
        BASE.replace(
            r#""status":"Failure""#,
            r#""status":"Failure","status":null"#,
        ),
        // Keys written with escapes where keys are matched.
        BASE.replace(r#""verb":"list""#, r#""ver\u0062":"list""#),
        BASE.replace(r#""username""#, r#""user\u006eame""#),
        // Surrogate escapes, anywhere (serde_json rejects a lone one in a string it reads).
        BASE.replace(r#"{"a":"b"}"#, r#"{"a":"\ud83e\udd80"}"#),
        BASE.replace(r#"{"a":"b"}"#, r#"{"a":"\udfff"}"#),
        BASE.replace(r#"{"a":"b"}"#, r#"{"\udbff":"b"}"#),
        BASE.replace(r#""kubectl""#, r#""kube\udc00ctl""#),
        BASE.replace(r#""k":["v"]"#, r#""k":["\ude00"]"#),
        // Nesting deeper than the scanner reads.
        BASE.replace(
            r#""requestObject":{"#,
            &format!(
                r#""deep":{}1{},"requestObject":{{"#,
                "[".repeat(60),
                "]".repeat(60)
            ),
        ),
        // Lists, v1alpha1, no identity, warnings of the decoder.
        BASE.replace(r#""kind":"Event""#, r#""kind":"EventList""#),
        BASE.replace("audit.k8s.io/v1\"", "audit.k8s.io/v1alpha1\""),
        BASE.replace(r#""verb":"list""#, r#""verb":"list","items":[]"#),
        BASE.replace(r#""auditID":"a","#, "")
            .replace(r#""requestURI":"/api/v1/pods?x=1","verb":"list","#, ""),
        BASE.replace(r#""level":"Metadata""#, r#""level":"Loud""#),
        BASE.replace(r#""stage":"ResponseComplete""#, r#""stage":"Done""#),
        BASE.replace("2025-10-07T16:00:00.000000Z", "yesterday"),
        BASE.replace(
            r#""sourceIPs":["10.0.0.1"]"#,
            &format!(
                r#""sourceIPs":[{}]"#,
                vec![r#""1""#; formats::limits::SOURCE_IPS_MAX + 1].join(",")
            ),
        ),
        // Malformed JSON.
        BASE.replace("[1,", "[01,"),
        BASE.replace("[1,", "[1.,"),
        BASE.replace("[1,", "[.5,"),
        BASE.replace("[1,", "[1e,"),
        BASE.replace("[1,", "[+1,"),
        BASE.replace("[1,", "[1,,"),
        BASE.replace("null,{", "nul,{"),
        BASE.replace(r#"{"b":"c"}"#, r#"{"b":"c",}"#),
        BASE.replace(r#""alice""#, "\"al\u{1}ice\""),
        BASE.replace(r#""alice""#, r#""al\xice""#),
        BASE.replace(r#""alice""#, r#""al\u12ice""#),
        BASE.replace(":", ":\u{c}"),
        format!("{BASE} x"),
        format!("{BASE}{{}}"),
        BASE[..BASE.len() - 1].to_owned(),
        "{}".to_owned(),
    ];
    for line in &leaves {
        assert_ne!(line, BASE, "an edit that changes nothing");
        let answered = scan_agrees(line.as_bytes());
        assert!(!answered, "scanner read {line:?}");
    }
    // Keys one character away from those the scanner reads: other keys.
    for (start, _) in BASE.match_indices("\":") {
        let Some(open) = BASE[..start].rfind('"') else {
            continue;
        };
        for at in open + 1..start {
            let mut line = BASE.as_bytes().to_vec();
            line[at] = if line[at] == b'X' { b'Y' } else { b'X' };
            scan_agrees(&line);
        }
    }
    // Values of the wrong type for every key the scanner reads.
    let keys = [
        "kind",
        "apiVersion",
        "level",
        "auditID",
        "stage",
        "requestURI",
        "verb",
        "user",
        "impersonatedUser",
        "sourceIPs",
        "userAgent",
        "objectRef",
        "responseStatus",
        "requestReceivedTimestamp",
        "stageTimestamp",
        "annotations",
        "username",
        "uid",
        "groups",
        "extra",
        "resource",
        "namespace",
        "name",
        "apiGroup",
        "resourceVersion",
        "subresource",
        "status",
        "message",
        "reason",
    ];
    for key in keys {
        for value in WRONG_TYPES {
            let needle = format!("\"{key}\":");
            let Some(start) = BASE.find(&needle) else {
                continue;
            };
            let mut line = BASE.to_owned();
            line.insert_str(start + needle.len(), &format!("{value},\"other\":"));
            scan_agrees(line.as_bytes());
        }
    }
}

/// Values of every JSON type, and broken ones.
const WRONG_TYPES: [&str; 16] = [
    "null",
    "1",
    "-1.5e3",
    "true",
    "\"\"",
    "\"x\"",
    "[]",
    "[\"a\"]",
    "[1]",
    "[null]",
    "{}",
    "{\"a\":\"b\"}",
    "{\"a\":[\"b\"]}",
    "{\"a\":null}",
    "{\"a\":1}",
    "nul",
];

/// Numbers, valid and not, as RFC 8259 and serde_json read them.
const NUMBERS: [&str; 28] = [
    "0",
    "-0",
    "1",
    "-1",
    "10",
    "0.0",
    "1.5",
    "-1.5",
    "1e5",
    "1E5",
    "1e+5",
    "1e-5",
    "1.5e-05",
    "123456789012345678901234567890",
    "1e99999",
    "01",
    "-01",
    "1.",
    ".5",
    "-",
    "+1",
    "1e",
    "1e+",
    "0x10",
    "1.5.5",
    "--1",
    "Infinity",
    "NaN",
];

/// Rewrites every string of `line` (keys included): each character chosen by `pick` is
/// written as a `\u` escape (upper or lower case hex) or a short escape.
fn escape_strings(line: &[u8], pick: &mut impl FnMut() -> u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len() * 2);
    let mut in_string = false;
    let mut index = 0;
    while index < line.len() {
        let byte = line[index];
        if !in_string {
            in_string = byte == b'"';
            out.push(byte);
            index += 1;
            continue;
        }
        match byte {
            b'"' => {
                in_string = false;
                out.push(byte);
            }
            b'\\' => {
                let length = if line.get(index + 1) == Some(&b'u') {
                    6
                } else {
                    2
                };
                out.extend_from_slice(&line[index..(index + length).min(line.len())]);
                index += length;
                continue;
            }
            b'/' if pick().is_multiple_of(3) => out.extend_from_slice(br"\/"),
            0x20..0x80 if pick().is_multiple_of(3) => {
                let escape = if pick().is_multiple_of(2) {
                    format!("\\u{:04x}", byte)
                } else {
                    format!("\\u{:04X}", byte)
                };
                out.extend_from_slice(escape.as_bytes());
            }
            _ => out.push(byte),
        }
        index += 1;
    }
    out
}

/// Inserts `insert` at token boundaries (outside strings) chosen by `pick`.
fn between_tokens(line: &[u8], insert: &[u8], pick: &mut impl FnMut() -> u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len() * 2);
    let mut in_string = false;
    let mut escaped = false;
    for &byte in line {
        if in_string {
            out.push(byte);
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            continue;
        }
        if matches!(byte, b'{' | b'}' | b'[' | b']' | b':' | b',' | b'"')
            && pick().is_multiple_of(4)
        {
            out.extend_from_slice(insert);
        }
        in_string = byte == b'"';
        out.push(byte);
    }
    out
}

/// The places a value of `key` starts in `line`.
fn value_starts(line: &[u8], key: &str) -> Vec<usize> {
    let needle = format!("\"{key}\":");
    let text = String::from_utf8_lossy(line);
    text.match_indices(&needle)
        .map(|(start, _)| start + needle.len())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    /// Escapes anywhere in the strings of generated lines.
    #[test]
    fn scanner_agrees_on_escaped_strings(index in 0usize..400, seed in any::<u64>()) {
        let mut state = seed | 1;
        let mut pick = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        };
        let line = escape_strings(&LINES[index], &mut pick);
        scan_agrees(&line);
    }

    /// Whitespace (and bytes that are not JSON whitespace) between tokens.
    #[test]
    fn scanner_agrees_with_whitespace_between_tokens(
        index in 0usize..400,
        seed in any::<u64>(),
        insert in prop::sample::select(vec![
            &b" "[..], b"\t", b"\r\n", b"\n  \t", b"\x0c", b"\x0b", b"\xa0", b"\x00", b"x",
        ]),
    ) {
        let mut state = seed | 1;
        let mut pick = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        };
        let line = between_tokens(&LINES[index], insert, &mut pick);
        let answered = scan_agrees(&line);
        if [&b" "[..], b"\t", b"\r\n", b"\n  \t"].contains(&insert) {
            // JSON whitespace changes nothing the serde peek answers for.
            let serde = serde_run(&line, true).answer.is_some();
            prop_assert_eq!(answered, serde);
        }
    }

    /// A value of any type (and broken ones, numbers of every form, deep nesting) for any
    /// key, in place or as a duplicate, at the top or inside the nested objects.
    #[test]
    fn scanner_agrees_on_retyped_and_repeated_keys(
        index in 0usize..400,
        key in prop::sample::select(vec![
            "kind", "apiVersion", "level", "auditID", "stage", "requestURI", "verb", "user",
            "impersonatedUser", "sourceIPs", "userAgent", "objectRef", "responseStatus",
            "requestObject", "responseObject", "requestReceivedTimestamp", "stageTimestamp",
            "annotations", "items", "username", "uid", "groups", "extra", "resource",
            "namespace", "name", "apiGroup", "apiVersion", "resourceVersion", "subresource",
            "status", "message", "reason", "code", "metadata", "unknown",
        ]),
        value in prop_oneof![
            prop::sample::select(WRONG_TYPES.to_vec()).prop_map(str::to_owned),
            prop::sample::select(NUMBERS.to_vec()).prop_map(str::to_owned),
            (1usize..80, any::<bool>()).prop_map(|(depth, object)| if object {
                format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
            } else {
                format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
            }),
            prop::sample::select(vec![
                "\"None\"", "\"metadata\"", "\"RequestReceived\"", "\"panic\"",
                "\"2025-01-01T00:00:00Z\"", "\"2025-01-01 00:00:00+01:00\"", "\"audit.k8s.io/v1\"",
                "\"EventList\"", "\"Event\"", "\"\\u0045vent\"", "\"\\ud800\"",
            ]).prop_map(str::to_owned),
        ],
        duplicate in any::<bool>(),
        place in prop::sample::select(vec!["", "\"user\":{", "\"objectRef\":{", "\"responseStatus\":{", "\"annotations\":{", "\"extra\":{"]),
    ) {
        let line = &LINES[index];
        let text = String::from_utf8_lossy(line).into_owned();
        let changed = if duplicate || place.is_empty() && value_starts(line, key).is_empty() {
            // A new member: at the start of an object, or at the end of the event.
            match text.find(place).filter(|_| !place.is_empty()) {
                Some(at) => {
                    let at = at + place.len();
                    format!("{}\"{key}\":{value},{}", &text[..at], &text[at..])
                }
                None => format!("{},\"{key}\":{value}}}", &text[..text.len() - 1]),
            }
        } else {
            // The value in place, replaced up to the end of its JSON token.
            let Some(&start) = value_starts(line, key).first() else {
                return Ok(());
            };
            let mut stream = serde_json::Deserializer::from_str(&text[start..])
                .into_iter::<serde::de::IgnoredAny>();
            if stream.next().is_none_or(|value| value.is_err()) {
                return Ok(());
            }
            let end = start + stream.byte_offset();
            format!("{}{value}{}", &text[..start], &text[end..])
        };
        scan_agrees(changed.as_bytes());
    }

    /// Truncation, control bytes, bytes that are not UTF-8, trailing bytes, and byte edits
    /// anywhere.
    #[test]
    fn scanner_agrees_on_damaged_lines(
        index in 0usize..400,
        edits in prop::collection::vec(
            (any::<prop::sample::Index>(), 0u8..5, prop::sample::select(vec![
                b'"', b'{', b'}', b'[', b']', b',', b':', b'\\', b'n', b'u', b'0', b'e', b'-',
                b'.', b' ', b'x', 0x00, 0x01, 0x1f, 0x7f, 0x80, 0xc3, 0xe2, 0xed, 0xf0, 0xff,
            ])),
            1..4,
        ),
    ) {
        let mut line = LINES[index].clone();
        for (position, operation, byte) in edits {
            if line.is_empty() {
                break;
            }
            let at = position.index(line.len());
            match operation {
                0 => line[at] = byte,
                1 => {
                    line.remove(at);
                }
                2 => line.insert(at, byte),
                3 => line.truncate(at),
                _ => line.push(byte),
            }
        }
        scan_agrees(&line);
    }
}
