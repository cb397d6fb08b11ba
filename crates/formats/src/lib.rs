//! Audit record formats: bytes in, [`event::AuditEvent`]s plus diagnostics out, and back.
//!
//! One module per wire format. Decoders never panic and never fail the stream: a malformed
//! record becomes a [`Diagnostic`] and decoding goes on. Encoders write into a caller's
//! buffer so that a pipeline can batch output without per-event allocation.
//!
//! Architecture invariant: no I/O, no async, no clock. Everything here is a pure function of
//! its input bytes, which is what makes it fuzzable and snapshot-testable.

pub mod ecs;
