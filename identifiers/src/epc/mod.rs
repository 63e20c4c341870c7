//! EPC Tag Data Standard (TDS 2.x): EPC binary encodings (the EPC memory bank of a UHF tag)
//! to pure-identity and tag URIs, and back; and EPCs to GS1 keys and back.
//!
//! Schemes: SGTIN-96/198, SSCC-96, SGLN-96/195, GRAI-96/170, GIAI-96/202, GSRN-96, GSRNP-96,
//! GDTI-96/174, GID-96. Section numbers refer to TDS 2.1.

mod bits;

use bits::{BitReader, BitWriter};

use super::DecodeError;
use super::check_digit::gs1_check_digit;
use super::gs1::linters::CSET82;

/// The binary encoding schemes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Serialised GTIN, 38-bit numeric serial.
    Sgtin96,
    /// Serialised GTIN, 20-character alphanumeric serial.
    Sgtin198,
    /// Serial Shipping Container Code.
    Sscc96,
    /// GLN with 41-bit numeric extension.
    Sgln96,
    /// GLN with 20-character extension.
    Sgln195,
    /// Returnable asset, 38-bit numeric serial.
    Grai96,
    /// Returnable asset, 16-character serial.
    Grai170,
    /// Individual asset, numeric reference.
    Giai96,
    /// Individual asset, alphanumeric reference.
    Giai202,
    /// Service relation (recipient).
    Gsrn96,
    /// Service relation (provider).
    Gsrnp96,
    /// Document type, 41-bit numeric serial.
    Gdti96,
    /// Document type, 17-character serial.
    Gdti174,
    /// General identifier.
    Gid96,
}

/// A bit field's width and digits by partition value (TDS Table 14-2 and following).
type Partition = [(usize, usize, usize, usize); 7];

/// SGTIN: company prefix bits/digits, indicator + item reference bits/digits (Table 14-2).
const SGTIN: Partition = [
    (40, 12, 4, 1),
    (37, 11, 7, 2),
    (34, 10, 10, 3),
    (30, 9, 14, 4),
    (27, 8, 17, 5),
    (24, 7, 20, 6),
    (20, 6, 24, 7),
];
/// SSCC and GSRN: company prefix, extension/serial or service reference (Tables 14-5, 14-13).
const SSCC: Partition = [
    (40, 12, 18, 5),
    (37, 11, 21, 6),
    (34, 10, 24, 7),
    (30, 9, 28, 8),
    (27, 8, 31, 9),
    (24, 7, 34, 10),
    (20, 6, 38, 11),
];
/// SGLN and GDTI: company prefix, location/document type reference (Tables 14-7, 14-15).
const SGLN: Partition = [
    (40, 12, 1, 0),
    (37, 11, 4, 1),
    (34, 10, 7, 2),
    (30, 9, 11, 3),
    (27, 8, 14, 4),
    (24, 7, 17, 5),
    (20, 6, 21, 6),
];
/// GRAI: company prefix, asset type (Table 14-9).
const GRAI: Partition = [
    (40, 12, 4, 0),
    (37, 11, 7, 1),
    (34, 10, 10, 2),
    (30, 9, 14, 3),
    (27, 8, 17, 4),
    (24, 7, 20, 5),
    (20, 6, 24, 6),
];
/// GIAI-96: company prefix, numeric individual asset reference (Table 14-11).
const GIAI96: Partition = [
    (40, 12, 42, 13),
    (37, 11, 45, 14),
    (34, 10, 48, 15),
    (30, 9, 52, 16),
    (27, 8, 55, 17),
    (24, 7, 58, 18),
    (20, 6, 62, 19),
];
/// GIAI-202: company prefix, alphanumeric reference: bits and characters (Table 14-12).
const GIAI202: Partition = [
    (40, 12, 148, 18),
    (37, 11, 151, 19),
    (34, 10, 154, 20),
    (30, 9, 158, 21),
    (27, 8, 161, 22),
    (24, 7, 164, 23),
    (20, 6, 168, 24),
];

/// How a scheme's third field (after company prefix and reference) is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tail {
    /// Nothing (SSCC, GSRN: reserved bits).
    None(usize),
    /// An integer of this many bits, decimal without leading zeros.
    Integer(usize),
    /// 7-bit characters in this many bits.
    String(usize),
}

impl Scheme {
    /// Header value, total bits, URI names (TDS Table 14-1).
    fn header(self) -> (u8, usize, &'static str, &'static str) {
        match self {
            Scheme::Sgtin96 => (0x30, 96, "sgtin", "sgtin-96"),
            Scheme::Sgtin198 => (0x36, 198, "sgtin", "sgtin-198"),
            Scheme::Sscc96 => (0x31, 96, "sscc", "sscc-96"),
            Scheme::Sgln96 => (0x32, 96, "sgln", "sgln-96"),
            Scheme::Sgln195 => (0x39, 195, "sgln", "sgln-195"),
            Scheme::Grai96 => (0x33, 96, "grai", "grai-96"),
            Scheme::Grai170 => (0x37, 170, "grai", "grai-170"),
            Scheme::Giai96 => (0x34, 96, "giai", "giai-96"),
            Scheme::Giai202 => (0x38, 202, "giai", "giai-202"),
            Scheme::Gsrn96 => (0x2D, 96, "gsrn", "gsrn-96"),
            Scheme::Gsrnp96 => (0x2E, 96, "gsrnp", "gsrnp-96"),
            Scheme::Gdti96 => (0x2C, 96, "gdti", "gdti-96"),
            Scheme::Gdti174 => (0x3E, 174, "gdti", "gdti-174"),
            Scheme::Gid96 => (0x35, 96, "gid", "gid-96"),
        }
    }

    const ALL: [Scheme; 14] = [
        Scheme::Sgtin96,
        Scheme::Sgtin198,
        Scheme::Sscc96,
        Scheme::Sgln96,
        Scheme::Sgln195,
        Scheme::Grai96,
        Scheme::Grai170,
        Scheme::Giai96,
        Scheme::Giai202,
        Scheme::Gsrn96,
        Scheme::Gsrnp96,
        Scheme::Gdti96,
        Scheme::Gdti174,
        Scheme::Gid96,
    ];

    /// The pure-identity URI name, e.g. `sgtin` (`urn:epc:id:sgtin:…`).
    pub fn pure_name(self) -> &'static str {
        self.header().2
    }

    /// The tag URI name, e.g. `sgtin-96`.
    pub fn name(self) -> &'static str {
        self.header().3
    }

    /// Total bits of the encoding.
    pub fn bits(self) -> usize {
        self.header().1
    }

    fn by_header(h: u8) -> Option<Scheme> {
        Scheme::ALL.into_iter().find(|s| s.header().0 == h)
    }

    fn by_name(name: &str) -> Option<Scheme> {
        Scheme::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Partition table and the encoding of the field after the reference.
    fn layout(self) -> (&'static Partition, Tail) {
        match self {
            Scheme::Sgtin96 => (&SGTIN, Tail::Integer(38)),
            Scheme::Sgtin198 => (&SGTIN, Tail::String(140)),
            Scheme::Sscc96 => (&SSCC, Tail::None(24)),
            Scheme::Sgln96 => (&SGLN, Tail::Integer(41)),
            Scheme::Sgln195 => (&SGLN, Tail::String(140)),
            Scheme::Grai96 => (&GRAI, Tail::Integer(38)),
            Scheme::Grai170 => (&GRAI, Tail::String(112)),
            Scheme::Giai96 => (&GIAI96, Tail::None(0)),
            Scheme::Giai202 => (&GIAI202, Tail::None(0)),
            Scheme::Gsrn96 | Scheme::Gsrnp96 => (&SSCC, Tail::None(24)),
            Scheme::Gdti96 => (&SGLN, Tail::Integer(41)),
            Scheme::Gdti174 => (&SGLN, Tail::String(119)),
            Scheme::Gid96 => (&SGTIN, Tail::None(0)), // GID has no partition; see decode_gid
        }
    }
}

/// Headers defined by the TDS that tracegate does not decode, with their names, so an error
/// can say what the tag is.
const OTHER_HEADERS: &[(u8, &str)] = &[
    (0x2F, "USDOD-96"),
    (0x3A, "GDTI-113 (deprecated)"),
    (0x3B, "ADI-var"),
    (0x3C, "CPI-96"),
    (0x3D, "CPI-var"),
    (0x3F, "SGCN-96"),
    (0x40, "ITIP-110"),
    (0x41, "ITIP-212"),
    (0x42, "UPUI-var"),
    (0x43, "PGLN-96"),
    (0x44, "PGLN-195"),
];

/// A decoded EPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Epc {
    /// Binary scheme.
    pub scheme: Scheme,
    /// Filter value 0-7 (none for GID).
    pub filter: Option<u8>,
    /// GS1 Company Prefix digits (GID: general manager number).
    pub company_prefix: String,
    /// The reference field: indicator + item reference (SGTIN), extension + serial reference
    /// (SSCC), location reference (SGLN), asset type (GRAI), individual asset reference (GIAI),
    /// service reference (GSRN), document type (GDTI), object class (GID).
    pub reference: String,
    /// Serial (SGTIN, GRAI, GDTI, GID) or extension (SGLN); none for SSCC, GIAI, GSRN.
    pub serial: Option<String>,
}

fn err(kind: &'static str, bit: usize, message: impl Into<String>) -> DecodeError {
    // Positions are reported as the hex digit holding the bit.
    DecodeError::at(kind, bit / 4, message)
}

/// Characters escaped in EPC URIs (TDS Table I.3.1-1 / §5: `"`, `%`, `&`, `/`, `<`, `>`, `?`).
pub fn uri_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' | '%' | '&' | '/' | '<' | '>' | '?' => out.push_str(&format!("%{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn uri_unescape(s: &str, at: usize) -> Result<String, DecodeError> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or_else(|| {
                DecodeError::at("bad_epc_uri", at + i, "'%' needs two hex digits")
            })?;
            let v = u8::from_str_radix(hex, 16)
                .map_err(|_| DecodeError::at("bad_epc_uri", at + i, "'%' needs two hex digits"))?;
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    let s = String::from_utf8(out).map_err(|_| DecodeError::at("bad_epc_uri", at, "not UTF-8"))?;
    if let Some(p) = s.bytes().position(|c| !CSET82.contains(&c)) {
        return Err(DecodeError::at(
            "bad_epc_uri",
            at + p,
            "character outside GS1 character set 82",
        ));
    }
    Ok(s)
}

fn read_digits(
    r: &mut BitReader<'_>,
    bits: usize,
    digits: usize,
    what: &str,
) -> Result<String, DecodeError> {
    let at = r.position();
    let v = r
        .read(bits)
        .ok_or_else(|| err("bad_length", at, "EPC is cut short"))?;
    if digits == 0 {
        if v != 0 {
            return Err(err(
                "bad_epc",
                at,
                format!("{what} must be empty (zero) for this partition"),
            ));
        }
        return Ok(String::new());
    }
    if v >= 10u64.pow(digits as u32) {
        return Err(err(
            "bad_epc",
            at,
            format!("{what} value {v} does not fit its {digits} digits"),
        ));
    }
    Ok(format!("{v:0digits$}"))
}

fn read_string(r: &mut BitReader<'_>, bits: usize, what: &str) -> Result<String, DecodeError> {
    // 7-bit characters, ended by an all-zero character; everything after it must be zero
    // (TDS §14.3.2).
    let start = r.position();
    let mut s = String::new();
    let mut used = 0;
    while used + 7 <= bits {
        let at = r.position();
        let c = r
            .read(7)
            .ok_or_else(|| err("bad_length", at, "EPC is cut short"))? as u8;
        used += 7;
        if c == 0 {
            break;
        }
        if !CSET82.contains(&c) {
            return Err(err(
                "bad_epc",
                at,
                format!("{what} contains 0x{c:02X}, which is not in GS1 character set 82"),
            ));
        }
        s.push(c as char);
    }
    let rest = bits - used;
    let at = r.position();
    let mut zero = true;
    let mut left = rest;
    while left > 0 {
        let n = left.min(64);
        if r.read(n)
            .ok_or_else(|| err("bad_length", at, "EPC is cut short"))?
            != 0
        {
            zero = false;
        }
        left -= n;
    }
    if !zero {
        return Err(err(
            "bad_epc",
            at,
            format!("{what}: non-zero bits after the end of the text"),
        ));
    }
    if s.is_empty() {
        return Err(err("bad_epc", start, format!("{what} is empty")));
    }
    Ok(s)
}

/// Parses a hex string into bytes.
fn parse_hex(hex: &str) -> Result<Vec<u8>, DecodeError> {
    if let Some(i) = hex.bytes().position(|b| !b.is_ascii_hexdigit()) {
        return Err(DecodeError::at("bad_epc", i, "not a hexadecimal digit"));
    }
    if hex.is_empty() {
        return Err(DecodeError::at("bad_length", 0, "empty EPC"));
    }
    let padded;
    let hex = if hex.len() % 2 == 1 {
        padded = format!("{hex}0");
        padded.as_str()
    } else {
        hex
    };
    Ok(hex::decode(hex).expect("checked hex"))
}

impl Epc {
    /// Decodes the EPC in `hex` (the EPC bank from the header on, as readers report it). Bits
    /// after the encoding's length — padding to a 16-bit word — must be zero.
    pub fn from_hex(hex: &str) -> Result<Epc, DecodeError> {
        let bytes = parse_hex(hex)?;
        let header = bytes[0];
        let scheme = match Scheme::by_header(header) {
            Some(s) => s,
            None => {
                let known = OTHER_HEADERS.iter().find(|(h, _)| *h == header);
                return Err(match known {
                    Some((_, name)) => DecodeError::at(
                        "unsupported_epc",
                        0,
                        format!(
                            "EPC header 0x{header:02X} is {name}, which tracegate does not decode"
                        ),
                    ),
                    None => DecodeError::at(
                        "unknown_header",
                        0,
                        format!(
                            "0x{header:02X} is not an EPC header defined by the Tag Data Standard"
                        ),
                    ),
                });
            }
        };
        let bits = hex.len() * 4;
        if bits < scheme.bits() {
            return Err(DecodeError::at(
                "bad_length",
                hex.len(),
                format!(
                    "{} needs {} bits ({} hex digits), got {bits}",
                    scheme.name().to_uppercase(),
                    scheme.bits(),
                    scheme.bits().div_ceil(4)
                ),
            ));
        }
        let mut r = BitReader::new(&bytes);
        r.read(8);
        let epc = if scheme == Scheme::Gid96 {
            let manager = r.read(28).expect("length checked");
            let class = r.read(24).expect("length checked");
            let serial = r.read(36).expect("length checked");
            Epc {
                scheme,
                filter: None,
                company_prefix: manager.to_string(),
                reference: class.to_string(),
                serial: Some(serial.to_string()),
            }
        } else {
            let filter = r.read(3).expect("length checked") as u8;
            let at = r.position();
            let partition = r.read(3).expect("length checked") as usize;
            let (table, tail) = scheme.layout();
            let Some(&(cp_bits, cp_digits, ref_bits, ref_digits)) = table.get(partition) else {
                return Err(err(
                    "bad_partition",
                    at,
                    format!("partition value {partition} is not defined (0-6)"),
                ));
            };
            let company_prefix = read_digits(&mut r, cp_bits, cp_digits, "company prefix")?;
            let reference = match scheme {
                Scheme::Giai96 => {
                    let at = r.position();
                    let reference = r.read(ref_bits).expect("length checked").to_string();
                    if reference.len() > ref_digits {
                        return Err(err(
                            "bad_epc",
                            at,
                            format!(
                                "individual asset reference {reference} has more than {ref_digits} digits"
                            ),
                        ));
                    }
                    reference
                }
                Scheme::Giai202 => read_string(&mut r, ref_bits, "individual asset reference")?,
                _ => read_digits(&mut r, ref_bits, ref_digits, "reference")?,
            };
            if scheme == Scheme::Giai202 && cp_digits + reference.len() > 30 {
                return Err(err("bad_epc", 14, "GIAI longer than 30 characters"));
            }
            let serial = match tail {
                Tail::None(n) => {
                    r.read(n);
                    None
                }
                Tail::Integer(n) => Some(r.read(n).expect("length checked").to_string()),
                Tail::String(n) => Some(read_string(
                    &mut r,
                    n,
                    if scheme == Scheme::Sgln195 {
                        "extension"
                    } else {
                        "serial"
                    },
                )?),
            };
            Epc {
                scheme,
                filter: Some(filter),
                company_prefix,
                reference,
                serial,
            }
        };
        let at = r.position();
        if !r.rest_is_zero() {
            return Err(DecodeError::at(
                "trailing_data",
                at / 4,
                format!(
                    "non-zero bits after the {}-bit {} encoding",
                    scheme.bits(),
                    scheme.name().to_uppercase()
                ),
            ));
        }
        Ok(epc)
    }

    /// The pure-identity URI, e.g. `urn:epc:id:sgtin:0614141.812345.6789` (TDS §6.3).
    pub fn pure_uri(&self) -> String {
        format!(
            "urn:epc:id:{}:{}",
            self.scheme.header().2,
            self.uri_fields()
        )
    }

    /// The dot-separated fields shared by both URI forms, string fields escaped.
    fn uri_fields(&self) -> String {
        let reference = if self.scheme == Scheme::Giai202 {
            uri_escape(&self.reference)
        } else {
            self.reference.clone()
        };
        match &self.serial {
            Some(s) => format!("{}.{reference}.{}", self.company_prefix, uri_escape(s)),
            None => format!("{}.{reference}", self.company_prefix),
        }
    }

    /// The tag URI, e.g. `urn:epc:tag:sgtin-96:3.0614141.812345.6789` (TDS §12).
    pub fn tag_uri(&self) -> String {
        let filter = self.filter.map(|f| format!("{f}.")).unwrap_or_default();
        format!(
            "urn:epc:tag:{}:{filter}{}",
            self.scheme.name(),
            self.uri_fields()
        )
    }

    /// The GS1 element strings this EPC corresponds to (TDS §7), as (AI, value) pairs. GID has
    /// none.
    pub fn gs1(&self) -> Vec<(&'static str, String)> {
        let cp = &self.company_prefix;
        let with_check = |digits: String| {
            let c = gs1_check_digit(digits.as_bytes()).expect("digits") as char;
            format!("{digits}{c}")
        };
        let serial = self.serial.clone().unwrap_or_default();
        match self.scheme {
            Scheme::Sgtin96 | Scheme::Sgtin198 => {
                let (indicator, item) = self.reference.split_at(1);
                vec![
                    ("01", with_check(format!("{indicator}{cp}{item}"))),
                    ("21", serial),
                ]
            }
            Scheme::Sscc96 => {
                let (ext, serial_ref) = self.reference.split_at(1);
                vec![("00", with_check(format!("{ext}{cp}{serial_ref}")))]
            }
            Scheme::Sgln96 | Scheme::Sgln195 => {
                let mut v = vec![("414", with_check(format!("{cp}{}", self.reference)))];
                if serial != "0" {
                    v.push(("254", serial));
                }
                v
            }
            Scheme::Grai96 | Scheme::Grai170 => {
                vec![(
                    "8003",
                    format!("0{}{serial}", with_check(format!("{cp}{}", self.reference))),
                )]
            }
            Scheme::Giai96 | Scheme::Giai202 => vec![("8004", format!("{cp}{}", self.reference))],
            Scheme::Gsrn96 => vec![("8018", with_check(format!("{cp}{}", self.reference)))],
            Scheme::Gsrnp96 => vec![("8017", with_check(format!("{cp}{}", self.reference)))],
            Scheme::Gdti96 | Scheme::Gdti174 => {
                vec![(
                    "253",
                    format!("{}{serial}", with_check(format!("{cp}{}", self.reference))),
                )]
            }
            Scheme::Gid96 => Vec::new(),
        }
    }

    /// The binary encoding.
    pub fn to_bytes(&self) -> Result<Vec<u8>, DecodeError> {
        let (header, bits, _, _) = self.scheme.header();
        let mut w = BitWriter::default();
        w.write(u64::from(header), 8);
        if self.scheme == Scheme::Gid96 {
            for (value, n, what) in [
                (&self.company_prefix, 28, "general manager number"),
                (&self.reference, 24, "object class"),
                (self.serial.as_ref().unwrap_or(&String::new()), 36, "serial"),
            ] {
                w.write(encode_integer(value, n, what)?, n);
            }
        } else {
            let filter = self.filter.unwrap_or(0);
            if filter > 7 {
                return Err(DecodeError::whole("bad_epc", "filter value must be 0-7"));
            }
            let (table, tail) = self.scheme.layout();
            let partition = table
                .iter()
                .position(|p| p.1 == self.company_prefix.len())
                .ok_or_else(|| {
                    DecodeError::whole(
                        "bad_epc",
                        format!(
                            "a GS1 Company Prefix has 6 to 12 digits, not {}",
                            self.company_prefix.len()
                        ),
                    )
                })?;
            let (cp_bits, cp_digits, ref_bits, ref_digits) = table[partition];
            w.write(u64::from(filter), 3);
            w.write(partition as u64, 3);
            w.write(
                encode_fixed(&self.company_prefix, cp_digits, "company prefix")?,
                cp_bits,
            );
            match self.scheme {
                Scheme::Giai96 => w.write(
                    encode_integer(&self.reference, ref_bits, "individual asset reference")?,
                    ref_bits,
                ),
                Scheme::Giai202 => {
                    if self.company_prefix.len() + self.reference.len() > 30 {
                        return Err(DecodeError::whole(
                            "bad_epc",
                            "a GIAI has at most 30 characters",
                        ));
                    }
                    encode_string(
                        &mut w,
                        &self.reference,
                        ref_bits,
                        "individual asset reference",
                    )?
                }
                _ => w.write(
                    encode_fixed(&self.reference, ref_digits, "reference")?,
                    ref_bits,
                ),
            }
            let serial = self.serial.clone().unwrap_or_default();
            match tail {
                Tail::None(n) => w.write(0, n),
                Tail::Integer(n) => w.write(encode_integer(&serial, n, "serial")?, n),
                Tail::String(n) => encode_string(&mut w, &serial, n, "serial")?,
            }
        }
        debug_assert_eq!(w.len(), bits);
        Ok(w.into_bytes())
    }

    /// The binary encoding as upper-case hex.
    pub fn to_hex(&self) -> Result<String, DecodeError> {
        let bytes = self.to_bytes()?;
        let digits = self.scheme.bits().div_ceil(16) * 4; // whole 16-bit words, as in the EPC bank
        let mut hex = hex::encode_upper(bytes);
        hex.truncate(digits.min(hex.len()));
        while hex.len() < digits {
            hex.push('0');
        }
        Ok(hex)
    }

    /// SGTIN for GTIN-14 `gtin` with `serial`, whose GS1 Company Prefix has `cp_len` digits.
    /// SGTIN-96 when the serial is numeric without leading zeros and below 2^38, else SGTIN-198.
    pub fn sgtin(gtin: &str, serial: &str, cp_len: usize, filter: u8) -> Result<Epc, DecodeError> {
        let gtin = key_digits(gtin, 14, "GTIN")?;
        check_cp_len(cp_len)?;
        let reference = format!("{}{}", &gtin[..1], &gtin[1 + cp_len..13]);
        let scheme = if fits_integer(serial, 38) {
            Scheme::Sgtin96
        } else {
            Scheme::Sgtin198
        };
        let epc = Epc {
            scheme,
            filter: Some(filter),
            company_prefix: gtin[1..1 + cp_len].to_string(),
            reference,
            serial: Some(serial.to_string()),
        };
        epc.to_bytes()?;
        Ok(epc)
    }

    /// SSCC-96 for SSCC-18 `sscc`.
    pub fn sscc(sscc: &str, cp_len: usize, filter: u8) -> Result<Epc, DecodeError> {
        let sscc = key_digits(sscc, 18, "SSCC")?;
        check_cp_len(cp_len)?;
        let epc = Epc {
            scheme: Scheme::Sscc96,
            filter: Some(filter),
            company_prefix: sscc[1..1 + cp_len].to_string(),
            reference: format!("{}{}", &sscc[..1], &sscc[1 + cp_len..17]),
            serial: None,
        };
        epc.to_bytes()?;
        Ok(epc)
    }

    /// SGLN for GLN `gln` with optional extension (AI 254).
    pub fn sgln(
        gln: &str,
        extension: Option<&str>,
        cp_len: usize,
        filter: u8,
    ) -> Result<Epc, DecodeError> {
        let gln = key_digits(gln, 13, "GLN")?;
        check_cp_len(cp_len)?;
        let ext = extension.unwrap_or("0");
        let scheme = if fits_integer(ext, 41) {
            Scheme::Sgln96
        } else {
            Scheme::Sgln195
        };
        let epc = Epc {
            scheme,
            filter: Some(filter),
            company_prefix: gln[..cp_len].to_string(),
            reference: gln[cp_len..12].to_string(),
            serial: Some(ext.to_string()),
        };
        epc.to_bytes()?;
        Ok(epc)
    }

    /// Parses a pure-identity URI (`urn:epc:id:sgtin:…`) or a tag URI (`urn:epc:tag:sgtin-96:…`).
    /// A pure-identity URI has no binary scheme; the shortest one that fits is chosen, with
    /// filter 0.
    pub fn from_uri(uri: &str) -> Result<Epc, DecodeError> {
        let bad = |m: &str| DecodeError::at("bad_epc_uri", 0, m.to_string());
        let (tag, rest) = if let Some(r) = uri.strip_prefix("urn:epc:tag:") {
            (true, r)
        } else if let Some(r) = uri.strip_prefix("urn:epc:id:") {
            (false, r)
        } else {
            return Err(bad("an EPC URI starts with urn:epc:id: or urn:epc:tag:"));
        };
        let (name, fields) = rest
            .split_once(':')
            .ok_or_else(|| bad("missing ':' after the scheme"))?;
        let fields_at = uri.len() - fields.len();
        let candidates: Vec<Scheme> = if tag {
            vec![
                Scheme::by_name(name)
                    .ok_or_else(|| bad(&format!("unknown EPC scheme {name:?}")))?,
            ]
        } else {
            Scheme::ALL
                .into_iter()
                .filter(|s| s.header().2 == name)
                .collect()
        };
        if candidates.is_empty() {
            return Err(bad(&format!("unknown EPC scheme {name:?}")));
        }
        let has_filter = tag && candidates[0] != Scheme::Gid96;
        let has_serial = !matches!(
            candidates[0],
            Scheme::Sscc96 | Scheme::Giai96 | Scheme::Giai202 | Scheme::Gsrn96 | Scheme::Gsrnp96
        );
        let want = if has_serial { 3 } else { 2 };
        // The last field may itself contain '.' (TDS §6.3: '.' is an allowed URI character in
        // serials and asset references), so split only as often as there are fields.
        let mut parts: Vec<&str> = fields.splitn(want + usize::from(has_filter), '.').collect();
        let filter =
            if has_filter {
                let f = parts.remove(0);
                Some(f.parse::<u8>().ok().filter(|f| *f <= 7).ok_or_else(|| {
                    DecodeError::at("bad_epc_uri", fields_at, "filter must be 0-7")
                })?)
            } else if candidates[0] == Scheme::Gid96 {
                None
            } else {
                Some(0)
            };
        if parts.len() != want {
            return Err(DecodeError::at(
                "bad_epc_uri",
                fields_at,
                format!("{name} needs {want} dot-separated fields"),
            ));
        }
        let reference = if matches!(candidates[0], Scheme::Giai96 | Scheme::Giai202) {
            uri_unescape(parts[1], fields_at)?
        } else {
            parts[1].to_string()
        };
        let serial = if has_serial {
            Some(uri_unescape(parts[2], fields_at)?)
        } else {
            None
        };
        let mut last = None;
        for scheme in candidates {
            let epc = Epc {
                scheme,
                filter,
                company_prefix: parts[0].to_string(),
                reference: reference.clone(),
                serial: serial.clone(),
            };
            match epc.to_bytes() {
                Ok(_) => return Ok(epc),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("at least one candidate"))
    }
}

fn check_cp_len(cp_len: usize) -> Result<(), DecodeError> {
    if (6..=12).contains(&cp_len) {
        Ok(())
    } else {
        Err(DecodeError::whole(
            "bad_epc",
            format!("a GS1 Company Prefix has 6 to 12 digits, not {cp_len}"),
        ))
    }
}

fn key_digits<'a>(key: &'a str, len: usize, what: &str) -> Result<&'a str, DecodeError> {
    if key.len() != len || !key.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DecodeError::whole(
            "bad_epc",
            format!("{what} must be {len} digits"),
        ));
    }
    if !crate::has_valid_check_digit(key.as_bytes()) {
        return Err(DecodeError::at(
            "bad_check_digit",
            len - 1,
            format!("{what} check digit is wrong"),
        ));
    }
    Ok(key)
}

/// Can `s` go into an integer field of `bits` bits (digits only, no leading zero, in range)?
fn fits_integer(s: &str, bits: usize) -> bool {
    !s.is_empty()
        && s.len() <= 19
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'))
        && s.parse::<u64>().is_ok_and(|v| v < (1u64 << bits))
}

fn encode_integer(s: &str, bits: usize, what: &str) -> Result<u64, DecodeError> {
    if !fits_integer(s, bits) {
        return Err(DecodeError::whole(
            "bad_epc",
            format!(
                "{what} {s:?} must be a number without leading zeros below 2^{bits} for this scheme"
            ),
        ));
    }
    Ok(s.parse().expect("checked"))
}

fn encode_fixed(s: &str, digits: usize, what: &str) -> Result<u64, DecodeError> {
    if s.len() != digits || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DecodeError::whole(
            "bad_epc",
            format!("{what} must be {digits} digits"),
        ));
    }
    Ok(if digits == 0 {
        0
    } else {
        s.parse().expect("checked")
    })
}

fn encode_string(w: &mut BitWriter, s: &str, bits: usize, what: &str) -> Result<(), DecodeError> {
    if s.is_empty() || s.len() * 7 > bits {
        return Err(DecodeError::whole(
            "bad_epc",
            format!("{what} must be 1 to {} characters", bits / 7),
        ));
    }
    if let Some(c) = s.bytes().find(|c| !CSET82.contains(c)) {
        return Err(DecodeError::whole(
            "bad_epc",
            format!(
                "{what} contains {:?}, outside GS1 character set 82",
                c as char
            ),
        ));
    }
    for c in s.bytes() {
        w.write(u64::from(c), 7);
    }
    w.write(0, bits - s.len() * 7);
    Ok(())
}

#[cfg(test)]
mod tests;
