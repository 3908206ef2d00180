//! `[pastell]` in the daemon's configuration: listener, base URL, size
//! limits and the accounts, checked before the endpoint opens.

use std::net::SocketAddr;

use serde::Deserialize;

use super::auth::actor_of;

/// `[pastell]` in the daemon's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PastellConfig {
    /// Address of the HTTPS listener (e.g. `0.0.0.0:7371`).
    pub listen: SocketAddr,
    /// Path under which the routes are served (Pastell's connector URL is
    /// `https://<host>:<port><base_url>`).
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// Largest package archive accepted, whole or all chunks together.
    #[serde(default = "default_max_package_size")]
    pub max_package_size: u64,
    /// Most bytes spooled at once, every upload in progress together.
    #[serde(default = "default_max_spool_size")]
    pub max_spool_size: u64,
    /// A chunked upload without a new chunk for this long is dropped.
    #[serde(default = "default_session_timeout")]
    pub chunk_session_timeout_seconds: u64,
    /// Who may deposit.
    #[serde(default)]
    pub accounts: Vec<AccountConfig>,
}

/// `[[pastell.accounts]]`: one Pastell connector's credentials.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// The connector's login.
    pub login: String,
    /// Lowercase hex SHA-256 of the connector's password, which is what
    /// Pastell sends (`printf %s 'password' | sha256sum`).
    pub password_sha256: String,
    /// The originating agency this account deposits for: every unit of its
    /// transfers must name it (or none, and it is filled in).
    pub agency: String,
}

impl std::fmt::Debug for AccountConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountConfig")
            .field("login", &self.login)
            .field("password_sha256", &"(hidden)")
            .field("agency", &self.agency)
            .finish()
    }
}

fn default_base_url() -> String {
    "/".into()
}

fn default_max_package_size() -> u64 {
    4 << 30
}

fn default_max_spool_size() -> u64 {
    16 << 30
}

fn default_session_timeout() -> u64 {
    3600
}

impl PastellConfig {
    /// Rejects settings the endpoint cannot run with.
    pub fn validate(&self) -> Result<(), String> {
        let base = &self.base_url;
        if !base.starts_with('/')
            || base
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "?#%\\".contains(c))
        {
            return Err(format!(
                "pastell.base_url {base:?} must be a path starting with / (e.g. \"/\" or \"/asalae\")"
            ));
        }
        if self.max_package_size == 0 {
            return Err("pastell.max_package_size must be at least 1".into());
        }
        if self.max_spool_size < self.max_package_size {
            return Err("pastell.max_spool_size must be at least pastell.max_package_size".into());
        }
        if self.chunk_session_timeout_seconds == 0 {
            return Err("pastell.chunk_session_timeout_seconds must be at least 1".into());
        }
        if self.accounts.is_empty() {
            return Err(
                "pastell: add at least one [[pastell.accounts]] (login, password_sha256, agency)"
                    .into(),
            );
        }
        let mut logins = std::collections::HashSet::new();
        for a in &self.accounts {
            if a.login.is_empty() || a.login.contains(':') || a.login.chars().any(char::is_control)
            {
                return Err(format!(
                    "pastell.accounts: login {:?} must be non-empty, without ':' or control characters",
                    a.login
                ));
            }
            minutier_seal::record::validate_actor(&actor_of(&a.login))
                .map_err(|e| format!("pastell.accounts: login {:?}: {e}", a.login))?;
            if !logins.insert(a.login.as_str()) {
                return Err(format!(
                    "pastell.accounts: login {:?} is listed twice",
                    a.login
                ));
            }
            if a.password_sha256.len() != 64
                || !a.password_sha256.bytes().all(|b| b.is_ascii_hexdigit())
            {
                return Err(format!(
                    "pastell.accounts: password_sha256 of {:?} must be 64 hex digits, the SHA-256 of the password \
                     (printf %s 'password' | sha256sum)",
                    a.login
                ));
            }
            if a.agency.trim().is_empty() {
                return Err(format!(
                    "pastell.accounts: {:?} needs the agency it deposits for",
                    a.login
                ));
            }
        }
        Ok(())
    }

    /// `base_url` without its trailing slashes ("" for the root).
    pub(super) fn base_path(&self) -> String {
        self.base_url.trim_end_matches('/').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config() {
        let parse = |text: &str| toml::from_str::<PastellConfig>(text).unwrap();
        let good = "listen = \"127.0.0.1:7371\"\n[[accounts]]\nlogin = \"pastell\"\n\
                    password_sha256 = \"2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b\"\n\
                    agency = \"MAIRIE\"\n";
        let c = parse(good);
        c.validate().unwrap();
        assert_eq!(c.base_path(), "");
        assert!(!format!("{c:?}").contains("2bb80d"));
        let mut c2 = c.clone();
        c2.base_url = "/asalae/".into();
        c2.validate().unwrap();
        assert_eq!(c2.base_path(), "/asalae");
        c2.base_url = "asalae".into();
        assert!(c2.validate().unwrap_err().contains("base_url"));
        let mut c3 = c.clone();
        c3.accounts[0].password_sha256 = "secret".into();
        assert!(c3.validate().unwrap_err().contains("sha256sum"));
        let mut c4 = c.clone();
        c4.accounts.push(c4.accounts[0].clone());
        assert!(c4.validate().unwrap_err().contains("twice"));
        let mut c5 = c.clone();
        c5.accounts.clear();
        assert!(c5.validate().unwrap_err().contains("[[pastell.accounts]]"));
        let mut c6 = c;
        c6.max_spool_size = 1;
        assert!(c6.validate().unwrap_err().contains("max_spool_size"));
        assert!(toml::from_str::<PastellConfig>(&format!("{good}typo = 1\n")).is_err());
    }
}
