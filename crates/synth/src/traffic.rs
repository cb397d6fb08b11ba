//! The traffic model: who sends which request, to what, with which query.
//!
//! Each scenario is one kind of real API-server client behaviour (a kubelet renewing its
//! lease, the scheduler binding a pod, an engineer running `kubectl exec`), picked by weight.
//! The weights are per request; with the defaults, nodes send about a third of all requests,
//! control-plane components and in-cluster controllers another third, probes and monitoring
//! a tenth, and people and CI the rest.

use event::{Actor, Timestamp};
use rand::RngExt;

use crate::catalog::{
    APPLICATIONS, CERTIFICATES, CLUSTER_ROLE_BINDINGS, CONFIGMAPS, DEPLOYMENTS, DISCOVERY_PATHS,
    EVENTS, HEALTH_PATHS, Kind, LEASES, NODES, PODS, SECRETS, SERVICES, TOKEN_REVIEWS,
};
use crate::cluster::{Cluster, Human, Named, Node, Principal, Workload};
use crate::ids::{hash, name_suffix};
use crate::objects::Patch;
use crate::status::Failure;
use crate::{SynthConfig, SynthRng};

/// One API request, before its outcome is decided.
#[derive(Debug)]
pub(crate) struct Request<'c> {
    /// The authenticated user; empty when authentication failed.
    pub(crate) user: Actor,
    pub(crate) impersonated: Option<Actor>,
    pub(crate) user_agent: Option<String>,
    pub(crate) source_ips: Vec<String>,
    pub(crate) verb: &'static str,
    pub(crate) target: Target<'c>,
    /// The query string, without `?`.
    pub(crate) query: String,
    /// The authorizer's reason when it allows the request.
    pub(crate) allow_reason: String,
    /// The authorizer's reason when it denies the request.
    pub(crate) deny_reason: String,
    /// The patch document, for `patch` requests.
    pub(crate) patch: Patch,
    /// A failure the scenario implies (an anonymous probe is always refused).
    pub(crate) forced: Option<Failure>,
    /// Failures this request can meet, weighted, when the error rate strikes; empty for
    /// the usual choice by verb.
    pub(crate) natural_failures: &'static [(u32, Failure)],
    /// How long a long-running request (watch, exec, log) stays open, in nanoseconds.
    pub(crate) open_ns: i64,
    /// The client sent DeleteOptions with a uid precondition (controllers do).
    pub(crate) delete_precondition: bool,
}

#[derive(Debug)]
pub(crate) enum Target<'c> {
    /// A non-resource URL such as `/healthz`.
    NonResource(&'static str),
    Resource(Resource<'c>),
}

/// The object or collection a resource request addresses.
#[derive(Debug, Clone)]
pub(crate) struct Resource<'c> {
    pub(crate) kind: &'static Kind,
    /// Empty for cluster-scoped objects and all-namespace collections.
    pub(crate) namespace: String,
    /// The object's name. For a create it is the name in the body (the path has none); for a
    /// create with `generateName`, the name the server will choose.
    pub(crate) name: String,
    pub(crate) generate_name: String,
    pub(crate) subresource: &'static str,
    /// A list or watch of one object through `fieldSelector=metadata.name=…`: the name is in
    /// the object reference but not in the path.
    pub(crate) by_field_selector: bool,
    pub(crate) workload: Option<&'c Workload>,
    pub(crate) node: Option<&'c Node>,
}

impl Resource<'_> {
    /// Whether the name appears in the request path.
    pub(crate) fn name_in_path(&self, verb: &str) -> bool {
        !self.name.is_empty()
            && !self.by_field_selector
            && (!matches!(verb, "create" | "list" | "watch" | "deletecollection")
                || !self.subresource.is_empty())
    }
}

/// Draws requests.
pub(crate) struct Traffic<'c, 'r> {
    pub(crate) cluster: &'c Cluster,
    pub(crate) config: &'c SynthConfig,
    pub(crate) rng: &'r mut SynthRng,
    pub(crate) now: Timestamp,
    pub(crate) resource_version: u64,
}

type Scenario = for<'c, 'r, 's> fn(&'s mut Traffic<'c, 'r>) -> Request<'c>;

/// Scenarios and their weights (per mille of authenticated requests).
const SCENARIOS: &[(u32, Scenario)] = &[
    (125, kubelet_lease),
    (60, kubelet_node),
    (40, kubelet_pod_status),
    (35, kubelet_watch),
    (15, kubelet_get),
    (30, kubelet_event),
    (30, controller_manager_lease),
    (25, scheduler_lease),
    (10, scheduler_bind),
    (40, informer_watch),
    (12, informer_list),
    (12, replica_set_controller),
    (15, deployment_status),
    (10, garbage_collector),
    (10, namespace_cleanup),
    (5, root_ca_publisher),
    (8, node_controller),
    (15, controller_event),
    (8, token_review),
    (10, cert_manager),
    (15, argocd),
    (20, prometheus_metrics),
    (70, health_probe),
    (8, version_check),
    (22, human_discovery),
    (45, human_read),
    (8, human_logs),
    (5, human_exec),
    (28, human_change),
    (10, human_secrets),
    (4, human_rbac),
    (3, human_watch),
    (4, human_nodes),
    (20, helm),
    (10, ci_kubectl),
];

const TIMEOUT_10S: &str = "timeout=10s";
const KUBECTL_TIMEOUT: &str = "timeout=32s";
const PUBLIC_INFO: &str = "RBAC: allowed by ClusterRoleBinding \"system:public-info-viewer\" of ClusterRole \"system:public-info-viewer\" to Group \"system:unauthenticated\"";
const DISCOVERY: &str = "RBAC: allowed by ClusterRoleBinding \"system:discovery\" of ClusterRole \"system:discovery\" to Group \"system:authenticated\"";

/// Failures by verb when the error rate strikes, weighted.
fn failures_for(verb: &str) -> &'static [(u32, Failure)] {
    use Failure::{AlreadyExists, Conflict, Forbidden, Invalid, NotFound, Throttled, Webhook};
    match verb {
        "get" => &[
            (70, NotFound),
            (20, Forbidden),
            (5, Throttled),
            (5, Webhook),
        ],
        "list" | "watch" => &[(70, Forbidden), (30, Throttled)],
        "create" => &[
            (40, AlreadyExists),
            (20, Invalid),
            (20, Forbidden),
            (15, Webhook),
            (5, Throttled),
        ],
        "update" => &[
            (60, Conflict),
            (15, Invalid),
            (10, NotFound),
            (5, Forbidden),
            (10, Webhook),
        ],
        "patch" => &[
            (30, Invalid),
            (30, NotFound),
            (10, Conflict),
            (15, Forbidden),
            (15, Webhook),
        ],
        "delete" => &[(60, NotFound), (25, Forbidden), (15, Webhook)],
        _ => &[(60, Forbidden), (40, Webhook)],
    }
}

impl<'c> Traffic<'c, '_> {
    /// The next authenticated or unauthenticated request.
    pub(crate) fn next_request(&mut self) -> Request<'c> {
        if self.chance(self.config.unauthenticated_rate) {
            return self.unauthenticated();
        }
        let total: u32 = SCENARIOS.iter().map(|(weight, _)| weight).sum();
        let mut draw = self.rng.random_range(0..total);
        for (weight, scenario) in SCENARIOS {
            if draw < *weight {
                return scenario(self);
            }
            draw -= weight;
        }
        health_probe(self)
    }

    /// The failures a request can meet when the error rate strikes.
    pub(crate) fn failures(request: &Request<'_>) -> &'static [(u32, Failure)] {
        if request.natural_failures.is_empty() {
            failures_for(request.verb)
        } else {
            request.natural_failures
        }
    }

    fn chance(&mut self, probability: f64) -> bool {
        self.rng.random_bool(probability.clamp(0.0, 1.0))
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.rng.random_range(0..items.len())]
    }

    fn node(&mut self) -> &'c Node {
        let nodes = &self.cluster.nodes;
        &nodes[self.rng.random_range(0..nodes.len())]
    }

    fn workload(&mut self) -> &'c Workload {
        let workloads = &self.cluster.workloads;
        &workloads[self.rng.random_range(0..workloads.len())]
    }

    fn namespace(&mut self) -> &'c str {
        let namespaces = &self.cluster.namespaces;
        &namespaces[self.rng.random_range(0..namespaces.len())]
    }

    /// A running pod, with its workload and node.
    fn pod(&mut self) -> (&'c Workload, &'c str, &'c Node) {
        let workload = self.workload();
        let pod = &workload.pods[self.rng.random_range(0..workload.pods.len())];
        (workload, &pod.name, &self.cluster.nodes[pod.node])
    }

    /// An existing object of `kind` in `namespace` (any namespace when empty).
    fn existing(&mut self, kind: &'static Kind, namespace: &'c str) -> Resource<'c> {
        let objects = self.cluster.objects(kind.resource, namespace);
        let named = if objects.is_empty() {
            Named {
                name: format!("{}-0", kind.resource),
                workload: None,
                node: None,
            }
        } else {
            objects[self.rng.random_range(0..objects.len())].clone()
        };
        let namespace = match named.workload {
            Some(workload) if kind.namespaced && namespace.is_empty() => workload.namespace.clone(),
            _ => namespace.to_owned(),
        };
        Resource {
            namespace,
            name: named.name,
            workload: named.workload,
            node: named.node,
            ..collection(kind, "")
        }
    }

    fn request(
        &self,
        principal: &Principal,
        verb: &'static str,
        target: Resource<'c>,
    ) -> Request<'c> {
        let allow_reason = principal.grant.reason(&target.namespace);
        Request {
            user: principal.actor.clone(),
            impersonated: None,
            user_agent: Some(principal.user_agent.clone()),
            source_ips: vec![principal.source_ip.clone()],
            verb,
            target: Target::Resource(target),
            query: String::new(),
            allow_reason,
            deny_reason: String::new(),
            patch: Patch::Labels,
            forced: None,
            natural_failures: &[],
            open_ns: 0,
            delete_precondition: false,
        }
    }

    fn non_resource(&self, principal: &Principal, path: &'static str, reason: &str) -> Request<'c> {
        Request {
            target: Target::NonResource(path),
            allow_reason: reason.to_owned(),
            natural_failures: &[(100, Failure::Throttled)],
            ..self.request(principal, "get", collection(&NODES, ""))
        }
    }

    /// A client-go reflector's watch query, and how long the watch stays open.
    fn watch_query(&mut self, field_selector: &str) -> (String, i64) {
        let seconds = self.rng.random_range(300..600_i64);
        let timeout = self.rng.random_range(300..600_i64);
        let rv = self.resource_version - self.rng.random_range(0..5_000_u64);
        let selector = if field_selector.is_empty() {
            String::new()
        } else {
            format!("&fieldSelector={field_selector}")
        };
        let query = format!(
            "allowWatchBookmarks=true{selector}&resourceVersion={rv}&timeout={}m{}s&timeoutSeconds={timeout}&watch=true",
            timeout / 60,
            timeout % 60
        );
        (
            query,
            seconds.min(timeout) * 1_000_000_000 + self.rng.random_range(0..1_000_000_000),
        )
    }

    fn watch(&mut self, mut request: Request<'c>, field_selector: &str) -> Request<'c> {
        let (query, open_ns) = self.watch_query(field_selector);
        request.query = query;
        request.open_ns = open_ns;
        request
    }

    fn unauthenticated(&mut self) -> Request<'c> {
        const AGENTS: [&str; 3] = ["curl/8.5.0", "python-requests/2.32.3", "Go-http-client/1.1"];
        let outside = Principal {
            actor: Actor::default(),
            user_agent: (*self.pick(&AGENTS)).to_owned(),
            source_ip: format!("203.0.113.{}", self.rng.random_range(2..250)),
            grant: crate::cluster::Grant::Node,
        };
        let (verb, target) = match self.rng.random_range(0..4) {
            0 => ("list", collection(&SECRETS, "kube-system")),
            1 => ("list", collection(&PODS, "")),
            2 => ("list", collection(&NODES, "")),
            _ => ("get", named(&CONFIGMAPS, "kube-system", "kubeadm-config")),
        };
        let mut request = self.request(&outside, verb, target);
        if self.chance(0.5) {
            // Failed authentication: a bad or expired token.
            request.forced = Some(Failure::Unauthorized);
            if self.chance(0.3) {
                request.target =
                    Target::NonResource(if self.chance(0.5) { "/api" } else { "/version" });
                request.verb = "get";
            }
        } else {
            // Anonymous access is enabled, but RBAC refuses system:anonymous.
            request.user = Actor {
                name: "system:anonymous".to_owned(),
                groups: Some(vec!["system:unauthenticated".to_owned()]),
                ..Actor::default()
            };
            request.forced = Some(Failure::Forbidden);
            if self.chance(0.3) {
                request.target = Target::NonResource("/metrics");
                request.verb = "get";
            }
        }
        request.allow_reason = String::new();
        request
    }
}

/// A collection (or, once a name is set, an object) of `kind` in `namespace`.
fn collection<'c>(kind: &'static Kind, namespace: &str) -> Resource<'c> {
    Resource {
        kind,
        namespace: namespace.to_owned(),
        name: String::new(),
        generate_name: String::new(),
        subresource: "",
        by_field_selector: false,
        workload: None,
        node: None,
    }
}

fn named<'c>(kind: &'static Kind, namespace: &str, name: &str) -> Resource<'c> {
    Resource {
        name: name.to_owned(),
        ..collection(kind, namespace)
    }
}

// ---- nodes -------------------------------------------------------------------------------

fn kubelet_lease<'c>(traffic: &mut Traffic<'c, '_>) -> Request<'c> {
    let node = traffic.node();
    let verb = if traffic.chance(0.95) {
        "update"
    } else {
        "get"
    };
    let target = Resource {
        node: Some(node),
        ..named(&LEASES, "kube-node-lease", &node.name)
    };
    let mut request = traffic.request(&node.kubelet, verb, target);
    request.query = TIMEOUT_10S.to_owned();
    request.natural_failures = &[(80, Failure::Conflict), (20, Failure::Throttled)];
    request
}

fn kubelet_node<'c>(traffic: &mut Traffic<'c, '_>) -> Request<'c> {
    let node = traffic.node();
    let mut target = Resource {
        node: Some(node),
        ..named(&NODES, "", &node.name)
    };
    if traffic.chance(0.7) {
        target.subresource = "status";
        let mut request = traffic.request(&node.kubelet, "patch", target);
        request.patch = Patch::NodeStatus;
        request.query = TIMEOUT_10S.to_owned();
        request
    } else {
        let mut request = traffic.request(&node.kubelet, "get", target);
        request.query = format!("resourceVersion=0&{TIMEOUT_10S}");
        request
    }
}

fn kubelet_pod_status<'c>(traffic: &mut Traffic<'c, '_>) -> Request<'c> {
    let (workload, pod, node) = traffic.pod();
    let target = Resource {
        subresource: "status",
        workload: Some(workload),
        node: Some(node),
        ..named(&PODS, &workload.namespace, pod)
    };
    let mut request = traffic.request(&node.kubelet, "patch", target);
    request.patch = Patch::PodStatus;
    request
}

fn kubelet_watch<'c>(traffic: &mut Traffic<'c, '_>) -> Request<'c> {
    let (workload, _, node) = traffic.pod();
    let (target, selector) = match traffic.rng.random_range(0..5) {
        0 => (
            collection(&PODS, ""),
            format!("spec.nodeName%3D{}", node.name),
        ),
        1 => (collection(&SERVICES, ""), String::new()),
        2 => (
            Resource {
                by_field_selector: true,
                node: Some(node),
                ..named(&NODES, "", &node.name)
            },
            format!("metadata.name%3D{}", node.name),
        ),
        choice => {
            let (kind, name) = if choice == 3 {
                (&CONFIGMAPS, format!("{}-config", workload.app))
            } else {
                (&SECRETS, format!("{}-db-credentials", workload.app))
            };
            let selector = format!("metadata.name%3D{name}");
            let target = Resource {
                by_field_selector: true,
                workload: Some(workload),
                ..named(kind, &workload.namespace, &name)
            };
            (target, selector)
        }
    };
    let request = traffic.request(&node.kubelet, "watch", target);
    traffic.watch(request, &selector)
}

fn kubelet_get<'c>(traffic: &mut Traffic<'c, '_>) -> Request<'c> {
    let (workload, _, node) = traffic.pod();
    let (kind, name) = match traffic.rng.random_range(0..3) {
        0 => (&CONFIGMAPS, "kube-root-ca.crt".to_owned()),
        1 => (&CONFIGMAPS, format!("{}-config", workload.app)),
        _ => (&SECRETS, format!("{}-db-credentials", workload.app)),
    };
    let target = Resource {
        workload: Some(workload),
        ..named(kind, &workload.namespace, &name)
    };
    let mut request = traffic.request(&node.kubelet, "get", target);
    if traffic.chance(0.3) {
        // The node authorizer only allows objects that pods bound to the node use.
        request.deny_reason = format!(
            "no relationship found between node '{}' and this object",
            node.name
        );
        request.natural_failures = &[(70, Failure::Forbidden), (30, Failure::NotFound)];
    }
    request
}

fn kubelet_event<'c>(traffic: &mut Traffic<'c, '_>) -> Request<'c> {
    let (workload, pod, node) = traffic.pod();
    let name = format!(
        "{pod}.{:x}",
        traffic.now.unix_nanos() as u64 & 0xffff_ffff_ffff
    );
    let target = Resource {
        workload: Some(workload),
        node: Some(node),
        ..named(&EVENTS, &workload.namespace, &name)
    };
    let verb = if traffic.chance(0.8) {
        "create"
    } else {
        "patch"
    };
    let mut request = traffic.request(&node.kubelet, verb, target);
    request.patch = Patch::EventCount;
    request
}

// ---- control plane -----------------------------------------------------------------------

fn leader_lease<'c>(
    traffic: &mut Traffic<'c, '_>,
    principal: &Principal,
    name: &str,
) -> Request<'c> {
    let verb = if traffic.chance(0.9) { "update" } else { "get" };
    let mut request = traffic.request(principal, verb, named(&LEASES, "kube-system", name));
    request.query = "timeout=5s".to_owned();
    request.natural_failures = &[(90, Failure::Conflict), (10, Failure::Throttled)];
    request
}

fn controller_manager_lease<'c>(traffic: &mut Traffic<'c, '_>) -> Request<'c> {
    let cluster = traffic.cluster;
    leader_lease(
        traffic,
        &cluster.controller_manager,
        "kube-controller-manager",
    )
}

fn scheduler_lease<'c>(traffic: &mut Traffic<'c, '_>) -> Request<'c> {
    let cluster = traffic.cluster;
    let mut request = leader_lease(traffic, &cluster.scheduler, "kube-scheduler");
    request.user_agent = request
        .user_agent
        .map(|agent| agent.replace("/scheduler", "/leader-election"));
    request
}

fn scheduler_bind<'c>(traffic: &mut Traffic<'c, '_>) -> Request<'c> {
    let (workload, pod, node) = traffic.pod();
    let target = Resource {
        subresource: "binding",
        workload: Some(workload),
        node: Some(node),
        ..named(&PODS, &workload.namespace, pod)
    };
    let mut request = traffic.request(&traffic.cluster.scheduler, "create", target);
    request.natural_failures = &[(70, Failure::Conflict), (30, Failure::NotFound)];
    request
}

/// A control-plane informer: kube-controller-manager's shared informers or the scheduler.
fn informer(traffic: &mut Traffic<'_, '_>) -> (&'static Kind, Option<String>, bool) {
    const KINDS: [&Kind; 8] = [
        &PODS,
        &DEPLOYMENTS,
        &CONFIGMAPS,
        &SECRETS,
        &NODES,
        &LEASES,
        &SERVICES,
        &EVENTS,
    ];
    let kind = *traffic.pick(&KINDS);
    let scheduler = traffic.chance(0.3);
    let agent = traffic
        .cluster
        .controller_manager
        .user_agent
        .replace("/leader-election", "/shared-informers");
    (kind, (!scheduler).then_some(agent), scheduler)
}

fn informer_watch<'c>(traffic: &mut Traffic<'c, '_>) -> Request<'c> {
    let (kind, agent, scheduler) = informer(traffic);
    let cluster = traffic.cluster;
    let principal = if scheduler {
        &cluster.scheduler
    } else {
        &cluster.controller_manager
    };
    let mut request = traffic.request(principal, "watch", collection(kind, ""));
    if let Some(agent) = agent {
        request.user_agent = Some(agent);
    }
    traffic.watch(request, "")
}

fn informer_list<'c>(traffic: &mut Traffic<'c, '_>) -> Request<'c> {
    let (kind, agent, scheduler) = informer(traffic);
    let cluster = traffic.cluster;
    let principal = if scheduler {
        &cluster.scheduler
    } else {
        &cluster.controller_manager
    };
    let mut request = traffic.request(principal, "list", collection(kind, ""));
    if let Some(agent) = agent {
        request.user_agent = Some(agent);
    }
    request.query = "limit=500&resourceVersion=0".to_owned();
    request
}

fn replica_set_controller<'c>(traffic: &mut Traffic<'c, '_>) -> Request<'c> {
    let principal = traffic.cluster.controller("replicaset-controller");
    if traffic.chance(0.7) {
        let workload = traffic.workload();
        let prefix = format!("{}-", workload.replica_set());
        let suffix = name_suffix(traffic.rng.random(), 5);
        let target = Resource {
            name: format!("{prefix}{suffix}"),
            generate_name: prefix,
            workload: Some(workload),
            ..collection(&PODS, &workload.namespace)
        };
        return traffic.request(principal, "create", target);
    }
    let (workload, pod, node) = traffic.pod();
    let target = Resource {
        workload: Some(workload),
        node: Some(node),
        ..named(&PODS, &workload.namespace, pod)
    };
    let mut request = traffic.request(principal, "delete", target);
    request.delete_precondition = true;
    request
}

fn deployment_status<'c>(traffic: &mut Traffic<'c, '_>) -> Request<'c> {
    let principal = traffic.cluster.controller("deployment-controller");
    let workload = traffic.workload();
    let target = Resource {
        subresource: "status",
        workload: Some(workload),
        ..named(&DEPLOYMENTS, &workload.namespace, workload.app)
    };
    traffic.request(principal, "update", target)
}

fn garbage_collector<'c>(traffic: &mut Traffic<'c, '_>) -> Request<'c> {
    let principal = traffic.cluster.controller("generic-garbage-collector");
    // Dependents of deleted owners, Secrets among them (an operator's generated
    // credentials, a Certificate's key pair).
    let kind = *traffic.pick(&[&PODS, &CONFIGMAPS, &DEPLOYMENTS, &SECRETS]);
    let namespace = traffic.namespace();
    let target = traffic.existing(kind, namespace);
    let verb = if traffic.chance(0.5) { "get" } else { "delete" };
    let mut request = traffic.request(principal, verb, target);
    request.delete_precondition = true;
    request
}

fn namespace_cleanup<'c>(traffic: &mut Traffic<'c, '_>) -> Request<'c> {
    let principal = traffic.cluster.controller("namespace-controller");
    // Preview environments come and go: a new one is torn down every ten minutes.
    let namespace = format!(
        "preview-pr-{}",
        100 + traffic.now.unix_seconds() / 600 % 900
    );
    let kind = *traffic.pick(&[
        &PODS,
        &CONFIGMAPS,
        &SECRETS,
        &SERVICES,
        &DEPLOYMENTS,
        &EVENTS,
        &LEASES,
    ]);
    let verb = if traffic.chance(0.7) {
        "deletecollection"
    } else {
        "list"
    };
    let mut request = traffic.request(principal, verb, collection(kind, &namespace));
    if verb == "list" {
        request.query = "limit=500".to_owned();
    }
    request
}

fn root_ca_publisher<'c>(traffic: &mut Traffic<'c, '_>) -> Request<'c> {
    let principal = traffic.cluster.controller("root-ca-cert-publisher");
    let namespace = traffic.namespace();
    let verb = if traffic.chance(0.5) { "get" } else { "update" };
    traffic.request(
        principal,
        verb,
        named(&CONFIGMAPS, namespace, "kube-root-ca.crt"),
    )
}

fn node_controller<'c>(traffic: &mut Traffic<'c, '_>) -> Request<'c> {
    let principal = traffic.cluster.controller("node-controller");
    let node = traffic.node();
    let target = Resource {
        node: Some(node),
        ..named(&NODES, "", &node.name)
    };
    if traffic.chance(0.8) {
        return traffic.request(principal, "get", target);
    }
    let mut request = traffic.request(principal, "patch", target);
    request.patch = Patch::Labels;
    request
}

fn controller_event<'c>(traffic: &mut Traffic<'c, '_>) -> Request<'c> {
    let controller = *traffic.pick(&[
        "deployment-controller",
        "replicaset-controller",
        "job-controller",
    ]);
    let principal = traffic.cluster.controller(controller);
    let (workload, pod, node) = traffic.pod();
    let name = format!(
        "{pod}.{:x}",
        traffic.now.unix_nanos() as u64 & 0xffff_ffff_ffff
    );
    let target = Resource {
        workload: Some(workload),
        node: Some(node),
        ..named(&EVENTS, &workload.namespace, &name)
    };
    traffic.request(principal, "create", target)
}

fn token_review<'c>(traffic: &mut Traffic<'c, '_>) -> Request<'c> {
    let workload = traffic.workload();
    let target = Resource {
        workload: Some(workload),
        ..collection(&TOKEN_REVIEWS, "")
    };
    let mut request = traffic.request(&traffic.cluster.metrics_server, "create", target);
    request.natural_failures = &[(60, Failure::Throttled), (40, Failure::Webhook)];
    request
}

fn cert_manager<'c>(traffic: &mut Traffic<'c, '_>) -> Request<'c> {
    let principal = &traffic.cluster.cert_manager;
    let namespace = traffic.namespace();
    let mut target = traffic.existing(&CERTIFICATES, namespace);
    match traffic.rng.random_range(0..5) {
        0 | 1 => traffic.request(principal, "get", target),
        2 => {
            target.subresource = "status";
            traffic.request(principal, "update", target)
        }
        choice => {
            let target = Resource {
                kind: &SECRETS,
                ..target
            };
            traffic.request(
                principal,
                if choice == 3 { "get" } else { "update" },
                target,
            )
        }
    }
}

fn argocd<'c>(traffic: &mut Traffic<'c, '_>) -> Request<'c> {
    let principal = &traffic.cluster.argocd;
    let mut application = traffic.existing(&APPLICATIONS, "");
    application.namespace = "argocd".to_owned();
    match traffic.rng.random_range(0..10) {
        0 => {
            let request = traffic.request(principal, "watch", collection(&APPLICATIONS, "argocd"));
            traffic.watch(request, "")
        }
        1 => {
            let mut request =
                traffic.request(principal, "list", collection(&APPLICATIONS, "argocd"));
            request.query = "limit=500".to_owned();
            request
        }
        2..=5 => {
            let mut request = traffic.request(principal, "patch", application);
            request.patch = Patch::ApplicationStatus;
            request
        }
        6..=8 => {
            let namespace = traffic.namespace();
            let target = traffic.existing(&DEPLOYMENTS, namespace);
            traffic.request(principal, "get", target)
        }
        _ => {
            let namespace = traffic.namespace();
            let target = traffic.existing(&DEPLOYMENTS, namespace);
            let mut request = traffic.request(principal, "patch", target);
            request.patch = Patch::Labels;
            request.query = "fieldManager=argocd-controller".to_owned();
            request
        }
    }
}

// ---- monitoring and probes ---------------------------------------------------------------

fn prometheus_metrics<'c>(traffic: &mut Traffic<'c, '_>) -> Request<'c> {
    let principal = &traffic.cluster.prometheus;
    traffic.non_resource(principal, "/metrics", &principal.grant.reason(""))
}

fn health_probe<'c>(traffic: &mut Traffic<'c, '_>) -> Request<'c> {
    let anonymous = Principal {
        actor: Actor {
            name: "system:anonymous".to_owned(),
            groups: Some(vec!["system:unauthenticated".to_owned()]),
            ..Actor::default()
        },
        user_agent: "kube-probe/1.31".to_owned(),
        source_ip: traffic.cluster.nodes[0].ip.clone(),
        grant: crate::cluster::Grant::Node,
    };
    let mut request = traffic.non_resource(&anonymous, HEALTH_PATHS[1], PUBLIC_INFO);
    if traffic.chance(0.7) {
        // kubelet probing the API server's static pod.
        let path = HEALTH_PATHS[traffic.rng.random_range(1..HEALTH_PATHS.len())];
        request.target = Target::NonResource(path);
    } else {
        // The load balancer in front of the API servers; some send no user agent.
        let path = HEALTH_PATHS[traffic.rng.random_range(0..2)];
        request.target = Target::NonResource(path);
        request.source_ips = vec![traffic.cluster.proxy_ip.clone()];
        request.user_agent = traffic
            .chance(0.5)
            .then(|| "ELB-HealthChecker/2.0".to_owned());
    }
    request
}

fn version_check<'c>(traffic: &mut Traffic<'c, '_>) -> Request<'c> {
    let cluster = traffic.cluster;
    let principal = *traffic.pick(&[&cluster.argocd, &cluster.prometheus, &cluster.deployer]);
    let reason = PUBLIC_INFO.replace("system:unauthenticated", "system:authenticated");
    traffic.non_resource(principal, "/version", &reason)
}

// ---- people ------------------------------------------------------------------------------

/// An engineer, the most active first (alice and bob send most human requests).
fn human<'c>(traffic: &mut Traffic<'c, '_>) -> &'c Human {
    let humans = &traffic.cluster.humans;
    let first = traffic.rng.random_range(0..humans.len());
    let second = traffic.rng.random_range(0..humans.len());
    &humans[first.min(second)]
}

/// A kubectl request by `human`: sometimes through the authenticating proxy (an
/// X-Forwarded-For chain), sometimes impersonating someone else.
fn kubectl<'c>(
    traffic: &mut Traffic<'c, '_>,
    human: &'c Human,
    verb: &'static str,
    target: Resource<'c>,
) -> Request<'c> {
    let mut request = traffic.request(&human.principal, verb, target);
    if traffic.chance(0.15) {
        request.source_ips.push(traffic.cluster.proxy_ip.clone());
    }
    if traffic.chance(traffic.config.impersonation_rate) {
        impersonate(traffic, &mut request);
    }
    request
}

/// An administrator runs the request `--as` someone else, to check what they can do.
fn impersonate(traffic: &mut Traffic<'_, '_>, request: &mut Request<'_>) {
    let cluster = traffic.cluster;
    let Some(admin) = cluster.humans.iter().find(|human| human.is_admin()) else {
        return;
    };
    let namespace = match &request.target {
        Target::Resource(resource) => resource.namespace.clone(),
        Target::NonResource(_) => String::new(),
    };
    let as_user = cluster.humans.iter().find(|human| !human.is_admin());
    let (actor, reason) = match as_user {
        Some(developer) if traffic.chance(0.6) => (
            developer.principal.actor.clone(),
            developer.principal.grant.reason(&namespace),
        ),
        _ => {
            let account_namespace = if namespace.is_empty() {
                "default"
            } else {
                &namespace
            };
            let actor = Actor {
                name: format!("system:serviceaccount:{account_namespace}:default"),
                groups: Some(vec![
                    "system:serviceaccounts".to_owned(),
                    format!("system:serviceaccounts:{account_namespace}"),
                    "system:authenticated".to_owned(),
                ]),
                ..Actor::default()
            };
            (actor, String::new())
        }
    };
    request.user = admin.principal.actor.clone();
    request.user_agent = Some(admin.principal.user_agent.clone());
    request.source_ips[0].clone_from(&admin.principal.source_ip);
    if reason.is_empty() || traffic.chance(0.4) {
        request.forced = Some(Failure::Forbidden);
    }
    request.allow_reason = reason;
    request.impersonated = Some(actor);
}

fn human_discovery<'c>(traffic: &mut Traffic<'c, '_>) -> Request<'c> {
    let human = human(traffic);
    let path = *traffic.pick(&DISCOVERY_PATHS);
    let reason = if path == "/version" {
        PUBLIC_INFO.replace("system:unauthenticated", "system:authenticated")
    } else {
        DISCOVERY.to_owned()
    };
    let mut request = traffic.non_resource(&human.principal, path, &reason);
    request.query = KUBECTL_TIMEOUT.to_owned();
    request
}

fn human_read<'c>(traffic: &mut Traffic<'c, '_>) -> Request<'c> {
    let human = human(traffic);
    let kind = *traffic.pick(&[
        &PODS,
        &PODS,
        &PODS,
        &DEPLOYMENTS,
        &DEPLOYMENTS,
        &SERVICES,
        &CONFIGMAPS,
        &EVENTS,
    ]);
    let namespace = traffic.namespace();
    if kind.resource == "events" || traffic.chance(0.45) {
        let mut request = kubectl(traffic, human, "list", collection(kind, namespace));
        request.query = "limit=500".to_owned();
        return request;
    }
    let target = traffic.existing(kind, namespace);
    kubectl(traffic, human, "get", target)
}

fn human_logs<'c>(traffic: &mut Traffic<'c, '_>) -> Request<'c> {
    let human = human(traffic);
    let (workload, pod, node) = traffic.pod();
    let target = Resource {
        subresource: "log",
        workload: Some(workload),
        node: Some(node),
        ..named(&PODS, &workload.namespace, pod)
    };
    let mut request = kubectl(traffic, human, "get", target);
    if traffic.chance(0.4) {
        request.query = format!("container={}&follow=true&tailLines=100", workload.app);
        request.open_ns = traffic.rng.random_range(5_000_000_000..300_000_000_000);
    } else {
        request.query = format!("container={}", workload.app);
        request.open_ns = traffic.rng.random_range(20_000_000..900_000_000);
    }
    request
}

fn human_exec<'c>(traffic: &mut Traffic<'c, '_>) -> Request<'c> {
    const COMMANDS: [&str; 4] = [
        "command=sh",
        "command=bash",
        "command=sh&command=-c&command=env",
        "command=cat&command=%2Fvar%2Frun%2Fsecrets%2Fkubernetes.io%2Fserviceaccount%2Ftoken",
    ];
    let human = human(traffic);
    let (workload, pod, node) = traffic.pod();
    let target = Resource {
        subresource: "exec",
        workload: Some(workload),
        node: Some(node),
        ..named(&PODS, &workload.namespace, pod)
    };
    // kubectl 1.30+ uses WebSockets (GET); older clients POST with SPDY.
    let verb = if traffic.chance(0.7) { "get" } else { "create" };
    let mut request = kubectl(traffic, human, verb, target);
    let command = *traffic.pick(&COMMANDS);
    let interactive = !command.contains("&command=");
    request.query = if interactive {
        format!(
            "{command}&container={}&stdin=true&stdout=true&tty=true",
            workload.app
        )
    } else {
        format!(
            "{command}&container={}&stderr=true&stdout=true",
            workload.app
        )
    };
    request.open_ns = if interactive {
        traffic.rng.random_range(5_000_000_000..600_000_000_000)
    } else {
        traffic.rng.random_range(100_000_000..2_000_000_000)
    };
    request
}

fn human_change<'c>(traffic: &mut Traffic<'c, '_>) -> Request<'c> {
    let human = human(traffic);
    let namespace = traffic.namespace();
    let choice = traffic.rng.random_range(0..10);
    let (verb, kind, patch, query) = match choice {
        0 | 1 => (
            "patch",
            &DEPLOYMENTS,
            Patch::Apply,
            "fieldManager=kubectl-client-side-apply&fieldValidation=Strict",
        ),
        2 => (
            "update",
            &DEPLOYMENTS,
            Patch::Labels,
            "fieldManager=kubectl-edit&fieldValidation=Strict",
        ),
        3 => (
            "patch",
            &DEPLOYMENTS,
            Patch::Json,
            "fieldManager=kubectl-patch",
        ),
        4 => (
            "patch",
            &DEPLOYMENTS,
            Patch::Restart,
            "fieldManager=kubectl-rollout",
        ),
        5 => (
            "create",
            &CONFIGMAPS,
            Patch::Labels,
            "fieldManager=kubectl-create&fieldValidation=Strict",
        ),
        6 => (
            "patch",
            &CONFIGMAPS,
            Patch::Data,
            "fieldManager=kubectl-patch",
        ),
        7 => (
            "patch",
            &SERVICES,
            Patch::Labels,
            "fieldManager=kubectl-label",
        ),
        8 => ("delete", &PODS, Patch::Labels, ""),
        _ => ("delete", &CONFIGMAPS, Patch::Labels, ""),
    };
    let mut target = traffic.existing(kind, namespace);
    if verb == "create" {
        let suffix = name_suffix(traffic.rng.random(), 4);
        target.name = format!("{}-{suffix}", target.name);
    }
    let mut request = kubectl(traffic, human, verb, target);
    request.patch = patch;
    request.query = query.to_owned();
    request
}

fn human_secrets<'c>(traffic: &mut Traffic<'c, '_>) -> Request<'c> {
    let human = human(traffic);
    let namespace = traffic.namespace();
    let mut target = traffic.existing(&SECRETS, namespace);
    let choice = traffic.rng.random_range(0..20);
    let (verb, query) = match choice {
        0..=6 => ("get", ""),
        7..=11 => ("list", "limit=500"),
        12..=14 => (
            "create",
            "fieldManager=kubectl-client-side-apply&fieldValidation=Strict",
        ),
        15..=16 => ("update", "fieldManager=kubectl-edit&fieldValidation=Strict"),
        17..=18 => ("patch", "fieldManager=kubectl-patch"),
        // Rotating credentials: delete the Secret, then create it anew.
        _ => ("delete", ""),
    };
    if verb == "list" {
        target = collection(&SECRETS, namespace);
    } else if verb == "create" || verb == "delete" || target.name.starts_with("sh.helm") {
        let workload = target.workload.unwrap_or_else(|| traffic.workload());
        target.name = format!("{}-db-credentials", workload.app);
        target.workload = Some(workload);
    }
    let mut request = kubectl(traffic, human, verb, target);
    request.patch = Patch::Data;
    request.query = query.to_owned();
    // Developers may not read secrets in every namespace.
    if !human.is_admin()
        && request.impersonated.is_none()
        && hash(traffic.cluster.seed, &[namespace, human.team]).is_multiple_of(2)
    {
        request.forced = Some(Failure::Forbidden);
    }
    request
}

fn human_rbac<'c>(traffic: &mut Traffic<'c, '_>) -> Request<'c> {
    let human = human(traffic);
    let user = human
        .principal
        .actor
        .name
        .split('@')
        .next()
        .unwrap_or("user");
    let binding = format!("{user}-cluster-admin");
    let (verb, target, query) = match traffic.rng.random_range(0..4) {
        0 => ("list", collection(&CLUSTER_ROLE_BINDINGS, ""), "limit=500"),
        1 => ("get", traffic.existing(&CLUSTER_ROLE_BINDINGS, ""), ""),
        2 => (
            "create",
            named(&CLUSTER_ROLE_BINDINGS, "", &binding),
            "fieldManager=kubectl-create&fieldValidation=Strict",
        ),
        _ => ("delete", named(&CLUSTER_ROLE_BINDINGS, "", &binding), ""),
    };
    let mut request = kubectl(traffic, human, verb, target);
    request.query = query.to_owned();
    if !human.is_admin() && verb != "list" && verb != "get" {
        // A developer trying to grant themselves cluster-admin.
        request.forced = Some(Failure::Forbidden);
    }
    request
}

fn human_watch<'c>(traffic: &mut Traffic<'c, '_>) -> Request<'c> {
    let human = human(traffic);
    let namespace = traffic.namespace();
    let mut request = kubectl(traffic, human, "watch", collection(&PODS, namespace));
    request.query = format!("resourceVersion={}&watch=true", traffic.resource_version);
    request.open_ns = traffic.rng.random_range(10_000_000_000..900_000_000_000);
    request
}

fn human_nodes<'c>(traffic: &mut Traffic<'c, '_>) -> Request<'c> {
    let human = human(traffic);
    let node = traffic.node();
    let target = Resource {
        node: Some(node),
        ..named(&NODES, "", &node.name)
    };
    let mut request = match traffic.rng.random_range(0..4) {
        0 => {
            let mut request = kubectl(traffic, human, "list", collection(&NODES, ""));
            request.query = "limit=500".to_owned();
            request
        }
        1 => kubectl(traffic, human, "get", target),
        2 => {
            let mut request = kubectl(traffic, human, "patch", target);
            request.patch = Patch::Cordon;
            request.query = "fieldManager=kubectl-cordon".to_owned();
            request
        }
        _ => {
            // kubectl drain evicts the node's pods; a PodDisruptionBudget may refuse.
            let (workload, pod, node) = traffic.pod();
            let target = Resource {
                subresource: "eviction",
                workload: Some(workload),
                node: Some(node),
                ..named(&PODS, &workload.namespace, pod)
            };
            let mut request = kubectl(traffic, human, "create", target);
            if traffic.chance(0.3) {
                request.forced = Some(Failure::DisruptionBudget);
            }
            request
        }
    };
    if !human.is_admin() && request.verb != "list" && request.verb != "get" {
        request.forced = Some(Failure::Forbidden);
    }
    request
}

// ---- CI ----------------------------------------------------------------------------------

fn helm<'c>(traffic: &mut Traffic<'c, '_>) -> Request<'c> {
    let principal = &traffic.cluster.deployer;
    let workload = traffic.workload();
    let namespace = workload.namespace.as_str();
    let release = traffic.cluster.helm_release(workload);
    let secret = Resource {
        workload: Some(workload),
        ..named(&SECRETS, namespace, &release)
    };
    match traffic.rng.random_range(0..10) {
        0..=2 => {
            let mut request = traffic.request(
                principal,
                "list",
                Resource {
                    name: String::new(),
                    ..secret
                },
            );
            request.query = format!("labelSelector=name%3D{}%2Cowner%3Dhelm", workload.app);
            request
        }
        3 => traffic.request(principal, "get", secret),
        4 => traffic.request(principal, "create", secret),
        // An upgrade stores a new release Secret and removes the oldest one kept.
        5 => match traffic.cluster.helm_pruned_release(workload) {
            Some(oldest) => {
                let target = Resource {
                    name: oldest,
                    ..secret
                };
                traffic.request(principal, "delete", target)
            }
            None => traffic.request(principal, "create", secret),
        },
        6 => traffic.request(principal, "update", secret),
        7 | 8 => {
            let target = Resource {
                workload: Some(workload),
                ..named(&DEPLOYMENTS, namespace, workload.app)
            };
            let mut request = traffic.request(principal, "patch", target);
            request.patch = Patch::Json;
            request.query = "fieldManager=helm".to_owned();
            request
        }
        _ => {
            let target = Resource {
                workload: Some(workload),
                ..named(&SERVICES, namespace, workload.app)
            };
            traffic.request(principal, "get", target)
        }
    }
}

fn ci_kubectl<'c>(traffic: &mut Traffic<'c, '_>) -> Request<'c> {
    let principal = &traffic.cluster.deployer;
    let namespace = traffic.namespace();
    let kind = *traffic.pick(&[&CONFIGMAPS, &SECRETS, &SERVICES, &DEPLOYMENTS]);
    let target = traffic.existing(kind, namespace);
    let verb = *traffic.pick(&["get", "update", "create", "patch"]);
    let mut request = traffic.request(principal, verb, target);
    request.user_agent = Some("kubectl/v1.31.0 (linux/amd64) kubernetes/9b1e5d4".to_owned());
    request.patch = if kind.resource == "deployments" {
        Patch::Restart
    } else {
        Patch::Labels
    };
    if verb != "get" {
        request.query = format!(
            "fieldManager=kubectl-{}",
            if verb == "patch" {
                "patch"
            } else {
                "client-side-apply"
            }
        );
    }
    request
}
