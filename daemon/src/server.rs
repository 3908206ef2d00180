//! Opening the data directory and serving gRPC.

use std::fs;
use std::future::Future;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use minutier_proto::v1::admin_server::AdminServer;
use minutier_proto::v1::archive_server::ArchiveServer;
use minutier_proto::v1::lifecycle_server::LifecycleServer;
use minutier_proto::v1::replication_server::ReplicationServer;
use minutier_proto::v1::transfer_server::TransferServer;
use tokio::net::TcpListener;

use crate::admin::AdminService;
use crate::archive::{ArchiveService, Limits};
use crate::auth::{Authenticator, Role};
use crate::blobs::BlobStore;
use crate::config::Config;
use crate::grpc::{
    AdminGrpc, ArchiveGrpc, LifecycleGrpc, ReplicationGrpc, TransferGrpc, MAX_MESSAGE,
};
use crate::pki::{write_private, Pki, Subject};
use crate::replication::Replication;
use crate::sequencer::{Clock, Sequencer, SystemClock};
use crate::store::{RocksStore, Store};
use crate::timestamping::Timestamping;
use crate::tls;

/// A daemon ready to serve.
pub struct Opened {
    pub service: Arc<ArchiveService>,
    pub admin: Arc<AdminService>,
    pub auth: Arc<Authenticator>,
    pub tls: rustls::ServerConfig,
    /// TLS of the HTTPS endpoints (Pastell): the same server certificate,
    /// no client certificate asked.
    pub https: rustls::ServerConfig,
    /// TLS of the console: the server certificate, a client certificate
    /// asked for but optional.
    pub console_tls: rustls::ServerConfig,
    /// The signing key was created by this start.
    pub key_created: bool,
    pub key_location: String,
    /// Where the administrator's credential bundle is.
    pub admin_credential: PathBuf,
    /// The URL clients use (also written to `<data dir>/endpoint`).
    pub url: String,
    /// Ends once every [`ArchiveService`] handle is gone and the queued
    /// documents are sealed; join it before exiting so the index closes
    /// cleanly.
    pub sequencer: std::thread::JoinHandle<()>,
}

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot prepare the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Service(#[from] crate::error::Error),
    #[error(transparent)]
    Key(#[from] minutier_hw::KeyError),
    #[error(transparent)]
    Pki(#[from] crate::pki::PkiError),
    #[error("{0}")]
    Config(String),
}

/// Where the administrator credential lives in a data directory.
pub fn admin_credential_path(data_dir: &Path) -> PathBuf {
    data_dir.join("credentials").join("admin.pem")
}

/// Opens (or initialises) the data directory for a daemon listening on
/// `addr`: index, signing key, certificate authority, admin credential,
/// blobs; starts the sequencer.
pub fn open(config: &Config, addr: SocketAddr) -> Result<Opened, StartError> {
    let dir = &config.data_dir;
    let dir_err = |source| StartError::DataDir {
        path: dir.display().to_string(),
        source,
    };
    fs::create_dir_all(dir).map_err(dir_err)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(dir_err)?;

    let store: Arc<dyn Store> = Arc::new(RocksStore::open(&dir.join("index"))?);
    let state = store.log_state()?;
    let origin = match (&state.origin, &config.origin) {
        (Some(stored), Some(wanted)) if stored != wanted => {
            return Err(StartError::Config(format!(
                "this log's origin is {stored:?}, fixed at its first start; the configuration asks for {wanted:?}. \
                 An origin cannot change (every seal names it): restore the configured origin"
            )))
        }
        (Some(stored), _) => stored.clone(),
        (None, wanted) => {
            let origin = wanted.clone().unwrap_or_else(default_origin);
            store.set_origin(&origin)?;
            origin
        }
    };

    // The key in custody ([key]): the log's current key, or a new log's.
    let key = crate::keys::open(&config.key, dir, store.as_ref(), &origin)?;
    let (key_created, key_location) = (key.created, key.key.describe());
    let verifier_key = key.verifier_key.clone();
    let key_history = key.history[..key.history.len() - 1].to_vec();
    write_public(
        &dir.join("verifier.key"),
        &crate::keys::verifier_keys_text(&key.history),
    )
    .map_err(dir_err)?;

    // TLS: the CA persists; the server certificate is issued anew at each
    // start for the configured names (clients trust the CA, not it).
    let (pki, _) = Pki::open_or_create(&dir.join("tls"), &format!("Minutier CA ({origin})"))?;
    let server = pki.issue_server(&config.server_names)?;
    let chain = tls::chain_verifier(pki.ca_pem()).map_err(StartError::Config)?;
    let tls = tls::server_config(&server.cert_pem, &server.key_pem, chain.clone())
        .map_err(StartError::Config)?;
    let https = tls::https_config(&server.cert_pem, &server.key_pem).map_err(StartError::Config)?;
    let console_tls = tls::console_config(&server.cert_pem, &server.key_pem, chain.clone())
        .map_err(StartError::Config)?;
    let auth = Arc::new(Authenticator::new(chain, store.clone())?);
    let url = client_url(addr, &config.server_names);
    write_public(&dir.join("endpoint"), &format!("{url}\n")).map_err(dir_err)?;
    let admin = Arc::new(AdminService::new(pki, auth.clone(), url.clone()));
    let admin_credential = admin_credential_path(dir);
    if !admin_credential.exists() {
        let issued = admin.issue_for(
            "minutierd (first start)",
            Subject {
                name: "admin".into(),
                role: Role::Admin.as_str().into(),
                agency: None,
            },
            Role::Admin,
            time::Duration::days(crate::admin::MAX_VALIDITY_DAYS.into()),
            SystemClock.now_millis(),
        )?;
        write_private(&admin_credential, &issued.bundle)?;
    }

    let blobs =
        Arc::new(BlobStore::open(&dir.join("blobs"), config.compression_level).map_err(dir_err)?);
    let clock = Arc::new(SystemClock);
    let replication = config
        .replication
        .as_ref()
        .map(|r| Replication::open(r, dir, store.clone(), blobs.clone()))
        .transpose()
        .map_err(StartError::Config)?;
    let (sequencer, published, sequencer_thread) = Sequencer::start(
        store.clone(),
        blobs.clone(),
        key.key,
        clock.clone(),
        config.max_batch,
        replication.as_ref().map(|r| r.notifier()),
    )?;
    let health = Arc::new(crate::health::Health::new(
        config.health.clone(),
        dir,
        sequencer.clock_watch(),
    ));
    let timestamping = config
        .timestamping
        .as_ref()
        .map(|t| {
            Timestamping::open(
                t,
                store.clone(),
                published.clone(),
                sequencer.clone(),
                clock.clone(),
            )
        })
        .transpose()
        .map_err(StartError::Config)?;
    let service = ArchiveService::new(
        store,
        blobs,
        sequencer,
        published,
        verifier_key,
        clock,
        Limits {
            max_document_size: config.max_document_size,
            inline_threshold: config.inline_threshold,
        },
    )
    .with_replication(replication)
    .with_timestamping(timestamping)
    .with_previous_keys(key_history)
    .with_health(health)
    .with_rule_durations(config.rule_durations.clone());
    Ok(Opened {
        service: Arc::new(service),
        admin,
        auth,
        tls,
        https,
        console_tls,
        key_created,
        key_location,
        admin_credential,
        url,
        sequencer: sequencer_thread,
    })
}

/// The URL clients should use for a daemon bound to `addr`: the address
/// itself when it is a specific one, else the first configured name.
pub fn client_url(addr: SocketAddr, names: &[String]) -> String {
    let host = if addr.ip().is_unspecified() {
        names.first().cloned().unwrap_or_else(|| "localhost".into())
    } else {
        addr.ip().to_string()
    };
    match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(_)) => format!("https://[{host}]:{}", addr.port()),
        _ => format!("https://{host}:{}", addr.port()),
    }
}

/// The log's name when none is configured: this machine's host name.
fn default_origin() -> String {
    format!(
        "{}/minutier",
        crate::config::host_name().unwrap_or_else(|| "localhost".to_owned())
    )
}

fn write_public(path: &Path, text: &str) -> std::io::Result<()> {
    if fs::read_to_string(path).is_ok_and(|t| t == text) {
        return Ok(());
    }
    fs::write(path, text)
}

/// Serves gRPC over TLS (the archive and admin services, health,
/// reflection) on `listener` until `shutdown` completes.
pub async fn serve(
    opened: Served,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<ArchiveServer<ArchiveGrpc>>()
        .await;
    health_reporter
        .set_serving::<LifecycleServer<LifecycleGrpc>>()
        .await;
    // "minutier.v1.Ingest": whether new archives are accepted now (space
    // watermarks, clock); reads are served either way.
    if let Some(health) = opened.service.health().cloned() {
        let reporter = health_reporter.clone();
        tokio::spawn(async move {
            loop {
                let h = health.clone();
                let accepting = tokio::task::spawn_blocking(move || {
                    let s = h.snapshot();
                    s.space.is_ok()
                        && s.ingest_refusal.is_none()
                        && s.clock.last_backwards.is_none()
                })
                .await
                .unwrap_or(false);
                let status = if accepting {
                    tonic_health::ServingStatus::Serving
                } else {
                    tonic_health::ServingStatus::NotServing
                };
                reporter.set_service_status(INGEST_HEALTH, status).await;
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        });
    }
    // Reflection in both versions: v1, and v1alpha that many tools
    // (grpcurl's fallback, Python's grpcio-reflection) still speak.
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(minutier_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection()
        .build_v1()
        .expect("the embedded descriptor sets are valid");
    let reflection_v1alpha = reflection()
        .build_v1alpha()
        .expect("the embedded descriptor sets are valid");
    let lifecycle = LifecycleServer::new(LifecycleGrpc::new(
        opened.service.clone(),
        opened.auth.clone(),
    ))
    .max_decoding_message_size(MAX_MESSAGE)
    .max_encoding_message_size(MAX_MESSAGE);
    let replication = ReplicationServer::new(ReplicationGrpc::new(
        opened.service.clone(),
        opened.auth.clone(),
    ));
    let transfer = TransferServer::new(TransferGrpc::new(
        opened.service.clone(),
        opened.auth.clone(),
    ))
    .max_decoding_message_size(MAX_MESSAGE)
    .max_encoding_message_size(MAX_MESSAGE);
    let archive = ArchiveServer::new(ArchiveGrpc::new(opened.service.clone(), opened.auth))
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE);
    let admin = AdminServer::new(AdminGrpc::new(opened.admin, opened.service))
        .max_decoding_message_size(MAX_ADMIN_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE);
    tonic::transport::Server::builder()
        // Limits per connection: streams in flight, header size; dead
        // peers are found by keepalive pings and dropped.
        .max_concurrent_streams(Some(MAX_STREAMS_PER_CONNECTION))
        .http2_max_header_list_size(Some(MAX_HEADER_LIST))
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(20)))
        .http2_max_pending_accept_reset_streams(Some(64))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(archive)
        .add_service(lifecycle)
        .add_service(replication)
        .add_service(transfer)
        .add_service(admin)
        .serve_with_incoming_shutdown(tls::incoming(listener, opened.tls), shutdown)
        .await
}

impl Opened {
    /// Splits off what [`serve`] needs; the rest stays with the caller.
    pub fn served(&self) -> Served {
        Served {
            service: self.service.clone(),
            admin: self.admin.clone(),
            auth: self.auth.clone(),
            tls: self.tls.clone(),
        }
    }
}

/// What [`serve`] needs of an [`Opened`] daemon.
pub struct Served {
    pub service: Arc<ArchiveService>,
    pub admin: Arc<AdminService>,
    pub auth: Arc<Authenticator>,
    pub tls: rustls::ServerConfig,
}

/// The health service's name for "new archives are accepted".
pub const INGEST_HEALTH: &str = "minutier.v1.Ingest";

/// Streams (uploads) in flight on one connection.
const MAX_STREAMS_PER_CONNECTION: u32 = 128;
/// Request headers (metadata) of one call, in bytes.
const MAX_HEADER_LIST: u32 = 16 << 10;
/// Admin requests are small.
const MAX_ADMIN_MESSAGE: usize = 64 << 10;
