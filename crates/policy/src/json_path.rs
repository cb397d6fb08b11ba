//! The small path language of `auditrail.redact.paths[].jsonPath`.
//!
//! Grammar: segments separated by `.`; a segment is a key (`spec`), `*` (every member of an
//! object or element of an array), or a bracket: `[*]` (the same as `*`), `[3]` (one array
//! element) or `["key.with/dots"]` (a key that contains `.`). A leading `$` or `$.` is
//! accepted and ignored. Commas are refused because the path is written into the
//! comma-separated `auditrail.io/redacted` annotation.
//!
//! Example: `spec.template.spec.containers[*].env[*].value`.

use std::fmt::Write as _;

use serde_json::Value;

use crate::limits;

/// A parsed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JsonPath {
    segments: Box<[Segment]>,
    /// The canonical text, as recorded in the redaction annotation.
    text: Box<str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(Box<str>),
    /// `*` or `[*]`: every child of an object or array.
    Any {
        bracket: bool,
    },
    Index(usize),
}

/// Why a `jsonPath` is not accepted; the text says what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum JsonPathError {
    #[error("is empty; give a dotted path such as spec.token")]
    Empty,
    #[error("is longer than {} bytes; shorten it", limits::JSON_PATH_BYTES_MAX)]
    TooLong,
    #[error("has more than {} segments; shorten it", limits::JSON_PATH_DEPTH_MAX)]
    TooDeep,
    #[error("contains a comma; commas cannot be recorded in the redaction annotation")]
    Comma,
    #[error("has an empty segment at byte {at}; remove the extra \".\"")]
    EmptySegment { at: usize },
    #[error("has {found:?} at byte {at}; write [*], [N] or [\"key\"] inside brackets")]
    BadBracket { at: usize, found: String },
    #[error("has {found:?} at byte {at}; a key may not contain it, quote the key as [\"key\"]")]
    BadKey { at: usize, found: char },
}

impl JsonPath {
    pub(crate) fn parse(text: &str) -> Result<JsonPath, JsonPathError> {
        if text.len() > limits::JSON_PATH_BYTES_MAX {
            return Err(JsonPathError::TooLong);
        }
        if text.contains(',') {
            return Err(JsonPathError::Comma);
        }
        let body = text
            .strip_prefix('$')
            .map_or(text, |rest| rest.strip_prefix('.').unwrap_or(rest));
        let offset = text.len() - body.len();
        if body.is_empty() {
            return Err(JsonPathError::Empty);
        }
        let mut segments = Vec::new();
        let bytes = body.as_bytes();
        let mut at = 0;
        let mut expect_key = true;
        while at < bytes.len() {
            match bytes.get(at) {
                Some(b'[') => {
                    let (segment, next) = parse_bracket(body, at, offset)?;
                    segments.push(segment);
                    at = next;
                    expect_key = false;
                }
                Some(b'.') if !expect_key => {
                    at += 1;
                    expect_key = true;
                    if at == bytes.len() {
                        return Err(JsonPathError::EmptySegment { at: at + offset });
                    }
                }
                Some(_) if expect_key => {
                    let end = body
                        .get(at..)
                        .and_then(|rest| rest.find(['.', '[']))
                        .map_or(bytes.len(), |found| at + found);
                    let key = body.get(at..end).unwrap_or_default();
                    if key.is_empty() {
                        return Err(JsonPathError::EmptySegment { at: at + offset });
                    }
                    segments.push(parse_key(key, at + offset)?);
                    at = end;
                    expect_key = false;
                }
                _ => return Err(JsonPathError::EmptySegment { at: at + offset }),
            }
            if segments.len() > limits::JSON_PATH_DEPTH_MAX {
                return Err(JsonPathError::TooDeep);
            }
        }
        let text = render(&segments);
        Ok(JsonPath {
            segments: segments.into(),
            text: text.into(),
        })
    }

    /// The canonical text (`spec.containers[*].env[*].value`).
    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    /// The first key, quoted as it appears in JSON text (`"spec"`), when the path starts with
    /// a plain key; used to skip parsing bodies that cannot contain the path.
    pub(crate) fn first_key_needle(&self) -> Option<String> {
        match self.segments.first() {
            Some(Segment::Key(key)) if key.bytes().all(is_plain_key_byte) => {
                Some(format!("\"{key}\""))
            }
            _ => None,
        }
    }

    /// Replaces every value the path reaches with `marker`; true when anything changed.
    pub(crate) fn redact(&self, value: &mut Value, marker: &str) -> bool {
        redact_at(&self.segments, value, marker)
    }
}

fn redact_at(segments: &[Segment], value: &mut Value, marker: &str) -> bool {
    let Some((segment, rest)) = segments.split_first() else {
        return replace_with_marker(value, marker);
    };
    match (segment, value) {
        (Segment::Key(key), Value::Object(map)) => map
            .get_mut(&**key)
            .is_some_and(|child| redact_at(rest, child, marker)),
        (Segment::Index(index), Value::Array(items)) => items
            .get_mut(*index)
            .is_some_and(|child| redact_at(rest, child, marker)),
        (Segment::Any { .. }, Value::Object(map)) => {
            map.values_mut().fold(false, |changed, child| {
                redact_at(rest, child, marker) | changed
            })
        }
        (Segment::Any { .. }, Value::Array(items)) => {
            items.iter_mut().fold(false, |changed, child| {
                redact_at(rest, child, marker) | changed
            })
        }
        _ => false,
    }
}

/// Sets `value` to the marker string unless it already is; true when it changed.
pub(crate) fn replace_with_marker(value: &mut Value, marker: &str) -> bool {
    if value.as_str() == Some(marker) {
        return false;
    }
    *value = Value::String(marker.to_owned());
    true
}

fn is_plain_key_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-' | b'/' | b':' | b'@' | b'$')
}

fn parse_key(key: &str, at: usize) -> Result<Segment, JsonPathError> {
    if key == "*" {
        return Ok(Segment::Any { bracket: false });
    }
    match key
        .char_indices()
        .find(|(_, found)| matches!(found, '*' | ']' | '"' | ' '))
    {
        Some((index, found)) => Err(JsonPathError::BadKey {
            at: at + index,
            found,
        }),
        None => Ok(Segment::Key(key.into())),
    }
}

/// Parses the bracket starting at `body[at] == '['`; returns the segment and the index after
/// the closing bracket.
fn parse_bracket(body: &str, at: usize, offset: usize) -> Result<(Segment, usize), JsonPathError> {
    let rest = body.get(at + 1..).unwrap_or_default();
    let bad = |found: &str| JsonPathError::BadBracket {
        at: at + offset,
        found: found.chars().take(16).collect(),
    };
    if let Some(after_quote) = rest.strip_prefix('"') {
        let close = after_quote.find('"').ok_or_else(|| bad(rest))?;
        let key = after_quote.get(..close).unwrap_or_default();
        if !after_quote
            .get(close + 1..)
            .unwrap_or_default()
            .starts_with(']')
        {
            return Err(bad(rest));
        }
        return Ok((Segment::Key(key.into()), at + 1 + 1 + close + 1 + 1));
    }
    let close = rest.find(']').ok_or_else(|| bad(rest))?;
    let inside = rest.get(..close).unwrap_or_default();
    let segment = if inside == "*" {
        Segment::Any { bracket: true }
    } else if !inside.is_empty() && inside.bytes().all(|byte| byte.is_ascii_digit()) {
        Segment::Index(inside.parse().map_err(|_| bad(inside))?)
    } else {
        return Err(bad(inside));
    };
    Ok((segment, at + 1 + close + 1))
}

fn render(segments: &[Segment]) -> String {
    let mut text = String::new();
    for segment in segments {
        match segment {
            Segment::Key(key) if !key.is_empty() && key.bytes().all(is_plain_key_byte) => {
                if !text.is_empty() {
                    text.push('.');
                }
                text.push_str(key);
            }
            Segment::Key(key) => {
                let _ = write!(text, "[\"{key}\"]");
            }
            Segment::Any { bracket: false } => {
                if !text.is_empty() {
                    text.push('.');
                }
                text.push('*');
            }
            Segment::Any { bracket: true } => text.push_str("[*]"),
            Segment::Index(index) => {
                let _ = write!(text, "[{index}]");
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn parses_and_renders_canonically() {
        let cases = [
            ("spec.token", "spec.token"),
            ("$.spec.token", "spec.token"),
            (
                "spec.template.spec.containers[*].env[*].value",
                "spec.template.spec.containers[*].env[*].value",
            ),
            ("data.*", "data.*"),
            ("items[0].data", "items[0].data"),
            (
                "metadata.annotations[\"kubectl.kubernetes.io/last-applied-configuration\"]",
                "metadata.annotations[\"kubectl.kubernetes.io/last-applied-configuration\"]",
            ),
            ("[*].value", "[*].value"),
        ];
        for (text, canonical) in cases {
            assert_eq!(JsonPath::parse(text).unwrap().as_str(), canonical, "{text}");
        }
    }

    #[test]
    fn refuses_bad_paths() {
        assert_eq!(JsonPath::parse("").unwrap_err(), JsonPathError::Empty);
        assert_eq!(JsonPath::parse("$").unwrap_err(), JsonPathError::Empty);
        assert_eq!(JsonPath::parse("a,b").unwrap_err(), JsonPathError::Comma);
        assert_eq!(
            JsonPath::parse("a..b").unwrap_err(),
            JsonPathError::EmptySegment { at: 2 }
        );
        assert_eq!(
            JsonPath::parse("a.").unwrap_err(),
            JsonPathError::EmptySegment { at: 2 }
        );
        assert!(matches!(
            JsonPath::parse("a[x]").unwrap_err(),
            JsonPathError::BadBracket { .. }
        ));
        assert!(matches!(
            JsonPath::parse("a[*").unwrap_err(),
            JsonPathError::BadBracket { .. }
        ));
        assert!(matches!(
            JsonPath::parse("a[\"b\"").unwrap_err(),
            JsonPathError::BadBracket { .. }
        ));
        assert!(matches!(
            JsonPath::parse("a*b").unwrap_err(),
            JsonPathError::BadKey { found: '*', .. }
        ));
        let deep = vec!["a"; limits::JSON_PATH_DEPTH_MAX + 1].join(".");
        assert_eq!(JsonPath::parse(&deep).unwrap_err(), JsonPathError::TooDeep);
        let long = "a".repeat(limits::JSON_PATH_BYTES_MAX + 1);
        assert_eq!(JsonPath::parse(&long).unwrap_err(), JsonPathError::TooLong);
    }

    #[test]
    fn redacts_every_reached_value_once() {
        let path = JsonPath::parse("spec.containers[*].env[*].value").unwrap();
        let mut body = json!({"spec": {"containers": [
            {"env": [{"name": "A", "value": "1"}, {"name": "B"}]},
            {"env": [{"name": "C", "value": "3"}]},
            {"image": "x"}
        ]}});
        assert!(path.redact(&mut body, "<redacted>"));
        assert_eq!(
            body["spec"]["containers"][0]["env"][0]["value"],
            "<redacted>"
        );
        assert!(
            body["spec"]["containers"][0]["env"][1]
                .get("value")
                .is_none()
        );
        assert_eq!(
            body["spec"]["containers"][1]["env"][0]["value"],
            "<redacted>"
        );
        assert!(
            !path.redact(&mut body, "<redacted>"),
            "second pass changes nothing"
        );
    }

    #[test]
    fn any_walks_objects_and_arrays_and_index_picks_one() {
        let mut body = json!({"data": {"a": "1", "b": "2"}, "list": ["x", "y"]});
        assert!(JsonPath::parse("data.*").unwrap().redact(&mut body, "R"));
        assert!(JsonPath::parse("list[1]").unwrap().redact(&mut body, "R"));
        assert_eq!(
            body,
            json!({"data": {"a": "R", "b": "R"}, "list": ["x", "R"]})
        );
        assert!(!JsonPath::parse("list[5]").unwrap().redact(&mut body, "R"));
        assert!(
            !JsonPath::parse("missing.key")
                .unwrap()
                .redact(&mut body, "R")
        );
    }

    #[test]
    fn needle_only_for_plain_first_keys() {
        assert_eq!(
            JsonPath::parse("spec.x")
                .unwrap()
                .first_key_needle()
                .as_deref(),
            Some("\"spec\"")
        );
        assert_eq!(JsonPath::parse("[*].x").unwrap().first_key_needle(), None);
        assert_eq!(
            JsonPath::parse("[\"a&b\"].x").unwrap().first_key_needle(),
            None
        );
    }
}
