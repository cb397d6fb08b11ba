//! Static tables: the API resources the generator uses and the names it draws from.

/// An API resource type.
#[derive(Debug)]
pub(crate) struct Kind {
    /// Plural, lower case (`pods`).
    pub(crate) resource: &'static str,
    /// API group, empty for the core group.
    pub(crate) group: &'static str,
    pub(crate) version: &'static str,
    /// The object kind (`Pod`).
    pub(crate) kind: &'static str,
    pub(crate) namespaced: bool,
}

impl Kind {
    /// `group/version`, or just the version for the core group.
    pub(crate) fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The request path of a collection or object.
    pub(crate) fn path(&self, namespace: &str, name: &str, subresource: &str) -> String {
        let mut path = String::with_capacity(96);
        if self.group.is_empty() {
            path.push_str("/api/");
        } else {
            path.push_str("/apis/");
            path.push_str(self.group);
            path.push('/');
        }
        path.push_str(self.version);
        if !namespace.is_empty() {
            path.push_str("/namespaces/");
            path.push_str(namespace);
        }
        path.push('/');
        path.push_str(self.resource);
        if !name.is_empty() {
            path.push('/');
            path.push_str(name);
            if !subresource.is_empty() {
                path.push('/');
                path.push_str(subresource);
            }
        }
        path
    }
}

const fn kind(
    resource: &'static str,
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    namespaced: bool,
) -> Kind {
    Kind {
        resource,
        group,
        version,
        kind,
        namespaced,
    }
}

pub(crate) static PODS: Kind = kind("pods", "", "v1", "Pod", true);
pub(crate) static CONFIGMAPS: Kind = kind("configmaps", "", "v1", "ConfigMap", true);
pub(crate) static SECRETS: Kind = kind("secrets", "", "v1", "Secret", true);
pub(crate) static SERVICES: Kind = kind("services", "", "v1", "Service", true);
pub(crate) static EVENTS: Kind = kind("events", "", "v1", "Event", true);
pub(crate) static NODES: Kind = kind("nodes", "", "v1", "Node", false);
pub(crate) static DEPLOYMENTS: Kind = kind("deployments", "apps", "v1", "Deployment", true);
pub(crate) static LEASES: Kind = kind("leases", "coordination.k8s.io", "v1", "Lease", true);
pub(crate) static CLUSTER_ROLE_BINDINGS: Kind = kind(
    "clusterrolebindings",
    "rbac.authorization.k8s.io",
    "v1",
    "ClusterRoleBinding",
    false,
);
pub(crate) static TOKEN_REVIEWS: Kind = kind(
    "tokenreviews",
    "authentication.k8s.io",
    "v1",
    "TokenReview",
    false,
);
/// A custom resource (Argo CD).
pub(crate) static APPLICATIONS: Kind = kind(
    "applications",
    "argoproj.io",
    "v1alpha1",
    "Application",
    true,
);
/// A custom resource (cert-manager).
pub(crate) static CERTIFICATES: Kind =
    kind("certificates", "cert-manager.io", "v1", "Certificate", true);

/// The Kubernetes release every component reports.
pub(crate) const KUBE_VERSION: &str = "v1.31.0";
/// The `kubernetes/<commit>` part of client-go user agents.
pub(crate) const KUBE_COMMIT: &str = "9b1e5d4";

/// Application namespaces, in the order [`crate::SynthConfig::namespaces`] takes them.
pub(crate) const APP_NAMESPACES: [&str; 10] = [
    "default", "payments", "checkout", "web", "data", "staging", "team-a", "team-b", "search",
    "billing",
];

/// Workload names; each namespace runs a few of them.
pub(crate) const APPS: [&str; 12] = [
    "web", "api", "worker", "cache", "frontend", "checkout", "billing", "search", "auth", "queue",
    "reports", "gateway",
];

/// Human users, in the order [`crate::SynthConfig::users`] takes them, with their team group.
pub(crate) const HUMANS: [(&str, &str); 12] = [
    ("alice", "dev-team"),
    ("bob", "sre-team"),
    ("carol", "dev-team"),
    ("dave", "data-team"),
    ("erin", "sre-team"),
    ("frank", "dev-team"),
    ("grace", "data-team"),
    ("heidi", "dev-team"),
    ("ivan", "sre-team"),
    ("judy", "dev-team"),
    ("mallory", "dev-team"),
    ("oscar", "data-team"),
];

/// kubectl builds seen on engineers' machines.
pub(crate) const KUBECTL_AGENTS: [&str; 4] = [
    "kubectl/v1.31.0 (linux/amd64) kubernetes/9b1e5d4",
    "kubectl/v1.30.4 (darwin/arm64) kubernetes/a51b3b7",
    "kubectl/v1.31.0 (darwin/arm64) kubernetes/9b1e5d4",
    "kubectl/v1.29.8 (windows/amd64) kubernetes/8e9a1f5",
];

/// kube-controller-manager controllers that run with their own service account
/// (`--use-service-account-credentials`).
pub(crate) const CONTROLLERS: [&str; 8] = [
    "replicaset-controller",
    "deployment-controller",
    "endpointslice-controller",
    "generic-garbage-collector",
    "namespace-controller",
    "node-controller",
    "root-ca-cert-publisher",
    "job-controller",
];

/// Reasons kubelet and controllers give in core Events.
pub(crate) const EVENT_REASONS: [(&str, &str, &str); 6] = [
    (
        "Normal",
        "Pulled",
        "Container image \"{image}\" already present on machine",
    ),
    ("Normal", "Created", "Created container {app}"),
    ("Normal", "Started", "Started container {app}"),
    (
        "Warning",
        "BackOff",
        "Back-off restarting failed container {app} in pod {pod}",
    ),
    (
        "Warning",
        "Unhealthy",
        "Readiness probe failed: HTTP probe failed with statuscode: 503",
    ),
    ("Normal", "Killing", "Stopping container {app}"),
];

/// Container images on every node (name, size in bytes).
pub(crate) const NODE_IMAGES: [(&str, i64); 10] = [
    ("registry.k8s.io/etcd:3.5.15-0", 56_909_194),
    ("registry.k8s.io/kube-proxy:v1.31.0", 30_207_900),
    ("registry.k8s.io/coredns/coredns:v1.11.1", 18_182_961),
    ("registry.k8s.io/pause:3.10", 320_368),
    ("quay.io/cilium/cilium:v1.16.1", 197_839_121),
    ("quay.io/prometheus/node-exporter:v1.8.2", 11_384_222),
    ("docker.io/grafana/promtail:3.1.1", 84_230_119),
    ("registry.example.com/platform/envoy:1.31.1", 65_132_733),
    ("registry.example.com/payments/web:1.4.2", 41_220_982),
    ("registry.example.com/payments/api:2.8.0", 52_917_435),
];

/// Non-resource paths polled by probes, monitoring and clients.
pub(crate) const HEALTH_PATHS: [&str; 3] = ["/healthz", "/readyz", "/livez"];
/// Discovery paths clients read before resource requests.
pub(crate) const DISCOVERY_PATHS: [&str; 4] = ["/api", "/apis", "/openapi/v2", "/version"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_api_layout() {
        assert_eq!(
            PODS.path("default", "", ""),
            "/api/v1/namespaces/default/pods"
        );
        assert_eq!(
            PODS.path("a", "p", "log"),
            "/api/v1/namespaces/a/pods/p/log"
        );
        assert_eq!(NODES.path("", "n1", "status"), "/api/v1/nodes/n1/status");
        assert_eq!(
            LEASES.path("kube-node-lease", "n1", ""),
            "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1"
        );
        assert_eq!(DEPLOYMENTS.api_version(), "apps/v1");
    }
}
