//! What decoders say about input they could not (fully) read.

use std::fmt;

use crate::limits::DIAGNOSTIC_EXCERPT_BYTES_MAX;

/// How bad a [`Diagnostic`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The record was decoded, but something in it was odd and was kept or dropped as said.
    Warning,
    /// The record could not be decoded; no event came from it. The raw record belongs in
    /// quarantine.
    Error,
}

/// A message about one record of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Warning or error.
    pub severity: Severity,
    /// 1-based line of the record's start within its input.
    pub line: u64,
    /// Byte offset of the record's start within its input.
    pub offset: u64,
    /// What is wrong, lowercase, without a trailing period.
    pub message: String,
}

impl Diagnostic {
    /// An error for the record at `line`/`offset`.
    pub fn error(line: u64, offset: u64, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            line,
            offset,
            message: message.into(),
        }
    }

    /// A warning for the record at `line`/`offset`.
    pub fn warning(line: u64, offset: u64, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            line,
            offset,
            message: message.into(),
        }
    }

    /// True for [`Severity::Error`].
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(f, "line {}: {severity}: {}", self.line, self.message)
    }
}

/// The start of `record`, printable, for quoting in a message.
pub(crate) fn excerpt(record: &[u8]) -> String {
    let cut = record.len().min(DIAGNOSTIC_EXCERPT_BYTES_MAX);
    let mut text: String = String::from_utf8_lossy(&record[..cut])
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if cut < record.len() {
        text.push('…');
    }
    text
}
