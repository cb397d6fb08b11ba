//! `auditrail prune`: retention on a real data directory, with segments small enough that a
//! few thousand events span many of them.

use std::io::Write;
use std::path::Path;

use crate::{run_in, text};

/// A data directory as written before retention existed (layout version 1), with 8 KiB
/// segments (`segment_bytes` in `store.json` is the store's segment-size setting).
fn small_segment_store(data: &Path) {
    std::fs::write(
        data.join("store.json"),
        r#"{"format":"auditrail-store","version":3,"origin":"test.example/prune","segment_bytes":8192}"#,
    )
    .unwrap();
}

fn segment_count(data: &Path) -> usize {
    std::fs::read_dir(data.join("ledger/segments"))
        .unwrap()
        .count()
}

fn json(output: &std::process::Output) -> serde_json::Value {
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn prune_before_a_time_removes_old_segments_and_the_trail_still_verifies() {
    let data = tempfile::tempdir().unwrap();
    small_segment_store(data.path());
    let events: Vec<event::AuditEvent> = synth::Generator::new(77, synth::SynthConfig::default())
        .take(3000)
        .collect();
    // Ten imports, so ten batches and at least ten segments.
    for chunk in events.chunks(300) {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        let mut out = Vec::new();
        for event in chunk {
            formats::k8s::encode(event, &mut out);
        }
        file.write_all(&out).unwrap();
        let output = run_in(data.path(), &["import", file.path().to_str().unwrap()], b"");
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    }
    let segments = segment_count(data.path());
    assert!(segments >= 10, "{segments} segments");
    let saved = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        saved.path(),
        run_in(data.path(), &["checkpoint"], b"").stdout,
    )
    .unwrap();

    // Everything in the first half is older than the cutoff.
    let newest_old = events[..1500]
        .iter()
        .filter_map(event::AuditEvent::when)
        .max()
        .unwrap();
    let cutoff = event::Timestamp::from_unix_nanos(newest_old.unix_nanos() + 1_000).to_rfc3339();

    let dry = json(&run_in(
        data.path(),
        &[
            "prune",
            "--before",
            &cutoff,
            "--dry-run",
            "--output",
            "json",
        ],
        b"",
    ));
    let planned = dry["segments"].as_u64().unwrap();
    assert!(planned >= 3 && planned < segments as u64, "{dry}");
    assert_eq!(
        segment_count(data.path()),
        segments,
        "a dry run removes nothing"
    );

    let output = run_in(data.path(), &["prune", "--before", &cutoff], b"");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let summary = text(&output.stdout);
    assert!(
        summary.contains(&format!("removed {planned} segments")),
        "{summary}"
    );
    assert!(summary.contains("signed prune record at"), "{summary}");
    // The prune record may have started a new segment.
    let left = segment_count(data.path());
    let expected = segments - planned as usize;
    assert!(left == expected || left == expected + 1, "{left} segments");

    // verify passes, external checkpoints from before the prune included.
    let verify = run_in(
        data.path(),
        &["verify", "--checkpoint", saved.path().to_str().unwrap()],
        b"",
    );
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify.stdout));

    // A remaining event proves; a pruned one is gone.
    let proof = run_in(
        data.path(),
        &["prove", "--output", "json", &events[2999].id],
        b"",
    );
    assert_eq!(proof.status.code(), Some(0), "{}", text(&proof.stderr));
    let line: serde_json::Value =
        serde_json::from_str(text(&proof.stdout).lines().next().unwrap()).unwrap();
    let key = std::fs::read_to_string(data.path().join("ledger/verifier.key")).unwrap();
    let verifier = ledger::NoteVerifier::from_verifier_key(key.trim()).unwrap();
    ledger::InclusionProof::from_json(&line["proof"].to_string())
        .unwrap()
        .verify(line["record"].as_str().unwrap().as_bytes(), &verifier)
        .unwrap();
    let gone = run_in(data.path(), &["prove", &events[0].id], b"");
    assert_eq!(gone.status.code(), Some(2));

    // Nothing more goes by the same cutoff, or by one before everything.
    let again = json(&run_in(
        data.path(),
        &["prune", "--before", &cutoff, "--output", "json"],
        b"",
    ));
    assert_eq!(again["segments"], 0);
    let early = run_in(
        data.path(),
        &["prune", "--before", "1971-01-01T00:00:00Z"],
        b"",
    );
    assert_eq!(early.status.code(), Some(0));
    assert!(text(&early.stdout).contains("nothing to prune"));
    let verify = run_in(data.path(), &["verify"], b"");
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify.stdout));

    // A segment removed by hand, without a prune, is tampering.
    let mut names: Vec<_> = std::fs::read_dir(data.path().join("ledger/segments"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    std::fs::remove_file(&names[0]).unwrap();
    let verify = run_in(data.path(), &["verify"], b"");
    assert_eq!(verify.status.code(), Some(1), "{}", text(&verify.stdout));
}

#[test]
fn prune_by_size_and_bad_usage() {
    let data = tempfile::tempdir().unwrap();
    small_segment_store(data.path());
    for seed in 0..6 {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        let mut out = Vec::new();
        for event in synth::Generator::new(100 + seed, synth::SynthConfig::default()).take(300) {
            formats::k8s::encode(&event, &mut out);
        }
        file.write_all(&out).unwrap();
        let output = run_in(data.path(), &["import", file.path().to_str().unwrap()], b"");
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    }
    let report = json(&run_in(
        data.path(),
        &["prune", "--max-bytes", "20K", "--output", "json"],
        b"",
    ));
    assert!(report["segments"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(report["kept_segments"], 1, "{report}");
    let verify = run_in(data.path(), &["verify"], b"");
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify.stdout));
    // --max-age far in the past of every event: nothing.
    let aged = json(&run_in(
        data.path(),
        &["prune", "--max-age", "36500d", "--output", "json"],
        b"",
    ));
    assert_eq!(aged["segments"], 0);

    for args in [
        &["prune"][..],
        &["prune", "--before", "yesterday"][..],
        &["prune", "--max-age", "5y"][..],
        &["prune", "--max-bytes", "lots"][..],
    ] {
        let output = run_in(data.path(), args, b"");
        assert_eq!(output.status.code(), Some(2), "{args:?}");
    }
    let empty = tempfile::tempdir().unwrap();
    let output = run_in(
        &empty.path().join("nothing"),
        &["prune", "--before", "30d"],
        b"",
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("import events first"));
}
