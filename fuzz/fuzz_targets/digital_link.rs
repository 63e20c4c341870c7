//! GS1 Digital Link URIs; a parsed link regenerates to a link that parses again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracegate_identifiers::digital_link;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for uri in [text.to_string(), format!("https://id.gs1.org/{text}")] {
        if let Ok(dl) = digital_link::parse(&uri, 0) {
            let canonical = digital_link::to_uri(&dl.ais, None).expect("has a key");
            digital_link::parse(&canonical, 0).expect("canonical form parses");
        }
    }
});
