//! What a USB stick can hold: a manifest and an events file read from any bytes, and the
//! chain walked over whatever events they give, never a panic (a hostile stick cannot crash
//! `tracegate verify` or `import`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracegate::outbox::integrity::export;
use tracegate::outbox::integrity::verify::{Signer, Walker};

fuzz_target!(|data: &[u8]| {
    // The first half as a manifest, the second as an events file.
    let (manifest, events) = data.split_at(data.len() / 2);
    let signer = export::parse_manifest(manifest).ok().map(|m| Signer {
        gateway: m.gateway,
        algorithm: m.algorithm,
        public_key: m.public_key,
    });
    let mut walker = Walker::new(signer);
    walker.resume(0, [0; 32]);
    if let Ok(events) = export::document_events(events) {
        for (i, raw) in events.iter().enumerate() {
            walker.event("fuzz", i as i64 + 1, raw.as_bytes(), None);
        }
    }
    walker.end("fuzz", 0, [0; 32]);
});
