//! import, verify, prove and checkpoint on a real data directory.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::{run_in, sample, text};

fn import(data: &Path, files: &[&Path]) -> std::process::Output {
    let mut args = vec!["import"];
    args.extend(files.iter().map(|file| file.to_str().unwrap()));
    run_in(data, &args, b"")
}

fn generated(events: usize, seed: u64) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    let mut out = Vec::new();
    for event in synth::Generator::new(seed, synth::SynthConfig::default()).take(events) {
        formats::k8s::encode(&event, &mut out);
    }
    file.write_all(&out).unwrap();
    file
}

#[test]
fn import_stores_each_event_once_and_quarantines_the_rest() {
    let data = tempfile::tempdir().unwrap();
    let v1 = sample("v1-log.jsonl");
    let malformed = sample("malformed.jsonl");
    let output = import(data.path(), &[&v1, &malformed]);
    assert_eq!(output.status.code(), Some(2), "malformed input exits 2");
    let stderr = text(&output.stderr);
    // malformed.jsonl repeats two events of v1-log.jsonl and adds one of its own.
    assert!(stderr.contains("14 events read from 2 inputs"), "{stderr}");
    assert!(
        stderr.contains("12 stored, 2 duplicates skipped"),
        "{stderr}"
    );
    assert!(
        stderr.contains("5 malformed records quarantined"),
        "{stderr}"
    );
    let quarantine = std::fs::read_to_string(data.path().join("quarantine.jsonl")).unwrap();
    assert_eq!(quarantine.lines().count(), 5);
    assert!(quarantine.contains("not json at all"));
    let again = import(data.path(), &[&v1]);
    assert_eq!(again.status.code(), Some(0));
    assert!(
        text(&again.stderr).contains("0 stored, 11 duplicates skipped"),
        "{}",
        text(&again.stderr)
    );
    let verify = run_in(data.path(), &["verify"], b"");
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify.stdout));
    assert!(text(&verify.stdout).starts_with("intact"));
}

#[test]
fn standard_input_imports_and_the_data_directory_is_private() {
    let data = tempfile::tempdir().unwrap();
    let input = std::fs::read(sample("webhook-eventlist.json")).unwrap();
    let output = run_in(data.path(), &["import", "-"], &input);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("3 stored"));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(data.path().join("index"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "index directory mode {mode:o}");
}

#[test]
fn verify_finds_an_edited_event_and_exits_1() {
    let data = tempfile::tempdir().unwrap();
    let input = generated(3000, 21);
    assert_eq!(import(data.path(), &[input.path()]).status.code(), Some(0));
    let segments = data.path().join("ledger/segments");
    let segment = std::fs::read_dir(&segments)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&segment).unwrap();
    let at = bytes.len() / 3;
    bytes[at] ^= 0x20;
    std::fs::write(&segment, &bytes).unwrap();
    let output = run_in(data.path(), &["verify", "--output", "json"], b"");
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stdout));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["intact"], false);
    assert!(!report["findings"].as_array().unwrap().is_empty());
}

#[test]
fn an_external_checkpoint_catches_a_rollback() {
    let data = tempfile::tempdir().unwrap();
    let first = generated(500, 31);
    assert_eq!(import(data.path(), &[first.path()]).status.code(), Some(0));
    // Keep a copy of the whole store as it was: the "old" state an attacker could restore.
    let old = tempfile::tempdir().unwrap();
    copy_dir(data.path(), old.path());
    let second = generated(500, 32);
    assert_eq!(import(data.path(), &[second.path()]).status.code(), Some(0));
    let checkpoint = run_in(data.path(), &["checkpoint"], b"");
    assert_eq!(checkpoint.status.code(), Some(0));
    let kept = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(kept.path(), &checkpoint.stdout).unwrap();
    let args = ["verify", "--checkpoint", kept.path().to_str().unwrap()];
    assert_eq!(run_in(data.path(), &args, b"").status.code(), Some(0));
    // Roll the store back to the old, internally consistent state.
    std::fs::remove_dir_all(data.path()).unwrap();
    copy_dir(old.path(), data.path());
    assert_eq!(
        run_in(data.path(), &["verify"], b"").status.code(),
        Some(0),
        "consistent by itself"
    );
    let output = run_in(data.path(), &args, b"");
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stdout));
    assert!(text(&output.stdout).contains("TAMPERED"));
}

#[test]
fn prove_gives_a_proof_that_verifies_for_an_audit_id() {
    let data = tempfile::tempdir().unwrap();
    assert_eq!(
        import(data.path(), &[&sample("v1-log.jsonl")])
            .status
            .code(),
        Some(0)
    );
    let output = run_in(
        data.path(),
        &[
            "prove",
            "--output",
            "json",
            "3f1c9a52-6d1e-4a8b-9f0e-2b7c4d5e6f70",
        ],
        b"",
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let lines: Vec<serde_json::Value> = text(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "both stages of the request");
    for line in &lines {
        let proof = ledger::InclusionProof::from_json(&line["proof"].to_string()).unwrap();
        let key = std::fs::read_to_string(data.path().join("ledger/verifier.key")).unwrap();
        let verifier = ledger::NoteVerifier::from_verifier_key(key.trim()).unwrap();
        proof
            .verify(line["record"].as_str().unwrap().as_bytes(), &verifier)
            .unwrap();
    }
    let text_output = run_in(data.path(), &["prove", "0"], b"");
    assert!(text(&text_output.stdout).contains("c2sp.org/tlog-proof@v1"));
    let missing = run_in(data.path(), &["prove", "no-such-event"], b"");
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn commands_on_an_empty_directory_say_what_to_do() {
    let data = tempfile::tempdir().unwrap();
    for args in [&["checkpoint"][..], &["verify"][..], &["prove", "1"][..]] {
        let output = run_in(&data.path().join("nothing"), args, b"");
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            text(&output.stderr).contains("import events first"),
            "{args:?}: {}",
            text(&output.stderr)
        );
    }
}

/// SIGKILL at random points of many imports: every record acknowledged before the kill
/// (`--verbose` prints the trail size after each durable batch) is still there, the store
/// opens and verifies, and importing the same input again completes it without storing
/// anything twice.
#[test]
fn sigkill_at_random_points_loses_no_acknowledged_record() {
    use std::io::BufRead;
    let data = tempfile::tempdir().unwrap();
    let input = generated(60_000, 41);
    // A fixed sequence of kill delays (deterministic), spread over the import's duration.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for round in 0..10 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let delay_ms = 20 + (state >> 33) % 600;
        let mut child = Command::new(env!("CARGO_BIN_EXE_auditrail"))
            .args([
                "--quiet",
                "import",
                "--verbose",
                input.path().to_str().unwrap(),
            ])
            .env("AUDITRAIL_DATA", data.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let acknowledged = std::thread::spawn(move || {
            let mut last = 0u64;
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(count) = line
                    .strip_prefix("stored: trail holds ")
                    .and_then(|rest| rest.strip_suffix(" records"))
                {
                    last = count.parse().unwrap();
                }
            }
            last
        });
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let acknowledged = acknowledged.join().unwrap();
        // The next writer repairs a torn tail; an empty import is the lightest writer.
        let reopen = run_in(data.path(), &["import", "-"], b"");
        assert_eq!(
            reopen.status.code(),
            Some(0),
            "round {round}: {}",
            text(&reopen.stderr)
        );
        let verify = run_in(data.path(), &["verify", "--output", "json"], b"");
        let report: serde_json::Value = serde_json::from_slice(&verify.stdout).unwrap();
        assert_eq!(
            report["intact"], true,
            "round {round} (kill at {delay_ms} ms): {report}"
        );
        let records = report["records"].as_u64().unwrap();
        assert!(
            records >= acknowledged,
            "round {round}: {records} records < {acknowledged} acknowledged"
        );
    }
    let output = import(data.path(), &[input.path()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let verify = run_in(data.path(), &["verify", "--output", "json"], b"");
    let report: serde_json::Value = serde_json::from_slice(&verify.stdout).unwrap();
    assert_eq!(report["intact"], true);
    let mut unique = std::collections::HashSet::new();
    for event in synth::Generator::new(41, synth::SynthConfig::default()).take(60_000) {
        unique.insert(store::key(&event));
    }
    // Besides the events, one index record per index segment (which verify checks).
    let segments = store::index_segment_files(data.path()).unwrap().len() as u64;
    assert_eq!(
        report["records"].as_u64().unwrap(),
        unique.len() as u64 + segments,
        "each event exactly once"
    );
}

/// An independent verifier (Python's standard library plus the `cryptography` package) checks
/// the checkpoint signature and the inclusion proofs that `prove` prints.
#[test]
fn an_independent_python_verifier_accepts_proofs_and_rejects_forgeries() {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let probe = Command::new(&python)
        .args(["-c", "import cryptography"])
        .output();
    assert!(
        probe.as_ref().is_ok_and(|output| output.status.success()),
        "this test needs python3 with the `cryptography` package: pip install cryptography (or apt-get install python3-cryptography)"
    );
    let data = tempfile::tempdir().unwrap();
    assert_eq!(
        import(data.path(), &[&sample("v1-log.jsonl")])
            .status
            .code(),
        Some(0)
    );
    let mut proofs = Vec::new();
    for id in ["0", "5", "10", "1b2c3d4e-5f60-4718-a293-b4c5d6e7f809"] {
        let output = run_in(data.path(), &["prove", "--output", "json", id], b"");
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        proofs.extend_from_slice(&output.stdout);
    }
    let key = std::fs::read_to_string(data.path().join("ledger/verifier.key")).unwrap();
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/verify-proof.py");
    let check = |proofs: &[u8]| {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), proofs).unwrap();
        Command::new(&python)
            .arg(&script)
            .args(["--verifier-key", key.trim(), file.path().to_str().unwrap()])
            .output()
            .unwrap()
    };
    let good = check(&proofs);
    assert_eq!(good.status.code(), Some(0), "{}", text(&good.stdout));
    assert_eq!(text(&good.stdout).matches(": ok").count(), 4);
    // A changed event, and a changed checkpoint, are both refused.
    let forged_event = text(&proofs).replacen("alice@example.com", "mallory@example.com", 1);
    assert_eq!(check(forged_event.as_bytes()).status.code(), Some(1));
    // 11 events and the index record of the segment that holds them.
    let forged_size = text(&proofs).replacen(r"\n12\n", r"\n13\n", 1);
    assert!(
        forged_size != text(&proofs),
        "the checkpoint size was not found to forge"
    );
    let refused = check(forged_size.as_bytes());
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stdout));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A malformed record: its input, line and raw bytes.
type Malformed = (String, u64, Vec<u8>);

/// The reference for an import: every input decoded by one decoder in order, the policy
/// (permissive without a file) applied to every decoded event, each event's identity kept
/// once; gives the ledger records in order, the malformed records, the events read and the
/// events the policy dropped.
fn import_by_one_decoder(
    inputs: &[&Path],
    policy_file: Option<&Path>,
) -> (Vec<Vec<u8>>, Vec<Malformed>, u64, u64) {
    let policy = match policy_file {
        Some(path) => {
            policy::Policy::load(&std::fs::read_to_string(path).unwrap())
                .unwrap()
                .policy
        }
        None => policy::Policy::permissive(),
    };
    let mut records = Vec::new();
    let mut malformed = Vec::new();
    let mut read = 0;
    let mut dropped = 0;
    let mut seen = std::collections::HashSet::new();
    for path in inputs {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).unwrap();
        let mut decoder = formats::Decoder::new(formats::InputFormat::Auto, &name);
        let (mut events, mut diagnostics) = (Vec::new(), Vec::new());
        let mut framer = formats::frame::LineFramer::new();
        let mut on_line = |line: formats::frame::Line<'_>| {
            let before = diagnostics.len();
            decoder.decode_line(&line, &mut events, &mut diagnostics);
            if diagnostics[before..].iter().any(|d| d.is_error()) {
                malformed.push((name.clone(), line.number, line.bytes.to_vec()));
            }
        };
        framer.push(&bytes, &mut on_line);
        framer.finish(on_line);
        decoder.finish(&mut events, &mut diagnostics);
        read += events.len() as u64;
        for mut event in events {
            if !policy.apply(&mut event).is_kept() {
                dropped += 1;
                continue;
            }
            if seen.insert(store::key(&event)) {
                let mut record = Vec::new();
                formats::jsonl::encode(&event, &mut record);
                record.pop();
                records.push(record);
            }
        }
    }
    (records, malformed, read, dropped)
}

#[test]
fn import_on_all_cores_stores_in_input_order_with_exact_lines_and_counts() {
    import_matches_one_decoder(None);
}

/// With a policy that drops most events, `import` decides most drops from a peek at the line
/// without decoding it: the outcome is still exactly that of decoding every line and applying
/// the policy to every event.
#[test]
fn import_with_a_policy_matches_decoding_and_applying_it_to_every_event() {
    let policy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/policy.yaml");
    import_matches_one_decoder(Some(&policy));
}

fn import_matches_one_decoder(policy: Option<&Path>) {
    // About 14 MiB of generated events: several pieces for the decode workers. Malformed
    // lines, blank lines, repeated events and OKD request/response lines (which must be
    // decoded in order, by one decoder) are spread through it, some across piece boundaries.
    let lines: Vec<Vec<u8>> = synth::Generator::new(77, synth::SynthConfig::default())
        .take(14_000)
        .map(|event| {
            let mut line = Vec::new();
            formats::k8s::encode(&event, &mut line);
            line
        })
        .collect();
    let mut first = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        first.extend_from_slice(line);
        if index % 997 == 5 {
            first.extend_from_slice(
                format!("{{\"kind\":\"Event\",\"auditID\": broken {index}\n").as_bytes(),
            );
        }
        if index % 1499 == 7 {
            first.extend_from_slice(b"\n   \n");
        }
        if index % 1201 == 600 {
            first.extend_from_slice(&lines[index - 600]);
        }
        if index % 3001 == 100 {
            first.extend_from_slice(
                format!(
                    "2017-03-21T03:57:09.106841886-04:00 AUDIT: id=\"okd-{index}\" ip=\"192.0.2.1\" method=\"GET\" user=\"alice\" groups=\"<none>\" as=\"<self>\" asgroups=\"<lookup>\" namespace=\"<none>\" uri=\"/version\"\n"
                )
                .as_bytes(),
            );
        }
        if index % 3001 == 160 {
            first.extend_from_slice(
                format!(
                    "2017-03-21T03:57:09.108341886-04:00 AUDIT: id=\"okd-{}\" response=\"200\"\n",
                    index - 60
                )
                .as_bytes(),
            );
        }
    }
    // No newline at the end: the last line still counts.
    first.extend_from_slice(b"not an audit record");
    let mut second = Vec::new();
    second.extend_from_slice(&lines[3]);
    second.extend_from_slice(b"[1, 2\n");
    second.extend_from_slice(&lines[13_999]);
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (dir.path().join("one.log"), dir.path().join("two.log"));
    std::fs::write(&one, &first).unwrap();
    std::fs::write(&two, &second).unwrap();
    assert!(first.len() > 3 * 4 * 1024 * 1024, "{} bytes", first.len());

    let (expected, malformed, read, dropped) = import_by_one_decoder(&[&one, &two], policy);
    assert!(malformed.len() > 15, "{malformed:?}");
    if policy.is_some() {
        assert!(
            dropped * 2 > read && expected.len() > 2_000,
            "{dropped} of {read}"
        );
    } else {
        assert!(expected.len() > 14_000 && dropped == 0);
    }
    let data = tempfile::tempdir().unwrap();
    let output = match policy {
        Some(policy) => {
            let (one, two, policy) = (
                one.to_str().unwrap(),
                two.to_str().unwrap(),
                policy.to_str().unwrap(),
            );
            run_in(data.path(), &["import", "--policy", policy, one, two], b"")
        }
        None => import(data.path(), &[&one, &two]),
    };
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let duplicates = read - dropped - expected.len() as u64;
    let summary = format!(
        "{read} events read from 2 inputs ({} bytes): {} stored, {duplicates} duplicates skipped, {dropped} dropped by policy; {} malformed records quarantined",
        first.len() + second.len(),
        expected.len(),
        malformed.len()
    );
    assert!(stderr.contains(&summary), "{summary}\n{stderr}");

    // Diagnostics in input order, each with its file and line.
    let located: Vec<(String, u64)> = stderr
        .lines()
        .filter_map(|line| {
            let (place, _) = line.split_once(": error: ")?;
            let (file, number) = place.rsplit_once(':')?;
            Some((file.to_owned(), number.parse().ok()?))
        })
        .collect();
    let expected_located: Vec<(String, u64)> = malformed
        .iter()
        .map(|(file, line, _)| (file.clone(), *line))
        .collect();
    assert_eq!(located, expected_located);

    // Quarantine: the raw lines, with their places, in input order.
    let quarantine = std::fs::read_to_string(data.path().join("quarantine.jsonl")).unwrap();
    let quarantined: Vec<Malformed> = quarantine
        .lines()
        .map(|line| {
            let entry: serde_json::Value = serde_json::from_str(line).unwrap();
            (
                entry["input"].as_str().unwrap().to_owned(),
                entry["line"].as_u64().unwrap(),
                entry["raw"].as_str().unwrap().as_bytes().to_vec(),
            )
        })
        .collect();
    assert_eq!(quarantined, malformed);

    // The ledger: exactly the reference's records, in input order.
    let store = store::Store::open(
        data.path(),
        store::StoreOptions::default(),
        std::time::UNIX_EPOCH,
    )
    .unwrap();
    // The events, then the index record of each index segment holding them.
    let size = store.ledger().tree_size();
    let segments = store::index_segment_files(data.path()).unwrap().len() as u64;
    assert_eq!(size, expected.len() as u64 + segments);
    for (item, expected) in store.ledger().records(0..size).zip(&expected) {
        let (seq, record) = item.unwrap();
        assert_eq!(
            record,
            *expected,
            "record {seq}:\n{}\n{}",
            String::from_utf8_lossy(&record),
            String::from_utf8_lossy(expected)
        );
    }
}
