//! Router tests without sockets: tower's `oneshot` against [`router`], a store in a
//! temporary directory driven by the real writer thread.

use std::sync::Arc;
use std::sync::mpsc::Receiver;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use policy::Policy;
use store::{Store, StoreOptions};
use tower::ServiceExt;

use crate::app::{AppState, IngestAnswer, StateParts, router};
use crate::auth::{Authenticator, PeerIdentity, Role, Tokens};
use crate::config::{ClientRole, Limits};
use crate::metrics::Metrics;
use crate::pipeline::{IngestQueue, Message, spawn_writer};
use crate::stream::Hub;
use index::host::{HostReport, Selection};
use index::table::{DEFAULT_HOST_ROWS, ReportSpec};
use tokio::sync::watch;

struct Harness {
    state: AppState,
    data: tempfile::TempDir,
    admin: String,
    ingest: String,
    read: String,
    writer: Option<std::thread::JoinHandle<Result<(), crate::ServerError>>>,
    /// The queue's receiving end, when no writer drains it (overload tests).
    _stalled: Option<Receiver<Message>>,
}

fn harness_with(limits: Limits, writer: bool) -> Harness {
    harness_with_policy(limits, writer, Policy::permissive())
}

fn harness_with_policy(limits: Limits, writer: bool, policy: Policy) -> Harness {
    harness_in(tempfile::tempdir().unwrap(), limits, writer, policy)
}

fn harness_in(data: tempfile::TempDir, limits: Limits, writer: bool, policy: Policy) -> Harness {
    let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_750_000_000);
    let tokens = Tokens::new(data.path());
    let (admin, _) = tokens.create(Role::Admin, Some("admin"), now).unwrap();
    let (ingest, _) = tokens.create(Role::Ingest, Some("hook"), now).unwrap();
    let (read, _) = tokens.create(Role::Read, Some("reader"), now).unwrap();
    let auth = Authenticator::new(
        tokens,
        vec![ClientRole {
            subject: "kube-apiserver".to_owned(),
            role: Role::Ingest,
        }],
    )
    .unwrap();
    let metrics = Arc::new(Metrics::new());
    let (queue, receiver) = IngestQueue::new(limits.queue_batches, Arc::clone(&metrics));
    let hub = Hub::new();
    let (writer, stalled) = if writer {
        let store = Store::open(data.path(), StoreOptions::default(), now).unwrap();
        (
            Some(spawn_writer(store, receiver, Arc::clone(&metrics), hub.clone()).unwrap()),
            None,
        )
    } else {
        (None, Some(receiver))
    };
    let state = AppState::new(StateParts {
        queue,
        policy: Arc::new(policy),
        auth,
        metrics,
        limits,
        metrics_require_auth: true,
        data: data.path().to_owned(),
        hub,
        shutdown: watch::channel(false).1,
    });
    Harness {
        state,
        data,
        admin,
        ingest,
        read,
        writer,
        _stalled: stalled,
    }
}

fn harness() -> Harness {
    harness_with(Limits::default(), true)
}

impl Harness {
    async fn send(&self, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
        let response = router(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, headers, String::from_utf8(body.to_vec()).unwrap())
    }

    async fn post(&self, path: &str, token: Option<&str>, body: String) -> (StatusCode, String) {
        let mut request = Request::post(path).header(header::CONTENT_TYPE, "application/json");
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let (status, _, body) = self.send(request.body(Body::from(body)).unwrap()).await;
        (status, body)
    }

    /// Stops the writer and reopens the store.
    fn finish(mut self) -> (Store, tempfile::TempDir) {
        self.state.queue().stop();
        self.writer.take().unwrap().join().unwrap().unwrap();
        let store = Store::open(
            self.data.path(),
            StoreOptions::default(),
            std::time::UNIX_EPOCH,
        )
        .unwrap();
        (store, self.data)
    }
}

fn event(id: &str) -> String {
    format!(
        r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"{id}","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/pods","verb":"list","user":{{"username":"alice"}},"sourceIPs":["10.0.0.1"],"objectRef":{{"resource":"pods","namespace":"default","apiVersion":"v1"}},"responseStatus":{{"metadata":{{}},"code":200}},"requestReceivedTimestamp":"2025-06-01T10:00:00.000000Z","stageTimestamp":"2025-06-01T10:00:00.010000Z"}}"#
    )
}

fn event_list(ids: &[String]) -> String {
    let items: Vec<String> = ids.iter().map(|id| event(id)).collect();
    format!(
        r#"{{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{{}},"items":[{}]}}"#,
        items.join(",")
    )
}

fn ids(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{prefix}-{i}")).collect()
}

const K8S: &str = "/api/v1/ingest/k8s";

#[tokio::test]
async fn health_needs_no_credentials() {
    let h = harness();
    for path in ["/healthz", "/readyz"] {
        let (status, _, _) = h
            .send(Request::get(path).body(Body::empty()).unwrap())
            .await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    let (status, _, _) = h
        .send(Request::get("/nope").body(Body::empty()).unwrap())
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn credentials_and_roles() {
    let h = harness();
    let body = event_list(&ids("r", 1));
    let (status, text) = h.post(K8S, None, body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(text.contains("authentication required"), "{text}");
    let (status, _) = h.post(K8S, Some("adt_wrong"), body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, text) = h.post(K8S, Some(&h.read), body.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
    let (status, _) = h.post(K8S, Some(&h.ingest), body.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = h.post(K8S, Some(&h.admin), body.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let metrics = |token: Option<String>| {
        let mut request = Request::get("/metrics");
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        request.body(Body::empty()).unwrap()
    };
    assert_eq!(h.send(metrics(None)).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        h.send(metrics(Some(h.ingest.clone()))).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, _, text) = h.send(metrics(Some(h.read.clone()))).await;
    assert_eq!(status, StatusCode::OK);
    let labels = r#"{source="k8s",verb="list",code_class="2xx"}"#;
    assert!(
        text.contains(&format!("auditrail_events_stored_total{labels} 1\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!("auditrail_events_duplicate_total{labels} 1\n")),
        "{text}"
    );
    // A client certificate whose subject has the ingest role.
    let mut request = Request::post(K8S)
        .body(Body::from(event_list(&ids("c", 1))))
        .unwrap();
    request.extensions_mut().insert(PeerIdentity {
        common_names: vec!["kube-apiserver".to_owned()],
        alt_names: Vec::new(),
    });
    assert_eq!(h.send(request).await.0, StatusCode::OK);
    let mut request = Request::post(K8S)
        .body(Body::from(event_list(&ids("c", 1))))
        .unwrap();
    request.extensions_mut().insert(PeerIdentity {
        common_names: vec!["someone-else".to_owned()],
        alt_names: Vec::new(),
    });
    assert_eq!(h.send(request).await.0, StatusCode::UNAUTHORIZED);
    h.finish();
}

#[tokio::test]
async fn event_list_is_stored_once() {
    let h = harness();
    let batch = event_list(&ids("e", 400));
    let (status, text) = h.post(K8S, Some(&h.ingest), batch.clone()).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let answer: IngestAnswer = serde_json::from_str(&text).unwrap();
    assert_eq!(answer.events, 400);
    assert_eq!(answer.kept, 400);
    // A retry of the same batch: 200 again, stored once.
    let (status, _) = h.post(K8S, Some(&h.ingest), batch).await;
    assert_eq!(status, StatusCode::OK);
    let (store, _data) = h.finish();
    let stored: Vec<String> = (store.ledger().first_seq()..store.ledger().tree_size())
        .filter_map(|seq| store.event(seq).unwrap())
        .map(|event| event.id)
        .collect();
    assert_eq!(stored.len(), 400);
    assert_eq!(stored[0], "e-0");
    assert_eq!(stored[399], "e-399");
}

#[tokio::test]
async fn other_formats_take_lines() {
    let h = harness();
    let lines = format!("{}\n{}\n", event("l-1"), event("l-2"));
    for format in ["auto", "k8s"] {
        let (status, text) = h
            .post(
                &format!("/api/v1/ingest/{format}"),
                Some(&h.ingest),
                lines.clone(),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{format}: {text}");
    }
    let legacy = r#"2025-06-01T10:00:00.000000000Z AUDIT: id="x-1" stage="ResponseComplete" ip="10.0.0.1" method="get" user="bob" groups="<none>" as="<self>" asgroups="<lookup>" namespace="default" uri="/api/v1/namespaces/default/pods" response="200""#;
    let (status, text) = h
        .post(
            "/api/v1/ingest/k8s-legacy",
            Some(&h.ingest),
            legacy.to_owned(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let (status, _) = h
        .post("/api/v1/ingest/nonsense", Some(&h.ingest), lines)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (store, _data) = h.finish();
    assert_eq!(store.find_id("x-1").unwrap().len(), 1);
    assert_eq!(store.find_id("l-2").unwrap().len(), 1);
}

#[tokio::test]
async fn partly_bad_batch_is_accepted_and_bad_records_quarantined() {
    let h = harness();
    let body = format!(
        r#"{{"kind":"EventList","items":[{},{{"verb":["not a verb"]}},{}]}}"#,
        event("p-1"),
        event("p-2")
    );
    let (status, text) = h.post(K8S, Some(&h.ingest), body).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let answer: IngestAnswer = serde_json::from_str(&text).unwrap();
    assert_eq!((answer.kept, answer.quarantined), (2, 1));
    let (status, text) = h
        .post(K8S, Some(&h.ingest), "this is not json\n{{{\n".to_owned())
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(!text.contains("line"), "no internal detail: {text}");
    let (status, _) = h.post(K8S, Some(&h.ingest), "  \n".to_owned()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (store, data) = h.finish();
    assert_eq!(store.find_id("p-2").unwrap().len(), 1);
    let quarantine = std::fs::read_to_string(data.path().join("quarantine.jsonl")).unwrap();
    assert_eq!(quarantine.lines().count(), 3, "{quarantine}");
    assert!(quarantine.contains("not a verb"));
}

#[tokio::test]
async fn body_over_the_limit_gets_413() {
    let limits = Limits {
        body_bytes: 4096,
        ..Limits::default()
    };
    let h = harness_with(limits, true);
    let (status, _) = h
        .post(K8S, Some(&h.ingest), event_list(&ids("big", 40)))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // (`post` sends no Content-Length: the limit held while reading.)
    // With a Content-Length, refused before the body is read.
    let request = Request::post(K8S)
        .header(header::AUTHORIZATION, format!("Bearer {}", h.ingest))
        .header(header::CONTENT_LENGTH, "1000000")
        .body(Body::from(event_list(&ids("big", 40))))
        .unwrap();
    assert_eq!(h.send(request).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    h.finish();
}

#[tokio::test]
async fn full_queue_is_refused_with_retry_after() {
    let limits = Limits {
        queue_batches: 1,
        ..Limits::default()
    };
    let h = harness_with(limits, false);
    // No writer drains the queue: the first batch waits in it, the second finds it full.
    let first = {
        let state = h.state.clone();
        let token = h.ingest.clone();
        tokio::spawn(async move {
            let request = Request::post(K8S)
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::from(event_list(&ids("q", 1))))
                .unwrap();
            router(state).oneshot(request).await.unwrap().status()
        })
    };
    for _ in 0..100 {
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let request = Request::post(K8S)
            .header(header::AUTHORIZATION, format!("Bearer {}", h.ingest))
            .body(Body::from(event_list(&ids("q2", 1))))
            .unwrap();
        let (status, headers, _) = h.send(request).await;
        if status == StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(headers.get(header::RETRY_AFTER).unwrap(), "1");
            first.abort();
            return;
        }
    }
    panic!("the full queue never refused a batch");
}

#[tokio::test]
async fn no_free_ingest_slot_is_refused() {
    let limits = Limits {
        ingest_concurrent: 1,
        queue_batches: 1,
        ..Limits::default()
    };
    let h = harness_with(limits, false);
    let first = {
        let state = h.state.clone();
        let token = h.ingest.clone();
        tokio::spawn(async move {
            let request = Request::post(K8S)
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::from(event_list(&ids("s", 1))))
                .unwrap();
            router(state).oneshot(request).await.unwrap().status()
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let (status, text) = h
        .post(K8S, Some(&h.ingest), event_list(&ids("s2", 1)))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    first.abort();
}

#[tokio::test]
async fn rate_limit_per_principal() {
    let limits = Limits {
        rate_requests_per_second: 1,
        rate_burst: 2,
        ..Limits::default()
    };
    let h = harness_with(limits, true);
    let body = event_list(&ids("rl", 1));
    assert_eq!(
        h.post(K8S, Some(&h.ingest), body.clone()).await.0,
        StatusCode::OK
    );
    assert_eq!(
        h.post(K8S, Some(&h.ingest), body.clone()).await.0,
        StatusCode::OK
    );
    let (status, _) = h.post(K8S, Some(&h.ingest), body.clone()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Another principal has its own bucket.
    assert_eq!(h.post(K8S, Some(&h.admin), body).await.0, StatusCode::OK);
    h.finish();
}

/// One sample of the exposition `text`: `name` with exactly `labels` (`{…}` or empty).
fn sample(text: &str, name: &str, labels: &str) -> Option<f64> {
    let prefix = format!("{name}{labels} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map(|value| value.parse().unwrap())
}

#[tokio::test]
async fn metrics_account_for_every_event_by_source_verb_and_code_class() {
    let policy = Policy::load(
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  verbs: [get]\n- level: Metadata\n",
    )
    .unwrap()
    .policy;
    let h = harness_with_policy(Limits::default(), true, policy);
    let get = |id: &str| event(id).replace(r#""verb":"list""#, r#""verb":"get""#);
    let forbidden = |id: &str| event(id).replace(r#""code":200"#, r#""code":403"#);
    // 3 lists (2xx), 1 list refused (4xx), 2 gets dropped by the policy, 1 malformed item.
    let first = format!(
        r#"{{"kind":"EventList","items":[{},{},{},{},{},{},{{"kind":"Event","verb":7}}]}}"#,
        event("m-1"),
        event("m-2"),
        event("m-3"),
        forbidden("m-4"),
        get("m-5"),
        get("m-6"),
    );
    let (status, text) = h.post(K8S, Some(&h.ingest), first).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    // A retry of two of them with one new event: two duplicates, one stored.
    let second = event_list(&["m-1".to_owned(), "m-2".to_owned(), "m-7".to_owned()]);
    let (status, text) = h.post(K8S, Some(&h.ingest), second).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let request = Request::get("/metrics")
        .header(header::AUTHORIZATION, format!("Bearer {}", h.read))
        .body(Body::empty())
        .unwrap();
    let (status, headers, text) = h.send(request).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"),
    );
    let list_ok = r#"{source="k8s",verb="list",code_class="2xx"}"#;
    let list_refused = r#"{source="k8s",verb="list",code_class="4xx"}"#;
    let get_ok = r#"{source="k8s",verb="get",code_class="2xx"}"#;
    let expect = [
        ("auditrail_events_received_total", list_ok, 6.0),
        ("auditrail_events_received_total", list_refused, 1.0),
        ("auditrail_events_received_total", get_ok, 2.0),
        ("auditrail_events_stored_total", list_ok, 4.0),
        ("auditrail_events_stored_total", list_refused, 1.0),
        ("auditrail_events_duplicate_total", list_ok, 2.0),
        (
            "auditrail_events_dropped_total",
            r#"{source="k8s",verb="get",code_class="2xx",reason="policy"}"#,
            2.0,
        ),
        ("auditrail_policy_decisions_total", r#"{level="None"}"#, 2.0),
        (
            "auditrail_policy_decisions_total",
            r#"{level="Metadata"}"#,
            7.0,
        ),
        (
            "auditrail_quarantined_records_total",
            r#"{format="k8s"}"#,
            1.0,
        ),
        (
            "auditrail_ingest_requests_total",
            r#"{format="k8s",code="200"}"#,
            2.0,
        ),
        ("auditrail_ledger_tree_size", "", 5.0),
        ("auditrail_ingest_batch_seconds_count", "", 2.0),
    ];
    for (name, labels, value) in expect {
        assert_eq!(
            sample(&text, name, labels),
            Some(value),
            "{name}{labels}\n{text}"
        );
    }
    assert_eq!(sample(&text, "auditrail_events_stored_total", get_ok), None);
    assert!(sample(&text, "auditrail_ledger_bytes", "").unwrap() > 0.0);
    assert!(sample(&text, "auditrail_ledger_append_seconds_count", "").unwrap() >= 2.0);
    // An fsync per commit that stored something, each shorter than its whole commit.
    let fsyncs = sample(&text, "auditrail_ledger_fsync_seconds_count", "").unwrap();
    assert!(fsyncs >= 1.0, "{text}");
    assert!(
        sample(&text, "auditrail_ledger_fsync_seconds_sum", "").unwrap()
            <= sample(&text, "auditrail_ledger_append_seconds_sum", "").unwrap()
    );
    // Every event counter of the exposition is `_total`, every histogram in seconds or a
    // count, and the process metrics are there (Linux).
    if cfg!(target_os = "linux") {
        assert!(sample(&text, "process_resident_memory_bytes", "").unwrap() > 1e6);
        assert!(sample(&text, "process_open_fds", "").unwrap() > 0.0);
        assert!(sample(&text, "process_cpu_seconds_total", "").is_some());
    }
    for line in text.lines().filter(|line| line.starts_with("# TYPE ")) {
        let mut words = line.split_whitespace().skip(2);
        let (name, kind) = (words.next().unwrap(), words.next().unwrap());
        assert!(
            name.starts_with("auditrail_") || name.starts_with("process_"),
            "{line}"
        );
        if kind == "counter" {
            assert!(
                text.contains(&format!("\n{name}_total")),
                "{name}: a counter's samples end in _total"
            );
        }
        if kind == "histogram" {
            assert!(
                name.ends_with("_seconds") || name.ends_with("_requests"),
                "{name}: a histogram in base units"
            );
        }
    }
    h.finish();
}

// ---------------------------------------------------------------------------------------
// the query API

impl Harness {
    async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, String) {
        let mut request = Request::get(path);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let (status, _, body) = self.send(request.body(Body::empty()).unwrap()).await;
        (status, body)
    }

    async fn get_json(&self, path: &str) -> serde_json::Value {
        let (status, body) = self.get(path, Some(&self.read)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    }
}

/// A Kubernetes event by `user`, `verb` at `second` past 10:00.
fn event_at(id: &str, user: &str, verb: &str, second: u32) -> String {
    format!(
        r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"{id}","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/configmaps/cm","verb":"{verb}","user":{{"username":"{user}"}},"sourceIPs":["10.0.0.2"],"objectRef":{{"resource":"configmaps","namespace":"default","name":"cm","apiVersion":"v1"}},"responseStatus":{{"metadata":{{}},"code":200}},"requestReceivedTimestamp":"2025-06-01T10:{:02}:{:02}.000000Z","stageTimestamp":"2025-06-01T10:{:02}:{:02}.010000Z"}}"#,
        second / 60,
        second % 60,
        second / 60,
        second % 60
    )
}

fn ids_of(page: &serde_json::Value) -> Vec<String> {
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn query_roles_and_reads_are_audited() {
    let h = harness();
    let (status, _) = h.post(K8S, Some(&h.ingest), event_list(&ids("q", 3))).await;
    assert_eq!(status, StatusCode::OK);
    let path = "/api/v1/events?user=alice&source=k8s";
    assert_eq!(h.get(path, None).await.0, StatusCode::UNAUTHORIZED);
    let (status, body) = h.get(path, Some(&h.ingest)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let page = h.get_json(path).await;
    assert_eq!(ids_of(&page).len(), 3);
    assert!(page["next"].is_null());
    let (status, body) = h.get("/api/v1/events?colour=red", Some(&h.read)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("colour") && body.contains("since"), "{body}");
    let (status, body) = h.get("/api/v1/events?code=2x", Some(&h.admin)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("code"), "{body}");
    // Every answered read is an `auditrail` event: who, what, result.
    let audited = h
        .get_json("/api/v1/events?source=auditrail&limit=100")
        .await;
    let reads: Vec<&serde_json::Value> = audited["events"].as_array().unwrap().iter().collect();
    let find = |user: &str, code: u64| {
        reads.iter().any(|event| {
            event["user"]["name"] == user
                && event["status"]["code"] == code
                && event["uri"].as_str().unwrap().starts_with("/api/v1/events")
        })
    };
    assert!(find("token:reader", 200), "{audited}");
    assert!(
        find("token:hook", 403),
        "the forbidden attempt is recorded: {audited}"
    );
    assert!(find("token:reader", 400));
    assert!(find("token:admin", 400));
    let ok = reads
        .iter()
        .find(|event| event["uri"] == path)
        .expect("the read with its query string");
    assert_eq!(ok["annotations"]["auditrail.io/returned"], "3");
    assert_eq!(ok["verb"], "list");
    assert_eq!(ok["origin"]["source"], "auditrail");
    // The unauthenticated attempt is not: nothing names it.
    assert!(reads.iter().all(|event| event["user"]["name"] != ""));
    let (_, _, metrics) = h
        .send(
            Request::get("/metrics")
                .header(header::AUTHORIZATION, format!("Bearer {}", h.read))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(
        metrics.contains("auditrail_query_seconds_count{endpoint=\"events\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("auditrail_reads_audited_total"),
        "{metrics}"
    );
    h.finish();
}

#[tokio::test]
async fn pages_have_no_gaps_or_repeats_while_events_arrive() {
    let h = harness();
    // 250 events, many sharing a time, ingested in several batches.
    let mut expected = Vec::new();
    for batch in 0..5 {
        let items: Vec<String> = (0..50)
            .map(|i| {
                let id = format!("p-{batch}-{i}");
                expected.push(id.clone());
                event_at(&id, "alice", "update", (batch * 50 + i) / 7)
            })
            .collect();
        let body = format!(r#"{{"kind":"EventList","items":[{}]}}"#, items.join(","));
        assert_eq!(h.post(K8S, Some(&h.ingest), body).await.0, StatusCode::OK);
    }
    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = "/api/v1/events?user=alice&limit=40".to_owned();
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let page = h.get_json(&path).await;
        seen.extend(ids_of(&page));
        pages += 1;
        // Newer events arriving between pages land before the first page.
        let late = event_at(&format!("late-{pages}"), "alice", "update", 3000 + pages);
        assert_eq!(h.post(K8S, Some(&h.ingest), late).await.0, StatusCode::OK);
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 7);
    let unique: std::collections::HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no event twice");
    let mut sorted = seen.clone();
    sorted.sort();
    expected.sort();
    assert_eq!(sorted, expected, "every event once");
    let (status, body) = h.get("/api/v1/events?cursor=bm9wZQ", Some(&h.read)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let k8s = h
        .get_json("/api/v1/events?user=alice&limit=1&output=k8s")
        .await;
    assert_eq!(k8s["events"][0]["apiVersion"], "audit.k8s.io/v1");
    assert_eq!(k8s["events"][0]["auditID"], "late-7");
    h.finish();
}

/// The Linux host reports over the API answer what `index::table` computes over the same
/// data directory (the numbers themselves are checked against aureport in the CLI's
/// differential tests), with each option wired to the report it names.
#[tokio::test]
async fn host_reports_over_the_api() {
    let h = harness();
    for log in [
        &include_bytes!("../../formats/tests/data/auditd/raw-session.log")[..],
        &include_bytes!("../../formats/tests/data/auditd/enriched.log")[..],
    ] {
        let body = String::from_utf8(log.to_vec()).unwrap();
        let (status, answer) = h.post("/api/v1/ingest/auditd", Some(&h.ingest), body).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    let expected = |spec: ReportSpec| {
        let mut text = index::FilterText::default();
        assert!(text.set("source", "auditd"));
        let filter = text.parse(event::Timestamp::from_unix_seconds(0)).unwrap();
        let dataset = store::open_dataset(h.data.path()).unwrap();
        index::table::report(&dataset, &spec, &filter)
            .unwrap()
            .to_json()
    };
    let host = |report, selection, summary, limit| ReportSpec::Host {
        report,
        selection,
        summary,
        limit,
    };
    let cases = [
        (
            "summary",
            ReportSpec::HostSummary {
                selection: Selection::All,
            },
        ),
        (
            "summary?result=success",
            ReportSpec::HostSummary {
                selection: Selection::Success,
            },
        ),
        (
            "failed",
            ReportSpec::HostSummary {
                selection: Selection::Failed,
            },
        ),
        (
            "logins",
            host(HostReport::Logins, Selection::All, false, DEFAULT_HOST_ROWS),
        ),
        (
            "executables?summary=true",
            host(
                HostReport::Executables,
                Selection::All,
                true,
                DEFAULT_HOST_ROWS,
            ),
        ),
        (
            "executables?result=failed&limit=2",
            host(HostReport::Executables, Selection::Failed, false, 2),
        ),
        (
            "files?summary=true&result=success",
            host(
                HostReport::Files,
                Selection::Success,
                true,
                DEFAULT_HOST_ROWS,
            ),
        ),
        (
            "keys",
            host(HostReport::Keys, Selection::All, false, DEFAULT_HOST_ROWS),
        ),
    ];
    let mut rows = 0;
    for (report, spec) in cases {
        let separator = if report.contains('?') { '&' } else { '?' };
        let path = format!("/api/v1/reports/{report}{separator}source=auditd");
        let got = h.get_json(&path).await;
        assert_eq!(got, expected(spec), "{path}");
        rows += got.as_array().map_or(1, Vec::len);
    }
    assert!(rows > 8, "the sample logs give rows to compare: {rows}");
    let all = h
        .get_json("/api/v1/reports/executables?source=auditd")
        .await;
    let failed = h
        .get_json("/api/v1/reports/executables?source=auditd&result=failed")
        .await;
    assert!(
        failed.as_array().unwrap().len() < all.as_array().unwrap().len(),
        "result=failed selects"
    );
    for (path, status) in [
        (
            "/api/v1/reports/logins?result=maybe",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/v1/reports/keys?summary=perhaps",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/v1/reports/failed?result=success",
            StatusCode::BAD_REQUEST,
        ),
        ("/api/v1/reports/files?limit=0", StatusCode::BAD_REQUEST),
    ] {
        let (got, body) = h.get(path, Some(&h.read)).await;
        assert_eq!(got, status, "{path}: {body}");
    }
    h.finish();
}

#[tokio::test]
async fn reports_checkpoint_and_proofs() {
    let h = harness();
    let items: Vec<String> = (0..6)
        .map(|i| {
            let user = if i < 4 { "alice" } else { "bob" };
            event_at(&format!("r-{i}"), user, "update", i)
        })
        .collect();
    let body = format!(r#"{{"kind":"EventList","items":[{}]}}"#, items.join(","));
    assert_eq!(h.post(K8S, Some(&h.ingest), body).await.0, StatusCode::OK);
    let top = h.get_json("/api/v1/reports/top-users?source=k8s").await;
    assert_eq!(top[0]["key"], "alice");
    assert_eq!(top[0]["requests"], 4);
    assert_eq!(top[1]["key"], "bob");
    let changes = h
        .get_json("/api/v1/reports/changes?source=k8s&limit=2")
        .await;
    assert_eq!(changes.as_array().unwrap().len(), 2);
    let history = h
        .get_json("/api/v1/reports/changes?object=configmaps/default/cm")
        .await;
    assert_eq!(history.as_array().unwrap().len(), 6);
    let codes = h.get_json("/api/v1/reports/codes?source=k8s").await;
    assert!(
        codes
            .as_array()
            .unwrap()
            .iter()
            .any(|row| row["code"] == "200")
    );
    let activity = h.get_json("/api/v1/reports/activity?user=bob").await;
    assert_eq!(activity.as_array().unwrap().len(), 2);
    let chargeback = h
        .get_json("/api/v1/reports/chargeback?by=user&source=k8s")
        .await;
    assert_eq!(chargeback.as_array().unwrap().len(), 2);
    for (path, status) in [
        ("/api/v1/reports/nonsense", StatusCode::NOT_FOUND),
        ("/api/v1/reports/activity", StatusCode::BAD_REQUEST),
        ("/api/v1/reports/top-users?by=team", StatusCode::BAD_REQUEST),
        ("/api/v1/reports/codes?limit=5", StatusCode::BAD_REQUEST),
        ("/api/v1/reports/changes?object=cm", StatusCode::BAD_REQUEST),
        ("/api/v1/reports/changes?limit=0", StatusCode::BAD_REQUEST),
    ] {
        let (got, body) = h.get(path, Some(&h.read)).await;
        assert_eq!(got, status, "{path}: {body}");
        assert!(!body.contains("panick"), "{body}");
    }
    let proofs = h.get_json("/api/v1/proof/r-4").await;
    let proof = &proofs[0];
    assert_eq!(proof["event"]["id"], "r-4");
    let seq = proof["seq"].as_u64().unwrap();
    assert!(
        proof["proof"]["checkpoint"]
            .as_str()
            .unwrap()
            .contains('\n')
    );
    let by_seq = h.get_json(&format!("/api/v1/proof/{seq}")).await;
    assert_eq!(by_seq[0]["record"], proof["record"]);
    let (status, checkpoint) = h.get("/api/v1/checkpoint", Some(&h.read)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(checkpoint.starts_with("auditrail.local/"), "{checkpoint}");
    let (status, body) = h.get("/api/v1/proof/no-such-event", Some(&h.read)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(
        h.get("/api/v1/proof/r-4", Some(&h.ingest)).await.0,
        StatusCode::FORBIDDEN
    );
    // The proof verifies against the store's key, like `auditrail prove`'s.
    let (store, _data) = h.finish();
    let record = proof["record"].as_str().unwrap().as_bytes().to_vec();
    let parsed = ledger_proof(&serde_json::to_string(&proof["proof"]).unwrap());
    parsed.verify(&record, &store.ledger().verifier()).unwrap();
}

fn ledger_proof(json: &str) -> ledger::InclusionProof {
    ledger::InclusionProof::from_json(json).unwrap()
}

#[tokio::test]
async fn live_tail_sends_events_stored_after_subscribing() {
    let h = harness();
    let (status, _) = h
        .post(K8S, Some(&h.ingest), event_list(&ids("before", 2)))
        .await;
    assert_eq!(status, StatusCode::OK);
    let request = Request::get("/api/v1/events/stream?user=bob")
        .header(header::AUTHORIZATION, format!("Bearer {}", h.read))
        .body(Body::empty())
        .unwrap();
    let response = router(h.state.clone()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/event-stream"
    );
    let mut body = response.into_body();
    let items: Vec<String> = (0..3)
        .map(|i| {
            let user = if i == 1 { "alice" } else { "bob" };
            event_at(&format!("after-{i}"), user, "delete", i)
        })
        .collect();
    let list = format!(r#"{{"kind":"EventList","items":[{}]}}"#, items.join(","));
    assert_eq!(h.post(K8S, Some(&h.ingest), list).await.0, StatusCode::OK);
    let mut text = String::new();
    while text.matches("event: audit").count() < 2 {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(10), body.frame())
            .await
            .expect("an event within 10 s")
            .unwrap()
            .unwrap();
        if let Ok(data) = frame.into_data() {
            text.push_str(std::str::from_utf8(&data).unwrap());
        }
    }
    assert!(text.contains("\"id\":\"after-0\""), "{text}");
    assert!(text.contains("\"id\":\"after-2\""), "{text}");
    assert!(!text.contains("after-1"), "filtered out: {text}");
    assert!(
        !text.contains("before-"),
        "stored before subscribing: {text}"
    );
    drop(body);
    // The subscription itself is an audited read.
    let audited = h.get_json("/api/v1/events?source=auditrail").await;
    assert!(
        audited["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|event| event["verb"] == "watch"),
        "{audited}"
    );
    h.finish();
}

/// An EventList of `count` events per user, ids unique per user.
#[cfg(feature = "sql")]
fn users_event_list(users: &[(&str, usize)]) -> String {
    let mut items = Vec::new();
    for (user, count) in users {
        for i in 0..*count {
            items.push(event(&format!("{user}-{i}")).replace("\"alice\"", &format!("\"{user}\"")));
        }
    }
    format!(
        r#"{{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{{}},"items":[{}]}}"#,
        items.join(",")
    )
}

const SQL: &str = "/api/v1/sql";

#[cfg(feature = "sql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_answers_acknowledged_events_as_json_rows() {
    let h = harness();
    let users = [("alice", 3), ("bob", 5), ("carol", 1)];
    let (status, text) = h.post(K8S, Some(&h.ingest), users_event_list(&users)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    // Acknowledged means queryable: the events are in the unsealed tail, no index built.
    let query = r#"SELECT "user", count(*) AS n FROM events WHERE source = 'k8s' GROUP BY "user" ORDER BY n DESC"#;
    let body = serde_json::json!({ "query": query }).to_string();
    let (status, text) = h.post(SQL, Some(&h.read), body).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        answer["rows"],
        serde_json::json!([
            {"user": "bob", "n": 5},
            {"user": "alice", "n": 3},
            {"user": "carol", "n": 1},
        ])
    );
    assert_eq!(answer["row_count"], 3);
    assert_eq!(answer["truncated"], false);
    assert_eq!(answer["columns"][0]["name"], "user");
    // Keys in column order.
    assert!(text.find("\"user\":\"bob\"").unwrap() < text.find("\"n\":5").unwrap());
    // Plain text works too, for an admin as for a reader.
    let mut request = Request::post(SQL)
        .header(header::CONTENT_TYPE, "text/plain")
        .header(header::AUTHORIZATION, format!("Bearer {}", h.admin));
    request = request.header(header::ACCEPT, "application/json");
    let (status, _, text) = h
        .send(
            request
                .body(Body::from(
                    "SELECT count(*) AS total FROM events WHERE source = 'k8s'",
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["rows"][0]["total"], 9);
    // Both reads are in the trail, audited like the other endpoints, with the query.
    let body = serde_json::json!({
        "query": "SELECT \"user\", name, code FROM events WHERE source = 'auditrail' AND resource = 'sql' ORDER BY ledger_seq"
    })
    .to_string();
    let (status, text) = h.post(SQL, Some(&h.read), body).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["row_count"], 2, "{text}");
    assert_eq!(answer["rows"][0]["user"], "token:reader");
    assert_eq!(answer["rows"][0]["code"], 200);
    assert!(
        answer["rows"][0]["name"]
            .as_str()
            .unwrap()
            .starts_with("SELECT \"user\", count(*)"),
        "{text}"
    );
    h.finish();
}

#[cfg(feature = "sql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_needs_the_read_role_and_explains_bad_queries() {
    let h = harness();
    let (status, _) = h.post(K8S, Some(&h.ingest), event_list(&ids("q", 2))).await;
    assert_eq!(status, StatusCode::OK);
    let body = || serde_json::json!({ "query": "SELECT count(*) FROM events" }).to_string();
    assert_eq!(h.post(SQL, None, body()).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        h.post(SQL, Some(&h.ingest), body()).await.0,
        StatusCode::FORBIDDEN
    );
    let bad = |query: &str| serde_json::json!({ "query": query }).to_string();
    let (status, text) = h.post(SQL, Some(&h.read), bad("SELEC 1")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.contains("SQL syntax error"), "{text}");
    let (status, text) = h
        .post(SQL, Some(&h.read), bad("SELECT usr FROM events"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(
        text.contains("no column usr") && text.contains("verb"),
        "{text}"
    );
    let data = h.data.path().to_str().unwrap().to_owned();
    let (status, text) = h
        .post(
            SQL,
            Some(&h.read),
            bad(&format!("COPY (SELECT 1) TO '{data}/out.csv'")),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.contains("only queries are allowed"), "{text}");
    assert!(!text.contains(&data), "no server path in an answer: {text}");
    assert!(!h.data.path().join("out.csv").exists());
    let (status, text) = h.post(SQL, Some(&h.read), "{\"sql\": 1}".to_owned()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.contains(r#"{\"query\": "#), "{text}");
    let (status, _) = h
        .post(
            SQL,
            Some(&h.read),
            "x".repeat(crate::limits::SQL_BODY_BYTES_MAX + 1),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    h.finish();
}

#[cfg(feature = "sql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_answers_are_cut_at_the_row_limit() {
    let h = harness();
    let (status, _) = h.post(K8S, Some(&h.ingest), event_list(&ids("l", 3))).await;
    assert_eq!(status, StatusCode::OK);
    let rows = crate::limits::SQL_ROWS_MAX + 5;
    let query = format!("SELECT value FROM generate_series(1, {rows})");
    let (status, text) = h
        .post(
            SQL,
            Some(&h.read),
            serde_json::json!({ "query": query }).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["row_count"], crate::limits::SQL_ROWS_MAX);
    assert_eq!(answer["truncated"], true);
    h.finish();
}

#[cfg(not(feature = "sql"))]
#[tokio::test]
async fn sql_without_the_feature_says_so() {
    let h = harness();
    let body = serde_json::json!({ "query": "SELECT 1" }).to_string();
    let (status, text) = h.post(SQL, Some(&h.read), body).await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED, "{text}");
    assert!(text.contains("without SQL support"), "{text}");
    h.finish();
}

/// Under continuous ingest (no idle gap at all) the background compactor converts sealed
/// segments while batches keep being acknowledged; queries taken during the ingest and
/// after it see every acknowledged event exactly once, and the trail verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_segments_are_compacted_while_ingest_continues() {
    let data = tempfile::tempdir().unwrap();
    // Small ledger segments (a few dozen events each), so that many seal during the test.
    std::fs::write(
        data.path().join("store.json"),
        r#"{"format":"auditrail-store","version":3,"origin":"test.example/compact","segment_bytes":16384}"#,
    )
    .unwrap();
    let h = harness_in(data, Limits::default(), true, Policy::permissive());
    let stubs = |dir: &std::path::Path| {
        std::fs::read_dir(dir.join("ledger/segments"))
            .unwrap()
            .filter(|entry| {
                entry
                    .as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|extension| extension == "ext")
            })
            .count()
    };
    let mut acknowledged: Vec<String> = Vec::new();
    let mut compacted_during_ingest = 0;
    let mut checked_midway = false;
    let mut batch = 0;
    while batch < 2000 && (compacted_during_ingest < 8 || !checked_midway) {
        let batch_ids = ids(&format!("b{batch}"), 50);
        let (status, body) = h
            .post(
                "/api/v1/ingest/k8s",
                Some(&h.ingest),
                event_list(&batch_ids),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        acknowledged.extend(batch_ids);
        batch += 1;
        compacted_during_ingest = stubs(h.data.path());
        if compacted_during_ingest >= 4 && !checked_midway {
            // A query while compactions commit beside the ingest: everything acknowledged so
            // far, exactly once.
            let root = h.data.path().to_owned();
            let events = tokio::task::spawn_blocking(move || {
                store::open_dataset(&root)
                    .unwrap()
                    .query(&index::Filter::default(), usize::MAX)
                    .unwrap()
                    .events
            })
            .await
            .unwrap();
            let mut seen: Vec<&str> = events
                .iter()
                .map(|(_, event)| event.id.as_str())
                .filter(|id| id.starts_with('b'))
                .collect();
            seen.sort_unstable();
            let before = seen.len();
            seen.dedup();
            assert_eq!(seen.len(), before, "an event is listed twice");
            let mut expected: Vec<&str> = acknowledged.iter().map(String::as_str).collect();
            expected.sort_unstable();
            assert_eq!(seen, expected);
            checked_midway = true;
        }
    }
    assert!(
        compacted_during_ingest >= 8,
        "only {compacted_during_ingest} segments compacted during {batch} batches without a pause"
    );
    // Once the ingest stops, the compactor catches up with what sealed meanwhile.
    let mut waiting = f64::MAX;
    for _ in 0..600 {
        let (status, metrics) = h.get("/metrics", Some(&h.admin)).await;
        assert_eq!(status, StatusCode::OK);
        waiting = sample(&metrics, "auditrail_compaction_pending_segments", "").unwrap();
        if waiting == 0.0 {
            let committed = sample(&metrics, "auditrail_compacted_segments_total", "").unwrap();
            assert!(committed >= 8.0, "{committed}");
            let commits =
                sample(&metrics, "auditrail_compaction_commit_seconds_count", "").unwrap();
            assert!((commits - committed).abs() < 0.5, "{commits} commits timed");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(waiting, 0.0, "sealed segments still in row form");
    // The keys of the compacted segments left the writer's memory (only the row-form tail's
    // are held), and a retry of the first batch, long compacted, is found through the
    // index segments' keys.
    let (_, metrics) = h.get("/metrics", Some(&h.admin)).await;
    let recent = sample(&metrics, "auditrail_dedup_recent_keys", "").unwrap();
    let summarised = sample(&metrics, "auditrail_dedup_segments", "").unwrap();
    assert!(summarised >= 8.0, "{summarised}");
    assert!(
        recent < acknowledged.len() as f64 / 4.0,
        "{recent} keys held of {} events",
        acknowledged.len()
    );
    let labels = r#"{source="k8s",verb="list",code_class="2xx"}"#;
    let duplicates = |metrics: &str| sample(metrics, "auditrail_events_duplicate_total", labels);
    let before = duplicates(&metrics).unwrap_or(0.0);
    let (status, body) = h
        .post(K8S, Some(&h.ingest), event_list(&ids("b0", 50)))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, metrics) = h.get("/metrics", Some(&h.admin)).await;
    assert_eq!(duplicates(&metrics), Some(before + 50.0));
    // Found through the compacted segments' keys, which each compaction commit handed to the
    // cache (no read of them back from the files).
    let cached = sample(&metrics, "auditrail_dedup_cached_keys", "").unwrap();
    assert!(cached >= 50.0, "{cached}");
    let (store, data) = h.finish();
    assert!(store.compactable().is_empty(), "{:?}", store.compactable());
    drop(store);
    let events = store::open_dataset(data.path())
        .unwrap()
        .query(&index::Filter::default(), usize::MAX)
        .unwrap()
        .events;
    let mut seen: Vec<&str> = events
        .iter()
        .map(|(_, event)| event.id.as_str())
        .filter(|id| id.starts_with('b'))
        .collect();
    seen.sort_unstable();
    let mut expected: Vec<&str> = acknowledged.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(seen, expected, "every acknowledged event exactly once");
    let report = store::verify(data.path(), &ledger::VerifyOptions::default()).unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    assert!(report.index_files_checked >= 24);
}
