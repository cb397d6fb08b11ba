//! Realistic, deterministic Kubernetes API-server audit traffic, for tests and benchmarks.
//!
//! [`Generator::new`]`(seed, config)` is an endless [`Iterator`] of [`event::AuditEvent`]s
//! filled the way the Kubernetes decoder fills them (source `k8s`, `id` = auditID, `time` =
//! requestReceivedTimestamp, `stage_time` = stageTimestamp, …), in stage-time order, like a
//! log file. The same seed and configuration give the same events on every machine: all
//! randomness comes from a seeded ChaCha8 stream, all arithmetic on it is integer, and time is
//! the configured [`SynthConfig::start`] advanced by the request rate. Nothing reads a clock.
//!
//! # The model
//!
//! **The cluster.** A control-plane node and workers (`control-plane-01`, `worker-01`, …),
//! application namespaces (`default`, `payments`, `checkout`, …), three Deployments per
//! namespace, each with a ReplicaSet hash and two to four pods placed on workers, and per
//! workload a ConfigMap, a Service, Secrets (`<app>-db-credentials`, `<app>-tls`, a Helm
//! release `sh.helm.release.v1.<app>.vN`), a cert-manager Certificate and an Argo CD
//! Application. Object uids and creation times are hashes of the seed and the object's name,
//! so one object keeps its identity across all events that touch it.
//!
//! **Who talks.** Per request, by weight:
//! - kubelets (`system:node:<name>`, groups `system:nodes`, `system:authenticated`): lease
//!   renewals in `kube-node-lease` (the largest single share), node-status and pod-status
//!   patches, get and watch of pods, ConfigMaps and Secrets (by `fieldSelector`), Events;
//!   about a third of all requests;
//! - the control plane: `system:kube-controller-manager` and `system:kube-scheduler` (leader
//!   leases, informer lists and watches, pod bindings) and controller service accounts
//!   (`system:serviceaccount:kube-system:replicaset-controller`, …, with a `credential-id`
//!   in `user.extra`): pod creates with `generateName`, Deployment status, garbage
//!   collection (Secrets among the dependents it deletes), namespace teardown with
//!   `deletecollection`; metrics-server's TokenReviews; cert-manager and Argo CD on their
//!   custom resources (pod-bound tokens, so `user.extra` names the pod and node); about a
//!   third;
//! - probes and monitoring: `system:anonymous` on `/livez`, `/readyz`, `/healthz` from
//!   kubelet and the load balancer, Prometheus on `/metrics`; about a tenth;
//! - people (`alice@example.com`, `bob@example.com`, … via OIDC, groups `dev-team`,
//!   `sre-team`, `data-team` and `system:authenticated`, kubectl user agents): discovery,
//!   reads, `logs`, `exec` (with the command in the URI), apply/edit/patch/restart, secrets
//!   (read, listed, edited, rotated by a delete and a create), ClusterRoleBindings
//!   (developers are refused), cordon and drain; sometimes through an authenticating proxy
//!   (a two-address `sourceIPs` chain), and sometimes an SRE impersonates a developer or a
//!   service account ([`SynthConfig::impersonation_rate`]);
//! - CI: a Helm deployer service account (release Secrets, the oldest one deleted at each
//!   upgrade past `--history-max`, Deployment patches) and kubectl;
//! - outsiders ([`SynthConfig::unauthenticated_rate`]): bad tokens (401, empty user, only a
//!   ResponseStarted event, "Authentication failed" message) and `system:anonymous` refused
//!   by RBAC (403).
//!
//! **Stages.** RequestReceived then ResponseComplete with one auditID (a random UUID); watch,
//! `exec` and `logs` also have ResponseStarted, and their ResponseComplete comes when the
//! stream closes, minutes later; a panicking handler ([`SynthConfig::panic_rate`]) gives
//! Panic (500 InternalError) instead of ResponseComplete. RequestReceived carries what the
//! audit filter knows before the handler chain: no impersonated user, annotations, status or
//! bodies, and for a create no object name yet.
//!
//! **Results.** Mostly 200 and 201 (101 for exec). With [`SynthConfig::error_rate`] a
//! request fails the way its verb can: 404 NotFound, 409 AlreadyExists or Conflict,
//! 403 Forbidden (decision `forbid`), 422 Invalid with causes, 429 (from Priority and
//! Fairness, code only, or from a PodDisruptionBudget), 500 from a failing webhook. Status
//! messages and `details` are worded as the API server words them;
//! `authorization.k8s.io/decision` and `…/reason` carry the RBAC or Node authorizer's text.
//!
//! **Levels and bodies.** Non-resource requests are logged at Metadata; resource requests at
//! a level drawn from [`SynthConfig::levels`]. Request bodies are what clients send (new
//! objects with `creationTimestamp: null`, full objects for updates, strategic-merge and
//! JSON-patch documents, DeleteOptions); response bodies are stored objects with uid,
//! resourceVersion, labels, annotations (`kubectl.kubernetes.io/last-applied-configuration`,
//! which repeats the object, Secret data included), `managedFields`, spec and status; lists;
//! Status objects for deletes and errors. Secrets carry base64 `data`; TokenReviews carry the
//! token. Nodes, lists and Helm releases make occasional bodies of tens of KB.
//!
//! With the defaults the average event is about 1 KB by
//! [`event::AuditEvent::approximate_size`]; [`SynthConfig::levels`] and
//! [`SynthConfig::large_body_rate`] move it.
//!
//! The `auditrail-synth` binary (feature `cli`) writes the events as `audit.k8s.io/v1` JSON
//! lines through `formats::k8s::encode`; the feature is off by default so that `formats`
//! can use this crate in its tests without a dependency cycle.
//!
//! Output order is by stage time. Long-running requests are held until they complete, so the
//! generator keeps the open watches, exec sessions and log streams in memory: at the default
//! rate a few thousand events.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use event::{AuditEvent, Timestamp};
use rand::{RngExt, SeedableRng};

pub mod auditd;
mod catalog;
mod cluster;
mod ids;
mod json;
mod objects;
mod render;
mod status;
mod traffic;

use crate::cluster::Cluster;
use crate::render::Renderer;
use crate::traffic::Traffic;

/// The random stream: ChaCha8, whose output is fixed by its specification, so a seed means
/// the same traffic on every platform and release.
type SynthRng = rand_chacha::ChaCha8Rng;

/// What traffic to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthConfig {
    /// The time of the first request.
    pub start: Timestamp,
    /// Requests per second of simulated time (each request gives two or three events). The
    /// gap between requests is uniform between 1 µs and twice the mean; every timestamp is on
    /// a whole microsecond, as Kubernetes writes them.
    pub requests_per_second: u32,
    /// The audit level of resource requests, as weights.
    pub levels: LevelMix,
    /// Fraction of requests that fail (404, 409, 403, 422, 429, 500), besides the refusals
    /// built into the traffic (anonymous probes, developers reaching for cluster-admin).
    pub error_rate: f64,
    /// Fraction of resource requests whose handler panics (stage Panic, 500).
    pub panic_rate: f64,
    /// Fraction of requests from outside: failed authentication (401) or `system:anonymous`
    /// refused by RBAC (403).
    pub unauthenticated_rate: f64,
    /// Fraction of people's requests that an administrator sends impersonating someone.
    pub impersonation_rate: f64,
    /// Fraction of ConfigMap and Helm-release bodies that are large (tens of KB).
    pub large_body_rate: f64,
    /// Number of people (`alice`, `bob`, `carol`, …); at least 1.
    pub users: usize,
    /// Number of nodes, the first being the control plane; at least 1.
    pub nodes: usize,
    /// Number of application namespaces; at least 1.
    pub namespaces: usize,
}

/// Relative weights of the audit levels for resource requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelMix {
    /// No bodies.
    pub metadata: u32,
    /// The request body only.
    pub request: u32,
    /// Request and response bodies.
    pub request_response: u32,
}

impl Default for SynthConfig {
    fn default() -> SynthConfig {
        SynthConfig {
            // 2025-10-07T16:00:00Z
            start: Timestamp::from_unix_seconds(1_759_852_800),
            requests_per_second: 200,
            levels: LevelMix::default(),
            error_rate: 0.03,
            panic_rate: 0.002,
            unauthenticated_rate: 0.01,
            impersonation_rate: 0.03,
            large_body_rate: 0.01,
            users: 6,
            nodes: 5,
            namespaces: 6,
        }
    }
}

impl Default for LevelMix {
    /// Mostly Metadata, as typical policies log most traffic; a fifth with bodies.
    fn default() -> LevelMix {
        LevelMix {
            metadata: 80,
            request: 10,
            request_response: 10,
        }
    }
}

/// An endless, deterministic stream of audit events. See the [crate] documentation.
#[derive(Debug)]
pub struct Generator {
    rng: SynthRng,
    config: SynthConfig,
    cluster: Cluster,
    /// When the next request arrives, in nanoseconds since the Unix epoch.
    next_request_ns: i64,
    resource_version: u64,
    /// Events generated but not yet due, earliest stage time first.
    pending: BinaryHeap<Reverse<Pending>>,
    sequence: u64,
}

impl Generator {
    /// The traffic of `seed` under `config`. Building it derives the cluster (names, uids);
    /// events are generated lazily as the iterator advances.
    pub fn new(seed: u64, config: SynthConfig) -> Generator {
        let cluster = Cluster::new(seed, &config);
        Generator {
            rng: SynthRng::seed_from_u64(seed),
            next_request_ns: config.start.unix_nanos().div_euclid(1_000) * 1_000,
            config,
            cluster,
            resource_version: 4_812_345,
            pending: BinaryHeap::new(),
            sequence: 0,
        }
    }

    /// Generates the next request's events into `pending`.
    fn generate(&mut self) {
        let time = Timestamp::from_unix_nanos(self.next_request_ns);
        let mean_gap_ns = 1_000_000_000 / i64::from(self.config.requests_per_second.max(1));
        // Kubernetes timestamps are MicroTime: keep every instant on a whole microsecond.
        let gap_us = self.rng.random_range(1..=(2 * mean_gap_ns / 1_000).max(1));
        self.next_request_ns += gap_us * 1_000;
        let request = Traffic {
            cluster: &self.cluster,
            config: &self.config,
            rng: &mut self.rng,
            now: time,
            resource_version: self.resource_version,
        }
        .next_request();
        let events = Renderer {
            cluster: &self.cluster,
            config: &self.config,
            rng: &mut self.rng,
            resource_version: &mut self.resource_version,
        }
        .render(&request, time);
        for event in events {
            let stage_time = event
                .stage_time
                .map_or(time.unix_nanos(), Timestamp::unix_nanos);
            self.sequence += 1;
            self.pending.push(Reverse(Pending {
                stage_time,
                sequence: self.sequence,
                event,
            }));
        }
    }
}

impl Iterator for Generator {
    type Item = AuditEvent;

    fn next(&mut self) -> Option<AuditEvent> {
        loop {
            // An event is due once no later request can produce an earlier one.
            if let Some(Reverse(first)) = self.pending.peek()
                && first.stage_time <= self.next_request_ns
            {
                return self.pending.pop().map(|Reverse(pending)| pending.event);
            }
            self.generate();
        }
    }
}

/// An event waiting for its stage time, ordered by (stage time, generation order).
#[derive(Debug)]
struct Pending {
    stage_time: i64,
    sequence: u64,
    event: AuditEvent,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Pending) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Pending {}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Pending) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pending {
    fn cmp(&self, other: &Pending) -> Ordering {
        (self.stage_time, self.sequence).cmp(&(other.stage_time, other.sequence))
    }
}
