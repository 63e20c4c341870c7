//! Codes for simulated scanners: the configured list in turn, or generated GS1 DataMatrix
//! element strings that a packing line would print (GTIN, expiry, lot, serial).

use tracegate_drivers::sim::SimFrame;

use crate::capture::devices::kinds::sim_scanner::{SimCodeSource, SimScannerSettings};
use tracegate_identifiers::gs1_check_digit;

/// GS1's own example GTINs (prefix 950 60001 is reserved for GS1 examples, §1.4.4 of the General
/// Specifications) with their check digits computed.
const PRODUCT_BODIES: [&str; 4] = [
    "0950600013435",
    "0950600013436",
    "0950600013437",
    "0950600013438",
];

/// Generated GS1 DataMatrix data as a scanner with AIM identifiers enabled sends it:
/// `]d2` `01`GTIN `17`expiry `10`lot GS `21`serial.
#[derive(Debug, Clone)]
pub struct Gs1Codes {
    gtins: Vec<String>,
    expiry: String,
    lot: String,
    run: String,
    next: u64,
}

impl Gs1Codes {
    /// Codes whose serials start with `run` (so two runs never print the same serial).
    pub fn new(run: u64) -> Self {
        let gtins = PRODUCT_BODIES
            .iter()
            .map(|body| {
                let check = gs1_check_digit(body.as_bytes()).expect("digits") as char;
                format!("{body}{check}")
            })
            .collect();
        let today = jiff::ZonedDateTime::now().date();
        let expiry = today.saturating_add(jiff::Span::new().days(365));
        Gs1Codes {
            gtins,
            expiry: expiry.strftime("%y%m%d").to_string(),
            lot: format!("L{}", today.strftime("%y%m%d")),
            run: run.to_string(),
            next: 0,
        }
    }
}

impl Iterator for Gs1Codes {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        let n = self.next;
        self.next += 1;
        let gtin = &self.gtins[(n % self.gtins.len() as u64) as usize];
        // (10) is variable length, so FNC1 (GS) separates it from what follows.
        Some(
            format!(
                "]d201{gtin}17{}10{}\x1d21{}{n:06}",
                self.expiry, self.lot, self.run
            )
            .into_bytes(),
        )
    }
}

/// The frames a simulated scanner with `settings` sends, ending after `count` if set.
pub fn frames(settings: &SimScannerSettings) -> Box<dyn Iterator<Item = SimFrame> + Send> {
    let codes: Box<dyn Iterator<Item = Vec<u8>> + Send> = match settings.source() {
        SimCodeSource::List(list) => {
            let list: Vec<Vec<u8>> = list.iter().map(|c| c.as_bytes().to_vec()).collect();
            Box::new(list.into_iter().cycle())
        }
        SimCodeSource::Gs1 => {
            let run = jiff::Timestamp::now().as_second().max(0) as u64;
            Box::new(Gs1Codes::new(run))
        }
    };
    let frames = codes.map(SimFrame::new);
    match settings.count {
        Some(n) => Box::new(frames.take(n as usize)),
        None => Box::new(frames),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracegate_identifiers::has_valid_check_digit;

    #[test]
    fn generated_codes_carry_valid_gtins_and_unique_serials() {
        let codes: Vec<String> = Gs1Codes::new(42)
            .take(5)
            .map(|c| String::from_utf8(c).unwrap())
            .collect();
        assert!(codes[0].starts_with("]d20109506000134352"));
        for code in &codes {
            assert!(has_valid_check_digit(&code.as_bytes()[5..19]), "{code}");
            assert!(code.contains('\u{1d}'));
        }
        assert!(codes[4].ends_with("\u{1d}2142000004"), "{}", codes[4]);
        let serials: std::collections::HashSet<_> = codes
            .iter()
            .map(|c| c.rsplit_once("\u{1d}21").unwrap().1.to_string())
            .collect();
        assert_eq!(serials.len(), 5);
    }

    #[test]
    fn a_list_cycles_and_count_limits() {
        let settings = SimScannerSettings {
            rate_per_s: 0.0,
            codes: vec!["A".into(), "B".into()],
            count: Some(3),
            terminator: Default::default(),
        };
        let got: Vec<Vec<u8>> = frames(&settings).map(|f| f.0).collect();
        assert_eq!(got, vec![b"A".to_vec(), b"B".to_vec(), b"A".to_vec()]);
    }
}
