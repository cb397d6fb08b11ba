//! Any bytes through the Linux audit grouper, line by line: no panic, every event carries a
//! valid JSON request object, and nothing stays pending after `finish`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut grouper = formats::auditd::Grouper::new("fuzz").with_eoe_timeout(1);
    let mut events = Vec::new();
    let mut diagnostics = Vec::new();
    let mut offset = 0u64;
    for (index, line) in data.split(|&byte| byte == b'\n').enumerate() {
        let _ = formats::auditd::detect(line);
        grouper.push_line(line, index as u64 + 1, offset, &mut events, &mut diagnostics);
        offset += line.len() as u64 + 1;
    }
    grouper.finish(&mut events, &mut diagnostics);
    assert_eq!(grouper.pending(), 0);
    for event in &events {
        if let Some(body) = &event.request_object {
            assert!(event::RawJson::from_string(body.get().to_owned()).is_ok());
        }
        let mut out = Vec::new();
        formats::jsonl::encode(event, &mut out);
    }
});
