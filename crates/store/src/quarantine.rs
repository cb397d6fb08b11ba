//! `quarantine.jsonl`: every input record that could not be decoded, kept raw with where it
//! came from and why, so that nothing read is ever silently lost. One JSON object per line:
//! `{"time":…,"input":…,"line":…,"offset":…,"message":…,"raw":…}`, where `raw` is the record as
//! UTF-8 text, or `raw_base64` when it is not valid UTF-8; `raw_truncated` marks a record cut
//! at [`QUARANTINE_RAW_BYTES_MAX`].

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use serde::Serialize;

use crate::StoreError;
use crate::limits::QUARANTINE_RAW_BYTES_MAX;

/// One record to quarantine.
#[derive(Debug, Clone)]
pub struct QuarantineEntry {
    /// The input (file path, `-`, peer address).
    pub input: String,
    /// 1-based line of the record.
    pub line: u64,
    /// Byte offset of the record.
    pub offset: u64,
    /// Why it was not decoded.
    pub message: String,
    /// The record as read.
    pub raw: Vec<u8>,
}

#[derive(Serialize)]
struct Line<'a> {
    time: String,
    input: &'a str,
    line: u64,
    offset: u64,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw_base64: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    raw_truncated: bool,
}

/// The quarantine file, opened for appending on first use.
#[derive(Debug)]
pub(crate) struct Quarantine {
    path: PathBuf,
    file: Option<File>,
    written: u64,
}

impl Quarantine {
    pub(crate) fn new(path: &Path) -> Quarantine {
        Quarantine {
            path: path.to_owned(),
            file: None,
            written: 0,
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Records written by this process.
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    pub(crate) fn write(
        &mut self,
        entries: &[QuarantineEntry],
        now: event::Timestamp,
    ) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let io = |source| StoreError::Io {
            path: self.path.clone(),
            source,
        };
        if self.file.is_none() {
            self.file = Some(
                OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(&self.path)
                    .map_err(io)?,
            );
        }
        let mut bytes = Vec::new();
        for entry in entries {
            let truncated = entry.raw.len() > QUARANTINE_RAW_BYTES_MAX;
            let raw = &entry.raw[..entry.raw.len().min(QUARANTINE_RAW_BYTES_MAX)];
            let text = std::str::from_utf8(raw).ok();
            let line = Line {
                time: now.to_rfc3339(),
                input: &entry.input,
                line: entry.line,
                offset: entry.offset,
                message: &entry.message,
                raw: text,
                raw_base64: text
                    .is_none()
                    .then(|| base64::engine::general_purpose::STANDARD.encode(raw)),
                raw_truncated: truncated,
            };
            serde_json::to_writer(&mut bytes, &line).map_err(|error| StoreError::Io {
                path: self.path.clone(),
                source: std::io::Error::other(error),
            })?;
            bytes.push(b'\n');
        }
        let file = self.file.as_mut().ok_or_else(|| StoreError::Io {
            path: self.path.clone(),
            source: std::io::Error::other("quarantine file not open"),
        })?;
        file.write_all(&bytes).map_err(|source| StoreError::Io {
            path: self.path.clone(),
            source,
        })?;
        file.sync_data().map_err(|source| StoreError::Io {
            path: self.path.clone(),
            source,
        })?;
        self.written += entries.len() as u64;
        Ok(())
    }
}
