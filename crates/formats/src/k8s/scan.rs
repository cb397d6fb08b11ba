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
//! from the line. Where it is fast:
//!
//! - keys of the objects it matches are compared as written (quote, name, quote, colon: two
//!   masked 16-byte words) in the order the API server writes them, starting after the last
//!   key found, so the first key tried mostly matches and no key string is scanned (a key
//!   written otherwise is read as a string and looked up);
//! - strings are scanned eight bytes at a time (one `u64` word, branch-free tests for `"`,
//!   `\` and control bytes);
//! - everything is inlined into one function per line, so that the read position stays in a
//!   register; bodies are skipped by one non-recursive loop;
//! - no allocation for a plain line: groups are held in place (see
//!   [`PEEK_GROUPS_INLINE`](crate::limits::PEEK_GROUPS_INLINE)).
//!
//! `wanted` is asked at most once, at the first of `responseStatus`, `requestObject`,
//! `responseObject`, `requestReceivedTimestamp`, `stageTimestamp`, `annotations`, as the
//! serde peek asks; the scanner only gets there when every byte before was sure, so the serde
//! peek would ask there too, with the same attributes. When `wanted` said yes and the scanner
//! gives up later, [`super::peek_unless`] runs the serde peek without asking again: a yes only
//! lets a peek read on, and an answer is always from the whole record.

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
    #[inline(always)]
    fn text(self) -> Sure<Cow<'a, str>> {
        if self.escaped {
            unescape(self.raw).map(Cow::Owned)
        } else {
            Ok(Cow::Borrowed(self.raw))
        }
    }
}

/// The keys of the objects the scanner matches, quoted and with their colon, in the order
/// the API server writes them (the order the scanner tries them in), and their indexes.
mod keys {
    use super::{Key, key};

    pub(super) const EVENT: [Key; 19] = [
        key(b"\"kind\":"),
        key(b"\"apiVersion\":"),
        key(b"\"level\":"),
        key(b"\"auditID\":"),
        key(b"\"stage\":"),
        key(b"\"requestURI\":"),
        key(b"\"verb\":"),
        key(b"\"user\":"),
        key(b"\"impersonatedUser\":"),
        key(b"\"sourceIPs\":"),
        key(b"\"userAgent\":"),
        key(b"\"objectRef\":"),
        key(b"\"responseStatus\":"),
        key(b"\"requestObject\":"),
        key(b"\"responseObject\":"),
        key(b"\"requestReceivedTimestamp\":"),
        key(b"\"stageTimestamp\":"),
        key(b"\"annotations\":"),
        key(b"\"items\":"),
    ];
    pub(super) const KIND: usize = 0;
    pub(super) const API_VERSION: usize = 1;
    pub(super) const LEVEL: usize = 2;
    pub(super) const AUDIT_ID: usize = 3;
    pub(super) const STAGE: usize = 4;
    pub(super) const REQUEST_URI: usize = 5;
    pub(super) const VERB: usize = 6;
    pub(super) const USER: usize = 7;
    pub(super) const IMPERSONATED_USER: usize = 8;
    pub(super) const SOURCE_IPS: usize = 9;
    pub(super) const USER_AGENT: usize = 10;
    pub(super) const OBJECT_REF: usize = 11;
    /// The first key at which the serde peek asks `wanted`: from here to `ANNOTATIONS`.
    pub(super) const RESPONSE_STATUS: usize = 12;
    pub(super) const REQUEST_RECEIVED: usize = 15;
    pub(super) const STAGE_TIMESTAMP: usize = 16;
    pub(super) const ANNOTATIONS: usize = 17;
    pub(super) const ITEMS: usize = 18;

    pub(super) const USER_KEYS: [Key; 4] = [
        key(b"\"username\":"),
        key(b"\"uid\":"),
        key(b"\"groups\":"),
        key(b"\"extra\":"),
    ];
    pub(super) const USERNAME: usize = 0;
    pub(super) const UID: usize = 1;
    pub(super) const GROUPS: usize = 2;
    pub(super) const EXTRA: usize = 3;

    pub(super) const OBJECT_REF_KEYS: [Key; 8] = [
        key(b"\"resource\":"),
        key(b"\"namespace\":"),
        key(b"\"name\":"),
        key(b"\"uid\":"),
        key(b"\"apiGroup\":"),
        key(b"\"apiVersion\":"),
        key(b"\"resourceVersion\":"),
        key(b"\"subresource\":"),
    ];
    pub(super) const RESOURCE: usize = 0;
    pub(super) const NAMESPACE: usize = 1;
    pub(super) const NAME: usize = 2;
    pub(super) const OBJECT_UID: usize = 3;
    pub(super) const API_GROUP: usize = 4;
    pub(super) const API_VERSION_OF_OBJECT: usize = 5;
    pub(super) const RESOURCE_VERSION: usize = 6;
    pub(super) const SUBRESOURCE: usize = 7;

    /// `status`, `message` and `reason` are read; `metadata` and `code` (known to predict
    /// them) are skipped as any value.
    pub(super) const STATUS_KEYS: [Key; 5] = [
        key(b"\"metadata\":"),
        key(b"\"status\":"),
        key(b"\"message\":"),
        key(b"\"reason\":"),
        key(b"\"code\":"),
    ];
    pub(super) const STATUS_METADATA: usize = 0;
    pub(super) const STATUS: usize = 1;
    pub(super) const MESSAGE: usize = 2;
    pub(super) const REASON: usize = 3;
    pub(super) const STATUS_CODE: usize = 4;
}

/// A quoted key and its colon, compared with the line 16 bytes at a time.
struct Key {
    quoted: &'static [u8],
    words: [u128; 2],
    masks: [u128; 2],
}

/// [`Key`] of at most 32 bytes.
const fn key(quoted: &'static [u8]) -> Key {
    assert!(quoted.len() <= 32);
    let mut words = [[0u8; 16]; 2];
    let mut masks = [[0u8; 16]; 2];
    let mut index = 0;
    while index < quoted.len() {
        words[index / 16][index % 16] = quoted[index];
        masks[index / 16][index % 16] = 0xff;
        index += 1;
    }
    Key {
        quoted,
        words: [u128::from_le_bytes(words[0]), u128::from_le_bytes(words[1])],
        masks: [u128::from_le_bytes(masks[0]), u128::from_le_bytes(masks[1])],
    }
}

impl Key {
    /// Whether `rest` starts with this key.
    #[inline(always)]
    fn starts(&self, rest: &[u8]) -> bool {
        let Some(chunk) = rest.first_chunk::<32>() else {
            return rest.starts_with(self.quoted);
        };
        let (low, high) = chunk.split_at(16);
        let word = |half: &[u8]| <[u8; 16]>::try_from(half).map_or(0, u128::from_le_bytes);
        word(low) & self.masks[0] == self.words[0] && word(high) & self.masks[1] == self.words[1]
    }
}

const _: () = assert!(keys::EVENT.len() <= 32);

/// Keys already read in one object, a bit per index in its key list.
#[derive(Default)]
struct Seen(u32);

impl Seen {
    /// Marks key `index` read; unsure when it was read before.
    #[inline(always)]
    fn first(&mut self, index: usize) -> Sure<()> {
        // Key lists are shorter than 32.
        let bit = 1u32 << (index % 32);
        if self.0 & bit != 0 {
            return Err(Unsure);
        }
        self.0 |= bit;
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
    #[inline(always)]
    fn event(&mut self, wanted: &mut dyn FnMut(&Attributes<'_>) -> bool) -> Sure<Scan<'a>> {
        // The record starts with its brace (the caller removed leading whitespace; the
        // serde peek takes nothing else).
        if self.bytes.first() != Some(&b'{') {
            return Err(Unsure);
        }
        self.at = 1;
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
        let mut hint = 0;
        loop {
            let key = self.key(&keys::EVENT, &mut hint)?;
            if key < keys::EVENT.len() {
                seen.first(key)?;
            }
            // The serde peek asks at the first of these keys, before reading its value.
            if !asked && (keys::RESPONSE_STATUS..=keys::ANNOTATIONS).contains(&key) {
                asked = true;
                if !wanted(&peek.attributes()) {
                    return Ok(Scan::Decode);
                }
            }
            match key {
                keys::KIND => kind = self.text()?,
                keys::API_VERSION => api_version = self.text()?,
                keys::LEVEL => {
                    if let Some(text) = self.text()? {
                        peek.level = Some(text.parse::<Level>().map_err(|_| Unsure)?);
                    }
                }
                keys::STAGE => {
                    if let Some(text) = self.text()? {
                        peek.stage = Some(text.parse::<Stage>().map_err(|_| Unsure)?);
                    }
                }
                keys::AUDIT_ID => {
                    self.any_str()?;
                    has_identity = true;
                }
                keys::REQUEST_URI => {
                    peek.uri = self.text()?.unwrap_or_default();
                    has_identity = true;
                }
                keys::VERB => {
                    peek.verb = self.text()?.unwrap_or_default();
                    has_identity = true;
                }
                keys::USER => self.user(&mut peek.user)?,
                keys::IMPERSONATED_USER => self.user(&mut PeekUser::default())?,
                keys::SOURCE_IPS => {
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
                keys::USER_AGENT => {
                    self.any_str()?;
                }
                keys::OBJECT_REF => self.object_ref(&mut peek.object)?,
                keys::RESPONSE_STATUS => self.status()?,
                keys::REQUEST_RECEIVED | keys::STAGE_TIMESTAMP => self.timestamp()?,
                keys::ANNOTATIONS => {
                    self.string_map(|scanner| scanner.string_value().map(drop))?;
                }
                // A list, or an event with an `items` key: the serde peek gives up on it.
                keys::ITEMS => return Err(Unsure),
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

    /// `user` or `impersonatedUser`, read into `user` (left as it is for `null`): an object
    /// or `null`.
    #[inline(always)]
    fn user(&mut self, user: &mut PeekUser<'a>) -> Sure<()> {
        if !self.open_or_null(b'{')? {
            return Ok(());
        }
        let mut seen = Seen::default();
        self.members(&keys::USER_KEYS, |scanner, key| {
            if key < keys::USER_KEYS.len() {
                seen.first(key)?;
            }
            match key {
                keys::USERNAME => user.name = scanner.text()?.unwrap_or_default(),
                keys::UID => user.uid = scanner.text()?.unwrap_or_default(),
                keys::GROUPS => {
                    if scanner.open_or_null(b'[')? {
                        let groups = user.groups.insert(GroupList::default());
                        scanner.elements(|group| {
                            groups.push(group.text()?);
                            Ok(())
                        })?;
                    }
                }
                keys::EXTRA => {
                    user.has_extra = scanner.string_map(|scanner| {
                        scanner.open(b'[')?;
                        scanner.elements(|_| Ok(()))
                    })?;
                }
                _ => scanner.skip_value()?,
            }
            Ok(())
        })
    }

    /// `objectRef`, read into `slot` (left as it is for `null`): an object or `null`.
    #[inline(always)]
    fn object_ref(&mut self, slot: &mut Option<PeekObject<'a>>) -> Sure<()> {
        if !self.open_or_null(b'{')? {
            return Ok(());
        }
        let object = slot.insert(PeekObject::default());
        let mut seen = Seen::default();
        self.members(&keys::OBJECT_REF_KEYS, |scanner, key| {
            if key < keys::OBJECT_REF_KEYS.len() {
                seen.first(key)?;
            }
            match key {
                keys::RESOURCE => object.resource = scanner.text()?.unwrap_or_default(),
                keys::NAMESPACE => object.namespace = scanner.text()?.unwrap_or_default(),
                keys::NAME => object.name = scanner.text()?.unwrap_or_default(),
                keys::SUBRESOURCE => object.subresource = scanner.text()?.unwrap_or_default(),
                keys::API_GROUP => object.api_group = scanner.text()?,
                keys::OBJECT_UID | keys::API_VERSION_OF_OBJECT | keys::RESOURCE_VERSION => {
                    scanner.any_str()?;
                }
                _ => scanner.skip_value()?,
            }
            Ok(())
        })
    }

    /// `responseStatus`: an object or `null`, checked.
    #[inline(always)]
    fn status(&mut self) -> Sure<()> {
        if !self.open_or_null(b'{')? {
            return Ok(());
        }
        let mut seen = Seen::default();
        self.members(&keys::STATUS_KEYS, |scanner, key| match key {
            keys::STATUS_METADATA | keys::STATUS_CODE => scanner.skip_value(),
            keys::STATUS | keys::MESSAGE | keys::REASON => {
                seen.first(key)?;
                scanner.any_str().map(drop)
            }
            _ => scanner.skip_value(),
        })
    }

    /// A timestamp: a string that [`Timestamp::parse`] reads, or `null`.
    #[inline(always)]
    fn timestamp(&mut self) -> Sure<()> {
        if let Some(text) = self.text()? {
            // A timestamp that does not parse is a warning of the decoder.
            Timestamp::parse(&text).map_err(|_| Unsure)?;
        }
        Ok(())
    }

    /// The members of an object whose `{` was read: each key's index in `keys` (or
    /// `keys.len()` for another key) handed to `value`, which reads the value.
    #[inline(always)]
    fn members(
        &mut self,
        keys: &[Key],
        mut value: impl FnMut(&mut Self, usize) -> Sure<()>,
    ) -> Sure<()> {
        if self.close_empty(b'}')? {
            return Ok(());
        }
        let mut hint = 0;
        loop {
            let key = self.key(keys, &mut hint)?;
            value(self, key)?;
            if self.comma_or_close(b'}')? {
                return Ok(());
            }
        }
    }

    /// An object of string keys (any escapes) and values read by `value`, or `null`;
    /// whether it was an object.
    #[inline(always)]
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
    #[inline(always)]
    fn strings(&mut self, each: impl FnMut(Str<'a>) -> Sure<()>) -> Sure<bool> {
        if !self.open_or_null(b'[')? {
            return Ok(false);
        }
        self.elements(each).map(|()| true)
    }

    /// The strings of an array whose `[` was read, each handed to `each`.
    #[inline(always)]
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
    #[inline(always)]
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
    #[inline(always)]
    fn any_str(&mut self) -> Sure<Option<Str<'a>>> {
        match self.next()? {
            b'"' => self.string().map(Some),
            b'n' => self.literal(b"null").map(|()| None),
            _ => Err(Unsure),
        }
    }

    /// Any JSON value, checked and skipped, without recursion: a bit per open array or object
    /// (1 for an object) says what closes it.
    #[inline(never)]
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
    #[inline(always)]
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

    #[inline(always)]
    fn some_digits(&mut self) -> Sure<()> {
        if !matches!(self.byte(), Some(b'0'..=b'9')) {
            return Err(Unsure);
        }
        self.digits();
        Ok(())
    }

    #[inline(always)]
    fn digits(&mut self) {
        while matches!(self.byte(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
    }

    /// A string whose opening quote is the next byte.
    #[inline(always)]
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

    /// A key of an object whose members the scanner matches, and its colon: its index in
    /// `keys` (quoted keys with their colon), or `keys.len()` for another key. The keys from
    /// `hint` on are tried first, as written (the API server's order makes the first one
    /// tried match, mostly); a key written otherwise (out of order, unknown, with whitespace
    /// before its colon) is read as a string and must have no escapes.
    #[inline(always)]
    fn key(&mut self, keys: &[Key], hint: &mut usize) -> Sure<usize> {
        if self.next()? != b'"' {
            return Err(Unsure);
        }
        let rest = self.bytes.get(self.at..).unwrap_or_default();
        for (index, key) in keys.iter().enumerate().skip(*hint) {
            if key.starts(rest) {
                self.at += key.quoted.len();
                *hint = index + 1;
                return Ok(index);
            }
        }
        let key = self.string()?;
        if key.escaped {
            return Err(Unsure);
        }
        self.colon()?;
        let raw = key.raw.as_bytes();
        Ok(keys
            .iter()
            .position(|key| key.quoted.get(1..key.quoted.len().saturating_sub(2)) == Some(raw))
            .unwrap_or(keys.len()))
    }

    /// Any key and its colon.
    #[inline(always)]
    fn member_name(&mut self) -> Sure<()> {
        if self.next()? != b'"' {
            return Err(Unsure);
        }
        self.string()?;
        self.colon()
    }

    #[inline(always)]
    fn colon(&mut self) -> Sure<()> {
        if self.next()? != b':' {
            return Err(Unsure);
        }
        self.at += 1;
        Ok(())
    }

    /// After a member or element: true at the `close` that ends the container, false after
    /// a comma (another member or element follows).
    #[inline(always)]
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
    #[inline(always)]
    fn close_empty(&mut self, close: u8) -> Sure<bool> {
        if self.next()? == close {
            self.at += 1;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// `open`, required.
    #[inline(always)]
    fn open(&mut self, open: u8) -> Sure<()> {
        if self.next()? != open {
            return Err(Unsure);
        }
        self.at += 1;
        Ok(())
    }

    /// `open` (true) or `null` (false).
    #[inline(always)]
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

    #[inline(always)]
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

    #[inline(always)]
    fn whitespace(&mut self) {
        while matches!(self.byte(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    #[inline(always)]
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
    // Each subtraction sets the high bit of a byte that is 0 (a quote, a backslash) or below
    // 0x20 (a control byte), of a byte above one that borrowed, and of bytes from 0x80 (0xa0
    // for the control test) up, which `!word` clears.
    let quote = (word ^ (ONES * u64::from(b'"'))).wrapping_sub(ONES);
    let backslash = (word ^ (ONES * u64::from(b'\\'))).wrapping_sub(ONES);
    let control = word.wrapping_sub(ONES * 0x20);
    (quote | backslash | control) & !word & HIGHS
}

/// Whether `byte` ends a run of plain string bytes: `"`, `\` or a control byte.
fn is_special(byte: u8) -> bool {
    byte == b'"' || byte == b'\\' || byte < 0x20
}

/// The index of the first byte of `bytes` at or after `at` that [`is_special`].
#[inline(always)]
fn next_special(bytes: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let rest = bytes.get(at..)?;
        let Some(chunk) = rest.first_chunk::<8>() else {
            let offset = rest.iter().position(|&byte| is_special(byte))?;
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
            Some(b'u') => (char::from_u32(hex4(bytes.get(1..5))?).ok_or(Unsure)?, 5),
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
                    assert_eq!(next_special(&bytes, 0), special_bytes(&bytes), "{bytes:?}");
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
        for text in [
            r#""\ud83d\ude00""#,
            r#""\x""#,
            r#""\u12g4""#,
            "\"a\u{1}\"",
            r#""open"#,
        ] {
            let mut scanner = Scanner {
                text,
                bytes: text.as_bytes(),
                at: 0,
            };
            assert!(scanner.string().is_err(), "{text}");
        }
    }
}
