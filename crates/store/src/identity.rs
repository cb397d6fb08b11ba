//! Event identity: what makes two records the same event, so that importing the same file
//! twice, or receiving a retried webhook batch, stores each event once.
//!
//! For an event with a source id (Kubernetes `auditID`, auditd serial, …) the identity is
//! (source kind, id, stage, stage time or else request time). The stage time is part of it
//! because an `auditID` is not globally unique: an aggregated API server logs its own event
//! under the same id, with its own timestamps, and both must be kept. A retried or re-read
//! event repeats its timestamps exactly. An event without an id is identified by its whole
//! normalized content, origin excluded.
//!
//! The key is the first 16 bytes of SHA-256 over a length-prefixed encoding of those parts.
//!
//! Every part of a key is repeated exactly by a duplicate, and so is the event's **key time**
//! ([`key_time`]: stage time, else request time, for events with and without an id alike):
//! the stored keys are looked up by it, in the index segments whose range of key times
//! covers it (see `keys`).

use event::{AuditEvent, Origin, SourceKind, Stage, Timestamp};
use sha2::{Digest, Sha256};

use crate::limits::KEY_BYTES;

/// A 128-bit identity key. All zeros is reserved for records that are not events (heartbeats).
pub type Key = [u8; KEY_BYTES];

/// The key of records that carry no event.
pub const NO_KEY: Key = [0; KEY_BYTES];

/// The identity key of `event`.
pub fn key(event: &AuditEvent) -> Key {
    if !event.id.is_empty() {
        return id_key(
            event.origin.source,
            &event.id,
            event.stage,
            event.stage_time.or(event.time),
        );
    }
    let mut hasher = Sha256::new();
    {
        hasher.update(b"content\0");
        let anonymous = AuditEvent {
            origin: Origin {
                source: event.origin.source,
                ..Origin::default()
            },
            ..event.clone()
        };
        let mut encoded = Vec::new();
        formats::jsonl::encode(&anonymous, &mut encoded);
        hasher.update(&encoded);
    }
    finish(hasher)
}

/// An identity key with the time it is looked up by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Identity {
    /// The key ([`key`]).
    pub key: Key,
    /// The event's key time ([`key_time`]), nanoseconds since the Unix epoch; `None` for an
    /// event with neither a stage time nor a request time.
    pub time: Option<i64>,
}

impl Identity {
    /// The identity of `event`.
    pub fn of(event: &AuditEvent) -> Identity {
        Identity {
            key: key(event),
            time: key_time(event),
        }
    }
}

/// The time the key of `event` is looked up by: its stage time, else its request time, in
/// nanoseconds since the Unix epoch. Part of what [`key`] covers, so a duplicate has the
/// same.
pub fn key_time(event: &AuditEvent) -> Option<i64> {
    event.stage_time.or(event.time).map(Timestamp::unix_nanos)
}

/// The identity key of an event with a source id (`id` not empty): its source kind, id,
/// stage, and stage time or else request time. Equal to [`key`] of such an event.
pub fn id_key(source: SourceKind, id: &str, stage: Option<Stage>, time: Option<Timestamp>) -> Key {
    let mut hasher = Sha256::new();
    hasher.update(b"id\0");
    for part in [
        source.as_str(),
        id,
        stage.map_or("", |stage| stage.as_str()),
    ] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    match time {
        Some(time) => hasher.update(time.unix_nanos().to_le_bytes()),
        None => hasher.update(b"no time"),
    }
    finish(hasher)
}

fn finish(hasher: Sha256) -> Key {
    let digest = hasher.finalize();
    let mut key = NO_KEY;
    key.copy_from_slice(&digest[..KEY_BYTES]);
    if key == NO_KEY {
        // Astronomically unlikely; keep the reserved value reserved.
        key[0] = 1;
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, stage: Stage, nanos: i64) -> AuditEvent {
        AuditEvent {
            id: id.into(),
            stage: Some(stage),
            stage_time: Some(Timestamp::from_unix_nanos(nanos)),
            ..AuditEvent::default()
        }
    }

    #[test]
    fn same_event_from_another_file_has_the_same_key() {
        let mut first = event("a", Stage::ResponseComplete, 5);
        let mut second = first.clone();
        first.origin.input = Some("one.log".into());
        second.origin.input = Some("two.log".into());
        second.origin.line = Some(7);
        assert_eq!(key(&first), key(&second));
    }

    #[test]
    fn stage_time_and_id_distinguish() {
        let base = key(&event("a", Stage::ResponseComplete, 5));
        assert_ne!(base, key(&event("a", Stage::RequestReceived, 5)));
        assert_ne!(base, key(&event("a", Stage::ResponseComplete, 6)));
        assert_ne!(base, key(&event("b", Stage::ResponseComplete, 5)));
    }

    #[test]
    fn events_without_id_are_keyed_by_content() {
        let mut first = AuditEvent {
            verb: "get".into(),
            uri: "/x".into(),
            ..AuditEvent::default()
        };
        let second = first.clone();
        first.origin.line = Some(3);
        assert_eq!(key(&first), key(&second));
        let other = AuditEvent {
            verb: "get".into(),
            uri: "/y".into(),
            ..AuditEvent::default()
        };
        assert_ne!(key(&first), key(&other));
    }
}
