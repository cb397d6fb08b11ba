//! Reads of the trail are audited too: every answered query API request of an authenticated
//! principal becomes an event of source `auditrail` in the ledger, through the same writer
//! queue and group commit as ingested events, before its answer is sent.
//!
//! The event says who (the token name or client certificate subject as the user, the role
//! as a group), what (verb `list`, `watch` or `get` on the resource `events`, `reports`, `sql`,
//! `checkpoint` or `proofs`, the report name or event id as the object name, the path with
//! its query string as the URI), when (request received, answer ready), from where (the
//! client's address and port, its user agent) and the result (the status code, and for
//! events the number returned in the annotation `auditrail.io/returned`).
//!
//! Invariants:
//! - An answer carrying trail data is sent only after its read is durable in the ledger;
//!   when the record cannot be made durable (overload, a failing disk) the client gets 503
//!   and no data.
//! - Requests without valid credentials (401) and requests over their rate (429) are not
//!   recorded (they read nothing, and recording them would let anyone fill the ledger);
//!   they are counted in `auditrail_requests_refused_total` and `auditrail_query_requests_total`.
//!   A request with valid credentials but the wrong role (403) is recorded.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use event::{
    Actor, AuditEvent, Level, ObjectRef, Origin, Outcome, ResponseStatus, SourceKind, Stage,
};
use store::Prepared;
use tokio::sync::oneshot;

use crate::app::AppState;
use crate::auth::Principal;
use crate::clock;
use crate::error::ApiError;
use crate::limits::{ACK_TIMEOUT, AUDIT_URI_BYTES_MAX};
use crate::metrics::{LabelCounts, ReceivedLabels, code_class, verb_label};
use crate::pipeline::{Job, SubmitError};

/// What one read was.
#[derive(Debug, Clone)]
pub(crate) struct ReadRecord<'a> {
    /// Who.
    pub(crate) principal: &'a Principal,
    /// `list`, `watch` or `get`.
    pub(crate) verb: &'static str,
    /// `events`, `reports`, `checkpoint`, `proofs`.
    pub(crate) resource: &'static str,
    /// The report name or the event id, when there is one.
    pub(crate) name: Option<&'a str>,
    /// Path and query string as received.
    pub(crate) uri: &'a str,
    /// The client's address.
    pub(crate) peer: Option<SocketAddr>,
    /// The client's `User-Agent`.
    pub(crate) user_agent: Option<&'a str>,
    /// When the request arrived.
    pub(crate) received: SystemTime,
    /// The status code answered.
    pub(crate) code: u16,
    /// Events or rows returned, when counted.
    pub(crate) returned: Option<u64>,
}

/// Annotation with the number of events or rows a read returned.
pub(crate) const RETURNED_ANNOTATION: &str = "auditrail.io/returned";

/// Annotation with the principal's role.
pub(crate) const ROLE_ANNOTATION: &str = "auditrail.io/role";

impl ReadRecord<'_> {
    /// The read as an event, finished at `now`, with the unique id `id`.
    pub(crate) fn event(&self, id: String, now: SystemTime) -> AuditEvent {
        let mut annotations = BTreeMap::new();
        annotations.insert(
            ROLE_ANNOTATION.to_owned(),
            self.principal.role.as_str().to_owned(),
        );
        if let Some(returned) = self.returned {
            annotations.insert(RETURNED_ANNOTATION.to_owned(), returned.to_string());
        }
        let mut uri = self.uri.to_owned();
        if uri.len() > AUDIT_URI_BYTES_MAX {
            let mut end = AUDIT_URI_BYTES_MAX;
            while !uri.is_char_boundary(end) {
                end -= 1;
            }
            uri.truncate(end);
            annotations.insert("auditrail.io/uri-truncated".to_owned(), "true".to_owned());
        }
        let outcome = match self.code {
            200..=399 => Outcome::Success,
            401 | 403 => Outcome::Deny,
            _ => Outcome::Failure,
        };
        AuditEvent {
            origin: Origin {
                source: SourceKind::Auditrail,
                input: Some(Arc::from("auditrail serve")),
                ..Origin::default()
            },
            id,
            stage: Some(Stage::ResponseComplete),
            level: Some(Level::Metadata),
            time: Some(clock::timestamp(self.received)),
            stage_time: Some(clock::timestamp(now)),
            user: Actor {
                name: self.principal.name.to_string(),
                groups: Some(vec![format!("auditrail:{}", self.principal.role.as_str())]),
                ..Actor::default()
            },
            verb: self.verb.to_owned(),
            method: Some("GET".to_owned()),
            object: Some(ObjectRef {
                resource: self.resource.to_owned(),
                name: self.name.unwrap_or_default().to_owned(),
                api_group: Some("auditrail.io".to_owned()),
                api_version: "v1".to_owned(),
                ..ObjectRef::default()
            }),
            uri,
            source_ips: self
                .peer
                .map(|peer| peer.ip().to_string())
                .into_iter()
                .collect(),
            source_port: self.peer.map(|peer| peer.port()),
            user_agent: self.user_agent.map(str::to_owned),
            status: Some(ResponseStatus {
                code: Some(self.code),
                ..ResponseStatus::default()
            }),
            outcome,
            annotations,
            ..AuditEvent::default()
        }
    }
}

/// Stores the read in the ledger and waits until it is durable.
pub(crate) async fn record(state: &AppState, read: &ReadRecord<'_>) -> Result<(), ApiError> {
    let shared = state.shared();
    let event = read.event(unique_id()?, clock::now());
    let prepared = Prepared::from_events(std::slice::from_ref(&event));
    // Counted as stored like any event, under its own source, verb and code class.
    let mut counts = LabelCounts::default();
    counts.add(
        ReceivedLabels {
            source: SourceKind::Auditrail.as_str(),
            verb: verb_label(&event.verb),
            code_class: code_class(Some(read.code)),
        },
        Level::Metadata.as_str(),
        true,
    );
    let (ack, acknowledged) = oneshot::channel();
    let job = Job {
        prepared,
        bytes: read.uri.len(),
        quarantine: Vec::new(),
        format: SourceKind::Auditrail.as_str(),
        counts,
        ack,
    };
    match shared.queue.try_submit(job) {
        Ok(()) => {}
        Err(SubmitError::Full) => {
            shared.metrics.refused("queue_full");
            return Err(ApiError::Overloaded);
        }
        Err(SubmitError::Closed) => return Err(ApiError::internal(&"the writer is gone")),
    }
    match tokio::time::timeout(ACK_TIMEOUT, acknowledged).await {
        Ok(Ok(Ok(()))) => {
            shared.metrics.reads_audited.inc();
            Ok(())
        }
        // The writer logged the cause.
        Ok(Ok(Err(_))) => Err(ApiError::Internal),
        Ok(Err(_)) => Err(ApiError::internal(&"the writer stopped")),
        Err(_) => {
            shared.metrics.refused("ack_timeout");
            Err(ApiError::Overloaded)
        }
    }
}

/// A random id in the form of a version 4 UUID, like Kubernetes audit ids.
fn unique_id() -> Result<String, ApiError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|error| ApiError::internal(&error))?;
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;

    #[test]
    fn a_read_becomes_an_auditrail_event() {
        let principal = Principal {
            name: Arc::from("token:reader"),
            role: Role::Read,
        };
        let received = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_750_000_000);
        let read = ReadRecord {
            principal: &principal,
            verb: "list",
            resource: "events",
            name: None,
            uri: "/api/v1/events?user=alice",
            peer: Some("10.1.2.3:40000".parse().unwrap()),
            user_agent: Some("curl/8"),
            received,
            code: 200,
            returned: Some(3),
        };
        let event = read.event(unique_id().unwrap(), received);
        assert_eq!(event.origin.source, SourceKind::Auditrail);
        assert_eq!(event.user.name, "token:reader");
        assert_eq!(event.code(), Some(200));
        assert_eq!(event.source_ips, vec!["10.1.2.3"]);
        assert_eq!(event.uri, "/api/v1/events?user=alice");
        assert_eq!(event.annotations[RETURNED_ANNOTATION], "3");
        assert_eq!(event.id.len(), 36);
        assert_ne!(unique_id().unwrap(), unique_id().unwrap());
        // It is stored and read back like any other event.
        let mut line = Vec::new();
        formats::jsonl::encode(&event, &mut line);
        let back: AuditEvent = serde_json::from_slice(&line).unwrap();
        assert_eq!(back, event);
        let forbidden = ReadRecord { code: 403, ..read };
        assert_eq!(
            forbidden.event(String::new(), received).outcome,
            Outcome::Deny
        );
    }
}
