//! `[web]`: the commissioning page, off unless this section is present.
//!
//! ```toml
//! [web]
//! listen = "127.0.0.1:8080"          # loopback by default
//! # password_file = "web-password"   # required for any non-loopback address
//! # certificate = "web.crt"          # HTTPS when both are given (PEM chain)
//! # private_key = "web.key"
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, Ctx, Secret, read_secret_file, resolve_path};

/// Where the page is served when `[web]` gives no `listen`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// `[web]`.
#[derive(Debug, Clone, Default)]
pub struct WebConfig {
    /// Where the page is served; `None` (no `[web]` section) turns it off.
    pub listen: Option<SocketAddr>,
    /// The operator's password (read from `password_file` at load). Without one, actions
    /// are allowed to anyone who can reach the loopback listener (local users).
    pub password: Option<Secret>,
    /// HTTPS: the PEM certificate chain and private key (both, or neither).
    pub tls: Option<WebTls>,
}

/// The page's HTTPS certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebTls {
    /// PEM certificate chain, the server's certificate first.
    pub certificate: PathBuf,
    /// PEM private key (read at start; never logged).
    pub private_key: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWeb {
    #[serde(default)]
    listen: Option<Spanned<String>>,
    #[serde(default)]
    password_file: Option<Spanned<PathBuf>>,
    #[serde(default)]
    certificate: Option<Spanned<PathBuf>>,
    #[serde(default)]
    private_key: Option<Spanned<PathBuf>>,
}

impl RawWeb {
    /// A listener off the gateway itself must have a password: the page can change outputs,
    /// print labels and reload the config.
    pub(super) fn validate(
        self,
        ctx: &Ctx<'_>,
        base: &std::path::Path,
    ) -> Result<WebConfig, ConfigError> {
        let (text, span) = match &self.listen {
            Some(l) => (l.get_ref().as_str(), Some(l.span())),
            None => (DEFAULT_LISTEN, None),
        };
        let addr: SocketAddr = text.parse().map_err(|_| {
            ctx.error(
                span.clone(),
                format!(
                    "web.listen = {text:?} is not an address and port; write \"{DEFAULT_LISTEN}\" (this gateway only) or \"0.0.0.0:8080\" (the LAN, with web.password_file)"
                ),
            )
        })?;
        let password = match &self.password_file {
            None => None,
            Some(file) => read_secret_file(ctx, base, "web.password_file", "web-password", file)?,
        };
        if !addr.ip().is_loopback() && self.password_file.is_none() {
            return Err(ctx.error(
                span,
                format!(
                    "web.listen = {text:?} is reachable from the network, and the page can switch outputs, print and reload: give web.password_file (a file holding the operator's password), or listen on \"{DEFAULT_LISTEN}\""
                ),
            ));
        }
        let tls = match (self.certificate, self.private_key) {
            (None, None) => None,
            (Some(certificate), Some(private_key)) => Some(WebTls {
                certificate: resolve_path(base, certificate.get_ref()),
                private_key: resolve_path(base, private_key.get_ref()),
            }),
            (Some(one), None) | (None, Some(one)) => {
                return Err(ctx.error(
                    Some(one.span()),
                    "web.certificate and web.private_key go together: give both (PEM files) for HTTPS, or neither".into(),
                ));
            }
        };
        Ok(WebConfig {
            listen: Some(addr),
            password,
            tls,
        })
    }
}
