//! Decodes what a scanner or an RFID reader delivered, as a packing line would.
//!
//!     cargo run -p tracegate-identifiers --example decode -- '(01)09506000134352(17)201225(10)ABC' 3034257BF7194E4000001A85

use tracegate_identifiers::{Epc, Mode, Rules, decode};

fn main() {
    let inputs: Vec<String> = std::env::args().skip(1).collect();
    let inputs = if inputs.is_empty() {
        vec![
            "(01)09506000134352(17)201225(10)ABC".to_string(),
            "https://id.gs1.org/01/09506000134352/10/ABC?17=201225".to_string(),
            "(01)09506000134353".to_string(),
        ]
    } else {
        inputs
    };
    for input in &inputs {
        // A 24-hex-digit input is an EPC read from a tag's EPC bank.
        if input.len() == 24 && input.chars().all(|c| c.is_ascii_hexdigit()) {
            match Epc::from_hex(input) {
                Ok(epc) => println!("{input}\n  EPC {}", epc.pure_uri()),
                Err(e) => println!("{input}\n  refused: {e}"),
            }
            continue;
        }
        let decoding = decode(input.as_bytes(), Mode::Auto, Rules::default());
        println!("{input}\n  read as {:?}", decoding.kind);
        match decoding.result {
            Ok(id) => {
                for ai in &id.ais {
                    println!("  ({}) {} = {}", ai.entry.ai, ai.entry.title, ai.value);
                }
            }
            Err(e) => println!("  refused: {e}"),
        }
    }
}
