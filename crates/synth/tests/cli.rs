//! The `auditrail-synth` binary (feature `cli`): its output is Kubernetes v1 JSON lines that
//! the Kubernetes decoder reads back into exactly the events the generator made.
#![cfg(feature = "cli")]

use std::path::Path;
use std::process::Command;

use event::{AuditEvent, Origin};
use synth::{Generator, SynthConfig};

const BINARY: &str = env!("CARGO_BIN_EXE_auditrail-synth");

fn decode_lines(text: &str) -> Vec<AuditEvent> {
    let mut events = Vec::new();
    let mut diagnostics = Vec::new();
    for line in text.lines() {
        formats::k8s::decode(
            line.as_bytes(),
            &Origin::default(),
            &mut events,
            &mut diagnostics,
        );
    }
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    events
}

#[test]
fn writes_v1_lines_that_decode_to_the_generated_events() {
    let output = Command::new(BINARY)
        .args(["--events", "2000", "--seed", "3"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(text.lines().count(), 2000);
    for line in text.lines().take(50) {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(value["apiVersion"], "audit.k8s.io/v1");
        assert_eq!(value["kind"], "Event");
    }
    let expected: Vec<AuditEvent> = Generator::new(3, SynthConfig::default())
        .take(2000)
        .collect();
    let decoded = decode_lines(&text);
    assert_eq!(decoded.len(), expected.len());
    for (decoded, expected) in decoded.iter().zip(&expected) {
        assert_eq!(decoded, expected);
    }
    let average = text.len() / 2000;
    assert!(
        (700..=1500).contains(&average),
        "average line {average} bytes"
    );
}

#[test]
fn writes_to_a_file_and_rejects_bad_arguments() {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("auditrail-synth-test.jsonl");
    let status = Command::new(BINARY)
        .args(["--events", "10", "--seed", "1", "--out"])
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 10);
    std::fs::remove_file(&path).unwrap();
    let output = Command::new(BINARY)
        .args(["--events", "ten"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}
