//! GS1 element strings, unbracketed and bracketed; a successful parse round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracegate_identifiers::gs1;

fuzz_target!(|data: &[u8]| {
    if let Ok(ais) = gs1::parse_element_string(data, 0) {
        let again = gs1::parse_element_string(&gs1::to_element_string(&ais), 0).expect("round trip");
        assert_eq!(again.len(), ais.len());
        let _ = gs1::validate::check(&ais, gs1::Rules::default());
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(ais) = gs1::parse_bracketed(text, 0) {
            let again = gs1::parse_bracketed(&gs1::to_bracketed(&ais), 0).expect("round trip");
            assert_eq!(again.len(), ais.len());
        }
    }
});
