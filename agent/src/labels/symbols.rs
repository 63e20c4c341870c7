//! GS1 symbols on labels: GS1 AI data in, the printer language's command for the symbol out.
//!
//! Each helper takes the AIs in the bracketed form (`(01)09506000134352(17)271231(10)A17`),
//! checks them as a scan would be checked (every value, check digit and date; GS1's message
//! rules, General Specifications §4.14), and writes the symbol so that a scanner reads back
//! exactly those AIs:
//!
//! | helper | ZPL II | TSPL / TSPL2 |
//! | --- | --- | --- |
//! | GS1-128 | `^BC` mode N with explicit subsets: `>;` Start C, `>8` FNC1, `>5` / `>6` to subset C / B (ZPL II Programming Guide 45541L-004 Rev. A, `^BC`, "Subset invocation characters" and its UCC/EAN example for older firmware) | `BARCODE` type `128M` with `!105` Start C, `!102` FNC1, `!099` / `!100` Code C / B (TSPL/TSPL2 Programming Language, `BARCODE`) |
//! | GS1 DataMatrix | `^BX` quality 200, escape `_` given explicitly: `_1` FNC1 first and after each variable-length AI, `__` a literal `_` (`^BX`, parameter g) | `DMATRIX` with `c126` (escape `~`): `~1` FNC1, `~d034` a `"` (`DMATRIX`) |
//! | QR with a GS1 Digital Link URI | `^BQ` model 2, `^FDQA,` (error correction Q, automatic input) | `QRCODE` level Q, automatic mode |
//! | human-readable text | the AIs in brackets (General Specifications §4.15) | same; a `"` written `\["]` |
//! | RFID | `^RS8` (Gen 2) and `^RFW,H` with the SGTIN-96 / SSCC-96 (EPC TDS 2.1 §14) | not offered: refused |
//!
//! Why ZPL's mode N and not the manual's modes A or D: mode A does not turn `>8` into FNC1,
//! so the symbol carries the characters `>8` and no GS1 scanner reads it as GS1; mode D
//! appends a check digit of its own on some firmware (Zebra's knowledge article "Using Code
//! 128 ZPL delimiter for Mode D requires proper number of characters"), corrupting a value
//! that already carries one. Mode N says every codeword, so what is printed is what was
//! meant, on any firmware. The tests render every symbol (labelize) and decode it (rxing).

use std::sync::Arc;

use super::templates::TemplateLanguage;
use tracegate_identifiers::gcp::GcpTable;
use tracegate_identifiers::gs1::{AiValue, parse_bracketed, to_bracketed, validate};
use tracegate_identifiers::{Epc, Rules, digital_link};

/// What the helpers need beyond the data: the GS1 Company Prefix lengths (for EPC encoding)
/// and the Digital Link domain.
#[derive(Debug, Clone)]
pub struct SymbolSettings {
    /// GS1's GCP length table with the config's overrides.
    pub gcp: Arc<GcpTable>,
    /// The Digital Link URI stem (`https://id.example.com`); `None`: `https://id.gs1.org`.
    pub digital_link_stem: Option<String>,
}

impl Default for SymbolSettings {
    fn default() -> Self {
        SymbolSettings {
            gcp: GcpTable::built_in(),
            digital_link_stem: None,
        }
    }
}

/// Where a symbol goes and how large it is. ZPL places fields with the template's own `^FO`,
/// so `x` and `y` are for TSPL, whose commands carry their position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// TSPL: dots from the left.
    pub x: u32,
    /// TSPL: dots from the top.
    pub y: u32,
    /// Module (narrow bar, cell) size in dots.
    pub module: u32,
    /// Bar height in dots (1D symbols).
    pub height: u32,
}

/// The AIs of `text` (bracketed form), checked as a scan would be; the error says which AI
/// and what is wrong. Requisite AIs (GS1 "mandatory associations", e.g. (37) needs (00) or
/// (02)) are not required within one symbol: a logistic label carries the SSCC in one bar
/// code and the contents in another, and the label as a whole satisfies the rule. Every
/// other rule is applied.
pub fn parse(text: &str) -> Result<Vec<AiValue>, String> {
    let ais = parse_bracketed(text, 0).map_err(|e| format!("GS1 data {text:?}: {}", e.message))?;
    let rules = Rules {
        requisites: false,
        ..Rules::default()
    };
    validate::check(&ais, rules).map_err(|e| format!("GS1 data {text:?}: {}", e.message))?;
    Ok(ais)
}

/// The data of a GS1 symbol: FNC1 first, then each AI and value, FNC1 after a variable-length
/// AI that is not last (General Specifications §5.4.7.5 / §7.8.5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece {
    Fnc1,
    Byte(u8),
}

fn pieces(ais: &[AiValue]) -> Vec<Piece> {
    let mut out = vec![Piece::Fnc1];
    for (i, ai) in ais.iter().enumerate() {
        out.extend(ai.ai().bytes().map(Piece::Byte));
        out.extend(ai.value.bytes().map(Piece::Byte));
        if ai.entry.fnc1 && i + 1 < ais.len() {
            out.push(Piece::Fnc1);
        }
    }
    out
}

/// The most data characters a GS1-128 symbol may hold (GS1 General Specifications §5.4.1):
/// longer symbols exceed the specified width and scanners are not required to read them.
pub const GS1_128_MAX_DATA: usize = 48;

/// The data characters GS1 counts against that limit: every AI and value character and each
/// separator FNC1, but not the leading FNC1 nor the check character.
fn gs1_128_data_characters(ais: &[AiValue]) -> usize {
    pieces(ais).len() - 1
}

/// How a language spells Code 128's special codewords.
struct Code128Spelling {
    start_c: &'static str,
    fnc1: &'static str,
    to_b: &'static str,
    to_c: &'static str,
    literal: fn(u8) -> Result<String, String>,
}

fn zpl_literal(b: u8) -> Result<String, String> {
    // `>` starts an invocation code; `><` is the character itself (^BC subset table).
    Ok(if b == b'>' {
        "><".to_string()
    } else {
        (b as char).to_string()
    })
}

fn tspl_literal(b: u8) -> Result<String, String> {
    match b {
        b'!' => Err("a '!' cannot be carried in a TSPL 128M field ('!' starts a codeword); use gs1_datamatrix for this value".into()),
        b'"' => Err("a '\"' cannot be carried in a TSPL 128M field; use gs1_datamatrix for this value".into()),
        _ => Ok((b as char).to_string()),
    }
}

const ZPL_128: Code128Spelling = Code128Spelling {
    start_c: ">;",
    fnc1: ">8",
    to_b: ">6",
    to_c: ">5",
    literal: zpl_literal,
};

const TSPL_128: Code128Spelling = Code128Spelling {
    start_c: "!105",
    fnc1: "!102",
    to_b: "!100",
    to_c: "!099",
    literal: tspl_literal,
};

/// Code 128 with explicit subsets: C for digit pairs, B for the rest, FNC1 where GS1 puts it.
/// Every GS1 message starts with an AI, so with at least two digits: Start C is always right.
fn code128(pieces: &[Piece], spelling: &Code128Spelling) -> Result<String, String> {
    let digit = |i: usize| matches!(pieces.get(i), Some(Piece::Byte(b)) if b.is_ascii_digit());
    let digit_run = |from: usize| (from..).take_while(|&i| digit(i)).count();
    let mut out = String::from(spelling.start_c);
    let mut subset_c = true;
    let mut i = 0;
    while i < pieces.len() {
        match pieces[i] {
            Piece::Fnc1 => {
                out.push_str(spelling.fnc1);
                i += 1;
            }
            Piece::Byte(_) if subset_c && digit(i) && digit(i + 1) => {
                for piece in &pieces[i..i + 2] {
                    if let Piece::Byte(b) = piece {
                        out.push(*b as char);
                    }
                }
                i += 2;
            }
            Piece::Byte(b) => {
                let run = digit_run(i);
                if !subset_c && run >= 4 && run % 2 == 0 {
                    out.push_str(spelling.to_c);
                    subset_c = true;
                    continue;
                }
                if subset_c {
                    out.push_str(spelling.to_b);
                    subset_c = false;
                }
                if !(b' '..=b'~').contains(&b) {
                    return Err(format!(
                        "byte 0x{b:02X} cannot be printed in Code 128 subset B"
                    ));
                }
                out.push_str(&(spelling.literal)(b)?);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// The GS1-128 symbol of `ais`.
pub fn gs1_128(
    ais: &[AiValue],
    language: TemplateLanguage,
    at: Placement,
) -> Result<String, String> {
    let data = gs1_128_data_characters(ais);
    if data > GS1_128_MAX_DATA {
        return Err(format!(
            "a GS1-128 symbol holds at most {GS1_128_MAX_DATA} data characters (GS1 General \
             Specifications §5.4.1: AIs, values and separator FNC1s); {} has {data}: print it \
             as a GS1 DataMatrix (gs1_datamatrix) or split the AIs over two GS1-128 symbols",
            to_bracketed(ais)
        ));
    }
    match language {
        TemplateLanguage::Zpl => Ok(format!(
            "^BY{m}^BCN,{h},N,N,N,N^FD{data}^FS",
            m = at.module,
            h = at.height,
            data = code128(&pieces(ais), &ZPL_128)?
        )),
        TemplateLanguage::Tspl => Ok(format!(
            "BARCODE {x},{y},\"128M\",{h},0,0,{m},{m},\"{data}\"",
            x = at.x,
            y = at.y,
            h = at.height,
            m = at.module,
            data = code128(&pieces(ais), &TSPL_128)?
        )),
    }
}

/// The GS1 DataMatrix symbol of `ais` (ECC 200).
pub fn gs1_datamatrix(
    ais: &[AiValue],
    language: TemplateLanguage,
    at: Placement,
) -> Result<String, String> {
    let (escape, fnc1) = match language {
        TemplateLanguage::Zpl => ('_', "_1"),
        TemplateLanguage::Tspl => ('~', "~1"),
    };
    let mut data = String::new();
    for piece in pieces(ais) {
        match piece {
            Piece::Fnc1 => data.push_str(fnc1),
            Piece::Byte(b) if b as char == escape => {
                data.push(escape);
                data.push(escape);
            }
            Piece::Byte(b'"') if language == TemplateLanguage::Tspl => data.push_str("~d034"),
            Piece::Byte(b) => data.push(b as char),
        }
    }
    Ok(match language {
        TemplateLanguage::Zpl => format!("^BXN,{m},200,0,0,6,_^FD{data}^FS", m = at.module),
        TemplateLanguage::Tspl => format!(
            "DMATRIX {x},{y},400,400,c126,x{m},\"{data}\"",
            x = at.x,
            y = at.y,
            m = at.module
        ),
    })
}

/// The GS1 Digital Link URI of `ais` under the configured stem.
pub fn digital_link_uri(ais: &[AiValue], settings: &SymbolSettings) -> Result<String, String> {
    digital_link::to_uri(ais, settings.digital_link_stem.as_deref()).map_err(|e| e.message)
}

/// A QR Code carrying the GS1 Digital Link URI of `ais`.
pub fn gs1_qr(
    ais: &[AiValue],
    language: TemplateLanguage,
    at: Placement,
    settings: &SymbolSettings,
) -> Result<String, String> {
    let uri = digital_link_uri(ais, settings)?;
    if let Some(c) = uri
        .chars()
        .find(|c| matches!(c, '^' | '~' | '"') || c.is_control())
    {
        return Err(format!(
            "the Digital Link URI {uri:?} contains {c:?}, which cannot be printed in a field; check [printing] digital_link_stem"
        ));
    }
    Ok(match language {
        TemplateLanguage::Zpl => format!("^BQN,2,{m}^FDQA,{uri}^FS", m = at.module),
        TemplateLanguage::Tspl => format!(
            "QRCODE {x},{y},Q,{m},A,0,\"{uri}\"",
            x = at.x,
            y = at.y,
            m = at.module
        ),
    })
}

/// The human-readable interpretation: each AI in brackets before its value (General
/// Specifications §4.15), as field text for `language`.
pub fn gs1_text(ais: &[AiValue], language: TemplateLanguage) -> String {
    let text: String = ais
        .iter()
        .map(|ai| format!("({}){}", ai.ai(), ai.value))
        .collect();
    match language {
        TemplateLanguage::Zpl => text,
        TemplateLanguage::Tspl => text.replace('"', "\\[\"]"),
    }
}

/// The EPC binary encoding of `ais` for an RFID label: SGTIN-96 for a GTIN with a serial,
/// SSCC-96 for an SSCC; `filter` defaults to 1 (point-of-sale item) for SGTIN and 0 (all
/// others) for SSCC (EPC TDS 2.1 Tables 10-2, 10-4).
pub fn epc_96(ais: &[AiValue], filter: Option<u8>, gcp: &GcpTable) -> Result<Epc, String> {
    let value = |ai: &str| ais.iter().find(|a| a.ai() == ai).map(|a| a.value.as_str());
    let cp_len = |key: &str, digits: &str| {
        gcp.length(digits).ok_or_else(|| {
            format!(
                "the GS1 Company Prefix length of {key} is not known to the GCP length table: \
                 add its prefix under [identifiers] gcp_lengths"
            )
        })
    };
    let epc = if let (Some(gtin), Some(serial)) = (value("01"), value("21")) {
        let epc = Epc::sgtin(gtin, serial, cp_len(gtin, &gtin[1..])?, filter.unwrap_or(1))
            .map_err(|e| e.message)?;
        if epc.scheme.bits() != 96 {
            return Err(format!(
                "serial {serial:?} does not fit SGTIN-96 (digits only, no leading zero, below 274877906944)"
            ));
        }
        epc
    } else if let Some(sscc) = value("00") {
        Epc::sscc(sscc, cp_len(sscc, &sscc[1..])?, filter.unwrap_or(0)).map_err(|e| e.message)?
    } else {
        return Err("an RFID label needs a GTIN with a serial, (01)(21), or an SSCC, (00)".into());
    };
    if filter.is_some_and(|f| f > 7) {
        return Err("filter must be 0 to 7".into());
    }
    Ok(epc)
}

/// The ZPL commands that write `ais`' EPC to the label's Gen 2 tag.
pub fn zpl_rfid(ais: &[AiValue], filter: Option<u8>, gcp: &GcpTable) -> Result<String, String> {
    let epc = epc_96(ais, filter, gcp)?;
    let hex = epc.to_hex().map_err(|e| e.message)?;
    Ok(format!("^RS8^RFW,H^FD{hex}^FS"))
}

/// The bracketed form of `ais`, as the job records what its label carries.
pub fn record(ais: &[AiValue]) -> String {
    to_bracketed(ais)
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: Placement = Placement {
        x: 10,
        y: 20,
        module: 2,
        height: 100,
    };

    #[test]
    fn gs1_128_spells_every_codeword_in_zpl_and_tspl() {
        let ais = parse("(01)09506000134352(17)271231(10)A17(21)1001").unwrap();
        assert_eq!(
            gs1_128(&ais, TemplateLanguage::Zpl, AT).unwrap(),
            "^BY2^BCN,100,N,N,N,N^FD>;>801095060001343521727123110>6A17>8>5211001^FS"
        );
        assert_eq!(
            gs1_128(&ais, TemplateLanguage::Tspl, AT).unwrap(),
            "BARCODE 10,20,\"128M\",100,0,0,2,2,\"!105!10201095060001343521727123110!100A17!102!099211001\""
        );
    }

    #[test]
    fn a_greater_than_sign_is_escaped_in_zpl_and_a_bang_refused_in_tspl() {
        let ais = parse("(01)09506000134352(10)A>1!").unwrap();
        let zpl = gs1_128(&ais, TemplateLanguage::Zpl, AT).unwrap();
        assert!(zpl.contains(">6A><1!^FS"), "{zpl}");
        let e = gs1_128(&ais, TemplateLanguage::Tspl, AT).unwrap_err();
        assert!(e.contains("'!'"), "{e}");
    }

    #[test]
    fn datamatrix_puts_fnc1_first_and_after_variable_length_ais() {
        let ais = parse("(01)09506000134352(10)A_17(17)271231").unwrap();
        assert_eq!(
            gs1_datamatrix(&ais, TemplateLanguage::Zpl, AT).unwrap(),
            "^BXN,2,200,0,0,6,_^FD_1010950600013435210A__17_117271231^FS"
        );
        let ais = parse("(01)09506000134352(10)A\"1(17)271231").unwrap();
        assert_eq!(
            gs1_datamatrix(&ais, TemplateLanguage::Tspl, AT).unwrap(),
            "DMATRIX 10,20,400,400,c126,x2,\"~1010950600013435210A~d0341~117271231\""
        );
    }

    #[test]
    fn qr_carries_the_digital_link_uri() {
        let ais = parse("(01)09506000134352(10)A17(17)271231").unwrap();
        let settings = SymbolSettings {
            digital_link_stem: Some("https://id.example.com".into()),
            ..SymbolSettings::default()
        };
        assert_eq!(
            gs1_qr(&ais, TemplateLanguage::Zpl, AT, &settings).unwrap(),
            "^BQN,2,2^FDQA,https://id.example.com/01/09506000134352/10/A17?17=271231^FS"
        );
    }

    #[test]
    fn bad_data_is_refused_naming_the_ai() {
        let e = parse("(01)09506000134353").unwrap_err();
        assert!(e.contains("check digit"), "{e}");
        let e = parse("(17)271341").unwrap_err();
        assert!(e.contains("(17)"), "{e}");
        let e = parse("01095060001343").unwrap_err();
        assert!(e.contains("'('"), "{e}");
    }

    #[test]
    fn rfid_writes_the_sgtin_96() {
        let ais = parse("(01)09506000134352(21)1001").unwrap();
        let mut gcp = (*GcpTable::built_in()).clone();
        gcp.set("950600", 7).unwrap();
        let zpl = zpl_rfid(&ais, None, &gcp).unwrap();
        let hex = zpl
            .strip_prefix("^RS8^RFW,H^FD")
            .and_then(|s| s.strip_suffix("^FS"))
            .unwrap();
        let epc = Epc::from_hex(hex).unwrap();
        assert_eq!(
            epc.pure_uri(),
            "urn:epc:id:sgtin:9506000.013435.1001",
            "{hex}"
        );
        let ais = parse("(01)09506000134352(21)A1").unwrap();
        assert!(zpl_rfid(&ais, None, &gcp).unwrap_err().contains("SGTIN-96"));
    }
}

/// Every symbol drawn by a renderer tracegate did not write (labelize) and read back by a
/// decoder it did not write (rxing): the AIs a scanner gets are exactly the AIs printed.
#[cfg(all(test, feature = "preview"))]
mod scanned {
    use super::*;
    use crate::labels::preview::{PreviewSize, png};
    use crate::labels::templates::Rendered;
    use rxing::{BarcodeFormat, DecodeHints, RXingResultMetadataType, RXingResultMetadataValue};
    use tracegate_identifiers::{Kind, Mode, decode};

    const AT: Placement = Placement {
        x: 40,
        y: 40,
        module: 2,
        height: 160,
    };

    /// The AIs a scanner reads from the one symbol on `label`, as (AI, value) pairs.
    fn scan(
        label: &[u8],
        language: TemplateLanguage,
        format: BarcodeFormat,
    ) -> Vec<(String, String)> {
        let rendered = Rendered {
            data: label.to_vec(),
            language,
            gs1: Vec::new(),
        };
        let png = png(
            &rendered,
            PreviewSize {
                width_mm: Some(160.0),
                height_mm: Some(80.0),
                dpmm: 8,
            },
        )
        .unwrap();
        let image = image::load_from_memory(&png).unwrap().to_luma8();
        let (width, height) = image.dimensions();
        let mut hints = DecodeHints {
            AssumeGs1: Some(true),
            TryHarder: Some(true),
            ..DecodeHints::default()
        };
        let result = rxing::helpers::detect_in_luma_with_hints(
            image.into_raw(),
            width,
            height,
            Some(format),
            &mut hints,
        )
        .unwrap_or_else(|e| {
            panic!(
                "{format:?} not found in {}: {e}",
                String::from_utf8_lossy(label)
            )
        });
        let mut text = result.getText().to_string();
        if !text.starts_with(']')
            && let Some(RXingResultMetadataValue::SymbologyIdentifier(id)) = result
                .getRXingResultMetadata()
                .get(&RXingResultMetadataType::SYMBOLOGY_IDENTIFIER)
        {
            text = format!("{id}{text}");
        }
        let rules = Rules {
            requisites: false,
            ..Rules::default()
        };
        let decoding = decode(text.as_bytes(), Mode::Auto, rules);
        let id = decoding
            .result
            .unwrap_or_else(|e| panic!("{text:?} read from {format:?} is not GS1: {e:?}"));
        assert!(
            matches!(id.kind, Kind::Gs1 | Kind::DigitalLink),
            "{text:?} read as {:?}",
            id.kind
        );
        let mut pairs: Vec<(String, String)> = id
            .ais
            .iter()
            .map(|a| (a.ai().to_string(), a.value.clone()))
            .collect();
        pairs.sort();
        pairs
    }

    fn expected(data: &str) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> = parse(data)
            .unwrap()
            .iter()
            .map(|a| (a.ai().to_string(), a.value.clone()))
            .collect();
        pairs.sort();
        pairs
    }

    /// AI sets that exercise the encoders: fixed and variable length, odd digit runs,
    /// letters between digits, a value ending the symbol, an SSCC alone.
    const DATA: &[&str] = &[
        "(01)09506000134352(17)271231(10)A17(21)1001",
        "(00)095060001343528402",
        "(01)09506000134352(10)ABC123(21)12345678901",
        "(01)09506000134352(3103)000189(21)X-7/Y",
        "(02)09506000134352(37)12(10)L1",
    ];

    #[test]
    fn zpl_gs1_128_reads_back_as_printed() {
        for data in DATA {
            let ais = parse(data).unwrap();
            let label = format!(
                "^XA^FO60,60{}^XZ",
                gs1_128(&ais, TemplateLanguage::Zpl, AT).unwrap()
            );
            assert_eq!(
                scan(
                    label.as_bytes(),
                    TemplateLanguage::Zpl,
                    BarcodeFormat::CODE_128
                ),
                expected(data),
                "{label}"
            );
        }
    }

    #[test]
    fn zpl_and_tspl_datamatrix_read_back_as_printed() {
        for data in DATA
            .iter()
            .chain(&["(01)09506000134352(10)A_B\"C(17)271231"])
        {
            let ais = parse(data).unwrap();
            let zpl = format!(
                "^XA^FO60,60{}^XZ",
                gs1_datamatrix(&ais, TemplateLanguage::Zpl, Placement { module: 6, ..AT }).unwrap()
            );
            assert_eq!(
                scan(
                    zpl.as_bytes(),
                    TemplateLanguage::Zpl,
                    BarcodeFormat::DATA_MATRIX
                ),
                expected(data),
                "{zpl}"
            );
            let tspl = format!(
                "SIZE 160 mm,80 mm\r\nCLS\r\n{}\r\nPRINT 1\r\n",
                gs1_datamatrix(&ais, TemplateLanguage::Tspl, Placement { module: 6, ..AT })
                    .unwrap()
            );
            assert_eq!(
                scan(
                    tspl.as_bytes(),
                    TemplateLanguage::Tspl,
                    BarcodeFormat::DATA_MATRIX
                ),
                expected(data),
                "{tspl}"
            );
        }
    }

    /// The shipped case label, drawn whole: each of its three symbols reads back the AIs
    /// the job gave.
    #[test]
    fn the_shipped_case_label_reads_back_symbol_by_symbol() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/labels");
        let templates = crate::labels::templates::Templates::load(&dir).unwrap();
        let vars = serde_json::json!({"gtin": "09506000134352", "lot": "A17", "expiry": "271231", "serial": "1001"});
        let rendered = templates
            .render(
                "case",
                vars.as_object().unwrap(),
                1,
                false,
                TemplateLanguage::Zpl,
                &SymbolSettings::default(),
            )
            .unwrap();
        let want = expected("(01)09506000134352(17)271231(10)A17(21)1001");
        for format in [
            BarcodeFormat::CODE_128,
            BarcodeFormat::DATA_MATRIX,
            BarcodeFormat::QR_CODE,
        ] {
            assert_eq!(
                scan(&rendered.data, TemplateLanguage::Zpl, format),
                want,
                "{format:?}"
            );
        }
    }

    #[test]
    fn a_gs1_128_holds_48_data_characters_and_refuses_the_49th() {
        // (01) + 14 digits, (10) + 12, FNC1, (21) + 15: 2 + 14 + 2 + 12 + 1 + 2 + 15 = 48.
        let fits = parse("(01)09506000134352(10)ABCDEFGHIJKL(21)123456789012345").unwrap();
        let zpl = format!(
            "^XA^FO60,60{}^XZ",
            gs1_128(&fits, TemplateLanguage::Zpl, AT).unwrap()
        );
        assert_eq!(
            scan(
                zpl.as_bytes(),
                TemplateLanguage::Zpl,
                BarcodeFormat::CODE_128
            ),
            expected("(01)09506000134352(10)ABCDEFGHIJKL(21)123456789012345")
        );
        let over = parse("(01)09506000134352(10)ABCDEFGHIJKL(21)1234567890123456").unwrap();
        for language in [TemplateLanguage::Zpl, TemplateLanguage::Tspl] {
            let e = gs1_128(&over, language, AT).unwrap_err();
            assert!(
                e.contains("at most 48 data characters") && e.contains("has 49"),
                "{e}"
            );
            assert!(e.contains("gs1_datamatrix"), "says what to do instead: {e}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        /// Any lot and serial (GS1's character set 82, digit runs of every length, letters
        /// between them) reads back from the GS1-128 and the DataMatrix as printed; a GS1-128
        /// of more than 48 data characters is refused, never printed too wide to scan.
        #[test]
        fn any_lot_and_serial_read_back_as_printed(
            lot in "[0-9A-Za-z!%&'()*+,./:;<=?_-]{1,20}",
            serial in "[0-9A-Z]{1,20}",
        ) {
            let data = format!("(01)09506000134352(10){}(21){serial}", lot.replace('(', "\\("));
            let ais = parse(&data).unwrap();
            let want = expected(&data);
            // (01) + 14, (10) + lot, FNC1, (21) + serial.
            let characters = 2 + 14 + 2 + lot.len() + 1 + 2 + serial.len();
            match gs1_128(&ais, TemplateLanguage::Zpl, AT) {
                Ok(symbol) => {
                    proptest::prop_assert!(characters <= GS1_128_MAX_DATA, "{characters} printed");
                    let zpl = format!("^XA^FO60,60{symbol}^XZ");
                    proptest::prop_assert_eq!(
                        scan(zpl.as_bytes(), TemplateLanguage::Zpl, BarcodeFormat::CODE_128),
                        want.clone(),
                        "{}", zpl
                    );
                }
                Err(e) => {
                    proptest::prop_assert!(characters > GS1_128_MAX_DATA, "{characters}: {e}");
                    proptest::prop_assert!(e.contains("at most 48 data characters"), "{e}");
                }
            }
            let dm = format!(
                "^XA^FO60,60{}^XZ",
                gs1_datamatrix(&ais, TemplateLanguage::Zpl, Placement { module: 6, ..AT }).unwrap()
            );
            proptest::prop_assert_eq!(
                scan(dm.as_bytes(), TemplateLanguage::Zpl, BarcodeFormat::DATA_MATRIX),
                want,
                "{}", dm
            );
        }
    }

    #[test]
    fn zpl_and_tspl_qr_carry_the_digital_link_of_the_ais() {
        let settings = SymbolSettings::default();
        // (02) is no Digital Link primary key: a QR of it is refused, saying so.
        let contents = parse("(02)09506000134352(37)12(10)L1").unwrap();
        let e = gs1_qr(&contents, TemplateLanguage::Zpl, AT, &settings).unwrap_err();
        assert!(e.contains("primary key"), "{e}");
        for data in DATA.iter().filter(|d| !d.starts_with("(02)")) {
            let ais = parse(data).unwrap();
            let zpl = format!(
                "^XA^FO60,60{}^XZ",
                gs1_qr(
                    &ais,
                    TemplateLanguage::Zpl,
                    Placement { module: 5, ..AT },
                    &settings
                )
                .unwrap()
            );
            assert_eq!(
                scan(
                    zpl.as_bytes(),
                    TemplateLanguage::Zpl,
                    BarcodeFormat::QR_CODE
                ),
                expected(data),
                "{zpl}"
            );
            let tspl = format!(
                "SIZE 160 mm,80 mm\r\nCLS\r\n{}\r\nPRINT 1\r\n",
                gs1_qr(
                    &ais,
                    TemplateLanguage::Tspl,
                    Placement { module: 5, ..AT },
                    &settings
                )
                .unwrap()
            );
            assert_eq!(
                scan(
                    tspl.as_bytes(),
                    TemplateLanguage::Tspl,
                    BarcodeFormat::QR_CODE
                ),
                expected(data),
                "{tspl}"
            );
        }
    }
}
