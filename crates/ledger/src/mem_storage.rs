//! An in-memory [`Storage`] that models crashes and injects faults, for tests.
//!
//! Each file keeps two versions: what readers see now, and what a crash would leave
//! behind (the bytes present at its last successful sync). A file's directory entry
//! survives a crash only once its parent directory was synced (or it was written with
//! [`Storage::write_atomic`] / [`Storage::create_private`], which sync it). Faults:
//! a byte budget after which writes stop part-way with `StorageFull` (ENOSPC, leaving a
//! torn write), and a number of upcoming syncs that fail with an I/O error.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::storage::{AppendFile, Storage, parent};

/// In-memory storage with crash simulation and fault injection. Clones share state.
#[derive(Debug, Clone, Default)]
pub struct MemStorage {
    state: Arc<Mutex<MemState>>,
}

#[derive(Debug, Default)]
struct MemState {
    files: BTreeMap<String, MemFile>,
    dirs: BTreeSet<String>,
    /// Bytes that may still be written before writes fail with `StorageFull`.
    space_left: Option<u64>,
    /// Upcoming sync calls that fail.
    failing_syncs: u32,
}

/// A file: its current bytes, and what survives a crash, which is `data[..durable_len]`
/// unless the file was rewritten since its last sync (then `durable_snapshot`).
#[derive(Debug, Default, Clone)]
struct MemFile {
    data: Vec<u8>,
    durable_len: usize,
    durable_snapshot: Option<Vec<u8>>,
    entry_durable: bool,
    private: bool,
}

impl MemFile {
    fn synced(bytes: Vec<u8>, private: bool) -> MemFile {
        MemFile {
            durable_len: bytes.len(),
            data: bytes,
            durable_snapshot: None,
            entry_durable: true,
            private,
        }
    }

    fn sync(&mut self) {
        self.durable_len = self.data.len();
        self.durable_snapshot = None;
    }

    fn rewrite(&mut self, bytes: Vec<u8>) {
        if self.durable_snapshot.is_none() {
            let durable = self.data[..self.durable_len.min(self.data.len())].to_vec();
            self.durable_snapshot = Some(durable);
        }
        self.data = bytes;
    }
}

impl MemStorage {
    /// Empty storage without faults.
    pub fn new() -> MemStorage {
        MemStorage::default()
    }

    fn lock(&self) -> MutexGuard<'_, MemState> {
        // A panic while holding the lock can only come from a test assertion; keep going
        // with the state as it is.
        match self.state.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Allow only `bytes` more bytes to be written (`None`: unlimited). A write that
    /// crosses the limit stores the bytes that fit and fails with `StorageFull`.
    pub fn set_space_left(&self, bytes: Option<u64>) {
        self.lock().space_left = bytes;
    }

    /// Make the next `count` sync calls (files and directories) fail with an I/O error.
    pub fn fail_next_syncs(&self, count: u32) {
        self.lock().failing_syncs = count;
    }

    /// Simulate a power loss: every file falls back to its last synced contents plus
    /// `keep(path, unsynced_len)` of the bytes appended after it (a torn write), and files
    /// whose directory entry was never synced disappear.
    pub fn crash(&self, mut keep: impl FnMut(&str, usize) -> usize) {
        let mut state = self.lock();
        state.files.retain(|_, file| file.entry_durable);
        for (path, file) in state.files.iter_mut() {
            if let Some(snapshot) = file.durable_snapshot.take() {
                file.data = snapshot;
            } else if file.data.len() > file.durable_len {
                let unsynced = file.data.len() - file.durable_len;
                let kept = keep(path, unsynced).min(unsynced);
                file.data.truncate(file.durable_len + kept);
            }
            file.sync();
        }
        state.failing_syncs = 0;
    }

    /// An independent copy of the current files (clones share state; this does not).
    pub fn clone_deep(&self) -> MemStorage {
        let state = self.lock();
        MemStorage {
            state: Arc::new(Mutex::new(MemState {
                files: state.files.clone(),
                dirs: state.dirs.clone(),
                space_left: None,
                failing_syncs: 0,
            })),
        }
    }

    /// The current contents of a file.
    pub fn file(&self, path: &str) -> Option<Vec<u8>> {
        self.lock().files.get(path).map(|file| file.data.clone())
    }

    /// Replace a file's contents (durably), as an attacker or a bad disk would.
    pub fn set_file(&self, path: &str, bytes: Vec<u8>) {
        let mut state = self.lock();
        state
            .files
            .insert(path.to_owned(), MemFile::synced(bytes, false));
    }

    /// Remove a file, durably.
    pub fn delete_file(&self, path: &str) {
        self.lock().files.remove(path);
    }

    /// Paths of all files, sorted.
    pub fn paths(&self) -> Vec<String> {
        self.lock().files.keys().cloned().collect()
    }

    /// Whether a file was created owner-only.
    pub fn is_private(&self, path: &str) -> bool {
        self.lock().files.get(path).is_some_and(|file| file.private)
    }

    fn take_sync(state: &mut MemState) -> io::Result<()> {
        if state.failing_syncs > 0 {
            state.failing_syncs -= 1;
            return Err(io::Error::other("injected fsync failure"));
        }
        Ok(())
    }

    /// Charge `len` bytes against the space budget; returns how many fit.
    fn charge(state: &mut MemState, len: usize) -> usize {
        match state.space_left.as_mut() {
            None => len,
            Some(left) => {
                let fits = (*left).min(len as u64);
                *left -= fits;
                fits as usize
            }
        }
    }
}

fn storage_full() -> io::Error {
    io::Error::new(io::ErrorKind::StorageFull, "injected ENOSPC")
}

fn not_found(path: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("no such file: {path}"))
}

#[derive(Debug)]
struct MemAppender {
    storage: MemStorage,
    path: String,
}

impl AppendFile for MemAppender {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut state = self.storage.lock();
        let fits = MemStorage::charge(&mut state, bytes.len());
        let file = state
            .files
            .get_mut(&self.path)
            .ok_or_else(|| not_found(&self.path))?;
        file.data.extend_from_slice(&bytes[..fits]);
        if fits < bytes.len() {
            return Err(storage_full());
        }
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        let mut state = self.storage.lock();
        MemStorage::take_sync(&mut state)?;
        let file = state
            .files
            .get_mut(&self.path)
            .ok_or_else(|| not_found(&self.path))?;
        file.sync();
        Ok(())
    }
}

impl Storage for MemStorage {
    fn create_dir_all(&self, dir: &str) -> io::Result<()> {
        let mut state = self.lock();
        let mut current = String::new();
        for part in dir.split('/').filter(|part| !part.is_empty()) {
            if !current.is_empty() {
                current.push('/');
            }
            current.push_str(part);
            state.dirs.insert(current.clone());
        }
        Ok(())
    }

    fn list(&self, dir: &str) -> io::Result<Vec<String>> {
        let state = self.lock();
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let mut names = BTreeSet::new();
        for path in state.files.keys().chain(state.dirs.iter()) {
            if let Some(rest) = path.strip_prefix(&prefix)
                && let Some(name) = rest.split('/').next()
                && !name.is_empty()
            {
                names.insert(name.to_owned());
            }
        }
        Ok(names.into_iter().collect())
    }

    fn is_dir(&self, path: &str) -> io::Result<bool> {
        let state = self.lock();
        let prefix = format!("{path}/");
        Ok(state.dirs.contains(path) || state.files.keys().any(|file| file.starts_with(&prefix)))
    }

    fn len(&self, path: &str) -> io::Result<Option<u64>> {
        Ok(self
            .lock()
            .files
            .get(path)
            .map(|file| file.data.len() as u64))
    }

    fn read(&self, path: &str) -> io::Result<Vec<u8>> {
        self.file(path).ok_or_else(|| not_found(path))
    }

    fn read_at(&self, path: &str, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let state = self.lock();
        let file = state.files.get(path).ok_or_else(|| not_found(path))?;
        let start = (offset as usize).min(file.data.len());
        let end = start.saturating_add(len).min(file.data.len());
        Ok(file.data[start..end].to_vec())
    }

    fn open_append(&self, path: &str) -> io::Result<Box<dyn AppendFile>> {
        self.lock().files.entry(path.to_owned()).or_default();
        Ok(Box::new(MemAppender {
            storage: self.clone(),
            path: path.to_owned(),
        }))
    }

    fn write(&self, path: &str, bytes: &[u8]) -> io::Result<()> {
        let mut state = self.lock();
        let fits = MemStorage::charge(&mut state, bytes.len());
        let file = state.files.entry(path.to_owned()).or_default();
        file.rewrite(bytes[..fits].to_vec());
        if fits < bytes.len() {
            return Err(storage_full());
        }
        Ok(())
    }

    fn write_atomic(&self, path: &str, bytes: &[u8]) -> io::Result<()> {
        let mut state = self.lock();
        if MemStorage::charge(&mut state, bytes.len()) < bytes.len() {
            return Err(storage_full());
        }
        MemStorage::take_sync(&mut state)?;
        let private = state.files.get(path).is_some_and(|file| file.private);
        state
            .files
            .insert(path.to_owned(), MemFile::synced(bytes.to_vec(), private));
        Ok(())
    }

    fn create_private(&self, path: &str, bytes: &[u8]) -> io::Result<()> {
        let mut state = self.lock();
        if state.files.contains_key(path) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                path.to_owned(),
            ));
        }
        if MemStorage::charge(&mut state, bytes.len()) < bytes.len() {
            return Err(storage_full());
        }
        MemStorage::take_sync(&mut state)?;
        state
            .files
            .insert(path.to_owned(), MemFile::synced(bytes.to_vec(), true));
        Ok(())
    }

    fn sync_file(&self, path: &str) -> io::Result<()> {
        let mut state = self.lock();
        MemStorage::take_sync(&mut state)?;
        let file = state.files.get_mut(path).ok_or_else(|| not_found(path))?;
        file.sync();
        Ok(())
    }

    fn sync_dir(&self, dir: &str) -> io::Result<()> {
        let mut state = self.lock();
        MemStorage::take_sync(&mut state)?;
        for (path, file) in state.files.iter_mut() {
            if parent(path) == dir {
                file.entry_durable = true;
            }
        }
        Ok(())
    }

    fn truncate(&self, path: &str, len: u64) -> io::Result<()> {
        let mut state = self.lock();
        MemStorage::take_sync(&mut state)?;
        let file = state.files.get_mut(path).ok_or_else(|| not_found(path))?;
        file.data.truncate(len as usize);
        file.sync();
        Ok(())
    }

    fn remove(&self, path: &str) -> io::Result<()> {
        self.lock()
            .files
            .remove(path)
            .map(|_| ())
            .ok_or_else(|| not_found(path))
    }
}
