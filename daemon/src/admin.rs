//! Credentials: issuing, revoking, listing. The admin's side of the PKI.

use std::sync::Arc;

use minutier_seal::record::Timestamp;
use time::Duration;

use crate::auth::{Authenticator, Credential, Identity, Role};
use crate::error::{Error, Result};
use crate::pki::{Pki, Subject};

/// Default and longest validity of a client credential.
pub const DEFAULT_VALIDITY_DAYS: u32 = 730;
pub const MAX_VALIDITY_DAYS: u32 = 3650;

/// Longest validity that may be given in seconds (30 days).
pub const MAX_SHORT_VALIDITY_SECONDS: u32 = 30 * 24 * 3600;

/// How long a new credential is valid.
#[derive(Debug, Clone, Copy)]
pub enum Validity {
    /// 0 means the default.
    Days(u32),
    Seconds(u32),
}

/// Issues and revokes credentials.
pub struct AdminService {
    pki: Pki,
    auth: Arc<Authenticator>,
    server_url: String,
}

/// A credential just issued: the bundle to hand over, and its registry entry.
pub struct IssuedCredential {
    pub bundle: String,
    pub credential: Credential,
}

impl AdminService {
    pub fn new(pki: Pki, auth: Arc<Authenticator>, server_url: String) -> Self {
        AdminService {
            pki,
            auth,
            server_url,
        }
    }

    pub fn auth(&self) -> &Arc<Authenticator> {
        &self.auth
    }

    /// Issues a credential for `name` with `role`. The registry entry is
    /// durable before the bundle is returned.
    pub fn issue(
        &self,
        by: &str,
        name: &str,
        role: &str,
        agency: Option<&str>,
        validity: Validity,
        now_millis: u64,
    ) -> Result<IssuedCredential> {
        let bad = |m: String| Err(Error::InvalidArgument(m));
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 128 || name.chars().any(char::is_control) {
            return bad(format!(
                "name {name:?} must be 1 to 128 characters without control characters"
            ));
        }
        let Some(role) = Role::parse(role) else {
            return bad(format!(
                "unknown role {role:?}; choose one of archivist, dms, auditor, controller, admin"
            ));
        };
        let agency = agency.map(str::trim).filter(|a| !a.is_empty());
        match (role, agency) {
            (Role::Dms, None) => {
                return bad(
                    "a dms credential needs --agency: the originating agency it may act for".into(),
                )
            }
            (r, Some(_)) if r != Role::Dms => {
                return bad(format!("--agency applies to dms credentials only, not {r}"))
            }
            _ => {}
        }
        if let Some(a) = agency {
            if a.len() > 64
                || !a
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            {
                return bad(format!(
                    "agency code {a:?} must be 1 to 64 letters, digits, '-', '_' or '.'"
                ));
            }
        }
        let validity = match validity {
            Validity::Seconds(s) if s > MAX_SHORT_VALIDITY_SECONDS => {
                return bad(format!(
                    "a validity of {s} seconds is over the {MAX_SHORT_VALIDITY_SECONDS} allowed in seconds; give days"
                ))
            }
            Validity::Seconds(s) => Duration::seconds(s.max(1).into()),
            Validity::Days(0) => Duration::days(DEFAULT_VALIDITY_DAYS.into()),
            Validity::Days(d) if d > MAX_VALIDITY_DAYS => {
                return bad(format!(
                    "a validity of {d} days is over the maximum of {MAX_VALIDITY_DAYS}"
                ))
            }
            Validity::Days(d) => Duration::days(d.into()),
        };
        self.issue_for(
            by,
            Subject {
                name: name.to_owned(),
                role: role.as_str().to_owned(),
                agency: agency.map(str::to_owned),
            },
            role,
            validity,
            now_millis,
        )
    }

    /// Issues without the argument checks (the daemon's own admin
    /// credential).
    pub fn issue_for(
        &self,
        by: &str,
        subject: Subject,
        role: Role,
        validity: Duration,
        now_millis: u64,
    ) -> Result<IssuedCredential> {
        let issued = self
            .pki
            .issue_client(&subject, validity)
            .map_err(|e| Error::Storage(e.to_string()))?;
        let credential = Credential {
            serial: issued.serial.clone(),
            name: subject.name.clone(),
            role,
            agency: subject.agency.clone(),
            issued_at: now_millis,
            not_after: (issued.not_after.unix_timestamp().max(0) as u64) * 1000,
            issued_by: by.to_owned(),
            revoked_at: None,
            revoked_by: None,
        };
        self.auth.register(credential.clone())?;
        let bundle = format!(
            "# Minutier credential for {} (role {}{})\n\
             # serial {}, valid until {}\n\
             # Keep this file private: it is the holder's identity on the appliance.\n\
             # server: {}\n\
             {}{}{}",
            credential.name,
            credential.role,
            credential
                .agency
                .as_deref()
                .map(|a| format!(", agency {a}"))
                .unwrap_or_default(),
            credential.serial,
            Timestamp(credential.not_after),
            self.server_url,
            issued.certified.cert_pem,
            issued.certified.key_pem,
            self.pki.ca_pem(),
        );
        tracing::info!(name = %credential.name, role = %credential.role, serial = %credential.serial, %by, "credential issued");
        Ok(IssuedCredential { bundle, credential })
    }

    /// Revokes the live credentials of `name` (or one serial).
    pub fn revoke(
        &self,
        by: &Identity,
        name: &str,
        serial: Option<&str>,
        now_millis: u64,
    ) -> Result<Vec<Credential>> {
        if by.name == name && serial.is_none_or(|s| s == by.serial) && by.role == Role::Admin {
            let others = self
                .auth
                .credentials()
                .iter()
                .filter(|c| c.role == Role::Admin && c.revoked_at.is_none() && c.name != name)
                .count();
            if others == 0 {
                return Err(Error::InvalidArgument(
                    "refusing to revoke the last live admin credential: issue another admin credential first".into(),
                ));
            }
        }
        let revoked = self.auth.revoke(name, serial, &by.actor(), now_millis)?;
        for c in &revoked {
            tracing::info!(name = %c.name, serial = %c.serial, by = %by.actor(), "credential revoked");
        }
        Ok(revoked)
    }
}
