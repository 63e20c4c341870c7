//! Every identify mode on arbitrary bytes: no panic, positions inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracegate_identifiers::{Mode, Rules, decode};

fuzz_target!(|data: &[u8]| {
    for mode in [
        Mode::Auto,
        Mode::Gs1,
        Mode::DigitalLink,
        Mode::Epc,
        Mode::CnDrug,
        Mode::CnLivestock,
        Mode::Iso11784,
        Mode::CnMa,
        Mode::CnHandle,
        Mode::CnOid,
        Mode::Plain,
    ] {
        for requisites in [true, false] {
            let d = decode(data, mode, Rules { requisites, ..Rules::default() });
            if let Err(e) = &d.result {
                assert!(e.position.is_none_or(|p| p <= data.len()), "{e:?}");
            }
        }
    }
});
