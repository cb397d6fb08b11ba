//! File sources: paths and glob patterns, tailed by polling.
//!
//! Every [`POLL_INTERVAL`](crate::limits::POLL_INTERVAL) the patterns are expanded and every
//! matching file is known by its device and inode (plus a fingerprint of its first bytes,
//! see [`crate::state`]); what it has beyond the read offset is read in chunks, cut into
//! lines and decoded with the source's format, and handed on as batches of at most
//! [`BATCH_BYTES_MAX`] input bytes. Only complete lines are decoded: a partial last line
//! waits for its newline (up to the decoders' line limit: a longer line is quarantined, its
//! start kept raw).
//!
//! Rotation:
//! - rename (`audit.log` → `audit.log.1`, a new `audit.log`): the open file keeps its
//!   identity and is read to its end; when it no longer matches any pattern, it is closed
//!   once it has not grown for [`ROTATE_WAIT`] (its last line, even without a newline, is
//!   then read as complete). The new file is a new identity, read from its start.
//! - copytruncate: the file shrinks below the read offset, or its first bytes change; it is
//!   read again from its start. (The copy, when it matches a pattern, is a new identity;
//!   its events are already stored and deduplicated.)
//!
//! Resume: the position handed on with a batch is the start of the oldest line whose
//! records are not all in the batch or earlier ones (see `Decoder::pending_offset`); a
//! restart reads from there.

use std::collections::{BTreeSet, HashSet};
use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use formats::frame::{Line, LineFramer};
use formats::{Decoder, Diagnostic, InputFormat};
use sha2::{Digest, Sha256};

use crate::batch::{Batch, Rejected};
use crate::config::{FileSource, StartAt};
use crate::context::{Context, newest_time};
use crate::error::CollectError;
use crate::limits::{
    BATCH_BYTES_MAX, BATCH_EVENTS_MAX, FILES_OPEN_MAX, FINGERPRINT_BYTES, GLOB_PATHS_MAX,
    IDLE_FLUSH, IDLE_FLUSH_PAIRED, READ_CHUNK_BYTES, RESTART_WAIT_MAX, RESTART_WAIT_MIN,
    ROTATE_WAIT,
};
use crate::state::{FileOffset, Position, SourceState};

/// Runs a file source until stopped.
pub(crate) fn run(config: &FileSource, mut context: Context) {
    let mut wait = RESTART_WAIT_MIN;
    while !context.stopping() {
        let mut collector = match FileCollector::new(config, &context) {
            Ok(collector) => collector,
            Err(error) => {
                tracing::error!("source {}: {error}", config.name);
                context.pause(wait);
                wait = (wait * 2).min(RESTART_WAIT_MAX);
                continue;
            }
        };
        match collector.run(&mut context) {
            Ok(()) => return,
            Err(CollectError::Stopped) => return,
            Err(error) => {
                context.metrics.restarts.inc();
                tracing::warn!(
                    "source {}: {error}; resuming from the last stored position in {:?}",
                    config.name,
                    wait
                );
                context.pause(wait);
                wait = (wait * 2).min(RESTART_WAIT_MAX);
            }
        }
    }
}

struct FileCollector<'a> {
    config: &'a FileSource,
    name: Arc<str>,
    saved: SourceState,
    files: Vec<Tailed>,
    first_scan: bool,
    /// Paths already reported as unreadable (bounded), so that the log is not flooded.
    warned: HashSet<PathBuf>,
}

/// A file being read.
struct Tailed {
    path: PathBuf,
    dev: u64,
    ino: u64,
    file: File,
    fingerprint: Fingerprint,
    /// Next byte to read.
    read_offset: u64,
    framer: LineFramer,
    /// Offset and line number where the framer started.
    framer_offset: u64,
    framer_line: u64,
    /// End of the last complete line read.
    complete_to: u64,
    decoder: Decoder,
    format: InputFormat,
    /// Lines ending at or before this were quarantined already (by an earlier run).
    quarantined_to: u64,
    last_growth: Instant,
    unmatched_since: Option<Instant>,
    /// The resume offset last handed on.
    delivered: u64,
    size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Fingerprint {
    len: u64,
    hash: String,
}

fn fingerprint(file: &File, size: u64) -> std::io::Result<Fingerprint> {
    let len = size.min(FINGERPRINT_BYTES);
    let mut head = vec![0; len as usize];
    file.read_exact_at(&mut head, 0)?;
    Ok(Fingerprint {
        len,
        hash: hex(&Sha256::digest(&head)),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// 1 + the newlines before `offset`: the number of the line starting there.
fn line_number_at(file: &File, offset: u64) -> std::io::Result<u64> {
    let mut buffer = vec![0; READ_CHUNK_BYTES];
    let mut at = 0;
    let mut lines = 1;
    while at < offset {
        let want = (offset - at).min(buffer.len() as u64) as usize;
        let read = file.read_at(&mut buffer[..want], at)?;
        if read == 0 {
            break;
        }
        lines += memchr::memchr_iter(b'\n', &buffer[..read]).count() as u64;
        at += read as u64;
    }
    Ok(lines)
}

impl<'a> FileCollector<'a> {
    fn new(config: &'a FileSource, context: &Context) -> Result<FileCollector<'a>, CollectError> {
        Ok(FileCollector {
            config,
            name: Arc::from(config.name.as_str()),
            saved: context.offsets.load(&config.name)?,
            files: Vec::new(),
            first_scan: true,
            warned: HashSet::new(),
        })
    }

    fn run(&mut self, context: &mut Context) -> Result<(), CollectError> {
        let interval = self.config.poll_interval();
        while !context.stopping() {
            let started = Instant::now();
            self.poll(context)?;
            context.pause(interval.saturating_sub(started.elapsed()));
        }
        Ok(())
    }

    /// One round: scan the patterns, read every file, close rotated files, update lag.
    fn poll(&mut self, context: &mut Context) -> Result<(), CollectError> {
        self.scan();
        let mut index = 0;
        while index < self.files.len() {
            if context.stopping() {
                return Err(CollectError::Stopped);
            }
            let closed = self.read_file(index, context)?;
            if closed {
                self.files.swap_remove(index);
            } else {
                index += 1;
            }
        }
        let lag: u64 = self
            .files
            .iter()
            .map(|file| file.size.saturating_sub(file.delivered))
            .sum();
        context.metrics.lag_bytes.set(lag as i64);
        context.metrics.files_open.set(self.files.len() as i64);
        context.update_lag_seconds();
        Ok(())
    }

    fn warn_once(&mut self, path: &Path, message: &str) {
        if self.warned.len() < GLOB_PATHS_MAX && self.warned.insert(path.to_owned()) {
            tracing::warn!("source {}: {}: {message}", self.name, path.display());
        }
    }

    /// Expands the patterns; opens files not tracked yet; notes which tracked ones match.
    fn scan(&mut self) {
        let mut paths = BTreeSet::new();
        for pattern in &self.config.paths {
            let Ok(matches) = glob::glob(pattern) else {
                continue; // validated at start
            };
            for path in matches.flatten() {
                if paths.len() >= GLOB_PATHS_MAX {
                    break;
                }
                paths.insert(path);
            }
        }
        let now = Instant::now();
        let mut matched = vec![false; self.files.len()];
        for path in paths {
            let Ok(metadata) = std::fs::metadata(&path) else {
                continue; // gone between the listing and now
            };
            if !metadata.is_file() {
                continue;
            }
            let (dev, ino) = (metadata.dev(), metadata.ino());
            if let Some(index) = self
                .files
                .iter()
                .position(|file| file.dev == dev && file.ino == ino)
            {
                matched[index] = true;
                self.files[index].path = path;
                continue;
            }
            if self.files.len() >= FILES_OPEN_MAX {
                self.warn_once(
                    &path,
                    &format!("not read yet: the source has {FILES_OPEN_MAX} files open"),
                );
                continue;
            }
            match self.open(&path) {
                Ok(tailed) => {
                    self.files.push(tailed);
                    matched.push(true);
                }
                Err(error) => self.warn_once(&path, &format!("cannot read it: {error}")),
            }
        }
        for (file, matched) in self.files.iter_mut().zip(matched) {
            if matched {
                file.unmatched_since = None;
            } else if file.unmatched_since.is_none() {
                file.unmatched_since = Some(now);
            }
        }
        self.first_scan = false;
    }

    fn open(&self, path: &Path) -> std::io::Result<Tailed> {
        let file = File::open(path)?;
        let metadata = file.metadata()?;
        let (dev, ino, size) = (metadata.dev(), metadata.ino(), metadata.len());
        let current = fingerprint(&file, size)?;
        let saved = self.saved.file(dev, ino).filter(|saved| {
            saved.offset <= size
                && saved.fingerprint_len <= size
                && fingerprint(&file, saved.fingerprint_len)
                    .is_ok_and(|head| head.hash == saved.fingerprint)
        });
        let (offset, quarantined_to) = match saved {
            Some(saved) => (saved.offset, saved.read_to),
            None if self.first_scan && self.config.start_at == StartAt::End => (size, size),
            None => (0, 0),
        };
        let line = if offset == 0 {
            1
        } else {
            line_number_at(&file, offset)?
        };
        tracing::debug!(
            "source {}: reading {} from byte {offset}",
            self.name,
            path.display()
        );
        Ok(Tailed {
            path: path.to_owned(),
            dev,
            ino,
            file,
            fingerprint: current,
            read_offset: offset,
            framer: LineFramer::new(),
            framer_offset: offset,
            framer_line: line,
            complete_to: offset,
            decoder: Decoder::new(self.config.format, &path.to_string_lossy()),
            format: self.config.format,
            quarantined_to,
            last_growth: Instant::now(),
            unmatched_since: None,
            delivered: offset,
            size,
        })
    }

    /// Reads what file `index` has; true when it is closed for good.
    fn read_file(&mut self, index: usize, context: &mut Context) -> Result<bool, CollectError> {
        let name = Arc::clone(&self.name);
        let format = self.config.format;
        let file = &mut self.files[index];
        let io = CollectError::io(&file.path);
        let size = file.file.metadata().map_err(io)?.len();
        if file.rewritten(size)? {
            tracing::info!(
                "source {name}: {} was truncated (copytruncate); reading it from its start",
                file.path.display()
            );
            let mut reader = Reading::new(file);
            reader.finish_decoder(file);
            file.restart_at_zero(size)?;
            reader.deliver(file, &name, context, false)?;
        }
        file.size = size;
        let mut reader = Reading::new(file);
        while file.read_offset < size {
            if context.stopping() {
                return Err(CollectError::Stopped);
            }
            let want = (size - file.read_offset).min(READ_CHUNK_BYTES as u64) as usize;
            let mut chunk = vec![0; want];
            let read = file
                .file
                .read_at(&mut chunk, file.read_offset)
                .map_err(CollectError::io(&file.path))?;
            if read == 0 {
                break;
            }
            chunk.truncate(read);
            file.read_offset += read as u64;
            file.last_growth = Instant::now();
            reader.bytes += read;
            reader.push(file, &chunk);
            if reader.events.len() >= BATCH_EVENTS_MAX || reader.bytes >= BATCH_BYTES_MAX {
                reader.deliver(file, &name, context, false)?;
                reader = Reading::new(file);
            }
        }
        if file.fingerprint.len < FINGERPRINT_BYTES && size > file.fingerprint.len {
            file.fingerprint =
                fingerprint(&file.file, size).map_err(CollectError::io(&file.path))?;
        }
        let idle = file.last_growth.elapsed();
        let rotated_away = file
            .unmatched_since
            .is_some_and(|since| since.elapsed() >= ROTATE_WAIT)
            && idle >= ROTATE_WAIT
            && file.read_offset >= size;
        let idle_flush = match format {
            InputFormat::Okd | InputFormat::Auto => IDLE_FLUSH_PAIRED,
            _ => IDLE_FLUSH,
        };
        if rotated_away {
            // Nothing more comes: the last line is complete even without its newline, and
            // what the decoder holds is all it will get.
            reader.finish_framer(file);
            reader.finish_decoder(file);
            file.complete_to = size;
            reader.deliver(file, &name, context, true)?;
            tracing::debug!("source {name}: closed {}", file.path.display());
            return Ok(true);
        }
        if idle >= idle_flush && file.decoder.pending_offset().is_some() {
            reader.finish_decoder(file);
        }
        reader.deliver(file, &name, context, false)?;
        Ok(false)
    }
}

impl Tailed {
    /// True when the file now holds other content than what was read: shorter than the read
    /// offset, or other first bytes.
    fn rewritten(&self, size: u64) -> Result<bool, CollectError> {
        if size < self.read_offset {
            return Ok(true);
        }
        if self.fingerprint.len == 0 || size < self.fingerprint.len {
            return Ok(size < self.fingerprint.len);
        }
        let head =
            fingerprint(&self.file, self.fingerprint.len).map_err(CollectError::io(&self.path))?;
        Ok(head != self.fingerprint)
    }

    fn restart_at_zero(&mut self, size: u64) -> Result<(), CollectError> {
        self.fingerprint = fingerprint(&self.file, size).map_err(CollectError::io(&self.path))?;
        self.read_offset = 0;
        self.framer = LineFramer::new();
        self.framer_offset = 0;
        self.framer_line = 1;
        self.complete_to = 0;
        self.quarantined_to = 0;
        self.decoder = Decoder::new(self.format, &self.path.to_string_lossy());
        self.delivered = u64::MAX; // force the new position out
        Ok(())
    }

    /// Where a restart resumes.
    fn resume_offset(&self) -> u64 {
        self.decoder
            .pending_offset()
            .map_or(self.complete_to, |pending| pending.min(self.complete_to))
    }
}

/// What one stretch of reading produced.
struct Reading {
    events: Vec<event::AuditEvent>,
    diagnostics: Vec<Diagnostic>,
    rejected: Vec<Rejected>,
    bytes: usize,
    input: String,
}

impl Reading {
    fn new(file: &Tailed) -> Reading {
        Reading {
            events: Vec::new(),
            diagnostics: Vec::new(),
            rejected: Vec::new(),
            bytes: 0,
            input: file.path.to_string_lossy().into_owned(),
        }
    }

    fn push(&mut self, file: &mut Tailed, chunk: &[u8]) {
        let mut framer = std::mem::take(&mut file.framer);
        framer.push(chunk, |line| self.line(file, &line));
        file.framer = framer;
    }

    fn finish_framer(&mut self, file: &mut Tailed) {
        let mut framer = std::mem::take(&mut file.framer);
        framer.finish(|line| self.line(file, &line));
        file.framer = framer;
    }

    fn line(&mut self, file: &mut Tailed, line: &Line<'_>) {
        let absolute = Line {
            number: file.framer_line + line.number - 1,
            offset: file.framer_offset + line.offset,
            ..*line
        };
        file.decoder
            .decode_line(&absolute, &mut self.events, &mut self.diagnostics);
        let end = absolute.offset + line.length + 1;
        self.settle(file, Some((&absolute, end)));
        file.complete_to = end;
    }

    fn finish_decoder(&mut self, file: &mut Tailed) {
        file.decoder.finish(&mut self.events, &mut self.diagnostics);
        self.settle(file, None);
    }

    /// Turns the error diagnostics so far into rejected records (not those of lines an
    /// earlier run quarantined already).
    fn settle(&mut self, file: &Tailed, line: Option<(&Line<'_>, u64)>) {
        for diagnostic in self.diagnostics.drain(..) {
            if !diagnostic.is_error() {
                continue;
            }
            if line.is_some_and(|(_, end)| end <= file.quarantined_to) {
                continue;
            }
            let raw = match line {
                Some((line, _)) if line.offset == diagnostic.offset => line.bytes.to_vec(),
                _ => Vec::new(),
            };
            self.rejected.push(Rejected {
                input: self.input.clone(),
                line: diagnostic.line,
                offset: diagnostic.offset,
                message: diagnostic.message,
                raw,
            });
        }
    }

    /// Hands on what was read with the position to commit; `done` for a file closed for good.
    fn deliver(
        &mut self,
        file: &mut Tailed,
        name: &Arc<str>,
        context: &mut Context,
        done: bool,
    ) -> Result<(), CollectError> {
        let resume = file.resume_offset();
        if self.events.is_empty() && self.rejected.is_empty() && resume == file.delivered && !done {
            return Ok(());
        }
        let position = Position::File(FileOffset {
            path: file.path.clone(),
            dev: file.dev,
            ino: file.ino,
            fingerprint: file.fingerprint.hash.clone(),
            fingerprint_len: file.fingerprint.len,
            offset: resume,
            read_to: file.complete_to.max(file.quarantined_to),
            done,
        });
        let events = std::mem::take(&mut self.events);
        let rejected = std::mem::take(&mut self.rejected);
        let (records, rejected_count) = (events.len(), rejected.len());
        let newest = newest_time(&events);
        context.metrics.bytes_read.inc_by(self.bytes as u64);
        context.sink.deliver(Batch {
            source: Arc::clone(name),
            events,
            rejected,
            bytes: std::mem::take(&mut self.bytes),
            position,
        })?;
        context.delivered(records, rejected_count, newest);
        file.delivered = resume;
        Ok(())
    }
}
