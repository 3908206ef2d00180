//! Opening the data directory and serving gRPC.

use std::fs;
use std::future::Future;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use minutier_hw::{FileKeystore, KeyCustody};
use minutier_proto::v1::archive_server::ArchiveServer;
use minutier_seal::note::VerifierKey;
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;

use crate::archive::{ArchiveService, Limits};
use crate::blobs::BlobStore;
use crate::config::Config;
use crate::grpc::{ArchiveGrpc, MAX_MESSAGE};
use crate::sequencer::{Sequencer, SystemClock};
use crate::store::{RocksStore, Store};

/// A daemon ready to serve.
pub struct Opened {
    pub service: Arc<ArchiveService>,
    /// The signing key was created by this start.
    pub key_created: bool,
    pub key_location: String,
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
    #[error("{0}")]
    Config(String),
}

/// Opens (or initialises) the data directory: index, blobs, signing key,
/// and starts the sequencer.
pub fn open(config: &Config) -> Result<Opened, StartError> {
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

    let (keystore, key_created) =
        FileKeystore::open_or_create(&dir.join("keys/checkpoint.key"), &origin)?;
    let key_location = keystore.describe();
    let verifier_key =
        VerifierKey::from_public_key(&origin, minutier_seal::note::Signer::public_key(&keystore))
            .map_err(crate::error::Error::from)?;
    write_public(&dir.join("verifier.key"), &format!("{verifier_key}\n")).map_err(dir_err)?;

    let blobs =
        Arc::new(BlobStore::open(&dir.join("blobs"), config.compression_level).map_err(dir_err)?);
    let clock = Arc::new(SystemClock);
    let (sequencer, published, sequencer_thread) = Sequencer::start(
        store.clone(),
        Arc::new(keystore),
        clock.clone(),
        config.max_batch,
    )?;
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
    );
    Ok(Opened {
        service: Arc::new(service),
        key_created,
        key_location,
        sequencer: sequencer_thread,
    })
}

/// The log's name when none is configured: this machine's host name.
fn default_origin() -> String {
    let host = fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.".contains(&b))
        })
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{host}/minutier")
}

fn write_public(path: &Path, text: &str) -> std::io::Result<()> {
    if fs::read_to_string(path).is_ok_and(|t| t == text) {
        return Ok(());
    }
    fs::write(path, text)
}

/// Serves gRPC (the archive service, health, reflection) on `listener`
/// until `shutdown` completes.
pub async fn serve(
    service: Arc<ArchiveService>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<ArchiveServer<ArchiveGrpc>>()
        .await;
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
    let archive = ArchiveServer::new(ArchiveGrpc::new(service))
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE);
    tonic::transport::Server::builder()
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(archive)
        // Small request/response exchanges (one per document) must not wait
        // for Nagle's algorithm: without NODELAY each costs ~40 ms.
        .serve_with_incoming_shutdown(
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown,
        )
        .await
}
