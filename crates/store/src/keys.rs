//! `index/keys.bin`: the identity key of every ledger record, in sequence order (16 bytes per
//! record; zeros for records that are not events), and the in-memory set used to skip
//! duplicates.
//!
//! Until the first prune the file is headerless and its key `i` is record `i`'s (version 1).
//! A prune rewrites it with a 32-byte header, after which key `i` is record `base_seq + i`'s
//! and the keys of pruned records are gone:
//!
//! ```text
//!  0  8  magic "ADTRLKEY"
//!  8  4  version = 2
//! 12  4  reserved (0)
//! 16  8  base_seq: the ledger's first stored record
//! 24  8  reserved (0)
//! ```
//!
//! (A version-1 file whose first key happened to equal the magic is a 2^-64 chance.)
//!
//! The file is derived data: the ledger is the source of truth. It is written after the
//! ledger acknowledged a batch and never fsynced on its own; on open, a short file is
//! completed from the ledger's records and a long one (keys of records the ledger does not
//! have) is cut back. `verify` recomputes every key from the records.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::StoreError;
use crate::identity::{Key, NO_KEY};
use crate::limits::KEY_BYTES;

/// Magic of a key file with a header.
pub(crate) const KEYS_MAGIC: [u8; 8] = *b"ADTRLKEY";
/// Version of a key file with a header.
pub(crate) const KEYS_VERSION: u32 = 2;
/// Bytes of the header.
pub(crate) const KEYS_HEADER_BYTES: usize = 32;

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

/// The key file and the set of keys in it.
#[derive(Debug)]
pub(crate) struct KeyIndex {
    path: PathBuf,
    file: File,
    header: usize,
    base: u64,
    count: u64,
    set: KeySet,
}

/// The header length and base sequence number of key file bytes; an error message for a
/// header of an unknown version.
pub(crate) fn parse_header(bytes: &[u8]) -> Result<(usize, u64), String> {
    if bytes.len() < KEYS_HEADER_BYTES || bytes[..8] != KEYS_MAGIC {
        return Ok((0, 0));
    }
    let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if version != KEYS_VERSION {
        return Err(format!("key file version {version} is not {KEYS_VERSION}"));
    }
    let mut base = [0u8; 8];
    base.copy_from_slice(&bytes[16..24]);
    Ok((KEYS_HEADER_BYTES, u64::from_le_bytes(base)))
}

fn header(base: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(KEYS_HEADER_BYTES);
    out.extend_from_slice(&KEYS_MAGIC);
    out.extend_from_slice(&KEYS_VERSION.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&base.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out
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
        let (header, base) = parse_header(&bytes)
            .map_err(|reason| io(std::io::Error::new(std::io::ErrorKind::InvalidData, reason)))?;
        let keys = &bytes[header..];
        let whole = keys.len() - keys.len() % KEY_BYTES;
        if whole != keys.len() {
            file.set_len((header + whole) as u64).map_err(io)?;
        }
        let mut set = KeySet::with_capacity_and_hasher(whole / KEY_BYTES, KeyHashing);
        for chunk in keys[..whole].chunks_exact(KEY_BYTES) {
            let mut key = NO_KEY;
            key.copy_from_slice(chunk);
            if key != NO_KEY {
                set.insert(key);
            }
        }
        Ok(KeyIndex {
            path: path.to_owned(),
            file,
            header,
            base,
            count: (whole / KEY_BYTES) as u64,
            set,
        })
    }

    /// Keys in the file (one per ledger record covered).
    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// The sequence number of the first key.
    pub(crate) fn base(&self) -> u64 {
        self.base
    }

    /// One past the sequence number of the last key.
    pub(crate) fn end(&self) -> u64 {
        self.base + self.count
    }

    /// Drops the keys of records below `base` (pruned) and makes `base` the first: the file
    /// is rewritten with a header (temporary file, fsync, rename, directory fsync). With
    /// `base` beyond the keys held, the file is left empty from `base`.
    pub(crate) fn rebase(&mut self, base: u64) -> Result<(), StoreError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| StoreError::Io { path, source }
        };
        let mut bytes = Vec::new();
        self.file.seek(SeekFrom::Start(0)).map_err(io(&self.path))?;
        self.file.read_to_end(&mut bytes).map_err(io(&self.path))?;
        let keys = &bytes[self.header.min(bytes.len())..];
        let skip = if base >= self.base {
            (base - self.base).min(self.count) as usize * KEY_BYTES
        } else {
            // Keys from before the first stored record cannot be right; start over.
            keys.len()
        };
        let mut out = header(base);
        out.extend_from_slice(keys.get(skip..).unwrap_or_default());
        let whole = KEYS_HEADER_BYTES + (out.len() - KEYS_HEADER_BYTES) / KEY_BYTES * KEY_BYTES;
        out.truncate(whole);
        if base > self.end() {
            out.truncate(KEYS_HEADER_BYTES);
        }
        let mut temporary = self.path.clone().into_os_string();
        temporary.push(".tmp");
        let temporary = PathBuf::from(temporary);
        {
            let mut file = File::create(&temporary).map_err(io(&temporary))?;
            file.write_all(&out).map_err(io(&temporary))?;
            file.sync_all().map_err(io(&temporary))?;
        }
        std::fs::rename(&temporary, &self.path).map_err(io(&self.path))?;
        if let Some(parent) = self.path.parent()
            && let Ok(directory) = File::open(parent)
        {
            directory.sync_all().map_err(io(parent))?;
        }
        *self = KeyIndex::open(&self.path.clone())?;
        Ok(())
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
            .set_len(self.header as u64 + count * KEY_BYTES as u64)
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
