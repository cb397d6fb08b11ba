//! The ingest pipeline's write side: one writer thread owns the [`Store`]; request handlers
//! hand it [`Job`]s over a bounded queue and wait for an acknowledgement.
//!
//! Group commit: the writer takes the first waiting job, then whatever else is queued (up to
//! [`GROUP_COMMIT_EVENTS_MAX`] events, [`GROUP_COMMIT_BYTES_MAX`] bytes), merges their events
//! into one [`Prepared`] and stores them with one [`Store::append`] (one fsync); the
//! quarantined records of those jobs go to the quarantine file first, durably, in one write.
//!
//! Invariants:
//! - A job is acknowledged `Ok` only after `Store::append` returned for a batch holding all
//!   its events: they are durable (or were stored before, as duplicates).
//! - A job is never dropped unanswered: it is acknowledged `Ok` or `Err`, or its
//!   acknowledgement channel is closed (the writer died), which the handler answers with 503.
//! - The queue is bounded ([`IngestQueue::try_submit`] never blocks): a full queue is
//!   overload, answered before anything is accepted.
//! - [`Message::Stop`] comes after every job of a shutdown; the writer stores all jobs
//!   before it, stops the compactor, then closes the store (final checkpoint).
//!
//! Compaction: sealed ledger segments are converted to the columnar index by the background
//! [`Compactor`], whatever the load; the writer only commits each finished one between
//! batches (milliseconds), and looks at the compactor at least every [`WRITER_IDLE_POLL`].
//!
//! Checkpoints: the writer signs a due checkpoint between batches and the background
//! [`Checkpointer`] makes its tiles durable; the writer stores it once they are (so no
//! acknowledgement waits for a checkpoint's tile fsyncs). On shutdown the checkpoint under
//! way is stored before the compactor stops and the store closes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{
    Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError, sync_channel,
};
use std::thread::JoinHandle;

use store::{EventProof, Prepared, QuarantineEntry, Store};
use tokio::sync::oneshot;

use crate::checkpointer::Checkpointer;
use crate::clock;
use crate::compactor::Compactor;
use crate::error::ServerError;
use crate::limits::{
    GROUP_COMMIT_BYTES_MAX, GROUP_COMMIT_EVENTS_MAX, PROOF_EVENTS_MAX, SUBMIT_RETRY,
    WRITER_IDLE_POLL,
};
use crate::metrics::{FormatLabels, LabelCounts, Metrics};
use crate::stream::Hub;

/// A batch for the writer.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) prepared: Prepared,
    pub(crate) bytes: usize,
    pub(crate) quarantine: Vec<QuarantineEntry>,
    /// The ingest format (the label of quarantined records).
    pub(crate) format: &'static str,
    /// The labels of the kept events, to count what is stored.
    pub(crate) counts: LabelCounts,
    pub(crate) ack: oneshot::Sender<Result<(), WriteFailed>>,
}

/// The writer could not store a batch (the cause is logged by the writer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WriteFailed;

/// A request for inclusion proofs, answered by the writer (which owns the ledger).
#[derive(Debug)]
pub(crate) struct ProveJob {
    /// What the client asked for: a sequence number or an event id.
    pub(crate) reference: String,
    /// The records with that event id (looked up by the handler, off the writer).
    pub(crate) id_seqs: Vec<u64>,
    pub(crate) reply: oneshot::Sender<Result<Vec<EventProof>, ProveFailed>>,
}

/// Why the writer gave no proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProveFailed {
    /// No such record or event.
    NotFound,
    /// The store failed (logged by the writer).
    Failed,
}

/// What goes over the queue.
#[derive(Debug)]
pub(crate) enum Message {
    Job(Box<Job>),
    Prove(ProveJob),
    Stop,
}

/// Why a job was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SubmitError {
    /// The queue is full: overload.
    Full,
    /// The writer is gone.
    Closed,
}

/// The sending end of the writer's queue.
#[derive(Debug, Clone)]
pub(crate) struct IngestQueue {
    sender: SyncSender<Message>,
    metrics: Arc<Metrics>,
}

impl IngestQueue {
    /// A queue of `depth` batches and its receiving end.
    pub(crate) fn new(depth: usize, metrics: Arc<Metrics>) -> (IngestQueue, Receiver<Message>) {
        let (sender, receiver) = sync_channel(depth);
        (IngestQueue { sender, metrics }, receiver)
    }

    /// Queues a job without waiting.
    pub(crate) fn try_submit(&self, job: Job) -> Result<(), SubmitError> {
        self.try_send(Message::Job(Box::new(job)))?;
        self.metrics.queue_batches.inc();
        Ok(())
    }

    /// Queues a proof request without waiting.
    pub(crate) fn try_prove(&self, job: ProveJob) -> Result<(), SubmitError> {
        self.try_send(Message::Prove(job))
    }

    fn try_send(&self, message: Message) -> Result<(), SubmitError> {
        match self.sender.try_send(message) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(SubmitError::Full),
            Err(TrySendError::Disconnected(_)) => Err(SubmitError::Closed),
        }
    }

    /// Queues a job, waiting for room while the queue is full (collectors: a full queue
    /// holds the source back) until `stop` is set.
    pub(crate) fn submit_waiting(&self, job: Job, stop: &AtomicBool) -> Result<(), SubmitError> {
        let mut message = Message::Job(Box::new(job));
        loop {
            match self.sender.try_send(message) {
                Ok(()) => {
                    self.metrics.queue_batches.inc();
                    return Ok(());
                }
                Err(TrySendError::Full(back)) => {
                    if stop.load(Ordering::Relaxed) {
                        return Err(SubmitError::Full);
                    }
                    message = back;
                    std::thread::sleep(SUBMIT_RETRY);
                }
                Err(TrySendError::Disconnected(_)) => return Err(SubmitError::Closed),
            }
        }
    }

    /// Tells the writer to finish (waits for room in the queue).
    pub(crate) fn stop(&self) {
        // A writer that is gone has nothing left to finish.
        let _ = self.sender.send(Message::Stop);
    }
}

/// Starts the writer thread on `store`, and the compactor and checkpointer threads beside it.
pub(crate) fn spawn_writer(
    mut store: Store,
    receiver: Receiver<Message>,
    metrics: Arc<Metrics>,
    hub: Hub,
) -> Result<JoinHandle<Result<(), ServerError>>, ServerError> {
    let compactor = Compactor::spawn()?;
    let checkpointer = Checkpointer::spawn()?;
    store.set_background_checkpoints(true);
    let threads = Background {
        compactor,
        checkpointer,
    };
    std::thread::Builder::new()
        .name("auditrail-writer".to_owned())
        .spawn(move || write_loop(store, threads, &receiver, &metrics, &hub))
        .map_err(ServerError::Runtime)
}

/// The writer's helper threads.
struct Background {
    compactor: Compactor,
    checkpointer: Checkpointer,
}

impl Background {
    /// Between batches, never waiting: store a checkpoint made durable and sign the next
    /// due one; commit a finished compaction and start the next.
    fn poll(&mut self, store: &mut Store, metrics: &Metrics) {
        self.checkpointer.poll(store, metrics);
        self.compactor.poll(store, metrics);
    }
}

fn write_loop(
    mut store: Store,
    mut background: Background,
    receiver: &Receiver<Message>,
    metrics: &Metrics,
    hub: &Hub,
) -> Result<(), ServerError> {
    update_ledger_gauges(&store, metrics);
    background.poll(&mut store, metrics);
    let mut merged = Prepared::default();
    let mut jobs: Vec<Job> = Vec::new();
    let mut proofs: Vec<ProveJob> = Vec::new();
    let mut stopping = false;
    while !stopping {
        let message = match receiver.recv_timeout(WRITER_IDLE_POLL) {
            Ok(message) => message,
            Err(RecvTimeoutError::Timeout) => {
                background.poll(&mut store, metrics);
                update_ledger_gauges(&store, metrics);
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        match message {
            Message::Job(job) => jobs.push(*job),
            Message::Prove(job) => proofs.push(job),
            Message::Stop => break,
        }
        let mut events = jobs.first().map_or(0, |job| job.prepared.len());
        let mut bytes = jobs.first().map_or(0, |job| job.bytes);
        while events < GROUP_COMMIT_EVENTS_MAX && bytes < GROUP_COMMIT_BYTES_MAX {
            match receiver.try_recv() {
                Ok(Message::Job(job)) => {
                    events += job.prepared.len();
                    bytes += job.bytes;
                    jobs.push(*job);
                }
                Ok(Message::Prove(job)) => proofs.push(job),
                Ok(Message::Stop) => {
                    stopping = true;
                    break;
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        if !jobs.is_empty() {
            metrics.queue_batches.dec_by(jobs.len() as i64);
            let before = store.ledger().tree_size();
            let result = commit(&mut store, &jobs, &mut merged, metrics);
            for job in jobs.drain(..) {
                // A handler that gave up waiting no longer listens; its events are stored.
                let _ = job.ack.send(result);
            }
            publish(&store, hub, before);
        }
        for job in proofs.drain(..) {
            let answer = prove(&mut store, &job);
            // A handler that gave up waiting no longer listens.
            let _ = job.reply.send(answer);
        }
        background.poll(&mut store, metrics);
    }
    metrics.queue_batches.set(0);
    background.checkpointer.stop(&mut store, metrics);
    background.compactor.stop(&mut store, metrics);
    update_ledger_gauges(&store, metrics);
    store.close(clock::now())?;
    Ok(())
}

/// Stores the quarantined records, then the events, of `jobs`.
fn commit(
    store: &mut Store,
    jobs: &[Job],
    merged: &mut Prepared,
    metrics: &Metrics,
) -> Result<(), WriteFailed> {
    let started = clock::instant();
    let quarantine: Vec<QuarantineEntry> = jobs
        .iter()
        .flat_map(|job| job.quarantine.iter().cloned())
        .collect();
    if !quarantine.is_empty() {
        store
            .quarantine(&quarantine, clock::now())
            .map_err(|error| {
                tracing::error!("cannot write the quarantine file: {error}");
                WriteFailed
            })?;
        for job in jobs.iter().filter(|job| !job.quarantine.is_empty()) {
            metrics
                .quarantined_records
                .get_or_create(&FormatLabels { format: job.format })
                .inc_by(job.quarantine.len() as u64);
        }
    }
    let batch = if let [job] = jobs {
        &job.prepared
    } else {
        merged.clear();
        for job in jobs {
            merged.extend_from(&job.prepared);
        }
        &*merged
    };
    if batch.is_empty() {
        return Ok(());
    }
    let mut duplicates = Vec::new();
    let outcome = store
        .append_noting_duplicates(batch, clock::now(), &mut |index| duplicates.push(index))
        .map_err(|error| {
            tracing::error!("cannot store a batch of {} events: {error}", batch.len());
            WriteFailed
        })?;
    metrics
        .ledger_append_seconds
        .observe(started.elapsed().as_secs_f64());
    if outcome.stored > 0 {
        metrics
            .ledger_fsync_seconds
            .observe(store.ledger().last_sync().as_secs_f64());
    }
    metrics.group_commit_requests.observe(jobs.len() as f64);
    // The duplicates' indices are ascending over the merged batch: split them by job.
    let mut first = 0;
    let mut rest = &duplicates[..];
    for job in jobs {
        let end = first + job.prepared.len();
        let split = rest.partition_point(|index| *index < end);
        let own: Vec<usize> = rest[..split].iter().map(|index| index - first).collect();
        job.counts.add_stored(metrics, &own);
        rest = &rest[split..];
        first = end;
    }
    update_ledger_gauges(store, metrics);
    Ok(())
}

/// Sends the records stored since tree size `before` to the live tail's subscribers, read
/// back from the ledger: exactly what is durable, retried duplicates skipped.
fn publish(store: &Store, hub: &Hub, before: u64) {
    let ledger = store.ledger();
    let after = ledger.tree_size();
    if after <= before || !hub.has_subscribers() {
        return;
    }
    let mut records = Vec::new();
    for item in ledger.records(before..after) {
        match item {
            Ok(record) => records.push(record),
            Err(error) => {
                tracing::error!("cannot read back stored records for the live tail: {error}");
                break;
            }
        }
    }
    hub.publish(
        records
            .iter()
            .map(|(seq, record)| (*seq, record.as_slice())),
    );
}

/// Proofs of what `job` names, checked, over a checkpoint that covers them.
fn prove(store: &mut Store, job: &ProveJob) -> Result<Vec<EventProof>, ProveFailed> {
    let tree_size = store.ledger().tree_size();
    let mut seqs = store::resolve_event(&job.reference, tree_size, |_| Ok(job.id_seqs.clone()))
        .map_err(|_| ProveFailed::Failed)?;
    seqs.retain(|seq| *seq < tree_size);
    seqs.truncate(PROOF_EVENTS_MAX);
    if seqs.is_empty() {
        return Err(ProveFailed::NotFound);
    }
    store.prove_events(&seqs, clock::now()).map_err(|error| {
        tracing::error!("cannot prove {:?}: {error}", job.reference);
        ProveFailed::Failed
    })
}

fn update_ledger_gauges(store: &Store, metrics: &Metrics) {
    let ledger = store.ledger();
    metrics
        .ledger_tree_size
        .set(i64::try_from(ledger.tree_size()).unwrap_or(i64::MAX));
    let segments = ledger.segments();
    let bytes: u64 = segments.iter().map(|s| s.file_len).sum();
    metrics
        .ledger_bytes
        .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    let row_form = segments.iter().filter(|s| s.sealed && !s.external).count();
    metrics
        .compaction_pending_segments
        .set(i64::try_from(row_form).unwrap_or(i64::MAX));
    crate::metrics::set_key_stats(metrics, store.key_stats());
}
