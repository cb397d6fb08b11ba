//! Turning one request into the audit events the API server writes for it.
//!
//! Upstream's handler chain decides what each stage carries, and this module follows it:
//! authentication, then the audit filter (which emits RequestReceived with the authenticated
//! user, the URI and the object reference from the URL), then impersonation, API Priority
//! and Fairness, authorization (the `authorization.k8s.io/*` annotations) and the handler
//! (which logs the bodies and completes the object reference from the request body). So
//! RequestReceived has no impersonated user, annotations, status or bodies; a request that
//! fails authentication yields one ResponseStarted event with an empty user; a throttled
//! request has no authorization annotations; a denied one has no request body.

use std::collections::BTreeMap;

use event::{
    ANNOTATION_DECISION, ANNOTATION_REASON, AuditEvent, Level, ObjectRef, Origin, RawJson,
    ResponseStatus, SourceKind, Stage, Timestamp,
};
use rand::RngExt;

use crate::cluster::{Cluster, Named};
use crate::ids::random_uuid;
use crate::objects::{self, Form, Subject};
use crate::status::{self, About, Failure, ResourceAbout, raw, status_document};
use crate::traffic::{Request, Resource, Target, Traffic};
use crate::{SynthConfig, SynthRng};

/// The most items a generated list response holds.
const LIST_ITEMS_MAX: usize = 24;

/// Renders requests into events.
pub(crate) struct Renderer<'c, 'r> {
    pub(crate) cluster: &'c Cluster,
    pub(crate) config: &'c SynthConfig,
    pub(crate) rng: &'r mut SynthRng,
    /// The cluster's resourceVersion counter, advanced by every successful write.
    pub(crate) resource_version: &'r mut u64,
}

/// Offsets from the request time, in nanoseconds.
#[derive(Debug, Clone, Copy)]
struct Timing {
    started_ns: i64,
    finished_ns: i64,
}

impl<'c> Renderer<'c, '_> {
    /// The events of one request, in stage order.
    pub(crate) fn render(&mut self, request: &Request<'_>, time: Timestamp) -> Vec<AuditEvent> {
        let failure = self.failure(request);
        let level = self.level(request);
        let timing = self.timing(request, failure);
        let previous_version = *self.resource_version;
        if failure.is_none()
            && matches!(
                request.verb,
                "create" | "update" | "patch" | "delete" | "deletecollection"
            )
        {
            *self.resource_version += self.rng.random_range(1..4_u64);
        }
        let received = received_event(request, random_uuid(self.rng), level, time);
        if failure == Some(Failure::Unauthorized) {
            // Only the failed-authentication filter writes an event: no RequestReceived.
            let status = self.status(request, failure);
            return vec![AuditEvent {
                stage: Some(Stage::ResponseStarted),
                stage_time: Some(offset(time, timing.started_ns)),
                outcome: AuditEvent::outcome_from_http(status.code, None),
                status: Some(status),
                ..received
            }];
        }
        let mut later = received.clone();
        later.impersonated_user.clone_from(&request.impersonated);
        later.annotations = self.annotations(request, failure, timing);
        let handler_ran = failure.is_none_or(Failure::handler_ran);
        if handler_ran
            && let (Some(object), Target::Resource(resource)) = (&mut later.object, &request.target)
        {
            complete_object_ref(
                object,
                request.verb,
                resource,
                self.cluster,
                previous_version,
            );
        }
        let status = self.status(request, failure);
        let decision = later
            .annotations
            .get(ANNOTATION_DECISION)
            .map(String::as_str);
        later.outcome = AuditEvent::outcome_from_http(status.code, decision);
        later.status = Some(status);
        let mut events = vec![received];
        if request.open_ns > 0 && failure.is_none() {
            events.push(AuditEvent {
                stage: Some(Stage::ResponseStarted),
                stage_time: Some(offset(time, timing.started_ns)),
                ..later.clone()
            });
        }
        let now = offset(time, timing.finished_ns);
        if level >= Level::Request && handler_ran {
            later.request_object = self.request_body(request, previous_version, now);
        }
        if level == Level::RequestResponse && request.open_ns == 0 {
            later.response_object =
                self.response_body(request, failure, later.status.as_ref(), now);
        }
        later.stage = Some(if failure == Some(Failure::Panic) {
            Stage::Panic
        } else {
            Stage::ResponseComplete
        });
        later.stage_time = Some(now);
        events.push(later);
        events
    }

    fn chance(&mut self, probability: f64) -> bool {
        self.rng.random_bool(probability.clamp(0.0, 1.0))
    }

    fn failure(&mut self, request: &Request<'_>) -> Option<Failure> {
        if request.forced.is_some() {
            return request.forced;
        }
        let resource = matches!(request.target, Target::Resource(_));
        if resource && self.chance(self.config.panic_rate) {
            return Some(Failure::Panic);
        }
        if !self.chance(self.config.error_rate) {
            return None;
        }
        let failures = Traffic::failures(request);
        let total: u32 = failures.iter().map(|(weight, _)| weight).sum();
        let mut draw = self.rng.random_range(0..total.max(1));
        for (weight, failure) in failures {
            if draw < *weight {
                return Some(*failure);
            }
            draw -= weight;
        }
        None
    }

    /// Bodies exist only for resource requests; non-resource requests log Metadata.
    fn level(&mut self, request: &Request<'_>) -> Level {
        if matches!(request.target, Target::NonResource(_)) {
            return Level::Metadata;
        }
        let mix = &self.config.levels;
        let total = mix.metadata + mix.request + mix.request_response;
        if total == 0 {
            return Level::Metadata;
        }
        let draw = self.rng.random_range(0..total);
        if draw < mix.metadata {
            Level::Metadata
        } else if draw < mix.metadata + mix.request {
            Level::Request
        } else {
            Level::RequestResponse
        }
    }

    fn timing(&mut self, request: &Request<'_>, failure: Option<Failure>) -> Timing {
        const MS: i64 = 1_000_000;
        let rng = &mut *self.rng;
        if let Some(Failure::Unauthorized | Failure::Forbidden | Failure::Throttled) = failure {
            let finished_ns = rng.random_range(MS / 10..2 * MS);
            return Timing {
                started_ns: finished_ns,
                finished_ns,
            };
        }
        if request.open_ns > 0 && failure.is_none() {
            return Timing {
                started_ns: rng.random_range(MS / 3..3 * MS),
                finished_ns: request.open_ns,
            };
        }
        let cluster_wide = matches!(&request.target, Target::Resource(r) if r.namespace.is_empty() && r.name.is_empty());
        let (low, high) = match (request.verb, &request.target) {
            (_, Target::NonResource("/metrics")) => (20 * MS, 90 * MS),
            (_, Target::NonResource("/openapi/v2")) => (30 * MS, 250 * MS),
            (_, Target::NonResource(_)) => (MS / 10, 3 * MS),
            ("get", _) => (MS / 2, 8 * MS),
            ("list", _) if cluster_wide => (20 * MS, 400 * MS),
            ("list", _) => (3 * MS, 60 * MS),
            ("deletecollection", _) => (30 * MS, 600 * MS),
            _ => (3 * MS, 40 * MS),
        };
        let mut finished_ns = rng.random_range(low..high);
        if failure == Some(Failure::Webhook) {
            finished_ns += 10_000 * MS;
        } else if rng.random_bool(0.01) {
            // The slow tail: etcd compaction, a slow webhook, a large serialisation.
            finished_ns *= rng.random_range(10..50);
        }
        Timing {
            started_ns: finished_ns,
            finished_ns,
        }
    }

    fn annotations(
        &mut self,
        request: &Request<'_>,
        failure: Option<Failure>,
        timing: Timing,
    ) -> BTreeMap<String, String> {
        let mut annotations = BTreeMap::new();
        if failure.is_some_and(|failure| !failure.authorized()) {
            return annotations;
        }
        let (decision, reason) = if failure == Some(Failure::Forbidden) {
            ("forbid", request.deny_reason.as_str())
        } else {
            ("allow", request.allow_reason.as_str())
        };
        annotations.insert(ANNOTATION_DECISION.to_owned(), decision.to_owned());
        annotations.insert(ANNOTATION_REASON.to_owned(), reason.to_owned());
        let Target::Resource(resource) = &request.target else {
            return annotations;
        };
        let admitted = failure.is_none_or(Failure::handler_ran);
        let mutating = matches!(request.verb, "create" | "update" | "patch");
        if admitted
            && mutating
            && resource.kind.resource == "pods"
            && resource.subresource.is_empty()
        {
            admission_annotations(&mut annotations, self.rng, resource);
        }
        if request.open_ns == 0 && timing.finished_ns > 1_000_000_000 {
            annotations.insert(
                "apiserver.latency.k8s.io/etcd".to_owned(),
                go_duration(timing.finished_ns * 9 / 10),
            );
            annotations.insert(
                "apiserver.latency.k8s.io/total".to_owned(),
                go_duration(timing.finished_ns),
            );
        }
        annotations
    }

    fn status(&self, request: &Request<'_>, failure: Option<Failure>) -> ResponseStatus {
        let Some(failure) = failure else {
            return success_status(request, self.cluster);
        };
        let user = request.impersonated.as_ref().unwrap_or(&request.user);
        let (resource, path) = match &request.target {
            Target::Resource(resource) => (
                Some(ResourceAbout {
                    resource: resource.kind.resource,
                    group: resource.kind.group,
                    kind: resource.kind.kind,
                    namespace: &resource.namespace,
                    // The authorizer sees only the name in the URL (or a metadata.name field
                    // selector); the handler's errors name the object in the body.
                    name: match failure {
                        Failure::Forbidden
                            if !resource.name_in_path(request.verb)
                                && !resource.by_field_selector =>
                        {
                            ""
                        }
                        Failure::Forbidden => &resource.name,
                        _ if resource.generate_name.is_empty() => &resource.name,
                        _ => "",
                    },
                    subresource: resource.subresource,
                }),
                "",
            ),
            Target::NonResource(path) => (None, *path),
        };
        let about = About {
            user: &user.name,
            verb: request.verb,
            resource,
            path,
            deny_reason: &request.deny_reason,
        };
        status::failure_status(failure, &about)
    }

    fn subject<'a>(
        &mut self,
        resource: &'a Resource<'a>,
        resource_version: u64,
        now: Timestamp,
    ) -> Subject<'a>
    where
        'c: 'a,
    {
        let large = self.chance(self.config.large_body_rate);
        Subject {
            cluster: self.cluster,
            kind: resource.kind,
            namespace: &resource.namespace,
            name: &resource.name,
            generate_name: &resource.generate_name,
            workload: resource.workload,
            node: resource.node,
            resource_version,
            now,
            large,
        }
    }

    fn request_body(
        &mut self,
        request: &Request<'_>,
        previous_version: u64,
        now: Timestamp,
    ) -> Option<RawJson> {
        let Target::Resource(resource) = &request.target else {
            return None;
        };
        let subject = self.subject(resource, previous_version, now);
        let text = match (request.verb, resource.subresource) {
            ("create", "binding") => objects::binding(&subject),
            ("create", "eviction") => objects::eviction(&subject),
            ("create", "") => objects::document(self.rng, &subject, Form::New),
            ("update", _) => objects::document(self.rng, &subject, Form::Stored),
            ("patch", _) => objects::patch(self.rng, &subject, request.patch),
            ("delete", _) if request.delete_precondition || self.rng.random_bool(0.6) => {
                objects::delete_options(&subject, request.delete_precondition)
            }
            ("deletecollection", _) => objects::delete_options(&subject, false),
            _ => return None,
        };
        Some(raw(text))
    }

    fn response_body(
        &mut self,
        request: &Request<'_>,
        failure: Option<Failure>,
        status: Option<&ResponseStatus>,
        now: Timestamp,
    ) -> Option<RawJson> {
        let Target::Resource(resource) = &request.target else {
            return None;
        };
        if let Some(failure) = failure {
            return status
                .filter(|_| failure.has_status_body())
                .map(|status| raw(status_document(status)));
        }
        let version = *self.resource_version;
        let subject = self.subject(resource, version, now);
        let text = match (request.verb, resource.subresource) {
            ("create", "binding" | "eviction") => status_document(status?),
            ("get" | "create" | "update" | "patch", _) => {
                objects::document(self.rng, &subject, Form::Stored)
            }
            ("list" | "deletecollection", _) => {
                let items = list_items(self.cluster, resource);
                objects::list(self.rng, &subject, &items, version)
            }
            ("delete", _) if resource.kind.resource == "pods" => {
                objects::document(self.rng, &subject, Form::Stored)
            }
            ("delete", _) => status_document(status?),
            _ => return None,
        };
        Some(raw(text))
    }
}

/// The RequestReceived event: what the audit filter knows before the handler chain runs.
fn received_event(
    request: &Request<'_>,
    audit_id: String,
    level: Level,
    time: Timestamp,
) -> AuditEvent {
    let (uri_path, object) = match &request.target {
        Target::NonResource(path) => ((*path).to_owned(), None),
        Target::Resource(resource) => {
            let in_path = resource.name_in_path(request.verb);
            let path_name = if in_path { resource.name.as_str() } else { "" };
            let reference_name = if in_path || resource.by_field_selector {
                resource.name.clone()
            } else {
                String::new()
            };
            let object = ObjectRef {
                resource: resource.kind.resource.to_owned(),
                namespace: resource.namespace.clone(),
                name: reference_name,
                api_group: Some(resource.kind.group.to_owned()),
                api_version: resource.kind.version.to_owned(),
                subresource: resource.subresource.to_owned(),
                ..ObjectRef::default()
            };
            (
                resource
                    .kind
                    .path(&resource.namespace, path_name, resource.subresource),
                Some(object),
            )
        }
    };
    let uri = if request.query.is_empty() {
        uri_path
    } else {
        format!("{uri_path}?{}", request.query)
    };
    AuditEvent {
        origin: Origin {
            source: SourceKind::K8s,
            ..Origin::default()
        },
        id: audit_id,
        stage: Some(Stage::RequestReceived),
        level: Some(level),
        time: Some(time),
        stage_time: Some(time),
        user: request.user.clone(),
        verb: request.verb.to_owned(),
        object,
        uri,
        source_ips: request.source_ips.clone(),
        user_agent: request.user_agent.clone(),
        ..AuditEvent::default()
    }
}

/// What the handler adds to the object reference from the request body: the name of a
/// create (not a generateName one), the uid and resourceVersion an update sends.
fn complete_object_ref(
    object: &mut ObjectRef,
    verb: &str,
    resource: &Resource<'_>,
    cluster: &Cluster,
    version: u64,
) {
    match verb {
        "create" if resource.subresource.is_empty() && resource.generate_name.is_empty() => {
            object.name.clone_from(&resource.name);
        }
        "update" => {
            object.uid = cluster.uid(resource.kind.resource, &resource.namespace, &resource.name);
            object.resource_version = version.to_string();
        }
        _ => {}
    }
}

fn success_status(request: &Request<'_>, cluster: &Cluster) -> ResponseStatus {
    let Target::Resource(resource) = &request.target else {
        return ResponseStatus {
            code: Some(200),
            ..ResponseStatus::default()
        };
    };
    match (request.verb, resource.subresource) {
        ("create", "binding" | "eviction") => ResponseStatus {
            code: Some(201),
            status: "Success".to_owned(),
            ..ResponseStatus::default()
        },
        ("create", "") => ResponseStatus {
            code: Some(201),
            ..ResponseStatus::default()
        },
        (_, "exec") => ResponseStatus {
            code: Some(101),
            ..ResponseStatus::default()
        },
        ("delete", _) if resource.kind.resource != "pods" => {
            let uid = cluster.uid(resource.kind.resource, &resource.namespace, &resource.name);
            let details = status::details(
                &resource.name,
                resource.kind.group,
                resource.kind.resource,
                &[],
            );
            let details =
                details.trim_end_matches('}').to_owned() + &format!(",\"uid\":\"{uid}\"}}");
            ResponseStatus {
                code: Some(200),
                status: "Success".to_owned(),
                details: Some(raw(details)),
                ..ResponseStatus::default()
            }
        }
        _ => ResponseStatus {
            code: Some(200),
            ..ResponseStatus::default()
        },
    }
}

/// The annotations PodSecurity admission and mutating webhooks add to pod writes.
fn admission_annotations(
    annotations: &mut BTreeMap<String, String>,
    rng: &mut SynthRng,
    resource: &Resource<'_>,
) {
    annotations.insert(
        "pod-security.kubernetes.io/enforce-policy".to_owned(),
        "baseline:latest".to_owned(),
    );
    if rng.random_bool(0.3) {
        let container = resource.workload.map_or("app", |workload| workload.app);
        annotations.insert(
            "pod-security.kubernetes.io/audit-violations".to_owned(),
            format!("would violate PodSecurity \"restricted:latest\": allowPrivilegeEscalation != false (container \"{container}\" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container \"{container}\" must set securityContext.capabilities.drop=[\"ALL\"]), runAsNonRoot != true (pod or container \"{container}\" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container \"{container}\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")"),
        );
    }
    if rng.random_bool(0.4) {
        annotations.insert(
            "mutation.webhook.admission.k8s.io/round_0_index_0".to_owned(),
            r#"{"configuration":"istio-sidecar-injector","webhook":"namespace.sidecar-injector.istio.io","mutated":true}"#.to_owned(),
        );
    }
}

/// The objects a list or deletecollection returns: a workload's objects when the request
/// names one (Helm listing its releases), else the collection, capped.
fn list_items<'c>(cluster: &'c Cluster, resource: &'c Resource<'c>) -> Vec<Named<'c>> {
    let mut items = cluster.objects(resource.kind.resource, &resource.namespace);
    if let Some(workload) = resource.workload
        && resource.kind.resource == "secrets"
    {
        let release = cluster.helm_release(workload);
        items.retain(|item| item.name == release);
    }
    items.truncate(LIST_ITEMS_MAX);
    items
}

/// `time` plus `nanos`, on a whole microsecond (Kubernetes MicroTime).
fn offset(time: Timestamp, nanos: i64) -> Timestamp {
    Timestamp::from_unix_nanos(time.unix_nanos() + nanos.div_euclid(1_000) * 1_000)
}

/// A Go `time.Duration` string, as the latency annotations print them.
fn go_duration(nanos: i64) -> String {
    let (value, unit, scale) = if nanos >= 1_000_000_000 {
        (nanos, "s", 1_000_000_000)
    } else {
        (nanos, "ms", 1_000_000)
    };
    let whole = value / scale;
    let fraction = value % scale;
    if fraction == 0 {
        return format!("{whole}{unit}");
    }
    let digits = if scale == 1_000_000_000 { 9 } else { 6 };
    let fraction = format!("{fraction:0digits$}");
    format!("{whole}.{}{unit}", fraction.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::go_duration;

    #[test]
    fn durations_print_like_go() {
        assert_eq!(go_duration(1_203_436_000), "1.203436s");
        assert_eq!(go_duration(2_000_000_000), "2s");
        assert_eq!(go_duration(823_500_000), "823.5ms");
    }
}
