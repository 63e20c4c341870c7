//! The Chafon frame codecs (both sides) and the reply and request parsers, with the input cut
//! at fuzzer-chosen points: never a panic, the buffer always bounded, and every frame that
//! decodes encodes back to the same bytes.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;
use tracegate_drivers::rfid::chafon::{ChafonItem, HostCodec, ReaderCodec, Reply, Request};

fuzz_target!(|data: &[u8]| {
    let Some((&control, data)) = data.split_first() else { return };
    let (mut host, mut reader) = (BytesMut::new(), BytesMut::new());
    for chunk in data.chunks(usize::from(control % 13) + 1) {
        host.extend_from_slice(chunk);
        reader.extend_from_slice(chunk);
        while let Some(item) = HostCodec.decode(&mut host).expect("never errors") {
            if let ChafonItem::Frame(response) = item {
                let mut again = BytesMut::from(&response.to_bytes()[..]);
                assert_eq!(
                    HostCodec.decode(&mut again).expect("never errors"),
                    Some(ChafonItem::Frame(response.clone()))
                );
                let _ = Reply::parse(&response);
            }
        }
        while let Some(item) = ReaderCodec.decode(&mut reader).expect("never errors") {
            if let ChafonItem::Frame(command) = item {
                let mut again = BytesMut::from(&command.to_bytes()[..]);
                assert_eq!(
                    ReaderCodec.decode(&mut again).expect("never errors"),
                    Some(ChafonItem::Frame(command.clone()))
                );
                let _ = Request::parse(&command);
            }
        }
        assert!(host.len() <= 256 && reader.len() <= 256);
    }
});
