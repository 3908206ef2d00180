//! Changes to an archive after its ingest: `correct` (descriptive
//! metadata), `rules` (retention and access), `hold place` / `hold lift`;
//! and the management rules as the command line builds and shows them.
//!
//! Each change is a record in the log, chained to the archive's previous
//! record; the daemon answers with the record's seal, which is checked here
//! against the log's verifier key before the change is reported as sealed.

use std::process::ExitCode;

use anyhow::{anyhow, bail};
use minutier_proto::v1::ChangeRulesRequest;
use minutier_proto::v1::{
    AccessRule, AppraisalRule, ArchiveInfo, CorrectMetadataRequest, DocumentMetadata, FinalAction,
    GetMetadataRequest, Hold, LifecycleReply, LiftHoldRequest, ManagementRules, PlaceHoldRequest,
};
use minutier_seal::note::VerifierKey;
use minutier_seal::record::RecordKind;
use minutier_seal::verify::SealVerifier;
use serde::Serialize;

use crate::client::{self, connect_lifecycle, Client, Target};
use crate::error::rpc;
use crate::output::print_json;
use crate::{CorrectArgs, FinalActionArg, RuleArgs, RulesArgs};

// ---------------------------------------------------------------- rules, built

fn final_action(arg: FinalActionArg) -> FinalAction {
    match arg {
        FinalActionArg::Keep => FinalAction::Keep,
        FinalActionArg::Destroy => FinalAction::Destroy,
    }
}

/// The appraisal rule the options describe, if any; `current_start` is the
/// start date kept when `--retention-start` is not given.
fn appraisal_from(args: &RuleArgs, current_start: Option<&str>) -> Option<AppraisalRule> {
    let (years, action) = (args.retention?, args.final_action?);
    Some(AppraisalRule {
        rule_id: args.appraisal_rule.clone().unwrap_or_default(),
        duration_years: Some(years),
        start_date: args
            .retention_start
            .clone()
            .or_else(|| current_start.map(str::to_owned))
            .unwrap_or_default(),
        final_action: final_action(action) as i32,
        end_date: String::new(),
    })
}

/// The access rule the options describe, if any.
fn access_from(args: &RuleArgs, current_start: Option<&str>) -> Option<AccessRule> {
    Some(AccessRule {
        rule_id: args.access_rule.clone().unwrap_or_default(),
        delay_years: Some(args.access_delay?),
        start_date: args
            .access_start
            .clone()
            .or_else(|| current_start.map(str::to_owned))
            .unwrap_or_default(),
        end_date: String::new(),
    })
}

/// The rules of a new document (`ingest`); `None` when no rule is given,
/// so that the daemon applies its defaults (kept forever, communicable at
/// once).
pub fn new_rules(args: &RuleArgs) -> Option<ManagementRules> {
    let appraisal = appraisal_from(args, None);
    let access = access_from(args, None);
    (appraisal.is_some() || access.is_some()).then_some(ManagementRules {
        appraisal,
        access,
        holds: Vec::new(),
    })
}

/// The rules after `minutier rules`: the parts given replace the current
/// ones, the others are kept. A replaced rule keeps its start date unless a
/// new one is given, so that changing a duration does not move the date it
/// counts from.
pub fn changed_rules(current: Option<&ManagementRules>, args: &RulesArgs) -> ManagementRules {
    let current = current.cloned().unwrap_or_default();
    let appraisal = if args.no_retention {
        None
    } else if args.rules.retention.is_some() {
        let start = current.appraisal.as_ref().map(|a| a.start_date.as_str());
        appraisal_from(&args.rules, start.filter(|s| !s.is_empty()))
    } else {
        current.appraisal.clone()
    };
    let access = if args.no_access_rule {
        None
    } else if args.rules.access_delay.is_some() {
        let start = current.access.as_ref().map(|a| a.start_date.as_str());
        access_from(&args.rules, start.filter(|s| !s.is_empty()))
    } else {
        current.access.clone()
    };
    ManagementRules {
        // End dates are computed by the daemon; holds have their own calls.
        appraisal: appraisal.map(|a| AppraisalRule {
            end_date: String::new(),
            ..a
        }),
        access: access.map(|a| AccessRule {
            end_date: String::new(),
            ..a
        }),
        holds: Vec::new(),
    }
}

/// The descriptive metadata after `minutier correct`: the fields given
/// replace the current ones. `--keyword` replaces the whole list; empty
/// keywords are dropped, so `--keyword ""` empties it.
pub fn corrected_metadata(current: DocumentMetadata, args: &CorrectArgs) -> DocumentMetadata {
    let mut m = current;
    let set = |field: &mut String, value: &Option<String>| {
        if let Some(v) = value {
            field.clone_from(v);
        }
    };
    set(&mut m.title, &args.title);
    set(&mut m.description, &args.description);
    set(&mut m.originating_agency, &args.agency);
    set(&mut m.submission_agency, &args.seda.submission_agency);
    set(&mut m.archival_agreement, &args.seda.archival_agreement);
    set(&mut m.start_date, &args.start_date);
    set(&mut m.end_date, &args.end_date);
    set(&mut m.document_type, &args.seda.document_type);
    set(&mut m.language, &args.seda.language);
    set(&mut m.custodial_history, &args.seda.custodial_history);
    set(&mut m.file_name, &args.file_name);
    set(&mut m.media_type, &args.media_type);
    if !args.keywords.is_empty() {
        m.keywords = args
            .keywords
            .iter()
            .filter(|k| !k.is_empty())
            .cloned()
            .collect();
    }
    m
}

// ---------------------------------------------------------------- rules, shown

fn final_action_name(rule: &AppraisalRule) -> &'static str {
    match rule.final_action() {
        FinalAction::Keep => "keep",
        FinalAction::Destroy => "destroy",
        FinalAction::Unspecified => "unspecified",
    }
}

fn years(n: u32) -> String {
    format!("{n} year{}", if n == 1 { "" } else { "s" })
}

/// "10 years", or what an unknown duration means.
fn known_years(n: Option<u32>) -> String {
    n.map_or_else(
        || "duration unknown to this appliance (a rule of the producer's repository)".into(),
        years,
    )
}

/// "10 years from 2026-01-01, ends 2036-01-01, final action destroy (rule APP-1)".
pub fn describe_retention(rule: Option<&AppraisalRule>) -> String {
    let Some(a) = rule else {
        return "none: kept forever".into();
    };
    let mut s = describe_period(a.duration_years, &a.start_date, "ends", &a.end_date);
    s.push_str(&format!(", final action {}", final_action_name(a)));
    s.push_str(&rule_reference(&a.rule_id));
    s
}

/// "25 years from 2000-01-01, communicable from 2025-01-01 (rule AR038)".
pub fn describe_access(rule: Option<&AccessRule>) -> String {
    let Some(a) = rule else {
        return "none: communicable at once".into();
    };
    let mut s = describe_period(
        a.delay_years,
        &a.start_date,
        "communicable from",
        &a.end_date,
    );
    s.push_str(&rule_reference(&a.rule_id));
    s
}

/// "10 years from 2026-01-01, ends 2036-01-01": a rule's duration, start
/// and end, each date only if known; `end_label` says what the end means.
fn describe_period(years: Option<u32>, start: &str, end_label: &str, end: &str) -> String {
    let mut s = known_years(years);
    if !start.is_empty() {
        s.push_str(&format!(" from {start}"));
    }
    if !end.is_empty() {
        s.push_str(&format!(", {end_label} {end}"));
    }
    s
}

/// " (rule APP-1)", or nothing for a rule without identifier.
fn rule_reference(rule_id: &str) -> String {
    if rule_id.is_empty() {
        String::new()
    } else {
        format!(" (rule {rule_id})")
    }
}

/// "H0123: \"Litigation\", placed by X at T, until lifted".
pub fn describe_hold(h: &Hold) -> String {
    let until = if h.end_date.is_empty() {
        "until lifted".to_owned()
    } else {
        format!("until {}", h.end_date)
    };
    format!(
        "{}: {:?}, placed by {} at {}, {until}",
        h.hold_id, h.reason, h.placed_by, h.placed_at
    )
}

/// JSON form of the management rules.
#[derive(Debug, Serialize)]
pub struct RulesJson {
    appraisal: Option<AppraisalJson>,
    access: Option<AccessJson>,
    holds: Vec<HoldJson>,
}

#[derive(Debug, Serialize)]
struct AppraisalJson {
    rule_id: String,
    duration_years: Option<u32>,
    start_date: String,
    end_date: String,
    final_action: &'static str,
}

#[derive(Debug, Serialize)]
struct AccessJson {
    rule_id: String,
    delay_years: Option<u32>,
    start_date: String,
    end_date: String,
}

#[derive(Debug, Serialize)]
struct HoldJson {
    hold_id: String,
    reason: String,
    end_date: String,
    placed_by: String,
    placed_at: String,
}

impl From<&ManagementRules> for RulesJson {
    fn from(r: &ManagementRules) -> Self {
        RulesJson {
            appraisal: r.appraisal.as_ref().map(|a| AppraisalJson {
                rule_id: a.rule_id.clone(),
                duration_years: a.duration_years,
                start_date: a.start_date.clone(),
                end_date: a.end_date.clone(),
                final_action: final_action_name(a),
            }),
            access: r.access.as_ref().map(|a| AccessJson {
                rule_id: a.rule_id.clone(),
                delay_years: a.delay_years,
                start_date: a.start_date.clone(),
                end_date: a.end_date.clone(),
            }),
            holds: r
                .holds
                .iter()
                .map(|h| HoldJson {
                    hold_id: h.hold_id.clone(),
                    reason: h.reason.clone(),
                    end_date: h.end_date.clone(),
                    placed_by: h.placed_by.clone(),
                    placed_at: h.placed_at.clone(),
                })
                .collect(),
        }
    }
}

// ---------------------------------------------------------------- commands

/// What a change command prints with `--json`.
#[derive(Serialize)]
struct ChangeJson<'a> {
    archive_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    hold_id: Option<&'a str>,
    log_index: u64,
    seal: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    rules: Option<RulesJson>,
}

/// What a change command prints once its record is sealed: with `--json`
/// the change, else `done` and the record's place in the log.
fn print_change(
    json: bool,
    reply: &LifecycleReply,
    archive_id: &str,
    hold_id: Option<&str>,
    rules: Option<RulesJson>,
    done: &str,
) {
    if json {
        print_json(&ChangeJson {
            archive_id,
            hold_id,
            log_index: reply.log_index,
            seal: &reply.seal,
            rules,
        });
    } else {
        println!("{done}: record {} of the log, sealed", reply.log_index);
    }
}

/// The current description of an archive (a journaled read).
async fn current(archive: &mut Client, id: &str) -> anyhow::Result<ArchiveInfo> {
    rpc(archive
        .get_metadata(GetMetadataRequest {
            archive_id: id.to_owned(),
        })
        .await)
}

/// Checks the seal of a change's record under the log's verifier key: it
/// must be a valid record of `kind` about `id` at the index the reply
/// states, included in a signed checkpoint.
async fn check_sealed(
    archive: &mut Client,
    reply: &LifecycleReply,
    id: &str,
    kind: RecordKind,
) -> anyhow::Result<()> {
    let key_text = client::latest_checkpoint(archive).await?.verifier_key;
    let key = VerifierKey::parse(&key_text)
        .map_err(|e| anyhow!("the server's verifier key {key_text:?} is invalid: {e}"))?;
    let recorded = || format!("the change was recorded as record {}, but", reply.log_index);
    let v = SealVerifier::new(key)
        .verify(&reply.seal)
        .map_err(|e| anyhow!("{} its seal does not verify: {e}", recorded()))?;
    if v.index != reply.log_index || v.record.archive_id != id || v.record.kind != kind {
        bail!(
            "{} its seal is for record {} ({} of archive {}), not a {kind} record of {id}",
            recorded(),
            v.index,
            v.record.kind,
            v.record.archive_id
        );
    }
    Ok(())
}

pub async fn correct(server: &Target, json: bool, args: CorrectArgs) -> anyhow::Result<ExitCode> {
    let (mut lifecycle, mut archive) = connect_lifecycle(server).await?;
    let info = current(&mut archive, &args.id).await?;
    let metadata = corrected_metadata(info.metadata.unwrap_or_default(), &args);
    let reply = rpc(lifecycle
        .correct_metadata(CorrectMetadataRequest {
            archive_id: args.id.clone(),
            metadata: Some(metadata),
        })
        .await)?;
    check_sealed(
        &mut archive,
        &reply,
        &args.id,
        RecordKind::MetadataCorrection,
    )
    .await?;
    let done = format!("metadata of {} corrected", args.id);
    print_change(json, &reply, &args.id, None, None, &done);
    Ok(ExitCode::SUCCESS)
}

pub async fn rules(server: &Target, json: bool, args: RulesArgs) -> anyhow::Result<ExitCode> {
    let (mut lifecycle, mut archive) = connect_lifecycle(server).await?;
    let info = current(&mut archive, &args.id).await?;
    let rules = changed_rules(info.metadata.and_then(|m| m.rules).as_ref(), &args);
    let reply = rpc(lifecycle
        .change_rules(ChangeRulesRequest {
            archive_id: args.id.clone(),
            rules: Some(rules),
        })
        .await)?;
    check_sealed(&mut archive, &reply, &args.id, RecordKind::RulesChange).await?;
    let now = reply
        .archive
        .as_ref()
        .and_then(|a| a.metadata.as_ref())
        .and_then(|m| m.rules.clone())
        .unwrap_or_default();
    let done = format!("rules of {} changed", args.id);
    print_change(
        json,
        &reply,
        &args.id,
        None,
        Some(RulesJson::from(&now)),
        &done,
    );
    if !json {
        println!("retention: {}", describe_retention(now.appraisal.as_ref()));
        println!("access:    {}", describe_access(now.access.as_ref()));
    }
    Ok(ExitCode::SUCCESS)
}

/// The hold a placement added: holds are kept in the order they were
/// placed, so it is the last of the reply's. (Comparing with the holds
/// before would need a metadata read first, which the daemon journals as an
/// access to the document.)
fn new_hold_id(info: Option<&ArchiveInfo>) -> Option<String> {
    info.and_then(|a| a.metadata.as_ref())
        .and_then(|m| m.rules.as_ref())
        .and_then(|r| r.holds.last())
        .map(|h| h.hold_id.clone())
}

pub async fn place_hold(
    server: &Target,
    json: bool,
    id: &str,
    reason: &str,
    until: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let (mut lifecycle, mut archive) = connect_lifecycle(server).await?;
    let reply = rpc(lifecycle
        .place_hold(PlaceHoldRequest {
            archive_id: id.to_owned(),
            reason: reason.to_owned(),
            end_date: until.unwrap_or_default().to_owned(),
        })
        .await)?;
    check_sealed(&mut archive, &reply, id, RecordKind::HoldPlaced).await?;
    let hold_id = new_hold_id(reply.archive.as_ref()).ok_or_else(|| {
        anyhow!(
            "the hold was recorded as record {}, but the server's reply lists no hold on {id}",
            reply.log_index
        )
    })?;
    let done = format!("hold {hold_id} placed on {id}");
    print_change(json, &reply, id, Some(&hold_id), None, &done);
    Ok(ExitCode::SUCCESS)
}

pub async fn lift_hold(
    server: &Target,
    json: bool,
    id: &str,
    hold_id: &str,
) -> anyhow::Result<ExitCode> {
    let (mut lifecycle, mut archive) = connect_lifecycle(server).await?;
    let reply = rpc(lifecycle
        .lift_hold(LiftHoldRequest {
            archive_id: id.to_owned(),
            hold_id: hold_id.to_owned(),
        })
        .await)?;
    check_sealed(&mut archive, &reply, id, RecordKind::HoldLifted).await?;
    let done = format!("hold {hold_id} lifted from {id}");
    print_change(json, &reply, id, Some(hold_id), None, &done);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cli;
    use clap::Parser;

    fn rules_args(args: &[&str]) -> RulesArgs {
        let mut all = vec!["minutier", "rules", "A1"];
        all.extend_from_slice(args);
        match Cli::try_parse_from(all).unwrap().command {
            crate::Command::Rules(r) => r,
            other => panic!("{other:?}"),
        }
    }

    fn correct_args(args: &[&str]) -> CorrectArgs {
        let mut all = vec!["minutier", "correct", "A1"];
        all.extend_from_slice(args);
        match Cli::try_parse_from(all).unwrap().command {
            crate::Command::Correct(c) => c,
            other => panic!("{other:?}"),
        }
    }

    fn existing() -> ManagementRules {
        ManagementRules {
            appraisal: Some(AppraisalRule {
                rule_id: "APP-1".into(),
                duration_years: Some(10),
                start_date: "2020-03-01".into(),
                final_action: FinalAction::Destroy as i32,
                end_date: "2030-03-01".into(),
            }),
            access: Some(AccessRule {
                rule_id: "AR038".into(),
                delay_years: Some(50),
                start_date: "2020-03-01".into(),
                end_date: "2070-03-01".into(),
            }),
            holds: vec![Hold {
                hold_id: "H1".into(),
                ..Default::default()
            }],
        }
    }

    #[test]
    fn ingest_rules_only_when_given() {
        assert_eq!(new_rules(&RuleArgs::default()), None);
        let args = RuleArgs {
            retention: Some(5),
            final_action: Some(FinalActionArg::Keep),
            retention_start: Some("2000-01-01".into()),
            appraisal_rule: Some("APP-9".into()),
            ..Default::default()
        };
        let rules = new_rules(&args).unwrap();
        let a = rules.appraisal.unwrap();
        assert_eq!(
            (
                a.duration_years,
                a.final_action(),
                a.start_date.as_str(),
                a.rule_id.as_str()
            ),
            (Some(5), FinalAction::Keep, "2000-01-01", "APP-9")
        );
        assert_eq!(rules.access, None);
        let access_only = RuleArgs {
            access_delay: Some(25),
            ..Default::default()
        };
        let rules = new_rules(&access_only).unwrap();
        assert_eq!(rules.appraisal, None);
        let access = rules.access.unwrap();
        assert_eq!(
            (access.delay_years, access.start_date.as_str()),
            (Some(25), "")
        );
    }

    #[test]
    fn rules_replace_only_the_parts_given() {
        let current = existing();
        // A new retention keeps the access rule and the retention's start.
        let r = changed_rules(
            Some(&current),
            &rules_args(&["--retention", "20", "--final-action", "keep"]),
        );
        let a = r.appraisal.unwrap();
        assert_eq!(a.duration_years, Some(20));
        assert_eq!(a.final_action(), FinalAction::Keep);
        assert_eq!(a.start_date, "2020-03-01");
        assert_eq!(a.rule_id, "");
        assert_eq!(a.end_date, "");
        let access = r.access.unwrap();
        assert_eq!(
            (access.delay_years, access.rule_id.as_str()),
            (Some(50), "AR038")
        );
        assert_eq!(access.end_date, "");
        // Holds are never sent.
        assert!(r.holds.is_empty());

        let r = changed_rules(
            Some(&current),
            &rules_args(&[
                "--no-retention",
                "--access-delay",
                "0",
                "--access-start",
                "2001-02-03",
            ]),
        );
        assert_eq!(r.appraisal, None);
        assert_eq!(r.access.unwrap().start_date, "2001-02-03");

        let r = changed_rules(Some(&current), &rules_args(&["--no-access-rule"]));
        assert_eq!(r.access, None);
        assert_eq!(r.appraisal.unwrap().duration_years, Some(10));

        // Without current rules, an absent start stays absent (the daemon
        // chooses it).
        let r = changed_rules(None, &rules_args(&["--access-delay", "3"]));
        assert_eq!(r.access.unwrap().start_date, "");
    }

    #[test]
    fn rules_grammar() {
        let parse = |args: &[&str]| {
            let mut all = vec!["minutier", "rules", "A1"];
            all.extend_from_slice(args);
            Cli::try_parse_from(all).map(|_| ()).map_err(|e| e.kind())
        };
        use clap::error::ErrorKind;
        assert!(parse(&["--retention", "1", "--final-action", "destroy"]).is_ok());
        assert!(parse(&["--no-retention", "--no-access-rule"]).is_ok());
        assert_eq!(parse(&[]), Err(ErrorKind::MissingRequiredArgument));
        assert_eq!(
            parse(&["--retention", "1"]),
            Err(ErrorKind::MissingRequiredArgument)
        );
        assert_eq!(
            parse(&["--final-action", "keep", "--access-delay", "1"]),
            Err(ErrorKind::MissingRequiredArgument)
        );
        assert_eq!(
            parse(&["--retention", "1", "--final-action", "burn"]),
            Err(ErrorKind::InvalidValue)
        );
        assert_eq!(
            parse(&[
                "--no-retention",
                "--retention",
                "1",
                "--final-action",
                "keep"
            ]),
            Err(ErrorKind::ArgumentConflict)
        );
        assert_eq!(
            parse(&["--no-access-rule", "--access-delay", "1"]),
            Err(ErrorKind::ArgumentConflict)
        );
        assert_eq!(
            parse(&["--access-rule", "AR1"]),
            Err(ErrorKind::MissingRequiredArgument)
        );
    }

    #[test]
    fn corrections_replace_only_the_fields_given() {
        let current = DocumentMetadata {
            title: "A".into(),
            description: "desc".into(),
            keywords: vec!["k1".into(), "k2".into()],
            start_date: "2020-01-01".into(),
            rules: Some(existing()),
            ..Default::default()
        };
        let m = corrected_metadata(current.clone(), &correct_args(&["--title", "B"]));
        assert_eq!(m.title, "B");
        assert_eq!(m.description, "desc");
        assert_eq!(m.keywords, ["k1", "k2"]);
        assert_eq!(m.rules, current.rules);

        let m = corrected_metadata(
            current.clone(),
            &correct_args(&["--keyword", "x", "--keyword", "y", "--start-date", ""]),
        );
        assert_eq!(m.keywords, ["x", "y"]);
        assert_eq!(m.start_date, "");
        assert_eq!(m.title, "A");
        let m = corrected_metadata(current, &correct_args(&["--keyword", ""]));
        assert!(m.keywords.is_empty());
    }

    #[test]
    fn correct_needs_a_field() {
        let e = Cli::try_parse_from(["minutier", "correct", "A1"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        assert_eq!(e.exit_code(), 2);
        assert!(Cli::try_parse_from(["minutier", "correct", "A1", "--language", "fr"]).is_ok());
        assert!(
            Cli::try_parse_from(["minutier", "correct", "A1", "--end-date", "2020-13-01"]).is_err()
        );
    }

    #[test]
    fn the_new_hold_is_the_last_one() {
        let info = |ids: &[&str]| ArchiveInfo {
            metadata: Some(DocumentMetadata {
                rules: Some(ManagementRules {
                    holds: ids
                        .iter()
                        .map(|id| Hold {
                            hold_id: (*id).into(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(new_hold_id(Some(&info(&["H1", "H2"]))), Some("H2".into()));
        assert_eq!(new_hold_id(Some(&info(&[]))), None);
        assert_eq!(new_hold_id(None), None);
    }

    #[test]
    fn rules_for_people() {
        let r = existing();
        assert_eq!(
            describe_retention(r.appraisal.as_ref()),
            "10 years from 2020-03-01, ends 2030-03-01, final action destroy (rule APP-1)"
        );
        assert_eq!(
            describe_access(r.access.as_ref()),
            "50 years from 2020-03-01, communicable from 2070-03-01 (rule AR038)"
        );
        assert_eq!(describe_retention(None), "none: kept forever");
        assert_eq!(describe_access(None), "none: communicable at once");
        let h = Hold {
            hold_id: "H1".into(),
            reason: "Recours".into(),
            end_date: String::new(),
            placed_by: "Claire".into(),
            placed_at: "2026-01-01T00:00:00.000Z".into(),
        };
        assert_eq!(
            describe_hold(&h),
            "H1: \"Recours\", placed by Claire at 2026-01-01T00:00:00.000Z, until lifted"
        );
    }
}
