//! Errors of the collectors.

use std::path::{Path, PathBuf};

/// Errors of reading a source or saving where it stands.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A state file is unreadable.
    #[error("{}: {reason}", path.display())]
    State {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// `journalctl` could not be started.
    #[error("cannot run {}: {source}; install systemd's journalctl or set `command` of the source", command.display())]
    Journalctl {
        /// The program.
        command: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// `journalctl` ended; it is started again from the committed cursor.
    #[error("journalctl ended (see its message above)")]
    JournalEnded,
    /// The sink could not make a batch durable; the source resumes from its last committed
    /// position.
    #[error("the batch was not stored: {0}")]
    Sink(String),
    /// The collectors are stopping.
    #[error("stopping")]
    Stopped,
    /// A lock was poisoned by a panicking thread.
    #[error("a collector thread panicked")]
    Poisoned,
}

impl CollectError {
    /// A closure mapping an I/O error on `path`.
    pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CollectError + use<> {
        let path = path.to_owned();
        move |source| CollectError::Io { path, source }
    }
}
