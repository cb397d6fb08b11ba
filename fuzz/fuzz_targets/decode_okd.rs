//! Any bytes through the OpenShift/OKD (two-line pairing with its bounded wait and orphans, one-line, JSON) decoder:
//! no panic, every line accounted for, every event encodes (see `lines.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "lines.rs"]
mod lines;

fuzz_target!(|data: &[u8]| lines::decode_lines_of(formats::InputFormat::Okd, data));
