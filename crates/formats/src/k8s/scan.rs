//! The byte scanner in front of the serde peek ([`super::peek_unless`]): a hand-written,
//! deliberately conservative reader of one Kubernetes audit line that reads the policy
//! attributes of a plain API-server event about twice as fast as the serde peek, and gives
//! up on anything unusual.
//!
//! Its answer is three-way ([`Scan`]):
//!
//! - [`Scan::Peek`]: the serde peek ([`super::peek_serde_unless`]) would answer too, with
//!   equal [`Peek::attributes`];
//! - [`Scan::Decode`]: `wanted` said no, asked at the first key the serde peek asks it at,
//!   with the same attributes; the caller decodes the record in full;
//! - [`Scan::Unsure`]: the scanner gave up; the serde peek decides.
//!
//! It accepts a subset of what the serde peek accepts, which keeps exactness easy to argue:
//!
//! - JSON as RFC 8259 and serde_json read it: whitespace is space, tab, CR and LF; strings
//!   hold no raw byte below 0x20 and only the escapes `\" \\ \/ \b \f \n \r \t \uXXXX`
//!   (surrogate escapes: unsure); numbers follow the RFC grammar, which is all serde_json
//!   checks of a number it skips; `true`, `false`, `null`; nothing but whitespace after the
//!   object. The caller checks UTF-8 once for the whole line. Arrays and objects nested
//!   deeper than [`PEEK_SCAN_DEPTH_MAX`] inside a value: unsure.
//! - Every key the serde peek reads is read with exactly the types it accepts (a string or
//!   `null` where it takes an optional string, arrays of strings, `extra` as a map of
//!   string arrays, `annotations` as a map of strings, `user`/`objectRef`/`responseStatus`
//!   as objects or `null`); any other type is unsure (the serde peek fails on it).
//! - A key the serde peek reads that comes twice (at the top or inside `user`, `objectRef`,
//!   `responseStatus`), a key written with escapes where keys are matched, an `items` key,
//!   an `EventList` or `v1alpha1` record, a record without identity, and anything the
//!   decoder would warn about (unknown level or stage, a timestamp that does not parse, too
//!   many `sourceIPs`): unsure.
//!
//! Attribute strings with escapes are unescaped as serde_json does; all others are borrowed
//! from the line. Strings are scanned eight bytes at a time (one `u64` word, branch-free
//! tests for `"`, `\` and control bytes). No allocation for a plain line: groups are held in
//! place (see [`PEEK_GROUPS_INLINE`](crate::limits::PEEK_GROUPS_INLINE)).
//!
//! `wanted` is asked at most once. When it said yes and the scanner gives up later,
//! [`super::peek_unless`] runs the serde peek without asking again.

use std::borrow::Cow;

use event::{Attributes, Level, Stage, Timestamp};

use super::peek::{GroupList, Peek, PeekObject, PeekUser};
use crate::limits::{PEEK_SCAN_DEPTH_MAX, SOURCE_IPS_MAX};

/// What the byte scanner made of one record.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "returned by value once per line, as `Option<Peek>` is; boxing would allocate"
)]
pub enum Scan<'a> {
    /// The record's attributes; the serde peek would give equal ones.
    Peek(Peek<'a>),
    /// `wanted` said no: the caller decodes the record in full.
    Decode,
    /// Not sure: ask the serde peek.
    Unsure,
}

/// Scans `record` (one line, leading whitespace removed), asking `wanted` at most once, as
/// [`super::peek_unless`] does; see [`Scan`]. Never panics.
pub fn scan_unless<'a>(
    record: &'a [u8],
    wanted: &mut dyn FnMut(&Attributes<'_>) -> bool,
) -> Scan<'a> {
    match std::str::from_utf8(record) {
        Ok(text) => scan_text(text, wanted),
        Err(_) => Scan::Unsure,
    }
}

/// [`scan_unless`] on a line already known to be UTF-8.
pub(super) fn scan_text<'a>(
    text: &'a str,
    wanted: &mut dyn FnMut(&Attributes<'_>) -> bool,
) -> Scan<'a> {
    let mut scanner = Scanner {
        text,
        bytes: text.as_bytes(),
        at: 0,
    };
    scanner.event(wanted).unwrap_or(Scan::Unsure)
}

/// The scanner gave up.
struct Unsure;

type Sure<T> = Result<T, Unsure>;

/// A string value: its text between the quotes, as written.
#[derive(Clone, Copy)]
struct Str<'a> {
    raw: &'a str,
    escaped: bool,
}

impl<'a> Str<'a> {
    /// The string's value: borrowed unless it has escapes.
    fn text(self) -> Sure<Cow<'a, str>> {
        if self.escaped {
            unescape(self.raw).map(Cow::Owned)
        } else {
            Ok(Cow::Borrowed(self.raw))
        }
    }
}

/// Keys of the event the scanner reads, one bit each, to give up on a repeated one.
mod keys {
    pub(super) const KIND: u32 = 1;
    pub(super) const API_VERSION: u32 = 1 << 1;
    pub(super) const LEVEL: u32 = 1 << 2;
    pub(super) const STAGE: u32 = 1 << 3;
    pub(super) const AUDIT_ID: u32 = 1 << 4;
    pub(super) const REQUEST_URI: u32 = 1 << 5;
    pub(super) const VERB: u32 = 1 << 6;
    pub(super) const USER: u32 = 1 << 7;
    pub(super) const IMPERSONATED_USER: u32 = 1 << 8;
    pub(super) const SOURCE_IPS: u32 = 1 << 9;
    pub(super) const USER_AGENT: u32 = 1 << 10;
    pub(super) const OBJECT_REF: u32 = 1 << 11;
    pub(super) const RESPONSE_STATUS: u32 = 1 << 12;
    pub(super) const REQUEST_RECEIVED: u32 = 1 << 13;
    pub(super) const STAGE_TIMESTAMP: u32 = 1 << 14;
    pub(super) const ANNOTATIONS: u32 = 1 << 15;
}

/// Keys already read in one object.
#[derive(Default)]
struct Seen(u32);

impl Seen {
    /// Marks `key` read; unsure when it was read before.
    fn first(&mut self, key: u32) -> Sure<()> {
        if self.0 & key != 0 {
            return Err(Unsure);
        }
        self.0 |= key;
        Ok(())
    }
}

struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    /// The next byte to read.
    at: usize,
}

impl<'a> Scanner<'a> {
    fn event(&mut self, wanted: &mut dyn FnMut(&Attributes<'_>) -> bool) -> Sure<Scan<'a>> {
        self.open(b'{')?;
        let mut peek = Peek::default();
        let mut seen = Seen::default();
        let mut kind = None;
        let mut api_version = None;
        let mut has_identity = false;
        let mut asked = false;
        // An empty object has no identity.
        if self.next()? == b'}' {
            return Err(Unsure);
        }
        loop {
            let key = self.key()?;
            // The serde peek asks at the first of these keys, before reading its value.
            if !asked
                && matches!(
                    key,
                    b"responseStatus"
                        | b"requestObject"
                        | b"responseObject"
                        | b"requestReceivedTimestamp"
                        | b"stageTimestamp"
                        | b"annotations"
                )
            {
                asked = true;
                if !wanted(&peek.attributes()) {
                    return Ok(Scan::Decode);
                }
            }
            match key {
                b"kind" => {
                    seen.first(keys::KIND)?;
                    kind = self.text()?;
                }
                b"apiVersion" => {
                    seen.first(keys::API_VERSION)?;
                    api_version = self.text()?;
                }
                b"level" => {
                    seen.first(keys::LEVEL)?;
                    if let Some(text) = self.text()? {
                        peek.level = Some(text.parse::<Level>().map_err(|_| Unsure)?);
                    }
                }
                b"stage" => {
                    seen.first(keys::STAGE)?;
                    if let Some(text) = self.text()? {
                        peek.stage = Some(text.parse::<Stage>().map_err(|_| Unsure)?);
                    }
                }
                b"auditID" => {
                    seen.first(keys::AUDIT_ID)?;
                    self.any_str()?;
                    has_identity = true;
                }
                b"requestURI" => {
                    seen.first(keys::REQUEST_URI)?;
                    peek.uri = self.text()?.unwrap_or_default();
                    has_identity = true;
                }
                b"verb" => {
                    seen.first(keys::VERB)?;
                    peek.verb = self.text()?.unwrap_or_default();
                    has_identity = true;
                }
                b"user" => {
                    seen.first(keys::USER)?;
                    peek.user = self.user()?.unwrap_or_default();
                }
                b"impersonatedUser" => {
                    seen.first(keys::IMPERSONATED_USER)?;
                    self.user()?;
                }
                b"sourceIPs" => {
                    seen.first(keys::SOURCE_IPS)?;
                    let mut count = 0usize;
                    self.strings(|_| {
                        count += 1;
                        Ok(())
                    })?;
                    // More than the limit is a warning of the decoder.
                    if count > SOURCE_IPS_MAX {
                        return Err(Unsure);
                    }
                }
                b"userAgent" => {
                    seen.first(keys::USER_AGENT)?;
                    self.any_str()?;
                }
                b"objectRef" => {
                    seen.first(keys::OBJECT_REF)?;
                    peek.object = self.object_ref()?;
                }
                b"responseStatus" => {
                    seen.first(keys::RESPONSE_STATUS)?;
                    self.status()?;
                }
                b"requestReceivedTimestamp" => {
                    seen.first(keys::REQUEST_RECEIVED)?;
                    self.timestamp()?;
                }
                b"stageTimestamp" => {
                    seen.first(keys::STAGE_TIMESTAMP)?;
                    self.timestamp()?;
                }
                b"annotations" => {
                    seen.first(keys::ANNOTATIONS)?;
                    self.string_map(|scanner| scanner.string_value().map(drop))?;
                }
                // A list, or an event with an `items` key: the serde peek gives up on it.
                b"items" => return Err(Unsure),
                // Bodies, `timestamp`, `metadata`, unknown keys: any JSON value.
                _ => self.skip_value()?,
            }
            if self.comma_or_close(b'}')? {
                break;
            }
        }
        // Nothing but whitespace after the object.
        self.whitespace();
        if self.at != self.bytes.len() {
            return Err(Unsure);
        }
        if !has_identity
            || kind.is_some_and(|kind| kind == "EventList")
            // v1alpha1 moves the API group out of `objectRef.apiVersion`.
            || api_version.is_some_and(|version| version == "audit.k8s.io/v1alpha1")
        {
            return Err(Unsure);
        }
        Ok(Scan::Peek(peek))
    }

    /// `user` or `impersonatedUser`: an object or `null`.
    fn user(&mut self) -> Sure<Option<PeekUser<'a>>> {
        if !self.open_or_null(b'{')? {
            return Ok(None);
        }
        let mut user = PeekUser::default();
        let mut seen = Seen::default();
        self.members(|scanner, key| {
            match key {
                b"username" => {
                    seen.first(1)?;
                    user.name = scanner.text()?.unwrap_or_default();
                }
                b"uid" => {
                    seen.first(1 << 1)?;
                    user.uid = scanner.text()?.unwrap_or_default();
                }
                b"groups" => {
                    seen.first(1 << 2)?;
                    let mut groups = GroupList::default();
                    let present = scanner.strings(|group| {
                        groups.push(group.text()?);
                        Ok(())
                    })?;
                    user.groups = present.then_some(groups);
                }
                b"extra" => {
                    seen.first(1 << 3)?;
                    user.has_extra = scanner.string_map(|scanner| {
                        scanner.open(b'[')?;
                        scanner.elements(|_| Ok(()))
                    })?;
                }
                _ => scanner.skip_value()?,
            }
            Ok(())
        })?;
        Ok(Some(user))
    }

    /// `objectRef`: an object or `null`.
    fn object_ref(&mut self) -> Sure<Option<PeekObject<'a>>> {
        if !self.open_or_null(b'{')? {
            return Ok(None);
        }
        let mut object = PeekObject::default();
        let mut seen = Seen::default();
        self.members(|scanner, key| {
            match key {
                b"resource" => {
                    seen.first(1)?;
                    object.resource = scanner.text()?.unwrap_or_default();
                }
                b"namespace" => {
                    seen.first(1 << 1)?;
                    object.namespace = scanner.text()?.unwrap_or_default();
                }
                b"name" => {
                    seen.first(1 << 2)?;
                    object.name = scanner.text()?.unwrap_or_default();
                }
                b"subresource" => {
                    seen.first(1 << 3)?;
                    object.subresource = scanner.text()?.unwrap_or_default();
                }
                b"apiGroup" => {
                    seen.first(1 << 4)?;
                    object.api_group = scanner.text()?;
                }
                b"uid" => {
                    seen.first(1 << 5)?;
                    scanner.any_str()?;
                }
                b"apiVersion" => {
                    seen.first(1 << 6)?;
                    scanner.any_str()?;
                }
                b"resourceVersion" => {
                    seen.first(1 << 7)?;
                    scanner.any_str()?;
                }
                _ => scanner.skip_value()?,
            }
            Ok(())
        })?;
        Ok(Some(object))
    }

    /// `responseStatus`: an object or `null`, checked.
    fn status(&mut self) -> Sure<()> {
        if !self.open_or_null(b'{')? {
            return Ok(());
        }
        let mut seen = Seen::default();
        self.members(|scanner, key| {
            let bit = match key {
                b"status" => 1,
                b"reason" => 1 << 1,
                b"message" => 1 << 2,
                _ => return scanner.skip_value(),
            };
            seen.first(bit)?;
            scanner.any_str().map(drop)
        })
    }

    /// A timestamp: a string that [`Timestamp::parse`] reads, or `null`.
    fn timestamp(&mut self) -> Sure<()> {
        if let Some(text) = self.text()? {
            // A timestamp that does not parse is a warning of the decoder.
            Timestamp::parse(&text).map_err(|_| Unsure)?;
        }
        Ok(())
    }

    /// The members of an object whose `{` was read, each key (written without escapes) handed
    /// to `value`, which reads its value.
    fn members(&mut self, mut value: impl FnMut(&mut Self, &'a [u8]) -> Sure<()>) -> Sure<()> {
        if self.close_empty(b'}')? {
            return Ok(());
        }
        loop {
            let key = self.key()?;
            value(self, key)?;
            if self.comma_or_close(b'}')? {
                return Ok(());
            }
        }
    }

    /// An object of string keys (any escapes) and values read by `value`, or `null`;
    /// whether it was an object.
    fn string_map(&mut self, mut value: impl FnMut(&mut Self) -> Sure<()>) -> Sure<bool> {
        if !self.open_or_null(b'{')? {
            return Ok(false);
        }
        if self.close_empty(b'}')? {
            return Ok(true);
        }
        loop {
            self.member_name()?;
            value(self)?;
            if self.comma_or_close(b'}')? {
                return Ok(true);
            }
        }
    }

    /// An array of strings, each handed to `each`, or `null`; whether it was an array.
    fn strings(&mut self, each: impl FnMut(Str<'a>) -> Sure<()>) -> Sure<bool> {
        if !self.open_or_null(b'[')? {
            return Ok(false);
        }
        self.elements(each).map(|()| true)
    }

    /// The strings of an array whose `[` was read, each handed to `each`.
    fn elements(&mut self, mut each: impl FnMut(Str<'a>) -> Sure<()>) -> Sure<()> {
        if self.close_empty(b']')? {
            return Ok(());
        }
        loop {
            each(self.string_value()?)?;
            if self.comma_or_close(b']')? {
                return Ok(());
            }
        }
    }

    /// A string (not `null`).
    fn string_value(&mut self) -> Sure<Str<'a>> {
        if self.next()? != b'"' {
            return Err(Unsure);
        }
        self.string()
    }

    /// A string or `null`, as text.
    fn text(&mut self) -> Sure<Option<Cow<'a, str>>> {
        match self.any_str()? {
            Some(text) => text.text().map(Some),
            None => Ok(None),
        }
    }

    /// A string or `null`.
    fn any_str(&mut self) -> Sure<Option<Str<'a>>> {
        match self.next()? {
            b'"' => self.string().map(Some),
            b'n' => self.literal(b"null").map(|()| None),
            _ => Err(Unsure),
        }
    }

    /// Any JSON value, checked and skipped, without recursion: a bit per open array or object
    /// (1 for an object) says what closes it.
    fn skip_value(&mut self) -> Sure<()> {
        let mut stack: u64 = 0;
        let mut depth: u32 = 0;
        loop {
            match self.next()? {
                b'"' => {
                    self.string()?;
                }
                open @ (b'{' | b'[') => {
                    let object = open == b'{';
                    let close = if object { b'}' } else { b']' };
                    self.at += 1;
                    if !self.close_empty(close)? {
                        if depth >= PEEK_SCAN_DEPTH_MAX {
                            return Err(Unsure);
                        }
                        depth += 1;
                        stack = (stack << 1) | u64::from(object);
                        if object {
                            self.member_name()?;
                        }
                        continue;
                    }
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                b'-' | b'0'..=b'9' => self.number()?,
                _ => return Err(Unsure),
            }
            // A value ended: close what ends with it, then go on with the next one.
            loop {
                if depth == 0 {
                    return Ok(());
                }
                let object = stack & 1 == 1;
                match self.next()? {
                    b',' => {
                        self.at += 1;
                        if object {
                            self.member_name()?;
                        }
                        break;
                    }
                    b'}' if object => {}
                    b']' if !object => {}
                    _ => return Err(Unsure),
                }
                self.at += 1;
                depth -= 1;
                stack >>= 1;
            }
        }
    }

    /// A number as RFC 8259 writes it, which is all serde_json checks of a number it skips:
    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    fn number(&mut self) -> Sure<()> {
        if self.byte() == Some(b'-') {
            self.at += 1;
        }
        match self.byte() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(Unsure),
        }
        if self.byte() == Some(b'.') {
            self.at += 1;
            self.some_digits()?;
        }
        if matches!(self.byte(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.byte(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            self.some_digits()?;
        }
        Ok(())
    }

    fn some_digits(&mut self) -> Sure<()> {
        if !matches!(self.byte(), Some(b'0'..=b'9')) {
            return Err(Unsure);
        }
        self.digits();
        Ok(())
    }

    fn digits(&mut self) {
        while matches!(self.byte(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
    }

    /// A string whose opening quote is the next byte.
    fn string(&mut self) -> Sure<Str<'a>> {
        let bytes = self.bytes;
        let start = self.at + 1;
        let mut at = start;
        let mut escaped = false;
        loop {
            let special = next_special(bytes, at).ok_or(Unsure)?;
            match bytes.get(special) {
                Some(b'"') => {
                    self.at = special + 1;
                    let raw = self.text.get(start..special).ok_or(Unsure)?;
                    return Ok(Str { raw, escaped });
                }
                Some(b'\\') => {
                    escaped = true;
                    at = special + 1 + escape_length(bytes.get(special + 1..).unwrap_or_default())?;
                }
                // A control byte: serde_json rejects it.
                _ => return Err(Unsure),
            }
        }
    }

    /// A key of an object whose members the scanner matches: written without escapes, then
    /// its colon.
    fn key(&mut self) -> Sure<&'a [u8]> {
        if self.next()? != b'"' {
            return Err(Unsure);
        }
        let key = self.string()?;
        if key.escaped {
            return Err(Unsure);
        }
        self.colon()?;
        Ok(key.raw.as_bytes())
    }

    /// Any key and its colon.
    fn member_name(&mut self) -> Sure<()> {
        if self.next()? != b'"' {
            return Err(Unsure);
        }
        self.string()?;
        self.colon()
    }

    fn colon(&mut self) -> Sure<()> {
        if self.next()? != b':' {
            return Err(Unsure);
        }
        self.at += 1;
        Ok(())
    }

    /// After a member or element: true at the `close` that ends the container, false after
    /// a comma (another member or element follows).
    fn comma_or_close(&mut self, close: u8) -> Sure<bool> {
        let byte = self.next()?;
        if byte == b',' {
            self.at += 1;
            Ok(false)
        } else if byte == close {
            self.at += 1;
            Ok(true)
        } else {
            Err(Unsure)
        }
    }

    /// Right after an opening bracket: true (and read) when `close` follows.
    fn close_empty(&mut self, close: u8) -> Sure<bool> {
        if self.next()? == close {
            self.at += 1;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// `open`, required.
    fn open(&mut self, open: u8) -> Sure<()> {
        if self.next()? != open {
            return Err(Unsure);
        }
        self.at += 1;
        Ok(())
    }

    /// `open` (true) or `null` (false).
    fn open_or_null(&mut self, open: u8) -> Sure<bool> {
        let byte = self.next()?;
        if byte == open {
            self.at += 1;
            Ok(true)
        } else if byte == b'n' {
            self.literal(b"null").map(|()| false)
        } else {
            Err(Unsure)
        }
    }

    fn literal(&mut self, literal: &[u8]) -> Sure<()> {
        let end = self.at + literal.len();
        if self.bytes.get(self.at..end) != Some(literal) {
            return Err(Unsure);
        }
        self.at = end;
        Ok(())
    }

    /// The next byte after whitespace, not read; unsure at the end of the line.
    #[inline(always)]
    fn next(&mut self) -> Sure<u8> {
        loop {
            match self.bytes.get(self.at) {
                Some(b' ' | b'\t' | b'\n' | b'\r') => self.at += 1,
                Some(&byte) => return Ok(byte),
                None => return Err(Unsure),
            }
        }
    }

    fn whitespace(&mut self) {
        while matches!(self.byte(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn byte(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = ONES * 0x80;

/// A high bit in each byte of `word` (little-endian) that is `"`, `\` or below 0x20, and
/// possibly in bytes above such a byte (borrows), never below: the lowest set bit is exact.
#[inline(always)]
fn specials(word: u64) -> u64 {
    let quotes = word ^ (ONES * u64::from(b'"'));
    let backslashes = word ^ (ONES * u64::from(b'\\'));
    let quote = quotes.wrapping_sub(ONES) & !quotes;
    let backslash = backslashes.wrapping_sub(ONES) & !backslashes;
    let control = word.wrapping_sub(ONES * 0x20) & !word;
    (quote | backslash | control) & HIGHS
}

/// The index of the first `"`, `\` or control byte of `bytes` at or after `at`.
#[inline(always)]
fn next_special(bytes: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let rest = bytes.get(at..)?;
        let Some(chunk) = rest.first_chunk::<8>() else {
            let offset = rest
                .iter()
                .position(|&byte| byte == b'"' || byte == b'\\' || byte < 0x20)?;
            return Some(at + offset);
        };
        let found = specials(u64::from_le_bytes(*chunk));
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
}

/// The length of the escape that `rest` (what follows a backslash) starts with; unsure for
/// an invalid escape and for surrogate escapes.
fn escape_length(rest: &[u8]) -> Sure<usize> {
    match rest.first() {
        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(1),
        Some(b'u') => {
            let code = hex4(rest.get(1..5))?;
            if (0xd800..0xe000).contains(&code) {
                return Err(Unsure);
            }
            Ok(5)
        }
        _ => Err(Unsure),
    }
}

/// Four hexadecimal digits, either case.
fn hex4(digits: Option<&[u8]>) -> Sure<u32> {
    digits
        .ok_or(Unsure)?
        .iter()
        .try_fold(0u32, |code, &digit| {
            char::from(digit)
                .to_digit(16)
                .map(|value| (code << 4) | value)
        })
        .ok_or(Unsure)
}

/// The value of a string's text with escapes (checked by [`Scanner::string`]), as serde_json
/// gives it.
fn unescape(raw: &str) -> Sure<String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some((before, after)) = rest.split_once('\\') {
        out.push_str(before);
        let bytes = after.as_bytes();
        let (character, length) = match bytes.first() {
            Some(b'"') => ('"', 1),
            Some(b'\\') => ('\\', 1),
            Some(b'/') => ('/', 1),
            Some(b'b') => ('\u{8}', 1),
            Some(b'f') => ('\u{c}', 1),
            Some(b'n') => ('\n', 1),
            Some(b'r') => ('\r', 1),
            Some(b't') => ('\t', 1),
            Some(b'u') => (
                char::from_u32(hex4(bytes.get(1..5))?).ok_or(Unsure)?,
                5,
            ),
            _ => return Err(Unsure),
        };
        out.push(character);
        rest = after.get(length..).ok_or(Unsure)?;
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn special_bytes(bytes: &[u8]) -> Option<usize> {
        bytes
            .iter()
            .position(|&byte| byte == b'"' || byte == b'\\' || byte < 0x20)
    }

    #[test]
    fn the_word_test_finds_the_first_special_byte() {
        // Every byte value at every position, behind every other byte value.
        for special in 0..=255u8 {
            for filler in 0..=255u8 {
                for position in 0..8 {
                    let mut bytes = [filler; 8];
                    bytes[position] = special;
                    assert_eq!(
                        next_special(&bytes, 0),
                        special_bytes(&bytes),
                        "{bytes:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn unescapes_as_serde_json() {
        for text in [
            r#""plain""#,
            r#""a\"b\\c\/d\be\ff\ng\rh\ti""#,
            r#""\u0026\u00e9\u20AC\u0000x""#,
            r#""ends with \\""#,
        ] {
            let expected: String = serde_json::from_str(text).unwrap();
            let mut scanner = Scanner {
                text,
                bytes: text.as_bytes(),
                at: 0,
            };
            let value = scanner.string().ok().unwrap().text().ok().unwrap();
            assert_eq!(value, expected);
            assert_eq!(scanner.at, text.len());
        }
        for text in [r#""\ud83d\ude00""#, r#""\x""#, r#""\u12g4""#, "\"a\u{1}\"", r#""open"#] {
            let mut scanner = Scanner {
                text,
                bytes: text.as_bytes(),
                at: 0,
            };
            assert!(scanner.string().is_err(), "{text}");
        }
    }
}
