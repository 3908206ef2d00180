//! Minutier's hardware layer.
//!
//! Key custody, and where the appliance keeps its data. The daemon signs
//! checkpoints through [`minutier_seal::note::Signer`]; where the key lives
//! is this crate's business, behind one trait, [`KeyCustody`]. The file
//! keystore ([`FileKeystore`]) keeps a 32-byte Ed25519 seed in a file only
//! its owner can read (0600); the PKCS#11 keystore
//! ([`pkcs11::Pkcs11Keystore`]) keeps the key in a token it never leaves.

pub mod health;
pub mod paths;
pub mod pkcs11;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use minutier_seal::note::{Ed25519Signer, Signer};
use rand::RngCore;

/// What can go wrong while opening or creating a key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read or write the signing key {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "the signing key {path} is readable by others (mode {mode:o}); run `chmod 600 {path}`"
    )]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("the signing key {path} is not a 32-byte Ed25519 seed ({len} bytes)")]
    Malformed { path: PathBuf, len: usize },
    #[error("invalid signing key: {0}")]
    Seal(#[from] minutier_seal::Error),
    #[error("the signing key {path} does not exist; {hint}")]
    Missing { path: PathBuf, hint: String },
    #[error(
        "cannot load the PKCS#11 module {module}: {reason}; install the token's module \
         (for SoftHSM2: the Debian package softhsm2) or set key.module"
    )]
    ModuleNotFound { module: PathBuf, reason: String },
    #[error(
        "no PKCS#11 token labelled {token:?} in {module}; tokens seen: {}",
        if seen.is_empty() { "none".to_owned() } else { format!("{seen:?}") }
    )]
    TokenNotFound {
        token: String,
        module: PathBuf,
        seen: Vec<String>,
    },
    #[error(
        "the PKCS#11 token {token:?} refused the PIN in {pin_file}{}",
        if *locked { ": the PIN is locked after too many failures; unlock it with the SO PIN" } else { " (wrong PIN); correct the file" }
    )]
    WrongPin {
        token: String,
        pin_file: PathBuf,
        locked: bool,
    },
    #[error("the PIN file {path} is unusable: {reason}")]
    BadPinFile { path: PathBuf, reason: String },
    #[error(
        "no Ed25519 key labelled {key:?} on the PKCS#11 token {token:?}, and this start may not \
         generate one (key.generate = false, or the log already has a key): check key.key_label"
    )]
    KeyAbsent { key: String, token: String },
    #[error("the PKCS#11 token {token:?}: {reason}")]
    Token { token: String, reason: String },
    #[error("PKCS#11 ({module}): cannot {operation}: {source}")]
    Pkcs11 {
        module: PathBuf,
        operation: &'static str,
        source: cryptoki::error::Error,
    },
}

/// A signing key held in custody: something that signs without handing out
/// its secret.
pub trait KeyCustody: Signer + Send + Sync {
    /// Where the key lives, for humans ("file /var/lib/minutier/keys/…").
    fn describe(&self) -> String;
}

/// Ed25519 key in a 0600 file.
pub struct FileKeystore {
    path: PathBuf,
    signer: Ed25519Signer,
}

impl FileKeystore {
    /// Opens the key at `path`, which must exist; `hint` says what to do
    /// when it does not. `name` is the log's origin, which names the key.
    pub fn open(path: &Path, name: &str, hint: &str) -> Result<Self, KeyError> {
        if !path.exists() {
            return Err(KeyError::Missing {
                path: path.to_owned(),
                hint: hint.to_owned(),
            });
        }
        let (keystore, _) = Self::open_or_create(path, name)?;
        Ok(keystore)
    }

    /// Opens the key at `path`, or creates it when absent. Returns whether it
    /// was created. `name` is the log's origin, which names the key.
    pub fn open_or_create(path: &Path, name: &str) -> Result<(Self, bool), KeyError> {
        let io_err = |source| KeyError::Io {
            path: path.to_owned(),
            source,
        };
        match File::open(path) {
            Ok(mut file) => {
                let mode = file.metadata().map_err(io_err)?.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    return Err(KeyError::TooOpen {
                        path: path.to_owned(),
                        mode,
                    });
                }
                let mut seed = Vec::with_capacity(32);
                Read::by_ref(&mut file)
                    .take(33)
                    .read_to_end(&mut seed)
                    .map_err(io_err)?;
                let seed: [u8; 32] =
                    seed.as_slice()
                        .try_into()
                        .map_err(|_| KeyError::Malformed {
                            path: path.to_owned(),
                            len: seed.len(),
                        })?;
                let signer = Ed25519Signer::from_seed(name, &seed)?;
                Ok((
                    FileKeystore {
                        path: path.to_owned(),
                        signer,
                    },
                    false,
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let mut seed = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut seed);
                let signer = Ed25519Signer::from_seed(name, &seed)?;
                if let Some(dir) = path.parent() {
                    fs::create_dir_all(dir).map_err(io_err)?;
                }
                // create_new: two daemons racing on first start cannot both
                // write a key; the loser fails instead of signing with a
                // key nobody will ever see again.
                let mut file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                    .map_err(io_err)?;
                file.write_all(&seed).map_err(io_err)?;
                file.sync_all().map_err(io_err)?;
                if let Some(dir) = path.parent() {
                    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err)?;
                }
                Ok((
                    FileKeystore {
                        path: path.to_owned(),
                        signer,
                    },
                    true,
                ))
            }
            Err(e) => Err(io_err(e)),
        }
    }
}

impl Signer for FileKeystore {
    fn name(&self) -> &str {
        self.signer.name()
    }
    fn public_key(&self) -> [u8; 32] {
        self.signer.public_key()
    }
    fn sign(&self, message: &[u8]) -> Result<[u8; 64], minutier_seal::Error> {
        self.signer.sign(message)
    }
}

impl KeyCustody for FileKeystore {
    fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_a_private_key_once_and_reopens_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/signing.key");
        let (first, created) = FileKeystore::open_or_create(&path, "example.org/log").unwrap();
        assert!(created);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (again, created) = FileKeystore::open_or_create(&path, "example.org/log").unwrap();
        assert!(!created);
        assert_eq!(first.public_key(), again.public_key());
        assert_eq!(first.sign(b"m").unwrap(), again.sign(b"m").unwrap());
    }

    #[test]
    fn refuses_a_key_others_can_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signing.key");
        FileKeystore::open_or_create(&path, "example.org/log").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = FileKeystore::open_or_create(&path, "example.org/log")
            .err()
            .unwrap();
        assert!(matches!(err, KeyError::TooOpen { .. }), "{err}");
    }

    #[test]
    fn refuses_a_truncated_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signing.key");
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .unwrap()
            .write_all(&[7u8; 31])
            .unwrap();
        let err = FileKeystore::open_or_create(&path, "example.org/log")
            .err()
            .unwrap();
        assert!(matches!(err, KeyError::Malformed { len: 31, .. }), "{err}");
    }
}
