//! A minimal JSON text writer for generated bodies.
//!
//! Bodies are written straight into a `String` rather than built as `serde_json::Value`
//! trees: generating ten million events for a benchmark should cost seconds, not minutes.
//! Every string goes through [`push_string`], so the output is always valid JSON.

/// Writes one JSON object built by `fill` into a new string.
pub(crate) fn object(capacity: usize, fill: impl FnOnce(&mut Obj<'_>)) -> String {
    let mut out = String::with_capacity(capacity);
    write_object(&mut out, fill);
    out
}

/// Writes one JSON array built by `fill` into a new string.
pub(crate) fn array(capacity: usize, fill: impl FnOnce(&mut Arr<'_>)) -> String {
    let mut out = String::with_capacity(capacity);
    write_array(&mut out, fill);
    out
}

/// The members of a JSON object being written.
pub(crate) struct Obj<'a> {
    out: &'a mut String,
    empty: bool,
}

/// The elements of a JSON array being written.
pub(crate) struct Arr<'a> {
    out: &'a mut String,
    empty: bool,
}

impl Obj<'_> {
    fn key(&mut self, key: &str) {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        push_string(self.out, key);
        self.out.push(':');
    }

    pub(crate) fn str(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(key);
        push_string(self.out, value);
        self
    }

    /// A string member, left out when `value` is empty (Go's `omitempty`).
    pub(crate) fn str_opt(&mut self, key: &str, value: &str) -> &mut Self {
        if !value.is_empty() {
            self.str(key, value);
        }
        self
    }

    pub(crate) fn int(&mut self, key: &str, value: i64) -> &mut Self {
        self.key(key);
        push_int(self.out, value);
        self
    }

    pub(crate) fn bool(&mut self, key: &str, value: bool) -> &mut Self {
        self.key(key);
        self.out.push_str(if value { "true" } else { "false" });
        self
    }

    /// A member whose value is already JSON text.
    pub(crate) fn raw(&mut self, key: &str, json: &str) -> &mut Self {
        self.key(key);
        self.out.push_str(json);
        self
    }

    pub(crate) fn obj(&mut self, key: &str, fill: impl FnOnce(&mut Obj<'_>)) -> &mut Self {
        self.key(key);
        write_object(self.out, fill);
        self
    }

    pub(crate) fn arr(&mut self, key: &str, fill: impl FnOnce(&mut Arr<'_>)) -> &mut Self {
        self.key(key);
        write_array(self.out, fill);
        self
    }
}

impl Arr<'_> {
    fn separate(&mut self) {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
    }

    pub(crate) fn str(&mut self, value: &str) -> &mut Self {
        self.separate();
        push_string(self.out, value);
        self
    }

    pub(crate) fn obj(&mut self, fill: impl FnOnce(&mut Obj<'_>)) -> &mut Self {
        self.separate();
        write_object(self.out, fill);
        self
    }
}

fn write_object(out: &mut String, fill: impl FnOnce(&mut Obj<'_>)) {
    out.push('{');
    fill(&mut Obj {
        out: &mut *out,
        empty: true,
    });
    out.push('}');
}

fn write_array(out: &mut String, fill: impl FnOnce(&mut Arr<'_>)) {
    out.push('[');
    fill(&mut Arr {
        out: &mut *out,
        empty: true,
    });
    out.push(']');
}

fn push_int(out: &mut String, value: i64) {
    use std::fmt::Write;
    // Writing to a String cannot fail.
    let _ = write!(out, "{value}");
}

/// Appends `text` as a quoted JSON string.
pub(crate) fn push_string(out: &mut String, text: &str) {
    out.reserve(text.len() + 2);
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            control if u32::from(control) < 0x20 => {
                use std::fmt::Write;
                let _ = write!(out, "\\u{:04x}", u32::from(control));
            }
            other => out.push(other),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_valid_escaped_json() {
        let text = object(64, |o| {
            o.str("a", "say \"hi\"\n\u{1}").int("b", -3).bool("c", true);
            o.arr("d", |a| {
                a.str("x").obj(|o| {
                    o.raw("n", "null");
                });
            });
            o.str_opt("skipped", "");
        });
        assert_eq!(
            text,
            r#"{"a":"say \"hi\"\n\u0001","b":-3,"c":true,"d":["x",{"n":null}]}"#
        );
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["a"], "say \"hi\"\n\u{1}");
    }
}
