//! The query API of `auditrail serve` end to end, over TLS against the built binary: roles,
//! pagination by cursor, reports, checkpoint and proofs (the same JSON as `auditrail prove`),
//! the live tail as server-sent events and under `auditrail query --follow`, every read in
//! the trail as an `auditrail` event, and live tails ending on a graceful shutdown.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::serve::{Pki, pki, start};
use crate::{run_in, text};

fn agent(pki: &Pki) -> ureq::Agent {
    use ureq::tls::{Certificate, RootCerts, TlsConfig};
    let ca = Certificate::from_pem(pki.ca.as_bytes()).unwrap().to_owned();
    ureq::Agent::config_builder()
        .tls_config(
            TlsConfig::builder()
                .root_certs(RootCerts::Specific(Arc::new(vec![ca])))
                .build(),
        )
        .http_status_as_error(false)
        .build()
        .into()
}

fn token(data: &Path, role: &str, name: &str) -> String {
    let output = run_in(
        data,
        &["token", "create", "--role", role, "--name", name],
        b"",
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    text(&output.stdout).trim().to_owned()
}

/// Kubernetes events as JSON lines: `count` events by `user`, ids `prefix-N`, one second
/// apart from `first_second` past 10:00, every 4th at the same time as the one before.
fn lines(prefix: &str, user: &str, count: usize, first_second: usize) -> String {
    (0..count)
        .map(|i| {
            let second = first_second + i - i / 4;
            format!(
                r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"{prefix}-{i}","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/team/secrets/s{i}","verb":"get","user":{{"username":"{user}"}},"sourceIPs":["10.0.0.9"],"objectRef":{{"resource":"secrets","namespace":"team","name":"s{i}","apiVersion":"v1"}},"responseStatus":{{"metadata":{{}},"code":200}},"requestReceivedTimestamp":"2025-06-01T{:02}:{:02}:{:02}.000000Z","stageTimestamp":"2025-06-01T{:02}:{:02}:{:02}.000500Z"}}"#,
                10 + second / 3600,
                second / 60 % 60,
                second % 60,
                10 + second / 3600,
                second / 60 % 60,
                second % 60
            ) + "\n"
        })
        .collect()
}

struct Api {
    agent: ureq::Agent,
    address: String,
}

impl Api {
    fn get(&self, path: &str, token: &str) -> (u16, String) {
        let mut response = self
            .agent
            .get(format!("{}{path}", self.address))
            .header("Authorization", format!("Bearer {token}"))
            .call()
            .unwrap();
        let status = response.status().as_u16();
        (status, response.body_mut().read_to_string().unwrap())
    }

    fn json(&self, path: &str, token: &str) -> serde_json::Value {
        let (status, body) = self.get(path, token);
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    fn ingest(&self, body: String, token: &str) -> u16 {
        self.agent
            .post(format!("{}/api/v1/ingest/k8s", self.address))
            .header("Authorization", format!("Bearer {token}"))
            .send(body)
            .unwrap()
            .status()
            .as_u16()
    }
}

/// Reads server-sent events from `reader` until `want` events of type `audit` arrived;
/// their data.
fn read_audit_events(reader: &mut impl BufRead, want: usize) -> Vec<serde_json::Value> {
    let mut events = Vec::new();
    let mut kind = String::new();
    let mut line = String::new();
    while events.len() < want {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0, "the stream ended");
        let line = line.trim_end();
        if let Some(value) = line.strip_prefix("event: ") {
            kind = value.to_owned();
        } else if let Some(data) = line.strip_prefix("data: ")
            && kind == "audit"
        {
            events.push(serde_json::from_str(data).unwrap());
        } else if line.is_empty() {
            kind.clear();
        }
    }
    events
}

/// SIGTERM, with `kill` from Debian's `procps` (`.ci/run` installs it).
fn terminate(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("this test needs the kill program: apt-get install procps");
    assert!(status.success());
}

#[test]
fn query_api_over_tls_with_roles_streams_and_audited_reads() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let pki = pki(dir.path());
    let ca_file = dir.path().join("ca.crt");
    let config = dir.path().join("auditrail.toml");
    std::fs::write(
        &config,
        format!(
            "[tls]\ncert = {:?}\nkey = {:?}\n",
            dir.path().join("server.crt"),
            dir.path().join("server.key"),
        ),
    )
    .unwrap();
    let reader = token(&data, "read", "reader");
    let hook = token(&data, "ingest", "hook");
    let (mut server, address) = start(&data, &config);
    let api = Api {
        agent: agent(&pki),
        address: address.clone(),
    };

    // Roles: the ingest token cannot read, the read token cannot ingest, nothing without one.
    assert_eq!(api.ingest(lines("a", "alice", 400, 0), &hook), 200);
    assert_eq!(api.get("/api/v1/events", &hook).0, 403);
    assert_eq!(api.ingest(lines("x", "alice", 1, 0), &reader), 403);
    assert_eq!(api.get("/api/v1/events", "adt_not-a-token").0, 401);
    for path in [
        "/api/v1/reports/codes",
        "/api/v1/checkpoint",
        "/api/v1/proof/a-1",
        "/api/v1/events/stream",
    ] {
        assert_eq!(api.get(path, &hook).0, 403, "{path}");
    }

    // Pagination: every event once, newest first, while more arrive.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut previous_time = String::from("9999");
    for round in 0.. {
        let mut path = "/api/v1/events?user=alice&source=k8s&limit=64".to_owned();
        if let Some(cursor) = &cursor {
            path.push_str("&cursor=");
            path.push_str(cursor);
        }
        let page = api.json(&path, &reader);
        for event in page["events"].as_array().unwrap() {
            let time = event["time"].as_str().unwrap().to_owned();
            assert!(time <= previous_time, "newest first");
            previous_time = time;
            seen.push(event["id"].as_str().unwrap().to_owned());
        }
        assert_eq!(
            api.ingest(lines(&format!("late{round}"), "alice", 3, 20_000), &hook),
            200
        );
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 400);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 400);
    assert!(seen.iter().all(|id| id.starts_with("a-")));
    let k8s = api.json("/api/v1/events?user=alice&limit=2&output=k8s", &reader);
    assert_eq!(k8s["events"][0]["kind"], "Event");
    assert_eq!(k8s["events"][0]["apiVersion"], "audit.k8s.io/v1");

    // Reports, the checkpoint, a proof.
    let top = api.json("/api/v1/reports/top-users?source=k8s", &reader);
    assert_eq!(top[0]["key"], "alice");
    let requests = top[0]["requests"].as_u64().unwrap();
    assert!(requests >= 400, "{top}");
    let by_namespace = api.json("/api/v1/reports/chargeback?source=k8s", &reader);
    assert_eq!(by_namespace[0]["key"], "team");
    let (status, raw) = api.get("/api/v1/proof/a-7", &reader);
    assert_eq!(status, 200, "{raw}");
    assert!(
        raw.starts_with(r#"[{"seq":"#),
        "the fields in prove's order: {raw}"
    );
    let proofs: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(proofs.as_array().unwrap().len(), 1);
    assert_eq!(proofs[0]["event"]["id"], "a-7");
    let (status, checkpoint) = api.get("/api/v1/checkpoint", &reader);
    assert_eq!(status, 200);
    assert!(checkpoint.contains("\n\n— "), "a signed note: {checkpoint}");

    // The live tail: events stored after subscribing, filtered.
    let stream = api
        .agent
        .get(format!("{address}/api/v1/events/stream?user=bob"))
        .header("Authorization", format!("Bearer {reader}"))
        .call()
        .unwrap();
    assert_eq!(stream.status().as_u16(), 200);
    let mut stream = BufReader::new(stream.into_body().into_reader());
    assert_eq!(api.ingest(lines("carol", "carol", 2, 30_000), &hook), 200);
    assert_eq!(api.ingest(lines("bob", "bob", 5, 30_000), &hook), 200);
    let streamed = read_audit_events(&mut stream, 5);
    let ids: Vec<&str> = streamed.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["bob-0", "bob-1", "bob-2", "bob-3", "bob-4"]);

    // `auditrail query --follow` prints what arrives, as a table by default.
    let mut follow = Command::new(env!("CARGO_BIN_EXE_auditrail"))
        .args([
            "query", "--follow", "--user", "dave", "--server", &address, "--ca",
        ])
        .arg(&ca_file)
        .env("AUDITRAIL_TOKEN", &reader)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut follow_err = BufReader::new(follow.stderr.take().unwrap());
    let mut line = String::new();
    follow_err.read_line(&mut line).unwrap();
    assert!(line.contains("following"), "{line}");
    assert_eq!(api.ingest(lines("dave", "dave", 3, 40_000), &hook), 200);
    let mut follow_out = BufReader::new(follow.stdout.take().unwrap());
    let mut printed = Vec::new();
    while printed.len() < 4 {
        let mut line = String::new();
        assert!(follow_out.read_line(&mut line).unwrap() > 0, "follow ended");
        printed.push(line);
    }
    assert!(printed[0].starts_with("TIME"), "{printed:?}");
    for (at, line) in printed[1..].iter().enumerate() {
        assert!(line.contains("dave"), "{line}");
        assert!(line.contains(&format!("secrets team/s{at}")), "{line}");
    }

    // A wrong role is a clear error from --follow.
    let refused = Command::new(env!("CARGO_BIN_EXE_auditrail"))
        .args(["query", "--follow", "--server", &address, "--ca"])
        .arg(&ca_file)
        .env("AUDITRAIL_TOKEN", &hook)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused.stderr).contains("read role"),
        "{}",
        text(&refused.stderr)
    );

    // Every read is in the trail, as an `auditrail` event, readable from the data directory
    // while the server runs.
    let audited = run_in(
        &data,
        &[
            "query",
            "--source",
            "auditrail",
            "--output",
            "jsonl",
            "--limit",
            "10000",
        ],
        b"",
    );
    assert!(audited.status.success(), "{}", text(&audited.stderr));
    let reads: Vec<serde_json::Value> = text(&audited.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let has = |user: &str, verb: &str, uri: &str, code: u64| {
        reads.iter().any(|read| {
            read["user"]["name"] == user
                && read["verb"] == verb
                && read["uri"].as_str().unwrap().starts_with(uri)
                && read["status"]["code"] == code
                && read["source_ips"][0] == "127.0.0.1"
        })
    };
    assert!(has(
        "token:reader",
        "list",
        "/api/v1/events?user=alice",
        200
    ));
    assert!(has("token:reader", "get", "/api/v1/reports/top-users", 200));
    assert!(has("token:reader", "get", "/api/v1/proof/a-7", 200));
    assert!(has("token:reader", "get", "/api/v1/checkpoint", 200));
    assert!(has(
        "token:reader",
        "watch",
        "/api/v1/events/stream?user=bob",
        200
    ));
    assert!(has(
        "token:reader",
        "watch",
        "/api/v1/events/stream?user=dave",
        200
    ));
    assert!(has("token:hook", "list", "/api/v1/events", 403));
    assert!(has("token:hook", "watch", "/api/v1/events/stream", 403));

    // A graceful stop ends the live tails instead of waiting for them.
    let stopping = Instant::now();
    terminate(&server);
    let status = server.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(
        stopping.elapsed() < Duration::from_secs(20),
        "shutdown waited for the streams: {:?}",
        stopping.elapsed()
    );
    let mut rest = String::new();
    let _ = stream.read_to_string(&mut rest);
    let followed = follow.wait().unwrap();
    assert_eq!(followed.code(), Some(2), "--follow says the stream ended");
    let mut message = String::new();
    follow_err.read_to_string(&mut message).unwrap();
    assert!(message.contains("ended the stream"), "{message}");

    // `auditrail prove` gives the JSON the API gave.
    let prove = run_in(&data, &["prove", "a-7", "--output", "json"], b"");
    assert!(prove.status.success(), "{}", text(&prove.stderr));
    let cli: serde_json::Value = serde_json::from_str(text(&prove.stdout).trim()).unwrap();
    assert_eq!(cli["seq"], proofs[0]["seq"]);
    assert_eq!(cli["record"], proofs[0]["record"]);
    assert_eq!(cli["event"], proofs[0]["event"]);
    let keys = |value: &serde_json::Value| {
        let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(keys(&cli), keys(&proofs[0]));
    assert_eq!(keys(&cli["proof"]), keys(&proofs[0]["proof"]));
    let verify = run_in(&data, &["verify"], b"");
    assert!(verify.status.success(), "{}", text(&verify.stdout));
}
