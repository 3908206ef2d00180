//! Connection to minutierd.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::anyhow;
use minutier_proto::v1::admin_client::AdminClient;
use minutier_proto::v1::archive_client::ArchiveClient;
use minutier_proto::v1::lifecycle_client::LifecycleClient;
use minutier_proto::v1::replication_client::ReplicationClient;
use minutier_proto::v1::transfer_client::TransferClient;
use minutier_proto::v1::GetCheckpointRequest;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::error::{rpc, usage};

/// Where minutierd listens by default (see the daemon's configuration).
pub const DEFAULT_SERVER: &str = "https://127.0.0.1:7370";

/// Seals, record pages and proofs can be large; documents arrive in chunks,
/// but keep a wide margin so no legitimate message is ever refused.
const MAX_MESSAGE_SIZE: usize = 256 * 1024 * 1024;

pub type Client = ArchiveClient<Channel>;

/// Which daemon to talk to, and as whom: the global options.
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// `--server` / `MINUTIER_SERVER`.
    pub server: Option<String>,
    /// `--credentials` / `MINUTIER_CREDENTIALS`.
    pub credentials: Option<PathBuf>,
    /// `--data-dir` / `MINUTIER_DATA_DIR`: on the box, the daemon's data
    /// directory, where its address and the admin credential are.
    pub data_dir: Option<PathBuf>,
}

/// A credential bundle: client certificate, its key, the appliance's CA.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub cert_pem: String,
    pub key_pem: String,
    pub ca_pem: String,
    /// The `# server:` line the daemon wrote, if any.
    pub server: Option<String>,
}

impl Bundle {
    /// Parses a bundle: PEM blocks in the order certificate, private key,
    /// CA certificate; `#` comment lines around them.
    pub fn parse(text: &str) -> Result<Bundle, String> {
        let mut blocks: Vec<(String, String)> = Vec::new();
        let mut current: Option<(String, String)> = None;
        let mut server = None;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("-----BEGIN ") {
                let label = rest.trim_end_matches('-').to_owned();
                current = Some((label, format!("{line}\n")));
            } else if let Some((label, mut body)) = current.take() {
                body.push_str(line);
                body.push('\n');
                if line.starts_with("-----END ") {
                    blocks.push((label, body));
                } else {
                    current = Some((label, body));
                }
            } else if let Some(url) = line.strip_prefix("# server:") {
                server = Some(url.trim().to_owned());
            }
        }
        let certs: Vec<&String> = blocks
            .iter()
            .filter(|(l, _)| l == "CERTIFICATE")
            .map(|(_, b)| b)
            .collect();
        let key = blocks
            .iter()
            .find(|(l, _)| l.ends_with("PRIVATE KEY"))
            .map(|(_, b)| b.clone());
        match (certs.as_slice(), key) {
            ([cert, .., ca], Some(key)) if certs.len() >= 2 => Ok(Bundle {
                cert_pem: (*cert).clone(),
                key_pem: key,
                ca_pem: (*ca).clone(),
                server,
            }),
            _ => Err("expected a certificate, its private key and the CA certificate (PEM)".into()),
        }
    }
}

pub use minutier_hw::paths::default_data_dir;

fn read_endpoint(data_dir: &Path) -> Option<String> {
    std::fs::read_to_string(data_dir.join("endpoint"))
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

impl Target {
    /// The credential bundle and the server URL, from the options, the
    /// environment, the bundle itself, or the daemon's data directory.
    pub fn resolve(&self) -> anyhow::Result<(Bundle, String)> {
        let data_dir = self.data_dir.clone().unwrap_or_else(default_data_dir);
        let path = match &self.credentials {
            Some(p) => p.clone(),
            None => {
                let admin = data_dir.join("credentials").join("admin.pem");
                if !admin.exists() {
                    return Err(usage(format!(
                        "no credentials: pass --credentials FILE (or set MINUTIER_CREDENTIALS) with a bundle \
                         from `minutier admin issue`; on the appliance itself, --data-dir DIR finds the \
                         administrator's ({} does not exist)",
                        admin.display()
                    )));
                }
                admin
            }
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| usage(format!("cannot read credentials {}: {e}", path.display())))?;
        let bundle = Bundle::parse(&text).map_err(|e| {
            usage(format!(
                "{} is not a Minutier credential bundle: {e}",
                path.display()
            ))
        })?;
        let url = self
            .server
            .clone()
            .or_else(|| self.data_dir.as_deref().and_then(read_endpoint))
            .or_else(|| bundle.server.clone())
            .or_else(|| read_endpoint(&data_dir))
            .unwrap_or_else(|| DEFAULT_SERVER.to_owned());
        Ok((bundle, url))
    }
}

/// Connects eagerly over mutual TLS, so that an unreachable daemon or a
/// rejected credential is reported once, clearly, before any work starts.
async fn channel(target: &Target) -> anyhow::Result<Channel> {
    let (bundle, server) = target.resolve()?;
    // Accept "host:port" as well as a full URL: operators type both.
    let url = if server.contains("://") {
        server.clone()
    } else {
        format!("https://{server}")
    };
    let endpoint = Endpoint::from_shared(url.clone())
        .map_err(|e| usage(format!("invalid server address {server:?}: {e}")))?;
    let host = endpoint
        .uri()
        .host()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_owned())
        .ok_or_else(|| usage(format!("server address {server:?} has no host")))?;
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&bundle.ca_pem))
        .identity(Identity::from_pem(&bundle.cert_pem, &bundle.key_pem))
        .domain_name(host);
    let endpoint = endpoint
        .tls_config(tls)
        .map_err(|e| {
            usage(format!(
                "invalid TLS settings for {url}: {}",
                error_chain(&e)
            ))
        })?
        .connect_timeout(Duration::from_secs(10))
        .tcp_nodelay(true)
        // Larger HTTP/2 windows than the 64 KiB default keep bulk downloads
        // from stalling on window updates.
        .initial_stream_window_size(Some(8 * 1024 * 1024))
        .initial_connection_window_size(Some(32 * 1024 * 1024));
    endpoint.connect().await.map_err(|e| {
        anyhow!(
            "cannot connect to {url}: {}; check that minutierd is running and listening there \
             (--server, MINUTIER_SERVER or --data-dir)",
            error_chain(&e)
        )
    })
}

/// A client of the archive service.
pub async fn connect(target: &Target) -> anyhow::Result<Client> {
    Ok(ArchiveClient::new(channel(target).await?)
        .max_decoding_message_size(MAX_MESSAGE_SIZE)
        .max_encoding_message_size(MAX_MESSAGE_SIZE))
}

/// A client of the lifecycle service, and one of the archive service over
/// the same connection (for the checkpoint and the verifier key).
pub async fn connect_lifecycle(
    target: &Target,
) -> anyhow::Result<(LifecycleClient<Channel>, Client)> {
    let channel = channel(target).await?;
    let lifecycle = LifecycleClient::new(channel.clone())
        .max_decoding_message_size(MAX_MESSAGE_SIZE)
        .max_encoding_message_size(MAX_MESSAGE_SIZE);
    let archive = ArchiveClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_SIZE)
        .max_encoding_message_size(MAX_MESSAGE_SIZE);
    Ok((lifecycle, archive))
}

/// A client of the admin service.
pub async fn connect_admin(target: &Target) -> anyhow::Result<AdminClient<Channel>> {
    Ok(AdminClient::new(channel(target).await?))
}

/// A client of the replication service (status, scrub).
pub async fn connect_replication(target: &Target) -> anyhow::Result<ReplicationClient<Channel>> {
    Ok(ReplicationClient::new(channel(target).await?))
}

/// The log's latest checkpoint and its verifier key, as the server states them.
pub struct ServerCheckpoint {
    pub checkpoint: String,
    pub size: u64,
    pub verifier_key: String,
    /// The log's earlier keys, oldest first, if its key was rotated.
    pub previous_verifier_keys: Vec<String>,
}

impl ServerCheckpoint {
    /// Every key of the log, oldest first, the current one last, as the
    /// server states them.
    pub fn verifier_keys(&self) -> Vec<&str> {
        self.previous_verifier_keys
            .iter()
            .map(String::as_str)
            .chain([self.verifier_key.as_str()])
            .collect()
    }

    /// [`ServerCheckpoint::verifier_keys`], parsed.
    pub fn parsed_keys(&self) -> anyhow::Result<Vec<minutier_seal::note::VerifierKey>> {
        self.verifier_keys()
            .into_iter()
            .map(|text| {
                minutier_seal::note::VerifierKey::parse(text).map_err(|e| {
                    anyhow::anyhow!("the server's verifier key {text:?} is invalid: {e}")
                })
            })
            .collect()
    }
}

pub async fn latest_checkpoint(client: &mut Client) -> anyhow::Result<ServerCheckpoint> {
    let resp = rpc(client
        .get_checkpoint(GetCheckpointRequest { size: 0 })
        .await)?;
    Ok(ServerCheckpoint {
        checkpoint: resp.checkpoint,
        size: resp.size,
        verifier_key: resp.verifier_key,
        previous_verifier_keys: resp.previous_verifier_keys,
    })
}

/// tonic's transport errors say only "transport error" at the top; the
/// cause (connection refused, DNS failure...) is further down the chain.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(e) = source {
        let text = e.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        source = e.source();
    }
    parts.join(": ")
}

/// A client of the transfer service (SEDA packages).
pub async fn connect_transfer(target: &Target) -> anyhow::Result<TransferClient<Channel>> {
    Ok(TransferClient::new(channel(target).await?))
}
