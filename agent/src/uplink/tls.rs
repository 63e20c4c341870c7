//! TLS to the broker or the EPCIS repository with rustls: the configured CA pinned (no
//! system roots), optional client certificate; and the commissioning page's server
//! certificate ([`server_config`]). Key material is read from files at each connect, so rotated certificates are
//! picked up without a restart, and is never logged.

use std::sync::Arc;

use rustls::{ClientConfig, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::TlsConfig;

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or parsed.
    #[error("{section}.{key}: {path}: {message}")]
    File {
        /// The config table (`mqtt.tls`, `epcis.tls`, `web`).
        section: &'static str,
        /// The config key.
        key: &'static str,
        /// The file.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// rustls refused the material (e.g. key does not match certificate).
    #[error("{0}: {1}")]
    Rustls(&'static str, rustls::Error),
}

fn file_error(
    section: &'static str,
    key: &'static str,
    path: &std::path::Path,
    message: impl ToString,
) -> TlsError {
    TlsError::File {
        section,
        key,
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

/// The PEM certificates in `path` (at least one), the file of `{section}.{key}`.
fn certificates(
    section: &'static str,
    key: &'static str,
    path: &std::path::Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(section, key, path, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_error(section, key, path, e))?;
    if certs.is_empty() {
        return Err(file_error(
            section,
            key,
            path,
            "no PEM certificate in the file",
        ));
    }
    Ok(certs)
}

/// The commissioning page's rustls server config: the PEM chain and key of `[web]`
/// `certificate` and `private_key`, the same provider and protocol versions as MQTT's.
pub fn server_config(
    certificate: &std::path::Path,
    private_key: &std::path::Path,
) -> Result<ServerConfig, TlsError> {
    let chain = certificates("web", "certificate", certificate)?;
    let key = PrivateKeyDer::from_pem_file(private_key)
        .map_err(|e| file_error("web", "private_key", private_key, e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key))
        .map_err(|e| TlsError::Rustls("web", e))
}

/// Builds the rustls client config for `tls`, the `[{section}]` table (`mqtt.tls`,
/// `epcis.tls`).
pub fn client_config(section: &'static str, tls: &TlsConfig) -> Result<ClientConfig, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for ca in certificates(section, "ca", &tls.ca)? {
        roots
            .add(ca)
            .map_err(|e| file_error(section, "ca", &tls.ca, e))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Rustls(section, e))?
        .with_root_certificates(roots);
    let config = match (&tls.cert, &tls.key) {
        (Some(cert), Some(key)) => {
            let chain = certificates(section, "cert", cert)?;
            let key_der = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| file_error(section, "key", key, e))?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| TlsError::Rustls(section, e))?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(config)
}
