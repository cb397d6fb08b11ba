//! The columnar index of the trail: Parquet segments of `crates/index` over fixed ranges of
//! [`INDEX_SEGMENT_RECORDS`] ledger records, written once the ledger holds a whole range, with
//! their lookup keys beside them:
//!
//! ```text
//! <data>/index/segments/<first seq, 20 digits>.parquet   the events of [first, end)
//! <data>/index/segments/<first seq, 20 digits>.keys      audit-id and object lookups
//! ```
//!
//! After writing a segment the store appends an **index record** to the ledger itself,
//! `{"auditrail_index":{"v":1,"first_seq":…,"end_seq":…,"events":…,"parquet_sha256":…,
//! "keys_sha256":…}}`, so the next signed checkpoint commits to the index files too: `verify`
//! hashes each file and compares it with its record, and reports index files that no record
//! vouches for. Records after the last indexed range are the tail, read from the ledger files
//! at query time. Queries open everything read-only and without the writer's lock, so they
//! work beside a running server.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use event::AuditEvent;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::limits::{INDEX_RECORD_BYTES_MAX, INDEX_SEGMENT_RECORDS};
use crate::{Store, StoreError, read_event};

/// The ledger record committing to one index segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexRecord {
    /// Format version (1).
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

    fn to_record(&self) -> Vec<u8> {
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

fn segment_paths(root: &Path, first_seq: u64) -> (PathBuf, PathBuf) {
    let directory = segments_dir(root);
    (
        directory.join(format!("{first_seq:020}.parquet")),
        directory.join(format!("{first_seq:020}.keys")),
    )
}

/// Index segment files on disk: (first seq, parquet path, keys path), by first seq.
pub fn segment_files(root: &Path) -> Result<Vec<(u64, PathBuf, PathBuf)>, StoreError> {
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
        if let Some(first) = name
            .strip_suffix(".parquet")
            .and_then(|digits| digits.parse::<u64>().ok())
        {
            let (parquet, keys) = segment_paths(root, first);
            files.push((first, parquet, keys));
        }
    }
    files.sort();
    Ok(files)
}

/// What [`Store::build_index`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexBuild {
    /// Segments written.
    pub segments: u64,
    /// Events in them.
    pub events: u64,
}

impl Store {
    /// Writes the index segments of every complete range of [`INDEX_SEGMENT_RECORDS`] records
    /// that has none yet, and commits to each in the ledger. Call before [`Store::close`] so
    /// that the final checkpoint covers the index records.
    pub fn build_index(&mut self, now: std::time::SystemTime) -> Result<IndexBuild, StoreError> {
        let existing: std::collections::BTreeSet<u64> = segment_files(&self.root)?
            .into_iter()
            .map(|(first, _, _)| first)
            .collect();
        let directory = segments_dir(&self.root);
        std::fs::create_dir_all(&directory).map_err(|source| StoreError::Io {
            path: directory.clone(),
            source,
        })?;
        let mut build = IndexBuild::default();
        let mut range_start = 0;
        loop {
            let range_end = range_start + INDEX_SEGMENT_RECORDS;
            if range_end > self.ledger.tree_size() {
                break;
            }
            let first = range_start.max(
                ledger::pruned_before(&ledger::FileStorage::new(self.root.join("ledger")))
                    .unwrap_or(0),
            );
            if first < range_end && !existing.contains(&first) {
                let mut events: Vec<(u64, AuditEvent)> = Vec::new();
                for item in self.ledger.records(first..range_end) {
                    let (seq, record) = item?;
                    if let Some(event) = read_event(seq, &record)? {
                        events.push((seq, event));
                    }
                }
                let record = write_segment_files(&self.root, first, range_end, &events)?;
                self.ledger.append_batch(&[record.to_record()], now)?;
                self.keys.append(&[crate::NO_KEY])?;
                build.segments += 1;
                build.events += events.len() as u64;
            }
            range_start = range_end;
        }
        Ok(build)
    }
}

fn write_segment_files(
    root: &Path,
    first: u64,
    end: u64,
    events: &[(u64, AuditEvent)],
) -> Result<IndexRecord, StoreError> {
    let (parquet_path, keys_path) = segment_paths(root, first);
    let index_error = |path: &Path, error: index::Error| StoreError::Io {
        path: path.to_owned(),
        source: std::io::Error::other(error.to_string()),
    };
    let mut parquet = Vec::new();
    let written = index::write_segment(
        &mut parquet,
        events.iter().map(|(seq, event)| (*seq, event)),
    )
    .map_err(|error| index_error(&parquet_path, error))?;
    let keys = written.keys.to_bytes();
    write_durably(&parquet_path, &parquet)?;
    write_durably(&keys_path, &keys)?;
    Ok(IndexRecord {
        v: 1,
        first_seq: first,
        end_seq: end,
        events: events.len() as u64,
        parquet_sha256: hex(&Sha256::digest(&parquet)),
        keys_sha256: hex(&Sha256::digest(&keys)),
    })
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

/// One past the last sequence number an index segment starting at `first` covers.
pub(crate) fn range_end(first: u64) -> u64 {
    (first / INDEX_SEGMENT_RECORDS + 1) * INDEX_SEGMENT_RECORDS
}

/// Removes the index segments whose whole range lies below `before_seq` (pruned records).
pub(crate) fn remove_pruned_segments(root: &Path, before_seq: u64) -> Result<(), StoreError> {
    for (first, parquet, keys) in segment_files(root)? {
        if range_end(first) <= before_seq {
            for path in [parquet, keys] {
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
    for (first, parquet, keys) in segment_files(root)? {
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
        indexed_until = indexed_until.max(range_end(first));
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
