//! Collectors end to end, against the built binary: `auditrail serve` tailing files that a
//! writer appends to and rotates (rename and copytruncate) while the server is SIGKILLed
//! and restarted, plus a journal source read through a stand-in `journalctl`; and
//! `auditrail agent` forwarding to a server that goes away and comes back, with a spool
//! small enough to fill. Each checks the set of stored identities against what was written:
//! nothing lost, nothing twice.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::serve::start_on;
use crate::{run_in, text};

fn event(i: usize) -> String {
    format!(
        r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"col-{i:06}","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/configmaps","verb":"list","user":{{"username":"system:serviceaccount:kube-system:collector-test"}},"sourceIPs":["10.0.0.1"],"objectRef":{{"resource":"configmaps","namespace":"default","apiVersion":"v1"}},"responseStatus":{{"metadata":{{}},"code":200}},"requestReceivedTimestamp":"2025-06-01T10:00:00.000000Z","stageTimestamp":"2025-06-01T10:00:00.010000Z"}}"#
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

/// The ids stored in `data`, with how often each is stored (read while a server may run).
fn stored(data: &Path) -> BTreeMap<String, usize> {
    let output = run_in(
        data,
        &["query", "--limit", "10000000", "--output", "jsonl"],
        b"",
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let mut ids = BTreeMap::new();
    for line in text(&output.stdout).lines() {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        let id = value["id"].as_str().unwrap().to_owned();
        *ids.entry(id).or_default() += 1;
    }
    ids
}

/// Waits until `data` holds at least `count` events (or fails after `seconds`).
fn wait_stored(data: &Path, count: usize, seconds: u64) -> BTreeMap<String, usize> {
    wait_for(data, seconds, &format!("{count} events"), |ids| {
        ids.len() >= count
    })
}

/// Waits until the ids stored in `data` satisfy `done` (or fails after `seconds`, saying
/// what it waited for).
fn wait_for(
    data: &Path,
    seconds: u64,
    what: &str,
    done: impl Fn(&BTreeMap<String, usize>) -> bool,
) -> BTreeMap<String, usize> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        let ids = stored(data);
        if done(&ids) {
            return ids;
        }
        assert!(
            Instant::now() < deadline,
            "waited {seconds} s for {what}; {} events were stored",
            ids.len()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn kill(mut child: Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

/// SIGTERM (the shell's own `kill`), then waits for the process.
fn terminate(child: Child) {
    let status = Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", child.id())])
        .status()
        .unwrap();
    assert!(status.success());
    let mut child = child;
    child.wait().unwrap();
}

/// A stand-in for `journalctl -o json --follow`: prints the entries in `$0.entries` after the
/// `--after-cursor` one, logs its arguments to `$0.args`, then waits like `--follow`.
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
exec sleep 60
"#;

fn fake_journalctl(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("journalctl");
    std::fs::write(&path, FAKE_JOURNALCTL).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn dcos_entries(range: std::ops::Range<usize>) -> String {
    range
        .map(|i| {
            let message = format!(
                "2025/06/01 10:00:00 [notice] 1#0: *{i} [lua] ee.lua:57: auditlog(): type=audit timestamp=2025-06-01T10:00:00Z object=dcos:adminrouter:service:app-{i} action=full result=allow reason=\"Bouncer PQ response\" srcip=192.0.2.9 srcport={} request_uri=/service/app-{i}/ uid=alice",
                10_000 + i
            );
            serde_json::json!({
                "__CURSOR": format!("s=e2e;i={i}"),
                "__REALTIME_TIMESTAMP": "1748772000000000",
                "_HOSTNAME": "master-1",
                "MESSAGE": message,
            })
            .to_string()
                + "\n"
        })
        .collect()
}

#[test]
fn serve_collects_rotating_files_and_the_journal_across_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let journalctl = fake_journalctl(dir.path());
    let config = dir.path().join("auditrail.toml");
    std::fs::write(
        &config,
        format!(
            "[[sources]]\nname = \"apiserver\"\ntype = \"file\"\npaths = [{:?}]\nformat = \"k8s\"\npoll_interval_ms = 20\n\n\
             [[sources]]\nname = \"adminrouter\"\ntype = \"journal\"\nformat = \"dcos\"\nunits = [\"dcos-adminrouter.service\"]\ncommand = {:?}\n",
            logs.join("audit*.log"),
            journalctl,
        ),
    )
    .unwrap();
    append(
        &dir.path().join("journalctl.entries"),
        &dcos_entries(0..300),
    );
    let live = logs.join("audit.log");
    append(&live, "");
    let (server, _) = start_on(&data, &config, "127.0.0.1:0");
    // The writer appends 6000 events: renamed away at 2000 (still matching the pattern),
    // copied and truncated at 4000 (the copy matches too); the server is killed at 3000.
    let writer = {
        let logs = logs.clone();
        std::thread::spawn(move || {
            let live = logs.join("audit.log");
            for i in 0..6000 {
                append(&live, &format!("{}\n", event(i)));
                if i == 1999 {
                    std::fs::rename(&live, logs.join("audit-1.log")).unwrap();
                }
                if i == 3999 {
                    std::fs::copy(&live, logs.join("audit-2.log")).unwrap();
                    std::fs::OpenOptions::new()
                        .write(true)
                        .open(&live)
                        .unwrap()
                        .set_len(0)
                        .unwrap();
                }
                if i % 100 == 0 {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        })
    };
    // Killed once the whole first journal read (300 entries) and part of the files are
    // stored, so that a cursor was saved and the restart must resume after it.
    wait_for(
        &data,
        60,
        "1500 events, 300 of them from the journal",
        |ids| ids.len() >= 1500 && ids.keys().filter(|id| !id.starts_with("col-")).count() >= 300,
    );
    kill(server);
    append(
        &dir.path().join("journalctl.entries"),
        &dcos_entries(300..400),
    );
    let (server, _) = start_on(&data, &config, "127.0.0.1:0");
    writer.join().unwrap();
    let ids = wait_stored(&data, 6000 + 400, 90);
    terminate(server);
    assert_eq!(stored(&data), ids, "nothing more after the graceful stop");
    let files: Vec<&String> = ids.keys().filter(|id| id.starts_with("col-")).collect();
    assert_eq!(files.len(), 6000, "every line written is stored");
    assert!(
        ids.values().all(|&count| count == 1),
        "no event is stored twice"
    );
    assert_eq!(
        ids.len(),
        6400,
        "and the 400 journal entries: {}",
        ids.len() - 6000
    );
    let args = std::fs::read_to_string(dir.path().join("journalctl.args")).unwrap();
    let runs: Vec<&str> = args.lines().collect();
    assert!(runs[0].contains("--output=json") && runs[0].contains("--follow"));
    assert!(
        runs.last().unwrap().contains("--after-cursor=s=e2e;i="),
        "a restart resumes after the saved cursor: {args}"
    );
    let verify = run_in(&data, &["verify"], b"");
    assert!(verify.status.success(), "{}", text(&verify.stderr));
}

fn spool_bytes(state: &Path) -> u64 {
    std::fs::read_dir(state.join("spool"))
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|entry| entry.metadata().ok())
                .map(|metadata| metadata.len())
                .sum()
        })
        .unwrap_or(0)
}

/// The agent's `/metrics` as sample name (with labels) to value.
fn agent_metrics(port: u16) -> BTreeMap<String, f64> {
    let text = ureq::get(format!("http://127.0.0.1:{port}/metrics"))
        .call()
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap();
    assert!(text.ends_with("# EOF\n"), "OpenMetrics text: {text}");
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.rsplit_once(' '))
        .map(|(name, value)| (name.to_owned(), value.parse().unwrap()))
        .collect()
}

#[test]
fn agent_forwards_through_a_server_restart_with_a_bounded_spool() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let state = dir.path().join("agent-state");
    let listen = format!("127.0.0.1:{}", free_port());
    let server_config = dir.path().join("auditrail.toml");
    std::fs::write(&server_config, "").unwrap();
    let (server, url) = start_on(&data, &server_config, &listen);
    let token = run_in(
        &data,
        &["token", "create", "--role", "ingest", "--name", "node-1"],
        b"",
    );
    assert!(token.status.success(), "{}", text(&token.stderr));
    std::fs::write(dir.path().join("agent.token"), &token.stdout).unwrap();
    let spool_limit = 1024 * 1024;
    let agent_config = dir.path().join("agent.toml");
    let metrics_port = free_port();
    std::fs::write(
        &agent_config,
        format!(
            "[agent]\nserver = {url:?}\ntoken_file = {:?}\nstate = {state:?}\nspool_bytes = {spool_limit}\nmetrics_listen = \"127.0.0.1:{metrics_port}\"\n\n\
             [[sources]]\nname = \"apiserver\"\ntype = \"file\"\npaths = [{:?}]\nformat = \"k8s\"\npoll_interval_ms = 20\n",
            dir.path().join("agent.token"),
            logs.join("audit.log"),
        ),
    )
    .unwrap();
    let live = logs.join("audit.log");
    let lines: String = (0..3000).map(|i| event(i) + "\n").collect();
    append(&live, &lines);
    let agent = Command::new(env!("CARGO_BIN_EXE_auditrail"))
        .args(["agent", "--config"])
        .arg(&agent_config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_stored(&data, 3000, 60);
    // The server goes away; 50,000 more events (about 25 MiB of lines, 25 times the spool)
    // are written meanwhile.
    kill(server);
    let lines: String = (3000..53_000).map(|i| event(i) + "\n").collect();
    append(&live, &lines);
    let file_bytes = std::fs::metadata(&live).unwrap().len();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut largest = 0;
    while Instant::now() < deadline {
        largest = largest.max(spool_bytes(&state));
        std::thread::sleep(Duration::from_millis(50));
    }
    // Back-pressure: the spool filled to its limit (plus at most one batch) and the agent
    // stopped reading, rather than spooling the whole file or dropping anything.
    // One batch is at most 4 MiB of input or 8192 events; as JSON lines somewhat more.
    let batch_max = 8 * 1024 * 1024;
    assert!(largest > spool_limit / 2, "the spool filled up: {largest}");
    assert!(
        largest <= spool_limit + batch_max,
        "spool of {largest} bytes over its limit"
    );
    assert!(largest < file_bytes / 2);
    // The agent's own metrics show it: a full spool and failed sends.
    let scrape = agent_metrics(metrics_port);
    assert!(
        scrape["auditrail_agent_spool_bytes"] > (spool_limit / 2) as f64,
        "{scrape:?}"
    );
    assert!(
        scrape["auditrail_agent_send_failures_total"] >= 1.0,
        "{scrape:?}"
    );
    let (server, _) = start_on(&data, &server_config, &listen);
    let ids = wait_stored(&data, 53_000, 180);
    assert_eq!(ids.len(), 53_000);
    assert!(ids.values().all(|&count| count == 1), "no event twice");
    // Every event acknowledged once (an entry leaves the spool when acknowledged), the spool
    // drained, and the collector's count of what it read.
    let deadline = Instant::now() + Duration::from_secs(30);
    let scrape = loop {
        let scrape = agent_metrics(metrics_port);
        if scrape["auditrail_agent_spool_batches"] == 0.0 || Instant::now() > deadline {
            break scrape;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(scrape["auditrail_agent_spool_batches"], 0.0, "{scrape:?}");
    assert_eq!(scrape["auditrail_agent_forwarded_events_total"], 53_000.0);
    assert_eq!(
        scrape["auditrail_collector_records_read_total{source=\"apiserver\"}"],
        53_000.0
    );
    assert!(scrape["auditrail_agent_send_seconds_count"] >= 1.0);
    terminate(agent);
    terminate(server);
    let verify = run_in(&data, &["verify"], b"");
    assert!(verify.status.success(), "{}", text(&verify.stderr));
}
