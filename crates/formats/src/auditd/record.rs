//! One audit record: the header (`node=`, `type=`, `msg=audit(SECONDS.MILLIS:SERIAL):`) and a
//! byte-level tokenizer for its `name=value` fields.
//!
//! The tokenizer never allocates: it yields byte ranges of the text it was given. It follows
//! auparse's splitter (`auparse/ellist.c`): the nested `msg='…'` of userspace records is
//! flattened into the outer field list, a leading `(` is dropped from names, a trailing `:`,
//! `,`, `'` or `)` from unquoted values (but `(none)` and `(null)` stay whole), quoted values
//! run to the next `"` with no escapes, and the SELinux `avc:  denied  { read write }` words
//! become the synthetic fields `seresult` and `seperms`. Other bare words are skipped.
//!
//! An ENRICHED record carries, after one 0x1D byte, `NAME=value` interpretations: quoted,
//! bare (hex when the name is a user or group), or `{ … }` for `SADDR`.

use super::tables::RECORD_TYPES;

/// The separator auditd's ENRICHED format puts before its interpretations.
pub(super) const INTERP_SEPARATOR: u8 = 0x1d;

/// The parsed first part of a record line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Header<'a> {
    pub(super) node: Option<&'a [u8]>,
    pub(super) type_name: &'a [u8],
    /// The record type number; 0 when the name is unknown.
    pub(super) type_number: u32,
    pub(super) seconds: u64,
    pub(super) millis: u32,
    pub(super) serial: u64,
    /// Offset of the first byte after `):` within the line.
    pub(super) body_start: usize,
}

/// Why a line is not an audit record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HeaderError {
    NoType,
    NoMsg,
    BadTimestamp,
}

impl HeaderError {
    pub(super) fn message(self) -> &'static str {
        match self {
            HeaderError::NoType => {
                "not an audit record: expected \"type=\" (after an optional \"node=\")"
            }
            HeaderError::NoMsg => "not an audit record: expected \"msg=audit(\" after the type",
            HeaderError::BadTimestamp => {
                "malformed audit record: expected \"msg=audit(SECONDS.MILLIS:SERIAL):\""
            }
        }
    }
}

/// Reads the header of `line`.
pub(super) fn parse_header(line: &[u8]) -> Result<Header<'_>, HeaderError> {
    let mut rest = line;
    let mut position = 0usize;
    let mut node = None;
    if let Some(after) = rest.strip_prefix(b"node=") {
        let end = after
            .iter()
            .position(|&byte| byte == b' ')
            .ok_or(HeaderError::NoType)?;
        node = Some(&after[..end]);
        let skip = 5 + end + 1;
        position += skip;
        rest = &rest[skip..];
    }
    let after_type = rest.strip_prefix(b"type=").ok_or(HeaderError::NoType)?;
    let type_end = after_type
        .iter()
        .position(|&byte| byte == b' ')
        .ok_or(HeaderError::NoMsg)?;
    let type_name = &after_type[..type_end];
    position += 5 + type_end + 1;
    rest = &after_type[type_end + 1..];
    let after_msg = rest.strip_prefix(b"msg=audit(").ok_or(HeaderError::NoMsg)?;
    position += 10;
    let (seconds, used) = parse_decimal(after_msg).ok_or(HeaderError::BadTimestamp)?;
    let after_seconds = &after_msg[used..];
    let after_dot = after_seconds
        .strip_prefix(b".")
        .ok_or(HeaderError::BadTimestamp)?;
    let (millis, used_millis) = parse_decimal(after_dot).ok_or(HeaderError::BadTimestamp)?;
    let after_millis = &after_dot[used_millis..];
    let after_colon = after_millis
        .strip_prefix(b":")
        .ok_or(HeaderError::BadTimestamp)?;
    let (serial, used_serial) = parse_decimal(after_colon).ok_or(HeaderError::BadTimestamp)?;
    let after_serial = &after_colon[used_serial..];
    let tail = after_serial
        .strip_prefix(b"):")
        .or_else(|| after_serial.strip_prefix(b")"))
        .ok_or(HeaderError::BadTimestamp)?;
    if millis > 999 || used_millis > 3 {
        return Err(HeaderError::BadTimestamp);
    }
    position += used + 1 + used_millis + 1 + used_serial;
    position += after_serial.len() - tail.len();
    Ok(Header {
        node,
        type_name,
        type_number: type_number(type_name),
        seconds,
        millis: millis as u32,
        serial,
        body_start: position,
    })
}

/// True when `line` looks like an audit record (for format detection).
pub(super) fn detect(line: &[u8]) -> bool {
    parse_header(line).is_ok()
}

/// The number of a record type written by name (`SYSCALL`) or as `UNKNOWN[1234]`; 0 when the
/// name is not known.
pub(super) fn type_number(name: &[u8]) -> u32 {
    // The kernel's syscall records are most of any log: skip the search for them.
    match name {
        b"SYSCALL" => return 1300,
        b"PATH" => return 1302,
        b"CWD" => return 1307,
        b"EXECVE" => return 1309,
        b"EOE" => return 1320,
        b"PROCTITLE" => return 1327,
        b"SOCKADDR" => return 1306,
        _ => {}
    }
    if let Ok(index) = RECORD_TYPES.binary_search_by(|(known, _)| known.as_bytes().cmp(name)) {
        return RECORD_TYPES[index].1;
    }
    if let Some(inner) = name
        .strip_prefix(b"UNKNOWN[")
        .and_then(|rest| rest.strip_suffix(b"]"))
        && let Some((number, used)) = parse_decimal(inner)
        && used == inner.len()
        && number <= u64::from(u32::MAX)
    {
        return number as u32;
    }
    0
}

/// Reads leading ASCII digits; `None` when there are none or the number overflows.
pub(super) fn parse_decimal(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    let mut used = 0;
    for &byte in bytes {
        if !byte.is_ascii_digit() {
            break;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(byte - b'0'))?;
        used += 1;
    }
    (used > 0).then_some((value, used))
}

/// A `name=value` pair as byte ranges of the tokenized text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Token {
    pub(super) name_start: u32,
    pub(super) name_end: u32,
    pub(super) value_start: u32,
    pub(super) value_end: u32,
    /// The value was in double quotes (a literal string, never hex).
    pub(super) quoted: bool,
    /// A field auparse makes up from bare words (AVC `seresult`, `seperms`); the name range is
    /// empty then.
    pub(super) synthetic: Option<&'static str>,
}

/// Splits the body of a raw record (the text after `):`) into fields, calling `on_field` for
/// each. `base` is added to every offset. Stops when `on_field` returns false.
pub(super) fn tokenize_body(text: &[u8], base: usize, mut on_field: impl FnMut(Token) -> bool) {
    let length = text.len();
    let mut index = 0usize;
    let mut avc_words = false;
    while index < length {
        while index < length && text[index] == b' ' {
            index += 1;
        }
        if index >= length {
            break;
        }
        let start = index;
        while index < length && text[index] != b' ' && text[index] != b'=' {
            index += 1;
        }
        if index >= length || text[index] == b' ' {
            // A bare word. SELinux AVC: `avc:  denied  { read write } for  pid=…`.
            let word = &text[start..index];
            if word == b"avc:" {
                avc_words = true;
            } else if avc_words && (word == b"denied" || word == b"granted") {
                let token = synthetic(base, start, index);
                if !on_field(token) {
                    return;
                }
            } else if avc_words && word == b"{" {
                let inner_start = index;
                let close = text[index..]
                    .iter()
                    .position(|&byte| byte == b'}')
                    .map_or(length, |offset| index + offset);
                let token = Token {
                    name_start: 0,
                    name_end: 0,
                    value_start: offset(base, trim_start_spaces(text, inner_start, close)),
                    value_end: offset(base, trim_end_spaces(text, inner_start, close)),
                    quoted: true,
                    synthetic: Some("seperms"),
                };
                if !on_field(token) {
                    return;
                }
                index = (close + 1).min(length);
            }
            continue;
        }
        // `name=`; a leading `(` belongs to old parenthesised userspace forms.
        let name_start = if text[start] == b'(' {
            start + 1
        } else {
            start
        };
        let name_end = index;
        index += 1;
        if name_end - start == 3
            && &text[start..name_end] == b"msg"
            && text.get(index) == Some(&b'\'')
        {
            // Userspace messages nest their fields in `msg='…'`: flatten them.
            index += 1;
            continue;
        }
        let (value_start, value_end, quoted);
        if text.get(index) == Some(&b'"') {
            value_start = index + 1;
            let close = text[value_start..]
                .iter()
                .position(|&byte| byte == b'"')
                .map_or(length, |offset| value_start + offset);
            value_end = close;
            quoted = true;
            index = (close + 1).min(length);
            // A closing `'` of a flattened `msg='…'` may follow the quote.
            while index < length && text[index] != b' ' {
                index += 1;
            }
        } else {
            value_start = index;
            while index < length && text[index] != b' ' {
                index += 1;
            }
            let mut end = index;
            let value = &text[value_start..end];
            if value != b"(none)" && value != b"(null)" {
                while end > value_start && matches!(text[end - 1], b':' | b',' | b'\'' | b')') {
                    end -= 1;
                }
            }
            value_end = end;
            quoted = false;
        }
        let token = Token {
            name_start: offset(base, name_start),
            name_end: offset(base, name_end),
            value_start: offset(base, value_start),
            value_end: offset(base, value_end),
            quoted,
            synthetic: None,
        };
        if !on_field(token) {
            return;
        }
    }
}

/// Splits ENRICHED interpretations (`UID="root" ARCH=x86_64 SADDR={ … }`).
pub(super) fn tokenize_interpretations(
    text: &[u8],
    base: usize,
    mut on_field: impl FnMut(Token) -> bool,
) {
    let length = text.len();
    let mut index = 0usize;
    while index < length {
        while index < length && text[index] == b' ' {
            index += 1;
        }
        let name_start = index;
        while index < length && text[index] != b'=' && text[index] != b' ' {
            index += 1;
        }
        if index >= length || text[index] == b' ' {
            continue;
        }
        let name_end = index;
        index += 1;
        let (value_start, value_end, quoted);
        match text.get(index) {
            Some(b'"') => {
                value_start = index + 1;
                value_end = text[value_start..]
                    .iter()
                    .position(|&byte| byte == b'"')
                    .map_or(length, |offset| value_start + offset);
                quoted = true;
                index = (value_end + 1).min(length);
            }
            Some(b'{') => {
                value_start = index;
                value_end = text[index..]
                    .iter()
                    .position(|&byte| byte == b'}')
                    .map_or(length, |offset| index + offset + 1);
                quoted = true;
                index = value_end;
            }
            _ => {
                value_start = index;
                while index < length && text[index] != b' ' {
                    index += 1;
                }
                value_end = index;
                quoted = false;
            }
        }
        let token = Token {
            name_start: offset(base, name_start),
            name_end: offset(base, name_end),
            value_start: offset(base, value_start),
            value_end: offset(base, value_end),
            quoted,
            synthetic: None,
        };
        if !on_field(token) {
            return;
        }
    }
}

/// The synthetic AVC result field (`denied`, `granted`).
fn synthetic(base: usize, start: usize, end: usize) -> Token {
    Token {
        name_start: 0,
        name_end: 0,
        value_start: offset(base, start),
        value_end: offset(base, end),
        quoted: false,
        synthetic: Some("seresult"),
    }
}

fn trim_start_spaces(text: &[u8], mut start: usize, end: usize) -> usize {
    while start < end && text[start] == b' ' {
        start += 1;
    }
    start
}

fn trim_end_spaces(text: &[u8], start: usize, mut end: usize) -> usize {
    while end > start && text[end - 1] == b' ' {
        end -= 1;
    }
    end
}

/// Offsets fit in u32: records are limited far below 4 GiB per event.
fn offset(base: usize, index: usize) -> u32 {
    u32::try_from(base + index).unwrap_or(u32::MAX)
}
