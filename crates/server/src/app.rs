//! The HTTP API: [`router`] builds the whole `Router` from an [`AppState`], so that tests
//! drive it with tower's `oneshot`, without a socket.
//!
//! ```text
//! GET  /healthz                  no credentials; 200 while the process runs
//! GET  /readyz                   no credentials; 200 while the writer stores batches
//! POST /api/v1/ingest/{format}   ingest role; k8s, k8s-legacy, okd, mke, dcos, auditd, jsonl, auto
//! GET  /metrics                  read role (or none, by configuration); Prometheus text
//! GET  /api/v1/events            read role; the query API (see `query`), every read of the
//! GET  /api/v1/events/stream       trail recorded in the ledger as an `auditrail` event
//! GET  /api/v1/reports/{name}
//! GET  /api/v1/checkpoint
//! GET  /api/v1/proof/{id}
//! ```
//!
//! Ingest answers 200 only after every kept event of the body is durable; a body with some
//! malformed records still gets 200 (the bad records are quarantined, counted in the answer);
//! a body with nothing decodable gets 400. Overload (no free ingest slot, a full writer
//! queue) gets 503 with `Retry-After`, and nothing of that request is kept.
//!
//! The query endpoints are further routes on the same state ([`crate::query::routes`]):
//! [`AppState`] is cheap to clone and holds the shared parts behind one `Arc`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use formats::InputFormat;
use policy::Policy;
use tokio::sync::{Semaphore, oneshot, watch};

use crate::auth::{Action, Authenticator, PeerIdentity, Principal};
use crate::clock;
use crate::config::Limits;
use crate::error::ApiError;
use crate::ingest;
use crate::limits::{
    ACK_TIMEOUT, QUERY_CONCURRENT_MAX, RATE_PRINCIPALS_MAX, STREAM_SUBSCRIBERS_MAX,
};
use crate::metrics::{Metrics, RequestLabels};
use crate::pipeline::{IngestQueue, Job, SubmitError};
use crate::query;
use crate::stream::Hub;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    shared: Arc<Shared>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) queue: IngestQueue,
    policy: Arc<Policy>,
    auth: Authenticator,
    pub(crate) metrics: Arc<Metrics>,
    limits: Limits,
    slots: Arc<Semaphore>,
    rate: RateLimiter,
    metrics_require_auth: bool,
    ready: AtomicBool,
    /// The data directory, which queries read without the writer's lock.
    pub(crate) data: PathBuf,
    /// The live tail of stored records.
    pub(crate) hub: Hub,
    /// Queries running at once.
    pub(crate) query_slots: Arc<Semaphore>,
    /// Live-tail subscribers at once.
    pub(crate) stream_slots: Arc<Semaphore>,
    /// Becomes true when the server starts to shut down (live tails end then).
    pub(crate) shutdown: watch::Receiver<bool>,
}

/// The parts of an [`AppState`].
#[derive(Debug)]
pub(crate) struct StateParts {
    pub(crate) queue: IngestQueue,
    pub(crate) policy: Arc<Policy>,
    pub(crate) auth: Authenticator,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) limits: Limits,
    pub(crate) metrics_require_auth: bool,
    pub(crate) data: PathBuf,
    pub(crate) hub: Hub,
    pub(crate) shutdown: watch::Receiver<bool>,
}

impl AppState {
    pub(crate) fn new(parts: StateParts) -> AppState {
        let limits = parts.limits;
        AppState {
            shared: Arc::new(Shared {
                queue: parts.queue,
                policy: parts.policy,
                auth: parts.auth,
                metrics: parts.metrics,
                limits,
                slots: Arc::new(Semaphore::new(limits.ingest_concurrent)),
                rate: RateLimiter::new(limits.rate_requests_per_second, limits.rate_burst),
                metrics_require_auth: parts.metrics_require_auth,
                ready: AtomicBool::new(true),
                data: parts.data,
                hub: parts.hub,
                query_slots: Arc::new(Semaphore::new(QUERY_CONCURRENT_MAX)),
                stream_slots: Arc::new(Semaphore::new(STREAM_SUBSCRIBERS_MAX)),
                shutdown: parts.shutdown,
            }),
        }
    }

    /// Marks the server ready or not (`/readyz`).
    pub(crate) fn set_ready(&self, ready: bool) {
        self.shared.ready.store(ready, Ordering::Relaxed);
    }

    #[cfg(test)]
    pub(crate) fn queue(&self) -> &IngestQueue {
        &self.shared.queue
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// The credentials of a request: a bearer token, else a verified client certificate.
    pub(crate) fn authenticate(
        &self,
        headers: &HeaderMap,
        peer: Option<&PeerIdentity>,
    ) -> Result<Principal, ApiError> {
        let auth = &self.shared.auth;
        let principal = match headers.get(header::AUTHORIZATION) {
            Some(value) => {
                let token = value
                    .to_str()
                    .ok()
                    .and_then(|value| value.strip_prefix("Bearer "))
                    .map(str::trim)
                    .ok_or(ApiError::Unauthenticated)?;
                auth.token(token).ok_or(ApiError::Unauthenticated)?
            }
            None => peer
                .and_then(|peer| auth.certificate(peer))
                .ok_or(ApiError::Unauthenticated)?,
        };
        if !self.shared.rate.allow(&principal.name) {
            self.shared.metrics.refused("rate");
            return Err(ApiError::RateLimited);
        }
        Ok(principal)
    }
}

/// A request's authenticated principal (401 without credentials, 429 over its rate).
#[derive(Debug, Clone)]
pub struct Authenticated(pub Principal);

impl Authenticated {
    /// The principal, if its role allows `action` (else 403).
    pub fn require(self, action: Action) -> Result<Principal, ApiError> {
        if self.0.role.allows(action) {
            Ok(self.0)
        } else {
            Err(ApiError::Forbidden(action.verb()))
        }
    }
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Authenticated, ApiError> {
        state
            .authenticate(&parts.headers, parts.extensions.get::<PeerIdentity>())
            .map(Authenticated)
    }
}

/// The whole API.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/v1/ingest/{format}", post(ingest_handler))
        .route("/metrics", get(metrics_handler))
        .merge(query::routes())
        .fallback(not_found)
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<AppState>) -> Response {
    if state.shared.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
    }
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

async fn metrics_handler(State(state): State<AppState>, request: Request) -> Response {
    if state.shared.metrics_require_auth {
        let principal = state
            .authenticate(
                request.headers(),
                request.extensions().get::<PeerIdentity>(),
            )
            .and_then(|principal| Authenticated(principal).require(Action::Read));
        if let Err(error) = principal {
            return error.into_response();
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.shared.metrics.encode(),
    )
        .into_response()
}

/// What an ingest request is told.
#[derive(Debug, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct IngestAnswer {
    /// Events decoded from the body.
    pub events: u64,
    /// Events kept by the policy, now durable (stored, or stored before).
    pub kept: u64,
    /// Events dropped by the policy.
    pub dropped: u64,
    /// Malformed records, kept in the quarantine file.
    pub quarantined: u64,
}

async fn ingest_handler(
    State(state): State<AppState>,
    Path(format): Path<String>,
    authenticated: Authenticated,
    request: Request,
) -> Response {
    let started = clock::instant();
    let result = ingest_request(&state, &format, authenticated, request, started).await;
    let code = match &result {
        Ok(response) => response.status(),
        Err(error) => error.status(),
    };
    state
        .shared
        .metrics
        .ingest_requests
        .get_or_create(&RequestLabels {
            format: format_label(&format).to_owned(),
            code: code.as_u16().to_string(),
        })
        .inc();
    result.unwrap_or_else(IntoResponse::into_response)
}

fn format_label(format: &str) -> &str {
    input_format(format).map_or("unknown", |_| format)
}

fn input_format(name: &str) -> Option<InputFormat> {
    InputFormat::ALL
        .iter()
        .find(|(_, known)| *known == name)
        .map(|(format, _)| *format)
}

async fn ingest_request(
    state: &AppState,
    format: &str,
    authenticated: Authenticated,
    request: Request,
    started: Instant,
) -> Result<Response, ApiError> {
    let shared = &state.shared;
    let principal = authenticated.require(Action::Ingest)?;
    let format = input_format(format).ok_or(ApiError::NotFound)?;
    let limit = shared.limits.body_bytes;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        shared.metrics.refused("too_large");
        return Err(ApiError::TooLarge(limit));
    }
    // The slot is held from before the body is read until the acknowledgement: memory is
    // bounded by the number of slots.
    let Ok(_slot) = shared.slots.clone().try_acquire_owned() else {
        shared.metrics.refused("busy");
        return Err(ApiError::Overloaded);
    };
    shared.metrics.ingest_in_flight.inc();
    let _in_flight = InFlight(&shared.metrics);
    let body = match axum::body::to_bytes(request.into_body(), limit).await {
        Ok(body) => body,
        Err(error) => {
            let too_large = std::error::Error::source(&error)
                .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
            if too_large {
                shared.metrics.refused("too_large");
                return Err(ApiError::TooLarge(limit));
            }
            return Err(ApiError::BadRequest(
                "cannot read the request body".to_owned(),
            ));
        }
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest(
            "empty body: send an audit.k8s.io EventList, events or lines".to_owned(),
        ));
    }
    let policy = Arc::clone(&shared.policy);
    let input = format!("http:{}", principal.name);
    let body_len = body.len();
    let decoded =
        tokio::task::spawn_blocking(move || ingest::decode(format, &body, &input, &policy))
            .await
            .map_err(|error| ApiError::internal(&error))?;
    shared.metrics.add_decoded(&decoded.counts);
    let answer = IngestAnswer {
        events: decoded.events,
        kept: decoded.prepared.len() as u64,
        dropped: decoded.dropped,
        quarantined: decoded.quarantine.len() as u64,
    };
    let wholly_bad = answer.events == 0 && answer.quarantined > 0;
    if !decoded.prepared.is_empty() || !decoded.quarantine.is_empty() {
        let (ack, acknowledged) = oneshot::channel();
        let job = Job {
            prepared: decoded.prepared,
            bytes: body_len,
            quarantine: decoded.quarantine,
            format: format.name(),
            counts: decoded.counts,
            ack,
        };
        match shared.queue.try_submit(job) {
            Ok(()) => {}
            Err(SubmitError::Full) => {
                shared.metrics.refused("queue_full");
                return Err(ApiError::Overloaded);
            }
            Err(SubmitError::Closed) => return Err(ApiError::internal(&"the writer is gone")),
        }
        match tokio::time::timeout(ACK_TIMEOUT, acknowledged).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(_))) => {
                state.set_ready(false);
                // The writer logged the cause.
                return Err(ApiError::Internal);
            }
            Ok(Err(_)) => return Err(ApiError::internal(&"the writer stopped")),
            Err(_) => {
                shared.metrics.refused("ack_timeout");
                return Err(ApiError::Overloaded);
            }
        }
        if answer.kept > 0 {
            state.set_ready(true);
        }
    }
    shared
        .metrics
        .ingest_batch_seconds
        .observe(started.elapsed().as_secs_f64());
    if wholly_bad {
        return Err(ApiError::BadRequest(format!(
            "no record of the body could be decoded as {}; the {} records are quarantined",
            format.name(),
            answer.quarantined
        )));
    }
    Ok((StatusCode::OK, Json(answer)).into_response())
}

struct InFlight<'a>(&'a Metrics);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.ingest_in_flight.dec();
    }
}

/// A token bucket per principal.
#[derive(Debug)]
struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<Arc<str>, (f64, Instant)>>,
}

impl RateLimiter {
    fn new(per_second: u32, burst: u32) -> RateLimiter {
        RateLimiter {
            per_second: f64::from(per_second),
            burst: f64::from(burst),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn allow(&self, principal: &Arc<str>) -> bool {
        let now = clock::instant();
        let Ok(mut buckets) = self.buckets.lock() else {
            return true;
        };
        if buckets.len() >= RATE_PRINCIPALS_MAX && !buckets.contains_key(principal) {
            buckets.clear();
        }
        let (tokens, last) = buckets
            .entry(Arc::clone(principal))
            .or_insert((self.burst, now));
        let refill = now.duration_since(*last).as_secs_f64() * self.per_second;
        *tokens = (*tokens + refill).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}
