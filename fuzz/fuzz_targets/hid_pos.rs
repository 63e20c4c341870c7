//! HID POS report reassembly over arbitrary report streams: never panics, never yields more
//! than the maximum.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracegate_drivers::scanner::hidpos::{Assembled, HidPosAssembler};

fuzz_target!(|data: &[u8]| {
    let mut assembler = HidPosAssembler::new(300);
    // The first byte picks the report size, so both 64-byte and odd-sized reports occur.
    let Some((&size, rest)) = data.split_first() else {
        return;
    };
    let size = usize::from(size % 80).max(1);
    for report in rest.chunks(size) {
        if let Assembled::Scan(scan) = assembler.push(report) {
            assert!(scan.data.len() <= 300);
        }
    }
});
