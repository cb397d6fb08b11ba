//! The Kubernetes round trip: decoding then encoding a v1 event gives back the same JSON.

use std::io::BufRead;

use event::Origin;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn decode_one(line: &[u8]) -> event::AuditEvent {
    let mut events = Vec::new();
    let mut diagnostics = Vec::new();
    formats::k8s::decode(line, &Origin::default(), &mut events, &mut diagnostics);
    assert!(diagnostics.iter().all(|d| !d.is_error()), "{diagnostics:?}");
    assert_eq!(events.len(), 1);
    events.pop().unwrap()
}

fn encode_one(event: &event::AuditEvent) -> Vec<u8> {
    let mut out = Vec::new();
    formats::k8s::encode(event, &mut out);
    assert_eq!(out.pop(), Some(b'\n'));
    out
}

/// API-server-written lines come back byte for byte.
#[test]
fn api_server_lines_round_trip_byte_for_byte() {
    let file = std::fs::File::open("tests/data/k8s/v1-log.jsonl").unwrap();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.unwrap();
        let encoded = encode_one(&decode_one(line.as_bytes()));
        assert_eq!(String::from_utf8(encoded).unwrap(), line);
    }
}

/// The normalized form keeps everything: v1 → event → jsonl → event → v1 is the identity.
#[test]
fn jsonl_keeps_everything_the_k8s_encoder_needs() {
    let file = std::fs::File::open("tests/data/k8s/v1-log.jsonl").unwrap();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.unwrap();
        let event = decode_one(line.as_bytes());
        let mut stored = Vec::new();
        formats::jsonl::encode(&event, &mut stored);
        let back: event::AuditEvent = serde_json::from_slice(&stored).unwrap();
        assert_eq!(back, event);
        assert_eq!(String::from_utf8(encode_one(&back)).unwrap(), line);
    }
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9:./-]{0,12}",
        any::<String>().prop_map(|s| s.chars().take(16).collect()),
        Just("<&>\"\\\u{2028}\u{7}\n".to_owned()),
    ]
}

fn nonempty_text() -> impl Strategy<Value = String> {
    text().prop_filter("non-empty", |s| !s.is_empty())
}

fn micro_time() -> impl Strategy<Value = Value> {
    (0i64..4_102_444_800, 0u32..1_000_000).prop_map(|(seconds, micros)| {
        let time =
            event::Timestamp::from_unix_nanos(seconds * 1_000_000_000 + i64::from(micros) * 1000);
        Value::String(time.to_micro_string())
    })
}

fn user() -> impl Strategy<Value = Value> {
    (
        proptest::option::of(nonempty_text()),
        proptest::option::of(nonempty_text()),
        proptest::option::of(proptest::collection::vec(text(), 0..3)),
        proptest::option::of(proptest::collection::btree_map(
            text(),
            proptest::collection::vec(text(), 0..2),
            0..2,
        )),
    )
        .prop_map(|(username, uid, groups, extra)| {
            let mut user = Map::new();
            if let Some(v) = username {
                user.insert("username".into(), json!(v));
            }
            if let Some(v) = uid {
                user.insert("uid".into(), json!(v));
            }
            if let Some(v) = groups {
                user.insert("groups".into(), json!(v));
            }
            if let Some(v) = extra {
                user.insert("extra".into(), json!(v));
            }
            Value::Object(user)
        })
}

fn body() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|n| json!(n)),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(text(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

prop_compose! {
    fn v1_event()(
        level in prop::sample::select(vec!["Metadata", "Request", "RequestResponse"]),
        stage in prop::sample::select(vec!["RequestReceived", "ResponseStarted", "ResponseComplete", "Panic"]),
        audit_id in text(),
        uri in text(),
        verb in text(),
        user in user(),
        impersonated in proptest::option::of(user()),
        ips in proptest::option::of(proptest::collection::vec(text(), 1..3)),
        agent in proptest::option::of(text()),
        object in proptest::option::of((nonempty_text(), proptest::option::of(text()), text(), nonempty_text())),
        code in proptest::option::of(100u16..600),
        message in proptest::option::of(nonempty_text()),
        request in proptest::option::of(body()),
        response in proptest::option::of(body()),
        received in prop_oneof![micro_time(), Just(Value::Null)],
        staged in prop_oneof![micro_time(), Just(Value::Null)],
        annotations in proptest::option::of(proptest::collection::btree_map(text(), text(), 1..3)),
        unknown in proptest::collection::btree_map("x-[a-z]{1,6}", body(), 0..2),
    ) -> Value {
        let mut event = Map::new();
        event.insert("kind".into(), json!("Event"));
        event.insert("apiVersion".into(), json!("audit.k8s.io/v1"));
        event.insert("level".into(), json!(level));
        event.insert("auditID".into(), json!(audit_id));
        event.insert("stage".into(), json!(stage));
        event.insert("requestURI".into(), json!(uri));
        event.insert("verb".into(), json!(verb));
        event.insert("user".into(), user);
        if let Some(v) = impersonated { event.insert("impersonatedUser".into(), v); }
        if let Some(v) = ips { event.insert("sourceIPs".into(), json!(v)); }
        if let Some(v) = agent { event.insert("userAgent".into(), json!(v)); }
        if let Some((resource, group, namespace, name)) = object {
            let mut object = Map::new();
            object.insert("resource".into(), json!(resource));
            if !namespace.is_empty() { object.insert("namespace".into(), json!(namespace)); }
            object.insert("name".into(), json!(name));
            if let Some(group) = group { object.insert("apiGroup".into(), json!(group)); }
            object.insert("apiVersion".into(), json!("v1"));
            event.insert("objectRef".into(), Value::Object(object));
        }
        if let Some(code) = code {
            let mut status = Map::new();
            status.insert("metadata".into(), json!({}));
            if let Some(message) = message {
                status.insert("status".into(), json!("Failure"));
                status.insert("message".into(), json!(message));
            }
            status.insert("code".into(), json!(code));
            event.insert("responseStatus".into(), Value::Object(status));
        }
        if let Some(v) = request { event.insert("requestObject".into(), v); }
        if let Some(v) = response { event.insert("responseObject".into(), v); }
        event.insert("requestReceivedTimestamp".into(), received);
        event.insert("stageTimestamp".into(), staged);
        if let Some(v) = annotations { event.insert("annotations".into(), json!(v)); }
        for (key, value) in unknown { event.insert(key, value); }
        Value::Object(event)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Encoding a decoded v1 event is the identity (as a JSON value, unknown fields included).
    #[test]
    fn encoding_a_decoded_v1_event_is_the_identity(original in v1_event()) {
        let text = serde_json::to_vec(&original).unwrap();
        let encoded = encode_one(&decode_one(&text));
        let back: Value = serde_json::from_slice(&encoded).unwrap();
        prop_assert_eq!(back, original);
        // And the encoder is a fixed point on its own output, byte for byte.
        prop_assert_eq!(encode_one(&decode_one(&encoded)), encoded);
    }

    /// Decoders take any bytes without panicking; every line yields events or diagnostics.
    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut events = Vec::new();
        let mut diagnostics = Vec::new();
        let origin = Origin::default();
        formats::k8s::decode(&bytes, &origin, &mut events, &mut diagnostics);
        formats::legacy::decode(&bytes, &origin, &mut events, &mut diagnostics);
        formats::jsonl::decode(&bytes, &origin, &mut events, &mut diagnostics);
        let mut decoder = formats::Decoder::new(formats::InputFormat::Auto, "-");
        decoder.decode_document(&bytes, &mut events, &mut diagnostics);
    }

    /// Mutating a real line anywhere never panics the decoder.
    #[test]
    fn mutated_real_lines_never_panic(index in 0usize..11, position in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let text = std::fs::read_to_string("tests/data/k8s/v1-log.jsonl").unwrap();
        let line = text.lines().nth(index).unwrap();
        let mut bytes = line.as_bytes().to_vec();
        let at = position.index(bytes.len());
        bytes[at] = byte;
        let mut events = Vec::new();
        let mut diagnostics = Vec::new();
        formats::k8s::decode(&bytes, &Origin::default(), &mut events, &mut diagnostics);
        prop_assert!(events.len() + diagnostics.len() >= 1);
    }
}

/// The hand-written jsonl encoder writes exactly the event crate's serde form.
#[test]
fn jsonl_encoder_agrees_with_serde() {
    let mut events: Vec<event::AuditEvent> =
        synth::Generator::new(5, synth::SynthConfig::default())
            .take(3000)
            .collect();
    for name in [
        "v1-log.jsonl",
        "lenient-shapes.jsonl",
        "legacy.log",
        "malformed.jsonl",
        "v1alpha1.jsonl",
    ] {
        let (more, _) =
            crate::samples::decode_file(std::path::Path::new(&format!("tests/data/k8s/{name}")));
        events.extend(more);
    }
    let mut extra = events[0].clone();
    extra.paths = vec!["/etc/shadow".into()];
    extra.source_port = Some(443);
    extra.node = Some("node-1".into());
    extra.method = Some("GET".into());
    extra.user.login = Some("alice".into());
    extra.extensions.kind = Some("docker-swarm".into());
    events.push(extra);
    for event in &events {
        let mut mine = Vec::new();
        formats::jsonl::encode(event, &mut mine);
        let serde = serde_json::to_vec(event).unwrap();
        let ours: serde_json::Value = serde_json::from_slice(&mine).unwrap();
        let theirs: serde_json::Value = serde_json::from_slice(&serde).unwrap();
        assert_eq!(ours, theirs);
        let back: event::AuditEvent = serde_json::from_slice(&mine).unwrap();
        assert_eq!(&back, event);
    }
}
