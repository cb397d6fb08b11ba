//! Errors of a SQL query. Each message says what to do next. [`Error::is_user_error`]
//! separates what the query's author can fix from failures inside (which the server logs
//! rather than sends).

/// What went wrong with a query.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// This build has no SQL engine.
    #[error(
        "this auditrail was built without SQL support (the `sql` Cargo feature); rebuild with default features, or use `auditrail query` and `auditrail report`"
    )]
    NotBuilt,
    /// The query text is empty.
    #[error(
        "the query is empty: give a SELECT over the table `events`, for example \"SELECT count(*) FROM events\""
    )]
    Empty,
    /// The query text is longer than the limit.
    #[error("the query is {length} bytes, more than the {max} accepted; shorten it")]
    TooLong {
        /// Its length.
        length: usize,
        /// The limit.
        max: usize,
    },
    /// The SQL does not parse.
    #[error(
        "SQL syntax error: {message}; check the query near that position (quote column names that are SQL keywords with double quotes)"
    )]
    Syntax {
        /// The parser's message.
        message: String,
    },
    /// The query names a column that does not exist.
    #[error(
        "no column {name} here{hint}; valid names are {valid}. The columns of `events` are listed by `auditrail sql --columns` (or the query DESCRIBE events)"
    )]
    UnknownColumn {
        /// The column as written.
        name: String,
        /// ` (did you mean X?)` when a valid name is one or two edits away, else empty.
        hint: String,
        /// The names valid at that place, comma-separated.
        valid: String,
    },
    /// The query names a table other than `events`.
    #[error(
        "{message}; the only table is `events` (list its columns with `auditrail sql --columns`)"
    )]
    UnknownTable {
        /// DataFusion's message.
        message: String,
    },
    /// The statement would change something or is not a query.
    #[error("only queries are allowed (SELECT, WITH, EXPLAIN, DESCRIBE): {message}")]
    NotAQuery {
        /// What was refused.
        message: String,
    },
    /// The query is wrong in another way (a function that does not exist, mismatched types).
    #[error("the query cannot be planned: {message}")]
    Plan {
        /// DataFusion's message.
        message: String,
    },
    /// The query failed while running on bad values (for example a cast or division by zero).
    #[error("the query failed: {message}")]
    Execution {
        /// DataFusion's message.
        message: String,
    },
    /// The query needs more memory than allowed.
    #[error("the query needs more than {} MiB of memory; narrow it (WHERE time > now() - INTERVAL '1 day'), aggregate, or add a LIMIT", .max_bytes / (1024 * 1024))]
    Memory {
        /// The limit.
        max_bytes: usize,
    },
    /// The query ran longer than allowed.
    #[error(
        "the query ran longer than {seconds} s and was stopped; narrow it (WHERE time > now() - INTERVAL '1 day') or add a LIMIT"
    )]
    Timeout {
        /// The limit in seconds.
        seconds: u64,
    },
    /// The query engine could not run (threads, files of the data directory).
    #[error("the SQL engine failed: {message}")]
    Internal {
        /// What failed.
        message: String,
    },
}

impl Error {
    /// True when the query's author can fix the error (a bad or too costly query), false when
    /// something failed inside (unreadable files, no threads).
    pub fn is_user_error(&self) -> bool {
        !matches!(self, Error::Internal { .. } | Error::NotBuilt)
    }
}

/// The result of a query.
pub type Result<T> = std::result::Result<T, Error>;
