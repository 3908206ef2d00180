//! Wire types to domain types and back, in one place.

use minutier_proto::v1 as pb;
use minutier_seal::hash;
use minutier_seal::record::Timestamp;
use tonic::Status;

use crate::error::Error;
use crate::metadata::{
    parse_optional_date, AccessRule, AppraisalRule, FinalAction, Hold, ManagementRules, Metadata,
};
use crate::model::{ArchiveEntry, EliminationOrder, Step};

/// Descriptive metadata and rules from a client; holds are never taken
/// from the wire (they are placed and lifted by their own calls).
pub fn metadata_from_wire(m: Option<pb::DocumentMetadata>) -> Result<Metadata, Error> {
    let m = m.ok_or_else(|| {
        Error::InvalidArgument("no metadata was sent; give at least a title".into())
    })?;
    Ok(Metadata {
        title: m.title,
        originating_agency: m.originating_agency,
        submission_agency: m.submission_agency,
        archival_agreement: m.archival_agreement,
        description: m.description,
        start_date: parse_optional_date("metadata.start_date", &m.start_date)?,
        end_date: parse_optional_date("metadata.end_date", &m.end_date)?,
        keywords: m.keywords,
        document_type: m.document_type,
        language: m.language,
        custodial_history: m.custodial_history,
        file_name: m.file_name,
        media_type: m.media_type,
        rules: rules_from_wire(m.rules)?,
        transfer: None,
    })
}

pub fn rules_from_wire(rules: Option<pb::ManagementRules>) -> Result<ManagementRules, Error> {
    let Some(rules) = rules else {
        return Ok(ManagementRules::default());
    };
    let appraisal = rules
        .appraisal
        .map(|a| {
            let final_action = match pb::FinalAction::try_from(a.final_action) {
                Ok(pb::FinalAction::Keep) => FinalAction::Keep,
                Ok(pb::FinalAction::Destroy) => FinalAction::Destroy,
                _ => {
                    return Err(Error::InvalidArgument(
                        "rules.appraisal.final_action is required: KEEP or DESTROY".into(),
                    ))
                }
            };
            Ok(AppraisalRule {
                rule_id: a.rule_id,
                duration_years: a.duration_years,
                start_date: parse_optional_date("rules.appraisal.start_date", &a.start_date)?,
                final_action,
            })
        })
        .transpose()?;
    let access = rules
        .access
        .map(|a| {
            Ok::<_, Error>(AccessRule {
                rule_id: a.rule_id,
                delay_years: a.delay_years,
                start_date: parse_optional_date("rules.access.start_date", &a.start_date)?,
            })
        })
        .transpose()?;
    Ok(ManagementRules {
        appraisal,
        access,
        holds: Vec::new(),
    })
}

fn date_text(d: Option<crate::metadata::Date>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

pub fn rules_to_wire(r: &ManagementRules) -> pb::ManagementRules {
    pb::ManagementRules {
        appraisal: r.appraisal.as_ref().map(|a| pb::AppraisalRule {
            rule_id: a.rule_id.clone(),
            duration_years: a.duration_years,
            start_date: date_text(a.start_date),
            final_action: match a.final_action {
                FinalAction::Keep => pb::FinalAction::Keep,
                FinalAction::Destroy => pb::FinalAction::Destroy,
            } as i32,
            end_date: date_text(r.retention_end()),
        }),
        access: r.access.as_ref().map(|a| pb::AccessRule {
            rule_id: a.rule_id.clone(),
            delay_years: a.delay_years,
            start_date: date_text(a.start_date),
            end_date: date_text(r.communicable_from()),
        }),
        holds: r.holds.iter().map(hold_to_wire).collect(),
    }
}

fn hold_to_wire(h: &Hold) -> pb::Hold {
    pb::Hold {
        hold_id: h.hold_id.clone(),
        reason: h.reason.clone(),
        end_date: date_text(h.end_date),
        placed_by: h.placed_by.clone(),
        placed_at: h.placed_at.clone(),
    }
}

pub fn metadata_to_wire(m: &Metadata) -> pb::DocumentMetadata {
    pb::DocumentMetadata {
        title: m.title.clone(),
        originating_agency: m.originating_agency.clone(),
        submission_agency: m.submission_agency.clone(),
        archival_agreement: m.archival_agreement.clone(),
        description: m.description.clone(),
        start_date: date_text(m.start_date),
        end_date: date_text(m.end_date),
        keywords: m.keywords.clone(),
        document_type: m.document_type.clone(),
        language: m.language.clone(),
        custodial_history: m.custodial_history.clone(),
        file_name: m.file_name.clone(),
        media_type: m.media_type.clone(),
        rules: Some(rules_to_wire(&m.rules)),
        transfer: m.transfer.as_ref().map(|t| pb::TransferLink {
            message_identifier: t.message_identifier.clone(),
            transferring_agency: t.transferring_agency.clone(),
            unit_id: t.unit_id.clone(),
            parent_unit_ids: t.parent_unit_ids.clone(),
            object_id: t.object_id.clone(),
            manifest_archive_id: t.manifest_archive_id.clone(),
        }),
    }
}

pub fn archive_to_wire(e: &ArchiveEntry) -> pb::ArchiveInfo {
    pb::ArchiveInfo {
        archive_id: e.archive_id.clone(),
        metadata: Some(metadata_to_wire(&e.metadata)),
        content_sha256: hash::to_hex(&e.content_sha256),
        size: e.size,
        stored_size: e.stored_size,
        log_index: e.log_index,
        ingested_at: e.ingested_at().to_string(),
        actor: e.actor.clone(),
        record_hash: hash::to_hex(&e.record_hash),
        metadata_sha256: hash::to_hex(&e.metadata_sha256),
        state: if e.is_eliminated() {
            "eliminated"
        } else {
            "active"
        }
        .into(),
        elimination_id: e.elimination_id.clone().unwrap_or_default(),
        record_count: e.record_count,
    }
}

/// The catalogue view List serves: everything but the free texts that only
/// a journaled GetMetadata returns.
pub fn catalogue_to_wire(e: &ArchiveEntry) -> pb::ArchiveInfo {
    let mut info = archive_to_wire(e);
    if let Some(m) = info.metadata.as_mut() {
        m.description.clear();
        m.custodial_history.clear();
    }
    info
}

fn step_parts(s: &Option<Step>) -> (String, String) {
    s.as_ref()
        .map(|s| (s.actor.clone(), Timestamp(s.at).to_string()))
        .unwrap_or_default()
}

pub fn elimination_to_wire(o: &EliminationOrder) -> pb::Elimination {
    let (decided_by, decided_at) = step_parts(&o.decided);
    let (executed_by, executed_at) = step_parts(&o.executed);
    let certificate = o.certificate.clone().unwrap_or_default();
    let certificate_text = o
        .certificate
        .as_deref()
        .and_then(|c| minutier_seal::certificate::EliminationCertificate::parse_unverified(c).ok())
        .map(|c| c.render_fr())
        .unwrap_or_default();
    pb::Elimination {
        elimination_id: o.elimination_id.clone(),
        state: o.state.as_str().into(),
        reason: o.reason.clone(),
        archive_ids: o.archive_ids.clone(),
        proposed_by: o.proposed.actor.clone(),
        proposed_at: Timestamp(o.proposed.at).to_string(),
        decided_by,
        decided_at,
        decision_reason: o.decision_reason.clone(),
        executed_by,
        executed_at,
        certificate,
        certificate_text,
    }
}

/// Checks an archive or elimination id from a request.
pub fn id<'a>(field: &str, id: &'a str) -> Result<&'a str, Status> {
    if id.is_empty() {
        return Err(Status::invalid_argument(format!("{field} is required")));
    }
    if id.len() > 128
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return Err(Status::invalid_argument(format!(
            "{field} {:?} is not an id (1 to 128 letters, digits, '.', '_' or '-')",
            crate::grpc::shorten(id)
        )));
    }
    Ok(id)
}

pub fn health_to_wire(h: &crate::health::Snapshot) -> pb::HealthResponse {
    let time = |ms: u64| Timestamp(ms).to_string();
    let (space, space_error) = match &h.space {
        Ok(s) => (
            Some(pb::VolumeSpace {
                total_bytes: s.total_bytes,
                free_bytes: s.free_bytes,
                total_inodes: s.total_inodes,
                free_inodes: s.free_inodes,
            }),
            String::new(),
        ),
        Err(e) => (None, e.clone()),
    };
    let disks = h
        .disks
        .iter()
        .map(|d| match d {
            Ok(d) => pb::DiskHealth {
                device: d.device.clone(),
                model: d.model.clone(),
                serial: d.serial.clone(),
                passed: d.passed,
                temperature_celsius: d.temperature_celsius,
                power_on_hours: d.power_on_hours,
                reallocated_sectors: d.reallocated_sectors,
                pending_sectors: d.pending_sectors,
                media_errors: d.media_errors,
                warnings: d.warnings.clone(),
                error: String::new(),
            },
            Err(e) => pb::DiskHealth {
                error: e.clone(),
                ..Default::default()
            },
        })
        .collect();
    let raid = h
        .raid
        .iter()
        .flatten()
        .map(|a| pb::RaidArray {
            name: a.name.clone(),
            state: a.state.clone(),
            level: a.level.clone(),
            devices: a.devices.clone(),
            expected: a.expected.unwrap_or_default(),
            present: a.present.unwrap_or_default(),
            sync: a.sync.clone().unwrap_or_default(),
            degraded: a.degraded(),
        })
        .collect();
    let mut clock = pb::ClockHealth {
        last_signed_at: time(h.clock.last_signed_ms),
        backwards_refusals: h.clock.backwards_refusals,
        backwards: h.clock.last_backwards.clone().unwrap_or_default(),
        ..Default::default()
    };
    match &h.clock.chrony {
        Some(Ok(t)) => {
            clock.chrony_present = true;
            clock.synchronised = t.synchronised();
            clock.reference = t.reference.clone();
            clock.stratum = t.stratum;
            clock.offset_seconds = t.offset_seconds;
            clock.leap_status = t.leap_status.clone();
        }
        Some(Err(e)) => {
            clock.chrony_present = true;
            clock.chrony_error = e.clone();
        }
        None => {}
    }
    pb::HealthResponse {
        sampled_at: time(h.sampled_at_ms),
        data_dir: h.data_dir.display().to_string(),
        space,
        space_error,
        min_free_bytes: h.watermarks.min_free_bytes,
        min_free_percent: h.watermarks.min_free_percent.into(),
        min_free_inodes_percent: h.watermarks.min_free_inodes_percent.into(),
        ingest_allowed: h.space.is_ok()
            && h.ingest_refusal.is_none()
            && h.clock.last_backwards.is_none(),
        ingest_refusal: h
            .ingest_refusal
            .clone()
            .or_else(|| h.clock.last_backwards.clone())
            .unwrap_or_default(),
        ingest_refusals: h.ingest_refusals,
        disks,
        raid_present: h.raid.is_some(),
        raid,
        clock: Some(clock),
        problems: h.problems(),
    }
}
