//! Per-source Prometheus metrics of the collectors, registered by the server into its
//! registry (`auditrail_collector_*`). The label is the source's configured name, a bounded
//! set chosen by the operator.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The `source` label.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabels {
    /// The source's name.
    pub source: String,
}

/// Every collector metric.
#[derive(Debug, Default, Clone)]
pub struct CollectorMetrics {
    /// Bytes of a file source's files not yet durably stored (size minus the committed
    /// offset, summed over its files).
    pub lag_bytes: Family<SourceLabels, Gauge>,
    /// Seconds since the time of the newest record the source stored (a source that stopped
    /// receiving records grows; one that falls behind shows how far).
    pub lag_seconds: Family<SourceLabels, Gauge<f64, AtomicU64>>,
    /// Records (events) decoded.
    pub records_read: Family<SourceLabels, Counter>,
    /// Malformed records quarantined.
    pub records_quarantined: Family<SourceLabels, Counter>,
    /// Bytes of input read.
    pub bytes_read: Family<SourceLabels, Counter>,
    /// Files open (file sources).
    pub files_open: Family<SourceLabels, Gauge>,
    /// Times the source failed and restarted from its committed position.
    pub restarts: Family<SourceLabels, Counter>,
}

impl CollectorMetrics {
    /// Registers every metric in `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "auditrail_collector_lag_bytes",
            "Bytes of a file source's files not yet durably stored",
            self.lag_bytes.clone(),
        );
        registry.register(
            "auditrail_collector_lag_seconds",
            "Seconds since the time of the newest record the source stored",
            self.lag_seconds.clone(),
        );
        registry.register(
            "auditrail_collector_records_read",
            "Records decoded by a collector",
            self.records_read.clone(),
        );
        registry.register(
            "auditrail_collector_records_quarantined",
            "Malformed records a collector quarantined",
            self.records_quarantined.clone(),
        );
        registry.register(
            "auditrail_collector_bytes_read",
            "Bytes of input a collector read",
            self.bytes_read.clone(),
        );
        registry.register(
            "auditrail_collector_files_open",
            "Files a file collector has open",
            self.files_open.clone(),
        );
        registry.register(
            "auditrail_collector_restarts",
            "Times a collector failed and resumed from its committed position",
            self.restarts.clone(),
        );
    }
}

/// The metrics of one source.
#[derive(Debug, Clone)]
pub(crate) struct SourceMetrics {
    pub(crate) lag_bytes: Gauge,
    pub(crate) lag_seconds: Gauge<f64, AtomicU64>,
    pub(crate) records_read: Counter,
    pub(crate) records_quarantined: Counter,
    pub(crate) bytes_read: Counter,
    pub(crate) files_open: Gauge,
    pub(crate) restarts: Counter,
}

impl SourceMetrics {
    pub(crate) fn new(metrics: &CollectorMetrics, source: &str) -> SourceMetrics {
        let labels = SourceLabels {
            source: source.to_owned(),
        };
        SourceMetrics {
            lag_bytes: metrics.lag_bytes.get_or_create(&labels).clone(),
            lag_seconds: metrics.lag_seconds.get_or_create(&labels).clone(),
            records_read: metrics.records_read.get_or_create(&labels).clone(),
            records_quarantined: metrics.records_quarantined.get_or_create(&labels).clone(),
            bytes_read: metrics.bytes_read.get_or_create(&labels).clone(),
            files_open: metrics.files_open.get_or_create(&labels).clone(),
            restarts: metrics.restarts.get_or_create(&labels).clone(),
        }
    }
}
