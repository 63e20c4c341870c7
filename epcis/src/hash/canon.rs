//! Canonical forms of single values in the pre-hash string (CBV 2.0 §8.9.2 rules 5–9, 14, 17–18).
//!
//! Where the standard leaves a form open, the form is the one the reference implementation
//! (epcis-event-hash-generator) produces, since the point of the hash is that both sides compute
//! the same one: numbers are written as Python writes a float it parsed (integral values as
//! integers, so `"10.0"` and `10` both become `10`), and timestamps are UTC with exactly three
//! fractional digits, rounded half up on the fourth.

use jiff::Timestamp;
use jiff::civil::DateTime;

use super::dl;

/// The canonical form of a value of an ordinary field: old CBV URNs as Web URIs, numbers
/// normalised, GS1 identifiers as constrained canonical Digital Link URIs.
pub fn value(text: &str) -> String {
    let text = cbv_urn_to_web_uri(text);
    let text = match number(&text) {
        Some(n) => n,
        None => text,
    };
    match dl::normalise(&text) {
        Some(uri) => uri,
        None => text,
    }
}

/// Rule 14: `urn:epcglobal:cbv:…` vocabulary URNs as their CBV Web URI terms.
fn cbv_urn_to_web_uri(text: &str) -> String {
    const MAP: [(&str, &str); 5] = [
        (
            "urn:epcglobal:cbv:bizstep:",
            "https://ref.gs1.org/cbv/BizStep-",
        ),
        ("urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-"),
        ("urn:epcglobal:cbv:btt:", "https://ref.gs1.org/cbv/BTT-"),
        ("urn:epcglobal:cbv:sdt:", "https://ref.gs1.org/cbv/SDT-"),
        ("urn:epcglobal:cbv:er:", "https://ref.gs1.org/cbv/ER-"),
    ];
    for (urn, web) in MAP {
        if let Some(rest) = text.strip_prefix(urn) {
            return format!("{web}{rest}");
        }
    }
    text.to_string()
}

/// Rules 8–9: a timestamp in UTC with millisecond precision, `Z` for the zero offset; more
/// than three fractional digits round the third up when the fourth is 5–9. `None` when `text`
/// is not a timestamp (it is then hashed as written).
pub fn time(text: &str) -> Option<String> {
    let text = text.trim();
    // Keep at most nine fractional digits, which is all the parser takes; only the fourth
    // matters for rounding.
    let (head, frac, tail) = split_fraction(text);
    let frac9: String = frac.chars().take(9).collect();
    let trimmed = if frac.is_empty() {
        text.to_string()
    } else {
        format!("{head}.{frac9}{tail}")
    };
    let ts = match trimmed.parse::<Timestamp>() {
        Ok(ts) => ts,
        // Without an offset the time is taken as UTC (the reference would use its machine's
        // local zone, which no two machines need share).
        Err(_) => trimmed
            .parse::<DateTime>()
            .ok()?
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .ok()?
            .timestamp(),
    };
    let fourth = frac.as_bytes().get(3).map_or(0, |b| b.wrapping_sub(b'0'));
    let ms = ts.as_millisecond() + i64::from((5..=9).contains(&fourth));
    let rounded = Timestamp::from_millisecond(ms).ok()?;
    Some(format!("{rounded:.3}"))
}

/// Splits `…ss.ffff±hh:mm` into (`…ss`, `ffff`, `±hh:mm`).
fn split_fraction(text: &str) -> (&str, &str, &str) {
    let Some(dot) = text.find('.') else {
        return (text, "", "");
    };
    let after = &text[dot + 1..];
    let len = after
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(after.len());
    (&text[..dot], &after[..len], &after[len..])
}

/// Rule 6–7: a value that reads as a number, written as the reference writes it — integral
/// values as exact integers (`"10.0"` → `10`, `"0012"` → `12`), others as the shortest decimal
/// that round-trips (`"26.20"` → `26.2`, `"1e-5"` → `1e-05`). `None` when not a number.
pub fn number(text: &str) -> Option<String> {
    let x = parse_float(text.trim())?;
    if x.is_nan() || x.is_infinite() {
        // The reference keeps NaN as written; an infinity makes it fail, so it is kept too.
        return None;
    }
    if x.fract() == 0.0 {
        return Some(integer_digits(x));
    }
    Some(shortest_repr(x))
}

/// Parses the number syntax Python's `float()` accepts: sign, digits with single `_` between
/// them, optional fraction and exponent, or inf / infinity / nan in any case.
fn parse_float(s: &str) -> Option<f64> {
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    // Most values hashed are URIs and words: whatever cannot start a number (a digit, a
    // point, or inf / infinity / nan) is not one, found without the allocations below.
    if !unsigned
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_digit() || matches!(b, b'.' | b'i' | b'I' | b'n' | b'N'))
    {
        return None;
    }
    let lower = unsigned.to_ascii_lowercase();
    if matches!(lower.as_str(), "inf" | "infinity" | "nan") {
        return s.to_ascii_lowercase().parse().ok();
    }
    let bytes = unsigned.as_bytes();
    let mut i = 0;
    let mut digits = 0;
    let mut cleaned = String::with_capacity(s.len());
    if s.starts_with('-') {
        cleaned.push('-');
    }
    // Digits with single underscores between two digits.
    let run = |i: &mut usize, cleaned: &mut String| -> Option<usize> {
        let start = *i;
        let mut n = 0;
        while *i < bytes.len() {
            match bytes[*i] {
                b'0'..=b'9' => {
                    cleaned.push(bytes[*i] as char);
                    n += 1;
                }
                b'_' if *i > start
                    && bytes[*i - 1].is_ascii_digit()
                    && bytes.get(*i + 1).is_some_and(u8::is_ascii_digit) => {}
                _ => break,
            }
            *i += 1;
        }
        Some(n)
    };
    digits += run(&mut i, &mut cleaned)?;
    if bytes.get(i) == Some(&b'.') {
        cleaned.push('.');
        i += 1;
        digits += run(&mut i, &mut cleaned)?;
    }
    if digits == 0 {
        return None;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        cleaned.push('e');
        i += 1;
        if let Some(sign @ (b'+' | b'-')) = bytes.get(i) {
            cleaned.push(*sign as char);
            i += 1;
        }
        if run(&mut i, &mut cleaned)? == 0 {
            return None;
        }
    }
    if i != bytes.len() {
        return None;
    }
    cleaned.parse().ok()
}

/// The exact decimal digits of an integral float (`int(x)` in Python): beyond 2^63 the binary
/// value is expanded exactly, not rounded to the shortest form.
fn integer_digits(x: f64) -> String {
    if x.abs() < 9.0e18 {
        return (x as i64).to_string();
    }
    let bits = x.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i32 - 1075;
    let mantissa = (bits & ((1 << 52) - 1)) | (1 << 52);
    // mantissa × 2^exponent with exponent > 0 here: double a decimal digit vector.
    let mut digits: Vec<u8> = mantissa
        .to_string()
        .bytes()
        .map(|b| b - b'0')
        .rev()
        .collect();
    for _ in 0..exponent {
        let mut carry = 0;
        for d in digits.iter_mut() {
            let v = *d * 2 + carry;
            *d = v % 10;
            carry = v / 10;
        }
        if carry > 0 {
            digits.push(carry);
        }
    }
    let sign = if x < 0.0 { "-" } else { "" };
    let body: String = digits.iter().rev().map(|d| (b'0' + d) as char).collect();
    format!("{sign}{body}")
}

/// Python's `repr` of a non-integral float: the shortest round-trip digits, in positional form
/// for decimal exponents −4 ≤ e < 16 and as `d.ddde±XX` otherwise.
fn shortest_repr(x: f64) -> String {
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').expect("LowerExp has an e");
    let exp: i32 = exp.parse().expect("exponent");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if !(-4..16).contains(&exp) {
        let rest = &digits[1..];
        let m = if rest.is_empty() {
            digits[..1].to_string()
        } else {
            format!("{}.{rest}", &digits[..1])
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{m}e{esign}{:02}", exp.abs());
    }
    if exp < 0 {
        return format!("{sign}0.{}{digits}", "0".repeat((-exp - 1) as usize));
    }
    let int_len = exp as usize + 1;
    if digits.len() <= int_len {
        // Integral: not reached for non-integral input, kept for completeness.
        return format!("{sign}{digits}{}.0", "0".repeat(int_len - digits.len()));
    }
    format!("{sign}{}.{}", &digits[..int_len], &digits[int_len..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_the_reference_writes_them() {
        for (input, want) in [
            ("200", "200"),
            ("200.0", "200"),
            ("26.20", "26.2"),
            ("0.1", "0.1"),
            ("23.0", "23"),
            ("0012", "12"),
            ("-0", "0"),
            ("+5", "5"),
            ("1e3", "1000"),
            ("1_000.5", "1000.5"),
            ("0.00001", "1e-05"),
            ("0.0001", "0.0001"),
            ("1.5e-7", "1.5e-07"),
            ("12345678901234567890", "12345678901234567168"),
            ("1e22", "10000000000000000000000"),
            ("50.947573340894124", "50.947573340894124"),
            (" 7 ", "7"),
        ] {
            assert_eq!(number(input).as_deref(), Some(want), "{input}");
        }
        for not in [
            "",
            "abc",
            "1_",
            "_1",
            "1__0",
            "1e",
            "0x10",
            "nan",
            "inf",
            "2019-10-21",
            "+01:00",
            ".",
            "1.2.3",
            "f0f0f0",
        ] {
            assert_eq!(number(not), None, "{not}");
        }
    }

    #[test]
    fn times_in_utc_with_milliseconds_rounded_half_up() {
        for (input, want) in [
            ("2020-03-04T11:00:30.000+01:00", "2020-03-04T10:00:30.000Z"),
            ("2019-11-01T14:00:00+01:00", "2019-11-01T13:00:00.000Z"),
            ("2023-03-27T11:30:00.0Z", "2023-03-27T11:30:00.000Z"),
            ("2023-02-02T11:04:03.1415Z", "2023-02-02T11:04:03.142Z"),
            ("2023-02-02T11:04:03.1414Z", "2023-02-02T11:04:03.141Z"),
            ("2023-02-02T11:04:03.14149Z", "2023-02-02T11:04:03.141Z"),
            ("2023-12-31T23:59:59.9999Z", "2024-01-01T00:00:00.000Z"),
            (
                "2023-02-02T11:04:03.123456789123Z",
                "2023-02-02T11:04:03.123Z",
            ),
            ("2019-10-21T00:05:00-06:00", "2019-10-21T06:05:00.000Z"),
            ("2019-10-21T14:45:00", "2019-10-21T14:45:00.000Z"),
        ] {
            assert_eq!(time(input).as_deref(), Some(want), "{input}");
        }
        assert_eq!(time("yesterday"), None);
    }

    #[test]
    fn values_are_web_uris_numbers_and_digital_links() {
        assert_eq!(
            value("urn:epcglobal:cbv:bizstep:receiving"),
            "https://ref.gs1.org/cbv/BizStep-receiving"
        );
        assert_eq!(
            value("urn:epcglobal:cbv:bt:5200001000008:4711"),
            "urn:epcglobal:cbv:bt:5200001000008:4711"
        );
        assert_eq!(value("13.20"), "13.2");
        assert_eq!(
            value("urn:epc:id:sscc:4012345.0000000333"),
            "https://id.gs1.org/00/040123450000003338"
        );
        assert_eq!(value("example:x"), "example:x");
    }
}
