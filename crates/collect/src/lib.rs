//! Collectors: the sources `auditrail serve` and `auditrail agent` read by themselves, as
//! `[[sources]]` of their configuration file.
//!
//! - [`config`]: [`SourceConfig`], a file source (paths and glob patterns) or a journal
//!   source (`journalctl -o json --follow`), each with its format.
//! - `file`: tails files by polling, following rename and copytruncate rotation.
//! - `journal`: runs journalctl from the saved cursor.
//! - [`state`]: [`Offsets`], the position each source resumes from, one JSON file per
//!   source, committed only once what was read before it is durable.
//! - [`batch`]: a source's output, [`Batch`], and the [`Sink`] that makes it durable.
//! - [`metrics`]: per-source lag and counts for Prometheus.
//! - [`run`]: [`Collectors`], one thread per source.
//!
//! Invariants:
//! - A position is committed only after the sink made every record before it durable, so a
//!   restart (even after SIGKILL) loses nothing; what is read twice is deduplicated by the
//!   store on event identity.
//! - Every line read is an event, a counted skip of its format, or a [`Rejected`] record for
//!   quarantine; a partial last line waits for its end, an overlong one is rejected.
//! - No HTTP and no async: sources run on their own threads and may block on their sink
//!   (back-pressure). No clock reads: the host passes its clock in. Linux (Unix) only:
//!   files are known by device and inode.

pub mod batch;
pub mod config;
mod context;
mod error;
mod file;
mod journal;
pub mod limits;
pub mod metrics;
pub mod run;
pub mod state;

#[cfg(test)]
mod tests;

pub use batch::{Batch, Rejected, Sink};
pub use config::{FileSource, JournalSource, SourceConfig, StartAt};
pub use context::Clock;
pub use error::CollectError;
pub use journal::journalctl_args;
pub use metrics::CollectorMetrics;
pub use run::{Collectors, Setup};
pub use state::{FileOffset, Offsets, Position, SourceState};
