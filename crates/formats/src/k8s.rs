//! Kubernetes `audit.k8s.io` JSON: decoding of v1, v1beta1 and v1alpha1 events, `EventList`s
//! and JSON arrays, and encoding of v1 JSON lines.
//!
//! Decoding is one pass of a hand-written serde visitor over the bytes: keys are borrowed,
//! bodies are kept as raw JSON (never parsed), and every key the decoder does not know is
//! kept with the object it was in ([`event::UnknownField`]). Leniency follows what real data
//! needs: no `kind`/`apiVersion`, `null` timestamps, seconds-precision v1beta1 times, the
//! v1alpha1 `group/version` form of `objectRef.apiVersion`, lower-case levels.
//!
//! Encoding writes the API server's field order and Go's `encoding/json` string escaping, so
//! an event the API server wrote comes back byte for byte in the common case, and always as
//! the same JSON value (the round-trip invariant, checked by property tests).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use event::{
    Actor, AuditEvent, Level, ObjectRef, Origin, RawJson, ResponseStatus, Scope, Stage, Timestamp,
    UnknownField,
};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::diagnostic::{Diagnostic, excerpt};
use crate::limits::{LIST_ITEMS_MAX, SOURCE_IPS_MAX};

mod peek;
mod scan;

pub use peek::{Peek, peek, peek_serde_unless, peek_unless};
pub use scan::{Scan, scan_unless};

/// The `apiVersion` written by [`encode`].
pub const API_VERSION_V1: &str = "audit.k8s.io/v1";

/// Decodes one JSON record (an event, an `EventList` or an array of events) read at
/// `line`/`offset` of the input described by `origin`.
///
/// Decoded events are appended to `events`; problems to `diagnostics`. Never panics.
pub fn decode(
    record: &[u8],
    origin: &Origin,
    events: &mut Vec<AuditEvent>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let line = origin.line.unwrap_or(0);
    let offset = origin.offset.unwrap_or(0);
    let first = record.iter().find(|byte| !byte.is_ascii_whitespace());
    match first {
        Some(b'[') => match serde_json::from_slice::<Vec<&RawValue>>(record) {
            Ok(items) => decode_items(&items, origin, events, diagnostics),
            Err(error) => diagnostics.push(json_error(line, offset, &error, record)),
        },
        Some(b'{') => decode_object(record, origin, events, diagnostics),
        _ => diagnostics.push(Diagnostic::error(
            line,
            offset,
            format!("expected a JSON audit event, got: {}", excerpt(record)),
        )),
    }
}

fn decode_items(
    items: &[&RawValue],
    origin: &Origin,
    events: &mut Vec<AuditEvent>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let line = origin.line.unwrap_or(0);
    let offset = origin.offset.unwrap_or(0);
    if items.len() > LIST_ITEMS_MAX {
        diagnostics.push(Diagnostic::error(
            line,
            offset,
            format!(
                "list of {} events exceeds the limit of {LIST_ITEMS_MAX}; split the input",
                items.len()
            ),
        ));
        return;
    }
    for (index, item) in items.iter().enumerate() {
        let before = diagnostics.len();
        decode_object(item.get().as_bytes(), origin, events, diagnostics);
        for diagnostic in &mut diagnostics[before..] {
            diagnostic.message = format!("item {index}: {}", diagnostic.message);
        }
    }
}

fn decode_object(
    record: &[u8],
    origin: &Origin,
    events: &mut Vec<AuditEvent>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let line = origin.line.unwrap_or(0);
    let offset = origin.offset.unwrap_or(0);
    let mut warnings = Vec::new();
    // Checking UTF-8 once for the whole record costs less than serde_json's check of every
    // string; a record that is not UTF-8 is read as bytes, for serde_json's own error.
    let parsed = match std::str::from_utf8(record) {
        Ok(text) => parse_event(
            serde_json::Deserializer::from_str(text),
            origin,
            &mut warnings,
        ),
        Err(_) => parse_event(
            serde_json::Deserializer::from_slice(record),
            origin,
            &mut warnings,
        ),
    };
    for message in warnings {
        diagnostics.push(Diagnostic::warning(line, offset, message));
    }
    match parsed {
        Ok(Parsed::Event(event)) => events.push(*event),
        Ok(Parsed::List(items)) => decode_items(&items, origin, events, diagnostics),
        Ok(Parsed::NotAnEvent) => diagnostics.push(Diagnostic::error(
            line,
            offset,
            format!(
                "not an audit event (no auditID, verb or requestURI): {}",
                excerpt(record)
            ),
        )),
        Err(error) => diagnostics.push(json_error(line, offset, &error, record)),
    }
}

fn parse_event<'de, R: serde_json::de::Read<'de>>(
    mut deserializer: serde_json::Deserializer<R>,
    origin: &Origin,
    warnings: &mut Vec<String>,
) -> Result<Parsed<'de>, serde_json::Error> {
    let parsed = EventSeed { origin, warnings }.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(parsed)
}

fn json_error(line: u64, offset: u64, error: &serde_json::Error, record: &[u8]) -> Diagnostic {
    Diagnostic::error(
        line,
        offset,
        format!("invalid JSON audit event ({error}): {}", excerpt(record)),
    )
}

/// What one JSON object turned out to be.
enum Parsed<'de> {
    Event(Box<AuditEvent>),
    List(Vec<&'de RawValue>),
    NotAnEvent,
}

/// A JSON key or string, borrowed from the input when it has no escapes.
struct Text<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Text<'de>, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(text)))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(text.to_owned())))
            }
            fn visit_string<E: de::Error>(self, text: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(text)))
            }
        }
        deserializer.deserialize_str(TextVisitor)
    }
}

struct EventSeed<'a> {
    origin: &'a Origin,
    warnings: &'a mut Vec<String>,
}

impl<'de> DeserializeSeed<'de> for EventSeed<'_> {
    type Value = Parsed<'de>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Parsed<'de>, D::Error> {
        deserializer.deserialize_map(self)
    }
}

/// Values read before they can be interpreted (they depend on other keys).
#[derive(Default)]
struct Pending<'de> {
    api_version: Option<String>,
    kind: Option<String>,
    items: Option<Vec<&'de RawValue>>,
    request_received: Option<String>,
    stage_timestamp: Option<String>,
    legacy_timestamp: Option<String>,
    legacy_metadata: Option<String>,
    has_identity: bool,
}

impl<'de> Visitor<'de> for EventSeed<'_> {
    type Value = Parsed<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an audit event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Parsed<'de>, A::Error> {
        let mut event = AuditEvent {
            origin: self.origin.clone(),
            ..AuditEvent::default()
        };
        let mut pending = Pending::default();
        let unknown = &mut event.extensions.unknown;
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            match key.as_ref() {
                "kind" => pending.kind = map.next_value()?,
                "apiVersion" => pending.api_version = map.next_value()?,
                "level" => {
                    let text: Option<String> = map.next_value()?;
                    if let Some(text) = text {
                        match text.parse::<Level>() {
                            Ok(level) => event.level = Some(level),
                            Err(error) => {
                                self.warnings.push(format!("{error}; kept as written"));
                                push_unknown(unknown, Scope::Event, "level", &text);
                            }
                        }
                    }
                }
                "auditID" => {
                    event.id = map.next_value::<Option<String>>()?.unwrap_or_default();
                    pending.has_identity = true;
                }
                "stage" => {
                    let text: Option<String> = map.next_value()?;
                    if let Some(text) = text {
                        match text.parse::<Stage>() {
                            Ok(stage) => event.stage = Some(stage),
                            Err(error) => {
                                self.warnings.push(format!("{error}; kept as written"));
                                push_unknown(unknown, Scope::Event, "stage", &text);
                            }
                        }
                    }
                }
                "requestURI" => {
                    event.uri = map.next_value::<Option<String>>()?.unwrap_or_default();
                    pending.has_identity = true;
                }
                "verb" => {
                    event.verb = map.next_value::<Option<String>>()?.unwrap_or_default();
                    pending.has_identity = true;
                }
                "user" => {
                    event.user = map
                        .next_value_seed(ActorSeed {
                            unknown,
                            scope: Scope::User,
                        })?
                        .unwrap_or_default();
                }
                "impersonatedUser" => {
                    event.impersonated_user = map.next_value_seed(ActorSeed {
                        unknown,
                        scope: Scope::ImpersonatedUser,
                    })?;
                }
                "sourceIPs" => {
                    let mut ips: Vec<String> = map.next_value::<Option<_>>()?.unwrap_or_default();
                    if ips.len() > SOURCE_IPS_MAX {
                        self.warnings.push(format!(
                            "sourceIPs has {} entries; kept the last {SOURCE_IPS_MAX}",
                            ips.len()
                        ));
                        ips.drain(..ips.len() - SOURCE_IPS_MAX);
                    }
                    event.source_ips = ips;
                }
                "userAgent" => event.user_agent = map.next_value()?,
                "objectRef" => event.object = map.next_value_seed(ObjectRefSeed { unknown })?,
                "responseStatus" => event.status = map.next_value_seed(StatusSeed { unknown })?,
                // An explicit `null` body is kept as written, for the round trip.
                "requestObject" => {
                    event.request_object = Some(one_line(map.next_value()?));
                }
                "responseObject" => {
                    event.response_object = Some(one_line(map.next_value()?));
                }
                "requestReceivedTimestamp" => pending.request_received = map.next_value()?,
                "stageTimestamp" => pending.stage_timestamp = map.next_value()?,
                "annotations" => {
                    event.annotations = map
                        .next_value::<Option<BTreeMap<String, String>>>()?
                        .unwrap_or_default();
                }
                "items" if pending.items.is_none() => {
                    // Only an EventList has items; decide once every key is read.
                    pending.items = map.next_value::<Option<Vec<&'de RawValue>>>()?;
                }
                name => {
                    let value: Box<RawValue> = map.next_value()?;
                    if name == "timestamp" {
                        pending.legacy_timestamp = serde_json::from_str(value.get()).ok();
                    } else if name == "metadata" {
                        pending.legacy_metadata = creation_timestamp(value.get());
                    }
                    unknown.push(UnknownField {
                        scope: Scope::Event,
                        name: name.to_owned(),
                        value: one_line(value),
                    });
                }
            }
        }
        finish(event, pending, self.warnings)
    }
}

/// Interprets the values that depend on other keys, once the whole object has been read.
fn finish<'de, E: de::Error>(
    mut event: AuditEvent,
    pending: Pending<'de>,
    warnings: &mut Vec<String>,
) -> Result<Parsed<'de>, E> {
    let is_list = pending.kind.as_deref() == Some("EventList")
        || (pending.items.is_some() && !pending.has_identity);
    if is_list {
        return Ok(Parsed::List(pending.items.unwrap_or_default()));
    }
    if let Some(items) = pending.items {
        // An event with an `items` key: keep it as an unknown field.
        let value = RawJson::from_value(&items).map_err(E::custom)?;
        event.extensions.unknown.push(UnknownField {
            scope: Scope::Event,
            name: "items".to_owned(),
            value,
        });
    }
    if !pending.has_identity {
        return Ok(Parsed::NotAnEvent);
    }
    let api_version = pending.api_version;
    if api_version.as_deref() == Some("audit.k8s.io/v1alpha1") {
        split_v1alpha1_group(&mut event);
    }
    if api_version.as_deref() != Some(API_VERSION_V1) {
        event.extensions.api_version = api_version;
    }
    if pending.kind.as_deref() != Some("Event") {
        event.extensions.kind = pending.kind;
    }
    event.time = read_time(
        pending.request_received,
        "requestReceivedTimestamp",
        &mut event,
        warnings,
    )
    .or_else(|| {
        pending
            .legacy_timestamp
            .as_deref()
            .and_then(|text| Timestamp::parse(text).ok())
    });
    event.stage_time = read_time(
        pending.stage_timestamp,
        "stageTimestamp",
        &mut event,
        warnings,
    )
    .or_else(|| {
        pending
            .legacy_metadata
            .as_deref()
            .and_then(|text| Timestamp::parse(text).ok())
    });
    let decision = event
        .annotations
        .get(event::ANNOTATION_DECISION)
        .map(String::as_str);
    event.outcome = AuditEvent::outcome_from_http(event.code(), decision);
    Ok(Parsed::Event(Box::new(event)))
}

fn read_time(
    text: Option<String>,
    key: &str,
    event: &mut AuditEvent,
    warnings: &mut Vec<String>,
) -> Option<Timestamp> {
    let text = text?;
    match Timestamp::parse(&text) {
        Ok(time) => Some(time),
        Err(error) => {
            warnings.push(format!("{key}: {error}; kept as written"));
            push_unknown(&mut event.extensions.unknown, Scope::Event, key, &text);
            None
        }
    }
}

fn push_unknown(unknown: &mut Vec<UnknownField>, scope: Scope, name: &str, text: &str) {
    if let Ok(value) = RawJson::from_value(text) {
        unknown.push(UnknownField {
            scope,
            name: name.to_owned(),
            value,
        });
    }
}

/// `metadata.creationTimestamp` of a v1beta1/v1alpha1 event.
fn creation_timestamp(metadata: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Metadata {
        #[serde(rename = "creationTimestamp")]
        creation_timestamp: Option<String>,
    }
    serde_json::from_str::<Metadata>(metadata)
        .ok()?
        .creation_timestamp
}

/// v1alpha1 has no `objectRef.apiGroup`; `apiVersion` holds `group/version`.
fn split_v1alpha1_group(event: &mut AuditEvent) {
    let Some(object) = event.object.as_mut() else {
        return;
    };
    if object.api_group.is_some() {
        return;
    }
    let (group, version) = match object.api_version.rsplit_once('/') {
        Some((group, version)) => (group.to_owned(), version.to_owned()),
        None => (String::new(), object.api_version.clone()),
    };
    object.api_group = Some(group);
    object.api_version = version;
}

struct ActorSeed<'a> {
    unknown: &'a mut Vec<UnknownField>,
    scope: Scope,
}

impl<'de> DeserializeSeed<'de> for ActorSeed<'_> {
    type Value = Option<Actor>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<Actor>, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for ActorSeed<'_> {
    type Value = Option<Actor>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a user object")
    }
    fn visit_none<E: de::Error>(self) -> Result<Option<Actor>, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Option<Actor>, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<Actor>, D::Error> {
        deserializer.deserialize_map(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<Actor>, A::Error> {
        let mut actor = Actor::default();
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            match key.as_ref() {
                "username" => actor.name = map.next_value::<Option<String>>()?.unwrap_or_default(),
                "uid" => actor.uid = map.next_value::<Option<String>>()?.unwrap_or_default(),
                "groups" => actor.groups = map.next_value()?,
                "extra" => actor.extra = map.next_value()?,
                name => {
                    let value: Box<RawValue> = map.next_value()?;
                    self.unknown.push(UnknownField {
                        scope: self.scope,
                        name: name.to_owned(),
                        value: one_line(value),
                    });
                }
            }
        }
        Ok(Some(actor))
    }
}

struct ObjectRefSeed<'a> {
    unknown: &'a mut Vec<UnknownField>,
}

impl<'de> DeserializeSeed<'de> for ObjectRefSeed<'_> {
    type Value = Option<ObjectRef>;
    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Option<ObjectRef>, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for ObjectRefSeed<'_> {
    type Value = Option<ObjectRef>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an objectRef object")
    }
    fn visit_none<E: de::Error>(self) -> Result<Option<ObjectRef>, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Option<ObjectRef>, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Option<ObjectRef>, D::Error> {
        deserializer.deserialize_map(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<ObjectRef>, A::Error> {
        let mut object = ObjectRef::default();
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            let slot = match key.as_ref() {
                "resource" => &mut object.resource,
                "namespace" => &mut object.namespace,
                "name" => &mut object.name,
                "uid" => &mut object.uid,
                "apiVersion" => &mut object.api_version,
                "resourceVersion" => &mut object.resource_version,
                "subresource" => &mut object.subresource,
                "apiGroup" => {
                    object.api_group = map.next_value()?;
                    continue;
                }
                name => {
                    let value: Box<RawValue> = map.next_value()?;
                    self.unknown.push(UnknownField {
                        scope: Scope::ObjectRef,
                        name: name.to_owned(),
                        value: one_line(value),
                    });
                    continue;
                }
            };
            *slot = map.next_value::<Option<String>>()?.unwrap_or_default();
        }
        Ok(Some(object))
    }
}

struct StatusSeed<'a> {
    unknown: &'a mut Vec<UnknownField>,
}

impl<'de> DeserializeSeed<'de> for StatusSeed<'_> {
    type Value = Option<ResponseStatus>;
    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Option<ResponseStatus>, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for StatusSeed<'_> {
    type Value = Option<ResponseStatus>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a responseStatus object")
    }
    fn visit_none<E: de::Error>(self) -> Result<Option<ResponseStatus>, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Option<ResponseStatus>, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Option<ResponseStatus>, D::Error> {
        deserializer.deserialize_map(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<ResponseStatus>, A::Error> {
        let mut status = ResponseStatus::default();
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            match key.as_ref() {
                "status" => status.status = map.next_value::<Option<String>>()?.unwrap_or_default(),
                "reason" => status.reason = map.next_value::<Option<String>>()?.unwrap_or_default(),
                "message" => {
                    status.message = map.next_value::<Option<String>>()?.unwrap_or_default()
                }
                "details" => {
                    status.details = map
                        .next_value::<Option<Box<RawValue>>>()?
                        .map(RawJson::from_raw);
                }
                name => {
                    let value: Box<RawValue> = map.next_value()?;
                    let code = (name == "code")
                        .then(|| serde_json::from_str::<u16>(value.get()).ok())
                        .flatten();
                    if code.is_some() {
                        status.code = code;
                    } else {
                        self.unknown.push(UnknownField {
                            scope: Scope::ResponseStatus,
                            name: name.to_owned(),
                            value: one_line(value),
                        });
                    }
                }
            }
        }
        Ok(Some(status))
    }
}

/// Keeps a raw JSON value as written, except that line breaks between tokens (from
/// pretty-printed documents) are removed so that every encoder can write one record per line.
/// Line breaks cannot occur inside JSON strings, so any found are insignificant whitespace.
fn one_line(raw: Box<RawValue>) -> RawJson {
    let text = raw.get();
    if memchr::memchr2(b'\n', b'\r', text.as_bytes()).is_none() {
        return RawJson::from_raw(raw);
    }
    let mut compact = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    for character in text.chars() {
        if in_string {
            compact.push(character);
            if escaped {
                escaped = false;
            } else if character == '\\' {
                escaped = true;
            } else if character == '"' {
                in_string = false;
            }
        } else if character == '"' {
            in_string = true;
            compact.push(character);
        } else if !character.is_ascii_whitespace() {
            compact.push(character);
        }
    }
    // Removing whitespace between tokens keeps the value valid.
    RawJson::from_string(compact).unwrap_or_else(|_| RawJson::from_raw(raw))
}

/// Appends `event` as one `audit.k8s.io/v1` JSON object and a newline.
///
/// Fields come in the API server's order with Go's string escaping; fields the decoder did
/// not know are written back at the end of the object they were in.
pub fn encode(event: &AuditEvent, out: &mut Vec<u8>) {
    let unknown = &event.extensions.unknown;
    let mut object = JsonObject::open(out);
    object.str("kind", "Event");
    object.str("apiVersion", API_VERSION_V1);
    let level = event.level.map(Level::as_str);
    object.required_str("level", level, unknown);
    object.str("auditID", &event.id);
    object.required_str("stage", event.stage.map(Stage::as_str), unknown);
    object.str("requestURI", &event.uri);
    object.str("verb", &event.verb);
    object.key("user");
    write_actor(object.out, &event.user, Scope::User, unknown);
    if let Some(actor) = &event.impersonated_user {
        object.key("impersonatedUser");
        write_actor(object.out, actor, Scope::ImpersonatedUser, unknown);
    }
    if !event.source_ips.is_empty() {
        object.str_list("sourceIPs", &event.source_ips);
    }
    if let Some(user_agent) = &event.user_agent {
        object.str("userAgent", user_agent);
    }
    if let Some(object_ref) = &event.object {
        object.key("objectRef");
        write_object_ref(object.out, object_ref, unknown);
    }
    if let Some(status) = &event.status {
        object.key("responseStatus");
        write_status(object.out, status, unknown);
    }
    if let Some(body) = &event.request_object {
        object.raw("requestObject", body.get());
    }
    if let Some(body) = &event.response_object {
        object.raw("responseObject", body.get());
    }
    object.time("requestReceivedTimestamp", event.time, unknown);
    object.time("stageTimestamp", event.stage_time, unknown);
    if !event.annotations.is_empty() {
        object.key("annotations");
        write_string_map(object.out, &event.annotations);
    }
    object.unknown(unknown, Scope::Event);
    object.close();
    out.push(b'\n');
}

fn write_actor(out: &mut Vec<u8>, actor: &Actor, scope: Scope, unknown: &[UnknownField]) {
    let mut object = JsonObject::open(out);
    object.str_if("username", &actor.name);
    object.str_if("uid", &actor.uid);
    if let Some(groups) = &actor.groups {
        object.str_list("groups", groups);
    }
    if let Some(extra) = &actor.extra {
        object.key("extra");
        let mut map = JsonObject::open(object.out);
        for (key, values) in extra {
            map.str_list(key, values);
        }
        map.close();
    }
    object.unknown(unknown, scope);
    object.close();
}

fn write_object_ref(out: &mut Vec<u8>, object_ref: &ObjectRef, unknown: &[UnknownField]) {
    let mut object = JsonObject::open(out);
    object.str_if("resource", &object_ref.resource);
    object.str_if("namespace", &object_ref.namespace);
    object.str_if("name", &object_ref.name);
    object.str_if("uid", &object_ref.uid);
    if let Some(group) = &object_ref.api_group {
        object.str("apiGroup", group);
    }
    object.str_if("apiVersion", &object_ref.api_version);
    object.str_if("resourceVersion", &object_ref.resource_version);
    object.str_if("subresource", &object_ref.subresource);
    object.unknown(unknown, Scope::ObjectRef);
    object.close();
}

fn write_status(out: &mut Vec<u8>, status: &ResponseStatus, unknown: &[UnknownField]) {
    let mut object = JsonObject::open(out);
    // metav1.Status writes its (always empty) list metadata first.
    let metadata = unknown
        .iter()
        .find(|field| field.scope == Scope::ResponseStatus && field.name == "metadata");
    if let Some(field) = metadata {
        object.raw("metadata", field.value.get());
    }
    object.str_if("status", &status.status);
    object.str_if("message", &status.message);
    object.str_if("reason", &status.reason);
    if let Some(details) = &status.details {
        object.raw("details", details.get());
    }
    if let Some(code) = status.code {
        object.number("code", u64::from(code));
    }
    for field in unknown {
        if field.scope == Scope::ResponseStatus && field.name != "metadata" {
            object.raw(&field.name, field.value.get());
        }
    }
    object.close();
}

fn write_string_map(out: &mut Vec<u8>, map: &BTreeMap<String, String>) {
    let mut object = JsonObject::open(out);
    for (key, value) in map {
        object.str(key, value);
    }
    object.close();
}

/// A JSON object being written: tracks whether a comma is due.
pub(crate) struct JsonObject<'a> {
    pub(crate) out: &'a mut Vec<u8>,
    first: bool,
    /// Go `encoding/json` escaping (`<`, `>`, `&`, U+2028/9 escaped) rather than plain JSON.
    go: bool,
}

impl<'a> JsonObject<'a> {
    /// An object written the way Go's `encoding/json` writes strings.
    pub(crate) fn open(out: &'a mut Vec<u8>) -> JsonObject<'a> {
        out.push(b'{');
        JsonObject {
            out,
            first: true,
            go: true,
        }
    }

    /// An object with plain JSON string escaping.
    pub(crate) fn open_plain(out: &'a mut Vec<u8>) -> JsonObject<'a> {
        out.push(b'{');
        JsonObject {
            out,
            first: true,
            go: false,
        }
    }

    fn string(&mut self, text: &str) {
        if self.go {
            crate::json_text::write_go(self.out, text);
        } else {
            crate::json_text::write_plain(self.out, text);
        }
    }

    pub(crate) fn key(&mut self, key: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.string(key);
        self.out.push(b':');
    }

    pub(crate) fn str(&mut self, key: &str, value: &str) {
        self.key(key);
        self.string(value);
    }

    pub(crate) fn str_if(&mut self, key: &str, value: &str) {
        if !value.is_empty() {
            self.str(key, value);
        }
    }

    /// A key the API server always writes; when the value is unknown and no raw value was
    /// kept for it, `null`.
    pub(crate) fn required_str(
        &mut self,
        key: &str,
        value: Option<&str>,
        unknown: &[UnknownField],
    ) {
        match value {
            Some(value) => self.str(key, value),
            None if has_unknown(unknown, Scope::Event, key) => {}
            None => self.raw(key, "null"),
        }
    }

    pub(crate) fn time(&mut self, key: &str, value: Option<Timestamp>, unknown: &[UnknownField]) {
        match value {
            Some(time) => {
                self.key(key);
                self.out.push(b'"');
                let mut text = String::with_capacity(27);
                // Writing to a String cannot fail.
                let _ = time.write_micro(&mut text);
                self.out.extend_from_slice(text.as_bytes());
                self.out.push(b'"');
            }
            None if has_unknown(unknown, Scope::Event, key) => {}
            None => self.raw(key, "null"),
        }
    }

    pub(crate) fn str_list(&mut self, key: &str, values: &[String]) {
        self.key(key);
        self.out.push(b'[');
        for (index, value) in values.iter().enumerate() {
            if index > 0 {
                self.out.push(b',');
            }
            self.string(value);
        }
        self.out.push(b']');
    }

    pub(crate) fn raw(&mut self, key: &str, json: &str) {
        self.key(key);
        self.out.extend_from_slice(json.as_bytes());
    }

    pub(crate) fn unknown(&mut self, unknown: &[UnknownField], scope: Scope) {
        for field in unknown.iter().filter(|field| field.scope == scope) {
            self.raw(&field.name, field.value.get());
        }
    }

    pub(crate) fn close(self) {
        self.out.push(b'}');
    }

    pub(crate) fn number(&mut self, key: &str, value: u64) {
        self.key(key);
        self.out.extend_from_slice(value.to_string().as_bytes());
    }

    /// A timestamp at full precision (RFC 3339, UTC, trailing zeros trimmed).
    pub(crate) fn full_time(&mut self, key: &str, time: Timestamp) {
        self.key(key);
        self.out.push(b'"');
        let mut text = String::with_capacity(32);
        // Writing to a String cannot fail.
        let _ = std::fmt::Write::write_fmt(&mut text, format_args!("{time}"));
        self.out.extend_from_slice(text.as_bytes());
        self.out.push(b'"');
    }
}

fn has_unknown(unknown: &[UnknownField], scope: Scope, name: &str) -> bool {
    unknown
        .iter()
        .any(|field| field.scope == scope && field.name == name)
}

/// Shares one input name between the events of an input.
pub fn origin_for(input: &str) -> Origin {
    Origin {
        input: Some(Arc::from(input)),
        ..Origin::default()
    }
}
