//! Prometheus metrics, served at `/metrics` in the text exposition format.
//!
//! `prometheus-client` is the Prometheus project's own Rust client: typed counters, gauges
//! and histograms registered in one `Registry`, with OpenMetrics text encoding and no global
//! state (each server, and each router test, has its own registry).
//!
//! Names follow the Prometheus conventions: `auditrail_` prefix, base units (seconds,
//! bytes), `_total` for counters (added by the encoder). Label values are bounded sets
//! (source kinds, verbs, code classes, levels, formats, reasons), never user names or ids.
//!
//! The event counters share the labels `source`, `verb` and `code_class`, so that for every
//! label set `received = stored + duplicate + dropped` once the requests are answered
//! (events of a request refused for overload are not received: nothing of it is kept).
//! `process_*` are the standard process metrics (resident memory, CPU, open files), read
//! from `/proc` at each scrape on Linux.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of received, stored and duplicate events.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReceivedLabels {
    /// Source kind (`k8s`, `okd`, …).
    pub source: &'static str,
    /// Verb (bounded: known Kubernetes verbs, else `other`).
    pub verb: &'static str,
    /// `2xx`, `4xx`, …, or `none`.
    pub code_class: &'static str,
}

/// Labels of dropped events: those of [`ReceivedLabels`] and why.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DroppedLabels {
    /// Source kind.
    pub source: &'static str,
    /// Verb (bounded).
    pub verb: &'static str,
    /// Code class.
    pub code_class: &'static str,
    /// Why (`policy`).
    pub reason: &'static str,
}

/// A single `format` label (the ingest endpoint's format).
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FormatLabels {
    /// `k8s`, `okd`, … (`unknown` for a path naming no format).
    pub format: &'static str,
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

/// A single `endpoint` label: the query API's route (`events`, `events_stream`, `reports`,
/// `checkpoint`, `proof`).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabels {
    /// The endpoint.
    pub endpoint: String,
}

/// Labels of answered query requests.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueryLabels {
    /// The endpoint.
    pub endpoint: String,
    /// HTTP status code.
    pub code: String,
}

fn query_histogram() -> Histogram {
    // 0.5 ms to about 16 s.
    Histogram::new(exponential_buckets(0.000_5, 2.0, 16))
}

/// Every metric of the server.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Events decoded from requests.
    pub events_received: Family<ReceivedLabels, Counter>,
    /// Events made durable (new leaves of the ledger).
    pub events_stored: Family<ReceivedLabels, Counter>,
    /// Events not stored again because they were stored already (retries).
    pub events_duplicate: Family<ReceivedLabels, Counter>,
    /// Events dropped, by reason (`policy`).
    pub events_dropped: Family<DroppedLabels, Counter>,
    /// Policy decisions by level.
    pub policy_decisions: Family<LevelLabels, Counter>,
    /// Records (lines, list items) quarantined as malformed, by format.
    pub quarantined_records: Family<FormatLabels, Counter>,
    /// Ingest requests answered, by format and status code.
    pub ingest_requests: Family<RequestLabels, Counter>,
    /// Requests refused before anything was accepted, by reason.
    pub requests_refused: Family<ReasonLabels, Counter>,
    /// Time from a request's arrival to its acknowledgement.
    pub ingest_batch_seconds: Histogram,
    /// Time of one group commit (dedup, ledger append with its fsync).
    pub ledger_append_seconds: Histogram,
    /// Time of the fsync of one group commit's segment write.
    pub ledger_fsync_seconds: Histogram,
    /// Requests merged into one group commit.
    pub group_commit_requests: Histogram,
    /// Leaves of the ledger's Merkle tree.
    pub ledger_tree_size: Gauge,
    /// Bytes of the ledger's segment files.
    pub ledger_bytes: Gauge,
    /// Batches waiting for the writer.
    pub queue_batches: Gauge,
    /// Time the background checkpointer spends making one checkpoint's tiles durable.
    pub checkpoint_sync_seconds: Histogram,
    /// Checkpoints that could not be signed, made durable or stored (the next one retries).
    pub checkpoint_failures: Counter,
    /// Time the writer spends committing one finished compaction (index files moved into
    /// place, index record appended, segment externalized).
    pub compaction_commit_seconds: Histogram,
    /// Time the background compactor spends on one segment (read, convert, write, compare).
    pub compaction_seconds: Histogram,
    /// Ledger segments converted to the columnar index.
    pub compacted_segments: Counter,
    /// Events in the segments converted.
    pub compacted_events: Counter,
    /// Compactions that failed (the segment stays in row form and is tried again).
    pub compaction_failures: Counter,
    /// Sealed ledger segments still in row form, waiting to be compacted.
    pub compaction_pending_segments: Gauge,
    /// Identity keys of the row-form tail held in memory for deduplication.
    pub dedup_recent_keys: Gauge,
    /// Identity keys of index segments held in the deduplication cache.
    pub dedup_cached_keys: Gauge,
    /// Index segments whose keys are in the deduplication cache.
    pub dedup_cached_segments: Gauge,
    /// The deduplication cache's limit, in keys.
    pub dedup_cache_limit_keys: Gauge,
    /// Index segments summarised for deduplication (all of them).
    pub dedup_segments: Gauge,
    /// Times an index segment's keys were read for deduplication.
    pub dedup_segment_loads: Counter,
    /// Index segments' keys evicted from the deduplication cache.
    pub dedup_segment_evictions: Counter,
    /// Ingest requests between body and acknowledgement.
    pub ingest_in_flight: Gauge,
    /// Per-source metrics of the collectors (`auditrail_collector_*`).
    pub collectors: collect::CollectorMetrics,
    /// Time to answer a query request, by endpoint (the audit record of the read included).
    pub query_seconds: Family<EndpointLabels, Histogram, fn() -> Histogram>,
    /// Query requests answered, by endpoint and status code.
    pub query_requests: Family<QueryLabels, Counter>,
    /// Reads of the trail recorded in the ledger as `auditrail` events.
    pub reads_audited: Counter,
    /// Live-tail subscribers connected.
    pub stream_subscribers: Gauge,
    /// Lag notices sent to live-tail subscribers that fell behind.
    pub stream_lagged: Counter,
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
            events_stored: Family::default(),
            events_duplicate: Family::default(),
            events_dropped: Family::default(),
            policy_decisions: Family::default(),
            quarantined_records: Family::default(),
            ingest_requests: Family::default(),
            requests_refused: Family::default(),
            ingest_batch_seconds: Histogram::new(exponential_buckets(0.000_5, 2.0, 16)),
            ledger_append_seconds: Histogram::new(exponential_buckets(0.000_1, 2.0, 18)),
            ledger_fsync_seconds: Histogram::new(exponential_buckets(0.000_05, 2.0, 18)),
            group_commit_requests: Histogram::new(exponential_buckets(1.0, 2.0, 8)),
            ledger_tree_size: Gauge::default(),
            ledger_bytes: Gauge::default(),
            queue_batches: Gauge::default(),
            checkpoint_sync_seconds: Histogram::new(exponential_buckets(0.000_1, 2.0, 18)),
            checkpoint_failures: Counter::default(),
            compaction_commit_seconds: Histogram::new(exponential_buckets(0.000_1, 2.0, 18)),
            compaction_seconds: Histogram::new(exponential_buckets(0.01, 2.0, 14)),
            compacted_segments: Counter::default(),
            compacted_events: Counter::default(),
            compaction_failures: Counter::default(),
            compaction_pending_segments: Gauge::default(),
            dedup_recent_keys: Gauge::default(),
            dedup_cached_keys: Gauge::default(),
            dedup_cached_segments: Gauge::default(),
            dedup_cache_limit_keys: Gauge::default(),
            dedup_segments: Gauge::default(),
            dedup_segment_loads: Counter::default(),
            dedup_segment_evictions: Counter::default(),
            ingest_in_flight: Gauge::default(),
            collectors: collect::CollectorMetrics::default(),
            query_seconds: Family::new_with_constructor(query_histogram),
            query_requests: Family::default(),
            reads_audited: Counter::default(),
            stream_subscribers: Gauge::default(),
            stream_lagged: Counter::default(),
        };
        let r = &mut registry;
        r.register(
            "auditrail_events_received",
            "Events decoded from ingest requests, by source kind, verb and status code class",
            metrics.events_received.clone(),
        );
        r.register(
            "auditrail_events_stored",
            "Events made durable in the ledger (new leaves), by source kind, verb and status code class",
            metrics.events_stored.clone(),
        );
        r.register(
            "auditrail_events_duplicate",
            "Events not stored again because the same event is stored (retried batches)",
            metrics.events_duplicate.clone(),
        );
        r.register(
            "auditrail_events_dropped",
            "Events not stored, by source kind, verb, status code class and reason (policy: the audit policy's level None or an omitted stage)",
            metrics.events_dropped.clone(),
        );
        r.register(
            "auditrail_policy_decisions",
            "Policy decisions by the level kept (None: dropped)",
            metrics.policy_decisions.clone(),
        );
        r.register(
            "auditrail_quarantined_records",
            "Malformed input records (lines, list items) kept raw in the quarantine file, by ingest format",
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
            "Time of one group commit: quarantine write, deduplication, and the ledger append with its fsync",
            metrics.ledger_append_seconds.clone(),
        );
        r.register(
            "auditrail_ledger_fsync_seconds",
            "Time of the fsync that makes one group commit's records durable",
            metrics.ledger_fsync_seconds.clone(),
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
            "auditrail_checkpoint_sync_seconds",
            "Time the background checkpointer spends making one checkpoint's tiles durable (acknowledgements do not wait for it)",
            metrics.checkpoint_sync_seconds.clone(),
        );
        r.register(
            "auditrail_checkpoint_failures",
            "Checkpoints that could not be signed, made durable or stored; the next one tries again",
            metrics.checkpoint_failures.clone(),
        );
        r.register(
            "auditrail_compaction_commit_seconds",
            "Time the writer spends committing one compacted segment: index files moved into place, index record appended, segment externalized",
            metrics.compaction_commit_seconds.clone(),
        );
        r.register(
            "auditrail_compaction_seconds",
            "Time the background compactor spends on one segment: read, convert to Parquet, write durably, compare every record",
            metrics.compaction_seconds.clone(),
        );
        r.register(
            "auditrail_compacted_segments",
            "Sealed ledger segments converted to the columnar index",
            metrics.compacted_segments.clone(),
        );
        r.register(
            "auditrail_compacted_events",
            "Events in the ledger segments converted to the columnar index",
            metrics.compacted_events.clone(),
        );
        r.register(
            "auditrail_compaction_failures",
            "Compactions that failed; the segment stays in row form and is tried again",
            metrics.compaction_failures.clone(),
        );
        r.register(
            "auditrail_compaction_pending_segments",
            "Sealed ledger segments still in row form, waiting to be compacted",
            metrics.compaction_pending_segments.clone(),
        );
        r.register(
            "auditrail_dedup_recent_keys",
            "Identity keys of the events still in row form (and of a bulk load's segments in flight), held in memory for deduplication",
            metrics.dedup_recent_keys.clone(),
        );
        r.register(
            "auditrail_dedup_cached_keys",
            "Identity keys of index segments held in the deduplication cache",
            metrics.dedup_cached_keys.clone(),
        );
        r.register(
            "auditrail_dedup_cached_segments",
            "Index segments whose identity keys are in the deduplication cache",
            metrics.dedup_cached_segments.clone(),
        );
        r.register(
            "auditrail_dedup_cache_limit_keys",
            "Most identity keys of index segments the deduplication cache holds",
            metrics.dedup_cache_limit_keys.clone(),
        );
        r.register(
            "auditrail_dedup_segments",
            "Index segments with a key-time summary, looked up when an event's time falls in their range",
            metrics.dedup_segments.clone(),
        );
        r.register(
            "auditrail_dedup_segment_loads",
            "Times an index segment's identity keys were read from its Parquet file for a lookup",
            metrics.dedup_segment_loads.clone(),
        );
        r.register(
            "auditrail_dedup_segment_evictions",
            "Index segments' identity keys evicted from the deduplication cache to make room",
            metrics.dedup_segment_evictions.clone(),
        );
        r.register(
            "auditrail_ingest_in_flight",
            "Ingest requests between reading their body and their acknowledgement",
            metrics.ingest_in_flight.clone(),
        );
        metrics.collectors.register(r);
        r.register_collector(Box::new(ProcessCollector));
        r.register(
            "auditrail_query_seconds",
            "Time to answer a query API request, by endpoint, the audit record of the read included",
            metrics.query_seconds.clone(),
        );
        r.register(
            "auditrail_query_requests",
            "Query API requests answered, by endpoint and status code",
            metrics.query_requests.clone(),
        );
        r.register(
            "auditrail_reads_audited",
            "Reads of the trail recorded in the ledger as auditrail events",
            metrics.reads_audited.clone(),
        );
        r.register(
            "auditrail_stream_subscribers",
            "Live-tail (server-sent events) subscribers connected",
            metrics.stream_subscribers.clone(),
        );
        r.register(
            "auditrail_stream_lagged",
            "Lag notices sent to live-tail subscribers that fell behind",
            metrics.stream_lagged.clone(),
        );
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

    /// Adds a request's counts: events received, dropped by the policy, policy decisions.
    pub(crate) fn add_decoded(&self, counts: &LabelCounts) {
        for (labels, count) in counts.labels.iter().zip(&counts.received) {
            if *count > 0 {
                self.events_received.get_or_create(labels).inc_by(*count);
            }
        }
        for (labels, count) in counts.labels.iter().zip(&counts.dropped) {
            if *count > 0 {
                self.events_dropped
                    .get_or_create(&DroppedLabels {
                        source: labels.source,
                        verb: labels.verb,
                        code_class: labels.code_class,
                        reason: "policy",
                    })
                    .inc_by(*count);
            }
        }
        for (level, count) in &counts.decisions {
            self.policy_decisions
                .get_or_create(&LevelLabels {
                    level: (*level).to_owned(),
                })
                .inc_by(*count);
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

/// Sets the deduplication metrics from what the store's identity keys hold (the counters
/// move up to the store's totals; only the writer calls this).
pub(crate) fn set_key_stats(metrics: &Metrics, stats: store::KeyStats) {
    let gauge = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
    metrics.dedup_recent_keys.set(gauge(stats.recent_keys));
    metrics.dedup_cached_keys.set(gauge(stats.cached_keys));
    metrics
        .dedup_cached_segments
        .set(gauge(stats.cached_segments));
    metrics.dedup_cache_limit_keys.set(gauge(stats.cache_limit));
    metrics.dedup_segments.set(gauge(stats.segments));
    for (counter, total) in [
        (&metrics.dedup_segment_loads, stats.loads),
        (&metrics.dedup_segment_evictions, stats.evictions),
    ] {
        let more = total.saturating_sub(counter.get());
        if more > 0 {
            counter.inc_by(more);
        }
    }
}

/// A request's events counted by label set: a small table of the distinct label sets, with
/// the index of every kept event's label set, in order, so that the writer can count what
/// it stored.
#[derive(Debug, Default)]
pub(crate) struct LabelCounts {
    /// The distinct label sets.
    pub(crate) labels: Vec<ReceivedLabels>,
    /// Events received per label set.
    pub(crate) received: Vec<u64>,
    /// Events dropped by the policy per label set.
    pub(crate) dropped: Vec<u64>,
    /// The label set of every kept event, in the order of the batch.
    pub(crate) kept: Vec<u32>,
    /// Policy decisions by level.
    pub(crate) decisions: Vec<(&'static str, u64)>,
}

impl LabelCounts {
    /// Counts one event; `kept` tells whether the policy kept it.
    pub(crate) fn add(&mut self, labels: ReceivedLabels, level: &'static str, kept: bool) {
        // A request holds few label sets (sources × verbs × classes): a linear scan of a
        // short table beats hashing.
        let index = match self.labels.iter().position(|known| *known == labels) {
            Some(index) => index,
            None => {
                self.labels.push(labels);
                self.received.push(0);
                self.dropped.push(0);
                self.labels.len() - 1
            }
        };
        self.received[index] += 1;
        if kept {
            self.kept.push(index as u32);
        } else {
            self.dropped[index] += 1;
        }
        match self.decisions.iter_mut().find(|(known, _)| *known == level) {
            Some((_, count)) => *count += 1,
            None => self.decisions.push((level, 1)),
        }
    }

    /// Counts the kept events of this request as stored or duplicate; `duplicates` are the
    /// indices (ascending, relative to this request's batch) of those stored before.
    pub(crate) fn add_stored(&self, metrics: &Metrics, duplicates: &[usize]) {
        let mut stored = vec![0u64; self.labels.len()];
        let mut again = vec![0u64; self.labels.len()];
        let mut next = duplicates.iter().peekable();
        for (index, label) in self.kept.iter().enumerate() {
            if next.next_if(|duplicate| **duplicate == index).is_some() {
                again[*label as usize] += 1;
            } else {
                stored[*label as usize] += 1;
            }
        }
        for ((labels, stored), again) in self.labels.iter().zip(stored).zip(again) {
            if stored > 0 {
                metrics.events_stored.get_or_create(labels).inc_by(stored);
            }
            if again > 0 {
                metrics.events_duplicate.get_or_create(labels).inc_by(again);
            }
        }
    }
}

/// The standard `process_*` metrics of this process, read from `/proc/self` at each scrape
/// (absent where there is no `/proc`).
#[derive(Debug)]
struct ProcessCollector;

/// Clock ticks per second of `/proc/self/stat` (`USER_HZ`: 100 in the kernel ABI of every
/// architecture Linux exports it on).
const USER_HZ: f64 = 100.0;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(process) = read_process() else {
            return Ok(());
        };
        let gauges = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                process.resident_bytes,
            ),
            (
                "process_resident_memory_max_bytes",
                "Peak resident memory size in bytes since the process started",
                process.resident_max_bytes,
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes",
                process.virtual_bytes,
            ),
            (
                "process_open_fds",
                "Open file descriptors",
                process.open_fds,
            ),
        ];
        for (name, help, value) in gauges {
            let gauge = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
            let metric = encoder.encode_descriptor(name, help, None, gauge.metric_type())?;
            gauge.encode(metric)?;
        }
        let cpu = ConstCounter::new(process.cpu_seconds);
        let metric = encoder.encode_descriptor(
            "process_cpu_seconds",
            "User and system CPU time spent in seconds",
            None,
            cpu.metric_type(),
        )?;
        cpu.encode(metric)
    }
}

#[derive(Debug, Default)]
struct Process {
    resident_bytes: u64,
    resident_max_bytes: u64,
    virtual_bytes: u64,
    open_fds: u64,
    cpu_seconds: f64,
}

fn read_process() -> Option<Process> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|value| value.parse::<u64>().ok())
            .map_or(0, |value| value * 1024)
    };
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|value| value.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of stat(5); `fields` starts at field 3.
    let cpu_ticks = ticks(11) + ticks(12);
    let open_fds = std::fs::read_dir("/proc/self/fd").map_or(0, |dir| dir.count() as u64);
    Some(Process {
        resident_bytes: kib("VmRSS:"),
        resident_max_bytes: kib("VmHWM:"),
        virtual_bytes: kib("VmSize:"),
        open_fds,
        cpu_seconds: cpu_ticks as f64 / USER_HZ,
    })
}

/// A verb as a bounded label value.
pub(crate) fn verb_label(verb: &str) -> &'static str {
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
    KNOWN
        .iter()
        .find(|known| **known == verb)
        .copied()
        .unwrap_or("other")
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
