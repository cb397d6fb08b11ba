//! SQL over the stored audit events: one table, `events`, with the columns of the Parquet
//! index segments ([`columns`]), answered by Apache DataFusion over the sealed segment files
//! (row-group statistics and bloom filters prune them) UNION ALL the unsealed tail (an
//! in-memory table built from the tail events with the index's own schema mapping). So a
//! query sees every acknowledged event, sealed or not.
//!
//! [`run`] takes a [`index::Dataset`] (from `store::open_dataset`), the SQL text and
//! [`Options`] (row, byte, memory and time limits) and gives an [`Answer`]: column names and
//! rows of JSON values, ready for a table, JSON, CSV or an HTTP body.
//!
//! DataFusion is behind the `sql` feature (on by default). Without it the crate still
//! builds, [`ENABLED`] is false and [`run`] answers [`Error::NotBuilt`], so the command and
//! the endpoint exist and say what is missing.
//!
//! Invariants:
//! - Only queries run: DDL, DML (INSERT, COPY … TO) and statements (SET) are refused, so a
//!   query can neither read other files nor write any.
//! - An answer never holds more than `rows_max` rows or about `answer_bytes_max` bytes; a cut
//!   answer says so (`truncated`).
//! - No clock, no terminal, no HTTP; the async runtime is private to [`run`].

pub mod columns;
pub mod error;
pub mod limits;

#[cfg(feature = "sql")]
mod engine;
#[cfg(feature = "sql")]
mod values;

use std::time::Duration;

pub use columns::{ColumnDoc, column_names, columns};
pub use error::{Error, Result};

/// True when this build has the SQL engine (the `sql` feature).
pub const ENABLED: bool = cfg!(feature = "sql");

/// Limits of one query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Rows of the answer, at most.
    pub rows_max: usize,
    /// Arrow bytes of the answer's batches, at most.
    pub answer_bytes_max: usize,
    /// Memory of DataFusion's operators, at most.
    pub memory_bytes: usize,
    /// Time the query may run (planning and execution), if bounded.
    pub timeout: Option<Duration>,
    /// Worker threads (and partitions).
    pub threads: usize,
}

impl Default for Options {
    /// The command line's limits, one thread per core.
    fn default() -> Options {
        Options {
            rows_max: limits::ROWS_MAX,
            answer_bytes_max: limits::ANSWER_BYTES_MAX,
            memory_bytes: limits::MEMORY_BYTES_MAX,
            timeout: None,
            threads: std::thread::available_parallelism()
                .map_or(1, std::num::NonZero::get)
                .min(limits::THREADS_MAX),
        }
    }
}

/// One column of an answer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AnswerColumn {
    /// Its name (made unique within the answer: a repeated name gets `_2`, `_3`, …).
    pub name: String,
    /// Its Arrow type, as DataFusion prints it.
    #[serde(rename = "type")]
    pub data_type: String,
}

/// The result of a query.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Answer {
    /// The columns, in order.
    pub columns: Vec<AnswerColumn>,
    /// The rows, each one value per column: numbers, strings (times as RFC 3339 text),
    /// arrays for lists, objects for structs, null.
    pub rows: Vec<Vec<serde_json::Value>>,
    /// True when the query gave more rows (or bytes) than the limits let through.
    pub truncated: bool,
}

impl Answer {
    /// The rows as JSON objects keyed by column name, keys in column order.
    pub fn objects(&self) -> Vec<RowObject<'_>> {
        self.rows
            .iter()
            .map(|row| RowObject {
                columns: &self.columns,
                row,
            })
            .collect()
    }
}

/// One row of an [`Answer`] that serializes as a JSON object with its keys in column order.
#[derive(Debug, Clone, Copy)]
pub struct RowObject<'a> {
    columns: &'a [AnswerColumn],
    row: &'a [serde_json::Value],
}

impl serde::Serialize for RowObject<'_> {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.columns.len()))?;
        for (column, value) in self.columns.iter().zip(self.row) {
            map.serialize_entry(&column.name, value)?;
        }
        map.end()
    }
}

/// Runs one query over the dataset.
pub fn run(dataset: &index::Dataset, query: &str, options: &Options) -> Result<Answer> {
    let trimmed = query.trim();
    if trimmed.is_empty() {
        return Err(Error::Empty);
    }
    if query.len() > limits::QUERY_BYTES_MAX {
        return Err(Error::TooLong {
            length: query.len(),
            max: limits::QUERY_BYTES_MAX,
        });
    }
    #[cfg(feature = "sql")]
    {
        engine::run(dataset, trimmed, options)
    }
    #[cfg(not(feature = "sql"))]
    {
        let _ = (dataset, options);
        Err(Error::NotBuilt)
    }
}

#[cfg(all(test, not(feature = "sql")))]
mod tests {
    #[test]
    fn without_the_feature_queries_say_what_is_missing() {
        let dataset = index::Dataset::new(Vec::new());
        let error = super::run(&dataset, "SELECT 1", &super::Options::default()).unwrap_err();
        assert!(matches!(error, super::Error::NotBuilt));
        assert!(error.to_string().contains("without SQL support"), "{error}");
        assert!(!super::ENABLED);
    }
}
