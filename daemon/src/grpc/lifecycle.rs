//! The `minutier.v1.Lifecycle` service.

use std::sync::Arc;

use minutier_proto::v1 as pb;
use minutier_proto::v1::lifecycle_server::Lifecycle;
use minutier_seal::hash;
use minutier_seal::record::Timestamp;
use tonic::{Request, Response, Status};

use super::convert::{
    archive_to_wire, elimination_to_wire, id, metadata_from_wire, rules_from_wire,
};
use super::{actor_of, authorize};
use crate::archive::{ArchiveService, JournalFilter};
use crate::auth::{Action, Authenticator, Identity};
use crate::error::Error;
use crate::lifecycle::{Event, Read};
use crate::metadata::{parse_optional_date, Date};
use crate::sequencer::Sequenced;

pub struct LifecycleGrpc {
    service: Arc<ArchiveService>,
    auth: Arc<Authenticator>,
}

impl LifecycleGrpc {
    pub fn new(service: Arc<ArchiveService>, auth: Arc<Authenticator>) -> Self {
        LifecycleGrpc { service, auth }
    }

    fn caller<T>(&self, request: &Request<T>, action: Action) -> Result<Identity, Status> {
        authorize(&self.auth, request, action)
    }

    /// Records an event; refusals are logged with who asked.
    async fn change(&self, who: &Identity, event: Event) -> Result<Sequenced, Status> {
        let what = event_name(&event);
        match self.service.change(event, actor_of(who)).await {
            Ok(done) => {
                tracing::info!(target: "minutier::access", who = %who.actor(), what, index = done.log_index(), "recorded");
                Ok(done)
            }
            Err(e) => {
                if matches!(e, Error::PermissionDenied(_) | Error::FailedPrecondition(_)) {
                    tracing::warn!(target: "minutier::access", who = %who.actor(), what, reason = %e, "refused");
                }
                Err(e.into())
            }
        }
    }

    /// A change to one archive, answered with its state and seal.
    async fn archive_change(
        &self,
        who: &Identity,
        event: Event,
    ) -> Result<Response<pb::LifecycleReply>, Status> {
        let done = self.change(who, event).await?;
        let seal = self.service.seal_of(&done)?;
        Ok(Response::new(pb::LifecycleReply {
            archive: done.archives.first().map(archive_to_wire),
            log_index: done.log_index(),
            seal,
        }))
    }

    async fn elimination_change(
        &self,
        who: &Identity,
        event: Event,
    ) -> Result<Response<pb::Elimination>, Status> {
        let done = self.change(who, event).await?;
        let order = done
            .elimination
            .ok_or_else(|| Status::internal("an elimination step returned no order"))?;
        Ok(Response::new(elimination_to_wire(&order)))
    }
}

fn event_name(event: &Event) -> &'static str {
    match event {
        Event::CorrectMetadata { .. } => "metadata-correction",
        Event::ChangeRules { .. } => "rules-change",
        Event::PlaceHold { .. } => "hold-placed",
        Event::LiftHold { .. } => "hold-lifted",
        Event::Read { .. } => "read",
        Event::ProposeElimination { .. } => "elimination-proposed",
        Event::DecideElimination { approve: true, .. } => "elimination-approved",
        Event::DecideElimination { .. } => "elimination-refused",
        Event::ExecuteElimination { .. } => "elimination-executed",
    }
}

/// A `since` bound: a date (its first millisecond) or an RFC 3339 time.
fn parse_since(s: &str) -> Result<Option<Timestamp>, Status> {
    if s.is_empty() {
        return Ok(None);
    }
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(Some(t));
    }
    let day: Date = s.parse().map_err(|_| {
        Status::invalid_argument(format!(
            "since {s:?} is neither a date (YYYY-MM-DD) nor a time (2026-11-29T08:52:46.123Z)"
        ))
    })?;
    Ok(Some(format!("{day}T00:00:00.000Z").parse().map_err(
        |_| Status::invalid_argument(format!("since {s:?} is before 1970")),
    )?))
}

#[tonic::async_trait]
impl Lifecycle for LifecycleGrpc {
    async fn correct_metadata(
        &self,
        request: Request<pb::CorrectMetadataRequest>,
    ) -> Result<Response<pb::LifecycleReply>, Status> {
        let who = self.caller(&request, Action::CorrectMetadata)?;
        let r = request.into_inner();
        let archive_id = id("archive_id", &r.archive_id)?.to_owned();
        let metadata = Box::new(metadata_from_wire(r.metadata)?);
        self.archive_change(
            &who,
            Event::CorrectMetadata {
                archive_id,
                metadata,
            },
        )
        .await
    }

    async fn change_rules(
        &self,
        request: Request<pb::ChangeRulesRequest>,
    ) -> Result<Response<pb::LifecycleReply>, Status> {
        let who = self.caller(&request, Action::ChangeRules)?;
        let r = request.into_inner();
        let archive_id = id("archive_id", &r.archive_id)?.to_owned();
        let rules = rules_from_wire(r.rules)?;
        self.archive_change(&who, Event::ChangeRules { archive_id, rules })
            .await
    }

    async fn place_hold(
        &self,
        request: Request<pb::PlaceHoldRequest>,
    ) -> Result<Response<pb::LifecycleReply>, Status> {
        let who = self.caller(&request, Action::PlaceHold)?;
        let r = request.into_inner();
        let archive_id = id("archive_id", &r.archive_id)?.to_owned();
        let end_date = parse_optional_date("end_date", &r.end_date)?;
        let hold_id = format!("H{}", &self.service.new_id()[..12]).to_uppercase();
        self.archive_change(
            &who,
            Event::PlaceHold {
                archive_id,
                hold_id,
                reason: r.reason,
                end_date,
            },
        )
        .await
    }

    async fn lift_hold(
        &self,
        request: Request<pb::LiftHoldRequest>,
    ) -> Result<Response<pb::LifecycleReply>, Status> {
        let who = self.caller(&request, Action::LiftHold)?;
        let r = request.into_inner();
        let archive_id = id("archive_id", &r.archive_id)?.to_owned();
        let hold_id = id("hold_id", &r.hold_id)?.to_owned();
        self.archive_change(
            &who,
            Event::LiftHold {
                archive_id,
                hold_id,
            },
        )
        .await
    }

    async fn get_history(
        &self,
        request: Request<pb::GetHistoryRequest>,
    ) -> Result<Response<pb::GetHistoryResponse>, Status> {
        let who = self.caller(&request, Action::ReadHistory)?;
        let archive_id = id("archive_id", &request.get_ref().archive_id)?.to_owned();
        // A history shows every version of the metadata: it is a read, and
        // journaled before it is served. (The appliance's own chain holds
        // no archive metadata.)
        if archive_id != minutier_seal::record::APPLIANCE_ID {
            self.service
                .record_read(&archive_id, Read::Metadata, true, actor_of(&who))
                .await?;
        }
        let history = self.service.history(&archive_id)?;
        Ok(Response::new(pb::GetHistoryResponse {
            entries: history
                .entries
                .into_iter()
                .map(|e| pb::HistoryEntry {
                    index: e.index,
                    record: e.record,
                    document: e.document,
                    inclusion_proof: e.inclusion_proof.iter().map(|h| h.to_vec()).collect(),
                })
                .collect(),
            checkpoint: history.checkpoint.text.to_string(),
            head: hash::to_hex(&history.head),
        }))
    }

    async fn retention_due(
        &self,
        request: Request<pb::RetentionDueRequest>,
    ) -> Result<Response<pb::RetentionDueResponse>, Status> {
        self.caller(&request, Action::ReadRetention)?;
        let before = parse_optional_date("before", &request.get_ref().before)?
            .unwrap_or_else(|| self.service.today());
        let today = self.service.today();
        let due = self.service.retention_due(before)?;
        let to_wire = |e: &crate::model::ArchiveEntry| pb::DueArchive {
            archive_id: e.archive_id.clone(),
            title: e.metadata.title.clone(),
            originating_agency: e.metadata.originating_agency.clone(),
            retention_end: e
                .metadata
                .rules
                .retention_end()
                .map(|d| d.to_string())
                .unwrap_or_default(),
            hold_ids: e
                .metadata
                .rules
                .holds_in_force(today)
                .map(|h| h.hold_id.clone())
                .collect(),
            elimination_id: e.elimination_id.clone().unwrap_or_default(),
        };
        Ok(Response::new(pb::RetentionDueResponse {
            keep: due.keep.iter().map(to_wire).collect(),
            destroy: due.destroy.iter().map(to_wire).collect(),
        }))
    }

    async fn propose_elimination(
        &self,
        request: Request<pb::ProposeEliminationRequest>,
    ) -> Result<Response<pb::Elimination>, Status> {
        let who = self.caller(&request, Action::ProposeElimination)?;
        let r = request.into_inner();
        let archive_ids = r
            .archive_ids
            .iter()
            .map(|a| id("archive_ids", a).map(str::to_owned))
            .collect::<Result<Vec<_>, _>>()?;
        let elimination_id = format!("E{}", &self.service.new_id()[..15]).to_uppercase();
        self.elimination_change(
            &who,
            Event::ProposeElimination {
                elimination_id,
                archive_ids,
                reason: r.reason,
            },
        )
        .await
    }

    async fn decide_elimination(
        &self,
        request: Request<pb::DecideEliminationRequest>,
    ) -> Result<Response<pb::Elimination>, Status> {
        let who = self.caller(&request, Action::DecideElimination)?;
        let r = request.into_inner();
        let elimination_id = id("elimination_id", &r.elimination_id)?.to_owned();
        self.elimination_change(
            &who,
            Event::DecideElimination {
                elimination_id,
                approve: r.approve,
                reason: r.reason,
            },
        )
        .await
    }

    async fn execute_elimination(
        &self,
        request: Request<pb::ExecuteEliminationRequest>,
    ) -> Result<Response<pb::Elimination>, Status> {
        let who = self.caller(&request, Action::ExecuteElimination)?;
        let elimination_id = id("elimination_id", &request.get_ref().elimination_id)?.to_owned();
        self.elimination_change(&who, Event::ExecuteElimination { elimination_id })
            .await
    }

    async fn get_elimination(
        &self,
        request: Request<pb::GetEliminationRequest>,
    ) -> Result<Response<pb::Elimination>, Status> {
        self.caller(&request, Action::ReadEliminations)?;
        let elimination_id = id("elimination_id", &request.get_ref().elimination_id)?;
        let order = self.service.elimination(elimination_id)?;
        Ok(Response::new(elimination_to_wire(&order)))
    }

    async fn list_eliminations(
        &self,
        request: Request<pb::ListEliminationsRequest>,
    ) -> Result<Response<pb::ListEliminationsResponse>, Status> {
        self.caller(&request, Action::ReadEliminations)?;
        let eliminations = self.service.eliminations()?;
        Ok(Response::new(pb::ListEliminationsResponse {
            eliminations: eliminations.iter().map(elimination_to_wire).collect(),
        }))
    }

    async fn get_journal(
        &self,
        request: Request<pb::GetJournalRequest>,
    ) -> Result<Response<pb::GetJournalResponse>, Status> {
        self.caller(&request, Action::ReadJournal)?;
        let r = request.into_inner();
        if r.page_size > 1000 {
            return Err(Status::invalid_argument(format!(
                "page_size {} is over the maximum of 1000",
                r.page_size
            )));
        }
        let filter = JournalFilter {
            archive_id: match r.archive_id.as_str() {
                "" => None,
                a => Some(id("archive_id", a)?.to_owned()),
            },
            actor_contains: (!r.actor_contains.is_empty()).then_some(r.actor_contains),
            since: parse_since(&r.since)?,
            after_index: (r.after_index > 0).then_some(r.after_index),
            page_size: if r.page_size == 0 {
                100
            } else {
                r.page_size as usize
            },
        };
        let (entries, next) = self.service.journal(&filter)?;
        Ok(Response::new(pb::GetJournalResponse {
            entries: entries
                .into_iter()
                .map(|e| pb::JournalEntry {
                    index: e.index,
                    time: e.record.time.to_string(),
                    actor: e.record.actor,
                    archive_id: e.record.archive_id,
                    kind: e.record.kind.as_str().into(),
                })
                .collect(),
            next_after_index: next.unwrap_or(0),
        }))
    }
}
