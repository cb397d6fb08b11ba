//! The agent's Prometheus metrics: its collectors' (`auditrail_collector_*`, the same names
//! as in the server), its spool and its forwarding (`auditrail_agent_*`), served at
//! `GET /metrics` on `metrics_listen` when configured.
//!
//! The endpoint needs no credentials: it tells how far behind each source is and how full
//! the spool is, not what was collected. Bind it to loopback or to the address that only
//! the monitoring network reaches (`metrics_listen = "127.0.0.1:9464"`).
//!
//! The agent is otherwise blocking threads; the endpoint runs on its own thread with a
//! single-threaded tokio runtime (axum, as the server's endpoints), stopped with the agent.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::error::AgentError;
use crate::limits::METRICS_STOP_POLL;

/// Every metric of the agent.
#[derive(Debug)]
pub struct AgentMetrics {
    registry: Registry,
    /// The collectors' per-source metrics (lag, records, bytes, files, restarts).
    pub collectors: collect::CollectorMetrics,
    /// Bytes in the spool.
    pub spool_bytes: Gauge,
    /// Batches in the spool.
    pub spool_batches: Gauge,
    /// Batches the server acknowledged.
    pub forwarded_batches: Counter,
    /// Events in the batches the server acknowledged.
    pub forwarded_events: Counter,
    /// Sends that failed (connection errors, refused credentials, other statuses).
    pub send_failures: Counter,
    /// Sends the server answered with 429 or 503 (retried after its `Retry-After`).
    pub send_throttled: Counter,
    /// Time from sending a batch to its acknowledgement.
    pub send_seconds: Histogram,
}

impl Default for AgentMetrics {
    fn default() -> AgentMetrics {
        AgentMetrics::new()
    }
}

impl AgentMetrics {
    /// Every metric, registered.
    pub fn new() -> AgentMetrics {
        let mut registry = Registry::default();
        let collectors = collect::CollectorMetrics::default();
        collectors.register(&mut registry);
        let mut metrics = AgentMetrics {
            registry,
            collectors,
            spool_bytes: Gauge::default(),
            spool_batches: Gauge::default(),
            forwarded_batches: Counter::default(),
            forwarded_events: Counter::default(),
            send_failures: Counter::default(),
            send_throttled: Counter::default(),
            // 1 ms to about 33 s: an acknowledgement waits for the server's fsync.
            send_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
        };
        let registry = &mut metrics.registry;
        registry.register(
            "auditrail_agent_spool_bytes",
            "Bytes of batches in the agent's spool, not yet acknowledged by the server",
            metrics.spool_bytes.clone(),
        );
        registry.register(
            "auditrail_agent_spool_batches",
            "Batches in the agent's spool, not yet acknowledged by the server",
            metrics.spool_batches.clone(),
        );
        registry.register(
            "auditrail_agent_forwarded_batches",
            "Batches the server acknowledged (durably stored)",
            metrics.forwarded_batches.clone(),
        );
        registry.register(
            "auditrail_agent_forwarded_events",
            "Events in the batches the server acknowledged",
            metrics.forwarded_events.clone(),
        );
        registry.register(
            "auditrail_agent_send_failures",
            "Sends of a batch that failed and are retried after a backoff",
            metrics.send_failures.clone(),
        );
        registry.register(
            "auditrail_agent_send_throttled",
            "Sends of a batch the server answered with 429 or 503 (overload)",
            metrics.send_throttled.clone(),
        );
        registry.register(
            "auditrail_agent_send_seconds",
            "Time from sending a batch to the server's acknowledgement",
            metrics.send_seconds.clone(),
        );
        metrics
    }

    /// The metrics in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }

    /// Sets the spool gauges.
    pub(crate) fn spool_usage(&self, bytes: u64, batches: usize) {
        self.spool_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
        self.spool_batches
            .set(i64::try_from(batches).unwrap_or(i64::MAX));
    }
}

/// The running endpoint.
#[derive(Debug)]
pub struct MetricsEndpoint {
    /// The address it listens on (the port chosen when `:0` was asked for).
    pub address: SocketAddr,
    thread: JoinHandle<()>,
}

impl MetricsEndpoint {
    /// Waits for the endpoint to stop (after `stop` was set).
    pub fn join(self) {
        if self.thread.join().is_err() {
            tracing::error!("the metrics endpoint's thread panicked");
        }
    }
}

/// Serves `metrics` at `GET /metrics` on `address` until `stop` is set.
pub fn serve(
    address: SocketAddr,
    metrics: Arc<AgentMetrics>,
    stop: Arc<AtomicBool>,
) -> Result<MetricsEndpoint, AgentError> {
    let failed = |source: std::io::Error| AgentError::Metrics {
        address: address.to_string(),
        source,
    };
    let listener = std::net::TcpListener::bind(address).map_err(failed)?;
    listener.set_nonblocking(true).map_err(failed)?;
    let bound = listener.local_addr().map_err(failed)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(failed)?;
    let listener = {
        let _entered = runtime.enter();
        tokio::net::TcpListener::from_std(listener).map_err(failed)?
    };
    let app = Router::new()
        .route("/metrics", get(metrics_handler))
        .with_state(metrics);
    let thread = std::thread::Builder::new()
        .name("auditrail-agent-metrics".to_owned())
        .spawn(move || {
            let stopped = async move {
                while !stop.load(Ordering::Relaxed) {
                    tokio::time::sleep(METRICS_STOP_POLL).await;
                }
            };
            let served = runtime.block_on(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(stopped)
                    .await
            });
            if let Err(error) = served {
                tracing::error!("the metrics endpoint failed: {error}");
            }
        })
        .map_err(failed)?;
    Ok(MetricsEndpoint {
        address: bound,
        thread,
    })
}

async fn metrics_handler(State(metrics): State<Arc<AgentMetrics>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.encode(),
    )
}
