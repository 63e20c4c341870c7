use super::*;

/// Translates a recorded event sequence into the scans it typed.
fn scans(layout: Layout, events: &[(u16, i32)]) -> Vec<Vec<u8>> {
    let mut t = KeyTranslator::new(layout, KeyTerminator::Enter);
    let mut out = vec![Vec::new()];
    for &(code, value) in events {
        match t.feed(code, value) {
            Some(Typed::Bytes(b)) => out.last_mut().unwrap().extend(b),
            Some(Typed::End) => out.push(Vec::new()),
            None => {}
        }
    }
    out.pop();
    out
}

fn tap(code: u16) -> [(u16, i32); 2] {
    [(code, 1), (code, 0)]
}

fn with(modifier: u16, code: u16) -> [(u16, i32); 4] {
    [(modifier, 1), (code, 1), (code, 0), (modifier, 0)]
}

const Q: u16 = 16;
const Y: u16 = 21;
const A: u16 = 30;
const Z: u16 = 44;
const M: u16 = 50;
const SLASH: u16 = 53;

#[test]
fn recorded_us_sequences() {
    // "]C1" + "01" + GS (Ctrl+]) + "A", Enter — as a Honeywell scanner in US mode types it.
    let mut ev = Vec::new();
    ev.extend(tap(KEY_RIGHTBRACE));
    ev.extend(with(KEY_LEFTSHIFT, 46)); // C
    ev.extend(tap(KEY_1));
    ev.extend(tap(KEY_0));
    ev.extend(tap(KEY_1));
    ev.extend(with(KEY_LEFTCTRL, KEY_RIGHTBRACE));
    ev.extend(with(KEY_RIGHTSHIFT, A));
    ev.extend(tap(KEY_ENTER));
    assert_eq!(scans(Layout::Us, &ev), vec![b"]C101\x1dA".to_vec()]);
}

#[test]
fn recorded_german_sequences() {
    // On QWERTZ the US-Y key types z, the US-Z key types y; '-' is at US '/'; '(' is Shift+8.
    let mut ev = Vec::new();
    ev.extend(tap(Y));
    ev.extend(with(KEY_LEFTSHIFT, Z));
    ev.extend(tap(SLASH));
    ev.extend(with(KEY_LEFTSHIFT, 9));
    ev.extend(with(KEY_RIGHTALT, 9)); // AltGr+8 = [
    ev.extend(tap(KEY_ENTER));
    assert_eq!(scans(Layout::De, &ev), vec![b"zY-([".to_vec()]);
    // Dead ^ then space types ^; dead ^ then a types â.
    let mut ev = Vec::new();
    ev.extend(tap(41));
    ev.extend(tap(57));
    ev.extend(tap(41));
    ev.extend(tap(A));
    ev.extend(tap(KEY_ENTER));
    assert_eq!(scans(Layout::De, &ev), vec!["^â".as_bytes().to_vec()]);
}

#[test]
fn recorded_french_sequences() {
    // AZERTY: digits need Shift, the US-Q key types a, the US-M key types ','.
    let mut ev = Vec::new();
    ev.extend(with(KEY_LEFTSHIFT, KEY_1));
    ev.extend(with(KEY_LEFTSHIFT, KEY_0));
    ev.extend(tap(Q));
    ev.extend(tap(A));
    ev.extend(tap(M));
    ev.extend(tap(KEY_1)); // & unshifted
    ev.extend(tap(KEY_ENTER));
    assert_eq!(scans(Layout::Fr, &ev), vec![b"10aq,&".to_vec()]);
}

#[test]
fn recorded_uk_sequences() {
    let mut ev = Vec::new();
    ev.extend(with(KEY_LEFTSHIFT, 3)); // "
    ev.extend(with(KEY_LEFTSHIFT, 40)); // @
    ev.extend(tap(43)); // #
    ev.extend(with(KEY_LEFTSHIFT, 4)); // £
    ev.extend(tap(KEY_ENTER));
    assert_eq!(scans(Layout::Uk, &ev), vec!["\"@#£".as_bytes().to_vec()]);
}

#[test]
fn alt_codes_caps_lock_and_keypad() {
    // Alt + 0029 on the keypad is GS, on any layout.
    let mut ev = vec![(KEY_LEFTALT, 1)];
    for d in [KEY_KP0, KEY_KP0, KEY_KP2, KEY_KP9] {
        ev.extend(tap(d));
    }
    ev.push((KEY_LEFTALT, 0));
    ev.extend(tap(58)); // Caps Lock on
    ev.extend(tap(A));
    ev.extend(tap(58)); // off
    ev.extend(tap(A));
    ev.extend(tap(KEY_KP9));
    ev.push((A, 2)); // autorepeat is ignored
    ev.extend(tap(KEY_KPENTER));
    for layout in [Layout::Us, Layout::De] {
        assert_eq!(scans(layout, &ev), vec![b"\x1dAa9".to_vec()], "{layout:?}");
    }
    // Alt + 0233 is é.
    let mut ev = vec![(KEY_LEFTALT, 1)];
    for d in [KEY_KP0, KEY_KP2, 81, 81] {
        ev.extend(tap(d));
    }
    ev.push((KEY_LEFTALT, 0));
    ev.extend(tap(KEY_ENTER));
    assert_eq!(scans(Layout::Us, &ev), vec!["é".as_bytes().to_vec()]);
}

#[test]
fn an_endless_alt_code_types_nothing_and_does_not_overflow() {
    // Found by fuzzing (fuzz/artifacts/key_events): Alt held over a run of keypad digits.
    let mut ev = vec![(KEY_LEFTALT, 1)];
    for _ in 0..40 {
        ev.extend(tap(KEY_KP9));
    }
    ev.push((KEY_LEFTALT, 0));
    ev.extend(tap(A));
    ev.extend(tap(KEY_ENTER));
    assert_eq!(scans(Layout::Us, &ev), vec![b"a".to_vec()]);
}

#[test]
fn tab_terminated_scanners() {
    let mut t = KeyTranslator::new(Layout::Us, KeyTerminator::Tab);
    assert_eq!(t.feed(KEY_1, 1), Some(Typed::Bytes(b"1".to_vec())));
    assert_eq!(t.feed(KEY_TAB, 1), Some(Typed::End));
    assert_eq!(t.feed(KEY_ENTER, 1), Some(Typed::Bytes(b"\r".to_vec())));
}

#[test]
fn what_a_scanner_types_is_read_back_on_every_layout() {
    let codes: [&[u8]; 4] = [
        b"]d20109506000134352\x1d17271231\x1d10ABC-12/x",
        b"]Q1https://id.gs1.org/01/09506000134352?17=271231",
        b"PLAIN text, with: symbols; (1+2)*3=9 <ok> _%_",
        b"",
    ];
    for layout in [Layout::Us, Layout::Uk, Layout::De, Layout::Fr] {
        for code in codes {
            let events = type_events(layout, code)
                .unwrap_or_else(|| panic!("{layout:?} cannot type {}", code.escape_ascii()));
            assert_eq!(scans(layout, &events), vec![code.to_vec()], "{layout:?}");
        }
    }
}

proptest::proptest! {
    #[test]
    fn any_event_stream_is_safe(events in proptest::collection::vec((0u16..260, -1i32..4), 0..200)) {
        for layout in [Layout::Us, Layout::Uk, Layout::De, Layout::Fr] {
            let mut t = KeyTranslator::new(layout, KeyTerminator::Any);
            for &(code, value) in &events {
                let _ = t.feed(code, value);
            }
        }
    }
}
