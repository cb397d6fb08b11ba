//! The audit trail's data directory: normalized events stored in the tamper-evident
//! [`ledger`], each event once, with every unreadable input record kept in quarantine.
//!
//! ```text
//! <data>/store.json        format version and the ledger's origin (its name in checkpoints)
//! <data>/auditrail.lock    held exclusively by the one process that writes
//! <data>/ledger/           the ledger: segments, tiles, checkpoints, keys (docs/ledger-format.md)
//! <data>/index/segments/   the columnar index segments, the one copy of sealed records (see
//!                          `columns`)
//! <data>/quarantine.jsonl  input records that could not be decoded, raw
//! <data>/prune.log         one JSON line per prune, for people (the signed truth is the
//!                          prune record in the ledger)
//! ```
//!
//! A ledger record is one event in auditrail's `jsonl` form (the normalized event, lossless)
//! without the trailing newline, a ledger heartbeat, or a ledger prune record.
//!
//! Retention ([`Store::plan_prune`], [`Store::prune`]): the oldest sealed segments whose
//! records are all older than a cutoff (or beyond a size budget) are removed through
//! [`Ledger::prune`], which keeps what proofs and `verify` need and appends a signed prune
//! record. The keys of pruned records leave the set of stored keys, so an event older than
//! the cutoff imported again is stored again (it is a new record of the trail, with its own
//! leaf; the pruned copy is gone).
//!
//! Bulk loading ([`Store::loader`], what `auditrail import` uses) writes events straight to
//! their final, columnar form: each run of about [`limits::LOAD_SEGMENT_EVENTS`] events
//! becomes an index segment, checked to reproduce every record, and then an external ledger
//! segment ([`ledger::Ledger::append_external`]); they are never written in row form.
//!
//! Invariants:
//! - An event is acknowledged ([`Store::append`] returns, or a [`Loader`] reports it in its
//!   tree size) only once the ledger made it durable.
//! - An event whose identity key is already stored is not stored again (importing a file
//!   twice, a retried webhook batch). The keys are kept in memory only, derived from what is
//!   stored, in memory bounded by a working set (see `keys`): the row-form tail's keys, a
//!   key-time summary per index segment, and a bounded cache of index segments' keys read
//!   when an event's time falls in their range.
//! - One writer at a time: [`Store::open`] takes an exclusive lock on the directory.
//! - No HTTP, no async: the server and the command line drive a `Store` from their own
//!   threads and pass the time in.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use event::{AuditEvent, Timestamp};
use ledger::{
    CheckpointPolicy, Config, FileStorage, Heartbeat, KeySource, Ledger, PruneOutcome, PruneRecord,
    SegmentInfo,
};
use serde::{Deserialize, Serialize};

mod columns;
mod identity;
mod keys;
pub mod limits;
mod loader;
mod proof;
mod quarantine;
mod records;
mod verify;

pub use columns::{
    CommittedCompaction, CompactedSegment, Compaction, CompactionJob, IndexFiles, IndexRecord,
    open_dataset, segment_files as index_segment_files,
};
pub use identity::{Identity, Key, NO_KEY, id_key, key, key_time};
pub use keys::{KeyRepair, KeyStats};
/// The ledger tiles a committed compaction made redundant ([`CommittedCompaction::tiles`]).
pub use ledger::{PendingCheckpoint, RedundantTiles};
pub use loader::{LoadOutcome, Loader};
pub use proof::{EventProof, ProofError, resolve_event};
pub use quarantine::QuarantineEntry;
pub use verify::{StoreFinding, StoreVerifyReport, verify};

use crate::keys::StoredKeys;
use crate::limits::{PRUNE_LOG_BYTES_MAX, STORE_META_BYTES_MAX, STORE_SEGMENT_BYTES};
use crate::quarantine::Quarantine;

/// Version of the data directory layout, in `store.json`. Version 3: no `index/keys.bin`
/// (the keys of stored events are computed on open), index segments in segment format 2
/// (origin columns), external segments written directly by bulk loads with their index
/// record inside their own range.
pub const STORE_FORMAT_VERSION: u32 = 3;

/// The oldest layout version this release reads. Versions 1 and 2 (before there were any
/// released users) are refused with a message, never misread.
pub const STORE_FORMAT_VERSION_MIN: u32 = 3;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file of the data directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Another process writes to the data directory.
    #[error(
        "{} is in use by another auditrail process; stop it, or use another --data directory",
        path.display()
    )]
    Locked {
        /// The data directory.
        path: PathBuf,
    },
    /// `store.json` is unreadable or of another version.
    #[error("{}: {reason}", path.display())]
    Meta {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The ledger refused.
    #[error("ledger: {0}")]
    Ledger(#[from] ledger::Error),
    /// A stored record is not an event this version can read.
    #[error("ledger record {seq} is not a readable event: {reason}")]
    Record {
        /// Its sequence number.
        seq: u64,
        /// Why.
        reason: String,
    },
}

impl StoreError {
    /// Whether the operation stopped because the caller cancelled it (a compaction stopped
    /// by a shutdown), not because something failed.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, StoreError::Ledger(ledger::Error::Cancelled))
    }
}

/// How to open a store.
#[derive(Debug, Clone, Default)]
pub struct StoreOptions {
    /// The ledger's origin line for a new store (ignored for an existing one, whose origin is
    /// in `store.json`). Default: `auditrail.local/<host name>`.
    pub origin: Option<String>,
    /// An operator-supplied signing key file instead of the one kept in the store.
    pub signing_key: Option<PathBuf>,
    /// When checkpoints are written besides at close; default: the ledger's.
    pub checkpoint: Option<CheckpointPolicy>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoreMeta {
    format: String,
    version: u32,
    origin: String,
    /// Segment size of the ledger (bytes) when not the default; set by hand for tests and
    /// small deployments that want retention in finer steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    segment_bytes: Option<u64>,
}

const STORE_META_FORMAT: &str = "auditrail-store";

/// The data directory, opened for writing.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    meta: StoreMeta,
    ledger: Ledger,
    keys: StoredKeys,
    quarantine: Quarantine,
    repair: KeyRepair,
    /// Index records in the ledger for segments still in row form: a compaction appended
    /// the record but was stopped before the ledger externalized the segment (see
    /// `columns::recover_compactions`).
    index_pending: std::collections::BTreeMap<u64, columns::IndexRecord>,
    _lock: File,
}

/// Events ready to append: their records and identities (key and key time), and, once
/// [`hash_leaves`](Prepared::hash_leaves) ran, their leaf hashes. Preparing is pure and can
/// run on any thread; [`Store::append`] only deduplicates and writes. The records share one
/// buffer, and a `Prepared` can be [`cleared`](Prepared::clear) and reused, so that a
/// pipeline moving batches between threads does not allocate per event.
#[derive(Debug, Default)]
pub struct Prepared {
    bytes: Vec<u8>,
    ends: Vec<usize>,
    identities: Vec<Identity>,
    /// The ledger leaf hashes of the first records, once [`hash_leaves`](Prepared::hash_leaves)
    /// computed them (a bulk load checks its segments against them).
    leaves: Vec<ledger::Hash>,
}

impl Prepared {
    /// Encodes `events` as ledger records with their identities.
    pub fn from_events(events: &[AuditEvent]) -> Prepared {
        let mut prepared = Prepared::default();
        for event in events {
            prepared.push(event);
        }
        prepared
    }

    /// Adds one event.
    pub fn push(&mut self, event: &AuditEvent) {
        formats::jsonl::encode(event, &mut self.bytes);
        self.bytes.pop();
        self.ends.push(self.bytes.len());
        self.identities.push(Identity::of(event));
    }

    /// Computes the ledger leaf hash of every record not hashed yet, on the calling thread,
    /// so that a [`Loader`] (which needs them) does not compute them on its own.
    pub fn hash_leaves(&mut self) {
        let mut start = match self.leaves.len() {
            0 => 0,
            hashed => self.ends[hashed - 1],
        };
        for &end in &self.ends[self.leaves.len()..] {
            self.leaves
                .push(ledger::merkle::leaf_hash(&self.bytes[start..end]));
            start = end;
        }
    }

    /// The leaf hash of record `index`: computed by [`hash_leaves`](Prepared::hash_leaves),
    /// or now.
    fn leaf(&self, index: usize, record: &[u8]) -> ledger::Hash {
        self.leaves
            .get(index)
            .copied()
            .unwrap_or_else(|| ledger::merkle::leaf_hash(record))
    }

    /// Events prepared.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when there is nothing to append.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Empties the batch, keeping its buffers.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
        self.identities.clear();
        self.leaves.clear();
    }

    /// The records with their identities, in order.
    pub(crate) fn records(&self) -> impl Iterator<Item = (&[u8], &Identity)> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(&self.ends)
            .map(|(start, end)| &self.bytes[start..*end])
            .zip(&self.identities)
    }

    /// Appends the events of `other` after this batch's (group commit: several requests'
    /// batches become one ledger append).
    pub fn extend_from(&mut self, other: &Prepared) {
        if self.leaves.len() == self.ends.len() {
            // The hashed records stay a prefix.
            self.leaves.extend_from_slice(&other.leaves);
        }
        let base = self.bytes.len();
        self.bytes.extend_from_slice(&other.bytes);
        self.ends.extend(other.ends.iter().map(|end| base + end));
        self.identities.extend_from_slice(&other.identities);
    }
}

/// What [`Store::append`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppendOutcome {
    /// Events stored (now durable).
    pub stored: u64,
    /// Events skipped because an event with the same identity is stored.
    pub duplicates: u64,
    /// The ledger's tree size after the append.
    pub tree_size: u64,
}

impl Store {
    /// Opens the data directory at `root`, creating it on first use, and takes the writer's
    /// lock. Repairs after a crash (the ledger's torn tail, the key index).
    pub fn open(root: &Path, options: StoreOptions, now: SystemTime) -> Result<Store, StoreError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| StoreError::Io { path, source }
        };
        // Audit data is sensitive: the directory is the owner's alone.
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(root.join("index")).map_err(io(root))?;
        let lock_path = root.join("auditrail.lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Locked {
                    path: root.to_owned(),
                });
            }
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(StoreError::Io {
                    path: lock_path,
                    source,
                });
            }
        }
        let meta = read_or_create_meta(root, options.origin)?;
        let mut config = Config::new(meta.origin.clone());
        config.segment_bytes = meta.segment_bytes.unwrap_or(STORE_SEGMENT_BYTES);
        config.sealed = Some(Arc::new(columns::ColumnarRecords::new(root)));
        if let Some(path) = options.signing_key {
            config.key = KeySource::File(path);
        }
        if let Some(policy) = options.checkpoint {
            config.checkpoint = policy;
        }
        let storage = Arc::new(FileStorage::new(root.join("ledger")));
        let ledger = Ledger::open(storage, config)?;
        columns::remove_unrecorded_files(root, ledger.tree_size())?;
        let mut index_records = Vec::new();
        let (keys, repair) = StoredKeys::open(root, &ledger, &mut |record| {
            if let Some(index_record) = columns::IndexRecord::parse(record) {
                index_records.push(index_record);
            }
        })?;
        let index_pending = columns::recover_compactions(root, &ledger, index_records)?;
        let quarantine = Quarantine::new(&root.join("quarantine.jsonl"));
        let mut store = Store {
            root: root.to_owned(),
            meta,
            ledger,
            keys,
            quarantine,
            repair,
            index_pending,
            _lock: lock,
        };
        if store.ledger.latest_checkpoint().is_none() && store.ledger.tree_size() == 0 {
            // A new trail starts with a signed empty checkpoint, so that records a crash
            // leaves before the first periodic checkpoint are an unsigned tail, not a trail
            // without any signature.
            store.ledger.checkpoint(now)?;
        }
        Ok(store)
    }

    /// The data directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// What opening computed for the set of stored keys (the ledger's own repairs are in
    /// [`Ledger::recovery`]).
    pub fn key_repair(&self) -> KeyRepair {
        self.repair
    }

    /// How many identity keys are held in memory, and how often index segments' keys were
    /// read (see `keys`).
    pub fn key_stats(&self) -> KeyStats {
        self.keys.stats()
    }

    /// Sets the most keys of index segments kept in memory for deduplication (default
    /// [`limits::KEY_CACHE_KEYS_MAX`]); segments beyond it are evicted, least recently used
    /// first, and read again when needed.
    pub fn set_key_cache_limit(&mut self, keys: usize) {
        self.keys.set_cache_limit(keys);
    }

    /// The ledger, for reads and proofs.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Where quarantined records go.
    pub fn quarantine_path(&self) -> &Path {
        self.quarantine.path()
    }

    /// Records quarantined by this process.
    pub fn quarantined(&self) -> u64 {
        self.quarantine.written()
    }

    /// Stores the events of `prepared` that are not stored yet (also skipping repeats within
    /// the batch), durably, as one ledger batch.
    pub fn append(
        &mut self,
        prepared: &Prepared,
        now: SystemTime,
    ) -> Result<AppendOutcome, StoreError> {
        self.append_noting_duplicates(prepared, now, &mut |_| {})
    }

    /// [`append`](Store::append), calling `duplicate(i)` for every event `i` of `prepared`
    /// that is not stored again, so that a caller can tell what it stored (the server counts
    /// stored events by source, verb and code class).
    pub fn append_noting_duplicates(
        &mut self,
        prepared: &Prepared,
        now: SystemTime,
        duplicate: &mut dyn FnMut(usize),
    ) -> Result<AppendOutcome, StoreError> {
        let mut records = Vec::with_capacity(prepared.len());
        let mut keys = Vec::with_capacity(prepared.len());
        let mut batch_keys =
            keys::KeySet::with_capacity_and_hasher(prepared.len(), keys::KeyHashing);
        let mut duplicates = 0;
        let stored = self.keys.stored(&prepared.identities)?;
        for (index, ((record, identity), stored)) in prepared.records().zip(stored).enumerate() {
            if stored || !batch_keys.insert(identity.key) {
                duplicates += 1;
                duplicate(index);
                continue;
            }
            records.push(record);
            keys.push(identity.key);
        }
        if !records.is_empty() {
            self.ledger.append_batch(&records, now)?;
            for key in keys {
                self.keys.add_stored(key);
            }
        }
        Ok(AppendOutcome {
            stored: records.len() as u64,
            duplicates,
            tree_size: self.ledger.tree_size(),
        })
    }

    /// Appends a heartbeat leaf (an idle period made provable).
    pub fn heartbeat(&mut self, now: SystemTime) -> Result<(), StoreError> {
        self.ledger.append_heartbeat(now)?;
        Ok(())
    }

    /// Keeps malformed input records in `quarantine.jsonl`, durably.
    pub fn quarantine(
        &mut self,
        entries: &[QuarantineEntry],
        now: SystemTime,
    ) -> Result<(), StoreError> {
        self.quarantine.write(entries, timestamp(now))
    }

    /// Signs and stores a checkpoint of the current tree; returns its text.
    pub fn checkpoint(&mut self, now: SystemTime) -> Result<String, StoreError> {
        Ok(self.ledger.checkpoint(now)?)
    }

    /// Leaves due checkpoints to the caller ([`Ledger::set_background_checkpoints`]): the
    /// server makes their tiles durable on another thread, so that appends do not wait.
    pub fn set_background_checkpoints(&mut self, background: bool) {
        self.ledger.set_background_checkpoints(background);
    }

    /// A checkpoint signed when one is due, to be made durable on any thread and stored by
    /// [`Store::finish_checkpoint`] ([`Ledger::begin_checkpoint`]).
    pub fn begin_checkpoint(
        &mut self,
        now: SystemTime,
    ) -> Result<Option<ledger::PendingCheckpoint>, StoreError> {
        Ok(self.ledger.begin_checkpoint(now)?)
    }

    /// Stores a checkpoint begun by [`Store::begin_checkpoint`] whose tiles were made
    /// durable ([`Ledger::finish_checkpoint`]); `None` when a newer one was stored meanwhile.
    pub fn finish_checkpoint(
        &mut self,
        pending: ledger::PendingCheckpoint,
    ) -> Result<Option<String>, StoreError> {
        Ok(self.ledger.finish_checkpoint(pending)?)
    }

    /// The sequence numbers of stored events whose id is `id` (a linear scan).
    pub fn find_id(&self, id: &str) -> Result<Vec<u64>, StoreError> {
        let needle = format!("\"id\":{}", serde_json::Value::String(id.to_owned()));
        let mut found = Vec::new();
        for item in self
            .ledger
            .records(self.ledger.first_seq()..self.ledger.tree_size())
        {
            let (seq, record) = item?;
            if memchr_find(&record, needle.as_bytes())
                && read_event(seq, &record)?.is_some_and(|event| event.id == id)
            {
                found.push(seq);
            }
        }
        Ok(found)
    }

    /// The event stored at `seq` (`None` for a heartbeat).
    pub fn event(&self, seq: u64) -> Result<Option<AuditEvent>, StoreError> {
        let record = self.ledger.read(seq)?;
        read_event(seq, &record)
    }

    /// Which segments a prune by `criteria` would remove: the longest run of the oldest
    /// sealed segments (never the last one) such that each either holds only records older
    /// than `criteria.before` or must go to bring the segments within `criteria.max_bytes`.
    /// A record's time is the event's time (request received, else stage reached), a
    /// heartbeat's or a prune record's; a record without a time is never older than the
    /// cutoff. Segments are read only until the first one that must stay.
    pub fn plan_prune(&self, criteria: &PruneCriteria) -> Result<PrunePlan, StoreError> {
        let segments = self.ledger.segments();
        let candidates = segments
            .len()
            .saturating_sub(1)
            .min(ledger::limits::PRUNE_SEGMENTS_MAX);
        let mut by_time = 0;
        if let Some(cutoff) = criteria.before {
            'segments: for segment in &segments[..candidates] {
                if !segment.sealed {
                    break;
                }
                let end = segment.first_seq + segment.record_count;
                for item in self.ledger.records(segment.first_seq..end) {
                    let (_, record) = item?;
                    // Index records describe other records; they have no time of their own.
                    if columns::IndexRecord::parse(&record).is_some() {
                        continue;
                    }
                    if record_time(&record).is_none_or(|time| time >= cutoff) {
                        break 'segments;
                    }
                }
                by_time += 1;
            }
        }
        let mut by_size = 0;
        if let Some(max) = criteria.max_bytes {
            let mut total: u64 = segments.iter().map(|s| self.bytes_at_rest(s)).sum();
            for segment in &segments[..candidates] {
                if total <= max || !segment.sealed {
                    break;
                }
                total -= self.bytes_at_rest(segment);
                by_size += 1;
            }
        }
        let count = by_time.max(by_size);
        let removed: Vec<SegmentInfo> = segments[..count].to_vec();
        Ok(PrunePlan {
            before_seq: segments
                .get(count)
                .map_or(self.ledger.first_seq(), |s| s.first_seq),
            first_seq: self.ledger.first_seq(),
            records: removed.iter().map(|s| s.record_count).sum(),
            bytes: removed.iter().map(|s| self.bytes_at_rest(s)).sum(),
            segments: removed,
            kept_segments: segments.len() - count,
            kept_bytes: segments[count..]
                .iter()
                .map(|s| self.bytes_at_rest(s))
                .sum(),
        })
    }

    /// Bytes a ledger segment's records take at rest: its file, or for an externalized
    /// segment its stub and index files.
    fn bytes_at_rest(&self, segment: &SegmentInfo) -> u64 {
        if !segment.external {
            return segment.file_len;
        }
        let files = columns::IndexFiles::at(
            &self.root,
            segment.first_seq,
            segment.first_seq + segment.record_count,
        );
        let len = |path: &Path| std::fs::metadata(path).map_or(0, |m| m.len());
        segment.file_len + len(&files.parquet) + len(&files.keys) + len(&files.extra)
    }

    /// Carries out a plan from [`Store::plan_prune`]: the ledger prunes (signed prune record,
    /// checkpoint, anchor, segment files, level-0 tiles), then the key index drops the
    /// pruned keys and `prune.log` gets a line. Returns `None` when the plan removes nothing.
    pub fn prune(
        &mut self,
        plan: &PrunePlan,
        reason: &str,
        now: SystemTime,
    ) -> Result<Option<PruneOutcome>, StoreError> {
        if plan.segments.is_empty() {
            return Ok(None);
        }
        if self.meta.version < STORE_FORMAT_VERSION {
            // An older release must not open a pruned directory as if it were whole.
            self.meta.version = STORE_FORMAT_VERSION;
            write_meta(&self.root, &self.meta)?;
        }
        // The keys of pruned events still in row form, read while they can be.
        let mut tail_keys = Vec::new();
        for segment in plan.segments.iter().filter(|segment| !segment.external) {
            let start = segment.first_seq.max(self.ledger.first_seq());
            for item in self
                .ledger
                .records(start..segment.first_seq + segment.record_count)
            {
                let (seq, record) = item?;
                if let Some(event) = read_event(seq, &record)? {
                    tail_keys.push(key(&event));
                }
            }
        }
        let outcome = self.ledger.prune(plan.before_seq, reason, now)?;
        columns::remove_pruned_segments(&self.root, outcome.before_seq)?;
        self.keys.prune(outcome.before_seq);
        self.keys.forget_tail(&tail_keys);
        let first = self.ledger.first_seq();
        self.index_pending.retain(|start, _| *start >= first);
        self.append_prune_log(&outcome, reason, now)?;
        Ok(Some(outcome))
    }

    fn append_prune_log(
        &self,
        outcome: &PruneOutcome,
        reason: &str,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        let path = self.root.join("prune.log");
        let line = serde_json::json!({
            "time": timestamp(now).to_rfc3339(),
            "before_seq": outcome.before_seq,
            "previous_first_seq": outcome.previous_first_seq,
            "segments": outcome.segments.len(),
            "first_segment": outcome.segments.first().map(|s| s.path.clone()),
            "last_segment": outcome.segments.last().map(|s| s.path.clone()),
            "records": outcome.records,
            "bytes": outcome.bytes,
            "tiles_removed": outcome.tiles_removed,
            "prune_record_seq": outcome.record_seq,
            "reason": reason,
            "checkpoint": outcome.checkpoint,
        });
        let io = |source| StoreError::Io {
            path: path.clone(),
            source,
        };
        let existing = std::fs::metadata(&path).map_or(0, |m| m.len());
        if existing > PRUNE_LOG_BYTES_MAX {
            // Informational only; the signed prune records are in the ledger.
            return Ok(());
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io)?;
        let mut text = line.to_string();
        text.push('\n');
        std::io::Write::write_all(&mut file, text.as_bytes()).map_err(io)?;
        file.sync_data().map_err(io)
    }

    /// Writes a final checkpoint and releases the directory.
    pub fn close(self, now: SystemTime) -> Result<(), StoreError> {
        self.ledger.close(now)?;
        Ok(())
    }
}

/// Reads a ledger record: an event, or `None` for a heartbeat or a prune record.
pub fn read_event(seq: u64, record: &[u8]) -> Result<Option<AuditEvent>, StoreError> {
    if Heartbeat::parse(record).is_some()
        || PruneRecord::parse(record).is_some()
        || columns::IndexRecord::parse(record).is_some()
    {
        return Ok(None);
    }
    serde_json::from_slice(record)
        .map(Some)
        .map_err(|error| StoreError::Record {
            seq,
            reason: error.to_string(),
        })
}

/// What to prune; see [`Store::plan_prune`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneCriteria {
    /// Remove segments whose records are all older than this.
    pub before: Option<Timestamp>,
    /// Remove the oldest segments until the segments (their files, or for compacted ones their
    /// index files) take at most this many bytes.
    pub max_bytes: Option<u64>,
}

/// What a prune would remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrunePlan {
    /// Records before this one go (equal to `first_seq` when nothing goes).
    pub before_seq: u64,
    /// The first record stored now.
    pub first_seq: u64,
    /// The segments that go, oldest first.
    pub segments: Vec<SegmentInfo>,
    /// Records that go.
    pub records: u64,
    /// Segment bytes that go.
    pub bytes: u64,
    /// Segments that stay.
    pub kept_segments: usize,
    /// Segment bytes that stay.
    pub kept_bytes: u64,
}

impl PrunePlan {
    /// Whether nothing would be removed.
    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }
}

/// The time of a stored record: an event's, a heartbeat's or a prune record's.
pub fn record_time(record: &[u8]) -> Option<Timestamp> {
    if let Some(beat) = Heartbeat::parse(record) {
        return i64::try_from(beat.time_unix_ns)
            .ok()
            .map(Timestamp::from_unix_nanos);
    }
    if let Some(prune) = PruneRecord::parse(record) {
        return i64::try_from(prune.time_unix_ns)
            .ok()
            .map(Timestamp::from_unix_nanos);
    }
    #[derive(Deserialize)]
    struct Times {
        #[serde(default)]
        time: Option<Timestamp>,
        #[serde(default)]
        stage_time: Option<Timestamp>,
    }
    let times: Times = serde_json::from_slice(record).ok()?;
    times.time.or(times.stage_time)
}

/// The latest signed checkpoint of the store at `root`, read without opening it for writing.
pub fn latest_checkpoint(root: &Path) -> Result<Option<String>, StoreError> {
    let path = root.join("ledger").join(ledger::CHECKPOINT_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StoreError::Io { path, source }),
    }
}

fn memchr_find(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

fn timestamp(now: SystemTime) -> Timestamp {
    let nanos = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    Timestamp::from_unix_nanos(i64::try_from(nanos).unwrap_or(i64::MAX))
}

fn read_or_create_meta(root: &Path, origin: Option<String>) -> Result<StoreMeta, StoreError> {
    let path = root.join("store.json");
    let meta_error = |reason: String| StoreError::Meta {
        path: path.clone(),
        reason,
    };
    match std::fs::metadata(&path) {
        Ok(metadata) => {
            if metadata.len() > STORE_META_BYTES_MAX {
                return Err(meta_error("too large to be a store.json".to_owned()));
            }
            let text = std::fs::read(&path).map_err(|source| StoreError::Io {
                path: path.clone(),
                source,
            })?;
            let meta: StoreMeta =
                serde_json::from_slice(&text).map_err(|error| meta_error(error.to_string()))?;
            if meta.format != STORE_META_FORMAT
                || !(STORE_FORMAT_VERSION_MIN..=STORE_FORMAT_VERSION).contains(&meta.version)
            {
                return Err(meta_error(format!(
                    "format {} version {} is not {STORE_META_FORMAT} version {STORE_FORMAT_VERSION_MIN} to {STORE_FORMAT_VERSION}; read it with the auditrail release that wrote it, or import its events again into a new --data directory",
                    meta.format, meta.version
                )));
            }
            Ok(meta)
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let meta = StoreMeta {
                format: STORE_META_FORMAT.to_owned(),
                version: STORE_FORMAT_VERSION,
                origin: origin.unwrap_or_else(default_origin),
                segment_bytes: None,
            };
            write_meta(root, &meta)?;
            Ok(meta)
        }
        Err(source) => Err(StoreError::Io { path, source }),
    }
}

/// Writes `store.json` atomically (temporary file, fsync, rename, directory fsync).
fn write_meta(root: &Path, meta: &StoreMeta) -> Result<(), StoreError> {
    let path = root.join("store.json");
    let text = serde_json::to_vec_pretty(meta).map_err(|error| StoreError::Meta {
        path: path.clone(),
        reason: error.to_string(),
    })?;
    let temporary = root.join("store.json.tmp");
    let io = |source| StoreError::Io {
        path: temporary.clone(),
        source,
    };
    let mut file = File::create(&temporary).map_err(io)?;
    std::io::Write::write_all(&mut file, &text).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&temporary, &path).map_err(|source| StoreError::Io {
        path: path.clone(),
        source,
    })?;
    if let Ok(directory) = File::open(root) {
        let _ = directory.sync_all();
    }
    Ok(())
}

/// `auditrail.local/<host name>`, the host name from the kernel when it can be read.
fn default_origin() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host: String = host
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'))
        .collect();
    format!(
        "auditrail.local/{}",
        if host.is_empty() { "localhost" } else { &host }
    )
}
