//! LLRP from a reader (or a client, for the simulator): the framing codec over input cut at
//! fuzzer-chosen points, every frame decoded as its message type says. A message that
//! decodes must encode and decode again to the same value.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;
use tracegate_drivers::rfid::llrp::{LlrpCodec, Message};

fuzz_target!(|data: &[u8]| {
    let Some((&control, data)) = data.split_first() else { return };
    let mut codec = LlrpCodec;
    let mut buf = BytesMut::new();
    for chunk in data.chunks(usize::from(control) + 1) {
        buf.extend_from_slice(chunk);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(frame)) => {
                    if let Ok(message) = Message::decode(&frame) {
                        let again = Message::decode(&message.to_frame(frame.id)).expect("what was decoded re-encodes");
                        assert_eq!(again, message);
                    }
                }
                Ok(None) => break,
                // Out of step: a client drops the connection here.
                Err(_) => return,
            }
        }
    }
});
