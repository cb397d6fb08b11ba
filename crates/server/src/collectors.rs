//! The collectors of `[[sources]]` in the server's own process: a [`collect::Sink`] that
//! applies the policy to a source's batch, hands it to the writer like an ingest request's,
//! waits until it is durable, and only then commits the source's position.
//!
//! A full writer queue makes the source wait (back-pressure) rather than refusing it: a
//! collector has nobody to answer 503 to. Positions are kept in `DATA/collectors/`.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use collect::{Batch, CollectError, Offsets, Sink};
use policy::Policy;
use store::QuarantineEntry;
use tokio::sync::oneshot;

use crate::ingest::Decoded;
use crate::metrics::Metrics;
use crate::pipeline::{IngestQueue, Job, SubmitError};

/// The `format` label of the records a collector quarantines (a source's own counts are
/// in the collector metrics, by source).
const COLLECTOR_FORMAT: &str = "collector";

/// Stores collected batches through the writer.
#[derive(Debug)]
pub(crate) struct StoreSink {
    pub(crate) queue: IngestQueue,
    pub(crate) policy: Arc<Policy>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) offsets: Arc<Offsets>,
    pub(crate) stop: Arc<AtomicBool>,
}

impl Sink for StoreSink {
    fn deliver(&self, batch: Batch) -> Result<(), CollectError> {
        let mut decoded = Decoded::default();
        for event in batch.events {
            decoded.keep(event, &self.policy);
        }
        self.metrics.add_decoded(&decoded.counts);
        let quarantine: Vec<QuarantineEntry> = batch
            .rejected
            .into_iter()
            .map(|rejected| QuarantineEntry {
                input: rejected.input,
                line: rejected.line,
                offset: rejected.offset,
                message: rejected.message,
                raw: rejected.raw,
            })
            .collect();
        if !decoded.prepared.is_empty() || !quarantine.is_empty() {
            let (ack, acknowledged) = oneshot::channel();
            let job = Job {
                prepared: decoded.prepared,
                bytes: batch.bytes,
                quarantine,
                format: COLLECTOR_FORMAT,
                counts: decoded.counts,
                ack,
            };
            match self.queue.submit_waiting(job, &self.stop) {
                Ok(()) => {}
                Err(SubmitError::Full) => return Err(CollectError::Stopped),
                Err(SubmitError::Closed) => {
                    return Err(CollectError::Sink("the writer is gone".to_owned()));
                }
            }
            match acknowledged.blocking_recv() {
                Ok(Ok(())) => {}
                Ok(Err(_)) => {
                    return Err(CollectError::Sink(
                        "the store could not write the batch (see the writer's error)".to_owned(),
                    ));
                }
                Err(_) => return Err(CollectError::Sink("the writer stopped".to_owned())),
            }
        }
        self.offsets.commit(&batch.source, &batch.position)
    }
}
