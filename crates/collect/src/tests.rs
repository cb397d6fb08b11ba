//! File and journal sources against a sink that keeps what it is given and commits at once
//! (as the server does once a batch is durable).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use formats::InputFormat;

use crate::{
    Batch, CollectError, CollectorMetrics, Collectors, FileSource, JournalSource, Offsets, Setup,
    Sink, SourceConfig, StartAt,
};

#[derive(Default)]
struct Kept {
    ids: Vec<String>,
    nodes: Vec<Option<String>>,
    rejected: Vec<crate::Rejected>,
}

struct MemorySink {
    offsets: Arc<Offsets>,
    kept: Mutex<Kept>,
    /// Fail every delivery while this is above zero (counting down).
    fail: AtomicUsize,
}

impl Sink for MemorySink {
    fn deliver(&self, batch: Batch) -> Result<(), CollectError> {
        if self
            .fail
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(CollectError::Sink("failing on purpose".to_owned()));
        }
        let mut kept = self.kept.lock().unwrap();
        kept.ids.extend(batch.events.iter().map(|e| e.id.clone()));
        kept.nodes
            .extend(batch.events.iter().map(|e| e.node.clone()));
        kept.rejected.extend(batch.rejected);
        drop(kept);
        self.offsets.commit(&batch.source, &batch.position)
    }
}

struct Running {
    sink: Arc<MemorySink>,
    collectors: Collectors,
}

fn start(state: &Path, sources: Vec<SourceConfig>, fail: usize) -> Running {
    let offsets = Arc::new(Offsets::open(state).unwrap());
    let sink = Arc::new(MemorySink {
        offsets: Arc::clone(&offsets),
        kept: Mutex::default(),
        fail: AtomicUsize::new(fail),
    });
    let collectors = Collectors::start(
        &sources,
        Setup {
            offsets,
            sink: sink.clone(),
            metrics: CollectorMetrics::default(),
            clock: Arc::new(|| std::time::UNIX_EPOCH + Duration::from_secs(1_750_000_000)),
            stop: Arc::new(AtomicBool::new(false)),
        },
    )
    .unwrap();
    Running { sink, collectors }
}

impl Running {
    fn ids(&self) -> Vec<String> {
        self.sink.kept.lock().unwrap().ids.clone()
    }

    /// Waits until `count` events came (or fails after 20 s).
    fn wait_for(&self, count: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ids = self.ids();
            if ids.len() >= count {
                return ids;
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {count} events came",
                ids.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn file_source(pattern: &Path) -> SourceConfig {
    SourceConfig::File(FileSource {
        name: "files".to_owned(),
        paths: vec![pattern.to_string_lossy().into_owned()],
        format: InputFormat::K8s,
        start_at: StartAt::Beginning,
        poll_interval_ms: Some(20),
    })
}

fn event(i: usize) -> String {
    format!(
        r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"id-{i:06}","stage":"ResponseComplete","requestURI":"/api/v1/pods","verb":"list","user":{{"username":"alice"}},"stageTimestamp":"2025-06-01T10:00:00.000000Z"}}"#
    )
}

fn append(path: &Path, text: &str) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

fn counts(ids: &[String]) -> BTreeMap<&str, usize> {
    let mut counts = BTreeMap::new();
    for id in ids {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    counts
}

fn expected(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("id-{i:06}")).collect()
}

#[test]
fn a_partial_last_line_waits_for_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    append(&log, &format!("{}\n", event(0)));
    let line = event(1);
    let (head, tail) = line.split_at(40);
    append(&log, head);
    let running = start(&dir.path().join("state"), vec![file_source(&log)], 0);
    running.wait_for(1);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(running.ids(), expected(0..1));
    append(&log, &format!("{tail}\n"));
    assert_eq!(running.wait_for(2), expected(0..2));
    running.collectors.stop();
}

#[test]
fn rename_rotation_while_a_writer_appends_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let log = logs.join("audit.log");
    append(&log, "");
    // Only the live name matches: the rotated file must be read to its end after the rename.
    let running = start(&dir.path().join("state"), vec![file_source(&log)], 0);
    for round in 0..3 {
        let first = round * 1000;
        for i in first..first + 900 {
            append(&log, &format!("{}\n", event(i)));
        }
        // The collector has the file open; the last lines go in just before the rename and
        // are read from the renamed file.
        running.wait_for(first + 1);
        for i in first + 900..first + 1000 {
            append(&log, &format!("{}\n", event(i)));
        }
        std::fs::rename(&log, logs.join(format!("audit-{round}.log"))).unwrap();
    }
    let ids = running.wait_for(3000);
    std::thread::sleep(Duration::from_millis(300));
    let ids_after = running.ids();
    assert_eq!(ids, ids_after, "nothing more came");
    let counts = counts(&ids);
    assert_eq!(counts.len(), 3000);
    assert!(counts.values().all(|&n| n == 1), "no event twice");
    running.collectors.stop();
}

#[test]
fn copytruncate_is_read_again_from_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    let running = start(&dir.path().join("state"), vec![file_source(&log)], 0);
    for i in 0..500 {
        append(&log, &format!("{}\n", event(i)));
    }
    running.wait_for(500);
    // copytruncate: copy away (not matched), truncate in place, go on writing.
    std::fs::copy(&log, dir.path().join("audit.log.1")).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    for i in 500..1500 {
        append(&log, &format!("{}\n", event(i)));
    }
    let ids = running.wait_for(1500);
    let counts = counts(&ids);
    assert_eq!(
        counts.keys().copied().collect::<Vec<_>>(),
        expected(0..1500)
    );
    // A file rewritten with more than was read before (no shrink seen by a poll) is
    // detected by its first bytes.
    running.collectors.stop();
}

#[test]
fn a_restart_resumes_where_the_durable_records_end() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    let state = dir.path().join("state");
    for i in 0..1000 {
        append(&log, &format!("{}\n", event(i)));
    }
    let first = start(&state, vec![file_source(&log)], 0);
    first.wait_for(1000);
    let before = first.ids();
    first.collectors.stop();
    for i in 1000..1200 {
        append(&log, &format!("{}\n", event(i)));
    }
    // The sink fails twice: the source goes back to its committed position each time.
    let second = start(&state, vec![file_source(&log)], 2);
    let after = second.wait_for(200);
    std::thread::sleep(Duration::from_millis(200));
    let mut all = before;
    all.extend(second.ids());
    let counts = counts(&all);
    assert_eq!(
        counts.keys().copied().collect::<Vec<_>>(),
        expected(0..1200)
    );
    assert!(counts.values().all(|&n| n == 1), "{after:?}");
    second.collectors.stop();
}

#[test]
fn an_overlong_line_is_rejected_and_the_rest_read() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    let long = "x".repeat(formats::limits::LINE_BYTES_MAX + 10);
    append(
        &log,
        &format!("{}\n{long}\nnot json\n{}\n", event(0), event(1)),
    );
    let running = start(&dir.path().join("state"), vec![file_source(&log)], 0);
    assert_eq!(running.wait_for(2), expected(0..2));
    let kept = running.sink.kept.lock().unwrap();
    assert_eq!(kept.rejected.len(), 2, "{:?}", kept.rejected.len());
    assert!(kept.rejected[0].message.contains("exceeds the limit"));
    assert_eq!(kept.rejected[0].line, 2);
    assert_eq!(kept.rejected[1].raw, b"not json");
    assert_eq!(kept.rejected[1].line, 3);
    drop(kept);
    running.collectors.stop();
}

/// A stand-in for `journalctl -o json --follow`: prints the entries of `$ENTRIES` after the
/// `--after-cursor` one, logs its arguments to `$ARGS_LOG`, then waits like `--follow`.
const FAKE_JOURNALCTL: &str = r#"#!/bin/sh
echo "$@" >> "$0.args"
after=""
for arg in "$@"; do
  case "$arg" in --after-cursor=*) after="${arg#--after-cursor=}" ;; esac
done
printing=1
[ -n "$after" ] && printing=0
while IFS= read -r line; do
  [ "$printing" = 1 ] && printf '%s\n' "$line"
  case "$line" in *"\"__CURSOR\":\"$after\""*) printing=1 ;; esac
done < "$0.entries"
exec sleep 30
"#;

pub(crate) fn fake_journalctl(dir: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("journalctl");
    std::fs::write(&path, FAKE_JOURNALCTL).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn dcos_entry(i: usize) -> String {
    let message = format!(
        "2025/01/01 00:00:04 [notice] 1#0: *{i} [lua] ee.lua:57: auditlog(): type=audit timestamp=2025-01-01T00:00:04Z object=dcos:adminrouter:service:s{i} action=full result=allow reason=\"r\" srcip=192.0.2.9 srcport={i} request_uri=/service/s{i} uid=alice"
    );
    serde_json::json!({
        "__CURSOR": format!("s=abc;i={i}"),
        "__REALTIME_TIMESTAMP": "1735689604000000",
        "_HOSTNAME": "master-1",
        "MESSAGE": message,
    })
    .to_string()
}

fn okd_entry(i: usize, text: &str) -> String {
    serde_json::json!({
        "__CURSOR": format!("s=okd;i={i}"),
        "__REALTIME_TIMESTAMP": "1735689604000000",
        "_HOSTNAME": "okd-master-1",
        "SYSLOG_IDENTIFIER": "atomic-openshift-master",
        "MESSAGE": text,
    })
    .to_string()
}

fn journal_source(command: &Path, format: InputFormat) -> SourceConfig {
    SourceConfig::Journal(JournalSource {
        name: "journal".to_owned(),
        format,
        units: vec!["dcos-adminrouter.service".to_owned()],
        identifiers: Vec::new(),
        directory: None,
        command: Some(command.to_owned()),
        start_at: StartAt::Beginning,
    })
}

#[test]
fn journal_entries_resume_after_the_saved_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let command = fake_journalctl(dir.path());
    let entries = dir.path().join("journalctl.entries");
    let lines: Vec<String> = (0..50).map(dcos_entry).collect();
    append(&entries, &format!("{}\n", lines.join("\n")));
    let state = dir.path().join("state");
    let first = start(&state, vec![journal_source(&command, InputFormat::Dcos)], 0);
    first.wait_for(50);
    first.collectors.stop();
    let lines: Vec<String> = (50..80).map(dcos_entry).collect();
    append(&entries, &format!("{}\n", lines.join("\n")));
    let second = start(&state, vec![journal_source(&command, InputFormat::Dcos)], 0);
    second.wait_for(30);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(second.ids().len(), 30, "nothing read twice");
    second.collectors.stop();
    let args = std::fs::read_to_string(dir.path().join("journalctl.args")).unwrap();
    let runs: Vec<&str> = args.lines().collect();
    assert!(runs[0].contains("--no-tail") && runs[0].contains("--unit=dcos-adminrouter.service"));
    assert!(runs[1].contains("--after-cursor=s=abc;i=49"), "{args}");
}

#[test]
fn journal_messages_are_decoded_and_entries_fill_the_node() {
    let dir = tempfile::tempdir().unwrap();
    let command = fake_journalctl(dir.path());
    let entries = dir.path().join("journalctl.entries");
    let request = "I0101 00:00:01.000000 1 audit.go:45] 2025-01-01T00:00:01.000000000Z AUDIT: id=\"o1\" ip=\"192.0.2.1\" method=\"GET\" user=\"u\" groups=\"<none>\" as=\"<self>\" asgroups=\"<lookup>\" namespace=\"<none>\" uri=\"/version\"";
    let response = "I0101 00:00:01.100000 1 audit.go:60] 2025-01-01T00:00:01.100000000Z AUDIT: id=\"o1\" response=\"200\"";
    let lines = [
        okd_entry(1, request),
        okd_entry(
            2,
            "I0101 00:00:01.050000 1 other.go:1] unrelated master logging",
        ),
        okd_entry(3, response),
    ];
    append(&entries, &format!("{}\n", lines.join("\n")));
    let running = start(
        &dir.path().join("state"),
        vec![journal_source(&command, InputFormat::Okd)],
        0,
    );
    assert_eq!(running.wait_for(1), ["o1"]);
    let kept = running.sink.kept.lock().unwrap();
    assert_eq!(kept.nodes[0].as_deref(), Some("okd-master-1"));
    assert!(kept.rejected.is_empty(), "{:?}", kept.rejected);
    drop(kept);
    running.collectors.stop();
    let saved = Offsets::open(&dir.path().join("state"))
        .unwrap()
        .load("journal")
        .unwrap();
    assert_eq!(saved.cursor.as_deref(), Some("s=okd;i=3"));
}
