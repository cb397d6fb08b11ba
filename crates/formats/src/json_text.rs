//! JSON string writing shared by the encoders: plain JSON escaping (jsonl, ECS) and Go
//! `encoding/json` escaping (audit.k8s.io output, so that API-server lines round-trip byte for
//! byte).

/// Appends `text` as a quoted JSON string.
pub(crate) fn write_plain(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    write_plain_contents(out, text);
    out.push(b'"');
}

/// Appends `text` escaped for a JSON string: `"`, `\` and control characters. Clean runs are
/// found eight bytes at a time, which is most of the work for audit data.
pub(crate) fn write_plain_contents(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut index = 0;
    while index < bytes.len() {
        while let Some(chunk) = bytes.get(index..index + 8) {
            let word = chunk.try_into().map_or(0, u64::from_le_bytes);
            if needs_escape(word) {
                break;
            }
            index += 8;
        }
        let stop = (index + 8).min(bytes.len());
        while index < stop {
            let byte = bytes[index];
            if byte == b'"' || byte == b'\\' || byte < 0x20 {
                out.extend_from_slice(&bytes[start..index]);
                match byte {
                    b'"' => out.extend_from_slice(b"\\\""),
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    b'\n' => out.extend_from_slice(b"\\n"),
                    b'\r' => out.extend_from_slice(b"\\r"),
                    b'\t' => out.extend_from_slice(b"\\t"),
                    _ => {
                        out.extend_from_slice(b"\\u00");
                        out.push(HEX[usize::from(byte >> 4)]);
                        out.push(HEX[usize::from(byte & 0xf)]);
                    }
                }
                start = index + 1;
            }
            index += 1;
        }
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Whether any of the eight bytes of `word` is `"`, `\` or below 0x20 (the classic
/// "has a byte less than n" and "has a zero byte" bit tricks, exact for these values).
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let control = word.wrapping_sub(ONES * 0x20) & !word;
    let quotes = word ^ (ONES * u64::from(b'"'));
    let quote = quotes.wrapping_sub(ONES) & !quotes;
    let backslashes = word ^ (ONES * u64::from(b'\\'));
    let backslash = backslashes.wrapping_sub(ONES) & !backslashes;
    (control | quote | backslash) & HIGHS != 0
}

/// Bytes that need escaping in a JSON string written the way Go's `encoding/json` writes it:
/// control characters, `"`, `\\`, the HTML-sensitive `<`, `>`, `&`, and 0xE2, the first byte
/// of U+2028 and U+2029 (checked further when met).
const NEEDS_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = true;
        byte += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table[b'<' as usize] = true;
    table[b'>' as usize] = true;
    table[b'&' as usize] = true;
    table[0xe2] = true;
    table
};

/// Writes `text` as a JSON string with Go `encoding/json` escaping: `<`, `>` and `&` as
/// `\u003c`-style escapes, U+2028 and U+2029 escaped, control characters as `\n`, `\r`, `\t`
/// or `\u00XX`.
pub(crate) fn write_go(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut index = 0;
    loop {
        while index < bytes.len() && !NEEDS_ESCAPE[usize::from(bytes[index])] {
            index += 1;
        }
        if index == bytes.len() {
            break;
        }
        let byte = bytes[index];
        let line_separator = byte == 0xe2
            && bytes.get(index + 1) == Some(&0x80)
            && matches!(bytes.get(index + 2), Some(0xa8 | 0xa9));
        if byte == 0xe2 && !line_separator {
            index += 1;
            continue;
        }
        out.extend_from_slice(&bytes[start..index]);
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0xe2 => {
                out.extend_from_slice(b"\\u202");
                out.push(if bytes[index + 2] == 0xa8 { b'8' } else { b'9' });
                index += 2;
            }
            _ => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(byte >> 4)]);
                out.push(HEX[usize::from(byte & 0xf)]);
            }
        }
        index += 1;
        start = index;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}
