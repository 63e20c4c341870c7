//! The gateway's signing key: Ed25519 (RFC 8032), one per gateway.
//!
//! The key file holds one line, `ed25519:` and the 32-byte secret seed in hex. It is made on
//! first start when absent — created with mode `0600`, never overwritten — or handed in by
//! systemd (`LoadCredential=`, with `key_file` pointing into `$CREDENTIALS_DIRECTORY`). The
//! public key goes out in the retained status message and in every export's manifest; with it
//! alone anyone can check the gateway's signatures (`tracegate verify`).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

/// The one signature algorithm tracegate writes.
pub const ED25519: &str = "ed25519";

/// Why the key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file exists but cannot be read.
    #[error(
        "cannot read the gateway key {path}: {cause}; check integrity.key_file and its permissions (the tracegate user must read it)"
    )]
    Read {
        /// The key file.
        path: PathBuf,
        /// The OS error.
        cause: std::io::Error,
    },
    /// The file is not a key.
    #[error(
        "{path} is not a tracegate gateway key (one line, \"ed25519:\" and 64 hex digits); restore it from a backup or remove it to make a new key (the gateway's public key changes)"
    )]
    Malformed {
        /// The key file.
        path: PathBuf,
    },
    /// A new key could not be written.
    #[error(
        "cannot create the gateway key {path}: {cause}; check that its directory exists and is writable by the tracegate user (integrity.key_file)"
    )]
    Create {
        /// The key file.
        path: PathBuf,
        /// The OS error.
        cause: std::io::Error,
    },
}

/// The gateway's key.
#[derive(Clone)]
pub struct GatewayKey {
    signing: SigningKey,
}

impl std::fmt::Debug for GatewayKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("GatewayKey")
            .field("public", &self.public_hex())
            .finish()
    }
}

impl GatewayKey {
    /// The key whose secret seed is `seed`.
    pub fn from_seed(seed: [u8; 32]) -> GatewayKey {
        GatewayKey {
            signing: SigningKey::from_bytes(&seed),
        }
    }

    /// Reads the key at `path`, or makes one there (`0600`) when there is none; true when
    /// it was made now.
    pub fn load_or_create(path: &Path) -> Result<(GatewayKey, bool), KeyError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok((
                parse(&text).ok_or_else(|| KeyError::Malformed {
                    path: path.to_path_buf(),
                })?,
                false,
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut seed = [0u8; 32];
                getrandom::fill(&mut seed).map_err(|e| KeyError::Create {
                    path: path.to_path_buf(),
                    cause: std::io::Error::other(e.to_string()),
                })?;
                let create = |cause| KeyError::Create {
                    path: path.to_path_buf(),
                    cause,
                };
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                    .map_err(create)?;
                file.write_all(format!("{ED25519}:{}\n", hex::encode(seed)).as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(create)?;
                Ok((GatewayKey::from_seed(seed), true))
            }
            Err(cause) => Err(KeyError::Read {
                path: path.to_path_buf(),
                cause,
            }),
        }
    }

    /// The signature algorithm.
    pub fn algorithm(&self) -> &'static str {
        ED25519
    }

    /// The public key, hex.
    pub fn public_hex(&self) -> String {
        hex::encode(self.signing.verifying_key().to_bytes())
    }

    /// The signature of `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.signing.sign(message).to_bytes().to_vec()
    }
}

fn parse(text: &str) -> Option<GatewayKey> {
    let hex_seed = text.trim().strip_prefix("ed25519:")?;
    let seed: [u8; 32] = hex::decode(hex_seed).ok()?.try_into().ok()?;
    Some(GatewayKey::from_seed(seed))
}

/// Checks `signature` of `message` by the key `public_hex` under `algorithm`; the error says
/// what is wrong.
pub fn verify(
    algorithm: &str,
    public_hex: &str,
    message: &[u8],
    signature: &[u8],
) -> Result<(), String> {
    if algorithm != ED25519 {
        return Err(format!(
            "signature algorithm {algorithm:?} is not one this tracegate checks (ed25519)"
        ));
    }
    let public: [u8; 32] = hex::decode(public_hex)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("public key {public_hex:?} is not 32 bytes of hex"))?;
    let key =
        VerifyingKey::from_bytes(&public).map_err(|e| format!("public key {public_hex}: {e}"))?;
    let signature: [u8; 64] = signature
        .try_into()
        .map_err(|_| format!("a signature is 64 bytes, not {}", signature.len()))?;
    key.verify_strict(message, &Signature::from_bytes(&signature))
        .map_err(|_| {
            "the signature does not match: the data or the signature was changed".to_string()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_made_once_with_0600_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gateway.key");
        let (made, fresh) = GatewayKey::load_or_create(&path).unwrap();
        assert!(fresh);
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&path).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        let (again, fresh) = GatewayKey::load_or_create(&path).unwrap();
        assert!(!fresh);
        assert_eq!(made.public_hex(), again.public_hex());
        assert!(!format!("{made:?}").contains(&std::fs::read_to_string(&path).unwrap()[8..20]));
        std::fs::write(&path, "not a key").unwrap();
        let e = GatewayKey::load_or_create(&path).unwrap_err().to_string();
        assert!(e.contains("not a tracegate gateway key"), "{e}");
    }

    #[test]
    fn signatures_verify_with_the_public_key_alone_and_fail_when_changed() {
        // RFC 8032 §7.1, test 1: the secret key, its public key and the empty message.
        let seed: [u8; 32] =
            hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
                .unwrap()
                .try_into()
                .unwrap();
        let key = GatewayKey::from_seed(seed);
        assert_eq!(
            key.public_hex(),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        let signature = key.sign(b"");
        assert_eq!(
            hex::encode(&signature),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
        verify(ED25519, &key.public_hex(), b"", &signature).unwrap();
        let e = verify(ED25519, &key.public_hex(), b"x", &signature).unwrap_err();
        assert!(e.contains("does not match"), "{e}");
        assert!(verify("sm2", &key.public_hex(), b"", &signature).is_err());
    }
}
