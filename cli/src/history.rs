//! An archive's history and the access journal: `history`, `journal`.
//!
//! `history` trusts nothing the server says until it has checked it: the
//! checkpoint's signature under the verifier key, each record's inclusion
//! in that checkpoint, the archive's chain of records (seal crate), each
//! record's committed document, and that the chain ends at the archive's
//! head. Only then are the records shown.

use std::process::ExitCode;

use anyhow::anyhow;
use minutier_proto::v1::{GetHistoryRequest, GetHistoryResponse, GetJournalRequest, JournalEntry};
use minutier_seal::chain::verify_chain;
use minutier_seal::checkpoint::Checkpoint;
use minutier_seal::hash::{from_hex, leaf_hash, sha256, to_hex};
use minutier_seal::note::VerifierKey;
use minutier_seal::record::{Record, RecordKind};
use minutier_seal::{tree, Hash};
use serde::Serialize;
use serde_json::Value;

use crate::audit::load_key;
use crate::client::{self, connect_lifecycle, Target};
use crate::error::rpc;
use crate::output::{print_json, table};
use crate::retrieve::one_line;

// ---------------------------------------------------------------- history

#[derive(Serialize)]
struct HistoryJson<'a> {
    archive_id: &'a str,
    verified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// "argument" (the caller's own copy) or "server".
    key_source: &'static str,
    checkpoint_size: Option<u64>,
    records: Vec<RecordJson>,
}

#[derive(Serialize)]
struct RecordJson {
    index: u64,
    time: String,
    kind: String,
    actor: String,
    previous: Option<String>,
    leaf_hash: String,
    metadata_sha256: String,
    document: Value,
}

/// One decoded entry of a history, for display.
struct Entry {
    index: u64,
    record: Record,
    leaf_hash: Hash,
    document: Value,
}

pub async fn history(
    server: &Target,
    json: bool,
    id: &str,
    key: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let trusted = key.map(load_key).transpose()?;
    let (mut lifecycle, mut archive) = connect_lifecycle(server).await?;
    let (key, key_source) = match trusted {
        Some(key) => (key, "argument"),
        None => {
            let text = client::latest_checkpoint(&mut archive).await?.verifier_key;
            let key = VerifierKey::parse(&text)
                .map_err(|e| anyhow!("the server's verifier key {text:?} is invalid: {e}"))?;
            (key, "server")
        }
    };
    let resp = rpc(lifecycle
        .get_history(GetHistoryRequest {
            archive_id: id.to_owned(),
        })
        .await)?;

    let mut checkpoint_size = None;
    let outcome = verify_history(id, &key, &resp, &mut checkpoint_size);
    let entries = decode_entries(&resp);
    if json {
        print_json(&HistoryJson {
            archive_id: id,
            verified: outcome.is_ok(),
            error: outcome.as_ref().err().cloned(),
            key_source,
            checkpoint_size,
            records: entries.iter().map(record_json).collect(),
        });
    } else {
        if key_source == "server" {
            println!(
                "note: verifier key taken from the server and not independently checked; pass \
                 --key with your own copy for an independent check"
            );
        }
        match &outcome {
            Ok(size) => {
                print!("{}", format_history(&entries));
                println!(
                    "history of {id} verifies: {} record{}, chained, all included in checkpoint \
                     of size {size}",
                    entries.len(),
                    if entries.len() == 1 { "" } else { "s" }
                );
            }
            // What failed to verify is not shown as if it were the history.
            Err(error) => println!("history of {id} does NOT verify: {error}"),
        }
    }
    Ok(if outcome.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// "record at index 12 (rules-change)", or without the kind when the bytes
/// do not decode.
fn where_(index: u64, bytes: &[u8]) -> String {
    match Record::decode(bytes) {
        Ok(r) => format!("record at index {index} ({})", r.kind),
        Err(_) => format!("record at index {index}"),
    }
}

/// Checks a history as described in the module documentation; returns the
/// checkpoint's size, or what failed, naming the record.
fn verify_history(
    archive_id: &str,
    key: &VerifierKey,
    resp: &GetHistoryResponse,
    checkpoint_size: &mut Option<u64>,
) -> Result<u64, String> {
    // (a) The checkpoint, under the trusted key.
    let checkpoint = Checkpoint::open(&resp.checkpoint, key)
        .map_err(|e| format!("the checkpoint does not verify: {e}"))?;
    *checkpoint_size = Some(checkpoint.size);

    // (b) Every record is in the log that checkpoint signs.
    for entry in &resp.entries {
        let proof: Vec<Hash> = entry
            .inclusion_proof
            .iter()
            .enumerate()
            .map(|(i, h)| {
                Hash::try_from(h.as_slice()).map_err(|_| {
                    format!(
                        "{}: hash {i} of its inclusion proof is {} bytes long, not 32",
                        where_(entry.index, &entry.record),
                        h.len()
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        tree::verify_inclusion(
            &leaf_hash(&entry.record),
            entry.index,
            checkpoint.size,
            &proof,
            &checkpoint.root,
        )
        .map_err(|e| {
            format!(
                "{} is not in the log of the checkpoint of size {}: {e}",
                where_(entry.index, &entry.record),
                checkpoint.size
            )
        })?;
    }

    // (c) They form the archive's chain.
    let records: Vec<(u64, &[u8])> = resp
        .entries
        .iter()
        .map(|e| (e.index, e.record.as_slice()))
        .collect();
    let links = verify_chain(archive_id, &records).map_err(|e| e.to_string())?;

    // (d) Each document is the one its record commits to.
    for (entry, link) in resp.entries.iter().zip(&links) {
        let digest = sha256(&entry.document);
        if digest != link.record.metadata_sha256 {
            let what = if link.record.kind.is_elimination() {
                "elimination order"
            } else {
                "metadata document"
            };
            return Err(if entry.document.is_empty() {
                format!(
                    "record at index {} ({}): the server sent no {what} for it",
                    link.index, link.record.kind
                )
            } else {
                format!(
                    "record at index {} ({}): the {what} sent with it hashes to {}, but the \
                     record's metadata-sha256 is {}: the document was altered or replaced",
                    link.index,
                    link.record.kind,
                    to_hex(&digest),
                    to_hex(&link.record.metadata_sha256)
                )
            });
        }
    }

    // (e) The chain ends at the archive's head.
    let head = from_hex(&resp.head.to_ascii_lowercase()).map_err(|_| {
        format!(
            "the archive's head {:?} sent by the server is not a SHA-256 hash",
            resp.head
        )
    })?;
    let last = links.last().expect("verify_chain refuses an empty chain");
    if last.leaf_hash != head {
        let at = links
            .iter()
            .find(|l| l.leaf_hash == head)
            .map(|l| format!(" (that of the record at index {})", l.index))
            .unwrap_or_default();
        return Err(format!(
            "the archive's latest record has leaf hash {}{at}, but the history ends with the \
             record at index {} ({}), whose leaf hash is {}: the most recent records were \
             removed from the history",
            to_hex(&head),
            last.index,
            last.record.kind,
            to_hex(&last.leaf_hash)
        ));
    }
    Ok(checkpoint.size)
}

/// The entries that decode, with their documents parsed (JSON `null` when
/// a document is not JSON).
fn decode_entries(resp: &GetHistoryResponse) -> Vec<Entry> {
    resp.entries
        .iter()
        .filter_map(|e| {
            Some(Entry {
                index: e.index,
                record: Record::decode(&e.record).ok()?,
                leaf_hash: leaf_hash(&e.record),
                document: serde_json::from_slice(&e.document).unwrap_or(Value::Null),
            })
        })
        .collect()
}

fn record_json(e: &Entry) -> RecordJson {
    RecordJson {
        index: e.index,
        time: e.record.time.to_string(),
        kind: e.record.kind.to_string(),
        actor: e.record.actor.clone(),
        previous: e.record.previous.as_ref().map(to_hex),
        leaf_hash: to_hex(&e.leaf_hash),
        metadata_sha256: to_hex(&e.record.metadata_sha256),
        document: e.document.clone(),
    }
}

/// One line per record: index, time, kind, actor, and what happened.
fn format_history(entries: &[Entry]) -> String {
    let details = details(entries);
    let wi = entries
        .iter()
        .map(|e| e.index.to_string().len())
        .max()
        .unwrap_or(0);
    let wa = entries
        .iter()
        .map(|e| e.record.actor.chars().count())
        .max()
        .unwrap_or(0);
    let mut text = String::new();
    for (e, detail) in entries.iter().zip(details) {
        let line = format!(
            "{:>wi$}  {}  {:<20}  {:<wa$}  {}",
            e.index,
            e.record.time,
            e.record.kind.as_str(),
            e.record.actor,
            one_line(&detail)
        );
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// What each record did, in words; metadata events are compared with the
/// metadata document before them.
fn details(entries: &[Entry]) -> Vec<String> {
    let mut before: Option<&Value> = None;
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        let doc = &e.document;
        let detail = match e.record.kind {
            RecordKind::Ingest => quoted_title(doc),
            RecordKind::MetadataCorrection | RecordKind::RulesChange => {
                let changes = match before {
                    Some(old) => {
                        let changes = diff_metadata(old, doc);
                        if changes.is_empty() {
                            "no change".to_owned()
                        } else {
                            changes.join("; ")
                        }
                    }
                    None => String::new(),
                };
                [quoted_title(doc), changes]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(": ")
            }
            RecordKind::HoldPlaced => hold_change(doc, before, true),
            RecordKind::HoldLifted => hold_change(before.unwrap_or(&Value::Null), Some(doc), false),
            RecordKind::EliminationProposed
            | RecordKind::EliminationApproved
            | RecordKind::EliminationRefused
            | RecordKind::EliminationExecuted => format!(
                "elimination {} ({})",
                text_of(&doc["elimination_id"]),
                text_of(&doc["state"])
            ),
            RecordKind::ReadContent | RecordKind::ReadMetadata => String::new(),
            RecordKind::Scrub => format!(
                "{} contents checked, {} repaired, {} replicas re-uploaded",
                text_of(&doc["contents_checked"]),
                text_of(&doc["contents_repaired"]),
                text_of(&doc["replicas_reuploaded"])
            ),
            RecordKind::Timestamp => format!(
                "checkpoint of size {} time-stamped at {} by {} (serial {})",
                text_of(&doc["checkpoint_size"]),
                text_of(&doc["gen_time"]),
                text_of(&doc["tsa"]),
                text_of(&doc["serial"])
            ),
            RecordKind::KeyRotation => format!(
                "checkpoint signing key changed from {} to {} ({})",
                text_of(&doc["old_key"]),
                text_of(&doc["new_key"]),
                text_of(&doc["custody"])
            ),
        };
        if !e.record.kind.is_elimination() && !e.record.kind.is_appliance() && !doc.is_null() {
            before = Some(doc);
        }
        out.push(detail);
    }
    out
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "?".into(),
        other => other.to_string(),
    }
}

fn quoted_title(doc: &Value) -> String {
    match doc.get("title") {
        Some(Value::String(t)) => format!("{t:?}"),
        _ => String::new(),
    }
}

fn holds(doc: Option<&Value>) -> &[Value] {
    doc.and_then(|d| d.pointer("/rules/holds"))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The hold that is in `with` but not in `without`: placed (or, with the
/// roles swapped, lifted).
fn hold_change(with: &Value, without: Option<&Value>, placed: bool) -> String {
    let old = holds(without);
    let new = holds(Some(with));
    let changed = new
        .iter()
        .find(|h| !old.iter().any(|o| o["hold_id"] == h["hold_id"]))
        .or(if placed { new.last() } else { None });
    match changed {
        Some(h) => {
            let mut s = format!(
                "hold {}: {:?}",
                text_of(&h["hold_id"]),
                text_of(&h["reason"])
            );
            if let Some(Value::String(end)) = h.get("end_date") {
                s.push_str(&format!(", until {end}"));
            }
            s
        }
        None => String::new(),
    }
}

/// Longest value shown in a change, in characters.
const MAX_SHOWN: usize = 60;

fn shown(v: Option<&Value>) -> String {
    let text = match v {
        None | Some(Value::Null) => return "(none)".into(),
        Some(v) => v.to_string(),
    };
    match text.char_indices().nth(MAX_SHOWN) {
        None => text,
        Some((cut, _)) => format!("{}…", &text[..cut]),
    }
}

/// What changed between two metadata documents, one `field: old -> new`
/// per changed leaf (nested fields dotted, e.g. `rules.appraisal.duration_years`;
/// arrays compared whole), in key order.
pub fn diff_metadata(old: &Value, new: &Value) -> Vec<String> {
    let mut out = Vec::new();
    diff_into("", Some(old), Some(new), &mut out);
    out
}

fn diff_into(path: &str, old: Option<&Value>, new: Option<&Value>, out: &mut Vec<String>) {
    if old == new {
        return;
    }
    let as_object = |v: Option<&Value>| match v {
        Some(Value::Object(o)) => Some(o.clone()),
        None | Some(Value::Null) => Some(serde_json::Map::new()),
        _ => None,
    };
    let both_objects =
        matches!(old, Some(Value::Object(_))) || matches!(new, Some(Value::Object(_)));
    if let (true, Some(o), Some(n)) = (both_objects, as_object(old), as_object(new)) {
        let mut keys: Vec<&String> = o.keys().chain(n.keys()).collect();
        keys.sort();
        keys.dedup();
        for k in keys {
            let sub = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            diff_into(&sub, o.get(k), n.get(k), out);
        }
        return;
    }
    out.push(format!("{path}: {} -> {}", shown(old), shown(new)));
}

// ---------------------------------------------------------------- journal

#[derive(Serialize)]
struct JournalJson {
    entries: Vec<JournalEntryJson>,
}

#[derive(Serialize)]
struct JournalEntryJson {
    index: u64,
    time: String,
    actor: String,
    kind: String,
    archive_id: String,
}

/// Largest page the server accepts.
const MAX_PAGE_SIZE: u64 = 1000;

pub async fn journal(
    server: &Target,
    json: bool,
    archive: Option<String>,
    actor: Option<String>,
    since: Option<String>,
    limit: u64,
) -> anyhow::Result<ExitCode> {
    let (mut lifecycle, _) = connect_lifecycle(server).await?;
    let mut entries: Vec<JournalEntry> = Vec::new();
    let mut after_index = 0;
    while (entries.len() as u64) < limit {
        let wanted = (limit - entries.len() as u64).min(MAX_PAGE_SIZE);
        let page = rpc(lifecycle
            .get_journal(GetJournalRequest {
                archive_id: archive.clone().unwrap_or_default(),
                actor_contains: actor.clone().unwrap_or_default(),
                since: since.clone().unwrap_or_default(),
                after_index,
                page_size: wanted as u32,
            })
            .await)?;
        entries.extend(page.entries);
        // 0 means no more; a cursor that does not move would loop forever.
        if page.next_after_index == 0 || page.next_after_index <= after_index {
            break;
        }
        after_index = page.next_after_index;
    }
    entries.truncate(limit.try_into().unwrap_or(usize::MAX));

    if json {
        print_json(&JournalJson {
            entries: entries
                .into_iter()
                .map(|e| JournalEntryJson {
                    index: e.index,
                    time: e.time,
                    actor: e.actor,
                    kind: e.kind,
                    archive_id: e.archive_id,
                })
                .collect(),
        });
    } else if entries.is_empty() {
        eprintln!("no reads");
    } else {
        print!("{}", format_journal(&entries));
    }
    Ok(ExitCode::SUCCESS)
}

fn format_journal(entries: &[JournalEntry]) -> String {
    let rows: Vec<[String; 5]> = entries
        .iter()
        .map(|e| {
            [
                e.time.clone(),
                one_line(&e.actor),
                e.kind.clone(),
                e.archive_id.clone(),
                e.index.to_string(),
            ]
        })
        .collect();
    table(
        Some(["TIME", "ACTOR", "KIND", "ARCHIVE", "INDEX"]),
        &rows,
        &[],
        "",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use minutier_proto::v1::HistoryEntry;
    use minutier_seal::metadata::canonical_json;
    use minutier_seal::note::Ed25519Signer;
    use minutier_seal::record::Timestamp;
    use minutier_seal::tree::MemoryTree;
    use serde_json::json;

    const ARCHIVE: &str = "A1";
    const ORIGIN: &str = "example.org/minutier";

    #[test]
    fn diff_names_each_changed_field() {
        let old = json!({
            "title": "A",
            "keywords": ["x"],
            "rules": {"appraisal": {"duration_years": 10, "final_action": "destroy"}}
        });
        let new = json!({
            "title": "B",
            "keywords": ["x", "y"],
            "language": "fr",
            "rules": {"appraisal": {"duration_years": 20, "final_action": "destroy"}}
        });
        assert_eq!(
            diff_metadata(&old, &new),
            [
                r#"keywords: ["x"] -> ["x","y"]"#,
                r#"language: (none) -> "fr""#,
                "rules.appraisal.duration_years: 10 -> 20",
                r#"title: "A" -> "B""#,
            ]
        );
        assert!(diff_metadata(&old, &old).is_empty());
        // A rule added or removed shows each of its fields.
        let none = json!({"title": "A"});
        assert_eq!(
            diff_metadata(
                &none,
                &json!({"title": "A", "rules": {"access": {"delay_years": 5}}})
            ),
            ["rules.access.delay_years: (none) -> 5"]
        );
        assert_eq!(
            diff_metadata(
                &json!({"rules": {"access": {"delay_years": 5}}}),
                &json!({})
            ),
            ["rules.access.delay_years: 5 -> (none)"]
        );
        // Long values are cut.
        let long = "d".repeat(100);
        let d = diff_metadata(&json!({}), &json!({ "description": long }));
        assert!(d[0].ends_with('…') && d[0].chars().count() < 100, "{d:?}");
    }

    /// A log of `n` filler records with the archive's chain at the given
    /// positions, and the history the server would send.
    struct Fixture {
        signer: Ed25519Signer,
        resp: GetHistoryResponse,
    }

    fn metadata(title: &str, holds: &[(&str, &str)]) -> Value {
        let holds: Vec<Value> = holds
            .iter()
            .map(|(id, reason)| json!({"hold_id": id, "reason": reason, "placed_by": "c", "placed_at": "t"}))
            .collect();
        if holds.is_empty() {
            json!({ "title": title })
        } else {
            json!({ "title": title, "rules": { "holds": holds } })
        }
    }

    fn fixture() -> Fixture {
        let signer = Ed25519Signer::from_seed(ORIGIN, &[9; 32]).unwrap();
        let events = [
            (RecordKind::Ingest, metadata("A", &[])),
            (RecordKind::MetadataCorrection, metadata("B", &[])),
            (RecordKind::ReadMetadata, metadata("B", &[])),
            (RecordKind::HoldPlaced, metadata("B", &[("H1", "Recours")])),
            (
                RecordKind::EliminationProposed,
                json!({"elimination_id": "E1", "state": "proposed"}),
            ),
            (RecordKind::HoldLifted, metadata("B", &[])),
        ];
        let mut tree = MemoryTree::new();
        let mut chain: Vec<(u64, Vec<u8>, Vec<u8>)> = Vec::new();
        for (i, (kind, doc)) in events.iter().enumerate() {
            // Another archive's record between each of this one's.
            let other = Record {
                kind: RecordKind::Ingest,
                archive_id: format!("other{i}"),
                time: Timestamp(1_000 * i as u64),
                actor: "someone".into(),
                content_sha256: [1; 32],
                size: 1,
                metadata_sha256: [2; 32],
                previous: None,
            };
            tree.push(other.leaf_hash());
            let document = canonical_json(doc);
            let record = Record {
                kind: *kind,
                archive_id: ARCHIVE.into(),
                time: Timestamp(1_000 * i as u64 + 500),
                actor: "Marie [archivist 01234567]".into(),
                content_sha256: [7; 32],
                size: 48,
                metadata_sha256: sha256(&document),
                previous: chain.last().map(|(_, b, _)| leaf_hash(b)),
            };
            let bytes = record.encode();
            tree.push(leaf_hash(&bytes));
            chain.push((tree.size() - 1, bytes, document));
        }
        let checkpoint = Checkpoint {
            origin: ORIGIN.into(),
            size: tree.size(),
            root: tree.root(),
            extensions: vec![],
        };
        let head = to_hex(&leaf_hash(&chain.last().unwrap().1));
        let entries = chain
            .into_iter()
            .map(|(index, record, document)| HistoryEntry {
                index,
                inclusion_proof: tree::inclusion_proof(&tree, index, tree.size())
                    .unwrap()
                    .iter()
                    .map(|h| h.to_vec())
                    .collect(),
                record,
                document,
            })
            .collect();
        Fixture {
            resp: GetHistoryResponse {
                entries,
                checkpoint: checkpoint.sign(&signer).unwrap(),
                head,
            },
            signer,
        }
    }

    fn check(f: &Fixture) -> Result<u64, String> {
        verify_history(ARCHIVE, &f.signer.verifier_key(), &f.resp, &mut None)
    }

    #[test]
    fn a_genuine_history_verifies_and_reads_well() {
        let f = fixture();
        assert_eq!(check(&f), Ok(12));
        let entries = decode_entries(&f.resp);
        assert_eq!(
            details(&entries),
            [
                r#""A""#,
                r#""B": title: "A" -> "B""#,
                "",
                r#"hold H1: "Recours""#,
                "elimination E1 (proposed)",
                r#"hold H1: "Recours""#,
            ]
        );
        let text = format_history(&entries);
        assert_eq!(text.lines().count(), 6);
        assert!(
            text.lines()
                .nth(1)
                .unwrap()
                .starts_with(" 3  1970-01-01T00:00:01.500Z  metadata-correction   Marie"),
            "{text}"
        );
    }

    #[test]
    fn every_kind_of_tampering_is_named() {
        let other_key = Ed25519Signer::from_seed(ORIGIN, &[8; 32]).unwrap();
        let f = fixture();
        let e = verify_history(ARCHIVE, &other_key.verifier_key(), &f.resp, &mut None).unwrap_err();
        assert!(e.starts_with("the checkpoint does not verify"), "{e}");

        // A record removed from the middle: the next one's link breaks.
        let mut f = fixture();
        f.resp.entries.remove(1);
        let e = check(&f).unwrap_err();
        assert!(
            e.contains("record at index 5 (read-metadata) has previous"),
            "{e}"
        );

        // The latest record removed: only the head tells.
        let mut f = fixture();
        f.resp.entries.pop();
        let e = check(&f).unwrap_err();
        assert!(e.contains("most recent records were removed"), "{e}");
        assert!(e.contains("elimination-proposed"), "{e}");

        // A record altered: no longer in the signed log.
        let mut f = fixture();
        let mut r = Record::decode(&f.resp.entries[2].record).unwrap();
        r.actor = "nobody".into();
        f.resp.entries[2].record = r.encode();
        let e = check(&f).unwrap_err();
        assert!(
            e.starts_with(
                "record at index 5 (read-metadata) is not in the log of the checkpoint of size 12"
            ),
            "{e}"
        );

        // A document replaced.
        let mut f = fixture();
        f.resp.entries[1].document = canonical_json(&metadata("C", &[]));
        let e = check(&f).unwrap_err();
        assert!(
            e.starts_with("record at index 3 (metadata-correction): the metadata document sent"),
            "{e}"
        );

        // Another archive's history.
        let f = fixture();
        let e = verify_history("A2", &f.signer.verifier_key(), &f.resp, &mut None).unwrap_err();
        assert!(e.contains("not \"A2\""), "{e}");

        // Nothing at all.
        let mut f = fixture();
        f.resp.entries.clear();
        assert!(check(&f).unwrap_err().contains("has no records"));

        // A malformed proof.
        let mut f = fixture();
        f.resp.entries[0].inclusion_proof[0].pop();
        let e = check(&f).unwrap_err();
        assert!(e.contains("31 bytes long"), "{e}");
    }

    #[test]
    fn journal_table_aligns() {
        let e = |actor: &str, index| JournalEntry {
            index,
            time: "2026-11-29T08:52:46.123Z".into(),
            actor: actor.into(),
            archive_id: "A1".into(),
            kind: "read-content".into(),
        };
        let t = format_journal(&[e("Paul [auditor 1]", 7), e("X", 12)]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(
            lines[0].starts_with("TIME                      ACTOR             KIND"),
            "{t}"
        );
        assert!(
            lines[2].ends_with("X                 read-content  A1       12"),
            "{t}"
        );
    }
}
