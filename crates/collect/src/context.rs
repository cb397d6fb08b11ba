//! What every source thread shares: where positions are committed, where batches go,
//! metrics, the clock, and the stop flag.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use event::AuditEvent;

/// The time of the newest of `events`, as Unix nanoseconds.
pub(crate) fn newest_time(events: &[AuditEvent]) -> Option<i64> {
    events
        .iter()
        .filter_map(|event| event.stage_time.or(event.time))
        .map(|time| time.unix_nanos())
        .max()
}

use crate::batch::Sink;
use crate::metrics::SourceMetrics;
use crate::state::Offsets;

/// The wall clock, given by the caller (only the binary and the server read it).
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Shared parts of one source's thread.
#[derive(Clone)]
pub(crate) struct Context {
    pub(crate) offsets: Arc<Offsets>,
    pub(crate) sink: Arc<dyn Sink>,
    pub(crate) metrics: SourceMetrics,
    pub(crate) clock: Clock,
    pub(crate) stop: Arc<AtomicBool>,
    /// Time of the newest record delivered, as Unix nanoseconds.
    pub(crate) newest: Option<i64>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("offsets", &self.offsets.dir())
            .finish_non_exhaustive()
    }
}

impl Context {
    pub(crate) fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Sleeps for `duration`, waking early when stopping.
    pub(crate) fn pause(&self, duration: Duration) {
        let until = Instant::now() + duration;
        while !self.stopping() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            std::thread::sleep(left.min(Duration::from_millis(50)));
        }
    }

    /// Counts a delivered batch: `records` events, `rejected` malformed records, the time of
    /// its newest record.
    pub(crate) fn delivered(&mut self, records: usize, rejected: usize, newest: Option<i64>) {
        self.metrics.records_read.inc_by(records as u64);
        self.metrics.records_quarantined.inc_by(rejected as u64);
        if let Some(newest) = newest {
            self.newest = Some(self.newest.map_or(newest, |before| before.max(newest)));
        }
        self.update_lag_seconds();
    }

    /// Sets the seconds-behind gauge from the newest record and the clock.
    pub(crate) fn update_lag_seconds(&self) {
        let Some(newest) = self.newest else {
            return;
        };
        let now = (self.clock)()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos() as i64);
        let behind = (now - newest) as f64 / 1e9;
        self.metrics.lag_seconds.set(behind.max(0.0));
    }
}
