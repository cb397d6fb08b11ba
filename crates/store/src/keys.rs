//! The set of identity keys of the stored events, used to skip duplicates. It is kept in
//! memory only: on open it is computed from what is stored, so there is no second copy of
//! anything at rest and nothing to repair or verify.
//!
//! - For a segment kept as an index segment (externalized), the keys come from the few
//!   Parquet columns that identify an event (source, audit id, stage, times), read without
//!   decoding the rest; only events without an id (keyed by their whole content) are read
//!   in full.
//! - For segments still in row form (the tail that is not compacted yet) they come from the
//!   records themselves.
//!
//! Segments are read on every available core.

use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};
use std::path::Path;

use ledger::{Ledger, SegmentInfo};

use crate::identity::{Key, id_key, key};
use crate::limits::KEY_LOAD_THREADS_MAX;
use crate::{StoreError, read_event};

/// A set of identity keys. Keys are SHA-256 output, already uniformly distributed, so the
/// hasher takes their first eight bytes instead of hashing them again.
pub(crate) type KeySet = HashSet<Key, KeyHashing>;

/// [`BuildHasher`] for [`KeySet`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct KeyHashing;

impl BuildHasher for KeyHashing {
    type Hasher = KeyHasher;
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(0)
    }
}

/// Folds the bytes it is given into a `u64` (the array's length prefix is ignored).
#[derive(Debug)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(29) ^ u64::from_le_bytes(word);
        }
    }
    fn write_usize(&mut self, _length: usize) {}
}

/// What opening computed for the key set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyRepair {
    /// Keys read from index segments' identity columns.
    pub keys_from_index: u64,
    /// Keys computed from records still in row form.
    pub keys_rebuilt: u64,
}

/// The keys of every event stored in `ledger` (whose data directory is `root`).
/// `on_other` is called with every record in row form that is not an event (heartbeats,
/// prune and index records).
pub(crate) fn load(
    root: &Path,
    ledger: &Ledger,
    on_other: &mut dyn FnMut(&[u8]),
) -> Result<(KeySet, KeyRepair), StoreError> {
    let segments = ledger.segments();
    let external: Vec<&SegmentInfo> = segments.iter().filter(|s| s.external).collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .clamp(1, KEY_LOAD_THREADS_MAX);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: std::sync::Mutex<Vec<Result<Vec<Key>, StoreError>>> =
        std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads.min(external.len()) {
            scope.spawn(|| {
                loop {
                    let at = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(segment) = external.get(at) else {
                        break;
                    };
                    let end = segment.first_seq + segment.record_count;
                    let files = crate::columns::IndexFiles::at(root, segment.first_seq, end);
                    let keys = index_keys(&files.parquet);
                    if let Ok(mut results) = results.lock() {
                        results.push(keys);
                    }
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_default();
    let mut repair = KeyRepair::default();
    let mut set = KeySet::with_hasher(KeyHashing);
    for keys in results {
        let keys = keys?;
        repair.keys_from_index += keys.len() as u64;
        set.extend(keys);
    }
    let first = ledger.first_seq();
    for segment in segments.iter().filter(|s| !s.external) {
        let end = segment.first_seq + segment.record_count;
        for item in ledger.records(segment.first_seq.max(first)..end) {
            let (seq, record) = item?;
            match read_event(seq, &record)? {
                Some(event) => {
                    set.insert(key(&event));
                    repair.keys_rebuilt += 1;
                }
                None => on_other(&record),
            }
        }
    }
    Ok((set, repair))
}

/// The keys of the events of an index segment, from its identity columns.
pub(crate) fn index_keys(parquet: &Path) -> Result<Vec<Key>, StoreError> {
    let index_error = |error: index::Error| StoreError::Io {
        path: parquet.to_owned(),
        source: std::io::Error::other(error.to_string()),
    };
    let segment = index::Segment::open(parquet).map_err(index_error)?;
    let identities = segment.read_identities().map_err(index_error)?;
    let mut keys = Vec::with_capacity(identities.len());
    let mut without_id = Vec::new();
    for (row, identity) in identities.iter().enumerate() {
        if identity.id.is_empty() {
            without_id.push(u32::try_from(row).unwrap_or(u32::MAX));
        } else {
            keys.push(id_key(
                identity.source,
                &identity.id,
                identity.stage,
                identity.stage_time.or(identity.time),
            ));
        }
    }
    if !without_id.is_empty() {
        for (_, event) in segment.read_rows(&without_id).map_err(index_error)? {
            keys.push(key(&event));
        }
    }
    Ok(keys)
}
