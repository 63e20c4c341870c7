//! The gateway's signing key, one per gateway: Ed25519 (RFC 8032), or SM2 with SM3 (GB/T
//! 32918.2, GB/T 32905; distinguishing identifier `1234567812345678`, GM/T 0009's default)
//! for deployments that must use China's commercial cryptography (`[integrity] algorithm =
//! "sm2"`). The public key of an SM2 key is its uncompressed SEC1 point (65 bytes, hex).
//!
//! The key file holds one line, the algorithm, `:` and the 32-byte secret in hex. It is made on
//! first start when absent — created with mode `0600`, never overwritten — or handed in by
//! systemd (`LoadCredential=`, with `key_file` pointing into `$CREDENTIALS_DIRECTORY`). The
//! public key goes out in the retained status message and in every export's manifest; with it
//! alone anyone can check the gateway's signatures (`tracegate verify`).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sm2::dsa::signature::Verifier as _;

/// The algorithms' names, as `integrity.algorithm` spells them (the config accepts these).
pub use crate::config::{ED25519, SM2};
/// The SM2 distinguishing identifier (GM/T 0009-2012's default user id).
pub const SM2_DISTID: &str = "1234567812345678";

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
        "{path} is not a tracegate gateway key (one line, \"ed25519:\" or \"sm2:\" and 64 hex digits); restore it from a backup or remove it to make a new key (the gateway's public key changes)"
    )]
    Malformed {
        /// The key file.
        path: PathBuf,
    },
    /// The file holds a key of another algorithm than configured.
    #[error(
        "{path} holds an {found} key but integrity.algorithm = {wanted:?}; set the algorithm the key was made for, or move the key away to make a new one (the gateway's public key changes)"
    )]
    OtherAlgorithm {
        /// The key file.
        path: PathBuf,
        /// Its algorithm.
        found: &'static str,
        /// The configured one.
        wanted: String,
    },
    /// A new key could not be written.
    #[error(
        "cannot create the gateway key {path}: {cause}; check that its directory exists and is writable by the tracegate user (integrity.key_file; nothing was written)"
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
    secret: Secret,
}

#[derive(Clone)]
enum Secret {
    Ed25519(Box<SigningKey>),
    Sm2(Box<sm2::dsa::SigningKey>),
}

impl std::fmt::Debug for GatewayKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("GatewayKey")
            .field("algorithm", &self.algorithm())
            .field("public", &self.public_hex())
            .finish()
    }
}

impl GatewayKey {
    /// The Ed25519 key whose secret seed is `seed`.
    pub fn from_seed(seed: [u8; 32]) -> GatewayKey {
        GatewayKey {
            secret: Secret::Ed25519(Box::new(SigningKey::from_bytes(&seed))),
        }
    }

    /// The key of `algorithm` with the 32-byte secret `secret`; `None` when it is not one
    /// (an SM2 secret must be a scalar below the curve's order, not zero).
    pub fn from_secret(algorithm: &str, secret: [u8; 32]) -> Option<GatewayKey> {
        match algorithm {
            ED25519 => Some(GatewayKey::from_seed(secret)),
            SM2 => sm2::dsa::SigningKey::from_slice(SM2_DISTID, &secret)
                .ok()
                .map(|k| GatewayKey {
                    secret: Secret::Sm2(Box::new(k)),
                }),
            _ => None,
        }
    }

    fn secret_bytes(&self) -> [u8; 32] {
        match &self.secret {
            Secret::Ed25519(k) => k.to_bytes(),
            Secret::Sm2(k) => k.to_bytes().into(),
        }
    }

    /// Reads the Ed25519 key at `path`, or makes one there (`0600`) when there is none; true
    /// when it was made now.
    pub fn load_or_create(path: &Path) -> Result<(GatewayKey, bool), KeyError> {
        GatewayKey::load_or_create_for(path, ED25519)
    }

    /// Reads the key at `path`, which must be of `algorithm`, or makes one of `algorithm`
    /// there (`0600`) when there is none; true when it was made now.
    pub fn load_or_create_for(
        path: &Path,
        algorithm: &str,
    ) -> Result<(GatewayKey, bool), KeyError> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let key = parse(&text).ok_or_else(|| KeyError::Malformed {
                    path: path.to_path_buf(),
                })?;
                if key.algorithm() != algorithm {
                    return Err(KeyError::OtherAlgorithm {
                        path: path.to_path_buf(),
                        found: key.algorithm(),
                        wanted: algorithm.to_string(),
                    });
                }
                Ok((key, false))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let create = |cause| KeyError::Create {
                    path: path.to_path_buf(),
                    cause,
                };
                let key = loop {
                    let mut secret = [0u8; 32];
                    getrandom::fill(&mut secret)
                        .map_err(|e| create(std::io::Error::other(e.to_string())))?;
                    // An SM2 secret above the curve's order is drawn again (odds ~2^-32).
                    if let Some(key) = GatewayKey::from_secret(algorithm, secret) {
                        break key;
                    }
                };
                let line = format!("{}:{}\n", key.algorithm(), hex::encode(key.secret_bytes()));
                match write_new(path, line.as_bytes()) {
                    Ok(()) => Ok((key, true)),
                    // Another process sharing the key (a second daemon started at the same
                    // moment, `tracegate verify`) made it first: the linked file is whole, so
                    // it is the key; this one's draw is thrown away.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        GatewayKey::load_or_create_for(path, algorithm)
                    }
                    Err(e) => Err(create(e)),
                }
            }
            Err(cause) => Err(KeyError::Read {
                path: path.to_path_buf(),
                cause,
            }),
        }
    }

    /// The signature algorithm.
    pub fn algorithm(&self) -> &'static str {
        match self.secret {
            Secret::Ed25519(_) => ED25519,
            Secret::Sm2(_) => SM2,
        }
    }

    /// The public key, hex.
    pub fn public_hex(&self) -> String {
        match &self.secret {
            Secret::Ed25519(k) => hex::encode(k.verifying_key().to_bytes()),
            Secret::Sm2(k) => hex::encode(k.verifying_key().to_sec1_bytes()),
        }
    }

    /// The signature of `message` (64 bytes: Ed25519's, or SM2's r ‖ s).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match &self.secret {
            Secret::Ed25519(k) => k.sign(message).to_bytes().to_vec(),
            Secret::Sm2(k) => {
                let signature: sm2::dsa::Signature = k.sign(message);
                signature.to_bytes().to_vec()
            }
        }
    }
}

/// Writes `bytes` as the new file `path` (mode `0600`) so that it is either whole or absent:
/// into a temporary file beside it, synced, then linked to `path` (which fails rather than
/// overwrite a key that appeared meanwhile) and the directory synced, so a crash or power cut
/// never leaves a half-written or vanished key behind an outbox signed with it.
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => dir.to_path_buf(),
        None => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("its directory {} does not exist", dir.display()),
        ));
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Unique per process and per call: two threads (or daemons) making the key at once must
    // not write into each other's temporary file.
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let temporary = dir.join(format!(".{name}.new-{}-{call}", std::process::id()));
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        match std::fs::hard_link(&temporary, path) {
            Ok(()) => {}
            // A file system without hard links (a key on a FAT stick): rename, which cannot
            // refuse to overwrite, but the key was absent a moment ago.
            Err(e)
                if e.kind() == std::io::ErrorKind::Unsupported
                    || e.raw_os_error() == Some(libc::EPERM) =>
            {
                std::fs::rename(&temporary, path)?
            }
            Err(e) => return Err(e),
        }
        std::fs::File::open(&dir)?.sync_all()
    })();
    let _ = std::fs::remove_file(&temporary);
    written
}

fn parse(text: &str) -> Option<GatewayKey> {
    let (algorithm, secret) = text.trim().split_once(':')?;
    let secret: [u8; 32] = hex::decode(secret).ok()?.try_into().ok()?;
    GatewayKey::from_secret(algorithm, secret)
}

/// Checks `signature` of `message` by the key `public_hex` under `algorithm`; the error says
/// what is wrong.
pub fn verify(
    algorithm: &str,
    public_hex: &str,
    message: &[u8],
    signature: &[u8],
) -> Result<(), String> {
    match algorithm {
        ED25519 => {}
        SM2 => return verify_sm2(public_hex, message, signature),
        _ => {
            return Err(format!(
                "signature algorithm {algorithm:?} is not one this tracegate checks (ed25519, sm2)"
            ));
        }
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

/// A public key as written by a person or a file: `ALGORITHM:HEX`, or bare hex (65 bytes, an
/// SEC1 point: SM2; otherwise Ed25519).
pub fn split_public(text: &str) -> (&str, &str) {
    match text.split_once(':') {
        Some((algorithm, public)) => (algorithm, public),
        None if text.len() == 130 => (SM2, text),
        None => (ED25519, text),
    }
}

fn verify_sm2(public_hex: &str, message: &[u8], signature: &[u8]) -> Result<(), String> {
    let public =
        hex::decode(public_hex).map_err(|_| format!("public key {public_hex:?} is not hex"))?;
    let key = sm2::dsa::VerifyingKey::from_sec1_bytes(SM2_DISTID, &public)
        .map_err(|_| format!("public key {public_hex} is not an SM2 point"))?;
    let signature = sm2::dsa::Signature::from_slice(signature)
        .map_err(|_| format!("a signature is 64 bytes, not {}", signature.len()))?;
    key.verify(message, &signature).map_err(|_| {
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
    fn makers_racing_for_one_key_all_get_the_one_that_was_linked() {
        // Daemons sharing a key file start together (a fleet on one host, the bench's fleet):
        // one links its key, the others must read that one, not fail on "File exists".
        for round in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("gateway.key");
            let start = std::sync::Barrier::new(8);
            let keys: Vec<String> = std::thread::scope(|s| {
                let makers: Vec<_> = (0..8)
                    .map(|_| {
                        s.spawn(|| {
                            start.wait();
                            GatewayKey::load_or_create_for(&path, ED25519)
                                .unwrap()
                                .0
                                .public_hex()
                        })
                    })
                    .collect();
                makers.into_iter().map(|m| m.join().unwrap()).collect()
            });
            let on_disk = GatewayKey::load_or_create(&path).unwrap().0.public_hex();
            assert!(
                keys.iter().all(|k| *k == on_disk),
                "round {round}: {keys:?}"
            );
            let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
            assert_eq!(left.len(), 1, "round {round}: temporary files left behind");
        }
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
        assert!(verify("rsa", &key.public_hex(), b"", &signature).is_err());
    }

    #[test]
    fn an_sm2_key_signs_and_verifies_and_refuses_the_wrong_algorithm_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gateway.key");
        let (key, fresh) = GatewayKey::load_or_create_for(&path, SM2).unwrap();
        assert!(fresh);
        assert_eq!(key.algorithm(), SM2);
        assert!(std::fs::read_to_string(&path).unwrap().starts_with("sm2:"));
        let public = key.public_hex();
        assert_eq!(public.len(), 130, "an uncompressed SEC1 point");
        assert!(public.starts_with("04"));
        let signature = key.sign(b"tracegate-chain-v1 head gw-1 42 00");
        assert_eq!(signature.len(), 64);
        verify(
            SM2,
            &public,
            b"tracegate-chain-v1 head gw-1 42 00",
            &signature,
        )
        .unwrap();
        let e = verify(
            SM2,
            &public,
            b"tracegate-chain-v1 head gw-1 43 00",
            &signature,
        )
        .unwrap_err();
        assert!(e.contains("does not match"), "{e}");
        let (again, fresh) = GatewayKey::load_or_create_for(&path, SM2).unwrap();
        assert!(!fresh);
        assert_eq!(again.public_hex(), public);
        let e = GatewayKey::load_or_create_for(&path, ED25519)
            .unwrap_err()
            .to_string();
        assert!(e.contains("integrity.algorithm"), "{e}");
    }
}
