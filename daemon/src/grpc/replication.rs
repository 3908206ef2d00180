//! The `minutier.v1.Replication` service.

use std::sync::Arc;

use minutier_proto::v1 as pb;
use minutier_proto::v1::replication_server::Replication;
use minutier_seal::record::Timestamp;
use tonic::{Request, Response, Status};

use super::authorize;
use super::convert::id;
use crate::archive::ArchiveService;
use crate::auth::{Action, Authenticator};
use crate::error::Error;

pub struct ReplicationGrpc {
    service: Arc<ArchiveService>,
    auth: Arc<Authenticator>,
}

impl ReplicationGrpc {
    pub fn new(service: Arc<ArchiveService>, auth: Arc<Authenticator>) -> Self {
        ReplicationGrpc { service, auth }
    }
}

#[tonic::async_trait]
impl Replication for ReplicationGrpc {
    async fn get_replication_status(
        &self,
        request: Request<pb::ReplicationStatusRequest>,
    ) -> Result<Response<pb::ReplicationStatusResponse>, Status> {
        authorize(&self.auth, &request, Action::ReadReplication)?;
        let archive_id = match request.get_ref().archive_id.as_str() {
            "" => None,
            a => Some(id("archive_id", a)?.to_owned()),
        };
        let status = match self.service.replication_status(archive_id.as_deref()) {
            Ok(s) => s,
            Err(Error::FailedPrecondition(_)) => {
                return Ok(Response::new(pb::ReplicationStatusResponse::default()))
            }
            Err(e) => return Err(e.into()),
        };
        let (last_error_at, last_error) = status
            .last_error
            .map(|(at, e)| (Timestamp(at).to_string(), e))
            .unwrap_or_default();
        Ok(Response::new(pb::ReplicationStatusResponse {
            enabled: true,
            endpoint: status.endpoint,
            bucket: status.bucket,
            queued: status.queued,
            oldest_queued_ms: status.oldest_queued_ms.unwrap_or(0),
            log_size: status.log_size,
            replicated_log_size: status.replicated_log_size,
            lag_records: status.log_size.saturating_sub(status.replicated_log_size),
            contents_replicated: status.contents_replicated,
            last_success_at: status
                .last_success_at
                .map(|t| Timestamp(t).to_string())
                .unwrap_or_default(),
            last_error,
            last_error_at,
            archive: status.archive.map(|a| pb::ArchiveReplication {
                archive_id: a.archive_id,
                content_replicated: a.content_replicated,
                eliminated: a.eliminated,
                records_replicated: a.records_replicated,
                head_index: a.head_index,
            }),
        }))
    }

    async fn scrub(
        &self,
        request: Request<pb::ScrubRequest>,
    ) -> Result<Response<pb::ScrubResponse>, Status> {
        let who = authorize(&self.auth, &request, Action::Scrub)?;
        let (report, log_index) = self.service.scrub(&who.actor()).await?;
        let json = serde_json::to_value(&report).expect("reports serialise");
        let text = String::from_utf8(minutier_seal::metadata::canonical_json(&json))
            .expect("canonical JSON is UTF-8");
        Ok(Response::new(pb::ScrubResponse {
            report: text,
            log_index,
            contents_checked: report.contents_checked,
            contents_missing: report.contents_missing,
            contents_corrupt: report.contents_corrupt,
            contents_repaired: report.contents_repaired,
            contents_unrepairable: report.contents_unrepairable,
            replicas_checked: report.replicas_checked,
            replicas_missing: report.replicas_missing,
            replicas_altered: report.replicas_altered,
            replicas_reuploaded: report.replicas_reuploaded,
            bucket_orphans_removed: report.bucket_orphans_removed,
            local_orphans_removed: report.local_orphans_removed,
            queued: report.queued,
            replication: report.replication,
        }))
    }
}
