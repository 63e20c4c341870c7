//! The printer status decoders (ZPL `~HS`, TSPL `<ESC>!S`) and the TSPL status byte, with the
//! input cut at fuzzer-chosen points: never a panic, the buffers always bounded, and every
//! status that decodes reads back from the bytes a printer would send for it.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;
use tracegate_drivers::printer::tspl::{self, ExtendedStatusCodec};
use tracegate_drivers::printer::zpl::{HostStatusCodec, ZplItem};

fuzz_target!(|data: &[u8]| {
    let Some((&control, data)) = data.split_first() else { return };
    let (mut zpl, mut ext) = (BytesMut::new(), BytesMut::new());
    let mut codec = HostStatusCodec::new();
    for chunk in data.chunks(usize::from(control % 17) + 1) {
        zpl.extend_from_slice(chunk);
        ext.extend_from_slice(chunk);
        while let Some(item) = codec.decode(&mut zpl).expect("never errors") {
            if let ZplItem::Status(status) = item {
                let mut again = BytesMut::from(&status.to_bytes()[..]);
                assert_eq!(
                    HostStatusCodec::new().decode(&mut again).expect("never errors"),
                    Some(ZplItem::Status(status))
                );
            }
        }
        while ExtendedStatusCodec.decode(&mut ext).expect("never errors").is_some() {}
        assert!(zpl.len() <= 65 && ext.len() < 6);
    }
    for &byte in data {
        assert_eq!(tspl::to_status_byte(&tspl::status_byte(byte)), byte);
    }
});
