//! Validated config values: each checks itself while it is deserialized, so a bad value is
//! reported with the exact line of the key.

use serde::Deserialize;

/// The gateway id: one MQTT topic level, printable, at most 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct GatewayId(String);

impl GatewayId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for GatewayId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        check_topic_level(&s, "gateway.id")?;
        Ok(GatewayId(s))
    }
}

impl std::fmt::Display for GatewayId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks that `s` can be one MQTT topic level and a readable id; the error names `key`.
pub fn check_topic_level(s: &str, key: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 64 {
        return Err(format!("{key} must be 1 to 64 characters"));
    }
    if let Some(c) = s
        .chars()
        .find(|c| matches!(c, '/' | '+' | '#') || c.is_control() || c.is_whitespace())
    {
        return Err(format!(
            "{key} = {s:?} contains {c:?}; use letters, digits, '-', '_' or '.' (it becomes an MQTT topic level)"
        ));
    }
    Ok(())
}

/// The MQTT topic prefix: one or more topic levels without wildcards.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct TopicPrefix(String);

impl TopicPrefix {
    /// The prefix as text, without a trailing `/`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for TopicPrefix {
    fn default() -> Self {
        TopicPrefix("tracegate".into())
    }
}

impl TryFrom<String> for TopicPrefix {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s.is_empty() || s.starts_with('/') || s.ends_with('/') || s.contains("//") {
            return Err(format!(
                "mqtt.topic_prefix = {s:?}: use topic levels separated by '/', without a leading or trailing '/'"
            ));
        }
        if s.contains(['+', '#', '\0']) {
            return Err(format!(
                "mqtt.topic_prefix = {s:?} contains an MQTT wildcard ('+' or '#')"
            ));
        }
        Ok(TopicPrefix(s))
    }
}

/// What the outbox does with a new event when it is full.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WhenFull {
    /// Refuse the new read (negative operator feedback); keep everything already captured.
    #[default]
    RefuseNew,
    /// Delete the oldest undelivered event to make room.
    DropOldest,
}

impl WhenFull {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            WhenFull::RefuseNew => "refuse-new",
            WhenFull::DropOldest => "drop-oldest",
        }
    }
}

/// A URI used as an EPCIS identifier (readPoint, bizLocation, …): `scheme:rest`, no spaces.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct EpcisUri(String);

impl EpcisUri {
    /// The URI as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for EpcisUri {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let scheme_ok = s.split_once(':').is_some_and(|(scheme, rest)| {
            !scheme.is_empty()
                && !rest.is_empty()
                && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        });
        if !scheme_ok || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "{s:?} is not a URI; EPCIS identifiers look like urn:epc:id:sgln:0614141.00777.0 or https://id.gs1.org/414/0614141007770"
            ));
        }
        Ok(EpcisUri(s))
    }
}

/// A secret read from a file: never printed by `Debug` or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: String) -> Self {
        Secret(value)
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// One node of the broker (cluster) the uplink may connect to (`mqtt.host` / `port`, or an
/// entry of `mqtt.failover_hosts`, checked once `port` is known, since it is the default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerNode {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
}

impl std::fmt::Display for BrokerNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl BrokerNode {
    /// Parses `host`, `host:port`, `[v6]` or `[v6]:port`; without a port, `default_port`.
    pub fn parse(text: &str, default_port: u16) -> Result<BrokerNode, String> {
        let text = text.trim();
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (host, after) = rest
                .split_once(']')
                .ok_or_else(|| format!("{text:?}: an IPv6 address needs its closing `]`"))?;
            match after {
                "" => (host, None),
                _ => match after.strip_prefix(':') {
                    Some(port) => (host, Some(port)),
                    None => return Err(format!("{text:?}: write [address]:port")),
                },
            }
        } else {
            match text.split_once(':') {
                Some((host, port)) if !port.contains(':') => (host, Some(port)),
                Some(_) => {
                    return Err(format!(
                        "{text:?}: write an IPv6 address in brackets, [address]:port"
                    ));
                }
                None => (text, None),
            }
        };
        if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c == '/') {
            return Err(format!("{text:?}: not a host name or address"));
        }
        let port = match port {
            None => default_port,
            Some(p) => match p.parse::<u16>() {
                Ok(p) if p > 0 => p,
                _ => return Err(format!("{text:?}: the port must be 1 to 65535")),
            },
        };
        Ok(BrokerNode {
            host: host.to_string(),
            port,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_id_must_be_one_topic_level() {
        assert!(GatewayId::try_from("gw-dock-01".to_string()).is_ok());
        for bad in ["", "a/b", "a+b", "a#", "a b", &"x".repeat(65)] {
            assert!(GatewayId::try_from(bad.to_string()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn topic_prefix_rejects_wildcards_and_stray_slashes() {
        assert!(TopicPrefix::try_from("acme/edge".to_string()).is_ok());
        for bad in ["", "/a", "a/", "a//b", "a/+", "#"] {
            assert!(TopicPrefix::try_from(bad.to_string()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn epcis_uri_needs_a_scheme_and_no_spaces() {
        assert!(EpcisUri::try_from("urn:epc:id:sgln:0614141.00777.0".to_string()).is_ok());
        assert!(EpcisUri::try_from("https://id.gs1.org/414/0614141007770".to_string()).is_ok());
        for bad in ["sgln", ":x", "urn:epc id", "1urn:x"] {
            assert!(EpcisUri::try_from(bad.to_string()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn secret_debug_hides_the_value() {
        assert_eq!(
            format!("{:?}", Secret::new("hunter2".into())),
            "Secret(***)"
        );
    }
}
