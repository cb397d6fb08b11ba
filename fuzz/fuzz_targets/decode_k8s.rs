//! Kubernetes JSON decoding never panics, and whatever it decodes encodes to valid JSON that
//! decodes again to the same event.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let origin = event::Origin::default();
    let mut events = Vec::new();
    let mut diagnostics = Vec::new();
    formats::k8s::decode(data, &origin, &mut events, &mut diagnostics);
    for event in &events {
        let mut encoded = Vec::new();
        formats::k8s::encode(event, &mut encoded);
        let mut again = Vec::new();
        let mut again_diagnostics = Vec::new();
        formats::k8s::decode(&encoded, &origin, &mut again, &mut again_diagnostics);
        assert_eq!(again.len(), 1, "re-decoding {encoded:?}: {again_diagnostics:?}");
        let mut reencoded = Vec::new();
        formats::k8s::encode(&again[0], &mut reencoded);
        assert_eq!(encoded, reencoded);
    }
});
