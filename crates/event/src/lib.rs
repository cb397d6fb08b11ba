//! The normalized audit event.
//!
//! Every source (Kubernetes and its OpenShift/MKE flavours, DC/OS, Linux audit) decodes into
//! one [`AuditEvent`]: **who** ([`Actor`], impersonation), **did what** (`verb`, `method`),
//! **to which object** ([`ObjectRef`], `uri`, `paths`), **from where** (`source_ips`,
//! `user_agent`, `node`), **when** (`time`, `stage_time`), **with what result**
//! ([`ResponseStatus`], [`Outcome`]), plus the request and response bodies, annotations and
//! the [`Origin`] that says where the record was read.
//!
//! Architecture invariant: this crate does no I/O, has no async and knows no wire format
//! other than its own serde form (the `jsonl` encoding). Format-specific detail that has no
//! normalized home is kept in [`Extensions`] so that a decoder can give back exactly what it
//! read (the Kubernetes round trip depends on it).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

mod time;

pub use time::{Timestamp, TimestampError};

mod raw;

pub use raw::RawJson;

mod attributes;

pub use attributes::{Attributes, Groups, ResourceAttributes, UserAttributes, uri_path};

/// One audit record in normalized form.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEvent {
    /// Where the record was read.
    pub origin: Origin,
    /// The source's id for the request: Kubernetes `auditID`, OKD `id`, auditd serial.
    /// Opaque and not globally unique; `(id, stage)` identifies a Kubernetes event.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// The request stage this record describes (Kubernetes family only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<Stage>,
    /// How much of the request the record keeps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<Level>,
    /// When the request was received; the event's time for sorting and filtering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Timestamp>,
    /// When the stage was reached (equal to `time` for the first stage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage_time: Option<Timestamp>,
    /// The authenticated actor (never the impersonated one).
    #[serde(default, skip_serializing_if = "Actor::is_empty")]
    pub user: Actor,
    /// The actor the request acted as, when impersonation was honoured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impersonated_user: Option<Actor>,
    /// The action: a Kubernetes verb (`get`, `create`, …), a lower-cased HTTP method for
    /// non-resource requests, or the source's own action name (auditd record type, DC/OS
    /// action).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub verb: String,
    /// The HTTP method, upper case, when the source records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The API object acted on; absent for non-resource requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectRef>,
    /// Path and query exactly as requested.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uri: String,
    /// File system paths acted on (host sources).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    /// Client addresses, first the one the client claims, last the one the server saw.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_ips: Vec<String>,
    /// Client port, when the source records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_port: Option<u16>,
    /// The client's self-declared user agent (untrusted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The machine that wrote the record (API server, master, host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The response, when the record has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ResponseStatus>,
    /// The result in one word, comparable across sources.
    #[serde(default, skip_serializing_if = "Outcome::is_unknown")]
    pub outcome: Outcome,
    /// Free-form key/value notes (Kubernetes annotations, auditd key, …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// The request body as sent (Request level and above).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_object: Option<RawJson>,
    /// The response body (RequestResponse level).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_object: Option<RawJson>,
    /// Source-specific detail kept for a lossless round trip.
    #[serde(default, skip_serializing_if = "Extensions::is_empty")]
    pub extensions: Extensions,
}

/// A user or process identity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    /// User name (Kubernetes `username`, MKE login, auditd uid interpreted).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Stable id (Kubernetes uid, numeric uid on hosts).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    /// Group names. `None` and `Some(vec![])` differ: Kubernetes distinguishes a nil list from
    /// an empty one for impersonated groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
    /// Additional attributes (Kubernetes `extra`, such as the credential id or pod name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<BTreeMap<String, Vec<String>>>,
    /// The original login identity behind a host process (auditd `auid`), kept when the
    /// process has since changed user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
}

impl Actor {
    /// True when nothing is known about the actor (anonymous or failed authentication).
    pub fn is_empty(&self) -> bool {
        self.name.is_empty()
            && self.uid.is_empty()
            && self.groups.is_none()
            && self.extra.is_none()
            && self.login.is_none()
    }

    /// The groups, empty when unknown.
    pub fn group_list(&self) -> &[String] {
        self.groups.as_deref().unwrap_or_default()
    }
}

/// The object a request acts on (Kubernetes `objectRef`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectRef {
    /// Resource type, plural and lower case (`pods`), or the source's object kind.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource: String,
    /// Empty for cluster-scoped objects.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Empty for list and for create with `generateName`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Object uid, when known.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    /// API group; empty is the core group. `None` when the source did not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_group: Option<String>,
    /// API version (`v1`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// Object resourceVersion, when known.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource_version: String,
    /// Subresource (`status`, `exec`, `log`), empty for the object itself.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subresource: String,
}

impl ObjectRef {
    /// The API group, the core group (`""`) when unknown.
    pub fn group(&self) -> &str {
        self.api_group.as_deref().unwrap_or_default()
    }
}

/// The response to the request (Kubernetes `responseStatus`, a subset of `metav1.Status`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseStatus {
    /// HTTP status code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    /// `Success` or `Failure`, when the source says.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    /// Machine-readable reason (`Forbidden`, `NotFound`, …).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Human-readable message.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// `details` as written (name, group, kind, causes…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<RawJson>,
}

/// The result of a request in one word.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Not known yet (a request whose response was not recorded).
    #[default]
    Unknown,
    /// Authorized; the result of the action itself is not recorded.
    Allow,
    /// Refused by authentication or authorization.
    Deny,
    /// Done.
    Success,
    /// Attempted and failed.
    Failure,
}

impl Outcome {
    /// True for [`Outcome::Unknown`].
    pub fn is_unknown(&self) -> bool {
        matches!(self, Outcome::Unknown)
    }

    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Unknown => "unknown",
            Outcome::Allow => "allow",
            Outcome::Deny => "deny",
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

/// Kubernetes audit level, ordered `None < Metadata < Request < RequestResponse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Level {
    /// Nothing is recorded.
    None,
    /// Who, what, when and the result; no bodies.
    Metadata,
    /// Metadata plus the request body.
    Request,
    /// Request plus the response body.
    RequestResponse,
}

impl Level {
    /// The name as Kubernetes writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "None",
            Level::Metadata => "Metadata",
            Level::Request => "Request",
            Level::RequestResponse => "RequestResponse",
        }
    }

    /// Every level, lowest first.
    pub const ALL: [Level; 4] = [
        Level::None,
        Level::Metadata,
        Level::Request,
        Level::RequestResponse,
    ];
}

/// A name that is not one of the enumeration's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {text:?}, expected one of: {expected}")]
pub struct UnknownName {
    /// What was being named (`level`, `stage`).
    pub what: &'static str,
    /// The text given (cut to 64 characters).
    pub text: String,
    /// The accepted names.
    pub expected: &'static str,
}

impl FromStr for Level {
    type Err = UnknownName;
    /// Case-insensitive: MKE writes `metadata` and `request`.
    fn from_str(text: &str) -> Result<Level, UnknownName> {
        Level::ALL
            .into_iter()
            .find(|level| level.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| UnknownName {
                what: "level",
                text: text.chars().take(64).collect(),
                expected: "None, Metadata, Request, RequestResponse",
            })
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Kubernetes request stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Stage {
    /// Before the handler chain ran.
    RequestReceived,
    /// Headers sent, body not yet (long-running requests).
    ResponseStarted,
    /// Response done.
    ResponseComplete,
    /// The handler panicked.
    Panic,
}

impl Stage {
    /// The name as Kubernetes writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::RequestReceived => "RequestReceived",
            Stage::ResponseStarted => "ResponseStarted",
            Stage::ResponseComplete => "ResponseComplete",
            Stage::Panic => "Panic",
        }
    }

    /// Every stage in request order.
    pub const ALL: [Stage; 4] = [
        Stage::RequestReceived,
        Stage::ResponseStarted,
        Stage::ResponseComplete,
        Stage::Panic,
    ];
}

impl FromStr for Stage {
    type Err = UnknownName;
    fn from_str(text: &str) -> Result<Stage, UnknownName> {
        Stage::ALL
            .into_iter()
            .find(|stage| stage.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| UnknownName {
                what: "stage",
                text: text.chars().take(64).collect(),
                expected: "RequestReceived, ResponseStarted, ResponseComplete, Panic",
            })
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The family of system a record came from.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// Kubernetes API server (JSON or legacy one-line log, webhook).
    #[default]
    K8s,
    /// OpenShift/OKD 3.x master API log.
    Okd,
    /// Mirantis MKE / Docker UCP controller.
    Mke,
    /// DC/OS adminrouter.
    Dcos,
    /// Linux audit (auditd).
    Auditd,
    /// auditrail itself (reads of the audit trail are audited too).
    Auditrail,
}

impl SourceKind {
    /// The lower-case name used on the command line and in stored events.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::K8s => "k8s",
            SourceKind::Okd => "okd",
            SourceKind::Mke => "mke",
            SourceKind::Dcos => "dcos",
            SourceKind::Auditd => "auditd",
            SourceKind::Auditrail => "auditrail",
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a record was read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Origin {
    /// The source family.
    pub source: SourceKind,
    /// File path, `-` for standard input, or the peer of a network connection. Shared by
    /// every event of one input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Arc<str>>,
    /// 1-based line number of the record's first line within the input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// Byte offset of the record's first byte within the input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

/// Detail of the source format that has no normalized field, kept for a lossless round trip.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extensions {
    /// Fields the decoder did not know, in the order read, with the object they were in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<UnknownField>,
    /// `kind` as written, when it was not the usual value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `apiVersion` as written, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
}

impl Extensions {
    /// True when there is nothing to keep.
    pub fn is_empty(&self) -> bool {
        self.unknown.is_empty() && self.kind.is_none() && self.api_version.is_none()
    }
}

/// A field that the decoder did not know, with the object it appeared in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnknownField {
    /// The object the field was in.
    pub scope: Scope,
    /// The JSON key.
    pub name: String,
    /// The value exactly as read.
    pub value: RawJson,
}

/// The JSON object an [`UnknownField`] belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Scope {
    /// The event itself.
    Event,
    /// `user`.
    User,
    /// `impersonatedUser`.
    ImpersonatedUser,
    /// `objectRef`.
    ObjectRef,
    /// `responseStatus`.
    ResponseStatus,
}

/// Annotation the truncation step adds, as the API server's truncate backend does.
pub const ANNOTATION_TRUNCATED: &str = "audit.k8s.io/truncated";
/// Annotation listing what redaction removed (comma-separated JSON paths).
pub const ANNOTATION_REDACTED: &str = "auditrail.io/redacted";
/// Kubernetes authorization decision annotation (`allow` or `forbid`).
pub const ANNOTATION_DECISION: &str = "authorization.k8s.io/decision";
/// Kubernetes authorization reason annotation.
pub const ANNOTATION_REASON: &str = "authorization.k8s.io/reason";

impl AuditEvent {
    /// The event's time: when the request was received, else when the stage was reached.
    pub fn when(&self) -> Option<Timestamp> {
        self.time.or(self.stage_time)
    }

    /// The actor the request was performed as: the impersonated user when there is one.
    pub fn effective_user(&self) -> &Actor {
        self.impersonated_user.as_ref().unwrap_or(&self.user)
    }

    /// The response code, when known.
    pub fn code(&self) -> Option<u16> {
        self.status.as_ref().and_then(|status| status.code)
    }

    /// Namespace of the object, empty when cluster-scoped or not a resource request.
    pub fn namespace(&self) -> &str {
        self.object
            .as_ref()
            .map_or("", |object| object.namespace.as_str())
    }

    /// The path of `uri`, without the query.
    pub fn path(&self) -> &str {
        uri_path(&self.uri)
    }

    /// Derives [`Outcome`] from the response code and the authorization decision, the way
    /// every Kubernetes-family decoder does.
    pub fn outcome_from_http(code: Option<u16>, decision: Option<&str>) -> Outcome {
        match (code, decision) {
            (Some(401 | 403), _) => Outcome::Deny,
            (_, Some("forbid")) => Outcome::Deny,
            (Some(code), _) if code < 400 => Outcome::Success,
            (Some(_), _) => Outcome::Failure,
            (None, Some("allow")) => Outcome::Allow,
            (None, _) => Outcome::Unknown,
        }
    }

    /// A rough size of the event in bytes as JSON, cheap to compute; used for size limits
    /// and volume estimates where an exact encoding would cost too much.
    pub fn approximate_size(&self) -> usize {
        const FIXED_OVERHEAD: usize = 300;
        let actor_size = |actor: &Actor| {
            actor.name.len()
                + actor.uid.len()
                + actor
                    .group_list()
                    .iter()
                    .map(|group| group.len() + 3)
                    .sum::<usize>()
                + actor.extra.as_ref().map_or(0, |extra| {
                    extra
                        .iter()
                        .map(|(key, values)| {
                            key.len() + 6 + values.iter().map(|v| v.len() + 3).sum::<usize>()
                        })
                        .sum::<usize>()
                })
        };
        let object_size = self.object.as_ref().map_or(0, |object| {
            60 + object.resource.len()
                + object.namespace.len()
                + object.name.len()
                + object.uid.len()
                + object.api_group.as_ref().map_or(0, String::len)
                + object.api_version.len()
                + object.resource_version.len()
                + object.subresource.len()
        });
        let status_size = self.status.as_ref().map_or(0, |status| {
            40 + status.status.len()
                + status.reason.len()
                + status.message.len()
                + status
                    .details
                    .as_ref()
                    .map_or(0, |details| details.get().len())
        });
        FIXED_OVERHEAD
            + self.id.len()
            + self.verb.len()
            + self.uri.len()
            + self.paths.iter().map(|path| path.len() + 3).sum::<usize>()
            + self.node.as_ref().map_or(0, String::len)
            + self.method.as_ref().map_or(0, String::len)
            + actor_size(&self.user)
            + self.impersonated_user.as_ref().map_or(0, actor_size)
            + object_size
            + status_size
            + self.source_ips.iter().map(|ip| ip.len() + 3).sum::<usize>()
            + self.user_agent.as_ref().map_or(0, String::len)
            + self
                .annotations
                .iter()
                .map(|(k, v)| k.len() + v.len() + 6)
                .sum::<usize>()
            + self
                .request_object
                .as_ref()
                .map_or(0, |body| body.get().len())
            + self
                .response_object
                .as_ref()
                .map_or(0, |body| body.get().len())
            + self
                .extensions
                .unknown
                .iter()
                .map(|field| field.name.len() + field.value.get().len() + 4)
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_ordered_and_parse_case_insensitively() {
        assert!(Level::None < Level::Metadata);
        assert!(Level::Request < Level::RequestResponse);
        assert_eq!("metadata".parse::<Level>().unwrap(), Level::Metadata);
        assert_eq!(
            "RequestResponse".parse::<Level>().unwrap(),
            Level::RequestResponse
        );
        let error = "Verbose".parse::<Level>().unwrap_err();
        assert!(error.to_string().contains("Verbose"));
    }

    #[test]
    fn outcome_follows_code_and_decision() {
        assert_eq!(
            AuditEvent::outcome_from_http(Some(200), Some("allow")),
            Outcome::Success
        );
        assert_eq!(
            AuditEvent::outcome_from_http(Some(403), Some("forbid")),
            Outcome::Deny
        );
        assert_eq!(
            AuditEvent::outcome_from_http(Some(401), None),
            Outcome::Deny
        );
        assert_eq!(
            AuditEvent::outcome_from_http(Some(404), Some("allow")),
            Outcome::Failure
        );
        assert_eq!(
            AuditEvent::outcome_from_http(None, Some("allow")),
            Outcome::Allow
        );
        assert_eq!(
            AuditEvent::outcome_from_http(None, Some("forbid")),
            Outcome::Deny
        );
        assert_eq!(AuditEvent::outcome_from_http(None, None), Outcome::Unknown);
    }

    #[test]
    fn jsonl_form_round_trips_and_omits_empty_fields() {
        let event = AuditEvent {
            id: "a1".into(),
            stage: Some(Stage::ResponseComplete),
            verb: "get".into(),
            user: Actor {
                name: "alice".into(),
                ..Actor::default()
            },
            request_object: Some(RawJson::from_string(r#"{"a": 1}"#.into()).unwrap()),
            ..AuditEvent::default()
        };
        let json = serde_json::to_string(&event).unwrap();
        assert_eq!(
            json,
            r#"{"origin":{"source":"k8s"},"id":"a1","stage":"ResponseComplete","user":{"name":"alice"},"verb":"get","request_object":{"a": 1}}"#
        );
        let back: AuditEvent = serde_json::from_str(&json).unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn path_drops_the_query() {
        let event = AuditEvent {
            uri: "/api/v1/pods?limit=500".into(),
            ..AuditEvent::default()
        };
        assert_eq!(event.path(), "/api/v1/pods");
    }
}
