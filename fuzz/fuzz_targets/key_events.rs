//! Keyboard-wedge key translation over arbitrary event streams, every layout: never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracegate_drivers::scanner::keymap::{KeyTerminator, KeyTranslator, Layout, Typed};

fuzz_target!(|data: &[u8]| {
    for layout in [Layout::Us, Layout::Uk, Layout::De, Layout::Fr] {
        let mut t = KeyTranslator::new(layout, KeyTerminator::Any);
        let mut frame = Vec::new();
        for pair in data.chunks(3) {
            let [a, b, c] = pair else { break };
            let code = u16::from_le_bytes([*a, *b]) % 300;
            let value = i32::from(*c % 4) - 1;
            match t.feed(code, value) {
                Some(Typed::Bytes(bytes)) => frame.extend(bytes),
                Some(Typed::End) => frame.clear(),
                None => {}
            }
        }
    }
});
