//! AIM symbology identifiers (ISO/IEC 15424), the `]Cm` prefix a scanner sends before the data
//! when configured to: they say which symbology was read, and for GS1 symbologies that the data
//! is an element string (GS1 General Specifications §5.1.2, Figure 5.1.2-2). Enable them on
//! every scanner: without them GS1 data cannot be told apart from plain text reliably.

/// How the data after the identifier is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    /// A GS1 element string (GS1-128, GS1 DataBar, GS1 DataMatrix, GS1 QR, GS1 DotCode).
    Gs1,
    /// EAN-13 / UPC-A / UPC-E, transmitted as 13 digits (optionally `|]e0` and a composite).
    Ean13,
    /// EAN-13 with a 2- or 5-digit add-on.
    Ean13AddOn,
    /// EAN-8, transmitted as 8 digits.
    Ean8,
    /// ITF with check digit: an ITF-14 carries a GTIN-14.
    Itf,
    /// Any other symbology, or a non-GS1 mode of one (Code 128 `]C0`, DataMatrix `]d1` …):
    /// the data is plain text, possibly a GS1 Digital Link URI.
    Plain,
}

/// A symbology identifier found at the start of scan data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbology {
    /// The three characters, e.g. `]d2`.
    pub id: String,
    /// What it carries.
    pub carrier: Carrier,
}

/// Splits `]Xm` off the front of `input`, if it starts with one.
pub fn split(input: &[u8]) -> Option<(Symbology, &[u8])> {
    let [b']', letter, modifier, rest @ ..] = input else {
        return None;
    };
    if !letter.is_ascii_alphabetic() || !modifier.is_ascii_alphanumeric() {
        return None;
    }
    let carrier = match (letter, modifier) {
        (b'C', b'1') | (b'e', b'0') | (b'd', b'2') | (b'Q', b'3') | (b'J', b'1') => Carrier::Gs1,
        (b'E', b'0') => Carrier::Ean13,
        (b'E', b'3') => Carrier::Ean13AddOn,
        (b'E', b'4') => Carrier::Ean8,
        (b'I', b'1') => Carrier::Itf,
        _ => Carrier::Plain,
    };
    let id = String::from_utf8(vec![b']', *letter, *modifier]).expect("ASCII");
    Some((Symbology { id, carrier }, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gs1_and_plain_symbologies() {
        let (s, rest) = split(b"]d2010950").unwrap();
        assert_eq!(
            (s.id.as_str(), s.carrier, rest),
            ("]d2", Carrier::Gs1, &b"010950"[..])
        );
        assert_eq!(split(b"]C0ABC").unwrap().0.carrier, Carrier::Plain);
        assert_eq!(split(b"]Q1https://x").unwrap().0.carrier, Carrier::Plain);
        assert_eq!(
            split(b"]E04012345000009").unwrap().0.carrier,
            Carrier::Ean13
        );
        assert_eq!(split(b"]E412345670").unwrap().0.carrier, Carrier::Ean8);
        assert!(split(b"]d").is_none());
        assert!(split(b"]!1x").is_none());
        assert!(split(b"0109").is_none());
    }
}
