//! Any bytes through the decoder of auditrail's own JSON lines (`jsonl`): no panic, every line
//! accounted for, every event encodes (see `lines.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "lines.rs"]
mod lines;

fuzz_target!(|data: &[u8]| lines::decode_lines_of(formats::InputFormat::Jsonl, data));
