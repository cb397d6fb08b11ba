//! Cost of `Policy::apply` with a 20-rule policy (the size of the GKE and OpenShift default
//! policies), for events that need no body parsing and for events that do.
//!
//! Run with `cargo bench -p policy --bench apply`.

#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use event::{Actor, AuditEvent, Level, ObjectRef, RawJson, Stage};
use policy::Policy;

/// Twenty rules in the style of the GKE default policy; the common events fall through most
/// of them.
const POLICY: &str = r#"
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: None
    users: ["system:kube-proxy"]
    verbs: [watch]
    resources: [{group: "", resources: [endpoints, services, services/status]}]
  - level: None
    users: ["system:unsecured"]
    namespaces: [kube-system]
    verbs: [get]
    resources: [{group: "", resources: [configmaps]}]
  - level: None
    users: [kubelet]
    verbs: [get]
    resources: [{group: "", resources: [nodes, nodes/status]}]
  - level: None
    userGroups: ["system:nodes"]
    verbs: [get]
    resources: [{group: "", resources: [nodes, nodes/status]}]
  - level: None
    users: ["system:kube-controller-manager", "system:kube-scheduler", "system:serviceaccount:kube-system:endpoint-controller"]
    verbs: [get, update]
    namespaces: [kube-system]
    resources: [{group: "", resources: [endpoints]}]
  - level: None
    users: ["system:apiserver"]
    verbs: [get]
    resources: [{group: "", resources: [namespaces, namespaces/status, namespaces/finalize]}]
  - level: None
    users: ["cluster-autoscaler"]
    verbs: [get, update]
    namespaces: [kube-system]
    resources: [{group: "", resources: [configmaps, endpoints]}]
  - level: None
    users: ["system:kube-controller-manager"]
    verbs: [get, list]
    resources: [{group: "metrics.k8s.io"}]
  - level: None
    nonResourceURLs: ["/healthz*", /version, "/swagger*"]
  - level: None
    resources: [{group: "", resources: [events]}]
  - level: Request
    users: [kubelet, "system:node-problem-detector", "system:serviceaccount:kube-system:node-problem-detector"]
    verbs: [update, patch]
    resources: [{group: "", resources: [nodes/status, pods/status]}]
  - level: Request
    userGroups: ["system:nodes"]
    verbs: [update, patch]
    resources: [{group: "", resources: [nodes/status, pods/status]}]
  - level: Request
    users: ["system:serviceaccount:kube-system:namespace-controller"]
    verbs: [deletecollection]
  - level: Metadata
    resources: [{group: "", resources: [secrets, configmaps]}, {group: authentication.k8s.io, resources: [tokenreviews]}]
  - level: Request
    verbs: [get, list, watch]
    resources: [{group: ""}, {group: admissionregistration.k8s.io}, {group: apiextensions.k8s.io}, {group: apiregistration.k8s.io}, {group: apps}, {group: authentication.k8s.io}]
  - level: Request
    verbs: [get, list, watch]
    resources: [{group: authorization.k8s.io}, {group: autoscaling}, {group: batch}, {group: certificates.k8s.io}, {group: extensions}, {group: metrics.k8s.io}]
  - level: Request
    verbs: [get, list, watch]
    resources: [{group: networking.k8s.io}, {group: node.k8s.io}, {group: policy}, {group: rbac.authorization.k8s.io}, {group: scheduling.k8s.io}, {group: storage.k8s.io}]
  - level: RequestResponse
    resources: [{group: ""}, {group: apps}, {group: batch}, {group: rbac.authorization.k8s.io}]
  - level: RequestResponse
    resources: [{group: "*", resources: ["*/status", "*/scale"]}]
  - level: Metadata
    nonResourceURLs: ["*"]
"#;

fn policy() -> Policy {
    Policy::load(POLICY).unwrap().policy
}

fn user(name: &str, group: &str) -> Actor {
    Actor {
        name: name.into(),
        groups: Some(vec![group.into()]),
        ..Actor::default()
    }
}

fn object(
    group: &str,
    resource: &str,
    subresource: &str,
    namespace: &str,
    name: &str,
) -> Option<ObjectRef> {
    Some(ObjectRef {
        api_group: Some(group.into()),
        api_version: "v1".into(),
        resource: resource.into(),
        subresource: subresource.into(),
        namespace: namespace.into(),
        name: name.into(),
        ..ObjectRef::default()
    })
}

fn base() -> AuditEvent {
    AuditEvent {
        id: "1b2c3d4e-0000-4000-8000-000000000000".into(),
        stage: Some(Stage::ResponseComplete),
        level: Some(Level::RequestResponse),
        source_ips: vec!["10.0.0.7".into()],
        user_agent: Some("kubectl/v1.36.0 (linux/amd64) kubernetes/abcdef".into()),
        ..AuditEvent::default()
    }
}

fn events() -> Vec<(&'static str, AuditEvent)> {
    let mut list_deployments = AuditEvent {
        user: user("alice@example.com", "system:authenticated"),
        verb: "list".into(),
        object: object("apps", "deployments", "", "shop", ""),
        uri: "/apis/apps/v1/namespaces/shop/deployments?limit=500".into(),
        ..base()
    };
    list_deployments
        .annotations
        .insert("authorization.k8s.io/decision".into(), "allow".into());
    let update_status = AuditEvent {
        user: user("system:node:worker-1", "system:nodes"),
        verb: "patch".into(),
        object: object("", "nodes", "status", "", "worker-1"),
        uri: "/api/v1/nodes/worker-1/status".into(),
        ..base()
    };
    let no_match = AuditEvent {
        user: user("bob", "developers"),
        verb: "get".into(),
        object: object("example.io", "widgets", "", "shop", "w"),
        uri: "/apis/example.io/v1/namespaces/shop/widgets/w".into(),
        ..base()
    };
    let healthz = AuditEvent {
        verb: "get".into(),
        uri: "/healthz?verbose=1".into(),
        ..base()
    };
    let secret = r#"{"kind":"Secret","apiVersion":"v1","metadata":{"name":"db","namespace":"shop","managedFields":[{"manager":"kubectl","operation":"Update"}],"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{}"}},"data":{"password":"aHVudGVyMg==","user":"YWRtaW4="},"type":"Opaque"}"#;
    let create_secret = AuditEvent {
        user: user("alice@example.com", "system:authenticated"),
        verb: "create".into(),
        object: object("", "secrets", "", "shop", "db"),
        uri: "/api/v1/namespaces/shop/secrets".into(),
        request_object: Some(RawJson::from_string(secret.into()).unwrap()),
        response_object: Some(RawJson::from_string(secret.into()).unwrap()),
        ..base()
    };
    let configmap = r#"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"app","namespace":"shop","resourceVersion":"42"},"data":{"app.properties":"color=blue\nsize=3\n"}}"#;
    let update_configmap_with_bodies = AuditEvent {
        user: user("alice@example.com", "system:authenticated"),
        verb: "update".into(),
        object: object("apps", "deployments", "", "shop", "app"),
        uri: "/apis/apps/v1/namespaces/shop/deployments/app".into(),
        request_object: Some(RawJson::from_string(configmap.into()).unwrap()),
        response_object: Some(RawJson::from_string(configmap.into()).unwrap()),
        ..base()
    };
    vec![
        ("list_matches_rule_14", list_deployments),
        ("node_status_patch", update_status),
        ("no_rule_matches_all_20_rules", no_match),
        ("healthz_dropped", healthz),
        (
            "bodies_unparsed_kept_verbatim",
            update_configmap_with_bodies,
        ),
        ("secret_create_redacted_parsed", create_secret),
    ]
}

fn apply(criterion: &mut Criterion) {
    let policy = policy();
    let permissive = Policy::permissive();
    let mut group = criterion.benchmark_group("apply");
    for (name, event) in events() {
        group.bench_function(name, |bencher| {
            bencher.iter_batched_ref(
                || event.clone(),
                |event| black_box(policy.apply(black_box(event))),
                BatchSize::SmallInput,
            );
        });
    }
    let (_, secret) = events().pop().unwrap();
    group.bench_function("permissive_secret_create", |bencher| {
        bencher.iter_batched_ref(
            || secret.clone(),
            |event| black_box(permissive.apply(black_box(event))),
            BatchSize::SmallInput,
        );
    });
    group.finish();
    let (_, list) = events().swap_remove(0);
    criterion.bench_function("evaluate/metadata_list", |bencher| {
        bencher.iter(|| black_box(policy.evaluate(black_box(&list))));
    });
}

criterion_group!(benches, apply);
criterion_main!(benches);
