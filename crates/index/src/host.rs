//! Host reports over Linux audit events, with the numbers `aureport` gives on the same log:
//! [`summary`] (`aureport --summary`, and with [`Selection::Failed`] `aureport --failed`),
//! [`logins`] (`-l`), [`executables`] (`-x`), [`files`] (`-f`) and [`keys`] (`-k`), each
//! also as a [`Totals`] list (`--summary` with the report: `-x --summary`, …).
//!
//! # How aureport counts, and how we reproduce it
//!
//! aureport (audit-userspace `src/aureport*.c`, `src/ausearch-parse.c`) reduces every event
//! to a handful of "search items" (login uid, success, syscall, pid, terminal, host name,
//! executable, command, file names, keys, account) and counts those. Which items it reads
//! depends on the report (the summary reads all of them; `-k` reads the executable and the
//! keys), and an event that lacks an item the report reads is *malformed* for that report
//! and left out of every number, the event count included (an AppArmor `AVC` without
//! `tclass=` is the common case). [`Wanted`] is that per-report choice and [`Items::extract`]
//! the reduction, record by record in log order, a later record overriding an earlier one
//! where ausearch's parser does:
//!
//! - `SYSCALL`: `syscall`, `success` (`yes`, else failed), `pid`, `auid`, `tty` as the
//!   terminal, `comm`, `exe` and `key` (split at 0x01; `(null)` is no key);
//! - `CWD`: the working directory (the first one), which a relative `PATH` name (`./x`,
//!   `../x`) is joined to; `PATH`: each `name` is a file, its `nametype` remembered;
//! - `SOCKADDR`: an IPv4 or IPv6 peer is the host name; an AF_UNIX path is a file (and clears
//!   the host name);
//! - userspace messages (`USER_*`, `CRED_*`, `ADD_USER`, `SERVICE_*`, 2100–2999 …): `pid`,
//!   `auid`, `comm`, `acct`, `hostname` (its `addr` when it is `?`), `cwd`, `terminal`, `exe`,
//!   `res` (`failed…`, else success);
//! - `LOGIN`: `pid`, the new `auid`, `res` as a number; `DAEMON_*`: `auid`, `pid`, `res`;
//!   `CONFIG_CHANGE`: `auid`, `key`, `res` (success by default); `ANOM_*`: `auid`, `pid`,
//!   `comm`, `exe`, `res`; SELinux `AVC`: denied is a failure, `comm`, `path`/`name`, and
//!   `tclass` is required.
//!
//! Numbers are aureport's without `-i`: the login uid as a signed number (`-1` unset), the
//! syscall number. Our events keep every record in `request_object` (in log order) and their
//! type numbers in the `auditd.types` annotation, so nothing is re-read from the log.
//!
//! Known differences, by design: ausearch's parser is a string search over the raw line
//! (`strstr("exe=")`), so a field name hidden inside another field's value can fool it; we
//! read fields. And the events are the ones our decoder grouped, which matches auparse ≥ 4.0
//! (`audit_is_last_record`); ausearch/aureport 3.x end an event at a `LOGIN` record, so they
//! count a pam_loginuid login's LOGIN and its SYSCALL as two events.

use std::collections::{HashMap, HashSet};
use std::fmt;

use event::{SourceKind, Timestamp};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::Dataset;
use crate::dataset::{Accumulate, Chunk};
use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::limits::{RESULT_ROWS_MAX, TOP_ROWS_MAX};
use crate::schema::Column;

/// Record type numbers (`linux/audit.h`, audit-userspace `lib/libaudit.h`).
pub mod types {
    pub const USER: u32 = 1005;
    pub const LOGIN: u32 = 1006;
    pub const USER_AUTH: u32 = 1100;
    pub const USER_MGMT: u32 = 1102;
    pub const USER_END: u32 = 1106;
    pub const USER_AVC: u32 = 1107;
    pub const USER_CHAUTHTOK: u32 = 1108;
    pub const USYS_CONFIG: u32 = 1111;
    pub const USER_LOGIN: u32 = 1112;
    pub const ADD_USER: u32 = 1114;
    pub const DEL_GROUP: u32 = 1117;
    pub const GRP_AUTH: u32 = 1126;
    pub const GRP_MGMT: u32 = 1132;
    pub const LAST_USER_MSG: u32 = 1199;
    pub const DAEMON_START: u32 = 1200;
    pub const DAEMON_CONFIG: u32 = 1203;
    pub const DAEMON_ROTATE: u32 = 1205;
    pub const DAEMON_RESUME: u32 = 1206;
    pub const DAEMON_ACCEPT: u32 = 1207;
    pub const DAEMON_CLOSE: u32 = 1208;
    pub const SYSCALL: u32 = 1300;
    pub const PATH: u32 = 1302;
    pub const CONFIG_CHANGE: u32 = 1305;
    pub const SOCKADDR: u32 = 1306;
    pub const CWD: u32 = 1307;
    pub const TTY: u32 = 1319;
    pub const NETFILTER_CFG: u32 = 1325;
    pub const SECCOMP: u32 = 1326;
    pub const FEATURE_CHANGE: u32 = 1328;
    pub const EVENT_LISTENER: u32 = 1335;
    pub const AVC: u32 = 1400;
    pub const AVC_PATH: u32 = 1402;
    pub const MAC_POLICY_LOAD: u32 = 1403;
    pub const MAC_UNLBL_STCDEL: u32 = 1417;
    pub const FIRST_KERN_CRYPTO_MSG: u32 = 1600;
    pub const LAST_KERN_CRYPTO_MSG: u32 = 1699;
    pub const ANOM_PROMISCUOUS: u32 = 1700;
    pub const ANOM_ABEND: u32 = 1701;
    pub const ANOM_LINK: u32 = 1702;
    pub const FIRST_KERN_ANOM_MSG: u32 = 1700;
    pub const LAST_KERN_ANOM_MSG: u32 = 1799;
    pub const INTEGRITY_DATA: u32 = 1800;
    pub const INTEGRITY_RULE: u32 = 1805;
    pub const INTEGRITY_FIRST_MSG: u32 = 1800;
    pub const INTEGRITY_LAST_MSG: u32 = 1899;
    pub const FIRST_ANOM_MSG: u32 = 2100;
    pub const LAST_ANOM_MSG: u32 = 2199;
    pub const FIRST_ANOM_RESP: u32 = 2200;
    pub const LAST_ANOM_RESP: u32 = 2299;
    pub const FIRST_USER_LSPP_MSG: u32 = 2300;
    pub const ROLE_ASSIGN: u32 = 2301;
    pub const ROLE_REMOVE: u32 = 2302;
    pub const USER_MAC_CONFIG_CHANGE: u32 = 2312;
    pub const LAST_USER_LSPP_MSG: u32 = 2399;
    pub const FIRST_CRYPTO_MSG: u32 = 2400;
    pub const LAST_CRYPTO_MSG: u32 = 2499;
    pub const FIRST_VIRT_MSG: u32 = 2500;
    pub const LAST_VIRT_MSG: u32 = 2599;
    pub const FIRST_USER_MSG2: u32 = 2100;
    pub const LAST_USER_MSG2: u32 = 2999;
}

/// Which events a report counts, by result (`aureport --failed`, `--success`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Selection {
    /// Every event.
    #[default]
    All,
    /// Only failed events.
    Failed,
    /// Only successful events.
    Success,
}

/// The search items a report reads (aureport's `event_*` switches). A record that lacks a
/// field a wanted item needs makes the event malformed for that report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Wanted {
    /// File names (PATH, AF_UNIX SOCKADDR, AVC, CWD).
    pub files: bool,
    /// Host names (`hostname`/`addr`, IP SOCKADDR).
    pub hosts: bool,
    /// Terminals (`tty`, `terminal`).
    pub terminals: bool,
    /// Executables.
    pub executables: bool,
    /// Commands (`comm`).
    pub commands: bool,
    /// Keys.
    pub keys: bool,
}

impl Wanted {
    /// What `aureport --summary` (and `--failed`) reads.
    pub const SUMMARY: Wanted = Wanted {
        files: true,
        hosts: true,
        terminals: true,
        executables: true,
        commands: true,
        keys: true,
    };
    /// What `aureport -l` reads.
    pub const LOGINS: Wanted = Wanted {
        files: false,
        hosts: true,
        terminals: true,
        executables: true,
        commands: false,
        keys: false,
    };
    /// What `aureport -x` reads.
    pub const EXECUTABLES: Wanted = Wanted {
        files: false,
        hosts: true,
        terminals: true,
        executables: true,
        commands: false,
        keys: false,
    };
    /// What `aureport -f` reads.
    pub const FILES: Wanted = Wanted {
        files: true,
        hosts: false,
        terminals: false,
        executables: true,
        commands: false,
        keys: false,
    };
    /// What `aureport -k` reads.
    pub const KEYS: Wanted = Wanted {
        files: false,
        hosts: false,
        terminals: false,
        executables: true,
        commands: false,
        keys: true,
    };
}

/// ausearch's success states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Success {
    /// Nothing said.
    #[default]
    Unset,
    /// Failed (`success=no`, `res=failed`, `res=0`, an AVC denial).
    Failed,
    /// Succeeded.
    Succeeded,
    /// A numeric `res=` other than 0 and 1 (aureport prints `unset`).
    Other,
}

impl Success {
    fn from_number(value: &str) -> Success {
        let digits: String = value.chars().take_while(char::is_ascii_digit).collect();
        match digits.parse::<u64>().unwrap_or(0) {
            0 => Success::Failed,
            1 => Success::Succeeded,
            _ => Success::Other,
        }
    }

    /// `yes`, `no` or `unset`, as aureport prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Success::Failed => "no",
            Success::Succeeded => "yes",
            Success::Unset | Success::Other => "unset",
        }
    }
}

/// One file name with the `nametype` aureport compares (`PARENT` only when it ends its
/// record, as ausearch keeps the rest of the line after `type=`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileName {
    name: String,
    parent: bool,
}

/// One event reduced to aureport's search items.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Items {
    /// Seconds of the event's time stamp.
    pub seconds: i64,
    /// Milliseconds.
    pub millis: u32,
    /// Serial number.
    pub serial: u64,
    /// Node name.
    pub node: Option<String>,
    /// Type number of each record, in log order.
    pub types: Vec<u32>,
    /// Login uid as aureport keeps it (`u32`, 4294967295 unset); `None`: no record gave one.
    pub login_uid: Option<u32>,
    /// Success.
    pub success: Success,
    /// Syscall number (0: none).
    pub syscall: i64,
    /// Process id.
    pub pid: Option<u32>,
    /// Terminal.
    pub terminal: Option<String>,
    /// Host name.
    pub host: Option<String>,
    /// Executable.
    pub exe: Option<String>,
    /// Command.
    pub comm: Option<String>,
    files: Vec<FileName>,
    /// Keys, `(null)` included when a record said so.
    pub keys: Vec<String>,
    /// Account (`acct=`).
    pub acct: Option<String>,
    cwd: Option<String>,
}

/// Why an event is malformed for a report (ausearch's "Malformed event skipped").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    /// The record type.
    pub record_type: u32,
    /// The missing or bad field.
    pub field: &'static str,
}

/// One record of an event's `request_object`: its type name and its fields in order.
#[derive(Debug, Default)]
struct RecordFields {
    fields: Vec<(String, String)>,
}

impl RecordFields {
    /// The first raw (lower-case) field called `name`.
    fn get(&self, name: &str) -> Option<&str> {
        self.position(name).map(|at| self.fields[at].1.as_str())
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.fields
            .iter()
            .position(|(key, _)| key == name && is_raw_field(key))
    }

    /// The first raw field called `name` after field index `after`.
    fn get_after(&self, name: &str, after: usize) -> Option<(usize, &str)> {
        self.fields
            .iter()
            .enumerate()
            .skip(after + 1)
            .find(|(_, (key, _))| key == name)
            .map(|(at, (_, value))| (at, value.as_str()))
    }

    /// Index of the last raw field.
    fn last_raw(&self) -> Option<usize> {
        self.fields.iter().rposition(|(key, _)| is_raw_field(key))
    }
}

/// Raw fields are lower case; upper-case names are interpretations (ours or ENRICHED).
fn is_raw_field(key: &str) -> bool {
    !key.bytes()
        .next()
        .is_some_and(|byte| byte.is_ascii_uppercase())
}

/// The `records` of a `request_object`, with fields in order and duplicates kept.
#[derive(Debug, Default)]
struct Records(Vec<RecordFields>);

impl<'de> Deserialize<'de> for Records {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct Outer;
        impl<'de> Visitor<'de> for Outer {
            type Value = Records;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an auditd request_object")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Records, A::Error> {
                let mut records = Records::default();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "records" {
                        records = map.next_value::<RecordList>()?.0;
                    } else {
                        map.next_value::<de::IgnoredAny>()?;
                    }
                }
                Ok(records)
            }
        }
        deserializer.deserialize_map(Outer)
    }
}

struct RecordList(Records);

impl<'de> Deserialize<'de> for RecordList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct List;
        impl<'de> Visitor<'de> for List {
            type Value = RecordList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of records")
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<RecordList, A::Error> {
                let mut records = Vec::new();
                while let Some(record) = seq.next_element::<OneRecord>()? {
                    records.push(record.0);
                }
                Ok(RecordList(Records(records)))
            }
        }
        deserializer.deserialize_seq(List)
    }
}

struct OneRecord(RecordFields);

impl<'de> Deserialize<'de> for OneRecord {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = OneRecord;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a record object")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<OneRecord, A::Error> {
                let mut fields = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let value = map.next_value::<String>()?;
                    if key != "type" {
                        fields.push((key, value));
                    }
                }
                Ok(OneRecord(RecordFields { fields }))
            }
        }
        deserializer.deserialize_map(Fields)
    }
}

/// The annotations a host report reads.
#[derive(Debug, Deserialize)]
struct HostAnnotations {
    #[serde(rename = "auditd.types")]
    types: Option<String>,
}

/// `SECONDS.MILLIS:SERIAL`, after an optional `NODE:` and before an optional `#N` (a later
/// event with the same identity).
fn parse_id(id: &str) -> Option<(Option<String>, i64, u32, u64)> {
    let id = id.rsplit_once('#').map_or(id, |(id, _)| id);
    let (rest, serial) = id.rsplit_once(':')?;
    let (node, stamp) = match rest.rsplit_once(':') {
        Some((node, stamp)) => (Some(node.to_owned()), stamp),
        None => (None, rest),
    };
    let (seconds, millis) = stamp.split_once('.')?;
    Some((
        node,
        seconds.parse().ok()?,
        millis.parse().ok()?,
        serial.parse().ok()?,
    ))
}

/// The unsigned value C's `strtoul(…, 10)` reads (leading digits; 0 when none), kept to 32
/// bits as ausearch's `uid_t` and `pid_t` fields keep it.
fn strtoul32(value: &str) -> u32 {
    let negative = value.starts_with('-');
    let digits: String = value
        .trim_start_matches('-')
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let number = digits.parse::<u64>().unwrap_or(u64::MAX) as u32;
    if negative {
        number.wrapping_neg()
    } else {
        number
    }
}

fn hex_bytes(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text
        .bytes()
        .take_while(u8::is_ascii_hexdigit)
        .collect::<Vec<u8>>();
    digits
        .chunks_exact(2)
        .filter_map(|pair| {
            let text = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(text, 16).ok()
        })
        .collect()
}

impl Items {
    /// Reduces an event (`id`, `request_object` JSON, `auditd.types` numbers) to its items,
    /// reading what `wanted` asks for; `Err` when aureport would skip it as malformed.
    pub fn extract(
        id: &str,
        request_object: &str,
        types: &str,
        wanted: Wanted,
    ) -> std::result::Result<Items, Malformed> {
        let bad = |record_type, field| Malformed { record_type, field };
        let (node, seconds, millis, serial) = parse_id(id).ok_or(bad(0, "id"))?;
        let records: Records =
            serde_json::from_str(request_object).map_err(|_| bad(0, "request_object"))?;
        let numbers: Vec<u32> = types
            .split(',')
            .filter(|part| !part.is_empty())
            .map(|part| part.parse::<u32>().unwrap_or(0))
            .collect();
        let mut items = Items {
            seconds,
            millis,
            serial,
            node,
            types: numbers.clone(),
            ..Items::default()
        };
        for (record, record_type) in records.0.iter().zip(numbers) {
            items.read(record, record_type, wanted)?;
        }
        Ok(items)
    }

    fn read(
        &mut self,
        record: &RecordFields,
        record_type: u32,
        wanted: Wanted,
    ) -> std::result::Result<(), Malformed> {
        use types::*;
        match record_type {
            SYSCALL => self.syscall(record, wanted),
            CWD => {
                if wanted.files
                    && self.cwd.is_none()
                    && let Some(cwd) = record.get("cwd")
                {
                    self.cwd = Some(cwd.to_owned());
                }
                Ok(())
            }
            AVC_PATH => {
                if wanted.files {
                    match record.get("path") {
                        Some(path) => self.add_file(path, false),
                        None => {
                            return Err(Malformed {
                                record_type,
                                field: "path",
                            });
                        }
                    }
                }
                Ok(())
            }
            PATH => {
                if wanted.files
                    && let Some(at) = record.position("name")
                {
                    let name = &record.fields[at].1;
                    let nametype = record
                        .fields
                        .iter()
                        .enumerate()
                        .skip(at + 1)
                        .find(|(_, (key, _))| key.ends_with("type") && is_raw_field(key));
                    let parent = nametype.is_some_and(|(index, (_, value))| {
                        value == "PARENT" && Some(index) == record.last_raw()
                    });
                    self.add_file(name, parent);
                }
                Ok(())
            }
            USER | USER_AUTH..=USER_END | USER_CHAUTHTOK..=LAST_USER_MSG => {
                self.user(record, record_type, wanted)
            }
            FIRST_USER_MSG2..=LAST_USER_MSG2 => self.user(record, record_type, wanted),
            SOCKADDR => self.sockaddr(record, record_type, wanted),
            LOGIN => self.login(record, record_type),
            DAEMON_START..=DAEMON_CONFIG | DAEMON_ROTATE | DAEMON_RESUME => {
                self.daemon(record, record_type)
            }
            DAEMON_ACCEPT | DAEMON_CLOSE => {
                if wanted.hosts
                    && let Some(addr) = record.get("addr")
                {
                    let host = addr.split(':').next().unwrap_or(addr);
                    self.host = Some(host.to_owned());
                }
                if let Some(result) = record.get("res") {
                    self.success = alpha_result(result).ok_or(Malformed {
                        record_type,
                        field: "res",
                    })?;
                }
                Ok(())
            }
            CONFIG_CHANGE => {
                self.simple(record, record_type, wanted)?;
                if wanted.files
                    && let Some(path) = record.get("path")
                {
                    self.add_file(path, false);
                }
                Ok(())
            }
            AVC | USER_AVC => self.avc(record, record_type, wanted),
            FEATURE_CHANGE | ANOM_LINK => self.task(record, record_type, wanted),
            SECCOMP | ANOM_PROMISCUOUS | ANOM_ABEND => self.anomaly(record, record_type, wanted),
            MAC_POLICY_LOAD..=MAC_UNLBL_STCDEL => self.simple(record, record_type, wanted),
            INTEGRITY_DATA..=INTEGRITY_RULE => self.integrity(record, wanted),
            NETFILTER_CFG | EVENT_LISTENER => self.kernel(record, record_type, wanted),
            TTY => self.tty(record, record_type, wanted),
            _ => Ok(()),
        }
    }

    fn add_file(&mut self, name: &str, parent: bool) {
        let bytes = name.as_bytes();
        let relative = bytes.first() == Some(&b'.') && matches!(bytes.get(1), Some(b'.' | b'/'));
        let name = match (&self.cwd, relative) {
            (Some(cwd), true) => format!("{cwd}/{name}"),
            _ => name.to_owned(),
        };
        self.files.push(FileName { name, parent });
    }

    fn add_keys(&mut self, value: &str) {
        for key in value.split('\u{1}').filter(|key| !key.is_empty()) {
            self.keys.push(key.to_owned());
        }
    }

    fn syscall(
        &mut self,
        record: &RecordFields,
        wanted: Wanted,
    ) -> std::result::Result<(), Malformed> {
        let bad = |field| Malformed {
            record_type: types::SYSCALL,
            field,
        };
        let syscall = record.get("syscall").ok_or(bad("syscall"))?;
        self.syscall = i64::from(strtoul32(syscall) as i32);
        if let Some(success) = record.get("success") {
            self.success = if success == "yes" {
                Success::Succeeded
            } else {
                Success::Failed
            };
        }
        record.get("a0").ok_or(bad("a0"))?;
        record.get("a1").ok_or(bad("a1"))?;
        self.task(record, types::SYSCALL, wanted)?;
        if wanted.keys
            && let Some(key) = record.get("key")
        {
            self.add_keys(key);
        }
        Ok(())
    }

    /// ausearch's `parse_task_info`: pid, auid, tty, comm, exe (the last two required when
    /// wanted), `res`.
    fn task(
        &mut self,
        record: &RecordFields,
        record_type: u32,
        wanted: Wanted,
    ) -> std::result::Result<(), Malformed> {
        let bad = |field| Malformed { record_type, field };
        let pid = record.get("pid").ok_or(bad("pid"))?;
        self.pid = Some(strtoul32(pid));
        let auid = record
            .get("auid")
            .or_else(|| record.get("loginuid"))
            .ok_or(bad("auid"))?;
        self.login_uid = Some(strtoul32(auid));
        if wanted.terminals
            && let Some(tty) = record.get("tty")
        {
            self.terminal = Some(tty.to_owned());
        }
        if wanted.commands {
            self.comm = Some(record.get("comm").ok_or(bad("comm"))?.to_owned());
        }
        if wanted.executables {
            self.exe = Some(record.get("exe").ok_or(bad("exe"))?.to_owned());
        }
        if record_type != types::SYSCALL
            && let Some(result) = record.get("res")
        {
            self.success = Success::from_number(result);
        }
        Ok(())
    }

    /// ausearch's `parse_user`, for userspace messages.
    fn user(
        &mut self,
        record: &RecordFields,
        record_type: u32,
        wanted: Wanted,
    ) -> std::result::Result<(), Malformed> {
        let bad = |field| Malformed { record_type, field };
        let pid = record.get("pid").ok_or(bad("pid"))?;
        self.pid = Some(strtoul32(pid));
        let auid = record
            .get("auid")
            .or_else(|| record.get("loginuid"))
            .ok_or(bad("auid"))?;
        self.login_uid = Some(strtoul32(auid));
        if wanted.commands
            && let Some(comm) = record.get("comm")
        {
            self.comm = Some(comm.to_owned());
        }
        if let Some(acct) = record.get("acct") {
            self.acct = Some(acct.to_owned());
        }
        if wanted.hosts
            && let Some(at) = record.position("hostname")
        {
            let hostname = record.fields[at].1.as_str();
            let host = if hostname == "?" {
                record
                    .get_after("addr", at)
                    .map_or(hostname, |(_, addr)| addr)
            } else {
                hostname
            };
            self.host = Some(host.to_owned());
        }
        if wanted.files
            && let Some(cwd) = record.get("cwd")
        {
            self.cwd = Some(cwd.to_owned());
        }
        if wanted.terminals
            && let Some(terminal) = record.get("terminal")
        {
            self.terminal = Some(terminal.to_owned());
        }
        if wanted.executables
            && let Some(exe) = record.get("exe")
        {
            self.exe = Some(exe.to_owned());
        }
        if let Some(result) = record.get("res") {
            self.success = if result.starts_with("failed") {
                Success::Failed
            } else {
                Success::Succeeded
            };
        } else if let Some(result) = record.get("result") {
            self.success = if result.eq_ignore_ascii_case("success") {
                Success::Succeeded
            } else {
                Success::Failed
            };
        }
        Ok(())
    }

    fn sockaddr(
        &mut self,
        record: &RecordFields,
        record_type: u32,
        wanted: Wanted,
    ) -> std::result::Result<(), Malformed> {
        if !(wanted.hosts || wanted.files) {
            return Ok(());
        }
        let Some(saddr) = record.get("saddr") else {
            return Ok(());
        };
        let bad = |field| Malformed { record_type, field };
        let bytes = hex_bytes(saddr);
        if bytes.is_empty() {
            return Err(bad("saddr"));
        }
        let family = u16::from_le_bytes([bytes[0], bytes.get(1).copied().unwrap_or(0)]);
        match family {
            2 => {
                if bytes.len() < 16 {
                    return Err(bad("saddr"));
                }
                self.host = wanted.hosts.then(|| {
                    std::net::Ipv4Addr::new(bytes[4], bytes[5], bytes[6], bytes[7]).to_string()
                });
            }
            10 => {
                if bytes.len() < 28 {
                    return Err(bad("saddr"));
                }
                self.host = wanted.hosts.then(|| {
                    let mut address = [0u8; 16];
                    address.copy_from_slice(&bytes[8..24]);
                    std::net::Ipv6Addr::from(address).to_string()
                });
            }
            1 => {
                if bytes.len() < 4 {
                    return Err(bad("saddr"));
                }
                if wanted.files {
                    let path = &bytes[2..];
                    let path = if path.first() == Some(&0) {
                        &path[1..]
                    } else {
                        path
                    };
                    let end = path
                        .iter()
                        .position(|byte| *byte == 0)
                        .unwrap_or(path.len());
                    let name = String::from_utf8_lossy(&path[..end]).into_owned();
                    self.files.push(FileName {
                        name,
                        parent: false,
                    });
                }
                self.host = None;
            }
            _ => self.host = None,
        }
        Ok(())
    }

    fn login(
        &mut self,
        record: &RecordFields,
        record_type: u32,
    ) -> std::result::Result<(), Malformed> {
        let bad = |field| Malformed { record_type, field };
        let pid = record.get("pid").ok_or(bad("pid"))?;
        self.pid = Some(strtoul32(pid));
        // The new auid: the last `auid` (older kernels write `old auid=… new auid=…`).
        let auid = record
            .fields
            .iter()
            .rev()
            .find(|(key, _)| key == "auid")
            .map(|(_, value)| value.as_str())
            .or_else(|| record.get("loginuid"))
            .ok_or(bad("auid"))?;
        self.login_uid = Some(strtoul32(auid));
        self.success = match record.get("res") {
            Some(result) => Success::from_number(result),
            None => Success::Succeeded,
        };
        Ok(())
    }

    fn daemon(
        &mut self,
        record: &RecordFields,
        record_type: u32,
    ) -> std::result::Result<(), Malformed> {
        let bad = |field| Malformed { record_type, field };
        let auid_at = record.position("auid").ok_or(bad("auid"))?;
        self.login_uid = Some(strtoul32(&record.fields[auid_at].1));
        let (_, pid) = record.get_after("pid", auid_at).ok_or(bad("pid"))?;
        self.pid = Some(strtoul32(pid));
        if let Some(result) = record.get("res") {
            self.success = alpha_result(result).ok_or(bad("res"))?;
        }
        Ok(())
    }

    /// ausearch's `parse_simple_message`: CONFIG_CHANGE and MAC records.
    fn simple(
        &mut self,
        record: &RecordFields,
        record_type: u32,
        wanted: Wanted,
    ) -> std::result::Result<(), Malformed> {
        match record.get("auid") {
            Some(auid) => self.login_uid = Some(strtoul32(auid)),
            None if record_type != types::CONFIG_CHANGE => {
                return Err(Malformed {
                    record_type,
                    field: "auid",
                });
            }
            None => {}
        }
        if wanted.keys
            && let Some(key) = record.get("key")
        {
            self.add_keys(key);
        }
        if record_type == types::CONFIG_CHANGE {
            self.success = Success::Succeeded;
        }
        if let Some(result) = record.get("res") {
            self.success = Success::from_number(result);
        }
        Ok(())
    }

    fn avc(
        &mut self,
        record: &RecordFields,
        record_type: u32,
        wanted: Wanted,
    ) -> std::result::Result<(), Malformed> {
        if let (Some(result), Some(_)) = (record.get("seresult"), record.get("seperms")) {
            self.success = if result.contains("denied") {
                Success::Failed
            } else {
                Success::Succeeded
            };
        }
        if record_type == types::USER_AVC {
            return self.user(record, record_type, wanted);
        }
        let bad = |field| Malformed { record_type, field };
        if let Some(pid) = record.get("pid") {
            self.pid = Some(strtoul32(pid));
        }
        if wanted.commands && self.comm.is_none() {
            self.comm = Some(record.get("comm").ok_or(bad("comm"))?.to_owned());
        }
        if wanted.files {
            if let Some(path) = record.get("path") {
                self.add_file(path, false);
            } else if let Some(name) = record.get("name") {
                self.add_file(name, false);
            }
        }
        record.get("tclass").ok_or(bad("tclass"))?;
        Ok(())
    }

    /// ausearch's `parse_kernel_anom`.
    fn anomaly(
        &mut self,
        record: &RecordFields,
        record_type: u32,
        wanted: Wanted,
    ) -> std::result::Result<(), Malformed> {
        let bad = |field| Malformed { record_type, field };
        let auid = record.get("auid").ok_or(bad("auid"))?;
        self.login_uid = Some(strtoul32(auid));
        if record_type == types::ANOM_PROMISCUOUS {
            return Ok(());
        }
        if let Some(pid) = record.get("pid") {
            self.pid = Some(strtoul32(pid));
        }
        if wanted.commands
            && let Some(comm) = record.get("comm")
        {
            self.comm = Some(comm.to_owned());
        }
        if wanted.executables {
            match record.get("exe") {
                Some(exe) => self.exe = Some(exe.to_owned()),
                None if record_type != types::ANOM_ABEND => return Err(bad("exe")),
                None => {}
            }
        }
        if record_type == types::SECCOMP
            && let Some(syscall) = record.get("syscall")
        {
            self.syscall = i64::from(strtoul32(syscall) as i32);
        }
        if let Some(result) = record.get("res") {
            self.success = Success::from_number(result);
        }
        Ok(())
    }

    fn integrity(
        &mut self,
        record: &RecordFields,
        wanted: Wanted,
    ) -> std::result::Result<(), Malformed> {
        if let Some(pid) = record.get("pid") {
            self.pid = Some(strtoul32(pid));
        }
        if let Some(auid) = record.get("auid") {
            self.login_uid = Some(strtoul32(auid));
        }
        if wanted.commands
            && let Some(comm) = record.get("comm")
        {
            self.comm = Some(comm.to_owned());
        }
        if wanted.files
            && let Some(name) = record.get("name")
        {
            self.add_file(name, false);
        }
        if let Some(result) = record.get("res") {
            self.success = Success::from_number(result);
        }
        Ok(())
    }

    /// ausearch's `parse_kernel` (NETFILTER_CFG): fills only what is still empty.
    fn kernel(
        &mut self,
        record: &RecordFields,
        record_type: u32,
        wanted: Wanted,
    ) -> std::result::Result<(), Malformed> {
        if self.pid.is_none() {
            let pid = record.get("pid").ok_or(Malformed {
                record_type,
                field: "pid",
            })?;
            self.pid = Some(strtoul32(pid));
        }
        if self.login_uid.is_none() {
            self.login_uid = Some(record.get("auid").map_or(u32::MAX, strtoul32));
        }
        if wanted.terminals && self.terminal.is_none() {
            self.terminal = Some(record.get("tty").unwrap_or("(none)").to_owned());
        }
        if wanted.commands
            && let Some(comm) = record.get("comm")
        {
            self.comm = Some(comm.to_owned());
        }
        if wanted.executables
            && let Some(exe) = record.get("exe")
        {
            self.exe = Some(exe.to_owned());
        }
        Ok(())
    }

    fn tty(
        &mut self,
        record: &RecordFields,
        record_type: u32,
        wanted: Wanted,
    ) -> std::result::Result<(), Malformed> {
        if let Some(pid) = record.get("pid") {
            self.pid = Some(strtoul32(pid));
        }
        let auid = record.get("auid").ok_or(Malformed {
            record_type,
            field: "auid",
        })?;
        self.login_uid = Some(strtoul32(auid));
        if wanted.commands
            && let Some(comm) = record.get("comm")
        {
            self.comm = Some(comm.to_owned());
        }
        Ok(())
    }

    fn has(&self, record_type: u32) -> bool {
        self.types.contains(&record_type)
    }

    fn has_range(&self, low: u32, high: u32) -> bool {
        self.types.iter().any(|t| (low..=high).contains(t))
    }

    /// The login uid as aureport prints it without `-i` (`%d`: `-1` when unset).
    pub fn auid_text(&self) -> String {
        self.login_uid
            .map_or_else(|| "-2".to_owned(), |uid| (uid as i32).to_string())
    }

    /// The event's time.
    pub fn time(&self) -> Option<Timestamp> {
        self.seconds
            .checked_mul(1_000_000_000)
            .and_then(|nanos| nanos.checked_add(i64::from(self.millis) * 1_000_000))
            .map(Timestamp::from_unix_nanos)
    }

    fn selected(&self, selection: Selection) -> bool {
        match selection {
            Selection::All => true,
            Selection::Failed => self.success == Success::Failed,
            Selection::Success => self.success == Success::Succeeded,
        }
    }

    /// The first file name, skipping `PARENT` ones when there are several (`aureport -f`).
    fn report_file(&self) -> Option<&str> {
        if self.files.len() > 1 {
            self.files
                .iter()
                .find(|file| !file.parent)
                .map(|file| file.name.as_str())
        } else {
            self.files.first().map(|file| file.name.as_str())
        }
    }
}

/// `res=` of daemon records: letters, `failed…` a failure; no letters is malformed.
fn alpha_result(value: &str) -> Option<Success> {
    if !value
        .bytes()
        .next()
        .is_some_and(|byte| byte.is_ascii_alphabetic())
    {
        return None;
    }
    Some(if value.starts_with("failed") {
        Success::Failed
    } else {
        Success::Succeeded
    })
}

// ---------------------------------------------------------------------------------------
// the scan

/// The columns a host report reads.
const HOST_COLUMNS: [Column; 5] = [
    Column::AuditId,
    Column::RequestObject,
    Column::Annotations,
    Column::Time,
    Column::StageTime,
];

/// Per event: what a report keeps.
trait Collect: Send {
    fn collect(&mut self, items: Items);
    fn merge(&mut self, other: Self);
}

struct HostScan<C> {
    wanted: Wanted,
    selection: Selection,
    collected: C,
    malformed: u64,
}

impl<C: Collect> Accumulate for HostScan<C> {
    fn add(&mut self, chunk: &Chunk, rows: &[u32]) -> Result<()> {
        let ids = chunk.strings(Column::AuditId)?;
        let objects = chunk.strings(Column::RequestObject)?;
        let annotations = chunk.strings(Column::Annotations)?;
        for row in rows {
            let at = *row as usize;
            use arrow_array::Array;
            if !ids.is_valid(at) || !objects.is_valid(at) || !annotations.is_valid(at) {
                self.malformed += 1;
                continue;
            }
            let types = serde_json::from_str::<HostAnnotations>(annotations.value(at))
                .ok()
                .and_then(|annotations| annotations.types);
            let Some(types) = types else {
                self.malformed += 1;
                continue;
            };
            match Items::extract(ids.value(at), objects.value(at), &types, self.wanted) {
                Ok(items) if items.selected(self.selection) => self.collected.collect(items),
                Ok(_) => {}
                Err(_) => self.malformed += 1,
            }
        }
        Ok(())
    }

    fn merge(&mut self, other: Self) {
        self.collected.merge(other.collected);
        self.malformed += other.malformed;
    }
}

/// The filter restricted to Linux audit events.
fn host_filter(filter: &Filter) -> Result<Filter> {
    let mut filter = filter.clone();
    if filter
        .sources
        .iter()
        .any(|source| *source != SourceKind::Auditd)
    {
        return Err(Error::Filter {
            field: "source",
            reason: "host reports read Linux audit events only (--source auditd)".to_owned(),
        });
    }
    filter.sources = vec![SourceKind::Auditd];
    Ok(filter)
}

fn scan<C: Collect>(
    dataset: &Dataset,
    filter: &Filter,
    wanted: Wanted,
    selection: Selection,
    make: impl Fn() -> C + Sync,
) -> Result<(C, u64)> {
    let filter = host_filter(filter)?;
    let (scan, _) = dataset.scan(&filter, &HOST_COLUMNS, || HostScan {
        wanted,
        selection,
        collected: make(),
        malformed: 0,
    })?;
    Ok((scan.collected, scan.malformed))
}

// ---------------------------------------------------------------------------------------
// summary

/// `aureport --summary` (`--failed`: over failed events only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Earliest event time (seconds, millis).
    pub first: Option<(i64, u32)>,
    /// Latest event time.
    pub last: Option<(i64, u32)>,
    /// Changes in configuration.
    pub changes: u64,
    /// Changes to accounts, groups, or roles.
    pub account_changes: u64,
    /// Logins.
    pub logins: u64,
    /// Failed logins.
    pub failed_logins: u64,
    /// Authentications.
    pub authentications: u64,
    /// Failed authentications.
    pub failed_authentications: u64,
    /// Distinct login uids.
    pub users: u64,
    /// Distinct terminals.
    pub terminals: u64,
    /// Distinct host names.
    pub hosts: u64,
    /// Distinct executables.
    pub executables: u64,
    /// Distinct commands.
    pub commands: u64,
    /// Distinct files.
    pub files: u64,
    /// Events with an AVC.
    pub avcs: u64,
    /// MAC events.
    pub mac_events: u64,
    /// Failed syscalls.
    pub failed_syscalls: u64,
    /// Anomaly events.
    pub anomalies: u64,
    /// Responses to anomaly events.
    pub responses: u64,
    /// Crypto events.
    pub crypto: u64,
    /// Integrity events.
    pub integrity: u64,
    /// Virtualization events.
    pub virt: u64,
    /// Distinct keys.
    pub keys: u64,
    /// Distinct process ids.
    pub pids: u64,
    /// Events.
    pub events: u64,
    /// Events left out as malformed (aureport drops them silently).
    pub malformed: u64,
}

impl Summary {
    /// The report's lines as aureport titles them, in its order.
    pub fn lines(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("changes in configuration", self.changes),
            (
                "changes to accounts, groups, or roles",
                self.account_changes,
            ),
            ("logins", self.logins),
            ("failed logins", self.failed_logins),
            ("authentications", self.authentications),
            ("failed authentications", self.failed_authentications),
            ("users", self.users),
            ("terminals", self.terminals),
            ("host names", self.hosts),
            ("executables", self.executables),
            ("commands", self.commands),
            ("files", self.files),
            ("AVC's", self.avcs),
            ("MAC events", self.mac_events),
            ("failed syscalls", self.failed_syscalls),
            ("anomaly events", self.anomalies),
            ("responses to anomaly events", self.responses),
            ("crypto events", self.crypto),
            ("integrity events", self.integrity),
            ("virt events", self.virt),
            ("keys", self.keys),
            ("process IDs", self.pids),
            ("events", self.events),
        ]
    }
}

#[derive(Default)]
struct SummaryCollect {
    summary: Summary,
    users: HashSet<String>,
    terminals: HashSet<String>,
    hosts: HashSet<String>,
    executables: HashSet<String>,
    commands: HashSet<String>,
    files: HashSet<String>,
    keys: HashSet<String>,
    pids: HashSet<u32>,
}

fn bounded_insert<T: std::hash::Hash + Eq>(set: &mut HashSet<T>, value: T) {
    if set.len() < DISTINCT_MAX {
        set.insert(value);
    }
}

/// Most distinct values a summary counts per kind (users, files, …); past it the count stops
/// growing (memory stays bounded on a hostile trail).
pub const DISTINCT_MAX: usize = 10_000_000;

impl Collect for SummaryCollect {
    fn collect(&mut self, items: Items) {
        use types::*;
        let s = &mut self.summary;
        s.events += 1;
        let stamp = (items.seconds, items.millis);
        s.first = Some(s.first.map_or(stamp, |first| first.min(stamp)));
        s.last = Some(s.last.map_or(stamp, |last| last.max(stamp)));
        for kind in [
            CONFIG_CHANGE,
            DAEMON_CONFIG,
            USYS_CONFIG,
            NETFILTER_CFG,
            FEATURE_CHANGE,
            USER_MAC_CONFIG_CHANGE,
        ] {
            s.changes += u64::from(items.has(kind));
        }
        s.changes += u64::from(items.has_range(MAC_POLICY_LOAD, MAC_UNLBL_STCDEL));
        s.account_changes += u64::from(items.has(USER_CHAUTHTOK))
            + u64::from(items.has_range(ADD_USER, DEL_GROUP))
            + u64::from(items.has(USER_MGMT))
            + u64::from(items.has(GRP_MGMT))
            + u64::from(items.has_range(ROLE_ASSIGN, ROLE_REMOVE));
        s.crypto += u64::from(items.has_range(FIRST_KERN_CRYPTO_MSG, LAST_KERN_CRYPTO_MSG))
            + u64::from(items.has_range(FIRST_CRYPTO_MSG, LAST_CRYPTO_MSG));
        if items.has(USER_LOGIN) {
            match items.success {
                Success::Succeeded => s.logins += 1,
                Success::Failed => s.failed_logins += 1,
                _ => {}
            }
        }
        if items.has(USER_AUTH) || (!items.has(USER_MGMT) && items.has(GRP_AUTH)) {
            match items.success {
                Success::Succeeded => s.authentications += 1,
                Success::Failed => s.failed_authentications += 1,
                _ => {}
            }
        } else if items.has(USER_MGMT) && items.success == Success::Failed {
            s.failed_authentications += 1;
        }
        if items.login_uid.is_some() {
            bounded_insert(&mut self.users, items.auid_text());
        }
        if let Some(terminal) = &items.terminal {
            bounded_insert(&mut self.terminals, terminal.clone());
        }
        if let Some(host) = &items.host {
            bounded_insert(&mut self.hosts, host.clone());
        }
        if let Some(exe) = &items.exe {
            bounded_insert(&mut self.executables, exe.clone());
        }
        if let Some(comm) = &items.comm {
            bounded_insert(&mut self.commands, comm.clone());
        }
        for file in &items.files {
            bounded_insert(&mut self.files, file.name.clone());
        }
        s.avcs += u64::from(items.has(AVC) || items.has(USER_AVC));
        s.mac_events += u64::from(items.has_range(MAC_POLICY_LOAD, MAC_UNLBL_STCDEL))
            + u64::from(items.has_range(FIRST_USER_LSPP_MSG, LAST_USER_LSPP_MSG));
        s.virt += u64::from(items.has_range(FIRST_VIRT_MSG, LAST_VIRT_MSG));
        s.integrity += u64::from(items.has_range(INTEGRITY_FIRST_MSG, INTEGRITY_LAST_MSG));
        s.failed_syscalls += u64::from(items.success == Success::Failed && items.syscall > 0);
        if let Some(pid) = items.pid {
            bounded_insert(&mut self.pids, pid);
        }
        s.anomalies += u64::from(items.has_range(FIRST_ANOM_MSG, LAST_ANOM_MSG))
            + u64::from(items.has_range(FIRST_KERN_ANOM_MSG, LAST_KERN_ANOM_MSG));
        s.responses += u64::from(items.has_range(FIRST_ANOM_RESP, LAST_ANOM_RESP));
        for key in &items.keys {
            if key != "(null)" {
                bounded_insert(&mut self.keys, key.clone());
            }
        }
    }

    fn merge(&mut self, other: Self) {
        let (a, b) = (&mut self.summary, other.summary);
        a.first = match (a.first, b.first) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        };
        a.last = match (a.last, b.last) {
            (Some(x), Some(y)) => Some(x.max(y)),
            (x, y) => x.or(y),
        };
        a.changes += b.changes;
        a.account_changes += b.account_changes;
        a.logins += b.logins;
        a.failed_logins += b.failed_logins;
        a.authentications += b.authentications;
        a.failed_authentications += b.failed_authentications;
        a.avcs += b.avcs;
        a.mac_events += b.mac_events;
        a.failed_syscalls += b.failed_syscalls;
        a.anomalies += b.anomalies;
        a.responses += b.responses;
        a.crypto += b.crypto;
        a.integrity += b.integrity;
        a.virt += b.virt;
        a.events += b.events;
        for (mine, theirs) in [
            (&mut self.users, other.users),
            (&mut self.terminals, other.terminals),
            (&mut self.hosts, other.hosts),
            (&mut self.executables, other.executables),
            (&mut self.commands, other.commands),
            (&mut self.files, other.files),
            (&mut self.keys, other.keys),
        ] {
            for value in theirs {
                bounded_insert(mine, value);
            }
        }
        for pid in other.pids {
            bounded_insert(&mut self.pids, pid);
        }
    }
}

/// `aureport --summary`; with [`Selection::Failed`], `aureport --failed`.
pub fn summary(dataset: &Dataset, filter: &Filter, selection: Selection) -> Result<Summary> {
    let (collected, malformed) = scan(
        dataset,
        filter,
        Wanted::SUMMARY,
        selection,
        SummaryCollect::default,
    )?;
    let mut summary = collected.summary;
    summary.users = collected.users.len() as u64;
    summary.terminals = collected.terminals.len() as u64;
    summary.hosts = collected.hosts.len() as u64;
    summary.executables = collected.executables.len() as u64;
    summary.commands = collected.commands.len() as u64;
    summary.files = collected.files.len() as u64;
    summary.keys = collected.keys.len() as u64;
    summary.pids = collected.pids.len() as u64;
    summary.malformed = malformed;
    Ok(summary)
}

// ---------------------------------------------------------------------------------------
// detailed reports

/// One row of a detailed host report (`N. date time …` in aureport).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRow {
    /// When.
    pub time: Option<Timestamp>,
    /// Node, when the records had one.
    pub node: Option<String>,
    /// The event's serial number.
    pub serial: u64,
    /// The report's columns, as aureport prints them (without `-i`).
    pub cells: Vec<String>,
}

/// A detailed host report: rows oldest first, at most the limit asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostRows {
    /// The rows.
    pub rows: Vec<HostRow>,
    /// Rows that matched in all (more than `rows.len()` when the limit cut).
    pub matched: u64,
    /// Events left out as malformed.
    pub malformed: u64,
}

/// `value (count)` lists for `--summary` reports: most first, then by value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    /// `(value, count)`.
    pub rows: Vec<(String, u64)>,
    /// Events left out as malformed.
    pub malformed: u64,
}

/// Which detailed report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostReport {
    /// `aureport -l`: `auid host term exe success event`.
    Logins,
    /// `aureport -x`: `exe term host auid event`.
    Executables,
    /// `aureport -f`: `file syscall success exe auid event`.
    Files,
    /// `aureport -k`: `key success exe auid event`.
    Keys,
}

impl HostReport {
    fn wanted(self) -> Wanted {
        match self {
            HostReport::Logins => Wanted::LOGINS,
            HostReport::Executables => Wanted::EXECUTABLES,
            HostReport::Files => Wanted::FILES,
            HostReport::Keys => Wanted::KEYS,
        }
    }

    /// Column names after date and time, as aureport's header names them.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            HostReport::Logins => &["auid", "host", "term", "exe", "success", "event"],
            HostReport::Executables => &["exe", "term", "host", "auid", "event"],
            HostReport::Files => &["file", "syscall", "success", "exe", "auid", "event"],
            HostReport::Keys => &["key", "success", "exe", "auid", "event"],
        }
    }

    /// The row of an event, `None` when the report leaves it out.
    fn row(self, items: &Items) -> Option<Vec<String>> {
        let or_null = |value: &Option<String>| value.clone().unwrap_or_else(|| "(null)".into());
        let or_unknown = |value: &Option<String>| value.clone().unwrap_or_else(|| "?".into());
        let serial = items.serial.to_string();
        match self {
            HostReport::Logins => {
                if !items.has(types::USER_LOGIN) {
                    return None;
                }
                let who = match (&items.acct, items.success) {
                    (Some(acct), Success::Failed) => acct.clone(),
                    _ => items.auid_text(),
                };
                Some(vec![
                    who,
                    or_null(&items.host),
                    or_null(&items.terminal),
                    or_null(&items.exe),
                    items.success.as_str().to_owned(),
                    serial,
                ])
            }
            HostReport::Executables => {
                let exe = items.exe.clone()?;
                Some(vec![
                    exe,
                    or_unknown(&items.terminal),
                    or_unknown(&items.host),
                    items.auid_text(),
                    serial,
                ])
            }
            HostReport::Files => {
                if items.files.is_empty() {
                    return None;
                }
                Some(vec![
                    items.report_file().unwrap_or_default().to_owned(),
                    items.syscall.to_string(),
                    items.success.as_str().to_owned(),
                    or_unknown(&items.exe),
                    items.auid_text(),
                    serial,
                ])
            }
            HostReport::Keys => {
                let key = items.keys.first()?;
                if key == "(null)" {
                    return None;
                }
                Some(vec![
                    key.clone(),
                    items.success.as_str().to_owned(),
                    or_unknown(&items.exe),
                    items.auid_text(),
                    serial,
                ])
            }
        }
    }

    /// The values a `--summary` of the report counts in an event.
    fn totals(self, items: &Items) -> Vec<String> {
        match self {
            HostReport::Logins => {
                if !items.has(types::USER_LOGIN) {
                    return Vec::new();
                }
                let signed = items.login_uid.map(|uid| uid as i32);
                match (&items.acct, signed) {
                    (Some(acct), Some(uid)) if uid < 0 => vec![acct.clone()],
                    _ => vec![items.auid_text()],
                }
            }
            HostReport::Executables => items.exe.iter().cloned().collect(),
            HostReport::Files => items.files.iter().map(|file| file.name.clone()).collect(),
            HostReport::Keys => items
                .keys
                .iter()
                .filter(|key| *key != "(null)")
                .cloned()
                .collect(),
        }
    }
}

/// One row collected by a scan worker, with what it is sorted by.
type CollectedRow = (i64, u32, u64, Option<String>, Vec<String>);

/// Rows kept per scan worker before sorting (`RESULT_ROWS_MAX` bounds the answer).
struct RowCollect {
    report: Option<HostReport>,
    rows: Vec<CollectedRow>,
    matched: u64,
    limit: usize,
}

impl Default for RowCollect {
    fn default() -> RowCollect {
        RowCollect {
            report: None,
            rows: Vec::new(),
            matched: 0,
            limit: RESULT_ROWS_MAX,
        }
    }
}

impl RowCollect {
    fn push(&mut self, items: Items) {
        let Some(report) = self.report else {
            return;
        };
        if let Some(cells) = report.row(&items) {
            self.matched += 1;
            self.rows
                .push((items.seconds, items.millis, items.serial, items.node, cells));
            // Keep the oldest `limit`: sort and cut whenever twice as many piled up.
            if self.rows.len() >= self.limit.saturating_mul(2).max(1024) {
                self.rows.sort();
                self.rows.truncate(self.limit);
            }
        }
    }
}

struct RowsWith(RowCollect);

struct TotalsCollect {
    report: Option<HostReport>,
    counts: HashMap<String, u64>,
}

impl Collect for RowsWith {
    fn collect(&mut self, items: Items) {
        self.0.push(items);
    }
    fn merge(&mut self, other: Self) {
        self.0.matched += other.0.matched;
        self.0.rows.extend(other.0.rows);
    }
}

impl Collect for TotalsCollect {
    fn collect(&mut self, items: Items) {
        let Some(report) = self.report else {
            return;
        };
        for value in report.totals(&items) {
            if self.counts.len() < DISTINCT_MAX || self.counts.contains_key(&value) {
                *self.counts.entry(value).or_default() += 1;
            }
        }
    }
    fn merge(&mut self, other: Self) {
        for (value, count) in other.counts {
            *self.counts.entry(value).or_default() += count;
        }
    }
}

fn run_rows(
    dataset: &Dataset,
    filter: &Filter,
    report: HostReport,
    selection: Selection,
    limit: usize,
) -> Result<HostRows> {
    let limit = limit.min(RESULT_ROWS_MAX);
    let (collected, malformed) = scan(dataset, filter, report.wanted(), selection, || {
        RowsWith(RowCollect {
            report: Some(report),
            limit,
            ..RowCollect::default()
        })
    })?;
    let mut collected = collected.0;
    collected.rows.sort();
    collected.rows.truncate(limit);
    Ok(HostRows {
        rows: collected
            .rows
            .into_iter()
            .map(|(seconds, millis, serial, node, cells)| HostRow {
                time: Items {
                    seconds,
                    millis,
                    ..Items::default()
                }
                .time(),
                node,
                serial,
                cells,
            })
            .collect(),
        matched: collected.matched,
        malformed,
    })
}

fn run_totals(
    dataset: &Dataset,
    filter: &Filter,
    report: HostReport,
    selection: Selection,
) -> Result<Totals> {
    let (collected, malformed) = scan(dataset, filter, report.wanted(), selection, || {
        TotalsCollect {
            report: Some(report),
            counts: HashMap::new(),
        }
    })?;
    let mut rows: Vec<(String, u64)> = collected.counts.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    rows.truncate(TOP_ROWS_MAX);
    Ok(Totals { rows, malformed })
}

/// A detailed host report (`aureport -l`, `-x`, `-f`, `-k`): one row per event, oldest
/// first, at most `limit`.
pub fn rows(
    dataset: &Dataset,
    filter: &Filter,
    report: HostReport,
    selection: Selection,
    limit: usize,
) -> Result<HostRows> {
    run_rows(dataset, filter, report, selection, limit)
}

/// The `--summary` form of a host report (`aureport -x --summary`, …): each value with the
/// number of events (files and keys: of mentions) behind it, most first.
pub fn totals(
    dataset: &Dataset,
    filter: &Filter,
    report: HostReport,
    selection: Selection,
) -> Result<Totals> {
    run_totals(dataset, filter, report, selection)
}

/// `aureport -l`.
pub fn logins(
    dataset: &Dataset,
    filter: &Filter,
    selection: Selection,
    limit: usize,
) -> Result<HostRows> {
    rows(dataset, filter, HostReport::Logins, selection, limit)
}

/// `aureport -x`.
pub fn executables(
    dataset: &Dataset,
    filter: &Filter,
    selection: Selection,
    limit: usize,
) -> Result<HostRows> {
    rows(dataset, filter, HostReport::Executables, selection, limit)
}

/// `aureport -f`.
pub fn files(
    dataset: &Dataset,
    filter: &Filter,
    selection: Selection,
    limit: usize,
) -> Result<HostRows> {
    rows(dataset, filter, HostReport::Files, selection, limit)
}

/// `aureport -k`.
pub fn keys(
    dataset: &Dataset,
    filter: &Filter,
    selection: Selection,
    limit: usize,
) -> Result<HostRows> {
    rows(dataset, filter, HostReport::Keys, selection, limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(records: &str, types: &str, wanted: Wanted) -> std::result::Result<Items, Malformed> {
        Items::extract(
            "1700000000.123:42",
            &format!("{{\"records\":[{records}]}}"),
            types,
            wanted,
        )
    }

    #[test]
    fn syscall_event_items() {
        let items = items(
            r#"{"type":"SYSCALL","arch":"c000003e","syscall":"257","success":"no","exit":"-13","a0":"1","a1":"2","pid":"7","auid":"1000","AUID":"alice","tty":"pts0","comm":"cat","exe":"/usr/bin/cat","key":"files\u0001secret"},
               {"type":"CWD","cwd":"/home/alice"},
               {"type":"PATH","item":"0","name":"./notes.txt","nametype":"NORMAL","cap_fp":"0"}"#,
            "1300,1307,1302",
            Wanted::SUMMARY,
        )
        .unwrap();
        assert_eq!(items.serial, 42);
        assert_eq!(items.syscall, 257);
        assert_eq!(items.success, Success::Failed);
        assert_eq!(items.pid, Some(7));
        assert_eq!(items.auid_text(), "1000");
        assert_eq!(items.terminal.as_deref(), Some("pts0"));
        assert_eq!(items.keys, vec!["files", "secret"]);
        assert_eq!(items.report_file(), Some("/home/alice/./notes.txt"));
    }

    #[test]
    fn a_syscall_without_exe_is_malformed_only_where_exe_is_read() {
        let record = r#"{"type":"SYSCALL","syscall":"2","a0":"1","a1":"2","pid":"7","auid":"4294967295","comm":"x"}"#;
        assert!(items(record, "1300", Wanted::SUMMARY).is_err());
        let wanted = Wanted {
            executables: false,
            ..Wanted::SUMMARY
        };
        let items = items(record, "1300", wanted).unwrap();
        assert_eq!(items.auid_text(), "-1");
    }

    #[test]
    fn apparmor_avc_without_tclass_is_malformed() {
        let record = r#"{"type":"AVC","apparmor":"DENIED","operation":"open","pid":"9","comm":"x","name":"/etc/shadow"}"#;
        let error = items(record, "1400", Wanted::KEYS).unwrap_err();
        assert_eq!(error.field, "tclass");
    }

    #[test]
    fn user_login_host_falls_back_to_addr() {
        let record = r#"{"type":"USER_LOGIN","pid":"5","uid":"0","auid":"4294967295","ses":"4294967295","op":"login","acct":"bob","exe":"/usr/sbin/sshd","hostname":"?","addr":"203.0.113.9","terminal":"ssh","res":"failed"}"#;
        let items = items(record, "1112", Wanted::LOGINS).unwrap();
        assert_eq!(items.host.as_deref(), Some("203.0.113.9"));
        let row = HostReport::Logins.row(&items).unwrap();
        assert_eq!(
            row,
            ["bob", "203.0.113.9", "ssh", "/usr/sbin/sshd", "no", "42"]
        );
        assert_eq!(HostReport::Logins.totals(&items), ["bob"]);
    }

    #[test]
    fn parent_path_is_skipped_only_when_nametype_ends_the_record() {
        let modern = r#"{"type":"SYSCALL","syscall":"263","success":"yes","a0":"1","a1":"2","pid":"7","auid":"0","comm":"rm","exe":"/usr/bin/rm"},
            {"type":"PATH","name":"/tmp","nametype":"PARENT","cap_fp":"0"},
            {"type":"PATH","name":"/tmp/x","nametype":"DELETE","cap_fp":"0"}"#;
        let items = items(modern, "1300,1302,1302", Wanted::FILES).unwrap();
        assert_eq!(items.report_file(), Some("/tmp"));
        let old = r#"{"type":"SYSCALL","syscall":"263","success":"yes","a0":"1","a1":"2","pid":"7","auid":"0","comm":"rm","exe":"/usr/bin/rm"},
            {"type":"PATH","name":"/tmp","nametype":"PARENT"},
            {"type":"PATH","name":"/tmp/x","nametype":"DELETE"}"#;
        let items = self::items(old, "1300,1302,1302", Wanted::FILES).unwrap();
        assert_eq!(items.report_file(), Some("/tmp/x"));
    }

    #[test]
    fn sockaddr_hosts_and_unix_paths() {
        let syscall = r#"{"type":"SYSCALL","syscall":"42","success":"yes","a0":"1","a1":"2","pid":"7","auid":"0","comm":"c","exe":"/c"}"#;
        let inet = format!(
            r#"{syscall},{{"type":"SOCKADDR","saddr":"020001BBC00002640000000000000000"}}"#
        );
        let got = items(&inet, "1300,1306", Wanted::SUMMARY).unwrap();
        assert_eq!(got.host.as_deref(), Some("192.0.2.100"));
        let unix = format!(r#"{syscall},{{"type":"SOCKADDR","saddr":"01002F72756E2F7800"}}"#);
        let got = items(&unix, "1300,1306", Wanted::SUMMARY).unwrap();
        assert_eq!(got.host, None);
        assert_eq!(got.report_file(), Some("/run/x"));
        let short = format!(r#"{syscall},{{"type":"SOCKADDR","saddr":"0200"}}"#);
        assert!(items(&short, "1300,1306", Wanted::SUMMARY).is_err());
        // -k reads neither hosts nor files: the short address is not even looked at.
        assert!(items(&short, "1300,1306", Wanted::KEYS).is_ok());
    }

    #[test]
    fn ids_with_nodes() {
        assert_eq!(
            parse_id("web01:1700000000.005:77"),
            Some((Some("web01".to_owned()), 1_700_000_000, 5, 77))
        );
        assert_eq!(
            parse_id("1700000000.005:77"),
            Some((None, 1_700_000_000, 5, 77))
        );
        assert_eq!(
            parse_id("1700000000.005:77#2"),
            Some((None, 1_700_000_000, 5, 77))
        );
        assert_eq!(parse_id("nonsense"), None);
    }
}
