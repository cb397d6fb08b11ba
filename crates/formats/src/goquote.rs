//! Go `%q` quoted strings, as the API server's legacy log formats write every value.
//!
//! Go's `strconv.Quote` escapes `\"`, `\\`, `\a \b \f \n \r \t \v`, non-printable runes as
//! `\xNN`, `\uNNNN` or `\UNNNNNNNN`, and invalid UTF-8 bytes as `\xNN`; `strconv.Unquote` also
//! accepts three-digit octal escapes `\NNN`. Decoding follows Unquote. Bytes that do not form
//! UTF-8 after unescaping are replaced by U+FFFD: audit fields are text.

/// Why a quoted string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuoteError {
    /// The value does not start with `"`.
    #[error("expected a double-quoted value")]
    NotQuoted,
    /// The closing quote is missing.
    #[error("unterminated quoted value")]
    Unterminated,
    /// A backslash escape that Go does not know.
    #[error("invalid escape sequence at byte {0}")]
    BadEscape(usize),
}

/// Reads one quoted string at the start of `input`.
///
/// Returns the unquoted text and the number of bytes consumed, closing quote included.
pub fn unquote_prefix(input: &[u8]) -> Result<(String, usize), QuoteError> {
    if input.first() != Some(&b'"') {
        return Err(QuoteError::NotQuoted);
    }
    // Fast path: no escapes before the closing quote.
    let body = &input[1..];
    let Some(end) = memchr::memchr2(b'"', b'\\', body) else {
        return Err(QuoteError::Unterminated);
    };
    if body[end] == b'"' {
        return Ok((String::from_utf8_lossy(&body[..end]).into_owned(), end + 2));
    }
    let mut bytes = Vec::with_capacity(body.len().min(256));
    let mut index = 0;
    while index < body.len() {
        let byte = body[index];
        match byte {
            b'"' => {
                let text = match String::from_utf8(bytes) {
                    Ok(text) => text,
                    Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
                };
                return Ok((text, index + 2));
            }
            b'\\' => {
                index = unescape(body, index, &mut bytes)?;
            }
            _ => {
                bytes.push(byte);
                index += 1;
            }
        }
    }
    Err(QuoteError::Unterminated)
}

/// Reads a whole quoted value; trailing bytes are an error.
pub fn unquote(input: &[u8]) -> Result<String, QuoteError> {
    let (text, used) = unquote_prefix(input)?;
    if used == input.len() {
        Ok(text)
    } else {
        Err(QuoteError::Unterminated)
    }
}

/// Decodes the escape starting at `body[start]` (a backslash) into `out`; returns the index
/// after it.
fn unescape(body: &[u8], start: usize, out: &mut Vec<u8>) -> Result<usize, QuoteError> {
    let bad = || QuoteError::BadEscape(start + 1);
    let kind = *body.get(start + 1).ok_or(QuoteError::Unterminated)?;
    let simple = match kind {
        b'a' => Some(0x07),
        b'b' => Some(0x08),
        b'f' => Some(0x0c),
        b'n' => Some(b'\n'),
        b'r' => Some(b'\r'),
        b't' => Some(b'\t'),
        b'v' => Some(0x0b),
        b'\\' => Some(b'\\'),
        b'"' => Some(b'"'),
        b'\'' => Some(b'\''),
        _ => None,
    };
    if let Some(byte) = simple {
        out.push(byte);
        return Ok(start + 2);
    }
    match kind {
        b'x' => {
            let value =
                hex_value(body.get(start + 2..start + 4).ok_or_else(bad)?).ok_or_else(bad)?;
            out.push(u8::try_from(value).map_err(|_| bad())?);
            Ok(start + 4)
        }
        b'u' | b'U' => {
            let digits = if kind == b'u' { 4 } else { 8 };
            let hex = body.get(start + 2..start + 2 + digits).ok_or_else(bad)?;
            let value = hex_value(hex).ok_or_else(bad)?;
            let character = char::from_u32(value).ok_or_else(bad)?;
            let mut buffer = [0u8; 4];
            out.extend_from_slice(character.encode_utf8(&mut buffer).as_bytes());
            Ok(start + 2 + digits)
        }
        b'0'..=b'7' => {
            let octal = body.get(start + 1..start + 4).ok_or_else(bad)?;
            let mut value: u32 = 0;
            for digit in octal {
                if !(b'0'..=b'7').contains(digit) {
                    return Err(bad());
                }
                value = value * 8 + u32::from(digit - b'0');
            }
            out.push(u8::try_from(value).map_err(|_| bad())?);
            Ok(start + 4)
        }
        _ => Err(bad()),
    }
}

fn hex_value(digits: &[u8]) -> Option<u32> {
    let mut value: u32 = 0;
    for digit in digits {
        let nibble = char::from(*digit).to_digit(16)?;
        value = value.checked_mul(16)?.checked_add(nibble)?;
    }
    Some(value)
}

/// Splits a comma-separated list of quoted strings (`"a","b"`), the inner form of the
/// legacy `groups` and `asgroups` fields after the outer unquoting.
pub fn split_quoted_list(list: &str) -> Result<Vec<String>, QuoteError> {
    let mut items = Vec::new();
    let mut rest = list.as_bytes();
    while !rest.is_empty() {
        let (item, used) = unquote_prefix(rest)?;
        items.push(item);
        rest = &rest[used..];
        match rest.first() {
            None => break,
            Some(b',') => rest = &rest[1..],
            Some(_) => return Err(QuoteError::Unterminated),
        }
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_escaped_values() {
        assert_eq!(unquote(br#""admin""#).unwrap(), "admin");
        assert_eq!(unquote(br#""a\"b\\c\n""#).unwrap(), "a\"b\\c\n");
        assert_eq!(unquote(br#""\x41\u00e9\U0001F600\101""#).unwrap(), "Aé😀A");
        assert_eq!(unquote("\"é\"".as_bytes()).unwrap(), "é");
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        assert_eq!(unquote(br#""\xff""#).unwrap(), "\u{fffd}");
    }

    #[test]
    fn errors_instead_of_panics() {
        for input in [
            &b""[..],
            b"x",
            b"\"abc",
            b"\"\\",
            b"\"\\x4\"",
            b"\"\\q\"",
            b"\"\\U0011FFFF\"",
        ] {
            assert!(unquote(input).is_err(), "{input:?}");
        }
    }

    #[test]
    fn prefix_reports_consumed_bytes() {
        assert_eq!(
            unquote_prefix(br#""ab" rest"#).unwrap(),
            ("ab".to_owned(), 4)
        );
    }

    #[test]
    fn group_lists_unquote_twice() {
        let outer = unquote(br#""\"system:masters\",\"system:authenticated\"""#).unwrap();
        assert_eq!(outer, r#""system:masters","system:authenticated""#);
        assert_eq!(
            split_quoted_list(&outer).unwrap(),
            vec![
                "system:masters".to_owned(),
                "system:authenticated".to_owned()
            ]
        );
        assert_eq!(split_quoted_list("").unwrap(), Vec::<String>::new());
        assert_eq!(
            split_quoted_list(r#""a,b","c""#).unwrap(),
            vec!["a,b".to_owned(), "c".to_owned()]
        );
    }
}
