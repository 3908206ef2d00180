//! Upkeep: scrubs (on demand and on schedule), replication status, and the
//! time-stamps of checkpoints.

use std::sync::Arc;

use minutier_seal::record::{Record, RecordKind, APPLIANCE_ID};

use super::ArchiveService;
use crate::error::{Error, Result};
use crate::replication::{self, ReplicationStatus, ScrubReport};
use crate::timestamping::{self, TimestampEntry};

/// Most timestamp records returned by one [`ArchiveService::timestamps`]
/// call.
pub const MAX_TIMESTAMPS: usize = 500;

/// Who scheduled scrubs are recorded as.
const SCHEDULER: &str = "minutierd (scheduled scrub)";

impl ArchiveService {
    /// Runs a scrub and records its report in the log (a `scrub` record of
    /// the appliance chain); returns the report and the record's index.
    pub async fn scrub(&self, actor: &str) -> Result<(ScrubReport, u64)> {
        let report = replication::scrub(
            self.store.as_ref(),
            &self.blobs,
            self.replication.as_deref(),
        )
        .await?;
        let json = serde_json::to_value(&report).expect("reports serialise");
        let document = minutier_seal::metadata::canonical_json(&json);
        let done = self
            .sequencer
            .appliance(RecordKind::Scrub, document, actor.to_owned())
            .await?;
        tracing::info!(
            index = done.log_index(),
            checked = report.contents_checked,
            repaired = report.contents_repaired,
            unrepairable = report.contents_unrepairable.len(),
            reuploaded = report.replicas_reuploaded,
            "scrub recorded"
        );
        Ok((report, done.log_index()))
    }

    /// Scrubs on the configured schedule, for ever.
    pub async fn run_scheduled_scrubs(self: Arc<Self>) {
        let Some(every) = self.replication.as_ref().and_then(|r| r.scrub_interval) else {
            return;
        };
        loop {
            tokio::time::sleep(every).await;
            if let Err(e) = self.scrub(SCHEDULER).await {
                tracing::error!(error = %e, "scheduled scrub failed");
            }
        }
    }

    /// Replication status (and one archive's, if named).
    pub fn replication_status(&self, archive_id: Option<&str>) -> Result<ReplicationStatus> {
        self.replication
            .as_ref()
            .ok_or_else(|| {
                Error::FailedPrecondition(
                    "replication is off: add a [replication] section to minutierd's configuration"
                        .into(),
                )
            })?
            .status(archive_id)
    }

    /// The timestamp records of the log (time-stamps of checkpoints) at
    /// index `from` or later, oldest first, at most `limit` (1 to
    /// [`MAX_TIMESTAMPS`]); and where the next page starts, if there is one.
    /// Only records covered by the latest checkpoint are listed.
    pub fn timestamps(
        &self,
        from: u64,
        limit: usize,
    ) -> Result<(Vec<TimestampEntry>, Option<u64>)> {
        let below = self.latest_checkpoint()?.size;
        timestamping::list(
            self.store.as_ref(),
            from,
            below,
            limit.clamp(1, MAX_TIMESTAMPS),
        )
    }

    /// The appliance's latest event of `kind` (a scrub, a time-stamp), with
    /// its index and the document its record commits to (the scrub report).
    pub fn last_appliance_event(&self, kind: RecordKind) -> Result<Option<(u64, Record, Vec<u8>)>> {
        for index in self.store.history(APPLIANCE_ID)?.into_iter().rev() {
            let record = Record::decode(&crate::store::record(self.store.as_ref(), index)?)?;
            if record.kind == kind {
                let document = self
                    .store
                    .document(&record.metadata_sha256)?
                    .unwrap_or_default();
                return Ok(Some((index, record, document)));
            }
        }
        Ok(None)
    }

    /// The time of the latest record under the latest checkpoint: when the
    /// log last grew.
    pub fn latest_record_time(&self) -> Result<Option<u64>> {
        let size = self.latest_checkpoint()?.size;
        if size == 0 {
            return Ok(None);
        }
        let record = Record::decode(&crate::store::record(self.store.as_ref(), size - 1)?)?;
        Ok(Some(record.time.0))
    }
}
