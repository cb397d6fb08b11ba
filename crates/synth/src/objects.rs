//! Kubernetes object bodies as the API server logs them in `requestObject` and
//! `responseObject`.
//!
//! The shapes follow the external versioned objects: `ObjectMeta` in Go field order, uids and
//! resourceVersions, labels and annotations (sometimes `kubectl.kubernetes.io/last-applied-configuration`,
//! which carries a second copy of the object), `managedFields`, spec and status. Create
//! requests carry the object as the client sent it (no uid, `creationTimestamp: null`).

use event::Timestamp;
use rand::RngExt;

use crate::SynthRng;
use crate::catalog::{EVENT_REASONS, KUBE_VERSION, Kind, NODE_IMAGES};
use crate::cluster::{Cluster, Named, Node, Workload};
use crate::ids::{base64, random_hex, random_text};
use crate::json::{self, Obj};

/// Which version of an object a body shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    /// As a client sends it to create: no uid, resourceVersion, status or managedFields.
    New,
    /// As stored and returned by the server.
    Stored,
}

/// The object a body is written for.
#[derive(Debug, Clone)]
pub(crate) struct Subject<'a> {
    pub(crate) cluster: &'a Cluster,
    pub(crate) kind: &'static Kind,
    pub(crate) namespace: &'a str,
    pub(crate) name: &'a str,
    /// The generateName prefix of a create; `name` is then the name the server chose.
    pub(crate) generate_name: &'a str,
    pub(crate) workload: Option<&'a Workload>,
    pub(crate) node: Option<&'a Node>,
    pub(crate) resource_version: u64,
    pub(crate) now: Timestamp,
    /// One of the occasional large bodies (big ConfigMaps, Helm releases).
    pub(crate) large: bool,
}

impl Subject<'_> {
    pub(crate) fn uid(&self) -> String {
        self.cluster
            .uid(self.kind.resource, self.namespace, self.name)
    }

    fn created(&self) -> Timestamp {
        if self.generate_name.is_empty() {
            self.cluster
                .created(self.kind.resource, self.namespace, self.name)
        } else {
            self.now
        }
    }

    fn app(&self) -> &str {
        self.workload.map_or("app", |workload| workload.app)
    }

    fn node_name(&self) -> &str {
        self.node.map_or("worker-01", |node| node.name.as_str())
    }
}

/// A complete object document with `kind` and `apiVersion`.
pub(crate) fn document(rng: &mut SynthRng, subject: &Subject<'_>, form: Form) -> String {
    json::object(2048, |o| {
        o.str("kind", subject.kind.kind)
            .str("apiVersion", &subject.kind.api_version());
        fields(o, rng, subject, form);
    })
}

/// A `<Kind>List` of stored objects, as list and deletecollection responses return.
pub(crate) fn list(
    rng: &mut SynthRng,
    template: &Subject<'_>,
    items: &[Named<'_>],
    resource_version: u64,
) -> String {
    json::object(2048 * items.len().max(1), |o| {
        o.str("kind", &format!("{}List", template.kind.kind))
            .str("apiVersion", &template.kind.api_version())
            .obj("metadata", |m| {
                m.str("resourceVersion", &resource_version.to_string());
            })
            .arr("items", |a| {
                for item in items {
                    let namespace = match template.kind.resource {
                        "applications" => "argocd",
                        "leases" => "kube-node-lease",
                        _ if !template.kind.namespaced => "",
                        _ => item.workload.map_or(template.namespace, |w| &w.namespace),
                    };
                    let subject = Subject {
                        name: &item.name,
                        namespace,
                        workload: item.workload,
                        node: item.node,
                        generate_name: "",
                        large: false,
                        ..template.clone()
                    };
                    a.obj(|o| fields(o, rng, &subject, Form::Stored));
                }
            });
    })
}

fn fields(o: &mut Obj<'_>, rng: &mut SynthRng, subject: &Subject<'_>, form: Form) {
    match subject.kind.resource {
        "pods" => pod(o, subject, form),
        "deployments" => deployment(o, subject, form),
        "configmaps" => config_map(o, rng, subject, form),
        "secrets" => secret(o, rng, subject, form),
        "services" => service(o, subject, form),
        "leases" => lease(o, subject, form),
        "events" => core_event(o, rng, subject, form),
        "nodes" => node(o, subject, form),
        "clusterrolebindings" => cluster_role_binding(o, subject, form),
        "tokenreviews" => token_review(o, subject, form),
        "applications" => application(o, subject, form),
        _ => certificate(o, subject, form),
    }
}

/// The parts of `ObjectMeta` that differ between kinds.
#[derive(Default)]
struct Meta<'a> {
    generation: i64,
    labels: &'a [(&'a str, &'a str)],
    annotations: &'a [(&'a str, &'a str)],
    owner: Option<(&'a str, &'a str, &'a str)>,
    /// `(manager, subresource, fieldsV1)`, oldest first.
    managers: &'a [(&'a str, &'a str, &'a str)],
}

fn metadata(o: &mut Obj<'_>, subject: &Subject<'_>, form: Form, meta: &Meta<'_>) {
    let stored = form == Form::Stored;
    o.obj("metadata", |m| {
        if stored || subject.generate_name.is_empty() {
            m.str_opt("name", subject.name);
        }
        m.str_opt("generateName", subject.generate_name);
        m.str_opt("namespace", subject.namespace);
        if stored {
            m.str("uid", &subject.uid());
            m.str("resourceVersion", &subject.resource_version.to_string());
            if meta.generation > 0 {
                m.int("generation", meta.generation);
            }
            m.str("creationTimestamp", &subject.created().to_seconds_string());
        } else {
            m.raw("creationTimestamp", "null");
        }
        if !meta.labels.is_empty() {
            m.obj("labels", |l| {
                for (key, value) in meta.labels {
                    l.str(key, value);
                }
            });
        }
        if !meta.annotations.is_empty() {
            m.obj("annotations", |l| {
                for (key, value) in meta.annotations {
                    l.str(key, value);
                }
            });
        }
        if let Some((api_version, kind, name)) = meta.owner {
            let uid = subject.cluster.uid(kind, subject.namespace, name);
            m.arr("ownerReferences", |a| {
                a.obj(|r| {
                    r.str("apiVersion", api_version)
                        .str("kind", kind)
                        .str("name", name)
                        .str("uid", &uid)
                        .bool("controller", true)
                        .bool("blockOwnerDeletion", true);
                });
            });
        }
        if stored && !meta.managers.is_empty() {
            managed_fields(m, subject, meta.managers);
        }
    });
}

fn managed_fields(m: &mut Obj<'_>, subject: &Subject<'_>, managers: &[(&str, &str, &str)]) {
    let api_version = subject.kind.api_version();
    let created = subject.created().to_seconds_string();
    let updated = subject.now.to_seconds_string();
    m.arr("managedFields", |a| {
        for (index, (manager, subresource, fields)) in managers.iter().enumerate() {
            a.obj(|f| {
                f.str("manager", manager)
                    .str("operation", "Update")
                    .str("apiVersion", &api_version)
                    .str("time", if index == 0 { &created } else { &updated })
                    .str("fieldsType", "FieldsV1")
                    .raw("fieldsV1", fields)
                    .str_opt("subresource", subresource);
            });
        }
    });
}

fn pod(o: &mut Obj<'_>, subject: &Subject<'_>, form: Form) {
    let app = subject.app();
    let (hash, image, replica_set) = match subject.workload {
        Some(workload) => (
            workload.template_hash.as_str(),
            workload.image.as_str(),
            workload.replica_set(),
        ),
        None => (
            "5d4f8b7c9x",
            "registry.example.com/app:1.0.0",
            "app-5d4f8b7c9x".to_owned(),
        ),
    };
    let controller_fields = format!(
        r#"{{"f:metadata":{{"f:generateName":{{}},"f:labels":{{".":{{}},"f:app":{{}},"f:pod-template-hash":{{}}}},"f:ownerReferences":{{".":{{}}}}}},"f:spec":{{"f:containers":{{"k:{{\"name\":\"{app}\"}}":{{".":{{}},"f:image":{{}},"f:imagePullPolicy":{{}},"f:name":{{}},"f:ports":{{}},"f:resources":{{}}}}}},"f:dnsPolicy":{{}},"f:restartPolicy":{{}},"f:schedulerName":{{}}}}}}"#
    );
    let status_fields = r#"{"f:status":{"f:conditions":{"k:{\"type\":\"Ready\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}}},"f:containerStatuses":{},"f:hostIP":{},"f:phase":{},"f:podIP":{},"f:startTime":{}}}"#;
    metadata(
        o,
        subject,
        form,
        &Meta {
            labels: &[("app", app), ("pod-template-hash", hash)],
            owner: Some(("apps/v1", "ReplicaSet", &replica_set)),
            managers: &[
                ("kube-controller-manager", "", &controller_fields),
                ("kubelet", "status", status_fields),
            ],
            ..Meta::default()
        },
    );
    o.obj("spec", |spec| {
        spec.arr("volumes", |a| {
            a.obj(|v| {
                v.str("name", "kube-api-access-7xk2d").raw(
                    "projected",
                    r#"{"sources":[{"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}},{"configMap":{"name":"kube-root-ca.crt","items":[{"key":"ca.crt","path":"ca.crt"}]}}],"defaultMode":420}"#,
                );
            });
        });
        spec.arr("containers", |a| {
            a.obj(|c| container(c, app, image));
        });
        spec.str("restartPolicy", "Always")
            .int("terminationGracePeriodSeconds", 30)
            .str("dnsPolicy", "ClusterFirst")
            .str("serviceAccountName", "default")
            .str("serviceAccount", "default");
        if form == Form::Stored {
            spec.str("nodeName", subject.node_name());
        }
        spec.raw("securityContext", "{}").str("schedulerName", "default-scheduler").raw(
            "tolerations",
            r#"[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300},{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}]"#,
        );
        spec.int("priority", 0).bool("enableServiceLinks", true);
    });
    if form == Form::Stored {
        pod_status(o, subject, app, image);
    } else {
        o.raw("status", "{}");
    }
}

fn container(c: &mut Obj<'_>, app: &str, image: &str) {
    c.str("name", app)
        .str("image", image)
        .raw("ports", r#"[{"name":"http","containerPort":8080,"protocol":"TCP"}]"#)
        .raw("env", r#"[{"name":"LOG_LEVEL","value":"info"},{"name":"GOMAXPROCS","value":"2"}]"#)
        .raw(
            "resources",
            r#"{"limits":{"cpu":"500m","memory":"256Mi"},"requests":{"cpu":"100m","memory":"128Mi"}}"#,
        )
        .str("terminationMessagePath", "/dev/termination-log")
        .str("terminationMessagePolicy", "File")
        .str("imagePullPolicy", "IfNotPresent");
}

fn pod_status(o: &mut Obj<'_>, subject: &Subject<'_>, app: &str, image: &str) {
    let started = subject.created().to_seconds_string();
    let (host_ip, pod_ip) = pod_addresses(subject);
    o.obj("status", |s| {
        s.str("phase", "Running");
        s.arr("conditions", |a| {
            for kind in [
                "PodReadyToStartContainers",
                "Initialized",
                "Ready",
                "ContainersReady",
                "PodScheduled",
            ] {
                a.obj(|c| {
                    c.str("type", kind)
                        .str("status", "True")
                        .raw("lastProbeTime", "null")
                        .str("lastTransitionTime", &started);
                });
            }
        });
        s.str("hostIP", &host_ip)
            .str("podIP", &pod_ip)
            .str("startTime", &started);
        s.arr("containerStatuses", |a| {
            a.obj(|c| {
                let digest = digest_of(subject.cluster, image);
                c.str("name", app)
                    .obj("state", |state| {
                        state.obj("running", |r| {
                            r.str("startedAt", &started);
                        });
                    })
                    .raw("lastState", "{}")
                    .bool("ready", true)
                    .int("restartCount", 0)
                    .str("image", image)
                    .str(
                        "imageID",
                        &format!("{}@sha256:{digest}", image_repository(image)),
                    )
                    .str("containerID", &format!("containerd://{digest}"))
                    .bool("started", true);
            });
        });
        s.str("qosClass", "Burstable");
    });
}

fn pod_addresses(subject: &Subject<'_>) -> (String, String) {
    let host_ip = subject
        .node
        .map_or_else(|| "10.0.1.11".to_owned(), |node| node.ip.clone());
    let pod_ip = subject
        .workload
        .and_then(|workload| workload.pods.iter().find(|pod| pod.name == subject.name))
        .map_or_else(|| "10.244.1.9".to_owned(), |pod| pod.ip.clone());
    (host_ip, pod_ip)
}

fn image_repository(image: &str) -> &str {
    image
        .rsplit_once(':')
        .map_or(image, |(repository, _)| repository)
}

/// A stable 64-hex-digit digest for an image.
fn digest_of(cluster: &Cluster, image: &str) -> String {
    (0..4)
        .map(|part| {
            format!(
                "{:016x}",
                crate::ids::hash(cluster.seed, &[image, &part.to_string()])
            )
        })
        .collect()
}

fn deployment(o: &mut Obj<'_>, subject: &Subject<'_>, form: Form) {
    let app = subject.app();
    let image = subject
        .workload
        .map_or("registry.example.com/app:1.0.0", |w| w.image.as_str());
    let replicas = subject.workload.map_or(2, |w| w.pods.len() as i64);
    let applied = last_applied_deployment(subject, app, image, replicas);
    let revision = (subject.resource_version % 17 + 1).to_string();
    let mut annotations = vec![(
        "kubectl.kubernetes.io/last-applied-configuration",
        applied.as_str(),
    )];
    if form == Form::Stored {
        annotations.insert(0, ("deployment.kubernetes.io/revision", revision.as_str()));
    }
    metadata(
        o,
        subject,
        form,
        &Meta {
            generation: (subject.resource_version % 23 + 1) as i64,
            labels: &[("app", app), ("app.kubernetes.io/managed-by", "kubectl")],
            annotations: &annotations,
            managers: &[
                (
                    "kubectl-client-side-apply",
                    "",
                    r#"{"f:metadata":{"f:annotations":{".":{},"f:kubectl.kubernetes.io/last-applied-configuration":{}},"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:progressDeadlineSeconds":{},"f:replicas":{},"f:revisionHistoryLimit":{},"f:selector":{},"f:strategy":{"f:rollingUpdate":{".":{},"f:maxSurge":{},"f:maxUnavailable":{}},"f:type":{}},"f:template":{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:containers":{}}}}}"#,
                ),
                (
                    "kube-controller-manager",
                    "status",
                    r#"{"f:metadata":{"f:annotations":{"f:deployment.kubernetes.io/revision":{}}},"f:status":{"f:availableReplicas":{},"f:conditions":{".":{}},"f:observedGeneration":{},"f:readyReplicas":{},"f:replicas":{},"f:updatedReplicas":{}}}"#,
                ),
            ],
            ..Meta::default()
        },
    );
    o.obj("spec", |spec| {
        spec.int("replicas", replicas)
            .obj("selector", |s| {
                s.obj("matchLabels", |l| {
                    l.str("app", app);
                });
            })
            .obj("template", |t| {
                t.obj("metadata", |m| {
                    m.raw("creationTimestamp", "null").obj("labels", |l| {
                        l.str("app", app);
                    });
                })
                .obj("spec", |s| {
                    s.arr("containers", |a| {
                        a.obj(|c| container(c, app, image));
                    })
                    .str("restartPolicy", "Always")
                    .int("terminationGracePeriodSeconds", 30)
                    .str("dnsPolicy", "ClusterFirst")
                    .str("schedulerName", "default-scheduler");
                });
            })
            .raw(
                "strategy",
                r#"{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":"25%","maxSurge":"25%"}}"#,
            )
            .int("revisionHistoryLimit", 10)
            .int("progressDeadlineSeconds", 600);
    });
    if form == Form::Stored {
        let now = subject.now.to_seconds_string();
        o.obj("status", |s| {
            s.int(
                "observedGeneration",
                (subject.resource_version % 23 + 1) as i64,
            )
            .int("replicas", replicas)
            .int("updatedReplicas", replicas)
            .int("readyReplicas", replicas)
            .int("availableReplicas", replicas)
            .arr("conditions", |a| {
                a.obj(|c| {
                    c.str("type", "Available")
                        .str("status", "True")
                        .str("lastUpdateTime", &now)
                        .str("lastTransitionTime", &now)
                        .str("reason", "MinimumReplicasAvailable")
                        .str("message", "Deployment has minimum availability.");
                })
                .obj(|c| {
                    c.str("type", "Progressing")
                        .str("status", "True")
                        .str("lastUpdateTime", &now)
                        .str("lastTransitionTime", &now)
                        .str("reason", "NewReplicaSetAvailable")
                        .str(
                            "message",
                            &format!(
                                "ReplicaSet \"{app}-{}\" has successfully progressed.",
                                subject.workload.map_or("5d4f8b7c9x", |w| &w.template_hash)
                            ),
                        );
                });
            });
        });
    } else {
        o.raw("status", "{}");
    }
}

/// What `kubectl apply` stores in `kubectl.kubernetes.io/last-applied-configuration`: the
/// manifest as applied, compact JSON with a trailing newline.
pub(crate) fn last_applied_deployment(
    subject: &Subject<'_>,
    app: &str,
    image: &str,
    replicas: i64,
) -> String {
    let mut text = json::object(512, |o| {
        o.str("apiVersion", "apps/v1").str("kind", "Deployment");
        o.obj("metadata", |m| {
            m.raw("annotations", "{}")
                .obj("labels", |l| {
                    l.str("app", app);
                })
                .str("name", subject.name)
                .str("namespace", subject.namespace);
        });
        o.obj("spec", |s| {
            s.int("replicas", replicas)
                .raw(
                    "selector",
                    &format!(r#"{{"matchLabels":{{"app":"{app}"}}}}"#),
                )
                .obj("template", |t| {
                    t.raw("metadata", &format!(r#"{{"labels":{{"app":"{app}"}}}}"#))
                        .obj("spec", |s| {
                            s.arr("containers", |a| {
                                a.obj(|c| {
                                    c.str("image", image)
                                        .str("name", app)
                                        .raw("ports", r#"[{"containerPort":8080,"name":"http"}]"#);
                                });
                            });
                        });
                });
        });
    });
    text.push('\n');
    text
}

fn config_map(o: &mut Obj<'_>, rng: &mut SynthRng, subject: &Subject<'_>, form: Form) {
    let app = subject.app();
    metadata(
        o,
        subject,
        form,
        &Meta {
            labels: &[("app", app)],
            managers: &[(
                "kubectl-client-side-apply",
                "",
                r#"{"f:data":{".":{},"f:LOG_LEVEL":{},"f:config.yaml":{}},"f:metadata":{"f:labels":{".":{},"f:app":{}}}}"#,
            )],
            ..Meta::default()
        },
    );
    o.obj("data", |d| {
        if subject.name == "kube-root-ca.crt" {
            d.str("ca.crt", &pem("CERTIFICATE", rng, 780));
            return;
        }
        d.str("LOG_LEVEL", "info");
        let lines = if subject.large {
            rng.random_range(300..900)
        } else {
            rng.random_range(4..16)
        };
        d.str("config.yaml", &config_text(rng, app, lines));
    });
}

/// A YAML configuration file of `lines` lines.
fn config_text(rng: &mut SynthRng, app: &str, lines: usize) -> String {
    let mut text = format!("server:\n  name: {app}\n  port: 8080\nfeatures:\n");
    for line in 0..lines {
        let flag = rng.random_bool(0.5);
        text.push_str(&format!(
            "  {app}-feature-{line:04}: {{enabled: {flag}, rollout: {}}}\n",
            line * 7 % 100
        ));
    }
    text
}

fn pem(label: &str, rng: &mut SynthRng, bytes: usize) -> String {
    let body = base64(&random_text(rng, bytes));
    let mut text = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        text.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        text.push('\n');
    }
    text.push_str(&format!("-----END {label}-----\n"));
    text
}

fn secret(o: &mut Obj<'_>, rng: &mut SynthRng, subject: &Subject<'_>, form: Form) {
    let app = subject.app();
    let (secret_type, data): (&str, Vec<(&str, String)>) =
        if subject.name.starts_with("sh.helm.release") {
            let size = if subject.large {
                rng.random_range(12_000..40_000)
            } else {
                rng.random_range(1_500..4_000)
            };
            (
                "helm.sh/release.v1",
                vec![("release", base64(&random_text(rng, size)))],
            )
        } else if subject.name.ends_with("-tls") {
            (
                "kubernetes.io/tls",
                vec![
                    ("tls.crt", base64(pem("CERTIFICATE", rng, 600).as_bytes())),
                    (
                        "tls.key",
                        base64(pem("EC PRIVATE KEY", rng, 120).as_bytes()),
                    ),
                ],
            )
        } else {
            (
                "Opaque",
                vec![
                    ("password", base64(&random_text(rng, 24))),
                    ("username", base64(format!("{app}_user").as_bytes())),
                ],
            )
        };
    let helm = secret_type == "helm.sh/release.v1";
    // kubectl apply keeps the whole manifest, data included, in an annotation: redacting
    // `data` alone does not remove the secret (RichardoC/kube-audit-rest#290).
    let applied = (!helm && subject.name.ends_with("-db-credentials")).then(|| {
        let mut text = json::object(256, |m| {
            m.str("apiVersion", "v1");
            m.obj("data", |d| {
                for (key, value) in &data {
                    d.str(key, value);
                }
            });
            m.str("kind", "Secret").obj("metadata", |meta| {
                meta.raw("annotations", "{}")
                    .str("name", subject.name)
                    .str("namespace", subject.namespace);
            });
            m.str("type", secret_type);
        });
        text.push('\n');
        text
    });
    let annotations: Vec<(&str, &str)> = applied
        .as_deref()
        .map(|text| ("kubectl.kubernetes.io/last-applied-configuration", text))
        .into_iter()
        .collect();
    let labels: &[(&str, &str)] = if helm {
        &[("name", app), ("owner", "helm"), ("status", "deployed")]
    } else {
        &[("app", app)]
    };
    metadata(
        o,
        subject,
        form,
        &Meta {
            labels,
            annotations: &annotations,
            managers: &[(
                if helm {
                    "helm"
                } else {
                    "kubectl-client-side-apply"
                },
                "",
                r#"{"f:data":{".":{}},"f:metadata":{"f:labels":{".":{}}},"f:type":{}}"#,
            )],
            ..Meta::default()
        },
    );
    o.obj("data", |d| {
        for (key, value) in &data {
            d.str(key, value);
        }
    });
    o.str("type", secret_type);
}

fn service(o: &mut Obj<'_>, subject: &Subject<'_>, form: Form) {
    let app = subject.app();
    metadata(
        o,
        subject,
        form,
        &Meta {
            labels: &[("app", app)],
            managers: &[(
                "kubectl-client-side-apply",
                "",
                r#"{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:internalTrafficPolicy":{},"f:ports":{".":{},"k:{\"port\":80,\"protocol\":\"TCP\"}":{".":{},"f:name":{},"f:port":{},"f:protocol":{},"f:targetPort":{}}},"f:selector":{},"f:sessionAffinity":{},"f:type":{}}}"#,
            )],
            ..Meta::default()
        },
    );
    let cluster_ip = format!(
        "10.96.{}.{}",
        subject.uid().as_bytes()[0] % 200,
        subject.uid().as_bytes()[1]
    );
    o.obj("spec", |s| {
        s.raw(
            "ports",
            r#"[{"name":"http","protocol":"TCP","port":80,"targetPort":8080}]"#,
        )
        .obj("selector", |l| {
            l.str("app", app);
        });
        if form == Form::Stored {
            s.str("clusterIP", &cluster_ip).arr("clusterIPs", |a| {
                a.str(&cluster_ip);
            });
        }
        s.str("type", "ClusterIP")
            .str("sessionAffinity", "None")
            .raw("ipFamilies", r#"["IPv4"]"#)
            .str("ipFamilyPolicy", "SingleStack")
            .str("internalTrafficPolicy", "Cluster");
    });
    o.raw("status", r#"{"loadBalancer":{}}"#);
}

fn lease(o: &mut Obj<'_>, subject: &Subject<'_>, form: Form) {
    let node_lease = subject.namespace == "kube-node-lease";
    let owner = node_lease.then_some(("v1", "Node", subject.name));
    let manager = if node_lease {
        "kubelet"
    } else {
        "kube-controller-manager"
    };
    metadata(
        o,
        subject,
        form,
        &Meta {
            owner,
            managers: &[(
                manager,
                "",
                r#"{"f:spec":{"f:holderIdentity":{},"f:leaseDurationSeconds":{},"f:renewTime":{}}}"#,
            )],
            ..Meta::default()
        },
    );
    let renew = subject.now.to_micro_string();
    o.obj("spec", |s| {
        if node_lease {
            s.str("holderIdentity", subject.name)
                .int("leaseDurationSeconds", 40)
                .str("renewTime", &renew);
        } else {
            let holder = format!(
                "control-plane-01_{}",
                subject.cluster.uid("holder", "", subject.name)
            );
            s.str("holderIdentity", &holder)
                .int("leaseDurationSeconds", 15)
                .str("acquireTime", &subject.created().to_micro_string())
                .str("renewTime", &renew)
                .int("leaseTransitions", 3);
        }
    });
}

fn core_event(o: &mut Obj<'_>, rng: &mut SynthRng, subject: &Subject<'_>, form: Form) {
    let app = subject.app();
    let pod = subject
        .name
        .split_once('.')
        .map_or(subject.name, |(pod, _)| pod);
    let image = subject
        .workload
        .map_or("registry.example.com/app:1.0.0", |w| w.image.as_str());
    let (kind, reason, template) = EVENT_REASONS[rng.random_range(0..EVENT_REASONS.len())];
    let message = template
        .replace("{image}", image)
        .replace("{app}", app)
        .replace("{pod}", pod);
    metadata(o, subject, form, &Meta::default());
    let now = subject.now.to_seconds_string();
    let pod_uid = subject.cluster.uid("pods", subject.namespace, pod);
    o.obj("involvedObject", |i| {
        i.str("kind", "Pod")
            .str("namespace", subject.namespace)
            .str("name", pod)
            .str("uid", &pod_uid)
            .str("apiVersion", "v1")
            .str(
                "resourceVersion",
                &(subject.resource_version - 40).to_string(),
            )
            .str("fieldPath", &format!("spec.containers{{{app}}}"));
    });
    o.str("reason", reason).str("message", &message);
    o.obj("source", |s| {
        s.str("component", "kubelet")
            .str("host", subject.node_name());
    });
    o.str("firstTimestamp", &now)
        .str("lastTimestamp", &now)
        .int("count", 1)
        .str("type", kind)
        .raw("eventTime", "null")
        .str("reportingComponent", "kubelet")
        .str("reportingInstance", subject.node_name());
}

fn node(o: &mut Obj<'_>, subject: &Subject<'_>, form: Form) {
    let control_plane = subject.name.starts_with("control-plane");
    let mut labels = vec![
        ("beta.kubernetes.io/arch", "amd64"),
        ("beta.kubernetes.io/os", "linux"),
        ("kubernetes.io/arch", "amd64"),
        ("kubernetes.io/hostname", subject.name),
        ("kubernetes.io/os", "linux"),
    ];
    if control_plane {
        labels.push(("node-role.kubernetes.io/control-plane", ""));
    }
    metadata(
        o,
        subject,
        form,
        &Meta {
            labels: &labels,
            annotations: &[
                ("node.alpha.kubernetes.io/ttl", "0"),
                (
                    "volumes.kubernetes.io/controller-managed-attach-detach",
                    "true",
                ),
            ],
            managers: &[
                (
                    "kubelet",
                    "",
                    r#"{"f:metadata":{"f:annotations":{".":{},"f:volumes.kubernetes.io/controller-managed-attach-detach":{}},"f:labels":{".":{},"f:kubernetes.io/hostname":{}}}}"#,
                ),
                (
                    "kubelet",
                    "status",
                    r#"{"f:status":{"f:conditions":{},"f:images":{},"f:nodeInfo":{}}}"#,
                ),
            ],
            ..Meta::default()
        },
    );
    let index = subject
        .cluster
        .nodes
        .iter()
        .position(|n| n.name == subject.name)
        .unwrap_or(1);
    o.obj("spec", |s| {
        s.str("podCIDR", &format!("10.244.{index}.0/24"))
            .arr("podCIDRs", |a| {
                a.str(&format!("10.244.{index}.0/24"));
            });
        if control_plane {
            s.raw(
                "taints",
                r#"[{"key":"node-role.kubernetes.io/control-plane","effect":"NoSchedule"}]"#,
            );
        }
    });
    if form == Form::Stored {
        node_status(o, subject);
    }
}

fn node_status(o: &mut Obj<'_>, subject: &Subject<'_>) {
    let now = subject.now.to_seconds_string();
    let since = subject.created().to_seconds_string();
    let ip = subject.node.map_or("10.0.1.11", |node| node.ip.as_str());
    o.obj("status", |s| {
        let resources = r#"{"cpu":"8","ephemeral-storage":"101430960Ki","hugepages-1Gi":"0","hugepages-2Mi":"0","memory":"32863756Ki","pods":"110"}"#;
        s.raw("capacity", resources).raw("allocatable", resources);
        s.arr("conditions", |a| {
            for (kind, status, reason, message) in [
                ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ] {
                a.obj(|c| {
                    c.str("type", kind)
                        .str("status", status)
                        .str("lastHeartbeatTime", &now)
                        .str("lastTransitionTime", &since)
                        .str("reason", reason)
                        .str("message", message);
                });
            }
        });
        s.arr("addresses", |a| {
            a.obj(|x| {
                x.str("type", "InternalIP").str("address", ip);
            })
            .obj(|x| {
                x.str("type", "Hostname").str("address", subject.name);
            });
        });
        s.raw("daemonEndpoints", r#"{"kubeletEndpoint":{"Port":10250}}"#);
        s.obj("nodeInfo", |n| {
            n.str("machineID", &subject.uid().replace('-', ""))
                .str("systemUUID", &subject.uid())
                .str("bootID", &subject.cluster.uid("boot", "", subject.name))
                .str("kernelVersion", "6.8.0-1015-aws")
                .str("osImage", "Ubuntu 24.04.1 LTS")
                .str("containerRuntimeVersion", "containerd://1.7.22")
                .str("kubeletVersion", KUBE_VERSION)
                .str("kubeProxyVersion", "")
                .str("operatingSystem", "linux")
                .str("architecture", "amd64");
        });
        s.arr("images", |a| {
            for (image, size) in NODE_IMAGES {
                let digest = digest_of(subject.cluster, image);
                a.obj(|i| {
                    i.arr("names", |names| {
                        names.str(&format!("{}@sha256:{digest}", image_repository(image))).str(image);
                    })
                    .int("sizeBytes", size);
                });
            }
        });
    });
}

fn cluster_role_binding(o: &mut Obj<'_>, subject: &Subject<'_>, form: Form) {
    let user = subject.name.strip_suffix("-cluster-admin").unwrap_or("bob");
    metadata(
        o,
        subject,
        form,
        &Meta {
            managers: &[("kubectl-create", "", r#"{"f:roleRef":{},"f:subjects":{}}"#)],
            ..Meta::default()
        },
    );
    o.arr("subjects", |a| {
        a.obj(|s| {
            s.str("kind", "User")
                .str("apiGroup", "rbac.authorization.k8s.io")
                .str("name", &format!("{user}@example.com"));
        });
    });
    o.raw(
        "roleRef",
        r#"{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"}"#,
    );
}

fn token_review(o: &mut Obj<'_>, subject: &Subject<'_>, form: Form) {
    o.raw("metadata", r#"{"creationTimestamp":null}"#);
    // A service-account JWT: this is why policies keep token reviews at Metadata. Derived from
    // the request time so that the request and response bodies show the same token.
    let seed = crate::ids::hash(
        subject.cluster.seed,
        &[&subject.now.unix_seconds().to_string()],
    );
    let rng = &mut <SynthRng as rand::SeedableRng>::seed_from_u64(seed);
    let token = format!(
        "eyJhbGciOiJSUzI1NiIsImtpZCI6I{}.{}.{}",
        random_hex(rng, 24),
        base64(&random_text(rng, 300)).trim_end_matches('='),
        base64(&random_text(rng, 192)).trim_end_matches('=')
    );
    o.obj("spec", |s| {
        s.str("token", &token).raw(
            "audiences",
            r#"["https://kubernetes.default.svc.cluster.local"]"#,
        );
    });
    if form == Form::Stored {
        let workload = subject
            .workload
            .or_else(|| subject.cluster.workloads.first());
        let namespace = workload.map_or("default", |w| w.namespace.as_str());
        o.obj("status", |s| {
            s.bool("authenticated", true)
                .obj("user", |u| {
                    u.str("username", &format!("system:serviceaccount:{namespace}:default"))
                        .str("uid", &subject.cluster.uid("serviceaccounts", namespace, "default"))
                        .raw(
                            "groups",
                            &format!(r#"["system:serviceaccounts","system:serviceaccounts:{namespace}","system:authenticated"]"#),
                        );
                })
                .raw("audiences", r#"["https://kubernetes.default.svc.cluster.local"]"#);
        });
    } else {
        o.raw("status", r#"{"user":{}}"#);
    }
}

fn application(o: &mut Obj<'_>, subject: &Subject<'_>, form: Form) {
    let (namespace, app) = subject
        .workload
        .map_or(("default", "app"), |w| (w.namespace.as_str(), w.app));
    metadata(
        o,
        subject,
        form,
        &Meta {
            generation: (subject.resource_version % 97 + 1) as i64,
            managers: &[
                (
                    "argocd-server",
                    "",
                    r#"{"f:spec":{".":{},"f:destination":{},"f:project":{},"f:source":{},"f:syncPolicy":{}}}"#,
                ),
                (
                    "argocd-application-controller",
                    "",
                    r#"{"f:status":{".":{},"f:health":{},"f:reconciledAt":{},"f:sync":{}}}"#,
                ),
            ],
            ..Meta::default()
        },
    );
    o.obj("spec", |s| {
        s.obj("source", |src| {
            src.str("repoURL", "https://git.example.com/platform/deploy.git")
                .str("path", &format!("apps/{namespace}/{app}"))
                .str("targetRevision", "main");
        })
        .obj("destination", |d| {
            d.str("server", "https://kubernetes.default.svc")
                .str("namespace", namespace);
        })
        .str("project", "default")
        .raw(
            "syncPolicy",
            r#"{"automated":{"prune":true,"selfHeal":true}}"#,
        );
    });
    if form == Form::Stored {
        let revision = subject
            .cluster
            .uid("revision", namespace, app)
            .replace('-', "");
        o.obj("status", |s| {
            s.obj("sync", |y| {
                y.str("status", "Synced")
                    .str("revision", &revision[..32.min(revision.len())]);
            })
            .raw("health", r#"{"status":"Healthy"}"#)
            .str("reconciledAt", &subject.now.to_seconds_string());
        });
    }
}

fn certificate(o: &mut Obj<'_>, subject: &Subject<'_>, form: Form) {
    let (namespace, app) = (subject.namespace, subject.app());
    metadata(
        o,
        subject,
        form,
        &Meta {
            generation: 1,
            labels: &[("app", app)],
            managers: &[(
                "cert-manager-certificates-readiness",
                "status",
                r#"{"f:status":{"f:conditions":{},"f:notAfter":{},"f:notBefore":{},"f:renewalTime":{}}}"#,
            )],
            ..Meta::default()
        },
    );
    o.obj("spec", |s| {
        s.str("secretName", subject.name)
            .arr("dnsNames", |a| {
                a.str(&format!("{app}.{namespace}.example.com"));
            })
            .raw(
                "issuerRef",
                r#"{"kind":"ClusterIssuer","name":"letsencrypt-prod"}"#,
            );
    });
    if form == Form::Stored {
        let now = subject.now.to_seconds_string();
        o.obj("status", |s| {
            s.arr("conditions", |a| {
                a.obj(|c| {
                    c.str("type", "Ready")
                        .str("status", "True")
                        .str("lastTransitionTime", &now)
                        .str("reason", "Ready")
                        .str("message", "Certificate is up to date and has not expired")
                        .int("observedGeneration", 1);
                });
            })
            .str("notBefore", &now)
            .str("renewalTime", &now);
        });
    }
}

/// The `pods/binding` body the scheduler posts.
pub(crate) fn binding(subject: &Subject<'_>) -> String {
    json::object(256, |o| {
        o.str("kind", "Binding")
            .str("apiVersion", "v1")
            .obj("metadata", |m| {
                m.str("name", subject.name)
                    .str("namespace", subject.namespace)
                    .str("uid", &subject.uid())
                    .raw("creationTimestamp", "null");
            });
        o.obj("target", |t| {
            t.str("kind", "Node").str("name", subject.node_name());
        });
    })
}

/// `DeleteOptions` as kubectl and the garbage collector send them.
pub(crate) fn delete_options(subject: &Subject<'_>, with_precondition: bool) -> String {
    json::object(160, |o| {
        o.str("kind", "DeleteOptions").str("apiVersion", "v1");
        if with_precondition {
            o.obj("preconditions", |p| {
                p.str("uid", &subject.uid());
            });
        }
        o.str("propagationPolicy", "Background");
    })
}

/// The patch documents clients send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Patch {
    /// kubelet's strategic-merge patch of `nodes/status` heartbeats.
    NodeStatus,
    /// kubelet's strategic-merge patch of `pods/status`.
    PodStatus,
    /// `kubectl apply` (client side): the new last-applied annotation plus the change.
    Apply,
    /// A JSON patch (RFC 6902) array from `kubectl patch --type=json` or CI.
    Json,
    /// `kubectl rollout restart`.
    Restart,
    /// A merge patch of `data` (ConfigMaps and Secrets).
    Data,
    /// A merge patch of labels.
    Labels,
    /// An Event's repeat count.
    EventCount,
    /// Argo CD's status update of an Application.
    ApplicationStatus,
    /// `kubectl cordon`.
    Cordon,
}

pub(crate) fn patch(rng: &mut SynthRng, subject: &Subject<'_>, patch: Patch) -> String {
    let now = subject.now.to_seconds_string();
    match patch {
        Patch::NodeStatus => json::object(512, |o| {
            o.obj("status", |s| {
                s.raw(
                    "$setElementOrder/conditions",
                    r#"[{"type":"MemoryPressure"},{"type":"DiskPressure"},{"type":"PIDPressure"},{"type":"Ready"}]"#,
                )
                .arr("conditions", |a| {
                    for kind in ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"] {
                        a.obj(|c| {
                            c.str("lastHeartbeatTime", &now).str("type", kind);
                        });
                    }
                });
            });
        }),
        Patch::PodStatus => json::object(512, |o| {
            o.obj("metadata", |m| {
                m.str("uid", &subject.uid());
            });
            o.obj("status", |s| {
                s.raw(
                    "$setElementOrder/conditions",
                    r#"[{"type":"PodReadyToStartContainers"},{"type":"Initialized"},{"type":"Ready"},{"type":"ContainersReady"},{"type":"PodScheduled"}]"#,
                );
                let ready = rng.random_bool(0.7);
                s.arr("conditions", |a| {
                    for kind in ["Ready", "ContainersReady"] {
                        a.obj(|c| {
                            c.str("lastTransitionTime", &now)
                                .str("status", if ready { "True" } else { "False" })
                                .str("type", kind);
                        });
                    }
                });
            });
        }),
        Patch::Apply => {
            let app = subject.app();
            let image = subject
                .workload
                .map_or("registry.example.com/app:1.0.0", |w| w.image.as_str());
            let applied = last_applied_deployment(subject, app, image, 3);
            json::object(1024, |o| {
                o.obj("metadata", |m| {
                    m.obj("annotations", |a| {
                        a.str("kubectl.kubernetes.io/last-applied-configuration", &applied);
                    });
                })
                .obj("spec", |s| {
                    s.int("replicas", 3).raw(
                        "template",
                        &format!(
                            r#"{{"spec":{{"$setElementOrder/containers":[{{"name":"{app}"}}],"containers":[{{"image":"{image}","name":"{app}"}}]}}}}"#
                        ),
                    );
                });
            })
        }
        Patch::Json => {
            let image = subject
                .workload
                .map_or("registry.example.com/app:1.0.0", |w| w.image.as_str());
            let tag = format!("{}-rc{}", image, rng.random_range(1..9));
            json::array(256, |a| {
                a.obj(|op| {
                    op.str("op", "replace")
                        .str("path", "/spec/replicas")
                        .int("value", rng.random_range(1..6));
                })
                .obj(|op| {
                    op.str("op", "replace")
                        .str("path", "/spec/template/spec/containers/0/image")
                        .str("value", &tag);
                });
            })
        }
        Patch::Restart => json::object(160, |o| {
            o.obj("spec", |s| {
                s.obj("template", |t| {
                    t.obj("metadata", |m| {
                        m.obj("annotations", |a| {
                            a.str("kubectl.kubernetes.io/restartedAt", &now);
                        });
                    });
                });
            });
        }),
        Patch::Data => json::object(128, |o| {
            o.obj("data", |d| {
                if subject.kind.resource == "secrets" {
                    d.str("password", &base64(&random_text(rng, 24)));
                } else {
                    d.str(
                        "LOG_LEVEL",
                        if rng.random_bool(0.5) {
                            "debug"
                        } else {
                            "info"
                        },
                    );
                }
            });
        }),
        Patch::Labels => json::object(128, |o| {
            o.obj("metadata", |m| {
                m.obj("labels", |l| {
                    l.str("team", "platform")
                        .str("cost-center", &format!("cc-{}", rng.random_range(100..999)));
                });
            });
        }),
        Patch::EventCount => json::object(96, |o| {
            o.int("count", rng.random_range(2..60))
                .str("lastTimestamp", &now);
        }),
        Patch::ApplicationStatus => json::object(256, |o| {
            o.obj("status", |s| {
                s.str("reconciledAt", &now)
                    .raw("sync", r#"{"status":"Synced"}"#);
            });
        }),
        Patch::Cordon => json::object(64, |o| {
            o.raw("spec", r#"{"unschedulable":true}"#);
        }),
    }
}

/// The `pods/eviction` body `kubectl drain` posts.
pub(crate) fn eviction(subject: &Subject<'_>) -> String {
    json::object(192, |o| {
        o.str("kind", "Eviction")
            .str("apiVersion", "policy/v1")
            .obj("metadata", |m| {
                m.str("name", subject.name)
                    .str("namespace", subject.namespace)
                    .raw("creationTimestamp", "null");
            });
        o.raw("deleteOptions", "{}");
    })
}
