//! Records into events, as auparse and ausearch group them.
//!
//! - A record joins the open event with the same identity: node (both absent, or both present
//!   and equal), seconds, milliseconds and serial. Otherwise it opens a new event; a change of
//!   serial closes nothing, so several events are open at once (interleaving).
//! - An event is complete when its latest record is of a type that ends an event
//!   ([`is_last_record`]), when a record is read whose seconds are at least the event's seconds
//!   plus the end-of-event timeout (2 s, in log time, never wall-clock time), or at the end of
//!   input. A record that arrives after its event was completed opens a new event, exactly as
//!   in ausearch; an `EOE` that matches no open event is dropped silently (the normal case: the
//!   kernel writes EOE after PROCTITLE, which already completed the event).
//! - Completed events are emitted in the order their first record arrived, so a quick event
//!   waits behind an older open one (ausearch holds output the same way). At most
//!   [`AUDITD_PENDING_EVENTS_MAX`] events wait; past that the oldest open one is completed early
//!   and a warning says so.
//!
//! Record text is copied once into a per-event buffer (recycled between events) and tokenized
//! there into byte ranges; nothing is allocated per field until the event is complete.

use std::collections::{HashMap, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use event::AuditEvent;

use super::build::{EventBuilder, Settings};
use super::interpret::{is_last_record, types};
use super::record::{
    INTERP_SEPARATOR, Token, parse_header, tokenize_body, tokenize_interpretations,
};
use super::userdb::UserDb;
use crate::diagnostic::{Diagnostic, excerpt};
use crate::limits::{
    AUDITD_EVENT_BYTES_MAX, AUDITD_EVENT_RECORDS_MAX, AUDITD_FIELD_BYTES_MAX,
    AUDITD_PENDING_EVENTS_MAX, AUDITD_RECENT_IDENTITIES_MAX, AUDITD_RECORD_BYTES_MAX,
    AUDITD_RECORD_FIELDS_MAX,
};

/// auditd's default `end_of_event_timeout`, in seconds of log time.
pub const EOE_TIMEOUT_SECONDS_DEFAULT: u64 = 2;

/// Largest event buffer kept for reuse.
const POOLED_EVENT_BYTES_MAX: usize = 256 * 1024;

/// Groups the lines of one audit log into events and interprets them.
#[derive(Debug)]
pub struct Grouper {
    settings: Settings,
    eoe_timeout_seconds: u64,
    /// Open events, in no particular order (each knows its arrival sequence).
    open: Vec<EventText>,
    /// One slot per event not yet emitted, in arrival order: `None` while open.
    waiting: VecDeque<Option<AuditEvent>>,
    /// Arrival sequence of `waiting[0]`.
    waiting_base: u64,
    next_sequence: u64,
    /// Buffers of emitted events, reused.
    pool: Vec<EventText>,
    /// Events opened per identity (a hash of node, time and serial), for the most recent
    /// [`AUDITD_RECENT_IDENTITIES_MAX`] identities, oldest first in `recent_order`.
    recent: HashMap<u64, u32>,
    recent_order: VecDeque<u64>,
    builder: EventBuilder,
}

/// The text of one event's records, tokenized.
#[derive(Debug, Default)]
pub(super) struct EventText {
    pub(super) sequence: u64,
    pub(super) seconds: u64,
    pub(super) millis: u32,
    pub(super) serial: u64,
    /// 1 for the first event with this identity in the input; 2, 3, … for a later one (a
    /// record that came after its event was complete opens another, as in ausearch).
    pub(super) occurrence: u32,
    /// Range of the node name in `text`, when the records have one.
    pub(super) node: Option<(u32, u32)>,
    pub(super) line: u64,
    pub(super) offset: u64,
    pub(super) last_type: u32,
    /// Record lines, one after another (always valid UTF-8).
    pub(super) text: String,
    pub(super) records: Vec<RecordText>,
    /// Fields of every record; a record's are `fields[record.fields.0..record.fields.1]`.
    pub(super) fields: Vec<Token>,
}

/// One record of an [`EventText`].
#[derive(Debug, Clone, Copy)]
pub(super) struct RecordText {
    pub(super) type_number: u32,
    pub(super) type_name: (u32, u32),
    pub(super) fields: (u32, u32),
    /// ENRICHED interpretations, also in `EventText::fields`.
    pub(super) interpretations: (u32, u32),
}

impl EventText {
    pub(super) fn slice(&self, range: (u32, u32)) -> &str {
        self.text
            .get(range.0 as usize..range.1 as usize)
            .unwrap_or_default()
    }

    fn clear(&mut self) {
        self.node = None;
        self.text.clear();
        self.records.clear();
        self.fields.clear();
    }
}

impl Grouper {
    /// A grouper for the input named `input` (a path, `-`, or a peer), with no user database
    /// and the default 2-second end-of-event timeout.
    pub fn new(input: &str) -> Grouper {
        Grouper {
            settings: Settings {
                input: Some(Arc::from(input)),
                user_db: Arc::new(UserDb::new()),
            },
            eoe_timeout_seconds: EOE_TIMEOUT_SECONDS_DEFAULT,
            open: Vec::new(),
            waiting: VecDeque::new(),
            waiting_base: 0,
            next_sequence: 0,
            pool: Vec::new(),
            recent: HashMap::new(),
            recent_order: VecDeque::new(),
            builder: EventBuilder::default(),
        }
    }

    /// Names ids with `user_db` (the log host's passwd and group).
    pub fn with_user_db(mut self, user_db: Arc<UserDb>) -> Grouper {
        self.settings.user_db = user_db;
        self
    }

    /// Uses another end-of-event timeout (auditd.conf `end_of_event_timeout`, ausearch
    /// `--eoe-timeout`).
    pub fn with_eoe_timeout(mut self, seconds: u64) -> Grouper {
        self.eoe_timeout_seconds = seconds;
        self
    }

    /// Reads one line (without its newline). Completed events are appended to `out` in
    /// arrival order; a line that is not an audit record gives an error diagnostic.
    pub fn push_line(
        &mut self,
        line: &[u8],
        line_number: u64,
        offset: u64,
        out: &mut Vec<AuditEvent>,
        diagnostics: &mut Vec<Diagnostic>,
    ) {
        let line = trim_end(line);
        let line = trim_start(line);
        if line.is_empty() {
            return;
        }
        if line.len() > AUDITD_RECORD_BYTES_MAX {
            diagnostics.push(Diagnostic::error(
                line_number,
                offset,
                format!(
                    "audit record of {} bytes exceeds the limit of {AUDITD_RECORD_BYTES_MAX} bytes: {}",
                    line.len(),
                    excerpt(line)
                ),
            ));
            return;
        }
        let lossy;
        let line: &str = match std::str::from_utf8(line) {
            Ok(text) => text,
            Err(_) => {
                diagnostics.push(Diagnostic::warning(
                    line_number,
                    offset,
                    "audit record is not valid UTF-8; invalid bytes were replaced",
                ));
                lossy = String::from_utf8_lossy(line).into_owned();
                &lossy
            }
        };
        let header = match parse_header(line.as_bytes()) {
            Ok(header) => header,
            Err(error) => {
                diagnostics.push(Diagnostic::error(
                    line_number,
                    offset,
                    format!("{}: {}", error.message(), excerpt(line.as_bytes())),
                ));
                return;
            }
        };
        let index = self.find_open(&header);
        let index = match index {
            Some(index) => index,
            None if header.type_number == types::EOE => return,
            None => self.open_event(&header, line_number, offset),
        };
        self.append_record(index, line, &header, line_number, offset, diagnostics);
        let seconds = header.seconds;
        if is_last_record(header.type_number) {
            self.complete(index);
        }
        self.complete_timed_out(seconds);
        self.drain(out);
        self.enforce_pending_limit(out, diagnostics);
    }

    /// Ends the input: every open event is complete.
    pub fn finish(&mut self, out: &mut Vec<AuditEvent>, _diagnostics: &mut Vec<Diagnostic>) {
        self.open.sort_by_key(|event| event.sequence);
        while !self.open.is_empty() {
            self.complete(0);
        }
        self.drain(out);
    }

    /// Events open or waiting to be emitted.
    pub fn pending(&self) -> usize {
        self.waiting.len()
    }

    /// Byte offset of the first record of the oldest event open or waiting to be emitted, if
    /// any: an input read again from there gives every event not emitted yet.
    pub fn pending_offset(&self) -> Option<u64> {
        let open = self.open.iter().map(|event| event.offset);
        let waiting = self
            .waiting
            .iter()
            .flatten()
            .filter_map(|event| event.origin.offset);
        open.chain(waiting).min()
    }

    fn find_open(&self, header: &super::record::Header<'_>) -> Option<usize> {
        // The latest event is the likeliest match.
        self.open.iter().rposition(|event| {
            event.serial == header.serial
                && event.millis == header.millis
                && event.seconds == header.seconds
                && match (event.node, header.node) {
                    (None, None) => true,
                    (Some(range), Some(node)) => event.slice(range).as_bytes() == node,
                    _ => false,
                }
        })
    }

    fn open_event(
        &mut self,
        header: &super::record::Header<'_>,
        line_number: u64,
        offset: u64,
    ) -> usize {
        let mut event = self.pool.pop().unwrap_or_default();
        event.clear();
        event.sequence = self.next_sequence;
        self.next_sequence += 1;
        event.seconds = header.seconds;
        event.millis = header.millis;
        event.serial = header.serial;
        event.occurrence = self.occurrence(header);
        event.line = line_number;
        event.offset = offset;
        if let Some(node) = header.node {
            // The node is the line's first bytes after `node=`.
            event.node = Some((5, 5 + node.len() as u32));
        }
        self.open.push(event);
        self.waiting.push_back(None);
        self.open.len() - 1
    }

    /// How many events with this identity this input opened, this one included (bounded to
    /// the most recent identities).
    fn occurrence(&mut self, header: &super::record::Header<'_>) -> u32 {
        let mut hasher = DefaultHasher::new();
        header.node.hash(&mut hasher);
        (header.seconds, header.millis, header.serial).hash(&mut hasher);
        let identity = hasher.finish();
        let count = self.recent.entry(identity).or_insert(0);
        *count += 1;
        let occurrence = *count;
        if occurrence == 1 {
            self.recent_order.push_back(identity);
            if self.recent_order.len() > AUDITD_RECENT_IDENTITIES_MAX
                && let Some(oldest) = self.recent_order.pop_front()
            {
                self.recent.remove(&oldest);
            }
        }
        occurrence
    }

    fn append_record(
        &mut self,
        index: usize,
        line: &str,
        header: &super::record::Header<'_>,
        line_number: u64,
        offset: u64,
        diagnostics: &mut Vec<Diagnostic>,
    ) {
        let event = &mut self.open[index];
        event.last_type = header.type_number;
        if event.records.len() >= AUDITD_EVENT_RECORDS_MAX {
            diagnostics.push(Diagnostic::warning(
                line_number,
                offset,
                format!(
                    "audit event {}.{:03}:{} has more than {AUDITD_EVENT_RECORDS_MAX} records; this one was dropped",
                    header.seconds, header.millis, header.serial
                ),
            ));
            return;
        }
        if event.text.len() + line.len() > AUDITD_EVENT_BYTES_MAX {
            diagnostics.push(Diagnostic::warning(
                line_number,
                offset,
                format!(
                    "audit event {}.{:03}:{} has more than {AUDITD_EVENT_BYTES_MAX} bytes of records; this one was dropped",
                    header.seconds, header.millis, header.serial
                ),
            ));
            return;
        }
        let base = event.text.len();
        event.text.push_str(line);
        let bytes = line.as_bytes();
        let type_start = base + (header.type_name.as_ptr() as usize - bytes.as_ptr() as usize);
        let type_name = (
            type_start as u32,
            (type_start + header.type_name.len()) as u32,
        );
        let (body_end, interpretations) = match memchr::memchr(INTERP_SEPARATOR, bytes) {
            Some(separator) if separator >= header.body_start => {
                (separator, Some(&bytes[separator + 1..]))
            }
            _ => (bytes.len(), None),
        };
        let body = &bytes[header.body_start.min(body_end)..body_end];
        let fields_start = event.fields.len() as u32;
        let mut overflow = false;
        let mut overlong = false;
        let fields = &mut event.fields;
        let mut count = 0usize;
        tokenize_body(body, base + header.body_start, |token| {
            if count >= AUDITD_RECORD_FIELDS_MAX {
                overflow = true;
                return false;
            }
            if (token.value_end - token.value_start) as usize > AUDITD_FIELD_BYTES_MAX {
                overlong = true;
                return true;
            }
            count += 1;
            fields.push(token);
            true
        });
        let fields_end = fields.len() as u32;
        if let Some(interpretations) = interpretations {
            let interp_base = base + (interpretations.as_ptr() as usize - bytes.as_ptr() as usize);
            tokenize_interpretations(interpretations, interp_base, |token| {
                if count >= AUDITD_RECORD_FIELDS_MAX {
                    overflow = true;
                    return false;
                }
                count += 1;
                fields.push(token);
                true
            });
        }
        let interp_end = fields.len() as u32;
        event.records.push(RecordText {
            type_number: header.type_number,
            type_name,
            fields: (fields_start, fields_end),
            interpretations: (fields_end, interp_end),
        });
        if overflow {
            diagnostics.push(Diagnostic::warning(
                line_number,
                offset,
                format!(
                    "audit record has more than {AUDITD_RECORD_FIELDS_MAX} fields; the rest were ignored"
                ),
            ));
        }
        if overlong {
            diagnostics.push(Diagnostic::warning(
                line_number,
                offset,
                format!(
                    "audit record has a field value longer than {AUDITD_FIELD_BYTES_MAX} bytes; it was ignored"
                ),
            ));
        }
    }

    fn complete_timed_out(&mut self, seconds: u64) {
        let timeout = self.eoe_timeout_seconds;
        let mut index = 0;
        while index < self.open.len() {
            if self.open[index].seconds.saturating_add(timeout) <= seconds {
                self.complete(index);
            } else {
                index += 1;
            }
        }
    }

    fn enforce_pending_limit(
        &mut self,
        out: &mut Vec<AuditEvent>,
        diagnostics: &mut Vec<Diagnostic>,
    ) {
        while self.waiting.len() > AUDITD_PENDING_EVENTS_MAX {
            let oldest = self
                .open
                .iter()
                .enumerate()
                .min_by_key(|(_, event)| event.sequence)
                .map(|(index, _)| index);
            let Some(index) = oldest else {
                return;
            };
            let event = &self.open[index];
            diagnostics.push(Diagnostic::warning(
                event.line,
                event.offset,
                format!(
                    "more than {AUDITD_PENDING_EVENTS_MAX} audit events pending; event {}.{:03}:{} was completed early",
                    event.seconds, event.millis, event.serial
                ),
            ));
            self.complete(index);
            self.drain(out);
        }
    }

    /// Completes `open[index]`: interprets it into its waiting slot.
    fn complete(&mut self, index: usize) {
        let event = self.open.swap_remove(index);
        let audit_event = self.builder.build(&event, &self.settings);
        let slot = event.sequence.wrapping_sub(self.waiting_base) as usize;
        if let Some(entry) = self.waiting.get_mut(slot) {
            *entry = Some(audit_event);
        }
        // Keep ordinary buffers for the next event; let a huge one go.
        if event.text.capacity() <= POOLED_EVENT_BYTES_MAX {
            self.pool.push(event);
        }
    }

    /// Emits waiting events from the front while they are complete.
    fn drain(&mut self, out: &mut Vec<AuditEvent>) {
        while let Some(Some(_)) = self.waiting.front() {
            if let Some(Some(event)) = self.waiting.pop_front() {
                out.push(event);
            }
            self.waiting_base += 1;
        }
    }
}

fn trim_end(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|byte| !byte.is_ascii_whitespace())
        .map_or(0, |last| last + 1);
    &bytes[..end]
}

fn trim_start(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|byte| !byte.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    &bytes[start..]
}
