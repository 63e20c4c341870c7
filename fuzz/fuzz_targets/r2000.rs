//! The R2000 frame codec and reply parser, with the input cut at fuzzer-chosen points: never
//! a panic, the buffer always bounded, and every frame that decodes encodes back to the same
//! bytes.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;
use tracegate_drivers::rfid::r2000::{R2000Codec, R2000Item, Reply, Request};

fuzz_target!(|data: &[u8]| {
    let Some((&control, data)) = data.split_first() else { return };
    let mut buf = BytesMut::new();
    for chunk in data.chunks(usize::from(control % 13) + 1) {
        buf.extend_from_slice(chunk);
        while let Some(item) = R2000Codec.decode(&mut buf).expect("never errors") {
            if let R2000Item::Frame(frame) = item {
                let bytes = frame.to_bytes();
                let mut again = BytesMut::from(&bytes[..]);
                assert_eq!(
                    R2000Codec.decode(&mut again).expect("never errors"),
                    Some(R2000Item::Frame(frame.clone()))
                );
                let _ = Reply::parse(&frame);
                let _ = Request::parse(&frame);
            }
        }
        assert!(buf.len() <= 257);
    }
});
