//! Bulk loading: events written straight to their final form, one columnar index segment
//! per [`LOAD_SEGMENT_EVENTS`] events, never in row form.
//!
//! The caller's thread deduplicates, numbers the events and adds them to the Arrow columns of
//! the segment being filled ([`index::SegmentBuilder`]), keeping only the ledger leaf hash of
//! each record (computed where the records were encoded, [`Prepared::hash_leaves`]), not the
//! record. A full segment goes to a thread of its own, which writes the Parquet file, its
//! key index and its `.extra` file (holding the segment's index record, the last record of
//! its own range) durably, and then has the ledger check them:
//! [`ledger::check_external_leaves`] reads every record back through the same
//! [`ColumnarRecords`] that `verify` and proofs use, on every core (each thread from its own
//! row of the file), and requires its leaf hash to be the one of the record encoded from the
//! decoded event. Back on the caller's thread, segments are handed to
//! [`ledger::Ledger::append_external`] in order; only then are their events durable and
//! counted in the tree size.
//!
//! Invariants:
//! - Segments enter the ledger in sequence order, each only after its files were shown to
//!   reproduce every one of its records; a segment that fails stops the load with an error
//!   and nothing after it enters the ledger.
//! - A crash leaves at most index files beyond the ledger's records, which the next open
//!   removes (no ledger record vouches for them).
//! - Memory holds at most [`LOAD_SEGMENTS_IN_FLIGHT`] + 1 segments' columns and leaf hashes.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::SystemTime;

use event::AuditEvent;
use ledger::{CheckedExternal, Hash};
use sha2::{Digest, Sha256};

use crate::columns::{ColumnarRecords, IndexFiles, IndexRecord, encode_extra, hex};
use crate::limits::{LOAD_SEGMENT_BYTES, LOAD_SEGMENT_EVENTS, LOAD_SEGMENTS_IN_FLIGHT};
use crate::{Prepared, Store, StoreError};

/// What a bulk load has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadOutcome {
    /// Events taken (not duplicates); durable once the tree size covers them.
    pub accepted: u64,
    /// Events skipped because an event with the same identity is stored or taken.
    pub duplicates: u64,
    /// Events durable in the ledger.
    pub stored: u64,
    /// The ledger's tree size: every record below it is durable.
    pub tree_size: u64,
    /// Index segments written.
    pub segments: u64,
}

/// A bulk load into a [`Store`]; see the module documentation. Call [`Loader::finish`] to
/// store the last, partly filled segment; dropping a loader stores nothing more.
pub struct Loader<'a> {
    store: &'a mut Store,
    source: Arc<ColumnarRecords>,
    builder: index::SegmentBuilder,
    /// The leaf hashes of the segment's records so far (the records themselves are not kept:
    /// the check compares what the files reproduce with these).
    leaves: Vec<Hash>,
    /// Bytes of the segment's records so far.
    bytes: usize,
    /// First sequence number of the segment being filled.
    first: u64,
    /// Sequence number of the next event.
    next: u64,
    in_flight: VecDeque<JoinHandle<Result<Written, StoreError>>>,
    outcome: LoadOutcome,
}

impl std::fmt::Debug for Loader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loader")
            .field("first", &self.first)
            .field("next", &self.next)
            .field("outcome", &self.outcome)
            .finish()
    }
}

/// A segment written and checked, for the ledger.
struct Written {
    checked: CheckedExternal,
    events: u64,
}

impl Store {
    /// Starts a bulk load (see [`Loader`]).
    pub fn loader(&mut self) -> Loader<'_> {
        let tree_size = self.ledger.tree_size();
        Loader {
            source: Arc::new(ColumnarRecords::new(&self.root)),
            store: self,
            builder: index::SegmentBuilder::new(),
            leaves: Vec::with_capacity(LOAD_SEGMENT_EVENTS as usize),
            bytes: 0,
            first: tree_size,
            next: tree_size,
            in_flight: VecDeque::new(),
            outcome: LoadOutcome {
                tree_size,
                ..LoadOutcome::default()
            },
        }
    }
}

impl Loader<'_> {
    /// Takes the events of `prepared` (their records and keys) with the decoded `events`
    /// they were encoded from (the same order, one each) that are not stored yet, and stores
    /// every segment that has been written and checked in the meantime.
    pub fn append(
        &mut self,
        prepared: &Prepared,
        events: &[AuditEvent],
        now: SystemTime,
    ) -> Result<LoadOutcome, StoreError> {
        if prepared.len() != events.len() {
            return Err(StoreError::Record {
                seq: self.next,
                reason: format!(
                    "{} records prepared for {} events",
                    prepared.len(),
                    events.len()
                ),
            });
        }
        for (index, ((record, identity), event)) in prepared.records().zip(events).enumerate() {
            if !self.store.keys.insert(identity, self.next)? {
                self.outcome.duplicates += 1;
                continue;
            }
            self.builder
                .push(self.next, event)
                .map_err(|error| self.index_error(error))?;
            self.leaves.push(prepared.leaf(index, record));
            self.bytes += record.len();
            self.next += 1;
            self.outcome.accepted += 1;
            if self.builder.rows() >= LOAD_SEGMENT_EVENTS || self.bytes >= LOAD_SEGMENT_BYTES {
                self.dispatch(now)?;
            }
        }
        self.commit(now, false)?;
        Ok(self.outcome)
    }

    /// Stores the last segment and waits for every segment to be stored.
    pub fn finish(mut self, now: SystemTime) -> Result<LoadOutcome, StoreError> {
        if self.builder.rows() > 0 {
            self.dispatch(now)?;
        }
        self.commit(now, true)?;
        Ok(self.outcome)
    }

    /// Keeps malformed input records in the store's quarantine file, durably.
    pub fn quarantine(
        &mut self,
        entries: &[crate::QuarantineEntry],
        now: SystemTime,
    ) -> Result<(), StoreError> {
        self.store.quarantine(entries, now)
    }

    /// What the load has done so far.
    pub fn outcome(&self) -> LoadOutcome {
        self.outcome
    }

    fn index_error(&self, error: index::Error) -> StoreError {
        StoreError::Io {
            path: crate::columns::segments_dir(&self.store.root),
            source: std::io::Error::other(error.to_string()),
        }
    }

    /// Sends the segment being filled to a thread that writes and checks it.
    fn dispatch(&mut self, now: SystemTime) -> Result<(), StoreError> {
        let built = self
            .builder
            .finish()
            .map_err(|error| self.index_error(error))?;
        let leaves = std::mem::replace(
            &mut self.leaves,
            Vec::with_capacity(LOAD_SEGMENT_EVENTS as usize),
        );
        self.bytes = 0;
        let first = self.first;
        // The segment's index record is its last record.
        self.next += 1;
        self.first = self.next;
        while self.in_flight.len() >= LOAD_SEGMENTS_IN_FLIGHT {
            self.commit_one(now)?;
        }
        let root = self.store.root.clone();
        let source = Arc::clone(&self.source);
        let directory = crate::columns::segments_dir(&self.store.root);
        std::fs::create_dir_all(&directory).map_err(|source| StoreError::Io {
            path: directory,
            source,
        })?;
        self.in_flight.push_back(std::thread::spawn(move || {
            let events = leaves.len() as u64;
            let checked = write_segment(&root, &source, first, &built, leaves)?;
            Ok(Written { checked, events })
        }));
        Ok(())
    }

    /// Stores finished segments in order: all of them (`wait`), or those already done.
    fn commit(&mut self, now: SystemTime, wait: bool) -> Result<(), StoreError> {
        while let Some(oldest) = self.in_flight.front() {
            if !wait && !oldest.is_finished() {
                break;
            }
            self.commit_one(now)?;
        }
        Ok(())
    }

    fn commit_one(&mut self, now: SystemTime) -> Result<(), StoreError> {
        let Some(oldest) = self.in_flight.pop_front() else {
            return Ok(());
        };
        let written = oldest.join().map_err(|_| StoreError::Io {
            path: crate::columns::segments_dir(&self.store.root),
            source: std::io::Error::other("the thread writing an index segment failed"),
        })??;
        let receipt = self.store.ledger.append_external(written.checked, now)?;
        self.store.keys.seal(receipt.seqs.start, receipt.seqs.end);
        self.outcome.stored += written.events;
        self.outcome.tree_size = receipt.tree_size;
        self.outcome.segments += 1;
        Ok(())
    }
}

impl Drop for Loader<'_> {
    fn drop(&mut self) {
        // Segments not stored stay files beyond the ledger, removed by the next open; wait
        // for their threads so that none writes after this store is closed.
        for handle in self.in_flight.drain(..) {
            let _ = handle.join();
        }
    }
}

/// Writes the index segment of events `first ..` (their rows in `built`, the leaf hashes of
/// their records in `leaves`) followed by its index record, durably, and checks it.
fn write_segment(
    root: &std::path::Path,
    source: &ColumnarRecords,
    first: u64,
    built: &index::BuiltSegment,
    mut leaves: Vec<Hash>,
) -> Result<CheckedExternal, StoreError> {
    let events = leaves.len() as u64;
    let end = first + events + 1;
    let files = IndexFiles::new(root, first, end);
    let index_error = |path: &PathBuf, error: index::Error| StoreError::Io {
        path: path.clone(),
        source: std::io::Error::other(error.to_string()),
    };
    // About 58 bytes an event at rest (the README's figure), so one growth at most.
    let mut parquet = Vec::with_capacity(leaves.len() * 64);
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    built
        .write_to(&mut parquet, threads)
        .map_err(|error| index_error(&files.parquet, error))?;
    let keys = built.keys.to_bytes();
    let index_record = IndexRecord {
        v: 3,
        first_seq: first,
        end_seq: end,
        events,
        parquet_sha256: hex(&Sha256::digest(&parquet)),
        keys_sha256: hex(&Sha256::digest(&keys)),
        extra_sha256: None,
    }
    .to_record();
    let extra = encode_extra(first, end, &[(end - 1, index_record.clone())]);
    crate::columns::write_all_durably(&[
        (&files.parquet, &parquet),
        (&files.keys, &keys),
        (&files.extra, &extra),
    ])?;
    drop(parquet);
    leaves.push(ledger::merkle::leaf_hash(&index_record));
    Ok(ledger::check_external_leaves(
        source, first, leaves, threads,
    )?)
}
