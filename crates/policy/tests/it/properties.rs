//! Properties of `Policy::apply` over generated policies and events.

use event::{Actor, AuditEvent, Level, ObjectRef, RawJson, Stage};
use policy::{DropReason, Policy, Verdict};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value, json};

use crate::policy_yaml::HEADER;

const LEVELS: [&str; 4] = ["None", "Metadata", "Request", "RequestResponse"];
const STAGES: [&str; 4] = [
    "RequestReceived",
    "ResponseStarted",
    "ResponseComplete",
    "Panic",
];
const VERBS: [&str; 8] = [
    "get", "list", "watch", "create", "update", "patch", "delete", "post",
];
const RESOURCES: [(&str, &str); 7] = [
    ("", "pods"),
    ("", "secrets"),
    ("", "configmaps"),
    ("apps", "deployments"),
    ("authentication.k8s.io", "tokenreviews"),
    ("", "serviceaccounts"),
    ("rbac.authorization.k8s.io", "clusterroles"),
];
const SUBRESOURCES: [&str; 5] = ["", "", "log", "exec", "token"];
const NAMESPACES: [&str; 3] = ["", "default", "kube-system"];
const PATHS: [&str; 8] = [
    "/healthz",
    "/metrics",
    "/version",
    "/_ping",
    "/logs/kubelet.log",
    "/secrets/create",
    "/auth/login",
    "/apis",
];
const USERS: [&str; 3] = ["alice", "bob", "system:serviceaccount:kube-system:builder"];

/// One rule as YAML, built from optional conditions.
fn rule_yaml() -> impl Strategy<Value = String> {
    (
        select(&LEVELS[..]),
        proptest::option::of(proptest::sample::subsequence(&USERS[..], 1..3)),
        proptest::option::of(proptest::sample::subsequence(&VERBS[..], 1..4)),
        prop_oneof![
            Just(String::new()),
            proptest::sample::subsequence(&RESOURCES[..], 1..3).prop_map(|resources| {
                let entries: Vec<String> = resources
                    .iter()
                    .map(|(group, resource)| {
                        format!(
                            "{{group: \"{group}\", resources: [\"{resource}\", \"{resource}/*\"]}}"
                        )
                    })
                    .collect();
                format!("\n  resources: [{}]", entries.join(", "))
            }),
            select(
                &[
                    "\n  resources: [{group: \"*\"}]",
                    "\n  namespaces: [default]",
                    "\n  nonResourceURLs: [\"/logs*\", /metrics]",
                    "\n  nonResourceURLs: [\"*\"]"
                ][..]
            )
            .prop_map(str::to_owned),
        ],
        proptest::option::of(proptest::sample::subsequence(&STAGES[..], 1..3)),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(|(level, users, verbs, target, stages, managed)| {
            let mut rule = format!("- level: {level}");
            if let Some(users) = users {
                rule.push_str(&format!("\n  users: [\"{}\"]", users.join("\", \"")));
            }
            if let Some(verbs) = verbs {
                rule.push_str(&format!("\n  verbs: [{}]", verbs.join(", ")));
            }
            rule.push_str(&target);
            if let Some(stages) = stages {
                rule.push_str(&format!("\n  omitStages: [{}]", stages.join(", ")));
            }
            if let Some(managed) = managed {
                rule.push_str(&format!("\n  omitManagedFields: {managed}"));
            }
            rule
        })
}

/// A random valid policy, sometimes with every `auditrail:` option.
fn policy() -> impl Strategy<Value = Policy> {
    (
        proptest::collection::vec(rule_yaml(), 1..6),
        proptest::option::of(proptest::sample::subsequence(&STAGES[..], 1..2)),
        any::<bool>(),
        select(&[
            "",
            "auditrail:\n  maxEventBytes: 1024\n",
            "auditrail:\n  maxEventBytes: 3000\n  ignoredEndpoints: [mke-defaults]\n",
            "auditrail:\n  redactedEndpoints: []\n  redact:\n    paths: [{jsonPath: \"spec.containers[*].env[*].value\"}, {resource: configmaps, jsonPath: data.*}]\n",
        ][..]),
    )
        .prop_map(|(rules, stages, managed, extension)| {
            let stages = stages.map_or(String::new(), |stages| format!("omitStages: [{}]\n", stages.join(", ")));
            let text = format!("{HEADER}{stages}omitManagedFields: {managed}\nrules:\n{}\n{extension}", rules.join("\n"));
            Policy::load(&text).unwrap_or_else(|error| panic!("{error}\n{text}")).policy
        })
}

/// Recognisable secret strings that appear nowhere else in an event.
fn secrets() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec("[a-zA-Z0-9]{10,16}", 1..4).prop_map(|values| {
        values
            .into_iter()
            .map(|value| format!("SECRET{value}"))
            .collect()
    })
}

fn secret_object(secrets: &[String]) -> Value {
    let data: serde_json::Map<String, Value> = secrets
        .iter()
        .enumerate()
        .map(|(index, secret)| (format!("key{index}"), Value::String(secret.clone())))
        .collect();
    let last_applied = json!({"kind": "Secret", "data": data}).to_string();
    json!({
        "kind": "Secret",
        "metadata": {"name": "s", "annotations": {"kubectl.kubernetes.io/last-applied-configuration": last_applied}, "managedFields": [{"manager": "m"}]},
        "data": data,
        "stringData": {"plain": secrets[0]},
    })
}

/// Bodies: Secrets in several shapes, objects with managed fields, and random JSON.
fn body(secrets: Vec<String>) -> impl Strategy<Value = Option<Value>> {
    let secret = secret_object(&secrets);
    let mut kindless = secret.clone();
    if let Some(map) = kindless.as_object_mut() {
        map.remove("kind");
    }
    let list = json!({"kind": "SecretList", "items": [secret.clone(), secret.clone()]});
    let patch = json!([{"op": "replace", "path": "/data/key0", "value": secrets[0]}, {"op": "add", "path": "/stringData", "value": {"x": secrets[secrets.len() - 1]}}]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "[a-z\"\\\\]{0,8}".prop_map(Value::String),
    ];
    let random = leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(
                select(
                    &[
                        "kind",
                        "metadata",
                        "managedFields",
                        "data",
                        "items",
                        "spec",
                        "token",
                        "x"
                    ][..]
                )
                .prop_map(str::to_owned),
                inner,
                0..4
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    });
    prop_oneof![
        Just(None),
        Just(Some(secret)),
        Just(Some(kindless)),
        Just(Some(list)),
        Just(Some(patch)),
        Just(Some(
            json!({"metadata": {"name": "cm", "managedFields": [{"manager": "x"}]}, "data": {"a": "b"}})
        )),
        random.prop_map(Some),
    ]
}

prop_compose! {
    fn event_with_secrets()(secrets in secrets())(
        request in body(secrets.clone()),
        response in body(secrets.clone()),
        secrets in Just(secrets),
        user in proptest::option::of(select(&USERS[..])),
        verb in select(&VERBS[..]),
        method in proptest::option::of(select(&["GET", "POST"][..])),
        object in proptest::option::of((select(&RESOURCES[..]), select(&SUBRESOURCES[..]), select(&NAMESPACES[..]), select(&["", "x"][..]))),
        path in select(&PATHS[..]),
        command in any::<bool>(),
        stage in proptest::option::of(select(&Stage::ALL[..])),
        level in proptest::option::of(select(&Level::ALL[..])),
        patch_annotation in any::<bool>(),
        source_ips in 0usize..40,
        user_agent in proptest::option::of("[ -~]{0,3000}"),
    ) -> (AuditEvent, Vec<String>) {
        let object = object.map(|((group, resource), subresource, namespace, name)| ObjectRef {
            api_group: Some(group.to_owned()),
            resource: resource.to_owned(),
            subresource: subresource.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            ..ObjectRef::default()
        });
        let mut uri = match &object {
            Some(object) => format!("/api/v1/namespaces/{}/{}/{}/{}", object.namespace, object.resource, object.name, object.subresource),
            None => path.to_owned(),
        };
        if command {
            uri.push_str("?command=sh&command=-c&container=x");
        }
        let mut event = AuditEvent {
            user: user.map_or_else(Actor::default, |name| Actor { name: name.to_owned(), groups: Some(vec!["system:authenticated".to_owned()]), ..Actor::default() }),
            verb: verb.to_owned(),
            method: method.map(str::to_owned),
            object,
            uri,
            stage,
            level,
            source_ips: (0..source_ips).map(|i| format!("10.1.{}.{}", i / 200, i % 200)).collect(),
            user_agent,
            request_object: request.map(|body| RawJson::from_value(&body).unwrap()),
            response_object: response.map(|body| RawJson::from_value(&body).unwrap()),
            ..AuditEvent::default()
        };
        let secret_request = event.object.as_ref().is_some_and(|object| object.resource == "secrets" && object.group().is_empty());
        if patch_annotation && secret_request {
            let patch = json!({"configuration": "c", "webhook": "w", "patch": [{"op": "add", "path": "/data/injected", "value": secrets[0]}], "patchType": "JSONPatch"});
            event.annotations.insert("patch.webhook.admission.k8s.io/round_0_index_0".to_owned(), patch.to_string());
        }
        (event, secrets)
    }
}

fn rule_level(policy: &Policy, rule: usize) -> Level {
    policy
        .rules()
        .nth(rule)
        .map(|info| info.level)
        .expect("the verdict names a rule")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn applying_twice_equals_applying_once(policy in policy(), (event, _) in event_with_secrets()) {
        let mut once = event.clone();
        let first = policy.apply(&mut once);
        let mut twice = once.clone();
        let second = policy.apply(&mut twice);
        prop_assert_eq!(&twice, &once);
        match (first, second) {
            (Verdict::Keep { rule, level, .. }, Verdict::Keep { rule: rule2, level: level2, .. }) => {
                prop_assert_eq!(rule, rule2);
                prop_assert_eq!(level, level2);
            }
            (Verdict::Drop { .. }, second) => {
                prop_assert_eq!(&once, &event, "a dropped event is left as it was");
                prop_assert_eq!(first, second);
            }
            (first, second) => prop_assert!(false, "{first:?} then {second:?}"),
        }
    }

    #[test]
    fn kept_level_never_exceeds_the_rule_or_recorded_level(policy in policy(), (event, _) in event_with_secrets()) {
        let mut applied = event.clone();
        if let Verdict::Keep { rule, level, .. } = policy.apply(&mut applied) {
            prop_assert!(level <= rule_level(&policy, rule));
            prop_assert!(level <= event.level.unwrap_or(Level::RequestResponse));
            prop_assert!(level > Level::None);
            prop_assert_eq!(applied.level, Some(level));
            if level < Level::Request {
                prop_assert!(applied.request_object.is_none());
            }
            if level < Level::RequestResponse {
                prop_assert!(applied.response_object.is_none());
            }
        }
    }

    #[test]
    fn drop_verdict_is_the_drop_of_apply(policy in policy(), (event, _) in event_with_secrets()) {
        // The verdict decided on the attributes alone (before decoding, in `import`) is the
        // one `apply` gives, for drops; and `None` exactly when `apply` keeps.
        let decided = policy.drop_verdict(&event.attributes());
        let applied = policy.apply(&mut event.clone());
        match decided {
            Some(verdict) => prop_assert_eq!(verdict, applied),
            None => prop_assert!(applied.is_kept(), "{:?}", applied),
        }
    }

    #[test]
    fn an_event_no_rule_matches_is_dropped(policy in policy(), (event, _) in event_with_secrets()) {
        let evaluation = policy.evaluate(&event);
        let verdict = policy.apply(&mut event.clone());
        if evaluation.rule.is_none() {
            let dropped = matches!(
                verdict,
                Verdict::Drop { rule: None, reason: DropReason::NoRuleMatched | DropReason::IgnoredEndpoint { .. } }
            );
            prop_assert!(dropped, "{:?}", verdict);
        } else {
            let no_match = matches!(verdict, Verdict::Drop { reason: DropReason::NoRuleMatched, .. });
            prop_assert!(!no_match, "{:?}", verdict);
        }
        let nobody = Policy::load(&format!("{HEADER}rules:\n- level: RequestResponse\n  users: [nobody-at-all]\n")).unwrap().policy;
        prop_assert_eq!(nobody.apply(&mut event.clone()), Verdict::Drop { rule: None, reason: DropReason::NoRuleMatched });
    }

    #[test]
    fn no_secret_value_survives_redaction(policy in policy(), (mut event, secrets) in event_with_secrets()) {
        // What is claimed: a body of a core `secrets` request, or a body whose kind is Secret
        // or SecretList, keeps no secret value, and neither does anything else in an event of
        // a `secrets` request (annotations included). Checked under a random policy and under
        // the permissive one, which keeps every body.
        let is_secret_request = event.object.as_ref().is_some_and(|object| object.resource == "secrets" && object.group().is_empty());
        let claims_secret = |body: &Option<RawJson>| {
            body.as_ref().is_some_and(|body| {
                let value: Value = serde_json::from_str(body.get()).unwrap();
                is_secret_request || matches!(value.get("kind").and_then(Value::as_str), Some("Secret" | "SecretList"))
            })
        };
        let (request_claims, response_claims) = (claims_secret(&event.request_object), claims_secret(&event.response_object));
        let leaks = |text: &str| secrets.iter().find(|secret| text.contains(secret.as_str())).cloned();
        let keep_all = Policy::permissive();
        for candidate in [&policy, &keep_all] {
            let mut applied = event.clone();
            if !candidate.apply(&mut applied).is_kept() {
                continue;
            }
            for (claims, body) in [(request_claims, &applied.request_object), (response_claims, &applied.response_object)] {
                if let (true, Some(body)) = (claims, body) {
                    prop_assert_eq!(leaks(body.get()), None, "{}", body);
                }
            }
            if is_secret_request {
                let json = serde_json::to_string(&applied).unwrap();
                prop_assert_eq!(leaks(&json), None, "{}", json);
            }
        }
        // Whatever else: applying never panics and a kept event still serialises.
        let _ = policy.apply(&mut event);
        prop_assert!(serde_json::to_string(&event).is_ok());
    }

    #[test]
    fn loading_any_text_never_panics(text in "(\\PC|\n){0,400}") {
        let _ = Policy::load(&text);
        let _ = Policy::load(&format!("{HEADER}rules:\n{text}"));
    }
}
