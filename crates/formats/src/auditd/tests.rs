//! Grouping, interpretation and mapping over sample logs and hand-made records.

use std::fmt::Write as _;
use std::sync::Arc;

use event::{AuditEvent, Outcome};
use proptest::prelude::*;

use super::{Grouper, UserDb, detect};
use crate::Diagnostic;

fn decode_with(grouper: Grouper, text: &[u8]) -> (Vec<AuditEvent>, Vec<Diagnostic>) {
    let mut grouper = grouper;
    let mut events = Vec::new();
    let mut diagnostics = Vec::new();
    let mut offset = 0u64;
    for (index, line) in text.split(|&byte| byte == b'\n').enumerate() {
        grouper.push_line(
            line,
            index as u64 + 1,
            offset,
            &mut events,
            &mut diagnostics,
        );
        offset += line.len() as u64 + 1;
    }
    grouper.finish(&mut events, &mut diagnostics);
    (events, diagnostics)
}

fn decode(text: &str) -> (Vec<AuditEvent>, Vec<Diagnostic>) {
    decode_with(Grouper::new("test"), text.as_bytes())
}

fn render(events: &[AuditEvent], diagnostics: &[Diagnostic]) -> String {
    let mut text = String::new();
    for event in events {
        let mut line = Vec::new();
        crate::jsonl::encode(event, &mut line);
        text.push_str(&String::from_utf8(line).unwrap());
    }
    for diagnostic in diagnostics {
        writeln!(text, "{diagnostic}").unwrap();
    }
    text
}

fn records(event: &AuditEvent) -> serde_json::Value {
    serde_json::from_str(event.request_object.as_ref().unwrap().get()).unwrap()
}

const PASSWD: &[u8] = b"root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\nalice:x:1000:1000:Alice:/home/alice:/bin/bash\n";
const GROUP: &[u8] = b"root:x:0:\nwww-data:x:33:\nshadow:x:42:\nalice:x:1000:\n";

#[test]
fn samples_decode_as_snapshotted() {
    let user_db = Arc::new(UserDb::from_passwd_group(PASSWD, GROUP).unwrap());
    insta::glob!("../../tests/data", "auditd/*.log", |path| {
        let bytes = std::fs::read(path).unwrap();
        let grouper = Grouper::new("sample").with_user_db(user_db.clone());
        let (events, diagnostics) = decode_with(grouper, &bytes);
        assert!(!events.is_empty(), "{} gave no events", path.display());
        insta::assert_snapshot!(render(&events, &diagnostics));
    });
}

#[test]
fn detects_records() {
    assert!(detect(b"type=EOE msg=audit(1700000000.000:1): "));
    assert!(detect(
        b"node=web01 type=SYSCALL msg=audit(1700000000.123:45): arch=c000003e"
    ));
    assert!(!detect(b"{\"kind\":\"Event\"}"));
    assert!(!detect(b"type=SYSCALL msg=audit(x:1):"));
    assert!(!detect(b"2025-01-01T00:00:00Z AUDIT: id=\"x\""));
}

#[test]
fn syscall_event_is_interpreted_and_mapped() {
    let (events, diagnostics) = decode(concat!(
        "type=SYSCALL msg=audit(1700000150.500:830): arch=c000003e syscall=257 success=no exit=-13 a0=ffffff9c a1=7ffe a2=0 a3=0 items=1 ppid=2250 pid=2310 auid=1000 uid=1000 gid=1000 euid=0 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts1 ses=7 comm=\"cat\" exe=\"/usr/bin/cat\" key=\"shadow\"\n",
        "type=CWD msg=audit(1700000150.500:830): cwd=2F686F6D652F616C696365\n",
        "type=PATH msg=audit(1700000150.500:830): item=0 name=\"/etc/shadow\" inode=3301 dev=fd:00 mode=0100640 ouid=0 ogid=42 nametype=NORMAL\n",
        "type=PROCTITLE msg=audit(1700000150.500:830): proctitle=636174002F6574632F736861646F77\n",
        "type=EOE msg=audit(1700000150.500:830): \n",
    ));
    assert_eq!(diagnostics, vec![]);
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.id, "1700000150.500:830");
    assert_eq!(event.verb, "openat");
    assert_eq!(event.outcome, Outcome::Failure);
    let status = event.status.as_ref().unwrap();
    assert_eq!(status.reason, "EACCES");
    assert_eq!(status.code, None);
    assert_eq!(event.paths, vec!["/etc/shadow"]);
    assert_eq!(event.user.uid, "1000");
    assert_eq!(event.user.name, "1000");
    assert_eq!(event.user.login.as_deref(), Some("1000"));
    let extra = event.user.extra.as_ref().unwrap();
    assert_eq!(extra["euid"], vec!["0"]);
    assert_eq!(extra["euser"], vec!["root"]);
    assert_eq!(event.annotations["auditd.key"], "shadow");
    assert_eq!(event.annotations["auditd.cwd"], "/home/alice");
    assert_eq!(event.annotations["auditd.proctitle"], "cat /etc/shadow");
    assert_eq!(event.time.unwrap().unix_nanos(), 1_700_000_150_500_000_000);
    let json = records(event);
    let syscall = &json["records"][0];
    assert_eq!(syscall["type"], "SYSCALL");
    assert_eq!(syscall["syscall"], "257");
    assert_eq!(syscall["SYSCALL"], "openat");
    assert_eq!(syscall["ARCH"], "x86_64");
    assert_eq!(syscall["EXIT"], "EACCES(Permission denied)");
    assert_eq!(syscall["EUID"], "root");
    assert_eq!(syscall["UID"], "unknown(1000)");
    assert_eq!(syscall["a0"], "ffffff9c");
    let path = &json["records"][2];
    assert_eq!(path["MODE"], "file,640");
    assert_eq!(path["OUID"], "root");
    assert_eq!(path["OGID"], "unknown(42)");
    assert_eq!(
        json["records"].as_array().unwrap().len(),
        4,
        "EOE is left out"
    );
}

#[test]
fn user_db_names_ids() {
    let db = Arc::new(UserDb::from_passwd_group(PASSWD, GROUP).unwrap());
    let grouper = Grouper::new("t").with_user_db(db);
    let (events, _) = decode_with(
        grouper,
        b"type=USER_LOGIN msg=audit(1700000100.190:806): pid=2201 uid=0 auid=1000 ses=7 msg='op=login id=1000 exe=\"/usr/sbin/sshd\" hostname=198.51.100.23 addr=198.51.100.23 terminal=/dev/pts/1 res=success'\n",
    );
    let event = &events[0];
    assert_eq!(event.verb, "USER_LOGIN");
    assert_eq!(event.user.name, "root");
    assert_eq!(event.user.login.as_deref(), Some("alice"));
    assert_eq!(event.user.groups, None);
    assert_eq!(event.source_ips, vec!["198.51.100.23"]);
    assert_eq!(event.outcome, Outcome::Success);
    assert_eq!(event.annotations["auditd.terminal"], "/dev/pts/1");
    assert_eq!(event.annotations["auditd.op"], "login");
    let json = records(event);
    assert_eq!(json["records"][0]["ID"], "alice");
    assert_eq!(json["records"][0]["exe"], "/usr/sbin/sshd");
}

#[test]
fn unset_auid_has_no_login() {
    let (events, _) = decode(
        "type=SERVICE_START msg=audit(1700000171.100:853): pid=1 uid=0 auid=4294967295 ses=4294967295 msg='unit=nginx comm=\"systemd\" exe=\"/usr/lib/systemd/systemd\" hostname=? addr=? terminal=? res=success'\n",
    );
    let event = &events[0];
    assert_eq!(event.user.login, None);
    assert_eq!(event.user.name, "root");
    assert_eq!(event.annotations["auditd.auid"], "4294967295");
    assert!(event.source_ips.is_empty());
    let json = records(event);
    assert_eq!(json["records"][0]["AUID"], "unset");
    assert_eq!(json["records"][0]["SES"], "unset");
    assert!(!event.annotations.contains_key("auditd.hostname"));
}

#[test]
fn interleaved_serials_group_separately() {
    let (events, _) = decode(concat!(
        "type=SYSCALL msg=audit(100.000:1): arch=c000003e syscall=2 success=yes exit=3 uid=0\n",
        "type=SYSCALL msg=audit(100.000:2): arch=c000003e syscall=2 success=yes exit=4 uid=0\n",
        "type=PATH msg=audit(100.000:2): item=0 name=\"/b\"\n",
        "type=PATH msg=audit(100.000:1): item=0 name=\"/a\"\n",
        "type=PROCTITLE msg=audit(100.000:2): proctitle=\"b\"\n",
        "type=EOE msg=audit(100.000:2): \n",
        "type=PROCTITLE msg=audit(100.000:1): proctitle=\"a\"\n",
        "type=EOE msg=audit(100.000:1): \n",
    ));
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        ids,
        vec!["100.000:1", "100.000:2"],
        "arrival order, not completion order"
    );
    assert_eq!(events[0].paths, vec!["/a"]);
    assert_eq!(events[1].paths, vec!["/b"]);
}

#[test]
fn timeout_is_in_log_time_and_splits_late_records() {
    let (events, _) = decode(concat!(
        "type=SYSCALL msg=audit(100.000:1): arch=c000003e syscall=2 success=yes exit=3 uid=0\n",
        "type=SYSCALL msg=audit(101.999:2): arch=c000003e syscall=2 success=yes exit=3 uid=0\n",
        "type=PATH msg=audit(100.000:1): item=0 name=\"/a\"\n",
        "type=SYSCALL msg=audit(103.000:3): arch=c000003e syscall=2 success=yes exit=3 uid=0\n",
        "type=PATH msg=audit(101.999:2): item=0 name=\"/b\"\n",
    ));
    let summary: Vec<(String, usize)> = events
        .iter()
        .map(|e| (e.id.clone(), e.paths.len()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("100.000:1".to_owned(), 1),
            ("101.999:2".to_owned(), 0),
            ("103.000:3".to_owned(), 0),
            // The late PATH is an event of its own (as in ausearch), under an id of its own
            // so that a store keyed by id keeps both.
            ("101.999:2#2".to_owned(), 1),
        ]
    );
}

#[test]
fn nodes_are_part_of_identity() {
    let (events, _) = decode(concat!(
        "node=a type=LOGIN msg=audit(100.000:1): pid=1 uid=0 old-auid=4294967295 auid=1000 res=1\n",
        "node=b type=LOGIN msg=audit(100.000:1): pid=1 uid=0 old-auid=4294967295 auid=1001 res=1\n",
        "type=LOGIN msg=audit(100.000:1): pid=1 uid=0 old-auid=4294967295 auid=1002 res=1\n",
    ));
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, vec!["a:100.000:1", "b:100.000:1", "100.000:1"]);
    assert_eq!(events[0].node.as_deref(), Some("a"));
    assert_eq!(events[2].node, None);
}

#[test]
fn execve_arguments_are_reassembled() {
    let (events, _) = decode(concat!(
        "type=SYSCALL msg=audit(100.000:1): arch=c000003e syscall=59 success=yes exit=0 uid=0\n",
        "type=EXECVE msg=audit(100.000:1): argc=3 a0=\"echo\" a1_len=6 a1[0]=\"abc\"\n",
        "type=EXECVE msg=audit(100.000:1): a1[1]=646566 a2=74776F20776F726473\n",
        "type=EOE msg=audit(100.000:1): \n",
    ));
    let argv: Vec<String> = serde_json::from_str(&events[0].annotations["auditd.argv"]).unwrap();
    assert_eq!(argv, vec!["echo", "abcdef", "two words"]);
    assert_eq!(records(&events[0])["argv"][1], "abcdef");
}

#[test]
fn enriched_names_win_and_multiple_keys_split() {
    let (events, _) = decode(
        "type=SYSCALL msg=audit(100.000:1): arch=c000003e syscall=59 success=yes exit=0 auid=1001 uid=1001 gid=1001 euid=1001 key=6578656301706173737764\x1dARCH=x86_64 SYSCALL=execve AUID=\"carol\" UID=\"carol\" GID=\"staff\" EUID=\"carol\"\n",
    );
    let event = &events[0];
    assert_eq!(event.user.name, "carol");
    assert_eq!(event.user.login.as_deref(), Some("carol"));
    assert_eq!(event.user.groups, Some(vec!["staff".to_owned()]));
    assert_eq!(event.annotations["auditd.key"], "exec,passwd");
    let json = records(event);
    assert_eq!(json["records"][0]["UID"], "carol");
}

#[test]
fn saddr_peer_is_a_source_only_on_accept() {
    let (events, _) = decode(concat!(
        "type=SYSCALL msg=audit(100.000:1): arch=c000003e syscall=43 success=yes exit=5 uid=33\n",
        "type=SOCKADDR msg=audit(100.000:1): saddr=020001BBC00002640000000000000000\n",
        "type=EOE msg=audit(100.000:1): \n",
        "type=SYSCALL msg=audit(100.000:2): arch=c000003e syscall=42 success=yes exit=0 uid=33\n",
        "type=SOCKADDR msg=audit(100.000:2): saddr=020001BBC00002640000000000000000\n",
        "type=EOE msg=audit(100.000:2): \n",
    ));
    assert_eq!(events[0].verb, "accept");
    assert_eq!(events[0].source_ips, vec!["192.0.2.100"]);
    assert_eq!(events[0].source_port, Some(443));
    assert_eq!(events[1].verb, "connect");
    assert!(events[1].source_ips.is_empty());
    assert_eq!(
        events[1].annotations["auditd.sockaddr"],
        "{ saddr_fam=inet laddr=192.0.2.100 lport=443 }"
    );
}

#[test]
fn stray_eoe_is_dropped_and_bad_lines_reported() {
    let (events, diagnostics) = decode(concat!(
        "type=EOE msg=audit(100.000:9): \n",
        "garbage\n",
        "type=USER_CMD msg=audit(100.000:10): pid=1 uid=0 auid=0 msg='cmd=6C73 res=success'\n",
    ));
    assert_eq!(events.len(), 1);
    assert_eq!(diagnostics.len(), 1);
    assert_eq!(diagnostics[0].line, 2);
    assert!(diagnostics[0].is_error());
    assert_eq!(events[0].annotations["auditd.cmd"], "ls");
}

#[test]
fn pending_events_are_bounded() {
    let mut grouper = Grouper::new("t");
    let mut events = Vec::new();
    let mut diagnostics = Vec::new();
    let total = crate::limits::AUDITD_PENDING_EVENTS_MAX + 10;
    for serial in 0..total {
        let line = format!("type=AVC msg=audit(100.000:{serial}): apparmor=\"DENIED\"");
        grouper.push_line(line.as_bytes(), 1, 0, &mut events, &mut diagnostics);
        assert!(grouper.pending() <= crate::limits::AUDITD_PENDING_EVENTS_MAX);
    }
    assert_eq!(events.len(), 10);
    assert_eq!(diagnostics.len(), 10);
    grouper.finish(&mut events, &mut diagnostics);
    assert_eq!(events.len(), total);
}

proptest! {
    #[test]
    fn never_panics_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_with(Grouper::new("p"), &bytes);
    }

    #[test]
    fn never_panics_on_mutated_records(
        cut in 0usize..400,
        byte in any::<u8>(),
        position in 0usize..400,
    ) {
        let sample = concat!(
            "node=n type=SYSCALL msg=audit(100.000:1): arch=c000003e syscall=42 success=no exit=-111 auid=1000 uid=1000 key=6578656301706173737764\x1dUID=\"u\" SADDR={ x }\n",
            "type=EXECVE msg=audit(100.000:1): argc=2 a0=\"x\" a1_len=4 a1[0]=6162 a1[1]=\"cd\"\n",
            "type=SOCKADDR msg=audit(100.000:1): saddr=0A00\n",
            "type=AVC msg=audit(100.000:1): avc:  denied  { read\n",
            "type=USER_LOGIN msg=audit(100.000:2): msg='op=login acct=\"bob res=failed'\n",
        );
        let mut bytes = sample.as_bytes().to_vec();
        let position = position.min(bytes.len().saturating_sub(1));
        bytes[position] = byte;
        bytes.truncate(cut.max(1).min(bytes.len()));
        let (events, _) = decode_with(Grouper::new("p"), &bytes);
        for event in &events {
            prop_assert!(event.request_object.is_some());
        }
    }
}
