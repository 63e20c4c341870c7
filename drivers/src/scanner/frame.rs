//! Framing of serial scanner output: a pure `tokio_util` codec, tested on byte slices.
//!
//! A serial-mode scanner sends one frame per decoded symbol: optional configured prefix, the
//! data (with its AIM symbology identifier if enabled, GS separators for GS1 data), optional
//! configured suffix, and a terminator (CR, LF or CRLF, or nothing at all on some models, in
//! which case a pause between bytes ends the frame). The codec finds frame boundaries, strips
//! prefix and suffix, and passes every other byte on unchanged: it never interprets a payload.
//!
//! Bad input never ends the stream: a frame longer than `max_frame_len` is discarded up to its
//! terminator and reported once as [`FrameItem::Overlong`], then framing resumes.

use bytes::{Buf, Bytes, BytesMut};
use serde::Deserialize;
use tokio_util::codec::Decoder;

/// How a frame ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FrameEnd {
    /// CR, LF or CRLF all end a frame (empty frames are ignored), so a scanner configured for
    /// any of the three works without matching this setting exactly.
    #[default]
    Any,
    /// Carriage return (0x0D) only; LF is data.
    Cr,
    /// Line feed (0x0A) only; CR is data.
    Lf,
    /// The pair CR LF only; a lone CR or LF is data.
    Crlf,
    /// No terminator: a pause longer than `idle_ms` between bytes ends the frame.
    None,
}

/// Frame settings of a serial scanner. Field names are config keys.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrameSettings {
    /// How a frame ends: `any` (default), `cr`, `lf`, `crlf` or `none`.
    #[serde(default)]
    pub frame_end: FrameEnd,
    /// With `frame_end = "none"`: the pause in milliseconds that ends a frame.
    #[serde(default = "default_idle_ms")]
    pub idle_ms: u64,
    /// Bytes the scanner is configured to send before each code, stripped when present
    /// (TOML escapes such as `"\u0002"` for STX work).
    #[serde(default)]
    pub prefix: String,
    /// Bytes the scanner is configured to send after each code, before the terminator; stripped
    /// when present.
    #[serde(default)]
    pub suffix: String,
    /// Longest frame accepted, in bytes; longer ones are discarded and reported.
    #[serde(default = "default_max_frame_len")]
    pub max_frame_len: usize,
}

fn default_idle_ms() -> u64 {
    50
}
fn default_max_frame_len() -> usize {
    4096
}

impl Default for FrameSettings {
    fn default() -> Self {
        FrameSettings {
            frame_end: FrameEnd::Any,
            idle_ms: default_idle_ms(),
            prefix: String::new(),
            suffix: String::new(),
            max_frame_len: default_max_frame_len(),
        }
    }
}

/// What the codec yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameItem {
    /// A complete frame's payload, prefix/suffix stripped, every other byte as sent.
    Data(Bytes),
    /// A frame grew past the maximum length; `len` bytes were discarded (more may follow until
    /// its terminator, silently).
    Overlong {
        /// Bytes discarded when the limit was hit.
        len: usize,
    },
    /// The stream ended in the middle of a frame (device unplugged); `len` bytes were dropped.
    Incomplete {
        /// Bytes dropped.
        len: usize,
    },
}

/// The serial scanner frame decoder.
#[derive(Debug, Clone)]
pub struct FrameCodec {
    end: FrameEnd,
    prefix: Bytes,
    suffix: Bytes,
    max_len: usize,
    /// Bytes before this offset are known to hold no terminator (saves rescanning on each read).
    scanned: usize,
    /// Inside an over-long frame: drop bytes until the next terminator.
    discarding: bool,
}

impl FrameCodec {
    /// A codec for these settings.
    pub fn new(settings: &FrameSettings) -> Self {
        FrameCodec {
            end: settings.frame_end,
            prefix: Bytes::copy_from_slice(settings.prefix.as_bytes()),
            suffix: Bytes::copy_from_slice(settings.suffix.as_bytes()),
            max_len: settings.max_frame_len.max(1),
            scanned: 0,
            discarding: false,
        }
    }

    /// Finds the first terminator at or after `from`: (start of terminator, its length).
    fn find_terminator(&self, buf: &[u8], from: usize) -> Option<(usize, usize)> {
        let hay = &buf[from..];
        let found = match self.end {
            FrameEnd::Any => hay
                .iter()
                .position(|b| *b == b'\r' || *b == b'\n')
                .map(|i| (i, 1)),
            FrameEnd::Cr => hay.iter().position(|b| *b == b'\r').map(|i| (i, 1)),
            FrameEnd::Lf => hay.iter().position(|b| *b == b'\n').map(|i| (i, 1)),
            FrameEnd::Crlf => hay.windows(2).position(|w| w == b"\r\n").map(|i| (i, 2)),
            FrameEnd::None => None,
        };
        found.map(|(i, len)| (from + i, len))
    }

    /// Strips the configured prefix and suffix when present.
    fn strip(&self, mut frame: Bytes) -> Bytes {
        if !self.prefix.is_empty() && frame.starts_with(&self.prefix) {
            frame.advance(self.prefix.len());
        }
        if !self.suffix.is_empty() && frame.ends_with(&self.suffix) {
            frame.truncate(frame.len() - self.suffix.len());
        }
        frame
    }

    /// With `FrameEnd::None`: the I/O loop calls this when the line has been idle for the
    /// configured pause; whatever is buffered is one frame.
    pub fn take_idle_frame(&mut self, buf: &mut BytesMut) -> Option<FrameItem> {
        self.scanned = 0;
        if buf.is_empty() {
            self.discarding = false;
            return None;
        }
        let frame = buf.split().freeze();
        if std::mem::take(&mut self.discarding) {
            return None;
        }
        if frame.len() > self.max_len {
            return Some(FrameItem::Overlong { len: frame.len() });
        }
        let frame = self.strip(frame);
        (!frame.is_empty()).then_some(FrameItem::Data(frame))
    }
}

impl Decoder for FrameCodec {
    type Item = FrameItem;
    type Error = std::io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<FrameItem>, std::io::Error> {
        loop {
            match self.find_terminator(buf, self.scanned) {
                Some((at, term_len)) => {
                    let frame = buf.split_to(at).freeze();
                    buf.advance(term_len);
                    self.scanned = 0;
                    if std::mem::take(&mut self.discarding) {
                        continue; // the tail of an over-long frame, already reported
                    }
                    if frame.len() > self.max_len {
                        // Arrived whole in one read, so the buffer check below never saw it.
                        return Ok(Some(FrameItem::Overlong { len: frame.len() }));
                    }
                    let frame = self.strip(frame);
                    if frame.is_empty() {
                        continue; // the LF after a CR with `Any`, or a blank line
                    }
                    return Ok(Some(FrameItem::Data(frame)));
                }
                None => {
                    if self.discarding {
                        buf.clear();
                        self.scanned = 0;
                        return Ok(None);
                    }
                    // A CR at the end may be the first half of a CRLF, not frame data.
                    let partial_terminator = usize::from(self.end == FrameEnd::Crlf);
                    if buf.len() > self.max_len + partial_terminator {
                        let len = buf.len();
                        buf.clear();
                        self.scanned = 0;
                        self.discarding = true;
                        return Ok(Some(FrameItem::Overlong { len }));
                    }
                    // A CR at the very end may be the first half of a CRLF: rescan it.
                    self.scanned = if self.end == FrameEnd::Crlf {
                        buf.len().saturating_sub(1)
                    } else {
                        buf.len()
                    };
                    return Ok(None);
                }
            }
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<FrameItem>, std::io::Error> {
        if let Some(item) = self.decode(buf)? {
            return Ok(Some(item));
        }
        if self.end == FrameEnd::None {
            return Ok(self.take_idle_frame(buf));
        }
        self.scanned = 0;
        let discarding = std::mem::take(&mut self.discarding);
        if buf.is_empty() || discarding {
            buf.clear();
            return Ok(None);
        }
        // A frame cut off by the end of the stream is not passed on: a truncated code could
        // decode as a different valid code. The operator gets no confirmation and rescans.
        let len = buf.len();
        buf.clear();
        Ok(Some(FrameItem::Incomplete { len }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn codec(end: FrameEnd) -> FrameCodec {
        FrameCodec::new(&FrameSettings {
            frame_end: end,
            max_frame_len: 16,
            ..FrameSettings::default()
        })
    }

    /// Feeds `chunks` one by one (as separate reads) and collects every item, then EOF.
    fn run(codec: &mut FrameCodec, chunks: &[&[u8]]) -> Vec<FrameItem> {
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for chunk in chunks {
            buf.extend_from_slice(chunk);
            while let Some(item) = codec.decode(&mut buf).unwrap() {
                out.push(item);
            }
        }
        while let Some(item) = codec.decode_eof(&mut buf).unwrap() {
            out.push(item);
        }
        out
    }

    fn data(s: &[u8]) -> FrameItem {
        FrameItem::Data(Bytes::copy_from_slice(s))
    }

    #[test]
    fn any_accepts_cr_lf_and_crlf_without_empty_frames() {
        let mut c = codec(FrameEnd::Any);
        let items = run(&mut c, &[b"A1\rB2\nC3\r\nD4\r", b"\nE5\n"]);
        assert_eq!(
            items,
            vec![
                data(b"A1"),
                data(b"B2"),
                data(b"C3"),
                data(b"D4"),
                data(b"E5")
            ]
        );
    }

    #[test]
    fn crlf_split_across_reads_and_lone_cr_is_data() {
        let mut c = codec(FrameEnd::Crlf);
        let items = run(&mut c, &[b"AB\rC", b"D\r", b"\nEF\r\n"]);
        assert_eq!(items, vec![data(b"AB\rCD"), data(b"EF")]);
    }

    #[test]
    fn cr_only_and_lf_only() {
        assert_eq!(
            run(&mut codec(FrameEnd::Cr), &[b"A\nB\rC\r"]),
            vec![data(b"A\nB"), data(b"C")]
        );
        assert_eq!(
            run(&mut codec(FrameEnd::Lf), &[b"A\rB\nC\n"]),
            vec![data(b"A\rB"), data(b"C")]
        );
    }

    #[test]
    fn gs_and_aim_prefix_and_invalid_utf8_pass_through() {
        let mut c = codec(FrameEnd::Any);
        let items = run(&mut c, &[b"]d2\x1d01\xff\xfe\r\n"]);
        assert_eq!(items, vec![data(b"]d2\x1d01\xff\xfe")]);
    }

    #[test]
    fn overlong_frame_reported_once_then_recovered() {
        let mut c = codec(FrameEnd::Crlf);
        let items = run(
            &mut c,
            &[b"0123456789", b"0123456789", b"0123456789\r\n", b"OK\r\n"],
        );
        assert_eq!(items, vec![FrameItem::Overlong { len: 20 }, data(b"OK")]);
    }

    #[test]
    fn prefix_and_suffix_are_stripped_only_when_present() {
        let mut c = FrameCodec::new(&FrameSettings {
            prefix: "\u{2}".into(),
            suffix: "\u{3}".into(),
            ..FrameSettings::default()
        });
        let items = run(&mut c, &[b"\x02ABC\x03\r\nDEF\r\n"]);
        assert_eq!(items, vec![data(b"ABC"), data(b"DEF")]);
    }

    #[test]
    fn incomplete_frame_at_eof_is_reported_not_passed_on() {
        let mut c = codec(FrameEnd::Any);
        assert_eq!(
            run(&mut c, &[b"A\rPART"]),
            vec![data(b"A"), FrameItem::Incomplete { len: 4 }]
        );
    }

    #[test]
    fn no_terminator_mode_frames_on_idle_and_eof() {
        let mut c = codec(FrameEnd::None);
        let mut buf = BytesMut::from(&b"ABC"[..]);
        assert_eq!(c.decode(&mut buf).unwrap(), None);
        assert_eq!(c.take_idle_frame(&mut buf), Some(data(b"ABC")));
        buf.extend_from_slice(b"DEF");
        assert_eq!(c.decode_eof(&mut buf).unwrap(), Some(data(b"DEF")));
    }

    proptest! {
        /// Any byte stream, cut anywhere: no panic, no frame longer than the limit, and every
        /// byte is accounted for by a frame, a terminator or a discard report.
        #[test]
        fn arbitrary_input_never_panics(input in proptest::collection::vec(any::<u8>(), 0..200),
                                        cuts in proptest::collection::vec(0usize..200, 0..8),
                                        end in prop_oneof![Just(FrameEnd::Any), Just(FrameEnd::Cr),
                                                           Just(FrameEnd::Lf), Just(FrameEnd::Crlf),
                                                           Just(FrameEnd::None)]) {
            let mut c = codec(end);
            let mut points: Vec<usize> = cuts.into_iter().map(|p| p.min(input.len())).collect();
            points.sort_unstable();
            let mut chunks = Vec::new();
            let mut last = 0;
            for p in points { chunks.push(&input[last..p]); last = p; }
            chunks.push(&input[last..]);
            for item in run(&mut c, &chunks) {
                if let FrameItem::Data(d) = item {
                    prop_assert!(!d.is_empty());
                    prop_assert!(d.len() <= 16);
                }
            }
        }

        /// Frames without terminator bytes, each followed by CRLF, come back exactly.
        #[test]
        fn frames_round_trip(frames in proptest::collection::vec(
                "[ -~\u{1d}]{1,16}", 1..10), split in 1usize..7) {
            let mut wire = Vec::new();
            for f in &frames { wire.extend_from_slice(f.as_bytes()); wire.extend_from_slice(b"\r\n"); }
            let chunks: Vec<&[u8]> = wire.chunks(split).collect();
            let got = run(&mut codec(FrameEnd::Crlf), &chunks);
            let want: Vec<FrameItem> = frames.iter().map(|f| data(f.as_bytes())).collect();
            prop_assert_eq!(got, want);
        }
    }
}
