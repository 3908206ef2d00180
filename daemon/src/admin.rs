//! Credentials: issuing, revoking, listing. The admin's side of the PKI.

use std::sync::{Arc, Mutex};

use minutier_seal::record::Timestamp;
use rand::rngs::OsRng;
use rand::Rng;
use time::Duration;

use crate::auth::{Authenticator, Credential, Identity, Role};
use crate::console::login;
use crate::error::{Error, Result};
use crate::model::PasswordLogin;
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
    /// Serialises account creation, so that two logins cannot both pass
    /// the uniqueness check.
    accounts: Mutex<()>,
}

/// A credential just issued: the bundle to hand over, and its registry entry.
pub struct IssuedCredential {
    pub bundle: String,
    pub credential: Credential,
}

/// A console account just created, with what is shown to the
/// administrator once.
pub struct CreatedAccount {
    pub credential: Credential,
    /// Only when the password was generated.
    pub password: Option<String>,
    pub totp_uri: Option<String>,
    pub totp_secret: Option<String>,
}

/// Issuer named in the otpauth URI, shown by authenticator apps.
const TOTP_ISSUER: &str = "Minutier";

impl AdminService {
    pub fn new(pki: Pki, auth: Arc<Authenticator>, server_url: String) -> Self {
        AdminService {
            pki,
            auth,
            server_url,
            accounts: Mutex::new(()),
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
        let (name, role, agency, validity) = check_holder(name, role, agency, validity)?;
        self.issue_for(
            by,
            Subject {
                name,
                role: role.as_str().to_owned(),
                agency,
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
            login: None,
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

    /// Creates a console account that signs in with `login` and a
    /// password (generated when `password` is None), with a TOTP secret
    /// when `totp`. The registry entry is durable before it is returned.
    #[allow(clippy::too_many_arguments)]
    pub fn create_account(
        &self,
        by: &str,
        login: &str,
        name: &str,
        role: &str,
        agency: Option<&str>,
        validity: Validity,
        password: Option<String>,
        totp: bool,
        now_millis: u64,
    ) -> Result<CreatedAccount> {
        let bad = |m: String| Err(Error::InvalidArgument(m));
        let (name, role, agency, validity) = check_holder(name, role, agency, validity)?;
        if role == Role::Admin {
            return bad(
                "role admin is not available to console accounts: the console does not administer the appliance; \
                 administrators use a certificate with the minutier command"
                    .into(),
            );
        }
        check_login(login)?;
        let generated = password.is_none();
        let password = match password {
            Some(p) => {
                login::check_password_policy(&p).map_err(Error::InvalidArgument)?;
                p
            }
            None => login::generate_password(),
        };
        let totp_secret = totp.then(login::new_totp_secret);
        let password_hash = login::hash_password(&password);
        let mut serial = [0u8; 16];
        OsRng.fill(&mut serial);
        let validity_millis = u64::try_from(validity.whole_milliseconds()).unwrap_or(u64::MAX);
        let credential = Credential {
            serial: data_encoding::HEXLOWER.encode(&serial),
            name,
            role,
            agency,
            issued_at: now_millis,
            not_after: now_millis.saturating_add(validity_millis),
            issued_by: by.to_owned(),
            revoked_at: None,
            revoked_by: None,
            login: Some(PasswordLogin {
                login: login.to_owned(),
                password_hash,
                totp_secret: totp_secret.clone(),
            }),
        };
        {
            let _one_at_a_time = self.accounts.lock().unwrap();
            if self.auth.account(login).is_some() {
                return bad(format!(
                    "an account with login {login} already exists; revoke it first"
                ));
            }
            self.auth.register(credential.clone())?;
        }
        tracing::info!(login, name = %credential.name, role = %credential.role, serial = %credential.serial, totp, %by, "console account created");
        Ok(CreatedAccount {
            password: generated.then_some(password),
            totp_uri: totp_secret
                .as_deref()
                .map(|s| login::otpauth_uri(TOTP_ISSUER, login, s)),
            totp_secret,
            credential,
        })
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

/// Checks the holder and validity of a new credential or account: the
/// trimmed name, the role, the agency (dms only) and the validity.
fn check_holder(
    name: &str,
    role: &str,
    agency: Option<&str>,
    validity: Validity,
) -> Result<(String, Role, Option<String>, Duration)> {
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
    Ok((name.to_owned(), role, agency.map(str::to_owned), validity))
}

/// A login: 1 to 64 characters of a-z, 0-9, '.', '_' or '-', starting
/// with a letter or digit.
fn check_login(login: &str) -> Result<()> {
    let ok = (1..=64).contains(&login.len())
        && login
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        && login
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "login {login:?} must be 1 to 64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_are_lowercase_ascii_and_start_with_a_letter_or_digit() {
        for ok in ["m.dupont", "a", "0ops", "archives_2024-b", &"x".repeat(64)] {
            assert!(check_login(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".dupont",
            "-a",
            "_a",
            "M.Dupont",
            "m dupont",
            "m@dupont",
            "é",
            &"x".repeat(65),
        ] {
            assert!(check_login(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn holder_checks_are_shared_by_credentials_and_accounts() {
        let (name, role, agency, validity) =
            check_holder("  Marie Dupont ", "dms", Some(" AG1 "), Validity::Days(0)).unwrap();
        assert_eq!(
            (name.as_str(), role, agency.as_deref()),
            ("Marie Dupont", Role::Dms, Some("AG1"))
        );
        assert_eq!(validity, Duration::days(DEFAULT_VALIDITY_DAYS.into()));
        assert!(check_holder("M", "dms", None, Validity::Days(1)).is_err());
        assert!(check_holder("M", "auditor", Some("AG1"), Validity::Days(1)).is_err());
        assert!(check_holder("M", "root", None, Validity::Days(1)).is_err());
        assert!(check_holder("M", "auditor", None, Validity::Days(MAX_VALIDITY_DAYS + 1)).is_err());
    }
}
