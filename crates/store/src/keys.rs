//! `index/keys.bin`: the identity key of every ledger record, in sequence order (16 bytes per
//! record; zeros for records that are not events), and the in-memory set used to skip
//! duplicates.
//!
//! The file is derived data: the ledger is the source of truth. It is written after the
//! ledger acknowledged a batch and never fsynced on its own; on open, a short file is
//! completed from the ledger's records and a long one (keys of records the ledger does not
//! have) is cut back. `verify` recomputes every key from the records.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::StoreError;
use crate::identity::{Key, NO_KEY};
use crate::limits::KEY_BYTES;

/// The key file and the set of keys in it.
#[derive(Debug)]
pub(crate) struct KeyIndex {
    path: PathBuf,
    file: File,
    count: u64,
    set: HashSet<Key>,
}

/// What opening the key file had to repair.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyRepair {
    /// Keys beyond the ledger's records, removed.
    pub keys_removed: u64,
    /// Keys recomputed from ledger records and added.
    pub keys_rebuilt: u64,
}

impl KeyIndex {
    /// Opens (or creates) the key file and reads it. Returns the index and the number of
    /// keys it holds; the caller completes it to the ledger's size.
    pub(crate) fn open(path: &Path) -> Result<KeyIndex, StoreError> {
        let io = |source| StoreError::Io {
            path: path.to_owned(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io)?;
        let mut bytes = Vec::new();
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.read_to_end(&mut bytes).map_err(io)?;
        let whole = bytes.len() - bytes.len() % KEY_BYTES;
        if whole != bytes.len() {
            file.set_len(whole as u64).map_err(io)?;
        }
        let mut set = HashSet::with_capacity(whole / KEY_BYTES);
        for chunk in bytes[..whole].chunks_exact(KEY_BYTES) {
            let mut key = NO_KEY;
            key.copy_from_slice(chunk);
            if key != NO_KEY {
                set.insert(key);
            }
        }
        Ok(KeyIndex {
            path: path.to_owned(),
            file,
            count: (whole / KEY_BYTES) as u64,
            set,
        })
    }

    /// Keys in the file (one per ledger record covered).
    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// Whether an event with this key is stored.
    pub(crate) fn contains(&self, key: &Key) -> bool {
        self.set.contains(key)
    }

    /// Appends the keys of records just stored, in sequence order.
    pub(crate) fn append(&mut self, keys: &[Key]) -> Result<(), StoreError> {
        let mut bytes = Vec::with_capacity(keys.len() * KEY_BYTES);
        for key in keys {
            bytes.extend_from_slice(key);
            if *key != NO_KEY {
                self.set.insert(*key);
            }
        }
        self.file
            .write_all(&bytes)
            .map_err(|source| StoreError::Io {
                path: self.path.clone(),
                source,
            })?;
        self.count += keys.len() as u64;
        Ok(())
    }

    /// Cuts the file back to `count` keys (the ledger has fewer records than keys) and
    /// rebuilds the set.
    pub(crate) fn truncate(&mut self, count: u64) -> Result<(), StoreError> {
        self.file
            .set_len(count * KEY_BYTES as u64)
            .map_err(|source| StoreError::Io {
                path: self.path.clone(),
                source,
            })?;
        *self = KeyIndex::open(&self.path.clone())?;
        Ok(())
    }

    /// Makes the file durable.
    pub(crate) fn sync(&self) -> Result<(), StoreError> {
        self.file.sync_data().map_err(|source| StoreError::Io {
            path: self.path.clone(),
            source,
        })
    }
}

/// Reads the whole key file (for verification).
pub(crate) fn read_all(path: &Path) -> std::io::Result<Vec<u8>> {
    std::fs::read(path)
}
