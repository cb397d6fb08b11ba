//! Request and response bodies: what the level keeps, `omitManagedFields`, and the one parse
//! that managed-field stripping and redaction share.
//!
//! A body is parsed only when a cheap look at its text (a substring, the object reference)
//! says that a step can change it; a body that no step changed keeps its original text byte
//! for byte. A changed body is written back with `serde_json`, whose maps are sorted, so its
//! keys come out in sorted order.

use std::collections::BTreeMap;

use event::{AuditEvent, Level, RawJson};
use serde_json::Value;

use crate::redact::{self, BodyPlan, PATCH_ANNOTATION_PREFIX, Records, Redaction, Subject};

/// Removes what `level` does not keep: the request body and the mutating-webhook patch
/// annotations below Request, the response body below RequestResponse. True when anything
/// was removed.
pub(crate) fn strip_to_level(event: &mut AuditEvent, level: Level) -> bool {
    let mut stripped = false;
    if level < Level::Request {
        stripped |= event.request_object.take().is_some();
        stripped |= remove_patch_annotations(&mut event.annotations);
    }
    if level < Level::RequestResponse {
        stripped |= event.response_object.take().is_some();
    }
    stripped
}

fn remove_patch_annotations(annotations: &mut BTreeMap<String, String>) -> bool {
    if !annotations
        .keys()
        .any(|key| key.starts_with(PATCH_ANNOTATION_PREFIX))
    {
        return false;
    }
    annotations.retain(|key, _| !key.starts_with(PATCH_ANNOTATION_PREFIX));
    true
}

/// Which body of the event.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Slot {
    Request,
    Response,
}

impl Slot {
    /// The Kubernetes field name, used in the redaction records.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Slot::Request => "requestObject",
            Slot::Response => "responseObject",
        }
    }

    pub(crate) fn get(self, event: &AuditEvent) -> Option<&RawJson> {
        match self {
            Slot::Request => event.request_object.as_ref(),
            Slot::Response => event.response_object.as_ref(),
        }
    }

    pub(crate) fn of(self, event: &mut AuditEvent) -> &mut Option<RawJson> {
        match self {
            Slot::Request => &mut event.request_object,
            Slot::Response => &mut event.response_object,
        }
    }
}

/// What happened to one body.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct BodyOutcome {
    pub(crate) managed_fields_removed: bool,
    pub(crate) redacted: bool,
}

/// Strips managed fields (when asked) and redacts one body in place.
pub(crate) fn process(
    event: &mut AuditEvent,
    slot: Slot,
    omit_managed_fields: bool,
    redaction: &Redaction,
    subject: Subject,
    records: &mut Records,
) -> BodyOutcome {
    let mut outcome = BodyOutcome::default();
    let plan = match slot.get(event) {
        Some(body) => BodyPlan::new(redaction, subject, event, body.get(), omit_managed_fields),
        None => return outcome,
    };
    if !plan.needs_parse() {
        return outcome;
    }
    let parsed = slot
        .get(event)
        .map(|body| serde_json::from_str::<Value>(body.get()));
    let mut root = match parsed {
        Some(Ok(root)) => root,
        Some(Err(_)) if plan.redacts() => {
            // Too deep to parse (serde_json stops at 128 levels): nothing can vouch that the
            // body holds no secret, so it goes.
            *slot.of(event) = None;
            records.push(slot.name().to_owned());
            outcome.redacted = true;
            return outcome;
        }
        _ => return outcome,
    };
    if plan.managed_fields {
        outcome.managed_fields_removed = strip_managed_fields(&mut root);
    }
    if plan.redacts() {
        outcome.redacted =
            redact::redact_body(&mut root, slot.name(), plan, subject, redaction, records);
    }
    if outcome.managed_fields_removed || outcome.redacted {
        match RawJson::from_value(&root) {
            Ok(body) => *slot.of(event) = Some(body),
            Err(_) => {
                *slot.of(event) = None;
                records.push(slot.name().to_owned());
                outcome.redacted = true;
            }
        }
    }
    outcome
}

/// Removes `metadata.managedFields` from an object, and from every item of a list.
fn strip_managed_fields(root: &mut Value) -> bool {
    let mut removed = remove_managed_fields(root);
    if let Some(Value::Array(items)) = root.get_mut("items") {
        for item in items {
            removed |= remove_managed_fields(item);
        }
    }
    removed
}

fn remove_managed_fields(object: &mut Value) -> bool {
    object
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
        .is_some_and(|metadata| metadata.remove("managedFields").is_some())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn raw(value: &Value) -> Option<RawJson> {
        Some(RawJson::from_value(value).unwrap())
    }

    #[test]
    fn levels_keep_what_they_name() {
        let mut event = AuditEvent {
            request_object: raw(&json!({"a": 1})),
            response_object: raw(&json!({"b": 2})),
            ..AuditEvent::default()
        };
        event.annotations.insert(
            format!("{PATCH_ANNOTATION_PREFIX}round_0_index_0"),
            "{}".into(),
        );
        event.annotations.insert("keep".into(), "x".into());
        let mut request = event.clone();
        assert!(strip_to_level(&mut request, Level::Request));
        assert!(request.request_object.is_some() && request.response_object.is_none());
        assert_eq!(request.annotations.len(), 2);
        let mut metadata = event.clone();
        assert!(strip_to_level(&mut metadata, Level::Metadata));
        assert!(metadata.request_object.is_none() && metadata.response_object.is_none());
        assert_eq!(
            metadata.annotations.keys().collect::<Vec<_>>(),
            vec!["keep"]
        );
        let mut full = event.clone();
        assert!(!strip_to_level(&mut full, Level::RequestResponse));
        assert_eq!(full, event);
    }

    #[test]
    fn managed_fields_go_from_objects_and_list_items_only() {
        let body = json!({"kind": "PodList", "metadata": {"managedFields": [1]},
            "items": [{"metadata": {"name": "a", "managedFields": [{"manager": "kubectl"}]}}, {"metadata": {"name": "b"}}],
            "spec": {"managedFields": "not metadata"}});
        let mut event = AuditEvent {
            response_object: raw(&body),
            ..AuditEvent::default()
        };
        let mut records = Records::default();
        let outcome = process(
            &mut event,
            Slot::Response,
            true,
            &Redaction::default(),
            Subject::default(),
            &mut records,
        );
        assert!(outcome.managed_fields_removed && !outcome.redacted);
        let after: Value = serde_json::from_str(event.response_object.unwrap().get()).unwrap();
        assert_eq!(
            after,
            json!({"kind": "PodList", "metadata": {},
            "items": [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}],
            "spec": {"managedFields": "not metadata"}})
        );
        assert!(records.is_empty());
    }

    #[test]
    fn untouched_bodies_keep_their_text() {
        let text = r#"{ "z": 1,   "a": {"managedFields": 2} }"#;
        let body = RawJson::from_string(text.to_owned()).unwrap();
        let mut event = AuditEvent {
            request_object: Some(body),
            ..AuditEvent::default()
        };
        let outcome = process(
            &mut event,
            Slot::Request,
            true,
            &Redaction::default(),
            Subject::default(),
            &mut Records::default(),
        );
        assert!(!outcome.managed_fields_removed);
        assert_eq!(event.request_object.unwrap().get(), text);
    }
}
