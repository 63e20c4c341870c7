//! The GS1 mod-10 check digit (GS1 General Specifications §7.9.1), used by GTIN, SSCC, GLN,
//! GRAI, GSRN, GDTI, GSIN, and every other numeric GS1 key.

/// The check digit for `digits` (the key without its check digit), or `None` if any byte is
/// not an ASCII digit. Weights 3 and 1 alternate from the rightmost digit, which gets 3.
pub fn gs1_check_digit(digits: &[u8]) -> Option<u8> {
    let mut sum = 0u32;
    for (i, b) in digits.iter().rev().enumerate() {
        if !b.is_ascii_digit() {
            return None;
        }
        let d = u32::from(b - b'0');
        sum += if i % 2 == 0 { 3 * d } else { d };
    }
    Some(b'0' + ((10 - sum % 10) % 10) as u8)
}

/// True when the last digit of `key` is the correct check digit for the rest.
pub fn has_valid_check_digit(key: &[u8]) -> bool {
    match key.split_last() {
        Some((check, body)) if !body.is_empty() => gs1_check_digit(body) == Some(*check),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_from_the_general_specifications() {
        // GTIN-13 and GTIN-14 examples used throughout the GS1 General Specifications.
        assert!(has_valid_check_digit(b"09506000134352"));
        assert!(has_valid_check_digit(b"4012345000009"));
        // SSCC example: extension 1, company prefix 0614141, serial reference 123456789.
        assert_eq!(gs1_check_digit(b"10614141123456789"), Some(b'7'));
        assert!(!has_valid_check_digit(b"09506000134353"));
        assert_eq!(gs1_check_digit(b"95060001343A"), None);
        assert!(!has_valid_check_digit(b"5"));
    }
}
