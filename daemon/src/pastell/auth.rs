//! Who calls the Pastell endpoint: HTTP Basic authentication against the
//! configured accounts.
//!
//! Pastell's `as@lae-rest` connector sends, as the Basic password, the
//! lowercase hex SHA-256 of the password typed in its connector; the
//! configuration holds that same hex string (never the clear password).
//! Passwords are compared in constant time, through digests of equal
//! length.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::{header, HeaderMap};
use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::AccountConfig;

/// An authenticated account.
#[derive(Debug)]
pub struct Account {
    pub login: String,
    /// The originating agency this account deposits for.
    pub agency: String,
    /// How the account is named in log records: `pastell:<login>`.
    pub actor: String,
    /// SHA-256 of the expected Basic password (lowercase hex).
    expected: [u8; 32],
}

/// Why a request was not authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No `Authorization: Basic` header.
    Missing,
    /// An `Authorization` header that is not valid Basic credentials.
    Malformed,
    /// No account has this login.
    UnknownLogin(String),
    /// The password does not match.
    BadPassword(String),
}

impl Refusal {
    /// The reason, for logs and refusal counters.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::Missing => "no-credential",
            Refusal::Malformed => "malformed-credential",
            Refusal::UnknownLogin(_) => "unknown-credential",
            Refusal::BadPassword(_) => "bad-password",
        }
    }

    /// Who tried, as far as known.
    pub fn who(&self) -> String {
        match self {
            Refusal::UnknownLogin(l) | Refusal::BadPassword(l) => format!("pastell:{l}"),
            _ => "unauthenticated".into(),
        }
    }
}

/// The configured accounts, by login.
pub struct Accounts {
    by_login: HashMap<String, Arc<Account>>,
}

/// The actor name of a Pastell account in log records.
pub fn actor_of(login: &str) -> String {
    format!("pastell:{login}")
}

fn digest(password: &str) -> [u8; 32] {
    Sha256::digest(password.to_ascii_lowercase().as_bytes()).into()
}

/// Compares two digests without an early exit.
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

impl Accounts {
    /// The accounts of a validated configuration.
    pub fn new(accounts: &[AccountConfig]) -> Accounts {
        let by_login = accounts
            .iter()
            .map(|a| {
                let account = Account {
                    login: a.login.clone(),
                    agency: a.agency.clone(),
                    actor: actor_of(&a.login),
                    expected: digest(&a.password_sha256),
                };
                (a.login.clone(), Arc::new(account))
            })
            .collect();
        Accounts { by_login }
    }

    /// Checks the request's Basic credentials.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Arc<Account>, Refusal> {
        let value = headers
            .get(header::AUTHORIZATION)
            .ok_or(Refusal::Missing)?
            .to_str()
            .map_err(|_| Refusal::Malformed)?;
        let (scheme, encoded) = value.trim().split_once(' ').ok_or(Refusal::Malformed)?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(Refusal::Missing);
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| Refusal::Malformed)?;
        let decoded = String::from_utf8(decoded).map_err(|_| Refusal::Malformed)?;
        let (login, password) = decoded.split_once(':').ok_or(Refusal::Malformed)?;
        let given = digest(password);
        match self.by_login.get(login) {
            Some(account) if same(&account.expected, &given) => Ok(account.clone()),
            Some(_) => Err(Refusal::BadPassword(login.to_owned())),
            None => {
                // The same work as for a known login.
                let _ = same(&digest(""), &given);
                Err(Refusal::UnknownLogin(login.to_owned()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user_pass: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let v = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_pass)
        );
        h.insert(header::AUTHORIZATION, v.parse().unwrap());
        h
    }

    #[test]
    fn basic_credentials() {
        // printf %s 'secret' | sha256sum
        let hash = "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b";
        let accounts = Accounts::new(&[AccountConfig {
            login: "pastell".into(),
            password_sha256: hash.to_uppercase(),
            agency: "MAIRIE".into(),
        }]);
        let ok = accounts
            .authenticate(&basic(&format!("pastell:{hash}")))
            .unwrap();
        assert_eq!(ok.actor, "pastell:pastell");
        assert_eq!(ok.agency, "MAIRIE");
        // Uppercase hex is the same password.
        assert!(accounts
            .authenticate(&basic(&format!("pastell:{}", hash.to_uppercase())))
            .is_ok());
        assert_eq!(
            accounts.authenticate(&basic("pastell:secret")).unwrap_err(),
            Refusal::BadPassword("pastell".into())
        );
        assert_eq!(
            accounts
                .authenticate(&basic(&format!("other:{hash}")))
                .unwrap_err(),
            Refusal::UnknownLogin("other".into())
        );
        assert_eq!(
            accounts.authenticate(&HeaderMap::new()).unwrap_err(),
            Refusal::Missing
        );
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "Basic !!!".parse().unwrap());
        assert_eq!(accounts.authenticate(&h).unwrap_err(), Refusal::Malformed);
        assert_eq!(
            accounts.authenticate(&basic("no-colon")).unwrap_err(),
            Refusal::Malformed
        );
    }
}
