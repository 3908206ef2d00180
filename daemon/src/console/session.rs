//! Console sessions: a random token in a `__Host-` cookie (Secure,
//! HttpOnly, SameSite=Strict), kept in memory only, so a restart signs
//! everyone out. Each session carries its own CSRF token, required on
//! every request that changes something.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest, Sha256};

use crate::auth::Identity;

/// The session cookie. `__Host-`: set by this origin only, over HTTPS,
/// for every path.
pub const COOKIE: &str = "__Host-minutier-session";
/// The double-submitted token of the sign-in form, before any session.
pub const SIGN_IN_COOKIE: &str = "__Host-minutier-sign-in";
/// Most sessions kept at once; the oldest goes first.
const MAX_SESSIONS: usize = 10_000;
/// Failed sign-ins are counted over this window.
const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// How the person signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Password,
    PasswordAndTotp,
    Certificate,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Password => "password",
            Method::PasswordAndTotp => "password+totp",
            Method::Certificate => "certificate",
        }
    }
}

#[derive(Debug)]
pub struct Session {
    pub identity: Identity,
    pub method: Method,
    pub csrf: String,
    started: Instant,
    last_seen: Mutex<Instant>,
}

/// Why a cookie no longer opens a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Unknown,
    Expired,
}

pub struct Sessions {
    idle: Duration,
    max: Duration,
    max_failures: u32,
    /// By SHA-256 of the token: the token itself is never kept.
    live: Mutex<HashMap<[u8; 32], Arc<Session>>>,
    failures: Mutex<HashMap<String, Vec<Instant>>>,
    /// The latest TOTP step used by each credential: a code serves once.
    totp_steps: Mutex<HashMap<String, u64>>,
}

/// A fresh random token, URL-safe base64 of 32 bytes.
pub fn token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Compares two secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

impl Sessions {
    pub fn new(idle: Duration, max: Duration, max_failures: u32) -> Sessions {
        Sessions {
            idle,
            max,
            max_failures,
            live: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            totp_steps: Mutex::new(HashMap::new()),
        }
    }

    /// Opens a session; returns its token (for the cookie) and the session.
    pub fn open(&self, identity: Identity, method: Method) -> (String, Arc<Session>) {
        let token = token();
        let now = Instant::now();
        let session = Arc::new(Session {
            identity,
            method,
            csrf: self::token(),
            started: now,
            last_seen: Mutex::new(now),
        });
        let mut live = self.live.lock().unwrap();
        if live.len() >= MAX_SESSIONS {
            live.retain(|_, s| !self.expired(s, now));
            if live.len() >= MAX_SESSIONS {
                if let Some(oldest) = live.iter().min_by_key(|(_, s)| s.started).map(|(k, _)| *k) {
                    live.remove(&oldest);
                }
            }
        }
        live.insert(key(&token), session.clone());
        (token, session)
    }

    /// The session a cookie opens, touched; an expired one is closed.
    pub fn get(&self, token: &str) -> Result<Arc<Session>, Lookup> {
        let now = Instant::now();
        let mut live = self.live.lock().unwrap();
        let k = key(token);
        let session = live.get(&k).cloned().ok_or(Lookup::Unknown)?;
        if self.expired(&session, now) {
            live.remove(&k);
            return Err(Lookup::Expired);
        }
        *session.last_seen.lock().unwrap() = now;
        Ok(session)
    }

    pub fn close(&self, token: &str) -> Option<Arc<Session>> {
        self.live.lock().unwrap().remove(&key(token))
    }

    /// Closes every session of a credential (revoked or expired).
    pub fn close_all_of(&self, serial: &str) {
        self.live
            .lock()
            .unwrap()
            .retain(|_, s| s.identity.serial != serial);
    }

    fn expired(&self, session: &Session, now: Instant) -> bool {
        now.duration_since(*session.last_seen.lock().unwrap()) > self.idle
            || now.duration_since(session.started) > self.max
    }

    /// Whether `login` may try again: fewer than the allowed failures in
    /// the window.
    pub fn may_try(&self, login: &str) -> bool {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap();
        let list = failures.entry(login.to_owned()).or_default();
        list.retain(|t| now.duration_since(*t) < FAILURE_WINDOW);
        list.len() < self.max_failures as usize
    }

    pub fn note_failure(&self, login: &str) {
        let mut failures = self.failures.lock().unwrap();
        if failures.len() >= MAX_SESSIONS && !failures.contains_key(login) {
            let now = Instant::now();
            failures.retain(|_, l| l.iter().any(|t| now.duration_since(*t) < FAILURE_WINDOW));
            // Still full (a flood of made-up logins): forget one. Each
            // attempt costs an argon2id verification, which bounds how
            // fast anyone can push a real login's count out.
            if failures.len() >= MAX_SESSIONS {
                if let Some(any) = failures.keys().next().cloned() {
                    failures.remove(&any);
                }
            }
        }
        failures
            .entry(login.to_owned())
            .or_default()
            .push(Instant::now());
    }

    /// Claims TOTP `step` for the credential `serial`: false when this
    /// step, or a later one, was already used (a code seen over a
    /// shoulder or replayed). Kept in memory: after a restart a code of
    /// the last 90 seconds could serve once more.
    pub fn claim_totp_step(&self, serial: &str, step: u64) -> bool {
        let mut steps = self.totp_steps.lock().unwrap();
        match steps.get(serial) {
            Some(&last) if step <= last => false,
            _ => {
                steps.insert(serial.to_owned(), step);
                true
            }
        }
    }

    pub fn clear_failures(&self, login: &str) {
        self.failures.lock().unwrap().remove(login);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;

    fn someone() -> Identity {
        Identity {
            name: "Marie".into(),
            role: Role::Archivist,
            agency: None,
            serial: "ab".repeat(16),
        }
    }

    #[test]
    fn sessions_open_close_and_expire() {
        let sessions = Sessions::new(Duration::from_millis(50), Duration::from_secs(60), 3);
        let (token, session) = sessions.open(someone(), Method::Password);
        assert_ne!(token, session.csrf);
        assert!(sessions.get(&token).is_ok());
        assert_eq!(sessions.get("forged").unwrap_err(), Lookup::Unknown);
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(sessions.get(&token).unwrap_err(), Lookup::Expired);
        assert_eq!(sessions.get(&token).unwrap_err(), Lookup::Unknown);
        let (token, _) = sessions.open(someone(), Method::Password);
        assert!(sessions.close(&token).is_some());
        assert!(sessions.get(&token).is_err());
    }

    #[test]
    fn failures_are_capped_per_login() {
        let sessions = Sessions::new(Duration::from_secs(60), Duration::from_secs(60), 2);
        assert!(sessions.may_try("marie"));
        sessions.note_failure("marie");
        sessions.note_failure("marie");
        assert!(!sessions.may_try("marie"));
        assert!(sessions.may_try("paul"));
        sessions.clear_failures("marie");
        assert!(sessions.may_try("marie"));
        assert!(same_secret("abc", "abc") && !same_secret("abc", "abd"));
    }

    #[test]
    fn a_one_time_code_serves_once() {
        let sessions = Sessions::new(Duration::from_secs(60), Duration::from_secs(60), 2);
        assert!(sessions.claim_totp_step("a", 100));
        assert!(!sessions.claim_totp_step("a", 100), "the same code again");
        assert!(!sessions.claim_totp_step("a", 99), "an older code");
        assert!(sessions.claim_totp_step("b", 100), "another credential");
        assert!(sessions.claim_totp_step("a", 101));
    }
}
