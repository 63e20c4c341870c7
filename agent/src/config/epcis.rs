//! `[epcis]`: deliver events straight to an EPCIS 2.0 repository's REST capture interface
//! (GS1 EPCIS 2.0 §12, the REST bindings' `POST /capture`) instead of an MQTT broker.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, Ctx, RawTls, Secret, TlsConfig, read_secret_file, validate_tls};

/// `[epcis]`: the repository events go to.
#[derive(Debug, Clone)]
pub struct EpcisConfig {
    /// The REST interface's base (always ending in `/`); events go to `{url}capture`.
    pub url: String,
    /// How the gateway proves who it is (the standard leaves it to the repository).
    pub auth: EpcisAuth,
    /// TLS settings for an `https://` URL; the system's roots are not used, as for MQTT.
    pub tls: Option<TlsConfig>,
    /// The content type documents are posted with first (`application/json`, the
    /// OpenAPI's; a 415 answer switches to `application/ld+json` and back).
    pub content_type: String,
    /// Most events in one capture request (the repository's `GS1-EPCIS-Capture-Limit`
    /// lowers it).
    pub batch_max_events: usize,
    /// Most octets in one capture request (the repository's
    /// `GS1-EPCIS-Capture-File-Size-Limit` lowers it).
    pub batch_max_bytes: usize,
    /// Seconds one HTTP request may take before it counts as failed.
    pub request_timeout_s: u64,
    /// Seconds a capture job may stay `running` before the batch is sent again.
    pub job_timeout_s: u64,
    /// First retry delay in milliseconds (doubles, with jitter, up to `retry_max_s`).
    pub retry_min_ms: u64,
    /// Longest retry delay in seconds.
    pub retry_max_s: u64,
}

/// The credential sent with every request.
#[derive(Debug, Clone, PartialEq)]
pub enum EpcisAuth {
    /// No credential (a repository on a trusted network).
    None,
    /// HTTP Basic (RFC 7617), as FasTnT uses.
    Basic {
        /// `epcis.username`.
        username: String,
        /// Read from `epcis.password_file`; `None` for tools that never connect.
        password: Option<Secret>,
    },
    /// `Authorization: Bearer …` (RFC 6750), as OpenEPCIS uses; from `epcis.token_file`.
    Bearer(Option<Secret>),
    /// A header of the repository's choosing (an API key).
    Header {
        /// The header's name (`API-KEY`, say).
        name: String,
        /// Read from `epcis.header.value_file`.
        value: Option<Secret>,
    },
}

impl EpcisConfig {
    /// The capture endpoint: `{url}capture`.
    pub fn capture_url(&self) -> String {
        format!("{}capture", self.url)
    }
}

/// `[epcis]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEpcis {
    url: Spanned<String>,
    #[serde(default)]
    username: Option<Spanned<String>>,
    #[serde(default)]
    password_file: Option<Spanned<PathBuf>>,
    #[serde(default)]
    token_file: Option<Spanned<PathBuf>>,
    #[serde(default)]
    header: Option<Spanned<RawHeader>>,
    /// Refused with a pointer to `password_file`: a secret does not belong in the config.
    #[serde(default)]
    password: Option<Spanned<toml::Value>>,
    /// Refused with a pointer to `token_file`.
    #[serde(default)]
    token: Option<Spanned<toml::Value>>,
    #[serde(default)]
    tls: Option<Spanned<RawTls>>,
    #[serde(default)]
    content_type: Option<Spanned<String>>,
    #[serde(default = "default_batch_max_events")]
    batch_max_events: Spanned<usize>,
    #[serde(default = "default_batch_max_bytes")]
    batch_max_bytes: Spanned<bytesize::ByteSize>,
    #[serde(default = "default_request_timeout_s")]
    request_timeout_s: Spanned<u64>,
    #[serde(default = "default_job_timeout_s")]
    job_timeout_s: Spanned<u64>,
    #[serde(default = "default_retry_min_ms")]
    retry_min_ms: u64,
    #[serde(default = "default_retry_max_s")]
    retry_max_s: u64,
}

/// `epcis.header = { name = "API-KEY", value_file = "…" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHeader {
    name: String,
    value_file: Spanned<PathBuf>,
}

fn default_batch_max_events() -> Spanned<usize> {
    Spanned::new(0..0, 500)
}
fn default_batch_max_bytes() -> Spanned<bytesize::ByteSize> {
    Spanned::new(0..0, bytesize::ByteSize::mib(1))
}
fn default_request_timeout_s() -> Spanned<u64> {
    Spanned::new(0..0, 30)
}
fn default_job_timeout_s() -> Spanned<u64> {
    Spanned::new(0..0, 300)
}
fn default_retry_min_ms() -> u64 {
    500
}
fn default_retry_max_s() -> u64 {
    60
}

/// The two JSON content types repositories take for an EPCISDocument.
pub const CONTENT_TYPES: [&str; 2] = ["application/json", "application/ld+json"];

impl RawEpcis {
    pub(crate) fn validate(self, ctx: &Ctx<'_>, base: &Path) -> Result<EpcisConfig, ConfigError> {
        let url = check_url(self.url.get_ref()).map_err(|why| {
            ctx.error(
                Some(self.url.span()),
                format!("epcis.url = {:?}: {why}", self.url.get_ref()),
            )
        })?;
        for (key, value, file_key) in [
            ("password", &self.password, "password_file"),
            ("token", &self.token, "token_file"),
        ] {
            if let Some(value) = value {
                return Err(ctx.error(
                    Some(value.span()),
                    format!(
                        "epcis.{key}: a secret is not written in the config file (it is read by \
                         every tool and copied into backups); put it in a file readable only by \
                         the tracegate user and name that file with epcis.{file_key}"
                    ),
                ));
            }
        }
        let ways = [
            self.password_file.is_some() || self.username.is_some(),
            self.token_file.is_some(),
            self.header.is_some(),
        ];
        if ways.iter().filter(|w| **w).count() > 1 {
            return Err(ctx.error(
                Some(self.url.span()),
                "[epcis]: give one way to authenticate: username with password_file (HTTP \
                 Basic), token_file (Bearer) or header (an API key), not several"
                    .into(),
            ));
        }
        let auth = match (
            self.username,
            self.password_file,
            self.token_file,
            self.header,
        ) {
            (Some(username), Some(file), None, None) => EpcisAuth::Basic {
                username: username.into_inner(),
                password: read_secret_file(
                    ctx,
                    base,
                    "epcis.password_file",
                    "epcis-password",
                    &file,
                )?,
            },
            (None, Some(file), None, None) => {
                return Err(ctx.error(
                    Some(file.span()),
                    "epcis.password_file is set but epcis.username is not: HTTP Basic sends \
                     both"
                        .into(),
                ));
            }
            (Some(username), None, None, None) => {
                return Err(ctx.error(
                    Some(username.span()),
                    "epcis.username is set but epcis.password_file is not: name the file that \
                     holds the password"
                        .into(),
                ));
            }
            (None, None, Some(file), None) => EpcisAuth::Bearer(read_secret_file(
                ctx,
                base,
                "epcis.token_file",
                "epcis-token",
                &file,
            )?),
            (None, None, None, Some(header)) => {
                let span = header.span();
                let header = header.into_inner();
                reqwest::header::HeaderName::from_bytes(header.name.as_bytes()).map_err(|_| {
                    ctx.error(
                        Some(span.clone()),
                        format!(
                            "epcis.header.name = {:?} is not an HTTP header name (letters, \
                             digits and - only)",
                            header.name
                        ),
                    )
                })?;
                EpcisAuth::Header {
                    name: header.name,
                    value: read_secret_file(
                        ctx,
                        base,
                        "epcis.header.value_file",
                        "epcis-header",
                        &header.value_file,
                    )?,
                }
            }
            _ => EpcisAuth::None,
        };
        let tls = match self.tls {
            None => None,
            Some(tls) => {
                if url.starts_with("http://") {
                    return Err(ctx.error(
                        Some(tls.span()),
                        "[epcis.tls] is set but epcis.url is http://: use https:// for TLS, or \
                         remove [epcis.tls]"
                            .into(),
                    ));
                }
                Some(validate_tls(ctx, base, "epcis", tls)?)
            }
        };
        if tls.is_none() && url.starts_with("https://") {
            return Err(ctx.error(
                Some(self.url.span()),
                "epcis.url is https:// but [epcis.tls] is not set: give [epcis.tls] ca = the \
                 PEM file of the CA that signed the repository's certificate (for a repository \
                 with a public certificate, the system bundle \
                 \"/etc/ssl/certs/ca-certificates.crt\"); tracegate trusts no CA it is not told to"
                    .into(),
            ));
        }
        let content_type = match self.content_type {
            None => CONTENT_TYPES[0].to_string(),
            Some(t) if CONTENT_TYPES.contains(&t.get_ref().as_str()) => t.into_inner(),
            Some(t) => {
                return Err(ctx.error(
                    Some(t.span()),
                    format!(
                        "epcis.content_type = {:?}: give \"application/json\" or \
                         \"application/ld+json\"",
                        t.get_ref()
                    ),
                ));
            }
        };
        if !(1..=100_000).contains(self.batch_max_events.get_ref()) {
            return Err(ctx.error(
                Some(self.batch_max_events.span()),
                "epcis.batch_max_events must be between 1 and 100000".into(),
            ));
        }
        let batch_max_bytes = self.batch_max_bytes.get_ref().as_u64();
        if !(16 * 1024..=64 * 1024 * 1024).contains(&batch_max_bytes) {
            return Err(ctx.error(
                Some(self.batch_max_bytes.span()),
                "epcis.batch_max_bytes must be between 16KiB and 64MiB".into(),
            ));
        }
        if !(1..=3600).contains(self.request_timeout_s.get_ref()) {
            return Err(ctx.error(
                Some(self.request_timeout_s.span()),
                "epcis.request_timeout_s must be between 1 and 3600".into(),
            ));
        }
        if !(1..=86_400).contains(self.job_timeout_s.get_ref()) {
            return Err(ctx.error(
                Some(self.job_timeout_s.span()),
                "epcis.job_timeout_s must be between 1 and 86400".into(),
            ));
        }
        Ok(EpcisConfig {
            url,
            auth,
            tls,
            content_type,
            batch_max_events: self.batch_max_events.into_inner(),
            batch_max_bytes: batch_max_bytes as usize,
            request_timeout_s: self.request_timeout_s.into_inner(),
            job_timeout_s: self.job_timeout_s.into_inner(),
            retry_min_ms: self.retry_min_ms.max(10),
            retry_max_s: self.retry_max_s.max(1),
        })
    }
}

/// `url` as the base of the REST interface (with a trailing `/`), or why it cannot be one.
fn check_url(url: &str) -> Result<String, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| {
        format!("not a URL ({e}); write the repository's base, e.g. \"https://epcis.example.com/\"")
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "the scheme {:?} is not http or https",
            parsed.scheme()
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("it names no host".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(
            "credentials do not belong in the URL: use epcis.username and epcis.password_file"
                .into(),
        );
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err("the base URL takes no query or fragment; events go to {url}capture".into());
    }
    if parsed.path().ends_with("/capture") || parsed.path().ends_with("/capture/") {
        return Err(
            "give the interface's base, not the capture endpoint: events go to {url}capture".into(),
        );
    }
    let mut base = parsed.to_string();
    if !base.ends_with('/') {
        base.push('/');
    }
    Ok(base)
}

#[cfg(test)]
mod tests {
    use super::check_url;

    #[test]
    fn a_base_url_gets_its_slash_and_wrong_ones_say_why() {
        assert_eq!(
            check_url("https://epcis.example.com").unwrap(),
            "https://epcis.example.com/"
        );
        assert_eq!(
            check_url("http://127.0.0.1:8090/epcis").unwrap(),
            "http://127.0.0.1:8090/epcis/"
        );
        assert!(
            check_url("epcis.example.com")
                .unwrap_err()
                .contains("not a URL")
        );
        assert!(check_url("ftp://x/").unwrap_err().contains("scheme"));
        assert!(
            check_url("https://u:p@x/")
                .unwrap_err()
                .contains("credentials")
        );
        assert!(check_url("https://x/?a=1").unwrap_err().contains("query"));
        assert!(check_url("https://x/capture").unwrap_err().contains("base"));
    }
}
