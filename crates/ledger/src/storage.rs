//! The storage trait the ledger does all its I/O through, and its file-system
//! implementation.
//!
//! Paths are relative to the storage root and use `/` separators. The trait is small on
//! purpose so that tests can substitute [`crate::MemStorage`], which models what a crash
//! keeps (only synced bytes and synced directory entries) and injects faults (failed
//! fsync, ENOSPC, torn writes).
//!
//! Durability contract, which the ledger relies on:
//! - [`AppendFile::sync`] returns only once every byte appended so far, and the file's
//!   size, are on stable storage (`fsync`).
//! - A newly created file's directory entry is durable only after [`Storage::sync_dir`]
//!   of its parent.
//! - [`Storage::write_atomic`] replaces a file's contents all-or-nothing and durably.

use std::fmt::Debug;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// A file opened for appending.
pub trait AppendFile: Send + Debug {
    /// Append bytes at the end of the file (not yet durable).
    fn append(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Make everything appended so far durable, data and metadata.
    fn sync(&mut self) -> io::Result<()>;
}

/// All I/O the ledger does. Implementations must be usable from several threads.
pub trait Storage: Send + Sync + Debug {
    /// Create a directory and its parents.
    fn create_dir_all(&self, dir: &str) -> io::Result<()>;
    /// Names of the entries of a directory (files and directories), unsorted; an empty
    /// list when the directory does not exist.
    fn list(&self, dir: &str) -> io::Result<Vec<String>>;
    /// Whether a path names an existing directory.
    fn is_dir(&self, path: &str) -> io::Result<bool>;
    /// Length of a file, `None` when it does not exist.
    fn len(&self, path: &str) -> io::Result<Option<u64>>;
    /// The whole contents of a file.
    fn read(&self, path: &str) -> io::Result<Vec<u8>>;
    /// Up to `len` bytes from `offset` (fewer at the end of the file).
    fn read_at(&self, path: &str, offset: u64, len: usize) -> io::Result<Vec<u8>>;
    /// Open a file for appending, creating it when missing (the caller syncs the parent
    /// directory after creating a file).
    fn open_append(&self, path: &str) -> io::Result<Box<dyn AppendFile>>;
    /// Create or overwrite a file with `bytes`, without syncing.
    fn write(&self, path: &str, bytes: &[u8]) -> io::Result<()>;
    /// Replace a file's contents atomically and durably (temporary file, fsync, rename,
    /// directory fsync).
    fn write_atomic(&self, path: &str, bytes: &[u8]) -> io::Result<()>;
    /// Create a new file readable and writable by its owner only (mode 0600 on Unix),
    /// durably; fails if it exists.
    fn create_private(&self, path: &str, bytes: &[u8]) -> io::Result<()>;
    /// fsync a file that was written with [`Storage::write`].
    fn sync_file(&self, path: &str) -> io::Result<()>;
    /// fsync a directory, making the entries created in it durable.
    fn sync_dir(&self, dir: &str) -> io::Result<()>;
    /// Shorten a file to `len` bytes and make that durable.
    fn truncate(&self, path: &str, len: u64) -> io::Result<()>;
    /// Remove a file.
    fn remove(&self, path: &str) -> io::Result<()>;
}

/// [`Storage`] on a real directory, with std's synchronous file I/O.
#[derive(Debug, Clone)]
pub struct FileStorage {
    root: PathBuf,
}

impl FileStorage {
    /// Storage rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> FileStorage {
        FileStorage { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, relative: &str) -> PathBuf {
        if relative.is_empty() {
            self.root.clone()
        } else {
            self.root.join(relative)
        }
    }
}

#[derive(Debug)]
struct FileAppender {
    file: File,
}

impl AppendFile for FileAppender {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)
    }
    fn sync(&mut self) -> io::Result<()> {
        self.file.sync_all()
    }
}

impl Storage for FileStorage {
    fn create_dir_all(&self, dir: &str) -> io::Result<()> {
        fs::create_dir_all(self.path(dir))
    }

    fn list(&self, dir: &str) -> io::Result<Vec<String>> {
        let entries = match fs::read_dir(self.path(dir)) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(error),
        };
        let mut names = Vec::new();
        for entry in entries {
            names.push(entry?.file_name().to_string_lossy().into_owned());
        }
        Ok(names)
    }

    fn is_dir(&self, path: &str) -> io::Result<bool> {
        match fs::metadata(self.path(path)) {
            Ok(meta) => Ok(meta.is_dir()),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(error) => Err(error),
        }
    }

    fn len(&self, path: &str) -> io::Result<Option<u64>> {
        match fs::metadata(self.path(path)) {
            Ok(meta) => Ok(Some(meta.len())),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    fn read(&self, path: &str) -> io::Result<Vec<u8>> {
        fs::read(self.path(path))
    }

    fn read_at(&self, path: &str, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let mut file = File::open(self.path(path))?;
        file.seek(SeekFrom::Start(offset))?;
        let mut buffer = Vec::with_capacity(len);
        file.take(len as u64).read_to_end(&mut buffer)?;
        Ok(buffer)
    }

    fn open_append(&self, path: &str) -> io::Result<Box<dyn AppendFile>> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path(path))?;
        Ok(Box::new(FileAppender { file }))
    }

    fn write(&self, path: &str, bytes: &[u8]) -> io::Result<()> {
        fs::write(self.path(path), bytes)
    }

    fn write_atomic(&self, path: &str, bytes: &[u8]) -> io::Result<()> {
        let target = self.path(path);
        let mut temporary = target.clone().into_os_string();
        temporary.push(".tmp");
        let temporary = PathBuf::from(temporary);
        {
            let mut file = File::create(&temporary)?;
            file.write_all(bytes)?;
            file.sync_all()?;
        }
        fs::rename(&temporary, &target)?;
        sync_parent(&target)
    }

    fn create_private(&self, path: &str, bytes: &[u8]) -> io::Result<()> {
        let target = self.path(path);
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&target)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        sync_parent(&target)
    }

    fn sync_file(&self, path: &str) -> io::Result<()> {
        File::open(self.path(path))?.sync_all()
    }

    fn sync_dir(&self, dir: &str) -> io::Result<()> {
        File::open(self.path(dir))?.sync_all()
    }

    fn truncate(&self, path: &str, len: u64) -> io::Result<()> {
        let file = OpenOptions::new().write(true).open(self.path(path))?;
        file.set_len(len)?;
        file.sync_all()
    }

    fn remove(&self, path: &str) -> io::Result<()> {
        fs::remove_file(self.path(path))
    }
}

fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(parent) => File::open(parent)?.sync_all(),
        None => Ok(()),
    }
}

/// Join two relative storage paths with `/`.
pub(crate) fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

/// The parent directory of a relative storage path (`""` for the root).
pub(crate) fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(index) => &path[..index],
        None => "",
    }
}
