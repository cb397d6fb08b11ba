//! Redaction of secret material: Secret data, tokens, exec commands, user-chosen JSON paths.
//!
//! Every step replaces a value with [`REDACTED`] (never removes the key, so which key changed
//! stays visible), reports whether it changed anything, and records what it changed as a
//! path such as `requestObject.data` for the `auditrail.io/redacted` annotation. A value that
//! already is the marker is not changed and not recorded again, which makes every step
//! idempotent.

use std::collections::BTreeMap;

use event::{ANNOTATION_REDACTED, AuditEvent};
use serde_json::Value;

use crate::json_path::{JsonPath, replace_with_marker};

/// What a redacted value is replaced with.
pub const REDACTED: &str = "<redacted>";

/// What a redacted query parameter value is replaced with: [`REDACTED`] percent-encoded, so
/// the URI stays a valid URI and decodes to the same marker.
pub const REDACTED_QUERY_VALUE: &str = "%3Credacted%3E";

/// The annotation in which `kubectl apply` keeps a full copy of the object, Secret data
/// included.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
const LAST_APPLIED_POINTER: &str =
    "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration";
const LAST_APPLIED_RECORD: &str =
    "metadata.annotations[kubectl.kubernetes.io/last-applied-configuration]";

/// Mutating-webhook patches, recorded by the API server at Request level and above.
pub(crate) const PATCH_ANNOTATION_PREFIX: &str = "patch.webhook.admission.k8s.io/";

/// Suffix the size limit appends to a string it cut.
pub(crate) const TRUNCATED_SUFFIX: &str = "...TRUNCATED";

/// `auditrail.redact`, compiled.
#[derive(Debug, Clone)]
pub(crate) struct Redaction {
    pub(crate) secrets: bool,
    pub(crate) token_reviews: bool,
    pub(crate) token_requests: bool,
    pub(crate) exec_commands: bool,
    pub(crate) paths: Box<[PathRule]>,
}

impl Default for Redaction {
    fn default() -> Redaction {
        Redaction {
            secrets: true,
            token_reviews: true,
            token_requests: true,
            exec_commands: true,
            paths: Box::default(),
        }
    }
}

/// One `auditrail.redact.paths` entry.
#[derive(Debug, Clone)]
pub(crate) struct PathRule {
    /// Compared with `objectRef.resource`; `None` for any (non-resource requests included).
    pub(crate) resource: Option<Box<str>>,
    /// Compared with the API group (`""` = core); `None` for any.
    pub(crate) group: Option<Box<str>>,
    pub(crate) path: JsonPath,
    /// `"firstKey"`, when a body without it cannot contain the path.
    pub(crate) needle: Option<Box<str>>,
}

impl PathRule {
    pub(crate) fn new(resource: Option<String>, group: Option<String>, path: JsonPath) -> PathRule {
        PathRule {
            resource: resource.map(String::into_boxed_str),
            group: group.map(String::into_boxed_str),
            needle: path.first_key_needle().map(String::into_boxed_str),
            path,
        }
    }

    fn applies_to(&self, event: &AuditEvent) -> bool {
        let object = event.object.as_ref();
        let resource_ok = self
            .resource
            .as_deref()
            .is_none_or(|resource| object.is_some_and(|object| object.resource == resource));
        let group_ok = self
            .group
            .as_deref()
            .is_none_or(|group| object.is_some_and(|object| object.group() == group));
        resource_ok && group_ok
    }
}

/// What kind of request an event is, as far as redaction cares.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Subject {
    /// Core-group `secrets`.
    pub(crate) secret: bool,
    /// `authentication.k8s.io` `tokenreviews`.
    token_review: bool,
    /// Core-group `serviceaccounts/token` (TokenRequest).
    token_request: bool,
}

impl Subject {
    pub(crate) fn of(event: &AuditEvent) -> Subject {
        let Some(object) = &event.object else {
            return Subject::default();
        };
        let group = object.group();
        Subject {
            secret: group.is_empty() && object.resource == "secrets",
            token_review: group == "authentication.k8s.io" && object.resource == "tokenreviews",
            token_request: group.is_empty()
                && object.resource == "serviceaccounts"
                && object.subresource == "token",
        }
    }
}

/// The redaction steps that may change one body, decided from the event and a cheap look at
/// the body text, before any parsing.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct BodyPlan {
    pub(crate) managed_fields: bool,
    secrets: bool,
    token_review: bool,
    token_request: bool,
    /// Bit `i` set: `paths[i]` applies (at most [`crate::limits::REDACT_PATHS_MAX`] = 64).
    paths: u64,
}

const _: () = assert!(crate::limits::REDACT_PATHS_MAX <= u64::BITS as usize);

impl BodyPlan {
    pub(crate) fn new(
        redaction: &Redaction,
        subject: Subject,
        event: &AuditEvent,
        text: &str,
        omit_managed_fields: bool,
    ) -> BodyPlan {
        let mut paths = 0u64;
        for (index, rule) in redaction.paths.iter().enumerate() {
            if rule.applies_to(event)
                && rule
                    .needle
                    .as_deref()
                    .is_none_or(|needle| text.contains(needle))
            {
                paths |= path_bit(index);
            }
        }
        BodyPlan {
            managed_fields: omit_managed_fields && text.contains("\"managedFields\""),
            // `"Secret` covers `"kind":"Secret"`, `"SecretList"` and list items.
            secrets: redaction.secrets && (subject.secret || text.contains("\"Secret")),
            token_review: redaction.token_reviews
                && (subject.token_review || text.contains("\"TokenReview\"")),
            token_request: redaction.token_requests
                && (subject.token_request || text.contains("\"TokenRequest\"")),
            paths,
        }
    }

    pub(crate) fn needs_parse(self) -> bool {
        self.managed_fields || self.redacts()
    }

    /// True when a redaction step (not just managed fields) may apply: a body that cannot be
    /// parsed must then be removed, since nothing can vouch that it holds no secret.
    pub(crate) fn redacts(self) -> bool {
        self.secrets || self.token_review || self.token_request || self.paths != 0
    }
}

/// The paths redaction changed, for the annotation.
#[derive(Debug, Default)]
pub(crate) struct Records(Vec<String>);

impl Records {
    pub(crate) fn push(&mut self, record: String) {
        if !self.0.contains(&record) {
            self.0.push(record);
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds the records to `auditrail.io/redacted`, keeping what an earlier pass wrote and
    /// never listing a path twice.
    pub(crate) fn write_to(self, annotations: &mut BTreeMap<String, String>) {
        if self.0.is_empty() {
            return;
        }
        let annotation = annotations
            .entry(ANNOTATION_REDACTED.to_owned())
            .or_default();
        for record in self.0 {
            if annotation.split(',').any(|existing| existing == record) {
                continue;
            }
            if !annotation.is_empty() {
                annotation.push(',');
            }
            annotation.push_str(&record);
        }
    }
}

/// Runs the planned redaction steps on a parsed body named `slot` (`requestObject`).
pub(crate) fn redact_body(
    root: &mut Value,
    slot: &str,
    plan: BodyPlan,
    subject: Subject,
    redaction: &Redaction,
    records: &mut Records,
) -> bool {
    let mut changed = false;
    if plan.secrets {
        changed |= redact_secret_body(root, slot, subject.secret, records);
    }
    if plan.token_review && (subject.token_review || kind_of(root) == Some("TokenReview")) {
        changed |= redact_fields(
            root,
            slot,
            &[("spec", "token"), ("status", "token")],
            records,
        );
    }
    if plan.token_request && (subject.token_request || kind_of(root) == Some("TokenRequest")) {
        changed |= redact_fields(root, slot, &[("status", "token")], records);
    }
    for (index, rule) in redaction.paths.iter().enumerate() {
        if plan.paths & path_bit(index) != 0 && rule.path.redact(root, REDACTED) {
            records.push(join_record(slot, rule.path.as_str()));
            changed = true;
        }
    }
    changed
}

/// The plan bit of `paths[index]`; none past the 64th, which the loader's limit rules out.
fn path_bit(index: usize) -> u64 {
    u32::try_from(index)
        .ok()
        .and_then(|shift| 1u64.checked_shl(shift))
        .unwrap_or(0)
}

fn kind_of(value: &Value) -> Option<&str> {
    value.get("kind").and_then(Value::as_str)
}

fn join_record(slot: &str, path: &str) -> String {
    if path.starts_with('[') {
        format!("{slot}{path}")
    } else {
        format!("{slot}.{path}")
    }
}

/// Secret bodies: a Secret (by `kind`, or any object of a `secrets` request, such as a merge
/// patch), the items of a SecretList or of any list holding Secrets, and JSON patches of a
/// `secrets` request.
fn redact_secret_body(
    root: &mut Value,
    slot: &str,
    secret_request: bool,
    records: &mut Records,
) -> bool {
    match root {
        Value::Array(operations) if secret_request => redact_json_patch(operations, slot, records),
        Value::Object(_) => {
            let kind = kind_of(root).map(str::to_owned);
            let has_items = root.get("items").is_some_and(Value::is_array);
            let secret_list =
                kind.as_deref() == Some("SecretList") || (secret_request && has_items);
            if secret_list || has_items {
                let prefix = format!("{slot}.items[*].");
                let mut changed = false;
                if let Some(Value::Array(items)) = root.get_mut("items") {
                    for item in items {
                        if secret_list || kind_of(item) == Some("Secret") {
                            changed |= redact_secret_object(item, &prefix, records);
                        }
                    }
                }
                changed
            } else if kind.as_deref() == Some("Secret")
                || (secret_request && kind.as_deref().is_none_or(|kind| kind == "Secret"))
            {
                redact_secret_object(root, &format!("{slot}."), records)
            } else {
                false
            }
        }
        _ => false,
    }
}

/// Redacts `data`, `stringData` and the last-applied annotation of one Secret object;
/// `prefix` ends with `.` and is prepended to the recorded paths.
fn redact_secret_object(object: &mut Value, prefix: &str, records: &mut Records) -> bool {
    let Value::Object(map) = object else {
        return false;
    };
    let mut changed = false;
    for key in ["data", "stringData"] {
        if map.get_mut(key).is_some_and(redact_values) {
            records.push(format!("{prefix}{key}"));
            changed = true;
        }
    }
    let last_applied = map
        .get_mut("metadata")
        .and_then(|metadata| metadata.get_mut("annotations"))
        .and_then(|annotations| annotations.get_mut(LAST_APPLIED));
    if last_applied.is_some_and(|value| replace_with_marker(value, REDACTED)) {
        records.push(format!("{prefix}{LAST_APPLIED_RECORD}"));
        changed = true;
    }
    changed
}

/// Every member of an object, or a non-null scalar or array as a whole.
fn redact_values(value: &mut Value) -> bool {
    match value {
        Value::Object(map) => map.values_mut().fold(false, |changed, member| {
            replace_with_marker(member, REDACTED) | changed
        }),
        Value::Null => false,
        other => replace_with_marker(other, REDACTED),
    }
}

/// A JSON patch (RFC 6902) on a Secret: the `value` of every operation that writes data,
/// string data or the last-applied annotation, or that replaces the whole object.
fn redact_json_patch(operations: &mut [Value], slot: &str, records: &mut Records) -> bool {
    let mut changed = false;
    let value_prefix = format!("{slot}[*].value");
    for operation in operations.iter_mut() {
        let Value::Object(map) = operation else {
            continue;
        };
        let path = map
            .get("path")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let Some(value) = map.get_mut("value") else {
            continue;
        };
        let is_under = |root: &str| path == root || path.starts_with(&format!("{root}/"));
        let value_changed = if is_under("/data") || is_under("/stringData") {
            redact_values(value)
        } else if path == LAST_APPLIED_POINTER {
            replace_with_marker(value, REDACTED)
        } else if path == "/metadata/annotations" {
            value
                .get_mut(LAST_APPLIED)
                .is_some_and(|found| replace_with_marker(found, REDACTED))
        } else if path == "/metadata" {
            value
                .get_mut("annotations")
                .and_then(|annotations| annotations.get_mut(LAST_APPLIED))
                .is_some_and(|found| replace_with_marker(found, REDACTED))
        } else if path.is_empty() || path == "/" {
            // Replaces the whole document: the value is a Secret.
            changed |= redact_secret_object(value, &format!("{value_prefix}."), records);
            false
        } else {
            false
        };
        if value_changed {
            records.push(value_prefix.clone());
            changed = true;
        }
    }
    changed
}

/// Redacts `root.<outer>.<inner>` string fields.
fn redact_fields(
    root: &mut Value,
    slot: &str,
    fields: &[(&str, &str)],
    records: &mut Records,
) -> bool {
    let mut changed = false;
    for (outer, inner) in fields {
        let field = root.get_mut(*outer).and_then(|outer| outer.get_mut(*inner));
        if field.is_some_and(|value| !value.is_null() && replace_with_marker(value, REDACTED)) {
            records.push(format!("{slot}.{outer}.{inner}"));
            changed = true;
        }
    }
    changed
}

/// Mutating-webhook patch annotations of a Secret request: their `patch` is a JSON patch of
/// the Secret. A value that is not JSON is replaced whole, unless the size limit cut it (it
/// was redacted before it was cut).
pub(crate) fn redact_patch_annotations(
    annotations: &mut BTreeMap<String, String>,
    records: &mut Records,
) -> bool {
    let mut changed = false;
    for (key, text) in annotations.iter_mut() {
        if !key.starts_with(PATCH_ANNOTATION_PREFIX) {
            continue;
        }
        let slot = format!("annotations[{key}]");
        match serde_json::from_str::<Value>(text) {
            Ok(mut annotation) => {
                let patch_slot = format!("{slot}.patch");
                let patch_changed = match annotation.get_mut("patch") {
                    Some(Value::Array(operations)) => {
                        redact_json_patch(operations, &patch_slot, records)
                    }
                    _ => false,
                };
                if patch_changed {
                    match serde_json::to_string(&annotation) {
                        Ok(redacted) => *text = redacted,
                        Err(_) => REDACTED.clone_into(text),
                    }
                    changed = true;
                }
            }
            Err(_) if text == REDACTED || text.ends_with(TRUNCATED_SUFFIX) => {}
            Err(_) => {
                REDACTED.clone_into(text);
                records.push(slot);
                changed = true;
            }
        }
    }
    changed
}

/// True for the URIs of exec and attach: the pod subresources, and the kubelet paths reached
/// through `nodes/proxy`.
pub(crate) fn is_exec_request(event: &AuditEvent) -> bool {
    if let Some(object) = &event.object
        && object.resource == "pods"
        && matches!(object.subresource.as_str(), "exec" | "attach")
    {
        return true;
    }
    let path = event.path();
    path.contains("/exec") || path.contains("/attach")
}

/// Replaces the value of every `command=` query parameter; true when the URI changed.
pub(crate) fn redact_exec_command(uri: &mut String) -> bool {
    let Some((path, query)) = uri.split_once('?') else {
        return false;
    };
    let needs_change = query.split('&').any(|parameter| {
        parameter
            .strip_prefix("command=")
            .is_some_and(|value| value != REDACTED_QUERY_VALUE)
    });
    if !needs_change {
        return false;
    }
    let mut redacted = String::with_capacity(uri.len());
    redacted.push_str(path);
    redacted.push('?');
    for (index, parameter) in query.split('&').enumerate() {
        if index > 0 {
            redacted.push('&');
        }
        if parameter.starts_with("command=") {
            redacted.push_str("command=");
            redacted.push_str(REDACTED_QUERY_VALUE);
        } else {
            redacted.push_str(parameter);
        }
    }
    *uri = redacted;
    true
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn secret_plan() -> BodyPlan {
        BodyPlan {
            secrets: true,
            ..BodyPlan::default()
        }
    }

    fn run(root: &mut Value, subject: Subject) -> Vec<String> {
        let mut records = Records::default();
        redact_body(
            root,
            "requestObject",
            secret_plan(),
            subject,
            &Redaction::default(),
            &mut records,
        );
        records.0
    }

    #[test]
    fn secret_keys_stay_and_values_go() {
        let mut body = json!({"kind": "Secret", "data": {"a": "czE=", "b": "czI="}, "stringData": {"c": "s3"},
            "metadata": {"name": "x", "annotations": {LAST_APPLIED: "{\"data\":{\"a\":\"czE=\"}}", "keep": "me"}}});
        let records = run(&mut body, Subject::default());
        assert_eq!(body["data"], json!({"a": REDACTED, "b": REDACTED}));
        assert_eq!(body["stringData"], json!({"c": REDACTED}));
        assert_eq!(body["metadata"]["annotations"][LAST_APPLIED], REDACTED);
        assert_eq!(body["metadata"]["annotations"]["keep"], "me");
        assert_eq!(
            records,
            vec![
                "requestObject.data",
                "requestObject.stringData",
                "requestObject.metadata.annotations[kubectl.kubernetes.io/last-applied-configuration]",
            ]
        );
        assert!(run(&mut body, Subject::default()).is_empty(), "idempotent");
    }

    #[test]
    fn secret_lists_and_mixed_lists() {
        let mut list =
            json!({"kind": "SecretList", "items": [{"data": {"a": "1"}}, {"data": {"b": "2"}}]});
        assert_eq!(
            run(&mut list, Subject::default()),
            vec!["requestObject.items[*].data"]
        );
        assert_eq!(list["items"][1]["data"]["b"], REDACTED);
        let mut mixed = json!({"kind": "List", "items": [{"kind": "Secret", "data": {"a": "1"}}, {"kind": "ConfigMap", "data": {"b": "2"}}]});
        run(&mut mixed, Subject::default());
        assert_eq!(mixed["items"][0]["data"]["a"], REDACTED);
        assert_eq!(mixed["items"][1]["data"]["b"], "2");
    }

    #[test]
    fn secret_requests_cover_kindless_merge_patches_but_not_status() {
        let secret = Subject {
            secret: true,
            ..Subject::default()
        };
        let mut patch = json!({"data": {"a": "bmV3"}});
        assert_eq!(run(&mut patch, secret), vec!["requestObject.data"]);
        let mut status = json!({"kind": "Status", "data": {"not": "secret"}});
        assert!(run(&mut status, secret).is_empty());
        let mut config_map = json!({"kind": "ConfigMap", "data": {"a": "1"}});
        assert!(run(&mut config_map, Subject::default()).is_empty());
    }

    #[test]
    fn json_patches_on_secrets() {
        let secret = Subject {
            secret: true,
            ..Subject::default()
        };
        let mut patch = json!([
            {"op": "replace", "path": "/data/password", "value": "c2VjcmV0"},
            {"op": "add", "path": "/stringData", "value": {"k": "v"}},
            {"op": "add", "path": LAST_APPLIED_POINTER, "value": "{...}"},
            {"op": "replace", "path": "/metadata/labels/app", "value": "web"},
            {"op": "remove", "path": "/data/old"},
            {"op": "replace", "path": "", "value": {"data": {"x": "eA=="}}}
        ]);
        let records = run(&mut patch, secret);
        assert_eq!(patch[0]["value"], REDACTED);
        assert_eq!(patch[1]["value"], json!({"k": REDACTED}));
        assert_eq!(patch[2]["value"], REDACTED);
        assert_eq!(patch[3]["value"], "web");
        assert_eq!(patch[5]["value"]["data"]["x"], REDACTED);
        assert_eq!(
            records,
            vec!["requestObject[*].value", "requestObject[*].value.data"]
        );
        let mut not_secret = json!([{"op": "replace", "path": "/data/a", "value": "1"}]);
        assert!(run(&mut not_secret, Subject::default()).is_empty());
    }

    #[test]
    fn patch_annotations_on_secrets() {
        let mut annotations = BTreeMap::new();
        let key = format!("{PATCH_ANNOTATION_PREFIX}round_0_index_0");
        annotations.insert(
            key.clone(),
            r#"{"configuration":"c","patch":[{"op":"add","path":"/data/x","value":"c2VjcmV0"}],"patchType":"JSONPatch"}"#.to_owned(),
        );
        annotations.insert(
            format!("{PATCH_ANNOTATION_PREFIX}round_0_index_1"),
            "not json".to_owned(),
        );
        annotations.insert("other".to_owned(), "not json".to_owned());
        let mut records = Records::default();
        assert!(redact_patch_annotations(&mut annotations, &mut records));
        assert!(!annotations[&key].contains("c2VjcmV0"));
        assert_eq!(
            annotations[&format!("{PATCH_ANNOTATION_PREFIX}round_0_index_1")],
            REDACTED
        );
        assert_eq!(annotations["other"], "not json");
        assert_eq!(records.0.len(), 2);
        let mut again = Records::default();
        assert!(!redact_patch_annotations(&mut annotations, &mut again));
        assert!(again.is_empty());
    }

    #[test]
    fn tokens() {
        let redaction = Redaction::default();
        let mut records = Records::default();
        let mut review = json!({"kind": "TokenReview", "spec": {"token": "eyJhbGciOi"}, "status": {"authenticated": true}});
        let plan = BodyPlan::new(
            &redaction,
            Subject::default(),
            &AuditEvent::default(),
            &review.to_string(),
            false,
        );
        assert!(redact_body(
            &mut review,
            "responseObject",
            plan,
            Subject::default(),
            &redaction,
            &mut records
        ));
        assert_eq!(review["spec"]["token"], REDACTED);
        assert_eq!(review["status"]["authenticated"], true);
        let mut request =
            json!({"kind": "TokenRequest", "status": {"token": "eyJ", "expirationTimestamp": "x"}});
        let plan = BodyPlan::new(
            &redaction,
            Subject::default(),
            &AuditEvent::default(),
            &request.to_string(),
            false,
        );
        assert!(redact_body(
            &mut request,
            "responseObject",
            plan,
            Subject::default(),
            &redaction,
            &mut records
        ));
        assert_eq!(request["status"]["token"], REDACTED);
        assert_eq!(
            records.0,
            vec!["responseObject.spec.token", "responseObject.status.token"]
        );
    }

    #[test]
    fn exec_commands_keep_their_count() {
        let mut uri = "/api/v1/namespaces/d/pods/p/exec?command=sh&command=-c&command=echo%20pw&container=c&stdin=true".to_owned();
        assert!(redact_exec_command(&mut uri));
        assert_eq!(
            uri,
            "/api/v1/namespaces/d/pods/p/exec?command=%3Credacted%3E&command=%3Credacted%3E&command=%3Credacted%3E&container=c&stdin=true"
        );
        assert!(!redact_exec_command(&mut uri));
        let mut plain = "/api/v1/namespaces/d/pods/p/exec".to_owned();
        assert!(!redact_exec_command(&mut plain));
        let mut other = "/x?subcommand=1".to_owned();
        assert!(!redact_exec_command(&mut other));
    }

    #[test]
    fn records_merge_without_duplicates() {
        let mut annotations = BTreeMap::new();
        let mut first = Records::default();
        first.push("requestObject.data".into());
        first.push("requestObject.data".into());
        first.write_to(&mut annotations);
        let mut second = Records::default();
        second.push("requestObject.data".into());
        second.push("responseObject.data".into());
        second.write_to(&mut annotations);
        assert_eq!(
            annotations[ANNOTATION_REDACTED],
            "requestObject.data,responseObject.data"
        );
    }
}
