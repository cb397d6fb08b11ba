//! Where each source resumes: one JSON file per source in a state directory
//! (`DATA/collectors/` for `auditrail serve`, the agent's `state` directory for
//! `auditrail agent`), replaced atomically (write, fsync, rename, fsync the directory).
//!
//! ```json
//! {"files":[{"path":"/var/log/audit.log","dev":2049,"ino":1311,"fingerprint":"…","fingerprint_len":1024,"offset":52311,"read_to":52311,"done":false}],"cursor":null}
//! ```
//!
//! A file is known by its device and inode **and** a SHA-256 of its first bytes (up to
//! [`FINGERPRINT_BYTES`]): an inode reused by a new file, or a file truncated and written
//! again, does not match, and is read from its start.
//!
//! Invariant: a position is committed ([`Offsets::commit`]) only by the sink, once every
//! record before it is durable (in the ledger for `serve`, acknowledged by the server for
//! the agent). Resuming there after any crash loses nothing; records read again (those a
//! decoder held, those after a crash between storing and committing) are deduplicated by
//! the store on identity.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::error::CollectError;
use crate::limits::{STATE_FILE_BYTES_MAX, STATE_FILES_MAX};

/// Where one file resumes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileOffset {
    /// The path it was last seen under (for people; the identity is device and inode).
    pub path: PathBuf,
    /// Device number.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
    /// SHA-256 (hex) of the first `fingerprint_len` bytes.
    pub fingerprint: String,
    /// Bytes the fingerprint covers (less than `FINGERPRINT_BYTES` only for a file that was
    /// that short).
    pub fingerprint_len: u64,
    /// Byte offset to resume reading at: the start of the oldest line whose records are not
    /// all durable.
    pub offset: u64,
    /// Every line ending at or before this offset was read and accounted for (malformed
    /// lines up to here are in quarantine already and are not quarantined again).
    pub read_to: u64,
    /// The file was rotated away (or deleted) and read to its end.
    #[serde(default)]
    pub done: bool,
}

/// A position to commit once the records before it are durable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Position {
    /// A file.
    File(FileOffset),
    /// The journal cursor of the last entry whose records are all durable.
    Journal(String),
    /// Nothing new to commit.
    Unchanged,
}

/// What one source saved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceState {
    /// Files, most recently committed last.
    #[serde(default)]
    pub files: Vec<FileOffset>,
    /// Journal cursor.
    #[serde(default)]
    pub cursor: Option<String>,
}

impl SourceState {
    /// The saved offset of the file with this device and inode.
    pub fn file(&self, dev: u64, ino: u64) -> Option<&FileOffset> {
        self.files
            .iter()
            .find(|file| file.dev == dev && file.ino == ino)
    }

    fn apply(&mut self, position: &Position) {
        match position {
            Position::File(offset) => {
                self.files
                    .retain(|file| !(file.dev == offset.dev && file.ino == offset.ino));
                self.files.push(offset.clone());
                while self.files.len() > STATE_FILES_MAX {
                    let oldest = self.files.iter().position(|file| file.done).unwrap_or(0);
                    self.files.remove(oldest);
                }
            }
            Position::Journal(cursor) => self.cursor = Some(cursor.clone()),
            Position::Unchanged => {}
        }
    }
}

/// The state files of every source in one directory.
#[derive(Debug)]
pub struct Offsets {
    dir: PathBuf,
    states: Mutex<HashMap<String, SourceState>>,
}

impl Offsets {
    /// Opens (creating) the state directory.
    pub fn open(dir: &Path) -> Result<Offsets, CollectError> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(CollectError::io(dir))?;
        Ok(Offsets {
            dir: dir.to_owned(),
            states: Mutex::new(HashMap::new()),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, source: &str) -> PathBuf {
        self.dir.join(format!("{source}.json"))
    }

    /// What `source` saved (empty when nothing).
    pub fn load(&self, source: &str) -> Result<SourceState, CollectError> {
        let mut states = self.states.lock().map_err(|_| CollectError::Poisoned)?;
        if let Some(state) = states.get(source) {
            return Ok(state.clone());
        }
        let path = self.path(source);
        let state = match File::open(&path) {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => SourceState::default(),
            Err(error) => return Err(CollectError::io(&path)(error)),
            Ok(file) => {
                let mut text = Vec::new();
                file.take(STATE_FILE_BYTES_MAX + 1)
                    .read_to_end(&mut text)
                    .map_err(CollectError::io(&path))?;
                if text.len() as u64 > STATE_FILE_BYTES_MAX {
                    return Err(CollectError::State {
                        path,
                        reason: format!("larger than {STATE_FILE_BYTES_MAX} bytes"),
                    });
                }
                serde_json::from_slice(&text).map_err(|error| CollectError::State {
                    path: path.clone(),
                    reason: format!("{error}; move it away to read the source from its start"),
                })?
            }
        };
        states.insert(source.to_owned(), state.clone());
        Ok(state)
    }

    /// Records that everything before `position` is durable, durably.
    pub fn commit(&self, source: &str, position: &Position) -> Result<(), CollectError> {
        if *position == Position::Unchanged {
            return Ok(());
        }
        let mut state = self.load(source)?;
        state.apply(position);
        let path = self.path(source);
        let text = serde_json::to_vec(&state).map_err(|error| CollectError::State {
            path: path.clone(),
            reason: error.to_string(),
        })?;
        write_atomically(&path, &text)?;
        let mut states = self.states.lock().map_err(|_| CollectError::Poisoned)?;
        states.insert(source.to_owned(), state);
        Ok(())
    }
}

/// Replaces `path` with `bytes` so that a crash leaves the old or the new content, never a
/// mix.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CollectError> {
    let temporary = path.with_extension("tmp");
    let mut file = File::create(&temporary).map_err(CollectError::io(&temporary))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(CollectError::io(&temporary))?;
    std::fs::rename(&temporary, path).map_err(CollectError::io(path))?;
    sync_dir(path)
}

/// Makes a rename or creation in the directory of `path` durable.
pub fn sync_dir(path: &Path) -> Result<(), CollectError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    File::open(dir)
        .and_then(|dir| dir.sync_all())
        .map_err(CollectError::io(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offset(ino: u64, at: u64, done: bool) -> FileOffset {
        FileOffset {
            path: PathBuf::from("x"),
            dev: 1,
            ino,
            fingerprint: String::new(),
            fingerprint_len: 0,
            offset: at,
            read_to: at,
            done,
        }
    }

    #[test]
    fn commits_survive_reopening_and_replace_by_identity() {
        let dir = tempfile::tempdir().unwrap();
        let offsets = Offsets::open(dir.path()).unwrap();
        offsets
            .commit("a", &Position::File(offset(5, 10, false)))
            .unwrap();
        offsets
            .commit("a", &Position::File(offset(5, 20, false)))
            .unwrap();
        offsets
            .commit("b", &Position::Journal("s=1".to_owned()))
            .unwrap();
        let reopened = Offsets::open(dir.path()).unwrap();
        let a = reopened.load("a").unwrap();
        assert_eq!(a.files.len(), 1);
        assert_eq!(a.file(1, 5).unwrap().offset, 20);
        assert_eq!(reopened.load("b").unwrap().cursor.as_deref(), Some("s=1"));
        assert_eq!(reopened.load("c").unwrap(), SourceState::default());
    }

    #[test]
    fn finished_files_are_forgotten_first() {
        let mut state = SourceState::default();
        state.apply(&Position::File(offset(0, 1, false)));
        state.apply(&Position::File(offset(1, 1, true)));
        for ino in 2..=STATE_FILES_MAX as u64 {
            state.apply(&Position::File(offset(ino, 1, false)));
        }
        assert_eq!(state.files.len(), STATE_FILES_MAX);
        assert!(state.file(1, 1).is_none());
        assert!(state.file(1, 0).is_some());
    }
}
