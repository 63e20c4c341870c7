//! An RFID reader's settings, as every reader kind takes them: zones, smoothing, direction,
//! filters — validated here so an `llrp-reader` and a simulated one mean the same thing by
//! them. What the reads amount to is decided in `capture::rfid`.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde::Deserialize;

use tracegate_epcis::vocab::{self, Field};

/// Which zone an antenna belongs to: an index into the configured zones.
pub type ZoneId = usize;

/// What the smoother needs to know.
#[derive(Debug, Clone, PartialEq)]
pub struct SmoothingRules {
    /// Sightings weaker than this (dBm) are ignored.
    pub rssi_floor_dbm: f32,
    /// A tag not seen in a zone for this long has left it.
    pub depart_after: Duration,
    /// Most tags tracked at once.
    pub max_tags: usize,
    /// With two zones `(inside, outside)`: decide a direction per pass instead of reporting
    /// each zone.
    pub direction: Option<(ZoneId, ZoneId)>,
    /// How close to its zone's peak (dB) a sighting must be to count as "strong" for the
    /// direction rule.
    pub strong_within_db: f32,
}

/// The reader keys of a `[[devices]]` table: zones, smoothing, direction, filters.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RfidKeys {
    /// Sightings weaker than this are ignored (dBm).
    #[serde(default = "default_floor")]
    pub rssi_floor_dbm: f32,
    /// A tag not seen in a zone for this long has left it.
    #[serde(default = "default_depart")]
    pub depart_after_ms: u64,
    /// Most tags followed at once; more are counted (`tags_over_cap_total`), not followed.
    #[serde(default = "default_max_tags")]
    pub max_tags: usize,
    /// Antennas grouped into named zones; none: one zone, `reader`, of every antenna.
    #[serde(default)]
    pub zones: Vec<ZoneKeys>,
    /// A gate: which zone is inside and which outside, and what each direction records.
    #[serde(default)]
    pub direction: Option<DirectionKeys>,
    /// Only tags of these EPC schemes (`sgtin`, `sscc`, `sgln`, `grai`, `giai`, `gsrn`,
    /// `gsrnp`, `gdti`, `gid`); empty: any.
    #[serde(default)]
    pub epc_schemes: Vec<String>,
    /// Only tags of these GS1 Company Prefixes; empty: any.
    #[serde(default)]
    pub epc_company_prefixes: Vec<String>,
    /// Only tags whose EPC hex starts with this pattern (`x` matches any digit): `"30x4"`.
    #[serde(default)]
    pub epc_hex_mask: Option<String>,
    /// `movements` (default): one event per movement. `raw`: every tag report an event (for
    /// commissioning a gate; a busy reader makes thousands a minute).
    #[serde(default)]
    pub emit: Emit,
}

fn default_floor() -> f32 {
    -80.0
}
fn default_depart() -> u64 {
    2000
}
fn default_max_tags() -> usize {
    10_000
}
fn default_strong() -> f32 {
    6.0
}

/// What a reader's events are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Emit {
    /// One event per movement.
    #[default]
    Movements,
    /// One event per tag report.
    Raw,
}

/// One zone.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneKeys {
    /// Its name, as events (`tg:zone`) and `direction` name it.
    pub name: String,
    /// The antenna ports that watch it.
    pub antennas: Vec<u16>,
    /// readPoint of this zone's events (default: the device's).
    #[serde(default)]
    pub read_point: Option<String>,
    /// bizLocation of this zone's events (default: the device's).
    #[serde(default)]
    pub biz_location: Option<String>,
}

/// A gate's two sides and what each direction records.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectionKeys {
    /// The zone on the building's side.
    pub inside: String,
    /// The zone on the yard's side.
    pub outside: String,
    /// bizStep of a tag that went in.
    #[serde(default = "default_in_step")]
    pub in_biz_step: String,
    /// bizStep of a tag that went out.
    #[serde(default = "default_out_step")]
    pub out_biz_step: String,
    /// disposition of a tag that went in (default: the device's).
    #[serde(default)]
    pub in_disposition: Option<String>,
    /// disposition of a tag that went out (default: the device's).
    #[serde(default)]
    pub out_disposition: Option<String>,
    /// How close to a zone's peak RSSI (dB) a sighting counts as strong (the turned-back test).
    #[serde(default = "default_strong")]
    pub strong_within_db: f32,
}

fn default_in_step() -> String {
    "receiving".into()
}
fn default_out_step() -> String {
    "shipping".into()
}

/// One zone, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    /// Name.
    pub name: String,
    /// readPoint override.
    pub read_point: Option<String>,
    /// bizLocation override.
    pub biz_location: Option<String>,
}

/// What each direction records.
#[derive(Debug, Clone, PartialEq)]
pub struct DirectionSteps {
    /// bizStep in / out.
    pub biz_step: [String; 2],
    /// disposition in / out.
    pub disposition: [Option<String>; 2],
}

/// EPC filters, checked once per tag.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EpcFilter {
    /// Pure-identity scheme names.
    pub schemes: Vec<String>,
    /// Company prefixes.
    pub company_prefixes: Vec<String>,
    /// Upper-case hex nibbles, `None` = any.
    pub mask: Vec<Option<u8>>,
}

impl EpcFilter {
    /// Whether the EPC hex `hex` passes the mask.
    pub fn mask_passes(&self, hex: &[u8]) -> bool {
        self.mask.len() <= hex.len()
            && self
                .mask
                .iter()
                .zip(hex)
                .all(|(m, h)| m.is_none_or(|m| m == h.to_ascii_uppercase()))
    }

    /// Whether a decoded EPC of `scheme` and `company_prefix` passes.
    pub fn id_passes(&self, scheme: &str, company_prefix: &str) -> bool {
        (self.schemes.is_empty() || self.schemes.iter().any(|s| s == scheme))
            && (self.company_prefixes.is_empty()
                || self.company_prefixes.iter().any(|p| p == company_prefix))
    }

    /// Whether it filters on what the EPC decodes to.
    pub fn needs_id(&self) -> bool {
        !self.schemes.is_empty() || !self.company_prefixes.is_empty()
    }
}

/// A reader's validated settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RfidSettings {
    /// Smoothing and direction rules.
    pub rules: SmoothingRules,
    /// The zones.
    pub zones: Vec<Zone>,
    /// Antenna → zone; `None`: every antenna is zone 0.
    pub antenna_zone: Option<HashMap<u16, ZoneId>>,
    /// What crossings record.
    pub steps: Option<DirectionSteps>,
    /// Filters.
    pub filter: EpcFilter,
    /// Movements or raw reads.
    pub emit: Emit,
}

const SCHEMES: [&str; 9] = [
    "sgtin", "sscc", "sgln", "grai", "giai", "gsrn", "gsrnp", "gdti", "gid",
];

impl RfidSettings {
    /// The zone of a sighting on `antenna`, or `None` for an antenna in no zone.
    pub fn zone_of(&self, antenna: Option<u16>) -> Option<ZoneId> {
        match &self.antenna_zone {
            None => Some(0),
            Some(map) => map.get(&antenna?).copied(),
        }
    }

    /// Validates `keys`; an error names the key.
    pub fn from_keys(keys: RfidKeys) -> Result<RfidSettings, (&'static str, String)> {
        if !(-128.0..=0.0).contains(&keys.rssi_floor_dbm) {
            return Err((
                "rssi_floor_dbm",
                "rssi_floor_dbm must be between -128 and 0 dBm".into(),
            ));
        }
        if !(100..=3_600_000).contains(&keys.depart_after_ms) {
            return Err((
                "depart_after_ms",
                "depart_after_ms must be 100 ms to 1 hour".into(),
            ));
        }
        if !(1..=1_000_000).contains(&keys.max_tags) {
            return Err(("max_tags", "max_tags must be 1 to 1000000".into()));
        }
        let mut zones = Vec::new();
        let mut antenna_zone = HashMap::new();
        let mut names = HashSet::new();
        for (i, z) in keys.zones.iter().enumerate() {
            if z.name.trim().is_empty() || z.name.len() > 64 {
                return Err((
                    "zones",
                    format!("zones[{i}].name must be 1 to 64 characters"),
                ));
            }
            if !names.insert(z.name.clone()) {
                return Err(("zones", format!("zone {:?} is named twice", z.name)));
            }
            if z.antennas.is_empty() {
                return Err(("zones", format!("zone {:?} has no antennas", z.name)));
            }
            for a in &z.antennas {
                if antenna_zone.insert(*a, i).is_some() {
                    return Err(("zones", format!("antenna {a} is in two zones")));
                }
            }
            for (key, value) in [
                ("read_point", &z.read_point),
                ("biz_location", &z.biz_location),
            ] {
                if let Some(v) = value
                    && !vocab::is_uri(v)
                {
                    return Err((
                        "zones",
                        format!("zone {:?}: {key} = {v:?} must be a URI", z.name),
                    ));
                }
            }
            zones.push(Zone {
                name: z.name.clone(),
                read_point: z.read_point.clone(),
                biz_location: z.biz_location.clone(),
            });
        }
        let antenna_zone = if zones.is_empty() {
            zones.push(Zone {
                name: "reader".into(),
                read_point: None,
                biz_location: None,
            });
            None
        } else {
            Some(antenna_zone)
        };
        let index = |name: &str| zones.iter().position(|z| z.name == name);
        let (direction, steps, strong) = match &keys.direction {
            None => (None, None, default_strong()),
            Some(d) => {
                let (Some(inside), Some(outside)) = (index(&d.inside), index(&d.outside)) else {
                    return Err((
                        "direction",
                        format!(
                            "direction names zones {:?} and {:?}; the zones are: {}",
                            d.inside,
                            d.outside,
                            zones
                                .iter()
                                .map(|z| z.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                };
                if inside == outside {
                    return Err((
                        "direction",
                        "direction's inside and outside must be two zones".into(),
                    ));
                }
                for (key, field, value) in [
                    ("in_biz_step", Field::BizStep, Some(&d.in_biz_step)),
                    ("out_biz_step", Field::BizStep, Some(&d.out_biz_step)),
                    (
                        "in_disposition",
                        Field::Disposition,
                        d.in_disposition.as_ref(),
                    ),
                    (
                        "out_disposition",
                        Field::Disposition,
                        d.out_disposition.as_ref(),
                    ),
                ] {
                    if let Some(v) = value {
                        vocab::check(field, v)
                            .map_err(|m| ("direction", format!("direction.{key}: {m}")))?;
                    }
                }
                if !(0.0..=40.0).contains(&d.strong_within_db) {
                    return Err((
                        "direction",
                        "direction.strong_within_db must be 0 to 40 dB".into(),
                    ));
                }
                (
                    Some((inside, outside)),
                    Some(DirectionSteps {
                        biz_step: [d.in_biz_step.clone(), d.out_biz_step.clone()],
                        disposition: [d.in_disposition.clone(), d.out_disposition.clone()],
                    }),
                    d.strong_within_db,
                )
            }
        };
        for s in &keys.epc_schemes {
            if !SCHEMES.contains(&s.as_str()) {
                return Err((
                    "epc_schemes",
                    format!(
                        "{s:?} is not an EPC scheme; schemes: {}",
                        SCHEMES.join(", ")
                    ),
                ));
            }
        }
        for p in &keys.epc_company_prefixes {
            if !(6..=12).contains(&p.len()) || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err((
                    "epc_company_prefixes",
                    format!("{p:?} is not a GS1 Company Prefix (6 to 12 digits)"),
                ));
            }
        }
        let mask = match &keys.epc_hex_mask {
            None => Vec::new(),
            Some(m) => m
                .bytes()
                .map(|b| match b {
                    b'x' | b'X' => Ok(None),
                    b if b.is_ascii_hexdigit() => Ok(Some(b.to_ascii_uppercase())),
                    _ => Err(("epc_hex_mask", format!("{m:?}: hex digits and x only"))),
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(RfidSettings {
            rules: SmoothingRules {
                rssi_floor_dbm: keys.rssi_floor_dbm,
                depart_after: Duration::from_millis(keys.depart_after_ms),
                max_tags: keys.max_tags,
                direction,
                strong_within_db: strong,
            },
            zones,
            antenna_zone,
            steps,
            filter: EpcFilter {
                schemes: keys.epc_schemes,
                company_prefixes: keys.epc_company_prefixes,
                mask,
            },
            emit: keys.emit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(toml_text: &str) -> RfidKeys {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn a_gate_resolves_its_zones_and_steps() {
        let s = RfidSettings::from_keys(keys(
            r#"
            zones = [{ name = "inside", antennas = [1, 3] }, { name = "outside", antennas = [2] }]
            direction = { inside = "inside", outside = "outside" }
            epc_hex_mask = "30x4"
            "#,
        ))
        .unwrap();
        assert_eq!(s.zone_of(Some(3)), Some(0));
        assert_eq!(s.zone_of(Some(2)), Some(1));
        assert_eq!(s.zone_of(Some(4)), None);
        assert_eq!(s.rules.direction, Some((0, 1)));
        assert_eq!(s.steps.unwrap().biz_step, ["receiving", "shipping"]);
        assert!(s.filter.mask_passes(b"3034257B"));
        assert!(!s.filter.mask_passes(b"3134257B"));
    }

    #[test]
    fn mistakes_name_their_key() {
        for (text, key) in [
            (
                r#"zones = [{ name = "a", antennas = [1] }, { name = "b", antennas = [1] }]"#,
                "zones",
            ),
            (
                r#"direction = { inside = "a", outside = "b" }"#,
                "direction",
            ),
            (
                r#"zones = [{ name = "a", antennas = [1] }, { name = "b", antennas = [2] }]
                   direction = { inside = "a", outside = "b", in_biz_step = "recieving" }"#,
                "direction",
            ),
            (r#"epc_schemes = ["sgtn"]"#, "epc_schemes"),
            (
                r#"epc_company_prefixes = ["06141A"]"#,
                "epc_company_prefixes",
            ),
            (r#"epc_hex_mask = "30-4""#, "epc_hex_mask"),
            ("depart_after_ms = 5", "depart_after_ms"),
        ] {
            assert_eq!(
                RfidSettings::from_keys(keys(text)).unwrap_err().0,
                key,
                "{text}"
            );
        }
        let e = RfidSettings::from_keys(keys(
            r#"zones = [{ name = "a", antennas = [1] }, { name = "b", antennas = [2] }]
               direction = { inside = "a", outside = "b", in_biz_step = "recieving" }"#,
        ))
        .unwrap_err();
        assert!(e.1.contains("did you mean receiving"), "{}", e.1);
    }
}
