//! `[console]` in the daemon's configuration.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

/// Default console address: loopback, next to the gRPC port.
pub const DEFAULT_CONSOLE_LISTEN: &str = "127.0.0.1:7372";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleConfig {
    /// Serve the console (default: yes).
    pub enabled: bool,
    /// Address of the HTTPS listener.
    pub listen: SocketAddr,
    /// A session ends after this long without a request.
    pub session_idle_seconds: u64,
    /// A session ends this long after sign-in, whatever happens.
    pub session_max_seconds: u64,
    /// Failed sign-ins allowed per login within a quarter of an hour
    /// before further attempts are refused.
    pub max_failed_sign_ins: u32,
    /// The seal verifier compiled to WebAssembly; by default looked for
    /// next to the binary (`../share/minutier/`, or the build tree's
    /// `wasm32-unknown-unknown/release/`).
    pub verifier_wasm: Option<PathBuf>,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            enabled: true,
            listen: DEFAULT_CONSOLE_LISTEN
                .parse()
                .expect("valid default address"),
            session_idle_seconds: 30 * 60,
            session_max_seconds: 10 * 3600,
            max_failed_sign_ins: 5,
            verifier_wasm: None,
        }
    }
}

impl ConsoleConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.session_idle_seconds == 0 || self.session_idle_seconds > 24 * 3600 {
            return Err("console.session_idle_seconds must be between 1 and 86400".into());
        }
        if self.session_max_seconds < self.session_idle_seconds
            || self.session_max_seconds > 7 * 24 * 3600
        {
            return Err(
                "console.session_max_seconds must be at least session_idle_seconds and at most 604800"
                    .into(),
            );
        }
        if self.max_failed_sign_ins == 0 {
            return Err("console.max_failed_sign_ins must be at least 1".into());
        }
        Ok(())
    }

    /// Where the WebAssembly verifier is read from.
    pub fn verifier_wasm_path(&self) -> Option<PathBuf> {
        if let Some(p) = &self.verifier_wasm {
            return Some(p.clone());
        }
        let exe = std::env::current_exe().ok()?;
        let dir = exe.parent()?;
        const NAME: &str = "minutier_verifier_wasm.wasm";
        [
            dir.join("../share/minutier").join(NAME),
            dir.join("../wasm32-unknown-unknown/release").join(NAME),
        ]
        .into_iter()
        .find(|p| p.is_file())
    }
}
