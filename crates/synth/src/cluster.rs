//! The simulated cluster: its nodes, namespaces, workloads and the principals that talk to
//! the API server.
//!
//! Everything here is derived from the seed and the configuration once, when the generator
//! is built; the traffic model then draws requests against these fixed names, so that the
//! same pods, secrets and users recur the way they do in a real cluster.

use std::collections::BTreeMap;

use event::{Actor, Timestamp};

use crate::SynthConfig;
use crate::catalog::{
    APP_NAMESPACES, APPS, CONTROLLERS, HUMANS, KUBE_COMMIT, KUBE_VERSION, KUBECTL_AGENTS,
};
use crate::ids::{hash, name_suffix, stable_uuid};

/// Release revisions Helm keeps (`--history-max` default).
const HELM_HISTORY_MAX: u64 = 10;

/// Who sends requests, how they look on the wire and how they are authorized.
#[derive(Debug)]
pub(crate) struct Principal {
    pub(crate) actor: Actor,
    pub(crate) user_agent: String,
    pub(crate) source_ip: String,
    pub(crate) grant: Grant,
}

/// How the authorizer allows a principal's requests, which decides the
/// `authorization.k8s.io/reason` annotation.
#[derive(Debug)]
pub(crate) enum Grant {
    /// The Node authorizer, which allows with an empty reason.
    Node,
    /// One ClusterRoleBinding.
    Cluster {
        binding: String,
        role: String,
        subject: String,
    },
    /// A RoleBinding in each namespace (named `<prefix>/<namespace>`), and a ClusterRoleBinding
    /// for cluster-scoped and all-namespace requests.
    Team {
        prefix: String,
        role: String,
        cluster_binding: String,
        cluster_role: String,
        subject: String,
    },
}

impl Grant {
    fn cluster(binding: &str, role: &str, subject: String) -> Grant {
        Grant::Cluster {
            binding: binding.to_owned(),
            role: role.to_owned(),
            subject,
        }
    }

    /// The RBAC reason text for an allowed request in `namespace`.
    pub(crate) fn reason(&self, namespace: &str) -> String {
        match self {
            Grant::Node => String::new(),
            Grant::Cluster {
                binding,
                role,
                subject,
            } => {
                format!(
                    "RBAC: allowed by ClusterRoleBinding \"{binding}\" of ClusterRole \"{role}\" to {subject}"
                )
            }
            Grant::Team {
                prefix,
                role,
                subject,
                ..
            } if !namespace.is_empty() => format!(
                "RBAC: allowed by RoleBinding \"{prefix}/{namespace}\" of ClusterRole \"{role}\" to {subject}"
            ),
            Grant::Team {
                cluster_binding,
                cluster_role,
                subject,
                ..
            } => format!(
                "RBAC: allowed by ClusterRoleBinding \"{cluster_binding}\" of ClusterRole \"{cluster_role}\" to {subject}"
            ),
        }
    }
}

#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) name: String,
    pub(crate) ip: String,
    pub(crate) uid: String,
    pub(crate) kubelet: Principal,
}

#[derive(Debug)]
pub(crate) struct Workload {
    pub(crate) namespace: String,
    pub(crate) app: &'static str,
    /// The `pod-template-hash` of the current ReplicaSet.
    pub(crate) template_hash: String,
    pub(crate) image: String,
    pub(crate) pods: Vec<Pod>,
}

impl Workload {
    pub(crate) fn replica_set(&self) -> String {
        format!("{}-{}", self.app, self.template_hash)
    }
}

#[derive(Debug)]
pub(crate) struct Pod {
    pub(crate) name: String,
    /// Index into [`Cluster::nodes`].
    pub(crate) node: usize,
    pub(crate) ip: String,
}

#[derive(Debug)]
pub(crate) struct Human {
    pub(crate) principal: Principal,
    pub(crate) team: &'static str,
}

impl Human {
    /// SREs hold cluster-admin; everyone else edits application namespaces only.
    pub(crate) fn is_admin(&self) -> bool {
        self.team == "sre-team"
    }
}

/// The fixed shape of the simulated cluster.
#[derive(Debug)]
pub(crate) struct Cluster {
    pub(crate) seed: u64,
    /// When the cluster was installed: every pre-existing object was created after it.
    pub(crate) born: Timestamp,
    pub(crate) nodes: Vec<Node>,
    pub(crate) namespaces: Vec<String>,
    pub(crate) workloads: Vec<Workload>,
    pub(crate) humans: Vec<Human>,
    /// kube-controller-manager controllers with their own service accounts, in
    /// [`CONTROLLERS`] order.
    pub(crate) controllers: Vec<Principal>,
    pub(crate) controller_manager: Principal,
    pub(crate) scheduler: Principal,
    pub(crate) prometheus: Principal,
    pub(crate) metrics_server: Principal,
    pub(crate) argocd: Principal,
    pub(crate) cert_manager: Principal,
    pub(crate) deployer: Principal,
    /// The front load balancer and authenticating proxy, as seen by the API server.
    pub(crate) proxy_ip: String,
}

const CONTROL_PLANE_IP: &str = "10.0.0.10";
/// Forty days: objects that exist when the traffic starts were created within this window.
const CLUSTER_AGE_NS: i64 = 40 * 24 * 3600 * 1_000_000_000;

impl Cluster {
    pub(crate) fn new(seed: u64, config: &SynthConfig) -> Cluster {
        let nodes = build_nodes(seed, config.nodes.max(1));
        let namespaces: Vec<String> = (0..config.namespaces.max(1))
            .map(|index| match APP_NAMESPACES.get(index) {
                Some(name) => (*name).to_owned(),
                None => format!("ns-{index}"),
            })
            .collect();
        let workloads = build_workloads(seed, &namespaces, &nodes);
        let humans = (0..config.users.max(1)).map(build_human).collect();
        let controllers = CONTROLLERS
            .iter()
            .map(|name| controller(seed, name))
            .collect();
        let pod_principal = |namespace: &str, account: &str, pod: &str, agent: &str, grant| {
            pod_service_account(seed, &nodes, namespace, account, pod, agent, grant)
        };
        let prometheus = pod_principal(
            "monitoring",
            "prometheus-k8s",
            "prometheus-k8s-0",
            "Prometheus/2.54.1",
            Grant::cluster(
                "prometheus-k8s",
                "prometheus-k8s",
                "ServiceAccount \"prometheus-k8s/monitoring\"".to_owned(),
            ),
        );
        let metrics_server = pod_principal(
            "kube-system",
            "metrics-server",
            "metrics-server-6d94bc8694-2xq5v",
            "metrics-server/v0.7.2 (linux/amd64) kubernetes/$Format",
            Grant::cluster(
                "metrics-server:system:auth-delegator",
                "system:auth-delegator",
                "ServiceAccount \"metrics-server/kube-system\"".to_owned(),
            ),
        );
        let argocd = pod_principal(
            "argocd",
            "argocd-application-controller",
            "argocd-application-controller-0",
            "argocd-application-controller/v2.12.3+6b9cd82 (linux/amd64) kubernetes/$Format",
            Grant::cluster(
                "argocd-application-controller",
                "argocd-application-controller",
                "ServiceAccount \"argocd-application-controller/argocd\"".to_owned(),
            ),
        );
        let cert_manager = pod_principal(
            "cert-manager",
            "cert-manager",
            "cert-manager-7d9f8c5b6d-k4x2w",
            "cert-manager-certificates-issuing/v1.15.3 (linux/amd64) cert-manager/e9d5e2f",
            Grant::cluster(
                "cert-manager-controller-certificates",
                "cert-manager-controller-certificates",
                "ServiceAccount \"cert-manager/cert-manager\"".to_owned(),
            ),
        );
        let deployer = pod_principal(
            "ci",
            "deployer",
            "runner-x7k2p-project-42-concurrent-0-8fj3k",
            "Helm/3.15.4",
            Grant::Team {
                prefix: "ci-deployer".to_owned(),
                role: "edit".to_owned(),
                cluster_binding: "ci-deployer-view".to_owned(),
                cluster_role: "view".to_owned(),
                subject: "ServiceAccount \"deployer/ci\"".to_owned(),
            },
        );
        Cluster {
            seed,
            born: Timestamp::from_unix_nanos(config.start.unix_nanos() - CLUSTER_AGE_NS),
            controller_manager: control_plane_user("kube-controller-manager", "leader-election"),
            scheduler: control_plane_user("kube-scheduler", "scheduler"),
            nodes,
            namespaces,
            workloads,
            humans,
            controllers,
            prometheus,
            metrics_server,
            argocd,
            cert_manager,
            deployer,
            proxy_ip: "10.0.0.5".to_owned(),
        }
    }

    /// The controller service account `name`, one of [`CONTROLLERS`].
    pub(crate) fn controller(&self, name: &str) -> &Principal {
        let index = CONTROLLERS
            .iter()
            .position(|candidate| *candidate == name)
            .unwrap_or(0);
        &self.controllers[index]
    }

    /// The stable uid of an object.
    pub(crate) fn uid(&self, resource: &str, namespace: &str, name: &str) -> String {
        stable_uuid(self.seed, &[resource, namespace, name])
    }

    /// The stable creation time of a pre-existing object: within the cluster's first 39 days.
    pub(crate) fn created(&self, resource: &str, namespace: &str, name: &str) -> Timestamp {
        let offset = hash(self.seed, &[resource, namespace, name, "created"])
            % (CLUSTER_AGE_NS as u64 - 24 * 3600 * 1_000_000_000);
        Timestamp::from_unix_nanos(self.born.unix_nanos() + offset as i64)
    }
}

fn build_nodes(seed: u64, count: usize) -> Vec<Node> {
    (0..count)
        .map(|index| {
            let (name, ip) = if index == 0 {
                ("control-plane-01".to_owned(), CONTROL_PLANE_IP.to_owned())
            } else {
                (
                    format!("worker-{index:02}"),
                    format!("10.0.1.{}", 10 + index),
                )
            };
            let kubelet = Principal {
                actor: Actor {
                    name: format!("system:node:{name}"),
                    groups: Some(vec!["system:nodes".into(), "system:authenticated".into()]),
                    ..Actor::default()
                },
                user_agent: format!(
                    "kubelet/{KUBE_VERSION} (linux/amd64) kubernetes/{KUBE_COMMIT}"
                ),
                source_ip: ip.clone(),
                grant: Grant::Node,
            };
            Node {
                uid: stable_uuid(seed, &["nodes", "", &name]),
                name,
                ip,
                kubelet,
            }
        })
        .collect()
}

fn build_workloads(seed: u64, namespaces: &[String], nodes: &[Node]) -> Vec<Workload> {
    let mut workloads = Vec::new();
    for namespace in namespaces {
        let offset = hash(seed, &[namespace]) as usize;
        for slot in 0..3 {
            let app = APPS[(offset + slot * 5) % APPS.len()];
            let bits = hash(seed, &[namespace, app]);
            let template_hash = name_suffix(bits, 10);
            let replica_set = format!("{app}-{template_hash}");
            let replicas = 2 + (bits % 3) as usize;
            let pods = (0..replicas)
                .map(|replica| {
                    let pod_bits = hash(seed, &[namespace, app, &replica.to_string()]);
                    // Workloads run on workers; a one-node cluster schedules on its control plane.
                    let node = if nodes.len() > 1 {
                        1 + (pod_bits % (nodes.len() as u64 - 1)) as usize
                    } else {
                        0
                    };
                    Pod {
                        name: format!("{replica_set}-{}", name_suffix(pod_bits, 5)),
                        node,
                        ip: format!("10.244.{node}.{}", 2 + (pod_bits >> 8) % 250),
                    }
                })
                .collect();
            let version = format!("{}.{}.{}", 1 + bits % 3, (bits >> 4) % 12, (bits >> 8) % 9);
            workloads.push(Workload {
                namespace: namespace.clone(),
                app,
                template_hash,
                image: format!("registry.example.com/{namespace}/{app}:{version}"),
                pods,
            });
        }
    }
    workloads
}

fn build_human(index: usize) -> Human {
    let (name, team) = match HUMANS.get(index) {
        Some((name, team)) => ((*name).to_owned(), *team),
        None => (
            format!("user{index}"),
            if index.is_multiple_of(2) {
                "dev-team"
            } else {
                "sre-team"
            },
        ),
    };
    let grant = if team == "sre-team" {
        Grant::cluster(
            "sre-team-admin",
            "cluster-admin",
            "Group \"sre-team\"".to_owned(),
        )
    } else {
        Grant::Team {
            prefix: format!("{team}-edit"),
            role: "edit".to_owned(),
            cluster_binding: format!("{team}-view"),
            cluster_role: "view".to_owned(),
            subject: format!("Group \"{team}\""),
        }
    };
    Human {
        principal: Principal {
            actor: Actor {
                name: format!("{name}@example.com"),
                groups: Some(vec![team.to_owned(), "system:authenticated".to_owned()]),
                ..Actor::default()
            },
            user_agent: KUBECTL_AGENTS[index % KUBECTL_AGENTS.len()].to_owned(),
            source_ip: format!("100.64.{}.{}", 1 + index / 200, 10 + index % 200),
            grant,
        },
        team,
    }
}

fn control_plane_user(component: &str, agent_suffix: &str) -> Principal {
    let user = format!("system:{component}");
    Principal {
        grant: Grant::cluster(&user, &user, format!("User \"{user}\"")),
        actor: Actor {
            name: user,
            groups: Some(vec!["system:authenticated".to_owned()]),
            ..Actor::default()
        },
        user_agent: format!(
            "{component}/{KUBE_VERSION} (linux/amd64) kubernetes/{KUBE_COMMIT}/{agent_suffix}"
        ),
        source_ip: CONTROL_PLANE_IP.to_owned(),
    }
}

/// A kube-controller-manager controller's service account: a token from the TokenRequest
/// API, not bound to a pod.
fn controller(seed: u64, name: &str) -> Principal {
    let user = format!("system:serviceaccount:kube-system:{name}");
    let extra = BTreeMap::from([(
        "authentication.kubernetes.io/credential-id".to_owned(),
        vec![format!("JTI={}", stable_uuid(seed, &["jti", &user]))],
    )]);
    Principal {
        actor: Actor {
            uid: stable_uuid(seed, &["serviceaccounts", "kube-system", name]),
            groups: Some(service_account_groups("kube-system")),
            extra: Some(extra),
            name: user.clone(),
            ..Actor::default()
        },
        user_agent: format!(
            "kube-controller-manager/{KUBE_VERSION} (linux/amd64) kubernetes/{KUBE_COMMIT}/{user}"
        ),
        source_ip: CONTROL_PLANE_IP.to_owned(),
        grant: Grant::cluster(
            &format!("system:controller:{name}"),
            &format!("system:controller:{name}"),
            format!("ServiceAccount \"{name}/kube-system\""),
        ),
    }
}

/// A service account whose token is bound to a pod, so `user.extra` names the pod and node.
fn pod_service_account(
    seed: u64,
    nodes: &[Node],
    namespace: &str,
    account: &str,
    pod: &str,
    user_agent: &str,
    grant: Grant,
) -> Principal {
    let node = &nodes[(hash(seed, &[namespace, pod]) % nodes.len() as u64) as usize];
    let user = format!("system:serviceaccount:{namespace}:{account}");
    let key = |suffix: &str| format!("authentication.kubernetes.io/{suffix}");
    let extra = BTreeMap::from([
        (
            key("credential-id"),
            vec![format!("JTI={}", stable_uuid(seed, &["jti", &user]))],
        ),
        (key("node-name"), vec![node.name.clone()]),
        (key("node-uid"), vec![node.uid.clone()]),
        (key("pod-name"), vec![pod.to_owned()]),
        (
            key("pod-uid"),
            vec![stable_uuid(seed, &["pods", namespace, pod])],
        ),
    ]);
    let pod_bits = hash(seed, &[pod]);
    Principal {
        actor: Actor {
            name: user,
            uid: stable_uuid(seed, &["serviceaccounts", namespace, account]),
            groups: Some(service_account_groups(namespace)),
            extra: Some(extra),
            ..Actor::default()
        },
        user_agent: user_agent.to_owned(),
        source_ip: format!("10.244.{}.{}", pod_bits % 8, 2 + (pod_bits >> 8) % 250),
        grant,
    }
}

fn service_account_groups(namespace: &str) -> Vec<String> {
    vec![
        "system:serviceaccounts".to_owned(),
        format!("system:serviceaccounts:{namespace}"),
        "system:authenticated".to_owned(),
    ]
}

/// One object that exists in the simulated cluster.
#[derive(Debug, Clone)]
pub(crate) struct Named<'c> {
    pub(crate) name: String,
    pub(crate) workload: Option<&'c Workload>,
    /// The pod's node, the node itself, or the node a lease belongs to.
    pub(crate) node: Option<&'c Node>,
}

impl Cluster {
    /// The workloads of one namespace, or of every namespace when `namespace` is empty.
    pub(crate) fn workloads_in<'c>(
        &'c self,
        namespace: &'c str,
    ) -> impl Iterator<Item = &'c Workload> + 'c {
        self.workloads
            .iter()
            .filter(move |workload| namespace.is_empty() || workload.namespace == namespace)
    }

    /// The objects of `resource` in `namespace` (every namespace when empty), in a stable
    /// order. Kinds whose objects are not enumerable (events, token reviews) give none.
    pub(crate) fn objects<'c>(&'c self, resource: &str, namespace: &'c str) -> Vec<Named<'c>> {
        let per_workload = |name: &dyn Fn(&Workload) -> String| -> Vec<Named<'c>> {
            self.workloads_in(namespace)
                .map(|workload| Named {
                    name: name(workload),
                    workload: Some(workload),
                    node: None,
                })
                .collect()
        };
        match resource {
            "pods" => self
                .workloads_in(namespace)
                .flat_map(|workload| {
                    workload.pods.iter().map(move |pod| Named {
                        name: pod.name.clone(),
                        workload: Some(workload),
                        node: self.nodes.get(pod.node),
                    })
                })
                .collect(),
            "deployments" | "services" => per_workload(&|workload| workload.app.to_owned()),
            "configmaps" => per_workload(&|workload| format!("{}-config", workload.app)),
            "certificates" => per_workload(&|workload| format!("{}-tls", workload.app)),
            "applications" => {
                per_workload(&|workload| format!("{}-{}", workload.namespace, workload.app))
            }
            "secrets" => {
                let mut secrets =
                    per_workload(&|workload| format!("{}-db-credentials", workload.app));
                secrets.extend(per_workload(&|workload| format!("{}-tls", workload.app)));
                secrets.extend(per_workload(&|workload| self.helm_release(workload)));
                secrets
            }
            "nodes" | "leases" => self
                .nodes
                .iter()
                .map(|node| Named {
                    name: node.name.clone(),
                    workload: None,
                    node: Some(node),
                })
                .collect(),
            "clusterrolebindings" => [
                "cluster-admin",
                "sre-team-admin",
                "system:kube-controller-manager",
                "system:kube-scheduler",
                "prometheus-k8s",
                "argocd-application-controller",
            ]
            .into_iter()
            .map(|name| Named {
                name: name.to_owned(),
                workload: None,
                node: None,
            })
            .collect(),
            _ => Vec::new(),
        }
    }

    /// The name of a workload's newest Helm release Secret.
    pub(crate) fn helm_release(&self, workload: &Workload) -> String {
        format!(
            "sh.helm.release.v1.{}.v{}",
            workload.app,
            self.helm_revision(workload)
        )
    }

    /// The release Secret Helm removes when it stores the newest one, keeping
    /// `HELM_HISTORY_MAX` revisions (`helm upgrade --history-max`, 10 by default); `None`
    /// while the release has no more revisions than that.
    pub(crate) fn helm_pruned_release(&self, workload: &Workload) -> Option<String> {
        let revision = self.helm_revision(workload);
        (revision > HELM_HISTORY_MAX).then(|| {
            format!(
                "sh.helm.release.v1.{}.v{}",
                workload.app,
                revision - HELM_HISTORY_MAX
            )
        })
    }

    fn helm_revision(&self, workload: &Workload) -> u64 {
        1 + hash(self.seed, &[&workload.namespace, workload.app, "helm"]) % 40
    }
}
