//! The normalized event as JSON lines: auditrail's own lossless form.

use std::collections::BTreeMap;

use event::{Actor, AuditEvent, ObjectRef, Origin, ResponseStatus};

use crate::diagnostic::{Diagnostic, excerpt};
use crate::k8s::JsonObject;

/// Appends `event` as one JSON object and a newline.
///
/// Written by hand for speed (it is on the import path of every event); the result is the
/// `event` crate's serde form, field for field, which is what [`decode`] reads. A property
/// test checks the two agree.
pub fn encode(event: &AuditEvent, out: &mut Vec<u8>) {
    let mut object = JsonObject::open_plain(out);
    object.key("origin");
    write_origin(object.out, &event.origin);
    object.str_if("id", &event.id);
    if let Some(stage) = event.stage {
        object.str("stage", stage.as_str());
    }
    if let Some(level) = event.level {
        object.str("level", level.as_str());
    }
    if let Some(time) = event.time {
        object.full_time("time", time);
    }
    if let Some(time) = event.stage_time {
        object.full_time("stage_time", time);
    }
    if !event.user.is_empty() {
        object.key("user");
        write_actor(object.out, &event.user);
    }
    if let Some(actor) = &event.impersonated_user {
        object.key("impersonated_user");
        write_actor(object.out, actor);
    }
    object.str_if("verb", &event.verb);
    if let Some(method) = &event.method {
        object.str("method", method);
    }
    if let Some(object_ref) = &event.object {
        object.key("object");
        write_object_ref(object.out, object_ref);
    }
    object.str_if("uri", &event.uri);
    if !event.paths.is_empty() {
        object.str_list("paths", &event.paths);
    }
    if !event.source_ips.is_empty() {
        object.str_list("source_ips", &event.source_ips);
    }
    if let Some(port) = event.source_port {
        object.number("source_port", u64::from(port));
    }
    if let Some(user_agent) = &event.user_agent {
        object.str("user_agent", user_agent);
    }
    if let Some(node) = &event.node {
        object.str("node", node);
    }
    if let Some(status) = &event.status {
        object.key("status");
        write_status(object.out, status);
    }
    if !event.outcome.is_unknown() {
        object.str("outcome", event.outcome.as_str());
    }
    if !event.annotations.is_empty() {
        object.key("annotations");
        write_string_map(object.out, &event.annotations);
    }
    if let Some(body) = &event.request_object {
        object.raw("request_object", body.get());
    }
    if let Some(body) = &event.response_object {
        object.raw("response_object", body.get());
    }
    if !event.extensions.is_empty() {
        object.key("extensions");
        write_extensions(object.out, &event.extensions);
    }
    object.close();
    out.push(b'\n');
}

fn write_origin(out: &mut Vec<u8>, origin: &Origin) {
    let mut object = JsonObject::open_plain(out);
    object.str("source", origin.source.as_str());
    if let Some(input) = &origin.input {
        object.str("input", input);
    }
    if let Some(line) = origin.line {
        object.number("line", line);
    }
    if let Some(offset) = origin.offset {
        object.number("offset", offset);
    }
    object.close();
}

fn write_actor(out: &mut Vec<u8>, actor: &Actor) {
    let mut object = JsonObject::open_plain(out);
    object.str_if("name", &actor.name);
    object.str_if("uid", &actor.uid);
    if let Some(groups) = &actor.groups {
        object.str_list("groups", groups);
    }
    if let Some(extra) = &actor.extra {
        object.key("extra");
        let mut map = JsonObject::open_plain(object.out);
        for (key, values) in extra {
            map.str_list(key, values);
        }
        map.close();
    }
    if let Some(login) = &actor.login {
        object.str("login", login);
    }
    object.close();
}

fn write_object_ref(out: &mut Vec<u8>, object_ref: &ObjectRef) {
    let mut object = JsonObject::open_plain(out);
    object.str_if("resource", &object_ref.resource);
    object.str_if("namespace", &object_ref.namespace);
    object.str_if("name", &object_ref.name);
    object.str_if("uid", &object_ref.uid);
    if let Some(group) = &object_ref.api_group {
        object.str("api_group", group);
    }
    object.str_if("api_version", &object_ref.api_version);
    object.str_if("resource_version", &object_ref.resource_version);
    object.str_if("subresource", &object_ref.subresource);
    object.close();
}

fn write_status(out: &mut Vec<u8>, status: &ResponseStatus) {
    let mut object = JsonObject::open_plain(out);
    if let Some(code) = status.code {
        object.number("code", u64::from(code));
    }
    object.str_if("status", &status.status);
    object.str_if("reason", &status.reason);
    object.str_if("message", &status.message);
    if let Some(details) = &status.details {
        object.raw("details", details.get());
    }
    object.close();
}

fn write_string_map(out: &mut Vec<u8>, map: &BTreeMap<String, String>) {
    let mut object = JsonObject::open_plain(out);
    for (key, value) in map {
        object.str(key, value);
    }
    object.close();
}

fn write_extensions(out: &mut Vec<u8>, extensions: &event::Extensions) {
    let mut object = JsonObject::open_plain(out);
    if !extensions.unknown.is_empty() {
        object.key("unknown");
        object.out.push(b'[');
        for (index, field) in extensions.unknown.iter().enumerate() {
            if index > 0 {
                object.out.push(b',');
            }
            let mut item = JsonObject::open_plain(object.out);
            item.str("scope", scope_name(field.scope));
            item.str("name", &field.name);
            item.raw("value", field.value.get());
            item.close();
        }
        object.out.push(b']');
    }
    if let Some(kind) = &extensions.kind {
        object.str("kind", kind);
    }
    if let Some(api_version) = &extensions.api_version {
        object.str("api_version", api_version);
    }
    object.close();
}

fn scope_name(scope: event::Scope) -> &'static str {
    match scope {
        event::Scope::Event => "event",
        event::Scope::User => "user",
        event::Scope::ImpersonatedUser => "impersonatedUser",
        event::Scope::ObjectRef => "objectRef",
        event::Scope::ResponseStatus => "responseStatus",
    }
}

/// Decodes one line written by [`encode`]. The origin stored in the line is kept; `origin` only
/// locates diagnostics.
pub fn decode(
    line: &[u8],
    origin: &Origin,
    events: &mut Vec<AuditEvent>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    match serde_json::from_slice::<AuditEvent>(line) {
        Ok(event) => events.push(event),
        Err(error) => diagnostics.push(Diagnostic::error(
            origin.line.unwrap_or(0),
            origin.offset.unwrap_or(0),
            format!("invalid auditrail JSON line ({error}): {}", excerpt(line)),
        )),
    }
}
