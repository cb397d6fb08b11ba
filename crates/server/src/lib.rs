//! `auditrail serve`: the HTTP server a cluster points its audit stream at.
//!
//! - [`app`]: the API as an axum `Router` built from an [`AppState`] (health, ingest,
//!   metrics, and the query API of `query`).
//! - `query`: the query API (events with cursors, reports, checkpoint, proofs, the live tail
//!   as server-sent events); `audit`: every read recorded in the ledger as an `auditrail`
//!   event before it is answered; `stream`: the bounded broadcast of stored records that
//!   feeds the live tail.
//! - [`ingest`]: a request body decoded, the policy applied, encoded for the ledger; on the
//!   blocking pool.
//! - [`pipeline`]: one writer thread owns the `Store`; a bounded queue of batches with a
//!   oneshot acknowledgement each; group commit (whatever is queued becomes one append).
//! - [`auth`]: bearer tokens (hashed in `DATA/tokens.json`) and client certificates, roles.
//! - [`metrics`]: Prometheus metrics. [`config`]: the TOML file and resolved [`Settings`].
//! - `listen`, `tls`: accepting plain or TLS connections (rustls, mutual TLS), graceful
//!   shutdown.
//!
//! Invariants:
//! - An ingest request is answered 2xx only after every event it kept is durable in the
//!   ledger (or was stored before: retries are deduplicated by the store).
//! - Overload is refused up front (503 or 429 with `Retry-After`): nothing accepted is
//!   dropped. Memory is bounded by the limits in [`limits`].
//! - A read of the trail is answered only after its own audit record is durable.
//! - Only this crate (and the binary's thin `serve.rs`) speaks HTTP or runs tokio. Time
//!   comes from `clock`, the one place here that reads it.

pub mod app;
mod audit;
pub mod auth;
mod checkpointer;
mod clock;
mod collectors;
mod compactor;
pub mod config;
mod error;
mod ingest;
pub mod limits;
mod listen;
pub mod metrics;
mod pipeline;
mod query;
mod sql_api;
mod stream;
mod tls;
mod worker;
mod x509;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use policy::Policy;
use store::{Store, StoreOptions};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use app::{AppState, IngestAnswer, router};
pub use auth::{Role, Tokens};
pub use config::{ClientRole, ConfigFile, Limits, Settings, TlsSettings};
pub use error::{ApiError, ServerError};

use crate::app::StateParts;
use crate::auth::Authenticator;
use crate::metrics::Metrics;
use crate::pipeline::IngestQueue;
use crate::stream::Hub;

/// Runs the server until SIGTERM or SIGINT, then shuts down in order: stop accepting, finish
/// in-flight requests, store what is queued, close the store with a final checkpoint.
/// `announce` is told, in words for an operator, where it listens and where the first admin
/// token was written.
pub fn run(settings: &Settings, announce: &dyn Fn(&str)) -> Result<(), ServerError> {
    let now = clock::now();
    let policy = Arc::new(match &settings.policy {
        Some(path) => {
            let text = config::read_text(path, limits::POLICY_FILE_BYTES_MAX)?;
            let loaded = Policy::load(&text).map_err(|error| ServerError::Config {
                path: path.clone(),
                reason: error.to_string(),
            })?;
            for warning in &loaded.warnings {
                announce(&format!("{}: warning: {warning}", path.display()));
            }
            loaded.policy
        }
        None => Policy::permissive(),
    });
    let tls = settings
        .tls
        .as_ref()
        .map(tls::server_config)
        .transpose()?
        .map(|config| tokio_rustls::TlsAcceptor::from(Arc::new(config)));
    let store = Store::open(&settings.data, StoreOptions::default(), now)?;
    let tokens = Tokens::new(&settings.data);
    if let Some(path) = tokens.ensure_admin(now)? {
        announce(&format!(
            "created the first admin token in {} (owner-only); create others with `auditrail token create`",
            path.display()
        ));
    }
    let auth = Authenticator::new(tokens, settings.client_roles.clone())?;
    let metrics = Arc::new(Metrics::new());
    let (queue, receiver) = IngestQueue::new(settings.limits.queue_batches, Arc::clone(&metrics));
    let hub = Hub::new();
    let writer = pipeline::spawn_writer(store, receiver, Arc::clone(&metrics), hub.clone())?;
    let collectors = start_collectors(settings, &queue, &policy, &metrics, announce)?;
    let (stopping, shutdown) = watch::channel(false);
    let state = AppState::new(StateParts {
        queue: queue.clone(),
        policy: Arc::clone(&policy),
        auth,
        metrics,
        limits: settings.limits,
        metrics_require_auth: settings.metrics_require_auth,
        data: settings.data.clone(),
        hub,
        shutdown,
    });
    let served = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("auditrail-http")
        .build()
        .map_err(ServerError::Runtime)
        .and_then(|runtime| {
            runtime.block_on(async {
                let listener = TcpListener::bind(settings.listen).await.map_err(|source| {
                    ServerError::Listen {
                        address: settings.listen,
                        source,
                    }
                })?;
                let local = listener
                    .local_addr()
                    .map_err(|source| ServerError::Listen {
                        address: settings.listen,
                        source,
                    })?;
                let scheme = if tls.is_some() { "https" } else { "http" };
                announce(&format!("listening on {scheme}://{local}"));
                let shutdown = async move {
                    shutdown_signal().await;
                    // Live tails end, so that their connections can close.
                    let _ = stopping.send(true);
                };
                listen::serve(listener, tls, router(state.clone()), shutdown).await;
                Ok(())
            })
        });
    // Every request is answered; the collectors store what they read up to now; what is
    // queued is stored, then the store is closed.
    if let Some(collectors) = collectors {
        collectors.stop();
    }
    queue.stop();
    drop(state);
    let written = writer.join().map_err(|_| ServerError::WriterPanicked)?;
    served?;
    written?;
    announce("stopped; the trail is closed with a final checkpoint");
    Ok(())
}

/// Starts the collectors of `[[sources]]`, if any, storing through `queue`.
fn start_collectors(
    settings: &Settings,
    queue: &IngestQueue,
    policy: &Arc<Policy>,
    metrics: &Arc<Metrics>,
    announce: &dyn Fn(&str),
) -> Result<Option<collect::Collectors>, ServerError> {
    if settings.sources.is_empty() {
        return Ok(None);
    }
    let offsets = Arc::new(collect::Offsets::open(
        &settings.data.join(limits::COLLECTOR_STATE_DIR),
    )?);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sink = collectors::StoreSink {
        queue: queue.clone(),
        policy: Arc::clone(policy),
        metrics: Arc::clone(metrics),
        offsets: Arc::clone(&offsets),
        stop: Arc::clone(&stop),
    };
    let running = collect::Collectors::start(
        &settings.sources,
        collect::Setup {
            offsets,
            sink: Arc::new(sink),
            metrics: metrics.collectors.clone(),
            clock: Arc::new(clock::now),
            stop,
        },
    )?;
    let names: Vec<&str> = settings
        .sources
        .iter()
        .map(|source| source.name())
        .collect();
    announce(&format!("collecting from {}", names.join(", ")));
    Ok(Some(running))
}

/// Completes on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
