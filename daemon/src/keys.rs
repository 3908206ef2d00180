//! The checkpoint signing key: where it is kept (the `[key]` section: a
//! file in the data directory, or a PKCS#11 token), opening it at start,
//! the log's key history, and key rotation (`minutierd rotate-key`).
//!
//! A rotation is an appliance event of the log: a `key-rotation` record
//! (docs/seal-format.md §2.8) committing to a document that names the old
//! and the new verifier key. The checkpoint that first covers it is signed
//! by the old key and co-signed by the new one; every later checkpoint by
//! the new key alone. An auditor who trusts the old key thus verifies the
//! record that names the new one, and seals made before the rotation keep
//! verifying with the old key. The history is read back from the log
//! itself: nothing else needs keeping.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use minutier_hw::pkcs11::{Pkcs11Config, Pkcs11Keystore, SOFTHSM2_MODULE};
use minutier_hw::{FileKeystore, KeyCustody, KeyError};
use minutier_seal::checkpoint::Checkpoint;
use minutier_seal::note::{Signer, VerifierKey};
use minutier_seal::record::{Record, RecordKind, APPLIANCE_ID};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::Error;
use crate::server::StartError;
use crate::store::{RocksStore, Store};

/// The actor of `key-rotation` records.
pub const ACTOR: &str = "minutierd (key rotation)";

/// Where the checkpoint signing key is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Custody {
    /// A 32-byte Ed25519 seed in `keys/checkpoint.key` (0600).
    #[default]
    File,
    /// A PKCS#11 token, which the key never leaves.
    Pkcs11,
}

impl Custody {
    pub fn as_str(self) -> &'static str {
        match self {
            Custody::File => "file",
            Custody::Pkcs11 => "pkcs11",
        }
    }
}

/// The `[key]` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeyConfig {
    /// `"file"` (default) or `"pkcs11"`.
    pub custody: Custody,
    /// PKCS#11: the token's module.
    pub module: PathBuf,
    /// PKCS#11: the label of the token holding the key.
    pub token_label: Option<String>,
    /// PKCS#11: a file (0600) holding the user PIN.
    pub pin_file: Option<PathBuf>,
    /// PKCS#11: the label of the key pair on the token.
    pub key_label: String,
    /// PKCS#11: generate the key on the token when the label finds none,
    /// on the log's first start (or by `minutierd rotate-key`) only.
    pub generate: bool,
}

impl Default for KeyConfig {
    fn default() -> Self {
        KeyConfig {
            custody: Custody::File,
            module: SOFTHSM2_MODULE.into(),
            token_label: None,
            pin_file: None,
            key_label: "minutier-checkpoint".into(),
            generate: true,
        }
    }
}

impl KeyConfig {
    /// Rejects settings that cannot describe a key.
    pub fn validate(&self) -> Result<(), String> {
        match self.custody {
            Custody::Pkcs11 => {
                if self.token_label.as_deref().is_none_or(str::is_empty) {
                    return Err(
                        "key.token_label: custody = \"pkcs11\" needs the token's label".into(),
                    );
                }
                if self.pin_file.is_none() {
                    return Err(
                        "key.pin_file: custody = \"pkcs11\" needs a file holding the user PIN"
                            .into(),
                    );
                }
                if self.key_label.is_empty() {
                    return Err("key.key_label must not be empty".into());
                }
            }
            Custody::File => {
                if self.token_label.is_some() || self.pin_file.is_some() {
                    return Err(
                        "key.token_label and key.pin_file are for custody = \"pkcs11\"; \
                         add custody = \"pkcs11\" or remove them"
                            .into(),
                    );
                }
            }
        }
        Ok(())
    }

    fn pkcs11(&self) -> Pkcs11Config {
        Pkcs11Config {
            module: self.module.clone(),
            token_label: self.token_label.clone().unwrap_or_default(),
            pin_file: self.pin_file.clone().unwrap_or_default(),
            key_label: self.key_label.clone(),
        }
    }
}

/// The file keystore's key in a data directory.
pub fn key_file(data_dir: &Path) -> PathBuf {
    data_dir.join("keys").join("checkpoint.key")
}

/// A new file key during a rotation, until the rotation is recorded.
fn next_key_file(data_dir: &Path) -> PathBuf {
    data_dir.join("keys").join("checkpoint.key.next")
}

/// Where file keys go once rotated away.
fn retired_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("keys").join("retired")
}

/// A recorded rotation: the `key-rotation` record's index and what its
/// document names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub index: u64,
    pub old_key: VerifierKey,
    pub new_key: VerifierKey,
    pub custody: String,
}

/// The key rotation document a `key-rotation` record commits to (its
/// canonical JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotationDocument {
    /// Where the new key is kept: `"file"` or `"pkcs11"`.
    pub custody: String,
    /// The new verifier key (C2SP vkey).
    pub new_key: String,
    /// The old verifier key (C2SP vkey).
    pub old_key: String,
}

impl RotationDocument {
    pub fn canonical_json(&self) -> Vec<u8> {
        let value = serde_json::to_value(self).expect("a rotation document serialises");
        minutier_seal::metadata::canonical_json(&value)
    }
}

/// The rotations recorded in the log, in log order.
pub fn rotations(store: &dyn Store) -> crate::error::Result<Vec<Rotation>> {
    let mut out = Vec::new();
    for index in store.history(APPLIANCE_ID)? {
        let bytes = crate::store::record(store, index)?;
        let record = Record::decode(&bytes)?;
        if record.kind != RecordKind::KeyRotation {
            continue;
        }
        let bad = |reason: String| {
            Error::Storage(format!(
                "the key-rotation record {index} cannot be read back: {reason}"
            ))
        };
        let document = store
            .document(&record.metadata_sha256)?
            .ok_or_else(|| bad("its document is missing from the index".into()))?;
        let document: RotationDocument =
            serde_json::from_slice(&document).map_err(|e| bad(e.to_string()))?;
        let parse = |text: &str| VerifierKey::parse(text).map_err(|e| bad(e.to_string()));
        out.push(Rotation {
            index,
            old_key: parse(&document.old_key)?,
            new_key: parse(&document.new_key)?,
            custody: document.custody,
        });
    }
    Ok(out)
}

/// The log's verifier keys, oldest first and `current` last.
pub fn history(current: &VerifierKey, rotations: &[Rotation]) -> Vec<VerifierKey> {
    let mut keys: Vec<VerifierKey> = rotations
        .first()
        .map(|r| r.old_key.clone())
        .into_iter()
        .chain(rotations.iter().map(|r| r.new_key.clone()))
        .collect();
    if keys.last() != Some(current) {
        keys.push(current.clone());
    }
    keys
}

/// The text of `verifier.key`: every key of the history, one per line,
/// oldest first, the current key last.
pub fn verifier_keys_text(keys: &[VerifierKey]) -> String {
    keys.iter().map(|k| format!("{k}\n")).collect()
}

/// The signing key, opened for a start.
pub struct OpenedKey {
    pub key: Arc<dyn KeyCustody>,
    /// Created (file) or generated (token) by this start.
    pub created: bool,
    pub verifier_key: VerifierKey,
    /// Every key of the log, oldest first, `verifier_key` last.
    pub history: Vec<VerifierKey>,
}

/// Opens the key `config` describes for the log in `data_dir`, whose
/// origin is `origin`. A key is created only for a new log (no checkpoint
/// yet). The key must be the log's current one: the last rotation's new
/// key, and the key of its latest checkpoint; anything else stops the
/// start, so that no checkpoint is ever signed by a key auditors do not
/// know.
pub fn open(
    config: &KeyConfig,
    data_dir: &Path,
    store: &dyn Store,
    origin: &str,
) -> Result<OpenedKey, StartError> {
    let log = store.log_state()?;
    let rotations = rotations(store)?;
    let new_log = log.checkpoint.is_none();
    if config.custody == Custody::File {
        finish_file_rotation(data_dir, origin, rotations.last())?;
    }
    let hint = match rotations.last() {
        Some(r) => format!(
            "this log's key is {} since its key-rotation record {} (custody {}): configure the \
             [key] section that holds it",
            r.new_key, r.index, r.custody
        ),
        None => format!(
            "this log ({} records) was signed with it: restore it from a backup or a replica \
             (docs/disaster-recovery.md), or configure the [key] section that holds the log's key",
            log.tree_size
        ),
    };
    let (key, created) = open_custody(config, data_dir, origin, new_log, &hint)?;
    let verifier_key =
        VerifierKey::from_public_key(origin, key.public_key()).map_err(Error::from)?;
    if let Some((size, text)) = &log.checkpoint {
        let rotated_to = rotations.last().map(|r| &r.new_key);
        let signs_latest = Checkpoint::open(text, &verifier_key).is_ok();
        if rotated_to.is_some_and(|k| *k != verifier_key) || !signs_latest {
            let logs_key = match rotated_to {
                Some(k) => k.to_string(),
                None => published_key(data_dir).unwrap_or_else(|| {
                    format!("the key that signed its latest checkpoint (size {size})")
                }),
            };
            return Err(StartError::Config(format!(
                "the signing key in custody ({}) is {verifier_key}, but this log's key is {logs_key}. \
                 Every checkpoint must be signed by the log's current key: restore the [key] \
                 configuration (or the key) that holds it. To change the key on purpose, stop \
                 minutierd and run `minutierd rotate-key --previous-config FILE` with the new \
                 [key] section, FILE holding the current one (docs/security.md)",
                key.describe()
            )));
        }
    }
    let history = history(&verifier_key, &rotations);
    Ok(OpenedKey {
        key,
        created,
        verifier_key,
        history,
    })
}

/// The current key as `verifier.key` publishes it (its last line).
fn published_key(data_dir: &Path) -> Option<String> {
    let text = fs::read_to_string(data_dir.join("verifier.key")).ok()?;
    let keys = minutier_seal::note::parse_verifier_keys(&text).ok()?;
    keys.last().map(ToString::to_string)
}

/// Opens the key in custody. `create`: whether a missing key may be made
/// (the file written, or the pair generated on the token if `generate`).
fn open_custody(
    config: &KeyConfig,
    data_dir: &Path,
    origin: &str,
    create: bool,
    hint: &str,
) -> Result<(Arc<dyn KeyCustody>, bool), KeyError> {
    match config.custody {
        Custody::File => {
            let path = key_file(data_dir);
            if create {
                let (key, created) = FileKeystore::open_or_create(&path, origin)?;
                Ok((Arc::new(key), created))
            } else {
                Ok((Arc::new(FileKeystore::open(&path, origin, hint)?), false))
            }
        }
        Custody::Pkcs11 => {
            let (key, created) =
                Pkcs11Keystore::open(&config.pkcs11(), origin, create && config.generate)?;
            Ok((Arc::new(key), created))
        }
    }
}

/// Completes a rotation to a new file key cut short after it was recorded
/// (the new key still at `checkpoint.key.next`), or removes a new key
/// whose rotation was never recorded (it never signed a published
/// checkpoint).
fn finish_file_rotation(
    data_dir: &Path,
    origin: &str,
    last: Option<&Rotation>,
) -> Result<(), StartError> {
    let next = next_key_file(data_dir);
    if !next.exists() {
        return Ok(());
    }
    let (key, _) = FileKeystore::open_or_create(&next, origin)?;
    let recorded = last.is_some_and(|r| r.new_key.public_key == key.public_key());
    let io = |e: std::io::Error| StartError::DataDir {
        path: next.display().to_string(),
        source: e,
    };
    if recorded {
        let current = key_file(data_dir);
        if current.exists() {
            retire(data_dir, &current, origin)?;
        }
        fs::rename(&next, &current).map_err(io)?;
        sync_dir(&data_dir.join("keys")).map_err(io)?;
        tracing::info!(
            "completed the rotation to the file key {}",
            current.display()
        );
    } else {
        fs::remove_file(&next).map_err(io)?;
        sync_dir(&data_dir.join("keys")).map_err(io)?;
    }
    Ok(())
}

/// Moves a file key out of use, to `keys/retired/<key ID>.key`; returns
/// where it went.
fn retire(data_dir: &Path, path: &Path, origin: &str) -> Result<PathBuf, StartError> {
    let (key, _) = FileKeystore::open_or_create(path, origin)?;
    let id = hex::encode(minutier_seal::note::key_id(origin, &key.public_key()));
    let dir = retired_dir(data_dir);
    let io = |e: std::io::Error| StartError::DataDir {
        path: dir.display().to_string(),
        source: e,
    };
    fs::create_dir_all(&dir).map_err(io)?;
    let mut dest = dir.join(format!("{id}.key"));
    let mut n = 1;
    while dest.exists() {
        n += 1;
        dest = dir.join(format!("{id}-{n}.key"));
    }
    fs::rename(path, &dest).map_err(io)?;
    sync_dir(&dir).map_err(io)?;
    sync_dir(&data_dir.join("keys")).map_err(io)?;
    Ok(dest)
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// What a rotation did.
#[derive(Debug)]
pub struct RotationReport {
    pub origin: String,
    pub old_key: VerifierKey,
    pub new_key: VerifierKey,
    /// Where the new key is kept.
    pub new_location: String,
    /// The new key was created (file) or generated (token).
    pub created: bool,
    /// The `key-rotation` record's index.
    pub index: u64,
    /// The size of the checkpoint signed by both keys.
    pub checkpoint_size: u64,
    /// Where the old file key went, if it was one.
    pub retired: Option<PathBuf>,
    /// Every key of the log, oldest first, as written to `verifier.key`.
    pub history: Vec<VerifierKey>,
}

/// Replaces the log's signing key: `previous` describes the current key
/// (the `[key]` section the daemon ran with), `config.key` the new one.
/// Run while the daemon is stopped (the index is locked while it runs).
///
/// Appends a `key-rotation` record through the sequencer, signing the
/// checkpoint that covers it with the old key and co-signing it with the
/// new one; then retires the old file key, if it was one, and publishes
/// the history in `verifier.key`.
pub fn rotate(config: &Config, previous: &KeyConfig) -> Result<RotationReport, StartError> {
    let dir = &config.data_dir;
    let index_dir = dir.join("index");
    if !index_dir.is_dir() {
        return Err(StartError::Config(format!(
            "{} holds no log (no index/): there is no key to rotate; a new log's key is made at \
             its first start, as the [key] section says",
            dir.display()
        )));
    }
    let store: Arc<dyn Store> = Arc::new(RocksStore::open(&index_dir).map_err(|e| {
        StartError::Config(format!(
            "cannot open the index ({e}); is minutierd running? Stop it first: a key is \
             rotated while the daemon is stopped"
        ))
    })?);
    let log = store.log_state()?;
    let (Some(origin), Some(_)) = (log.origin.clone(), log.checkpoint.as_ref()) else {
        return Err(StartError::Config(
            "this log has no checkpoint yet: there is no key to rotate".into(),
        ));
    };
    let rotations = rotations(store.as_ref())?;
    finish_file_rotation(dir, &origin, rotations.last())?;

    // The current key, which must be the log's.
    let old = open(previous, dir, store.as_ref(), &origin).map_err(|e| match e {
        StartError::Config(msg) => StartError::Config(format!(
            "the previous key (--previous-config) is not the log's current key: {msg}"
        )),
        other => other,
    })?;

    // The new key: created if absent. A new file key is written beside the
    // current one and takes its place once the rotation is recorded.
    let next = next_key_file(dir);
    let (new, created): (Arc<dyn KeyCustody>, bool) = match config.key.custody {
        Custody::File => {
            let (key, created) = FileKeystore::open_or_create(&next, &origin)?;
            (Arc::new(key), created)
        }
        Custody::Pkcs11 => open_custody(&config.key, dir, &origin, true, "")?,
    };
    let new_key = VerifierKey::from_public_key(&origin, new.public_key()).map_err(Error::from)?;
    let discard_next = || {
        if config.key.custody == Custody::File {
            let _ = fs::remove_file(&next);
        }
    };
    if old.history.contains(&new_key) {
        discard_next();
        return Err(StartError::Config(format!(
            "the new key ({}) is {new_key}, which already signed this log: a rotation needs a key \
             never used before (another key_label, or another token)",
            new.describe()
        )));
    }

    let document = RotationDocument {
        custody: config.key.custody.as_str().to_owned(),
        new_key: new_key.to_string(),
        old_key: old.verifier_key.to_string(),
    };
    let recorded = record_rotation(
        config,
        store.clone(),
        old.key.clone(),
        new.clone(),
        document,
    );
    let (index, checkpoint_size) = match recorded {
        Ok(done) => done,
        Err(e) => {
            discard_next();
            return Err(e);
        }
    };

    // Recorded: the old file key is retired, the new one takes its place.
    let mut retired = None;
    let current = key_file(dir);
    if (previous.custody == Custody::File || config.key.custody == Custody::File)
        && current.exists()
    {
        retired = Some(retire(dir, &current, &origin)?);
    }
    if config.key.custody == Custody::File {
        let io = |e: std::io::Error| StartError::DataDir {
            path: current.display().to_string(),
            source: e,
        };
        fs::rename(&next, &current).map_err(io)?;
        sync_dir(&dir.join("keys")).map_err(io)?;
    }
    let mut history = old.history.clone();
    history.push(new_key.clone());
    fs::write(dir.join("verifier.key"), verifier_keys_text(&history)).map_err(|e| {
        StartError::DataDir {
            path: dir.join("verifier.key").display().to_string(),
            source: e,
        }
    })?;
    let new_location = match config.key.custody {
        Custody::File => format!("file {}", current.display()),
        Custody::Pkcs11 => new.describe(),
    };
    Ok(RotationReport {
        origin,
        old_key: old.verifier_key,
        new_key,
        new_location,
        created,
        index,
        checkpoint_size,
        retired,
        history,
    })
}

/// Appends the `key-rotation` record through the sequencer, signed by the
/// old key and co-signed by the new; returns the record's index and the
/// size of that checkpoint.
fn record_rotation(
    config: &Config,
    store: Arc<dyn Store>,
    old: Arc<dyn KeyCustody>,
    new: Arc<dyn KeyCustody>,
    document: RotationDocument,
) -> Result<(u64, u64), StartError> {
    let blobs = Arc::new(
        crate::blobs::BlobStore::open(&config.data_dir.join("blobs"), config.compression_level)
            .map_err(|e| StartError::DataDir {
                path: config.data_dir.join("blobs").display().to_string(),
                source: e,
            })?,
    );
    // With replication on, the batch queues its log segment like any
    // other; the replicator sends it at the next start.
    let replication = config
        .replication
        .as_ref()
        .map(|_| Arc::new(tokio::sync::Notify::new()));
    let (sequencer, _published, thread) = crate::sequencer::Sequencer::start(
        store,
        blobs,
        old,
        Arc::new(crate::sequencer::SystemClock),
        1,
        replication,
    )?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| StartError::Config(format!("cannot start a runtime: {e}")))?;
    let done = runtime.block_on(sequencer.rotate_key(new, document.canonical_json(), ACTOR.into()));
    drop(sequencer);
    let _ = thread.join();
    let done = done?;
    Ok((done.log_index(), done.checkpoint.size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_section() {
        let c: Config = toml::from_str("").unwrap();
        assert_eq!(c.key, KeyConfig::default());
        assert_eq!(c.key.custody, Custody::File);
        c.validate().unwrap();
        let c: Config = toml::from_str(
            "[key]\ncustody = \"pkcs11\"\ntoken_label = \"minutier\"\npin_file = \"/etc/minutier/pin\"\n",
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.key.module, PathBuf::from(SOFTHSM2_MODULE));
        assert_eq!(c.key.key_label, "minutier-checkpoint");
        assert!(c.key.generate);
        let invalid = |text: &str| {
            let c: Config = toml::from_str(text).unwrap();
            c.validate().unwrap_err()
        };
        let e = invalid("[key]\ncustody = \"pkcs11\"\npin_file = \"/p\"");
        assert!(e.contains("key.token_label"), "{e}");
        let e = invalid("[key]\ncustody = \"pkcs11\"\ntoken_label = \"t\"");
        assert!(e.contains("key.pin_file"), "{e}");
        let e = invalid("[key]\ntoken_label = \"t\"");
        assert!(e.contains("custody = \"pkcs11\""), "{e}");
        assert!(toml::from_str::<Config>("[key]\ncustody = \"hsm\"").is_err());
        assert!(toml::from_str::<Config>("[key]\npin = \"1234\"").is_err());
    }

    #[test]
    fn rotation_documents_are_canonical() {
        let d = RotationDocument {
            custody: "pkcs11".into(),
            new_key: "n".into(),
            old_key: "o".into(),
        };
        assert_eq!(
            String::from_utf8(d.canonical_json()).unwrap(),
            r#"{"custody":"pkcs11","new_key":"n","old_key":"o"}"#
        );
    }

    #[test]
    fn histories() {
        let key = |seed: u8| {
            minutier_seal::note::Ed25519Signer::from_seed("o", &[seed; 32])
                .unwrap()
                .verifier_key()
        };
        assert_eq!(history(&key(1), &[]), vec![key(1)]);
        let r = |i, a, b| Rotation {
            index: i,
            old_key: key(a),
            new_key: key(b),
            custody: "file".into(),
        };
        let rotations = [r(3, 1, 2), r(9, 2, 3)];
        assert_eq!(history(&key(3), &rotations), vec![key(1), key(2), key(3)]);
        assert_eq!(
            verifier_keys_text(&history(&key(3), &rotations)),
            format!("{}\n{}\n{}\n", key(1), key(2), key(3))
        );
    }
}
