//! `[metrics]`: the Prometheus endpoint, off unless this section is present.
//!
//! ```toml
//! [metrics]
//! listen = "127.0.0.1:9180"    # GET http://127.0.0.1:9180/metrics — loopback only
//! ```

use std::net::SocketAddr;

use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, Ctx};

/// `[metrics]`.
#[derive(Debug, Clone, Default)]
pub struct MetricsConfig {
    /// Where `/metrics` is served; `None` (no `[metrics]` section) turns the endpoint off.
    pub listen: Option<SocketAddr>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetrics {
    listen: Spanned<String>,
}

impl RawMetrics {
    /// The endpoint must be loopback: it is unauthenticated and names the site's devices.
    pub(super) fn validate(self, ctx: &Ctx<'_>) -> Result<MetricsConfig, ConfigError> {
        let text = self.listen.get_ref();
        let addr: SocketAddr = text.parse().map_err(|_| {
            ctx.error(
                Some(self.listen.span()),
                format!(
                    "metrics.listen = {text:?} is not an address and port; write \"127.0.0.1:9180\""
                ),
            )
        })?;
        if !addr.ip().is_loopback() {
            return Err(ctx.error(
                Some(self.listen.span()),
                format!(
                    "metrics.listen = {text:?}: the metrics endpoint has no authentication, so \
                     it listens on loopback only (127.0.0.1 or [::1]); scrape it with a \
                     Prometheus agent on the gateway, or through an SSH tunnel"
                ),
            ));
        }
        Ok(MetricsConfig { listen: Some(addr) })
    }
}
