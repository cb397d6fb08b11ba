//! The background compactor: one thread that converts sealed ledger segments to the columnar
//! index while the writer goes on storing batches, so that `serve` compacts under sustained
//! load (a busy cluster is never idle).
//!
//! The writer owns the [`Store`]; between batches it calls [`Compactor::poll`], which never
//! waits: it commits a compaction the thread finished ([`Store::commit_compaction`]:
//! milliseconds, measured as `auditrail_compaction_commit_seconds`) and hands the thread the
//! next one ([`Store::compaction_job`]) over a bounded queue. The thread does the heavy part
//! ([`CompactionJob::run`]: read the sealed segment's immutable file, decode, write the index
//! files durably to a staging directory, compare every record they reproduce with the
//! segment file), and afterwards removes the ledger's level-0 tiles that the committed
//! segment made redundant (hundreds of files: slow on a busy disk).
//!
//! Invariants:
//! - One compaction at a time, oldest segment first; only the writer changes the store.
//! - A compaction that failed leaves its segment in row form (queries read it from there)
//!   and is tried again after [`COMPACTION_RETRY_AFTER`].
//! - [`Compactor::stop`] cancels the compaction under way and joins the thread; one that
//!   finished is committed, one that was cancelled leaves nothing behind (its staged files
//!   are removed, and a store that opens empties the staging directory).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use store::{CompactedSegment, CompactionJob, RedundantTiles, Store, StoreError};

/// What the writer hands the compactor thread.
enum Work {
    Compact(CompactionJob),
    RemoveTiles(RedundantTiles),
}

use crate::clock;
use crate::error::ServerError;
use crate::limits::{COMPACTION_RETRY_AFTER, COMPACTION_WORK_MAX, COMPACTIONS_DONE_MAX};
use crate::metrics::Metrics;
use crate::worker;

/// A compaction the thread is done with.
struct Finished {
    first_seq: u64,
    result: Result<CompactedSegment, StoreError>,
    took: Duration,
}

/// The writer's handle on the compactor thread.
pub(crate) struct Compactor {
    jobs: Option<SyncSender<Work>>,
    done: Receiver<Finished>,
    thread: Option<JoinHandle<()>>,
    cancel: Arc<AtomicBool>,
    /// The segment being compacted.
    in_flight: Option<u64>,
    /// No new job before this instant (after a failure).
    retry_at: Option<Instant>,
}

/// The compactor thread's nice value (the lowest), for where `SCHED_IDLE` is refused.
const COMPACTOR_NICE: i32 = 19;

/// Gives the calling thread the compactor's priority: Linux's `SCHED_IDLE` policy, and the
/// nice value [`COMPACTOR_NICE`] besides. On a machine short of cores the request handlers
/// and the writer, whose latency clients wait on, go first, and compaction takes the CPU
/// they leave (its backlog shows in `auditrail_compaction_pending_segments`).
///
/// Why `SCHED_IDLE` and not only nice 19: a waking thread of normal policy preempts a
/// `SCHED_IDLE` one at once, while a nice-19 thread keeps the core to the end of its slice
/// and, when preempted inside the kernel holding a lock (the address space's, to map or
/// unmap), holds up every thread that needs it, for as long as its small share of the CPU
/// makes it take. Measured with `scripts/bench-serve.sh` (50k events/s offered, 8
/// connections, 2 cores): p99 acknowledgement latency 34-41 ms at nice 19 against 23-25 ms
/// under `SCHED_IDLE`, five interleaved runs each, with compaction keeping up as well.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::unix::{
            NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
            thread_native_id, thread_schedule_policy,
        };
        // This also sets the nice value 0, which SCHED_IDLE ignores; the nice value below
        // comes after it.
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        if let Err(error) = set_thread_priority_and_policy(
            thread_native_id(),
            thread_priority::ThreadPriority::Min,
            idle,
        ) && thread_schedule_policy().ok() != Some(idle)
        {
            tracing::warn!(%error, "cannot give the compactor thread the SCHED_IDLE policy; it runs at the lowest nice value instead");
        }
    }
    if let Err(error) =
        rustix::process::setpriority_process(Some(rustix::thread::gettid()), COMPACTOR_NICE)
    {
        tracing::warn!(%error, "cannot lower the compactor thread's nice value");
    }
}

impl Compactor {
    /// Starts the compactor thread.
    pub(crate) fn spawn() -> Result<Compactor, ServerError> {
        let cancel = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&cancel);
        let helper = worker::spawn(
            "auditrail-compactor",
            COMPACTION_WORK_MAX,
            COMPACTIONS_DONE_MAX,
            lower_priority,
            move |work| match work {
                Work::Compact(job) => {
                    let first_seq = job.first_seq();
                    let started = clock::instant();
                    let result = job.run(&flag);
                    Some(Finished {
                        first_seq,
                        result,
                        took: started.elapsed(),
                    })
                }
                Work::RemoveTiles(tiles) => {
                    if let Err(error) = tiles.remove() {
                        tracing::warn!(%error, "cannot remove the ledger files made redundant by a compaction (a segment file, tiles); they stay, correct but unused");
                    }
                    None
                }
            },
        )?;
        Ok(Compactor {
            jobs: Some(helper.work),
            done: helper.done,
            thread: Some(helper.thread),
            cancel,
            in_flight: None,
            retry_at: None,
        })
    }

    /// Commits a finished compaction and hands out the next one; never waits for the
    /// compactor. Called by the writer between batches.
    pub(crate) fn poll(&mut self, store: &mut Store, metrics: &Metrics) {
        match self.done.try_recv() {
            Ok(finished) => {
                self.in_flight = None;
                self.finish(finished, store, metrics);
            }
            Err(TryRecvError::Empty) => {}
            Err(TryRecvError::Disconnected) => {
                if self.jobs.take().is_some() {
                    tracing::error!(
                        "the compactor thread stopped; sealed segments stay in row form until the server restarts"
                    );
                }
            }
        }
        if self.in_flight.is_some()
            || self
                .retry_at
                .is_some_and(|retry_at| clock::instant() < retry_at)
        {
            return;
        }
        let Some(jobs) = &self.jobs else {
            return;
        };
        let job = match store.compaction_job() {
            Ok(Some(job)) => job,
            Ok(None) => return,
            Err(error) => {
                self.failed(metrics, &error, None);
                return;
            }
        };
        let first_seq = job.first_seq();
        match jobs.try_send(Work::Compact(job)) {
            Ok(()) => self.in_flight = Some(first_seq),
            // Cannot happen with one job in flight at most; offered again next time.
            Err(TrySendError::Full(_)) => {}
            Err(TrySendError::Disconnected(_)) => self.jobs = None,
        }
    }

    /// Cancels the compaction under way, waits for the thread to end, and commits a
    /// compaction that finished before it saw the cancellation.
    pub(crate) fn stop(mut self, store: &mut Store, metrics: &Metrics) {
        self.cancel.store(true, Ordering::Relaxed);
        self.jobs = None;
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the compactor thread panicked");
        }
        while let Ok(finished) = self.done.try_recv() {
            self.finish(finished, store, metrics);
        }
    }

    fn finish(&mut self, finished: Finished, store: &mut Store, metrics: &Metrics) {
        let compacted = match finished.result {
            Ok(compacted) => compacted,
            Err(error) if error.is_cancelled() => return,
            Err(error) => {
                self.failed(metrics, &error, Some(finished.first_seq));
                return;
            }
        };
        metrics
            .compaction_seconds
            .observe(finished.took.as_secs_f64());
        let started = clock::instant();
        match store.commit_compaction(compacted, clock::now()) {
            Ok(Some(committed)) => {
                metrics
                    .compaction_commit_seconds
                    .observe(started.elapsed().as_secs_f64());
                metrics.compacted_segments.inc_by(committed.done.segments);
                metrics.compacted_events.inc_by(committed.done.events);
                self.retry_at = None;
                self.remove_tiles(committed.tiles);
            }
            Ok(None) => tracing::info!(
                first_seq = finished.first_seq,
                "the compacted segment changed meanwhile (pruned or compacted); its files were discarded"
            ),
            Err(error) => self.failed(metrics, &error, Some(finished.first_seq)),
        }
    }

    /// Hands the removal of redundant tiles to the thread (after shutdown, or should there
    /// be no room, they are removed here).
    fn remove_tiles(&mut self, tiles: RedundantTiles) {
        let tiles = match &self.jobs {
            Some(jobs) => match jobs.try_send(Work::RemoveTiles(tiles)) {
                Ok(()) => return,
                Err(
                    TrySendError::Full(Work::RemoveTiles(tiles))
                    | TrySendError::Disconnected(Work::RemoveTiles(tiles)),
                ) => tiles,
                Err(_) => return,
            },
            None => tiles,
        };
        if let Err(error) = tiles.remove() {
            tracing::warn!(%error, "cannot remove the ledger files made redundant by a compaction (a segment file, tiles); they stay, correct but unused");
        }
    }

    fn failed(&mut self, metrics: &Metrics, error: &StoreError, first_seq: Option<u64>) {
        metrics.compaction_failures.inc();
        tracing::warn!(
            %error,
            ?first_seq,
            "compacting a sealed segment failed; its events stay in the ledger's row form, and it is tried again in {} s",
            COMPACTION_RETRY_AFTER.as_secs()
        );
        self.retry_at = Some(clock::instant() + COMPACTION_RETRY_AFTER);
    }
}

#[cfg(test)]
mod tests {
    /// The calling thread's scheduling policy and nice value, from `/proc/thread-self/stat`.
    #[cfg(target_os = "linux")]
    fn policy_and_nice() -> (u32, i32) {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        // The fields after the command name (which may hold spaces), from field 3 on.
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
        (
            fields[41 - 3].parse().unwrap(),
            fields[19 - 3].parse().unwrap(),
        )
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_compactor_thread_runs_under_sched_idle_at_the_lowest_nice_value() {
        const SCHED_OTHER: u32 = 0;
        const SCHED_IDLE: u32 = 5;
        let (before, after) = std::thread::spawn(|| {
            let before = policy_and_nice();
            super::lower_priority();
            (before, policy_and_nice())
        })
        .join()
        .unwrap();
        assert_eq!(before.0, SCHED_OTHER, "{before:?}");
        assert_eq!(after, (SCHED_IDLE, super::COMPACTOR_NICE));
    }
}
