//! Prometheus metrics, served at `/metrics` in the text exposition format.
//!
//! `prometheus-client` is the Prometheus project's own Rust client: typed counters, gauges
//! and histograms registered in one `Registry`, with OpenMetrics text encoding and no global
//! state (each server, and each router test, has its own registry).
//!
//! Names follow the Prometheus conventions: `auditrail_` prefix, base units (seconds,
//! bytes), `_total` for counters (added by the encoder). Label values are bounded sets
//! (source kinds, verbs, code classes, levels, reasons), never user names or ids.

use std::collections::HashMap;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of received events.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReceivedLabels {
    /// Source kind (`k8s`, `okd`, …).
    pub source: String,
    /// Verb (bounded: known Kubernetes verbs, else `other`).
    pub verb: String,
    /// `2xx`, `4xx`, …, or `none`.
    pub code_class: String,
}

/// A single `reason` label.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// Why.
    pub reason: String,
}

/// A single `level` label.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LevelLabels {
    /// Policy level (`None` for dropped events).
    pub level: String,
}

/// Labels of ingest requests.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// Format of the endpoint.
    pub format: String,
    /// HTTP status code.
    pub code: String,
}

/// Every metric of the server.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Events decoded from requests.
    pub events_received: Family<ReceivedLabels, Counter>,
    /// Events made durable.
    pub events_stored: Counter,
    /// Events not stored again because they were stored already (retries).
    pub events_duplicate: Counter,
    /// Events dropped, by reason (`policy`).
    pub events_dropped: Family<ReasonLabels, Counter>,
    /// Policy decisions by level.
    pub policy_decisions: Family<LevelLabels, Counter>,
    /// Records quarantined as malformed.
    pub quarantined_records: Counter,
    /// Ingest requests answered, by format and status code.
    pub ingest_requests: Family<RequestLabels, Counter>,
    /// Requests refused before anything was accepted, by reason.
    pub requests_refused: Family<ReasonLabels, Counter>,
    /// Time from a request's arrival to its acknowledgement.
    pub ingest_batch_seconds: Histogram,
    /// Time of one group commit (dedup, ledger append with its fsync).
    pub ledger_append_seconds: Histogram,
    /// Requests merged into one group commit.
    pub group_commit_requests: Histogram,
    /// Leaves of the ledger's Merkle tree.
    pub ledger_tree_size: Gauge,
    /// Bytes of the ledger's segment files.
    pub ledger_bytes: Gauge,
    /// Batches waiting for the writer.
    pub queue_batches: Gauge,
    /// Ingest requests between body and acknowledgement.
    pub ingest_in_flight: Gauge,
    /// Per-source metrics of the collectors (`auditrail_collector_*`).
    pub collectors: collect::CollectorMetrics,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    /// A registry with every metric at zero.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let metrics = Metrics {
            registry: Registry::default(),
            events_received: Family::default(),
            events_stored: Counter::default(),
            events_duplicate: Counter::default(),
            events_dropped: Family::default(),
            policy_decisions: Family::default(),
            quarantined_records: Counter::default(),
            ingest_requests: Family::default(),
            requests_refused: Family::default(),
            ingest_batch_seconds: Histogram::new(exponential_buckets(0.000_5, 2.0, 16)),
            ledger_append_seconds: Histogram::new(exponential_buckets(0.000_1, 2.0, 18)),
            group_commit_requests: Histogram::new(exponential_buckets(1.0, 2.0, 8)),
            ledger_tree_size: Gauge::default(),
            ledger_bytes: Gauge::default(),
            queue_batches: Gauge::default(),
            ingest_in_flight: Gauge::default(),
            collectors: collect::CollectorMetrics::default(),
        };
        let r = &mut registry;
        r.register(
            "auditrail_events_received",
            "Events decoded from ingest requests",
            metrics.events_received.clone(),
        );
        r.register(
            "auditrail_events_stored",
            "Events made durable in the ledger",
            metrics.events_stored.clone(),
        );
        r.register(
            "auditrail_events_duplicate",
            "Events not stored again because the same event is stored (retried batches)",
            metrics.events_duplicate.clone(),
        );
        r.register(
            "auditrail_events_dropped",
            "Events dropped, by reason",
            metrics.events_dropped.clone(),
        );
        r.register(
            "auditrail_policy_decisions",
            "Policy decisions by the level kept (None: dropped)",
            metrics.policy_decisions.clone(),
        );
        r.register(
            "auditrail_quarantined_records",
            "Malformed input records kept in quarantine",
            metrics.quarantined_records.clone(),
        );
        r.register(
            "auditrail_ingest_requests",
            "Ingest requests answered, by format and status code",
            metrics.ingest_requests.clone(),
        );
        r.register(
            "auditrail_requests_refused",
            "Requests refused before anything was accepted (overload, rate, size)",
            metrics.requests_refused.clone(),
        );
        r.register(
            "auditrail_ingest_batch_seconds",
            "Time from an ingest request's arrival to its acknowledgement",
            metrics.ingest_batch_seconds.clone(),
        );
        r.register(
            "auditrail_ledger_append_seconds",
            "Time of one group commit: deduplication and the durable ledger append with its fsync",
            metrics.ledger_append_seconds.clone(),
        );
        r.register(
            "auditrail_group_commit_requests",
            "Ingest requests merged into one ledger append",
            metrics.group_commit_requests.clone(),
        );
        r.register(
            "auditrail_ledger_tree_size",
            "Leaves of the ledger's Merkle tree",
            metrics.ledger_tree_size.clone(),
        );
        r.register(
            "auditrail_ledger_bytes",
            "Bytes of the ledger's segment files",
            metrics.ledger_bytes.clone(),
        );
        r.register(
            "auditrail_queue_batches",
            "Batches waiting for the writer",
            metrics.queue_batches.clone(),
        );
        r.register(
            "auditrail_ingest_in_flight",
            "Ingest requests between reading their body and their acknowledgement",
            metrics.ingest_in_flight.clone(),
        );
        metrics.collectors.register(r);
        Metrics {
            registry,
            ..metrics
        }
    }

    /// The text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }

    /// Adds a request's per-label counts.
    pub(crate) fn add_received(&self, counts: &HashMap<ReceivedLabels, u64>) {
        for (labels, count) in counts {
            self.events_received.get_or_create(labels).inc_by(*count);
        }
    }

    /// Adds a request's policy decisions.
    pub(crate) fn add_decisions(&self, counts: &HashMap<&'static str, u64>) {
        for (level, count) in counts {
            self.policy_decisions
                .get_or_create(&LevelLabels {
                    level: (*level).to_owned(),
                })
                .inc_by(*count);
            if *level == "None" {
                self.events_dropped
                    .get_or_create(&ReasonLabels {
                        reason: "policy".to_owned(),
                    })
                    .inc_by(*count);
            }
        }
    }

    /// Counts a refused request.
    pub(crate) fn refused(&self, reason: &str) {
        self.requests_refused
            .get_or_create(&ReasonLabels {
                reason: reason.to_owned(),
            })
            .inc();
    }
}

/// A verb as a bounded label value.
pub(crate) fn verb_label(verb: &str) -> &str {
    const KNOWN: [&str; 15] = [
        "get",
        "list",
        "watch",
        "create",
        "update",
        "patch",
        "delete",
        "deletecollection",
        "proxy",
        "connect",
        "post",
        "put",
        "head",
        "options",
        "impersonate",
    ];
    if KNOWN.contains(&verb) { verb } else { "other" }
}

/// The class of an HTTP status code.
pub(crate) fn code_class(code: Option<u16>) -> &'static str {
    match code {
        Some(100..=199) => "1xx",
        Some(200..=299) => "2xx",
        Some(300..=399) => "3xx",
        Some(400..=499) => "4xx",
        Some(500..=599) => "5xx",
        _ => "none",
    }
}
