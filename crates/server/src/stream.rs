//! The live tail: the writer publishes what it made durable on a bounded broadcast, and every
//! `GET /api/v1/events/stream` subscriber reads it.
//!
//! The writer publishes only after a batch is durable and acknowledged, and only when
//! someone listens; it reads the batch's records back from the ledger (so the stream carries
//! exactly what was stored, duplicates skipped) and sends them in messages of at most
//! [`STREAM_MESSAGE_BYTES_MAX`] bytes. The broadcast keeps the last
//! [`STREAM_BACKLOG_MESSAGES`] messages: a subscriber that falls further behind loses the
//! oldest and is told how many it missed (a lag notice), so memory stays bounded whatever
//! the subscribers do, and the writer never waits for them.

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::limits::{STREAM_BACKLOG_MESSAGES, STREAM_MESSAGE_BYTES_MAX};

/// Consecutive ledger records, as stored.
#[derive(Debug, Default)]
pub(crate) struct StoredRecords {
    first_seq: u64,
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl StoredRecords {
    /// `(seq, record)` in ledger order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, &[u8])> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        (self.first_seq..)
            .zip(starts.zip(&self.ends))
            .map(|(seq, (start, end))| (seq, &self.bytes[start..*end]))
    }

    fn len(&self) -> usize {
        self.ends.len()
    }
}

/// The broadcast of stored records.
#[derive(Debug, Clone)]
pub(crate) struct Hub {
    sender: broadcast::Sender<Arc<StoredRecords>>,
}

impl Hub {
    pub(crate) fn new() -> Hub {
        let (sender, _) = broadcast::channel(STREAM_BACKLOG_MESSAGES);
        Hub { sender }
    }

    /// A new subscriber, which sees what is published from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<StoredRecords>> {
        self.sender.subscribe()
    }

    /// True when someone listens.
    pub(crate) fn has_subscribers(&self) -> bool {
        self.sender.receiver_count() > 0
    }

    /// Publishes `records` (consecutive, from `first_seq`) in bounded messages.
    pub(crate) fn publish<'a>(&self, records: impl IntoIterator<Item = (u64, &'a [u8])>) {
        let mut message = StoredRecords::default();
        for (seq, record) in records {
            let consecutive = message.len() == 0 || message.first_seq + message.len() as u64 == seq;
            if !consecutive
                || (message.len() > 0
                    && message.bytes.len() + record.len() > STREAM_MESSAGE_BYTES_MAX)
            {
                self.send(std::mem::take(&mut message));
            }
            if message.len() == 0 {
                message.first_seq = seq;
            }
            message.bytes.extend_from_slice(record);
            message.ends.push(message.bytes.len());
        }
        if message.len() > 0 {
            self.send(message);
        }
    }

    fn send(&self, message: StoredRecords) {
        // No subscriber left: nothing to do.
        let _ = self.sender.send(Arc::new(message));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_bounded_and_keep_sequence_numbers() {
        let hub = Hub::new();
        let mut receiver = hub.subscribe();
        let big = vec![b'x'; STREAM_MESSAGE_BYTES_MAX / 2 + 1];
        let records: Vec<(u64, &[u8])> = vec![(7, &big), (8, &big), (9, b"small"), (11, b"gap")];
        hub.publish(records);
        let mut seen = Vec::new();
        while let Ok(message) = receiver.try_recv() {
            assert!(message.bytes.len() <= STREAM_MESSAGE_BYTES_MAX);
            seen.push(message.iter().map(|(seq, _)| seq).collect::<Vec<_>>());
        }
        assert_eq!(seen, vec![vec![7], vec![8, 9], vec![11]]);
    }

    #[test]
    fn a_slow_subscriber_is_told_what_it_missed() {
        let hub = Hub::new();
        let mut receiver = hub.subscribe();
        for seq in 0..(STREAM_BACKLOG_MESSAGES as u64 + 3) {
            hub.publish([(seq * 2, b"r".as_slice())]);
        }
        assert!(matches!(
            receiver.try_recv(),
            Err(broadcast::error::TryRecvError::Lagged(3))
        ));
        assert!(receiver.try_recv().is_ok());
    }
}
