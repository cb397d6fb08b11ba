//! The differential test of deciding drops before decoding (what `auditrail import` does):
//! for every line, peeking at the record and asking [`Policy::drop_verdict`] gives exactly
//! the outcome of decoding it and applying the policy (the same diagnostics, verdicts and
//! kept events), over generated traffic and the Kubernetes sample files, with the example
//! and test policies.

use event::AuditEvent;
use formats::frame::Line;
use formats::{Decoder, Diagnostic, InputFormat};
use policy::{Policy, Verdict};

use crate::policy_yaml::HEADER;

/// What one line gave: diagnostics, the verdict of each event, the events kept.
#[derive(Debug, PartialEq)]
struct Outcome {
    diagnostics: Vec<Diagnostic>,
    verdicts: Vec<Verdict>,
    kept: Vec<AuditEvent>,
}

fn framed(bytes: &[u8]) -> Line<'_> {
    Line {
        number: 3,
        offset: 40,
        bytes,
        overlong: false,
        length: bytes.len() as u64,
    }
}

/// Decode, then apply: the path every event took before.
fn decode_and_apply(decoder: &mut Decoder, policy: &Policy, line: &Line<'_>) -> Outcome {
    let mut events = Vec::new();
    let mut diagnostics = Vec::new();
    decoder.decode_line(line, &mut events, &mut diagnostics);
    let verdicts = events
        .iter_mut()
        .map(|event| policy.apply(event))
        .collect::<Vec<_>>();
    let kept = events
        .into_iter()
        .zip(&verdicts)
        .filter(|(_, verdict)| verdict.is_kept())
        .map(|(event, _)| event)
        .collect();
    Outcome {
        diagnostics,
        verdicts,
        kept,
    }
}

/// Peek first: a drop decided from the peek, everything else decoded. Returns whether the
/// line was decided without decoding.
fn peek_first(decoder: &mut Decoder, policy: &Policy, line: &Line<'_>) -> (Outcome, bool) {
    let verdict = decoder
        .peek_unless(line, &mut |attributes| {
            policy.drop_verdict(attributes).is_some()
        })
        .and_then(|peek| policy.drop_verdict(&peek.attributes()));
    match verdict {
        Some(verdict) => (
            Outcome {
                diagnostics: Vec::new(),
                verdicts: vec![verdict],
                kept: Vec::new(),
            },
            true,
        ),
        None => (decode_and_apply(decoder, policy, line), false),
    }
}

fn policies() -> Vec<(&'static str, Policy)> {
    let file = |path: &str| {
        let text = std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR")))
            .unwrap_or_else(|error| panic!("{path}: {error}"));
        Policy::load(&text).unwrap().policy
    };
    let inline = |body: &str| Policy::load(&format!("{HEADER}{body}")).unwrap().policy;
    vec![
        ("examples/policy.yaml", file("../../examples/policy.yaml")),
        ("policy-full.yaml", file("tests/data/policy-full.yaml")),
        ("warnings.yaml", file("tests/data/warnings.yaml")),
        ("permissive", Policy::permissive()),
        (
            "rule stages, users, groups, URLs, names",
            inline(
                r#"
omitStages: [ResponseStarted]
rules:
  - level: None
    users: ["system:anonymous", ""]
  - level: Metadata
    userGroups: ["system:masters"]
    omitStages: [RequestReceived, ResponseComplete]
  - level: None
    nonResourceURLs: ["/api*", "/version"]
  - level: Request
    verbs: [get]
    namespaces: ["", "kube-system"]
    resources:
      - group: "*"
        resources: ["*/status", "pods/*"]
        resourceNames: ["a", "b"]
  - level: None
    verbs: [watch, list]
"#,
            ),
        ),
        (
            "ignored endpoints, no catch-all",
            inline(
                r#"
rules:
  - level: RequestResponse
    resources:
      - group: apps
auditrail:
  ignoredEndpoints: ["/apis/apps/*/namespaces/*/deployments", "/api/v1/nodes*"]
"#,
            ),
        ),
    ]
}

fn sample_lines() -> Vec<Vec<u8>> {
    let mut lines: Vec<Vec<u8>> = synth::Generator::new(42, synth::SynthConfig::default())
        .take(30_000)
        .map(|event| {
            let mut line = Vec::new();
            formats::k8s::encode(&event, &mut line);
            line.pop();
            line
        })
        .collect();
    let samples = format!("{}/../formats/tests/data/k8s", env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(samples).unwrap() {
        let text = std::fs::read(entry.unwrap().path()).unwrap();
        lines.extend(text.split(|byte| *byte == b'\n').map(<[u8]>::to_vec));
    }
    lines
}

#[test]
fn deciding_drops_before_decoding_changes_nothing() {
    let lines = sample_lines();
    for (name, policy) in policies() {
        for format in [InputFormat::K8s, InputFormat::Auto] {
            let mut old = Decoder::new(format, "input");
            let mut new = Decoder::new(format, "input");
            let mut skipped = 0;
            for (index, bytes) in lines.iter().enumerate() {
                let line = framed(bytes);
                let expected = decode_and_apply(&mut old, &policy, &line);
                let (outcome, decided) = peek_first(&mut new, &policy, &line);
                assert_eq!(
                    outcome,
                    expected,
                    "{name}, {format:?}, line {index}: {}",
                    String::from_utf8_lossy(bytes)
                );
                skipped += usize::from(decided);
            }
            if name == "examples/policy.yaml" {
                // Most generated traffic is a RequestReceived stage, a lease, an event or
                // a probe, which the example policy drops: the fast path must be taken.
                assert!(
                    skipped * 2 > lines.len(),
                    "{name}: only {skipped} of {} lines decided before decoding",
                    lines.len()
                );
            }
            if name == "permissive" {
                assert_eq!(skipped, 0, "the permissive policy drops nothing");
            }
        }
    }
}
