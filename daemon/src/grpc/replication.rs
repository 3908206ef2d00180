//! The `minutier.v1.Replication` service: replication status, scrubs, and
//! the time-stamps of checkpoints.

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

    async fn get_timestamps(
        &self,
        request: Request<pb::GetTimestampsRequest>,
    ) -> Result<Response<pb::GetTimestampsResponse>, Status> {
        authorize(&self.auth, &request, Action::ReadTimestamps)?;
        let req = request.into_inner();
        let limit = match req.limit {
            0 => 100,
            n => n as usize,
        };
        let (entries, next) = self.service.timestamps(req.from_index, limit)?;
        let time = |t: Option<u64>| t.map(|t| Timestamp(t).to_string()).unwrap_or_default();
        let status = match self.service.timestamping() {
            None => pb::TimestampingStatus::default(),
            Some(t) => {
                let s = t.status();
                let (last_error_at, last_error) = s
                    .last_error
                    .map(|(at, e)| (Timestamp(at).to_string(), e))
                    .unwrap_or_default();
                pb::TimestampingStatus {
                    enabled: true,
                    tsa_url: s.tsa_url,
                    interval_seconds: s.interval.as_secs(),
                    last_attempt_at: time(s.last_attempt_at),
                    last_success_at: time(s.last_success_at),
                    last_timestamped_size: s.last_timestamped_size.unwrap_or(0),
                    last_error,
                    last_error_at,
                    consecutive_failures: s.consecutive_failures,
                    next_attempt_at: time(s.next_attempt_at),
                }
            }
        };
        Ok(Response::new(pb::GetTimestampsResponse {
            timestamps: entries
                .into_iter()
                .map(|e| pb::CheckpointTimestamp {
                    log_index: e.log_index,
                    record: e.record,
                    document: e.document_json,
                    recorded_at: e.recorded_at.to_string(),
                    checkpoint_size: e.document.checkpoint_size,
                    checkpoint: e.document.checkpoint,
                    token: e.token,
                    gen_time: e.document.gen_time,
                    serial: e.document.serial,
                    tsa: e.document.tsa,
                })
                .collect(),
            next_index: next.unwrap_or(0),
            status: Some(status),
        }))
    }
}
