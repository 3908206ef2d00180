//! Daemon configuration: embedded defaults, overridden by a TOML file,
//! overridden by command-line flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Default gRPC address: loopback only, until TLS arrives.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7370";

/// Everything the daemon needs to run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the index, the blobs and the keys live.
    pub data_dir: PathBuf,
    /// gRPC listen address.
    pub listen: SocketAddr,
    /// The log's origin: names the log in checkpoints and the verifier key.
    /// Fixed at first start; it cannot change afterwards.
    pub origin: Option<String>,
    /// Largest document accepted, in bytes.
    pub max_document_size: u64,
    /// Documents up to this size are kept inside the index, durable with
    /// their record (no file, no extra fsync).
    pub inline_threshold: usize,
    /// zstd level for stored blobs.
    pub compression_level: i32,
    /// Most documents sealed under one checkpoint.
    pub max_batch: usize,
    /// Names (DNS names or IP addresses) in the server's TLS certificate;
    /// clients must connect with one of them. Default: localhost, the
    /// loopback addresses and this machine's host name.
    pub server_names: Vec<String>,
    /// Encrypted replication to S3-compatible storage; off when absent.
    pub replication: Option<crate::replication::ReplicationConfig>,
    /// RFC 3161 time-stamps of checkpoints by a time-stamping authority;
    /// off when absent.
    pub timestamping: Option<crate::timestamping::TimestampingConfig>,
    /// The Pastell / As@lae-compatible REST endpoint (docs/pastell.md);
    /// off when absent.
    pub pastell: Option<crate::pastell::PastellConfig>,
    /// The web console (docs/console.md): on by default, on loopback.
    pub console: crate::console::ConsoleConfig,
    /// The rules repository: duration in years of each rule a SEDA transfer
    /// may name without a duration (e.g. `"APP-00001" = 10`). A rule not
    /// listed is kept with an unknown duration: never due, not communicable.
    pub rule_durations: std::collections::BTreeMap<String, u32>,
    /// Where the checkpoint signing key is kept: a file in the data
    /// directory (default) or a PKCS#11 token (docs/security.md).
    pub key: crate::keys::KeyConfig,
    /// Space watermarks, disks, RAID and clock checks.
    pub health: crate::health::HealthConfig,
    /// Prometheus metrics over plain HTTP (`GET /metrics`); off when absent.
    /// Keep it on loopback or a management network.
    pub metrics_listen: Option<SocketAddr>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: default_data_dir(),
            listen: DEFAULT_LISTEN.parse().expect("valid default address"),
            origin: None,
            max_document_size: 64 << 30,
            inline_threshold: 64 << 10,
            compression_level: 3,
            max_batch: 1024,
            server_names: default_server_names(),
            replication: None,
            timestamping: None,
            pastell: None,
            console: Default::default(),
            rule_durations: Default::default(),
            key: Default::default(),
            health: Default::default(),
            metrics_listen: None,
        }
    }
}

impl Config {
    /// Reads a TOML configuration file; absent keys keep their defaults.
    pub fn from_file(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read configuration {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("invalid configuration {}: {e}", path.display()))
    }

    /// Rejects settings the daemon cannot run with.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_batch == 0 {
            return Err("max_batch must be at least 1".into());
        }
        if self.inline_threshold > 1 << 20 {
            return Err("inline_threshold must be at most 1 MiB".into());
        }
        if !(1..=19).contains(&self.compression_level) {
            return Err("compression_level must be between 1 and 19".into());
        }
        if self.server_names.is_empty() {
            return Err("server_names must name at least one host name or address".into());
        }
        if let Some(r) = &self.replication {
            r.validate()?;
        }
        if let Some(t) = &self.timestamping {
            t.validate()?;
        }
        if let Some(p) = &self.pastell {
            p.validate()?;
        }
        self.console.validate()?;
        self.key.validate()?;
        self.health.validate()?;
        if let Some((rule, years)) = self
            .rule_durations
            .iter()
            .find(|(_, y)| **y > crate::metadata::MAX_YEARS)
        {
            return Err(format!(
                "rule_durations: {rule} = {years}; at most {} years",
                crate::metadata::MAX_YEARS
            ));
        }
        Ok(())
    }
}

/// The machine's host name, when it has a usable one.
pub fn host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.".contains(&b))
        })
}

fn default_server_names() -> Vec<String> {
    let mut names: Vec<String> = ["localhost", "127.0.0.1", "::1"].map(String::from).into();
    names.extend(host_name().filter(|h| h != "localhost"));
    names
}

pub use minutier_hw::paths::default_data_dir;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_overrides_defaults_and_rejects_unknown_keys() {
        let c: Config = toml::from_str("listen = \"127.0.0.1:9000\"\nmax_batch = 8").unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.max_batch, 8);
        assert_eq!(c.inline_threshold, 64 << 10);
        assert!(toml::from_str::<Config>("lisen = \"x\"").is_err());
    }

    #[test]
    fn timestamping_section() {
        let c: Config =
            toml::from_str("[timestamping]\ntsa_url = \"https://tsa.example.fr/tsr\"").unwrap();
        c.validate().unwrap();
        let t = c.timestamping.unwrap();
        assert_eq!(t.interval(), std::time::Duration::from_secs(24 * 3600));
        assert_eq!(t.timeout(), std::time::Duration::from_secs(30));
        let invalid = |text: &str| {
            let c: Config = toml::from_str(text).unwrap();
            c.validate().unwrap_err()
        };
        let e = invalid("[timestamping]\ntsa_url = \"ftp://tsa\"");
        assert!(e.contains("timestamping.tsa_url"), "{e}");
        for bad in [
            "http://",
            "http:tsa.example.fr",
            " http://t",
            "http://t/a b",
            "http://u:p@t",
        ] {
            let e = invalid(&format!("[timestamping]\ntsa_url = \"{bad}\""));
            assert!(e.contains("timestamping.tsa_url"), "{bad}: {e}");
        }
        let e = invalid(
            "[timestamping]\ntsa_url = \"http://t\"\ninterval_hours = 1\ninterval_seconds = 5",
        );
        assert!(e.contains("not both"), "{e}");
        let e = invalid("[timestamping]\ntsa_url = \"http://t\"\ninterval_hours = 0");
        assert!(e.contains("interval_hours"), "{e}");
        let e = invalid("[timestamping]\ntsa_url = \"http://t\"\ntimeout_seconds = 0");
        assert!(e.contains("timeout_seconds"), "{e}");
        let e = invalid("[timestamping]\ntsa_url = \"http://t\"\nca_file = \"/ca.pem\"");
        assert!(e.contains("ca_file"), "{e}");
        let c: Config =
            toml::from_str("[timestamping]\ntsa_url = \"http://t\"\ninterval_seconds = 2").unwrap();
        c.validate().unwrap();
        assert_eq!(
            c.timestamping.unwrap().interval(),
            std::time::Duration::from_secs(2)
        );
        assert!(toml::from_str::<Config>("[timestamping]\ntsa = \"http://t\"").is_err());
    }
}
