//! Every validation rule of the API server's loader, and of the `auditrail:` section, each
//! with the field its problem names; and snapshots of the whole messages for the sample bad
//! policies in `tests/data/invalid/`.

use policy::{LoadError, Policy, Problem, limits};

use crate::policy_yaml::HEADER;

fn problems(text: &str) -> Vec<Problem> {
    match Policy::load(text) {
        Ok(_) => panic!("loaded a bad policy:\n{text}"),
        Err(LoadError::Invalid { problems, .. }) => problems,
        Err(other) => panic!("expected Invalid, got {other}"),
    }
}

fn assert_problem(text: &str, field: &str, message_part: &str) {
    let found = problems(text);
    assert!(
        found
            .iter()
            .any(|problem| problem.field == field && problem.message.contains(message_part)),
        "no problem at {field} containing {message_part:?} in {found:#?}\n{text}"
    );
    for problem in &found {
        let first = problem.message.chars().next().unwrap_or('a');
        assert!(
            !first.is_uppercase() || problem.message.starts_with('"'),
            "lowercase: {problem}"
        );
        assert!(
            !problem.message.ends_with('.'),
            "no trailing period: {problem}"
        );
    }
}

fn with_rules(rules: &str) -> String {
    format!("{HEADER}rules:\n{rules}\n")
}

#[test]
fn document_shape() {
    assert_problem("", "(document)", "is empty");
    assert_problem("- a\n- b\n", "(document)", "a list");
    assert_problem(
        "kind: Policy\nrules:\n- level: None\n",
        "apiVersion",
        "missing",
    );
    assert_problem(
        "apiVersion: v1\nkind: Policy\nrules:\n- level: None\n",
        "apiVersion",
        "set it to \"audit.k8s.io/v1\"",
    );
    assert_problem(
        "apiVersion: audit.k8s.io/v1\nrules:\n- level: None\n",
        "kind",
        "missing",
    );
    assert_problem(
        "apiVersion: audit.k8s.io/v1\nkind: PolicyList\nrules:\n- level: None\n",
        "kind",
        "not Policy",
    );
    assert_problem(&format!("{HEADER}rules: []\n"), "rules", "no rules");
    assert_problem(HEADER, "rules", "no rules");
    assert_problem(
        &format!("{HEADER}rules: {{level: None}}\n"),
        "rules",
        "must be a list",
    );
    assert_problem(
        &format!("{HEADER}rules:\n- level: None\nomitManagedFields: yes\n"),
        "omitManagedFields",
        "true or false",
    );
    assert_problem(
        &format!("{HEADER}rules:\n- level: None\nomitStages: [Bogus]\n"),
        "omitStages[0]",
        "not a stage",
    );
}

#[test]
fn older_versions_load_with_a_warning() {
    for version in ["v1beta1", "v1alpha1"] {
        let text =
            format!("apiVersion: audit.k8s.io/{version}\nkind: Policy\nrules:\n- level: None\n");
        let loaded = Policy::load(&text).unwrap();
        assert_eq!(loaded.warnings.len(), 1);
        assert_eq!(loaded.warnings[0].field, "apiVersion");
        assert!(loaded.warnings[0].message.contains("1.24"));
    }
}

#[test]
fn every_rule_needs_a_valid_level() {
    assert_problem(&with_rules("- verbs: [get]"), "rules[0].level", "missing");
    assert_problem(&with_rules("- level: \"\""), "rules[0].level", "missing");
    assert_problem(&with_rules("- level:"), "rules[0].level", "missing");
    assert_problem(
        &with_rules("- level: Verbose"),
        "rules[0].level",
        "not a level",
    );
    assert_problem(
        &with_rules("- level: metadata"),
        "rules[0].level",
        "must be written \"Metadata\"",
    );
    assert_problem(&with_rules("- level: 3"), "rules[0].level", "quote it");
    assert_problem(&with_rules("- Metadata"), "rules[0]", "must be a mapping");
}

#[test]
fn non_resource_urls() {
    assert_problem(
        &with_rules("- level: None\n  nonResourceURLs: [healthz]"),
        "rules[0].nonResourceURLs[0]",
        "\"healthz\" must start with \"/\" or be \"*\"",
    );
    assert_problem(
        &with_rules("- level: None\n  nonResourceURLs: [\"\"]"),
        "rules[0].nonResourceURLs[0]",
        "must start with",
    );
    assert_problem(
        &with_rules("- level: None\n  nonResourceURLs: [\"/a*/b\"]"),
        "rules[0].nonResourceURLs[0]",
        "may only be the last character",
    );
    assert_problem(
        &with_rules("- level: None\n  nonResourceURLs: [\"**\"]"),
        "rules[0].nonResourceURLs[0]",
        "may only be the last character",
    );
    assert_problem(
        &with_rules("- level: None\n  nonResourceURLs: [/a]\n  resources: [{resources: [pods]}]"),
        "rules[0].nonResourceURLs",
        "cannot be combined",
    );
    assert_problem(
        &with_rules("- level: None\n  nonResourceURLs: [/a]\n  namespaces: [default]"),
        "rules[0].nonResourceURLs",
        "cannot be combined",
    );
    for good in ["*", "/", "/healthz", "/healthz*", "/*"] {
        Policy::load(&with_rules(&format!(
            "- level: None\n  nonResourceURLs: [\"{good}\"]"
        )))
        .unwrap();
    }
}

#[test]
fn resources() {
    assert_problem(
        &with_rules("- level: None\n  resources: [{resourceNames: [x]}]"),
        "rules[0].resources[0].resourceNames",
        "needs at least one entry in resources",
    );
    assert_problem(
        &with_rules("- level: None\n  resources: [{group: apps/v1, resources: [deployments]}]"),
        "rules[0].resources[0].group",
        "without its version",
    );
    assert_problem(
        &with_rules("- level: None\n  resources: [{group: Apps}]"),
        "rules[0].resources[0].group",
        "lowercase DNS subdomain",
    );
    assert_problem(
        &with_rules("- level: None\n  resources: [{group: \"a..b\"}]"),
        "rules[0].resources[0].group",
        "not an API group",
    );
    assert_problem(
        &with_rules("- level: None\n  resources: [pods]"),
        "rules[0].resources[0]",
        "must be a mapping",
    );
    assert_problem(
        &with_rules("- level: None\n  resources: {group: apps}"),
        "rules[0].resources",
        "must be a list",
    );
    for good in ["\"\"", "\"*\"", "apps", "rbac.authorization.k8s.io"] {
        Policy::load(&with_rules(&format!(
            "- level: None\n  resources: [{{group: {good}}}]"
        )))
        .unwrap();
    }
}

#[test]
fn lists_and_stages() {
    assert_problem(
        &with_rules("- level: None\n  verbs: get"),
        "rules[0].verbs",
        "must be a list such as [get, list]",
    );
    assert_problem(
        &with_rules("- level: None\n  users: [1234]"),
        "rules[0].users[0]",
        "quote it",
    );
    assert_problem(
        &with_rules("- level: None\n  omitStages: [requestReceived]"),
        "rules[0].omitStages[0]",
        "must be written \"RequestReceived\"",
    );
    assert_problem(
        &with_rules("- level: None\n  omitStages: [Done]"),
        "rules[0].omitStages[0]",
        "not a stage",
    );
    assert_problem(
        &with_rules("- level: None\n  omitManagedFields: \"true\""),
        "rules[0].omitManagedFields",
        "true or false",
    );
    let many = (0..=limits::RULE_LIST_ENTRIES_MAX)
        .map(|i| format!("u{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    assert_problem(
        &with_rules(&format!("- level: None\n  users: [{many}]")),
        "rules[0].users",
        "more than the limit",
    );
}

#[test]
fn every_invalid_rule_is_reported_at_once() {
    let found = problems(&with_rules(
        "- level: None\n  nonResourceURLs: [healthz]\n- level: Metadata\n- level: Bogus\n- level: Request\n  resources: [{resourceNames: [a]}]",
    ));
    let fields: Vec<&str> = found.iter().map(|problem| problem.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "rules[0].nonResourceURLs[0]",
            "rules[2].level",
            "rules[3].resources[0].resourceNames"
        ]
    );
    assert_eq!(found[0].rule, Some(0));
    assert_eq!(found[0].line, Some(4));
    assert_eq!(found[1].line, Some(7));
    assert_eq!(
        found[0].to_string(),
        "rules[0].nonResourceURLs[0]: \"healthz\" must start with \"/\" or be \"*\" (rule at line 4)"
    );
}

#[test]
fn limits_are_enforced() {
    let too_many = format!(
        "{HEADER}rules:\n{}",
        "- level: None\n".repeat(limits::RULES_MAX + 1)
    );
    assert_problem(&too_many, "rules", "more than the limit");
    let huge = format!(
        "{HEADER}# {}\nrules:\n- level: None\n",
        "x".repeat(limits::POLICY_BYTES_MAX)
    );
    assert!(matches!(
        Policy::load(&huge),
        Err(LoadError::TooLarge { .. })
    ));
    let patterns = (0..=limits::ENDPOINT_PATTERNS_MAX)
        .map(|i| format!("/p{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    assert_problem(
        &format!("{HEADER}rules:\n- level: None\nauditrail:\n  ignoredEndpoints: [{patterns}]\n"),
        "auditrail.ignoredEndpoints",
        "more than the limit",
    );
    let paths = (0..=limits::REDACT_PATHS_MAX)
        .map(|i| format!("{{jsonPath: a{i}}}"))
        .collect::<Vec<_>>()
        .join(", ");
    assert_problem(
        &format!("{HEADER}rules:\n- level: None\nauditrail:\n  redact:\n    paths: [{paths}]\n"),
        "auditrail.redact.paths",
        "more than the limit",
    );
    let deep = vec!["a"; limits::JSON_PATH_DEPTH_MAX + 1].join(".");
    assert_problem(
        &format!(
            "{HEADER}rules:\n- level: None\nauditrail:\n  redact:\n    paths: [{{jsonPath: {deep}}}]\n"
        ),
        "auditrail.redact.paths[0].jsonPath",
        "segments",
    );
    assert_problem(
        &format!("{HEADER}rules:\n- level: None\nauditrail:\n  maxEventBytes: 10\n"),
        "auditrail.maxEventBytes",
        "out of range",
    );
    assert_problem(
        &format!("{HEADER}rules:\n- level: None\nauditrail:\n  maxEventBytes: 1000000000000\n"),
        "auditrail.maxEventBytes",
        "out of range",
    );
}

#[test]
fn auditrail_section() {
    let section = |body: &str| format!("{HEADER}rules:\n- level: None\nauditrail:\n{body}\n");
    assert_problem(
        &section("  ignoredEndpoint: [/a]"),
        "auditrail.ignoredEndpoint",
        "did you mean \"ignoredEndpoints\"",
    );
    assert_problem(
        &section("  colour: red"),
        "auditrail.colour",
        "known fields",
    );
    assert_problem(
        &section("  ignoredEndpoints: [healthz]"),
        "auditrail.ignoredEndpoints[0]",
        "must start with \"/\" or be mke-defaults",
    );
    assert_problem(
        &section("  ignoredEndpoints: [\"/a?b=c\"]"),
        "auditrail.ignoredEndpoints[0]",
        "remove it",
    );
    assert_problem(
        &section("  redactedEndpoints: [\"P0ST /a\"]"),
        "auditrail.redactedEndpoints[0]",
        "METHOD /path",
    );
    assert_problem(
        &section("  redactedEndpoints: [\"POST a\"]"),
        "auditrail.redactedEndpoints[0]",
        "must start with",
    );
    assert_problem(
        &section("  redact:\n    secret: false"),
        "auditrail.redact.secret",
        "did you mean \"secrets\"",
    );
    assert_problem(
        &section("  redact:\n    secrets: no"),
        "auditrail.redact.secrets",
        "true or false",
    );
    assert_problem(
        &section("  redact:\n    paths: [{resource: pods}]"),
        "auditrail.redact.paths[0].jsonPath",
        "missing",
    );
    assert_problem(
        &section("  redact:\n    paths: [{jsonPath: \"a,b\"}]"),
        "auditrail.redact.paths[0].jsonPath",
        "comma",
    );
    assert_problem(
        &section("  redact:\n    paths: [{jsonPath: a, group: Apps}]"),
        "auditrail.redact.paths[0].group",
        "not an API group",
    );
    assert_problem(
        &section("  redact:\n    paths: [{jsonPath: a, name: x}]"),
        "auditrail.redact.paths[0].name",
        "unknown field",
    );
    assert_problem(
        &section("  maxEventBytes: 10KiB"),
        "auditrail.maxEventBytes",
        "number of bytes",
    );
    assert_problem(
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\nauditrail: []\n",
        "auditrail",
        "must be a mapping",
    );
}

#[test]
fn unknown_kubernetes_fields_are_warnings() {
    let text = format!(
        "{HEADER}metadata: {{name: x}}\nrules:\n- level: None\n  Verbs: [get]\n  resources: [{{group: \"\", resource: [pods]}}]\nextra: 1\n"
    );
    let loaded = Policy::load(&text).unwrap();
    let fields: Vec<&str> = loaded
        .warnings
        .iter()
        .map(|warning| warning.field.as_str())
        .collect();
    assert_eq!(
        fields,
        ["rules[0].Verbs", "rules[0].resources[0].resource", "extra"]
    );
    assert!(
        loaded.warnings[0]
            .message
            .contains("did you mean \"verbs\"")
    );
}

#[test]
fn likely_mistakes_are_warnings() {
    let loaded = Policy::load(&with_rules(
        "- level: Metadata\n  verbs: [\"*\"]\n- level: None\n- level: Request\n- level: Metadata",
    ))
    .unwrap();
    let fields: Vec<&str> = loaded
        .warnings
        .iter()
        .map(|warning| warning.field.as_str())
        .collect();
    assert_eq!(fields, ["rules[0].verbs[0]", "rules[2]"]);
    assert!(
        loaded.warnings[1]
            .message
            .contains("rules[1] before it matches every request")
    );
}

#[test]
fn yaml_syntax_errors_have_a_line() {
    let Err(LoadError::Syntax { line, message }) = Policy::load("kind: Policy\nrules: [\n") else {
        panic!("expected a syntax error");
    };
    assert!(line.is_some(), "{message}");
}

#[test]
fn bad_policy_files() {
    insta::glob!("../data", "invalid/*.yaml", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let error = Policy::load(&text).expect_err("the sample is invalid");
        insta::assert_snapshot!(error.to_string());
    });
}

#[test]
fn warnings_of_the_sample_file() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/warnings.yaml"
    ))
    .unwrap();
    let loaded = Policy::load(&text).unwrap();
    let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    insta::assert_snapshot!(warnings.join("\n"));
}
