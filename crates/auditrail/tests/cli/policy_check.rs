use crate::{example_policy, run, sample, text};

#[test]
fn a_valid_policy_without_inputs_is_reported_valid() {
    let policy = example_policy();
    let output = run(
        &["policy", "check", "--policy", policy.to_str().unwrap()],
        b"",
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("valid, 10 rules"),
        "{}",
        text(&output.stdout)
    );
}

#[test]
fn every_invalid_rule_is_reported_with_its_field_and_line() {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        file.path(),
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: Loud\n  - level: None\n    nonResourceURLs: [healthz]\n    resources: [{group: \"\"}]\n",
    )
    .unwrap();
    let output = run(
        &["policy", "check", "--policy", file.path().to_str().unwrap()],
        b"",
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("rules[0].level"), "{stderr}");
    assert!(stderr.contains("rules[1].nonResourceURLs[0]"), "{stderr}");
    assert!(stderr.contains("line 4"), "{stderr}");
}

#[test]
fn dry_run_accounts_for_every_event_per_rule() {
    let policy = example_policy();
    let input = sample("v1-log.jsonl");
    let args = [
        "policy",
        "check",
        "--policy",
        policy.to_str().unwrap(),
        "--output",
        "json",
        input.to_str().unwrap(),
    ];
    let output = run(&args, b"");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let before = report["before"]["events"].as_u64().unwrap();
    assert_eq!(before, 11);
    let matched: u64 = report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["matched"]["events"].as_u64().unwrap())
        .sum();
    let ignored: u64 = report["ignored_endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["dropped"]["events"].as_u64().unwrap())
        .sum();
    let unmatched = report["no_rule_matched"]["events"].as_u64().unwrap();
    assert_eq!(matched + ignored + unmatched, before);
    let kept: u64 = report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kept"]["events"].as_u64().unwrap())
        .sum();
    assert_eq!(kept, report["after"]["events"].as_u64().unwrap());
    assert!(kept < before);
    assert!(
        report["after"]["bytes"].as_u64().unwrap() < report["before"]["bytes"].as_u64().unwrap()
    );
}

#[test]
fn dry_run_table_names_rules_and_totals() {
    let policy = example_policy();
    let input = sample("v1-log.jsonl");
    let output = run(
        &[
            "policy",
            "check",
            "--policy",
            policy.to_str().unwrap(),
            input.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("RULE"), "{stdout}");
    assert!(stdout.contains("no rule matched"), "{stdout}");
    assert!(stdout.contains("before: 11 events"), "{stdout}");
}
