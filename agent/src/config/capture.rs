//! Keys every device table takes about what its reads must be: how to decode them, which kinds
//! of identifier the device accepts, and what happens to a read that is rejected.
//!
//! ```toml
//! [[devices]]
//! id = "line-1-scanner"
//! kind = "serial-scanner"
//! decode_as = "auto"          # or gs1, digital-link, epc, cn-drug, cn-livestock, iso11784, plain
//! accept = ["gs1"]            # kinds as `tracegate decode` names them; default: every kind
//! on_reject = "refuse"        # or "flag": keep the read as an event marked with the error
//! gs1_requisites = true       # false: allow e.g. (21) without (01), for split logistic labels
//! dedupe_ms = 1500            # the same code again within 1.5 s is one read
//! ```

use serde::Deserialize;

use tracegate_identifiers::{Kind, Mode, Rules};

/// What a device's reads must be, and what happens to those that are not.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureSettings {
    /// How reads are decoded (`tracegate decode --as`).
    #[serde(default)]
    pub decode_as: Mode,
    /// The kinds of identifier this device accepts.
    #[serde(default = "every_kind")]
    pub accept: Vec<Kind>,
    /// What happens to a read that is invalid or of a kind not accepted.
    #[serde(default)]
    pub on_reject: OnReject,
    /// Check GS1 requisite AI pairs (a serial needs its GTIN …), as GS1's Syntax Engine does by
    /// default. Exclusive pairs are always checked.
    #[serde(default = "yes")]
    pub gs1_requisites: bool,
    /// The same code from this device again within this many milliseconds of its previous
    /// read is the same read (operators double-scan; presentation scanners re-read an item
    /// held in view). 0 (default) keeps every read: a line scanning identical lot-level codes
    /// must not lose reads.
    #[serde(default)]
    pub dedupe_ms: u64,
    /// Take a GS right after the symbology identifier (`]d2` GS …: a redundant FNC1 in first
    /// position some scanners transmit) as nothing. Off: such reads are rejected, as GS1's
    /// Barcode Syntax Engine rejects them; better to switch the scanner's setting off.
    #[serde(default)]
    pub accept_leading_gs: bool,
    /// Most items one packing session (`event = "aggregation"` / `"association"`) collects
    /// before its container is read; a further item is refused (the operator hears it) until
    /// the case is closed. Bounds memory and the case's events.
    #[serde(default = "default_max_items_per_case")]
    pub max_items_per_case: usize,
}

fn default_max_items_per_case() -> usize {
    10_000
}

impl Default for CaptureSettings {
    fn default() -> Self {
        CaptureSettings {
            decode_as: Mode::Auto,
            accept: every_kind(),
            on_reject: OnReject::Refuse,
            gs1_requisites: true,
            dedupe_ms: 0,
            accept_leading_gs: false,
            max_items_per_case: default_max_items_per_case(),
        }
    }
}

fn every_kind() -> Vec<Kind> {
    Kind::ALL.to_vec()
}

fn yes() -> bool {
    true
}

/// What happens to a rejected read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnReject {
    /// Not recorded: the device is told (feedback, counters, log) so the operator rescans while
    /// the item is still in hand.
    #[default]
    Refuse,
    /// Recorded as an event that carries the error, for lines where no one can rescan and the
    /// platform sorts things out later.
    Flag,
}

impl CaptureSettings {
    /// The GS1 message rules these settings ask for.
    pub fn rules(&self) -> Rules {
        Rules {
            requisites: self.gs1_requisites,
            leading_gs: self.accept_leading_gs,
        }
    }

    /// Checks the settings as a whole; the error names the key at fault.
    pub(super) fn validate(&self) -> Result<(), (&'static str, String)> {
        if !(1..=1_000_000).contains(&self.max_items_per_case) {
            return Err((
                "max_items_per_case",
                "max_items_per_case must be between 1 and 1000000".into(),
            ));
        }
        if self.accept.is_empty() {
            return Err((
                "accept",
                "accept is empty, so every read would be rejected; list the kinds this device \
                 reads (e.g. [\"gs1\"]) or remove the key to accept every kind"
                    .into(),
            ));
        }
        if self.dedupe_ms > 3_600_000 {
            return Err((
                "dedupe_ms",
                format!(
                    "dedupe_ms = {} is more than an hour; a double scan is a few seconds at most",
                    self.dedupe_ms
                ),
            ));
        }
        if let Some(kind) = self.decode_as.kind()
            && !self.accept.contains(&kind)
        {
            return Err((
                "accept",
                format!(
                    "decode_as = {:?} reads everything as {} but accept does not list {:?}, so \
                     every read would be rejected; add it to accept",
                    self.decode_as.name(),
                    kind.as_str(),
                    kind.as_str()
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<CaptureSettings, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn defaults_accept_everything_and_refuse_bad_reads() {
        let s = parse("").unwrap();
        assert_eq!(s, CaptureSettings::default());
        assert_eq!(s.accept.len(), Kind::ALL.len());
        assert!(s.rules().requisites);
    }

    #[test]
    fn kinds_take_the_decode_output_and_the_cli_spelling() {
        let s = parse(
            "decode_as = \"digital-link\"\naccept = [\"digital_link\", \"cn-drug\"]\non_reject = \"flag\"\ngs1_requisites = false",
        )
        .unwrap();
        assert_eq!(s.decode_as, Mode::DigitalLink);
        assert_eq!(s.accept, [Kind::DigitalLink, Kind::CnDrug]);
        assert_eq!(s.on_reject, OnReject::Flag);
        assert!(!s.rules().requisites);
        s.validate().unwrap();
    }

    #[test]
    fn settings_that_reject_everything_are_refused() {
        let s = parse("accept = []").unwrap();
        assert_eq!(s.validate().unwrap_err().0, "accept");
        let s = parse("decode_as = \"epc\"\naccept = [\"gs1\"]").unwrap();
        let (key, message) = s.validate().unwrap_err();
        assert_eq!(key, "accept");
        assert!(message.contains("\"epc\""), "{message}");
        assert!(parse("on_reject = \"drop\"").is_err());
        assert!(parse("accept = [\"qr\"]").is_err());
    }
}
