//! Reading inputs on every core, for `import`.
//!
//! One thread reads each input and cuts it into pieces of whole lines
//! ([`IMPORT_PIECE_BYTES`]), numbering them as it goes; decode workers (one per available
//! core) decode pieces and run the caller's processing on their events (policy and encoding);
//! the calling thread takes the results in input order, reports diagnostics and counts, and
//! hands each result to the caller (deduplication and the durable append). Queues are bounded
//! ([`IMPORT_PIECES_IN_FLIGHT`]), so memory is too.
//!
//! Lines that carry state from line to line (OKD request and response lines, MKE fragments,
//! Linux audit records: everything [`Decoder::is_independent`] says is not independent) are
//! decoded on the reading thread, in order, by one decoder per input; a piece that holds any
//! such line goes there whole. Independent lines neither read nor change that state, so the
//! events, their order, the diagnostics with their `file:line`, the quarantined records and
//! every count are exactly what one decoder reading the whole input in order gives.

use std::fs::File;
use std::io::Read;
use std::num::NonZero;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, anyhow};
use formats::frame::{self, Framing, Line, LineFramer};
use formats::limits::{DOCUMENT_BYTES_MAX, LINE_BYTES_MAX};
use formats::{Decoder, Diagnostic};
use indicatif::ProgressBar;

use super::{
    Batch, InputStats, ReadOptions, Reporter, decode_document, decode_line, input_paths, is_stdin,
    total_bytes,
};
use crate::limits::{
    EVENT_BATCH_MAX, IMPORT_PIECE_BYTES, IMPORT_PIECES_IN_FLIGHT, IMPORT_WORKERS_MAX,
    READ_CHUNK_BYTES,
};

/// Whole lines of one input, cut where a line ends.
struct Piece {
    input: Arc<str>,
    /// Number (1-based) and byte offset of the piece's first line in its input.
    first_line: u64,
    first_offset: u64,
    bytes: Vec<u8>,
    /// `Some(length)`: the piece is one line of `length` bytes, longer than
    /// [`LINE_BYTES_MAX`], and `bytes` is its start.
    overlong: Option<u64>,
}

/// What one piece (or the end of an input, or part of a JSON document) gave.
struct Decoded<T> {
    input: Arc<str>,
    diagnostics: Vec<Diagnostic>,
    records: u64,
    events: u64,
    skipped: u64,
    value: T,
}

/// A piece for a worker, and where its result goes.
type Job<T> = (Piece, SyncSender<Decoded<T>>);

/// The processing of decoded events that runs beside decoding, on the decode workers (and on
/// the reading thread for what is decoded in order).
pub(crate) trait Process: Sync {
    /// What one piece of input becomes, for the consumer.
    type Output: Send;

    /// An empty output, for the next piece.
    fn start(&self) -> Self::Output;

    /// Takes the events decoded from one record, and the raw record when it was malformed
    /// (with [`ReadOptions::keep_malformed`]), into `output`. Called record by record, so
    /// that an event is encoded while it is still in the cache and its memory is reused by
    /// the next one; `batch` is emptied afterwards.
    fn add(&self, batch: &mut Batch, output: &mut Self::Output);

    /// Takes a line before it is decoded: true when its outcome is already known (one event,
    /// no diagnostic, dropped by the policy: see [`Decoder::peek`]) and accounted for in
    /// `output`, so that it need not be decoded. The default decodes every line.
    fn skip(&self, _decoder: &Decoder, _line: &Line<'_>, _output: &mut Self::Output) -> bool {
        false
    }
}

/// Reads `paths` (standard input for none or `-`) on several threads: `process` runs on the
/// decode workers (and on the reading thread for what must be decoded in order), `consume`
/// on the calling thread, once per piece, in input order. Stops at the first error of
/// `consume` or of reading, and returns it (after the pieces read before it are consumed).
pub(crate) fn read_inputs_parallel<P: Process>(
    paths: &[PathBuf],
    options: ReadOptions,
    process: &P,
    mut consume: impl FnMut(P::Output) -> Result<()>,
) -> Result<InputStats> {
    let paths = input_paths(paths);
    let mut reporter = Reporter::new(total_bytes(&paths), options.quiet);
    let workers = std::thread::available_parallelism()
        .map_or(1, NonZero::get)
        .min(IMPORT_WORKERS_MAX);
    let buffers = Mutex::new(Vec::new());
    let (ordered_sender, ordered) =
        sync_channel::<Receiver<Decoded<P::Output>>>(IMPORT_PIECES_IN_FLIGHT);
    // Every queued job's result receiver is in `ordered` or being waited on, so this queue
    // never fills and the reader only ever waits on `ordered`.
    let (job_sender, jobs) = sync_channel::<Job<P::Output>>(IMPORT_PIECES_IN_FLIGHT + 1);
    let jobs = Mutex::new(jobs);
    let bar = reporter.progress.bar.clone();
    std::thread::scope(|scope| {
        let reader = {
            let (paths, options, buffers) = (&paths, &options, &buffers);
            scope.spawn(move || {
                let mut reader = PieceReader {
                    options,
                    process,
                    jobs: job_sender,
                    ordered: ordered_sender,
                    buffers,
                    bar,
                    inputs: 0,
                    bytes: 0,
                };
                let result = reader.read_all(paths);
                (reader.inputs, reader.bytes, result)
            })
        };
        let workers: Vec<_> = (0..workers)
            .map(|_| {
                let (jobs, options, buffers) = (&jobs, &options, &buffers);
                scope.spawn(move || work(jobs, options, process, buffers))
            })
            .collect();
        let mut consumed = Ok(());
        let mut worker_failed = false;
        for pending in &ordered {
            let Ok(decoded) = pending.recv() else {
                worker_failed = true;
                break;
            };
            reporter.report(&decoded.input, &decoded.diagnostics);
            reporter.stats.records += decoded.records;
            reporter.stats.events += decoded.events;
            reporter.stats.skipped += decoded.skipped;
            reporter.progress.events(reporter.stats.events);
            consumed = consume(decoded.value);
            if consumed.is_err() {
                break;
            }
        }
        // The reader stops at its next hand-off; the workers when the reader is gone.
        drop(ordered);
        let read = reader.join();
        for worker in workers {
            worker_failed |= worker.join().is_err();
        }
        consumed?;
        let (inputs, bytes, read) = read.map_err(|_| anyhow!("the reading thread panicked"))?;
        read?;
        if worker_failed {
            anyhow::bail!("a decoding thread panicked");
        }
        reporter.stats.inputs = inputs;
        reporter.stats.bytes = bytes;
        Ok(reporter.finish())
    })
}

/// The consumer stopped; its own error is the one reported.
fn stopped<E>(_: E) -> anyhow::Error {
    anyhow!("reading stopped because the events read could not be stored")
}

/// Where an input's reading stands.
struct InputState {
    name: Arc<str>,
    /// Next line's number and offset.
    line: u64,
    offset: u64,
    /// Tells independent lines apart (never decodes).
    probe: Decoder,
    /// The input's decoder for lines that must be decoded in order, once there is one.
    ordered: Option<Decoder>,
}

/// The reading thread.
struct PieceReader<'a, P: Process> {
    options: &'a ReadOptions,
    process: &'a P,
    jobs: SyncSender<Job<P::Output>>,
    ordered: SyncSender<Receiver<Decoded<P::Output>>>,
    buffers: &'a Mutex<Vec<Vec<u8>>>,
    bar: ProgressBar,
    inputs: u64,
    bytes: u64,
}

impl<P: Process> PieceReader<'_, P> {
    fn read_all(&mut self, paths: &[PathBuf]) -> Result<()> {
        for path in paths {
            self.inputs += 1;
            if is_stdin(path) {
                let stdin = std::io::stdin();
                self.read_stream(Arc::from("-"), &mut stdin.lock())
                    .context("cannot read standard input")?;
                continue;
            }
            let name = path.display().to_string();
            let mut file = File::open(path).with_context(|| {
                format!("cannot open {name}: check the path and that you may read it")
            })?;
            self.read_stream(Arc::from(name.as_str()), &mut file)
                .with_context(|| format!("cannot read {name}"))?;
        }
        Ok(())
    }

    fn read_stream(&mut self, name: Arc<str>, stream: &mut dyn Read) -> Result<()> {
        let mut buffer = take_buffer(self.buffers);
        let eof = self.read_into(stream, &mut buffer, READ_CHUNK_BYTES)?;
        if frame::detect(&buffer, eof) == Framing::Document {
            return self.read_document(name, stream, buffer);
        }
        let mut input = InputState {
            probe: Decoder::new(self.options.format, &name),
            name,
            line: 1,
            offset: 0,
            ordered: None,
        };
        self.read_lines(&mut input, stream, buffer, eof)?;
        let Some(mut decoder) = input.ordered else {
            return Ok(());
        };
        // Flush what the in-order decoder still holds (OKD requests without a response, an
        // unfinished MKE line, open Linux audit events).
        let mut batch = Batch::default();
        let mut diagnostics = Vec::new();
        let skipped = decoder.skipped_records();
        decoder.finish(&mut batch.events, &mut diagnostics);
        batch.input_bytes.resize(batch.events.len(), 0);
        let events = batch.events.len() as u64;
        let mut value = self.process.start();
        self.process.add(&mut batch, &mut value);
        let decoded = Decoded {
            input: input.name,
            records: 0,
            events,
            skipped: decoder.skipped_records() - skipped,
            diagnostics,
            value,
        };
        self.send_ready(decoded)
    }

    /// Cuts an input into pieces at line ends and hands them on.
    fn read_lines(
        &mut self,
        input: &mut InputState,
        stream: &mut dyn Read,
        mut buffer: Vec<u8>,
        mut eof: bool,
    ) -> Result<()> {
        let mut want = IMPORT_PIECE_BYTES;
        loop {
            if !eof && buffer.len() < want {
                let ask = want - buffer.len();
                eof = self.read_into(stream, &mut buffer, ask)?;
            }
            if buffer.is_empty() {
                recycle(self.buffers, buffer);
                return Ok(());
            }
            let cut = if eof {
                Some(buffer.len())
            } else {
                memchr::memrchr(b'\n', &buffer).map(|end| end + 1)
            };
            match cut {
                Some(cut) => {
                    let mut rest = take_buffer(self.buffers);
                    rest.extend_from_slice(&buffer[cut..]);
                    buffer.truncate(cut);
                    self.dispatch(input, buffer, None)?;
                    buffer = rest;
                    want = IMPORT_PIECE_BYTES;
                }
                // One line longer than a piece: read on until it ends or is too long.
                None if buffer.len() <= LINE_BYTES_MAX => {
                    want = (2 * buffer.len()).clamp(IMPORT_PIECE_BYTES, LINE_BYTES_MAX + 1);
                }
                None => {
                    let (length, rest, at_end) = self.skip_line(stream, buffer.len())?;
                    buffer.truncate(LINE_BYTES_MAX);
                    self.dispatch(input, buffer, Some(length))?;
                    buffer = rest;
                    eof = at_end;
                    want = IMPORT_PIECE_BYTES;
                }
            }
        }
    }

    /// Reads past the end of an overlong line of which `seen` bytes were read; returns its
    /// length, the bytes read after it, and whether the input ended.
    fn skip_line(&mut self, stream: &mut dyn Read, seen: usize) -> Result<(u64, Vec<u8>, bool)> {
        let mut length = seen as u64;
        let mut scratch = take_buffer(self.buffers);
        loop {
            scratch.clear();
            let eof = self.read_into(stream, &mut scratch, READ_CHUNK_BYTES)?;
            if let Some(end) = memchr::memchr(b'\n', &scratch) {
                length += end as u64;
                scratch.drain(..=end);
                return Ok((length, scratch, eof));
            }
            length += scratch.len() as u64;
            if eof {
                scratch.clear();
                return Ok((length, scratch, true));
            }
        }
    }

    /// Numbers a piece and sends it to a worker, or decodes it here in order when it holds a
    /// line that is not independent.
    fn dispatch(
        &mut self,
        input: &mut InputState,
        bytes: Vec<u8>,
        overlong: Option<u64>,
    ) -> Result<()> {
        let (first_line, first_offset) = (input.line, input.offset);
        let independent = match overlong {
            Some(length) => {
                input.line += 1;
                input.offset += length + 1;
                true
            }
            None => {
                let mut independent = true;
                let mut start = 0;
                for end in memchr::memchr_iter(b'\n', &bytes) {
                    independent = independent && input.probe.is_independent(&bytes[start..end]);
                    start = end + 1;
                    input.line += 1;
                }
                independent = independent
                    && (start == bytes.len() || input.probe.is_independent(&bytes[start..]));
                input.offset += bytes.len() as u64;
                independent
            }
        };
        let piece = Piece {
            input: input.name.clone(),
            first_line,
            first_offset,
            bytes,
            overlong,
        };
        if independent {
            let (done, result) = sync_channel(1);
            self.ordered.send(result).map_err(stopped)?;
            self.jobs.send((piece, done)).map_err(stopped)?;
            return Ok(());
        }
        let options = self.options;
        let decoder = input
            .ordered
            .get_or_insert_with(|| new_decoder(options, &piece.input));
        let decoded = decode_piece(
            decoder,
            &piece,
            options.keep_malformed,
            self.process,
            &mut Batch::default(),
        );
        recycle(self.buffers, piece.bytes);
        self.send_ready(decoded)
    }

    /// A whole JSON document (an `EventList` or array spanning lines), decoded here; its
    /// events go on in batches of at most [`EVENT_BATCH_MAX`].
    fn read_document(
        &mut self,
        name: Arc<str>,
        stream: &mut dyn Read,
        mut document: Vec<u8>,
    ) -> Result<()> {
        let first = document.len();
        let room = DOCUMENT_BYTES_MAX.saturating_sub(first) as u64 + 1;
        let read = stream.take(room).read_to_end(&mut document)?;
        self.account(read);
        if document.len() > DOCUMENT_BYTES_MAX {
            anyhow::bail!(
                "the JSON document in {name} is larger than {DOCUMENT_BYTES_MAX} bytes; write it as one event per line"
            );
        }
        let mut decoder = new_decoder(self.options, &name);
        let mut whole = Batch::default();
        let mut diagnostics = Vec::new();
        let records = decode_document(
            &mut decoder,
            &name,
            self.options.keep_malformed,
            &document,
            &mut whole,
            &mut diagnostics,
        );
        decoder.finish(&mut whole.events, &mut diagnostics);
        whole.input_bytes.resize(whole.events.len(), 0);
        let mut events = std::mem::take(&mut whole.events).into_iter();
        let mut input_bytes = std::mem::take(&mut whole.input_bytes).into_iter();
        let mut first_part = Some((diagnostics, records, decoder.skipped_records()));
        loop {
            let mut part = Batch {
                events: events.by_ref().take(EVENT_BATCH_MAX).collect(),
                malformed: std::mem::take(&mut whole.malformed),
                input_bytes: input_bytes.by_ref().take(EVENT_BATCH_MAX).collect(),
            };
            if part.events.is_empty() && first_part.is_none() {
                return Ok(());
            }
            let (diagnostics, records, skipped) = first_part.take().unwrap_or_default();
            let events = part.events.len() as u64;
            let mut value = self.process.start();
            self.process.add(&mut part, &mut value);
            let decoded = Decoded {
                input: name.clone(),
                diagnostics,
                records,
                events,
                skipped,
                value,
            };
            self.send_ready(decoded)?;
        }
    }

    /// Hands on a result made on this thread.
    fn send_ready(&self, decoded: Decoded<P::Output>) -> Result<()> {
        let (done, result) = sync_channel(1);
        // Cannot fail or block: the receiver is here and the channel is empty.
        let _ = done.send(decoded);
        self.ordered.send(result).map_err(stopped)?;
        Ok(())
    }

    /// Appends up to `ask` bytes of `stream` to `buffer`; returns whether the stream ended.
    fn read_into(
        &mut self,
        stream: &mut dyn Read,
        buffer: &mut Vec<u8>,
        ask: usize,
    ) -> Result<bool> {
        buffer.reserve(ask);
        let read = stream.take(ask as u64).read_to_end(buffer)?;
        self.account(read);
        Ok(read < ask)
    }

    fn account(&mut self, bytes: usize) {
        self.bytes += bytes as u64;
        self.bar.inc(bytes as u64);
    }
}

/// A decode worker: decodes pieces until the reader is done.
fn work<P: Process>(
    jobs: &Mutex<Receiver<Job<P::Output>>>,
    options: &ReadOptions,
    process: &P,
    buffers: &Mutex<Vec<Vec<u8>>>,
) {
    let mut current: Option<(Arc<str>, Decoder)> = None;
    let mut batch = Batch::default();
    loop {
        let job = match jobs.lock() {
            Ok(jobs) => jobs.recv(),
            Err(_) => return,
        };
        let Ok((piece, done)) = job else {
            return;
        };
        if !current
            .as_ref()
            .is_some_and(|(input, _)| Arc::ptr_eq(input, &piece.input))
        {
            current = Some((piece.input.clone(), new_decoder(options, &piece.input)));
        }
        if let Some((_, decoder)) = current.as_mut() {
            let decoded =
                decode_piece(decoder, &piece, options.keep_malformed, process, &mut batch);
            // The consumer may have stopped; then the result is not wanted.
            let _ = done.send(decoded);
        }
        recycle(buffers, piece.bytes);
    }
}

/// Decodes a piece's lines and processes their events, line by line. `batch` is scratch
/// space, left empty.
fn decode_piece<P: Process>(
    decoder: &mut Decoder,
    piece: &Piece,
    keep_malformed: bool,
    process: &P,
    batch: &mut Batch,
) -> Decoded<P::Output> {
    let name = &*piece.input;
    let mut diagnostics = Vec::new();
    let mut records = 0u64;
    let mut events = 0u64;
    let mut value = process.start();
    let skipped = decoder.skipped_records();
    let mut on_line = |line: Line<'_>| {
        if process.skip(decoder, &line, &mut value) {
            records += 1;
            events += 1;
            return;
        }
        let record = decode_line(
            decoder,
            name,
            keep_malformed,
            &line,
            batch,
            &mut diagnostics,
        );
        records += u64::from(record);
        events += batch.events.len() as u64;
        process.add(batch, &mut value);
        batch.events.clear();
        batch.malformed.clear();
        batch.input_bytes.clear();
    };
    match piece.overlong {
        Some(length) => on_line(Line {
            number: piece.first_line,
            offset: piece.first_offset,
            bytes: &piece.bytes,
            overlong: true,
            length,
        }),
        None => {
            let mut framer = LineFramer::at(piece.first_line, piece.first_offset);
            framer.push(&piece.bytes, &mut on_line);
            framer.finish(on_line);
        }
    }
    Decoded {
        input: piece.input.clone(),
        diagnostics,
        records,
        events,
        skipped: decoder.skipped_records() - skipped,
        value,
    }
}

fn new_decoder(options: &ReadOptions, input: &str) -> Decoder {
    let decoder = Decoder::new(options.format, input);
    match &options.user_db {
        Some(user_db) => decoder.with_user_db(user_db.clone()),
        None => decoder,
    }
}

/// A piece buffer, reused when one is free.
fn take_buffer(buffers: &Mutex<Vec<Vec<u8>>>) -> Vec<u8> {
    buffers
        .lock()
        .ok()
        .and_then(|mut free| free.pop())
        .unwrap_or_default()
}

/// Keeps a piece buffer for reuse, unless enough are kept or it grew for a long line.
fn recycle(buffers: &Mutex<Vec<Vec<u8>>>, mut bytes: Vec<u8>) {
    if bytes.capacity() > 2 * IMPORT_PIECE_BYTES {
        return;
    }
    bytes.clear();
    if let Ok(mut free) = buffers.lock()
        && free.len() < IMPORT_PIECES_IN_FLIGHT + 2
    {
        free.push(bytes);
    }
}
