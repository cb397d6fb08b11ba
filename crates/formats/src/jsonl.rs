//! The normalized event as JSON lines: auditrail's own lossless form.

use event::{AuditEvent, Origin};

use crate::diagnostic::{Diagnostic, excerpt};

/// Appends `event` as one JSON object and a newline.
pub fn encode(event: &AuditEvent, out: &mut Vec<u8>) {
    // Serialising plain data into a Vec cannot fail: every map key is a string.
    if serde_json::to_writer(&mut *out, event).is_ok() {
        out.push(b'\n');
    }
}

/// Decodes one line written by [`encode`]. The origin stored in the line is kept; `origin` only
/// locates diagnostics.
pub fn decode(
    line: &[u8],
    origin: &Origin,
    events: &mut Vec<AuditEvent>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    match serde_json::from_slice::<AuditEvent>(line) {
        Ok(event) => events.push(event),
        Err(error) => diagnostics.push(Diagnostic::error(
            origin.line.unwrap_or(0),
            origin.offset.unwrap_or(0),
            format!("invalid auditrail JSON line ({error}): {}", excerpt(line)),
        )),
    }
}
