//! The append-only log of every signed checkpoint (`checkpoints.log`).
//!
//! Each entry: magic `"CKP1"` | note length `u32` LE | crc32c(note) `u32` LE | note bytes
//! (the full signed note, UTF-8). Entries are appended and fsynced; a torn last entry is
//! cut at open. Tree sizes never decrease from one entry to the next.

use crate::limits::CHECKPOINT_BYTES_MAX;
use crate::segment::FormatFault;

/// File name of the checkpoint log.
pub const CHECKPOINT_LOG: &str = "checkpoints.log";
/// File name of the latest checkpoint (a copy of the last log entry, tlog-tiles style).
pub const CHECKPOINT_FILE: &str = "checkpoint";
/// Magic of an entry.
pub(crate) const ENTRY_MAGIC: [u8; 4] = *b"CKP1";
const ENTRY_HEADER_BYTES: usize = 12;

/// Frame a note as a log entry.
pub(crate) fn encode_entry(note: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(ENTRY_HEADER_BYTES + note.len());
    out.extend_from_slice(&ENTRY_MAGIC);
    out.extend_from_slice(&(note.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(note.as_bytes()).to_le_bytes());
    out.extend_from_slice(note.as_bytes());
    out
}

/// One entry read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogEntry {
    /// Byte offset of the entry in the log.
    pub(crate) offset: u64,
    /// The signed note.
    pub(crate) note: String,
}

/// Parse the whole log: the good entries and, if any, the offset and nature of the first
/// bad one (everything from there on is ignored).
pub(crate) fn parse_log(bytes: &[u8]) -> (Vec<LogEntry>, Option<(u64, FormatFault)>) {
    let mut entries = Vec::new();
    let mut offset = 0usize;
    while offset < bytes.len() {
        let fault = |fault: FormatFault| Some((offset as u64, fault));
        let Some(header) = bytes.get(offset..offset + ENTRY_HEADER_BYTES) else {
            let available = (bytes.len() - offset) as u64;
            return (
                entries,
                fault(FormatFault::Truncated {
                    needed: 12,
                    available,
                }),
            );
        };
        if header[0..4] != ENTRY_MAGIC {
            return (
                entries,
                fault(FormatFault::BadMagic {
                    found: header[0..4].to_vec(),
                }),
            );
        }
        let len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let stored = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
        if len > CHECKPOINT_BYTES_MAX {
            return (
                entries,
                fault(FormatFault::Field {
                    field: "note_len",
                    value: len as u64,
                }),
            );
        }
        let start = offset + ENTRY_HEADER_BYTES;
        let Some(body) = bytes.get(start..start + len) else {
            let available = (bytes.len() - start) as u64;
            return (
                entries,
                fault(FormatFault::Truncated {
                    needed: len as u64,
                    available,
                }),
            );
        };
        let computed = crc32c::crc32c(body);
        if computed != stored {
            return (entries, fault(FormatFault::Checksum { stored, computed }));
        }
        let Ok(note) = std::str::from_utf8(body) else {
            return (
                entries,
                fault(FormatFault::Field {
                    field: "note_utf8",
                    value: len as u64,
                }),
            );
        };
        entries.push(LogEntry {
            offset: offset as u64,
            note: note.to_owned(),
        });
        offset = start + len;
    }
    (entries, None)
}
