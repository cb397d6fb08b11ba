//! Linux audit logs (`/var/log/audit/audit.log`), raw and ENRICHED, into normalized events.
//!
//! # API
//!
//! - [`Grouper`]: stateful, one per input. [`Grouper::push_line`] takes each line (without its
//!   newline) with its 1-based number and byte offset, and appends the events it completes and
//!   any [`Diagnostic`](crate::Diagnostic)s; [`Grouper::finish`] flushes what is still open at
//!   the end of input. [`Grouper::with_user_db`] names ids from the log host's passwd/group,
//!   [`Grouper::with_eoe_timeout`] changes the 2-second end-of-event timeout.
//! - [`UserDb::from_passwd_group`] builds that database from file *contents*; the machine that
//!   reads the log is never asked (its ids mean other people).
//! - [`detect`] tells whether a line is an audit record (`[node=N ]type=T msg=audit(S.M:N):`).
//!
//! Bytes in, events plus diagnostics out: no I/O, no clock, never a panic, and a named limit
//! (`AUDITD_*` in [`crate::limits`]) on pending events, records per event, fields per record,
//! field and record length.
//!
//! # Grouping
//!
//! As auparse and ausearch do (see [`group`](self) internals): records sharing node, time and
//! serial form one event, several events may be open at once, an event ends with a record type
//! that ends events (EOE, PROCTITLE, userspace and daemon messages, …), with the 2-second
//! timeout in *log* time, or at the end of input. Events come out in the order their first
//! record arrived.
//!
//! # Interpretation
//!
//! Like `ausearch -i`: hex-encoded strings decoded (by field type, as auparse decides),
//! syscall names per architecture (tables generated from `ausyscall --dump` and the kernel
//! headers by `generate_tables.py`), `exit` as errno names, file modes, permissions,
//! capabilities, signals, `unset` ids and sessions, socket addresses, and user and group names
//! from ENRICHED interpretations or the [`UserDb`] (`unknown(N)` otherwise). SYSCALL `a0..a3`
//! stay as written (ausearch decodes some per syscall; we do not).
//!
//! # Mapping to [`event::AuditEvent`]
//!
//! - `origin.source` = `auditd`; `origin.line`/`offset` = the event's first record.
//! - `id` = `SECONDS.MILLIS:SERIAL`, prefixed by `NODE:` when the records have a node, and
//!   followed by `#2`, `#3`, … for a later event with the same identity in the same input (a
//!   record that came after its event was complete, which ausearch also reports as an event
//!   of its own), so that the trail keeps both;
//!   `time` from the record header; `node` = the `node=` prefix.
//! - `user.uid` = `uid`; `user.name` = its name (ENRICHED, else the user database, `0` is
//!   always `root`), else the number; `user.login` = the `auid` the same way, absent when
//!   unset; `user.groups` = the name of `gid` when known; when `euid` differs from `uid`,
//!   `user.extra` has `euid` (and `euser` when named).
//! - `verb` = the syscall name (`openat`; `syscall-N` on an unknown architecture), else the
//!   record type of a non-syscall event (`USER_LOGIN`, `USER_CMD`, `AVC`, …).
//! - `paths` = the `name` of each PATH record in order (`auditd.nametype` lists their
//!   nametypes, comma-separated, in the same order).
//! - `source_ips` = `addr=` (or an address in `hostname=`) of userspace records, and the peer
//!   in `saddr` for accept/recv syscalls only: for connect, bind or sendto, `saddr` is where the
//!   process went, so it stays in `auditd.sockaddr`. `source_port` with that peer.
//! - `outcome` = `success=yes/no`, else `res=` (`success`/`failed`, `1`/`0`); on failure
//!   `status.reason` = the errno name of a negative `exit` and `status.message` its text;
//!   `status.code` is never set.
//! - `annotations`: `auditd.type` (the SYSCALL, else first, record type), `auditd.types`
//!   (the type numbers of the records in `request_object`, in order), `auditd.syscall`,
//!   `auditd.arch`, `auditd.key` (comma-separated when several), `auditd.auid` (the number),
//!   `auditd.pid`, `auditd.ppid`, `auditd.ses`, `auditd.tty`, `auditd.terminal`,
//!   `auditd.hostname`, `auditd.exe`, `auditd.comm`, `auditd.cwd`, `auditd.cmd` (USER_CMD),
//!   `auditd.acct`, `auditd.op`, `auditd.exit` (the number), `auditd.argv` (EXECVE arguments
//!   reassembled, including `aN[i]` chunks, as a JSON array), `auditd.proctitle` (NULs as
//!   spaces, as ausearch shows it), `auditd.nametype`, `auditd.sockaddr` (auparse's
//!   rendering, `{ saddr_fam=inet laddr=… lport=… }`). Values are decoded.
//! - `request_object` keeps the whole event, queryable and lossless, its records in the
//!   order they were written:
//!   `{"records":[{"type":"SYSCALL","arch":"c000003e","ARCH":"x86_64","syscall":"257",
//!   "SYSCALL":"openat",…},…],"argv":[…]}`. Each record lists its fields in order with string
//!   values: encoded strings decoded in place (a decoding that is not UTF-8 keeps the hex as
//!   written); a value `ausearch -i` shows differently is kept as written and followed by its
//!   interpretation under the upper-case name, the convention of auditd's ENRICHED format,
//!   whose own interpretations are kept as they came (and take precedence over ours). EOE
//!   records are left out.
//!
//! # Known differences from ausearch
//!
//! - `LOGIN` (1006) waits for its SYSCALL/PROCTITLE/EOE, as upstream auparse does since
//!   `common.c: audit_is_last_record`; ausearch 3.0.9 (Debian 12) still ends an event at
//!   `LOGIN`, so on a pam_loginuid login it counts one event more.
//! - SYSCALL `a0..a3` are not decoded per syscall (`O_RDONLY`, `AT_FDCWD`, socket families).
//! - Relative PATH names are not joined with CWD (ausearch does so only in `--format text`).
//! - An AppArmor `type=AVC` record without `avc:` is kept (ausearch drops it as malformed).

mod build;
mod group;
mod interpret;
mod record;
mod tables;
mod userdb;

#[cfg(test)]
mod tests;

pub use group::{EOE_TIMEOUT_SECONDS_DEFAULT, Grouper};
pub use userdb::{UserDb, UserDbError};

/// True when `line` looks like a Linux audit record: an optional `node=NAME `, then
/// `type=NAME msg=audit(SECONDS.MILLIS:SERIAL)`.
pub fn detect(line: &[u8]) -> bool {
    record::detect(line)
}
