//! The `minutier.v1.Transfer` service: SEDA packages in.

use std::io::Write;
use std::sync::Arc;

use minutier_proto::v1 as pb;
use minutier_proto::v1::import_sip_request::Part;
use minutier_proto::v1::transfer_server::Transfer;
use tonic::{Request, Response, Status, Streaming};

use super::authorize;
use crate::archive::{ArchiveService, ImportReport, SipSource, TransferOutcome};
use crate::auth::{Action, Authenticator, Role};
use crate::error::Error;

pub struct TransferGrpc {
    service: Arc<ArchiveService>,
    auth: Arc<Authenticator>,
}

impl TransferGrpc {
    pub fn new(service: Arc<ArchiveService>, auth: Arc<Authenticator>) -> Self {
        TransferGrpc { service, auth }
    }
}

#[tonic::async_trait]
impl Transfer for TransferGrpc {
    async fn import_sip(
        &self,
        request: Request<Streaming<pb::ImportSipRequest>>,
    ) -> Result<Response<pb::TransferOutcome>, Status> {
        let who = authorize(&self.auth, &request, Action::Ingest)?;
        let mut stream = request.into_inner();
        let header = match stream.message().await? {
            Some(pb::ImportSipRequest {
                part: Some(Part::Header(h)),
            }) => h,
            None => {
                return Err(Status::invalid_argument(
                    "empty import: send a header first, then the package's bytes",
                ))
            }
            Some(_) => {
                return Err(Status::invalid_argument(
                    "the first message of an import must be its header",
                ))
            }
        };
        let (mut spool, limit) = self.service.spool_file()?;
        let too_big = |size: u64| {
            Status::resource_exhausted(format!(
                "package {:?} is {size} bytes; at most {limit} are accepted (max_document_size)",
                header.file_name
            ))
        };
        if header.size > limit {
            return Err(too_big(header.size));
        }
        // The package is spooled, then stored: twice its size, for a while.
        self.service.admit(header.size.saturating_mul(2))?;
        let mut received: u64 = 0;
        while let Some(message) = stream.message().await.map_err(|s| {
            Status::invalid_argument(format!("the upload was interrupted: {}", s.message()))
        })? {
            let chunk = match message.part {
                Some(Part::Chunk(c)) => c,
                Some(Part::Header(_)) => {
                    return Err(Status::invalid_argument(
                        "a second header arrived: send one package per call",
                    ))
                }
                None => return Err(Status::invalid_argument("an empty message arrived")),
            };
            received += chunk.len() as u64;
            if received > limit {
                return Err(too_big(received));
            }
            spool.write_all(&chunk).map_err(Error::from)?;
        }
        if received == 0 {
            return Err(Status::invalid_argument(
                "the package is empty: send its bytes after the header",
            ));
        }
        spool.flush().map_err(Error::from)?;
        // A DMS deposits for its own agency only.
        let auth = self.auth.clone();
        let check = |agency: &mut String| -> crate::error::Result<()> {
            if who.role == Role::Dms && agency.is_empty() {
                *agency = who.agency.clone().unwrap_or_default();
            }
            auth.check_agency(&who, Action::Ingest, agency)
                .map_err(|s| Error::PermissionDenied(s.message().to_owned()))
        };
        let report = self
            .service
            .import_sip(
                &who.actor(),
                SipSource::Package(spool.path().to_owned()),
                &check,
            )
            .await?;
        drop(spool);
        Ok(Response::new(outcome_to_wire(report)))
    }

    async fn get_transfer(
        &self,
        request: Request<pb::GetTransferRequest>,
    ) -> Result<Response<pb::TransferOutcome>, Status> {
        let who = authorize(&self.auth, &request, Action::ReadMetadata)?;
        let r = request.into_inner();
        if r.message_identifier.is_empty() {
            return Err(Status::invalid_argument(
                "message_identifier is required (the transfer's MessageIdentifier)",
            ));
        }
        self.auth
            .check_agency(&who, Action::ReadMetadata, &r.transferring_agency)?;
        let outcome = self
            .service
            .transfer(&r.transferring_agency, &r.message_identifier)?;
        Ok(Response::new(outcome_to_wire(ImportReport {
            outcome,
            seals: Vec::new(),
            replayed: false,
        })))
    }
}

fn outcome_to_wire(report: ImportReport) -> pb::TransferOutcome {
    let ImportReport {
        outcome,
        seals,
        replayed,
    } = report;
    let TransferOutcome {
        message_identifier,
        transferring_agency,
        seda_version,
        accepted,
        code,
        message,
        archives,
        reply,
        decided_at,
        actor: _,
    } = outcome;
    let mut seals = seals.into_iter();
    pb::TransferOutcome {
        message_identifier,
        transferring_agency,
        seda_version,
        accepted,
        code,
        message,
        archives: archives
            .into_iter()
            .map(|a| pb::ImportedArchive {
                archive_id: a.archive_id,
                unit_id: a.unit_id,
                object_id: a.object_id,
                title: a.title,
                content_sha256: a.content_sha256,
                size: a.size,
                log_index: a.log_index,
                seal: seals.next().unwrap_or_default(),
            })
            .collect(),
        reply,
        decided_at,
        replayed,
    }
}
