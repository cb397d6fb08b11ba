//! A realistic, deterministic Linux audit log (`/var/log/audit/audit.log`), raw or ENRICHED,
//! for the differential tests against `ausearch`/`aureport` and for benchmarks.
//!
//! [`AuditLog::new`]`(seed, config)` writes events with [`AuditLog::write_event`] (or a
//! number of records with [`AuditLog::write_records`]) in the shapes a Linux 6.x kernel,
//! PAM, sshd, sudo, systemd, shadow-utils and auditd 3.x write them:
//!
//! - `execve` (SYSCALL, EXECVE, CWD, two PATH, PROCTITLE, EOE), with a hex-encoded argument
//!   or working directory now and then, key `exec`;
//! - `openat` that succeeds or fails (`EACCES`, `ENOENT`), absolute or relative (`./…`, joined
//!   with CWD by ausearch), key `files` or none;
//! - `unlinkat` with a PARENT and a DELETE path, key `delete`;
//! - `connect` with an IPv4, IPv6 or AF_UNIX SOCKADDR, key `net` or none;
//! - an sshd login (USER_AUTH, USER_ACCT, CRED_ACQ, LOGIN with its SYSCALL, PROCTITLE and
//!   EOE, USER_START, USER_LOGIN), a failed one (`acct="bob"`, auid unset), a logout
//!   (USER_END, USER_LOGOUT, CRED_DISP);
//! - sudo (USER_ACCT, USER_CMD with a hex `cmd`, CRED_REFR), systemd SERVICE_START and
//!   SERVICE_STOP, useradd (ADD_USER), an auditctl rule change (CONFIG_CHANGE with its
//!   SYSCALL), a crash (ANOM_ABEND), and a SELinux AVC denial with its SYSCALL;
//! - every so often two syscall events whose records interleave.
//!
//! Events are a few milliseconds apart and serials increase, as one kernel writes them. With
//! [`AuditLogConfig::nodes`] every record carries `node=NAME` and the nodes take turns; with
//! [`AuditLogConfig::enriched`] every record ends with auditd's ENRICHED interpretations
//! (0x1D, then `UID="alice" ARCH=x86_64 SYSCALL=openat …`), resolved with [`PASSWD`] and
//! [`GROUP`], the log host's account files.

use std::fmt::Write as _;

use rand::{RngExt, SeedableRng};

/// The log host's `/etc/passwd` (the ids the generated records use).
pub const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
alice:x:1000:1000:Alice:/home/alice:/bin/bash
bob:x:1001:1001:Bob:/home/bob:/bin/bash
carol:x:1002:1002:Carol:/home/carol:/bin/bash
deploy:x:1003:1003:Deploy:/home/deploy:/bin/sh
";

/// The log host's `/etc/group`.
pub const GROUP: &str = "root:x:0:
shadow:x:42:
www-data:x:33:
alice:x:1000:
bob:x:1001:
carol:x:1002:
deploy:x:1003:
";

/// What to generate.
#[derive(Debug, Clone)]
pub struct AuditLogConfig {
    /// Unix time of the first event, in seconds.
    pub start_seconds: u64,
    /// `node=` names; empty: no node prefix.
    pub nodes: Vec<String>,
    /// ENRICHED format (interpretations after 0x1D) instead of raw.
    pub enriched: bool,
}

impl Default for AuditLogConfig {
    fn default() -> AuditLogConfig {
        AuditLogConfig {
            start_seconds: 1_700_000_000,
            nodes: Vec::new(),
            enriched: false,
        }
    }
}

/// Logged-in people: (uid, name, terminal).
const PEOPLE: [(u32, &str, &str); 4] = [
    (1000, "alice", "pts0"),
    (1001, "bob", "pts1"),
    (1002, "carol", "pts2"),
    (1003, "deploy", "(none)"),
];

/// Programs people run: (comm, exe, arguments).
const PROGRAMS: [(&str, &str, &[&str]); 6] = [
    ("ls", "/usr/bin/ls", &["ls", "-la"]),
    ("cat", "/usr/bin/cat", &["cat", "/etc/hosts"]),
    ("git", "/usr/bin/git", &["git", "pull", "--rebase"]),
    (
        "python3",
        "/usr/bin/python3.11",
        &["python3", "manage.py", "migrate"],
    ),
    (
        "curl",
        "/usr/bin/curl",
        &["curl", "-s", "https://192.0.2.10/health"],
    ),
    ("vim", "/usr/bin/vim.basic", &["vim", "notes.txt"]),
];

/// Files people open: (path, readable by everyone).
const FILES: [(&str, bool); 6] = [
    ("/etc/shadow", false),
    ("/etc/passwd", true),
    ("/etc/ssh/sshd_config", false),
    ("/var/log/syslog", true),
    ("./notes.txt", true),
    ("/home/alice/.bash_history", false),
];

type Rng = rand_chacha::ChaCha8Rng;

/// The generator. See the module documentation.
#[derive(Debug)]
pub struct AuditLog {
    rng: Rng,
    config: AuditLogConfig,
    serial: u64,
    millis: u64,
    /// Index of the node of the next event.
    node: usize,
    session: u32,
    pid: u32,
    records: usize,
    started: bool,
}

/// One record's header and body, before the line is written.
struct Record<'a> {
    kind: &'a str,
    body: String,
    /// ENRICHED interpretations (without the 0x1D).
    interpretations: String,
}

impl AuditLog {
    /// A generator with its random stream seeded by `seed`.
    pub fn new(seed: u64, config: AuditLogConfig) -> AuditLog {
        AuditLog {
            rng: Rng::seed_from_u64(seed),
            millis: config.start_seconds.saturating_mul(1000),
            config,
            serial: 100,
            node: 0,
            session: 1,
            pid: 2000,
            records: 0,
            started: false,
        }
    }

    /// Records written so far.
    pub fn records(&self) -> usize {
        self.records
    }

    /// Appends whole events to `out` until at least `records` records were written in all.
    pub fn write_records(&mut self, records: usize, out: &mut String) {
        while self.records < records {
            self.write_event(out);
        }
    }

    /// Appends one event (sometimes two interleaved ones, or a login flow of several) to
    /// `out`, one record per line.
    pub fn write_event(&mut self, out: &mut String) {
        if !self.started {
            self.started = true;
            let stamp = self.next_stamp();
            let records = vec![self.record(
                "DAEMON_START",
                "op=start ver=3.0.9 format=raw kernel=6.1.0-13-amd64 auid=4294967295 pid=611 uid=0 ses=4294967295 subj=unconfined res=success".to_owned(),
                "AUID=\"unset\" UID=\"root\"",
            )];
            self.emit(out, &stamp, &records);
            return;
        }
        match self.rng.random_range(0..100u32) {
            0..=24 => {
                let (stamp, records) = self.execve();
                self.emit(out, &stamp, &records);
            }
            25..=44 => {
                let (stamp, records) = self.open();
                self.emit(out, &stamp, &records);
            }
            45..=49 => {
                let (stamp, records) = self.unlink();
                self.emit(out, &stamp, &records);
            }
            50..=59 => {
                let (stamp, records) = self.connect();
                self.emit(out, &stamp, &records);
            }
            60..=64 => {
                // Two syscall events written at once: their records interleave.
                let (first_stamp, first) = self.open();
                let (second_stamp, second) = self.execve();
                let mut first = first.into_iter();
                let mut second = second.into_iter();
                loop {
                    let a = first.next();
                    let b = second.next();
                    if a.is_none() && b.is_none() {
                        break;
                    }
                    if let Some(record) = a {
                        self.emit(out, &first_stamp, std::slice::from_ref(&record));
                    }
                    if let Some(record) = b {
                        self.emit(out, &second_stamp, std::slice::from_ref(&record));
                    }
                }
            }
            65..=71 => self.login(out),
            72..=75 => self.failed_login(out),
            76..=81 => self.sudo(out),
            82..=87 => self.service(out),
            88..=89 => {
                let (stamp, records) = self.add_user();
                self.emit(out, &stamp, &records);
            }
            90..=92 => {
                let (stamp, records) = self.config_change();
                self.emit(out, &stamp, &records);
            }
            93..=94 => {
                let (stamp, records) = self.abend();
                self.emit(out, &stamp, &records);
            }
            95..=97 => {
                let (stamp, records) = self.avc();
                self.emit(out, &stamp, &records);
            }
            _ => self.logout(out),
        }
    }

    /// The next event's `msg=audit(…)` stamp (and, with nodes, its node prefix).
    fn next_stamp(&mut self) -> String {
        self.millis += self.rng.random_range(1..=40u64);
        self.serial += 1;
        let seconds = self.millis / 1000;
        let millis = self.millis % 1000;
        let node = if self.config.nodes.is_empty() {
            String::new()
        } else {
            self.node = (self.node + 1) % self.config.nodes.len();
            format!("node={} ", self.config.nodes[self.node])
        };
        format!("{node}\u{0}{seconds}.{millis:03}:{}", self.serial)
    }

    fn emit(&mut self, out: &mut String, stamp: &str, records: &[Record<'_>]) {
        let (node, id) = stamp.split_once('\u{0}').unwrap_or(("", stamp));
        for record in records {
            let _ = write!(
                out,
                "{node}type={} msg=audit({id}): {}",
                record.kind, record.body
            );
            if self.config.enriched && !record.interpretations.is_empty() {
                out.push('\u{1d}');
                out.push_str(&record.interpretations);
            }
            out.push('\n');
            self.records += 1;
        }
    }

    fn record<'a>(&self, kind: &'a str, body: String, interpretations: &str) -> Record<'a> {
        Record {
            kind,
            body,
            interpretations: interpretations.to_owned(),
        }
    }

    fn person(&mut self) -> (u32, &'static str, &'static str) {
        PEOPLE[self.rng.random_range(0..PEOPLE.len())]
    }

    fn next_pid(&mut self) -> u32 {
        self.pid += self.rng.random_range(1..=9u32);
        if self.pid > 4_000_000 {
            self.pid = 2000;
        }
        self.pid
    }

    /// A SYSCALL record.
    #[allow(clippy::too_many_arguments)]
    fn syscall<'a>(
        &mut self,
        number: u32,
        name: &str,
        exit: i64,
        items: u32,
        who: (u32, &str, &str),
        program: (&str, &str),
        key: Option<&str>,
    ) -> Record<'a> {
        let (uid, user, tty) = who;
        let pid = self.next_pid();
        let success = if exit < 0 { "no" } else { "yes" };
        let key = key.map_or_else(|| "(null)".to_owned(), |key| format!("\"{key}\""));
        let ses = if tty == "(none)" {
            4294967295
        } else {
            3 + uid % 7
        };
        Record {
            kind: "SYSCALL",
            body: format!(
                "arch=c000003e syscall={number} success={success} exit={exit} a0=ffffff9c a1=7ffd2a1b3c40 a2=80000 a3=0 items={items} ppid={} pid={pid} auid={uid} uid={uid} gid={uid} euid={uid} suid={uid} fsuid={uid} egid={uid} sgid={uid} fsgid={uid} tty={tty} ses={ses} comm=\"{}\" exe=\"{}\" subj=unconfined key={key}",
                pid - 1,
                program.0,
                program.1
            ),
            interpretations: format!(
                "ARCH=x86_64 SYSCALL={name} AUID=\"{user}\" UID=\"{user}\" GID=\"{user}\" EUID=\"{user}\" SUID=\"{user}\" FSUID=\"{user}\" EGID=\"{user}\" SGID=\"{user}\" FSGID=\"{user}\""
            ),
        }
    }

    fn path<'a>(
        &self,
        item: u32,
        name: &str,
        mode: &str,
        owner: u32,
        nametype: &str,
    ) -> Record<'a> {
        let user = name_of(owner);
        Record {
            kind: "PATH",
            body: format!(
                "item={item} name={} inode={} dev=fd:00 mode={mode} ouid={owner} ogid={owner} rdev=00:00 nametype={nametype} cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0",
                encode(name),
                1000 + name.len() * 37 + item as usize
            ),
            interpretations: format!("OUID=\"{user}\" OGID=\"{user}\""),
        }
    }

    fn proctitle<'a>(&self, argv: &[&str]) -> Record<'a> {
        Record {
            kind: "PROCTITLE",
            body: format!("proctitle={}", hex(argv.join("\0").as_bytes())),
            interpretations: String::new(),
        }
    }

    fn eoe<'a>(&self) -> Record<'a> {
        Record {
            kind: "EOE",
            body: String::new(),
            interpretations: String::new(),
        }
    }

    fn cwd<'a>(&self, cwd: &str) -> Record<'a> {
        Record {
            kind: "CWD",
            body: format!("cwd={}", encode(cwd)),
            interpretations: String::new(),
        }
    }

    fn execve(&mut self) -> (String, Vec<Record<'static>>) {
        let stamp = self.next_stamp();
        let who = self.person();
        let (comm, exe, args) = PROGRAMS[self.rng.random_range(0..PROGRAMS.len())];
        let mut argv: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
        if self.rng.random_range(0..5u32) == 0 {
            argv.push("my file.txt".to_owned());
        }
        let cwd = if self.rng.random_range(0..6u32) == 0 {
            format!("/home/{}/My Documents", who.1)
        } else {
            format!("/home/{}", who.1)
        };
        let mut execve = format!("argc={}", argv.len());
        for (index, arg) in argv.iter().enumerate() {
            let _ = write!(execve, " a{index}={}", encode(arg));
        }
        let argv_refs: Vec<&str> = argv.iter().map(String::as_str).collect();
        let records = vec![
            self.syscall(59, "execve", 0, 2, who, (comm, exe), Some("exec")),
            Record {
                kind: "EXECVE",
                body: execve,
                interpretations: String::new(),
            },
            self.cwd(&cwd),
            self.path(0, exe, "0100755", 0, "NORMAL"),
            self.path(1, "/lib64/ld-linux-x86-64.so.2", "0100755", 0, "NORMAL"),
            self.proctitle(&argv_refs),
            self.eoe(),
        ];
        (stamp, records)
    }

    fn open(&mut self) -> (String, Vec<Record<'static>>) {
        let stamp = self.next_stamp();
        let who = self.person();
        let (file, readable) = FILES[self.rng.random_range(0..FILES.len())];
        let missing = self.rng.random_range(0..8u32) == 0;
        let exit = if missing {
            -2
        } else if readable || who.0 == 0 {
            3
        } else {
            -13
        };
        let key = match self.rng.random_range(0..3u32) {
            0 => None,
            _ => Some("files"),
        };
        let (comm, exe) = if self.rng.random_range(0..2u32) == 0 {
            ("cat", "/usr/bin/cat")
        } else {
            ("less", "/usr/bin/less")
        };
        let mut records = vec![
            self.syscall(257, "openat", exit, 1, who, (comm, exe), key),
            self.cwd(&format!("/home/{}", who.1)),
        ];
        if exit == -2 {
            records.push(Record {
                kind: "PATH",
                body: format!(
                    "item=0 name={} nametype=UNKNOWN cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0",
                    encode(file)
                ),
                interpretations: String::new(),
            });
        } else {
            records.push(self.path(0, file, "0100640", 0, "NORMAL"));
        }
        records.push(self.proctitle(&[comm, file]));
        records.push(self.eoe());
        (stamp, records)
    }

    fn unlink(&mut self) -> (String, Vec<Record<'static>>) {
        let stamp = self.next_stamp();
        let who = self.person();
        let directory = format!("/home/{}/tmp", who.1);
        let file = format!("{directory}/build-{}.log", self.rng.random_range(0..50u32));
        let records = vec![
            self.syscall(
                263,
                "unlinkat",
                0,
                2,
                who,
                ("rm", "/usr/bin/rm"),
                Some("delete"),
            ),
            self.cwd(&format!("/home/{}", who.1)),
            self.path(0, &directory, "040755", who.0, "PARENT"),
            self.path(1, &file, "0100644", who.0, "DELETE"),
            self.proctitle(&["rm", "-f", &file]),
            self.eoe(),
        ];
        (stamp, records)
    }

    fn connect(&mut self) -> (String, Vec<Record<'static>>) {
        let stamp = self.next_stamp();
        let who = self.person();
        let (saddr, interpretation, exit) = match self.rng.random_range(0..4u32) {
            0 | 1 => {
                let host = self.rng.random_range(1..=254u32);
                (
                    format!("020001BBC00002{host:02X}0000000000000000"),
                    format!("SADDR={{ saddr_fam=inet laddr=192.0.2.{host} lport=443 }}"),
                    0,
                )
            }
            // sockaddr_in6: family, port, flow info, address, scope id (28 bytes).
            2 => (
                "0A0001BB0000000020010DB800000000000000000000000100000000".to_owned(),
                "SADDR={ saddr_fam=inet6 laddr=2001:db8::1 lport=443 }".to_owned(),
                -101,
            ),
            _ => (
                format!("0100{}00", hex(b"/run/systemd/journal/socket")),
                "SADDR={ saddr_fam=local path=/run/systemd/journal/socket }".to_owned(),
                0,
            ),
        };
        let key = if self.rng.random_range(0..2u32) == 0 {
            Some("net")
        } else {
            None
        };
        let records = vec![
            self.syscall(42, "connect", exit, 0, who, ("curl", "/usr/bin/curl"), key),
            Record {
                kind: "SOCKADDR",
                body: format!("saddr={saddr}"),
                interpretations: interpretation,
            },
            self.proctitle(&["curl", "-s", "https://192.0.2.10/health"]),
            self.eoe(),
        ];
        (stamp, records)
    }

    /// A userspace message (`pid= uid= auid= ses= subj= msg='…'`).
    fn user_message<'a>(
        &self,
        kind: &'a str,
        pid: u32,
        uid: u32,
        auid: Option<u32>,
        ses: Option<u32>,
        message: &str,
    ) -> Record<'a> {
        let auid_text = auid.map_or_else(|| "4294967295".to_owned(), |auid| auid.to_string());
        let auid_name = auid.map_or("unset", name_of);
        let ses = ses.map_or_else(|| "4294967295".to_owned(), |ses| ses.to_string());
        Record {
            kind,
            body: format!(
                "pid={pid} uid={uid} auid={auid_text} ses={ses} subj=unconfined msg='{message}'"
            ),
            interpretations: format!("UID=\"{}\" AUID=\"{auid_name}\"", name_of(uid)),
        }
    }

    fn login(&mut self, out: &mut String) {
        let (uid, user, _) = self.person();
        let pid = self.next_pid();
        let address = format!("198.51.100.{}", self.rng.random_range(1..=254u32));
        let pam = |op: &str| {
            format!(
                "op={op} grantors=pam_unix acct=\"{user}\" exe=\"/usr/sbin/sshd\" hostname={address} addr={address} terminal=ssh res=success"
            )
        };
        for (kind, op) in [
            ("USER_AUTH", "PAM:authentication"),
            ("USER_ACCT", "PAM:accounting"),
            ("CRED_ACQ", "PAM:setcred"),
        ] {
            let stamp = self.next_stamp();
            let record = self.user_message(kind, pid, 0, None, None, &pam(op));
            self.emit(out, &stamp, &[record]);
        }
        self.session += 1;
        let session = self.session;
        let stamp = self.next_stamp();
        let records = vec![
            Record {
                kind: "LOGIN",
                body: format!(
                    "pid={pid} uid=0 subj=unconfined old-auid=4294967295 auid={uid} tty=(none) old-ses=4294967295 ses={session} res=1"
                ),
                interpretations: format!("UID=\"root\" OLD-AUID=\"unset\" AUID=\"{user}\""),
            },
            Record {
                kind: "SYSCALL",
                body: format!(
                    "arch=c000003e syscall=1 success=yes exit={} a0=3 a1=7ffd2a1b3c40 a2=4 a3=0 items=0 ppid=811 pid={pid} auid={uid} uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses={session} comm=\"sshd\" exe=\"/usr/sbin/sshd\" subj=unconfined key=(null)",
                    uid.to_string().len()
                ),
                interpretations: format!(
                    "ARCH=x86_64 SYSCALL=write AUID=\"{user}\" UID=\"root\" GID=\"root\" EUID=\"root\" SUID=\"root\" FSUID=\"root\" EGID=\"root\" SGID=\"root\" FSGID=\"root\""
                ),
            },
            self.proctitle(&[&format!("sshd: {user} [priv]")]),
            self.eoe(),
        ];
        self.emit(out, &stamp, &records);
        let stamp = self.next_stamp();
        let record = self.user_message(
            "USER_START",
            pid,
            0,
            Some(uid),
            Some(session),
            &format!(
                "op=PAM:session_open grantors=pam_selinux,pam_loginuid,pam_keyinit,pam_limits,pam_systemd,pam_unix acct=\"{user}\" exe=\"/usr/sbin/sshd\" hostname={address} addr={address} terminal=ssh res=success"
            ),
        );
        self.emit(out, &stamp, &[record]);
        let stamp = self.next_stamp();
        let mut record = self.user_message(
            "USER_LOGIN",
            pid,
            0,
            Some(uid),
            Some(session),
            &format!(
                "op=login id={uid} exe=\"/usr/sbin/sshd\" hostname={address} addr={address} terminal=/dev/pts/{} res=success",
                session % 8
            ),
        );
        let _ = write!(record.interpretations, " ID=\"{user}\"");
        self.emit(out, &stamp, &[record]);
    }

    fn failed_login(&mut self, out: &mut String) {
        let pid = self.next_pid();
        let address = format!("203.0.113.{}", self.rng.random_range(1..=254u32));
        let account = ["bob", "admin", "oracle"][self.rng.random_range(0..3usize)];
        let stamp = self.next_stamp();
        let record = self.user_message(
            "USER_AUTH",
            pid,
            0,
            None,
            None,
            &format!(
                "op=PAM:authentication grantors=? acct=\"{account}\" exe=\"/usr/sbin/sshd\" hostname={address} addr={address} terminal=ssh res=failed"
            ),
        );
        self.emit(out, &stamp, &[record]);
        let stamp = self.next_stamp();
        let record = self.user_message(
            "USER_LOGIN",
            pid,
            0,
            None,
            None,
            &format!(
                "op=login acct=\"{account}\" exe=\"/usr/sbin/sshd\" hostname=? addr={address} terminal=ssh res=failed"
            ),
        );
        self.emit(out, &stamp, &[record]);
    }

    fn logout(&mut self, out: &mut String) {
        let (uid, user, _) = self.person();
        let pid = self.next_pid();
        let session = self.session;
        let address = format!("198.51.100.{}", self.rng.random_range(1..=254u32));
        for (kind, message) in [
            (
                "USER_END",
                format!(
                    "op=PAM:session_close grantors=pam_unix acct=\"{user}\" exe=\"/usr/sbin/sshd\" hostname={address} addr={address} terminal=ssh res=success"
                ),
            ),
            (
                "USER_LOGOUT",
                format!(
                    "op=logout id={uid} exe=\"/usr/sbin/sshd\" hostname=? addr=? terminal=/dev/pts/{} res=success",
                    session % 8
                ),
            ),
            (
                "CRED_DISP",
                format!(
                    "op=PAM:setcred grantors=pam_unix acct=\"{user}\" exe=\"/usr/sbin/sshd\" hostname={address} addr={address} terminal=ssh res=success"
                ),
            ),
        ] {
            let stamp = self.next_stamp();
            let mut record = self.user_message(kind, pid, 0, Some(uid), Some(session), &message);
            if kind == "USER_LOGOUT" {
                let _ = write!(record.interpretations, " ID=\"{user}\"");
            }
            self.emit(out, &stamp, &[record]);
        }
    }

    fn sudo(&mut self, out: &mut String) {
        let (uid, user, tty) = self.person();
        let pid = self.next_pid();
        let terminal = if tty == "(none)" {
            "?".to_owned()
        } else {
            format!("/dev/pts/{}", &tty[3..])
        };
        let command = [
            "systemctl restart nginx",
            "apt-get upgrade -y",
            "cat /etc/shadow",
        ][self.rng.random_range(0..3usize)];
        let refused = user == "carol";
        let result = if refused { "failed" } else { "success" };
        let session = Some(3 + uid % 7);
        let stamp = self.next_stamp();
        let record = self.user_message(
            "USER_ACCT",
            pid,
            uid,
            Some(uid),
            session,
            &format!(
                "op=PAM:accounting grantors=pam_permit acct=\"{user}\" exe=\"/usr/bin/sudo\" hostname=? addr=? terminal={terminal} res={result}"
            ),
        );
        self.emit(out, &stamp, &[record]);
        let stamp = self.next_stamp();
        let record = self.user_message(
            "USER_CMD",
            pid,
            uid,
            Some(uid),
            session,
            &format!(
                "cwd=\"/home/{user}\" cmd={} exe=\"/usr/bin/sudo\" terminal={} res={result}",
                hex(command.as_bytes()),
                terminal.trim_start_matches("/dev/")
            ),
        );
        self.emit(out, &stamp, &[record]);
        if !refused {
            let stamp = self.next_stamp();
            let record = self.user_message(
                "CRED_REFR",
                pid,
                0,
                Some(uid),
                session,
                &format!(
                    "op=PAM:setcred grantors=pam_permit acct=\"root\" exe=\"/usr/bin/sudo\" hostname=? addr=? terminal={terminal} res=success"
                ),
            );
            self.emit(out, &stamp, &[record]);
        }
    }

    fn service(&mut self, out: &mut String) {
        let unit = ["nginx", "cron", "ssh", "logrotate"][self.rng.random_range(0..4usize)];
        let kind = if self.rng.random_range(0..2u32) == 0 {
            "SERVICE_START"
        } else {
            "SERVICE_STOP"
        };
        let result = if self.rng.random_range(0..10u32) == 0 {
            "failed"
        } else {
            "success"
        };
        let stamp = self.next_stamp();
        let record = self.user_message(
            kind,
            1,
            0,
            None,
            None,
            &format!(
                "unit={unit} comm=\"systemd\" exe=\"/usr/lib/systemd/systemd\" hostname=? addr=? terminal=? res={result}"
            ),
        );
        self.emit(out, &stamp, &[record]);
    }

    fn add_user(&mut self) -> (String, Vec<Record<'static>>) {
        let stamp = self.next_stamp();
        let pid = self.next_pid();
        let id = 2000 + self.rng.random_range(0..100u32);
        let mut record = self.user_message(
            "ADD_USER",
            pid,
            0,
            Some(1000),
            Some(3),
            &format!(
                "op=add-user acct=\"svc{id}\" id={id} exe=\"/usr/sbin/useradd\" hostname=web01 addr=? terminal=pts/0 res=success"
            ),
        );
        let _ = write!(record.interpretations, " ID=\"unknown({id})\"");
        (stamp, vec![record])
    }

    fn config_change(&mut self) -> (String, Vec<Record<'static>>) {
        let stamp = self.next_stamp();
        let key = ["exec", "files", "net", "delete"][self.rng.random_range(0..4usize)];
        let root = (0, "root", "pts0");
        let records = vec![
            Record {
                kind: "CONFIG_CHANGE",
                body: format!(
                    "auid=0 ses=3 subj=unconfined op=add_rule key=\"{key}\" list=4 res=1"
                ),
                interpretations: "AUID=\"root\"".to_owned(),
            },
            self.syscall(
                44,
                "sendto",
                1072,
                0,
                root,
                ("auditctl", "/usr/sbin/auditctl"),
                None,
            ),
            self.proctitle(&["auditctl", "-w", "/etc/shadow", "-k", key]),
            self.eoe(),
        ];
        (stamp, records)
    }

    fn abend(&mut self) -> (String, Vec<Record<'static>>) {
        let stamp = self.next_stamp();
        let (uid, user, _) = self.person();
        let pid = self.next_pid();
        let record = Record {
            kind: "ANOM_ABEND",
            body: format!(
                "auid={uid} uid={uid} gid={uid} ses={} subj=unconfined pid={pid} comm=\"crashy\" exe=\"/usr/local/bin/crashy\" sig=11 res=1",
                3 + uid % 7
            ),
            interpretations: format!("AUID=\"{user}\" UID=\"{user}\" GID=\"{user}\""),
        };
        (stamp, vec![record])
    }

    fn avc(&mut self) -> (String, Vec<Record<'static>>) {
        let stamp = self.next_stamp();
        let who = (33, "www-data", "(none)");
        let syscall = self.syscall(
            257,
            "openat",
            -13,
            1,
            who,
            ("nginx", "/usr/sbin/nginx"),
            None,
        );
        let pid = self.pid;
        let records = vec![
            Record {
                kind: "AVC",
                body: format!(
                    "avc:  denied  {{ read }} for  pid={pid} comm=\"nginx\" name=\"shadow\" dev=\"dm-0\" ino=3301 scontext=system_u:system_r:httpd_t:s0 tcontext=system_u:object_r:shadow_t:s0 tclass=file permissive=0"
                ),
                interpretations: String::new(),
            },
            syscall,
            self.cwd("/"),
            self.path(0, "/etc/shadow", "0100640", 0, "NORMAL"),
            self.proctitle(&["nginx: worker process"]),
            self.eoe(),
        ];
        (stamp, records)
    }
}

/// A user's name from [`PASSWD`].
fn name_of(uid: u32) -> &'static str {
    match uid {
        0 => "root",
        33 => "www-data",
        1000 => "alice",
        1001 => "bob",
        1002 => "carol",
        1003 => "deploy",
        _ => "unknown",
    }
}

/// Upper-case hex, as the kernel encodes untrusted strings.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02X}");
    }
    out
}

/// The kernel's encoding rule: quoted, or hex when the text holds `"`, a space, a control
/// byte or a byte above 0x7E.
pub fn encode(text: &str) -> String {
    if text
        .bytes()
        .any(|byte| byte == b'"' || !(0x21..=0x7e).contains(&byte))
    {
        hex(text.as_bytes())
    } else {
        format!("\"{text}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_log_and_every_line_is_a_record() {
        let mut a = String::new();
        let mut b = String::new();
        AuditLog::new(7, AuditLogConfig::default()).write_records(2_000, &mut a);
        AuditLog::new(7, AuditLogConfig::default()).write_records(2_000, &mut b);
        assert_eq!(a, b);
        assert!(a.lines().count() >= 2_000);
        for line in a.lines() {
            assert!(line.starts_with("type="), "{line}");
            assert!(line.contains(" msg=audit(1700"), "{line}");
        }
        for kind in [
            "type=EXECVE",
            "type=SOCKADDR",
            "type=LOGIN",
            "type=USER_LOGIN",
            "type=USER_CMD",
            "type=CONFIG_CHANGE",
            "type=ANOM_ABEND",
            "type=AVC",
            "nametype=PARENT",
            "res=failed",
        ] {
            assert!(a.contains(kind), "no {kind} in the generated log");
        }
    }

    #[test]
    fn nodes_and_enriched() {
        let mut log = String::new();
        let config = AuditLogConfig {
            nodes: vec!["web01".to_owned(), "db01".to_owned()],
            enriched: true,
            ..AuditLogConfig::default()
        };
        AuditLog::new(1, config).write_records(200, &mut log);
        assert!(log.lines().all(|line| line.starts_with("node=")));
        assert!(log.contains("\u{1d}ARCH=x86_64 SYSCALL=execve AUID=\""));
    }
}
