//! EPC hex and URIs; a decoded EPC encodes back to what was decoded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracegate_identifiers::Epc;

fuzz_target!(|data: &[u8]| {
    // As hex of the raw bytes (reaches every header and layout), and as text.
    let hex: String = data.iter().map(|b| format!("{b:02X}")).collect();
    if let Ok(epc) = Epc::from_hex(&hex) {
        let again = Epc::from_hex(&epc.to_hex().expect("re-encodes")).expect("decodes");
        assert_eq!(again, epc);
        assert_eq!(Epc::from_uri(&epc.tag_uri()).expect("tag URI parses"), epc);
        let _ = epc.gs1();
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Epc::from_hex(text);
        if let Ok(epc) = Epc::from_uri(text) {
            let _ = epc.to_hex();
        }
    }
});
