//! TLS to the broker or the EPCIS repository with rustls: the configured CA pinned (no
//! system roots), optional client certificate. Key material is read from files at each connect, so rotated certificates are
//! picked up without a restart, and is never logged.

use std::sync::Arc;

use rustls::ClientConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::TlsConfig;

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or parsed.
    #[error("{section}.tls.{key}: {path}: {message}")]
    File {
        /// The config section (`mqtt`, `epcis`).
        section: &'static str,
        /// The config key.
        key: &'static str,
        /// The file.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// rustls refused the material (e.g. key does not match certificate).
    #[error("{0}.tls: {1}")]
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

/// Builds the rustls client config for `tls`, the `[{section}.tls]` table.
pub fn client_config(section: &'static str, tls: &TlsConfig) -> Result<ClientConfig, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    let cas: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&tls.ca)
        .map_err(|e| file_error(section, "ca", &tls.ca, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_error(section, "ca", &tls.ca, e))?;
    if cas.is_empty() {
        return Err(file_error(
            section,
            "ca",
            &tls.ca,
            "no PEM certificate in the file",
        ));
    }
    for ca in cas {
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
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
                .map_err(|e| file_error(section, "cert", cert, e))?
                .collect::<Result<_, _>>()
                .map_err(|e| file_error(section, "cert", cert, e))?;
            if chain.is_empty() {
                return Err(file_error(
                    section,
                    "cert",
                    cert,
                    "no PEM certificate in the file",
                ));
            }
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
