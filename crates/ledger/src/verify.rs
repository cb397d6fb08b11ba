//! Offline verification of a ledger directory: every byte the ledger reads is checked.
//!
//! `verify` never modifies the store and never panics on bad data. It recomputes every
//! leaf from the stored records (block checksums and decompression included), rebuilds
//! the tree, and compares: every stored full and partial tile, every stored checkpoint's
//! signature and root, the consistency of consecutive checkpoints (RFC 6962 proofs
//! built from the stored tiles), the `checkpoint` file, and optionally checkpoints kept
//! outside the store, which is what catches truncation and rollback of the whole store.
//! Each problem is a [`Finding`] that says where it is.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::checkpoint_log::{CHECKPOINT_FILE, CHECKPOINT_LOG, parse_log};
use crate::error::Error;
use crate::ledger::{SegmentInfo, VERIFIER_KEY_FILE, slice_at};
use crate::limits::{SEGMENT_FILE_BYTES_MAX, TILE_HEIGHT, TILE_WIDTH, VERIFY_THREADS_MAX};
use crate::merkle::{self, EMPTY_ROOT, Hash, SubtreeSource, hex, leaf_hash, perfect_root};
use crate::note::{Checkpoint, NoteVerifier};
use crate::prune::{PRUNE_FILE, PruneRecord, read_anchor};
use crate::scan::{ScanError, scan_segment};
use crate::segment::{
    EXTERNAL_BYTES, SEGMENT_DIR, decode_block_header, decode_external, for_each_record,
    parse_external_file_name, parse_segment_file_name,
};
use crate::storage::{Storage, join};
use crate::tiles::{
    TILE_BYTES, TILE_DIR, TileReader, TreeEdge, decode_tile_index, parse_tile, tile_path,
};

/// Records yielded by a [`SealedRecords`] implementation.
pub type RecordIter<'a> = Box<dyn Iterator<Item = Result<Vec<u8>, Error>> + 'a>;

type NamedCheckpoint = (CheckpointRef, Checkpoint);

/// Where the records of externalized segments are read from (by the ledger, and by
/// verification).
///
/// Segment files are read directly. Once a sealed segment is handed over to another form
/// (for example Parquet holding the one copy of each event, see
/// [`crate::Ledger::externalize`]), an implementation yields its records, in sequence
/// order, so that verify re-hashes the leaves from that representation and proves it
/// equal to what was signed.
pub trait SealedRecords {
    /// The records of `segment`, in sequence order.
    fn records<'a>(&'a self, segment: &SegmentInfo) -> Result<RecordIter<'a>, Error>;

    /// The records of `segment` from sequence number `from` (inside the segment) to its end,
    /// in order: what [`records`](SealedRecords::records) yields from there on. The default
    /// reads the segment from its start and skips; an implementation that can start midway
    /// lets a check split one segment among threads ([`crate::check_external`]).
    fn records_from<'a>(
        &'a self,
        segment: &SegmentInfo,
        from: u64,
    ) -> Result<RecordIter<'a>, Error> {
        let skip = usize::try_from(from.saturating_sub(segment.first_seq)).unwrap_or(usize::MAX);
        Ok(Box::new(self.records(segment)?.skip(skip)))
    }
}

/// A [`SealedRecords`] the ledger itself can hold (see [`crate::Config::sealed`]).
pub trait SealedSource: SealedRecords + Send + Sync + fmt::Debug {}

impl<T: SealedRecords + Send + Sync + fmt::Debug> SealedSource for T {}

/// Options for [`verify`].
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Signed checkpoints kept outside the store (note texts), e.g. by a SIEM or a
    /// witness. Each must verify, fit inside the store, and match its root.
    pub external_checkpoints: Vec<String>,
    /// Verifier key text to trust instead of the store's own `verifier.key` (recommended:
    /// an attacker who rewrites the store can rewrite that file too).
    pub verifier_key: Option<String>,
}

/// What verification found.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    /// Records whose leaves were recomputed.
    pub records_checked: u64,
    /// Stored checkpoints examined.
    pub checkpoints_checked: usize,
    /// Full tiles compared with recomputed ones.
    pub tiles_checked: u64,
    /// Bytes of segment files read.
    pub segment_bytes: u64,
    /// Everything wrong, in the order found.
    pub findings: Vec<Finding>,
}

impl VerifyReport {
    /// Whether nothing was found.
    pub fn is_intact(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Which checkpoint a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckpointRef {
    /// Entry `index` of `checkpoints.log`.
    Stored {
        /// Position in the log (0-based).
        index: usize,
    },
    /// The `index`-th externally supplied checkpoint.
    External {
        /// Position in [`VerifyOptions::external_checkpoints`].
        index: usize,
    },
}

impl fmt::Display for CheckpointRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckpointRef::Stored { index } => write!(f, "stored checkpoint #{index}"),
            CheckpointRef::External { index } => write!(f, "external checkpoint #{index}"),
        }
    }
}

/// One problem found by [`verify`], located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A file could not be read.
    Unreadable {
        /// Path relative to the ledger root.
        path: String,
        /// The I/O error.
        error: String,
    },
    /// The verifier key is missing or malformed; signatures could not be checked.
    VerifierKey {
        /// What is wrong.
        reason: String,
    },
    /// A segment header is damaged.
    SegmentHeader {
        /// Segment path.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A segment does not start where the previous one ended (removed, duplicated or
    /// replaced segment), or its name disagrees with its header.
    SegmentSequence {
        /// Segment path.
        path: String,
        /// Sequence number it should start at.
        expected_first_seq: u64,
        /// Sequence number it starts at.
        actual_first_seq: u64,
    },
    /// A block or footer is damaged; records from `seq` on cannot be read from this
    /// segment.
    SegmentDamaged {
        /// Segment path.
        path: String,
        /// Byte offset of the damaged frame.
        offset: u64,
        /// First record sequence number affected.
        seq: u64,
        /// What is wrong.
        reason: String,
    },
    /// The last segment ends in an incomplete write (a crash before the write was
    /// acknowledged); opening the ledger cuts it.
    TornTail {
        /// Segment path.
        path: String,
        /// Where the incomplete write starts.
        offset: u64,
        /// Bytes after that offset.
        bytes: u64,
    },
    /// A segment other than the last has no footer.
    SegmentNotSealed {
        /// Segment path.
        path: String,
    },
    /// Leaves from `from_seq` on could not be recomputed, so later checks are partial.
    Unverifiable {
        /// First record not recomputed.
        from_seq: u64,
    },
    /// A tile the tree needs is missing.
    TileMissing {
        /// Tile path.
        path: String,
    },
    /// A tile's bytes are not a whole number of hashes of the right count.
    TileMalformed {
        /// Tile path.
        path: String,
        /// Its length.
        len: u64,
    },
    /// A stored tile hash differs from the one recomputed from the records.
    TileMismatch {
        /// Tile path.
        path: String,
        /// Position of the first differing hash in the tile.
        position: usize,
        /// For level 0, the record whose leaf hash differs.
        seq: Option<u64>,
        /// Recomputed hash.
        expected: Hash,
        /// Stored hash.
        actual: Hash,
    },
    /// A tile file that no tree size explains.
    TileUnexpected {
        /// Tile path.
        path: String,
    },
    /// The checkpoint log is damaged at an offset.
    CheckpointLogDamaged {
        /// Byte offset.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// There are records but no stored checkpoint vouches for them.
    NoCheckpoint {
        /// Records stored.
        tree_size: u64,
    },
    /// A checkpoint's signature or format is bad.
    CheckpointInvalid {
        /// Which checkpoint.
        checkpoint: CheckpointRef,
        /// What is wrong.
        reason: String,
    },
    /// A checkpoint covers more records than are stored: records were removed
    /// (truncation or rollback).
    CheckpointBeyondRecords {
        /// Which checkpoint.
        checkpoint: CheckpointRef,
        /// Its tree size.
        checkpoint_size: u64,
        /// Records that could be recomputed.
        tree_size: u64,
    },
    /// The root recomputed from the records differs from the signed one: records were
    /// edited, removed, inserted or reordered.
    CheckpointRootMismatch {
        /// Which checkpoint.
        checkpoint: CheckpointRef,
        /// Its tree size.
        size: u64,
        /// Signed root.
        expected: Hash,
        /// Recomputed root.
        actual: Hash,
    },
    /// Checkpoint sizes decrease along the log.
    CheckpointOrder {
        /// The later checkpoint.
        checkpoint: CheckpointRef,
        /// Its size.
        size: u64,
        /// The size before it.
        previous_size: u64,
    },
    /// Two checkpoints are not consistent (the RFC 6962 consistency proof from the
    /// stored tiles fails).
    CheckpointInconsistent {
        /// The older checkpoint.
        from: CheckpointRef,
        /// The newer checkpoint.
        to: CheckpointRef,
        /// Why the proof failed.
        reason: String,
    },
    /// The `checkpoint` file differs from the last entry of the checkpoint log.
    LatestCheckpointFile {
        /// What is wrong.
        reason: String,
    },
    /// The prune anchor (`pruned`) is unreadable or malformed.
    PruneAnchor {
        /// What is wrong.
        reason: String,
    },
    /// Records before `before_seq` are gone but no prune record covered by a signed
    /// checkpoint says they were pruned: segments were removed.
    PruneUnrecorded {
        /// First record still stored.
        before_seq: u64,
        /// What is missing or wrong.
        reason: String,
    },
    /// A kept tile below the prune point does not hash to the hash the level above (or the
    /// prune anchor) holds for it.
    TileInconsistent {
        /// Tile path.
        path: String,
        /// The hash the level above holds.
        expected: Hash,
        /// The root of the stored tile.
        actual: Hash,
    },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::Unreadable { path, error } => write!(f, "{path}: unreadable: {error}"),
            Finding::VerifierKey { reason } => write!(f, "{VERIFIER_KEY_FILE}: {reason}"),
            Finding::SegmentHeader { path, reason } => write!(f, "{path}: bad header: {reason}"),
            Finding::SegmentSequence {
                path,
                expected_first_seq,
                actual_first_seq,
            } => write!(
                f,
                "{path}: starts at record {actual_first_seq}, expected {expected_first_seq} (segment removed, duplicated or replaced)"
            ),
            Finding::SegmentDamaged {
                path,
                offset,
                seq,
                reason,
            } => {
                write!(f, "{path} at byte {offset} (record {seq}): {reason}")
            }
            Finding::TornTail {
                path,
                offset,
                bytes,
            } => write!(
                f,
                "{path} at byte {offset}: {bytes} bytes of an unacknowledged, torn write (cut when the ledger is next opened)"
            ),
            Finding::SegmentNotSealed { path } => {
                write!(f, "{path}: not sealed but not the last segment")
            }
            Finding::Unverifiable { from_seq } => {
                write!(f, "records from {from_seq} on could not be recomputed")
            }
            Finding::TileMissing { path } => write!(f, "{path}: missing"),
            Finding::TileMalformed { path, len } => write!(f, "{path}: malformed ({len} bytes)"),
            Finding::TileMismatch {
                path,
                position,
                seq,
                expected,
                actual,
            } => {
                write!(f, "{path}: hash {position}")?;
                if let Some(seq) = seq {
                    write!(f, " (record {seq})")?;
                }
                write!(f, " is {}, recomputed {}", hex(actual), hex(expected))
            }
            Finding::TileUnexpected { path } => write!(f, "{path}: unexpected tile"),
            Finding::CheckpointLogDamaged { offset, reason } => {
                write!(f, "{CHECKPOINT_LOG} at byte {offset}: {reason}")
            }
            Finding::NoCheckpoint { tree_size } => {
                write!(f, "{tree_size} records but no stored checkpoint")
            }
            Finding::CheckpointInvalid { checkpoint, reason } => {
                write!(f, "{checkpoint}: {reason}")
            }
            Finding::CheckpointBeyondRecords {
                checkpoint,
                checkpoint_size,
                tree_size,
            } => write!(
                f,
                "{checkpoint} covers {checkpoint_size} records but only {tree_size} are stored (truncation or rollback)"
            ),
            Finding::CheckpointRootMismatch {
                checkpoint,
                size,
                expected,
                actual,
            } => write!(
                f,
                "{checkpoint} at size {size}: signed root {}, recomputed {} (records edited, removed or reordered)",
                hex(expected),
                hex(actual)
            ),
            Finding::CheckpointOrder {
                checkpoint,
                size,
                previous_size,
            } => {
                write!(f, "{checkpoint}: size {size} after {previous_size}")
            }
            Finding::CheckpointInconsistent { from, to, reason } => {
                write!(f, "{from} and {to} are not consistent: {reason}")
            }
            Finding::LatestCheckpointFile { reason } => write!(f, "{CHECKPOINT_FILE}: {reason}"),
            Finding::PruneAnchor { reason } => write!(f, "{PRUNE_FILE}: {reason}"),
            Finding::PruneUnrecorded { before_seq, reason } => write!(
                f,
                "records before {before_seq} are missing without a signed prune record: {reason} (segments removed)"
            ),
            Finding::TileInconsistent {
                path,
                expected,
                actual,
            } => write!(
                f,
                "{path}: hashes to {}, the level above holds {} (kept tile of pruned records edited)",
                hex(actual),
                hex(expected)
            ),
        }
    }
}

/// Verify the ledger in `storage`, reading sealed segments' records from their files.
pub fn verify(storage: &dyn Storage, options: &VerifyOptions) -> Result<VerifyReport, Error> {
    verify_with(storage, options, None)
}

/// Verify the ledger in `storage`, reading sealed segments' records through `sealed` when
/// given. Returns `Err` only when the store cannot be examined at all; everything wrong
/// with its contents is a [`Finding`].
pub fn verify_with(
    storage: &dyn Storage,
    options: &VerifyOptions,
    sealed: Option<&(dyn SealedRecords + Sync)>,
) -> Result<VerifyReport, Error> {
    let mut run = Run {
        storage,
        report: VerifyReport::default(),
    };
    let verifier = run.verifier(options);
    let stored = run.stored_checkpoints(verifier.as_ref());
    let external = run.external_checkpoints(options, verifier.as_ref());
    let anchor = match read_anchor(storage) {
        Ok(anchor) => anchor,
        Err(error) => {
            run.find(Finding::PruneAnchor {
                reason: error.to_string(),
            });
            TreeEdge::new()
        }
    };

    let mut wanted: BTreeSet<u64> = BTreeSet::new();
    wanted.extend(stored.iter().map(|(_, c)| c.size));
    wanted.extend(external.iter().map(|(_, c)| c.size));
    let (edge, mut roots, complete, prunes) = run.recompute(&wanted, sealed, &anchor);
    let tree_size = edge.size();
    if complete {
        run.roots_below(&wanted, &anchor, &edge, &mut roots);
        run.check_prune(&anchor, &prunes, &stored);
    }

    if tree_size > 0 && stored.is_empty() && complete {
        run.find(Finding::NoCheckpoint { tree_size });
    }
    let mut all: Vec<(CheckpointRef, Checkpoint)> = stored.clone();
    all.extend(external.iter().cloned());
    for (reference, checkpoint) in &all {
        run.check_root(*reference, checkpoint, tree_size, &roots, complete);
    }
    run.check_consistency(&stored, &external, &edge, complete.then_some(&roots));
    if complete {
        run.check_tile_files(&edge, anchor.size());
    }
    Ok(run.report)
}

struct Run<'a> {
    storage: &'a dyn Storage,
    report: VerifyReport,
}

impl Run<'_> {
    fn find(&mut self, finding: Finding) {
        self.report.findings.push(finding);
    }

    fn verifier(&mut self, options: &VerifyOptions) -> Option<NoteVerifier> {
        let text = match &options.verifier_key {
            Some(text) => text.clone(),
            None => match self.storage.read(VERIFIER_KEY_FILE) {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Err(error) => {
                    self.find(Finding::VerifierKey {
                        reason: error.to_string(),
                    });
                    return None;
                }
            },
        };
        match NoteVerifier::from_verifier_key(text.strip_suffix('\n').unwrap_or(&text)) {
            Ok(verifier) => Some(verifier),
            Err(error) => {
                self.find(Finding::VerifierKey {
                    reason: error.to_string(),
                });
                None
            }
        }
    }

    fn stored_checkpoints(
        &mut self,
        verifier: Option<&NoteVerifier>,
    ) -> Vec<(CheckpointRef, Checkpoint)> {
        let bytes = match self.storage.len(CHECKPOINT_LOG) {
            Ok(None) => Vec::new(),
            Ok(Some(_)) => match self.storage.read(CHECKPOINT_LOG) {
                Ok(bytes) => bytes,
                Err(error) => {
                    self.find(Finding::Unreadable {
                        path: CHECKPOINT_LOG.to_owned(),
                        error: error.to_string(),
                    });
                    Vec::new()
                }
            },
            Err(error) => {
                self.find(Finding::Unreadable {
                    path: CHECKPOINT_LOG.to_owned(),
                    error: error.to_string(),
                });
                Vec::new()
            }
        };
        let (entries, fault) = parse_log(&bytes);
        if let Some((offset, fault)) = fault {
            self.find(Finding::CheckpointLogDamaged {
                offset,
                reason: fault.to_string(),
            });
        }
        let mut checkpoints = Vec::new();
        let mut previous_size = 0u64;
        for (index, entry) in entries.iter().enumerate() {
            let reference = CheckpointRef::Stored { index };
            if let Some(checkpoint) = self.open_checkpoint(reference, &entry.note, verifier) {
                if checkpoint.size < previous_size {
                    self.find(Finding::CheckpointOrder {
                        checkpoint: reference,
                        size: checkpoint.size,
                        previous_size,
                    });
                }
                previous_size = previous_size.max(checkpoint.size);
                checkpoints.push((reference, checkpoint));
            }
        }
        self.report.checkpoints_checked = entries.len();
        // The `checkpoint` file must repeat the last entry.
        let latest = self.storage.read(CHECKPOINT_FILE).ok();
        match (entries.last(), latest) {
            (None, None) => {}
            (Some(_), None) => self.find(Finding::LatestCheckpointFile {
                reason: "missing".to_owned(),
            }),
            (None, Some(_)) => self.find(Finding::LatestCheckpointFile {
                reason: "present but the log is empty".to_owned(),
            }),
            (Some(entry), Some(latest)) => {
                if latest != entry.note.as_bytes() {
                    self.find(Finding::LatestCheckpointFile {
                        reason: "differs from the last checkpoint in the log".to_owned(),
                    });
                }
            }
        }
        checkpoints
    }

    fn external_checkpoints(
        &mut self,
        options: &VerifyOptions,
        verifier: Option<&NoteVerifier>,
    ) -> Vec<(CheckpointRef, Checkpoint)> {
        let mut checkpoints = Vec::new();
        for (index, note) in options.external_checkpoints.iter().enumerate() {
            let reference = CheckpointRef::External { index };
            if let Some(checkpoint) = self.open_checkpoint(reference, note, verifier) {
                checkpoints.push((reference, checkpoint));
            }
        }
        checkpoints
    }

    /// Check a checkpoint's signature (when a verifier is known) and parse it; a
    /// checkpoint whose signature fails is reported but still compared, so the report
    /// says what it claimed.
    fn open_checkpoint(
        &mut self,
        reference: CheckpointRef,
        note: &str,
        verifier: Option<&NoteVerifier>,
    ) -> Option<Checkpoint> {
        if let Some(verifier) = verifier
            && let Err(error) = Checkpoint::open(note, verifier)
        {
            self.find(Finding::CheckpointInvalid {
                checkpoint: reference,
                reason: error.to_string(),
            });
        }
        match Checkpoint::parse_unverified(note) {
            Ok(checkpoint) => Some(checkpoint),
            Err(error) => {
                if verifier.is_none() {
                    self.find(Finding::CheckpointInvalid {
                        checkpoint: reference,
                        reason: error.to_string(),
                    });
                }
                None
            }
        }
    }

    /// Recompute the tree from the records, continuing from the prune anchor. Returns the
    /// edge, the roots at the wanted sizes, whether every record could be read, and the
    /// prune records met with their sequence numbers.
    fn recompute(
        &mut self,
        wanted: &BTreeSet<u64>,
        sealed: Option<&(dyn SealedRecords + Sync)>,
        anchor: &TreeEdge,
    ) -> Recomputed {
        let mut edge = anchor.clone();
        let mut roots = BTreeMap::new();
        let mut prunes = Vec::new();
        if wanted.contains(&0) {
            roots.insert(0, EMPTY_ROOT);
        }
        if wanted.contains(&anchor.size()) {
            roots.insert(anchor.size(), anchor.root());
        }
        let names = match self.storage.list(SEGMENT_DIR) {
            Ok(names) => names,
            Err(error) => {
                self.find(Finding::Unreadable {
                    path: SEGMENT_DIR.to_owned(),
                    error: error.to_string(),
                });
                return (edge, roots, false, prunes);
            }
        };
        let mut segments: Vec<(u64, String)> = Vec::new();
        for name in names {
            match parse_segment_file_name(&name).or_else(|| parse_external_file_name(&name)) {
                Some(first) => segments.push((first, name)),
                None => self.find(Finding::SegmentHeader {
                    path: join(SEGMENT_DIR, &name),
                    reason: "not a segment file name".to_owned(),
                }),
            }
        }
        segments.sort();
        // Leftovers of a prune interrupted after its anchor was written: open removes them.
        segments.retain(|(first, _)| *first >= anchor.size());
        // A segment file beside the stub that replaced it: an externalization whose file
        // removal runs on another thread, not done yet or cut short by a crash (open
        // removes it). The stub's records are the ones in the log.
        let stubs: BTreeSet<u64> = segments
            .iter()
            .filter(|(_, name)| parse_external_file_name(name).is_some())
            .map(|(first, _)| *first)
            .collect();
        segments.retain(|(first, name)| {
            parse_external_file_name(name).is_some() || !stubs.contains(first)
        });
        let count = segments.len();
        let mut hasher = LeafSink {
            edge: &mut edge,
            roots: &mut roots,
            wanted,
            tiles: Vec::new(),
            prunes: &mut prunes,
        };
        // Externalized segments are read (decoded, re-encoded) and hashed on every core, a
        // window of them at a time; the tree is then extended from their leaves in order.
        let threads = std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .clamp(1, VERIFY_THREADS_MAX);
        let window = threads * 2;
        let mut position = 0;
        while position < count {
            let end = (position + window).min(count);
            let mut prefetched =
                prefetch_external(self.storage, &segments[position..end], sealed, threads);
            for (offset, (name_seq, name)) in segments[position..end].iter().enumerate() {
                let path = join(SEGMENT_DIR, name);
                let is_last = position + offset + 1 == count;
                let expected = hasher.edge.size();
                let ok = if parse_external_file_name(name).is_some() {
                    let leaves = prefetched.get_mut(offset).and_then(Option::take);
                    self.external_segment(&path, expected, sealed.is_some(), leaves, &mut hasher)
                } else {
                    self.segment(&path, *name_seq, expected, is_last, &mut hasher)
                };
                let tiles = std::mem::take(&mut hasher.tiles);
                for (level, index, hashes) in tiles {
                    self.compare_tile(level, index, &hashes);
                }
                if !ok {
                    let from_seq = hasher.edge.size();
                    self.find(Finding::Unverifiable { from_seq });
                    return (edge, roots, false, prunes);
                }
            }
            position = end;
        }
        (edge, roots, true, prunes)
    }

    /// Roots of checkpoints below the prune point, from the kept tiles (their records are
    /// gone); what they are checked against is signed, so the tiles used are vouched for.
    fn roots_below(
        &mut self,
        wanted: &BTreeSet<u64>,
        anchor: &TreeEdge,
        edge: &TreeEdge,
        roots: &mut BTreeMap<u64, Hash>,
    ) {
        if anchor.size() <= 1 {
            return;
        }
        let mut reader = TileReader::new(self.storage, "", edge);
        for &size in wanted.range(1..anchor.size()) {
            match merkle::root(&mut reader, size) {
                Ok(root) => {
                    roots.insert(size, root);
                }
                Err(error) => self.find(Finding::Unreadable {
                    path: TILE_DIR.to_owned(),
                    error: format!("root at size {size} below the prune point: {error}"),
                }),
            }
        }
    }

    /// A store whose records start after 0 must hold a prune record for exactly that
    /// point, inside the signed part of the log, agreeing with the anchor's root.
    fn check_prune(
        &mut self,
        anchor: &TreeEdge,
        prunes: &[(u64, PruneRecord)],
        stored: &[(CheckpointRef, Checkpoint)],
    ) {
        let before_seq = anchor.size();
        if before_seq == 0 {
            return;
        }
        let signed = stored.iter().map(|(_, c)| c.size).max().unwrap_or(0);
        let matching: Vec<&(u64, PruneRecord)> = prunes
            .iter()
            .filter(|(_, record)| record.before_seq == before_seq)
            .collect();
        let reason = match matching.iter().find(|(seq, _)| *seq < signed) {
            None if matching.is_empty() => "no prune record for it".to_owned(),
            None => format!(
                "its prune record (record {}) is not covered by a stored checkpoint",
                matching[0].0
            ),
            Some((_, record)) if record.root != anchor.root() => format!(
                "the prune record's root {} differs from the anchor's {}",
                hex(&record.root),
                hex(&anchor.root())
            ),
            Some(_) => return,
        };
        self.find(Finding::PruneUnrecorded { before_seq, reason });
    }

    /// Check an externalized segment's stub and feed the leaves of the records its sealed
    /// source yields (computed by [`prefetch_external`]) to the tree. Returns whether the
    /// tree can continue past it.
    fn external_segment(
        &mut self,
        path: &str,
        expected: u64,
        has_source: bool,
        prefetched: Option<Prefetched>,
        sink: &mut LeafSink<'_>,
    ) -> bool {
        let stub = match self.storage.read(path) {
            Ok(bytes) => decode_external(&bytes),
            Err(error) => {
                self.find(Finding::Unreadable {
                    path: path.to_owned(),
                    error: error.to_string(),
                });
                return false;
            }
        };
        let (first_seq, record_count) = match stub {
            Ok(pair) => pair,
            Err(fault) => {
                self.find(Finding::SegmentHeader {
                    path: path.to_owned(),
                    reason: fault.to_string(),
                });
                return false;
            }
        };
        if first_seq != expected {
            self.find(Finding::SegmentSequence {
                path: path.to_owned(),
                expected_first_seq: expected,
                actual_first_seq: first_seq,
            });
            return false;
        }
        if !has_source {
            self.find(Finding::Unreadable {
                path: path.to_owned(),
                error:
                    "its records are kept in another form; verify through the store that keeps them"
                        .to_owned(),
            });
            return false;
        }
        let leaves = match prefetched {
            Some(Ok(leaves)) => leaves,
            Some(Err(error)) => {
                self.find(Finding::Unreadable {
                    path: path.to_owned(),
                    error,
                });
                return false;
            }
            None => {
                self.find(Finding::Unreadable {
                    path: path.to_owned(),
                    error: "its records were not read".to_owned(),
                });
                return false;
            }
        };
        let fed = leaves.leaves.len() as u64;
        let mut prunes = leaves.prunes.into_iter().peekable();
        for (index, leaf) in leaves.leaves.into_iter().enumerate() {
            let prune = prunes
                .next_if(|(at, _)| *at == index)
                .map(|(_, record)| record);
            sink.push_leaf(leaf, prune);
        }
        self.report.records_checked += fed;
        if fed != record_count {
            self.find(Finding::SegmentDamaged {
                path: path.to_owned(),
                offset: 0,
                seq: first_seq + fed.min(record_count),
                reason: format!(
                    "sealed records yield {fed} records, the segment holds {record_count}"
                ),
            });
            return false;
        }
        true
    }

    /// Check one segment and feed its records to the tree. Returns whether the tree can
    /// continue past it.
    fn segment(
        &mut self,
        path: &str,
        name_seq: u64,
        expected: u64,
        is_last: bool,
        sink: &mut LeafSink<'_>,
    ) -> bool {
        let bytes = match self.storage.len(path).and_then(|len| match len {
            Some(len) if len > SEGMENT_FILE_BYTES_MAX => Err(std::io::Error::other(format!(
                "{len} bytes, above the limit"
            ))),
            _ => self.storage.read(path),
        }) {
            Ok(bytes) => bytes,
            Err(error) => {
                self.find(Finding::Unreadable {
                    path: path.to_owned(),
                    error: error.to_string(),
                });
                return false;
            }
        };
        self.report.segment_bytes += bytes.len() as u64;
        let scan = match scan_segment(bytes.len() as u64, true, |offset, len| {
            Ok(slice_at(&bytes, offset, len))
        }) {
            Ok(scan) => scan,
            Err(ScanError::Io(error)) => {
                self.find(Finding::Unreadable {
                    path: path.to_owned(),
                    error: error.to_string(),
                });
                return false;
            }
            Err(ScanError::Header(fault)) => {
                self.find(Finding::SegmentHeader {
                    path: path.to_owned(),
                    reason: fault.to_string(),
                });
                return false;
            }
        };
        if scan.first_seq != expected || name_seq != expected {
            self.find(Finding::SegmentSequence {
                path: path.to_owned(),
                expected_first_seq: expected,
                actual_first_seq: if scan.first_seq != expected {
                    scan.first_seq
                } else {
                    name_seq
                },
            });
            return false;
        }
        let mut ok = true;
        match &scan.fault {
            Some((offset, fault)) => {
                let seq = scan.first_seq + scan.record_count;
                let torn = is_last
                    && matches!(
                        fault,
                        crate::segment::FormatFault::Truncated { .. }
                            | crate::segment::FormatFault::Checksum { .. }
                            | crate::segment::FormatFault::BadMagic { .. }
                    );
                if torn {
                    self.find(Finding::TornTail {
                        path: path.to_owned(),
                        offset: *offset,
                        bytes: bytes.len() as u64 - offset,
                    });
                } else {
                    self.find(Finding::SegmentDamaged {
                        path: path.to_owned(),
                        offset: *offset,
                        seq,
                        reason: fault.to_string(),
                    });
                    ok = is_last;
                }
            }
            None if !is_last && !scan.sealed => {
                self.find(Finding::SegmentNotSealed {
                    path: path.to_owned(),
                });
            }
            None => {}
        }
        for block in &scan.blocks {
            let frame = &bytes[block.offset as usize..(block.offset + block.frame_len) as usize];
            let mut fed = 0u64;
            let decoded = decode_block_header(frame).and_then(|header| {
                for_each_record(&header, frame, |record| {
                    sink.push(record);
                    fed += 1;
                })
            });
            self.report.records_checked += fed;
            if let Err(fault) = decoded {
                self.find(Finding::SegmentDamaged {
                    path: path.to_owned(),
                    offset: block.offset,
                    seq: block.first_seq + fed,
                    reason: fault.to_string(),
                });
                return false;
            }
        }
        ok
    }

    fn compare_tile(&mut self, level: u32, index: u64, expected: &[Hash]) {
        if level == 0 {
            self.compare_level0_partials(index, expected);
        }
        self.report.tiles_checked += 1;
        let path = tile_path(level, index, TILE_WIDTH);
        let bytes = match self.storage.read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound && level == 0 => {
                // Level-0 tiles are recomputed from the records (as here), mostly not kept.
                return;
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                self.find(Finding::TileMissing { path });
                return;
            }
            Err(error) => {
                self.find(Finding::Unreadable {
                    path,
                    error: error.to_string(),
                });
                return;
            }
        };
        let Some(actual) = parse_tile(&bytes).filter(|hashes| hashes.len() == expected.len())
        else {
            self.find(Finding::TileMalformed {
                path,
                len: bytes.len() as u64,
            });
            return;
        };
        if let Some(position) = (0..expected.len()).find(|&i| expected[i] != actual[i]) {
            let seq = (level == 0).then(|| index * TILE_WIDTH as u64 + position as u64);
            self.find(Finding::TileMismatch {
                path,
                position,
                seq,
                expected: expected[position],
                actual: actual[position],
            });
        }
    }

    /// The partial tiles under full level-0 tile `index` (written at checkpoints) against
    /// the leaves just recomputed for it: the full tile is mostly not on disk to compare
    /// them with later ([`Run::check_tile_files`] skips them).
    fn compare_level0_partials(&mut self, index: u64, expected: &[Hash]) {
        let dir = format!("{}.p", tile_path(0, index, TILE_WIDTH));
        let names = match self.storage.list(&dir) {
            Ok(names) => names,
            Err(error) => {
                self.find(Finding::Unreadable {
                    path: dir,
                    error: error.to_string(),
                });
                return;
            }
        };
        for name in names {
            let path = join(&dir, &name);
            let Some(width) = name
                .parse::<usize>()
                .ok()
                .filter(|w| (1..TILE_WIDTH).contains(w))
            else {
                continue; // reported by check_tile_files
            };
            self.report.tiles_checked += 1;
            let actual = match self.storage.read(&path) {
                Ok(bytes) => match parse_tile(&bytes).filter(|hashes| hashes.len() == width) {
                    Some(hashes) => hashes,
                    None => {
                        self.find(Finding::TileMalformed {
                            path,
                            len: bytes.len() as u64,
                        });
                        continue;
                    }
                },
                Err(error) => {
                    self.find(Finding::Unreadable {
                        path,
                        error: error.to_string(),
                    });
                    continue;
                }
            };
            if let Some(position) = (0..width).find(|&i| expected.get(i) != Some(&actual[i])) {
                self.find(Finding::TileMismatch {
                    path,
                    position,
                    seq: Some(index * TILE_WIDTH as u64 + position as u64),
                    expected: expected.get(position).copied().unwrap_or_default(),
                    actual: actual[position],
                });
            }
        }
    }

    fn check_root(
        &mut self,
        reference: CheckpointRef,
        checkpoint: &Checkpoint,
        tree_size: u64,
        roots: &BTreeMap<u64, Hash>,
        complete: bool,
    ) {
        if checkpoint.size > tree_size {
            if complete {
                self.find(Finding::CheckpointBeyondRecords {
                    checkpoint: reference,
                    checkpoint_size: checkpoint.size,
                    tree_size,
                });
            }
            return;
        }
        if let Some(actual) = roots.get(&checkpoint.size)
            && *actual != checkpoint.root
        {
            self.find(Finding::CheckpointRootMismatch {
                checkpoint: reference,
                size: checkpoint.size,
                expected: checkpoint.root,
                actual: *actual,
            });
        }
    }

    /// Consecutive stored checkpoints, and every external one against the latest stored
    /// one, must be consistent; the proofs are built from the stored tiles.
    fn check_consistency(
        &mut self,
        stored: &[(CheckpointRef, Checkpoint)],
        external: &[(CheckpointRef, Checkpoint)],
        edge: &TreeEdge,
        recomputed: Option<&BTreeMap<u64, Hash>>,
    ) {
        // Two checkpoints whose roots both equal roots recomputed from the records are
        // prefixes of the same tree: consistent without a proof from the tiles (which
        // need not hold level 0 over externalized records).
        let matches = |checkpoint: &Checkpoint| {
            recomputed
                .and_then(|roots| roots.get(&checkpoint.size))
                .is_some_and(|root| *root == checkpoint.root)
        };
        let mut pairs: Vec<(&NamedCheckpoint, &NamedCheckpoint)> =
            stored.windows(2).map(|pair| (&pair[0], &pair[1])).collect();
        if let Some(latest) = stored.last() {
            for outside in external {
                if outside.1.size <= latest.1.size {
                    pairs.push((outside, latest));
                } else {
                    pairs.push((latest, outside));
                }
            }
        }
        for ((from, old), (to, new)) in pairs {
            if old.size > new.size || new.size > edge.size() || (matches(old) && matches(new)) {
                continue;
            }
            let mut reader = TileReader::new(self.storage, "", edge);
            let result = merkle::consistency_proof(&mut reader, old.size, new.size)
                .map_err(|error| error.to_string())
                .and_then(|proof| {
                    merkle::verify_consistency(old.size, new.size, &old.root, &new.root, &proof)
                        .map_err(|error| error.to_string())
                });
            if let Err(reason) = result {
                self.find(Finding::CheckpointInconsistent {
                    from: *from,
                    to: *to,
                    reason,
                });
            }
        }
    }

    /// Partial tiles must match the tree, and no full tile may lie beyond it. Full tiles
    /// below the prune point (not recomputed from records) must hash to what the level above
    /// holds for them, and every such tile above level 0 must be there.
    fn check_tile_files(&mut self, edge: &TreeEdge, pruned_before: u64) {
        let mut files = Vec::new();
        self.walk(TILE_DIR, &mut files);
        let size = edge.size();
        let mut reader = TileReader::new(self.storage, "", edge);
        let mut findings = Vec::new();
        let present: BTreeSet<&String> = files.iter().collect();
        let mut level = 1u32;
        while TILE_HEIGHT * (level + 1) < 64 && pruned_before >> (TILE_HEIGHT * (level + 1)) > 0 {
            for index in 0..pruned_before >> (TILE_HEIGHT * (level + 1)) {
                let path = tile_path(level, index, TILE_WIDTH);
                if !present.contains(&path) {
                    findings.push(Finding::TileMissing { path });
                }
            }
            level += 1;
        }
        for path in &files {
            let path = path.clone();
            let parsed = path
                .strip_prefix("tile/")
                .and_then(|rest| rest.split_once('/'))
                .and_then(|(level, rest)| {
                    Some((level.parse::<u32>().ok()?, decode_tile_index(rest)?))
                });
            let Some((level, (index, width))) = parsed.filter(|(level, _)| *level < 64) else {
                findings.push(Finding::TileUnexpected { path });
                continue;
            };
            // Hashes at `level` that exist in the tree.
            let available = if level * TILE_HEIGHT >= 64 {
                0
            } else {
                size >> (TILE_HEIGHT * level)
            };
            let end = index
                .saturating_mul(TILE_WIDTH as u64)
                .saturating_add(width as u64);
            if end > available {
                findings.push(Finding::TileUnexpected { path });
                continue;
            }
            let full_end = (index + 1).saturating_mul(TILE_WIDTH as u64);
            if level == 0 && width < TILE_WIDTH && full_end <= size && full_end > pruned_before {
                continue; // compared with the recomputed leaves (compare_level0_partials)
            }
            if width == TILE_WIDTH {
                let shift = TILE_HEIGHT * (level + 1);
                let start = index << shift;
                if shift < 64 && end << (TILE_HEIGHT * level) <= pruned_before {
                    // Not recomputed from records: check it against the level above.
                    let bytes = match self.storage.read(&path) {
                        Ok(bytes) => bytes,
                        Err(error) => {
                            findings.push(Finding::Unreadable {
                                path,
                                error: error.to_string(),
                            });
                            continue;
                        }
                    };
                    let actual = match parse_tile(&bytes) {
                        Some(hashes) if hashes.len() == TILE_WIDTH => perfect_root(&hashes),
                        _ => {
                            findings.push(Finding::TileMalformed {
                                path,
                                len: bytes.len() as u64,
                            });
                            continue;
                        }
                    };
                    match reader.subtree(start, shift) {
                        Ok(expected) if expected == actual => {}
                        Ok(expected) => findings.push(Finding::TileInconsistent {
                            path,
                            expected,
                            actual,
                        }),
                        Err(error) => findings.push(Finding::Unreadable {
                            path,
                            error: error.to_string(),
                        }),
                    }
                }
                continue; // the others were compared while recomputing
            }
            let Ok(bytes) = self.storage.read(&path) else {
                findings.push(Finding::TileMissing { path });
                continue;
            };
            let Some(actual) = parse_tile(&bytes)
                .filter(|hashes| hashes.len() == width && bytes.len() < TILE_BYTES)
            else {
                findings.push(Finding::TileMalformed {
                    path,
                    len: bytes.len() as u64,
                });
                continue;
            };
            for (position, stored) in actual.iter().enumerate() {
                let start = (index * TILE_WIDTH as u64 + position as u64) << (TILE_HEIGHT * level);
                let expected = reader.subtree(start, TILE_HEIGHT * level);
                match expected {
                    Ok(expected) if expected == *stored => {}
                    Ok(expected) => {
                        let seq = (level == 0).then_some(start);
                        findings.push(Finding::TileMismatch {
                            path: path.clone(),
                            position,
                            seq,
                            expected,
                            actual: *stored,
                        });
                        break;
                    }
                    Err(error) => {
                        findings.push(Finding::Unreadable {
                            path: path.clone(),
                            error: error.to_string(),
                        });
                        break;
                    }
                }
            }
        }
        self.report.findings.extend(findings);
    }

    fn walk(&mut self, dir: &str, files: &mut Vec<String>) {
        let names = match self.storage.list(dir) {
            Ok(names) => names,
            Err(error) => {
                self.find(Finding::Unreadable {
                    path: dir.to_owned(),
                    error: error.to_string(),
                });
                return;
            }
        };
        for name in names {
            let path = join(dir, &name);
            match self.storage.is_dir(&path) {
                Ok(true) => self.walk(&path, files),
                Ok(false) => files.push(path),
                Err(error) => self.find(Finding::Unreadable {
                    path,
                    error: error.to_string(),
                }),
            }
        }
    }
}

type Recomputed = (TreeEdge, BTreeMap<u64, Hash>, bool, Vec<(u64, PruneRecord)>);

/// Feeds recomputed leaves into the tree, remembering roots at wanted sizes, the full
/// tiles to compare and the prune records met.
struct LeafSink<'a> {
    edge: &'a mut TreeEdge,
    roots: &'a mut BTreeMap<u64, Hash>,
    wanted: &'a BTreeSet<u64>,
    tiles: Vec<(u32, u64, Vec<Hash>)>,
    prunes: &'a mut Vec<(u64, PruneRecord)>,
}

impl LeafSink<'_> {
    fn push(&mut self, record: &[u8]) {
        let prune = if PruneRecord::is_prune_record(record) {
            PruneRecord::parse(record)
        } else {
            None
        };
        self.push_leaf(leaf_hash(record), prune);
    }

    fn push_leaf(&mut self, leaf: Hash, prune: Option<PruneRecord>) {
        if let Some(prune) = prune {
            self.prunes.push((self.edge.size(), prune));
        }
        let tiles = &mut self.tiles;
        self.edge.push(leaf, &mut |tile| {
            tiles.push((tile.level, tile.index, tile.hashes))
        });
        let size = self.edge.size();
        if self.wanted.contains(&size) {
            self.roots.insert(size, self.edge.root());
        }
    }
}

/// The leaves of one externalized segment's records, and its prune records by position.
#[derive(Debug)]
struct ExternalLeaves {
    leaves: Vec<Hash>,
    prunes: Vec<(usize, PruneRecord)>,
}

/// An externalized segment read and hashed, or why it could not be.
type Prefetched = Result<ExternalLeaves, String>;

/// Reads and hashes the externalized segments among `segments` on `threads` threads; the
/// result holds, at each position, the leaves of that segment (`None` for segment files).
fn prefetch_external(
    storage: &dyn Storage,
    segments: &[(u64, String)],
    sealed: Option<&(dyn SealedRecords + Sync)>,
    threads: usize,
) -> Vec<Option<Prefetched>> {
    let mut results: Vec<Option<Prefetched>> = segments.iter().map(|_| None).collect();
    let Some(source) = sealed else {
        return results;
    };
    let external: Vec<usize> = segments
        .iter()
        .enumerate()
        .filter(|(_, (_, name))| parse_external_file_name(name).is_some())
        .map(|(index, _)| index)
        .collect();
    if external.is_empty() {
        return results;
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done: std::sync::Mutex<Vec<(usize, Prefetched)>> = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads.min(external.len()) {
            scope.spawn(|| {
                loop {
                    let at = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&index) = external.get(at) else {
                        break;
                    };
                    let path = join(SEGMENT_DIR, &segments[index].1);
                    let leaves = external_leaves(storage, &path, source);
                    if let Ok(mut done) = done.lock() {
                        done.push((index, leaves));
                    }
                }
            });
        }
    });
    for (index, leaves) in done.into_inner().unwrap_or_default() {
        results[index] = Some(leaves);
    }
    results
}

/// The leaves of the records `source` yields for the externalized segment whose stub is at
/// `path` (the stub itself is checked again by the caller, in order).
fn external_leaves(storage: &dyn Storage, path: &str, source: &dyn SealedRecords) -> Prefetched {
    let bytes = storage.read(path).map_err(|error| error.to_string())?;
    let (first_seq, record_count) = decode_external(&bytes).map_err(|fault| fault.to_string())?;
    let info = SegmentInfo {
        path: path.to_owned(),
        first_seq,
        record_count,
        sealed: true,
        file_len: EXTERNAL_BYTES as u64,
        external: true,
    };
    let mut leaves = ExternalLeaves {
        leaves: Vec::with_capacity(usize::try_from(record_count).unwrap_or_default()),
        prunes: Vec::new(),
    };
    for record in source.records(&info).map_err(|error| error.to_string())? {
        let record = record.map_err(|error| error.to_string())?;
        if PruneRecord::is_prune_record(&record)
            && let Some(prune) = PruneRecord::parse(&record)
        {
            leaves.prunes.push((leaves.leaves.len(), prune));
        }
        leaves.leaves.push(leaf_hash(&record));
    }
    Ok(leaves)
}
