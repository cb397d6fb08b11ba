//! The columnar form of the trail, and the one copy of its records at rest: each sealed
//! ledger segment becomes, by [`Store::compact`], an index segment of `crates/index`
//! covering exactly its records:
//!
//! ```text
//! <data>/index/segments/<first>-<end>.parquet   the events of [first, end) (20-digit numbers)
//! <data>/index/segments/<first>-<end>.keys      their audit-id and object lookups
//! <data>/index/segments/<first>-<end>.extra     the other records: heartbeats, prune and
//!                                               index records
//! ```
//!
//! A compaction has a heavy part that runs on any thread ([`CompactionJob::run`]): read the
//! sealed segment's immutable file, write the three files durably to `index/staging/`, and
//! compare every record they reproduce through [`ColumnarRecords`] (events re-encoded from
//! their Parquet rows) with the segment file, byte for byte ([`ledger::check_sealed`]). The
//! store's owner then commits it ([`Store::commit_compaction`], milliseconds): the files
//! move into `index/segments/`, the store appends an **index record** to the ledger itself,
//! `{"auditrail_index":{"v":2,"first_seq":…,"end_seq":…,"events":…,"parquet_sha256":…,
//! "keys_sha256":…,"extra_sha256":…}}`, so the next signed checkpoint commits to the files'
//! hashes too; then the ledger
//! [externalizes](ledger::Ledger::externalize_checked) the segment with the proof of that
//! comparison: it replaces the file by a stub and drops the segment's level-0 tiles.
//!
//! Invariants:
//! - Every record of an externalized segment is reproduced exactly by its index files
//!   (checked before the row copy goes, and by every `verify`, which re-hashes the leaves
//!   from them).
//! - Index files are in `index/segments/` only from the commit on; staged ones are seen by
//!   neither queries nor `verify`, and a store that opens removes what a crash left: staged
//!   files, and files in place that no index record vouches for.
//! - Records after the last index segment are the tail, read from the ledger files at
//!   query time. Queries open everything read-only and without the writer's lock, so they
//!   work beside a running server.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use event::AuditEvent;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::limits::INDEX_RECORD_BYTES_MAX;
use crate::{Store, StoreError, read_event};

/// The ledger record committing to one index segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexRecord {
    /// Format version: 2 for an index record appended after the range it describes
    /// (compaction of a sealed ledger segment), 3 for one that is the last record of its own
    /// range (a bulk load), which commits to the Parquet and keys files only: its `.extra` file
    /// holds the record itself, and every record in `.extra` is a leaf `verify` recomputes.
    pub v: u32,
    /// First ledger sequence number covered.
    pub first_seq: u64,
    /// One past the last sequence number covered.
    pub end_seq: u64,
    /// Events in the segment (records that are events).
    pub events: u64,
    /// SHA-256 of the Parquet file, hex.
    pub parquet_sha256: String,
    /// SHA-256 of the keys file, hex.
    pub keys_sha256: String,
    /// SHA-256 of the `.extra` file (version 2), hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_sha256: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Tagged {
    auditrail_index: IndexRecord,
}

impl IndexRecord {
    /// Recognises an index record among ledger records.
    pub fn parse(record: &[u8]) -> Option<IndexRecord> {
        if record.len() > INDEX_RECORD_BYTES_MAX || !record.starts_with(b"{\"auditrail_index\":") {
            return None;
        }
        serde_json::from_slice::<Tagged>(record)
            .ok()
            .map(|tagged| tagged.auditrail_index)
    }

    pub(crate) fn to_record(&self) -> Vec<u8> {
        serde_json::to_vec(&Tagged {
            auditrail_index: self.clone(),
        })
        .unwrap_or_default()
    }
}

/// The directory of index segments.
pub(crate) fn segments_dir(root: &Path) -> PathBuf {
    root.join("index").join("segments")
}

/// The files of the index segment covering ledger records `first .. end`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexFiles {
    /// First ledger sequence number covered.
    pub first_seq: u64,
    /// One past the last.
    pub end_seq: u64,
    /// The events, as Parquet.
    pub parquet: PathBuf,
    /// Their lookup keys (audit ids, objects).
    pub keys: PathBuf,
    /// The records of the range that are not events (heartbeats, prune and index records).
    pub extra: PathBuf,
}

impl IndexFiles {
    /// The files of the index segment covering `first_seq .. end_seq` (whether or not they
    /// exist).
    pub fn at(root: &Path, first_seq: u64, end_seq: u64) -> IndexFiles {
        IndexFiles::new(root, first_seq, end_seq)
    }

    pub(crate) fn new(root: &Path, first_seq: u64, end_seq: u64) -> IndexFiles {
        IndexFiles::in_dir(&segments_dir(root), first_seq, end_seq)
    }

    /// The files of `first_seq .. end_seq` in `directory`.
    pub(crate) fn in_dir(directory: &Path, first_seq: u64, end_seq: u64) -> IndexFiles {
        let stem = format!("{first_seq:020}-{end_seq:020}");
        IndexFiles {
            first_seq,
            end_seq,
            parquet: directory.join(format!("{stem}.parquet")),
            keys: directory.join(format!("{stem}.keys")),
            extra: directory.join(format!("{stem}.extra")),
        }
    }
}

/// Index segments on disk, by first sequence number.
pub fn segment_files(root: &Path) -> Result<Vec<IndexFiles>, StoreError> {
    let directory = segments_dir(root);
    let entries = match std::fs::read_dir(&directory) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(StoreError::Io {
                path: directory,
                source,
            });
        }
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|source| StoreError::Io {
                path: directory.clone(),
                source,
            })?
            .path();
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or_default();
        let range = name.strip_suffix(".parquet").and_then(|stem| {
            let (first, end) = stem.split_once('-')?;
            Some((first.parse::<u64>().ok()?, end.parse::<u64>().ok()?))
        });
        if let Some((first, end)) = range.filter(|(first, end)| first < end) {
            files.push(IndexFiles::new(root, first, end));
        }
    }
    files.sort_by_key(|files| files.first_seq);
    Ok(files)
}

/// What [`Store::compact`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Compaction {
    /// Ledger segments now kept as index segments only.
    pub segments: u64,
    /// Events in them.
    pub events: u64,
    /// Bytes of ledger segment files replaced.
    pub ledger_bytes: u64,
    /// Bytes of the index files written.
    pub index_bytes: u64,
}

/// A compaction committed by [`Store::commit_compaction`].
#[derive(Debug)]
pub struct CommittedCompaction {
    /// What it did.
    pub done: Compaction,
    /// The ledger's level-0 tiles inside the segment, now redundant: remove them on any
    /// thread ([`ledger::RedundantTiles::remove`]).
    pub tiles: ledger::RedundantTiles,
}

impl Compaction {
    fn add(&mut self, other: &Compaction) {
        self.segments += other.segments;
        self.events += other.events;
        self.ledger_bytes += other.ledger_bytes;
        self.index_bytes += other.index_bytes;
    }
}

/// The directory where a compaction writes a segment's index files before the writer
/// commits them ([`Store::commit_compaction`] moves them into `index/segments/`): until then
/// neither queries nor `verify` see them, and a store that opens empties it.
pub(crate) fn staging_dir(root: &Path) -> PathBuf {
    root.join("index").join("staging")
}

/// The heavy part of compacting one sealed ledger segment, made by
/// [`Store::compaction_job`] and run by [`CompactionJob::run`] on any thread (it holds no
/// borrow of the store): read the segment's records from its immutable file, decode the
/// events, write the index files durably to the staging directory, and compare every record
/// they reproduce with the segment file, byte for byte. Only the result goes back to the
/// store's owner, which commits it in milliseconds.
#[derive(Debug)]
pub struct CompactionJob {
    root: PathBuf,
    segment: ledger::SealedSegment,
    /// The index record the ledger already holds for this segment (a crash came between
    /// appending it and externalizing the segment): its files are in place and are checked,
    /// not written again.
    recorded: Option<IndexRecord>,
}

/// A compaction done but not committed: see [`Store::commit_compaction`].
#[derive(Debug)]
pub struct CompactedSegment {
    checked: ledger::CheckedSegment,
    record: IndexRecord,
    /// The files wait in the staging directory (else they are in place, with their index
    /// record in the ledger).
    staged: bool,
    index_bytes: u64,
    /// The identity keys of the segment's events, computed as they were converted (`None`
    /// when the files were in place already).
    keys: Option<crate::keys::SortedKeys>,
}

impl CompactedSegment {
    /// The first record of the segment.
    pub fn first_seq(&self) -> u64 {
        self.checked.info().first_seq
    }

    /// Events in the segment.
    pub fn events(&self) -> u64 {
        self.record.events
    }
}

impl CompactionJob {
    /// The first record of the segment to compact.
    pub fn first_seq(&self) -> u64 {
        self.segment.info().first_seq
    }

    /// Reads, converts, writes and checks (see [`CompactionJob`]); stops early with
    /// `ledger::Error::Cancelled` once `cancel` is set. On an error the staged files are
    /// removed again (and a store that opens removes whatever a crash left there).
    pub fn run(self, cancel: &AtomicBool) -> Result<CompactedSegment, StoreError> {
        let info = self.segment.info().clone();
        let end = info.first_seq + info.record_count;
        if let Some(record) = self.recorded {
            let files = IndexFiles::new(&self.root, info.first_seq, end);
            check_recorded_files(&files, &record)?;
            let checked =
                ledger::check_sealed(&self.segment, &ColumnarRecords::new(&self.root), cancel)?;
            return Ok(CompactedSegment {
                checked,
                record,
                staged: false,
                index_bytes: files_len(&files),
                keys: None,
            });
        }
        let staging = staging_dir(&self.root);
        std::fs::create_dir_all(&staging).map_err(|source| StoreError::Io {
            path: staging.clone(),
            source,
        })?;
        let files = IndexFiles::in_dir(&staging, info.first_seq, end);
        let cancelled = || {
            if cancel.load(Ordering::Relaxed) {
                Err(StoreError::Ledger(ledger::Error::Cancelled))
            } else {
                Ok(())
            }
        };
        let result = (|| {
            // The events are decoded as the Parquet writer takes them; a failure on the way
            // ends them early and is returned instead of the (then incomplete) files.
            let others = std::cell::RefCell::new(Vec::new());
            // The events' keys, for the store's row-form keys to drop once committed.
            let mut keys = Vec::with_capacity(usize::try_from(info.record_count).unwrap_or(0));
            let mut failure = None;
            let events = self
                .segment
                .records()
                .enumerate()
                .map_while(|(index, item)| {
                    let decoded = item.map_err(StoreError::from).and_then(|(seq, record)| {
                        if index % 4096 == 0 {
                            cancelled()?;
                        }
                        Ok(match read_event(seq, &record)? {
                            Some(event) => {
                                keys.push(crate::key(&event));
                                Some((seq, event))
                            }
                            None => {
                                others.borrow_mut().push((seq, record));
                                None
                            }
                        })
                    });
                    decoded.map_err(|error| failure = Some(error)).ok()
                })
                .flatten();
            let written = write_segment_files(&files, events, &others);
            if let Some(error) = failure {
                return Err(error);
            }
            let record = written?;
            cancelled()?;
            let checked =
                ledger::check_sealed(&self.segment, &ColumnarRecords::in_dir(&staging), cancel)?;
            Ok(CompactedSegment {
                checked,
                record,
                staged: true,
                index_bytes: files_len(&files),
                // Sorted here, off the writer that commits the compaction.
                keys: Some(crate::keys::SortedKeys::new(keys)),
            })
        })();
        if result.is_err() {
            remove_files(&files);
        }
        result
    }
}

impl Store {
    /// Sealed ledger segments still held in their row form, oldest first: what
    /// [`Store::compact`] would convert.
    pub fn compactable(&self) -> Vec<ledger::SegmentInfo> {
        self.ledger
            .segments()
            .into_iter()
            .filter(|segment| segment.sealed && !segment.external)
            .collect()
    }

    /// The compaction of the oldest sealed segment still in row form, to run on any thread
    /// ([`CompactionJob::run`]) while this store goes on appending; `None` when there is none.
    /// One compaction at a time: the next job is for the same segment until its result is
    /// committed.
    pub fn compaction_job(&self) -> Result<Option<CompactionJob>, StoreError> {
        let Some(segment) = self.compactable().into_iter().next() else {
            return Ok(None);
        };
        let end = segment.first_seq + segment.record_count;
        Ok(Some(CompactionJob {
            root: self.root.clone(),
            segment: self.ledger.sealed_segment(segment.first_seq)?,
            recorded: self
                .index_pending
                .get(&segment.first_seq)
                .filter(|record| record.end_seq == end)
                .cloned(),
        }))
    }

    /// Commits a compaction made by [`CompactionJob::run`], on the writer's thread and in
    /// milliseconds: checks that the segment is still the sealed row-form segment that was
    /// compacted (else discards the staged files and returns `None`: pruned or compacted
    /// meanwhile), moves the index files into place, appends the index record committing to
    /// their hashes, and has the ledger externalize the segment with the proof of the
    /// comparison the job made ([`ledger::Ledger::externalize_checked`]), without comparing
    /// again.
    pub fn commit_compaction(
        &mut self,
        done: CompactedSegment,
        now: std::time::SystemTime,
    ) -> Result<Option<CommittedCompaction>, StoreError> {
        let info = done.checked.info().clone();
        let first = info.first_seq;
        let end = first + info.record_count;
        let current = self
            .ledger
            .segments()
            .into_iter()
            .find(|segment| segment.first_seq == first);
        let recorded_meanwhile = done.staged && self.index_pending.contains_key(&first);
        if current.as_ref() != Some(&info) || recorded_meanwhile {
            if done.staged {
                remove_files(&IndexFiles::in_dir(&staging_dir(&self.root), first, end));
            }
            return Ok(None);
        }
        if done.staged {
            self.place_files(first, end)?;
            self.ledger.append_batch(&[done.record.to_record()], now)?;
            self.index_pending.insert(first, done.record.clone());
        }
        let tiles = self.ledger.externalize_checked(done.checked, now)?;
        self.index_pending.remove(&first);
        self.keys.seal_compacted(first, end, done.keys);
        Ok(Some(CommittedCompaction {
            done: Compaction {
                segments: 1,
                events: done.record.events,
                ledger_bytes: info.file_len,
                index_bytes: done.index_bytes,
            },
            tiles,
        }))
    }

    /// Moves the staged index files of `first .. end` into `index/segments/`, the Parquet
    /// file last (queries and `verify` find a segment by it), durably.
    fn place_files(&self, first: u64, end: u64) -> Result<(), StoreError> {
        let staged = IndexFiles::in_dir(&staging_dir(&self.root), first, end);
        let target = IndexFiles::new(&self.root, first, end);
        std::fs::create_dir_all(segments_dir(&self.root)).map_err(|source| StoreError::Io {
            path: segments_dir(&self.root),
            source,
        })?;
        for (from, to) in [
            (&staged.extra, &target.extra),
            (&staged.keys, &target.keys),
            (&staged.parquet, &target.parquet),
        ] {
            std::fs::rename(from, to).map_err(|source| StoreError::Io {
                path: to.clone(),
                source,
            })?;
        }
        // Durable before the index record that says they are there (the staging directory
        // need not be: whatever stays in it is removed at open).
        let directory = segments_dir(&self.root);
        File::open(&directory)
            .and_then(|directory| directory.sync_all())
            .map_err(|source| StoreError::Io {
                path: directory,
                source,
            })?;
        Ok(())
    }

    /// Converts every sealed ledger segment to its columnar form, the one copy of its
    /// records at rest: the events as a Parquet index segment (with their lookup keys), the
    /// other records beside it, an index record in the ledger committing to the files'
    /// hashes, then the ledger externalizes the segment once the files were shown to
    /// reproduce every record byte for byte (it removes the segment file and its level-0
    /// tiles). [`Store::compaction_job`] and [`Store::commit_compaction`] one segment after
    /// another, on this thread. `on_segment` is called after each segment (for progress).
    pub fn compact(
        &mut self,
        now: std::time::SystemTime,
        mut on_segment: impl FnMut(&Compaction),
    ) -> Result<Compaction, StoreError> {
        let mut done = Compaction::default();
        // The index records appended on the way may seal further segments: they are
        // compacted too.
        while self.compact_one(now, &mut done)? {
            on_segment(&done);
        }
        Ok(done)
    }

    /// Compacts at most one sealed segment (the oldest still in its row form), on this
    /// thread; returns whether one was compacted.
    pub fn compact_next(&mut self, now: std::time::SystemTime) -> Result<bool, StoreError> {
        self.compact_one(now, &mut Compaction::default())
    }

    fn compact_one(
        &mut self,
        now: std::time::SystemTime,
        done: &mut Compaction,
    ) -> Result<bool, StoreError> {
        let Some(job) = self.compaction_job()? else {
            return Ok(false);
        };
        let path = job.segment.info().path.clone();
        let compacted = job.run(&AtomicBool::new(false))?;
        // Nothing else changes the ledger on this thread meanwhile.
        let one = self
            .commit_compaction(compacted, now)?
            .ok_or(StoreError::Ledger(ledger::Error::SegmentChanged { path }))?;
        one.tiles.remove()?;
        done.add(&one.done);
        Ok(true)
    }
}

/// Recovers the compactions a crash interrupted, when a store opens: empties the staging
/// directory; removes index files in place for a row-form segment that no index record
/// vouches for (moved in, but the record not appended: they are written again); and returns
/// the index records of row-form segments (appended, but the segment not externalized:
/// [`Store::compaction_job`] checks those files instead of writing them).
pub(crate) fn recover_compactions(
    root: &Path,
    ledger: &ledger::Ledger,
    index_records: Vec<IndexRecord>,
) -> Result<BTreeMap<u64, IndexRecord>, StoreError> {
    let staging = staging_dir(root);
    match std::fs::read_dir(&staging) {
        Ok(entries) => {
            for entry in entries {
                let path = entry
                    .map_err(|source| StoreError::Io {
                        path: staging.clone(),
                        source,
                    })?
                    .path();
                std::fs::remove_file(&path).map_err(|source| StoreError::Io { path, source })?;
            }
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(StoreError::Io {
                path: staging,
                source,
            });
        }
    }
    let row_form: BTreeMap<u64, u64> = ledger
        .segments()
        .into_iter()
        .filter(|segment| segment.sealed && !segment.external)
        .map(|segment| (segment.first_seq, segment.first_seq + segment.record_count))
        .collect();
    let pending: BTreeMap<u64, IndexRecord> = index_records
        .into_iter()
        .filter(|record| row_form.get(&record.first_seq) == Some(&record.end_seq))
        .map(|record| (record.first_seq, record))
        .collect();
    let mut removed = false;
    for files in segment_files(root)? {
        let row_form_range = row_form.get(&files.first_seq) == Some(&files.end_seq);
        if row_form_range && !pending.contains_key(&files.first_seq) {
            for path in [&files.parquet, &files.keys, &files.extra] {
                match std::fs::remove_file(path) {
                    Ok(()) => removed = true,
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                    Err(source) => {
                        return Err(StoreError::Io {
                            path: path.clone(),
                            source,
                        });
                    }
                }
            }
        }
    }
    if removed {
        let directory = segments_dir(root);
        File::open(&directory)
            .and_then(|directory| directory.sync_all())
            .map_err(|source| StoreError::Io {
                path: directory,
                source,
            })?;
    }
    Ok(pending)
}

/// Checks that the files of a segment whose index record is in the ledger are the ones it
/// commits to.
fn check_recorded_files(files: &IndexFiles, record: &IndexRecord) -> Result<(), StoreError> {
    let mut checks = vec![
        (&files.parquet, Some(&record.parquet_sha256)),
        (&files.keys, Some(&record.keys_sha256)),
    ];
    if record.v == 2 {
        checks.push((&files.extra, record.extra_sha256.as_ref()));
    }
    for (path, expected) in checks {
        let bytes = std::fs::read(path).map_err(|source| StoreError::Io {
            path: path.clone(),
            source,
        })?;
        if expected != Some(&hex(&Sha256::digest(&bytes))) {
            return Err(StoreError::Io {
                path: path.clone(),
                source: std::io::Error::other(
                    "does not match the SHA-256 its index record commits to; run verify",
                ),
            });
        }
    }
    Ok(())
}

fn files_len(files: &IndexFiles) -> u64 {
    file_len(&files.parquet) + file_len(&files.keys) + file_len(&files.extra)
}

/// Removes a segment's index files, as far as they exist (cleanup: errors are ignored, and
/// what stays is removed when the store opens next).
fn remove_files(files: &IndexFiles) {
    for path in [&files.parquet, &files.keys, &files.extra] {
        let _ = std::fs::remove_file(path);
    }
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |metadata| metadata.len())
}

/// Writes the index files of `files`' range durably: the Parquet file of `events` (streamed:
/// only the column builders of a row group are held, not the decoded events), its keys, and
/// the `.extra` file of the records that are not events, which `others` holds once `events`
/// is exhausted. Returns the index record committing to them.
fn write_segment_files<E: std::borrow::Borrow<AuditEvent>>(
    files: &IndexFiles,
    events: impl IntoIterator<Item = (u64, E)>,
    others: &std::cell::RefCell<Vec<(u64, Vec<u8>)>>,
) -> Result<IndexRecord, StoreError> {
    let index_error = |path: &Path, error: index::Error| StoreError::Io {
        path: path.to_owned(),
        source: std::io::Error::other(error.to_string()),
    };
    let mut parquet = Vec::new();
    let written = index::write_segment(&mut parquet, events)
        .map_err(|error| index_error(&files.parquet, error))?;
    let keys = written.keys.to_bytes();
    let extra = encode_extra(files.first_seq, files.end_seq, &others.borrow());
    write_durably(&files.extra, &extra)?;
    write_durably(&files.keys, &keys)?;
    write_durably(&files.parquet, &parquet)?;
    Ok(IndexRecord {
        v: 2,
        first_seq: files.first_seq,
        end_seq: files.end_seq,
        events: written.meta.rows,
        parquet_sha256: hex(&Sha256::digest(&parquet)),
        keys_sha256: hex(&Sha256::digest(&keys)),
        extra_sha256: Some(hex(&Sha256::digest(&extra))),
    })
}

/// Magic of an `.extra` file.
const EXTRA_MAGIC: [u8; 8] = *b"ADTRLXTR";

/// `.extra`: magic "ADTRLXTR" | first_seq u64 | end_seq u64 | count u64, then per record
/// seq u64 | length u32 | bytes (little-endian). Not checksummed on its own: every record
/// in it is a ledger leaf, recomputed by `verify`.
pub(crate) fn encode_extra(first: u64, end: u64, others: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut bytes =
        Vec::with_capacity(32 + others.iter().map(|(_, r)| 12 + r.len()).sum::<usize>());
    bytes.extend_from_slice(&EXTRA_MAGIC);
    bytes.extend_from_slice(&first.to_le_bytes());
    bytes.extend_from_slice(&end.to_le_bytes());
    bytes.extend_from_slice(&(others.len() as u64).to_le_bytes());
    for (seq, record) in others {
        bytes.extend_from_slice(&seq.to_le_bytes());
        bytes.extend_from_slice(
            &u32::try_from(record.len())
                .unwrap_or(u32::MAX)
                .to_le_bytes(),
        );
        bytes.extend_from_slice(record);
    }
    bytes
}

fn decode_extra(bytes: &[u8], first: u64, end: u64) -> Result<Vec<(u64, Vec<u8>)>, String> {
    let u64_at = |at: usize| -> Result<u64, String> {
        bytes
            .get(at..at + 8)
            .and_then(|slice| slice.try_into().ok())
            .map(u64::from_le_bytes)
            .ok_or_else(|| format!("truncated at byte {at}"))
    };
    if bytes.get(..8) != Some(EXTRA_MAGIC.as_slice()) {
        return Err("not an .extra file".to_owned());
    }
    if u64_at(8)? != first || u64_at(16)? != end {
        return Err("covers another range than its name".to_owned());
    }
    let count = u64_at(24)?;
    if count > end - first {
        return Err(format!("{count} records in a range of {}", end - first));
    }
    let mut at = 32;
    let mut records = Vec::new();
    for _ in 0..count {
        let seq = u64_at(at)?;
        let len = bytes
            .get(at + 8..at + 12)
            .and_then(|slice| slice.try_into().ok())
            .map(u32::from_le_bytes)
            .ok_or_else(|| format!("truncated at byte {at}"))? as usize;
        let record = bytes
            .get(at + 12..at + 12 + len)
            .ok_or_else(|| format!("truncated record at byte {at}"))?;
        records.push((seq, record.to_vec()));
        at += 12 + len;
    }
    if at != bytes.len() {
        return Err(format!("{} bytes after the last record", bytes.len() - at));
    }
    Ok(records)
}

/// The records of externalized ledger segments, rebuilt from their index segments: each
/// event re-encoded in its ledger form (`jsonl` without the newline) merged with the other
/// records in sequence order. What the ledger hashes from these must equal what it signed.
#[derive(Debug, Clone)]
pub(crate) struct ColumnarRecords {
    /// The directory of the index files (`index/segments/`, or the staging directory for a
    /// compaction's check before the files are committed).
    dir: PathBuf,
}

impl ColumnarRecords {
    pub(crate) fn new(root: &Path) -> ColumnarRecords {
        ColumnarRecords::in_dir(&segments_dir(root))
    }

    pub(crate) fn in_dir(dir: &Path) -> ColumnarRecords {
        ColumnarRecords {
            dir: dir.to_owned(),
        }
    }

    /// The records of `first .. end` that are not events (kept in `.extra`), with their
    /// sequence numbers.
    pub(crate) fn others(&self, first: u64, end: u64) -> Result<Vec<(u64, Vec<u8>)>, String> {
        let files = IndexFiles::in_dir(&self.dir, first, end);
        let extra = std::fs::read(&files.extra)
            .map_err(|error| format!("{}: {error}", files.extra.display()))?;
        decode_extra(&extra, first, end)
            .map_err(|reason| format!("{}: {reason}", files.extra.display()))
    }

    /// Records `first .. end`, in order.
    pub(crate) fn read(&self, first: u64, end: u64) -> Result<Vec<Vec<u8>>, String> {
        self.iter(first, end)?.collect()
    }

    /// Records `first .. end`, in order, decoded from the Parquet file one batch of rows at
    /// a time.
    pub(crate) fn iter(&self, first: u64, end: u64) -> Result<ColumnarIter, String> {
        self.iter_from(first, end, first)
    }

    /// Records `from .. end` of the range `first .. end`, in order. The events before `from`
    /// are skipped in the Parquet file by row: rows hold the range's events in sequence
    /// order, one each, so the row of `from` is its offset in the range less the `.extra`
    /// records before it (a file that breaks this yields records that differ from the
    /// ledger's, or fails).
    pub(crate) fn iter_from(
        &self,
        first: u64,
        end: u64,
        from: u64,
    ) -> Result<ColumnarIter, String> {
        let files = IndexFiles::in_dir(&self.dir, first, end);
        let mut others = self.others(first, end)?;
        let before = others.iter().filter(|(seq, _)| *seq < from).count() as u64;
        others.retain(|(seq, _)| *seq >= from);
        let row = from.saturating_sub(first).saturating_sub(before);
        let events = index::Segment::open(&files.parquet)
            .and_then(|segment| segment.event_rows_from(row, index::limits::READ_BATCH_ROWS))
            .map_err(|error| format!("{}: {error}", files.parquet.display()))?;
        Ok(ColumnarIter {
            parquet: files.parquet,
            events,
            pending: None,
            scratch: Vec::new(),
            others: others.into_iter().peekable(),
            next: from,
            end,
            failed: false,
        })
    }
}

/// The records of an index segment's range, in order: see [`ColumnarRecords::iter`].
pub(crate) struct ColumnarIter {
    parquet: PathBuf,
    events: index::EventRows,
    /// The next event of the Parquet file, read ahead to compare its sequence number.
    pending: Option<(u64, AuditEvent)>,
    /// Where each event is encoded before it is copied out at its exact length.
    scratch: Vec<u8>,
    others: std::iter::Peekable<std::vec::IntoIter<(u64, Vec<u8>)>>,
    next: u64,
    end: u64,
    failed: bool,
}

impl ColumnarIter {
    fn fail(&mut self, reason: String) -> Option<Result<Vec<u8>, String>> {
        self.failed = true;
        Some(Err(format!("{}: {reason}", self.parquet.display())))
    }
}

impl Iterator for ColumnarIter {
    type Item = Result<Vec<u8>, String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        if self.pending.is_none() {
            match self.events.next() {
                Some(Ok(event)) => self.pending = Some(event),
                Some(Err(error)) => return self.fail(error.to_string()),
                None => {}
            }
        }
        let seq = self.next;
        if seq >= self.end {
            if self.pending.is_some() || self.others.peek().is_some() {
                let end = self.end;
                return self.fail(format!("records outside the range ending at {end}"));
            }
            return None;
        }
        self.next += 1;
        if let Some((at, event)) = &self.pending
            && *at == seq
        {
            self.scratch.clear();
            formats::jsonl::encode(event, &mut self.scratch);
            self.scratch.pop();
            self.pending = None;
            return Some(Ok(self.scratch.as_slice().to_vec()));
        }
        if self.others.peek().is_some_and(|(at, _)| *at == seq) {
            let (_, record) = self.others.next()?;
            return Some(Ok(record));
        }
        self.fail(format!(
            "record {seq} is in neither the Parquet file nor the .extra file"
        ))
    }
}

impl ledger::SealedRecords for ColumnarRecords {
    fn records<'a>(
        &'a self,
        segment: &ledger::SegmentInfo,
    ) -> Result<ledger::RecordIter<'a>, ledger::Error> {
        let end = segment.first_seq + segment.record_count;
        let corrupt = |reason: String| ledger::Error::Corrupt {
            path: segment.path.clone(),
            offset: 0,
            reason,
        };
        let records = self.iter(segment.first_seq, end).map_err(corrupt)?;
        Ok(corrupt_at(segment, records))
    }

    fn records_from<'a>(
        &'a self,
        segment: &ledger::SegmentInfo,
        from: u64,
    ) -> Result<ledger::RecordIter<'a>, ledger::Error> {
        let end = segment.first_seq + segment.record_count;
        let records = self
            .iter_from(segment.first_seq, end, from.clamp(segment.first_seq, end))
            .map_err(|reason| ledger::Error::Corrupt {
                path: segment.path.clone(),
                offset: 0,
                reason,
            })?;
        Ok(corrupt_at(segment, records))
    }
}

/// `records` as the ledger reads them: a failure is a corrupt `segment`.
fn corrupt_at<'a>(segment: &ledger::SegmentInfo, records: ColumnarIter) -> ledger::RecordIter<'a> {
    let path = segment.path.clone();
    Box::new(records.map(move |record| {
        record.map_err(|reason| ledger::Error::Corrupt {
            path: path.clone(),
            offset: 0,
            reason,
        })
    }))
}

/// Writes each file to a temporary file and syncs it, then renames them all into place and
/// syncs their directory once.
pub(crate) fn write_all_durably(files: &[(&Path, &[u8])]) -> Result<(), StoreError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| StoreError::Io { path, source }
    };
    let temporary = |path: &Path| {
        let mut name = path.as_os_str().to_owned();
        name.push(".tmp");
        PathBuf::from(name)
    };
    for (path, bytes) in files {
        let temporary = temporary(path);
        let mut file = File::create(&temporary).map_err(io(&temporary))?;
        file.write_all(bytes).map_err(io(&temporary))?;
        file.sync_all().map_err(io(&temporary))?;
    }
    let mut parents = Vec::new();
    for (path, _) in files {
        std::fs::rename(temporary(path), path).map_err(io(path))?;
        if let Some(parent) = path.parent()
            && !parents.contains(&parent)
        {
            parents.push(parent);
        }
    }
    for parent in parents {
        File::open(parent)
            .and_then(|directory| directory.sync_all())
            .map_err(io(parent))?;
    }
    Ok(())
}

/// Removes index files that no ledger record can vouch for: those reaching beyond the
/// ledger's `tree_size` (written by a bulk load that a crash stopped before the ledger took
/// the segment) and temporary files.
pub(crate) fn remove_unrecorded_files(root: &Path, tree_size: u64) -> Result<(), StoreError> {
    let directory = segments_dir(root);
    let entries = match std::fs::read_dir(&directory) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(StoreError::Io {
                path: directory,
                source,
            });
        }
    };
    let mut removed = false;
    for entry in entries {
        let path = entry
            .map_err(|source| StoreError::Io {
                path: directory.clone(),
                source,
            })?
            .path();
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or_default();
        let Some((stem, extension)) = name.rsplit_once('.') else {
            continue;
        };
        let beyond = stem
            .split_once('-')
            .and_then(|(_, end)| end.parse::<u64>().ok())
            .is_some_and(|end| end > tree_size);
        let ours = matches!(extension, "parquet" | "keys" | "extra" | "tmp");
        if ours && (beyond || extension == "tmp") {
            std::fs::remove_file(&path).map_err(|source| StoreError::Io {
                path: path.clone(),
                source,
            })?;
            removed = true;
        }
    }
    if removed {
        File::open(&directory)
            .and_then(|directory| directory.sync_all())
            .map_err(|source| StoreError::Io {
                path: directory,
                source,
            })?;
    }
    Ok(())
}

/// Writes `bytes` to a temporary file, syncs it and renames it into place.
fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let temporary = path.with_extension("tmp");
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| StoreError::Io { path, source }
    };
    let mut file = File::create(&temporary).map_err(io(&temporary))?;
    file.write_all(bytes).map_err(io(&temporary))?;
    file.sync_all().map_err(io(&temporary))?;
    std::fs::rename(&temporary, path).map_err(io(path))?;
    if let Some(parent) = path.parent().and_then(|parent| File::open(parent).ok()) {
        let _ = parent.sync_all();
    }
    Ok(())
}

/// Removes the index segments whose whole range lies below `before_seq` (pruned records).
pub(crate) fn remove_pruned_segments(root: &Path, before_seq: u64) -> Result<(), StoreError> {
    for files in segment_files(root)? {
        if files.end_seq <= before_seq {
            for path in [files.parquet, files.keys, files.extra] {
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                    Err(source) => return Err(StoreError::Io { path, source }),
                }
            }
        }
    }
    Ok(())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Opens the trail at `root` for queries, read-only: every index segment, and the events of
/// the tail after the last one, read from the ledger's files.
pub fn open_dataset(root: &Path) -> Result<index::Dataset, StoreError> {
    if !root.join("ledger").is_dir() {
        return Err(StoreError::Io {
            path: root.join("ledger"),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no audit trail here: check --data, or import events first",
            ),
        });
    }
    let mut segments = Vec::new();
    let mut indexed_until = 0;
    for IndexFiles {
        end_seq,
        parquet,
        keys,
        ..
    } in segment_files(root)?
    {
        let index_error = |error: index::Error| StoreError::Io {
            path: parquet.clone(),
            source: std::io::Error::other(error.to_string()),
        };
        let key_bytes = std::fs::read(&keys).map_err(|source| StoreError::Io {
            path: keys.clone(),
            source,
        })?;
        let key_index = index::KeyIndex::from_bytes(&key_bytes).map_err(index_error)?;
        segments.push(
            index::Segment::open(&parquet)
                .map_err(index_error)?
                .with_keys(key_index),
        );
        indexed_until = indexed_until.max(end_seq);
    }
    let mut tail = Vec::new();
    let mut error = None;
    crate::records::scan(root, indexed_until, |seq, record| {
        match read_event(seq, record) {
            Ok(Some(event)) => tail.push((seq, event)),
            Ok(None) => {}
            Err(failure) => {
                error.get_or_insert(failure);
            }
        }
    })?;
    if let Some(error) = error {
        return Err(error);
    }
    index::Dataset::new(segments)
        .with_tail(tail)
        .map_err(|error| StoreError::Io {
            path: root.to_owned(),
            source: std::io::Error::other(error.to_string()),
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::path::Path;
    use std::sync::atomic::AtomicBool;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use crate::{IndexRecord, Prepared, PruneCriteria, Store, StoreOptions};

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_760_000_000)
    }

    fn options() -> StoreOptions {
        StoreOptions {
            origin: Some("test.example/store".to_owned()),
            ..StoreOptions::default()
        }
    }

    /// A store of small segments holding `batches` batches of 100 events.
    fn small_store(dir: &Path, batches: u64) -> Store {
        std::fs::write(
            dir.join("store.json"),
            r#"{"format":"auditrail-store","version":3,"origin":"test.example/store","segment_bytes":8192}"#,
        )
        .unwrap();
        let mut store = Store::open(dir, options(), now()).unwrap();
        let events: Vec<event::AuditEvent> =
            synth::Generator::new(21, synth::SynthConfig::default())
                .take(usize::try_from(batches).unwrap() * 100)
                .collect();
        for chunk in events.chunks(100) {
            store.append(&Prepared::from_events(chunk), now()).unwrap();
        }
        assert!(store.compactable().len() >= 3, "{:?}", store.compactable());
        store
    }

    fn intact(dir: &Path) {
        let report = crate::verify(dir, &ledger::VerifyOptions::default()).unwrap();
        assert!(report.is_intact(), "{:?}", report.findings);
    }

    fn staged(dir: &Path) -> usize {
        std::fs::read_dir(super::staging_dir(dir)).map_or(0, |entries| entries.count())
    }

    fn index_records_for(store: &Store, first: u64) -> usize {
        store
            .ledger()
            .records(0..store.ledger().tree_size())
            .filter_map(|item| IndexRecord::parse(&item.unwrap().1))
            .filter(|record| record.first_seq == first)
            .count()
    }

    /// Reading a segment's records from midway (how a check splits among threads) yields
    /// exactly what reading it from the start yields from there on, whether the records
    /// before are events (skipped as Parquet rows) or heartbeats kept in `.extra`.
    #[test]
    fn records_from_midway_match_the_whole_read() {
        use ledger::SealedRecords;
        let dir = tempfile::tempdir().unwrap();
        let mut store = small_store(dir.path(), 4);
        store.heartbeat(now()).unwrap();
        store.heartbeat(now()).unwrap();
        let more: Vec<event::AuditEvent> = synth::Generator::new(23, synth::SynthConfig::default())
            .take(400)
            .collect();
        for chunk in more.chunks(100) {
            store.append(&Prepared::from_events(chunk), now()).unwrap();
            store.heartbeat(now()).unwrap();
        }
        store.compact(now(), |_| {}).unwrap();
        let source = super::ColumnarRecords::new(dir.path());
        let mut others_seen = 0;
        for segment in store.ledger().segments().iter().filter(|s| s.external) {
            let whole: Vec<Vec<u8>> = source
                .records(segment)
                .unwrap()
                .map(Result::unwrap)
                .collect();
            assert_eq!(whole.len() as u64, segment.record_count);
            let first = segment.first_seq;
            for (at, record) in whole.iter().enumerate() {
                if crate::read_event(first + at as u64, record)
                    .unwrap()
                    .is_none()
                {
                    others_seen += 1;
                }
            }
            for offset in 0..=whole.len() {
                let from: Vec<Vec<u8>> = source
                    .records_from(segment, first + offset as u64)
                    .unwrap()
                    .map(Result::unwrap)
                    .collect();
                assert_eq!(from, whole[offset..], "segment {first}, from {offset}");
            }
        }
        assert!(
            others_seen >= 5,
            "heartbeats inside the segments: {others_seen}"
        );
        store.close(now()).unwrap();
    }

    /// The heavy part runs on another thread while the store appends; the commit only moves
    /// files, appends the index record and externalizes; queries see every event once.
    #[test]
    fn a_job_runs_beside_appends_and_commits() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = small_store(dir.path(), 10);
        let job = store.compaction_job().unwrap().unwrap();
        let first = job.first_seq();
        let running = std::thread::spawn(move || job.run(&AtomicBool::new(false)));
        let more: Vec<event::AuditEvent> = synth::Generator::new(22, synth::SynthConfig::default())
            .take(300)
            .collect();
        store.append(&Prepared::from_events(&more), now()).unwrap();
        let compacted = running.join().unwrap().unwrap();
        assert_eq!(compacted.first_seq(), first);
        assert!(compacted.events() > 0);
        // Staged files are seen by neither queries nor verify before the commit.
        assert!(super::segment_files(dir.path()).unwrap().is_empty());
        assert_eq!(staged(dir.path()), 3);
        let done = store.commit_compaction(compacted, now()).unwrap().unwrap();
        assert_eq!(done.done.segments, 1);
        assert!(done.tiles.remove().is_ok());
        assert_eq!(staged(dir.path()), 0);
        assert!(store.ledger().segments()[0].external);
        assert_eq!(index_records_for(&store, first), 1);
        store.compact(now(), |_| {}).unwrap();
        let tree_size = store.ledger().tree_size();
        let stored = store
            .ledger()
            .records(0..tree_size)
            .filter(|item| {
                let (seq, record) = item.as_ref().unwrap();
                crate::read_event(*seq, record).unwrap().is_some()
            })
            .count();
        store.close(now()).unwrap();
        let events = crate::open_dataset(dir.path())
            .unwrap()
            .query(&index::Filter::default(), usize::MAX)
            .unwrap()
            .events;
        let mut seqs: Vec<u64> = events.iter().map(|(seq, _)| *seq).collect();
        seqs.sort_unstable();
        seqs.dedup();
        assert_eq!(seqs.len(), events.len(), "no event twice");
        assert_eq!(events.len(), stored);
        assert!(stored >= 1000);
        intact(dir.path());
    }

    /// A finished job whose segment was compacted or pruned meanwhile is discarded, leaving
    /// the files that count untouched.
    #[test]
    fn commit_is_refused_when_the_segment_changed_meanwhile() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = small_store(dir.path(), 10);
        let never = AtomicBool::new(false);
        let late = store
            .compaction_job()
            .unwrap()
            .unwrap()
            .run(&never)
            .unwrap();
        assert!(store.compact_next(now()).unwrap());
        assert!(store.commit_compaction(late, now()).unwrap().is_none());
        assert_eq!(staged(dir.path()), 0);
        let late = store
            .compaction_job()
            .unwrap()
            .unwrap()
            .run(&never)
            .unwrap();
        let pruned = late.first_seq();
        let plan = store
            .plan_prune(&PruneCriteria {
                before: Some(event::Timestamp::from_unix_nanos(i64::MAX)),
                max_bytes: None,
            })
            .unwrap();
        assert!(plan.before_seq > pruned, "{plan:?}");
        store.prune(&plan, "test", now()).unwrap().unwrap();
        assert!(store.commit_compaction(late, now()).unwrap().is_none());
        assert_eq!(staged(dir.path()), 0);
        store.compact(now(), |_| {}).unwrap();
        store.close(now()).unwrap();
        intact(dir.path());
    }

    /// A crash after the files were staged: the store opens with an empty staging directory,
    /// compacts again and verifies.
    #[test]
    fn crash_with_files_staged() {
        let dir = tempfile::tempdir().unwrap();
        let store = small_store(dir.path(), 6);
        let job = store.compaction_job().unwrap().unwrap();
        job.run(&AtomicBool::new(false)).unwrap();
        assert_eq!(staged(dir.path()), 3);
        drop(store);
        intact(dir.path());
        let mut store = Store::open(dir.path(), options(), now()).unwrap();
        assert_eq!(staged(dir.path()), 0);
        store.compact(now(), |_| {}).unwrap();
        store.close(now()).unwrap();
        intact(dir.path());
    }

    /// A crash after the files were moved into place but before the index record was
    /// appended: nothing vouches for them, so the store that opens removes them (verify
    /// passes), and compacts the segment again.
    #[test]
    fn crash_with_files_in_place_but_no_index_record() {
        let dir = tempfile::tempdir().unwrap();
        let store = small_store(dir.path(), 6);
        let job = store.compaction_job().unwrap().unwrap();
        let first = job.first_seq();
        let done = job.run(&AtomicBool::new(false)).unwrap();
        let end = done.checked.info().first_seq + done.checked.info().record_count;
        store.place_files(first, end).unwrap();
        assert_eq!(super::segment_files(dir.path()).unwrap().len(), 1);
        drop(store);
        let mut store = Store::open(dir.path(), options(), now()).unwrap();
        assert!(super::segment_files(dir.path()).unwrap().is_empty());
        intact(dir.path());
        store.compact(now(), |_| {}).unwrap();
        assert_eq!(index_records_for(&store, first), 1);
        store.close(now()).unwrap();
        intact(dir.path());
    }

    /// A crash after the index record was appended but before the segment was externalized:
    /// the files are vouched for (verify passes), and the next compaction of the segment
    /// checks them instead of writing new ones, appending no second index record.
    #[test]
    fn crash_with_index_record_but_not_externalized() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = small_store(dir.path(), 6);
        let job = store.compaction_job().unwrap().unwrap();
        let first = job.first_seq();
        let done = job.run(&AtomicBool::new(false)).unwrap();
        let end = done.checked.info().first_seq + done.checked.info().record_count;
        store.place_files(first, end).unwrap();
        store
            .ledger
            .append_batch(&[done.record.to_record()], now())
            .unwrap();
        let parquet =
            std::fs::read(super::IndexFiles::new(dir.path(), first, end).parquet).unwrap();
        drop(store);
        let mut store = Store::open(dir.path(), options(), now()).unwrap();
        assert!(!store.ledger().segments()[0].external);
        intact(dir.path());
        let job = store.compaction_job().unwrap().unwrap();
        assert!(job.recorded.is_some());
        let done = job.run(&AtomicBool::new(false)).unwrap();
        assert!(!done.staged);
        store.commit_compaction(done, now()).unwrap().unwrap();
        assert!(store.ledger().segments()[0].external);
        assert_eq!(index_records_for(&store, first), 1);
        assert_eq!(
            std::fs::read(super::IndexFiles::new(dir.path(), first, end).parquet).unwrap(),
            parquet
        );
        store.compact(now(), |_| {}).unwrap();
        store.close(now()).unwrap();
        intact(dir.path());
    }

    /// A cancelled job leaves nothing staged.
    #[test]
    fn a_cancelled_job_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = small_store(dir.path(), 4);
        let error = store
            .compaction_job()
            .unwrap()
            .unwrap()
            .run(&AtomicBool::new(true))
            .unwrap_err();
        assert!(error.is_cancelled(), "{error}");
        assert_eq!(staged(dir.path()), 0);
    }
}
