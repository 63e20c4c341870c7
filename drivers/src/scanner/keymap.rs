//! Keyboard-emulation ("keyboard wedge") scanners: Linux key events (evdev codes from
//! `linux/input-event-codes.h`) translated back into the characters the scanner typed, for the
//! keyboard layout the scanner is configured for — a pure translator, tested on recorded event
//! sequences.
//!
//! A scanner in keyboard mode "types" each character as the key that produces it on the host's
//! layout: on a German QWERTZ layout a `Z` is the key where a US keyboard has `Y`, and a digit on
//! a French AZERTY layout is Shift plus the top-row key. The layout set on the scanner and here
//! must agree (`layout = "us" | "uk" | "de" | "fr"`).
//!
//! Control characters, GS (0x1D) above all, which GS1 data needs between variable-length
//! fields, arrive in one of the conventions scanners offer:
//! - **Ctrl + key** ("Control + ASCII" mode): Ctrl with a letter is 0x01‥0x1A; Ctrl with the
//!   key that types `[`, `\`, `]`, `^`, `_` is 0x1B‥0x1F. Because `]` sits elsewhere on
//!   non-US layouts, Ctrl with the key in the US `]` position (KEY_RIGHTBRACE) is GS on every
//!   layout, as scanners send it.
//! - **Alt + keypad digits** (the Windows Alt-code convention): Alt held, the decimal code
//!   typed on the keypad, Alt released — `Alt+0029` is GS.
//!
//! Enter (or keypad Enter) ends a scan, or Tab if so configured.

use serde::Deserialize;

/// Keyboard layouts the translator knows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// US English (ANSI).
    #[default]
    Us,
    /// UK English (ISO).
    Uk,
    /// German QWERTZ.
    De,
    /// French AZERTY.
    Fr,
}

/// What ends a scan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyTerminator {
    /// Enter or keypad Enter.
    #[default]
    Enter,
    /// Tab.
    Tab,
    /// Either.
    Any,
}

// Key codes (linux/input-event-codes.h).
const KEY_1: u16 = 2;
const KEY_0: u16 = 11;
const KEY_MINUS: u16 = 12;
const KEY_EQUAL: u16 = 13;
const KEY_TAB: u16 = 15;
const KEY_LEFTBRACE: u16 = 26;
const KEY_RIGHTBRACE: u16 = 27;
const KEY_ENTER: u16 = 28;
const KEY_LEFTCTRL: u16 = 29;
const KEY_SEMICOLON: u16 = 39;
const KEY_APOSTROPHE: u16 = 40;
const KEY_GRAVE: u16 = 41;
const KEY_LEFTSHIFT: u16 = 42;
const KEY_BACKSLASH: u16 = 43;
const KEY_COMMA: u16 = 51;
const KEY_DOT: u16 = 52;
const KEY_SLASH: u16 = 53;
const KEY_RIGHTSHIFT: u16 = 54;
const KEY_KPASTERISK: u16 = 55;
const KEY_LEFTALT: u16 = 56;
const KEY_SPACE: u16 = 57;
const KEY_CAPSLOCK: u16 = 58;
const KEY_KP7: u16 = 71;
const KEY_KP8: u16 = 72;
const KEY_KP9: u16 = 73;
const KEY_KPMINUS: u16 = 74;
const KEY_KP4: u16 = 75;
const KEY_KP5: u16 = 76;
const KEY_KP6: u16 = 77;
const KEY_KPPLUS: u16 = 78;
const KEY_KP1: u16 = 79;
const KEY_KP2: u16 = 80;
const KEY_KP3: u16 = 81;
const KEY_KP0: u16 = 82;
const KEY_KPDOT: u16 = 83;
const KEY_102ND: u16 = 86;
const KEY_KPENTER: u16 = 96;
const KEY_RIGHTCTRL: u16 = 97;
const KEY_KPSLASH: u16 = 98;
const KEY_RIGHTALT: u16 = 100;

/// Letter keys in QWERTY order of their codes: q w e r t y u i o p (16‥25), a s d f g h j k l
/// (30‥38), z x c v b n m (44‥50).
const QWERTY_LETTERS: [(u16, char); 26] = [
    (16, 'q'),
    (17, 'w'),
    (18, 'e'),
    (19, 'r'),
    (20, 't'),
    (21, 'y'),
    (22, 'u'),
    (23, 'i'),
    (24, 'o'),
    (25, 'p'),
    (30, 'a'),
    (31, 's'),
    (32, 'd'),
    (33, 'f'),
    (34, 'g'),
    (35, 'h'),
    (36, 'j'),
    (37, 'k'),
    (38, 'l'),
    (44, 'z'),
    (45, 'x'),
    (46, 'c'),
    (47, 'v'),
    (48, 'b'),
    (49, 'n'),
    (50, 'm'),
];

/// A non-letter key: (code, plain, shifted, AltGr). `'\0'` for nothing.
type Symbol = (u16, char, char, char);

const US: &[Symbol] = &[
    (KEY_GRAVE, '`', '~', '\0'),
    (KEY_1, '1', '!', '\0'),
    (3, '2', '@', '\0'),
    (4, '3', '#', '\0'),
    (5, '4', '$', '\0'),
    (6, '5', '%', '\0'),
    (7, '6', '^', '\0'),
    (8, '7', '&', '\0'),
    (9, '8', '*', '\0'),
    (10, '9', '(', '\0'),
    (KEY_0, '0', ')', '\0'),
    (KEY_MINUS, '-', '_', '\0'),
    (KEY_EQUAL, '=', '+', '\0'),
    (KEY_LEFTBRACE, '[', '{', '\0'),
    (KEY_RIGHTBRACE, ']', '}', '\0'),
    (KEY_BACKSLASH, '\\', '|', '\0'),
    (KEY_SEMICOLON, ';', ':', '\0'),
    (KEY_APOSTROPHE, '\'', '"', '\0'),
    (KEY_COMMA, ',', '<', '\0'),
    (KEY_DOT, '.', '>', '\0'),
    (KEY_SLASH, '/', '?', '\0'),
    (KEY_102ND, '\\', '|', '\0'),
    (KEY_SPACE, ' ', ' ', '\0'),
];

const UK: &[Symbol] = &[
    (KEY_GRAVE, '`', '¬', '¦'),
    (KEY_1, '1', '!', '\0'),
    (3, '2', '"', '\0'),
    (4, '3', '£', '\0'),
    (5, '4', '$', '€'),
    (6, '5', '%', '\0'),
    (7, '6', '^', '\0'),
    (8, '7', '&', '\0'),
    (9, '8', '*', '\0'),
    (10, '9', '(', '\0'),
    (KEY_0, '0', ')', '\0'),
    (KEY_MINUS, '-', '_', '\0'),
    (KEY_EQUAL, '=', '+', '\0'),
    (KEY_LEFTBRACE, '[', '{', '\0'),
    (KEY_RIGHTBRACE, ']', '}', '\0'),
    (KEY_BACKSLASH, '#', '~', '\0'),
    (KEY_SEMICOLON, ';', ':', '\0'),
    (KEY_APOSTROPHE, '\'', '@', '\0'),
    (KEY_COMMA, ',', '<', '\0'),
    (KEY_DOT, '.', '>', '\0'),
    (KEY_SLASH, '/', '?', '\0'),
    (KEY_102ND, '\\', '|', '\0'),
    (KEY_SPACE, ' ', ' ', '\0'),
];

/// German (T1), with `^` and `´` as dead keys (see [`DEAD`]).
const DE: &[Symbol] = &[
    (KEY_GRAVE, '^', '°', '\0'),
    (KEY_1, '1', '!', '\0'),
    (3, '2', '"', '²'),
    (4, '3', '§', '³'),
    (5, '4', '$', '\0'),
    (6, '5', '%', '\0'),
    (7, '6', '&', '\0'),
    (8, '7', '/', '{'),
    (9, '8', '(', '['),
    (10, '9', ')', ']'),
    (KEY_0, '0', '=', '}'),
    (KEY_MINUS, 'ß', '?', '\\'),
    (KEY_EQUAL, '´', '`', '\0'),
    (KEY_LEFTBRACE, 'ü', 'Ü', '\0'),
    (KEY_RIGHTBRACE, '+', '*', '~'),
    (KEY_BACKSLASH, '#', '\'', '\0'),
    (KEY_SEMICOLON, 'ö', 'Ö', '\0'),
    (KEY_APOSTROPHE, 'ä', 'Ä', '\0'),
    (KEY_COMMA, ',', ';', '\0'),
    (KEY_DOT, '.', ':', '\0'),
    (KEY_SLASH, '-', '_', '\0'),
    (KEY_102ND, '<', '>', '|'),
    (KEY_SPACE, ' ', ' ', '\0'),
    // AltGr on letters.
    (16, '\0', '\0', '@'),
    (18, '\0', '\0', '€'),
    (50, '\0', '\0', 'µ'),
];

/// French (AZERTY), with `^` and `¨` as dead keys. Digits are shifted.
const FR: &[Symbol] = &[
    (KEY_GRAVE, '²', '\0', '\0'),
    (2, '&', '1', '\0'),
    (3, 'é', '2', '~'),
    (4, '"', '3', '#'),
    (5, '\'', '4', '{'),
    (6, '(', '5', '['),
    (7, '-', '6', '|'),
    (8, 'è', '7', '`'),
    (9, '_', '8', '\\'),
    (10, 'ç', '9', '^'),
    (KEY_0, 'à', '0', '@'),
    (KEY_MINUS, ')', '°', ']'),
    (KEY_EQUAL, '=', '+', '}'),
    (KEY_LEFTBRACE, '^', '¨', '\0'),
    (KEY_RIGHTBRACE, '$', '£', '¤'),
    (KEY_SEMICOLON, 'm', 'M', '\0'),
    (KEY_APOSTROPHE, 'ù', '%', '\0'),
    (KEY_BACKSLASH, '*', 'µ', '\0'),
    (KEY_COMMA, ';', '.', '\0'),
    (KEY_DOT, ':', '/', '\0'),
    (KEY_SLASH, '!', '§', '\0'),
    (KEY_102ND, '<', '>', '\0'),
    (KEY_SPACE, ' ', ' ', '\0'),
    (18, '\0', '\0', '€'),
];

/// Keys that are dead on a layout: they type nothing until the next key; followed by a space
/// they type themselves.
const DEAD: &[(Layout, u16, bool, char)] = &[
    (Layout::De, KEY_GRAVE, false, '^'),
    (Layout::De, KEY_EQUAL, false, '´'),
    (Layout::De, KEY_EQUAL, true, '`'),
    (Layout::Fr, KEY_LEFTBRACE, false, '^'),
    (Layout::Fr, KEY_LEFTBRACE, true, '¨'),
];

impl Layout {
    fn symbols(self) -> &'static [Symbol] {
        match self {
            Layout::Us => US,
            Layout::Uk => UK,
            Layout::De => DE,
            Layout::Fr => FR,
        }
    }

    /// The letter a letter key types on this layout (unshifted).
    fn letter(self, code: u16) -> Option<char> {
        let qwerty = QWERTY_LETTERS.iter().find(|(c, _)| *c == code)?.1;
        Some(match (self, qwerty) {
            (Layout::De, 'y') => 'z',
            (Layout::De, 'z') => 'y',
            (Layout::Fr, 'q') => 'a',
            (Layout::Fr, 'a') => 'q',
            (Layout::Fr, 'w') => 'z',
            (Layout::Fr, 'z') => 'w',
            (Layout::Fr, 'm') => ',',
            (_, c) => c,
        })
    }

    fn symbol(self, code: u16) -> Option<&'static Symbol> {
        self.symbols().iter().find(|s| s.0 == code)
    }

    /// What `code` types with these modifiers.
    fn char_for(self, code: u16, shift: bool, caps: bool, altgr: bool) -> Option<char> {
        if altgr {
            return self.symbol(code).map(|s| s.3).filter(|c| *c != '\0');
        }
        if let Some(letter) = self.letter(code) {
            // FR: the key at US `m` types `,` / `?` (not a letter).
            if letter == ',' {
                return Some(if shift { '?' } else { ',' });
            }
            let upper = shift ^ caps;
            return Some(if upper {
                letter.to_ascii_uppercase()
            } else {
                letter
            });
        }
        let s = self.symbol(code)?;
        // Letters outside the QWERTY letter keys (FR `m`, DE umlauts) follow Caps Lock too.
        let c = if shift ^ (caps && s.1.is_alphabetic()) {
            s.2
        } else {
            s.1
        };
        (c != '\0').then_some(c)
    }

    fn dead(self, code: u16, shift: bool) -> Option<char> {
        DEAD.iter()
            .find(|(l, c, s, _)| *l == self && *c == code && *s == shift)
            .map(|d| d.3)
    }
}

/// Keypad digit of a key code.
fn keypad_digit(code: u16) -> Option<u8> {
    Some(match code {
        KEY_KP0 => 0,
        KEY_KP1 => 1,
        KEY_KP2 => 2,
        KEY_KP3 => 3,
        KEY_KP4 => 4,
        KEY_KP5 => 5,
        KEY_KP6 => 6,
        KEY_KP7 => 7,
        KEY_KP8 => 8,
        KEY_KP9 => 9,
        _ => return None,
    })
}

/// What the translator made of one key event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Typed {
    /// Bytes typed (UTF-8 for non-ASCII characters).
    Bytes(Vec<u8>),
    /// The scan's terminator.
    End,
}

/// Turns key events into typed characters.
#[derive(Debug, Clone)]
pub struct KeyTranslator {
    layout: Layout,
    terminator: KeyTerminator,
    shift: [bool; 2],
    ctrl: [bool; 2],
    alt: bool,
    altgr: bool,
    caps: bool,
    alt_code: Option<u32>,
    dead: Option<char>,
}

impl KeyTranslator {
    /// A translator for `layout`, ending scans at `terminator`.
    pub fn new(layout: Layout, terminator: KeyTerminator) -> Self {
        KeyTranslator {
            layout,
            terminator,
            shift: [false; 2],
            ctrl: [false; 2],
            alt: false,
            altgr: false,
            caps: false,
            alt_code: None,
            dead: None,
        }
    }

    /// Forgets modifier state (the device was reopened).
    pub fn reset(&mut self) {
        *self = KeyTranslator::new(self.layout, self.terminator);
    }

    /// Feeds one `EV_KEY` event: `value` 1 press, 0 release, 2 autorepeat.
    pub fn feed(&mut self, code: u16, value: i32) -> Option<Typed> {
        let pressed = match value {
            1 => true,
            0 => false,
            _ => return None, // autorepeat: scanners do not hold keys
        };
        match code {
            KEY_LEFTSHIFT => self.shift[0] = pressed,
            KEY_RIGHTSHIFT => self.shift[1] = pressed,
            KEY_LEFTCTRL => self.ctrl[0] = pressed,
            KEY_RIGHTCTRL => self.ctrl[1] = pressed,
            KEY_RIGHTALT => self.altgr = pressed,
            KEY_LEFTALT => {
                self.alt = pressed;
                if pressed {
                    self.alt_code = None;
                } else if let Some(n) = self.alt_code.take() {
                    return alt_code_bytes(n).map(Typed::Bytes);
                }
            }
            KEY_CAPSLOCK if pressed => self.caps = !self.caps,
            _ if !pressed => {}
            _ => return self.press(code),
        }
        None
    }

    fn press(&mut self, code: u16) -> Option<Typed> {
        let ends = match self.terminator {
            KeyTerminator::Enter => matches!(code, KEY_ENTER | KEY_KPENTER),
            KeyTerminator::Tab => code == KEY_TAB,
            KeyTerminator::Any => matches!(code, KEY_ENTER | KEY_KPENTER | KEY_TAB),
        };
        if ends {
            self.dead = None;
            return Some(Typed::End);
        }
        let shift = self.shift[0] || self.shift[1];
        if self.alt && !self.altgr {
            if let Some(d) = keypad_digit(code) {
                // Saturating: a key held down with Alt (or line noise) must not overflow;
                // anything past 255 types nothing anyway.
                let n = self.alt_code.unwrap_or(0);
                self.alt_code = Some(n.saturating_mul(10).saturating_add(u32::from(d)));
            }
            return None;
        }
        if self.ctrl[0] || self.ctrl[1] {
            return self.control(code).map(|b| Typed::Bytes(vec![b]));
        }
        match code {
            KEY_ENTER | KEY_KPENTER => return Some(Typed::Bytes(b"\r".to_vec())),
            KEY_TAB => return Some(Typed::Bytes(b"\t".to_vec())),
            _ => {}
        }
        if let Some(kp) = keypad_char(code) {
            return Some(Typed::Bytes(vec![kp]));
        }
        if !self.altgr
            && let Some(accent) = self.layout.dead(code, shift)
        {
            // A dead key twice types it; otherwise wait for the next key.
            if self.dead.take() == Some(accent) {
                return Some(Typed::Bytes(accent.to_string().into_bytes()));
            }
            self.dead = Some(accent);
            return None;
        }
        let c = self.layout.char_for(code, shift, self.caps, self.altgr)?;
        let mut out = String::new();
        if let Some(accent) = self.dead.take() {
            match compose(accent, c) {
                Some(composed) => out.push(composed),
                None if c == ' ' => out.push(accent),
                None => {
                    out.push(accent);
                    out.push(c);
                }
            }
        } else {
            out.push(c);
        }
        Some(Typed::Bytes(out.into_bytes()))
    }

    /// Ctrl + key: the control character of what the key types, and GS for the key in the US
    /// `]` position on every layout.
    fn control(&self, code: u16) -> Option<u8> {
        if code == KEY_RIGHTBRACE {
            return Some(0x1D);
        }
        let c = self.layout.char_for(code, false, false, false)?;
        match c.to_ascii_uppercase() {
            c @ ('@'..='_') => Some(c as u8 & 0x1F),
            _ => None,
        }
    }
}

/// A keypad key that types a character by itself (NumLock on).
fn keypad_char(code: u16) -> Option<u8> {
    if let Some(d) = keypad_digit(code) {
        return Some(b'0' + d);
    }
    Some(match code {
        KEY_KPDOT => b'.',
        KEY_KPPLUS => b'+',
        KEY_KPMINUS => b'-',
        KEY_KPASTERISK => b'*',
        KEY_KPSLASH => b'/',
        _ => return None,
    })
}

/// An Alt code as bytes: 1‥127 are ASCII; 128‥255 are read as Latin-1 (as Windows' `Alt+0nnn`
/// with code page 1252 for the printable ones), written as UTF-8.
fn alt_code_bytes(n: u32) -> Option<Vec<u8>> {
    match n {
        1..=127 => Some(vec![n as u8]),
        128..=255 => char::from_u32(n).map(|c| c.to_string().into_bytes()),
        _ => None,
    }
}

/// A dead-key accent combined with a letter, where Latin-1 has the result.
fn compose(accent: char, c: char) -> Option<char> {
    let table: &[(char, &str, &str)] = &[
        ('^', "aeiouAEIOU", "âêîôûÂÊÎÔÛ"),
        ('¨', "aeiouyAEIOU", "äëïöüÿÄËÏÖÜ"),
        ('´', "aeiouyAEIOUY", "áéíóúýÁÉÍÓÚÝ"),
        ('`', "aeiouAEIOU", "àèìòùÀÈÌÒÙ"),
    ];
    let (_, from, to) = table.iter().find(|(a, _, _)| *a == accent)?;
    let i = from.chars().position(|x| x == c)?;
    to.chars().nth(i)
}

/// Key events a scanner sends to type `text` on `layout`, terminated by Enter, with GS (and
/// other control characters) as Ctrl + key — what a simulated keyboard-wedge scanner sends.
/// `None` when the layout cannot type a character.
pub fn type_events(layout: Layout, text: &[u8]) -> Option<Vec<(u16, i32)>> {
    let mut events = Vec::new();
    let tap = |events: &mut Vec<(u16, i32)>, mods: &[u16], code: u16| {
        for m in mods {
            events.push((*m, 1));
        }
        events.push((code, 1));
        events.push((code, 0));
        for m in mods.iter().rev() {
            events.push((*m, 0));
        }
    };
    let s = std::str::from_utf8(text).ok()?;
    for c in s.chars() {
        if c == '\u{1d}' {
            tap(&mut events, &[KEY_LEFTCTRL], KEY_RIGHTBRACE);
            continue;
        }
        let mut found = None;
        'search: for code in 1..=KEY_RIGHTALT {
            for (mods, shift, altgr) in [
                (&[][..], false, false),
                (&[KEY_LEFTSHIFT][..], true, false),
                (&[KEY_RIGHTALT][..], false, true),
            ] {
                if keypad_char(code).is_some() || code == KEY_ENTER || code == KEY_TAB {
                    continue;
                }
                if layout.dead(code, shift).is_some() && !altgr {
                    continue;
                }
                if layout.char_for(code, shift, false, altgr) == Some(c) {
                    found = Some((mods, code));
                    break 'search;
                }
            }
        }
        let (mods, code) = found?;
        tap(&mut events, mods, code);
    }
    tap(&mut events, &[], KEY_ENTER);
    Some(events)
}

#[cfg(test)]
mod tests;
