//! `auditrail query` over an imported trail.

use crate::{run_in, sample, text};

fn imported() -> tempfile::TempDir {
    let data = tempfile::tempdir().unwrap();
    let v1 = sample("v1-log.jsonl");
    let output = run_in(data.path(), &["import", v1.to_str().unwrap()], b"");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    data
}

#[test]
fn filters_select_exactly_the_matching_events_newest_first() {
    let data = imported();
    let output = run_in(
        data.path(),
        &["query", "--code", "4xx", "--output", "jsonl"],
        b"",
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let events: Vec<event::AuditEvent> = text(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let codes: Vec<u16> = events.iter().filter_map(event::AuditEvent::code).collect();
    assert_eq!(codes, vec![401, 403], "newest first");
    let output = run_in(
        data.path(),
        &[
            "query", "--user", "alice*", "--verb", "create", "--verb", "patch", "--output", "json",
        ],
        b"",
    );
    let events: Vec<event::AuditEvent> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(events.len(), 2);
    assert!(
        events
            .iter()
            .all(|event| event.user.name == "alice@example.com")
    );
    let output = run_in(
        data.path(),
        &[
            "query",
            "--resource",
            "secrets",
            "--namespace",
            "payments",
            "--output",
            "k8s",
        ],
        b"",
    );
    let line = text(&output.stdout);
    let value: serde_json::Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    assert_eq!(value["apiVersion"], "audit.k8s.io/v1");
    assert_eq!(value["objectRef"]["name"], "db-credentials");
}

#[test]
fn table_csv_limit_and_empty_results_read_well() {
    let data = imported();
    let output = run_in(data.path(), &["query", "--limit", "3"], b"");
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("TIME") && stdout.contains("USER"),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 4, "header and three rows: {stdout}");
    assert!(text(&output.stderr).contains("raise --limit"));
    let csv = run_in(
        data.path(),
        &["query", "--output", "csv", "--verb", "patch"],
        b"",
    );
    assert_eq!(
        text(&csv.stdout).lines().nth(1).unwrap(),
        "2025-10-07T16:24:30.25Z,alice@example.com (as system:serviceaccount:payments:release-bot),patch,deployments payments/api,200,203.0.113.24,k8s"
    );
    let none = run_in(data.path(), &["query", "--user", "nobody"], b"");
    assert_eq!(none.status.code(), Some(0));
    assert!(text(&none.stderr).contains("no events match"));
    let bad = run_in(data.path(), &["query", "--code", "9zz"], b"");
    assert_eq!(bad.status.code(), Some(2));
    let missing = run_in(&data.path().join("none"), &["query"], b"");
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing.stderr).contains("import events first"),
        "{}",
        text(&missing.stderr)
    );
}
