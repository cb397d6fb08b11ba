//! The spool: batches read from the sources and not yet acknowledged by the server, one file
//! per batch in the spool directory, oldest first, bounded in bytes.
//!
//! An entry is `{seq:020}.entry`: one JSON header line (source, the position to commit once
//! acknowledged, event count, body length and CRC-32C), then the body, the batch's events as
//! auditrail JSON lines. It is written to a temporary file, synced, and renamed into place
//! (then the directory synced): an entry is there whole or not at all.
//!
//! Invariants:
//! - [`Spool::push`] waits while the spool holds `limit` bytes or more (and holds at least
//!   one entry): the source that pushes stops reading. Nothing is ever dropped to make room.
//! - Entries are sent, committed and removed in the order they were pushed, so each
//!   source's positions are committed in order.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use collect::Position;
use serde::{Deserialize, Serialize};

use crate::error::{AgentError, io};
use crate::limits::{SPOOL_ENTRIES_MAX, SPOOL_ENTRY_BYTES_MAX};

/// The header line of an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// The source the batch came from.
    pub source: String,
    /// To commit once the server acknowledged the body.
    pub position: Position,
    /// Events in the body.
    pub events: u64,
    /// Bytes of the body.
    pub body_bytes: u64,
    /// CRC-32C of the body.
    pub body_crc32c: u32,
}

/// One spooled batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its number (order of pushing).
    pub seq: u64,
    /// Its header.
    pub header: Header,
    /// The events, as auditrail JSON lines.
    pub body: Vec<u8>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Sequence number and size in bytes of every entry, oldest first.
    entries: VecDeque<(u64, u64)>,
    bytes: u64,
    next: u64,
}

/// The spool directory.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    limit: u64,
    inner: Mutex<Inner>,
    changed: Condvar,
}

/// [`Spool::push`] gave up because the agent is stopping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopping;

impl Spool {
    /// Opens (creating) the spool in `dir`, finding the entries a previous run left.
    pub fn open(dir: &Path, limit: u64) -> Result<Spool, AgentError> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(io(dir))?;
        let mut entries = Vec::new();
        for item in std::fs::read_dir(dir).map_err(io(dir))? {
            let item = item.map_err(io(dir))?;
            let path = item.path();
            let name = item.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".tmp") {
                // An entry a crash interrupted before it was complete: never acknowledged,
                // its position never committed; its records are read again.
                std::fs::remove_file(&path).map_err(io(&path))?;
            } else if let Some(seq) = name
                .strip_suffix(".entry")
                .and_then(|seq| seq.parse::<u64>().ok())
            {
                let size = item.metadata().map_err(io(&path))?.len();
                entries.push((seq, size));
            }
        }
        entries.sort_unstable();
        let next = entries.last().map_or(0, |(seq, _)| seq + 1);
        let bytes = entries.iter().map(|(_, size)| size).sum();
        Ok(Spool {
            dir: dir.to_owned(),
            limit,
            inner: Mutex::new(Inner {
                entries: entries.into(),
                bytes,
                next,
            }),
            changed: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent counters (each update is one
        // step); go on with them.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn path(&self, seq: u64) -> PathBuf {
        self.dir.join(format!("{seq:020}.entry"))
    }

    /// Bytes and entries held.
    pub fn usage(&self) -> (u64, usize) {
        let inner = self.lock();
        (inner.bytes, inner.entries.len())
    }

    /// Adds an entry, durably; waits while the spool is full (back-pressure) unless `stop`
    /// is set.
    pub fn push(
        &self,
        source: &str,
        position: &Position,
        events: u64,
        body: &[u8],
        stop: &AtomicBool,
    ) -> Result<Result<(), Stopping>, AgentError> {
        let header = Header {
            source: source.to_owned(),
            position: position.clone(),
            events,
            body_bytes: body.len() as u64,
            body_crc32c: crc32c::crc32c(body),
        };
        let mut bytes = serde_json::to_vec(&header).map_err(|error| AgentError::Spool {
            path: self.dir.clone(),
            reason: error.to_string(),
        })?;
        bytes.push(b'\n');
        bytes.extend_from_slice(body);
        let size = bytes.len() as u64;
        let mut inner = self.lock();
        while !inner.entries.is_empty()
            && (inner.bytes + size > self.limit || inner.entries.len() >= SPOOL_ENTRIES_MAX)
        {
            if stop.load(Ordering::Relaxed) {
                return Ok(Err(Stopping));
            }
            inner = self
                .changed
                .wait_timeout(inner, Duration::from_millis(100))
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        let seq = inner.next;
        let path = self.path(seq);
        let temporary = path.with_extension("tmp");
        let mut file = File::create(&temporary).map_err(io(&temporary))?;
        file.write_all(&bytes)
            .and_then(|()| file.sync_all())
            .map_err(io(&temporary))?;
        std::fs::rename(&temporary, &path).map_err(io(&path))?;
        File::open(&self.dir)
            .and_then(|dir| dir.sync_all())
            .map_err(io(&self.dir))?;
        inner.next += 1;
        inner.entries.push_back((seq, size));
        inner.bytes += size;
        self.changed.notify_all();
        Ok(Ok(()))
    }

    /// The oldest entry, if any.
    pub fn oldest(&self) -> Result<Option<Entry>, AgentError> {
        let Some((seq, _)) = self.lock().entries.front().copied() else {
            return Ok(None);
        };
        let path = self.path(seq);
        let corrupt = |reason: &str| AgentError::Spool {
            path: path.clone(),
            reason: reason.to_owned(),
        };
        let file = File::open(&path).map_err(io(&path))?;
        let mut bytes = Vec::new();
        file.take(SPOOL_ENTRY_BYTES_MAX + 1)
            .read_to_end(&mut bytes)
            .map_err(io(&path))?;
        let newline = memchr(&bytes).ok_or_else(|| corrupt("no header line"))?;
        let header: Header = serde_json::from_slice(&bytes[..newline])
            .map_err(|error| corrupt(&format!("bad header: {error}")))?;
        let body = bytes.split_off(newline + 1);
        if body.len() as u64 != header.body_bytes || crc32c::crc32c(&body) != header.body_crc32c {
            return Err(corrupt("body does not match its length and checksum"));
        }
        Ok(Some(Entry { seq, header, body }))
    }

    /// Removes the oldest entry (`seq`), acknowledged and committed.
    pub fn remove(&self, seq: u64) -> Result<(), AgentError> {
        let path = self.path(seq);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(io(&path)(error)),
        }
        let mut inner = self.lock();
        if inner
            .entries
            .front()
            .is_some_and(|(front, _)| *front == seq)
            && let Some((_, size)) = inner.entries.pop_front()
        {
            inner.bytes = inner.bytes.saturating_sub(size);
        }
        self.changed.notify_all();
        Ok(())
    }
}

fn memchr(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&byte| byte == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn entries_come_back_in_order_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let stop = AtomicBool::new(false);
        let spool = Spool::open(dir.path(), 1 << 20).unwrap();
        for i in 0..3u64 {
            let position = Position::Journal(format!("c{i}"));
            spool
                .push("s", &position, i, format!("body {i}\n").as_bytes(), &stop)
                .unwrap()
                .unwrap();
        }
        std::fs::write(dir.path().join("00000000000000000009.tmp"), b"torn").unwrap();
        let reopened = Spool::open(dir.path(), 1 << 20).unwrap();
        assert!(!dir.path().join("00000000000000000009.tmp").exists());
        let first = reopened.oldest().unwrap().unwrap();
        assert_eq!(first.seq, 0);
        assert_eq!(first.body, b"body 0\n");
        assert_eq!(first.header.position, Position::Journal("c0".to_owned()));
        reopened.remove(first.seq).unwrap();
        assert_eq!(reopened.oldest().unwrap().unwrap().seq, 1);
        assert_eq!(reopened.usage().1, 2);
    }

    #[test]
    fn a_full_spool_holds_the_pusher_back_until_an_entry_goes() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Arc::new(Spool::open(dir.path(), 300).unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let body = vec![b'x'; 200];
        spool
            .push("s", &Position::Unchanged, 1, &body, &stop)
            .unwrap()
            .unwrap();
        let pusher = {
            let (spool, stop, body) = (Arc::clone(&spool), Arc::clone(&stop), body.clone());
            std::thread::spawn(move || spool.push("s", &Position::Unchanged, 1, &body, &stop))
        };
        std::thread::sleep(Duration::from_millis(300));
        assert!(!pusher.is_finished(), "the second batch waits for room");
        assert_eq!(spool.usage().1, 1);
        spool.remove(0).unwrap();
        pusher.join().unwrap().unwrap().unwrap();
        assert_eq!(spool.usage().1, 1);
        // Stopping releases a waiting pusher without writing.
        let waiting = {
            let (spool, stop) = (Arc::clone(&spool), Arc::clone(&stop));
            std::thread::spawn(move || spool.push("s", &Position::Unchanged, 1, &body, &stop))
        };
        stop.store(true, Ordering::Relaxed);
        assert_eq!(waiting.join().unwrap().unwrap(), Err(Stopping));
    }

    #[test]
    fn a_damaged_entry_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), 1 << 20).unwrap();
        spool
            .push(
                "s",
                &Position::Unchanged,
                1,
                b"abc\n",
                &AtomicBool::new(false),
            )
            .unwrap()
            .unwrap();
        let path = dir.path().join("00000000000000000000.entry");
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 2;
        bytes[last] = b'X';
        std::fs::write(&path, bytes).unwrap();
        assert!(matches!(spool.oldest(), Err(AgentError::Spool { .. })));
    }
}
