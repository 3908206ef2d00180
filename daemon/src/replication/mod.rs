//! Encrypted replication to S3-compatible object storage, self-healing
//! (scrub) and disaster recovery (restore). See docs/disaster-recovery.md.
//!
//! Only ciphertext leaves the box: content, log segments and secrets are
//! age-encrypted to the appliance's replica key and to escrow keys whose
//! secrets are never on the box; only signed checkpoints go in clear.
//! The queue lives in the index and is filled by the sequencer in the same
//! atomic write as the batch it describes, so replication survives crashes,
//! restarts and cloud outages: delivery is at least once, every upload is
//! idempotent.

pub mod format;
pub mod rebuild;
mod replicator;
pub mod restore;
mod scrub;
pub mod state;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use age::secrecy::ExposeSecret;
use age::x25519;
use object_store::aws::AmazonS3Builder;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};
use serde::Deserialize;

pub use replicator::{ArchiveReplication, Replication, ReplicationStatus};
pub use scrub::{scrub, ScrubReport};

/// The `[replication]` section of minutierd's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicationConfig {
    /// S3 endpoint, e.g. `https://s3.gra.io.cloud.ovh.net` or
    /// `http://127.0.0.1:3900` (plain HTTP only for loopback tests).
    pub endpoint: String,
    pub bucket: String,
    #[serde(default = "default_region")]
    pub region: String,
    pub access_key_id: String,
    #[serde(default)]
    pub secret_access_key: Option<String>,
    /// A file holding the secret access key (trailing newline ignored).
    #[serde(default)]
    pub secret_access_key_file: Option<PathBuf>,
    /// age X25519 recipients (`age1…`) whose identities are kept off the
    /// box: with one of them, the appliance can be rebuilt from the bucket.
    pub escrow_recipients: Vec<String>,
    /// Hours between scheduled scrubs; 0: only on demand.
    #[serde(default = "default_scrub_hours")]
    pub scrub_interval_hours: u64,
}

fn default_region() -> String {
    "garage".into()
}

fn default_scrub_hours() -> u64 {
    24
}

impl ReplicationConfig {
    /// Checks the section; messages name the key.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.endpoint.starts_with("https://") || self.endpoint.starts_with("http://")) {
            return Err(format!(
                "replication.endpoint {:?} must be an http:// or https:// URL",
                self.endpoint
            ));
        }
        if self.bucket.trim().is_empty() {
            return Err("replication.bucket is required".into());
        }
        if self.access_key_id.trim().is_empty() {
            return Err("replication.access_key_id is required".into());
        }
        match (&self.secret_access_key, &self.secret_access_key_file) {
            (Some(_), Some(_)) => {
                return Err(
                    "give replication.secret_access_key or secret_access_key_file, not both".into(),
                )
            }
            (None, None) => {
                return Err(
                    "replication.secret_access_key (or secret_access_key_file) is required".into(),
                )
            }
            _ => {}
        }
        if self.escrow_recipients.is_empty() {
            return Err(
                "replication.escrow_recipients must name at least one age recipient (age1…) whose \
                 identity is kept off the box: generate one with `minutier admin escrow-key`"
                    .into(),
            );
        }
        self.recipients().map(|_| ())
    }

    /// The escrow recipients, parsed.
    pub fn recipients(&self) -> Result<Vec<x25519::Recipient>, String> {
        self.escrow_recipients
            .iter()
            .map(|r| {
                x25519::Recipient::from_str(r.trim()).map_err(|e| {
                    format!(
                        "replication.escrow_recipients: {r:?} is not an age X25519 recipient: {e}"
                    )
                })
            })
            .collect()
    }

    /// The secret access key, from the configuration or its file.
    pub fn secret(&self) -> Result<String, String> {
        match (&self.secret_access_key, &self.secret_access_key_file) {
            (Some(s), _) => Ok(s.clone()),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map(|s| s.trim_end_matches(['\n', '\r']).to_owned())
                .map_err(|e| {
                    format!(
                        "cannot read replication.secret_access_key_file {}: {e}",
                        path.display()
                    )
                }),
            (None, None) => Err("no secret access key configured".into()),
        }
    }

    /// A client for the bucket, with bounded retries and backoff.
    pub fn object_store(&self) -> Result<Arc<dyn ObjectStore>, String> {
        let retry = RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(200),
                max_backoff: Duration::from_secs(5),
                base: 2.0,
            },
            max_retries: 3,
            retry_timeout: Duration::from_secs(30),
        };
        let store = AmazonS3Builder::new()
            .with_endpoint(self.endpoint.trim_end_matches('/'))
            .with_bucket_name(&self.bucket)
            .with_region(&self.region)
            .with_access_key_id(&self.access_key_id)
            .with_secret_access_key(self.secret()?)
            .with_virtual_hosted_style_request(false)
            .with_retry(retry)
            // Client options carry allow_http too: set them first.
            .with_client_options(
                ClientOptions::new()
                    .with_allow_http(self.endpoint.starts_with("http://"))
                    .with_connect_timeout(Duration::from_secs(5))
                    .with_timeout(Duration::from_secs(300)),
            )
            .build()
            .map_err(|e| format!("invalid replication settings: {e}"))?;
        Ok(Arc::new(store))
    }
}

/// The appliance's own replica identity: created on first use, 0600.
pub fn open_or_create_identity(path: &Path) -> Result<x25519::Identity, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => read_identity(&text).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let identity = x25519::Identity::generate();
            let text = format!(
                "# Minutier replica key: decrypts this appliance's replicas.\n# public key: {}\n{}\n",
                identity.to_public(),
                identity.to_string().expose_secret()
            );
            crate::pki::write_private(path, &text).map_err(|e| e.to_string())?;
            Ok(identity)
        }
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Reads an age identity file (comment lines ignored).
pub fn read_identity(text: &str) -> Result<x25519::Identity, String> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .ok_or("no identity (AGE-SECRET-KEY-1…) found")?;
    x25519::Identity::from_str(line).map_err(|e| format!("not an age X25519 identity: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(toml_text: &str) -> ReplicationConfig {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn the_section_is_checked_key_by_key() {
        let escrow = x25519::Identity::generate().to_public().to_string();
        let good = format!(
            "endpoint = \"http://127.0.0.1:3900\"\nbucket = \"b\"\naccess_key_id = \"GK1\"\n\
             secret_access_key = \"s\"\nescrow_recipients = [\"{escrow}\"]\n"
        );
        let c = config(&good);
        c.validate().unwrap();
        assert_eq!(c.region, "garage");
        assert_eq!(c.scrub_interval_hours, 24);
        let no_escrow = good.replace(&format!("\"{escrow}\""), "");
        assert!(config(&no_escrow)
            .validate()
            .unwrap_err()
            .contains("escrow-key"));
        let bad_escrow = good.replace(&escrow, "age1nope");
        assert!(config(&bad_escrow)
            .validate()
            .unwrap_err()
            .contains("not an age"));
        let both = format!("{good}secret_access_key_file = \"/x\"\n");
        assert!(config(&both).validate().unwrap_err().contains("not both"));
        assert!(toml::from_str::<ReplicationConfig>(&format!("{good}bukket = \"x\"\n")).is_err());
    }

    #[test]
    fn the_replica_identity_is_created_once_and_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/replica.key");
        let a = open_or_create_identity(&path).unwrap();
        let b = open_or_create_identity(&path).unwrap();
        assert_eq!(a.to_public().to_string(), b.to_public().to_string());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            read_identity(&text).unwrap().to_public().to_string(),
            a.to_public().to_string()
        );
    }
}
