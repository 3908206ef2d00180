//! The gRPC edge: the one place where wire types (prost) meet the domain.
//! Requests are converted in (`convert.rs`), domain errors are mapped to
//! status codes out. The archive and admin services are here, the
//! lifecycle service in `lifecycle.rs`.

mod convert;
mod lifecycle;
mod replication;
mod transfer;

pub use lifecycle::LifecycleGrpc;
pub use replication::ReplicationGrpc;
pub use transfer::TransferGrpc;

use std::pin::Pin;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use minutier_proto::v1 as pb;
use minutier_proto::v1::archive_server::Archive;
use minutier_proto::v1::ingest_request::Part;
use minutier_seal::{hash, Hash};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::admin::{AdminService, Validity};
use crate::archive::{ArchiveService, NewDocument};
use crate::auth::{Action, Authenticator, Credential, Identity, Role};
use crate::error::Error;
use crate::lifecycle::{Actor, Read};
use crate::model::{parse_declared_sha256, ArchiveEntry};
use crate::sequencer::{Clock, SystemClock};
use crate::store::ListFilter;
use convert::{archive_to_wire, catalogue_to_wire, metadata_from_wire};

/// Largest gRPC message accepted (an ingest chunk is typically 256 KiB).
pub const MAX_MESSAGE: usize = 8 << 20;

impl From<Error> for Status {
    fn from(e: Error) -> Status {
        let message = e.to_string();
        match e {
            Error::InvalidArgument(_) => Status::invalid_argument(message),
            Error::NotFound(_) => Status::not_found(message),
            Error::DataLoss(_) => Status::data_loss(message),
            Error::ResourceExhausted(_) => Status::resource_exhausted(message),
            Error::Unavailable(_) => Status::unavailable(message),
            Error::FailedPrecondition(_) => Status::failed_precondition(message),
            Error::PermissionDenied(_) => Status::permission_denied(message),
            Error::Storage(_) | Error::Seal(_) => {
                tracing::error!(error = %message, "internal error");
                Status::internal(message)
            }
        }
    }
}

/// The `minutier.v1.Archive` service.
pub struct ArchiveGrpc {
    service: Arc<ArchiveService>,
    auth: Arc<Authenticator>,
}

impl ArchiveGrpc {
    pub fn new(service: Arc<ArchiveService>, auth: Arc<Authenticator>) -> Self {
        ArchiveGrpc { service, auth }
    }

    /// The caller, if its certificate and role allow `action`.
    fn caller<T>(&self, request: &Request<T>, action: Action) -> Result<Identity, Status> {
        authorize(&self.auth, request, action)
    }

    /// Refuses a `dms` touching another agency's archive.
    fn check_agency(
        &self,
        who: &Identity,
        action: Action,
        entry: &ArchiveEntry,
    ) -> Result<(), Status> {
        self.auth
            .check_agency(who, action, &entry.metadata.originating_agency)
    }
}

fn authorize<T>(
    auth: &Authenticator,
    request: &Request<T>,
    action: Action,
) -> Result<Identity, Status> {
    let certs = request.peer_certs();
    auth.authorize(certs.as_deref().map(Vec::as_slice), action)
}

/// The lifecycle's name for a caller.
fn actor_of(who: &Identity) -> Actor {
    Actor {
        actor: who.actor(),
        name: who.name.clone(),
    }
}

fn archive_id(id: &str) -> Result<&str, Status> {
    convert::id("archive_id", id)
}

/// At most 64 characters of client input, for error messages.
pub(crate) fn shorten(s: &str) -> String {
    match s.char_indices().nth(64) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

#[tonic::async_trait]
impl Archive for ArchiveGrpc {
    async fn ingest(
        &self,
        request: Request<Streaming<pb::IngestRequest>>,
    ) -> Result<Response<pb::IngestResponse>, Status> {
        let who = self.caller(&request, Action::Ingest)?;
        let mut stream = request.into_inner();
        let header = match stream.message().await? {
            None => {
                return Err(Status::invalid_argument(
                    "empty ingest: send a header (metadata) first, then the content chunks",
                ))
            }
            Some(pb::IngestRequest {
                part: Some(Part::Header(h)),
            }) => h,
            Some(pb::IngestRequest {
                part: Some(Part::Chunk(_)),
            }) => {
                return Err(Status::invalid_argument(
                    "a content chunk came before the header: send the header (metadata) first",
                ))
            }
            Some(pb::IngestRequest { part: None }) => {
                return Err(Status::invalid_argument(
                    "the first ingest message is empty: send the header",
                ))
            }
        };
        let declared_sha256: Option<Hash> = match header.declared_sha256.trim() {
            "" => None,
            s => Some(parse_declared_sha256(s)?),
        };
        let mut metadata = metadata_from_wire(header.metadata)?;
        if who.role == Role::Dms && metadata.originating_agency.is_empty() {
            // A DMS deposits for its own agency; say so in the metadata.
            metadata.originating_agency = who.agency.clone().unwrap_or_default();
        }
        self.auth
            .check_agency(&who, Action::Ingest, &metadata.originating_agency)?;
        let doc = NewDocument {
            metadata,
            declared_sha256,
            declared_size: header.size,
        };
        let actor = who.actor();
        let chunks = stream.map(|message| match message {
            Ok(pb::IngestRequest {
                part: Some(Part::Chunk(c)),
            }) => Ok(c),
            Ok(pb::IngestRequest {
                part: Some(Part::Header(_)),
            }) => Err(Error::InvalidArgument(
                "a second header arrived in the same ingest: send one document per call".into(),
            )),
            Ok(pb::IngestRequest { part: None }) => Err(Error::InvalidArgument(
                "an empty ingest message arrived; send chunks".into(),
            )),
            Err(status) => Err(Error::InvalidArgument(format!(
                "the upload was interrupted: {}",
                status.message()
            ))),
        });
        let receipt = self.service.ingest(&actor, doc, chunks).await?;
        tracing::info!(
            archive = %receipt.archive_id,
            size = receipt.size,
            index = receipt.log_index,
            %actor,
            "sealed"
        );
        Ok(Response::new(pb::IngestResponse {
            archive_id: receipt.archive_id,
            content_sha256: hash::to_hex(&receipt.content_sha256),
            size: receipt.size,
            log_index: receipt.log_index,
            seal: receipt.seal,
            deduplicated: receipt.deduplicated,
        }))
    }

    type GetStream = BoxStream<pb::GetResponse>;

    async fn get(
        &self,
        request: Request<pb::GetRequest>,
    ) -> Result<Response<Self::GetStream>, Status> {
        let who = self.caller(&request, Action::ReadContent)?;
        let id = archive_id(&request.get_ref().archive_id)?.to_owned();
        self.check_agency(&who, Action::ReadContent, &self.service.archive(&id)?)?;
        // The read is in the log before the first byte leaves.
        let may_read_restricted = crate::auth::allowed(who.role, Action::ReadRestricted);
        self.service
            .record_read(&id, Read::Content, may_read_restricted, actor_of(&who))
            .await?;
        let mut reader = self.service.open_content(&id)?;
        let (tx, rx) = mpsc::channel(4);
        // Each chunk is read on a blocking thread, but no thread waits for a
        // client that does not read: a stalled reader holds a task only.
        tokio::spawn(async move {
            loop {
                let read = tokio::task::spawn_blocking(move || {
                    let chunk = reader.next_chunk();
                    (reader, chunk)
                })
                .await;
                let (back, chunk) = match read {
                    Ok(read) => read,
                    Err(e) => {
                        let failed = Status::internal(format!("reading the content failed: {e}"));
                        let _ = tx.send(Err(failed)).await;
                        return;
                    }
                };
                reader = back;
                let item = match chunk {
                    Ok(Some(chunk)) => pb::GetResponse { chunk },
                    Ok(None) => return,
                    Err(e) => {
                        tracing::error!(archive = %id, error = %e, "refusing to serve content that does not match its seal");
                        let _ = tx.send(Err(Status::from(e))).await;
                        return;
                    }
                };
                if tx.send(Ok(item)).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn get_metadata(
        &self,
        request: Request<pb::GetMetadataRequest>,
    ) -> Result<Response<pb::ArchiveInfo>, Status> {
        let who = self.caller(&request, Action::ReadMetadata)?;
        let id = archive_id(&request.get_ref().archive_id)?;
        self.check_agency(&who, Action::ReadMetadata, &self.service.archive(id)?)?;
        let entry = self
            .service
            .record_read(id, Read::Metadata, true, actor_of(&who))
            .await?;
        Ok(Response::new(archive_to_wire(&entry)))
    }

    async fn list(
        &self,
        request: Request<pb::ListRequest>,
    ) -> Result<Response<pb::ListResponse>, Status> {
        let who = self.caller(&request, Action::List)?;
        let mut r = request.into_inner();
        if who.role == Role::Dms {
            if !r.originating_agency.is_empty() {
                self.auth
                    .check_agency(&who, Action::List, &r.originating_agency)?;
            }
            r.originating_agency = who.agency.clone().unwrap_or_default();
        }
        if r.page_size > 1000 {
            return Err(Status::invalid_argument(format!(
                "page_size {} is over the maximum of 1000",
                r.page_size
            )));
        }
        let token =
            match r.page_token.as_str() {
                "" => None,
                t => Some(archive_id(t).map_err(|_| {
                    Status::invalid_argument("page_token is not one this server gave")
                })?),
            };
        let filter = ListFilter {
            originating_agency: (!r.originating_agency.is_empty())
                .then_some(r.originating_agency.clone()),
            title_contains: (!r.title_contains.is_empty()).then(|| r.title_contains.to_lowercase()),
            ..ListFilter::default()
        };
        let page_size = if r.page_size == 0 {
            100
        } else {
            r.page_size as usize
        };
        let (entries, next) = self.service.list(token, page_size, &filter)?;
        Ok(Response::new(pb::ListResponse {
            archives: entries.iter().map(catalogue_to_wire).collect(),
            next_page_token: next.unwrap_or_default(),
        }))
    }

    async fn get_seal(
        &self,
        request: Request<pb::GetSealRequest>,
    ) -> Result<Response<pb::GetSealResponse>, Status> {
        let who = self.caller(&request, Action::ReadSeal)?;
        let id = archive_id(&request.get_ref().archive_id)?;
        if who.role == Role::Dms {
            self.check_agency(&who, Action::ReadSeal, &self.service.archive(id)?)?;
        }
        let (seal, log_index) = self.service.seal(id)?;
        Ok(Response::new(pb::GetSealResponse { seal, log_index }))
    }

    async fn get_checkpoint(
        &self,
        request: Request<pb::GetCheckpointRequest>,
    ) -> Result<Response<pb::GetCheckpointResponse>, Status> {
        self.caller(&request, Action::ReadCheckpoint)?;
        let size = request.get_ref().size;
        let checkpoint = self.service.checkpoint((size != 0).then_some(size))?;
        Ok(Response::new(pb::GetCheckpointResponse {
            checkpoint: checkpoint.text.to_string(),
            size: checkpoint.size,
            verifier_key: self.service.verifier_key().to_string(),
            previous_verifier_keys: self
                .service
                .previous_keys()
                .iter()
                .map(ToString::to_string)
                .collect(),
        }))
    }

    async fn get_consistency_proof(
        &self,
        request: Request<pb::GetConsistencyProofRequest>,
    ) -> Result<Response<pb::GetConsistencyProofResponse>, Status> {
        self.caller(&request, Action::ReadProof)?;
        let r = request.get_ref();
        let (proof, checkpoint) = self
            .service
            .consistency(r.old_size, (r.new_size != 0).then_some(r.new_size))?;
        Ok(Response::new(pb::GetConsistencyProofResponse {
            proof: proof.iter().map(|h| h.to_vec()).collect(),
            new_checkpoint: checkpoint.text.to_string(),
        }))
    }

    async fn get_records(
        &self,
        request: Request<pb::GetRecordsRequest>,
    ) -> Result<Response<pb::GetRecordsResponse>, Status> {
        self.caller(&request, Action::ReadRecords)?;
        let r = request.get_ref();
        let records = self.service.records(r.start, r.end)?;
        Ok(Response::new(pb::GetRecordsResponse {
            records: records
                .into_iter()
                .map(|(index, record)| pb::LogRecord { index, record })
                .collect(),
        }))
    }
}

/// The `minutier.v1.Admin` service.
pub struct AdminGrpc {
    admin: Arc<AdminService>,
    archive: Arc<ArchiveService>,
}

impl AdminGrpc {
    pub fn new(admin: Arc<AdminService>, archive: Arc<ArchiveService>) -> Self {
        AdminGrpc { admin, archive }
    }

    fn caller<T>(&self, request: &Request<T>, action: Action) -> Result<Identity, Status> {
        authorize(self.admin.auth(), request, action)
    }
}

fn credential_to_wire(c: &Credential) -> pb::Credential {
    let time = |ms: u64| minutier_seal::record::Timestamp(ms).to_string();
    pb::Credential {
        serial: c.serial.clone(),
        name: c.name.clone(),
        role: c.role.to_string(),
        agency: c.agency.clone().unwrap_or_default(),
        issued_at: time(c.issued_at),
        not_after: time(c.not_after),
        issued_by: c.issued_by.clone(),
        revoked_at: c.revoked_at.map(time).unwrap_or_default(),
        revoked_by: c.revoked_by.clone().unwrap_or_default(),
        login: c
            .login
            .as_ref()
            .map(|l| l.login.clone())
            .unwrap_or_default(),
        totp: c.login.as_ref().is_some_and(|l| l.totp_secret.is_some()),
    }
}

#[tonic::async_trait]
impl minutier_proto::v1::admin_server::Admin for AdminGrpc {
    async fn issue_credential(
        &self,
        request: Request<pb::IssueCredentialRequest>,
    ) -> Result<Response<pb::IssueCredentialResponse>, Status> {
        let who = self.caller(&request, Action::IssueCredential)?;
        let r = request.into_inner();
        let agency = (!r.agency.is_empty()).then_some(r.agency.as_str());
        let issued = self.admin.issue(
            &who.actor(),
            &r.name,
            &r.role,
            agency,
            if r.validity_seconds > 0 {
                Validity::Seconds(r.validity_seconds)
            } else {
                Validity::Days(r.validity_days)
            },
            SystemClock.now_millis(),
        )?;
        Ok(Response::new(pb::IssueCredentialResponse {
            bundle: issued.bundle,
            credential: Some(credential_to_wire(&issued.credential)),
        }))
    }

    async fn create_account(
        &self,
        request: Request<pb::CreateAccountRequest>,
    ) -> Result<Response<pb::CreateAccountResponse>, Status> {
        let who = self.caller(&request, Action::IssueCredential)?;
        let r = request.into_inner();
        let agency = (!r.agency.is_empty()).then_some(r.agency.as_str());
        let password = (!r.password.is_empty()).then_some(r.password);
        let created = self.admin.create_account(
            &who.actor(),
            &r.login,
            &r.name,
            &r.role,
            agency,
            Validity::Days(r.validity_days),
            password,
            r.totp,
            SystemClock.now_millis(),
        )?;
        Ok(Response::new(pb::CreateAccountResponse {
            credential: Some(credential_to_wire(&created.credential)),
            password: created.password.unwrap_or_default(),
            totp_uri: created.totp_uri.unwrap_or_default(),
            totp_secret: created.totp_secret.unwrap_or_default(),
        }))
    }

    async fn revoke_credential(
        &self,
        request: Request<pb::RevokeCredentialRequest>,
    ) -> Result<Response<pb::RevokeCredentialResponse>, Status> {
        let who = self.caller(&request, Action::RevokeCredential)?;
        let r = request.into_inner();
        let serial = (!r.serial.is_empty()).then_some(r.serial.as_str());
        let revoked = self
            .admin
            .revoke(&who, &r.name, serial, SystemClock.now_millis())?;
        Ok(Response::new(pb::RevokeCredentialResponse {
            revoked: revoked.iter().map(credential_to_wire).collect(),
        }))
    }

    async fn list_credentials(
        &self,
        request: Request<pb::ListCredentialsRequest>,
    ) -> Result<Response<pb::ListCredentialsResponse>, Status> {
        self.caller(&request, Action::ListCredentials)?;
        Ok(Response::new(pb::ListCredentialsResponse {
            credentials: self
                .admin
                .auth()
                .credentials()
                .iter()
                .map(credential_to_wire)
                .collect(),
        }))
    }

    async fn status(
        &self,
        request: Request<pb::StatusRequest>,
    ) -> Result<Response<pb::StatusResponse>, Status> {
        self.caller(&request, Action::Status)?;
        let credentials = self.admin.auth().credentials();
        let revoked = credentials
            .iter()
            .filter(|c| c.revoked_at.is_some())
            .count() as u64;
        let checkpoint = self.archive.latest_checkpoint()?;
        Ok(Response::new(pb::StatusResponse {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            origin: self.archive.verifier_key().name.clone(),
            verifier_key: self.archive.verifier_key().to_string(),
            tree_size: checkpoint.size,
            credentials_live: credentials.len() as u64 - revoked,
            credentials_revoked: revoked,
            refusals: self
                .admin
                .auth()
                .refusal_counts()
                .into_iter()
                .map(|r| pb::RefusalCount {
                    role: r.role,
                    action: r.action,
                    reason: r.reason,
                    count: r.count,
                })
                .collect(),
        }))
    }

    async fn who_am_i(
        &self,
        request: Request<pb::WhoAmIRequest>,
    ) -> Result<Response<pb::WhoAmIResponse>, Status> {
        let who = self.caller(&request, Action::WhoAmI)?;
        Ok(Response::new(pb::WhoAmIResponse {
            actor: who.actor(),
            name: who.name,
            role: who.role.to_string(),
            agency: who.agency.unwrap_or_default(),
            serial: who.serial,
        }))
    }

    async fn get_health(
        &self,
        request: Request<pb::GetHealthRequest>,
    ) -> Result<Response<pb::HealthResponse>, Status> {
        self.caller(&request, Action::ReadHealth)?;
        let Some(health) = self.archive.health().cloned() else {
            return Err(Status::unavailable(
                "health is not monitored by this daemon",
            ));
        };
        let snapshot = tokio::task::spawn_blocking(move || health.snapshot())
            .await
            .map_err(|e| Status::internal(format!("health sampling failed: {e}")))?;
        Ok(Response::new(convert::health_to_wire(&snapshot)))
    }
}
