//! Output patterns as commands and config files give them (`blink 250ms`, `pulses 3x100ms`):
//! any text is refused or parsed, and a parsed pattern prints back to itself; stepping through
//! it never stalls.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use tracegate_drivers::output::pattern::Pattern;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(pattern) = text.parse::<Pattern>() else { return };
    assert_eq!(pattern.to_string().parse::<Pattern>(), Ok(pattern));
    let mut at = Duration::ZERO;
    for _ in 0..8 {
        match pattern.level_at(at) {
            (_, Some(next)) => {
                assert!(next > Duration::ZERO);
                at += next;
            }
            (_, None) => break,
        }
    }
});
