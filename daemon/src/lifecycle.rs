//! The archival lifecycle's rules: what each event may do to an archive,
//! and what it records.
//!
//! [`plan`] is pure: given an event, who asks, the time and a view of the
//! current archives and eliminations, it returns the records to append and
//! the new states, or a precise refusal. The sequencer runs it on its own
//! thread, against the state its batch has built so far, so two events can
//! never both pass checks that only one of them should (a hold placed while
//! an elimination executes, two approvals of one proposal).

use minutier_seal::record::{RecordKind, Timestamp};
use minutier_seal::Hash;

use crate::error::{Error, Result};
use crate::metadata::{validate_reason, Date, FinalAction, Hold, ManagementRules, MAX_HOLDS};
use crate::model::{
    ArchiveEntry, BlobLocation, EliminationOrder, EliminationState, Metadata, Step,
};

/// Most archives in one elimination.
pub const MAX_ELIMINATION_ARCHIVES: usize = 10_000;

/// Who asks.
#[derive(Debug, Clone)]
pub struct Actor {
    /// As records name it.
    pub actor: String,
    /// The person's name, to tell people apart across credentials.
    pub name: String,
}

/// Whether content or metadata is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    Content,
    Metadata,
}

/// A change to archives, or a read to journal.
#[derive(Debug, Clone)]
pub enum Event {
    /// New descriptive metadata; rules and holds are kept.
    CorrectMetadata {
        archive_id: String,
        metadata: Box<Metadata>,
    },
    /// New appraisal and access rules; holds are kept.
    ChangeRules {
        archive_id: String,
        rules: ManagementRules,
    },
    PlaceHold {
        archive_id: String,
        hold_id: String,
        reason: String,
        end_date: Option<Date>,
    },
    LiftHold {
        archive_id: String,
        hold_id: String,
    },
    Read {
        archive_id: String,
        what: Read,
        /// The caller's role may read content not yet communicable.
        may_read_restricted: bool,
    },
    ProposeElimination {
        elimination_id: String,
        archive_ids: Vec<String>,
        reason: String,
    },
    DecideElimination {
        elimination_id: String,
        approve: bool,
        reason: String,
    },
    ExecuteElimination {
        elimination_id: String,
    },
}

/// Current state, as the sequencer sees it (the store plus its batch).
pub trait View {
    fn archive(&self, archive_id: &str) -> Result<Option<ArchiveEntry>>;
    fn elimination(&self, elimination_id: &str) -> Result<Option<EliminationOrder>>;
}

/// One record to append: the archive's new state (not yet chained), the
/// kind, and the canonical JSON its `metadata-sha256` commits to.
#[derive(Debug, Clone)]
pub struct Planned {
    pub entry: ArchiveEntry,
    pub kind: RecordKind,
    pub document: Vec<u8>,
}

/// What an event does.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub records: Vec<Planned>,
    /// The elimination order's new state, if the event touches one.
    pub elimination: Option<EliminationOrder>,
    /// Content to destroy once the records are durable.
    pub destroyed: Vec<(Hash, BlobLocation)>,
}

/// Checks `event` and returns what it records, or why it is refused.
pub fn plan(event: &Event, actor: &Actor, now: u64, view: &dyn View) -> Result<Plan> {
    let today = Date::from_unix_millis(now);
    match event {
        Event::CorrectMetadata {
            archive_id,
            metadata,
        } => {
            let mut entry = open_archive(view, archive_id, "correct its metadata")?;
            let mut metadata = Metadata::clone(metadata);
            metadata.rules = entry.metadata.rules.clone();
            metadata.transfer = entry.metadata.transfer.clone();
            metadata.validate()?;
            if metadata == entry.metadata {
                return Err(Error::InvalidArgument(format!(
                    "the metadata sent is the same as archive {archive_id}'s; nothing was recorded"
                )));
            }
            entry.metadata = metadata;
            Ok(Plan::one(metadata_event(
                entry,
                RecordKind::MetadataCorrection,
            )))
        }
        Event::ChangeRules { archive_id, rules } => {
            let mut entry = open_archive(view, archive_id, "change its rules")?;
            let mut metadata = entry.metadata.clone();
            metadata.rules = ManagementRules {
                holds: entry.metadata.rules.holds.clone(),
                ..rules.clone()
            };
            metadata.validate()?;
            metadata.settle(today);
            if entry.metadata.rules.final_action() == Some(FinalAction::Keep)
                && metadata.rules.final_action() != Some(FinalAction::Keep)
            {
                return Err(Error::FailedPrecondition(format!(
                    "archive {archive_id} is a definitive archive (final action keep): \
                     its final action can never be changed, by anyone"
                )));
            }
            if metadata == entry.metadata {
                return Err(Error::InvalidArgument(format!(
                    "the rules sent are the same as archive {archive_id}'s; nothing was recorded"
                )));
            }
            entry.metadata = metadata;
            Ok(Plan::one(metadata_event(entry, RecordKind::RulesChange)))
        }
        Event::PlaceHold {
            archive_id,
            hold_id,
            reason,
            end_date,
        } => {
            validate_reason("the hold's reason", reason)?;
            let mut entry = open_archive(view, archive_id, "place a hold on it")?;
            if let Some(end) = end_date.filter(|end| *end < today) {
                return Err(Error::InvalidArgument(format!(
                    "the hold's end date {end} is already past"
                )));
            }
            if entry.metadata.rules.holds.len() >= MAX_HOLDS {
                return Err(Error::ResourceExhausted(format!(
                    "archive {archive_id} already has {MAX_HOLDS} holds; lift one first"
                )));
            }
            entry.metadata.rules.holds.push(Hold {
                hold_id: hold_id.clone(),
                reason: reason.clone(),
                end_date: *end_date,
                placed_by: actor.actor.clone(),
                placed_at: Timestamp(now).to_string(),
            });
            Ok(Plan::one(metadata_event(entry, RecordKind::HoldPlaced)))
        }
        Event::LiftHold {
            archive_id,
            hold_id,
        } => {
            let mut entry = open_archive(view, archive_id, "lift a hold")?;
            let holds = &mut entry.metadata.rules.holds;
            let Some(at) = holds.iter().position(|h| &h.hold_id == hold_id) else {
                let known: Vec<_> = holds.iter().map(|h| h.hold_id.as_str()).collect();
                return Err(Error::NotFound(format!(
                    "archive {archive_id} has no hold {hold_id:?} (holds: {})",
                    if known.is_empty() {
                        "none".into()
                    } else {
                        known.join(", ")
                    }
                )));
            };
            holds.remove(at);
            Ok(Plan::one(metadata_event(entry, RecordKind::HoldLifted)))
        }
        Event::Read {
            archive_id,
            what,
            may_read_restricted,
        } => {
            let entry = existing(view, archive_id)?;
            let kind = match what {
                Read::Metadata => RecordKind::ReadMetadata,
                Read::Content => {
                    if let Some(at) = entry.eliminated_at {
                        return Err(Error::NotFound(format!(
                            "the content of archive {archive_id} was destroyed on {} by elimination {}; \
                             its metadata and history remain",
                            Timestamp(at),
                            entry.elimination_id.as_deref().unwrap_or("?")
                        )));
                    }
                    if !may_read_restricted {
                        check_communicable(&entry, today)?;
                    }
                    RecordKind::ReadContent
                }
            };
            Ok(Plan::one(metadata_event(entry, kind)))
        }
        Event::ProposeElimination {
            elimination_id,
            archive_ids,
            reason,
        } => {
            validate_reason("the elimination's reason", reason)?;
            if archive_ids.is_empty() {
                return Err(Error::InvalidArgument(
                    "name at least one archive to eliminate".into(),
                ));
            }
            if archive_ids.len() > MAX_ELIMINATION_ARCHIVES {
                return Err(Error::InvalidArgument(format!(
                    "{} archives in one elimination; at most {MAX_ELIMINATION_ARCHIVES}",
                    archive_ids.len()
                )));
            }
            let mut seen = std::collections::HashSet::new();
            if let Some(dup) = archive_ids.iter().find(|id| !seen.insert(id.as_str())) {
                return Err(Error::InvalidArgument(format!(
                    "archive {dup} is named twice in the proposal"
                )));
            }
            let entries = eliminable(
                view,
                archive_ids,
                elimination_id,
                today,
                "propose this elimination",
            )?;
            let order = EliminationOrder {
                elimination_id: elimination_id.clone(),
                state: EliminationState::Proposed,
                reason: reason.clone(),
                archive_ids: archive_ids.clone(),
                proposed: step(actor, now),
                decided: None,
                decision_reason: String::new(),
                executed: None,
                certificate: None,
            };
            Ok(elimination_plan(
                order,
                entries,
                RecordKind::EliminationProposed,
                |e| e.elimination_id = Some(elimination_id.clone()),
            ))
        }
        Event::DecideElimination {
            elimination_id,
            approve,
            reason,
        } => {
            let mut order = elimination(view, elimination_id)?;
            if order.state != EliminationState::Proposed {
                return Err(wrong_state(&order, "decide on it"));
            }
            if same_person(&order.proposed.name, &actor.name) {
                return Err(Error::PermissionDenied(format!(
                    "{} proposed elimination {elimination_id} and cannot also {} it: \
                     another person, with a controller credential, must decide",
                    order.proposed.name,
                    if *approve { "approve" } else { "refuse" }
                )));
            }
            order.decided = Some(step(actor, now));
            if *approve {
                if !reason.is_empty() {
                    validate_reason("the decision's reason", reason)?;
                }
                let entries = eliminable(
                    view,
                    &order.archive_ids,
                    elimination_id,
                    today,
                    &format!("approve elimination {elimination_id}"),
                )?;
                order.state = EliminationState::Approved;
                order.decision_reason = reason.clone();
                Ok(elimination_plan(
                    order,
                    entries,
                    RecordKind::EliminationApproved,
                    |_| {},
                ))
            } else {
                validate_reason("the refusal's reason", reason)?;
                let entries = order
                    .archive_ids
                    .iter()
                    .map(|id| existing(view, id))
                    .collect::<Result<Vec<_>>>()?;
                order.state = EliminationState::Refused;
                order.decision_reason = reason.clone();
                Ok(elimination_plan(
                    order,
                    entries,
                    RecordKind::EliminationRefused,
                    |e| e.elimination_id = None,
                ))
            }
        }
        Event::ExecuteElimination { elimination_id } => {
            let mut order = elimination(view, elimination_id)?;
            if order.state != EliminationState::Approved {
                return Err(wrong_state(&order, "execute it"));
            }
            let entries = eliminable(
                view,
                &order.archive_ids,
                elimination_id,
                today,
                &format!("execute elimination {elimination_id}"),
            )?;
            order.state = EliminationState::Executed;
            order.executed = Some(step(actor, now));
            let destroyed = entries.iter().map(|e| (e.content_sha256, e.blob)).collect();
            let mut plan = elimination_plan(order, entries, RecordKind::EliminationExecuted, |e| {
                e.eliminated_at = Some(now)
            });
            plan.destroyed = destroyed;
            Ok(plan)
        }
    }
}

impl Plan {
    fn one(planned: Planned) -> Plan {
        Plan {
            records: vec![planned],
            ..Default::default()
        }
    }
}

fn step(actor: &Actor, now: u64) -> Step {
    Step {
        actor: actor.actor.clone(),
        name: actor.name.clone(),
        at: now,
    }
}

/// Two names of one person: compared without case or surrounding spaces.
fn same_person(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

/// A record committing to the archive's (new) metadata.
fn metadata_event(mut entry: ArchiveEntry, kind: RecordKind) -> Planned {
    let document = entry.metadata.canonical_json();
    entry.metadata_sha256 = minutier_seal::hash::sha256(&document);
    Planned {
        entry,
        kind,
        document,
    }
}

fn elimination_plan(
    order: EliminationOrder,
    entries: Vec<ArchiveEntry>,
    kind: RecordKind,
    update: impl Fn(&mut ArchiveEntry),
) -> Plan {
    let document = order.canonical_json();
    let records = entries
        .into_iter()
        .map(|mut entry| {
            update(&mut entry);
            Planned {
                entry,
                kind,
                document: document.clone(),
            }
        })
        .collect();
    Plan {
        records,
        elimination: Some(order),
        destroyed: Vec::new(),
    }
}

fn existing(view: &dyn View, archive_id: &str) -> Result<ArchiveEntry> {
    view.archive(archive_id)?
        .ok_or_else(|| Error::NotFound(format!("no archive with id {archive_id:?}")))
}

/// An archive that still has its content.
fn open_archive(view: &dyn View, archive_id: &str, to: &str) -> Result<ArchiveEntry> {
    let entry = existing(view, archive_id)?;
    if let Some(at) = entry.eliminated_at {
        return Err(Error::FailedPrecondition(format!(
            "archive {archive_id} was eliminated on {}: cannot {to}",
            Timestamp(at)
        )));
    }
    Ok(entry)
}

fn elimination(view: &dyn View, elimination_id: &str) -> Result<EliminationOrder> {
    view.elimination(elimination_id)?
        .ok_or_else(|| Error::NotFound(format!("no elimination with id {elimination_id:?}")))
}

fn wrong_state(order: &EliminationOrder, to: &str) -> Error {
    let id = &order.elimination_id;
    let when = |s: &Option<Step>| {
        s.as_ref()
            .map(|s| format!(" by {} on {}", s.actor, Timestamp(s.at)))
            .unwrap_or_default()
    };
    Error::FailedPrecondition(match order.state {
        EliminationState::Proposed => {
            format!("elimination {id} is only proposed: a controller must approve it before anyone can {to}")
        }
        EliminationState::Approved => format!(
            "elimination {id} was already approved{}",
            when(&order.decided)
        ),
        EliminationState::Refused => format!(
            "elimination {id} was refused{} ({}): cannot {to}",
            when(&order.decided),
            order.decision_reason
        ),
        EliminationState::Executed => {
            format!(
                "elimination {id} was already executed{}",
                when(&order.executed)
            )
        }
    })
}

/// Refuses content whose access rule has not expired.
fn check_communicable(entry: &ArchiveEntry, today: Date) -> Result<()> {
    let rules = &entry.metadata.rules;
    let Some(rule) = rules.access.as_ref().filter(|_| rules.restricted_on(today)) else {
        return Ok(());
    };
    let named = if rule.rule_id.is_empty() {
        String::new()
    } else {
        format!(" {}", rule.rule_id)
    };
    Err(Error::PermissionDenied(match (rules.communicable_from(), rule.delay_years) {
        (Some(from), Some(years)) => format!(
            "archive {} is not communicable before {from} (access rule{named} of {years} years from {}); \
             your role may not read it before then",
            entry.archive_id,
            rule.start_date.map_or("?".into(), |d| d.to_string()),
        ),
        _ => format!(
            "archive {} is under access rule{named}, whose delay this appliance does not know; \
             it is not communicable to your role until an archivist sets the delay",
            entry.archive_id
        ),
    }))
}

/// Every archive, if each may be eliminated by `elimination_id` on `today`;
/// else every reason why not.
fn eliminable(
    view: &dyn View,
    archive_ids: &[String],
    elimination_id: &str,
    today: Date,
    to: &str,
) -> Result<Vec<ArchiveEntry>> {
    let mut entries = Vec::with_capacity(archive_ids.len());
    let mut refusals = Vec::new();
    for id in archive_ids {
        let Some(entry) = view.archive(id)? else {
            refusals.push(format!("no archive with id {id:?}"));
            continue;
        };
        match why_not_eliminable(&entry, elimination_id, today) {
            Some(reason) => refusals.push(reason),
            None => entries.push(entry),
        }
    }
    if refusals.is_empty() {
        return Ok(entries);
    }
    const SHOWN: usize = 10;
    let more = refusals.len().saturating_sub(SHOWN);
    let mut message = format!(
        "cannot {to}: {}",
        refusals[..refusals.len().min(SHOWN)].join("; ")
    );
    if more > 0 {
        message.push_str(&format!("; and {more} more"));
    }
    Err(Error::FailedPrecondition(message))
}

fn why_not_eliminable(entry: &ArchiveEntry, elimination_id: &str, today: Date) -> Option<String> {
    let id = &entry.archive_id;
    if let Some(at) = entry.eliminated_at {
        return Some(format!(
            "archive {id} was already eliminated on {}",
            Timestamp(at)
        ));
    }
    if let Some(other) = entry
        .elimination_id
        .as_deref()
        .filter(|o| *o != elimination_id)
    {
        return Some(format!(
            "archive {id} is already part of elimination {other}"
        ));
    }
    let rules = &entry.metadata.rules;
    match rules.appraisal.as_ref() {
        None => {
            return Some(format!(
                "archive {id} has no appraisal rule: it is kept until one is set"
            ))
        }
        Some(rule) if rule.final_action == FinalAction::Keep => {
            return Some(format!(
                "archive {id} is a definitive archive (final action keep): it can never be eliminated, by anyone"
            ))
        }
        Some(rule) => match (rules.retention_end(), rule.duration_years) {
            (Some(end), Some(years)) if today < end => {
                return Some(format!(
                    "the retention period of archive {id} runs until {end} ({years} years from {})",
                    rule.start_date.map_or("?".into(), |d| d.to_string())
                ));
            }
            (None, _) | (_, None) => {
                return Some(format!(
                    "the duration of appraisal rule {} of archive {id} is not known to this appliance; \
                     set it with `minutier rules` first",
                    rule.rule_id
                ))
            }
            _ => {}
        },
    }
    if let Some(hold) = rules.holds_in_force(today).next() {
        return Some(format!(
            "archive {id} is under hold {} placed by {} on {} ({}){}",
            hold.hold_id,
            hold.placed_by,
            hold.placed_at,
            hold.reason,
            hold.end_date
                .map_or(String::new(), |d| format!(", in force until {d}"))
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::metadata::{AccessRule, AppraisalRule};

    const DAY: u64 = 86_400_000;
    /// 2026-11-29T00:00:00Z.
    const NOW: u64 = 1_796_083_200_000;

    #[derive(Default)]
    struct Fake {
        archives: HashMap<String, ArchiveEntry>,
        eliminations: HashMap<String, EliminationOrder>,
    }

    impl View for Fake {
        fn archive(&self, id: &str) -> Result<Option<ArchiveEntry>> {
            Ok(self.archives.get(id).cloned())
        }
        fn elimination(&self, id: &str) -> Result<Option<EliminationOrder>> {
            Ok(self.eliminations.get(id).cloned())
        }
    }

    impl Fake {
        fn apply(&mut self, plan: &Plan) {
            for p in &plan.records {
                self.archives
                    .insert(p.entry.archive_id.clone(), p.entry.clone());
            }
            if let Some(o) = &plan.elimination {
                self.eliminations
                    .insert(o.elimination_id.clone(), o.clone());
            }
        }

        fn run(&mut self, event: Event, who: &str) -> Result<Plan> {
            let plan = plan(&event, &actor(who), NOW, self)?;
            self.apply(&plan);
            Ok(plan)
        }
    }

    fn actor(name: &str) -> Actor {
        Actor {
            actor: format!("{name} [role 0000]"),
            name: name.into(),
        }
    }

    fn archive(id: &str, rules: ManagementRules) -> ArchiveEntry {
        let metadata = Metadata {
            title: id.into(),
            rules,
            ..Default::default()
        };
        ArchiveEntry {
            archive_id: id.into(),
            metadata_sha256: metadata.digest(),
            metadata,
            content_sha256: [1; 32],
            size: 1,
            stored_size: 1,
            blob: BlobLocation::Inline,
            log_index: 0,
            ingested_at: 0,
            actor: "a".into(),
            record_hash: [0; 32],
            head_index: 0,
            record_count: 1,
            elimination_id: None,
            eliminated_at: None,
        }
    }

    fn appraisal(years: u32, start: &str, action: FinalAction) -> ManagementRules {
        ManagementRules {
            appraisal: Some(AppraisalRule {
                rule_id: String::new(),
                duration_years: Some(years),
                start_date: Some(start.parse().unwrap()),
                final_action: action,
            }),
            ..Default::default()
        }
    }

    fn world() -> Fake {
        let mut f = Fake::default();
        for (id, rules) in [
            ("due", appraisal(10, "2010-01-01", FinalAction::Destroy)),
            ("due2", appraisal(5, "2020-01-01", FinalAction::Destroy)),
            ("young", appraisal(10, "2020-01-01", FinalAction::Destroy)),
            ("keep", appraisal(10, "2000-01-01", FinalAction::Keep)),
            ("norule", ManagementRules::default()),
        ] {
            f.archives.insert(id.into(), archive(id, rules));
        }
        f
    }

    fn propose(ids: &[&str]) -> Event {
        Event::ProposeElimination {
            elimination_id: "E1".into(),
            archive_ids: ids.iter().map(|s| s.to_string()).collect(),
            reason: "fin de DUA".into(),
        }
    }

    fn decide(approve: bool, reason: &str) -> Event {
        Event::DecideElimination {
            elimination_id: "E1".into(),
            approve,
            reason: reason.into(),
        }
    }

    fn execute() -> Event {
        Event::ExecuteElimination {
            elimination_id: "E1".into(),
        }
    }

    fn refusal(r: Result<Plan>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn a_full_elimination_cycle_records_each_step_for_each_archive() {
        let mut f = world();
        let p = f.run(propose(&["due", "due2"]), "Alice").unwrap();
        assert_eq!(p.records.len(), 2);
        assert!(p
            .records
            .iter()
            .all(|r| r.kind == RecordKind::EliminationProposed));
        assert_eq!(f.archives["due"].elimination_id.as_deref(), Some("E1"));

        assert!(refusal(f.run(execute(), "Alice")).contains("only proposed"));
        let p = f.run(decide(true, ""), "Bob").unwrap();
        assert_eq!(p.elimination.unwrap().state, EliminationState::Approved);
        let p = f.run(execute(), "Alice").unwrap();
        assert_eq!(p.destroyed.len(), 2);
        assert!(p
            .records
            .iter()
            .all(|r| r.kind == RecordKind::EliminationExecuted));
        let order = p.elimination.unwrap();
        assert_eq!(order.state, EliminationState::Executed);
        assert_eq!(
            minutier_seal::hash::sha256(&order.canonical_json()),
            minutier_seal::hash::sha256(&p.records[0].document)
        );
        assert!(f.archives["due"].is_eliminated());
        assert!(refusal(f.run(execute(), "Alice")).contains("already executed"));
        let read = Event::Read {
            archive_id: "due".into(),
            what: Read::Content,
            may_read_restricted: true,
        };
        assert!(refusal(f.run(read, "Carol")).contains("was destroyed"));
    }

    #[test]
    fn each_unlawful_elimination_is_refused_with_its_reason() {
        let mut f = world();
        assert!(refusal(f.run(propose(&["keep"]), "Alice")).contains("definitive archive"));
        assert!(refusal(f.run(propose(&["norule"]), "Alice")).contains("no appraisal rule"));
        assert!(refusal(f.run(propose(&["young"]), "Alice")).contains("runs until 2030-01-01"));
        assert!(refusal(f.run(propose(&["nope"]), "Alice")).contains("no archive"));
        assert!(refusal(f.run(propose(&["due", "due"]), "Alice")).contains("twice"));
        f.run(
            Event::PlaceHold {
                archive_id: "due".into(),
                hold_id: "H1".into(),
                reason: "contentieux".into(),
                end_date: None,
            },
            "Alice",
        )
        .unwrap();
        assert!(refusal(f.run(propose(&["due"]), "Alice")).contains("under hold H1"));

        // A hold placed after approval stops the execution.
        f.run(propose(&["due2"]), "Alice").unwrap();
        let same = f.run(decide(true, ""), " alice ");
        assert!(matches!(same, Err(Error::PermissionDenied(_))));
        f.run(decide(true, "visa"), "Bob").unwrap();
        f.run(
            Event::PlaceHold {
                archive_id: "due2".into(),
                hold_id: "H2".into(),
                reason: "enquête".into(),
                end_date: None,
            },
            "Alice",
        )
        .unwrap();
        assert!(refusal(f.run(execute(), "Alice")).contains("under hold H2"));
        f.run(
            Event::LiftHold {
                archive_id: "due2".into(),
                hold_id: "H2".into(),
            },
            "Alice",
        )
        .unwrap();
        f.run(execute(), "Alice").unwrap();
    }

    #[test]
    fn a_refusal_frees_the_archives() {
        let mut f = world();
        f.run(propose(&["due"]), "Alice").unwrap();
        assert!(refusal(f.run(decide(false, ""), "Bob")).contains("required"));
        f.run(decide(false, "intérêt historique"), "Bob").unwrap();
        assert_eq!(f.archives["due"].elimination_id, None);
        assert!(refusal(f.run(execute(), "Alice")).contains("refused"));
    }

    #[test]
    fn a_definitive_archive_stays_definitive() {
        let mut f = world();
        let change = |action| Event::ChangeRules {
            archive_id: "keep".into(),
            rules: appraisal(10, "2000-01-01", action),
        };
        assert!(refusal(f.run(change(FinalAction::Destroy), "Root")).contains("never be changed"));
        let none = Event::ChangeRules {
            archive_id: "keep".into(),
            rules: ManagementRules::default(),
        };
        assert!(refusal(f.run(none, "Root")).contains("never be changed"));
        // An archive with no rule yet can be given one.
        f.run(
            Event::ChangeRules {
                archive_id: "norule".into(),
                rules: appraisal(1, "2000-01-01", FinalAction::Destroy),
            },
            "Alice",
        )
        .unwrap();
        f.run(propose(&["norule"]), "Alice").unwrap();
    }

    #[test]
    fn content_is_refused_until_communicable_to_roles_without_the_right() {
        let mut f = world();
        let mut entry = archive(
            "secret",
            ManagementRules {
                access: Some(AccessRule {
                    rule_id: "AR048".into(),
                    delay_years: Some(50),
                    start_date: Some("2000-03-01".parse().unwrap()),
                }),
                ..Default::default()
            },
        );
        entry.metadata_sha256 = entry.metadata.digest();
        f.archives.insert("secret".into(), entry);
        let read = |what, may| Event::Read {
            archive_id: "secret".into(),
            what,
            may_read_restricted: may,
        };
        let err = f.run(read(Read::Content, false), "Eve").unwrap_err();
        assert!(matches!(err, Error::PermissionDenied(_)));
        assert!(err.to_string().contains("before 2050-03-01"), "{err}");
        assert!(err.to_string().contains("AR048"), "{err}");
        let p = f.run(read(Read::Metadata, false), "Eve").unwrap();
        assert_eq!(p.records[0].kind, RecordKind::ReadMetadata);
        let p = f.run(read(Read::Content, true), "Alice").unwrap();
        assert_eq!(p.records[0].kind, RecordKind::ReadContent);
        let _ = DAY;
    }

    #[test]
    fn corrections_keep_rules_and_refuse_no_ops() {
        let mut f = world();
        let mut m = f.archives["due"].metadata.clone();
        m.rules = ManagementRules::default();
        let same = Event::CorrectMetadata {
            archive_id: "due".into(),
            metadata: Box::new(m.clone()),
        };
        assert!(refusal(f.run(same, "Alice")).contains("same"));
        m.title = "Nouveau titre".into();
        let p = f
            .run(
                Event::CorrectMetadata {
                    archive_id: "due".into(),
                    metadata: Box::new(m),
                },
                "Alice",
            )
            .unwrap();
        let entry = &p.records[0].entry;
        assert_eq!(entry.metadata.title, "Nouveau titre");
        assert!(entry.metadata.rules.appraisal.is_some(), "rules were kept");
        assert_eq!(entry.metadata_sha256, entry.metadata.digest());
    }
}
