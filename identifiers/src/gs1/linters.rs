//! Content checks on AI components: the GS1 Barcode Syntax Tests ("linters") named in the
//! Syntax Dictionary, implemented from their published rules. Each takes one component's bytes
//! and on failure says what is wrong and where (offset and length within the component).

use super::codelists::{self, ISO3166_ALPHA2, ISO3166_NUMERIC, ISO4217_NUMERIC, PACKAGE_TYPES};
use super::table::Cset;
use crate::check_digit::gs1_check_digit;

/// A failed check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintFailure {
    /// Error class: `invalid_character`, `bad_check_digit`, `invalid_date` or `invalid_value`.
    pub kind: &'static str,
    /// What is wrong, in words.
    pub message: String,
    /// Offset of the bad data within the component.
    pub pos: usize,
    /// Length of the bad data.
    pub len: usize,
}

fn fail<T>(
    kind: &'static str,
    pos: usize,
    len: usize,
    message: impl Into<String>,
) -> Result<T, LintFailure> {
    Err(LintFailure {
        kind,
        message: message.into(),
        pos,
        len,
    })
}

/// GS1 AI encodable character set 82 (General Specifications Figure 7.11-1), in the order the
/// alphanumeric check character pair weights them (§7.9.5).
pub const CSET82: &[u8] =
    b"!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
/// GS1 AI encodable character set 39 (Figure 7.11-2).
pub const CSET39: &[u8] = b"#-/0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
/// CSET 32 of the alphanumeric check character pair (§7.9.5).
const CSET32: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
/// File-safe / URI-safe base64 (Figure 7.11-3).
const CSET64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Checks `data` against character set `cset`.
pub fn lint_cset(cset: Cset, data: &[u8]) -> Result<(), LintFailure> {
    let (allowed, name): (&[u8], &str) = match cset {
        Cset::N => {
            return match data.iter().position(|b| !b.is_ascii_digit()) {
                Some(i) => fail(
                    "invalid_character",
                    i,
                    1,
                    format!("{} is not a digit (numeric field)", describe(data[i])),
                ),
                None => Ok(()),
            };
        }
        Cset::X => (CSET82, "GS1 character set 82"),
        Cset::Y => (CSET39, "GS1 character set 39"),
        Cset::Z => {
            let pads = data.iter().rev().take_while(|b| **b == b'=').count();
            let len = data.len() - pads;
            if pads > 2 || (pads > 0 && !data.len().is_multiple_of(3)) {
                return fail("invalid_character", len, pads, "base64 padding is wrong");
            }
            return match data[..len].iter().position(|b| !CSET64.contains(b)) {
                Some(i) => fail(
                    "invalid_character",
                    i,
                    1,
                    format!(
                        "{} is not allowed (GS1 character set 64, URL-safe base64)",
                        describe(data[i])
                    ),
                ),
                None => Ok(()),
            };
        }
    };
    match data.iter().position(|b| !allowed.contains(b)) {
        Some(i) => fail(
            "invalid_character",
            i,
            1,
            format!("{} is not allowed ({name})", describe(data[i])),
        ),
        None => Ok(()),
    }
}

/// A byte named for an error message: `'|'` or `0x1D` or `0xC3`.
pub fn describe(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("{:?}", b as char)
    } else {
        format!("byte 0x{b:02X}")
    }
}

/// The linters named in the Syntax Dictionary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)] // each is documented in `Linter::from_name`'s table
pub enum Linter {
    Csum,
    CsumAlpha,
    Key,
    KeyOff1,
    Yymmd0,
    Yymmdd,
    Yyyymmdd,
    Yyyymmd0,
    Hhmi,
    Hh,
    Mi,
    Ss,
    Iso4217,
    Iso3166,
    Iso3166Or999,
    Iso3166Alpha2,
    Pcenc,
    YesNo,
    Hyphen,
    Latitude,
    Longitude,
    ImporterIdx,
    PackageType,
    MediaType,
    Iso5218,
    PosInSeqSlash,
    NonZero,
    Winding,
    Zero,
    PieceOfTotal,
    Iban,
    HasNonDigit,
    NoZeroPrefix,
    CouponCode,
    CouponPosOffer,
}

impl Linter {
    /// The linter of this dictionary name.
    pub fn from_name(name: &str) -> Option<Linter> {
        Some(match name {
            "csum" => Linter::Csum,               // GS1 mod-10 check digit (§7.9.1)
            "csumalpha" => Linter::CsumAlpha,     // alphanumeric check character pair (§7.9.5)
            "key" => Linter::Key,                 // starts with a GS1 Company Prefix (≥ 4 digits)
            "keyoff1" => Linter::KeyOff1,         // same, from the second character
            "yymmd0" => Linter::Yymmd0,           // YYMMDD, DD may be 00 (§7.12)
            "yymmdd" => Linter::Yymmdd,           // YYMMDD
            "yyyymmdd" => Linter::Yyyymmdd,       // YYYYMMDD
            "yyyymmd0" => Linter::Yyyymmd0,       // YYYYMMDD, DD may be 00
            "hhmi" => Linter::Hhmi,               // HHMM
            "hh" => Linter::Hh,                   // hour 00-23
            "mi" => Linter::Mi,                   // minute 00-59
            "ss" => Linter::Ss,                   // second 00-59
            "iso4217" => Linter::Iso4217,         // ISO 4217 numeric currency
            "iso3166" => Linter::Iso3166,         // ISO 3166-1 numeric country
            "iso3166999" => Linter::Iso3166Or999, // … or 999 (unknown)
            "iso3166alpha2" => Linter::Iso3166Alpha2,
            "pcenc" => Linter::Pcenc, // valid percent-encoding (RFC 3986 §2.1)
            "yesno" => Linter::YesNo, // 0 or 1
            "hyphen" => Linter::Hyphen, // "-"
            "latitude" => Linter::Latitude, // 10 digits ≤ 1800000000
            "longitude" => Linter::Longitude, // 10 digits ≤ 3600000000
            "importeridx" => Linter::ImporterIdx, // EU 2018/574 importer index character
            "packagetype" => Linter::PackageType, // GS1 PackageTypeCode
            "mediatype" => Linter::MediaType, // AIDC media type (General Specifications)
            "iso5218" => Linter::Iso5218, // ISO/IEC 5218 sex code 0, 1, 2, 9
            "posinseqslash" => Linter::PosInSeqSlash, // "<pos>/<end>"
            "nonzero" => Linter::NonZero, // not all zeros
            "winding" => Linter::Winding, // 0, 1 or 9
            "zero" => Linter::Zero,   // "0"
            "pieceoftotal" => Linter::PieceOfTotal, // PPTT, 0 < PP ≤ TT
            "iban" => Linter::Iban,   // ISO 13616 IBAN with mod-97 check
            "hasnondigit" => Linter::HasNonDigit, // at least one non-digit
            "nozeroprefix" => Linter::NoZeroPrefix, // no leading zero
            "couponcode" => Linter::CouponCode, // North American Coupon Code, AI (8110)
            "couponposoffer" => Linter::CouponPosOffer, // positive offer file coupon, AI (8112)
            _ => return None,
        })
    }

    /// Runs the check on one component.
    pub fn lint(self, data: &[u8]) -> Result<(), LintFailure> {
        match self {
            Linter::Csum => csum(data),
            Linter::CsumAlpha => csum_alpha(data),
            Linter::Key => key(data, 0),
            Linter::KeyOff1 => key(data, 1),
            Linter::Yymmd0 => date(data, true, true),
            Linter::Yymmdd => date(data, true, false),
            Linter::Yyyymmdd => date(data, false, false),
            Linter::Yyyymmd0 => date(data, false, true),
            Linter::Hhmi => {
                if data.len() != 4 {
                    return fail("invalid_date", 0, data.len(), "time must be HHMM");
                }
                range(data, 0, 2, 0, 23, "invalid_date", "hour")?;
                range(data, 2, 2, 0, 59, "invalid_date", "minute")
            }
            Linter::Hh => range(data, 0, 2, 0, 23, "invalid_date", "hour"),
            Linter::Mi => range(data, 0, 2, 0, 59, "invalid_date", "minute"),
            Linter::Ss => range(data, 0, 2, 0, 59, "invalid_date", "second"),
            Linter::Iso4217 => listed(data, ISO4217_NUMERIC, "an ISO 4217 numeric currency code"),
            Linter::Iso3166 => listed(data, ISO3166_NUMERIC, "an ISO 3166-1 numeric country code"),
            Linter::Iso3166Or999 => {
                if data == b"999" {
                    Ok(())
                } else {
                    listed(
                        data,
                        ISO3166_NUMERIC,
                        "an ISO 3166-1 numeric country code or 999",
                    )
                }
            }
            Linter::Iso3166Alpha2 => {
                listed(data, ISO3166_ALPHA2, "an ISO 3166-1 alpha-2 country code")
            }
            Linter::Pcenc => pcenc(data),
            Linter::YesNo => one_of(data, b"01", "0 (no) or 1 (yes)"),
            Linter::Hyphen => match data.iter().position(|b| *b != b'-') {
                Some(i) => fail("invalid_value", i, 1, "must be '-'"),
                None => Ok(()),
            },
            Linter::Latitude => coordinate(data, 1_800_000_000, "latitude"),
            Linter::Longitude => coordinate(data, 3_600_000_000, "longitude"),
            Linter::ImporterIdx => {
                if data.len() != 1 {
                    return fail(
                        "invalid_value",
                        0,
                        data.len(),
                        "importer index must be one character",
                    );
                }
                let c = data[0];
                if c.is_ascii_alphanumeric() || c == b'-' || c == b'_' {
                    Ok(())
                } else {
                    fail(
                        "invalid_value",
                        0,
                        1,
                        format!("{} is not an importer index character", describe(c)),
                    )
                }
            }
            Linter::PackageType => listed(data, PACKAGE_TYPES, "a GS1 PackageTypeCode"),
            Linter::MediaType => {
                let ok = data.len() == 2
                    && data.iter().all(u8::is_ascii_digit)
                    && matches!((data[0] - b'0') * 10 + (data[1] - b'0'), 1..=10 | 80..=99);
                if ok {
                    Ok(())
                } else {
                    fail(
                        "invalid_value",
                        0,
                        data.len(),
                        "not an assigned AIDC media type (01-10, 80-99)",
                    )
                }
            }
            Linter::Iso5218 => one_of(data, b"0129", "an ISO/IEC 5218 sex code (0, 1, 2 or 9)"),
            Linter::PosInSeqSlash => pos_in_seq(data),
            Linter::NonZero => {
                if data.iter().all(|b| *b == b'0') {
                    fail("invalid_value", 0, data.len(), "must not be zero")
                } else {
                    Ok(())
                }
            }
            Linter::Winding => one_of(data, b"019", "a winding direction (0, 1 or 9)"),
            Linter::Zero => {
                if data == b"0" {
                    Ok(())
                } else {
                    fail("invalid_value", 0, data.len(), "must be 0")
                }
            }
            Linter::PieceOfTotal => piece_of_total(data),
            Linter::Iban => iban(data),
            Linter::HasNonDigit => {
                if data.iter().all(u8::is_ascii_digit) {
                    fail(
                        "invalid_value",
                        0,
                        data.len(),
                        "must contain at least one non-digit",
                    )
                } else {
                    Ok(())
                }
            }
            Linter::NoZeroPrefix => {
                if data.first() == Some(&b'0') {
                    return fail("invalid_value", 0, 1, "must not start with 0");
                }
                digits(data)
            }
            Linter::CouponCode => coupon::code(data),
            Linter::CouponPosOffer => coupon::pos_offer(data),
        }
    }
}

fn digits(data: &[u8]) -> Result<(), LintFailure> {
    match data.iter().position(|b| !b.is_ascii_digit()) {
        Some(i) => fail(
            "invalid_character",
            i,
            1,
            format!("{} is not a digit", describe(data[i])),
        ),
        None => Ok(()),
    }
}

fn csum(data: &[u8]) -> Result<(), LintFailure> {
    digits(data)?;
    let Some((check, body)) = data.split_last() else {
        return fail("bad_check_digit", 0, 0, "too short for a check digit");
    };
    let expected = gs1_check_digit(body).expect("digits checked");
    if expected == *check {
        Ok(())
    } else {
        fail(
            "bad_check_digit",
            data.len() - 1,
            1,
            format!(
                "check digit is {}, should be {}",
                *check as char, expected as char
            ),
        )
    }
}

fn csum_alpha(data: &[u8]) -> Result<(), LintFailure> {
    // Prime weights from the right, modulo 1021, split into two CSET 32 characters (§7.9.5).
    const PRIMES: [u32; 97] = [
        2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89,
        97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167, 173, 179, 181,
        191, 193, 197, 199, 211, 223, 227, 229, 233, 239, 241, 251, 257, 263, 269, 271, 277, 281,
        283, 293, 307, 311, 313, 317, 331, 337, 347, 349, 353, 359, 367, 373, 379, 383, 389, 397,
        401, 409, 419, 421, 431, 433, 439, 443, 449, 457, 461, 463, 467, 479, 487, 491, 499, 503,
        509,
    ];
    let len = data.len();
    if len < 2 {
        return fail(
            "bad_check_digit",
            0,
            len,
            "too short for a check character pair",
        );
    }
    if len - 2 > PRIMES.len() {
        return fail(
            "bad_check_digit",
            0,
            len,
            "too long for a check character pair",
        );
    }
    let body = &data[..len - 2];
    if let Some(i) = body.iter().position(|b| !CSET82.contains(b)) {
        return fail(
            "invalid_character",
            i,
            1,
            format!(
                "{} is not allowed (GS1 character set 82)",
                describe(data[i])
            ),
        );
    }
    if let Some(i) = data[len - 2..].iter().position(|b| !CSET32.contains(b)) {
        return fail(
            "bad_check_digit",
            len - 2 + i,
            1,
            "check characters must come from the alphanumeric check character set (CSET 32)",
        );
    }
    let sum: u32 = body
        .iter()
        .rev()
        .zip(PRIMES.iter())
        .map(|(c, p)| CSET82.iter().position(|x| x == c).expect("checked") as u32 * p)
        .sum::<u32>()
        % 1021;
    let expected = [CSET32[(sum >> 5) as usize], CSET32[(sum & 31) as usize]];
    if data[len - 2..] == expected {
        Ok(())
    } else {
        fail(
            "bad_check_digit",
            len - 2,
            2,
            format!(
                "check character pair is {:?}, should be {:?}",
                String::from_utf8_lossy(&data[len - 2..]),
                String::from_utf8_lossy(&expected)
            ),
        )
    }
}

/// A GS1 Company Prefix is at least 4 digits (General Specifications §1.4.4).
const GCP_MIN_LENGTH: usize = 4;

fn key(data: &[u8], offset: usize) -> Result<(), LintFailure> {
    if data.len() < offset + GCP_MIN_LENGTH {
        return fail(
            "invalid_value",
            0,
            data.len(),
            "too short to start with a GS1 Company Prefix",
        );
    }
    match data[offset..offset + GCP_MIN_LENGTH]
        .iter()
        .position(|b| !b.is_ascii_digit())
    {
        Some(i) => fail(
            "invalid_value",
            offset + i,
            1,
            "must start with a GS1 Company Prefix (digits)",
        ),
        None => Ok(()),
    }
}

fn number(data: &[u8]) -> Option<u64> {
    if data.is_empty() || data.len() > 19 || !data.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(data.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

fn range(
    data: &[u8],
    at: usize,
    len: usize,
    lo: u64,
    hi: u64,
    kind: &'static str,
    what: &str,
) -> Result<(), LintFailure> {
    let Some(field) = data.get(at..at + len) else {
        return fail(kind, 0, data.len(), format!("{what} must be {len} digits"));
    };
    match number(field) {
        Some(v) if (lo..=hi).contains(&v) => Ok(()),
        Some(v) => fail(
            kind,
            at,
            len,
            format!("{what} {v:0len$} is out of range ({lo:0len$}-{hi:0len$})"),
        ),
        None => fail(kind, at, len, format!("{what} must be {len} digits")),
    }
}

fn is_leap(year: u64) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

/// The horizon for two-digit years: the Syntax Tests' reference implementation fixes "the
/// current year" at 2021 for the sliding-window rule of General Specifications §7.12 (years 51
/// or more ahead are the previous century, 50 or more behind the next), so results do not
/// change with the calendar; only the leap-year check of 29 February can depend on it.
const WINDOW_YEAR: i64 = 21;

/// Whether `data` is a calendar date `YYYYMMDD` (the national codes' dates use it too).
pub(crate) fn calendar_date(data: &[u8]) -> Result<(), LintFailure> {
    date(data, false, false)
}

fn date(data: &[u8], two_digit_year: bool, day_may_be_zero: bool) -> Result<(), LintFailure> {
    let want = if two_digit_year { 6 } else { 8 };
    if data.len() != want {
        return fail(
            "invalid_date",
            0,
            data.len(),
            if two_digit_year {
                "date must be YYMMDD"
            } else {
                "date must be YYYYMMDD"
            },
        );
    }
    digits(data).map_err(|mut e| {
        e.kind = "invalid_date";
        e
    })?;
    let y = if two_digit_year {
        let yy = number(&data[..2]).expect("digits") as i64;
        let century = if yy - WINDOW_YEAR >= 51 {
            1900
        } else if yy - WINDOW_YEAR > -50 {
            2000
        } else {
            2100
        };
        (century + yy) as u64
    } else {
        number(&data[..4]).expect("digits")
    };
    let m_at = want - 4;
    let month = number(&data[m_at..m_at + 2]).expect("digits");
    if !(1..=12).contains(&month) {
        return fail(
            "invalid_date",
            m_at,
            2,
            format!("month {month:02} is not a month"),
        );
    }
    let day = number(&data[m_at + 2..]).expect("digits");
    let days = match month {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if (day == 0 && !day_may_be_zero) || day > days {
        return fail(
            "invalid_date",
            m_at + 2,
            2,
            format!("day {day:02} does not exist in {y:04}-{month:02}"),
        );
    }
    Ok(())
}

fn listed(data: &[u8], list: &[&str], what: &str) -> Result<(), LintFailure> {
    if codelists::contains(list, data) {
        Ok(())
    } else {
        fail(
            "invalid_value",
            0,
            data.len(),
            format!("{:?} is not {what}", String::from_utf8_lossy(data)),
        )
    }
}

fn one_of(data: &[u8], allowed: &[u8], what: &str) -> Result<(), LintFailure> {
    if data.len() == 1 && allowed.contains(&data[0]) {
        Ok(())
    } else {
        fail("invalid_value", 0, data.len(), format!("must be {what}"))
    }
}

fn pcenc(data: &[u8]) -> Result<(), LintFailure> {
    let mut i = 0;
    while i < data.len() {
        if data[i] == b'%' {
            let ok = data.len() > i + 2
                && data[i + 1].is_ascii_hexdigit()
                && data[i + 2].is_ascii_hexdigit();
            if !ok {
                return fail(
                    "invalid_value",
                    i,
                    (data.len() - i).min(3),
                    "'%' must be followed by two hex digits",
                );
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    Ok(())
}

fn coordinate(data: &[u8], max: u64, what: &str) -> Result<(), LintFailure> {
    if data.len() != 10 {
        return fail(
            "invalid_value",
            0,
            data.len(),
            format!("{what} must be 10 digits"),
        );
    }
    digits(data)?;
    if number(data).expect("digits") > max {
        return fail(
            "invalid_value",
            0,
            10,
            format!("{what} is out of range (0-{max})"),
        );
    }
    Ok(())
}

fn pos_in_seq(data: &[u8]) -> Result<(), LintFailure> {
    let malformed = || {
        fail(
            "invalid_value",
            0,
            data.len(),
            "must be <position>/<end>, e.g. 1/2",
        )
    };
    let Some(slash) = data.iter().position(|b| *b == b'/') else {
        return malformed();
    };
    let (pos, end) = (&data[..slash], &data[slash + 1..]);
    if pos.is_empty() || end.is_empty() || !pos.iter().chain(end).all(u8::is_ascii_digit) {
        return malformed();
    }
    if pos[0] == b'0' {
        return fail(
            "invalid_value",
            0,
            slash,
            "position must not be zero or start with 0",
        );
    }
    if end[0] == b'0' {
        return fail(
            "invalid_value",
            slash + 1,
            end.len(),
            "end must not be zero or start with 0",
        );
    }
    if (pos.len(), pos) > (end.len(), end) {
        return fail("invalid_value", 0, data.len(), "position is after the end");
    }
    Ok(())
}

fn piece_of_total(data: &[u8]) -> Result<(), LintFailure> {
    digits(data)?;
    if data.is_empty() || !data.len().is_multiple_of(2) {
        return fail(
            "invalid_value",
            0,
            data.len(),
            "piece and total must have the same width",
        );
    }
    let (piece, total) = data.split_at(data.len() / 2);
    if piece.iter().all(|b| *b == b'0') {
        return fail(
            "invalid_value",
            0,
            piece.len(),
            "piece number must not be zero",
        );
    }
    if total.iter().all(|b| *b == b'0') {
        return fail(
            "invalid_value",
            piece.len(),
            total.len(),
            "total number of pieces must not be zero",
        );
    }
    if piece > total {
        return fail(
            "invalid_value",
            0,
            data.len(),
            "piece number is greater than the total",
        );
    }
    Ok(())
}

fn iban(data: &[u8]) -> Result<(), LintFailure> {
    if data.len() < 4 {
        return fail("invalid_value", 0, data.len(), "too short for an IBAN");
    }
    if !codelists::contains(ISO3166_ALPHA2, &data[..2]) {
        return fail(
            "invalid_value",
            0,
            2,
            "IBAN must start with an ISO 3166-1 alpha-2 country code",
        );
    }
    if data.len() > 34 {
        return fail("invalid_value", 0, data.len(), "longer than an IBAN (34)");
    }
    if data.len() <= 10 {
        return fail("invalid_value", 0, data.len(), "too short for an IBAN");
    }
    // ISO 13616: move the first four characters to the end, letters to 10..35, mod 97 == 1.
    let mut sum = 0u32;
    for i in (4..data.len()).chain(0..4) {
        let c = data[i];
        let v = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'Z' => u32::from(c - b'A') + 10,
            _ => {
                return fail(
                    "invalid_character",
                    i,
                    1,
                    format!("{} is not allowed in an IBAN", describe(c)),
                );
            }
        };
        sum = (sum * if v < 10 { 10 } else { 100 } + v) % 97;
    }
    if sum != 1 {
        return fail("bad_check_digit", 2, 2, "IBAN check digits are wrong");
    }
    Ok(())
}

/// North American coupon formats, carried in AIs (8110) and (8112).
mod coupon {
    use super::{LintFailure, date, digits, fail};

    /// A cursor over the coupon digits.
    struct Cursor<'a> {
        data: &'a [u8],
        at: usize,
    }

    impl Cursor<'_> {
        fn left(&self) -> usize {
            self.data.len() - self.at
        }
        fn peek(&self) -> Option<u8> {
            self.data.get(self.at).copied()
        }
        /// A one-digit value in `allowed`, or the named failure.
        fn digit(&mut self, allowed: impl Fn(u8) -> bool, what: &str) -> Result<u8, LintFailure> {
            match self.peek() {
                None => fail(
                    "invalid_value",
                    0,
                    self.data.len(),
                    format!("coupon: {what} is missing"),
                ),
                Some(d) if allowed(d - b'0') => {
                    self.at += 1;
                    Ok(d - b'0')
                }
                Some(_) => fail(
                    "invalid_value",
                    self.at,
                    1,
                    format!("coupon: {what} is not valid"),
                ),
            }
        }
        /// `n` digits follow.
        fn take(&mut self, n: usize, what: &str) -> Result<&[u8], LintFailure> {
            if self.left() < n {
                let (pos, len) = if self.left() == 0 {
                    (0, self.data.len())
                } else {
                    (self.at, self.left())
                };
                return fail(
                    "invalid_value",
                    pos,
                    len,
                    format!("coupon: {what} is cut short"),
                );
            }
            let s = &self.data[self.at..self.at + n];
            self.at += n;
            Ok(s)
        }
        /// A field whose length is given by a one-digit length indicator (`extra` added).
        fn vli_field(
            &mut self,
            allowed: impl Fn(u8) -> bool,
            extra: usize,
            what: &str,
        ) -> Result<(), LintFailure> {
            let vli = self.digit(allowed, &format!("{what} length indicator"))?;
            self.take(usize::from(vli) + extra, what).map(|_| ())
        }
        /// A GS1 Company Prefix of `n` digits (at least 4).
        fn gcp(&mut self, n: usize, what: &str) -> Result<(), LintFailure> {
            let start = self.at;
            let g = self.take(n, what)?;
            if g.len() < 4 {
                return fail(
                    "invalid_value",
                    start,
                    n,
                    format!("coupon: {what} is too short for a company prefix"),
                );
            }
            Ok(())
        }
    }

    /// AI (8110): the original North American Coupon Code ("North American Coupon Application
    /// Guideline Using GS1 DataBar Expanded Symbols").
    pub fn code(data: &[u8]) -> Result<(), LintFailure> {
        digits(data)?;
        let mut c = Cursor { data, at: 0 };
        let vli = c.digit(|d| d <= 6, "company prefix length indicator")?;
        c.gcp(usize::from(vli) + 6, "company prefix")?;
        c.take(6, "offer code")?;
        c.vli_field(|d| (1..=5).contains(&d), 0, "save value")?;
        c.vli_field(|d| (1..=5).contains(&d), 0, "1st purchase requirement")?;
        c.digit(|d| d <= 4 || d == 9, "1st purchase requirement code")?;
        c.take(3, "1st purchase family code")?;
        if c.peek() == Some(b'1') {
            c.at += 1;
            c.digit(|d| d <= 3, "additional purchase rules code")?;
            c.vli_field(|d| (1..=5).contains(&d), 0, "2nd purchase requirement")?;
            c.digit(|d| d <= 4 || d == 9, "2nd purchase requirement code")?;
            c.take(3, "2nd purchase family code")?;
            let vli = c.digit(
                |d| d <= 6 || d == 9,
                "2nd purchase company prefix length indicator",
            )?;
            if vli != 9 {
                c.gcp(usize::from(vli) + 6, "2nd purchase company prefix")?;
            }
        }
        if c.peek() == Some(b'2') {
            c.at += 1;
            c.vli_field(|d| (1..=5).contains(&d), 0, "3rd purchase requirement")?;
            c.digit(|d| d <= 4 || d == 9, "3rd purchase requirement code")?;
            c.take(3, "3rd purchase family code")?;
            let vli = c.digit(
                |d| d <= 6 || d == 9,
                "3rd purchase company prefix length indicator",
            )?;
            if vli != 9 {
                c.gcp(usize::from(vli) + 6, "3rd purchase company prefix")?;
            }
        }
        let mut expiry: Option<&[u8]> = None;
        if c.peek() == Some(b'3') {
            c.at += 1;
            let at = c.at;
            let d = c.take(6, "expiration date")?;
            date(d, true, false).map_err(|_| LintFailure {
                kind: "invalid_date",
                message: "coupon: expiration date is not a valid YYMMDD date".into(),
                pos: at,
                len: 6,
            })?;
            expiry = Some(&data[at..at + 6]);
        }
        if c.peek() == Some(b'4') {
            c.at += 1;
            let at = c.at;
            let d = c.take(6, "start date")?;
            date(d, true, false).map_err(|_| LintFailure {
                kind: "invalid_date",
                message: "coupon: start date is not a valid YYMMDD date".into(),
                pos: at,
                len: 6,
            })?;
            if expiry.is_some_and(|e| &data[at..at + 6] > e) {
                return fail(
                    "invalid_date",
                    at - 8,
                    14,
                    "coupon: expiration date is before the start date",
                );
            }
        }
        if c.peek() == Some(b'5') {
            c.at += 1;
            c.vli_field(|_| true, 6, "serial number")?;
        }
        if c.peek() == Some(b'6') {
            c.at += 1;
            let vli = c.digit(
                |d| (1..=7).contains(&d),
                "retailer company prefix/GLN length indicator",
            )?;
            c.gcp(usize::from(vli) + 6, "retailer company prefix/GLN")?;
        }
        if c.peek() == Some(b'9') {
            c.at += 1;
            c.digit(|d| matches!(d, 0 | 1 | 2 | 5 | 6), "save value code")?;
            c.digit(|d| d <= 2, "save value applies to item")?;
            c.digit(|_| true, "store coupon flag")?;
            c.digit(|d| d <= 1, "don't multiply flag")?;
        }
        if c.left() > 0 {
            return fail(
                "invalid_value",
                c.at,
                c.left(),
                "coupon: unexpected data after the last field",
            );
        }
        Ok(())
    }

    /// AI (8112): the positive offer file coupon ("GS1 AI (8112) Coupon Data Specification").
    pub fn pos_offer(data: &[u8]) -> Result<(), LintFailure> {
        digits(data)?;
        let mut c = Cursor { data, at: 0 };
        c.digit(|d| d <= 1, "format code")?;
        c.vli_field(|d| d <= 6, 6, "funder id")?;
        c.take(6, "offer code")?;
        c.vli_field(|_| true, 6, "serial number")?;
        if c.left() > 0 {
            return fail(
                "invalid_value",
                c.at,
                c.left(),
                "coupon: unexpected data after the serial number",
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(l: Linter, s: &str) {
        assert_eq!(l.lint(s.as_bytes()), Ok(()), "{l:?} {s:?}");
    }
    fn bad(l: Linter, s: &str, kind: &str, pos: usize) {
        let e = l.lint(s.as_bytes()).expect_err(s);
        assert_eq!((e.kind, e.pos), (kind, pos), "{l:?} {s:?}: {e:?}");
    }

    #[test]
    fn check_digits() {
        ok(Linter::Csum, "09506000134352");
        bad(Linter::Csum, "09506000134353", "bad_check_digit", 13);
        ok(Linter::CsumAlpha, "1987654Ad4X4bL5ttr2310c2K");
        ok(Linter::CsumAlpha, "12345678901234567890123NT");
        ok(Linter::CsumAlpha, "22");
        bad(
            Linter::CsumAlpha,
            "1987654Ad4X4bL5ttr2310cXK",
            "bad_check_digit",
            23,
        );
        bad(
            Linter::CsumAlpha,
            " 2345678901234567890123NT",
            "invalid_character",
            0,
        );
    }

    #[test]
    fn dates_and_times() {
        for d in [
            "000606", "250606", "990606", "200229", "240229", "000229", "960229",
        ] {
            ok(Linter::Yymmdd, d);
        }
        ok(Linter::Yymmd0, "200600");
        bad(Linter::Yymmdd, "200600", "invalid_date", 4);
        bad(Linter::Yymmd0, "201310", "invalid_date", 2);
        bad(Linter::Yymmd0, "210229", "invalid_date", 4);
        bad(Linter::Yymmd0, "200431", "invalid_date", 4);
        bad(Linter::Yymmd0, "2x0131", "invalid_date", 1);
        ok(Linter::Yyyymmdd, "20240229");
        bad(Linter::Yyyymmdd, "21000229", "invalid_date", 6);
        ok(Linter::Hhmi, "2359");
        bad(Linter::Hhmi, "2400", "invalid_date", 0);
        bad(Linter::Mi, "60", "invalid_date", 0);
    }

    #[test]
    fn character_sets() {
        assert!(lint_cset(Cset::X, b"ABC-12/x").is_ok());
        assert_eq!(lint_cset(Cset::X, b"AB|C").unwrap_err().pos, 2);
        assert!(
            lint_cset(Cset::X, b"AB\x1dC")
                .unwrap_err()
                .message
                .contains("0x1D")
        );
        assert!(lint_cset(Cset::Y, b"AB#-/9").is_ok());
        assert!(lint_cset(Cset::Y, b"ab").is_err());
        assert!(lint_cset(Cset::Z, b"1==").is_ok());
        assert!(lint_cset(Cset::Z, b"123=").is_err());
        assert_eq!(lint_cset(Cset::N, b"12a").unwrap_err().pos, 2);
        assert_eq!(CSET82.len(), 82);
        assert_eq!(CSET39.len(), 39);
    }

    #[test]
    fn structured_values() {
        ok(Linter::PieceOfTotal, "0203");
        bad(Linter::PieceOfTotal, "0302", "invalid_value", 0);
        bad(Linter::PieceOfTotal, "0003", "invalid_value", 0);
        ok(Linter::PosInSeqSlash, "9/10");
        bad(Linter::PosInSeqSlash, "10/9", "invalid_value", 0);
        bad(Linter::PosInSeqSlash, "1/02", "invalid_value", 2);
        ok(Linter::Iban, "GB98MIDL07009312345678");
        bad(Linter::Iban, "BE71096123456760", "bad_check_digit", 2);
        bad(Linter::Iban, "XX361234567890", "invalid_value", 0);
        ok(Linter::Pcenc, "ABC%20XYZ");
        bad(Linter::Pcenc, "ABC%gX", "invalid_value", 3);
        ok(Linter::Latitude, "1800000000");
        bad(Linter::Latitude, "1800000001", "invalid_value", 0);
        ok(Linter::Iso3166, "156");
        bad(Linter::Iso3166, "999", "invalid_value", 0);
        ok(Linter::Iso3166Or999, "999");
        ok(Linter::Iso4217, "978");
        ok(Linter::MediaType, "80");
        bad(Linter::MediaType, "11", "invalid_value", 0);
        ok(Linter::KeyOff1, "09506");
        bad(Linter::Key, "012A", "invalid_value", 3);
        bad(Linter::NoZeroPrefix, "012", "invalid_value", 0);
        ok(Linter::ImporterIdx, "_");
        bad(Linter::ImporterIdx, ".", "invalid_value", 0);
    }

    #[test]
    fn coupons() {
        ok(Linter::CouponCode, "012345612345611110123");
        bad(Linter::CouponCode, "0123456", "invalid_value", 0);
        bad(Linter::CouponCode, "71234567890123", "invalid_value", 0);
        ok(Linter::CouponPosOffer, "001234561234560123456");
        bad(
            Linter::CouponPosOffer,
            "201234561234560123456",
            "invalid_value",
            0,
        );
        bad(
            Linter::CouponPosOffer,
            "0012345612345601234567",
            "invalid_value",
            21,
        );
    }
}
