//! `Policy::apply`: verdicts, levels, managed fields, endpoints, redaction and the size limit,
//! and what the sample `tests/data/policy-full.yaml` does.

use event::{
    ANNOTATION_REDACTED, ANNOTATION_TRUNCATED, Actor, AuditEvent, Level, ObjectRef, RawJson, Stage,
};
use policy::{Changes, DropReason, Policy, REDACTED, Verdict};
use serde_json::{Value, json};

use crate::policy_yaml::HEADER;

fn load(body: &str) -> Policy {
    let text = format!("{HEADER}{body}");
    Policy::load(&text)
        .unwrap_or_else(|error| panic!("{error}\n{text}"))
        .policy
}

fn full_policy() -> Policy {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/policy-full.yaml"
    ))
    .unwrap();
    let loaded = Policy::load(&text).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    loaded.policy
}

fn raw(value: Value) -> Option<RawJson> {
    Some(RawJson::from_value(&value).unwrap())
}

fn body(raw: &Option<RawJson>) -> Value {
    serde_json::from_str(raw.as_ref().expect("a body").get()).unwrap()
}

fn resource(
    group: &str,
    resource: &str,
    subresource: &str,
    namespace: &str,
    name: &str,
) -> Option<ObjectRef> {
    Some(ObjectRef {
        api_group: Some(group.into()),
        resource: resource.into(),
        subresource: subresource.into(),
        namespace: namespace.into(),
        name: name.into(),
        ..ObjectRef::default()
    })
}

fn alice() -> Actor {
    Actor {
        name: "alice".into(),
        groups: Some(vec!["system:authenticated".into()]),
        ..Actor::default()
    }
}

/// A `create secrets` at ResponseComplete with both bodies.
fn secret_create() -> AuditEvent {
    let secret = json!({
        "kind": "Secret", "apiVersion": "v1",
        "metadata": {"name": "db", "namespace": "default", "annotations": {
            "kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{\"password\":\"aHVudGVyMg==\"}}"},
            "managedFields": [{"manager": "kubectl"}]},
        "data": {"password": "aHVudGVyMg==", "user": "YWRtaW4="},
        "stringData": {"token": "plain-token"},
        "type": "Opaque"
    });
    AuditEvent {
        stage: Some(Stage::ResponseComplete),
        user: alice(),
        verb: "create".into(),
        object: resource("", "secrets", "", "default", "db"),
        uri: "/api/v1/namespaces/default/secrets".into(),
        request_object: raw(secret.clone()),
        response_object: raw(secret),
        ..AuditEvent::default()
    }
}

fn assert_no_secret(event: &AuditEvent) {
    let json = serde_json::to_string(event).unwrap();
    for secret in ["aHVudGVyMg==", "YWRtaW4=", "plain-token"] {
        assert!(!json.contains(secret), "{secret} leaked: {json}");
    }
}

#[test]
fn kept_level_is_the_lower_of_recorded_and_rule() {
    let policy = load("rules:\n- level: Request\n");
    let mut unknown = secret_create();
    assert_eq!(policy.apply(&mut unknown).level(), Some(Level::Request));
    assert_eq!(unknown.level, Some(Level::Request));
    assert!(unknown.request_object.is_some() && unknown.response_object.is_none());

    let mut recorded_metadata = AuditEvent {
        level: Some(Level::Metadata),
        ..secret_create()
    };
    assert_eq!(
        policy.apply(&mut recorded_metadata).level(),
        Some(Level::Metadata)
    );
    assert!(recorded_metadata.request_object.is_none());

    let mut recorded_none = AuditEvent {
        level: Some(Level::None),
        ..secret_create()
    };
    assert_eq!(
        policy.apply(&mut recorded_none),
        Verdict::Drop {
            rule: Some(0),
            reason: DropReason::LevelNone
        }
    );
}

#[test]
fn patch_annotations_need_request_level() {
    let policy = load("rules:\n- level: Metadata\n  verbs: [update]\n- level: Request\n");
    let mut event = AuditEvent {
        verb: "update".into(),
        ..AuditEvent::default()
    };
    event.annotations.insert(
        "patch.webhook.admission.k8s.io/round_0_index_0".into(),
        "{}".into(),
    );
    event.annotations.insert(
        "mutation.webhook.admission.k8s.io/round_0_index_0".into(),
        "{}".into(),
    );
    let verdict = policy.apply(&mut event);
    assert!(matches!(
        verdict,
        Verdict::Keep {
            changes: Changes {
                bodies_stripped: true,
                ..
            },
            ..
        }
    ));
    assert_eq!(
        event.annotations.keys().collect::<Vec<_>>(),
        ["mutation.webhook.admission.k8s.io/round_0_index_0"]
    );
    let mut kept = AuditEvent {
        verb: "get".into(),
        ..AuditEvent::default()
    };
    kept.annotations.insert(
        "patch.webhook.admission.k8s.io/round_0_index_0".into(),
        "{}".into(),
    );
    policy.apply(&mut kept);
    assert_eq!(kept.annotations.len(), 1);
}

#[test]
fn drop_reasons() {
    let policy = load(
        "omitStages: [RequestReceived]\nrules:\n- level: None\n  verbs: [watch]\n- level: Metadata\n  verbs: [get]\n  omitStages: [Panic]\nauditrail:\n  ignoredEndpoints: [\"/x\", mke-defaults]\n",
    );
    let event = |verb: &str, stage: Option<Stage>, uri: &str| AuditEvent {
        verb: verb.into(),
        stage,
        uri: uri.into(),
        ..AuditEvent::default()
    };
    let unchanged = event("list", Some(Stage::ResponseComplete), "/api");
    let mut no_match = unchanged.clone();
    assert_eq!(
        policy.apply(&mut no_match),
        Verdict::Drop {
            rule: None,
            reason: DropReason::NoRuleMatched
        }
    );
    assert_eq!(no_match, unchanged, "a dropped event is left as it was");
    assert_eq!(
        policy.apply(&mut event("watch", None, "/api")),
        Verdict::Drop {
            rule: Some(0),
            reason: DropReason::LevelNone
        }
    );
    assert_eq!(
        policy.apply(&mut event("get", Some(Stage::RequestReceived), "/api")),
        Verdict::Drop {
            rule: Some(1),
            reason: DropReason::OmittedStage(Stage::RequestReceived)
        }
    );
    assert_eq!(
        policy.apply(&mut event("get", Some(Stage::Panic), "/api")),
        Verdict::Drop {
            rule: Some(1),
            reason: DropReason::OmittedStage(Stage::Panic)
        }
    );
    assert!(
        policy
            .apply(&mut event("get", Some(Stage::ResponseComplete), "/api"))
            .is_kept()
    );
    assert!(
        policy.apply(&mut event("get", None, "/api")).is_kept(),
        "stage-less events are never dropped for their stage"
    );
    let Verdict::Drop {
        reason: DropReason::IgnoredEndpoint { pattern },
        rule: None,
    } = policy.apply(&mut event("get", None, "/version/x?y=1"))
    else {
        panic!("not ignored");
    };
    assert_eq!(policy.ignored_endpoint(pattern), Some("/version*"));
    assert_eq!(
        policy.ignored_endpoints_len(),
        1 + policy::MKE_IGNORED_ENDPOINTS.len()
    );
    assert_eq!(
        policy.apply(&mut event("get", None, "/x")),
        Verdict::Drop {
            rule: None,
            reason: DropReason::IgnoredEndpoint { pattern: 0 }
        }
    );
}

#[test]
fn managed_fields_are_stripped_when_asked() {
    let list = json!({"kind": "ConfigMapList", "items": [
        {"metadata": {"name": "a", "managedFields": [{"manager": "x"}]}, "data": {"k": "v"}},
        {"metadata": {"name": "b", "managedFields": []}}]});
    let object =
        json!({"metadata": {"name": "a", "managedFields": [{"manager": "x"}]}, "data": {"k": "v"}});
    let event = AuditEvent {
        verb: "list".into(),
        object: resource("", "configmaps", "", "default", ""),
        request_object: raw(object),
        response_object: raw(list),
        ..AuditEvent::default()
    };
    let mut stripped = event.clone();
    let verdict =
        load("omitManagedFields: true\nrules:\n- level: RequestResponse\n").apply(&mut stripped);
    assert!(matches!(
        verdict,
        Verdict::Keep {
            changes: Changes {
                managed_fields_removed: true,
                redacted: false,
                ..
            },
            ..
        }
    ));
    assert_eq!(
        body(&stripped.request_object),
        json!({"metadata": {"name": "a"}, "data": {"k": "v"}})
    );
    assert_eq!(
        body(&stripped.response_object)["items"],
        json!([{"metadata": {"name": "a"}, "data": {"k": "v"}}, {"metadata": {"name": "b"}}])
    );
    assert!(!stripped.annotations.contains_key(ANNOTATION_REDACTED));

    let mut rule_off = event.clone();
    load("omitManagedFields: true\nrules:\n- level: RequestResponse\n  omitManagedFields: false\n")
        .apply(&mut rule_off);
    assert_eq!(
        rule_off,
        AuditEvent {
            level: Some(Level::RequestResponse),
            ..event.clone()
        }
    );

    let mut rule_on = event.clone();
    load("rules:\n- level: RequestResponse\n  omitManagedFields: true\n").apply(&mut rule_on);
    assert!(
        !rule_on
            .response_object
            .as_ref()
            .unwrap()
            .get()
            .contains("managedFields")
    );
}

#[test]
fn redacted_endpoints_remove_bodies() {
    let mke_secret = || AuditEvent {
        verb: "post".into(),
        method: Some("POST".into()),
        uri: "/v1.41/secrets/create?x=1".into(),
        request_object: raw(json!({"Name": "db", "Data": "aHVudGVyMg=="})),
        response_object: raw(json!({"ID": "abc"})),
        ..AuditEvent::default()
    };
    let mut event = mke_secret();
    let verdict = Policy::permissive().apply(&mut event);
    assert!(matches!(
        verdict,
        Verdict::Keep {
            changes: Changes {
                endpoint_redacted: true,
                redacted: true,
                ..
            },
            ..
        }
    ));
    assert!(event.request_object.is_none() && event.response_object.is_none());
    assert_eq!(
        event.annotations[ANNOTATION_REDACTED],
        "requestObject,responseObject"
    );

    // Without a method, the verb is compared, ignoring case.
    let mut by_verb = AuditEvent {
        method: None,
        uri: "/secrets/abc/update".into(),
        ..mke_secret()
    };
    Policy::permissive().apply(&mut by_verb);
    assert!(by_verb.request_object.is_none());

    let mut get = AuditEvent {
        method: Some("GET".into()),
        ..mke_secret()
    };
    Policy::permissive().apply(&mut get);
    assert!(get.request_object.is_some());

    let mut turned_off = mke_secret();
    load("rules:\n- level: RequestResponse\nauditrail:\n  redactedEndpoints: []\n")
        .apply(&mut turned_off);
    assert!(turned_off.request_object.is_some());

    let mut custom = AuditEvent {
        uri: "/api/login".into(),
        ..mke_secret()
    };
    load("rules:\n- level: RequestResponse\nauditrail:\n  redactedEndpoints: [/api/*]\n")
        .apply(&mut custom);
    assert!(custom.request_object.is_none());
}

#[test]
fn secrets_are_redacted_everywhere_and_recorded() {
    let mut event = secret_create();
    let verdict = Policy::permissive().apply(&mut event);
    assert!(matches!(
        verdict,
        Verdict::Keep {
            level: Level::RequestResponse,
            changes: Changes { redacted: true, .. },
            ..
        }
    ));
    assert_no_secret(&event);
    let request = body(&event.request_object);
    assert_eq!(
        request["data"],
        json!({"password": REDACTED, "user": REDACTED})
    );
    assert_eq!(request["stringData"], json!({"token": REDACTED}));
    assert_eq!(
        request["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
        REDACTED
    );
    assert_eq!(
        request["metadata"]["managedFields"],
        json!([{"manager": "kubectl"}]),
        "permissive keeps managed fields"
    );
    assert_eq!(
        event.annotations[ANNOTATION_REDACTED],
        "requestObject.data,requestObject.stringData,requestObject.metadata.annotations[kubectl.kubernetes.io/last-applied-configuration],\
responseObject.data,responseObject.stringData,responseObject.metadata.annotations[kubectl.kubernetes.io/last-applied-configuration]"
    );
    let once = event.clone();
    assert!(matches!(
        Policy::permissive().apply(&mut event),
        Verdict::Keep {
            changes: Changes {
                redacted: false,
                ..
            },
            ..
        }
    ));
    assert_eq!(event, once);
}

#[test]
fn secret_lists_and_kinds_in_other_requests() {
    let mut list = AuditEvent {
        verb: "list".into(),
        object: resource("", "secrets", "", "default", ""),
        response_object: raw(
            json!({"kind": "SecretList", "items": [{"metadata": {"name": "a"}, "data": {"k": "aHVudGVyMg=="}}]}),
        ),
        ..AuditEvent::default()
    };
    Policy::permissive().apply(&mut list);
    assert_no_secret(&list);
    assert_eq!(
        list.annotations[ANNOTATION_REDACTED],
        "responseObject.items[*].data"
    );

    // A Secret inside a generic List, e.g. from an aggregated API or `kubectl get -o`.
    let mut generic = AuditEvent {
        verb: "get".into(),
        uri: "/apis/example.com/v1/bundles/x".into(),
        object: resource("example.com", "bundles", "", "", "x"),
        response_object: raw(
            json!({"kind": "List", "items": [{"kind": "Secret", "data": {"k": "YWRtaW4="}}]}),
        ),
        ..AuditEvent::default()
    };
    Policy::permissive().apply(&mut generic);
    assert_no_secret(&generic);
}

#[test]
fn secret_redaction_can_be_turned_off() {
    let mut event = secret_create();
    load("rules:\n- level: RequestResponse\nauditrail:\n  redact:\n    secrets: false\n")
        .apply(&mut event);
    assert!(body(&event.request_object)["data"]["password"] == "aHVudGVyMg==");
    assert!(!event.annotations.contains_key(ANNOTATION_REDACTED));
}

#[test]
fn tokens_are_redacted() {
    let mut review = AuditEvent {
        verb: "create".into(),
        object: resource("authentication.k8s.io", "tokenreviews", "", "", ""),
        request_object: raw(
            json!({"apiVersion": "authentication.k8s.io/v1", "spec": {"token": "eyJhbGciOiJSUzI1NiJ9.payload.sig"}}),
        ),
        response_object: raw(
            json!({"spec": {"token": "eyJhbGciOiJSUzI1NiJ9.payload.sig"}, "status": {"authenticated": true, "user": {"username": "bob"}}}),
        ),
        ..AuditEvent::default()
    };
    Policy::permissive().apply(&mut review);
    assert!(
        !serde_json::to_string(&review)
            .unwrap()
            .contains("payload.sig")
    );
    assert_eq!(
        review.annotations[ANNOTATION_REDACTED],
        "requestObject.spec.token,responseObject.spec.token"
    );
    assert_eq!(
        body(&review.response_object)["status"]["user"]["username"],
        "bob"
    );

    let mut token_request = AuditEvent {
        verb: "create".into(),
        object: resource("", "serviceaccounts", "token", "default", "builder"),
        response_object: raw(
            json!({"kind": "TokenRequest", "status": {"token": "eyJ.sa.token", "expirationTimestamp": "2030-01-01T00:00:00Z"}}),
        ),
        ..AuditEvent::default()
    };
    Policy::permissive().apply(&mut token_request);
    assert!(
        !serde_json::to_string(&token_request)
            .unwrap()
            .contains("eyJ.sa.token")
    );
    assert_eq!(
        token_request.annotations[ANNOTATION_REDACTED],
        "responseObject.status.token"
    );
}

#[test]
fn exec_commands_are_redacted_even_at_metadata() {
    let event = AuditEvent {
        stage: Some(Stage::ResponseStarted),
        verb: "create".into(),
        object: resource("", "pods", "exec", "default", "web"),
        uri: "/api/v1/namespaces/default/pods/web/exec?command=sh&command=-c&command=mysql%20-pHunter2&container=db&stdin=true".into(),
        ..AuditEvent::default()
    };
    let mut redacted = event.clone();
    load("rules:\n- level: Metadata\n").apply(&mut redacted);
    assert_eq!(
        redacted.uri,
        "/api/v1/namespaces/default/pods/web/exec?command=%3Credacted%3E&command=%3Credacted%3E&command=%3Credacted%3E&container=db&stdin=true"
    );
    assert_eq!(
        redacted.annotations[ANNOTATION_REDACTED],
        "requestURI.command"
    );
    let mut kept = event.clone();
    load("rules:\n- level: Metadata\nauditrail:\n  redact:\n    execCommands: false\n")
        .apply(&mut kept);
    assert_eq!(kept.uri, event.uri);
    // Through the kubelet proxy, without a pods object.
    let mut proxied = AuditEvent {
        object: resource("", "nodes", "proxy", "", "node-1"),
        uri: "/api/v1/nodes/node-1/proxy/exec/default/web/db?command=cat&command=/etc/shadow"
            .into(),
        ..event
    };
    load("rules:\n- level: Metadata\n").apply(&mut proxied);
    assert!(!proxied.uri.contains("shadow"));
}

#[test]
fn user_paths_are_redacted_for_matching_resources() {
    let deployment = json!({"kind": "Deployment", "spec": {"template": {"spec": {"containers": [
        {"name": "app", "env": [{"name": "DB_PASSWORD", "value": "hunter2"}, {"name": "FROM", "valueFrom": {"secretKeyRef": {"name": "x"}}}]}]}}}});
    let event = AuditEvent {
        verb: "create".into(),
        object: resource("apps", "deployments", "", "default", "app"),
        request_object: raw(deployment.clone()),
        ..AuditEvent::default()
    };
    let policy = load(
        "rules:\n- level: RequestResponse\nauditrail:\n  redact:\n    paths:\n    - {group: apps, resource: deployments, jsonPath: \"spec.template.spec.containers[*].env[*].value\"}\n",
    );
    let mut redacted = event.clone();
    policy.apply(&mut redacted);
    let env = &body(&redacted.request_object)["spec"]["template"]["spec"]["containers"][0]["env"];
    assert_eq!(env[0], json!({"name": "DB_PASSWORD", "value": REDACTED}));
    assert_eq!(env[1]["valueFrom"]["secretKeyRef"]["name"], "x");
    assert_eq!(
        redacted.annotations[ANNOTATION_REDACTED],
        "requestObject.spec.template.spec.containers[*].env[*].value"
    );
    let mut other_group = AuditEvent {
        object: resource("extensions", "deployments", "", "default", "app"),
        ..event
    };
    policy.apply(&mut other_group);
    assert_eq!(body(&other_group.request_object), deployment);
}

#[test]
fn size_limit_drops_bodies_then_cuts_strings_but_keeps_the_event() {
    let policy = load("rules:\n- level: RequestResponse\nauditrail:\n  maxEventBytes: 2048\n");
    let mut big_body = AuditEvent {
        verb: "update".into(),
        user: alice(),
        object: resource("", "configmaps", "", "default", "big"),
        request_object: raw(json!({"data": {"k": "x".repeat(5000)}})),
        ..AuditEvent::default()
    };
    let verdict = policy.apply(&mut big_body);
    assert!(matches!(
        verdict,
        Verdict::Keep {
            changes: Changes {
                truncated: true,
                ..
            },
            ..
        }
    ));
    assert!(big_body.request_object.is_none());
    assert_eq!(big_body.annotations[ANNOTATION_TRUNCATED], "true");
    assert_eq!(big_body.user, alice());

    let mut long_strings = AuditEvent {
        verb: "get".into(),
        uri: format!("/api/v1/pods?labelSelector={}", "a".repeat(4000)),
        user_agent: Some("kubectl/".repeat(500)),
        source_ips: (0..300)
            .map(|i| format!("10.0.{}.{}", i / 256, i % 256))
            .collect(),
        ..AuditEvent::default()
    };
    assert!(policy.apply(&mut long_strings).is_kept());
    assert!(
        long_strings.approximate_size() <= 2048,
        "{}",
        long_strings.approximate_size()
    );
    assert!(long_strings.uri.starts_with("/api/v1/pods?"));
    assert_eq!(
        long_strings.source_ips.last().map(String::as_str),
        Some("10.0.1.43")
    );
    let once = long_strings.clone();
    policy.apply(&mut long_strings);
    assert_eq!(long_strings, once);
}

#[test]
fn permissive_keeps_events_as_recorded() {
    let policy = Policy::permissive();
    assert_eq!(policy.rules().len(), 1);
    assert_eq!(policy.max_event_bytes(), None);
    let event = AuditEvent {
        level: Some(Level::Request),
        stage: Some(Stage::RequestReceived),
        verb: "update".into(),
        object: resource("apps", "deployments", "", "default", "x"),
        request_object: raw(json!({"metadata": {"managedFields": [1]}})),
        ..AuditEvent::default()
    };
    let mut kept = event.clone();
    assert_eq!(
        policy.apply(&mut kept),
        Verdict::Keep {
            rule: 0,
            level: Level::Request,
            changes: Changes::default()
        }
    );
    assert_eq!(kept, event);
    let mut host = AuditEvent {
        verb: "SYSCALL".into(),
        paths: vec!["/etc/shadow".into()],
        ..AuditEvent::default()
    };
    assert_eq!(
        policy.apply(&mut host).level(),
        Some(Level::RequestResponse)
    );
}

#[test]
fn the_sample_policy_does_what_its_comments_say() {
    let policy = full_policy();
    assert_eq!(policy.max_event_bytes(), Some(102_400));
    let rules: Vec<_> = policy.rules().collect();
    assert_eq!(rules.len(), 11);
    assert_eq!(rules[0].line, Some(16));
    assert_eq!(
        rules[0].description,
        "level=None nonResourceURLs=[/healthz*,/livez*,/readyz*,/version]"
    );

    let base = AuditEvent {
        user: alice(),
        stage: Some(Stage::ResponseComplete),
        ..AuditEvent::default()
    };
    let apply = |event: &AuditEvent| {
        let mut event = event.clone();
        let verdict = policy.apply(&mut event);
        (verdict, event)
    };

    let healthz = AuditEvent {
        verb: "get".into(),
        uri: "/healthz?verbose".into(),
        ..base.clone()
    };
    assert_eq!(
        apply(&healthz).0,
        Verdict::Drop {
            rule: Some(0),
            reason: DropReason::LevelNone
        }
    );

    let ping = AuditEvent {
        verb: "get".into(),
        uri: "/_ping".into(),
        ..base.clone()
    };
    assert!(matches!(
        apply(&ping).0,
        Verdict::Drop {
            reason: DropReason::IgnoredEndpoint { .. },
            ..
        }
    ));

    let received = AuditEvent {
        stage: Some(Stage::RequestReceived),
        verb: "get".into(),
        uri: "/apis".into(),
        ..base.clone()
    };
    assert!(matches!(
        apply(&received).0,
        Verdict::Drop {
            reason: DropReason::OmittedStage(Stage::RequestReceived),
            ..
        }
    ));

    let (verdict, secret) = apply(&AuditEvent {
        stage: Some(Stage::ResponseComplete),
        ..secret_create()
    });
    assert_eq!(verdict.level(), Some(Level::Metadata));
    assert!(secret.request_object.is_none() && secret.response_object.is_none());

    let deployment = AuditEvent {
        verb: "patch".into(),
        object: resource("apps", "deployments", "", "default", "web"),
        request_object: raw(
            json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "env": [{"name": "TOKEN", "value": "s3cr3t"}]}]}}}}),
        ),
        response_object: raw(
            json!({"metadata": {"name": "web", "managedFields": [{"manager": "kubectl"}]}, "spec": {"template": {"spec": {"containers": [{"name": "web", "env": [{"name": "TOKEN", "value": "s3cr3t"}]}]}}}}),
        ),
        ..base.clone()
    };
    let (verdict, deployment) = apply(&deployment);
    assert_eq!(verdict.level(), Some(Level::RequestResponse));
    let json = serde_json::to_string(&deployment).unwrap();
    assert!(
        !json.contains("s3cr3t") && !json.contains("managedFields"),
        "{json}"
    );

    let scale = AuditEvent {
        verb: "update".into(),
        object: resource("example.io", "widgets", "scale", "default", "w"),
        ..base.clone()
    };
    assert_eq!(apply(&scale).0.level(), Some(Level::RequestResponse));
    let rbac = AuditEvent {
        verb: "delete".into(),
        object: resource(
            "rbac.authorization.k8s.io",
            "clusterrolebindings",
            "",
            "",
            "admin",
        ),
        ..base.clone()
    };
    assert_eq!(apply(&rbac).0.rule(), Some(7));

    let exec = AuditEvent {
        verb: "create".into(),
        object: resource("", "pods", "exec", "default", "web"),
        uri: "/api/v1/namespaces/default/pods/web/exec?command=env".into(),
        ..base.clone()
    };
    let (verdict, exec) = apply(&exec);
    assert_eq!(verdict.level(), Some(Level::Metadata));
    assert!(exec.uri.ends_with("command=%3Credacted%3E"));

    let config = AuditEvent {
        verb: "post".into(),
        method: Some("POST".into()),
        uri: "/v1.43/configs/create".into(),
        request_object: raw(json!({"Name": "c", "Data": "c2VjcmV0"})),
        ..base.clone()
    };
    let (verdict, config) = apply(&config);
    assert_eq!(verdict.rule(), Some(10));
    assert_eq!(verdict.level(), Some(Level::Metadata));
    assert!(config.request_object.is_none(), "Metadata keeps no body");
}
