//! `[identifiers]`: how identifiers are written in events, and the GS1 Company Prefix lengths
//! that EPC URIs need.
//!
//! ```toml
//! [identifiers]
//! uri_form = "epc"                   # or "digital-link" (https://id.gs1.org/01/…/21/…)
//! national_uri = "resolver"          # MA codes and handles as their resolution URLs, or "tracegate"
//! gcp_length_table = "/etc/tracegate/gcpprefixformatlist.xml"   # default: the built-in list
//! [identifiers.gcp_lengths]          # prefixes the table does not know (yet)
//! "9526110" = 7
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// `[identifiers]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentifiersConfig {
    /// EPC URIs (`urn:epc:id:sgtin:…`) or GS1 Digital Link URIs in events.
    #[serde(default)]
    pub uri_form: UriForm,
    /// GS1's GCP length table (XML or JSON as downloaded from gs1.org, optionally gzipped),
    /// replacing the built-in copy. Relative to the config file.
    #[serde(default)]
    pub gcp_length_table: Option<PathBuf>,
    /// Company prefix → its length, checked before the table.
    #[serde(default)]
    pub gcp_lengths: BTreeMap<String, u8>,
    /// How MA codes and handles are written in events.
    #[serde(default)]
    pub national_uri: NationalUri,
}

/// How identifiers of China's other systems (MA codes, handles) are written in events: no URN
/// scheme exists for them, and EPCIS 2.0 takes any URI.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NationalUri {
    /// The issuer's resolution URL, the form printed on the product and dereferenceable by
    /// anyone who receives the event: `http://s.idcode.org.cn/?code=MA.…` (the MA issuer's
    /// resolver), `https://hdl.handle.net/88.…/…` (the Handle.Net proxy).
    #[default]
    Resolver,
    /// tracegate's namespace, as for the drug and ear-tag codes
    /// (`https://ns.tracegate.dev/id/cn-ma/…`, `…/cn-handle/…`): independent of any resolver
    /// host, for repositories that must not hold third-party URLs.
    Tracegate,
}

/// How GS1 identifiers are written in events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UriForm {
    /// EPC pure-identity and class URIs (`urn:epc:id:sgtin:…`, `urn:epc:class:lgtin:…`); the
    /// Digital Link form where the company prefix length is unknown.
    #[default]
    Epc,
    /// Canonical GS1 Digital Link URIs on `https://id.gs1.org` (EPCIS 2.0 §8.2.2).
    DigitalLink,
}

impl IdentifiersConfig {
    /// Checks the overrides; the error names the prefix.
    pub(super) fn validate(&self) -> Result<(), String> {
        for (prefix, len) in &self.gcp_lengths {
            if prefix.is_empty() || prefix.len() > 12 || !prefix.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(format!(
                    "identifiers.gcp_lengths: {prefix:?} is not a digit prefix of up to 12 digits"
                ));
            }
            if !(6..=12).contains(len) {
                return Err(format!(
                    "identifiers.gcp_lengths.{prefix} = {len}: a GS1 Company Prefix has 6 to 12 digits"
                ));
            }
        }
        Ok(())
    }
}

/// `[clock]`: when the wall clock can be trusted for eventTime.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockConfig {
    /// How to tell that the clock is right.
    #[serde(default)]
    pub sync_check: SyncCheck,
    /// Longest a read is held while the clock is not synchronised; past it, the read is
    /// published with its own (unsynchronised) time, flagged `tg:timeEstimated`. Absent
    /// (default): held until the clock is synchronised, whenever that is — a field kit that
    /// syncs when it comes back online gets exact times. Set it on a gateway that may never
    /// see NTP but whose clock is roughly right, where late and flagged beats never.
    #[serde(default)]
    pub max_hold_s: Option<u64>,
}

/// How the daemon decides the wall clock is right.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SyncCheck {
    /// The kernel's NTP status (adjtimex) must say synchronised — what systemd-timesyncd and
    /// chrony set. For gateways without a real-time clock.
    #[default]
    Kernel,
    /// Trust the wall clock (a battery-backed RTC, or a container whose host keeps time).
    Trust,
}

impl SyncCheck {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncCheck::Kernel => "kernel",
            SyncCheck::Trust => "trust",
        }
    }
}
