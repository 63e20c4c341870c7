//! From decoded identifiers to the identifiers EPCIS events carry (EPCIS 2.0 §8.2, GS1 EPC TDS
//! 2.1 §6–7):
//!
//! | read | becomes |
//! | --- | --- |
//! | GTIN + serial (01)(21) | SGTIN, instance: `urn:epc:id:sgtin:…` |
//! | GTIN + lot, no serial (01)(10) | LGTIN class with quantity: `urn:epc:class:lgtin:…` |
//! | GTIN alone | GTIN class with quantity: `urn:epc:idpat:sgtin:CP.IR.*` |
//! | SSCC (00) | `urn:epc:id:sscc:…` |
//! | GLN (414) + extension (254) | `urn:epc:id:sgln:…` |
//! | GRAI (8003), GIAI (8004), GSRN (8018), GSRN-P (8017), GDTI (253), GCN (255), GINC (401), GSIN (402), ITIP (8006)(21), CPID (8010)(8011), PGLN (417), UPUI (01)(235) | their EPC schemes |
//! | EPC read from a tag | its pure-identity URI |
//! | MA medical-device UDI with serial (`S`) | instance: the DI and serial, `http://s.idcode.org.cn/?code=MA.156.M0.R.P.S<serial>` |
//! | MA UDI without serial | class with quantity 1: the DI, and the lot (`L`) when there is one |
//! | other MA code | instance: the code's resolution URL |
//! | Handle (IDIS) | instance: `https://hdl.handle.net/<prefix>/<suffix>` |
//! | OID under 1.2.156 / 2.16.156 | instance: `urn:oid:…` (RFC 3061) |
//!
//! MA codes and handles are written as their issuers' resolution URLs, or in tracegate's
//! namespace with `national_uri = "tracegate"` ([`NationalUri`]); an MA UDI's lot, production
//! and expiry dates become ILMD like GS1's.
//!
//! A GS1 key cannot be split into company prefix and reference without knowing the prefix's
//! length: that comes from GS1's GCP length table ([`GcpTable`]) and the config's overrides;
//! where it is unknown the constrained canonical Digital Link URI is used instead of guessing,
//! as it is everywhere with `uri_form = "digital-link"` (EPCIS 2.0 allows both forms).
//!
//! Quantities come from the read when it carries one — a count (30)(37) or a net measure
//! (310n kg, 311n m, 314n m², 315n l, 316n m³, 320n lb) — and are 1 (one item scanned)
//! otherwise. Lot and dates become ILMD (`cbvmda:`) when the event commissions (ADD).

use std::sync::Arc;

use jiff::civil::Date;
use serde_json::{Map, Number, Value, json};

use crate::config::{IdentifiersConfig, NationalUri, UriForm};
use tracegate_epcis::model::QuantityElement;
use tracegate_identifiers::epc::uri_escape;
use tracegate_identifiers::gcp::{GcpTable, GcpTableError};
use tracegate_identifiers::national::handle::{Handle, PROXY_HOST as HANDLE_PROXY};
use tracegate_identifiers::national::ma::{MaCode, RESOLVER_HOST as MA_RESOLVER};
use tracegate_identifiers::{AiValue, Identified, Kind, National, digital_link};

/// Namespace for identifiers no standard URN scheme covers (national codes), under the
/// project's own domain.
pub const NATIONAL_ID_BASE: &str = "https://ns.tracegate.dev/id";

/// What a read identifies, as EPCIS writes it.
#[derive(Debug, Clone, PartialEq)]
pub enum Subject {
    /// One instance: goes into `epcList` (or `childEPCs`, or `parentID`).
    Instance(String),
    /// A class with a quantity: goes into `quantityList` (or `childQuantityList`).
    Class(QuantityElement),
    /// Nothing to identify (plain text).
    Nothing,
}

/// The EPCIS view of one read.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapped {
    /// What was read.
    pub subject: Subject,
    /// The GS1 key it was identified by (`00`, `01` …), if any.
    pub key: Option<&'static str>,
    /// Instance / lot master data from the read (lot, expiry …), for commissioning events.
    pub ilmd: Map<String, Value>,
}

impl Mapped {
    /// A container or asset: SSCC, GRAI with serial, GIAI — what closes an aggregation or
    /// association.
    pub fn is_container(&self) -> bool {
        matches!(self.subject, Subject::Instance(_))
            && matches!(self.key, Some("00" | "8003" | "8004"))
    }
}

/// Maps identifiers to EPCIS URIs.
#[derive(Debug, Clone)]
pub struct IdMapper {
    form: UriForm,
    national: NationalUri,
    gcp: Arc<GcpTable>,
}

impl IdMapper {
    /// A mapper as `[identifiers]` says: its table (or the built-in one) and overrides.
    pub fn from_config(config: &IdentifiersConfig) -> Result<IdMapper, GcpTableError> {
        let base = match &config.gcp_length_table {
            Some(path) => Arc::new(GcpTable::load(path)?),
            None => GcpTable::built_in(),
        };
        let gcp = if config.gcp_lengths.is_empty() {
            base
        } else {
            let mut table = (*base).clone();
            for (prefix, len) in &config.gcp_lengths {
                table.set(prefix, *len)?;
            }
            Arc::new(table)
        };
        Ok(IdMapper {
            form: config.uri_form,
            national: config.national_uri,
            gcp,
        })
    }

    /// A mapper over `gcp` writing `form` (MA codes and handles as resolution URLs).
    pub fn new(form: UriForm, gcp: Arc<GcpTable>) -> IdMapper {
        IdMapper {
            form,
            national: NationalUri::default(),
            gcp,
        }
    }

    /// The same mapper writing MA codes and handles as `national` says.
    pub fn with_national_uri(mut self, national: NationalUri) -> IdMapper {
        self.national = national;
        self
    }

    /// The GCP length table it splits keys by.
    pub fn gcp(&self) -> &Arc<GcpTable> {
        &self.gcp
    }

    /// The company prefix length of a key whose leading digits (without indicator or extension
    /// digit) are `digits`.
    fn cp_len(&self, digits: &str) -> Option<usize> {
        if self.form == UriForm::DigitalLink {
            return None;
        }
        self.gcp.length(digits)
    }

    /// Maps one identified read; `today` decides the century of two-digit years.
    pub fn map(&self, id: &Identified, today: Date) -> Mapped {
        match id.kind {
            Kind::Gs1 | Kind::DigitalLink => self.map_ais(&id.ais, today),
            Kind::Epc => {
                let Some(epc) = &id.epc else {
                    return self.map_ais(&id.ais, today);
                };
                let key = id.ais.first().map(|a| a.ai());
                let uri = if self.form == UriForm::DigitalLink && !id.ais.is_empty() {
                    digital_link::to_uri(&id.ais, None).unwrap_or_else(|_| epc.pure_uri())
                } else {
                    epc.pure_uri()
                };
                Mapped {
                    subject: Subject::Instance(uri),
                    key,
                    ilmd: Map::new(),
                }
            }
            Kind::CnDrug | Kind::CnLivestock | Kind::Iso11784 => Mapped {
                subject: id
                    .national
                    .as_ref()
                    .map(|n| Subject::Instance(national_uri(n)))
                    .unwrap_or(Subject::Nothing),
                key: None,
                ilmd: Map::new(),
            },
            Kind::CnMa | Kind::CnHandle | Kind::CnOid => match &id.national {
                Some(National::CnMa(ma)) => self.map_ma(ma),
                Some(National::CnHandle(handle)) => Mapped {
                    subject: Subject::Instance(self.handle_uri(handle)),
                    key: None,
                    ilmd: Map::new(),
                },
                // An OID has its own URN namespace (RFC 3061), whichever national_uri.
                Some(National::CnOid(oid)) => Mapped {
                    subject: Subject::Instance(oid.urn()),
                    key: None,
                    ilmd: Map::new(),
                },
                _ => Mapped {
                    subject: Subject::Nothing,
                    key: None,
                    ilmd: Map::new(),
                },
            },
            Kind::Plain => Mapped {
                subject: Subject::Nothing,
                key: None,
                ilmd: Map::new(),
            },
        }
    }

    /// An MA code: a UDI by its DI and serial (or as a class: DI and lot), ILMD from its
    /// production identifiers; any other MA code as itself.
    fn map_ma(&self, ma: &MaCode) -> Mapped {
        let Some(udi) = &ma.udi else {
            return Mapped {
                subject: Subject::Instance(self.ma_uri(&ma.code)),
                key: None,
                ilmd: Map::new(),
            };
        };
        let mut ilmd = Map::new();
        for (name, value) in [
            ("cbvmda:lotNumber", &udi.lot),
            ("cbvmda:productionDate", &udi.production_date),
            ("cbvmda:itemExpirationDate", &udi.expiry_date),
        ] {
            if let Some(value) = value {
                ilmd.insert(name.into(), json!(value));
            }
        }
        let subject = match (&udi.serial, &udi.lot) {
            (Some(serial), _) => Subject::Instance(self.ma_uri(&format!("{}.S{serial}", udi.di))),
            (None, Some(lot)) => Subject::Class(QuantityElement {
                epc_class: self.ma_uri(&format!("{}.L{lot}", udi.di)),
                quantity: Some(Number::from(1)),
                uom: None,
            }),
            (None, None) => Subject::Class(QuantityElement {
                epc_class: self.ma_uri(&udi.di),
                quantity: Some(Number::from(1)),
                uom: None,
            }),
        };
        Mapped {
            subject,
            key: None,
            ilmd,
        }
    }

    /// An MA code's URI: its resolution URL, or tracegate's namespace.
    fn ma_uri(&self, code: &str) -> String {
        match self.national {
            NationalUri::Resolver => format!("http://{MA_RESOLVER}/?code={}", pchar_escape(code)),
            NationalUri::Tracegate => tracegate_ma_uri(code),
        }
    }

    /// A handle's URI: the Handle.Net proxy's URL, or tracegate's namespace.
    fn handle_uri(&self, handle: &Handle) -> String {
        match self.national {
            NationalUri::Resolver => format!("https://{HANDLE_PROXY}/{}", handle_path(handle)),
            NationalUri::Tracegate => tracegate_handle_uri(handle),
        }
    }

    fn map_ais(&self, ais: &[AiValue], today: Date) -> Mapped {
        let get = |ai: &str| ais.iter().find(|a| a.ai() == ai);
        let value = |ai: &str| get(ai).map(|a| a.value.as_str());
        let ilmd = ilmd(ais, today);
        let mapped = |subject, key| Mapped {
            subject,
            key: Some(key),
            ilmd: ilmd.clone(),
        };
        // The primary key, most specific first. An SSCC label's content AIs (02)(37) describe
        // the unit; the SSCC identifies it.
        if let Some(sscc) = value("00") {
            return mapped(Subject::Instance(self.sscc(sscc, get("00"))), "00");
        }
        if let Some(gtin) = value("01") {
            if let Some(serial) = value("21") {
                return mapped(Subject::Instance(self.sgtin(gtin, serial, ais)), "01");
            }
            if let Some(tpx) = value("235") {
                return mapped(Subject::Instance(self.upui(gtin, tpx, ais)), "01");
            }
            let class = match value("10") {
                Some(lot) => self.lgtin(gtin, lot, ais),
                None => self.gtin_class(gtin, ais),
            };
            return mapped(Subject::Class(quantity_element(class, ais)), "01");
        }
        for key in [
            "8006", "253", "255", "8003", "8004", "8017", "8018", "401", "402", "8010", "417",
            "414", "02",
        ] {
            if let Some(v) = value(key) {
                let subject = match key {
                    "02" => Subject::Class(quantity_element(self.gtin_class(v, ais), ais)),
                    "8003" if v.len() <= 14 => {
                        Subject::Class(quantity_element(self.grai_class(v, ais), ais))
                    }
                    "253" if v.len() <= 13 => {
                        Subject::Class(quantity_element(self.gdti_class(key, v, ais), ais))
                    }
                    _ => Subject::Instance(self.other_key(key, v, ais)),
                };
                return mapped(subject, key);
            }
        }
        Mapped {
            subject: Subject::Nothing,
            key: None,
            ilmd,
        }
    }

    /// The Digital Link form of `key` (plus its qualifier, if any) among `ais`.
    fn dl(&self, key: &str, qualifier: Option<&str>, ais: &[AiValue]) -> String {
        let pick: Vec<AiValue> = ais
            .iter()
            .filter(|a| a.ai() == key || Some(a.ai()) == qualifier)
            .cloned()
            .collect();
        digital_link::to_uri(&pick, None).unwrap_or_else(|_| {
            // Keys that are not Digital Link primary keys (02) fall back to the key as data.
            format!(
                "https://id.gs1.org/{key}/{}",
                ais.iter()
                    .find(|a| a.ai() == key)
                    .map(|a| a.value.as_str())
                    .unwrap_or_default()
            )
        })
    }

    fn split_gtin(&self, gtin: &str) -> Option<(String, String)> {
        let l = self.cp_len(&gtin[1..13])?;
        Some((
            gtin[1..1 + l].to_string(),
            format!("{}{}", &gtin[..1], &gtin[1 + l..13]),
        ))
    }

    fn sgtin(&self, gtin: &str, serial: &str, ais: &[AiValue]) -> String {
        match self.split_gtin(gtin) {
            Some((cp, ir)) => format!("urn:epc:id:sgtin:{cp}.{ir}.{}", uri_escape(serial)),
            None => self.dl("01", Some("21"), ais),
        }
    }

    fn upui(&self, gtin: &str, tpx: &str, ais: &[AiValue]) -> String {
        match self.split_gtin(gtin) {
            Some((cp, ir)) => format!("urn:epc:id:upui:{cp}.{ir}.{}", uri_escape(tpx)),
            None => self.dl("01", Some("235"), ais),
        }
    }

    fn lgtin(&self, gtin: &str, lot: &str, ais: &[AiValue]) -> String {
        match self.split_gtin(gtin) {
            Some((cp, ir)) => format!("urn:epc:class:lgtin:{cp}.{ir}.{}", uri_escape(lot)),
            None => self.dl("01", Some("10"), ais),
        }
    }

    fn gtin_class(&self, gtin: &str, ais: &[AiValue]) -> String {
        match self.split_gtin(gtin) {
            Some((cp, ir)) => format!("urn:epc:idpat:sgtin:{cp}.{ir}.*"),
            None if ais.iter().any(|a| a.ai() == "01") => self.dl("01", None, ais),
            None => format!("https://id.gs1.org/01/{gtin}"),
        }
    }

    fn sscc(&self, sscc: &str, ai: Option<&AiValue>) -> String {
        match self.cp_len(&sscc[1..17]) {
            Some(l) => format!(
                "urn:epc:id:sscc:{}.{}{}",
                &sscc[1..1 + l],
                &sscc[..1],
                &sscc[1 + l..17]
            ),
            None => self.dl("00", None, ai.map(std::slice::from_ref).unwrap_or(&[])),
        }
    }

    fn grai_class(&self, grai: &str, ais: &[AiValue]) -> String {
        match self.cp_len(&grai[1..13]) {
            Some(l) => format!(
                "urn:epc:idpat:grai:{}.{}.*",
                &grai[1..1 + l],
                &grai[1 + l..13]
            ),
            None => self.dl("8003", None, ais),
        }
    }

    fn gdti_class(&self, key: &str, v: &str, ais: &[AiValue]) -> String {
        match self.cp_len(&v[..12]) {
            Some(l) => format!("urn:epc:idpat:gdti:{}.{}.*", &v[..l], &v[l..12]),
            None => self.dl(key, None, ais),
        }
    }

    /// Instance keys other than SSCC and SGTIN / UPUI.
    fn other_key(&self, key: &str, v: &str, ais: &[AiValue]) -> String {
        let value = |ai: &str| ais.iter().find(|a| a.ai() == ai).map(|a| a.value.as_str());
        let uri = (|| -> Option<String> {
            Some(match key {
                "414" => {
                    let l = self.cp_len(&v[..12])?;
                    let ext = value("254").map(uri_escape).unwrap_or_else(|| "0".into());
                    format!("urn:epc:id:sgln:{}.{}.{ext}", &v[..l], &v[l..12])
                }
                "417" => {
                    let l = self.cp_len(&v[..12])?;
                    format!("urn:epc:id:pgln:{}.{}", &v[..l], &v[l..12])
                }
                "8003" => {
                    let l = self.cp_len(&v[1..13])?;
                    format!(
                        "urn:epc:id:grai:{}.{}.{}",
                        &v[1..1 + l],
                        &v[1 + l..13],
                        uri_escape(&v[14..])
                    )
                }
                "8004" => {
                    let l = self.cp_len(digit_prefix(v))?;
                    format!("urn:epc:id:giai:{}.{}", &v[..l], uri_escape(&v[l..]))
                }
                "8017" | "8018" => {
                    let l = self.cp_len(&v[..17])?;
                    let scheme = if key == "8017" { "gsrnp" } else { "gsrn" };
                    format!("urn:epc:id:{scheme}:{}.{}", &v[..l], &v[l..17])
                }
                "253" => {
                    let l = self.cp_len(&v[..12])?;
                    format!(
                        "urn:epc:id:gdti:{}.{}.{}",
                        &v[..l],
                        &v[l..12],
                        uri_escape(&v[13..])
                    )
                }
                "255" => {
                    let l = self.cp_len(&v[..12])?;
                    format!("urn:epc:id:sgcn:{}.{}.{}", &v[..l], &v[l..12], &v[13..])
                }
                "401" => {
                    let l = self.cp_len(digit_prefix(v))?;
                    format!("urn:epc:id:ginc:{}.{}", &v[..l], uri_escape(&v[l..]))
                }
                "402" => {
                    let l = self.cp_len(&v[..16])?;
                    format!("urn:epc:id:gsin:{}.{}", &v[..l], &v[l..16])
                }
                "8006" => {
                    let serial = value("21")?;
                    let (cp, ir) = self.split_gtin(&v[..14])?;
                    format!(
                        "urn:epc:id:itip:{cp}.{ir}.{}.{}.{}",
                        &v[14..16],
                        &v[16..18],
                        uri_escape(serial)
                    )
                }
                "8010" => {
                    let serial = value("8011")?;
                    let l = self.cp_len(digit_prefix(v))?;
                    format!(
                        "urn:epc:id:cpi:{}.{}.{serial}",
                        &v[..l],
                        v[l..].replace('/', "%2F").replace('#', "%23")
                    )
                }
                _ => return None,
            })
        })();
        uri.unwrap_or_else(|| {
            let qualifier = match key {
                "414" => Some("254"),
                "8006" => Some("21"),
                "8010" => Some("8011"),
                _ => None,
            };
            self.dl(key, qualifier, ais)
        })
    }
}

/// The leading digits of an alphanumeric key, at most 12 (a company prefix is at most 12).
fn digit_prefix(v: &str) -> &str {
    let n = v.bytes().take(12).take_while(u8::is_ascii_digit).count();
    &v[..n]
}

/// The class with the quantity the read states, or 1.
fn quantity_element(epc_class: String, ais: &[AiValue]) -> QuantityElement {
    let (quantity, uom) = read_quantity(ais).unwrap_or((Number::from(1), None));
    QuantityElement {
        epc_class,
        quantity: Some(quantity),
        uom,
    }
}

/// A count (30)(37), or a net measure with its UN/CEFACT Rec. 20 unit.
fn read_quantity(ais: &[AiValue]) -> Option<(Number, Option<String>)> {
    for a in ais {
        let ai = a.ai();
        if ai == "30" || ai == "37" {
            return Some((a.value.parse::<u64>().ok()?.into(), None));
        }
        // 31nn–36nn: the fourth digit is the number of decimals (GS1 GenSpecs §3.6).
        if ai.len() == 4 {
            let unit = match &ai[..3] {
                "310" => "KGM",
                "311" => "MTR",
                "314" => "MTK",
                "315" => "LTR",
                "316" => "MTQ",
                "320" => "LBR",
                _ => continue,
            };
            let decimals: usize = ai[3..].parse().ok()?;
            let digits = a.value.trim_start_matches('0');
            let digits = if digits.is_empty() { "0" } else { digits };
            let text = if decimals == 0 {
                digits.to_string()
            } else {
                let padded = format!("{digits:0>width$}", width = decimals + 1);
                let (int, frac) = padded.split_at(padded.len() - decimals);
                let frac = frac.trim_end_matches('0');
                if frac.is_empty() {
                    int.to_string()
                } else {
                    format!("{int}.{frac}")
                }
            };
            return Some((text.parse().ok()?, Some(unit.to_string())));
        }
    }
    None
}

/// Lot and dates as CBV master data attributes (CBV 2.0 §9.2).
fn ilmd(ais: &[AiValue], today: Date) -> Map<String, Value> {
    let mut out = Map::new();
    for a in ais {
        let (name, date) = match a.ai() {
            "10" => ("cbvmda:lotNumber", false),
            "11" => ("cbvmda:productionDate", true),
            "15" => ("cbvmda:bestBeforeDate", true),
            "16" => ("cbvmda:sellByDate", true),
            "17" => ("cbvmda:itemExpirationDate", true),
            _ => continue,
        };
        let value = if date {
            match gs1_date(&a.value, today) {
                Some(d) => d.to_string(),
                None => continue,
            }
        } else {
            a.value.clone()
        };
        out.insert(name.into(), json!(value));
    }
    out
}

/// A GS1 `YYMMDD` date: the century by the sliding window of GS1 GenSpecs §7.12 around `today`,
/// `DD` = 00 as the last day of the month.
pub fn gs1_date(yymmdd: &str, today: Date) -> Option<Date> {
    if yymmdd.len() != 6 || !yymmdd.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let yy: i16 = yymmdd[..2].parse().ok()?;
    let month: i8 = yymmdd[2..4].parse().ok()?;
    let day: i8 = yymmdd[4..].parse().ok()?;
    let current = today.year();
    let century = current - current % 100;
    let diff = yy - current % 100;
    let year = if diff >= 51 {
        century - 100 + yy
    } else if diff <= -50 {
        century + 100 + yy
    } else {
        century + yy
    };
    let first = Date::new(year, month, 1).ok()?;
    if day == 0 {
        Some(first.last_of_month())
    } else {
        Date::new(year, month, day).ok()
    }
}

/// The URI of a national code (no standard URN scheme exists for them).
fn national_uri(n: &National) -> String {
    match n {
        National::CnDrug {
            product,
            serial,
            check,
        } => format!("{NATIONAL_ID_BASE}/cn-drug/{product}{serial}{check}"),
        National::CnLivestock {
            species,
            county,
            sequence,
        } => format!("{NATIONAL_ID_BASE}/cn-livestock/{species}{county}{sequence}"),
        National::Iso11784 {
            country,
            national_id,
            ..
        } => format!("{NATIONAL_ID_BASE}/iso11784/{country:03}{national_id:012}"),
        // Mapped by their own rules (`IdMapper::map_ma`, `handle_uri`).
        National::CnMa(ma) => tracegate_ma_uri(&ma.code),
        National::CnHandle(h) => tracegate_handle_uri(h),
        National::CnOid(oid) => oid.urn(),
    }
}

/// An MA code in tracegate's namespace.
fn tracegate_ma_uri(code: &str) -> String {
    format!("{NATIONAL_ID_BASE}/cn-ma/{}", pchar_escape(code))
}

/// A handle in tracegate's namespace.
fn tracegate_handle_uri(handle: &Handle) -> String {
    format!("{NATIONAL_ID_BASE}/cn-handle/{}", handle_path(handle))
}

/// `prefix/suffix`, each escaped as one path segment.
fn handle_path(handle: &Handle) -> String {
    format!(
        "{}/{}",
        pchar_escape(&handle.prefix),
        pchar_escape(&handle.suffix)
    )
}

/// `s` as one URI path segment or query value: RFC 3986 `pchar`s kept except `&`, `+` and
/// `=` (which a query would read as separators), everything else — `/`, `?`, `#`, `%`,
/// spaces, non-ASCII — percent-encoded as UTF-8, so the URI is ASCII and says one thing.
fn pchar_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'.'
            | b'_'
            | b'~'
            | b'!'
            | b'$'
            | b'\''
            | b'('
            | b')'
            | b'*'
            | b','
            | b';'
            | b':'
            | b'@' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests;
