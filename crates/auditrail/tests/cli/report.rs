//! `auditrail report` over an imported trail.

use crate::{run_in, sample, text};

fn imported() -> tempfile::TempDir {
    let data = tempfile::tempdir().unwrap();
    let v1 = sample("v1-log.jsonl");
    let dcos = sample("../dcos/master-1.log");
    let output = run_in(
        data.path(),
        &["import", "--format", "auto", v1.to_str().unwrap()],
        b"",
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let output = run_in(
        data.path(),
        &["import", "--format", "dcos", dcos.to_str().unwrap()],
        b"",
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    data
}

fn json(data: &std::path::Path, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["report"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--output", "json"]);
    let output = run_in(data, &all, b"");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{args:?}: {}",
        text(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn changes_lists_every_write_of_every_source_newest_first() {
    let data = imported();
    let rows = json(data.path(), &["changes"]);
    let actions: Vec<&str> = rows
        .iter()
        .map(|row| row["action"].as_str().unwrap())
        .collect();
    assert!(
        actions
            .iter()
            .all(|action| ["create", "update", "patch", "delete"].contains(action)),
        "{actions:?}"
    );
    assert!(
        rows.iter()
            .any(|row| row["object"] == "deployments payments/api"
                && row["user"]
                    == "alice@example.com (as system:serviceaccount:payments:release-bot)")
    );
    assert!(
        rows.iter()
            .any(|row| row["object"].as_str().unwrap().starts_with("apps /")),
        "DC/OS service changes: {rows:?}"
    );
    let times: Vec<&str> = rows
        .iter()
        .map(|row| row["timestamp"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted);
}

#[test]
fn top_users_codes_chargeback_and_activity() {
    let data = imported();
    let top = json(
        data.path(),
        &["top-users", "--since", "2000-01-01T00:00:00Z"],
    );
    let alice = top
        .iter()
        .find(|row| row["key"] == "alice@example.com")
        .unwrap();
    assert!(alice["requests"].as_u64().unwrap() >= 3);
    let codes = json(data.path(), &["codes"]);
    let forbidden = codes.iter().find(|row| row["code"] == "403").unwrap();
    assert_eq!(forbidden["requests"], 1);
    assert!(
        forbidden["top_users"]
            .as_str()
            .unwrap()
            .contains("mallory@example.com")
    );
    assert!(codes.iter().any(|row| row["code"] == "4xx"));
    let charge = json(data.path(), &["chargeback"]);
    let payments = charge.iter().find(|row| row["key"] == "payments").unwrap();
    assert!(payments["distinct_users"].as_u64().unwrap() >= 2);
    let activity = json(data.path(), &["activity", "--user", "alice*"]);
    assert!(!activity.is_empty());
    assert!(activity.iter().all(|row| {
        row["user"]
            .as_str()
            .unwrap()
            .starts_with("alice@example.com")
    }));
    let missing_user = run_in(data.path(), &["report", "activity"], b"");
    assert_eq!(missing_user.status.code(), Some(2));
    assert!(text(&missing_user.stderr).contains("--user"));
}

#[test]
fn csv_for_spreadsheets_and_object_history() {
    let data = imported();
    let output = run_in(
        data.path(),
        &["report", "chargeback", "--by", "user", "--output", "csv"],
        b"",
    );
    let csv = text(&output.stdout);
    assert_eq!(
        csv.lines().next().unwrap(),
        "key,requests,writes,errors,distinct_users"
    );
    assert!(csv.lines().count() > 3);
    let history = json(
        data.path(),
        &["changes", "--object", "deployments/payments/api"],
    );
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["action"], "patch");
    let bad = run_in(
        data.path(),
        &["report", "changes", "--object", "deployments"],
        b"",
    );
    assert_eq!(bad.status.code(), Some(2));
}
