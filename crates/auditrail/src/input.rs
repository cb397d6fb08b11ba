//! Reading inputs: files or standard input, framed into records, decoded, with progress on a
//! terminal and every diagnostic reported with its file and line.
//!
//! Every line read is accounted for: it gave events, it was blank, or it gave an error
//! diagnostic (malformed). The counts come back in [`InputStats`].

use std::fs::File;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use event::AuditEvent;
use formats::frame::{self, Framing, Line, LineFramer};
use formats::{Decoder, Diagnostic, InputFormat};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::limits::{DIAGNOSTICS_PRINTED_MAX, EVENT_BATCH_MAX, READ_CHUNK_BYTES};

mod parallel;

pub(crate) use parallel::{Process, read_inputs_parallel};

/// What was read.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub(crate) struct InputStats {
    /// Inputs read.
    pub(crate) inputs: u64,
    /// Bytes read.
    pub(crate) bytes: u64,
    /// Records (non-blank lines, or JSON values of a document) read.
    pub(crate) records: u64,
    /// Events decoded.
    pub(crate) events: u64,
    /// Records that could not be decoded.
    pub(crate) malformed: u64,
    /// Records decoded with a warning.
    pub(crate) warnings: u64,
    /// Lines that are not audit records of a format that shares its stream with other
    /// logging (MKE controller, OKD master, DC/OS adminrouter), skipped and counted.
    pub(crate) skipped: u64,
}

impl InputStats {
    /// `; N lines of other logging skipped`, when there were any.
    pub(crate) fn skipped_note(&self) -> String {
        if self.skipped == 0 {
            String::new()
        } else {
            format!("; {} lines of other logging skipped", self.skipped)
        }
    }
}

/// A batch of decoded events with, for each, the input bytes it came from.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub(crate) events: Vec<AuditEvent>,
    /// Records that could not be decoded, raw, when [`ReadOptions::keep_malformed`] is set.
    pub(crate) malformed: Vec<store::QuarantineEntry>,
    /// `input_bytes[i]` is the size of the record `events[i]` was decoded from (shared equally
    /// when one record held several events).
    pub(crate) input_bytes: Vec<u64>,
}

/// How to read inputs.
#[derive(Debug, Clone)]
pub(crate) struct ReadOptions {
    pub(crate) format: InputFormat,
    /// No progress bar.
    pub(crate) quiet: bool,
    /// Keep the raw bytes of malformed records in [`Batch::malformed`].
    pub(crate) keep_malformed: bool,
    /// Names for the ids in Linux audit records.
    pub(crate) user_db: Option<std::sync::Arc<formats::auditd::UserDb>>,
}

impl ReadOptions {
    /// Options for `format`, loading the host account files when given.
    pub(crate) fn new(
        format: InputFormat,
        quiet: bool,
        accounts: &crate::cli::HostAccounts,
    ) -> Result<ReadOptions> {
        let user_db = match (&accounts.passwd, &accounts.group) {
            (None, None) => None,
            (passwd, group) => {
                let read = |path: &Option<PathBuf>| -> Result<Vec<u8>> {
                    path.as_ref().map_or(Ok(Vec::new()), |path| {
                        std::fs::read(path)
                            .with_context(|| format!("cannot read {}", path.display()))
                    })
                };
                let db = formats::auditd::UserDb::from_passwd_group(&read(passwd)?, &read(group)?)
                    .context("the --passwd/--group files are not passwd(5)/group(5) files")?;
                Some(std::sync::Arc::new(db))
            }
        };
        Ok(ReadOptions {
            format,
            quiet,
            keep_malformed: false,
            user_db,
        })
    }
}

/// Reads `paths` (standard input for none or `-`), calling `sink` with each batch of events.
pub(crate) fn read_inputs(
    paths: &[PathBuf],
    options: ReadOptions,
    mut sink: impl FnMut(&mut Batch) -> Result<()>,
) -> Result<InputStats> {
    let ReadOptions {
        format,
        quiet,
        keep_malformed,
        user_db,
    } = options;
    let paths = input_paths(paths);
    let total_bytes = total_bytes(&paths);
    let mut reader = InputReader {
        format,
        user_db,
        keep_malformed,
        reporter: Reporter::new(total_bytes, quiet),
    };
    for path in &paths {
        reader.read_path(path, &mut sink)?;
    }
    Ok(reader.reporter.finish())
}

/// The inputs to read: standard input when none are named.
fn input_paths(paths: &[PathBuf]) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        paths.to_vec()
    }
}

/// The total size of `paths`, when every one is a file whose size is known.
fn total_bytes(paths: &[PathBuf]) -> Option<u64> {
    paths
        .iter()
        .map(|path| {
            if is_stdin(path) {
                None
            } else {
                std::fs::metadata(path).ok().map(|m| m.len())
            }
        })
        .sum()
}

fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

struct InputReader {
    format: InputFormat,
    user_db: Option<std::sync::Arc<formats::auditd::UserDb>>,
    keep_malformed: bool,
    reporter: Reporter,
}

impl InputReader {
    fn read_path(
        &mut self,
        path: &Path,
        sink: &mut impl FnMut(&mut Batch) -> Result<()>,
    ) -> Result<()> {
        self.reporter.stats.inputs += 1;
        if is_stdin(path) {
            let stdin = std::io::stdin();
            return self
                .read_stream("-", &mut stdin.lock(), sink)
                .context("cannot read standard input");
        }
        let name = path.display().to_string();
        let mut file = File::open(path).with_context(|| {
            format!("cannot open {name}: check the path and that you may read it")
        })?;
        self.read_stream(&name, &mut file, sink)
            .with_context(|| format!("cannot read {name}"))
    }

    fn read_stream(
        &mut self,
        name: &str,
        stream: &mut dyn Read,
        sink: &mut impl FnMut(&mut Batch) -> Result<()>,
    ) -> Result<()> {
        let mut decoder = Decoder::new(self.format, name);
        if let Some(user_db) = &self.user_db {
            decoder = decoder.with_user_db(user_db.clone());
        }
        let mut state = DecodeState::default();
        let mut chunk = vec![0u8; READ_CHUNK_BYTES];
        let first = read_full(stream, &mut chunk)?;
        self.account_bytes(first as u64);
        let framing = frame::detect(&chunk[..first], first < chunk.len());
        if framing == Framing::Document {
            let mut document = chunk[..first].to_vec();
            let room = formats::limits::DOCUMENT_BYTES_MAX.saturating_sub(first) as u64 + 1;
            stream.take(room).read_to_end(&mut document)?;
            self.account_bytes((document.len() - first) as u64);
            if document.len() > formats::limits::DOCUMENT_BYTES_MAX {
                anyhow::bail!(
                    "the JSON document in {name} is larger than {} bytes; write it as one event per line",
                    formats::limits::DOCUMENT_BYTES_MAX
                );
            }
            self.reporter.stats.records += decode_document(
                &mut decoder,
                name,
                self.keep_malformed,
                &document,
                &mut state.batch,
                &mut state.diagnostics,
            );
        } else {
            let mut framer = LineFramer::new();
            let mut outcome = Ok(());
            let mut length = first;
            loop {
                framer.push(&chunk[..length], |line| {
                    self.decode_line(name, &mut decoder, &mut state, &line);
                });
                self.flush_if_full(name, &mut state, sink, &mut outcome);
                outcome?;
                outcome = Ok(());
                length = stream.read(&mut chunk)?;
                if length == 0 {
                    break;
                }
                self.account_bytes(length as u64);
            }
            framer.finish(|line| self.decode_line(name, &mut decoder, &mut state, &line));
        }
        decoder.finish(&mut state.batch.events, &mut state.diagnostics);
        self.reporter.stats.skipped += decoder.skipped_records();
        state.batch.input_bytes.resize(state.batch.events.len(), 0);
        self.flush(name, &mut state, sink)
    }

    fn decode_line(
        &mut self,
        name: &str,
        decoder: &mut Decoder,
        state: &mut DecodeState,
        line: &Line<'_>,
    ) {
        let record = decode_line(
            decoder,
            name,
            self.keep_malformed,
            line,
            &mut state.batch,
            &mut state.diagnostics,
        );
        self.reporter.stats.records += u64::from(record);
    }

    fn flush_if_full(
        &mut self,
        name: &str,
        state: &mut DecodeState,
        sink: &mut impl FnMut(&mut Batch) -> Result<()>,
        outcome: &mut Result<()>,
    ) {
        if state.batch.events.len() >= EVENT_BATCH_MAX || !state.diagnostics.is_empty() {
            *outcome = self.flush(name, state, sink);
        }
    }

    fn flush(
        &mut self,
        name: &str,
        state: &mut DecodeState,
        sink: &mut impl FnMut(&mut Batch) -> Result<()>,
    ) -> Result<()> {
        self.reporter.report(name, &state.diagnostics);
        state.diagnostics.clear();
        self.reporter.stats.events += state.batch.events.len() as u64;
        self.reporter.progress.events(self.reporter.stats.events);
        let result = sink(&mut state.batch);
        state.batch.events.clear();
        state.batch.malformed.clear();
        state.batch.input_bytes.clear();
        result
    }

    fn account_bytes(&mut self, bytes: u64) {
        self.reporter.stats.bytes += bytes;
        self.reporter.progress.bar.inc(bytes);
    }
}

/// Decodes one framed line into `batch`: its events, with the input bytes each came from,
/// and, when `keep_malformed`, the raw line if it gave an error. Returns whether the line was
/// a record (not blank).
fn decode_line(
    decoder: &mut Decoder,
    name: &str,
    keep_malformed: bool,
    line: &Line<'_>,
    batch: &mut Batch,
    diagnostics: &mut Vec<Diagnostic>,
) -> bool {
    if line.bytes.iter().all(u8::is_ascii_whitespace) && !line.overlong {
        return false;
    }
    let before = batch.events.len();
    let diagnostics_before = diagnostics.len();
    decoder.decode_line(line, &mut batch.events, diagnostics);
    if keep_malformed {
        let error = diagnostics[diagnostics_before..]
            .iter()
            .find(|d| d.is_error());
        if let Some(error) = error {
            batch.malformed.push(store::QuarantineEntry {
                input: name.to_owned(),
                line: line.number,
                offset: line.offset,
                message: error.message.clone(),
                raw: line.bytes.to_vec(),
            });
        }
    }
    let produced = (batch.events.len() - before) as u64;
    if let Some(share) = (line.length + 1).checked_div(produced) {
        batch.input_bytes.resize(batch.events.len(), share);
    }
    true
}

/// Decodes a whole JSON document into `batch` (see [`decode_line`]); returns the records
/// it held (at least one: a document without events is one malformed record).
fn decode_document(
    decoder: &mut Decoder,
    name: &str,
    keep_malformed: bool,
    document: &[u8],
    batch: &mut Batch,
    diagnostics: &mut Vec<Diagnostic>,
) -> u64 {
    let events_before = batch.events.len();
    let diagnostics_before = diagnostics.len();
    decoder.decode_document(document, &mut batch.events, diagnostics);
    if keep_malformed {
        for error in diagnostics[diagnostics_before..]
            .iter()
            .filter(|d| d.is_error())
        {
            let start = usize::try_from(error.offset)
                .unwrap_or(usize::MAX)
                .min(document.len());
            batch.malformed.push(store::QuarantineEntry {
                input: name.to_owned(),
                line: error.line,
                offset: error.offset,
                message: error.message.clone(),
                raw: document[start..].to_vec(),
            });
        }
    }
    let count = (batch.events.len() - events_before) as u64;
    let share = document.len() as u64 / count.max(1);
    batch.input_bytes.resize(batch.events.len(), share);
    count.max(1)
}

/// Counts what was read and prints diagnostics as `file:line`, at most
/// [`DIAGNOSTICS_PRINTED_MAX`] of them, around the progress bar.
struct Reporter {
    stats: InputStats,
    printed: u64,
    progress: Progress,
}

impl Reporter {
    fn new(total_bytes: Option<u64>, quiet: bool) -> Reporter {
        Reporter {
            stats: InputStats::default(),
            printed: 0,
            progress: Progress::new(total_bytes, quiet),
        }
    }

    fn reported(&self) -> u64 {
        self.stats.malformed + self.stats.warnings
    }

    fn report(&mut self, name: &str, diagnostics: &[Diagnostic]) {
        let mut last_error_line = None;
        for diagnostic in diagnostics {
            // One malformed record can give several errors (one per list item).
            if diagnostic.is_error() {
                if last_error_line != Some(diagnostic.line) {
                    self.stats.malformed += 1;
                }
                last_error_line = Some(diagnostic.line);
            } else {
                self.stats.warnings += 1;
            }
            if (self.printed as usize) < DIAGNOSTICS_PRINTED_MAX {
                self.printed += 1;
                let severity = if diagnostic.is_error() {
                    "error"
                } else {
                    "warning"
                };
                let message = format!(
                    "{name}:{}: {severity}: {}",
                    diagnostic.line, diagnostic.message
                );
                self.progress.bar.suspend(|| eprintln_clear(&message));
            }
        }
    }

    /// Clears the progress bar, says how many diagnostics were not printed, and gives the
    /// counts.
    fn finish(self) -> InputStats {
        self.progress.finish();
        if self.printed < self.reported() {
            eprintln_clear(&format!(
                "auditrail: {} more diagnostics not shown",
                self.reported() - self.printed
            ));
        }
        self.stats
    }
}

#[derive(Default)]
struct DecodeState {
    batch: Batch,
    diagnostics: Vec<Diagnostic>,
}

/// Reads until `buffer` is full or the stream ends; returns the bytes read.
fn read_full(stream: &mut dyn Read, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match stream.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

/// Writes one line to standard error.
pub(crate) fn eprintln_clear(message: &str) {
    use std::io::Write;
    // Nothing useful can be done when standard error is gone.
    let _ = writeln!(std::io::stderr().lock(), "{message}");
}

/// A progress bar on standard error when it is a terminal; nothing otherwise.
pub(crate) struct Progress {
    pub(crate) bar: ProgressBar,
}

impl Progress {
    pub(crate) fn new(total_bytes: Option<u64>, quiet: bool) -> Progress {
        if quiet || !std::io::stderr().is_terminal() {
            return Progress {
                bar: ProgressBar::hidden(),
            };
        }
        let bar = match total_bytes {
            Some(total) => ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr()),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
        };
        let template = if total_bytes.is_some() {
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {binary_bytes_per_sec} {msg} (eta {eta})"
        } else {
            "{spinner} [{elapsed_precise}] {bytes} {binary_bytes_per_sec} {msg}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress { bar }
    }

    fn events(&self, events: u64) {
        if !self.bar.is_hidden() {
            let per_second = events as f64 / self.bar.elapsed().as_secs_f64().max(0.001);
            self.bar
                .set_message(format!("{events} events, {per_second:.0}/s"));
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
