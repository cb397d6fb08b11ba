//! Splitting input bytes into records.
//!
//! Most audit inputs are one record per line. A few are whole JSON documents: a pretty-printed
//! `EventList` as a webhook receiver would save it, or a JSON array of events. [`detect`] tells
//! the two apart from the first bytes of an input; [`LineFramer`] cuts a stream of chunks into
//! lines without copying complete lines, with a hard [`LINE_BYTES_MAX`] limit.

use crate::limits::LINE_BYTES_MAX;

/// How an input's records are delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// One record per line.
    Lines,
    /// One or more JSON values spanning lines (read the whole input, then decode).
    Document,
}

/// Guesses the framing from the first bytes of an input (`head`; `complete` when it is the
/// whole input). A leading `[` means a JSON array; a first line that starts a JSON object but
/// does not end it means a pretty-printed document; anything else is lines.
pub fn detect(head: &[u8], complete: bool) -> Framing {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = head.iter().position(|byte| !byte.is_ascii_whitespace());
    let Some(start) = start else {
        return Framing::Lines;
    };
    match head[start] {
        b'[' => Framing::Document,
        b'{' => {
            let rest = &head[start..];
            let first_line = match memchr::memchr(b'\n', rest) {
                Some(end) => &rest[..end],
                None if complete => rest,
                // One line longer than the head: a single-line event or a huge document.
                None => return Framing::Lines,
            };
            match serde_json::from_slice::<serde::de::IgnoredAny>(first_line) {
                Err(error) if error.is_eof() => Framing::Document,
                _ => Framing::Lines,
            }
        }
        _ => Framing::Lines,
    }
}

/// One line of input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    /// 1-based line number.
    pub number: u64,
    /// Byte offset of the line's first byte.
    pub offset: u64,
    /// The line without its `\n` (and without a `\r` before it). For an overlong line, only
    /// its first [`LINE_BYTES_MAX`] bytes.
    pub bytes: &'a [u8],
    /// The line was longer than [`LINE_BYTES_MAX`]; `bytes` is its start.
    pub overlong: bool,
    /// Length of the whole line in the input, newline excluded.
    pub length: u64,
}

/// Cuts chunks of a byte stream into lines.
#[derive(Debug, Default)]
pub struct LineFramer {
    next_number: u64,
    next_offset: u64,
    /// The start of a line whose end has not arrived yet.
    pending: Vec<u8>,
    /// Bytes of an overlong line beyond what `pending` keeps.
    skipped: u64,
}

impl LineFramer {
    /// A framer at the start of an input.
    pub fn new() -> LineFramer {
        LineFramer {
            next_number: 1,
            ..LineFramer::default()
        }
    }

    /// A framer that resumes an input at line `number` (1-based), `offset` bytes in: for a
    /// piece of an input cut at a line boundary, so that its lines keep their numbers and
    /// offsets in the whole input.
    pub fn at(number: u64, offset: u64) -> LineFramer {
        LineFramer {
            next_number: number,
            next_offset: offset,
            ..LineFramer::default()
        }
    }

    /// Feeds the next chunk; calls `on_line` for every line it completes.
    pub fn push(&mut self, chunk: &[u8], mut on_line: impl FnMut(Line<'_>)) {
        let mut rest = chunk;
        while let Some(end) = memchr::memchr(b'\n', rest) {
            let (head, tail) = (&rest[..end], &rest[end + 1..]);
            if self.pending.is_empty() && self.skipped == 0 {
                self.emit(head, 0, &mut on_line);
            } else {
                self.append_pending(head);
                let pending = std::mem::take(&mut self.pending);
                let skipped = std::mem::take(&mut self.skipped);
                self.emit(&pending, skipped, &mut on_line);
                self.pending = pending;
                self.pending.clear();
            }
            rest = tail;
        }
        self.append_pending(rest);
    }

    /// Ends the input: a last line without a newline is still a line.
    pub fn finish(&mut self, mut on_line: impl FnMut(Line<'_>)) {
        if !self.pending.is_empty() || self.skipped > 0 {
            let pending = std::mem::take(&mut self.pending);
            let skipped = std::mem::take(&mut self.skipped);
            self.emit(&pending, skipped, &mut on_line);
        }
    }

    fn append_pending(&mut self, bytes: &[u8]) {
        let room = LINE_BYTES_MAX.saturating_sub(self.pending.len());
        let kept = bytes.len().min(room);
        self.pending.extend_from_slice(&bytes[..kept]);
        self.skipped += (bytes.len() - kept) as u64;
    }

    fn emit(&mut self, bytes: &[u8], skipped: u64, on_line: &mut impl FnMut(Line<'_>)) {
        let length = bytes.len() as u64 + skipped;
        let overlong = skipped > 0 || bytes.len() > LINE_BYTES_MAX;
        let kept = &bytes[..bytes.len().min(LINE_BYTES_MAX)];
        let kept = if overlong {
            kept
        } else {
            kept.strip_suffix(b"\r").unwrap_or(kept)
        };
        on_line(Line {
            number: self.next_number,
            offset: self.next_offset,
            bytes: kept,
            overlong,
            length,
        });
        self.next_number += 1;
        self.next_offset += length + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(chunks: &[&[u8]]) -> Vec<(u64, u64, Vec<u8>)> {
        let mut framer = LineFramer::new();
        let mut out = Vec::new();
        for chunk in chunks {
            framer.push(chunk, |line| {
                out.push((line.number, line.offset, line.bytes.to_vec()))
            });
        }
        framer.finish(|line| out.push((line.number, line.offset, line.bytes.to_vec())));
        out
    }

    #[test]
    fn lines_across_chunk_boundaries() {
        let expected = vec![
            (1, 0, b"ab".to_vec()),
            (2, 3, b"cd".to_vec()),
            (3, 7, b"e".to_vec()),
        ];
        assert_eq!(lines(&[b"ab\ncd\r\ne"]), expected);
        assert_eq!(lines(&[b"a", b"b\nc", b"d\r", b"\ne"]), expected);
        assert_eq!(lines(&[b"ab\n", b"cd\r\n", b"e"]), expected);
    }

    #[test]
    fn resumed_framer_numbers_lines_as_the_whole_input() {
        let input = b"ab\ncd\r\ne\nfg";
        let whole = lines(&[input]);
        let split = 3; // after "ab\n"
        let mut framer = LineFramer::at(2, split as u64);
        let mut rest = Vec::new();
        framer.push(&input[split..], |line| {
            rest.push((line.number, line.offset, line.bytes.to_vec()))
        });
        framer.finish(|line| rest.push((line.number, line.offset, line.bytes.to_vec())));
        assert_eq!(rest, whole[1..]);
    }

    #[test]
    fn empty_lines_count() {
        assert_eq!(lines(&[b"\n\nx\n"]).len(), 3);
        assert_eq!(lines(&[b""]).len(), 0);
    }

    #[test]
    fn framing_detection() {
        assert_eq!(detect(b"{\"a\":1}\n{\"a\":2}\n", true), Framing::Lines);
        assert_eq!(
            detect(b"{\n  \"kind\": \"EventList\",\n", false),
            Framing::Document
        );
        assert_eq!(detect(b"  [ {\"a\":1} ]", true), Framing::Document);
        assert_eq!(
            detect(b"2025-01-01T00:00:00Z AUDIT: id=\"x\"", true),
            Framing::Lines
        );
        assert_eq!(detect(b"{\"a\":", false), Framing::Lines);
        assert_eq!(detect(b"{\"a\":", true), Framing::Document);
        assert_eq!(detect(b"", true), Framing::Lines);
    }
}
