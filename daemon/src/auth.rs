//! Who is calling, and may they do this?
//!
//! Every request to the archive and admin services is authenticated from
//! its TLS client certificate and authorized against one role table
//! ([`allowed`], documented in docs/security.md). The TLS layer only checks
//! that the client holds the key of the certificate it presents; the chain,
//! validity dates, the credential registry (revocation) and the role are
//! checked here, so that every refusal is a precise gRPC status, logged and
//! counted, and revocation takes effect at once.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};

use minutier_seal::record::Timestamp;
use rustls::server::danger::ClientCertVerifier;
use rustls::{CertificateError, Error as TlsError};
use rustls_pki_types::{CertificateDer, UnixTime};
use sha2::{Digest, Sha256};
use tonic::Status;

use crate::error::{Error, Result};
pub use crate::model::{Credential, Role};
use crate::pki::subject_of;
use crate::store::Store;

/// Everything a caller can ask of the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    Ingest,
    ReadContent,
    ReadMetadata,
    List,
    ReadSeal,
    ReadCheckpoint,
    ReadProof,
    ReadRecords,
    /// Read content whose access rule has not expired.
    ReadRestricted,
    CorrectMetadata,
    ChangeRules,
    PlaceHold,
    LiftHold,
    ReadHistory,
    ReadRetention,
    ProposeElimination,
    DecideElimination,
    ExecuteElimination,
    ReadEliminations,
    ReadJournal,
    ReadReplication,
    Scrub,
    /// Read the RFC 3161 time-stamps of checkpoints and the timestamping
    /// status.
    ReadTimestamps,
    IssueCredential,
    RevokeCredential,
    ListCredentials,
    Status,
    WhoAmI,
    ReadHealth,
}

impl Action {
    pub const ALL: [Action; 29] = [
        Action::Ingest,
        Action::ReadContent,
        Action::ReadMetadata,
        Action::List,
        Action::ReadSeal,
        Action::ReadCheckpoint,
        Action::ReadProof,
        Action::ReadRecords,
        Action::ReadRestricted,
        Action::CorrectMetadata,
        Action::ChangeRules,
        Action::PlaceHold,
        Action::LiftHold,
        Action::ReadHistory,
        Action::ReadRetention,
        Action::ProposeElimination,
        Action::DecideElimination,
        Action::ExecuteElimination,
        Action::ReadEliminations,
        Action::ReadJournal,
        Action::ReadReplication,
        Action::Scrub,
        Action::ReadTimestamps,
        Action::IssueCredential,
        Action::RevokeCredential,
        Action::ListCredentials,
        Action::Status,
        Action::WhoAmI,
        Action::ReadHealth,
    ];

    /// What the action is, in the words of a refusal message.
    pub fn describe(self) -> &'static str {
        match self {
            Action::Ingest => "ingest documents",
            Action::ReadContent => "read document content",
            Action::ReadMetadata => "read metadata",
            Action::List => "list archives",
            Action::ReadSeal => "read seals",
            Action::ReadCheckpoint => "read checkpoints",
            Action::ReadProof => "read consistency proofs",
            Action::ReadRecords => "read log records",
            Action::ReadRestricted => "read content before it is communicable",
            Action::CorrectMetadata => "correct metadata",
            Action::ChangeRules => "change management rules",
            Action::PlaceHold => "place holds",
            Action::LiftHold => "lift holds",
            Action::ReadHistory => "read an archive's history",
            Action::ReadRetention => "list retention periods",
            Action::ProposeElimination => "propose eliminations",
            Action::DecideElimination => "approve or refuse eliminations",
            Action::ExecuteElimination => "execute eliminations",
            Action::ReadEliminations => "read eliminations",
            Action::ReadJournal => "read the access journal",
            Action::ReadReplication => "read the replication status",
            Action::Scrub => "run a scrub",
            Action::ReadTimestamps => "read the time-stamps of checkpoints",
            Action::IssueCredential => "issue credentials",
            Action::RevokeCredential => "revoke credentials",
            Action::ListCredentials => "list credentials",
            Action::Status => "read the appliance status",
            Action::ReadHealth => "read the appliance's health",
            Action::WhoAmI => "ask who they are",
        }
    }
}

/// The role table: each role is allowed only what it needs. A `dms` is
/// further limited to its own originating agency by the archive service.
/// Content not yet communicable is refused to roles without
/// [`Action::ReadRestricted`].
/// The admin configures and issues credentials, but reads no content and
/// no metadata (separation of duties).
pub fn allowed(role: Role, action: Action) -> bool {
    use Action::*;
    use Role::*;
    match action {
        // Checkpoints, proofs and the time-stamps of checkpoints reveal
        // nothing of any document: everyone may check the log.
        WhoAmI | ReadCheckpoint | ReadProof | ReadTimestamps => true,
        Ingest => matches!(role, Archivist | Dms),
        ReadContent | ReadMetadata | List | ReadSeal => {
            matches!(role, Archivist | Dms | Auditor | Controller)
        }
        ReadRecords | ReadHistory | ReadRetention | ReadEliminations => {
            matches!(role, Archivist | Auditor | Controller)
        }
        ReadRestricted => matches!(role, Archivist | Controller),
        CorrectMetadata | ChangeRules | ProposeElimination | ExecuteElimination => {
            role == Archivist
        }
        PlaceHold | LiftHold => matches!(role, Archivist | Controller),
        // The visa: only a controller, never the proposer (checked by the
        // lifecycle rules, across credentials).
        DecideElimination => role == Controller,
        // Most offences come from inside: those who read the journal are
        // not those who manage the archives.
        ReadJournal => matches!(role, Auditor | Controller),
        ReadReplication | ReadHealth => matches!(role, Archivist | Auditor | Controller | Admin),
        // Upkeep of the appliance: reads nothing out, repairs in place.
        Scrub => matches!(role, Archivist | Admin),
        IssueCredential | RevokeCredential | ListCredentials | Status => role == Admin,
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub role: Role,
    pub agency: Option<String>,
    pub serial: String,
}

impl Identity {
    /// How the caller is named in log records: name, role and the start of
    /// the certificate serial, so two people with one name stay apart.
    pub fn actor(&self) -> String {
        format!(
            "{} [{} {}]",
            self.name,
            self.role,
            &self.serial[..self.serial.len().min(8)]
        )
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.role)
    }
}

/// Checks certificates and roles; keeps the registry and refusal counts.
pub struct Authenticator {
    chain: Arc<dyn ClientCertVerifier>,
    store: Arc<dyn Store>,
    registry: RwLock<HashMap<String, Credential>>,
    /// Certificates whose chain already verified: SHA-256 of the DER to
    /// (name, role, agency, serial, not_after seconds).
    verified: Mutex<HashMap<[u8; 32], (crate::pki::Subject, String, i64)>>,
    refusals: Mutex<BTreeMap<(String, String, &'static str), u64>>,
}

const VERIFIED_CACHE: usize = 10_000;

/// Why a refusal happened, for counting.
#[derive(Debug, Clone, Copy)]
enum Reason {
    NoCertificate,
    UnknownIssuer,
    UnknownCredential,
    Revoked,
    Expired,
    NotYetValid,
    Role,
    Agency,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::NoCertificate => "no-certificate",
            Reason::UnknownIssuer => "unknown-issuer",
            Reason::UnknownCredential => "unknown-credential",
            Reason::Revoked => "revoked",
            Reason::Expired => "expired",
            Reason::NotYetValid => "not-yet-valid",
            Reason::Role => "role",
            Reason::Agency => "agency",
        }
    }
}

/// One line of the refusal counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusalCount {
    pub role: String,
    pub action: String,
    pub reason: String,
    pub count: u64,
}

impl Authenticator {
    pub fn new(chain: Arc<dyn ClientCertVerifier>, store: Arc<dyn Store>) -> Result<Self> {
        let registry = store
            .credentials()?
            .into_iter()
            .map(|c| (c.serial.clone(), c))
            .collect();
        Ok(Authenticator {
            chain,
            store,
            registry: RwLock::new(registry),
            verified: Mutex::new(HashMap::new()),
            refusals: Mutex::new(BTreeMap::new()),
        })
    }

    /// Authenticates the caller from its certificate chain and checks that
    /// its role allows `action`.
    pub fn authorize(
        &self,
        certs: Option<&[CertificateDer<'static>]>,
        action: Action,
    ) -> Result<Identity, Status> {
        let end_entity = match certs.and_then(|c| c.first()) {
            Some(c) => c,
            None => {
                return Err(self.refuse(None, action, Reason::NoCertificate, Status::unauthenticated(
                    "no client certificate: connect with a credential bundle (minutier --credentials FILE); \
                     an administrator issues one with `minutier admin issue`",
                )))
            }
        };
        let (subject, serial, not_after) = self.verify_chain(end_entity, action)?;
        let unknown = |what: String| {
            self.refuse(
                None,
                action,
                Reason::UnknownCredential,
                Status::unauthenticated(what),
            )
        };
        let Some(role) = Role::parse(&subject.role) else {
            return Err(unknown(format!(
                "the certificate names an unknown role {:?}",
                subject.role
            )));
        };
        let identity = Identity {
            name: subject.name,
            role,
            agency: subject.agency,
            serial,
        };
        let credential = self.registry.read().unwrap().get(&identity.serial).cloned();
        let Some(credential) = credential else {
            return Err(unknown(format!(
                "the credential of {identity} (serial {}) is not in this appliance's registry",
                identity.serial
            )));
        };
        // A console account's serial is random, not a certificate's: a
        // certificate bearing it was not issued for it.
        if credential.login.is_some() {
            return Err(unknown(format!(
                "serial {} belongs to a console account, which signs in with a password, not a certificate",
                identity.serial
            )));
        }
        if let Some(revoked_at) = credential.revoked_at {
            return Err(self.refuse(
                Some(&identity),
                action,
                Reason::Revoked,
                Status::permission_denied(format!(
                    "the credential of {identity} was revoked on {} by {}: it may not {}",
                    Timestamp(revoked_at),
                    credential
                        .revoked_by
                        .as_deref()
                        .unwrap_or("an administrator"),
                    action.describe()
                )),
            ));
        }
        let now = UnixTime::now().as_secs() as i64;
        if now > not_after {
            return Err(self.refuse(Some(&identity), action, Reason::Expired, Status::permission_denied(format!(
                "the credential of {identity} expired on {}: it may not {}; ask an administrator for a new one",
                Timestamp(not_after as u64 * 1000),
                action.describe()
            ))));
        }
        if !allowed(identity.role, action) {
            return Err(self.refuse(
                Some(&identity),
                action,
                Reason::Role,
                Status::permission_denied(format!(
                    "role {} ({}) may not {}",
                    identity.role,
                    identity.name,
                    action.describe()
                )),
            ));
        }
        Ok(identity)
    }

    /// Refuses a `dms` acting outside its own originating agency.
    pub fn check_agency(
        &self,
        identity: &Identity,
        action: Action,
        agency: &str,
    ) -> Result<(), Status> {
        if identity.role != Role::Dms || identity.agency.as_deref() == Some(agency) {
            return Ok(());
        }
        Err(self.refuse(
            Some(identity),
            action,
            Reason::Agency,
            Status::permission_denied(format!(
                "role dms ({}) may only {} for its own agency {}, not {}",
                identity.name,
                action.describe(),
                identity.agency.as_deref().unwrap_or("(none)"),
                if agency.is_empty() {
                    "(no agency)"
                } else {
                    agency
                }
            )),
        ))
    }

    /// Verifies that the certificate was issued by this appliance's CA,
    /// caching the verdict. Validity dates are checked by the caller.
    fn verify_chain(
        &self,
        end_entity: &CertificateDer<'static>,
        action: Action,
    ) -> Result<(crate::pki::Subject, String, i64), Status> {
        let key: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
        if let Some(hit) = self.verified.lock().unwrap().get(&key) {
            return Ok(hit.clone());
        }
        let outcome = self
            .chain
            .verify_client_cert(end_entity, &[], UnixTime::now());
        let time_only = match &outcome {
            Ok(_) => false,
            Err(TlsError::InvalidCertificate(
                CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. },
            )) => true,
            Err(e) => {
                return Err(self.refuse(
                    None,
                    action,
                    Reason::UnknownIssuer,
                    Status::unauthenticated(format!(
                        "the client certificate was not issued by this appliance's authority ({e})"
                    )),
                ))
            }
        };
        let parsed = subject_of(end_entity.as_ref()).map_err(|e| {
            self.refuse(
                None,
                action,
                Reason::UnknownCredential,
                Status::unauthenticated(e),
            )
        })?;
        if time_only {
            let now = UnixTime::now().as_secs() as i64;
            if now <= parsed.2 {
                // Valid until later, so the problem is that it is not valid yet.
                let status = Status::permission_denied(format!(
                    "the credential of {} ({}) is not valid yet: check the appliance's clock",
                    parsed.0.name, parsed.0.role
                ));
                return Err(self.refuse(None, action, Reason::NotYetValid, status));
            }
            // Expired: reported with the holder's identity by the caller.
            return Ok(parsed);
        }
        let mut cache = self.verified.lock().unwrap();
        if cache.len() >= VERIFIED_CACHE {
            cache.clear();
        }
        cache.insert(key, parsed.clone());
        Ok(parsed)
    }

    fn refuse(
        &self,
        who: Option<&Identity>,
        action: Action,
        reason: Reason,
        status: Status,
    ) -> Status {
        let role = who.map_or("-".to_owned(), |i| i.role.to_string());
        tracing::warn!(
            who = %who.map_or("unauthenticated".to_owned(), |i| i.actor()),
            action = action.describe(),
            reason = reason.as_str(),
            message = status.message(),
            "refused"
        );
        *self
            .refusals
            .lock()
            .unwrap()
            .entry((role, format!("{action:?}"), reason.as_str()))
            .or_insert(0) += 1;
        status
    }

    /// Logs and counts a refusal decided by another front door than the
    /// gRPC one (the Pastell endpoint's passwords and agencies), so that
    /// it shows in the same counters. `role` names the kind of caller.
    pub fn note_refusal(
        &self,
        who: &str,
        role: &str,
        action: Action,
        reason: &'static str,
        message: &str,
    ) {
        tracing::warn!(who, action = action.describe(), reason, message, "refused");
        *self
            .refusals
            .lock()
            .unwrap()
            .entry((role.to_owned(), format!("{action:?}"), reason))
            .or_insert(0) += 1;
    }

    /// Refusals so far, by role, action and reason.
    pub fn refusal_counts(&self) -> Vec<RefusalCount> {
        self.refusals
            .lock()
            .unwrap()
            .iter()
            .map(|((role, action, reason), count)| RefusalCount {
                role: role.clone(),
                action: action.clone(),
                reason: reason.to_string(),
                count: *count,
            })
            .collect()
    }

    /// Records a newly issued credential (durably, before it is handed out).
    pub fn register(&self, credential: Credential) -> Result<()> {
        self.store
            .put_credentials(std::slice::from_ref(&credential))?;
        self.registry
            .write()
            .unwrap()
            .insert(credential.serial.clone(), credential);
        Ok(())
    }

    /// Revokes every live credential of `name` (or only `serial`); takes
    /// effect for the next request. Returns what was revoked.
    pub fn revoke(
        &self,
        name: &str,
        serial: Option<&str>,
        by: &str,
        now: u64,
    ) -> Result<Vec<Credential>> {
        let mut registry = self.registry.write().unwrap();
        let revoked: Vec<Credential> = registry
            .values()
            .filter(|c| {
                c.name == name && c.revoked_at.is_none() && serial.is_none_or(|s| c.serial == s)
            })
            .map(|c| Credential {
                revoked_at: Some(now),
                revoked_by: Some(by.to_owned()),
                ..c.clone()
            })
            .collect();
        if revoked.is_empty() {
            return Err(Error::NotFound(format!(
                "no live credential named {name:?} to revoke"
            )));
        }
        self.store.put_credentials(&revoked)?;
        for c in &revoked {
            registry.insert(c.serial.clone(), c.clone());
        }
        Ok(revoked)
    }

    /// The live console account whose login is `login` (case-sensitive).
    pub fn account(&self, login: &str) -> Option<Credential> {
        self.registry
            .read()
            .unwrap()
            .values()
            .find(|c| c.revoked_at.is_none() && c.login.as_ref().is_some_and(|l| l.login == login))
            .cloned()
    }

    /// Whether the credential `serial` may still act: registered, not
    /// revoked, not expired. A console session is checked at each request,
    /// so that revocation ends it at once.
    pub fn live(&self, serial: &str) -> std::result::Result<(), &'static str> {
        let registry = self.registry.read().unwrap();
        let credential = registry.get(serial).ok_or("unknown credential")?;
        if credential.revoked_at.is_some() {
            return Err("credential revoked");
        }
        if credential.not_after <= UnixTime::now().as_secs() * 1000 {
            return Err("credential expired");
        }
        Ok(())
    }

    /// Every credential ever issued, oldest first.
    pub fn credentials(&self) -> Vec<Credential> {
        let mut all: Vec<Credential> = self.registry.read().unwrap().values().cloned().collect();
        all.sort_by(|a, b| (a.issued_at, &a.serial).cmp(&(b.issued_at, &b.serial)));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_admin_reads_nothing_and_only_the_admin_manages_credentials() {
        for action in [
            Action::ReadContent,
            Action::ReadMetadata,
            Action::List,
            Action::ReadSeal,
            Action::ReadRecords,
            Action::Ingest,
        ] {
            assert!(!allowed(Role::Admin, action), "{action:?}");
        }
        for role in Role::ALL {
            for action in [
                Action::IssueCredential,
                Action::RevokeCredential,
                Action::ListCredentials,
                Action::Status,
            ] {
                assert_eq!(
                    allowed(role, action),
                    role == Role::Admin,
                    "{role} {action:?}"
                );
            }
            assert!(allowed(role, Action::WhoAmI));
        }
        assert!(!allowed(Role::Auditor, Action::Ingest));
        assert!(!allowed(Role::Controller, Action::Ingest));
        assert!(!allowed(Role::Dms, Action::ReadRecords));
    }

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
