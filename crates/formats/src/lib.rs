//! Audit record formats: bytes in, [`event::AuditEvent`]s plus [`Diagnostic`]s out, and back.
//!
//! One module per wire format. Decoders never panic and never fail the stream: a malformed
//! record becomes a [`Diagnostic`] and decoding goes on with the next one. Encoders append to
//! a caller's buffer so that a pipeline can batch its output without allocating per event.
//!
//! - [`frame`] splits input bytes into records (lines, or whole JSON documents) and guesses the
//!   framing from the first bytes of an input.
//! - [`k8s`] reads `audit.k8s.io` v1, v1beta1 and v1alpha1 JSON (single events, `EventList`s,
//!   arrays) and writes v1 JSON lines; v1 events round-trip exactly, unknown fields included.
//! - [`legacy`] reads the API server log backend's one-line `legacy` format.
//! - [`jsonl`] reads and writes the normalized event itself.
//! - [`ecs`] writes Elastic Common Schema documents.
//! - [`decoder`] picks a format per input or per line and keeps per-input state.
//!
//! Architecture invariant: no I/O, no async, no clock. Everything here is a pure function of
//! its input bytes, which is what makes it fuzzable and snapshot-testable.

pub mod auditd;
pub mod dcos;
pub mod decoder;
mod diagnostic;
pub mod ecs;
pub mod frame;
pub mod goquote;
mod json_text;
pub mod jsonl;
pub mod k8s;
pub mod legacy;
pub mod limits;
pub mod mke;
pub mod okd;
pub mod request_info;

pub use decoder::{Decoder, InputFormat};
pub use diagnostic::{Diagnostic, Severity};
