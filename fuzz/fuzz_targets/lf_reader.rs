//! The LF stick-reader codec (every line format and WL-134 frames), with the input cut at
//! fuzzer-chosen points: never a panic, the buffer bounded, and every tag read 15 digits.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;
use tracegate_drivers::rfid::lf::frame::{MAX_LINE, WL134_LEN};
use tracegate_drivers::rfid::lf::{LfCodec, LfItem};

fuzz_target!(|data: &[u8]| {
    let Some((&control, data)) = data.split_first() else { return };
    let mut codec = LfCodec::new();
    let mut buf = BytesMut::new();
    for chunk in data.chunks(usize::from(control % 17) + 1) {
        buf.extend_from_slice(chunk);
        while let Some(item) = codec.decode(&mut buf).expect("never errors") {
            if let LfItem::Tag(code) = item {
                assert!(code.len() == 15 && code.bytes().all(|b| b.is_ascii_digit()), "{code:?}");
            }
        }
        assert!(buf.len() <= MAX_LINE + WL134_LEN);
    }
});
