//! GS1 Company Prefix lengths: where a GTIN, SSCC or GLN splits into company prefix and
//! reference, which EPC URIs need (`urn:epc:id:sgtin:0614141.107346.2018`) and the digits alone
//! do not say.
//!
//! The source is GS1's published GCP length table (the "GCP prefix format list", from
//! <https://www.gs1.org/standards/bc-epc-tds/gcp-length>): entries `prefix → gcpLength`, where the
//! prefix is matched against the leading digits of the key without its indicator or extension
//! digit, and length 0 marks ranges that hold no company prefixes (restricted circulation,
//! coupons …). A copy is built in (`gcpprefixformatlist.xml.gz`, GS1's list of 2022-04-05); an
//! integrator can point `identifiers.gcp_length_table` at a newer download, in either of GS1's
//! formats (XML or JSON, optionally gzipped), and add per-prefix overrides for prefixes the
//! list does not know yet. Where the length is unknown the caller falls back to the Digital Link
//! form rather than guessing.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, LazyLock};

use quick_xml::events::Event as XmlEvent;
use serde_json::Value;

/// The table built into the binary.
const BUILT_IN: &[u8] = include_bytes!("gcpprefixformatlist.xml.gz");

static BUILT_IN_TABLE: LazyLock<Arc<GcpTable>> = LazyLock::new(|| {
    Arc::new(GcpTable::parse(BUILT_IN).expect("the built-in GCP length table parses"))
});

/// Prefix → company prefix length.
#[derive(Debug, Clone, Default)]
pub struct GcpTable {
    /// Keyed by (prefix length, prefix value).
    entries: HashMap<(u8, u64), u8>,
    /// The list's date, as GS1 wrote it.
    date: Option<String>,
}

/// Why a table file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum GcpTableError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The content is not a GCP length table.
    #[error(
        "{0}; expected GS1's GCP prefix format list (gcpprefixformatlist.xml or .json from gs1.org)"
    )]
    Format(String),
}

impl GcpTable {
    /// The table built into the binary (GS1's list of 2022-04-05).
    pub fn built_in() -> Arc<GcpTable> {
        BUILT_IN_TABLE.clone()
    }

    /// Loads a table file: GS1's XML or JSON format, plain or gzipped.
    pub fn load(path: &Path) -> Result<GcpTable, GcpTableError> {
        let bytes = std::fs::read(path).map_err(|source| GcpTableError::Read {
            path: path.display().to_string(),
            source,
        })?;
        GcpTable::parse(&bytes)
    }

    /// Parses GS1's XML or JSON format, plain or gzipped.
    pub fn parse(bytes: &[u8]) -> Result<GcpTable, GcpTableError> {
        let mut plain = Vec::new();
        let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
            flate2::read::GzDecoder::new(bytes)
                .read_to_end(&mut plain)
                .map_err(|e| GcpTableError::Format(format!("not a valid gzip file: {e}")))?;
            &plain[..]
        } else {
            bytes
        };
        let first = bytes
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .copied()
            .unwrap_or(b' ');
        let table = if first == b'{' {
            GcpTable::parse_json(bytes)?
        } else {
            GcpTable::parse_xml(bytes)?
        };
        if table.entries.is_empty() {
            return Err(GcpTableError::Format("no entries found".into()));
        }
        Ok(table)
    }

    fn parse_xml(bytes: &[u8]) -> Result<GcpTable, GcpTableError> {
        let mut reader = quick_xml::Reader::from_reader(bytes);
        let mut table = GcpTable::default();
        let mut buf = Vec::new();
        loop {
            let event = reader
                .read_event_into(&mut buf)
                .map_err(|e| GcpTableError::Format(format!("not XML: {e}")))?;
            match event {
                XmlEvent::Start(e) | XmlEvent::Empty(e) => {
                    // Prefixes and lengths are digits: no entities to resolve.
                    let attr = |name: &str| -> Option<String> {
                        e.try_get_attribute(name)
                            .ok()
                            .flatten()
                            .map(|a| a.value.to_string())
                    };
                    match e.name().as_ref() {
                        "GCPPrefixFormatList" => table.date = attr("date"),
                        "entry" => {
                            let (Some(prefix), Some(len)) = (attr("prefix"), attr("gcpLength"))
                            else {
                                return Err(GcpTableError::Format(
                                    "an <entry> without prefix or gcpLength".into(),
                                ));
                            };
                            table.insert(&prefix, &len)?;
                        }
                        _ => {}
                    }
                }
                XmlEvent::Eof => break,
                _ => {}
            }
            buf.clear();
        }
        Ok(table)
    }

    fn parse_json(bytes: &[u8]) -> Result<GcpTable, GcpTableError> {
        let doc: Value = serde_json::from_slice(bytes)
            .map_err(|e| GcpTableError::Format(format!("not JSON: {e}")))?;
        let list = &doc["GCPPrefixFormatList"];
        let entries = list["entry"]
            .as_array()
            .ok_or_else(|| GcpTableError::Format("no GCPPrefixFormatList.entry array".into()))?;
        let mut table = GcpTable {
            date: list["date"].as_str().map(str::to_string),
            ..GcpTable::default()
        };
        for entry in entries {
            let text = |v: &Value| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            };
            let (Some(prefix), Some(len)) = (text(&entry["prefix"]), text(&entry["gcpLength"]))
            else {
                return Err(GcpTableError::Format(
                    "an entry without prefix or gcpLength".into(),
                ));
            };
            table.insert(&prefix, &len)?;
        }
        Ok(table)
    }

    fn insert(&mut self, prefix: &str, len: &str) -> Result<(), GcpTableError> {
        let bad =
            || GcpTableError::Format(format!("bad entry prefix {prefix:?} gcpLength {len:?}"));
        if prefix.is_empty() || prefix.len() > 13 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let len: u8 = len.trim().parse().map_err(|_| bad())?;
        if len != 0 && !(4..=12).contains(&len) {
            return Err(bad());
        }
        self.entries
            .insert((prefix.len() as u8, prefix.parse().expect("digits")), len);
        Ok(())
    }

    /// Adds or replaces an entry (per-prefix overrides from config).
    pub fn set(&mut self, prefix: &str, len: u8) -> Result<(), GcpTableError> {
        self.insert(prefix, &len.to_string())
    }

    /// The company prefix length for a key whose leading digits (indicator / extension digit
    /// removed) are `digits`, by the longest matching prefix; `None` when the table does not
    /// know it or says the range holds no company prefixes.
    pub fn length(&self, digits: &str) -> Option<usize> {
        let bytes = digits.as_bytes();
        if !bytes.iter().all(u8::is_ascii_digit) {
            return None;
        }
        (1..=bytes.len().min(13))
            .rev()
            .find_map(|n| {
                let value: u64 = digits[..n].parse().ok()?;
                self.entries.get(&(n as u8, value))
            })
            .and_then(|&len| (len != 0 && usize::from(len) <= digits.len()).then_some(len.into()))
    }

    /// Entries in the table.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The list's date.
    pub fn date(&self) -> Option<&str> {
        self.date.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_table_knows_well_known_prefixes() {
        let t = GcpTable::built_in();
        assert!(t.len() > 90_000, "{}", t.len());
        assert_eq!(t.date(), Some("2022-04-05T11:45:18.010-04:00"));
        // GTIN-13 bodies (no indicator digit).
        assert_eq!(t.length("061414112345"), Some(7));
        assert_eq!(t.length("401234500000"), Some(7));
        assert_eq!(t.length("003700000729"), Some(7));
        // Ranges without company prefixes, and unknown ones.
        assert_eq!(t.length("200000000000"), None);
        assert_eq!(t.length("52000010000"), None);
        assert_eq!(t.length("12ab"), None);
    }

    #[test]
    fn both_gs1_formats_and_overrides() {
        let xml = br#"<?xml version="1.0"?>
<GCPPrefixFormatList date="2026-01-02T00:00:00Z">
  <entry prefix="0614141" gcpLength="7"/>
  <entry prefix="061" gcpLength="9"/>
  <entry prefix="02" gcpLength="0"/>
</GCPPrefixFormatList>"#;
        let mut t = GcpTable::parse(xml).unwrap();
        assert_eq!(t.date(), Some("2026-01-02T00:00:00Z"));
        assert_eq!(t.length("061414112345"), Some(7), "longest prefix wins");
        assert_eq!(t.length("061999912345"), Some(9));
        assert_eq!(t.length("021234512345"), None);
        t.set("0619999", 7).unwrap();
        assert_eq!(t.length("061999912345"), Some(7));

        let json = br#"{"GCPPrefixFormatList":{"date":"2026-01-02","entry":[
            {"prefix":"0614141","gcpLength":7},{"prefix":"95","gcpLength":"8"}]}}"#;
        let t = GcpTable::parse(json).unwrap();
        assert_eq!(t.length("950600013435"), Some(8));

        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, json).unwrap();
        assert_eq!(GcpTable::parse(&gz.finish().unwrap()).unwrap().len(), 2);

        for bad in [
            &b"<nope/>"[..],
            b"{}",
            b"<entry prefix=\"x1\" gcpLength=\"7\"/>",
            b"\x1f\x8bjunk",
        ] {
            assert!(GcpTable::parse(bad).is_err());
        }
    }
}
