//! The serial scanner frame codec, with the input cut at fuzzer-chosen points and every frame
//! end setting.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;
use tracegate_drivers::scanner::{FrameCodec, FrameEnd, FrameItem, FrameSettings};

fuzz_target!(|data: &[u8]| {
    let Some((&control, data)) = data.split_first() else { return };
    let end = [FrameEnd::Any, FrameEnd::Cr, FrameEnd::Lf, FrameEnd::Crlf, FrameEnd::None][usize::from(control % 5)];
    let settings = FrameSettings {
        frame_end: end,
        max_frame_len: usize::from(control / 5) + 1,
        prefix: "\u{2}".into(),
        suffix: "\u{3}".into(),
        ..FrameSettings::default()
    };
    let mut codec = FrameCodec::new(&settings);
    let mut buf = BytesMut::new();
    for chunk in data.chunks(usize::from(control % 7) + 1) {
        buf.extend_from_slice(chunk);
        while let Some(item) = codec.decode(&mut buf).expect("never errors") {
            if let FrameItem::Data(d) = item {
                assert!(!d.is_empty() && d.len() <= settings.max_frame_len);
            }
        }
    }
    while codec.decode_eof(&mut buf).expect("never errors").is_some() {}
});
