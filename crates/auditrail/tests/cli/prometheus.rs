//! Operations end to end: a real Prometheus (Debian package `prometheus`) scrapes the built
//! `auditrail serve`, and a PromQL query over its HTTP API returns the ingested count; every
//! expression of the Grafana dashboard (`deploy/grafana/auditrail.json`) names metrics of a
//! live scrape and evaluates, in that Prometheus, to data.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::serve::start;
use crate::{run_in, text};

/// Events ingested by each test: 3 batches of 400.
const BATCHES: usize = 3;
const BATCH_EVENTS: usize = 400;

/// How long Prometheus may take to start, scrape and answer.
const PROMETHEUS_WAIT: Duration = Duration::from_secs(60);

/// A `prometheus` server on a free loopback port, its storage in a temporary directory;
/// killed when dropped.
struct Prometheus {
    child: Child,
    url: String,
    agent: ureq::Agent,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Prometheus {
    fn start(dir: &Path, config: &str) -> Prometheus {
        let binary = std::env::var_os("PROMETHEUS")
            .map_or_else(|| PathBuf::from("prometheus"), PathBuf::from);
        let config_path = dir.join("prometheus.yml");
        std::fs::write(&config_path, config).unwrap();
        let port = free_port();
        let child = Command::new(&binary)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot run {}: {error}; install the Debian package `prometheus` \
                     (apt-get install prometheus) or set PROMETHEUS to its path",
                    binary.display()
                )
            });
        let prometheus = Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(10)))
                .build()
                .into(),
        };
        prometheus.wait_for("ready", || {
            prometheus
                .agent
                .get(format!("{}/-/ready", prometheus.url))
                .call()
                .is_ok_and(|response| response.status() == 200)
        });
        prometheus
    }

    /// Waits (at most [`PROMETHEUS_WAIT`]) until `condition` holds.
    fn wait_for(&self, what: &str, mut condition: impl FnMut() -> bool) {
        let deadline = Instant::now() + PROMETHEUS_WAIT;
        while !condition() {
            assert!(
                Instant::now() < deadline,
                "prometheus: not {what} within {PROMETHEUS_WAIT:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The result vector of an instant query.
    fn query(&self, promql: &str) -> Vec<Value> {
        let response = self
            .agent
            .get(format!("{}/api/v1/query", self.url))
            .query("query", promql)
            .call()
            .unwrap();
        let status = response.status();
        let body: Value = serde_json::from_reader(response.into_body().into_reader()).unwrap();
        assert_eq!(status, 200, "{promql}: {body}");
        assert_eq!(body["status"], "success", "{promql}: {body}");
        body["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The value of a query with one series, if it has one.
    fn scalar(&self, promql: &str) -> Option<f64> {
        let result = self.query(promql);
        result
            .first()
            .and_then(|series| series["value"][1].as_str())
            .map(|value| value.parse().unwrap())
    }
}

fn event(id: &str, verb: &str, code: u16) -> String {
    format!(
        r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"{id}","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/pods","verb":"{verb}","user":{{"username":"alice"}},"sourceIPs":["10.0.0.1"],"objectRef":{{"resource":"pods","namespace":"default","apiVersion":"v1"}},"responseStatus":{{"metadata":{{}},"code":{code}}},"requestReceivedTimestamp":"2025-06-01T10:00:00.000000Z","stageTimestamp":"2025-06-01T10:00:00.010000Z"}}"#
    )
}

/// A server with a policy that drops `watch`es, plain HTTP on a free port.
struct Served {
    server: Child,
    address: String,
    data: PathBuf,
    ingest_token: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

fn serve(dir: &Path, require_auth: bool) -> Served {
    let data = dir.join("data");
    let policy = dir.join("policy.yaml");
    std::fs::write(
        &policy,
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  verbs: [watch]\n- level: Metadata\n",
    )
    .unwrap();
    let config = dir.join("auditrail.toml");
    std::fs::write(
        &config,
        format!(
            "policy = {policy:?}\n[limits]\nbody_bytes = 1048576\n[metrics]\nrequire_auth = {require_auth}\n"
        ),
    )
    .unwrap();
    let (server, address) = start(&data, &config);
    let created = run_in(
        &data,
        &["token", "create", "--role", "ingest", "--name", "hook"],
        b"",
    );
    assert!(created.status.success(), "{}", text(&created.stderr));
    Served {
        server,
        address,
        data,
        ingest_token: text(&created.stdout).trim().to_owned(),
    }
}

/// Ingests [`BATCHES`] EventLists of [`BATCH_EVENTS`] kept events; also a retried batch,
/// dropped watches, a malformed item and a refused oversized body, so that every labelled
/// metric has series.
fn ingest(served: &Served) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("{}/api/v1/ingest/k8s", served.address);
    let post = |body: String| {
        agent
            .post(&url)
            .header("Authorization", &format!("Bearer {}", served.ingest_token))
            .header("Content-Type", "application/json")
            .send(body)
    };
    let list = |items: Vec<String>| {
        format!(
            r#"{{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{{}},"items":[{}]}}"#,
            items.join(",")
        )
    };
    let batch = |number: usize| {
        list(
            (0..BATCH_EVENTS)
                .map(|i| {
                    let code = if i % 10 == 0 { 404 } else { 200 };
                    event(&format!("prom-{number}-{i}"), "get", code)
                })
                .collect(),
        )
    };
    // The server reads a token created beside it within a second.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // Until then: 401, answered on the headers, so the client may instead see the
        // connection closed while it still sends the body.
        match post(batch(0)) {
            Ok(response) if response.status() == 200 => break,
            Ok(response) => assert_eq!(response.status(), 401),
            Err(_) => {}
        }
        assert!(
            Instant::now() < deadline,
            "the ingest token is not accepted"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    for number in 1..BATCHES {
        let response = post(batch(number)).unwrap();
        assert_eq!(response.status(), 200);
    }
    // A retry (stored before), watches the policy drops, a malformed item.
    assert_eq!(post(batch(0)).unwrap().status(), 200);
    let extra = list(vec![
        event("prom-watch-1", "watch", 200),
        event("prom-watch-2", "watch", 200),
        r#"{"kind":"Event","verb":7}"#.to_owned(),
    ]);
    assert_eq!(post(extra).unwrap().status(), 200);
    // Larger than the body limit: refused on its headers (the client may see the
    // connection closed instead of the 413).
    let _ = post("x".repeat(2 * 1024 * 1024));
}

fn scrape_config(address: &str, job: &str, token: Option<&Path>) -> String {
    let target = address.strip_prefix("http://").unwrap();
    let authorization = token.map_or_else(String::new, |path| {
        format!("    authorization:\n      type: Bearer\n      credentials_file: {path:?}\n")
    });
    format!(
        "  - job_name: {job}\n    metrics_path: /metrics\n{authorization}    static_configs:\n      - targets: ['{target}']\n"
    )
}

fn prometheus_config(jobs: &[String]) -> String {
    format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nscrape_configs:\n{}",
        jobs.concat()
    )
}

/// Waits until Prometheus has scraped the ingested count, and checks it.
fn assert_ingested_count(prometheus: &Prometheus, job: &str) {
    let stored = format!(r#"sum(auditrail_events_stored_total{{job="{job}"}})"#);
    let expected = (BATCHES * BATCH_EVENTS) as f64;
    prometheus.wait_for("scraped the ingested events", || {
        prometheus.scalar(&stored) == Some(expected)
    });
    // The same count from the other side of the accounting, and the refused, by label.
    let by = |promql: &str| prometheus.scalar(&promql.replace("JOB", job));
    assert_eq!(
        by(r#"sum(auditrail_events_stored_total{job="JOB",verb="get",code_class="4xx"})"#),
        Some(expected / 10.0)
    );
    assert_eq!(
        by(r#"sum(auditrail_events_duplicate_total{job="JOB"})"#),
        Some(BATCH_EVENTS as f64)
    );
    assert_eq!(
        by(r#"sum(auditrail_events_dropped_total{job="JOB",verb="watch",reason="policy"})"#),
        Some(2.0)
    );
    assert_eq!(
        by(r#"sum(auditrail_quarantined_records_total{job="JOB"})"#),
        Some(1.0)
    );
    assert_eq!(
        by(r#"auditrail_ledger_tree_size{job="JOB"}"#),
        Some(expected)
    );
    assert_eq!(by(r#"up{job="JOB"}"#), Some(1.0));
}

#[test]
fn prometheus_scrapes_metrics_with_a_read_token_and_counts_the_ingested_events() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path(), true);
    let created = run_in(
        &served.data,
        &["token", "create", "--role", "read", "--name", "prometheus"],
        b"",
    );
    assert!(created.status.success(), "{}", text(&created.stderr));
    let token = dir.path().join("read.token");
    std::fs::write(&token, text(&created.stdout).trim()).unwrap();
    let prometheus_dir = dir.path().join("prometheus");
    std::fs::create_dir(&prometheus_dir).unwrap();
    let prometheus = Prometheus::start(
        &prometheus_dir,
        &prometheus_config(&[
            scrape_config(&served.address, "auditrail", Some(&token)),
            scrape_config(&served.address, "anonymous", None),
        ]),
    );
    ingest(&served);
    assert_ingested_count(&prometheus, "auditrail");
    // Without credentials the scrape fails (401): the target is down.
    prometheus.wait_for("scraped the anonymous job", || {
        prometheus.scalar(r#"up{job="anonymous"}"#).is_some()
    });
    assert_eq!(prometheus.scalar(r#"up{job="anonymous"}"#), Some(0.0));
    dashboard_queries_have_data(&prometheus, &served);
}

#[test]
fn prometheus_scrapes_metrics_without_credentials_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path(), false);
    let prometheus_dir = dir.path().join("prometheus");
    std::fs::create_dir(&prometheus_dir).unwrap();
    let prometheus = Prometheus::start(
        &prometheus_dir,
        &prometheus_config(&[scrape_config(&served.address, "auditrail", None)]),
    );
    ingest(&served);
    assert_ingested_count(&prometheus, "auditrail");
}

/// The PromQL expressions of the Grafana dashboard, with Grafana's variables given values.
fn dashboard_expressions() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/grafana/auditrail.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut expressions = Vec::new();
    let mut panels: Vec<&Value> = dashboard["panels"].as_array().unwrap().iter().collect();
    while let Some(panel) = panels.pop() {
        if let Some(nested) = panel["panels"].as_array() {
            panels.extend(nested);
        }
        for target in panel["targets"].as_array().into_iter().flatten() {
            expressions.push(target["expr"].as_str().unwrap().to_owned());
        }
    }
    for variable in dashboard["templating"]["list"].as_array().unwrap() {
        if let Some(query) = variable["definition"].as_str()
            && let Some(inner) = query
                .strip_prefix("label_values(")
                .and_then(|rest| rest.split(',').next())
        {
            expressions.push(inner.to_owned());
        }
    }
    assert!(expressions.len() >= 20, "{expressions:?}");
    expressions
        .into_iter()
        .map(|expression| {
            expression
                .replace("$__rate_interval", "1m")
                .replace("$__range", "5m")
                .replace("$instance", ".*")
        })
        .collect()
}

/// The metric names an expression refers to: identifiers that are not PromQL functions,
/// keywords, label names of a grouping, or inside label matchers, strings and ranges.
fn metric_names(expression: &str) -> BTreeSet<String> {
    // Blank out label matchers, strings and range selectors.
    let mut cleaned = String::new();
    let (mut braces, mut brackets, mut quoted) = (0, 0, false);
    for c in expression.chars() {
        let hidden = quoted || braces > 0 || brackets > 0;
        match c {
            '"' => quoted = !quoted,
            '{' if !quoted => braces += 1,
            '}' if !quoted => braces -= 1,
            '[' if !quoted => brackets += 1,
            ']' if !quoted => brackets -= 1,
            _ => {}
        }
        cleaned.push(if hidden || "\"{}[]".contains(c) {
            ' '
        } else {
            c
        });
    }
    let identifier = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut names = BTreeSet::new();
    let mut grouping = false;
    let mut position = 0;
    while position < cleaned.len() {
        let rest = &cleaned[position..];
        let Some(start) = rest.find(identifier) else {
            break;
        };
        let length = rest[start..]
            .find(|c: char| !identifier(c))
            .unwrap_or(rest.len() - start);
        let word = &rest[start..start + length];
        let after = rest[start + length..].trim_start();
        let before = rest[..start].trim_end();
        position += start + length;
        if grouping {
            // Label names of `by (…)`, up to its closing parenthesis.
            grouping = !after.starts_with(')');
            continue;
        }
        if word.starts_with(|c: char| c.is_ascii_digit()) || before.ends_with('.') {
            continue;
        }
        if matches!(
            word,
            "by" | "without" | "on" | "ignoring" | "group_left" | "group_right"
        ) {
            grouping = true;
            continue;
        }
        // An aggregation: `sum by (…) (…)`.
        let aggregation = ["by", "without"].iter().any(|keyword| {
            after
                .strip_prefix(keyword)
                .is_some_and(|rest| rest.trim_start().starts_with('('))
        });
        if aggregation
            || after.starts_with('(')
            || matches!(word, "and" | "or" | "unless" | "bool" | "offset")
        {
            continue;
        }
        names.insert(word.to_owned());
    }
    names
}

#[test]
fn metric_names_are_read_from_promql() {
    let names = metric_names(
        r#"histogram_quantile(0.99, sum by (le, source) (rate(a_seconds_bucket{x=~"$i", y="b c"}[1m]))) / max(b_bytes) and on (instance) c_total"#,
    );
    let expected: BTreeSet<String> = ["a_seconds_bucket", "b_bytes", "c_total"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(names, expected);
}

/// Every metric the dashboard names is in a live scrape, and every expression evaluates to
/// data in Prometheus.
fn dashboard_queries_have_data(prometheus: &Prometheus, served: &Served) {
    let scrape = ureq::get(format!("{}/metrics", served.address))
        .header(
            "Authorization",
            &format!(
                "Bearer {}",
                std::fs::read_to_string(served.data.join("admin.token"))
                    .unwrap()
                    .trim()
            ),
        )
        .call()
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap();
    let exported: BTreeSet<&str> = scrape
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| line.split(['{', ' ']).next())
        .collect();
    let expressions = dashboard_expressions();
    let mut missing = Vec::new();
    for expression in &expressions {
        for name in metric_names(expression) {
            if !exported.contains(name.as_str()) {
                missing.push(format!("{name} (in {expression})"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "the dashboard names metrics the server does not export: {missing:#?}\nexported: {exported:#?}"
    );
    // rate() needs two scrapes inside its window: wait for a few after the ingest.
    for expression in &expressions {
        prometheus.wait_for("evaluated a dashboard query to data", || {
            !prometheus.query(expression).is_empty()
        });
    }
}

#[test]
fn shipped_scrape_configuration_is_valid() {
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/prometheus/prometheus.yml"),
    )
    .unwrap();
    // promtool checks that the files it names exist: point them at files here.
    let dir = tempfile::tempdir().unwrap();
    let mut config = shipped.clone();
    for file in ["auditrail-read.token", "auditrail-ca.crt"] {
        let path = dir.path().join(file);
        std::fs::write(&path, "x").unwrap();
        let shipped_path = format!("/etc/prometheus/{file}");
        assert!(shipped.contains(&shipped_path), "{shipped_path}");
        config = config.replace(&shipped_path, path.to_str().unwrap());
    }
    let path = dir.path().join("prometheus.yml");
    std::fs::write(&path, config).unwrap();
    let promtool =
        std::env::var_os("PROMTOOL").map_or_else(|| PathBuf::from("promtool"), PathBuf::from);
    let checked = Command::new(&promtool)
        .args(["check", "config"])
        .arg(&path)
        .output()
        .unwrap_or_else(|error| {
            panic!(
                "cannot run {}: {error}; install the Debian package `prometheus` \
                 (apt-get install prometheus)",
                promtool.display()
            )
        });
    assert!(
        checked.status.success(),
        "{}{}",
        text(&checked.stdout),
        text(&checked.stderr)
    );
    // It scrapes the path the server serves its metrics on.
    assert!(shipped.contains("metrics_path: /metrics"));
}
