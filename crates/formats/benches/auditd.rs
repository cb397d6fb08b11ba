//! Linux audit interpretation throughput: group, interpret and normalize a realistic
//! generated `audit.log` (execve with long argv, opens that succeed and fail, connects with
//! `saddr`, sshd logins, sudo USER_CMD), reported as records per second.
//!
//! Run with `cargo bench -p formats --bench auditd`. To compare with `ausearch -i` on the same
//! bytes, write the log out and time both (see `scripts` or the commit message):
//!
//! ```sh
//! AUDITRAIL_AUDITD_BENCH_LOG=/tmp/audit-bench.log cargo bench -p formats --bench auditd
//! time ausearch -i -if /tmp/audit-bench.log > /dev/null
//! ```

#![allow(clippy::unwrap_used)]

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use formats::auditd::Grouper;

/// The allocator the `auditrail` binary uses, so that the numbers are the product's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Records in the benchmark log (about 200k, 40 MB).
const RECORDS_TARGET: usize = 200_000;

fn hex(text: &str) -> String {
    text.bytes().fold(String::new(), |mut out, byte| {
        let _ = write!(out, "{byte:02X}");
        out
    })
}

/// A deterministic audit log of about `records` records, and its record count.
fn generate(records: usize) -> (Vec<u8>, usize) {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |bound: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % bound
    };
    let users = [(1000, "alice"), (1001, "bob"), (1002, "carol"), (0, "root")];
    let mut log = String::new();
    let mut count = 0usize;
    let mut serial = 1000u64;
    let mut millis = 1_700_000_000_000u64;
    while count < records {
        serial += 1;
        millis += 1 + next(7);
        let time = format!("{}.{:03}", millis / 1000, millis % 1000);
        let (uid, _) = users[next(users.len() as u64) as usize];
        let pid = 2000 + next(30_000);
        let syscall_head = |syscall: u32,
                            success: &str,
                            exit: i64,
                            items: u32,
                            comm: &str,
                            exe: &str,
                            key: &str| {
            format!(
                "type=SYSCALL msg=audit({time}:{serial}): arch=c000003e syscall={syscall} success={success} exit={exit} a0=7ffd2a1b3c40 a1=55d0c2a3b5e0 a2=0 a3=0 items={items} ppid=1999 pid={pid} auid={uid} uid={uid} gid={uid} euid={uid} suid={uid} fsuid={uid} egid={uid} sgid={uid} fsgid={uid} tty=pts1 ses=7 comm=\"{comm}\" exe=\"{exe}\" subj=unconfined key={key}\n"
            )
        };
        match next(10) {
            0..=3 => {
                // execve with a long argument list
                let args: Vec<String> = (0..12)
                    .map(|i| format!("--option-{i}=value-{}", next(100_000)))
                    .collect();
                log.push_str(&syscall_head(
                    59,
                    "yes",
                    0,
                    2,
                    "java",
                    "/usr/lib/jvm/java-17/bin/java",
                    "\"exec\"",
                ));
                let _ = write!(
                    log,
                    "type=EXECVE msg=audit({time}:{serial}): argc={} a0=\"java\"",
                    args.len() + 2
                );
                for (index, arg) in args.iter().enumerate() {
                    let _ = write!(log, " a{}=\"{arg}\"", index + 1);
                }
                let _ = writeln!(log, " a{}={}", args.len() + 1, hex("/srv/app/my app.jar"));
                let _ = writeln!(
                    log,
                    "type=CWD msg=audit({time}:{serial}): cwd={}",
                    hex("/srv/app/my dir")
                );
                let _ = writeln!(
                    log,
                    "type=PATH msg=audit({time}:{serial}): item=0 name=\"/usr/lib/jvm/java-17/bin/java\" inode=1835 dev=fd:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0"
                );
                let _ = writeln!(
                    log,
                    "type=PATH msg=audit({time}:{serial}): item=1 name=\"/lib64/ld-linux-x86-64.so.2\" inode=2266 dev=fd:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0"
                );
                let _ = writeln!(
                    log,
                    "type=PROCTITLE msg=audit({time}:{serial}): proctitle={}",
                    hex("java\0-jar\0/srv/app/my app.jar\0--option-0")
                );
                let _ = writeln!(log, "type=EOE msg=audit({time}:{serial}): ");
                count += 7;
            }
            4..=6 => {
                // openat, one in four refused
                let failed = next(4) == 0;
                let (success, exit) = if failed { ("no", -13) } else { ("yes", 3) };
                log.push_str(&syscall_head(
                    257,
                    success,
                    exit,
                    1,
                    "cat",
                    "/usr/bin/cat",
                    "\"files\"",
                ));
                let _ = writeln!(
                    log,
                    "type=CWD msg=audit({time}:{serial}): cwd=\"/home/alice\""
                );
                let _ = writeln!(
                    log,
                    "type=PATH msg=audit({time}:{serial}): item=0 name=\"/etc/shadow\" inode=3301 dev=fd:00 mode=0100640 ouid=0 ogid=42 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0"
                );
                let _ = writeln!(
                    log,
                    "type=PROCTITLE msg=audit({time}:{serial}): proctitle={}",
                    hex("cat\0/etc/shadow")
                );
                let _ = writeln!(log, "type=EOE msg=audit({time}:{serial}): ");
                count += 5;
            }
            7 => {
                // connect with saddr
                log.push_str(&syscall_head(
                    42,
                    "yes",
                    0,
                    0,
                    "curl",
                    "/usr/bin/curl",
                    "\"net\"",
                ));
                let _ = writeln!(
                    log,
                    "type=SOCKADDR msg=audit({time}:{serial}): saddr=020001BBC0000{:03X}0000000000000000",
                    next(4096)
                );
                let _ = writeln!(
                    log,
                    "type=PROCTITLE msg=audit({time}:{serial}): proctitle={}",
                    hex("curl\0https://192.0.2.100/")
                );
                let _ = writeln!(log, "type=EOE msg=audit({time}:{serial}): ");
                count += 4;
            }
            8 => {
                // sshd login flow
                let address = format!("198.51.100.{}", next(250));
                for (kind, op) in [
                    ("USER_AUTH", "PAM:authentication"),
                    ("USER_ACCT", "PAM:accounting"),
                    ("CRED_ACQ", "PAM:setcred"),
                ] {
                    let _ = writeln!(
                        log,
                        "type={kind} msg=audit({time}:{serial}): pid={pid} uid=0 auid=4294967295 ses=4294967295 subj=unconfined msg='op={op} grantors=pam_unix acct=\"alice\" exe=\"/usr/sbin/sshd\" hostname={address} addr={address} terminal=ssh res=success'"
                    );
                    serial += 1;
                }
                let _ = writeln!(
                    log,
                    "type=USER_LOGIN msg=audit({time}:{serial}): pid={pid} uid=0 auid=1000 ses=8 subj=unconfined msg='op=login id=1000 exe=\"/usr/sbin/sshd\" hostname={address} addr={address} terminal=/dev/pts/1 res=success'"
                );
                count += 4;
            }
            _ => {
                // sudo
                let _ = writeln!(
                    log,
                    "type=USER_CMD msg=audit({time}:{serial}): pid={pid} uid={uid} auid={uid} ses=7 subj=unconfined msg='cwd=\"/home/alice\" cmd={} exe=\"/usr/bin/sudo\" terminal=pts/1 res=success'",
                    hex("systemctl restart nginx")
                );
                count += 1;
            }
        }
    }
    (log.into_bytes(), count)
}

fn interpret_all(log: &[u8]) -> usize {
    let mut grouper = Grouper::new("bench");
    let mut events = Vec::with_capacity(1024);
    let mut diagnostics = Vec::new();
    let mut emitted = 0usize;
    let mut offset = 0u64;
    for (index, line) in log.split(|&byte| byte == b'\n').enumerate() {
        grouper.push_line(
            line,
            index as u64 + 1,
            offset,
            &mut events,
            &mut diagnostics,
        );
        offset += line.len() as u64 + 1;
        if events.len() >= 1024 {
            emitted += events.len();
            black_box(&events);
            events.clear();
        }
    }
    grouper.finish(&mut events, &mut diagnostics);
    emitted + events.len()
}

fn bench(c: &mut Criterion) {
    let (log, records) = generate(RECORDS_TARGET);
    if let Some(path) = std::env::var_os("AUDITRAIL_AUDITD_BENCH_LOG") {
        std::fs::write(path, &log).unwrap();
    }
    let events = interpret_all(&log);
    assert!(
        events > records / 8,
        "{events} events from {records} records"
    );
    let mut group = c.benchmark_group("auditd");
    group.throughput(Throughput::Elements(records as u64));
    group.sample_size(10);
    group.bench_function("interpret_records", |b| {
        b.iter(|| interpret_all(black_box(&log)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
