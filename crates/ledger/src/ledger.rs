//! The ledger: group-committed appends, reads, checkpoints and proofs.
//!
//! Invariants:
//! - A batch is acknowledged (`append_batch` returns `Ok`) only after its blocks and the
//!   segment file's size are fsynced; a new segment's directory entry is fsynced before
//!   any record is written into it. One batch = one write + one fsync.
//! - Records are the source of truth. Tiles and checkpoints are derived: full tiles are
//!   written after the batch is durable and fsynced before the next checkpoint is
//!   signed, so every tile below a stored checkpoint's size is durable, and open only
//!   recomputes the tree from the last checkpoint on.
//! - A checkpoint is signed only for a tree that extends every earlier one: the ledger
//!   refuses to append when it holds fewer records than its latest checkpoint.
//! - No clock reads: the caller passes `now` to every call that may checkpoint.
//!
//! Concurrency: `Ledger` is `Send`; writes take `&mut self`. Several producers share
//! one ledger as `Arc<Mutex<Ledger>>`, or better, send records over a bounded channel to
//! one writer thread that drains what is waiting into one `append_batch` call (group
//! commit) and answers each producer once the call returns.

use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::checkpoint_log::{CHECKPOINT_FILE, CHECKPOINT_LOG, encode_entry, parse_log};
use crate::error::Error;
use crate::limits::{
    BATCH_BYTES_MAX, BATCH_RECORDS_MAX, BLOCK_ZSTD_LEVEL, CHECK_PART_RECORDS_MIN,
    CHECK_THREADS_MAX, EXTERNAL_BATCH_BYTES_MAX, PRUNE_SEGMENTS_MAX, RECORD_BYTES_MAX,
    SEGMENT_BYTES_TARGET, SEGMENT_FILE_BYTES_MAX, TILE_HEIGHT, TILE_SYNC_THREADS, TILE_WIDTH,
    TREE_SIZE_MAX,
};
use crate::merkle::{self, Hash, leaf_hash};
use crate::note::{Checkpoint, NoteSigner, NoteVerifier};
use crate::proof::InclusionProof;
use crate::prune::{PRUNE_FILE, PruneRecord, check_reason, encode_anchor, read_anchor, unix_ns};
use crate::scan::{BlockMeta, ScanError, SegmentScan, scan_segment};
use crate::segment::{
    BlockEncoder, EXTERNAL_BYTES, EncodedBlock, FOOTER_BYTES, Footer, HEADER_BYTES, SEGMENT_DIR,
    check_block, decode_block_header, decode_external, decode_records, encode_external,
    encode_footer, encode_header, external_file_name, parse_external_file_name,
    parse_segment_file_name, segment_file_name,
};
use crate::storage::{AppendFile, Storage, join, parent};
use crate::tiles::{FullTile, TILE_DIR, TileReader, TreeEdge, tile_bytes, tile_path};
use crate::verify::{SealedRecords, SealedSource};

/// File name of the private signing key (signer-key text, mode 0600).
pub const SIGNING_KEY_FILE: &str = "signing.key";
/// File name of the public verifier key.
pub const VERIFIER_KEY_FILE: &str = "verifier.key";

/// Where the checkpoint signing key comes from.
#[derive(Debug)]
pub enum KeySource {
    /// `signing.key` in the ledger directory, created with fresh OS randomness and mode
    /// 0600 on first use.
    Store,
    /// A key supplied by the operator (for example read with
    /// [`NoteSigner::from_signer_key`] from a file of their choosing). Its name must
    /// equal the origin.
    Signer(Box<NoteSigner>),
    /// A signer-key file chosen by the operator (`PRIVATE+KEY+…` text, as written to
    /// `signing.key`), read from the real file system. On Unix it must not be readable
    /// or writable by group or others.
    File(std::path::PathBuf),
}

/// When checkpoints are written, besides explicit [`Ledger::checkpoint`] and
/// [`Ledger::close`] calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointPolicy {
    /// After this many records since the last checkpoint.
    pub every_records: u64,
    /// Once this much time has passed since the last checkpoint written by this process
    /// (or since its first append), per the caller's clock, checked at each append and
    /// by [`Ledger::checkpoint_if_due`].
    pub every: Duration,
}

impl Default for CheckpointPolicy {
    fn default() -> CheckpointPolicy {
        CheckpointPolicy {
            every_records: 100_000,
            every: Duration::from_secs(1),
        }
    }
}

/// How to open a ledger.
#[derive(Debug)]
pub struct Config {
    /// Log identity: the checkpoints' origin line and the key name, e.g.
    /// `auditrail.example/cluster-a`. No spaces and no `+`.
    pub origin: String,
    /// The signing key.
    pub key: KeySource,
    /// Automatic checkpoints.
    pub checkpoint: CheckpointPolicy,
    /// The active segment is sealed once its file reaches this many bytes (at most
    /// [`SEGMENT_BYTES_TARGET`], at least [`SEGMENT_BYTES_MIN`]; small values are for
    /// tests).
    pub segment_bytes: u64,
    /// Where the records of externalized segments are kept (see [`Ledger::externalize`]).
    /// Required to open a ledger that has external segments.
    pub sealed: Option<Arc<dyn SealedSource>>,
}

/// Smallest accepted [`Config::segment_bytes`].
pub const SEGMENT_BYTES_MIN: u64 = 1024;

impl Config {
    /// A configuration with a key kept in the store and the default checkpoint policy.
    pub fn new(origin: impl Into<String>) -> Config {
        Config {
            origin: origin.into(),
            key: KeySource::Store,
            checkpoint: CheckpointPolicy::default(),
            segment_bytes: SEGMENT_BYTES_TARGET,
            sealed: None,
        }
    }
}

/// What crash recovery did while opening.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Bytes cut from the end of the last segment (a torn, unacknowledged write).
    pub segment_bytes_truncated: u64,
    /// A segment file removed because its creation was torn (no complete header).
    pub removed_segment: Option<String>,
    /// Bytes cut from the end of the checkpoint log (a torn entry).
    pub checkpoint_log_bytes_truncated: u64,
    /// Tiles recomputed from records.
    pub tiles_rebuilt: u64,
    /// The stored tiles did not reproduce the latest checkpoint's root, so the whole
    /// tree was recomputed from the records (which do) and the tiles rewritten.
    pub tree_rebuilt_from_records: bool,
    /// Segment files below the prune point, left by a prune interrupted after its anchor
    /// was written, removed.
    pub pruned_segments_removed: u64,
    /// Segment files removed because their stub shows they were externalized (an
    /// externalize interrupted after writing the stub).
    pub externalized_segments_removed: u64,
}

/// What [`Ledger::prune`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneOutcome {
    /// Records `previous_first_seq .. before_seq` were removed.
    pub before_seq: u64,
    /// The first record stored before the prune.
    pub previous_first_seq: u64,
    /// The segments removed.
    pub segments: Vec<SegmentInfo>,
    /// Records removed.
    pub records: u64,
    /// Segment bytes removed.
    pub bytes: u64,
    /// Level-0 tile files removed (their hashes are committed by the levels above).
    pub tiles_removed: u64,
    /// Sequence number of the prune record.
    pub record_seq: u64,
    /// The signed checkpoint that covers the prune record.
    pub checkpoint: String,
}

/// Whether an append also wrote a checkpoint.
#[derive(Debug)]
pub enum CheckpointStatus {
    /// The policy did not call for one.
    NotDue,
    /// A checkpoint of this size was written.
    Written {
        /// Its tree size.
        size: u64,
    },
    /// Writing it failed; the batch itself is durable. The next append or
    /// [`Ledger::checkpoint`] retries.
    Failed(Error),
}

/// The answer to a successful append: the batch is durable.
#[derive(Debug)]
pub struct AppendReceipt {
    /// Sequence numbers given to the batch (leaf indices).
    pub seqs: Range<u64>,
    /// Tree size after the batch.
    pub tree_size: u64,
    /// Checkpoint written as a consequence, if any.
    pub checkpoint: CheckpointStatus,
}

/// Public description of a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    /// Path relative to the ledger root.
    pub path: String,
    /// First sequence number.
    pub first_seq: u64,
    /// Records held.
    pub record_count: u64,
    /// Whether it is sealed (immutable, with a footer).
    pub sealed: bool,
    /// Whether its records are kept in another form (its file is a stub).
    pub external: bool,
    /// File size in bytes.
    pub file_len: u64,
}

#[derive(Debug)]
struct SegmentMeta {
    path: String,
    first_seq: u64,
    record_count: u64,
    sealed: bool,
    file_len: u64,
    blocks: Vec<BlockMeta>,
    /// Its records are kept by the [`SealedSource`]; `path` is the stub.
    external: bool,
}

#[derive(Debug)]
struct ActiveSegment {
    file: Box<dyn AppendFile>,
    /// Length known durable; anything beyond is an unacknowledged, failed write.
    durable_len: u64,
    needs_repair: bool,
}

/// A signed checkpoint: the tree size it signs and its note.
#[derive(Debug, Clone)]
struct LastCheckpoint {
    size: u64,
    note: String,
}

type OpenedCheckpointLog = (Option<LastCheckpoint>, Option<Box<dyn AppendFile>>);

type BlockCache = Mutex<Option<(u64, Arc<Vec<Vec<u8>>>)>>;

/// An open ledger directory. See the module documentation for its invariants.
///
/// `Ledger` is `Send` but not `Sync`: share it between threads behind a `Mutex`.
#[derive(Debug)]
pub struct Ledger {
    storage: Arc<dyn Storage>,
    origin: String,
    policy: CheckpointPolicy,
    segment_bytes: u64,
    signer: NoteSigner,
    segments: Vec<SegmentMeta>,
    active: Option<ActiveSegment>,
    edge: TreeEdge,
    encoder: BlockEncoder,
    pending_tiles: Vec<FullTile>,
    unsynced_tiles: BTreeSet<String>,
    /// Tiles a [`PendingCheckpoint`] is making durable on another thread: a checkpoint
    /// signed here meanwhile makes them durable too before it is stored.
    syncing_tiles: BTreeSet<String>,
    /// Whether [`Ledger::append_batch`] leaves due checkpoints to the caller
    /// ([`Ledger::begin_checkpoint`]).
    background_checkpoints: bool,
    last_checkpoint: Option<LastCheckpoint>,
    interval_start: Option<SystemTime>,
    checkpoint_file_stale: bool,
    checkpoint_log: Option<Box<dyn AppendFile>>,
    block_cache: BlockCache,
    recovery: Recovery,
    /// The tree's edge at the prune point (empty when never pruned).
    anchor: TreeEdge,
    sealed: Option<Arc<dyn SealedSource>>,
    /// How long the fsync of the last durable segment write took (for the caller's metrics).
    last_sync: Duration,
}

impl Ledger {
    /// Open (or create) the ledger kept in `storage`, recovering from a crash if needed:
    /// a torn tail of the last segment or of the checkpoint log is cut, a torn new
    /// segment is removed, and the tiles after the last checkpoint are recomputed.
    ///
    /// Fails with [`Error::BehindCheckpoint`] when fewer records remain than the latest
    /// checkpoint covers, and with [`Error::Corrupt`] for damage recovery must not
    /// paper over (run [`crate::verify`] to locate it).
    pub fn open(storage: Arc<dyn Storage>, config: Config) -> Result<Ledger, Error> {
        crate::note::validate_name(&config.origin)?;
        validate_policy(&config.checkpoint)?;
        if !(SEGMENT_BYTES_MIN..=SEGMENT_BYTES_TARGET).contains(&config.segment_bytes) {
            return Err(Error::Config {
                reason: format!("segment_bytes {} out of range", config.segment_bytes),
            });
        }
        for dir in [SEGMENT_DIR, TILE_DIR] {
            storage
                .create_dir_all(dir)
                .map_err(|source| Error::io(dir, source))?;
        }
        let signer = load_signer(storage.as_ref(), &config)?;
        let mut recovery = Recovery::default();

        let (last_checkpoint, checkpoint_log) =
            open_checkpoint_log(storage.as_ref(), &mut recovery)?;
        let checkpoint_size = last_checkpoint.as_ref().map_or(0, |last| last.size);
        let anchor = read_anchor(storage.as_ref())?;
        let segments = open_segments(
            storage.as_ref(),
            checkpoint_size,
            anchor.size(),
            &mut recovery,
        )?;
        if config.sealed.is_none()
            && let Some(stub) = segments.iter().find(|segment| segment.external)
        {
            return Err(Error::Config {
                reason: format!(
                    "{} is kept in another form; open the ledger with its sealed source",
                    stub.path
                ),
            });
        }
        let active = match segments.last() {
            Some(last) if !last.sealed => Some(ActiveSegment {
                file: storage
                    .open_append(&last.path)
                    .map_err(|e| Error::io(&last.path, e))?,
                durable_len: last.file_len,
                needs_repair: false,
            }),
            _ => None,
        };
        let mut ledger = Ledger {
            storage,
            origin: config.origin,
            policy: config.checkpoint,
            segment_bytes: config.segment_bytes,
            signer,
            segments,
            active,
            edge: TreeEdge::new(),
            encoder: BlockEncoder::new(BLOCK_ZSTD_LEVEL)
                .map_err(|source| Error::io(SEGMENT_DIR, source))?,
            pending_tiles: Vec::new(),
            unsynced_tiles: BTreeSet::new(),
            syncing_tiles: BTreeSet::new(),
            background_checkpoints: false,
            last_checkpoint,
            interval_start: None,
            checkpoint_file_stale: false,
            checkpoint_log,
            block_cache: Mutex::new(None),
            recovery,
            anchor,
            sealed: config.sealed,
            last_sync: Duration::ZERO,
        };
        ledger.restore_tree()?;
        Ok(ledger)
    }

    /// What recovery did while opening.
    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    /// The log's origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// How long the fsync of the last durable write of records took (zero before the first):
    /// the cost of durability, apart from encoding and hashing.
    pub fn last_sync(&self) -> Duration {
        self.last_sync
    }

    /// Number of records stored (the tree size); the next record gets this sequence
    /// number.
    pub fn tree_size(&self) -> u64 {
        self.edge.size()
    }

    /// RFC 6962 root of all records stored.
    pub fn root(&self) -> Hash {
        self.edge.root()
    }

    /// The latest signed checkpoint (C2SP tlog-checkpoint text), if any was written.
    pub fn latest_checkpoint(&self) -> Option<&str> {
        self.last_checkpoint.as_ref().map(|last| last.note.as_str())
    }

    /// The verifier for this ledger's checkpoints.
    pub fn verifier(&self) -> NoteVerifier {
        self.signer.verifier()
    }

    /// The first record still stored: records below it were removed by [`Ledger::prune`]
    /// (0 when nothing was pruned).
    pub fn first_seq(&self) -> u64 {
        self.anchor.size()
    }

    /// The segments, oldest first.
    pub fn segments(&self) -> Vec<SegmentInfo> {
        self.segments
            .iter()
            .map(|segment| SegmentInfo {
                path: segment.path.clone(),
                first_seq: segment.first_seq,
                record_count: segment.record_count,
                sealed: segment.sealed,
                file_len: segment.file_len,
                external: segment.external,
            })
            .collect()
    }

    /// Append a batch of records and make it durable with one fsync (group commit).
    /// On `Ok`, every record of the batch is durable, numbered `receipt.seqs`. On `Err`,
    /// none of them is stored (a partly written batch is cut off again), nothing stored
    /// before is affected, and later appends may succeed (for example once disk space is
    /// freed after [`Error::StorageFull`]).
    ///
    /// May write a checkpoint afterwards, per the [`CheckpointPolicy`] and `now`.
    pub fn append_batch<R: AsRef<[u8]>>(
        &mut self,
        records: &[R],
        now: SystemTime,
    ) -> Result<AppendReceipt, Error> {
        let first_seq = self.tree_size();
        check_batch(records, first_seq)?;
        if records.is_empty() {
            return Ok(AppendReceipt {
                seqs: first_seq..first_seq,
                tree_size: first_seq,
                checkpoint: CheckpointStatus::NotDue,
            });
        }
        self.repair_active()?;
        self.roll_segment_if_full()?;
        if self.active.is_none() {
            self.create_segment(first_seq)?;
        }

        let mut buffer = Vec::new();
        let mut blocks: Vec<EncodedBlock> = Vec::new();
        for (offset, record) in records.iter().enumerate() {
            self.encoder
                .push(
                    first_seq + offset as u64,
                    record.as_ref(),
                    &mut buffer,
                    &mut blocks,
                )
                .map_err(|source| Error::io(SEGMENT_DIR, source))?;
        }
        self.encoder
            .flush(&mut buffer, &mut blocks)
            .map_err(|source| Error::io(SEGMENT_DIR, source))?;
        self.write_durably(&buffer)?;

        // The batch is durable: account for it, then extend the tree.
        let segment = self.segments.last_mut().ok_or(Error::Poisoned)?;
        let base = segment.file_len;
        for block in &blocks {
            segment.blocks.push(BlockMeta {
                offset: base + block.offset_in_output as u64,
                frame_len: block.frame_len,
                first_seq: block.first_seq,
                record_count: block.record_count,
            });
        }
        segment.file_len += buffer.len() as u64;
        segment.record_count += records.len() as u64;
        let mut completed = Vec::new();
        for record in records {
            self.edge
                .push(leaf_hash(record.as_ref()), &mut |tile| completed.push(tile));
        }
        self.keep_tiles(completed);
        // Tiles are derived data: a failure here leaves them pending for the next
        // checkpoint, which retries before it signs anything.
        let _ = self.write_pending_tiles();

        let checkpoint = if !self.background_checkpoints && self.checkpoint_due(now) {
            match self.checkpoint(now) {
                Ok(_) => CheckpointStatus::Written {
                    size: self.tree_size(),
                },
                Err(error) => CheckpointStatus::Failed(error),
            }
        } else {
            CheckpointStatus::NotDue
        };
        Ok(AppendReceipt {
            seqs: first_seq..first_seq + records.len() as u64,
            tree_size: self.tree_size(),
            checkpoint,
        })
    }

    /// Append one heartbeat leaf recording `now` and the tree size before it, so that
    /// a quiet period is provable; see [`crate::Heartbeat`].
    pub fn append_heartbeat(&mut self, now: SystemTime) -> Result<AppendReceipt, Error> {
        let record = crate::heartbeat::Heartbeat::at(now, self.tree_size()).to_record();
        self.append_batch(&[record], now)
    }

    /// Write a checkpoint if the [`CheckpointPolicy`] calls for one at `now` (for a caller
    /// whose timer fires while no records arrive); returns whether one was written.
    pub fn checkpoint_if_due(&mut self, now: SystemTime) -> Result<bool, Error> {
        if self.checkpoint_due(now) {
            self.checkpoint(now)?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Sign and store a checkpoint of the current tree, unless the latest one already
    /// covers it; returns the checkpoint note. Every tile below the checkpointed size is
    /// made durable first.
    pub fn checkpoint(&mut self, now: SystemTime) -> Result<String, Error> {
        let size = self.tree_size();
        if let Some(last) = &self.last_checkpoint
            && last.size == size
        {
            let note = last.note.clone();
            if self.checkpoint_file_stale {
                self.write_checkpoint_file(&note)?;
            }
            return Ok(note);
        }
        let signed = self.sign_tree()?;
        self.sync_tiles()?;
        let note = self.store_checkpoint(signed)?;
        self.interval_start = Some(now);
        Ok(note)
    }

    /// Writes the tiles below the current tree size and signs a checkpoint of the tree, not
    /// stored yet: only once every tile below its size is durable
    /// ([`Ledger::store_checkpoint`]).
    fn sign_tree(&mut self) -> Result<LastCheckpoint, Error> {
        let size = self.tree_size();
        self.write_pending_tiles()?;
        self.write_partial_tiles()?;
        let body = Checkpoint {
            origin: self.origin.clone(),
            size,
            root: self.edge.root(),
        };
        let note = self.signer.sign(&body.to_text())?;
        Ok(LastCheckpoint { size, note })
    }

    /// Stores a checkpoint signed by [`Ledger::sign_tree`] whose tiles are durable: the log
    /// entry, which is the checkpoint, then the `checkpoint` file, a convenience copy.
    fn store_checkpoint(&mut self, signed: LastCheckpoint) -> Result<String, Error> {
        self.append_checkpoint_log(&signed.note)?;
        let note = signed.note.clone();
        self.last_checkpoint = Some(signed);
        self.checkpoint_file_stale = true;
        self.write_checkpoint_file(&note)?;
        Ok(note)
    }

    /// Leaves due checkpoints to the caller: [`Ledger::append_batch`] no longer writes them,
    /// and the caller makes them with [`Ledger::begin_checkpoint`], [`PendingCheckpoint::sync`]
    /// (on another thread) and [`Ledger::finish_checkpoint`], so that a checkpoint's tile
    /// fsyncs (a few hundred after a busy second) do not hold up appends.
    pub fn set_background_checkpoints(&mut self, background: bool) {
        self.background_checkpoints = background;
    }

    /// Signs a checkpoint of the current tree if the [`CheckpointPolicy`] calls for one at
    /// `now`, without storing it: the tiles below its size are written, and the returned
    /// [`PendingCheckpoint`] makes the ones not yet durable durable
    /// ([`PendingCheckpoint::sync`], on any thread) before [`Ledger::finish_checkpoint`]
    /// stores it. Appends may go on meanwhile. One pending checkpoint at a time is the
    /// caller's to keep (a second one would sign the same policy interval again).
    pub fn begin_checkpoint(
        &mut self,
        now: SystemTime,
    ) -> Result<Option<PendingCheckpoint>, Error> {
        if !self.checkpoint_due(now) {
            return Ok(None);
        }
        let signed = self.sign_tree()?;
        let tiles: Vec<String> = std::mem::take(&mut self.unsynced_tiles)
            .into_iter()
            .collect();
        self.syncing_tiles.extend(tiles.iter().cloned());
        self.interval_start = Some(now);
        Ok(Some(PendingCheckpoint {
            storage: Arc::clone(&self.storage),
            signed,
            tiles,
            synced: false,
        }))
    }

    /// Stores a checkpoint begun by [`Ledger::begin_checkpoint`] once
    /// [`PendingCheckpoint::sync`] made its tiles durable: appended to the checkpoint log
    /// (durably), then the `checkpoint` file. Returns the note, or `None` when a checkpoint
    /// of the same or a larger tree was stored meanwhile (the pending one is dropped: the log
    /// only grows). One whose tiles were not made durable is refused, and its tiles are made
    /// durable by the next checkpoint instead.
    pub fn finish_checkpoint(
        &mut self,
        pending: PendingCheckpoint,
    ) -> Result<Option<String>, Error> {
        for tile in &pending.tiles {
            self.syncing_tiles.remove(tile);
        }
        if !pending.synced {
            self.unsynced_tiles.extend(pending.tiles);
            return Err(Error::Config {
                reason: "the pending checkpoint's tiles were not made durable; it is not stored"
                    .to_owned(),
            });
        }
        if self
            .last_checkpoint
            .as_ref()
            .is_some_and(|last| last.size >= pending.signed.size)
        {
            return Ok(None);
        }
        self.store_checkpoint(pending.signed).map(Some)
    }

    fn write_checkpoint_file(&mut self, note: &str) -> Result<(), Error> {
        self.storage
            .write_atomic(CHECKPOINT_FILE, note.as_bytes())
            .map_err(|source| Error::io(CHECKPOINT_FILE, source))?;
        self.checkpoint_file_stale = false;
        Ok(())
    }

    /// Write a final checkpoint and close. Dropping a ledger without `close` is safe
    /// (everything acknowledged is durable) but leaves the newest records uncheckpointed
    /// until the next open and checkpoint.
    pub fn close(mut self, now: SystemTime) -> Result<(), Error> {
        self.checkpoint(now).map(|_| ())
    }

    /// The record with sequence number `seq`.
    pub fn read(&self, seq: u64) -> Result<Vec<u8>, Error> {
        let (segment_index, block_index) = self.locate(seq)?;
        let block = self.segments[segment_index].blocks[block_index];
        let records = self.read_block(segment_index, block_index)?;
        let position = (seq - block.first_seq) as usize;
        records
            .get(position)
            .cloned()
            .ok_or_else(|| Error::Corrupt {
                path: self.segments[segment_index].path.clone(),
                offset: block.offset,
                reason: format!("block lacks record {seq}"),
            })
    }

    /// The records with sequence numbers in `range` (clamped to the records still stored,
    /// `first_seq() .. tree_size()`), in order,
    /// decompressing each block once.
    pub fn records(&self, range: Range<u64>) -> Records<'_> {
        let end = range.end.min(self.stored_size());
        Records {
            ledger: self,
            next: range.start.max(self.first_seq()),
            end,
            current: None,
        }
    }

    /// An inclusion proof of record `seq` against the latest checkpoint.
    pub fn prove(&self, seq: u64) -> Result<InclusionProof, Error> {
        let last = self
            .last_checkpoint
            .as_ref()
            .ok_or(Error::NotCheckpointed { seq })?;
        if seq >= last.size {
            return Err(Error::NotCheckpointed { seq });
        }
        let record = self.read(seq)?;
        let leaves = |index| self.leaf_tile(index);
        let mut reader =
            TileReader::new(self.storage.as_ref(), "", &self.edge).with_leaves(&leaves);
        let hashes = merkle::inclusion_proof(&mut reader, seq, last.size)?;
        Ok(InclusionProof {
            index: seq,
            tree_size: last.size,
            leaf_hash: leaf_hash(&record),
            hashes,
            checkpoint: last.note.clone(),
        })
    }

    /// An RFC 6962 consistency proof from tree size `old` to `new` (both at most the
    /// current size).
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, Error> {
        if old > new || new > self.tree_size() {
            return Err(Error::TreeRange {
                start: old.max(new),
                size: self.tree_size(),
            });
        }
        let leaves = |index| self.leaf_tile(index);
        let mut reader =
            TileReader::new(self.storage.as_ref(), "", &self.edge).with_leaves(&leaves);
        merkle::consistency_proof(&mut reader, old, new)
    }

    /// The root of the tree of the first `size` records (at most the current size).
    pub fn root_at(&self, size: u64) -> Result<Hash, Error> {
        if size > self.tree_size() {
            return Err(Error::TreeRange {
                start: size,
                size: self.tree_size(),
            });
        }
        let leaves = |index| self.leaf_tile(index);
        let mut reader =
            TileReader::new(self.storage.as_ref(), "", &self.edge).with_leaves(&leaves);
        merkle::root(&mut reader, size)
    }

    // ---- external segments ---------------------------------------------------------

    /// Hand the records of the sealed segment starting at `first_seq` over to the
    /// configured [`SealedSource`] (for example Parquet files holding the one copy of each
    /// event): the records it yields for the segment are compared byte for byte with the
    /// segment's own, then the segment file is replaced by a 32-byte stub
    /// (`<first_seq>.ext`, see `docs/ledger-format.md`) and the full level-0 tiles inside
    /// it are deleted (the leaves are recomputed from the records when a proof needs them).
    ///
    /// In order, each step durable before the next: checkpoint (so the segment is
    /// signed), comparison, stub written, segment file removed, tiles removed. A crash
    /// after the stub is written leaves the segment file, which open removes.
    pub fn externalize(&mut self, first_seq: u64, now: SystemTime) -> Result<u64, Error> {
        let source = self.sealed.clone().ok_or_else(|| Error::Config {
            reason: "no sealed source to hand the segment to".to_owned(),
        })?;
        let segment = self.sealed_segment(first_seq)?;
        self.checkpoint(now)?;
        let never = std::sync::atomic::AtomicBool::new(false);
        let checked = check_sealed(&segment, source.as_ref(), &never)?;
        self.externalize_checked(checked, now)?.remove_synced(true)
    }

    /// A reader of the sealed segment starting at `first_seq` that holds no borrow of the
    /// ledger, so that another thread can read the segment's records while the ledger goes
    /// on appending (a sealed file is immutable; see [`SealedSegment`]).
    pub fn sealed_segment(&self, first_seq: u64) -> Result<SealedSegment, Error> {
        let segment = self
            .segments
            .iter()
            .find(|segment| segment.first_seq == first_seq)
            .ok_or_else(|| Error::Config {
                reason: format!("no segment starts at record {first_seq}"),
            })?;
        if !segment.sealed || segment.external {
            return Err(Error::Config {
                reason: format!("{} is not a sealed segment held in its file", segment.path),
            });
        }
        Ok(SealedSegment {
            storage: Arc::clone(&self.storage),
            info: SegmentInfo {
                path: segment.path.clone(),
                first_seq: segment.first_seq,
                record_count: segment.record_count,
                sealed: true,
                external: false,
                file_len: segment.file_len,
            },
            blocks: segment.blocks.clone(),
        })
    }

    /// [`Ledger::externalize`] for a segment whose comparison with the sealed source was done
    /// already, off the ledger's thread, by [`check_sealed`]: `checked` is the proof, made
    /// for exactly this segment file (start, record count, path and length). What remains
    /// is short: a checkpoint if none signed the segment yet, then the stub written durably.
    /// The segment file and the level-0 tiles inside the segment are returned, for the
    /// caller to remove on another thread ([`RedundantTiles::remove`]): the ledger no longer
    /// reads the file (open removes it if a crash leaves it beside the stub), and the tiles
    /// are a redundant copy of what the records give, so tiles still there (not removed
    /// yet, or brought back by a crash) are correct, and proofs and `verify` read them as
    /// they would recompute them.
    ///
    /// The caller must have made the records that [`check_sealed`] compared the ones its
    /// configured sealed source yields (moving checked files into place keeps their bytes).
    /// Refused, changing nothing, when the segment is no longer a sealed segment held in that
    /// file (pruned or externalized meanwhile).
    pub fn externalize_checked(
        &mut self,
        checked: CheckedSegment,
        now: SystemTime,
    ) -> Result<RedundantTiles, Error> {
        if self.sealed.is_none() {
            return Err(Error::Config {
                reason: "no sealed source to hand the segment to".to_owned(),
            });
        }
        let position = self
            .segments
            .iter()
            .position(|segment| segment.first_seq == checked.info.first_seq)
            .ok_or_else(|| Error::SegmentChanged {
                path: checked.info.path.clone(),
            })?;
        let info = self.segments()[position].clone();
        if info != checked.info {
            return Err(Error::SegmentChanged {
                path: checked.info.path.clone(),
            });
        }
        let end = info.first_seq + info.record_count;
        if self
            .last_checkpoint
            .as_ref()
            .is_none_or(|last| last.size < end)
        {
            self.checkpoint(now)?;
        }
        self.replace_by_stub(position, &info)
    }

    /// The end of an externalization, once the records were shown to be the sealed
    /// source's: the stub. Returns the segment file and the level-0 tiles the segment no
    /// longer needs, not removed yet.
    fn replace_by_stub(
        &mut self,
        position: usize,
        info: &SegmentInfo,
    ) -> Result<RedundantTiles, Error> {
        let first_seq = info.first_seq;
        let end = first_seq + info.record_count;
        let stub = join(SEGMENT_DIR, &external_file_name(first_seq));
        self.storage
            .write_atomic(&stub, &encode_external(first_seq, info.record_count))
            .map_err(|e| Error::io(&stub, e))?;
        let segment = &mut self.segments[position];
        segment.path = stub;
        segment.file_len = EXTERNAL_BYTES as u64;
        segment.external = true;
        segment.blocks = external_blocks(first_seq, info.record_count);
        if let Ok(mut cache) = self.block_cache.lock() {
            *cache = None;
        }
        let mut redundant = self.redundant_level0_tiles(first_seq, end)?;
        redundant.segment = Some(info.path.clone());
        Ok(redundant)
    }

    /// Append records that the sealed source already holds durably (written there first,
    /// for example as Parquet by a bulk import) as one new sealed, external segment, without
    /// ever writing them in row form. `checked` comes from [`check_external`], which proved
    /// that the source reproduces every record byte for byte and computed the leaves; it must
    /// start at the current tree size.
    ///
    /// The active segment, if any, is sealed first (or removed when it holds no record); the
    /// stub (`<first_seq>.ext`) is written atomically, and is what makes the records part of
    /// the log: on `Ok` they are durable and numbered `receipt.seqs`. Level-0 tiles wholly
    /// inside the segment are not written (proofs recompute them from the records), except
    /// the last one when it ends the tree (a checkpoint at this size keeps its boundary).
    /// May write a checkpoint afterwards, per the [`CheckpointPolicy`] and `now`.
    pub fn append_external(
        &mut self,
        checked: CheckedExternal,
        now: SystemTime,
    ) -> Result<AppendReceipt, Error> {
        let first_seq = self.tree_size();
        let count = checked.leaves.len() as u64;
        if checked.first_seq != first_seq || count == 0 {
            return Err(Error::Config {
                reason: format!(
                    "an external segment of {count} records at record {} cannot follow a tree of {first_seq}",
                    checked.first_seq
                ),
            });
        }
        if first_seq.saturating_add(count) > TREE_SIZE_MAX {
            return Err(Error::TreeRange {
                start: first_seq,
                size: TREE_SIZE_MAX,
            });
        }
        if self.sealed.is_none() {
            return Err(Error::Config {
                reason: "no sealed source to hold an external segment".to_owned(),
            });
        }
        self.repair_active()?;
        self.seal_active()?;
        let stub = join(SEGMENT_DIR, &external_file_name(first_seq));
        self.storage
            .write_atomic(&stub, &encode_external(first_seq, count))
            .map_err(|e| Error::io(&stub, e))?;
        self.segments.push(SegmentMeta {
            path: stub,
            first_seq,
            record_count: count,
            sealed: true,
            file_len: EXTERNAL_BYTES as u64,
            blocks: external_blocks(first_seq, count),
            external: true,
        });
        let end = first_seq + count;
        let mut completed = Vec::new();
        for leaf in checked.leaves {
            self.edge.push(leaf, &mut |tile| completed.push(tile));
        }
        self.keep_tiles(completed);
        let _ = self.write_pending_tiles();
        let checkpoint = if self.checkpoint_due(now) {
            match self.checkpoint(now) {
                Ok(_) => CheckpointStatus::Written {
                    size: self.tree_size(),
                },
                Err(error) => CheckpointStatus::Failed(error),
            }
        } else {
            CheckpointStatus::NotDue
        };
        Ok(AppendReceipt {
            seqs: first_seq..end,
            tree_size: self.tree_size(),
            checkpoint,
        })
    }

    /// Seals the active segment (footer), or removes it when it holds no record, so that a
    /// new segment can follow.
    fn seal_active(&mut self) -> Result<(), Error> {
        if self.active.is_none() {
            return Ok(());
        }
        let Some(last) = self.segments.last() else {
            return Ok(());
        };
        if last.sealed {
            self.active = None;
            return Ok(());
        }
        if last.record_count == 0 {
            let path = last.path.clone();
            self.active = None;
            self.storage
                .remove(&path)
                .map_err(|e| Error::io(&path, e))?;
            self.storage
                .sync_dir(SEGMENT_DIR)
                .map_err(|e| Error::io(SEGMENT_DIR, e))?;
            self.segments.pop();
            return Ok(());
        }
        self.write_footer()
    }

    /// Writes the footer of the active, non-empty last segment durably and marks it sealed.
    fn write_footer(&mut self) -> Result<(), Error> {
        let last = self.segments.last().ok_or(Error::Poisoned)?;
        let footer = encode_footer(&Footer {
            first_seq: last.first_seq,
            record_count: last.record_count,
            block_count: last.blocks.len() as u32,
        });
        self.write_durably(&footer)?;
        if let Some(last) = self.segments.last_mut() {
            last.sealed = true;
            last.file_len += FOOTER_BYTES as u64;
        }
        self.active = None;
        Ok(())
    }

    /// The records of an external segment, from the sealed source.
    fn external_records(&self, segment: &SegmentMeta) -> Result<Vec<Vec<u8>>, Error> {
        let source = self.sealed.as_ref().ok_or_else(|| Error::Config {
            reason: format!("{} is kept in another form", segment.path),
        })?;
        let info = SegmentInfo {
            path: segment.path.clone(),
            first_seq: segment.first_seq,
            record_count: segment.record_count,
            sealed: true,
            file_len: segment.file_len,
            external: true,
        };
        let records = source
            .records(&info)?
            .take(usize::try_from(segment.record_count).unwrap_or(usize::MAX))
            .collect::<Result<Vec<_>, Error>>()?;
        if records.len() as u64 != segment.record_count {
            return Err(Error::Corrupt {
                path: segment.path.clone(),
                offset: 0,
                reason: format!(
                    "the sealed source yields {} of its {} records",
                    records.len(),
                    segment.record_count
                ),
            });
        }
        Ok(records)
    }

    /// The leaf hashes of full level-0 tile `index`, recomputed from the records (for
    /// tiles deleted by [`Ledger::externalize`]).
    fn leaf_tile(&self, index: u64) -> Result<Vec<Hash>, Error> {
        let width = TILE_WIDTH as u64;
        let range = index * width..(index + 1) * width;
        if range.start < self.first_seq() {
            return Err(Error::Pruned {
                seq: range.start,
                first_seq: self.first_seq(),
            });
        }
        self.records(range)
            .map(|item| item.map(|(_, record)| leaf_hash(&record)))
            .collect()
    }

    // ---- retention -----------------------------------------------------------------

    /// Remove the records `first_seq() .. before_seq`, which must be whole sealed segments
    /// (`before_seq` is the first sequence number of a later segment; the last segment is
    /// never pruned). The caller decides which segments qualify (for example by the
    /// times of the events in them); the ledger knows nothing of what records mean.
    ///
    /// In order, each step durable before the next: checkpoint; append a [`PruneRecord`]
    /// and sign a checkpoint covering it; write the anchor (the tree's edge at
    /// `before_seq`) to `pruned`; delete the segment files; delete the level-0 tiles
    /// below `before_seq` that no stored checkpoint's boundary needs. A crash before the
    /// anchor is written leaves a prune record for a prune not done (run it again); after,
    /// open deletes the leftover segments.
    pub fn prune(
        &mut self,
        before_seq: u64,
        reason: &str,
        now: SystemTime,
    ) -> Result<PruneOutcome, Error> {
        check_reason(reason)?;
        let previous_first_seq = self.first_seq();
        let refuse = |why: &str| Error::PruneRange {
            before_seq,
            reason: why.to_owned(),
        };
        if before_seq <= previous_first_seq {
            return Err(refuse("records before it are already pruned"));
        }
        let position = self
            .segments
            .iter()
            .position(|segment| segment.first_seq == before_seq)
            .ok_or_else(|| refuse("it is not the first record of a stored segment"))?;
        if position > PRUNE_SEGMENTS_MAX {
            return Err(refuse(&format!(
                "more than {PRUNE_SEGMENTS_MAX} segments at once; prune in steps"
            )));
        }
        if self.segments[..position].iter().any(|s| !s.sealed) {
            return Err(refuse("a segment before it is not sealed"));
        }
        // Everything to remove is signed before anything is removed.
        self.checkpoint(now)?;
        self.write_kept_level0_tiles(previous_first_seq, before_seq)?;
        let anchor = self.edge_at(before_seq)?;
        let root = anchor.root();
        let expected = self.root_at(before_seq)?;
        if root != expected {
            return Err(Error::Corrupt {
                path: TILE_DIR.to_owned(),
                offset: 0,
                reason: format!("tiles disagree about the root at size {before_seq}"),
            });
        }
        let removed: Vec<SegmentInfo> = self.segments()[..position].to_vec();
        let records = before_seq - previous_first_seq;
        let bytes = removed.iter().map(|segment| segment.file_len).sum();
        let record = PruneRecord {
            before_seq,
            root,
            segments: removed
                .iter()
                .map(|segment| {
                    segment
                        .path
                        .rsplit('/')
                        .next()
                        .unwrap_or(&segment.path)
                        .to_owned()
                })
                .collect(),
            records,
            bytes,
            time_unix_ns: unix_ns(now),
            reason: reason.to_owned(),
        };
        let receipt = self.append_batch(&[record.to_record()], now)?;
        let checkpoint = self.checkpoint(now)?;
        self.storage
            .write_atomic(PRUNE_FILE, &encode_anchor(&anchor))
            .map_err(|e| Error::io(PRUNE_FILE, e))?;
        self.anchor = anchor;
        for segment in &removed {
            self.storage
                .remove(&segment.path)
                .map_err(|e| Error::io(&segment.path, e))?;
        }
        self.storage
            .sync_dir(SEGMENT_DIR)
            .map_err(|e| Error::io(SEGMENT_DIR, e))?;
        self.segments.drain(..position);
        if let Ok(mut cache) = self.block_cache.lock() {
            *cache = None;
        }
        let tiles_removed = self.remove_level0_tiles(previous_first_seq, before_seq)?;
        Ok(PruneOutcome {
            before_seq,
            previous_first_seq,
            segments: removed,
            records,
            bytes,
            tiles_removed,
            record_seq: receipt.seqs.start,
            checkpoint,
        })
    }

    /// Delete the full level-0 tiles wholly inside `from .. to` (and partial tiles under
    /// them), except those holding the boundary of a stored checkpoint: old checkpoints'
    /// roots and consistency proofs need them. Every other level is kept (1/255 of the
    /// level-0 bytes), and so is the tile holding `to`.
    fn remove_level0_tiles(&mut self, from: u64, to: u64) -> Result<u64, Error> {
        self.redundant_level0_tiles(from, to)?.remove_synced(true)
    }

    /// The full level-0 tiles wholly inside `from .. to` that no stored checkpoint's boundary
    /// needs (see [`Ledger::remove_level0_tiles`]), not removed yet.
    fn redundant_level0_tiles(&self, from: u64, to: u64) -> Result<RedundantTiles, Error> {
        let width = TILE_WIDTH as u64;
        let keep = self.boundary_level0_tiles(to)?;
        Ok(RedundantTiles {
            storage: Arc::clone(&self.storage),
            segment: None,
            paths: (from / width..to / width)
                .filter(|index| !keep.contains(index))
                .map(|index| tile_path(0, index, TILE_WIDTH))
                .collect(),
        })
    }

    /// The level-0 tiles holding the boundary of a stored checkpoint of at most `to` records
    /// (the tile its size falls in, and the one ending there).
    fn boundary_level0_tiles(&self, to: u64) -> Result<BTreeSet<u64>, Error> {
        let width = TILE_WIDTH as u64;
        let log = self
            .storage
            .read(CHECKPOINT_LOG)
            .map_err(|e| Error::io(CHECKPOINT_LOG, e))?;
        let mut keep = BTreeSet::new();
        for entry in parse_log(&log).0 {
            if let Ok(checkpoint) = Checkpoint::parse_unverified(&entry.note)
                && checkpoint.size <= to
            {
                keep.insert(checkpoint.size / width);
                keep.insert(checkpoint.size.saturating_sub(1) / width);
            }
        }
        Ok(keep)
    }

    /// Before the records `from .. to` are pruned: writes, durably, the full level-0 tiles
    /// that the tree keeps after them and that are not on disk (appends do not write them;
    /// see [`Ledger::keep_tiles`]): those holding a stored checkpoint's boundary, which old
    /// checkpoints' roots and consistency proofs need, and the one holding `to`, whose
    /// leaves before `to` no record will hold.
    fn write_kept_level0_tiles(&mut self, from: u64, to: u64) -> Result<(), Error> {
        let width = TILE_WIDTH as u64;
        let mut wanted = self.boundary_level0_tiles(to)?;
        wanted.insert(to / width);
        let mut written = Vec::new();
        for index in wanted {
            let full = (index + 1) * width <= self.tree_size();
            if index * width < from.max(self.first_seq()) || index > to / width || !full {
                continue;
            }
            let path = tile_path(0, index, TILE_WIDTH);
            if self
                .storage
                .len(&path)
                .map_err(|e| Error::io(&path, e))?
                .is_some()
            {
                continue;
            }
            let hashes = self.leaf_tile(index)?;
            write_creating_dirs(self.storage.as_ref(), &path, &tile_bytes(&hashes))?;
            written.push(path);
        }
        let paths: Vec<&String> = written.iter().collect();
        sync_tile_files(self.storage.as_ref(), &paths, false)
    }

    // ---- appending ---------------------------------------------------------------

    fn checkpoint_due(&mut self, now: SystemTime) -> bool {
        let last_size = self.last_checkpoint.as_ref().map_or(0, |last| last.size);
        let since = self.tree_size() - last_size;
        if since == 0 {
            return false;
        }
        if since >= self.policy.every_records {
            return true;
        }
        // The interval counts from the last checkpoint written by this process, or from
        // its first append.
        let reference = *self.interval_start.get_or_insert(now);
        now.duration_since(reference)
            .is_ok_and(|elapsed| elapsed >= self.policy.every)
    }

    /// Cut a failed, partly written batch off the active segment.
    fn repair_active(&mut self) -> Result<(), Error> {
        let Some(active) = self.active.as_mut() else {
            return Ok(());
        };
        if !active.needs_repair {
            return Ok(());
        }
        let path = self
            .segments
            .last()
            .map(|s| s.path.clone())
            .ok_or(Error::Poisoned)?;
        self.storage
            .truncate(&path, active.durable_len)
            .map_err(|e| Error::io(&path, e))?;
        // A fresh handle: after a failed fsync the old one's state is unknown.
        active.file = self
            .storage
            .open_append(&path)
            .map_err(|e| Error::io(&path, e))?;
        active.needs_repair = false;
        Ok(())
    }

    fn write_durably(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let path = self
            .segments
            .last()
            .map(|s| s.path.clone())
            .ok_or(Error::Poisoned)?;
        let active = self.active.as_mut().ok_or(Error::Poisoned)?;
        let result = active.file.append(bytes).and_then(|()| {
            let started = std::time::Instant::now();
            let synced = active.file.sync();
            self.last_sync = started.elapsed();
            synced
        });
        match result {
            Ok(()) => {
                active.durable_len += bytes.len() as u64;
                Ok(())
            }
            Err(source) => {
                active.needs_repair = true;
                // Try to cut the partial batch now; if that fails too, the next append
                // retries before writing.
                let _ = self.repair_active();
                Err(Error::io(&path, source))
            }
        }
    }

    fn roll_segment_if_full(&mut self) -> Result<(), Error> {
        let Some(last) = self.segments.last() else {
            return Ok(());
        };
        if last.sealed || last.file_len < self.segment_bytes || self.active.is_none() {
            return Ok(());
        }
        self.write_footer()
    }

    fn create_segment(&mut self, first_seq: u64) -> Result<(), Error> {
        let path = join(SEGMENT_DIR, &segment_file_name(first_seq));
        let io = |source| Error::io(&path, source);
        let created = (|| {
            let mut file = self.storage.open_append(&path)?;
            file.append(&encode_header(first_seq))?;
            file.sync()?;
            self.storage.sync_dir(SEGMENT_DIR)?;
            Ok(file)
        })();
        let file = match created {
            Ok(file) => file,
            Err(source) => {
                // Nothing was acknowledged in it; leave no half-made file behind.
                let _ = self.storage.remove(&path);
                return Err(io(source));
            }
        };
        self.segments.push(SegmentMeta {
            path: path.clone(),
            first_seq,
            record_count: 0,
            sealed: false,
            file_len: HEADER_BYTES as u64,
            blocks: Vec::new(),
            external: false,
        });
        self.active = Some(ActiveSegment {
            file,
            durable_len: HEADER_BYTES as u64,
            needs_repair: false,
        });
        Ok(())
    }

    // ---- tiles and checkpoints -----------------------------------------------------

    /// Queues the tiles the tree just completed for writing, except full level-0 tiles: they
    /// hold one leaf hash per record, more than every other level together, and are
    /// recomputed from the records whenever a proof, the tree's edge or `verify` needs them
    /// ([`Ledger::leaf_tile`]). The one exception is a tile reaching below the first record
    /// kept (a prune point inside it): its pruned leaves are in no record any more.
    /// [`Ledger::prune`] writes the level-0 tiles it keeps before removing their records.
    fn keep_tiles(&mut self, completed: Vec<FullTile>) {
        let first_seq = self.first_seq();
        self.pending_tiles.extend(
            completed
                .into_iter()
                .filter(|tile| tile.level != 0 || tile.index * (TILE_WIDTH as u64) < first_seq),
        );
    }

    fn write_pending_tiles(&mut self) -> Result<(), Error> {
        let mut written = 0;
        let mut result = Ok(());
        for tile in &self.pending_tiles {
            let path = tile_path(tile.level, tile.index, TILE_WIDTH);
            result = write_creating_dirs(self.storage.as_ref(), &path, &tile_bytes(&tile.hashes));
            if result.is_err() {
                break;
            }
            self.unsynced_tiles.insert(path);
            written += 1;
        }
        self.pending_tiles.drain(..written);
        result
    }

    fn write_partial_tiles(&mut self) -> Result<(), Error> {
        let size = self.tree_size();
        for level in 0..self.edge.levels() {
            let hashes = self.edge.partial(level);
            if hashes.is_empty() {
                continue;
            }
            let index = size >> (TILE_HEIGHT * (level + 1));
            let path = tile_path(level, index, hashes.len());
            write_creating_dirs(self.storage.as_ref(), &path, &tile_bytes(hashes))?;
            self.unsynced_tiles.insert(path);
        }
        Ok(())
    }

    fn sync_tiles(&mut self) -> Result<(), Error> {
        let paths: Vec<&String> = self.unsynced_tiles.iter().collect();
        sync_tile_files(self.storage.as_ref(), &paths, false)?;
        // Those a pending checkpoint is making durable on another thread may not be yet.
        let syncing: Vec<&String> = self.syncing_tiles.iter().collect();
        sync_tile_files(self.storage.as_ref(), &syncing, true)?;
        self.unsynced_tiles.clear();
        Ok(())
    }

    fn append_checkpoint_log(&mut self, note: &str) -> Result<(), Error> {
        if self.checkpoint_log.is_none() {
            let file = self
                .storage
                .open_append(CHECKPOINT_LOG)
                .map_err(|e| Error::io(CHECKPOINT_LOG, e))?;
            self.storage
                .sync_dir("")
                .map_err(|e| Error::io(CHECKPOINT_LOG, e))?;
            self.checkpoint_log = Some(file);
        }
        let durable_len = self
            .storage
            .len(CHECKPOINT_LOG)
            .map_err(|e| Error::io(CHECKPOINT_LOG, e))?
            .unwrap_or(0);
        let log = self.checkpoint_log.as_mut().ok_or(Error::Poisoned)?;
        let result = log.append(&encode_entry(note)).and_then(|()| log.sync());
        if let Err(source) = result {
            // Cut the torn entry; a fresh handle for the next attempt.
            self.checkpoint_log = None;
            let _ = self.storage.truncate(CHECKPOINT_LOG, durable_len);
            return Err(Error::io(CHECKPOINT_LOG, source));
        }
        Ok(())
    }

    // ---- opening -------------------------------------------------------------------

    /// Rebuild the in-memory right edge, and any tile a crash may have lost, from the
    /// last checkpoint on; fall back to all records when that checkpoint's tiles do
    /// not reproduce its root.
    fn restore_tree(&mut self) -> Result<(), Error> {
        let size = self.stored_size();
        let checkpoint = match &self.last_checkpoint {
            Some(last) => Some(Checkpoint::parse_unverified(&last.note)?),
            None => None,
        };
        let latest_size = checkpoint.as_ref().map_or(0, |c| c.size);
        if latest_size < self.first_seq() {
            // A prune is checkpointed before its anchor is written.
            return Err(Error::Corrupt {
                path: PRUNE_FILE.to_owned(),
                offset: 0,
                reason: format!(
                    "pruned before record {} but the latest checkpoint covers only {latest_size}",
                    self.first_seq()
                ),
            });
        }
        if let Some(checkpoint) = &checkpoint
            && let Ok(edge) = self.edge_at(checkpoint.size)
            && edge.root() == checkpoint.root
        {
            self.edge = edge;
            return self.extend_tree_to(size);
        }
        // Start over from the records.
        self.recovery.tree_rebuilt_from_records = checkpoint.is_some();
        self.edge = self.anchor.clone();
        self.extend_tree_to(size)?;
        if let Some(checkpoint) = &checkpoint {
            let root = self.root_at(checkpoint.size)?;
            if root != checkpoint.root {
                return Err(Error::Corrupt {
                    path: CHECKPOINT_LOG.to_owned(),
                    offset: 0,
                    reason: format!(
                        "records do not reproduce the latest checkpoint's root at size {}",
                        checkpoint.size
                    ),
                });
            }
        }
        Ok(())
    }

    fn edge_at(&self, size: u64) -> Result<TreeEdge, Error> {
        let base = self.first_seq();
        if size < base {
            return Err(Error::Pruned {
                seq: size,
                first_seq: base,
            });
        }
        let tail_start = size - size % TILE_WIDTH as u64;
        let mut tail = Vec::with_capacity((size - tail_start) as usize);
        if tail_start < base {
            // The same level-0 tile as the prune point: its pruned leaves are in the anchor.
            tail.extend_from_slice(self.anchor.partial(0));
        }
        for item in self.records(tail_start.max(base)..size) {
            tail.push(leaf_hash(&item?.1));
        }
        if tail.len() as u64 != size - tail_start {
            return Err(Error::Corrupt {
                path: PRUNE_FILE.to_owned(),
                offset: 0,
                reason: format!("cannot rebuild the tree's edge at size {size}"),
            });
        }
        let leaves = |index| self.leaf_tile(index);
        TreeEdge::restore(self.storage.as_ref(), "", size, tail, &self.anchor, &leaves)
    }

    fn extend_tree_to(&mut self, size: u64) -> Result<(), Error> {
        let start = self.edge.size();
        let mut completed = Vec::new();
        let mut hashes = Vec::with_capacity((size - start) as usize);
        for item in self.records(start..size) {
            let (_, record) = item?;
            hashes.push(leaf_hash(&record));
        }
        for hash in hashes {
            self.edge.push(hash, &mut |tile| completed.push(tile));
        }
        let before = self.pending_tiles.len();
        self.keep_tiles(completed);
        self.recovery.tiles_rebuilt += (self.pending_tiles.len() - before) as u64;
        self.write_pending_tiles()
    }

    // ---- reading -------------------------------------------------------------------

    /// Records in the segments (equal to the tree size except while opening).
    fn stored_size(&self) -> u64 {
        self.segments
            .last()
            .map_or(self.first_seq(), |last| last.first_seq + last.record_count)
    }

    fn locate(&self, seq: u64) -> Result<(usize, usize), Error> {
        let size = self.stored_size();
        if seq < self.first_seq() {
            return Err(Error::Pruned {
                seq,
                first_seq: self.first_seq(),
            });
        }
        if seq >= size {
            return Err(Error::NoSuchRecord { seq, size });
        }
        let segment_index = self
            .segments
            .partition_point(|s| s.first_seq <= seq)
            .saturating_sub(1);
        let segment = &self.segments[segment_index];
        let block_index = segment
            .blocks
            .partition_point(|b| b.first_seq <= seq)
            .saturating_sub(1);
        match segment.blocks.get(block_index) {
            Some(block) if seq < block.first_seq + u64::from(block.record_count) => {
                Ok((segment_index, block_index))
            }
            _ => Err(Error::NoSuchRecord { seq, size }),
        }
    }

    fn read_block(
        &self,
        segment_index: usize,
        block_index: usize,
    ) -> Result<Arc<Vec<Vec<u8>>>, Error> {
        let segment = &self.segments[segment_index];
        let block = segment.blocks[block_index];
        if let Ok(cache) = self.block_cache.lock()
            && let Some((first_seq, records)) = cache.as_ref()
            && *first_seq == block.first_seq
        {
            return Ok(records.clone());
        }
        let records = Arc::new(if segment.external {
            self.external_records(segment)?
        } else {
            read_block_records(self.storage.as_ref(), &segment.path, &block)?
        });
        if let Ok(mut cache) = self.block_cache.lock() {
            *cache = Some((block.first_seq, records.clone()));
        }
        Ok(records)
    }
}

/// Iterator over `(seq, record)` pairs; see [`Ledger::records`].
#[derive(Debug)]
pub struct Records<'a> {
    ledger: &'a Ledger,
    next: u64,
    end: u64,
    current: Option<(u64, Arc<Vec<Vec<u8>>>)>,
}

impl Iterator for Records<'_> {
    type Item = Result<(u64, Vec<u8>), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        let seq = self.next;
        let in_current = self
            .current
            .as_ref()
            .is_some_and(|(first, records)| seq >= *first && seq < *first + records.len() as u64);
        if !in_current {
            let loaded = self
                .ledger
                .locate(seq)
                .and_then(|(segment_index, block_index)| {
                    let first = self.ledger.segments[segment_index].blocks[block_index].first_seq;
                    self.ledger
                        .read_block(segment_index, block_index)
                        .map(|records| (first, records))
                });
            match loaded {
                Ok(current) => self.current = Some(current),
                Err(error) => {
                    self.next = self.end;
                    return Some(Err(error));
                }
            }
        }
        let (first, records) = self.current.as_ref()?;
        let record = records.get((seq - first) as usize)?.clone();
        self.next += 1;
        Some(Ok((seq, record)))
    }
}

pub(crate) fn read_block_records(
    storage: &dyn Storage,
    path: &str,
    block: &BlockMeta,
) -> Result<Vec<Vec<u8>>, Error> {
    let frame = storage
        .read_at(path, block.offset, block.frame_len as usize)
        .map_err(|e| Error::io(path, e))?;
    let corrupt = |fault: crate::segment::FormatFault| Error::Corrupt {
        path: path.to_owned(),
        offset: block.offset,
        reason: fault.to_string(),
    };
    let header = decode_block_header(&frame).map_err(corrupt)?;
    check_block(&header, &frame).map_err(corrupt)?;
    decode_records(&header, &frame).map_err(corrupt)
}

/// Files made redundant by [`Ledger::externalize_checked`]: the segment file its stub replaced,
/// and the level-0 tiles over its records (the leaves are recomputed from the records when a
/// proof needs them), to remove on any thread: removing a large file or a few hundred small
/// ones is slow on a busy disk, and the ledger's owner need not wait for it. If they are
/// never removed (a crash), the tiles stay correct copies of what they hold, and open removes
/// a segment file beside its stub.
#[derive(Debug)]
pub struct RedundantTiles {
    storage: Arc<dyn Storage>,
    /// The segment file an externalization replaced by its stub (removed first).
    segment: Option<String>,
    paths: Vec<String>,
}

impl RedundantTiles {
    /// Tiles to remove.
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    /// Whether there is nothing to remove.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty() && self.segment.is_none()
    }

    /// Removes them (the replaced segment file, then the tiles and partial tiles under them),
    /// without waiting for that to be durable; returns how many full tiles were removed.
    pub fn remove(self) -> Result<u64, Error> {
        self.remove_synced(false)
    }

    fn remove_synced(self, sync: bool) -> Result<u64, Error> {
        let mut removed = 0;
        let mut dirs = BTreeSet::new();
        if let Some(segment) = &self.segment {
            match self.storage.remove(segment) {
                Ok(()) => {
                    dirs.insert(SEGMENT_DIR.to_owned());
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(segment, e)),
            }
        }
        for path in &self.paths {
            let partial_dir = format!("{path}.p");
            for name in self
                .storage
                .list(&partial_dir)
                .map_err(|e| Error::io(&partial_dir, e))?
            {
                let partial = join(&partial_dir, &name);
                match self.storage.remove(&partial) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::io(&partial, e)),
                }
            }
            match self.storage.remove(path) {
                Ok(()) => {
                    removed += 1;
                    dirs.insert(parent(path).to_owned());
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(path, e)),
            }
        }
        for dir in dirs.iter().filter(|_| sync) {
            self.storage.sync_dir(dir).map_err(|e| Error::io(dir, e))?;
        }
        Ok(removed)
    }
}

/// Makes tile files and the directories holding them durable. A checkpoint after a busy
/// second has a few hundred new tiles: their fsyncs are issued from several threads at once,
/// so that the file system can commit them together instead of one journal commit after
/// another. With `missing_ok`, a tile removed meanwhile is skipped: only the level-0 tiles
/// of an externalized segment are removed, whose leaves are recomputed from its records.
fn sync_tile_files(
    storage: &dyn Storage,
    paths: &[&String],
    missing_ok: bool,
) -> Result<(), Error> {
    let tolerate = |result: std::io::Result<()>| match result {
        Err(error) if missing_ok && error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    };
    let per_thread = paths.len().div_ceil(TILE_SYNC_THREADS).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = paths
            .chunks(per_thread)
            .map(|chunk| {
                scope.spawn(move || {
                    for path in chunk {
                        tolerate(storage.sync_file(path)).map_err(|e| Error::io(path, e))?;
                    }
                    Ok::<(), Error>(())
                })
            })
            .collect();
        for worker in workers {
            worker.join().map_err(|_| Error::Poisoned)??;
        }
        Ok::<(), Error>(())
    })?;
    if paths.is_empty() {
        return Ok(());
    }
    let mut dirs = BTreeSet::new();
    for path in paths {
        let mut dir = parent(path);
        while !dir.is_empty() && dirs.insert(dir.to_owned()) {
            dir = parent(dir);
        }
    }
    dirs.insert(String::new());
    for dir in dirs.iter().rev() {
        tolerate(storage.sync_dir(dir)).map_err(|e| Error::io(dir, e))?;
    }
    Ok(())
}

/// A checkpoint signed by [`Ledger::begin_checkpoint`] and not stored yet: `Send`, so that
/// another thread can make its tiles durable ([`PendingCheckpoint::sync`]) while the ledger
/// goes on appending; [`Ledger::finish_checkpoint`] then stores it.
#[derive(Debug)]
pub struct PendingCheckpoint {
    storage: Arc<dyn Storage>,
    signed: LastCheckpoint,
    tiles: Vec<String>,
    synced: bool,
}

impl PendingCheckpoint {
    /// The tree size the checkpoint signs.
    pub fn size(&self) -> u64 {
        self.signed.size
    }

    /// Makes the tiles written for this checkpoint durable, with their directories.
    pub fn sync(&mut self) -> Result<(), Error> {
        let paths: Vec<&String> = self.tiles.iter().collect();
        sync_tile_files(self.storage.as_ref(), &paths, true)?;
        self.synced = true;
        Ok(())
    }
}

/// The records of one sealed segment, read from its file without the [`Ledger`] (see
/// [`Ledger::sealed_segment`]): `Send`, owning what it needs, for a thread that compacts the
/// segment while the ledger's owner goes on appending. The file is immutable once sealed; if
/// it is removed meanwhile (pruned, externalized), reading fails and nothing is decided.
#[derive(Debug, Clone)]
pub struct SealedSegment {
    storage: Arc<dyn Storage>,
    info: SegmentInfo,
    blocks: Vec<BlockMeta>,
}

impl SealedSegment {
    /// The segment.
    pub fn info(&self) -> &SegmentInfo {
        &self.info
    }

    /// Its records with their sequence numbers, in order, decompressing one block at a time.
    pub fn records(&self) -> SealedSegmentRecords<'_> {
        SealedSegmentRecords {
            segment: self,
            block: 0,
            current: Vec::new().into_iter(),
            next: self.info.first_seq,
            failed: false,
        }
    }
}

/// Iterator over a [`SealedSegment`]'s `(seq, record)` pairs.
#[derive(Debug)]
pub struct SealedSegmentRecords<'a> {
    segment: &'a SealedSegment,
    block: usize,
    current: std::vec::IntoIter<Vec<u8>>,
    next: u64,
    failed: bool,
}

impl Iterator for SealedSegmentRecords<'_> {
    type Item = Result<(u64, Vec<u8>), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            if let Some(record) = self.current.next() {
                let seq = self.next;
                self.next += 1;
                return Some(Ok((seq, record)));
            }
            let info = &self.segment.info;
            let Some(block) = self.segment.blocks.get(self.block) else {
                let end = info.first_seq + info.record_count;
                if self.next != end {
                    self.failed = true;
                    return Some(Err(Error::Corrupt {
                        path: info.path.clone(),
                        offset: 0,
                        reason: format!("blocks end at record {} instead of {end}", self.next),
                    }));
                }
                return None;
            };
            self.block += 1;
            let loaded = read_block_records(self.segment.storage.as_ref(), &info.path, block)
                .and_then(|records| {
                    if block.first_seq == self.next && records.len() == block.record_count as usize
                    {
                        Ok(records)
                    } else {
                        Err(Error::Corrupt {
                            path: info.path.clone(),
                            offset: block.offset,
                            reason: format!(
                                "block at record {} does not follow record {}",
                                block.first_seq, self.next
                            ),
                        })
                    }
                });
            match loaded {
                Ok(records) => self.current = records.into_iter(),
                Err(error) => {
                    self.failed = true;
                    return Some(Err(error));
                }
            }
        }
    }
}

/// The proof that a sealed source reproduces every record of one sealed segment file, byte
/// for byte, for [`Ledger::externalize_checked`]. Only [`check_sealed`] makes one, and it
/// names exactly the segment file it compared (start, record count, path, length).
#[derive(Debug)]
pub struct CheckedSegment {
    info: SegmentInfo,
}

impl CheckedSegment {
    /// The segment that was checked.
    pub fn info(&self) -> &SegmentInfo {
        &self.info
    }
}

/// Records compared between two looks at the cancellation flag of [`check_sealed`].
const CANCEL_CHECK_RECORDS: usize = 1024;

/// Compares every record `source` yields for `segment` with the segment file's own, byte
/// for byte (none missing, none more): the comparison [`Ledger::externalize`] makes, done
/// without the ledger so that it runs on any thread. Stops early, with
/// [`Error::Cancelled`], once `cancel` is set.
pub fn check_sealed(
    segment: &SealedSegment,
    source: &dyn SealedRecords,
    cancel: &std::sync::atomic::AtomicBool,
) -> Result<CheckedSegment, Error> {
    let info = &segment.info;
    let mut theirs = source.records(info)?;
    for (index, item) in segment.records().enumerate() {
        let (seq, ours) = item?;
        if index % CANCEL_CHECK_RECORDS == 0 && cancel.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        let same = match theirs.next() {
            Some(record) => record? == ours,
            None => false,
        };
        if !same {
            return Err(Error::Corrupt {
                path: info.path.clone(),
                offset: 0,
                reason: format!(
                    "the sealed source's record {seq} differs from the segment's; the segment stays"
                ),
            });
        }
    }
    if theirs.next().is_some() {
        return Err(Error::Corrupt {
            path: info.path.clone(),
            offset: 0,
            reason: format!(
                "the sealed source holds more than the segment's {} records",
                info.record_count
            ),
        });
    }
    Ok(CheckedSegment { info: info.clone() })
}

/// Records proven to be held by a sealed source, with their leaf hashes, ready for
/// [`Ledger::append_external`]. Only [`check_external`] makes one.
#[derive(Debug, PartialEq, Eq)]
pub struct CheckedExternal {
    first_seq: u64,
    leaves: Vec<Hash>,
}

impl CheckedExternal {
    /// The sequence number of the first record.
    pub fn first_seq(&self) -> u64 {
        self.first_seq
    }

    /// Records checked.
    pub fn len(&self) -> u64 {
        self.leaves.len() as u64
    }

    /// Whether no record was checked.
    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty()
    }
}

/// Proves that `source` holds exactly `records` as the external segment that would start at
/// `first_seq` (every record it yields equal to ours, none missing, none more), and
/// computes their leaf hashes. Needs no ledger, so it runs on any thread while the ledger
/// goes on; [`Ledger::append_external`] then adds the records to the log. See
/// [`check_external_leaves`], which this is with the leaves of `records`.
pub fn check_external<R: AsRef<[u8]>>(
    source: &(dyn SealedRecords + Sync),
    first_seq: u64,
    records: &[R],
    parts: usize,
) -> Result<CheckedExternal, Error> {
    let leaves: Vec<Hash> = records
        .iter()
        .map(|record| leaf_hash(record.as_ref()))
        .collect();
    check_external_leaves(source, first_seq, leaves, parts)
}

/// Proves that `source` holds, as the external segment that would start at `first_seq`,
/// exactly the records whose leaf hashes are `leaves`: every record it yields hashes to the
/// leaf of its position, none is missing and none more. A writer that hashed its records as
/// it made them (on any thread) thus never keeps them for the check; equal leaves mean equal
/// records as far as the tree can tell, which is what the tree signs.
///
/// The records are checked in up to `parts` contiguous runs on as many threads at once, each
/// reading `source` from the start of its run ([`SealedRecords::records_from`]); the last run
/// reads to the end of the segment, so that a record beyond the leaves is found. Runs are at
/// least [`CHECK_PART_RECORDS_MIN`] records long. The records' sizes are held to the
/// limits of a batch ([`RECORD_BYTES_MAX`], [`EXTERNAL_BATCH_BYTES_MAX`]).
pub fn check_external_leaves(
    source: &(dyn SealedRecords + Sync),
    first_seq: u64,
    leaves: Vec<Hash>,
    parts: usize,
) -> Result<CheckedExternal, Error> {
    if leaves.len() > BATCH_RECORDS_MAX
        || first_seq.saturating_add(leaves.len() as u64) > TREE_SIZE_MAX
    {
        return Err(Error::BatchTooLarge {
            records: leaves.len(),
            bytes: 0,
        });
    }
    let info = SegmentInfo {
        path: join(SEGMENT_DIR, &external_file_name(first_seq)),
        first_seq,
        record_count: leaves.len() as u64,
        sealed: true,
        external: true,
        file_len: EXTERNAL_BYTES as u64,
    };
    let parts = parts
        .clamp(1, CHECK_THREADS_MAX)
        .min(leaves.len() / CHECK_PART_RECORDS_MIN)
        .max(1);
    let run = leaves.len().div_ceil(parts).max(1);
    let runs: Vec<(usize, &[Hash])> = leaves
        .chunks(run)
        .enumerate()
        .map(|(part, chunk)| (part * run, chunk))
        .collect();
    let last = runs.len().saturating_sub(1);
    let check = |part: usize, start: usize, chunk: &[Hash]| {
        check_run(source, &info, start, chunk, part == last)
    };
    let bytes: Vec<Result<usize, Error>> = if runs.len() <= 1 {
        vec![check(0, 0, &leaves)]
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = runs
                .iter()
                .enumerate()
                .map(|(part, (start, chunk))| scope.spawn(move || check(part, *start, chunk)))
                .collect();
            handles
                .into_iter()
                .map(|handle| {
                    handle.join().unwrap_or_else(|_| {
                        Err(Error::Corrupt {
                            path: info.path.clone(),
                            offset: 0,
                            reason: "a thread checking the sealed source failed".to_owned(),
                        })
                    })
                })
                .collect()
        })
    };
    let mut total = 0usize;
    for run_bytes in bytes {
        total = total.saturating_add(run_bytes?);
    }
    if total > EXTERNAL_BATCH_BYTES_MAX {
        return Err(Error::BatchTooLarge {
            records: leaves.len(),
            bytes: total,
        });
    }
    Ok(CheckedExternal { first_seq, leaves })
}

/// Checks one run of [`check_external_leaves`]: `source` from record `start` of the segment
/// on yields records hashing to `leaves` and, for the `last` run, nothing after them.
/// Returns the bytes of the records.
fn check_run(
    source: &(dyn SealedRecords + Sync),
    info: &SegmentInfo,
    start: usize,
    leaves: &[Hash],
    last: bool,
) -> Result<usize, Error> {
    let first_seq = info.first_seq;
    let from = first_seq + start as u64;
    let refuse = |reason: String| Error::Corrupt {
        path: info.path.clone(),
        offset: 0,
        reason,
    };
    let mut theirs = source.records_from(info, from)?;
    let mut bytes = 0usize;
    for (index, (seq, ours)) in (from..).zip(leaves).enumerate() {
        let same = match theirs.next() {
            Some(record) => {
                let record = record?;
                if record.len() > RECORD_BYTES_MAX {
                    return Err(Error::RecordTooLarge {
                        index: start + index,
                        len: record.len(),
                        max: RECORD_BYTES_MAX,
                    });
                }
                bytes += record.len();
                leaf_hash(&record) == *ours
            }
            None => false,
        };
        if !same {
            return Err(refuse(format!(
                "the sealed source's record {seq} differs from the one to store; nothing was stored from {first_seq}"
            )));
        }
    }
    if last && theirs.next().is_some() {
        return Err(refuse(format!(
            "the sealed source holds more than the {} records to store",
            info.record_count
        )));
    }
    Ok(bytes)
}

fn validate_policy(policy: &CheckpointPolicy) -> Result<(), Error> {
    if policy.every_records == 0 {
        return Err(Error::Config {
            reason: "checkpoint every_records must be at least 1".to_owned(),
        });
    }
    Ok(())
}

fn check_batch<R: AsRef<[u8]>>(records: &[R], first_seq: u64) -> Result<(), Error> {
    let mut bytes = 0usize;
    for (index, record) in records.iter().enumerate() {
        let len = record.as_ref().len();
        if len > RECORD_BYTES_MAX {
            return Err(Error::RecordTooLarge {
                index,
                len,
                max: RECORD_BYTES_MAX,
            });
        }
        bytes += len;
    }
    if records.len() > BATCH_RECORDS_MAX
        || bytes > BATCH_BYTES_MAX
        || first_seq + records.len() as u64 > TREE_SIZE_MAX
    {
        return Err(Error::BatchTooLarge {
            records: records.len(),
            bytes,
        });
    }
    Ok(())
}

fn write_creating_dirs(storage: &dyn Storage, path: &str, bytes: &[u8]) -> Result<(), Error> {
    let dir = parent(path);
    if !storage.is_dir(dir).map_err(|e| Error::io(dir, e))? {
        storage.create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    storage.write(path, bytes).map_err(|e| Error::io(path, e))
}

fn load_signer(storage: &dyn Storage, config: &Config) -> Result<NoteSigner, Error> {
    let signer = match &config.key {
        KeySource::Signer(signer) => NoteSigner::from_signer_key(&signer.signer_key())?,
        KeySource::File(path) => read_key_file(path)?,
        KeySource::Store => match storage
            .len(SIGNING_KEY_FILE)
            .map_err(|e| Error::io(SIGNING_KEY_FILE, e))?
        {
            Some(_) => {
                let bytes = storage
                    .read(SIGNING_KEY_FILE)
                    .map_err(|e| Error::io(SIGNING_KEY_FILE, e))?;
                let text = String::from_utf8(bytes).map_err(|_| Error::Corrupt {
                    path: SIGNING_KEY_FILE.to_owned(),
                    offset: 0,
                    reason: "signing key is not UTF-8".to_owned(),
                })?;
                NoteSigner::from_signer_key(text.strip_suffix('\n').unwrap_or(&text))?
            }
            None => {
                if let Ok(existing) = storage.read(VERIFIER_KEY_FILE) {
                    // The private key was lost or removed: a new one would orphan every
                    // checkpoint already signed.
                    return Err(Error::KeyMismatch {
                        expected: String::from_utf8_lossy(&existing).trim_end().to_owned(),
                    });
                }
                let mut seed = [0u8; 32];
                getrandom::fill(&mut seed).map_err(|e| Error::Randomness {
                    message: e.to_string(),
                })?;
                let signer = NoteSigner::from_seed(&config.origin, seed)?;
                let text = format!("{}\n", signer.signer_key());
                storage
                    .create_private(SIGNING_KEY_FILE, text.as_bytes())
                    .map_err(|e| Error::io(SIGNING_KEY_FILE, e))?;
                signer
            }
        },
    };
    if signer.name() != config.origin {
        return Err(Error::KeyOriginMismatch {
            key_name: signer.name().to_owned(),
            origin: config.origin.clone(),
        });
    }
    let verifier_key = format!("{}\n", signer.verifier().verifier_key());
    match storage.read(VERIFIER_KEY_FILE) {
        Ok(current) if current == verifier_key.as_bytes() => {}
        Ok(current) => {
            return Err(Error::KeyMismatch {
                expected: String::from_utf8_lossy(&current).trim_end().to_owned(),
            });
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => storage
            .write_atomic(VERIFIER_KEY_FILE, verifier_key.as_bytes())
            .map_err(|e| Error::io(VERIFIER_KEY_FILE, e))?,
        Err(error) => return Err(Error::io(VERIFIER_KEY_FILE, error)),
    }
    Ok(signer)
}

fn read_key_file(path: &std::path::Path) -> Result<NoteSigner, Error> {
    let shown = path.display().to_string();
    let metadata = std::fs::metadata(path).map_err(|e| Error::io(&shown, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(Error::Config {
                reason: format!(
                    "signing key {shown} has mode {:o}; it must be 0600 or stricter",
                    mode & 0o777
                ),
            });
        }
    }
    #[cfg(not(unix))]
    let _ = metadata;
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(&shown, e))?;
    Ok(NoteSigner::from_signer_key(
        text.strip_suffix('\n').unwrap_or(&text),
    )?)
}

fn open_checkpoint_log(
    storage: &dyn Storage,
    recovery: &mut Recovery,
) -> Result<OpenedCheckpointLog, Error> {
    let Some(len) = storage
        .len(CHECKPOINT_LOG)
        .map_err(|e| Error::io(CHECKPOINT_LOG, e))?
    else {
        return Ok((None, None));
    };
    let bytes = storage
        .read(CHECKPOINT_LOG)
        .map_err(|e| Error::io(CHECKPOINT_LOG, e))?;
    let (entries, fault) = parse_log(&bytes);
    if let Some((offset, fault)) = fault {
        // Only a torn last entry may be cut: the damaged entry must run to the end of
        // the file. Anything else is damage to keep for verify.
        let torn = matches!(fault, crate::segment::FormatFault::Truncated { .. })
            || matches!(fault, crate::segment::FormatFault::Checksum { .. })
                && is_last_entry(&bytes, offset);
        if !torn {
            return Err(Error::Corrupt {
                path: CHECKPOINT_LOG.to_owned(),
                offset,
                reason: fault.to_string(),
            });
        }
        storage
            .truncate(CHECKPOINT_LOG, offset)
            .map_err(|e| Error::io(CHECKPOINT_LOG, e))?;
        recovery.checkpoint_log_bytes_truncated = len - offset;
    }
    let last = match entries.last() {
        Some(entry) => {
            let checkpoint =
                Checkpoint::parse_unverified(&entry.note).map_err(|e| Error::Corrupt {
                    path: CHECKPOINT_LOG.to_owned(),
                    offset: entry.offset,
                    reason: e.to_string(),
                })?;
            Some(LastCheckpoint {
                size: checkpoint.size,
                note: entry.note.clone(),
            })
        }
        None => None,
    };
    let file = storage
        .open_append(CHECKPOINT_LOG)
        .map_err(|e| Error::io(CHECKPOINT_LOG, e))?;
    Ok((last, Some(file)))
}

/// Whether the entry at `offset` declares a length that reaches the end of the file.
fn is_last_entry(bytes: &[u8], offset: u64) -> bool {
    let offset = offset as usize;
    let Some(len) = bytes.get(offset + 4..offset + 8) else {
        return true;
    };
    let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
    offset + 12 + len >= bytes.len()
}

fn open_segments(
    storage: &dyn Storage,
    checkpoint_size: u64,
    first_seq: u64,
    recovery: &mut Recovery,
) -> Result<Vec<SegmentMeta>, Error> {
    let listed = storage
        .list(SEGMENT_DIR)
        .map_err(|e| Error::io(SEGMENT_DIR, e))?;
    let stubs: BTreeSet<u64> = listed
        .iter()
        .filter_map(|name| parse_external_file_name(name))
        .collect();
    let mut names: Vec<(u64, String)> = Vec::with_capacity(listed.len());
    for name in listed {
        if let Some(first) = parse_external_file_name(&name) {
            names.push((first, name));
        } else if let Some(first) = parse_segment_file_name(&name) {
            if stubs.contains(&first) {
                // An externalize interrupted after its stub was written.
                let path = join(SEGMENT_DIR, &name);
                storage.remove(&path).map_err(|e| Error::io(&path, e))?;
                storage
                    .sync_dir(SEGMENT_DIR)
                    .map_err(|e| Error::io(SEGMENT_DIR, e))?;
                recovery.externalized_segments_removed += 1;
            } else {
                names.push((first, name));
            }
        }
    }
    names.sort();
    // Segments below the prune point are what a prune interrupted after writing its anchor
    // (and after its prune record was checkpointed) had still to delete.
    let (leftover, kept): (Vec<_>, Vec<_>) =
        names.into_iter().partition(|(first, _)| *first < first_seq);
    for (_, name) in &leftover {
        let path = join(SEGMENT_DIR, name);
        storage.remove(&path).map_err(|e| Error::io(&path, e))?;
        recovery.pruned_segments_removed += 1;
    }
    if !leftover.is_empty() {
        storage
            .sync_dir(SEGMENT_DIR)
            .map_err(|e| Error::io(SEGMENT_DIR, e))?;
    }
    let names = kept;
    let mut segments: Vec<SegmentMeta> = Vec::with_capacity(names.len());
    let count = names.len();
    for (position, (first_seq, name)) in names.into_iter().enumerate() {
        let path = join(SEGMENT_DIR, &name);
        let is_last = position + 1 == count;
        if stubs.contains(&first_seq) {
            let bytes = storage.read(&path).map_err(|e| Error::io(&path, e))?;
            let (stub_first, record_count) =
                decode_external(&bytes).map_err(|fault| Error::Corrupt {
                    path: path.clone(),
                    offset: 0,
                    reason: fault.to_string(),
                })?;
            let expected_first = segments
                .last()
                .map_or(first_seq, |s: &SegmentMeta| s.first_seq + s.record_count);
            if stub_first != first_seq || stub_first != expected_first {
                return Err(Error::Corrupt {
                    path,
                    offset: 0,
                    reason: format!(
                        "external segment starts at record {stub_first} but {expected_first} was expected"
                    ),
                });
            }
            segments.push(SegmentMeta {
                path,
                first_seq,
                record_count,
                sealed: true,
                file_len: EXTERNAL_BYTES as u64,
                blocks: external_blocks(first_seq, record_count),
                external: true,
            });
            continue;
        }
        let file_len = storage
            .len(&path)
            .map_err(|e| Error::io(&path, e))?
            .unwrap_or(0);
        if file_len > SEGMENT_FILE_BYTES_MAX {
            return Err(Error::Corrupt {
                path,
                offset: 0,
                reason: format!("segment has {file_len} bytes, above the limit"),
            });
        }
        let scanned = if is_last {
            let bytes = storage.read(&path).map_err(|e| Error::io(&path, e))?;
            scan_segment(file_len, true, |offset, len| {
                Ok(slice_at(&bytes, offset, len))
            })
        } else {
            scan_segment(file_len, false, |offset, len| {
                storage.read_at(&path, offset, len)
            })
        };
        let scan: SegmentScan = match scanned {
            Ok(scan) => scan,
            Err(ScanError::Io(source)) => return Err(Error::io(&path, source)),
            Err(ScanError::Header(fault)) => {
                if is_last && file_len <= HEADER_BYTES as u64 {
                    // A segment whose creation was torn: it never held a record.
                    storage.remove(&path).map_err(|e| Error::io(&path, e))?;
                    storage
                        .sync_dir(SEGMENT_DIR)
                        .map_err(|e| Error::io(SEGMENT_DIR, e))?;
                    recovery.removed_segment = Some(path);
                    continue;
                }
                return Err(Error::Corrupt {
                    path,
                    offset: 0,
                    reason: fault.to_string(),
                });
            }
        };
        let expected_first = segments
            .last()
            .map_or(first_seq, |s: &SegmentMeta| s.first_seq + s.record_count);
        if scan.first_seq != first_seq || scan.first_seq != expected_first {
            return Err(Error::Corrupt {
                path,
                offset: 0,
                reason: format!(
                    "segment starts at record {} but {expected_first} was expected",
                    scan.first_seq
                ),
            });
        }
        if let Some((offset, fault)) = &scan.fault {
            if !is_last {
                return Err(Error::Corrupt {
                    path,
                    offset: *offset,
                    reason: fault.to_string(),
                });
            }
        } else if !is_last && !scan.sealed {
            return Err(Error::Corrupt {
                path,
                offset: file_len,
                reason: "segment before the last is not sealed".to_owned(),
            });
        }
        segments.push(SegmentMeta {
            path,
            first_seq: scan.first_seq,
            record_count: scan.record_count,
            sealed: scan.sealed,
            file_len: scan.valid_len,
            blocks: scan.blocks,
            external: false,
        });
        if is_last && scan.valid_len < file_len {
            let total: u64 = first_seq + segments.iter().map(|s| s.record_count).sum::<u64>();
            if total < checkpoint_size {
                return Err(Error::BehindCheckpoint {
                    checkpoint_size,
                    tree_size: total,
                });
            }
            let path = &segments[segments.len() - 1].path;
            storage
                .truncate(path, scan.valid_len)
                .map_err(|e| Error::io(path, e))?;
            recovery.segment_bytes_truncated = file_len - scan.valid_len;
        }
    }
    let total: u64 = first_seq + segments.iter().map(|s| s.record_count).sum::<u64>();
    if total < checkpoint_size {
        return Err(Error::BehindCheckpoint {
            checkpoint_size,
            tree_size: total,
        });
    }
    Ok(segments)
}

/// The one pseudo-block an external segment is read as.
fn external_blocks(first_seq: u64, record_count: u64) -> Vec<BlockMeta> {
    vec![BlockMeta {
        offset: 0,
        frame_len: 0,
        first_seq,
        record_count: u32::try_from(record_count).unwrap_or(u32::MAX),
    }]
}

pub(crate) fn slice_at(bytes: &[u8], offset: u64, len: usize) -> Vec<u8> {
    let start = (offset as usize).min(bytes.len());
    let end = start.saturating_add(len).min(bytes.len());
    bytes[start..end].to_vec()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ledger_can_move_between_threads() {
        fn assert_send<T: Send>() {}
        assert_send::<super::Ledger>();
    }
}
