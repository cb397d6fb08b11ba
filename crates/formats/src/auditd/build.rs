//! A complete event's records into one normalized [`AuditEvent`].
//!
//! Every field is interpreted once, into a per-event scratch buffer; the records then become
//! the event's `request_object` (serialised straight from those buffers, no JSON tree), and
//! the facts a query needs become normalized fields and `auditd.*` annotations. See the module
//! documentation of [`super`] for the mapping.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use event::{Actor, AuditEvent, Origin, Outcome, RawJson, ResponseStatus, SourceKind, Timestamp};
use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};

use super::group::{EventText, RecordText};
use super::interpret::{
    FieldClass, SocketAddress, arch_name, capability_name, classify, decode_hex, errno, list_name,
    parse_hex, parse_signed, signal_name, syscall_name, types, write_capability_set, write_exit,
    write_mode, write_perm,
};
use super::record::Token;
use super::userdb::UserDb;
use crate::limits::{AUDITD_EXECVE_ARGS_MAX, SOURCE_IPS_MAX};

/// What every event of one input shares.
#[derive(Debug, Clone)]
pub(super) struct Settings {
    pub(super) input: Option<Arc<str>>,
    pub(super) user_db: Arc<UserDb>,
}

/// Reusable buffers for building events.
#[derive(Debug, Default)]
pub(super) struct EventBuilder {
    scratch: String,
    bytes: Vec<u8>,
    entries: Vec<Entry>,
    /// Per record: its position in the event, its type name and its range of `entries`.
    records: Vec<(u32, Ref, u32, u32)>,
    enriched: Vec<(Ref, Ref)>,
}

/// A piece of text: in the event's record text, in the scratch buffer, or static.
#[derive(Debug, Clone, Copy)]
enum Ref {
    Text(u32, u32),
    Scratch(u32, u32),
    Static(&'static str),
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    key: Ref,
    value: Ref,
}

/// An id with its name, when one is known.
#[derive(Debug, Default, Clone)]
struct Id {
    number: Option<u32>,
    raw: Option<Ref>,
    name: Option<Ref>,
}

/// The facts of an event that normalized fields are made of.
#[derive(Debug, Default)]
struct Facts {
    primary_type: Option<Ref>,
    arch: Option<u32>,
    syscall: Option<u64>,
    success: Option<bool>,
    result: Option<bool>,
    exit: Option<i64>,
    auid: Id,
    uid: Id,
    euid: Id,
    gid: Id,
    pid: Option<Ref>,
    ppid: Option<Ref>,
    ses: Option<Ref>,
    tty: Option<Ref>,
    terminal: Option<Ref>,
    hostname: Option<Ref>,
    addr: Option<Ref>,
    exe: Option<Ref>,
    comm: Option<Ref>,
    cwd: Option<Ref>,
    cmd: Option<Ref>,
    acct: Option<Ref>,
    op: Option<Ref>,
    keys: Vec<Ref>,
    paths: Vec<(Ref, Option<Ref>)>,
    sockaddr: Option<SocketAddress>,
    argv: Vec<String>,
    proctitle: Option<Ref>,
}

impl EventBuilder {
    /// Interprets `event` into a normalized event.
    pub(super) fn build(&mut self, event: &EventText, settings: &Settings) -> AuditEvent {
        self.scratch.clear();
        self.entries.clear();
        self.records.clear();
        let mut facts = Facts::default();
        // The SYSCALL record speaks for the process; read it first so that its facts win.
        for pass in [true, false] {
            for (position, record) in event.records.iter().enumerate() {
                if (record.type_number == types::SYSCALL) == pass {
                    self.read_record(event, position as u32, record, settings, &mut facts);
                }
            }
        }
        // `request_object` lists the records in the order they were written, as ausearch and
        // aureport read them (for them a later record's value can override an earlier one's).
        self.records.sort_by_key(|(position, ..)| *position);
        if facts.primary_type.is_none() {
            facts.primary_type = event
                .records
                .first()
                .map(|record| Ref::Text(record.type_name.0, record.type_name.1));
        }
        self.to_audit_event(event, settings, facts)
    }

    fn read_record(
        &mut self,
        event: &EventText,
        position: u32,
        record: &RecordText,
        settings: &Settings,
        facts: &mut Facts,
    ) {
        let type_number = record.type_number;
        if type_number == types::EOE {
            return;
        }
        if type_number == types::SYSCALL && facts.primary_type.is_none() {
            facts.primary_type = Some(Ref::Text(record.type_name.0, record.type_name.1));
        }
        let entries_start = self.entries.len() as u32;
        self.read_enriched(event, record);
        let mut record_arch = None;
        let mut path_name = None;
        let mut path_nametype = None;
        for token in field_tokens(event, record.fields) {
            let name = match token.synthetic {
                Some(name) => Ref::Static(name),
                None => Ref::Text(token.name_start, token.name_end),
            };
            let name_text = name_str(event, name);
            let class = classify(type_number, name_text.as_bytes());
            let value = self.decoded_value(event, token, class);
            self.entries.push(Entry { key: name, value });
            let interpretation = if self.has_enriched(event, name_text) {
                None
            } else if class == FieldClass::ProcessTitle {
                // ausearch -i shows the arguments separated by spaces.
                let text = self.get(event, value);
                text.contains('\0')
                    .then(|| text.replace('\0', " "))
                    .map(|spaced| push_scratch(&mut self.scratch, &spaced))
            } else {
                self.interpret(event, token, class, record_arch, settings)
            };
            if let Some(interpreted) = interpretation {
                let key = self.upper(event, name);
                self.entries.push(Entry {
                    key,
                    value: interpreted,
                });
            }
            self.collect_fact(
                event,
                type_number,
                name,
                value,
                token,
                class,
                facts,
                &mut record_arch,
                &mut path_name,
                &mut path_nametype,
            );
        }
        if type_number == types::PATH
            && let Some(path) = path_name
        {
            facts.paths.push((path, path_nametype));
        }
        // ENRICHED interpretations follow the record's own fields, under their own names.
        for index in 0..self.enriched.len() {
            let (key, value) = self.enriched[index];
            self.entries.push(Entry { key, value });
        }
        self.records.push((
            position,
            Ref::Text(record.type_name.0, record.type_name.1),
            entries_start,
            self.entries.len() as u32,
        ));
    }

    fn read_enriched(&mut self, event: &EventText, record: &RecordText) {
        self.enriched.clear();
        for token in field_tokens(event, record.interpretations) {
            let key = Ref::Text(token.name_start, token.name_end);
            let raw = Ref::Text(token.value_start, token.value_end);
            let name = event.slice((token.name_start, token.name_end));
            let value = if token.quoted || matches!(name, "ARCH" | "SYSCALL") {
                raw
            } else {
                // A name that needs encoding is written in hex, unquoted.
                self.decode(event.slice((token.value_start, token.value_end)).as_bytes())
                    .unwrap_or(raw)
            };
            self.enriched.push((key, value));
        }
    }

    fn has_enriched(&self, event: &EventText, name: &str) -> bool {
        self.enriched
            .iter()
            .any(|(key, _)| self.get(event, *key).eq_ignore_ascii_case(name))
    }

    fn enriched_value(&self, event: &EventText, name: &str) -> Option<Ref> {
        self.enriched
            .iter()
            .find(|(key, _)| self.get(event, *key).eq_ignore_ascii_case(name))
            .map(|(_, value)| *value)
    }

    /// The value as text: quotes removed, hex decoded for encoded classes.
    fn decoded_value(&mut self, event: &EventText, token: Token, class: FieldClass) -> Ref {
        let raw = Ref::Text(token.value_start, token.value_end);
        if token.quoted {
            return raw;
        }
        match class {
            FieldClass::Encoded
            | FieldClass::Account
            | FieldClass::Key
            | FieldClass::ProcessTitle => {
                let text = event.slice((token.value_start, token.value_end));
                if matches!(text, "(null)" | "(none)" | "?") {
                    return raw;
                }
                self.decode(text.as_bytes()).unwrap_or(raw)
            }
            _ => raw,
        }
    }

    /// Hex-decodes into the scratch buffer; `None` when not hex or not UTF-8.
    fn decode(&mut self, hex: &[u8]) -> Option<Ref> {
        self.bytes.clear();
        if !decode_hex(hex, &mut self.bytes) {
            return None;
        }
        let text = std::str::from_utf8(&self.bytes).ok()?;
        Some(push_scratch(&mut self.scratch, text))
    }

    /// What `ausearch -i` shows instead of the value, when it differs.
    fn interpret(
        &mut self,
        event: &EventText,
        token: Token,
        class: FieldClass,
        record_arch: Option<u32>,
        settings: &Settings,
    ) -> Option<Ref> {
        let raw = event.slice((token.value_start, token.value_end)).as_bytes();
        let start = self.scratch.len();
        match class {
            FieldClass::Uid | FieldClass::Gid => {
                let number = parse_id(raw)?;
                let Some(number) = number else {
                    return Some(Ref::Static("unset"));
                };
                let name = if class == FieldClass::Uid {
                    settings.user_db.user(number)
                } else {
                    settings.user_db.group(number)
                };
                match name {
                    Some(name) => self.scratch.push_str(name),
                    None => {
                        use std::fmt::Write as _;
                        let _ = write!(self.scratch, "unknown({number})");
                    }
                }
            }
            FieldClass::Session => {
                return (parse_id(raw)?.is_none()).then_some(Ref::Static("unset"));
            }
            FieldClass::Arch => return arch_name(parse_hex(raw)? as u32).map(Ref::Static),
            FieldClass::Syscall => {
                let number = parse_signed(raw)?;
                return syscall_name(record_arch?, u64::try_from(number).ok()?).map(Ref::Static);
            }
            FieldClass::Exit => {
                if !write_exit(parse_signed(raw)?, &mut self.scratch) {
                    return None;
                }
            }
            FieldClass::Result => {
                return match raw {
                    b"1" => Some(Ref::Static("yes")),
                    b"0" => Some(Ref::Static("no")),
                    _ => None,
                };
            }
            FieldClass::Mode => {
                let text = std::str::from_utf8(raw).ok()?;
                write_mode(u64::from_str_radix(text, 8).ok()?, &mut self.scratch);
            }
            FieldClass::Perm => {
                let text = std::str::from_utf8(raw).ok()?;
                write_perm(text.parse().ok()?, &mut self.scratch);
            }
            FieldClass::CapabilitySet => {
                write_capability_set(parse_hex(raw)?, &mut self.scratch);
            }
            FieldClass::Capability => {
                return capability_name(u64::try_from(parse_signed(raw)?).ok()?).map(Ref::Static);
            }
            FieldClass::Signal => {
                return signal_name(u64::try_from(parse_signed(raw)?).ok()?).map(Ref::Static);
            }
            FieldClass::SocketAddress => {
                self.bytes.clear();
                if !decode_hex(raw, &mut self.bytes) {
                    return None;
                }
                SocketAddress::from_bytes(&self.bytes).write(&mut self.scratch);
            }
            FieldClass::List => {
                return list_name(u64::try_from(parse_signed(raw)?).ok()?).map(Ref::Static);
            }
            FieldClass::Encoded
            | FieldClass::Account
            | FieldClass::Key
            | FieldClass::ProcessTitle
            | FieldClass::Plain => return None,
        }
        Some(Ref::Scratch(start as u32, self.scratch.len() as u32))
    }

    #[allow(clippy::too_many_arguments)]
    fn collect_fact(
        &mut self,
        event: &EventText,
        type_number: u32,
        name: Ref,
        value: Ref,
        token: Token,
        class: FieldClass,
        facts: &mut Facts,
        record_arch: &mut Option<u32>,
        path_name: &mut Option<Ref>,
        path_nametype: &mut Option<Ref>,
    ) {
        let name_text = name_str(event, name);
        let raw = event.slice((token.value_start, token.value_end));
        let first = |slot: &mut Option<Ref>| {
            if slot.is_none() && !matches!(raw, "?" | "(none)" | "(null)" | "") {
                *slot = Some(value);
            }
        };
        match (type_number, name_text) {
            (types::PATH, "name") if raw != "(null)" => *path_name = Some(value),
            (types::PATH, "nametype") => *path_nametype = Some(value),
            (types::PATH, _) => {}
            (types::EXECVE, _) => self.collect_argument(event, name_text, value, facts),
            (types::PROCTITLE, "proctitle") => facts.proctitle = Some(value),
            (_, "arch") => {
                let arch = parse_hex(raw.as_bytes()).map(|arch| arch as u32);
                *record_arch = arch;
                if facts.arch.is_none() {
                    facts.arch = arch;
                }
            }
            (types::SYSCALL, "syscall") => {
                facts.syscall = parse_signed(raw.as_bytes()).and_then(|n| u64::try_from(n).ok());
            }
            (_, "success") if facts.success.is_none() => {
                facts.success = match raw {
                    "yes" => Some(true),
                    "no" => Some(false),
                    _ => None,
                };
            }
            (_, "exit") if facts.exit.is_none() => facts.exit = parse_signed(raw.as_bytes()),
            (_, "res" | "result") if facts.result.is_none() => {
                facts.result = match raw {
                    "success" | "1" | "yes" => Some(true),
                    "failed" | "0" | "no" | "fail" => Some(false),
                    _ => None,
                };
            }
            (_, "auid") => self.collect_id(event, &mut facts.auid, class, raw, "AUID"),
            (_, "uid") => self.collect_id(event, &mut facts.uid, class, raw, "UID"),
            (_, "euid") => self.collect_id(event, &mut facts.euid, class, raw, "EUID"),
            (_, "gid") => self.collect_id(event, &mut facts.gid, class, raw, "GID"),
            (_, "pid") => first(&mut facts.pid),
            (_, "ppid") => first(&mut facts.ppid),
            (_, "ses") => first(&mut facts.ses),
            (_, "tty") => first(&mut facts.tty),
            (_, "terminal") => first(&mut facts.terminal),
            (_, "hostname") => first(&mut facts.hostname),
            (_, "addr") => first(&mut facts.addr),
            (_, "exe") => first(&mut facts.exe),
            (_, "comm") => first(&mut facts.comm),
            (_, "cwd") => first(&mut facts.cwd),
            (_, "cmd") => first(&mut facts.cmd),
            (_, "acct") => first(&mut facts.acct),
            (_, "op") => first(&mut facts.op),
            (_, "key") if !matches!(raw, "(null)" | "(none)") => facts.keys.push(value),
            (types::SOCKADDR, "saddr") if facts.sockaddr.is_none() => {
                self.bytes.clear();
                if decode_hex(raw.as_bytes(), &mut self.bytes) {
                    facts.sockaddr = Some(SocketAddress::from_bytes(&self.bytes));
                }
            }
            _ => {}
        }
    }

    fn collect_id(
        &mut self,
        event: &EventText,
        id: &mut Id,
        class: FieldClass,
        raw: &str,
        enriched_name: &str,
    ) {
        if id.raw.is_some() {
            return;
        }
        let Some(number) = parse_id(raw.as_bytes()) else {
            return;
        };
        id.number = number;
        id.raw = Some(push_scratch(&mut self.scratch, raw));
        id.name = self.enriched_value(event, enriched_name).filter(|value| {
            let text = self.get(event, *value);
            !text.starts_with("unknown(") && text != "unset"
        });
        let _ = class;
    }

    /// EXECVE `aK=…` and `aK[i]=…` (chunks of one long argument, in order).
    fn collect_argument(&self, event: &EventText, name: &str, value: Ref, facts: &mut Facts) {
        let Some(rest) = name.strip_prefix('a') else {
            return;
        };
        if rest.ends_with("_len") {
            return;
        }
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let Ok(index) = rest[..digits_end].parse::<usize>() else {
            return;
        };
        let suffix = &rest[digits_end..];
        if !(suffix.is_empty() || (suffix.starts_with('[') && suffix.ends_with(']'))) {
            return;
        }
        if index >= AUDITD_EXECVE_ARGS_MAX {
            return;
        }
        if facts.argv.len() <= index {
            facts.argv.resize(index + 1, String::new());
        }
        let text = self.get(event, value);
        facts.argv[index].push_str(text);
    }

    fn upper(&mut self, event: &EventText, name: Ref) -> Ref {
        let start = self.scratch.len();
        let text = match name {
            Ref::Text(from, to) => event.slice((from, to)),
            Ref::Static(text) => text,
            Ref::Scratch(..) => return name,
        };
        for c in text.chars() {
            self.scratch.push(c.to_ascii_uppercase());
        }
        Ref::Scratch(start as u32, self.scratch.len() as u32)
    }

    fn get<'a>(&'a self, event: &'a EventText, piece: Ref) -> &'a str {
        resolve(event, &self.scratch, piece)
    }

    fn to_audit_event(&self, event: &EventText, settings: &Settings, facts: Facts) -> AuditEvent {
        let get = |piece: Ref| self.get(event, piece);
        let text = |piece: Option<Ref>| piece.map(|piece| get(piece).to_owned());
        let node = event.node.map(|range| event.slice(range).to_owned());
        let mut id = match &node {
            Some(node) => format!(
                "{node}:{}.{:03}:{}",
                event.seconds, event.millis, event.serial
            ),
            None => format!("{}.{:03}:{}", event.seconds, event.millis, event.serial),
        };
        if event.occurrence > 1 {
            let _ = write!(id, "#{}", event.occurrence);
        }
        let nanos = i64::try_from(event.seconds)
            .ok()
            .and_then(|seconds| seconds.checked_mul(1_000_000_000))
            .and_then(|nanos| nanos.checked_add(i64::from(event.millis) * 1_000_000));
        let syscall_name = match (facts.arch, facts.syscall) {
            (Some(arch), Some(number)) => syscall_name(arch, number),
            _ => None,
        };
        let verb = match (syscall_name, facts.syscall) {
            (Some(name), _) => name.to_owned(),
            (None, Some(number)) => format!("syscall-{number}"),
            (None, None) => facts.primary_type.map(get).unwrap_or_default().to_owned(),
        };

        let mut annotations = BTreeMap::new();
        let mut annotate = |key: &str, value: Option<String>| {
            if let Some(value) = value {
                annotations.insert(key.to_owned(), value);
            }
        };
        annotate("auditd.type", text(facts.primary_type));
        annotate("auditd.types", Some(record_types(event)));
        annotate("auditd.syscall", syscall_name.map(str::to_owned));
        annotate(
            "auditd.arch",
            facts.arch.and_then(arch_name).map(str::to_owned),
        );
        if !facts.keys.is_empty() {
            let mut keys = String::new();
            for key in &facts.keys {
                for part in get(*key).split('\u{1}') {
                    if !keys.is_empty() {
                        keys.push(',');
                    }
                    keys.push_str(part);
                }
            }
            annotate("auditd.key", Some(keys));
        }
        annotate("auditd.auid", text(facts.auid.raw));
        annotate("auditd.pid", text(facts.pid));
        annotate("auditd.ppid", text(facts.ppid));
        annotate("auditd.ses", text(facts.ses));
        annotate("auditd.tty", text(facts.tty));
        annotate("auditd.terminal", text(facts.terminal));
        annotate("auditd.hostname", text(facts.hostname));
        annotate("auditd.exe", text(facts.exe));
        annotate("auditd.comm", text(facts.comm));
        annotate("auditd.cwd", text(facts.cwd));
        annotate("auditd.cmd", text(facts.cmd));
        annotate("auditd.acct", text(facts.acct));
        annotate("auditd.op", text(facts.op));
        annotate("auditd.exit", facts.exit.map(|exit| exit.to_string()));
        if !facts.argv.is_empty() {
            annotate("auditd.argv", serde_json::to_string(&facts.argv).ok());
        }
        annotate(
            "auditd.proctitle",
            facts.proctitle.map(|title| get(title).replace('\0', " ")),
        );
        if facts.paths.iter().any(|(_, nametype)| nametype.is_some()) {
            let nametypes: Vec<&str> = facts
                .paths
                .iter()
                .map(|(_, nametype)| nametype.map_or("", get))
                .collect();
            annotate("auditd.nametype", Some(nametypes.join(",")));
        }
        if let Some(address) = &facts.sockaddr {
            let mut rendered = String::new();
            address.write(&mut rendered);
            annotate("auditd.sockaddr", Some(rendered));
        }

        let (outcome, status) = outcome(&facts);
        let (source_ips, source_port) = source(&facts, syscall_name, get);

        AuditEvent {
            origin: Origin {
                source: SourceKind::Auditd,
                input: settings.input.clone(),
                line: Some(event.line),
                offset: Some(event.offset),
            },
            id,
            time: nanos.map(Timestamp::from_unix_nanos),
            user: actor(&facts, settings, get),
            verb,
            paths: facts
                .paths
                .iter()
                .map(|(path, _)| get(*path).to_owned())
                .collect(),
            source_ips,
            source_port,
            node,
            status,
            outcome,
            annotations,
            request_object: self.records_json(event, &facts.argv),
            ..AuditEvent::default()
        }
    }

    fn records_json(&self, event: &EventText, argv: &[String]) -> Option<RawJson> {
        let view = RecordsJson {
            builder: self,
            event,
            argv,
        };
        RawJson::from_value(&view).ok()
    }
}

/// The type numbers of the event's records in log order, EOE left out (as in
/// `request_object`): `1006,1300,1327`. Host reports classify events by type ranges, which
/// names alone do not give (`UNKNOWN[1999]`, types newer than the reader).
fn record_types(event: &EventText) -> String {
    let mut numbers = String::with_capacity(event.records.len() * 5);
    for record in &event.records {
        if record.type_number == types::EOE {
            continue;
        }
        if !numbers.is_empty() {
            numbers.push(',');
        }
        let _ = write!(numbers, "{}", record.type_number);
    }
    numbers
}

fn outcome(facts: &Facts) -> (Outcome, Option<ResponseStatus>) {
    let succeeded = facts.success.or(facts.result);
    match succeeded {
        Some(true) => (Outcome::Success, None),
        Some(false) => {
            let reason = facts
                .exit
                .filter(|exit| *exit < 0)
                .and_then(|exit| errno(exit.unsigned_abs()));
            let status = ResponseStatus {
                status: "Failure".to_owned(),
                reason: reason.map(|(name, _)| name.to_owned()).unwrap_or_default(),
                message: reason.map(|(_, text)| text.to_owned()).unwrap_or_default(),
                ..ResponseStatus::default()
            };
            (Outcome::Failure, Some(status))
        }
        None => (Outcome::Unknown, None),
    }
}

/// The client address: `addr=` (or an address in `hostname=`) of userspace records; for a
/// socket the kernel recorded on accept, the peer in `saddr`. The `saddr` of connect, bind and
/// sendto is where the process went, not where it came from: it stays in the annotation.
fn source<'a>(
    facts: &Facts,
    syscall: Option<&str>,
    get: impl Fn(Ref) -> &'a str,
) -> (Vec<String>, Option<u16>) {
    let mut ips = Vec::new();
    let mut port = None;
    for candidate in [facts.addr, facts.hostname].into_iter().flatten() {
        let text = get(candidate);
        if text.parse::<std::net::IpAddr>().is_ok() && !ips.iter().any(|ip| ip == text) {
            ips.push(text.to_owned());
        }
    }
    if matches!(syscall, Some("accept" | "accept4" | "recvfrom" | "recvmsg"))
        && let Some((address, peer_port)) = facts.sockaddr.as_ref().and_then(SocketAddress::ip)
    {
        ips.push(address);
        port = Some(peer_port);
    }
    ips.truncate(SOURCE_IPS_MAX);
    (ips, port)
}

fn actor<'a>(facts: &Facts, settings: &Settings, get: impl Fn(Ref) -> &'a str) -> Actor {
    let user_name = |id: &Id| -> Option<String> {
        if let Some(name) = id.name {
            return Some(get(name).to_owned());
        }
        settings.user_db.user(id.number?).map(str::to_owned)
    };
    let uid_text = facts.uid.raw.map(|raw| get(raw).to_owned());
    let name = match (&facts.uid.number, user_name(&facts.uid)) {
        (_, Some(name)) => name,
        (Some(_), None) => uid_text.clone().unwrap_or_default(),
        (None, None) => String::new(),
    };
    let login = facts
        .auid
        .number
        .map(|number| user_name(&facts.auid).unwrap_or_else(|| number.to_string()));
    let groups = facts.gid.number.and_then(|gid| {
        let name = match facts.gid.name {
            Some(name) => Some(get(name).to_owned()),
            None => settings.user_db.group(gid).map(str::to_owned),
        };
        name.map(|name| vec![name])
    });
    let extra = match (facts.euid.number, facts.uid.number) {
        (Some(euid), Some(uid)) if euid != uid => {
            let mut extra = BTreeMap::new();
            extra.insert("euid".to_owned(), vec![euid.to_string()]);
            if let Some(name) = user_name(&facts.euid) {
                extra.insert("euser".to_owned(), vec![name]);
            }
            Some(extra)
        }
        _ => None,
    };
    Actor {
        name,
        uid: uid_text
            .filter(|_| facts.uid.number.is_some())
            .unwrap_or_default(),
        groups,
        extra,
        login,
    }
}

/// An id field: `Some(None)` for unset (4294967295 or -1), `Some(Some(n))` for an id, `None`
/// when not a number.
fn parse_id(raw: &[u8]) -> Option<Option<u32>> {
    let number = parse_signed(raw)?;
    if number == -1 || number == i64::from(u32::MAX) {
        return Some(None);
    }
    u32::try_from(number).ok().map(Some)
}

/// A field name: in the record text or static, never in the scratch buffer.
fn name_str(event: &EventText, name: Ref) -> &str {
    resolve(event, "", name)
}

fn push_scratch(scratch: &mut String, text: &str) -> Ref {
    let start = scratch.len();
    scratch.push_str(text);
    Ref::Scratch(start as u32, scratch.len() as u32)
}

fn resolve<'a>(event: &'a EventText, scratch: &'a str, piece: Ref) -> &'a str {
    match piece {
        Ref::Text(from, to) => event.slice((from, to)),
        Ref::Scratch(from, to) => scratch.get(from as usize..to as usize).unwrap_or_default(),
        Ref::Static(text) => text,
    }
}

fn field_tokens(event: &EventText, range: (u32, u32)) -> impl Iterator<Item = Token> + '_ {
    event
        .fields
        .get(range.0 as usize..range.1 as usize)
        .unwrap_or_default()
        .iter()
        .copied()
}

/// `{"records":[{"type":"SYSCALL","arch":"c000003e","ARCH":"x86_64",…},…],"argv":[…]}`.
struct RecordsJson<'a> {
    builder: &'a EventBuilder,
    event: &'a EventText,
    argv: &'a [String],
}

struct RecordJson<'a> {
    builder: &'a EventBuilder,
    event: &'a EventText,
    type_name: Ref,
    entries: &'a [Entry],
}

struct RecordList<'a>(&'a RecordsJson<'a>);

impl Serialize for RecordsJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("records", &RecordList(self))?;
        if !self.argv.is_empty() {
            map.serialize_entry("argv", self.argv)?;
        }
        map.end()
    }
}

impl Serialize for RecordList<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let json = self.0;
        let mut list = serializer.serialize_seq(Some(json.builder.records.len()))?;
        for &(_, type_name, from, to) in &json.builder.records {
            list.serialize_element(&RecordJson {
                builder: json.builder,
                event: json.event,
                type_name,
                entries: json
                    .builder
                    .entries
                    .get(from as usize..to as usize)
                    .unwrap_or_default(),
            })?;
        }
        list.end()
    }
}

impl Serialize for RecordJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let get = |piece| resolve(self.event, &self.builder.scratch, piece);
        let mut map = serializer.serialize_map(Some(self.entries.len() + 1))?;
        map.serialize_entry("type", get(self.type_name))?;
        for entry in self.entries {
            map.serialize_entry(get(entry.key), get(entry.value))?;
        }
        map.end()
    }
}
