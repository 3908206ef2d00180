//! Key custody in a PKCS#11 token: the Ed25519 signing key is generated on
//! the token, marked sensitive and not extractable, and every signature is
//! made by the token (`CKM_EDDSA`). Only the public key and signatures ever
//! leave it.
//!
//! The keystore logs in as the token's user with a PIN read from a file
//! (never logged, never kept beyond the login), finds the private key by
//! its label (`CKA_LABEL`), or generates the pair when asked to
//! (`CKM_EC_EDWARDS_KEY_PAIR_GEN` on the curve `edwards25519`), and reads
//! the public key from the public key object (`CKA_EC_POINT`).
//!
//! Tested against SoftHSM2 (Debian's `softhsm2`, 2.6), which supports
//! Ed25519; hardware tokens with the same mechanisms work the same way.

use std::fmt;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use minutier_seal::note::{Signer, VerifierKey};

use crate::{KeyCustody, KeyError};

/// Where the Debian package `softhsm2` installs its module.
pub const SOFTHSM2_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// `CKA_EC_PARAMS` of an Ed25519 key: the DER of the PrintableString
/// `edwards25519` (PKCS#11 3.0 §2.3.6; SoftHSM2 2.6 accepts it).
const EC_PARAMS_EDWARDS25519: &[u8] = b"\x13\x0cedwards25519";

/// `CKA_EC_PARAMS` of an Ed25519 key in its other accepted form: the DER
/// of the object identifier id-Ed25519 (1.3.101.112, RFC 8410).
const EC_PARAMS_ID_ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];

/// Longest PIN file read, in bytes.
const MAX_PIN_FILE: u64 = 1024;

/// Where the key is: the module, the token, the PIN, the key's label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pkcs11Config {
    /// The token's PKCS#11 module (a shared library).
    pub module: PathBuf,
    /// The label of the token holding the key.
    pub token_label: String,
    /// A file holding the user PIN (0600; a final newline is ignored).
    pub pin_file: PathBuf,
    /// The label (`CKA_LABEL`) of the key pair.
    pub key_label: String,
}

/// An Ed25519 key held in a PKCS#11 token.
pub struct Pkcs11Keystore {
    name: String,
    public_key: [u8; 32],
    /// One logged-in session; signing is once per batch, so one session
    /// behind a mutex is enough.
    session: Mutex<Session>,
    key: ObjectHandle,
    config: Pkcs11Config,
}

impl fmt::Debug for Pkcs11Keystore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11Keystore")
            .field("name", &self.name)
            .field("public_key", &hex(&self.public_key))
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Pkcs11Keystore {
    /// Opens the key labelled `config.key_label` on the token labelled
    /// `config.token_label`. When no such key exists, generates one on the
    /// token if `generate` is true, else fails ([`KeyError::KeyAbsent`]).
    /// Returns whether the key was generated. `name` is the log's origin,
    /// which names the key.
    pub fn open(
        config: &Pkcs11Config,
        name: &str,
        generate: bool,
    ) -> Result<(Self, bool), KeyError> {
        minutier_seal::note::validate_key_name(name)?;
        let pin = read_pin(&config.pin_file)?;
        let module = &config.module;
        let ck = |operation: &'static str| {
            move |source: CkError| KeyError::Pkcs11 {
                module: module.clone(),
                operation,
                source,
            }
        };
        let context = context(module)?;
        let slot = find_token(&context, config)?;
        let session = context
            .open_rw_session(slot)
            .map_err(ck("open a session"))?;
        match session.login(UserType::User, Some(&pin)) {
            // Login is per token and application: another session of this
            // process may already be logged in.
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(CkError::Pkcs11(RvError::PinIncorrect | RvError::PinLenRange, _)) => {
                return Err(KeyError::WrongPin {
                    token: config.token_label.clone(),
                    pin_file: config.pin_file.clone(),
                    locked: false,
                })
            }
            Err(CkError::Pkcs11(RvError::PinLocked, _)) => {
                return Err(KeyError::WrongPin {
                    token: config.token_label.clone(),
                    pin_file: config.pin_file.clone(),
                    locked: true,
                })
            }
            Err(e) => return Err(ck("log in")(e)),
        }
        drop(pin);

        let label = config.key_label.as_bytes().to_vec();
        let private = find_one(&session, ObjectClass::PRIVATE_KEY, &label, config)?;
        let (key, public_key, created) = match private {
            Some(key) => {
                let public = find_one(&session, ObjectClass::PUBLIC_KEY, &label, config)?
                    .ok_or_else(|| KeyError::Token {
                        token: config.token_label.clone(),
                        reason: format!(
                            "the private key {:?} has no public key object with the same label; \
                             the public key cannot be read",
                            config.key_label
                        ),
                    })?;
                (key, public_key(&session, public, config)?, false)
            }
            None if generate => {
                let (public, key) = generate_key_pair(&session, &label, config)?;
                (key, public_key(&session, public, config)?, true)
            }
            None => {
                return Err(KeyError::KeyAbsent {
                    key: config.key_label.clone(),
                    token: config.token_label.clone(),
                })
            }
        };
        let keystore = Pkcs11Keystore {
            name: name.to_owned(),
            public_key,
            session: Mutex::new(session),
            key,
            config: config.clone(),
        };
        keystore.self_test()?;
        Ok((keystore, created))
    }

    /// Signs a fixed message and checks the signature against the public
    /// key, so that a key that cannot sign, or a public key object that
    /// does not match its private key, stops the start rather than the
    /// first batch.
    fn self_test(&self) -> Result<(), KeyError> {
        let message = b"minutier: key custody self-test\n";
        let signature = self.sign(message)?;
        let key = VerifierKey::from_public_key(&self.name, self.public_key)?;
        if key.verify(message, &signature) {
            Ok(())
        } else {
            Err(KeyError::Token {
                token: self.config.token_label.clone(),
                reason: format!(
                    "a signature by the private key {:?} does not verify under its public key \
                     object: the two objects labelled so are not one key pair",
                    self.config.key_label
                ),
            })
        }
    }

    /// Where the key is.
    pub fn config(&self) -> &Pkcs11Config {
        &self.config
    }
}

impl Signer for Pkcs11Keystore {
    fn name(&self) -> &str {
        &self.name
    }

    fn public_key(&self) -> [u8; 32] {
        self.public_key
    }

    fn sign(&self, message: &[u8]) -> Result<[u8; 64], minutier_seal::Error> {
        let session = self
            .session
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mechanism = Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure));
        let signature = session.sign(&mechanism, self.key, message).map_err(|e| {
            minutier_seal::Error::Signing(format!(
                "the PKCS#11 token {:?} did not sign: {e}",
                self.config.token_label
            ))
        })?;
        signature.as_slice().try_into().map_err(|_| {
            minutier_seal::Error::Signing(format!(
                "the PKCS#11 token {:?} returned a {}-byte signature; Ed25519 signatures are 64 bytes",
                self.config.token_label,
                signature.len()
            ))
        })
    }
}

impl KeyCustody for Pkcs11Keystore {
    fn describe(&self) -> String {
        format!(
            "PKCS#11 token {:?}, key {:?} (module {})",
            self.config.token_label,
            self.config.key_label,
            self.config.module.display()
        )
    }
}

/// The module's context, loaded and initialised once per process and kept:
/// a module is initialised once per application (two threads initialising
/// it at once can leave it in disorder), and never finalised while a
/// keystore may use it.
fn context(module: &Path) -> Result<Pkcs11, KeyError> {
    static CONTEXTS: Mutex<Vec<(PathBuf, Pkcs11)>> = Mutex::new(Vec::new());
    let mut contexts = CONTEXTS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, context)) = contexts.iter().find(|(path, _)| path == module) {
        return Ok(context.clone());
    }
    if !module.exists() {
        return Err(KeyError::ModuleNotFound {
            module: module.to_owned(),
            reason: "no such file".into(),
        });
    }
    let context = Pkcs11::new(module).map_err(|e| KeyError::ModuleNotFound {
        module: module.to_owned(),
        reason: e.to_string(),
    })?;
    match context.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        // Initialised by other code of this process, through another path.
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(source) => {
            return Err(KeyError::Pkcs11 {
                module: module.to_owned(),
                operation: "initialise the module",
                source,
            })
        }
    }
    contexts.push((module.to_owned(), context.clone()));
    Ok(context)
}

/// Reads the PIN file: owner-only, at most 1 KiB, one final newline
/// ignored. The PIN is never logged, nor put in an error message.
fn read_pin(path: &Path) -> Result<AuthPin, KeyError> {
    let io_err = |source| KeyError::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io_err)?;
    let mode = file.metadata().map_err(io_err)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::TooOpen {
            path: path.to_owned(),
            mode,
        });
    }
    let mut bytes = Vec::new();
    file.take(MAX_PIN_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err)?;
    let bad = |reason: &str| KeyError::BadPinFile {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    if bytes.len() as u64 > MAX_PIN_FILE {
        return Err(bad("it is larger than 1 KiB"));
    }
    let text = String::from_utf8(bytes).map_err(|_| bad("it is not UTF-8 text"))?;
    let pin = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text);
    if pin.is_empty() {
        return Err(bad("it is empty"));
    }
    if pin.contains('\n') {
        return Err(bad("it holds more than one line"));
    }
    Ok(AuthPin::new(pin.into()))
}

/// The slot whose token is labelled `config.token_label`.
fn find_token(context: &Pkcs11, config: &Pkcs11Config) -> Result<Slot, KeyError> {
    let slots = context
        .get_slots_with_token()
        .map_err(|source| KeyError::Pkcs11 {
            module: config.module.clone(),
            operation: "list the slots",
            source,
        })?;
    let mut seen = Vec::new();
    for slot in slots {
        let Ok(info) = context.get_token_info(slot) else {
            continue;
        };
        let label = info.label().trim_end().to_owned();
        if label == config.token_label {
            if !info.user_pin_initialized() {
                return Err(KeyError::Token {
                    token: label,
                    reason: "its user PIN is not initialised; initialise the token first \
                             (e.g. softhsm2-util --init-token … --pin …)"
                        .into(),
                });
            }
            return Ok(slot);
        }
        if !label.is_empty() {
            seen.push(label);
        }
    }
    Err(KeyError::TokenNotFound {
        token: config.token_label.clone(),
        module: config.module.clone(),
        seen,
    })
}

/// The one Ed25519 key object of `class` labelled `label`, if any.
fn find_one(
    session: &Session,
    class: ObjectClass,
    label: &[u8],
    config: &Pkcs11Config,
) -> Result<Option<ObjectHandle>, KeyError> {
    let found = session
        .find_objects(&[
            Attribute::Class(class),
            Attribute::KeyType(KeyType::EC_EDWARDS),
            Attribute::Label(label.to_vec()),
        ])
        .map_err(|source| KeyError::Pkcs11 {
            module: config.module.clone(),
            operation: "find the key",
            source,
        })?;
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(*one)),
        more => Err(KeyError::Token {
            token: config.token_label.clone(),
            reason: format!(
                "{} {} objects are labelled {:?}; a key label must name one key pair",
                more.len(),
                if class == ObjectClass::PRIVATE_KEY {
                    "private key"
                } else {
                    "public key"
                },
                config.key_label
            ),
        }),
    }
}

/// Generates an Ed25519 key pair on the token: both objects persistent
/// (token objects), the private key private, sensitive, never extractable
/// and only for signing. Returns (public, private).
fn generate_key_pair(
    session: &Session,
    label: &[u8],
    config: &Pkcs11Config,
) -> Result<(ObjectHandle, ObjectHandle), KeyError> {
    let private_template = [
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        Attribute::Label(label.to_vec()),
    ];
    let mut last = None;
    // The curve by name first (PKCS#11 3.0), then by OID for tokens that
    // know only that form.
    for params in [EC_PARAMS_EDWARDS25519, EC_PARAMS_ID_ED25519] {
        let public_template = [
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Verify(true),
            Attribute::EcParams(params.to_vec()),
            Attribute::Label(label.to_vec()),
        ];
        match session.generate_key_pair(
            &Mechanism::EccEdwardsKeyPairGen,
            &public_template,
            &private_template,
        ) {
            Ok(pair) => return Ok(pair),
            Err(
                e @ CkError::Pkcs11(
                    RvError::CurveNotSupported
                    | RvError::AttributeValueInvalid
                    | RvError::DomainParamsInvalid
                    | RvError::TemplateInconsistent,
                    _,
                ),
            ) => last = Some(e),
            Err(e) => {
                return Err(KeyError::Pkcs11 {
                    module: config.module.clone(),
                    operation: "generate an Ed25519 key pair (CKM_EC_EDWARDS_KEY_PAIR_GEN)",
                    source: e,
                })
            }
        }
    }
    Err(KeyError::Pkcs11 {
        module: config.module.clone(),
        operation: "generate an Ed25519 key pair on the curve edwards25519",
        source: last.expect("one attempt was made"),
    })
}

/// The 32-byte Ed25519 public key of a public key object: `CKA_EC_POINT`,
/// a DER OCTET STRING (PKCS#11 3.0), or the raw 32 bytes some tokens give.
fn public_key(
    session: &Session,
    public: ObjectHandle,
    config: &Pkcs11Config,
) -> Result<[u8; 32], KeyError> {
    let attributes = session
        .get_attributes(public, &[AttributeType::EcPoint])
        .map_err(|source| KeyError::Pkcs11 {
            module: config.module.clone(),
            operation: "read the public key (CKA_EC_POINT)",
            source,
        })?;
    let point = attributes
        .into_iter()
        .find_map(|a| match a {
            Attribute::EcPoint(p) => Some(p),
            _ => None,
        })
        .unwrap_or_default();
    decode_ec_point(&point).ok_or_else(|| KeyError::Token {
        token: config.token_label.clone(),
        reason: format!(
            "the public key {:?} is not an Ed25519 point (CKA_EC_POINT of {} bytes)",
            config.key_label,
            point.len()
        ),
    })
}

/// `04 20 <32 bytes>` or the 32 bytes alone.
fn decode_ec_point(point: &[u8]) -> Option<[u8; 32]> {
    match point {
        [0x04, 0x20, rest @ ..] if rest.len() == 32 => rest.try_into().ok(),
        raw if raw.len() == 32 => raw.try_into().ok(),
        _ => None,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SoftHSM2 tokens for tests, here and in the end-to-end tests (feature
/// `softhsm2-testing`).
#[cfg(any(test, feature = "softhsm2-testing"))]
pub mod testing {
    use std::os::unix::fs::PermissionsExt;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    /// A SoftHSM2 token directory, removed when dropped.
    pub struct SoftHsm2 {
        _dir: tempfile::TempDir,
        pin_file: PathBuf,
    }

    impl SoftHsm2 {
        /// A token directory with a token for each of `labels`, all with
        /// user PIN `pin` (in [`SoftHsm2::pin_file`]), made with
        /// `softhsm2-util` (Debian package `softhsm2`). `SOFTHSM2_CONF` is
        /// set to its configuration for this process and those it starts.
        /// SoftHSM reads it once per process, when the module is
        /// initialised: make every token before the first is opened.
        pub fn with_tokens(labels: &[&str], pin: &str) -> SoftHsm2 {
            let dir = tempfile::tempdir().unwrap();
            let tokens = dir.path().join("tokens");
            std::fs::create_dir(&tokens).unwrap();
            let conf = dir.path().join("softhsm2.conf");
            std::fs::write(
                &conf,
                format!(
                    "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                    tokens.display()
                ),
            )
            .unwrap();
            std::env::set_var("SOFTHSM2_CONF", &conf);
            for &label in labels {
                let out = Command::new("softhsm2-util")
                    .args(["--init-token", "--free", "--label", label])
                    .args(["--so-pin", "8765-so", "--pin", pin])
                    .env("SOFTHSM2_CONF", &conf)
                    .output()
                    .expect("softhsm2-util (Debian package softhsm2) is installed");
                assert!(
                    out.status.success(),
                    "softhsm2-util --init-token: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            let pin_file = dir.path().join("pin");
            write_pin_file(&pin_file, pin);
            SoftHsm2 {
                _dir: dir,
                pin_file,
            }
        }

        /// The tokens' user PIN, in a file of mode 0600.
        pub fn pin_file(&self) -> &Path {
            &self.pin_file
        }
    }

    /// Writes a PIN file as the daemon expects it: only its owner may read it.
    pub fn write_pin_file(path: &Path, pin: &str) {
        std::fs::write(path, format!("{pin}\n")).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

#[cfg(test)]
mod tests {
    //! Against a real SoftHSM2 (Debian package `softhsm2`): a token
    //! directory of this test process, its tokens initialised once with
    //! `softhsm2-util`, `SOFTHSM2_CONF` pointing at its configuration.

    use std::sync::OnceLock;

    use super::testing::{write_pin_file, SoftHsm2};
    use super::*;

    const ORIGIN: &str = "archives.mairie-exemple.fr/minutier";
    const PIN: &str = "4321-user";
    /// One token per test, so tests running in parallel do not meet.
    const TOKENS: [&str; 4] = ["hw-generate", "hw-absent", "hw-pin", "hw-pair"];

    /// SoftHSM reads its configuration once per process, when the module
    /// is initialised: every token is made before the first test opens it.
    fn hsm() -> &'static SoftHsm2 {
        static HSM: OnceLock<SoftHsm2> = OnceLock::new();
        HSM.get_or_init(|| SoftHsm2::with_tokens(&TOKENS, PIN))
    }

    fn config(token: &str, key: &str) -> Pkcs11Config {
        Pkcs11Config {
            module: SOFTHSM2_MODULE.into(),
            token_label: token.into(),
            pin_file: hsm().pin_file().to_owned(),
            key_label: key.into(),
        }
    }

    #[test]
    fn generates_on_the_token_reopens_and_signs_verifiably() {
        let cfg = config("hw-generate", "minutier-checkpoint");
        let (first, created) = Pkcs11Keystore::open(&cfg, ORIGIN, true).unwrap();
        assert!(created);
        assert!(
            first.describe().contains("hw-generate"),
            "{}",
            first.describe()
        );
        let (again, created) = Pkcs11Keystore::open(&cfg, ORIGIN, true).unwrap();
        assert!(!created, "the second open finds the key");
        assert_eq!(first.public_key(), again.public_key());

        // Ed25519 is deterministic: both handles sign alike, and the
        // signature verifies with an independent implementation.
        let message = b"origin\n42\nroot\n";
        let signature = first.sign(message).unwrap();
        assert_eq!(signature, again.sign(message).unwrap());
        let vk = ed25519_dalek::VerifyingKey::from_bytes(&first.public_key()).unwrap();
        vk.verify_strict(message, &ed25519_dalek::Signature::from_bytes(&signature))
            .unwrap();

        // A checkpoint signed on the token opens with the published key.
        let checkpoint = minutier_seal::checkpoint::Checkpoint {
            origin: ORIGIN.into(),
            size: 3,
            root: [7; 32],
            extensions: vec![],
        }
        .sign(&first)
        .unwrap();
        let key = VerifierKey::from_public_key(ORIGIN, first.public_key()).unwrap();
        let opened = minutier_seal::checkpoint::Checkpoint::open(&checkpoint, &key).unwrap();
        assert_eq!(opened.size, 3);

        // The private key is sensitive and never extractable.
        let session = first.session.lock().unwrap();
        let attributes = session
            .get_attributes(
                first.key,
                &[
                    AttributeType::Sensitive,
                    AttributeType::Extractable,
                    AttributeType::NeverExtractable,
                ],
            )
            .unwrap();
        for a in attributes {
            match a {
                Attribute::Sensitive(v) => assert!(v),
                Attribute::Extractable(v) => assert!(!v),
                Attribute::NeverExtractable(v) => assert!(v),
                other => panic!("{other:?}"),
            }
        }
        // SoftHSM2 took the curve by name (PrintableString "edwards25519").
        let public = find_one(
            &session,
            ObjectClass::PUBLIC_KEY,
            b"minutier-checkpoint",
            &cfg,
        )
        .unwrap()
        .unwrap();
        let params = session
            .get_attributes(public, &[AttributeType::EcParams])
            .unwrap();
        assert!(
            matches!(&params[..], [Attribute::EcParams(p)] if p == EC_PARAMS_EDWARDS25519),
            "{params:?}"
        );
        drop(session);

        // Another label on the same token is another key.
        let (other, created) =
            Pkcs11Keystore::open(&config("hw-generate", "minutier-2"), ORIGIN, true).unwrap();
        assert!(created);
        assert_ne!(other.public_key(), first.public_key());
    }

    #[test]
    fn an_absent_key_is_not_generated_unless_asked() {
        let err = Pkcs11Keystore::open(&config("hw-absent", "nothing-here"), ORIGIN, false)
            .err()
            .unwrap();
        assert!(matches!(err, KeyError::KeyAbsent { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("\"nothing-here\"") && msg.contains("\"hw-absent\""),
            "{msg}"
        );
    }

    #[test]
    fn a_wrong_pin_is_refused_and_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config("hw-pin", "k");
        cfg.pin_file = dir.path().join("wrong-pin");
        write_pin_file(&cfg.pin_file, "0000");
        let err = Pkcs11Keystore::open(&cfg, ORIGIN, true).err().unwrap();
        assert!(
            matches!(err, KeyError::WrongPin { locked: false, .. }),
            "{err}"
        );
        let msg = err.to_string();
        assert!(msg.contains("hw-pin") && msg.contains("wrong-pin"), "{msg}");
        assert!(
            !msg.contains("0000") && !format!("{err:?}").contains("0000"),
            "{msg}"
        );
        // The right PIN still works (one failure does not lock SoftHSM).
        Pkcs11Keystore::open(&config("hw-pin", "k"), ORIGIN, true).unwrap();

        // A PIN file others can read is refused before it is used.
        let open_pin = dir.path().join("pin");
        std::fs::write(&open_pin, PIN).unwrap();
        std::fs::set_permissions(&open_pin, std::fs::Permissions::from_mode(0o644)).unwrap();
        cfg.pin_file = open_pin;
        let err = Pkcs11Keystore::open(&cfg, ORIGIN, true).err().unwrap();
        assert!(matches!(err, KeyError::TooOpen { .. }), "{err}");
    }

    #[test]
    fn a_missing_token_lists_the_tokens_seen() {
        let err = Pkcs11Keystore::open(&config("no-such-token", "k"), ORIGIN, true)
            .err()
            .unwrap();
        let KeyError::TokenNotFound { seen, .. } = &err else {
            panic!("{err}");
        };
        for label in TOKENS {
            assert!(seen.iter().any(|s| s == label), "{seen:?}");
        }
        let msg = err.to_string();
        assert!(
            msg.contains("no-such-token") && msg.contains("hw-pair"),
            "{msg}"
        );
    }

    #[test]
    fn a_missing_module_is_named() {
        let mut cfg = config("hw-pair", "k");
        cfg.module = "/nonexistent/libpkcs11.so".into();
        let err = Pkcs11Keystore::open(&cfg, ORIGIN, true).err().unwrap();
        assert!(matches!(err, KeyError::ModuleNotFound { .. }), "{err}");
        assert!(
            err.to_string().contains("/nonexistent/libpkcs11.so"),
            "{err}"
        );
        // A file that is no module.
        cfg.module = hsm().pin_file().to_owned();
        let err = Pkcs11Keystore::open(&cfg, ORIGIN, true).err().unwrap();
        assert!(matches!(err, KeyError::ModuleNotFound { .. }), "{err}");
    }

    #[test]
    fn ec_points() {
        let mut der = vec![0x04, 0x20];
        der.extend([9u8; 32]);
        assert_eq!(decode_ec_point(&der), Some([9; 32]));
        assert_eq!(decode_ec_point(&[9; 32]), Some([9; 32]));
        assert_eq!(decode_ec_point(&der[..33]), None);
        assert_eq!(decode_ec_point(&[]), None);
    }
}
