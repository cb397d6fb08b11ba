//! The audit policy: which events are kept, at what level, and what is redacted or cut.
//!
//! A [`Policy`] is loaded from the text of a Kubernetes `audit.k8s.io/v1` Policy file
//! ([`Policy::load`]) and applied to one [`AuditEvent`] at a time ([`Policy::apply`]), whatever
//! source the event came from. The same file works unchanged in kube-apiserver
//! (`--audit-policy-file`): auditrail's additions live under one top-level key, `auditrail:`,
//! which the API server ignores after a warning.
//!
//! # Invariants
//!
//! - **No I/O, no async, no clock.** The crate takes text and events and returns values; it is
//!   deterministic and never panics, whatever the input.
//! - **Kubernetes semantics are exact.** Loading applies the API server's validation
//!   (`pkg/apis/audit/validation`), and [`Policy::evaluate`] reproduces
//!   `pkg/audit/policy/checker.go`: the first matching rule wins, no match means level None,
//!   `users`/`userGroups`/`verbs` compare exactly (`"*"` is *not* a wildcard), `omitStages`
//!   is the union of the policy's and the rule's, `omitManagedFields` is the rule's when set,
//!   else the policy's. The tests reproduce every case of upstream's `checker_test.go`.
//! - **Every drop has a reason** ([`DropReason`]), so callers can count what policy dropped.
//! - **[`Policy::apply`] is idempotent**: applying a policy to its own output changes nothing.
//!   A value already redacted or cut is recognised and left alone.
//! - **Bodies are parsed only when a step can change them**, decided on the event's object
//!   reference and a substring of the body. A body no step changed keeps its exact text; a
//!   changed body is re-serialised, with its object keys in sorted order.
//! - **Fail closed on secrets**: a body that a redaction step applies to but that cannot be
//!   parsed is removed, and the removal is recorded.
//!
//! # Attributes
//!
//! A rule sees the event as upstream's authorizer attributes: the user is `event.user` (the
//! authenticated user, never the impersonated one; an empty actor means no user, which never
//! matches a rule with `users` or `userGroups`), the groups are `event.user.groups`, the verb
//! is `event.verb`, the request is a resource request iff `event.object` is present (group,
//! resource, subresource, namespace and name come from it), and the non-resource path is
//! [`AuditEvent::path`] (the URI without its query).
//!
//! # What `apply` does, in order
//!
//! 1. **Ignored endpoints**: an event whose path matches `auditrail.ignoredEndpoints` is
//!    dropped ([`DropReason::IgnoredEndpoint`]).
//! 2. **Rules**: no matching rule, or level None, drops the event; so does a stage in the
//!    effective `omitStages`. Events without a stage (non-Kubernetes sources) are never
//!    dropped for their stage.
//! 3. **Level**: the event's level becomes min(the level it was recorded at, RequestResponse
//!    when unknown; the rule's level). Below Request the request body and the
//!    `patch.webhook.admission.k8s.io/*` annotations go; below RequestResponse the response
//!    body goes.
//! 4. **Managed fields**: with `omitManagedFields`, `metadata.managedFields` is removed from
//!    both bodies, and from every `items[*]` of a list.
//! 5. **Redacted endpoints**: an event matching `auditrail.redactedEndpoints` loses both
//!    bodies.
//! 6. **Redaction** (`auditrail.redact`), see below.
//! 7. **Size limit** (`auditrail.maxEventBytes`), see below.
//!
//! A dropped event is left as it was, so that a dry run can still look at it.
//!
//! # The `auditrail:` section
//!
//! ```yaml
//! apiVersion: audit.k8s.io/v1
//! kind: Policy
//! rules:
//!   - level: Metadata
//! auditrail:
//!   # Events on these paths are dropped (and counted). A pattern is matched against the
//!   # path without query: exact, or with `*` matching within one path segment, and a `*`
//!   # that ends the pattern matching any rest (the nonResourceURLs prefix form).
//!   # `mke-defaults` stands for MKE_IGNORED_ENDPOINTS. Default: none.
//!   ignoredEndpoints: [mke-defaults, "/healthz*"]
//!   # Events matching "[METHOD ]PATTERN" lose their request and response bodies. The method
//!   # is compared, ignoring case, with the event's HTTP method, or its verb when the source
//!   # recorded no method. `mke-defaults` stands for MKE_REDACTED_ENDPOINTS, which is also
//!   # the default when the key is absent; `[]` turns it off.
//!   redactedEndpoints: [mke-defaults, "POST /api/login"]
//!   redact:
//!     secrets: true        # Secret data, stringData and last-applied-configuration
//!     tokenReviews: true   # TokenReview spec.token (and status.token)
//!     tokenRequests: true  # serviceaccounts/token (TokenRequest) status.token
//!     execCommands: true   # command= query parameters of exec and attach URIs
//!     paths:               # more JSON paths to redact in request and response bodies
//!       - resource: deployments   # optional: objectRef.resource must equal it
//!         group: apps             # optional: the API group must equal it ("" = core)
//!         jsonPath: spec.template.spec.containers[*].env[*].value
//!   maxEventBytes: 102400  # optional size limit per event
//! ```
//!
//! Unknown keys under `auditrail:` are errors (a misspelt redaction setting must not pass
//! silently); unknown Kubernetes fields are warnings, as in the API server.
//!
//! ## Redaction
//!
//! A redacted value is replaced with the string [`REDACTED`] (`"<redacted>"`); keys stay, so
//! one can still see which key changed. Every redaction adds what it changed to the
//! annotation [`event::ANNOTATION_REDACTED`] (`auditrail.io/redacted`), a comma-separated list
//! of paths such as `requestObject.data,responseObject.items[*].data,requestURI.command`.
//!
//! - `secrets`: for core-group `secrets` requests and for any body whose `kind` is `Secret`,
//!   every value of `data` and `stringData`, and the
//!   `kubectl.kubernetes.io/last-applied-configuration` annotation (it holds a copy of the
//!   data); the same in every item of a `SecretList` and every Secret item of another list;
//!   for JSON patches of a Secret, the `value` of each operation that writes data, string data
//!   or that annotation; and the patches in `patch.webhook.admission.k8s.io/*` annotations of
//!   Secret requests.
//! - `tokenReviews`: `spec.token` and `status.token` of TokenReview bodies
//!   (`authentication.k8s.io` `tokenreviews`, or `kind: TokenReview`).
//! - `tokenRequests`: `status.token` of TokenRequest bodies (core `serviceaccounts/token`, or
//!   `kind: TokenRequest`).
//! - `execCommands`: the value of every `command=` query parameter of an exec or attach URI
//!   (`pods/exec`, `pods/attach`, or a path containing `/exec` or `/attach`) becomes
//!   [`REDACTED_QUERY_VALUE`], the marker percent-encoded so that the URI stays valid. The
//!   number of parameters is kept.
//! - `paths`: each `jsonPath` (dotted keys, `*` or `[*]` for every child, `[N]`, `["a.b"]`)
//!   is replaced wherever it reaches, in both bodies of matching events.
//!
//! ## Size limit
//!
//! When [`AuditEvent::approximate_size`] exceeds `maxEventBytes`, both bodies go and
//! [`event::ANNOTATION_TRUNCATED`] is set to `"true"`, like the API server's truncate backend.
//! If the event is still too large, it is *kept* (the API server would discard it), after
//! capping `sourceIPs` to [`limits::SOURCE_IPS_TRUNCATED_KEPT`] addresses (the first ones and
//! always the last, the only one the server saw itself), dropping `responseStatus.details` and unknown decoder fields, and cutting the longest of
//! the URI query (at a parameter boundary), user agent, status message and annotation values,
//! each ending in `...TRUNCATED`. The URI path, user, verb and object are never cut, so an
//! event can stay above the limit.

mod body;
mod endpoint;
mod json_path;
pub mod limits;
mod load;
mod redact;
mod rule;
mod truncate;

use event::{Attributes, AuditEvent, Level, Stage};

pub use endpoint::{MKE_IGNORED_ENDPOINTS, MKE_REDACTED_ENDPOINTS};
pub use load::{LoadError, Loaded, Problem, Warning};
pub use redact::{REDACTED, REDACTED_QUERY_VALUE};
pub use rule::{Evaluation, StageSet};

use crate::body::Slot;
use crate::endpoint::{IgnoredEndpoints, RedactedEndpoint};
use crate::redact::{Records, Redaction, Subject};
use crate::rule::Rule;

/// A compiled audit policy. Cheap to share (`Send + Sync`); applying it allocates nothing
/// unless it changes a body or a URI.
#[derive(Debug, Clone)]
pub struct Policy {
    rules: Box<[Rule]>,
    omit_stages: StageSet,
    omit_managed_fields: bool,
    ignored: IgnoredEndpoints,
    redacted_endpoints: Box<[RedactedEndpoint]>,
    redaction: Redaction,
    max_event_bytes: Option<usize>,
}

/// What [`Policy::apply`] decided for one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Keep the event, now at `level`.
    Keep {
        /// Index of the rule that matched.
        rule: usize,
        /// The event's level after the policy (never [`Level::None`]).
        level: Level,
        /// What the policy changed in the event.
        changes: Changes,
    },
    /// Drop the event.
    Drop {
        /// Index of the rule that matched, when rules were evaluated and one matched.
        rule: Option<usize>,
        /// Why.
        reason: DropReason,
    },
}

impl Verdict {
    /// True for [`Verdict::Keep`].
    pub fn is_kept(&self) -> bool {
        matches!(self, Verdict::Keep { .. })
    }

    /// The index of the matching rule, if rules were evaluated and one matched.
    pub fn rule(&self) -> Option<usize> {
        match self {
            Verdict::Keep { rule, .. } => Some(*rule),
            Verdict::Drop { rule, .. } => *rule,
        }
    }

    /// The level a kept event is kept at.
    pub fn level(&self) -> Option<Level> {
        match self {
            Verdict::Keep { level, .. } => Some(*level),
            Verdict::Drop { .. } => None,
        }
    }
}

/// Why an event was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Its path matched `auditrail.ignoredEndpoints[pattern]` (after `mke-defaults` is
    /// expanded; see [`Policy::ignored_endpoint`]).
    IgnoredEndpoint {
        /// Index of the pattern.
        pattern: usize,
    },
    /// No rule matched (the API server's default level, None).
    NoRuleMatched,
    /// The matching rule's level is None (or the event was recorded at level None).
    LevelNone,
    /// The event's stage is in the effective `omitStages`.
    OmittedStage(Stage),
}

/// What [`Policy::apply`] changed in a kept event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Changes {
    /// A body or patch annotation was removed because the level is lower.
    pub bodies_stripped: bool,
    /// `metadata.managedFields` was removed from a body.
    pub managed_fields_removed: bool,
    /// The bodies were removed because of `auditrail.redactedEndpoints`.
    pub endpoint_redacted: bool,
    /// Something was redacted (see the `auditrail.io/redacted` annotation).
    pub redacted: bool,
    /// The size limit dropped bodies or cut strings.
    pub truncated: bool,
}

/// What `Policy::decide` found.
enum Decision {
    Drop(Verdict),
    Keep {
        rule: usize,
        level: Level,
        evaluation: Evaluation,
    },
}

/// A rule of a loaded policy, for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleInfo<'a> {
    /// Index in `rules`.
    pub index: usize,
    /// The rule's level.
    pub level: Level,
    /// 1-based line where the rule starts in the policy text, when known.
    pub line: Option<usize>,
    /// A one-line summary, e.g. `level=Metadata verbs=[get] resources=[core/pods]`.
    pub description: &'a str,
}

impl Policy {
    /// Loads a policy from the text of an `audit.k8s.io/v1` Policy file.
    ///
    /// Every problem is reported at once in [`LoadError::Invalid`]; warnings (deprecated
    /// versions, unknown fields, `"*"` in verbs, unreachable rules) come with the policy.
    pub fn load(yaml: &str) -> Result<Loaded, LoadError> {
        load::load(yaml)
    }

    /// The policy for callers given no policy file: every event is kept as recorded (one
    /// catch-all rule at RequestResponse, which never raises a level), the default redactions
    /// and redacted endpoints apply, and there is no size limit.
    pub fn permissive() -> Policy {
        Policy {
            rules: Box::new([Rule::catch_all(Level::RequestResponse)]),
            omit_stages: StageSet::EMPTY,
            omit_managed_fields: false,
            ignored: IgnoredEndpoints::default(),
            redacted_endpoints: load::default_redacted_endpoints().into(),
            redaction: Redaction::default(),
            max_event_bytes: None,
        }
    }

    /// What the rules say about `event`, exactly as kube-apiserver's checker.
    pub fn evaluate(&self, event: &AuditEvent) -> Evaluation {
        self.evaluate_attributes(&event.attributes())
    }

    /// What the rules say about a request with these attributes ([`Policy::evaluate`]).
    pub fn evaluate_attributes(&self, attributes: &Attributes<'_>) -> Evaluation {
        rule::evaluate(
            &self.rules,
            self.omit_stages,
            self.omit_managed_fields,
            attributes,
        )
    }

    /// The verdict [`Policy::apply`] gives an event with these attributes when it drops it,
    /// `None` when it keeps it. Whether an event is dropped depends on its attributes alone,
    /// so a caller holding only a cheap view of a record can decide before decoding it.
    pub fn drop_verdict(&self, attributes: &Attributes<'_>) -> Option<Verdict> {
        match self.decide(attributes) {
            Decision::Drop(verdict) => Some(verdict),
            Decision::Keep { .. } => None,
        }
    }

    /// Steps 1 and 2 of [`Policy::apply`] and the level of step 3: everything that can drop.
    fn decide(&self, attributes: &Attributes<'_>) -> Decision {
        if let Some(pattern) = self.ignored.find(attributes.path) {
            return Decision::Drop(Verdict::Drop {
                rule: None,
                reason: DropReason::IgnoredEndpoint { pattern },
            });
        }
        let evaluation = self.evaluate_attributes(attributes);
        let Some(rule) = evaluation.rule else {
            return Decision::Drop(Verdict::Drop {
                rule: None,
                reason: DropReason::NoRuleMatched,
            });
        };
        if evaluation.level == Level::None {
            return Decision::Drop(Verdict::Drop {
                rule: Some(rule),
                reason: DropReason::LevelNone,
            });
        }
        if let Some(stage) = attributes.stage
            && evaluation.omit_stages.contains(stage)
        {
            return Decision::Drop(Verdict::Drop {
                rule: Some(rule),
                reason: DropReason::OmittedStage(stage),
            });
        }
        let level = attributes
            .level
            .unwrap_or(Level::RequestResponse)
            .min(evaluation.level);
        if level == Level::None {
            return Decision::Drop(Verdict::Drop {
                rule: Some(rule),
                reason: DropReason::LevelNone,
            });
        }
        Decision::Keep {
            rule,
            level,
            evaluation,
        }
    }

    /// Applies the policy to `event` in place and says whether to keep it.
    pub fn apply(&self, event: &mut AuditEvent) -> Verdict {
        let (rule, level, evaluation) = match self.decide(&event.attributes()) {
            Decision::Drop(verdict) => return verdict,
            Decision::Keep {
                rule,
                level,
                evaluation,
            } => (rule, level, evaluation),
        };
        event.level = Some(level);
        let mut changes = Changes {
            bodies_stripped: body::strip_to_level(event, level),
            ..Changes::default()
        };
        let mut records = Records::default();
        self.redact_endpoint(event, &mut records, &mut changes);
        let subject = Subject::of(event);
        for slot in [Slot::Request, Slot::Response] {
            let outcome = body::process(
                event,
                slot,
                evaluation.omit_managed_fields,
                &self.redaction,
                subject,
                &mut records,
            );
            changes.managed_fields_removed |= outcome.managed_fields_removed;
        }
        if self.redaction.secrets && subject.secret && !event.annotations.is_empty() {
            redact::redact_patch_annotations(&mut event.annotations, &mut records);
        }
        if self.redaction.exec_commands
            && event.uri.contains("command=")
            && redact::is_exec_request(event)
            && redact::redact_exec_command(&mut event.uri)
        {
            records.push("requestURI.command".to_owned());
        }
        changes.redacted = !records.is_empty();
        records.write_to(&mut event.annotations);
        if let Some(max) = self.max_event_bytes {
            changes.truncated = truncate::fit(event, max);
        }
        Verdict::Keep {
            rule,
            level,
            changes,
        }
    }

    fn redact_endpoint(
        &self,
        event: &mut AuditEvent,
        records: &mut Records,
        changes: &mut Changes,
    ) {
        if event.request_object.is_none() && event.response_object.is_none() {
            return;
        }
        if !self
            .redacted_endpoints
            .iter()
            .any(|endpoint| endpoint.matches(event))
        {
            return;
        }
        for slot in [Slot::Request, Slot::Response] {
            if slot.of(event).take().is_some() {
                records.push(slot.name().to_owned());
            }
        }
        changes.endpoint_redacted = true;
    }

    /// The rules, in order.
    pub fn rules(&self) -> impl ExactSizeIterator<Item = RuleInfo<'_>> {
        self.rules.iter().enumerate().map(|(index, rule)| RuleInfo {
            index,
            level: rule.level,
            line: rule.line,
            description: &rule.description,
        })
    }

    /// The ignored-endpoint pattern a [`DropReason::IgnoredEndpoint`] names.
    pub fn ignored_endpoint(&self, pattern: usize) -> Option<&str> {
        self.ignored.pattern(pattern)
    }

    /// How many ignored-endpoint patterns there are, `mke-defaults` expanded.
    pub fn ignored_endpoints_len(&self) -> usize {
        self.ignored.len()
    }

    /// The size limit per event, if any.
    pub fn max_event_bytes(&self) -> Option<usize> {
        self.max_event_bytes
    }
}
