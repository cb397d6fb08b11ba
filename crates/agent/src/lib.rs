//! `auditrail agent`: the collectors of a node that should not hold the trail itself
//! (masters, workers), forwarding to an `auditrail serve` over HTTP(S).
//!
//! ```text
//! sources ─► collect (decode) ─► spool (disk, bounded) ─► POST /api/v1/ingest/jsonl ─► server
//!                                   ▲ full: sources wait        │ 2xx
//!                                   └── entry removed ◄── position committed
//! ```
//!
//! - [`config`]: [`AgentSettings`] from the TOML file.
//! - [`spool`]: [`Spool`], the on-disk buffer with a size limit.
//! - [`forward`]: [`Forwarder`], the HTTP client.
//!
//! Events are decoded on the node (so that records that span lines, such as OKD's request
//! and response lines or Docker-split MKE lines, are paired there) and forwarded in
//! auditrail's lossless JSON lines; the server applies its policy and deduplicates on
//! identity. Malformed records are kept in the agent's own `quarantine.jsonl`.
//!
//! Invariants:
//! - At least once: a source's position is committed only after the server acknowledged
//!   every batch before it; after a crash, the spool is sent again and reading resumes at the
//!   committed position; duplicates are removed by the server.
//! - Bounded: the spool never holds more than its limit plus one batch; a full spool stops
//!   the sources (back-pressure), it never drops.

pub mod config;
mod error;
pub mod forward;
pub mod limits;
pub mod metrics;
pub mod spool;

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use collect::{Batch, CollectError, Offsets, Rejected, Sink};
use serde::Serialize;

pub use config::{AgentFile, AgentSettings};
pub use error::AgentError;
pub use forward::{Forwarder, Sent};
pub use metrics::AgentMetrics;
pub use spool::Spool;

use crate::limits::{RETRY_WAIT_MAX, RETRY_WAIT_MIN, SPOOL_POLL};

/// Spools batches (events as JSON lines) and keeps malformed records locally.
struct SpoolSink {
    spool: Arc<Spool>,
    quarantine: Mutex<std::path::PathBuf>,
    clock: collect::Clock,
    stop: Arc<AtomicBool>,
}

#[derive(Serialize)]
struct QuarantineLine<'a> {
    time: String,
    input: &'a str,
    line: u64,
    offset: u64,
    message: &'a str,
    raw: String,
}

impl SpoolSink {
    fn quarantine(&self, rejected: &[Rejected]) -> Result<(), CollectError> {
        if rejected.is_empty() {
            return Ok(());
        }
        let path = self.quarantine.lock().map_err(|_| CollectError::Poisoned)?;
        let time = event::Timestamp::from_unix_nanos(
            (self.clock)()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |since| since.as_nanos() as i64),
        )
        .to_string();
        let mut text = Vec::new();
        for record in rejected {
            let line = QuarantineLine {
                time: time.clone(),
                input: &record.input,
                line: record.line,
                offset: record.offset,
                message: &record.message,
                raw: String::from_utf8_lossy(&record.raw).into_owned(),
            };
            serde_json::to_writer(&mut text, &line)
                .map_err(|error| CollectError::Sink(error.to_string()))?;
            text.push(b'\n');
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&*path)
            .map_err(CollectError::io(&path))?;
        file.write_all(&text)
            .and_then(|()| file.sync_data())
            .map_err(CollectError::io(&path))
    }
}

impl Sink for SpoolSink {
    fn deliver(&self, batch: Batch) -> Result<(), CollectError> {
        self.quarantine(&batch.rejected)?;
        let mut body = Vec::new();
        for event in &batch.events {
            formats::jsonl::encode(event, &mut body);
        }
        match self.spool.push(
            &batch.source,
            &batch.position,
            batch.events.len() as u64,
            &body,
            &self.stop,
        ) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(spool::Stopping)) => Err(CollectError::Stopped),
            Err(error) => Err(CollectError::Sink(error.to_string())),
        }
    }
}

/// Runs the agent until `stop` is set: the collectors, and on this thread the sender.
pub fn run(
    settings: &AgentSettings,
    stop: &Arc<AtomicBool>,
    clock: collect::Clock,
    announce: &dyn Fn(&str),
) -> Result<(), AgentError> {
    let forwarder = Forwarder::new(settings)?;
    let offsets = Arc::new(Offsets::open(&settings.state.join("offsets"))?);
    let spool = Arc::new(Spool::open(
        &settings.state.join("spool"),
        settings.spool_bytes,
    )?);
    let (bytes, entries) = spool.usage();
    if entries > 0 {
        announce(&format!(
            "{entries} batches ({bytes} bytes) in the spool from before; sending them first"
        ));
    }
    let metrics = Arc::new(AgentMetrics::new());
    metrics.spool_usage(bytes, entries);
    let endpoint = settings
        .metrics_listen
        .map(|address| metrics::serve(address, Arc::clone(&metrics), Arc::clone(stop)))
        .transpose()?;
    if let Some(endpoint) = &endpoint {
        announce(&format!("metrics on http://{}/metrics", endpoint.address));
    }
    let sink = SpoolSink {
        spool: Arc::clone(&spool),
        quarantine: Mutex::new(settings.state.join("quarantine.jsonl")),
        clock: Arc::clone(&clock),
        stop: Arc::clone(stop),
    };
    let collectors = collect::Collectors::start(
        &settings.sources,
        collect::Setup {
            offsets: Arc::clone(&offsets),
            sink: Arc::new(sink),
            metrics: metrics.collectors.clone(),
            clock,
            stop: Arc::clone(stop),
        },
    )?;
    let names: Vec<&str> = settings.sources.iter().map(|s| s.name()).collect();
    announce(&format!(
        "collecting from {}; forwarding to {}",
        names.join(", "),
        settings.ingest_url
    ));
    let sent = send_loop(&spool, &forwarder, &offsets, &metrics, stop);
    stop.store(true, Ordering::Relaxed);
    collectors.stop();
    if let Some(endpoint) = endpoint {
        endpoint.join();
    }
    sent
}

/// Sends the spool, oldest first, until `stop`: each entry until acknowledged, then its
/// position committed and the entry removed.
fn send_loop(
    spool: &Spool,
    forwarder: &Forwarder,
    offsets: &Offsets,
    metrics: &AgentMetrics,
    stop: &AtomicBool,
) -> Result<(), AgentError> {
    let mut wait = RETRY_WAIT_MIN;
    let mut failing_since: Option<Instant> = None;
    while !stop.load(Ordering::Relaxed) {
        let (bytes, batches) = spool.usage();
        metrics.spool_usage(bytes, batches);
        let Some(entry) = spool.oldest()? else {
            pause(stop, SPOOL_POLL);
            continue;
        };
        if entry.header.events > 0 {
            let started = Instant::now();
            match forwarder.send(&entry.body) {
                Sent::Acknowledged => {
                    metrics
                        .send_seconds
                        .observe(started.elapsed().as_secs_f64());
                    metrics.forwarded_batches.inc();
                    metrics.forwarded_events.inc_by(entry.header.events);
                    if failing_since.take().is_some() {
                        tracing::info!("the server acknowledges again");
                    }
                    wait = RETRY_WAIT_MIN;
                }
                Sent::RetryAfter(after) => {
                    metrics.send_throttled.inc();
                    pause(stop, after);
                    continue;
                }
                Sent::Failed(reason) => {
                    metrics.send_failures.inc();
                    if failing_since.is_none() || wait == RETRY_WAIT_MAX {
                        tracing::warn!("{reason}; retrying in {wait:?}");
                    }
                    failing_since.get_or_insert_with(Instant::now);
                    pause(stop, wait);
                    wait = (wait * 2).min(RETRY_WAIT_MAX);
                    continue;
                }
            }
        }
        offsets.commit(&entry.header.source, &entry.header.position)?;
        spool.remove(entry.seq)?;
    }
    Ok(())
}

fn pause(stop: &AtomicBool, duration: Duration) {
    let until = Instant::now() + duration;
    while !stop.load(Ordering::Relaxed) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}
