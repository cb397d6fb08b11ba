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
//! After writing the files the store appends an **index record** to the ledger itself,
//! `{"auditrail_index":{"v":2,"first_seq":…,"end_seq":…,"events":…,"parquet_sha256":…,
//! "keys_sha256":…,"extra_sha256":…}}`, so the next signed checkpoint commits to the files'
//! hashes too; then the ledger [externalizes](ledger::Ledger::externalize) the segment:
//! it re-reads every record through [`ColumnarRecords`] (events re-encoded from their
//! Parquet rows), compares them byte for byte with the segment file, and only then
//! replaces the file by a stub and drops the segment's level-0 tiles.
//!
//! Invariants:
//! - Every record of an externalized segment is reproduced exactly by its index files
//!   (checked before the row copy goes, and by every `verify`, which re-hashes the leaves
//!   from them).
//! - Records after the last index segment are the tail, read from the ledger files at
//!   query time. Queries open everything read-only and without the writer's lock, so they
//!   work beside a running server.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

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
        let directory = segments_dir(root);
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

    /// Converts every sealed ledger segment to its columnar form, the one copy of its
    /// records at rest: the events as a Parquet index segment (with their lookup keys), the
    /// other records beside it, an index record in the ledger committing to the files'
    /// hashes, then [`ledger::Ledger::externalize`], which checks that the files reproduce
    /// every record byte for byte before it removes the segment file and its level-0
    /// tiles. `on_segment` is called after each segment (for progress).
    pub fn compact(
        &mut self,
        now: std::time::SystemTime,
        mut on_segment: impl FnMut(&Compaction),
    ) -> Result<Compaction, StoreError> {
        std::fs::create_dir_all(segments_dir(&self.root)).map_err(|source| StoreError::Io {
            path: segments_dir(&self.root),
            source,
        })?;
        let existing: std::collections::BTreeMap<u64, IndexFiles> = segment_files(&self.root)?
            .into_iter()
            .map(|files| (files.first_seq, files))
            .collect();
        let mut done = Compaction::default();
        // The index records appended on the way may seal further segments: go again.
        let mut pending = self.compactable();
        while !pending.is_empty() {
            for segment in pending {
                self.compact_segment(&segment, &existing, now, &mut done)?;
                on_segment(&done);
            }
            pending = self.compactable();
        }
        Ok(done)
    }

    /// Compacts at most one sealed segment (the oldest still in its row form), for a
    /// server that compacts while idle; returns whether one was compacted.
    pub fn compact_next(&mut self, now: std::time::SystemTime) -> Result<bool, StoreError> {
        let Some(segment) = self.compactable().into_iter().next() else {
            return Ok(false);
        };
        std::fs::create_dir_all(segments_dir(&self.root)).map_err(|source| StoreError::Io {
            path: segments_dir(&self.root),
            source,
        })?;
        let existing: std::collections::BTreeMap<u64, IndexFiles> = segment_files(&self.root)?
            .into_iter()
            .filter(|files| files.first_seq == segment.first_seq)
            .map(|files| (files.first_seq, files))
            .collect();
        self.compact_segment(&segment, &existing, now, &mut Compaction::default())?;
        Ok(true)
    }

    fn compact_segment(
        &mut self,
        segment: &ledger::SegmentInfo,
        existing: &std::collections::BTreeMap<u64, IndexFiles>,
        now: std::time::SystemTime,
        done: &mut Compaction,
    ) -> Result<(), StoreError> {
        {
            let end = segment.first_seq + segment.record_count;
            let events = match existing.get(&segment.first_seq) {
                // Written before a crash; its index record is in the ledger.
                Some(files) if files.end_seq == end => None,
                _ => {
                    let mut events: Vec<(u64, AuditEvent)> = Vec::new();
                    let mut others: Vec<(u64, Vec<u8>)> = Vec::new();
                    for item in self.ledger.records(segment.first_seq..end) {
                        let (seq, record) = item?;
                        match read_event(seq, &record)? {
                            Some(event) => events.push((seq, event)),
                            None => others.push((seq, record)),
                        }
                    }
                    let files = IndexFiles::new(&self.root, segment.first_seq, end);
                    let record = write_segment_files(&files, &events, &others)?;
                    self.ledger.append_batch(&[record.to_record()], now)?;
                    done.index_bytes +=
                        file_len(&files.parquet) + file_len(&files.keys) + file_len(&files.extra);
                    Some(events.len() as u64)
                }
            };
            self.ledger.externalize(segment.first_seq, now)?;
            done.segments += 1;
            done.events += events.unwrap_or(0);
            done.ledger_bytes += segment.file_len;
        }
        Ok(())
    }
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |metadata| metadata.len())
}

fn write_segment_files(
    files: &IndexFiles,
    events: &[(u64, AuditEvent)],
    others: &[(u64, Vec<u8>)],
) -> Result<IndexRecord, StoreError> {
    let index_error = |path: &Path, error: index::Error| StoreError::Io {
        path: path.to_owned(),
        source: std::io::Error::other(error.to_string()),
    };
    let mut parquet = Vec::new();
    let written = index::write_segment(
        &mut parquet,
        events.iter().map(|(seq, event)| (*seq, event)),
    )
    .map_err(|error| index_error(&files.parquet, error))?;
    let keys = written.keys.to_bytes();
    let extra = encode_extra(files.first_seq, files.end_seq, others);
    write_durably(&files.extra, &extra)?;
    write_durably(&files.keys, &keys)?;
    write_durably(&files.parquet, &parquet)?;
    Ok(IndexRecord {
        v: 2,
        first_seq: files.first_seq,
        end_seq: files.end_seq,
        events: events.len() as u64,
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
    root: PathBuf,
}

impl ColumnarRecords {
    pub(crate) fn new(root: &Path) -> ColumnarRecords {
        ColumnarRecords {
            root: root.to_owned(),
        }
    }

    /// The records of `first .. end` that are not events (kept in `.extra`), with their
    /// sequence numbers.
    pub(crate) fn others(&self, first: u64, end: u64) -> Result<Vec<(u64, Vec<u8>)>, String> {
        let files = IndexFiles::new(&self.root, first, end);
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
        let files = IndexFiles::new(&self.root, first, end);
        let others = self.others(first, end)?;
        let events = index::Segment::open(&files.parquet)
            .and_then(|segment| segment.event_batches(index::limits::READ_BATCH_ROWS))
            .map_err(|error| format!("{}: {error}", files.parquet.display()))?;
        Ok(ColumnarIter {
            parquet: files.parquet,
            events,
            batch: Vec::new(),
            at: 0,
            others: others.into_iter().peekable(),
            next: first,
            end,
            failed: false,
        })
    }
}

/// The records of an index segment's range, in order: see [`ColumnarRecords::iter`].
pub(crate) struct ColumnarIter {
    parquet: PathBuf,
    events: index::EventBatches,
    /// The batch of events being read, and the position in it (events are large: they are
    /// encoded where they lie rather than moved).
    batch: Vec<(u64, AuditEvent)>,
    at: usize,
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
        if self.at >= self.batch.len() {
            match self.events.next() {
                Some(Ok(events)) => {
                    self.batch = events;
                    self.at = 0;
                }
                Some(Err(error)) => return self.fail(error.to_string()),
                None => {}
            }
        }
        let pending = self.batch.get(self.at);
        let seq = self.next;
        if seq >= self.end {
            if pending.is_some() || self.others.peek().is_some() {
                let end = self.end;
                return self.fail(format!("records outside the range ending at {end}"));
            }
            return None;
        }
        self.next += 1;
        if let Some((at, event)) = pending
            && *at == seq
        {
            let mut record = Vec::with_capacity(1024);
            formats::jsonl::encode(event, &mut record);
            record.pop();
            self.at += 1;
            return Some(Ok(record));
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
        let path = segment.path.clone();
        Ok(Box::new(records.map(move |record| {
            record.map_err(|reason| ledger::Error::Corrupt {
                path: path.clone(),
                offset: 0,
                reason,
            })
        })))
    }
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
