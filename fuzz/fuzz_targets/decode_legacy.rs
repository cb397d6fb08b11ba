//! Any bytes through the Kubernetes log backend's legacy one-line decoder: no panic, every
//! line accounted for, every event encodes (see `lines.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "lines.rs"]
mod lines;

fuzz_target!(|data: &[u8]| lines::decode_lines_of(formats::InputFormat::K8sLegacy, data));
