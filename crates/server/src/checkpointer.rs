//! The background checkpointer: one thread that makes a due checkpoint's tiles durable
//! while the writer goes on storing batches, so that acknowledgements never wait for a
//! checkpoint (after a busy second, a few hundred tile fsyncs: tens of milliseconds that
//! every batch arriving meanwhile used to wait for).
//!
//! The writer owns the [`Store`], which leaves due checkpoints to it
//! ([`Store::set_background_checkpoints`]). Between batches, and when idle, it calls
//! [`Checkpointer::poll`], which never waits: it stores a checkpoint whose tiles the thread
//! made durable ([`Store::finish_checkpoint`]: a log append and the `checkpoint` file, two
//! small fsyncs) and, when none is under way, signs the next due one
//! ([`Store::begin_checkpoint`]) and hands it to the thread.
//!
//! Invariants:
//! - A checkpoint is stored only after every tile below its size is durable: the thread's
//!   sync, or (for one signed on the writer meanwhile, by a proof, a compaction or close)
//!   the ledger's own sync of the tiles still in flight.
//! - One checkpoint under way at a time; the checkpoint log only grows (one overtaken by a
//!   newer checkpoint is dropped).
//! - [`Checkpointer::stop`] waits for the one under way and stores it; the store's close
//!   then signs the final checkpoint.

use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError};
use std::thread::JoinHandle;
use std::time::Duration;

use store::{PendingCheckpoint, Store};

use crate::clock;
use crate::error::ServerError;
use crate::limits::CHECKPOINTS_IN_FLIGHT;
use crate::metrics::Metrics;
use crate::worker;

/// A pending checkpoint back from the thread, with the outcome of its sync.
struct Synced {
    pending: PendingCheckpoint,
    result: Result<(), String>,
    took: Duration,
}

/// The writer's handle on the checkpointer thread.
pub(crate) struct Checkpointer {
    jobs: Option<SyncSender<PendingCheckpoint>>,
    done: Receiver<Synced>,
    thread: Option<JoinHandle<()>>,
    in_flight: bool,
}

impl Checkpointer {
    /// Starts the checkpointer thread.
    pub(crate) fn spawn() -> Result<Checkpointer, ServerError> {
        let helper = worker::spawn(
            "auditrail-checkpointer",
            CHECKPOINTS_IN_FLIGHT,
            CHECKPOINTS_IN_FLIGHT,
            || {},
            |pending| Some(sync(pending)),
        )?;
        Ok(Checkpointer {
            jobs: Some(helper.work),
            done: helper.done,
            thread: Some(helper.thread),
            in_flight: false,
        })
    }

    /// Stores a checkpoint the thread made durable and begins the next due one; never waits.
    pub(crate) fn poll(&mut self, store: &mut Store, metrics: &Metrics) {
        match self.done.try_recv() {
            Ok(synced) => {
                self.in_flight = false;
                finish(synced, store, metrics);
            }
            Err(TryRecvError::Empty) => {}
            Err(TryRecvError::Disconnected) => {
                if self.jobs.take().is_some() {
                    tracing::error!(
                        "the checkpointer thread stopped; checkpoints are signed on the writer until the server restarts"
                    );
                    store.set_background_checkpoints(false);
                }
                self.in_flight = false;
            }
        }
        if self.in_flight {
            return;
        }
        let Some(jobs) = &self.jobs else {
            return;
        };
        let pending = match store.begin_checkpoint(clock::now()) {
            Ok(Some(pending)) => pending,
            Ok(None) => return,
            Err(error) => {
                metrics.checkpoint_failures.inc();
                tracing::warn!(%error, "cannot sign a checkpoint; the next one is tried at the next batch");
                return;
            }
        };
        match jobs.try_send(pending) {
            Ok(()) => self.in_flight = true,
            // Cannot happen with one in flight at most: make this one durable here.
            Err(TrySendError::Full(pending) | TrySendError::Disconnected(pending)) => {
                finish(sync(pending), store, metrics);
            }
        }
    }

    /// Waits for the checkpoint under way, stores it, and ends the thread.
    pub(crate) fn stop(mut self, store: &mut Store, metrics: &Metrics) {
        self.jobs = None;
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the checkpointer thread panicked");
        }
        while let Ok(synced) = self.done.try_recv() {
            finish(synced, store, metrics);
        }
    }
}

/// Makes `pending`'s tiles durable (on the checkpointer thread).
fn sync(mut pending: PendingCheckpoint) -> Synced {
    let started = clock::instant();
    let result = pending.sync().map_err(|error| error.to_string());
    Synced {
        pending,
        result,
        took: started.elapsed(),
    }
}

fn finish(synced: Synced, store: &mut Store, metrics: &Metrics) {
    metrics
        .checkpoint_sync_seconds
        .observe(synced.took.as_secs_f64());
    if let Err(error) = &synced.result {
        metrics.checkpoint_failures.inc();
        tracing::warn!(%error, "cannot make a checkpoint's tiles durable; the next checkpoint tries again");
    }
    // A pending checkpoint whose sync failed is refused, and its tiles go to the next one.
    if let Err(error) = store.finish_checkpoint(synced.pending)
        && synced.result.is_ok()
    {
        metrics.checkpoint_failures.inc();
        tracing::warn!(%error, "cannot store a checkpoint; the next one is tried at the next batch");
    }
}
