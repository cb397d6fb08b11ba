//! Errors of the agent.

use std::path::PathBuf;

/// Errors of starting and running the agent.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The configuration (or a file it names) is invalid.
    #[error("{}: {reason}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A spool entry is unreadable.
    #[error("{}: {reason}", path.display())]
    Spool {
        /// The entry.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The metrics endpoint could not start.
    #[error("metrics endpoint on {address}: {source}; check metrics_listen (a free ADDRESS:PORT)")]
    Metrics {
        /// `metrics_listen`.
        address: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The collectors failed.
    #[error(transparent)]
    Collect(#[from] collect::CollectError),
}

pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> AgentError + use<> {
    let path = path.to_owned();
    move |source| AgentError::Io { path, source }
}
