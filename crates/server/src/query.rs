//! The query API: the trail read over HTTP, with the same filters, reports and proofs as the
//! command line (shared code: `index::FilterText`, `index::table`, `store::prove_events`).
//!
//! ```text
//! GET /api/v1/events?since=1h&user=alice&verb=delete&limit=100&cursor=…[&output=k8s]
//!     {"events": [...], "next": CURSOR|null}, newest first (then highest sequence first);
//!     events in auditrail's normalized form, or audit.k8s.io/v1 with output=k8s
//! GET /api/v1/events/stream?<filters>[&output=k8s]
//!     server-sent events: `event: audit` (id: the sequence number, data: one event) for
//!     every matching event stored from now on; `event: lag` ({"missed": N}) when this
//!     client fell behind and N messages of stored events were skipped for it
//! GET /api/v1/reports/{changes|top-users|codes|activity|chargeback}?<filters>&<options>
//! GET /api/v1/reports/{summary|failed|logins|executables|files|keys}?<filters>&<options>
//!     the JSON of `auditrail report NAME --output json`; the Linux host reports take
//!     result=failed|success|all, and (but summary) summary=true and limit=N
//! GET /api/v1/checkpoint     the latest signed checkpoint (text)
//! GET /api/v1/proof/{id}     [ the JSON of `auditrail prove ID --output json`, per event ]
//! ```
//!
//! Filter parameters are those of `auditrail query` (`since`, `until`, `user`, `verb`,
//! `resource`, `namespace`, `name`, `code`, `source`), repeatable for "any of". An unknown
//! parameter is a 400 that names it.
//!
//! Every request needs the read (or admin) role; every answered request of an authenticated
//! principal is recorded in the ledger first (`audit`). Queries read the data directory
//! without the writer's lock (`store::open_dataset`: index segments plus every acknowledged
//! record after them), on the blocking pool, at most
//! [`QUERY_CONCURRENT_MAX`](crate::limits::QUERY_CONCURRENT_MAX) at once.
//!
//! Pagination: the `next` cursor is the (time, sequence) position of the page's last event;
//! the next page holds the events after it in the same order, so pages have no gaps and no
//! repeats while events keep arriving (newer ones land before the first page).
//!
//! `POST /api/v1/sql` is one more route in [`routes`], its handler built like the others
//! (`Read::begin`, the work, `Read::finish`).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use event::AuditEvent;
use index::host::{HostReport, Selection};
use index::table::{self, ReportSpec};
use index::{Filter, FilterText, Position, TextPattern};
use tokio::sync::{OwnedSemaphorePermit, broadcast, oneshot, watch};

use crate::app::AppState;
use crate::audit::{self, ReadRecord};
use crate::auth::{Action, PeerAddr, PeerIdentity, Principal};
use crate::clock;
use crate::error::ApiError;
use crate::limits::{
    ACK_TIMEOUT, EVENTS_PAGE_BYTES_MAX, EVENTS_PAGE_DEFAULT, EVENTS_PAGE_MAX, QUERY_PARAMETERS_MAX,
    QUERY_SLOT_WAIT, QUERY_STRING_BYTES_MAX, REPORT_ROWS_MAX, SQL_AUDIT_CHARS_MAX,
    STREAM_KEEPALIVE,
};
use crate::metrics::{EndpointLabels, Metrics, QueryLabels};
use crate::pipeline::{ProveFailed, ProveJob, SubmitError};
use crate::stream::StoredRecords;

/// The query routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/events", get(events))
        .route("/api/v1/events/stream", get(stream))
        .route("/api/v1/reports/{name}", get(report))
        .route("/api/v1/checkpoint", get(checkpoint))
        .route("/api/v1/proof/{id}", get(proof))
        .route("/api/v1/sql", post(sql))
}

/// The query endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Events,
    Stream,
    Reports,
    Checkpoint,
    Proof,
    Sql,
}

impl Endpoint {
    /// The metrics label.
    fn label(self) -> &'static str {
        match self {
            Endpoint::Events => "events",
            Endpoint::Stream => "events_stream",
            Endpoint::Reports => "reports",
            Endpoint::Checkpoint => "checkpoint",
            Endpoint::Proof => "proof",
            Endpoint::Sql => "sql",
        }
    }

    /// The verb of the audit record.
    fn verb(self) -> &'static str {
        match self {
            Endpoint::Events => "list",
            Endpoint::Stream => "watch",
            Endpoint::Reports | Endpoint::Checkpoint | Endpoint::Proof | Endpoint::Sql => "get",
        }
    }

    /// The resource of the audit record.
    fn resource(self) -> &'static str {
        match self {
            Endpoint::Events | Endpoint::Stream => "events",
            Endpoint::Reports => "reports",
            Endpoint::Checkpoint => "checkpoint",
            Endpoint::Proof => "proofs",
            Endpoint::Sql => "sql",
        }
    }
}

/// A successful answer and what it returned.
struct Answer {
    response: Response,
    returned: Option<u64>,
}

/// One read request between authentication and its audited answer.
struct Read {
    endpoint: Endpoint,
    started: Instant,
    received: SystemTime,
    principal: Principal,
    uri: String,
    name: Option<String>,
    peer: Option<SocketAddr>,
    user_agent: Option<String>,
    pairs: Vec<(String, String)>,
}

impl Read {
    /// Authenticates the request and checks its role. A refusal is the `Err` response:
    /// 401 and 429 unrecorded, 403 recorded.
    async fn begin(
        state: &AppState,
        endpoint: Endpoint,
        request: &Parts,
        name: Option<String>,
    ) -> Result<Read, Response> {
        let started = clock::instant();
        let metrics = &state.shared().metrics;
        let principal =
            match state.authenticate(&request.headers, request.extensions.get::<PeerIdentity>()) {
                Ok(principal) => principal,
                Err(error) => {
                    observe(metrics, endpoint, error.status(), started);
                    return Err(error.into_response());
                }
            };
        let uri = request.uri.path_and_query().map_or_else(
            || request.uri.path().to_owned(),
            |pq| pq.as_str().to_owned(),
        );
        let mut read = Read {
            endpoint,
            started,
            received: clock::now(),
            principal,
            uri,
            name,
            peer: request.extensions.get::<PeerAddr>().map(|peer| peer.0),
            user_agent: request
                .headers
                .get(header::USER_AGENT)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned),
            pairs: Vec::new(),
        };
        if !read.principal.role.allows(Action::Read) {
            let response = read
                .finish(state, Err(ApiError::Forbidden(Action::Read.verb())))
                .await;
            return Err(response);
        }
        match parameters(request.uri.query()) {
            Ok(pairs) => read.pairs = pairs,
            Err(error) => return Err(read.finish(state, Err(error)).await),
        }
        Ok(read)
    }

    /// Records the read (durably), then answers; 503 instead when the record fails.
    async fn finish(self, state: &AppState, result: Result<Answer, ApiError>) -> Response {
        let (code, returned) = match &result {
            Ok(answer) => (answer.response.status(), answer.returned),
            Err(error) => (error.status(), None),
        };
        let record = ReadRecord {
            principal: &self.principal,
            verb: self.endpoint.verb(),
            resource: self.endpoint.resource(),
            name: self.name.as_deref(),
            uri: &self.uri,
            peer: self.peer,
            user_agent: self.user_agent.as_deref(),
            received: self.received,
            code: code.as_u16(),
            returned,
        };
        let metrics = &state.shared().metrics;
        let response = match audit::record(state, &record).await {
            Ok(()) => match result {
                Ok(answer) => answer.response,
                Err(error) => error.into_response(),
            },
            Err(error) => error.into_response(),
        };
        observe(metrics, self.endpoint, response.status(), self.started);
        response
    }

    /// A 400 when the request has any parameter.
    fn no_parameters(&self) -> Result<(), ApiError> {
        match self.pairs.first() {
            None => Ok(()),
            Some((key, _)) => Err(ApiError::BadRequest(format!(
                "unknown parameter {:?}; this endpoint takes none",
                key.chars().take(64).collect::<String>()
            ))),
        }
    }

    /// The filter parameters and the endpoint's `options`; any other parameter is a 400.
    fn parameters(&self, options: &[&str]) -> Result<Parameters, ApiError> {
        let mut parameters = Parameters::default();
        for (key, value) in &self.pairs {
            if parameters.filter.set(key, value) {
                continue;
            }
            if options.contains(&key.as_str()) {
                parameters.options.push((key.clone(), value.clone()));
                continue;
            }
            let mut known: Vec<&str> = FilterText::FIELDS.to_vec();
            known.extend_from_slice(options);
            return Err(ApiError::BadRequest(format!(
                "unknown parameter {:?}; this endpoint takes {}",
                key.chars().take(64).collect::<String>(),
                known.join(", ")
            )));
        }
        Ok(parameters)
    }
}

fn observe(metrics: &Metrics, endpoint: Endpoint, code: StatusCode, started: Instant) {
    metrics
        .query_seconds
        .get_or_create(&EndpointLabels {
            endpoint: endpoint.label().to_owned(),
        })
        .observe(started.elapsed().as_secs_f64());
    metrics
        .query_requests
        .get_or_create(&QueryLabels {
            endpoint: endpoint.label().to_owned(),
            code: code.as_u16().to_string(),
        })
        .inc();
}

/// The query string's `(name, value)` pairs, decoded.
fn parameters(query: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    let query = query.unwrap_or_default();
    if query.len() > QUERY_STRING_BYTES_MAX {
        return Err(ApiError::BadRequest(format!(
            "query string longer than {QUERY_STRING_BYTES_MAX} bytes; narrow the filters"
        )));
    }
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .take(QUERY_PARAMETERS_MAX + 1)
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    if pairs.len() > QUERY_PARAMETERS_MAX {
        return Err(ApiError::BadRequest(format!(
            "more than {QUERY_PARAMETERS_MAX} query parameters"
        )));
    }
    Ok(pairs)
}

/// A request's filter values and endpoint options.
#[derive(Debug, Default)]
struct Parameters {
    filter: FilterText,
    options: Vec<(String, String)>,
}

impl Parameters {
    /// The last value of option `name`.
    fn option(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Option `name` as a count from 1 to `max`, `default` when absent.
    fn count(&self, name: &str, default: usize, max: usize) -> Result<usize, ApiError> {
        let Some(text) = self.option(name) else {
            return Ok(default);
        };
        match text.parse::<usize>() {
            Ok(count) if (1..=max).contains(&count) => Ok(count),
            _ => Err(ApiError::BadRequest(format!(
                "{name} must be a number from 1 to {max}"
            ))),
        }
    }

    /// Option `name` as a yes/no flag (`true`/`false`, `1`/`0`), false when absent.
    fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.option(name) {
            None | Some("false" | "0") => Ok(false),
            Some("true" | "1" | "") => Ok(true),
            Some(_) => Err(ApiError::BadRequest(format!(
                "{name} must be true or false"
            ))),
        }
    }

    /// Option `result` of the Linux host reports: `failed`, `success` or `all` (the default).
    fn selection(&self) -> Result<Selection, ApiError> {
        match self.option("result") {
            None | Some("all") => Ok(Selection::All),
            Some("failed") => Ok(Selection::Failed),
            Some("success") => Ok(Selection::Success),
            Some(_) => Err(ApiError::BadRequest(
                "result must be failed, success or all".to_owned(),
            )),
        }
    }

    /// The filter, relative times counted from now.
    fn filter(&self) -> Result<Filter, ApiError> {
        self.filter
            .parse(clock::timestamp(clock::now()))
            .map_err(index_error)
    }

    /// `output`: false for auditrail's own form (`jsonl`, the default), true for `k8s`.
    fn kubernetes_output(&self) -> Result<bool, ApiError> {
        match self.option("output") {
            None | Some("jsonl") => Ok(false),
            Some("k8s") => Ok(true),
            Some(_) => Err(ApiError::BadRequest(
                "output must be jsonl (auditrail's normalized events) or k8s (audit.k8s.io/v1)"
                    .to_owned(),
            )),
        }
    }
}

/// A client's mistake as a 400 that says what to fix; anything else is logged, not sent.
fn index_error(error: index::Error) -> ApiError {
    match error {
        index::Error::Filter { field, reason } => {
            ApiError::BadRequest(format!("{field}: {reason}"))
        }
        other => ApiError::internal(&other),
    }
}

/// Runs `work` on the blocking pool in a query slot (503 when none frees up in time).
async fn run_query<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let shared = state.shared();
    let permit: OwnedSemaphorePermit = match tokio::time::timeout(
        QUERY_SLOT_WAIT,
        Arc::clone(&shared.query_slots).acquire_owned(),
    )
    .await
    {
        Ok(Ok(permit)) => permit,
        Ok(Err(_)) => return Err(ApiError::internal(&"the query slots are closed")),
        Err(_) => {
            shared.metrics.refused("query_busy");
            return Err(ApiError::Overloaded);
        }
    };
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        work()
    })
    .await
    .map_err(|error| ApiError::internal(&error))?
}

/// The dataset of the data directory: index segments and every acknowledged record after.
fn open_dataset(data: &std::path::Path) -> Result<index::Dataset, ApiError> {
    store::open_dataset(data).map_err(|error| ApiError::internal(&error))
}

fn json_response(body: Vec<u8>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        Body::from(body),
    )
        .into_response()
}

// ---------------------------------------------------------------------------------------
// events

async fn events(State(state): State<AppState>, parts: Parts) -> Response {
    let read = match Read::begin(&state, Endpoint::Events, &parts, None).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let result = events_page(&state, &read).await;
    read.finish(&state, result).await
}

async fn events_page(state: &AppState, read: &Read) -> Result<Answer, ApiError> {
    let parameters = read.parameters(&["limit", "cursor", "output"])?;
    let filter = parameters.filter()?;
    let limit = parameters.count("limit", EVENTS_PAGE_DEFAULT, EVENTS_PAGE_MAX)?;
    let after = parameters.option("cursor").map(decode_cursor).transpose()?;
    let kubernetes = parameters.kubernetes_output()?;
    let data = state.shared().data.clone();
    run_query(state, move || {
        let dataset = open_dataset(&data)?;
        let result = dataset
            .query_after(&filter, limit, after)
            .map_err(index_error)?;
        let (body, returned) = page(&result.events, result.truncated, kubernetes);
        Ok(Answer {
            response: json_response(body),
            returned: Some(returned),
        })
    })
    .await
}

/// `{"events": [...], "next": …}` of at most [`EVENTS_PAGE_BYTES_MAX`] bytes (at least one
/// event); the number of events in it.
fn page(events: &[(u64, AuditEvent)], truncated: bool, kubernetes: bool) -> (Vec<u8>, u64) {
    let mut body = b"{\"events\":[".to_vec();
    let mut encoded = Vec::new();
    let mut last = None;
    let mut sent = 0_u64;
    let mut cut = false;
    for (seq, event) in events {
        encoded.clear();
        if kubernetes {
            formats::k8s::encode(event, &mut encoded);
        } else {
            formats::jsonl::encode(event, &mut encoded);
        }
        while encoded.last() == Some(&b'\n') {
            encoded.pop();
        }
        if sent > 0 {
            if body.len() + encoded.len() + 1 > EVENTS_PAGE_BYTES_MAX {
                cut = true;
                break;
            }
            body.push(b',');
        }
        body.extend_from_slice(&encoded);
        last = Some(Position::of(*seq, event));
        sent += 1;
    }
    body.extend_from_slice(b"],\"next\":");
    match last.filter(|_| cut || truncated) {
        Some(position) => {
            body.push(b'"');
            body.extend_from_slice(encode_cursor(position).as_bytes());
            body.push(b'"');
        }
        None => body.extend_from_slice(b"null"),
    }
    body.push(b'}');
    (body, sent)
}

const CURSOR_VERSION: &str = "p1";

/// An opaque cursor (URL-safe) for the position of a page's last event.
fn encode_cursor(position: Position) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
        "{CURSOR_VERSION}:{}:{}",
        position.when, position.seq
    ))
}

fn decode_cursor(text: &str) -> Result<Position, ApiError> {
    let bad = || {
        ApiError::BadRequest(
            "cursor is not one this server gave; start again without a cursor".to_owned(),
        )
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.as_bytes())
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let mut parts = text.split(':');
    let (Some(CURSOR_VERSION), Some(when), Some(seq), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    Ok(Position {
        when: when.parse().map_err(|_| bad())?,
        seq: seq.parse().map_err(|_| bad())?,
    })
}

// ---------------------------------------------------------------------------------------
// reports

async fn report(State(state): State<AppState>, Path(name): Path<String>, parts: Parts) -> Response {
    let read = match Read::begin(&state, Endpoint::Reports, &parts, Some(name.clone())).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let result = report_rows(&state, &read, &name).await;
    read.finish(&state, result).await
}

async fn report_rows(state: &AppState, read: &Read, name: &str) -> Result<Answer, ApiError> {
    let options: &[&str] = match name {
        "changes" => &["object", "limit"],
        "top-users" => &["by", "limit"],
        "codes" => &["top"],
        "activity" => &["limit"],
        "chargeback" => &["by"],
        "summary" => &["result"],
        "failed" => &[],
        "logins" | "executables" | "files" | "keys" => &["result", "summary", "limit"],
        _ => {
            return Err(ApiError::Missing(format!(
                "no report {:?}; the reports are {}, {}",
                name.chars().take(64).collect::<String>(),
                table::REPORT_NAMES.join(", "),
                table::HOST_REPORT_NAMES.join(", ")
            )));
        }
    };
    let parameters = read.parameters(options)?;
    let filter = parameters.filter()?;
    let by = |default: &str| parameters.option("by").unwrap_or(default).to_owned();
    let spec = match name {
        "changes" => ReportSpec::Changes {
            object: parameters.option("object").map(str::to_owned),
            limit: parameters.count("limit", table::DEFAULT_REQUEST_ROWS, REPORT_ROWS_MAX)?,
        },
        "top-users" => ReportSpec::TopUsers {
            by: index::report::Dimension::parse(&by("user")).map_err(index_error)?,
            limit: parameters.count("limit", table::DEFAULT_TOP_ROWS, REPORT_ROWS_MAX)?,
        },
        "codes" => ReportSpec::Codes {
            top: parameters.count("top", table::DEFAULT_CODES_TOP, REPORT_ROWS_MAX)?,
        },
        "activity" => {
            let Some(user) = parameters.filter.user.first() else {
                return Err(ApiError::BadRequest(
                    "report activity needs user=NAME (or a pattern such as alice*)".to_owned(),
                ));
            };
            ReportSpec::Activity {
                user: TextPattern::parse(user),
                limit: parameters.count("limit", table::DEFAULT_REQUEST_ROWS, REPORT_ROWS_MAX)?,
            }
        }
        "chargeback" => ReportSpec::Chargeback {
            by: index::report::ChargebackBy::parse(&by("namespace")).map_err(index_error)?,
        },
        "summary" => ReportSpec::HostSummary {
            selection: parameters.selection()?,
        },
        "failed" => ReportSpec::HostSummary {
            selection: Selection::Failed,
        },
        host => ReportSpec::Host {
            report: match host {
                "logins" => HostReport::Logins,
                "executables" => HostReport::Executables,
                "files" => HostReport::Files,
                _ => HostReport::Keys,
            },
            selection: parameters.selection()?,
            summary: parameters.flag("summary")?,
            limit: parameters.count("limit", table::DEFAULT_HOST_ROWS, REPORT_ROWS_MAX)?,
        },
    };
    let data = state.shared().data.clone();
    run_query(state, move || {
        let dataset = open_dataset(&data)?;
        let rows = table::report(&dataset, &spec, &filter).map_err(index_error)?;
        let body =
            serde_json::to_vec(&rows.to_json()).map_err(|error| ApiError::internal(&error))?;
        Ok(Answer {
            response: json_response(body),
            returned: Some(rows.rows.len() as u64),
        })
    })
    .await
}

// ---------------------------------------------------------------------------------------
// checkpoint and proofs

async fn checkpoint(State(state): State<AppState>, parts: Parts) -> Response {
    let read = match Read::begin(&state, Endpoint::Checkpoint, &parts, None).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let result = latest_checkpoint(&state, &read).await;
    read.finish(&state, result).await
}

async fn latest_checkpoint(state: &AppState, read: &Read) -> Result<Answer, ApiError> {
    read.no_parameters()?;
    let data = state.shared().data.clone();
    let text = run_query(state, move || {
        store::latest_checkpoint(&data).map_err(|error| ApiError::internal(&error))
    })
    .await?;
    let Some(text) = text else {
        return Err(ApiError::Missing(
            "no checkpoint yet: the first is signed when events are stored".to_owned(),
        ));
    };
    Ok(Answer {
        response: (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            )],
            text,
        )
            .into_response(),
        returned: None,
    })
}

async fn proof(State(state): State<AppState>, Path(id): Path<String>, parts: Parts) -> Response {
    let read = match Read::begin(&state, Endpoint::Proof, &parts, Some(id.clone())).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let result = prove(&state, &read, id).await;
    read.finish(&state, result).await
}

async fn prove(state: &AppState, read: &Read, reference: String) -> Result<Answer, ApiError> {
    read.no_parameters()?;
    if reference.len() > index::limits::FILTER_VALUE_BYTES_MAX {
        return Err(ApiError::BadRequest(
            "the event id is too long to be one".to_owned(),
        ));
    }
    let data = state.shared().data.clone();
    let wanted = reference.clone();
    let id_seqs = run_query(state, move || {
        let dataset = open_dataset(&data)?;
        let found = dataset.lookup_id(&wanted).map_err(index_error)?;
        Ok(found.into_iter().map(|(seq, _)| seq).collect::<Vec<u64>>())
    })
    .await?;
    let shared = state.shared();
    let (reply, answer) = oneshot::channel();
    let job = ProveJob {
        reference: reference.clone(),
        id_seqs,
        reply,
    };
    match shared.queue.try_prove(job) {
        Ok(()) => {}
        Err(SubmitError::Full) => {
            shared.metrics.refused("queue_full");
            return Err(ApiError::Overloaded);
        }
        Err(SubmitError::Closed) => return Err(ApiError::internal(&"the writer is gone")),
    }
    let proofs = match tokio::time::timeout(ACK_TIMEOUT, answer).await {
        Ok(Ok(Ok(proofs))) => proofs,
        Ok(Ok(Err(ProveFailed::NotFound))) => {
            return Err(ApiError::Missing(format!(
                "no event {:?} in the trail: give an event id or a sequence number",
                reference.chars().take(256).collect::<String>()
            )));
        }
        Ok(Ok(Err(ProveFailed::Failed))) => return Err(ApiError::Internal),
        Ok(Err(_)) => return Err(ApiError::internal(&"the writer stopped")),
        Err(_) => return Err(ApiError::Overloaded),
    };
    let views: Vec<String> = proofs.iter().map(store::EventProof::to_json).collect();
    let body = format!("[{}]", views.join(","));
    Ok(Answer {
        response: json_response(body.into_bytes()),
        returned: Some(views.len() as u64),
    })
}

// ---------------------------------------------------------------------------------------
// live tail

async fn stream(State(state): State<AppState>, parts: Parts) -> Response {
    let read = match Read::begin(&state, Endpoint::Stream, &parts, None).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let result = subscribe(&state, &read);
    read.finish(&state, result).await
}

fn subscribe(state: &AppState, read: &Read) -> Result<Answer, ApiError> {
    let parameters = read.parameters(&["output"])?;
    let filter = parameters.filter()?;
    let kubernetes = parameters.kubernetes_output()?;
    let shared = state.shared();
    let Ok(permit) = Arc::clone(&shared.stream_slots).try_acquire_owned() else {
        shared.metrics.refused("stream_subscribers");
        return Err(ApiError::Overloaded);
    };
    // Subscribed before the answer (and its audit record) goes out: every event stored
    // after the client sees the answer reaches it.
    let tail = Tail {
        receiver: shared.hub.subscribe(),
        filter,
        kubernetes,
        pending: VecDeque::new(),
        shutdown: shared.shutdown.clone(),
        watching: true,
        subscriber: Subscriber::new(Arc::clone(&shared.metrics), permit),
    };
    let stream = futures_util::stream::unfold(tail, Tail::next);
    Ok(Answer {
        response: Sse::new(stream)
            .keep_alive(KeepAlive::new().interval(STREAM_KEEPALIVE))
            .into_response(),
        returned: None,
    })
}

/// A connected subscriber: counted in the gauge, holding its slot, until dropped.
struct Subscriber {
    metrics: Arc<Metrics>,
    _permit: OwnedSemaphorePermit,
}

impl Subscriber {
    fn new(metrics: Arc<Metrics>, permit: OwnedSemaphorePermit) -> Subscriber {
        metrics.stream_subscribers.inc();
        Subscriber {
            metrics,
            _permit: permit,
        }
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.metrics.stream_subscribers.dec();
    }
}

/// One subscriber's state.
struct Tail {
    receiver: broadcast::Receiver<Arc<StoredRecords>>,
    filter: Filter,
    kubernetes: bool,
    pending: VecDeque<SseEvent>,
    shutdown: watch::Receiver<bool>,
    watching: bool,
    subscriber: Subscriber,
}

impl Tail {
    /// The next server-sent event; `None` ends the stream (shutdown, or the writer is gone).
    async fn next(mut self) -> Option<(Result<SseEvent, Infallible>, Tail)> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some((Ok(event), self));
            }
            if *self.shutdown.borrow() {
                return None;
            }
            tokio::select! {
                changed = self.shutdown.changed(), if self.watching => match changed {
                    Ok(()) if *self.shutdown.borrow() => return None,
                    Ok(()) => {}
                    // No one can signal a shutdown any more: stop watching for it.
                    Err(_) => self.watching = false,
                },
                message = self.receiver.recv() => match message {
                    Ok(records) => self.take(&records),
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        self.subscriber.metrics.stream_lagged.inc();
                        self.pending.push_back(
                            SseEvent::default()
                                .event("lag")
                                .data(serde_json::json!({ "missed": missed }).to_string()),
                        );
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
            }
        }
    }

    /// Queues the events of `records` that the filter selects.
    fn take(&mut self, records: &StoredRecords) {
        let mut encoded = Vec::new();
        for (seq, record) in records.iter() {
            let Ok(Some(event)) = store::read_event(seq, record) else {
                continue;
            };
            if !self.filter.matches(&event) {
                continue;
            }
            encoded.clear();
            if self.kubernetes {
                formats::k8s::encode(&event, &mut encoded);
            } else {
                formats::jsonl::encode(&event, &mut encoded);
            }
            let text = String::from_utf8_lossy(&encoded);
            self.pending.push_back(
                SseEvent::default()
                    .event("audit")
                    .id(seq.to_string())
                    .data(text.trim_end_matches('\n')),
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// sql

async fn sql(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let mut read = match Read::begin(&state, Endpoint::Sql, &parts, None).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let query = match read.no_parameters() {
        Ok(()) => crate::sql_api::query_of(&parts.headers, body).await,
        Err(error) => Err(error),
    };
    let result = match query {
        Ok(query) => {
            // The audit record names what was asked (the query's start).
            read.name = Some(query.chars().take(SQL_AUDIT_CHARS_MAX).collect());
            sql_rows(&state, query).await
        }
        Err(error) => Err(error),
    };
    read.finish(&state, result).await
}

async fn sql_rows(state: &AppState, query: String) -> Result<Answer, ApiError> {
    let data = state.shared().data.clone();
    run_query(state, move || {
        let (body, returned) = crate::sql_api::answer(&data, &query)?;
        Ok(Answer {
            response: json_response(body),
            returned: Some(returned),
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        let position = Position { when: -5, seq: 42 };
        assert_eq!(decode_cursor(&encode_cursor(position)).unwrap(), position);
        let minimum = Position {
            when: i64::MIN,
            seq: 0,
        };
        assert_eq!(decode_cursor(&encode_cursor(minimum)).unwrap(), minimum);
        for bad in ["", "!!", "cDE6MQ", "eDox"] {
            assert!(decode_cursor(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pages_are_cut_by_count_and_say_where_to_go_on() {
        let event = |id: &str, second: i64| AuditEvent {
            id: id.to_owned(),
            time: Some(event::Timestamp::from_unix_nanos(second * 1_000_000_000)),
            ..AuditEvent::default()
        };
        let events = vec![(9, event("b", 20)), (4, event("a", 10))];
        let (body, sent) = page(&events, true, false);
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(sent, 2);
        assert_eq!(value["events"][0]["id"], "b");
        let next = value["next"].as_str().unwrap();
        assert_eq!(
            decode_cursor(next).unwrap(),
            Position {
                when: 10_000_000_000,
                seq: 4
            }
        );
        let (body, _) = page(&events, false, true);
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(value["next"].is_null());
        assert_eq!(value["events"][1]["auditID"], "a");
    }
}
