//! Conformance with kube-apiserver's `pkg/audit/policy/checker_test.go`
//! (kubernetes/apiserver @ 24a394e5, the 1.36 version with the group wildcard case).
//!
//! The requests and rules below carry upstream's names, and the table reproduces the
//! expectation of every upstream case: `testAuditLevel` run with no policy stages and with
//! `[RequestReceived, ResponseStarted]`, the per-rule omitStages cases of `TestChecker` and
//! `TestCheckerPolicyOmitStages`, `TestUnionStages` and `TestOmitManagedFields`. Each case goes
//! through YAML loading and an `AuditEvent`, so the attribute mapping is tested too.

use event::{Actor, AuditEvent, Level, ObjectRef, Stage};
use policy::{Policy, StageSet};

use crate::policy_yaml;

const RR: Stage = Stage::RequestReceived;
const RS: Stage = Stage::ResponseStarted;
const RC: Stage = Stage::ResponseComplete;
const PANIC: Stage = Stage::Panic;

fn tim() -> Actor {
    Actor {
        name: "tim@k8s.io".into(),
        groups: Some(vec!["humans".into(), "developers".into()]),
        ..Actor::default()
    }
}

fn object(
    group: &str,
    version: &str,
    resource: &str,
    subresource: &str,
    namespace: &str,
    name: &str,
) -> Option<ObjectRef> {
    Some(ObjectRef {
        api_group: Some(group.into()),
        api_version: version.into(),
        resource: resource.into(),
        subresource: subresource.into(),
        namespace: namespace.into(),
        name: name.into(),
        ..ObjectRef::default()
    })
}

/// Upstream's `attrs` map.
fn request(name: &str) -> AuditEvent {
    let event = |user: Actor, verb: &str, object: Option<ObjectRef>, uri: &str| AuditEvent {
        user,
        verb: verb.into(),
        object,
        uri: uri.into(),
        ..AuditEvent::default()
    };
    match name {
        "namespaced" => event(
            tim(),
            "get",
            object("", "v1", "pods", "", "default", "busybox"),
            "/api/v1/namespaces/default/pods/busybox",
        ),
        "cluster" => event(
            tim(),
            "get",
            object(
                "rbac.authorization.k8s.io",
                "v1beta1",
                "clusterroles",
                "",
                "",
                "edit",
            ),
            "/apis/rbac.authorization.k8s.io/v1beta1/clusterroles/edit",
        ),
        "nonResource" => event(tim(), "get", None, "/logs/kubelet.log"),
        "subresource" => event(
            tim(),
            "get",
            object("", "v1", "pods", "log", "default", "busybox"),
            "/api/v1/namespaces/default/pods/busybox",
        ),
        "Unauthorized" => event(
            Actor::default(),
            "get",
            object("", "v1", "pods", "", "default", "busybox"),
            "/api/v1/namespaces/default/pods/busybox",
        ),
        "ClusterRoleUpdate" => event(
            tim(),
            "update",
            object(
                "rbac.authorization.k8s.io",
                "v1beta1",
                "clusterroles",
                "status",
                "",
                "somerole",
            ),
            "/apis/rbac.authorization.k8s.io/v1beta1/clusterroles/somerole",
        ),
        other => panic!("no request {other}"),
    }
}

/// Upstream's `rules` map, as YAML list items.
fn rule(name: &str) -> &'static str {
    match name {
        "default" => "- level: Metadata",
        "create" => "- level: Request\n  verbs: [create]",
        "tims" => "- level: Metadata\n  users: [tim@k8s.io]",
        "humans" => "- level: Metadata\n  userGroups: [humans]",
        "serviceAccounts" => "- level: Request\n  userGroups: [\"system:serviceaccounts\"]",
        "getPods" => "- level: RequestResponse\n  verbs: [get]\n  resources: [{resources: [pods]}]",
        "getPodLogs" => "- level: Request\n  verbs: [get]\n  resources: [{resources: [pods/log]}]",
        "getPodWildcardMatching" => {
            "- level: Request\n  verbs: [get]\n  resources: [{resources: [\"*\"]}]"
        }
        "getPodResourceWildcardMatching" => {
            "- level: Request\n  verbs: [get]\n  resources: [{resources: [\"*/log\"]}]"
        }
        "getPodSubResourceWildcardMatching" => {
            "- level: Request\n  verbs: [get]\n  resources: [{resources: [\"pods/*\"]}]"
        }
        "getClusterRoles" => {
            "- level: RequestResponse\n  verbs: [get]\n  resources: [{group: rbac.authorization.k8s.io, resources: [clusterroles]}]\n  namespaces: [\"\"]"
        }
        "getGroupWildCardMatchingWithSubresourceWildcardMatching" => {
            "- level: RequestResponse\n  verbs: [update]\n  resources: [{group: \"*\", resources: [\"*/status\"]}]"
        }
        "getLogs" => "- level: RequestResponse\n  verbs: [get]\n  nonResourceURLs: [\"/logs*\"]",
        "getMetrics" => "- level: Request\n  verbs: [get]\n  nonResourceURLs: [/metrics]",
        "clusterRoleEdit" => {
            "- level: Request\n  resources: [{group: rbac.authorization.k8s.io, resources: [clusterroles], resourceNames: [edit]}]"
        }
        "omit RequestReceived" => "- level: Request\n  omitStages: [RequestReceived]",
        "only audit panic" => {
            "- level: Request\n  omitStages: [RequestReceived, ResponseStarted, ResponseComplete]"
        }
        other => panic!("no rule {other}"),
    }
}

fn stages(list: &[Stage]) -> StageSet {
    list.iter().copied().collect()
}

/// Upstream's `test` helper.
fn check(
    req: &str,
    expected_level: Level,
    policy_stages: &[Stage],
    expected_stages: &[Stage],
    rules: &[&str],
) {
    let rule_text: Vec<&str> = rules.iter().map(|name| rule(name)).collect();
    let policy_stage_names: Vec<&str> = policy_stages.iter().map(|stage| stage.as_str()).collect();
    let text = format!(
        "{}omitStages: [{}]\nrules:\n{}\n",
        policy_yaml::HEADER,
        policy_stage_names.join(", "),
        rule_text.join("\n")
    );
    let policy = Policy::load(&text)
        .unwrap_or_else(|error| panic!("{error}\n{text}"))
        .policy;
    let evaluation = policy.evaluate(&request(req));
    assert_eq!(
        evaluation.level,
        expected_level,
        "request:{req} rules:{}",
        rules.join(",")
    );
    assert_eq!(
        evaluation.omit_stages,
        stages(expected_stages),
        "request:{req} rules:{}",
        rules.join(",")
    );
}

/// Upstream's `testAuditLevel`.
fn audit_levels(s: &[Stage]) {
    use Level::{Metadata, None, Request, RequestResponse};
    check("namespaced", Metadata, s, s, &["default"]);
    check("namespaced", None, s, s, &["create"]);
    check("namespaced", Metadata, s, s, &["tims"]);
    check("namespaced", Metadata, s, s, &["humans"]);
    check("namespaced", None, s, s, &["serviceAccounts"]);
    check("namespaced", RequestResponse, s, s, &["getPods"]);
    check("namespaced", None, s, s, &["getClusterRoles"]);
    check("namespaced", None, s, s, &["getLogs"]);
    check("namespaced", None, s, s, &["getMetrics"]);
    check(
        "namespaced",
        Metadata,
        s,
        s,
        &["getMetrics", "serviceAccounts", "default"],
    );
    check(
        "namespaced",
        RequestResponse,
        s,
        s,
        &["getMetrics", "getPods", "default"],
    );
    check(
        "namespaced",
        RequestResponse,
        s,
        s,
        &["getPodLogs", "getPods"],
    );

    check("cluster", Metadata, s, s, &["default"]);
    check("cluster", None, s, s, &["create"]);
    check("cluster", Metadata, s, s, &["tims"]);
    check("cluster", Metadata, s, s, &["humans"]);
    check("cluster", None, s, s, &["serviceAccounts"]);
    check("cluster", None, s, s, &["getPods"]);
    check("cluster", RequestResponse, s, s, &["getClusterRoles"]);
    check(
        "cluster",
        Request,
        s,
        s,
        &["clusterRoleEdit", "getClusterRoles"],
    );
    check("cluster", None, s, s, &["getLogs"]);
    check("cluster", None, s, s, &["getMetrics"]);
    check(
        "cluster",
        Metadata,
        s,
        s,
        &["getMetrics", "serviceAccounts", "default"],
    );
    check(
        "cluster",
        RequestResponse,
        s,
        s,
        &["getMetrics", "getClusterRoles", "default"],
    );
    check("cluster", None, s, s, &["getPodLogs", "getPods"]);

    check("nonResource", Metadata, s, s, &["default"]);
    check("nonResource", None, s, s, &["create"]);
    check("nonResource", Metadata, s, s, &["tims"]);
    check("nonResource", Metadata, s, s, &["humans"]);
    check("nonResource", None, s, s, &["serviceAccounts"]);
    check("nonResource", None, s, s, &["getPods"]);
    check("nonResource", None, s, s, &["getClusterRoles"]);
    check("nonResource", RequestResponse, s, s, &["getLogs"]);
    check("nonResource", None, s, s, &["getMetrics"]);
    check(
        "nonResource",
        Metadata,
        s,
        s,
        &["getMetrics", "serviceAccounts", "default"],
    );
    check(
        "nonResource",
        RequestResponse,
        s,
        s,
        &["getLogs", "getClusterRoles", "default"],
    );
    check("nonResource", None, s, s, &["getPodLogs", "getPods"]);

    check("subresource", Request, s, s, &["getPodLogs", "getPods"]);
    check("subresource", Request, s, s, &["getPodWildcardMatching"]);
    check(
        "subresource",
        Request,
        s,
        s,
        &["getPodResourceWildcardMatching"],
    );
    check(
        "subresource",
        Request,
        s,
        s,
        &["getPodSubResourceWildcardMatching"],
    );

    check("Unauthorized", None, s, s, &["tims"]);
    check("Unauthorized", Metadata, s, s, &["tims", "default"]);
    check("Unauthorized", None, s, s, &["humans"]);
    check("Unauthorized", Metadata, s, s, &["humans", "default"]);
    check(
        "ClusterRoleUpdate",
        RequestResponse,
        s,
        s,
        &["getGroupWildCardMatchingWithSubresourceWildcardMatching"],
    );
}

#[test]
fn checker() {
    audit_levels(&[]);
    let only_panic = [RR, RS, RC];
    for req in ["namespaced", "cluster", "nonResource"] {
        check(
            req,
            Level::Request,
            &[],
            &[RR],
            &["omit RequestReceived", "getPods", "default"],
        );
        check(
            req,
            Level::Request,
            &[],
            &only_panic,
            &["only audit panic", "getPods", "default"],
        );
    }
}

#[test]
fn checker_policy_omit_stages() {
    let policy_stages = [RR, RS];
    audit_levels(&policy_stages);
    let only_panic = [RR, RS, RC];
    for req in ["namespaced", "cluster"] {
        check(
            req,
            Level::Request,
            &policy_stages,
            &[RR, RS],
            &["omit RequestReceived", "getPods", "default"],
        );
        check(
            req,
            Level::Request,
            &policy_stages,
            &only_panic,
            &["only audit panic", "getPods", "default"],
        );
    }
    check(
        "nonResource",
        Level::Metadata,
        &policy_stages,
        &[RR, RS],
        &["default", "omit RequestReceived", "getPods"],
    );
    check(
        "nonResource",
        Level::Request,
        &policy_stages,
        &only_panic,
        &["only audit panic", "getPods", "default"],
    );
}

/// Upstream's `TestUnionStages`, through a policy list and a rule list.
#[test]
fn union_stages() {
    let cases: [(&[Stage], &[Stage], &[Stage]); 7] = [
        (&[], &[], &[]),
        (&[RR], &[], &[RR]),
        (&[RR], &[RR], &[RR]),
        (&[RR], &[RS], &[RR, RS]),
        (&[RR, RR], &[RR, RR], &[RR]),
        (&[RR, RS], &[PANIC, RR], &[RR, RS, PANIC]),
        (&[], &[RR], &[RR]),
    ];
    let names = |list: &[Stage]| {
        list.iter()
            .map(|stage| stage.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (policy_stages, rule_stages, expected) in cases {
        let text = format!(
            "{}omitStages: [{}]\nrules:\n- level: Metadata\n  omitStages: [{}]\n",
            policy_yaml::HEADER,
            names(policy_stages),
            names(rule_stages)
        );
        let policy = Policy::load(&text).unwrap().policy;
        let evaluation = policy.evaluate(&request("namespaced"));
        assert_eq!(evaluation.omit_stages, stages(expected), "{text}");
    }
}

/// Upstream's `TestOmitManagedFields`: a request with only a verb, no user.
#[test]
fn omit_managed_fields() {
    let cases = [
        ("false", "", false),
        ("true", "", true),
        ("true", "\n  omitManagedFields: false", false),
        ("false", "\n  omitManagedFields: true", true),
    ];
    let attributes = AuditEvent {
        verb: "get".into(),
        ..AuditEvent::default()
    };
    for (policy_value, rule_value, expected) in cases {
        let text = format!(
            "{}omitManagedFields: {policy_value}\nrules:\n- level: RequestResponse\n  verbs: [get]{rule_value}\n",
            policy_yaml::HEADER
        );
        let evaluation = Policy::load(&text).unwrap().policy.evaluate(&attributes);
        assert_eq!(evaluation.omit_managed_fields, expected, "{text}");
        assert_eq!(evaluation.rule, Some(0));
    }
}

/// Without a matching rule: level None, the policy's stages and managed-fields setting.
#[test]
fn no_match_returns_the_policy_defaults() {
    let text = format!(
        "{}omitStages: [Panic]\nomitManagedFields: true\nrules:\n- level: Metadata\n  verbs: [delete]\n",
        policy_yaml::HEADER
    );
    let evaluation = Policy::load(&text)
        .unwrap()
        .policy
        .evaluate(&request("namespaced"));
    assert_eq!(evaluation.rule, None);
    assert_eq!(evaluation.level, Level::None);
    assert_eq!(evaluation.omit_stages, stages(&[PANIC]));
    assert!(evaluation.omit_managed_fields);
}

/// The rule forms upstream's tests leave out, checked against the checker's code.
#[test]
fn rule_forms_beyond_upstream_tests() {
    let evaluate = |rules: &str, event: &AuditEvent| {
        let text = format!("{}rules:\n{rules}\n", policy_yaml::HEADER);
        Policy::load(&text)
            .unwrap_or_else(|error| panic!("{error}"))
            .policy
            .evaluate(event)
            .level
    };
    let namespaced = request("namespaced");
    let subresource = request("subresource");
    let cluster = request("cluster");
    let non_resource = request("nonResource");
    // `pods/*` also matches the bare resource.
    assert_eq!(
        evaluate(
            "- level: Request\n  resources: [{resources: [\"pods/*\"]}]",
            &namespaced
        ),
        Level::Request
    );
    // `pods` does not match `pods/log`, `pods/log` does not match `pods`, `*/log` needs log.
    assert_eq!(
        evaluate(
            "- level: Request\n  resources: [{resources: [pods]}]",
            &subresource
        ),
        Level::None
    );
    assert_eq!(
        evaluate(
            "- level: Request\n  resources: [{resources: [pods/log]}]",
            &namespaced
        ),
        Level::None
    );
    assert_eq!(
        evaluate(
            "- level: Request\n  resources: [{resources: [\"*/log\"]}]",
            &namespaced
        ),
        Level::None
    );
    // A group entry without resources matches every resource of the group.
    assert_eq!(
        evaluate(
            "- level: Request\n  resources: [{group: rbac.authorization.k8s.io}]",
            &cluster
        ),
        Level::Request
    );
    assert_eq!(
        evaluate(
            "- level: Request\n  resources: [{group: rbac.authorization.k8s.io}]",
            &namespaced
        ),
        Level::None
    );
    // The group is compared to the API group, never the version; core is "".
    assert_eq!(
        evaluate(
            "- level: Request\n  resources: [{group: \"\", resources: [pods]}]",
            &namespaced
        ),
        Level::Request
    );
    assert_eq!(
        evaluate(
            "- level: Request\n  resources: [{group: apps, resources: [pods]}]",
            &namespaced
        ),
        Level::None
    );
    // A rule with only namespaces matches every resource there, never non-resource URLs.
    assert_eq!(
        evaluate("- level: Request\n  namespaces: [default]", &namespaced),
        Level::Request
    );
    assert_eq!(
        evaluate("- level: Request\n  namespaces: [default]", &non_resource),
        Level::None
    );
    assert_eq!(
        evaluate("- level: Request\n  namespaces: [\"\"]", &cluster),
        Level::Request
    );
    assert_eq!(
        evaluate("- level: Request\n  namespaces: [\"\"]", &namespaced),
        Level::None
    );
    // nonResourceURLs never match resource requests; `*` matches every path.
    assert_eq!(
        evaluate("- level: Request\n  nonResourceURLs: [\"*\"]", &namespaced),
        Level::None
    );
    assert_eq!(
        evaluate(
            "- level: Request\n  nonResourceURLs: [\"*\"]",
            &non_resource
        ),
        Level::Request
    );
    // Matching ignores the query; the trailing `*` is a plain string prefix.
    let with_query = AuditEvent {
        uri: "/logs/kubelet.log?tail=1".into(),
        ..request("nonResource")
    };
    assert_eq!(
        evaluate(
            "- level: Request\n  nonResourceURLs: [/logs/kubelet.log]",
            &with_query
        ),
        Level::Request
    );
    let logsfoo = AuditEvent {
        uri: "/logsfoo".into(),
        ..request("nonResource")
    };
    assert_eq!(
        evaluate(
            "- level: Request\n  nonResourceURLs: [\"/logs*\"]",
            &logsfoo
        ),
        Level::Request
    );
    // `*` is not a wildcard for users, groups or verbs.
    assert_eq!(
        evaluate("- level: Request\n  verbs: [\"*\"]", &namespaced),
        Level::None
    );
    assert_eq!(
        evaluate("- level: Request\n  users: [\"*\"]", &namespaced),
        Level::None
    );
    assert_eq!(
        evaluate("- level: Request\n  userGroups: [\"*\"]", &namespaced),
        Level::None
    );
    // resourceNames never match a list or create (empty name).
    let list = AuditEvent {
        verb: "list".into(),
        object: object("", "v1", "pods", "", "default", ""),
        ..request("namespaced")
    };
    assert_eq!(
        evaluate(
            "- level: Request\n  resources: [{resources: [pods], resourceNames: [busybox]}]",
            &list
        ),
        Level::None
    );
    assert_eq!(
        evaluate(
            "- level: Request\n  resources: [{resources: [pods], resourceNames: [busybox]}]",
            &namespaced
        ),
        Level::Request
    );
    // The authenticated user decides, not the impersonated one.
    let impersonating = AuditEvent {
        impersonated_user: Some(Actor {
            name: "system:admin".into(),
            ..Actor::default()
        }),
        ..request("namespaced")
    };
    assert_eq!(
        evaluate("- level: Request\n  users: [system:admin]", &impersonating),
        Level::None
    );
    assert_eq!(
        evaluate("- level: Request\n  users: [tim@k8s.io]", &impersonating),
        Level::Request
    );
    // An actor without a name is still a user (name ""), unlike an empty actor.
    let nameless = AuditEvent {
        user: Actor {
            uid: "1".into(),
            ..Actor::default()
        },
        ..request("namespaced")
    };
    assert_eq!(
        evaluate("- level: Request\n  users: [\"\"]", &nameless),
        Level::Request
    );
    assert_eq!(
        evaluate(
            "- level: Request\n  users: [\"\"]",
            &request("Unauthorized")
        ),
        Level::None
    );
    // A group wildcard with resource names.
    assert_eq!(
        evaluate(
            "- level: Request\n  resources: [{group: \"*\", resources: [clusterroles], resourceNames: [edit]}]",
            &cluster
        ),
        Level::Request
    );
    // First match wins even when a later rule is more specific.
    assert_eq!(
        evaluate(
            "- level: Metadata\n- level: RequestResponse\n  verbs: [get]",
            &namespaced
        ),
        Level::Metadata
    );
}
