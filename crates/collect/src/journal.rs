//! Journal sources: `journalctl --output=json --follow` (with `--after-cursor` once a cursor
//! is saved), the `MESSAGE` of each entry decoded with the source's format (`dcos` decodes
//! the whole entry: it reads `MESSAGE`, `_HOSTNAME` and `__REALTIME_TIMESTAMP` itself); the
//! entry's `_HOSTNAME` and `__REALTIME_TIMESTAMP` fill an event's node and time when its
//! format has none.
//!
//! A reader thread cuts journalctl's output into entries and hands them over a bounded queue
//! ([`JOURNAL_QUEUE_ENTRIES`]); when the queue is full, journalctl waits on its pipe. The
//! position committed with a batch is the cursor of the last entry whose records are all in
//! that batch or earlier ones (an OKD request entry waiting for its response entry holds it
//! back). If journalctl ends, it is started again after a pause, from the committed cursor.

use std::collections::VecDeque;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, sync_channel};
use std::time::Instant;

use event::{AuditEvent, Timestamp};
use formats::frame::{Line, LineFramer};
use formats::{Decoder, Diagnostic, InputFormat};
use serde::Deserialize;

use crate::batch::{Batch, Rejected};
use crate::config::{JournalSource, StartAt};
use crate::context::{Context, newest_time};
use crate::error::CollectError;
use crate::limits::{
    BATCH_BYTES_MAX, BATCH_EVENTS_MAX, IDLE_FLUSH, IDLE_FLUSH_PAIRED, JOURNAL_BATCH_WAIT,
    JOURNAL_CURSORS_MAX, JOURNAL_LINE_BYTES_MAX, JOURNAL_QUEUE_ENTRIES, RESTART_WAIT_MAX,
    RESTART_WAIT_MIN,
};
use crate::state::Position;

/// Runs a journal source until stopped.
pub(crate) fn run(config: &JournalSource, mut context: Context) {
    let mut wait = RESTART_WAIT_MIN;
    while !context.stopping() {
        let started = Instant::now();
        match run_journalctl(config, &mut context) {
            Ok(()) | Err(CollectError::Stopped) => {}
            Err(error) => {
                context.metrics.restarts.inc();
                tracing::warn!(
                    "source {}: {error}; starting journalctl again in {wait:?} from the last stored cursor",
                    config.name
                );
            }
        }
        if started.elapsed() > RESTART_WAIT_MAX {
            wait = RESTART_WAIT_MIN;
        }
        context.pause(wait);
        wait = (wait * 2).min(RESTART_WAIT_MAX);
    }
}

/// The arguments journalctl is started with.
pub fn journalctl_args(config: &JournalSource, cursor: Option<&str>) -> Vec<String> {
    let mut args = vec![
        "--output=json".to_owned(),
        "--follow".to_owned(),
        "--no-pager".to_owned(),
        // Without --all, JSON output has null for fields over 4096 bytes.
        "--all".to_owned(),
    ];
    match (cursor, config.start_at) {
        (Some(cursor), _) => args.push(format!("--after-cursor={cursor}")),
        (None, StartAt::Beginning) => args.push("--no-tail".to_owned()),
        (None, StartAt::End) => args.push("--lines=0".to_owned()),
    }
    if let Some(directory) = &config.directory {
        args.push(format!("--directory={}", directory.display()));
    }
    for unit in &config.units {
        args.push(format!("--unit={unit}"));
    }
    for identifier in &config.identifiers {
        args.push(format!("--identifier={identifier}"));
    }
    args
}

/// One line of journalctl's output.
struct EntryLine {
    bytes: Vec<u8>,
    overlong: bool,
}

/// Kills and reaps journalctl when the run ends, however it ends.
struct Running {
    child: Child,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

fn run_journalctl(config: &JournalSource, context: &mut Context) -> Result<(), CollectError> {
    let saved = context.offsets.load(&config.name)?;
    let command = config
        .command
        .clone()
        .unwrap_or_else(|| PathBuf::from("journalctl"));
    let mut child = Command::new(&command)
        .args(journalctl_args(config, saved.cursor.as_deref()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|source| CollectError::Journalctl {
            command: command.clone(),
            source,
        })?;
    let stdout = child.stdout.take();
    let (sender, receiver) = sync_channel::<EntryLine>(JOURNAL_QUEUE_ENTRIES);
    let reader = stdout.map(|mut stdout| {
        std::thread::spawn(move || {
            let mut framer = LineFramer::new();
            let mut buffer = vec![0; 64 * 1024];
            let mut open = true;
            while open {
                let read = match stdout.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(read) => read,
                };
                framer.push(&buffer[..read], |line| {
                    let overlong = line.overlong || line.bytes.len() > JOURNAL_LINE_BYTES_MAX;
                    let entry = EntryLine {
                        bytes: line.bytes.to_vec(),
                        overlong,
                    };
                    open = open && sender.send(entry).is_ok();
                });
            }
        })
    });
    let _running = Running { child, reader };
    let mut journal = Journal::new(config);
    journal.follow(&receiver, context)
}

#[derive(Deserialize)]
struct Entry {
    #[serde(rename = "__CURSOR")]
    cursor: Option<String>,
    #[serde(rename = "MESSAGE", default)]
    message: Option<Message>,
    #[serde(rename = "_HOSTNAME")]
    hostname: Option<String>,
    #[serde(rename = "__REALTIME_TIMESTAMP")]
    realtime: Option<String>,
}

/// `MESSAGE` is a string, or an array of bytes when it is not valid UTF-8.
#[derive(Deserialize)]
#[serde(untagged)]
enum Message {
    Text(String),
    Bytes(Vec<u8>),
}

struct Journal<'a> {
    config: &'a JournalSource,
    name: Arc<str>,
    input: String,
    decoder: Decoder,
    /// Number of the next entry (1-based, since journalctl started); used as the entries'
    /// line and offset, so that the decoder's pending offset names an entry.
    next: u64,
    /// Cursors of the entries from the one before the oldest still held, by number.
    cursors: VecDeque<(u64, String)>,
    events: Vec<AuditEvent>,
    diagnostics: Vec<Diagnostic>,
    rejected: Vec<Rejected>,
    bytes: usize,
    last_entry: Instant,
}

impl<'a> Journal<'a> {
    fn new(config: &'a JournalSource) -> Journal<'a> {
        let input = format!("journal:{}", config.name);
        Journal {
            config,
            name: Arc::from(config.name.as_str()),
            decoder: Decoder::new(config.format, &input),
            input,
            next: 1,
            cursors: VecDeque::new(),
            events: Vec::new(),
            diagnostics: Vec::new(),
            rejected: Vec::new(),
            bytes: 0,
            last_entry: Instant::now(),
        }
    }

    fn follow(
        &mut self,
        receiver: &Receiver<EntryLine>,
        context: &mut Context,
    ) -> Result<(), CollectError> {
        let idle_flush = match self.config.format {
            InputFormat::Okd | InputFormat::Auto => IDLE_FLUSH_PAIRED,
            _ => IDLE_FLUSH,
        };
        loop {
            if context.stopping() {
                return Err(CollectError::Stopped);
            }
            match receiver.recv_timeout(JOURNAL_BATCH_WAIT) {
                Ok(line) => {
                    self.entry(&line);
                    if self.events.len() >= BATCH_EVENTS_MAX || self.bytes >= BATCH_BYTES_MAX {
                        self.deliver(context)?;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    if self.last_entry.elapsed() >= idle_flush
                        && self.decoder.pending_offset().is_some()
                    {
                        self.flush();
                    }
                    self.deliver(context)?;
                    context.update_lag_seconds();
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.deliver(context)?;
                    if context.stopping() {
                        return Err(CollectError::Stopped);
                    }
                    return Err(CollectError::JournalEnded);
                }
            }
        }
    }

    fn flush(&mut self) {
        self.decoder.finish(&mut self.events, &mut self.diagnostics);
        self.settle(None);
    }

    fn entry(&mut self, line: &EntryLine) {
        let number = self.next;
        self.next += 1;
        self.last_entry = Instant::now();
        self.bytes += line.bytes.len() + 1;
        if line.overlong {
            self.reject(
                number,
                &line.bytes,
                "journal entry longer than the line limit",
            );
            return;
        }
        let entry: Entry = match serde_json::from_slice(&line.bytes) {
            Ok(entry) => entry,
            Err(error) => {
                self.reject(
                    number,
                    &line.bytes,
                    &format!("not a journalctl -o json entry: {error}"),
                );
                return;
            }
        };
        if let Some(cursor) = &entry.cursor {
            self.cursors.push_back((number, cursor.clone()));
        }
        let before = self.events.len();
        let whole = self.config.format == InputFormat::Dcos;
        let message = match (&entry.message, whole) {
            (_, true) => line.bytes.clone(),
            (Some(Message::Text(text)), false) => text.as_bytes().to_vec(),
            (Some(Message::Bytes(bytes)), false) => bytes.clone(),
            // An entry without a message carries no record.
            (None, false) => return,
        };
        let decoded = Line {
            number,
            offset: number,
            bytes: &message,
            overlong: false,
            length: message.len() as u64,
        };
        self.decoder
            .decode_line(&decoded, &mut self.events, &mut self.diagnostics);
        self.settle(Some((number, &message)));
        let time = entry
            .realtime
            .as_deref()
            .and_then(|micros| micros.parse::<i64>().ok())
            .map(|micros| Timestamp::from_unix_nanos(micros.saturating_mul(1000)));
        for event in &mut self.events[before..] {
            if event.node.is_none() {
                event.node.clone_from(&entry.hostname);
            }
            if event.time.is_none() {
                event.time = time;
            }
        }
        if self.cursors.len() > JOURNAL_CURSORS_MAX {
            tracing::warn!(
                "source {}: more than {JOURNAL_CURSORS_MAX} entries held waiting for their pair; giving them up",
                self.name
            );
            self.flush();
        }
    }

    fn reject(&mut self, number: u64, raw: &[u8], message: &str) {
        self.rejected.push(Rejected {
            input: self.input.clone(),
            line: number,
            offset: number,
            message: message.to_owned(),
            raw: raw.to_vec(),
        });
    }

    fn settle(&mut self, entry: Option<(u64, &[u8])>) {
        for diagnostic in self.diagnostics.drain(..) {
            if !diagnostic.is_error() {
                continue;
            }
            let raw = match entry {
                Some((number, raw)) if number == diagnostic.line => raw.to_vec(),
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

    /// The cursor of the last entry whose records are all out (entries before the oldest
    /// one the decoder holds); forgets the cursors before it.
    fn position(&mut self) -> Position {
        let resume = self.decoder.pending_offset().unwrap_or(self.next);
        let mut position = Position::Unchanged;
        while self
            .cursors
            .front()
            .is_some_and(|(number, _)| *number < resume)
        {
            if let Some((_, cursor)) = self.cursors.pop_front() {
                position = Position::Journal(cursor);
            }
        }
        position
    }

    fn deliver(&mut self, context: &mut Context) -> Result<(), CollectError> {
        let position = self.position();
        if self.events.is_empty() && self.rejected.is_empty() && position == Position::Unchanged {
            return Ok(());
        }
        let events = std::mem::take(&mut self.events);
        let rejected = std::mem::take(&mut self.rejected);
        let (records, rejected_count) = (events.len(), rejected.len());
        let newest = newest_time(&events);
        context.metrics.bytes_read.inc_by(self.bytes as u64);
        context.sink.deliver(Batch {
            source: Arc::clone(&self.name),
            events,
            rejected,
            bytes: std::mem::take(&mut self.bytes),
            position,
        })?;
        context.delivered(records, rejected_count, newest);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_follow_the_configuration() {
        let config = JournalSource {
            name: "adminrouter".to_owned(),
            format: InputFormat::Dcos,
            units: vec!["dcos-adminrouter.service".to_owned()],
            identifiers: vec!["atomic-openshift-master".to_owned()],
            directory: None,
            command: None,
            start_at: StartAt::Beginning,
        };
        let args = journalctl_args(&config, None);
        assert!(args.contains(&"--no-tail".to_owned()));
        assert!(args.contains(&"--unit=dcos-adminrouter.service".to_owned()));
        assert!(args.contains(&"--identifier=atomic-openshift-master".to_owned()));
        let args = journalctl_args(&config, Some("s=1;i=2"));
        assert!(args.contains(&"--after-cursor=s=1;i=2".to_owned()));
        assert!(!args.contains(&"--no-tail".to_owned()));
    }
}
