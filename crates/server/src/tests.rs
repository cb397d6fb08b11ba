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
    let data = tempfile::tempdir().unwrap();
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
    let (writer, stalled) = if writer {
        let store = Store::open(data.path(), StoreOptions::default(), now).unwrap();
        (
            Some(spawn_writer(store, receiver, Arc::clone(&metrics)).unwrap()),
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
