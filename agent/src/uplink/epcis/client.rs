//! The HTTP side of the repository uplink: one `reqwest` client (rustls, the CA pinned as for
//! MQTT), the credential on every request, the EPCIS headers on every capture.

use std::time::Duration;

use reqwest::Url;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};

use super::answer::{AnnouncedLimits, JobAnswer, PostAnswer, job_answer, post_answer};
use crate::config::{EpcisAuth, EpcisConfig};
use crate::uplink::tls::client_config;

/// The EPCIS and CBV versions tracegate writes (EPCIS 2.0, CBV 2.0).
const EPCIS_VERSION: &str = "2.0.0";
const CBV_VERSION: &str = "2.0.0";

/// No answer at all: the repository is unreachable (or too slow).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unreachable(pub String);

impl From<reqwest::Error> for Unreachable {
    fn from(e: reqwest::Error) -> Self {
        // reqwest's Display leaves out the cause ("error sending request"); the chain says it.
        let mut text = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        Unreachable(text)
    }
}

/// What `OPTIONS /capture` said.
#[derive(Debug, Clone, PartialEq)]
pub enum OptionsAnswer {
    /// The limits it announced (none are required).
    Limits(AnnouncedLimits),
    /// 401 or 403.
    Refused(u16, String),
    /// Another status: the limits stay ours (a repository may not implement OPTIONS).
    Other(u16),
}

/// The repository's capture interface, as one HTTP client.
pub struct Client {
    http: reqwest::Client,
    capture: Url,
    auth: Option<(HeaderName, HeaderValue)>,
}

impl Client {
    /// A client for `config` (its TLS files are read now: a rotated certificate is taken at
    /// the next reconnect, which builds a new client).
    pub fn new(config: &EpcisConfig) -> Result<Self, String> {
        let capture = Url::parse(&config.capture_url()).map_err(|e| format!("epcis.url: {e}"))?;
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.request_timeout_s))
            .connect_timeout(Duration::from_secs(config.request_timeout_s.min(10)))
            // A job's Location is followed by us, not by the client; nothing else redirects.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("tracegate/", env!("CARGO_PKG_VERSION")))
            .pool_idle_timeout(Duration::from_secs(60))
            .http1_only();
        // reqwest is built without a crypto provider of its own: it is always handed a
        // rustls config (ring, as for MQTT). Without [epcis.tls] the URL is http:// (config
        // refuses https:// without a CA), and the config, trusting nothing, is never used.
        let mut tls = match &config.tls {
            Some(tls) => client_config("epcis.tls", tls).map_err(|e| e.to_string())?,
            None => rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("epcis: {e}"))?
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth(),
        };
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        builder = builder.use_preconfigured_tls(tls);
        let http = builder
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Client {
            http,
            capture,
            auth: auth_header(&config.auth)?,
        })
    }

    /// The capture endpoint.
    pub fn capture_url(&self) -> &Url {
        &self.capture
    }

    fn with_auth(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.auth {
            Some((name, value)) => request.header(name.clone(), value.clone()),
            None => request,
        }
    }

    /// `OPTIONS /capture`: the limits the repository announces.
    pub async fn options(&self) -> Result<OptionsAnswer, Unreachable> {
        let response = self
            .with_auth(
                self.http
                    .request(reqwest::Method::OPTIONS, self.capture.clone()),
            )
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok(match status {
            200..=299 => OptionsAnswer::Limits(AnnouncedLimits::from_headers(response.headers())),
            401 | 403 => {
                let body = response.bytes().await.unwrap_or_default();
                OptionsAnswer::Refused(
                    status,
                    super::answer::Problem::from_body(status, &body).words(),
                )
            }
            _ => OptionsAnswer::Other(status),
        })
    }

    /// `POST /capture` with `document` as `content_type`, under `rollback`.
    pub async fn post(
        &self,
        document: Vec<u8>,
        content_type: &'static str,
    ) -> Result<PostAnswer, Unreachable> {
        let response = self
            .with_auth(self.http.post(self.capture.clone()))
            .header(CONTENT_TYPE, content_type)
            .header("GS1-EPCIS-Version", EPCIS_VERSION)
            .header("GS1-CBV-Version", CBV_VERSION)
            .header("GS1-Capture-Error-Behaviour", "rollback")
            .body(document)
            .send()
            .await?;
        let status = response.status().as_u16();
        let headers: HeaderMap = response.headers().clone();
        let body = response.bytes().await?;
        Ok(post_answer(&self.capture, status, &headers, &body))
    }

    /// `GET` on a capture job.
    pub async fn job(&self, location: &Url) -> Result<JobAnswer, Unreachable> {
        let response = self
            .with_auth(self.http.get(location.clone()))
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await?;
        let status = response.status().as_u16();
        let body = response.bytes().await?;
        Ok(job_answer(status, &body))
    }
}

/// The header that carries `auth` (sensitive: never in a debug print).
fn auth_header(auth: &EpcisAuth) -> Result<Option<(HeaderName, HeaderValue)>, String> {
    use base64::Engine;
    let value = |text: String, key: &str| {
        let mut value = HeaderValue::from_str(&text)
            .map_err(|_| format!("{key}: the secret holds characters an HTTP header cannot"))?;
        value.set_sensitive(true);
        Ok::<_, String>(value)
    };
    Ok(match auth {
        EpcisAuth::None => None,
        EpcisAuth::Basic { username, password } => {
            let password = password.as_ref().map(|p| p.expose()).unwrap_or("");
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
            Some((
                AUTHORIZATION,
                value(format!("Basic {token}"), "epcis.password_file")?,
            ))
        }
        EpcisAuth::Bearer(token) => Some((
            AUTHORIZATION,
            value(
                format!(
                    "Bearer {}",
                    token.as_ref().map(|t| t.expose()).unwrap_or("")
                ),
                "epcis.token_file",
            )?,
        )),
        EpcisAuth::Header {
            name,
            value: secret,
        } => Some((
            HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("epcis.header.name = {name:?} is not a header name"))?,
            value(
                secret
                    .as_ref()
                    .map(|s| s.expose())
                    .unwrap_or("")
                    .to_string(),
                "epcis.header.value_file",
            )?,
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    #[test]
    fn basic_auth_is_rfc_7617() {
        let (name, value) = auth_header(&EpcisAuth::Basic {
            username: "Aladdin".into(),
            password: Some(Secret::new("open sesame".into())),
        })
        .unwrap()
        .unwrap();
        assert_eq!(name, AUTHORIZATION);
        // RFC 7617 §2's example.
        assert_eq!(
            value.to_str().unwrap(),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert!(value.is_sensitive());
    }

    #[test]
    fn bearer_and_api_key_headers() {
        let (_, bearer) = auth_header(&EpcisAuth::Bearer(Some(Secret::new("t0k".into()))))
            .unwrap()
            .unwrap();
        assert_eq!(bearer.to_str().unwrap(), "Bearer t0k");
        let (name, key) = auth_header(&EpcisAuth::Header {
            name: "API-KEY".into(),
            value: Some(Secret::new("k3y".into())),
        })
        .unwrap()
        .unwrap();
        assert_eq!(name.as_str(), "api-key");
        assert_eq!(key.to_str().unwrap(), "k3y");
        assert!(auth_header(&EpcisAuth::Bearer(Some(Secret::new("a\nb".into())))).is_err());
    }
}
