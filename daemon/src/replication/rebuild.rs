//! Rebuilding the index's derived state from the log alone.
//!
//! Every field of an archive entry and of an elimination order follows
//! from the archive's records and the documents they commit to, so a
//! restore needs nothing else (and cannot be fed a state that disagrees
//! with the log). Where content is stored (inline or file) is decided again
//! by the restore.

use std::collections::{BTreeMap, HashMap};

use minutier_seal::record::{Record, RecordKind};
use minutier_seal::{hash, Hash};

use crate::metadata::Metadata;
use crate::model::{ArchiveEntry, BlobLocation, EliminationOrder};

/// Archives and eliminations as the records so far leave them.
#[derive(Debug, Default)]
pub struct Derived {
    pub archives: BTreeMap<String, ArchiveEntry>,
    pub eliminations: BTreeMap<String, EliminationOrder>,
}

impl Derived {
    /// Applies one record (in log order), with `documents` holding what
    /// records commit to, by digest.
    pub fn apply(
        &mut self,
        index: u64,
        bytes: &[u8],
        documents: &HashMap<Hash, Vec<u8>>,
    ) -> Result<(), String> {
        let record = Record::decode(bytes).map_err(|e| format!("record {index}: {e}"))?;
        if record.kind.is_appliance() {
            return Ok(());
        }
        let leaf = hash::leaf_hash(bytes);
        let document = documents.get(&record.metadata_sha256).ok_or_else(|| {
            format!(
                "record {index} ({}) commits to document {}, which the replicas do not hold",
                record.kind,
                hash::to_hex(&record.metadata_sha256)
            )
        })?;
        let id = record.archive_id.clone();
        if record.kind == RecordKind::Ingest {
            let metadata: Metadata = parse(index, document)?;
            self.archives.insert(
                id.clone(),
                ArchiveEntry {
                    archive_id: id,
                    metadata,
                    metadata_sha256: record.metadata_sha256,
                    content_sha256: record.content_sha256,
                    size: record.size,
                    stored_size: 0,
                    blob: BlobLocation::Raw,
                    log_index: index,
                    ingested_at: record.time.0,
                    actor: record.actor.clone(),
                    record_hash: leaf,
                    head_index: index,
                    record_count: 1,
                    elimination_id: None,
                    eliminated_at: None,
                },
            );
            return Ok(());
        }
        let entry = self.archives.get_mut(&id).ok_or_else(|| {
            format!(
                "record {index} ({}) is about archive {id}, which was never ingested",
                record.kind
            )
        })?;
        if record.kind.is_elimination() {
            let order: EliminationOrder = parse(index, document)?;
            match record.kind {
                RecordKind::EliminationRefused => entry.elimination_id = None,
                RecordKind::EliminationExecuted => {
                    entry.elimination_id = Some(order.elimination_id.clone());
                    entry.eliminated_at = Some(record.time.0);
                }
                _ => entry.elimination_id = Some(order.elimination_id.clone()),
            }
            let certificate = self
                .eliminations
                .get(&order.elimination_id)
                .and_then(|o| o.certificate.clone());
            self.eliminations.insert(
                order.elimination_id.clone(),
                EliminationOrder {
                    certificate,
                    ..order
                },
            );
        } else {
            entry.metadata = parse(index, document)?;
            entry.metadata_sha256 = record.metadata_sha256;
        }
        entry.record_hash = leaf;
        entry.head_index = index;
        entry.record_count += 1;
        Ok(())
    }

    /// Attaches a certificate to its (executed) elimination.
    pub fn certify(&mut self, elimination_id: &str, certificate: String) {
        if let Some(order) = self.eliminations.get_mut(elimination_id) {
            order.certificate = Some(certificate);
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(index: u64, document: &[u8]) -> Result<T, String> {
    serde_json::from_slice(document)
        .map_err(|e| format!("the document of record {index} is unreadable: {e}"))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    use minutier_seal::note::Ed25519Signer;

    use super::*;
    use crate::lifecycle::{Actor, Event, Read};
    use crate::metadata::{AppraisalRule, FinalAction};
    use crate::sequencer::{Clock, ContentFiles, NewArchive, Sequencer};
    use crate::store::{MemoryStore, Store};

    struct NoFiles;
    impl ContentFiles for NoFiles {
        fn exists(&self, _: &Hash, _: BlobLocation) -> bool {
            false
        }
        fn remove(&self, _: &Hash, _: BlobLocation) -> std::io::Result<()> {
            Ok(())
        }
    }
    struct Ticking(AtomicU64);
    impl Clock for Ticking {
        fn now_millis(&self) -> u64 {
            self.0.fetch_add(1000, Ordering::Relaxed)
        }
    }

    fn actor(name: &str) -> Actor {
        Actor {
            actor: format!("{name} [archivist 01]"),
            name: name.into(),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_log_alone_gives_back_every_archive_and_elimination() {
        let store = Arc::new(MemoryStore::new());
        let signer = Ed25519Signer::from_seed("test/log", &[3; 32]).unwrap();
        let clock = Arc::new(Ticking(AtomicU64::new(1_796_083_200_000)));
        let (seq, _, _) = Sequencer::start(
            store.clone(),
            Arc::new(NoFiles),
            Arc::new(signer),
            clock,
            8,
            None,
        )
        .unwrap();
        for n in 0..3u8 {
            let content = vec![n; 20];
            let mut metadata = Metadata {
                title: format!("doc {n}"),
                ..Default::default()
            };
            metadata.rules.appraisal = Some(AppraisalRule {
                rule_id: String::new(),
                duration_years: Some(1),
                start_date: Some("2000-01-01".parse().unwrap()),
                final_action: FinalAction::Destroy,
            });
            seq.ingest(NewArchive {
                archive_id: format!("a{n}"),
                metadata,
                content_sha256: hash::sha256(&content),
                size: 20,
                stored_size: 20,
                blob: BlobLocation::Inline,
                inline: Some(content),
                actor: "tester".into(),
            })
            .await
            .unwrap();
        }
        let events = [
            (
                Event::PlaceHold {
                    archive_id: "a1".into(),
                    hold_id: "H1".into(),
                    reason: "contentieux".into(),
                    end_date: None,
                },
                "Alice",
            ),
            (
                Event::Read {
                    archive_id: "a2".into(),
                    what: Read::Content,
                    may_read_restricted: true,
                },
                "Alice",
            ),
            (
                Event::ProposeElimination {
                    elimination_id: "E1".into(),
                    archive_ids: vec!["a0".into()],
                    reason: "fin de DUA".into(),
                },
                "Alice",
            ),
            (
                Event::DecideElimination {
                    elimination_id: "E1".into(),
                    approve: true,
                    reason: String::new(),
                },
                "Bob",
            ),
            (
                Event::ExecuteElimination {
                    elimination_id: "E1".into(),
                },
                "Alice",
            ),
            (
                Event::ProposeElimination {
                    elimination_id: "E2".into(),
                    archive_ids: vec!["a2".into()],
                    reason: "fin de DUA".into(),
                },
                "Alice",
            ),
            (
                Event::DecideElimination {
                    elimination_id: "E2".into(),
                    approve: false,
                    reason: "intérêt historique".into(),
                },
                "Bob",
            ),
        ];
        for (event, who) in events {
            seq.lifecycle(event, actor(who)).await.unwrap();
        }

        let size = store.log_state().unwrap().tree_size;
        let mut documents = HashMap::new();
        let mut derived = Derived::default();
        for (index, bytes) in store.records(0, size).unwrap() {
            let r = Record::decode(&bytes).unwrap();
            documents.insert(
                r.metadata_sha256,
                store.document(&r.metadata_sha256).unwrap().unwrap(),
            );
            derived.apply(index, &bytes, &documents).unwrap();
        }
        derived.certify(
            "E1",
            store
                .elimination("E1")
                .unwrap()
                .unwrap()
                .certificate
                .unwrap(),
        );
        for (id, rebuilt) in &derived.archives {
            let original = store.archive(id).unwrap().unwrap();
            assert_eq!(
                ArchiveEntry {
                    stored_size: original.stored_size,
                    blob: original.blob,
                    ..rebuilt.clone()
                },
                original,
                "{id}"
            );
        }
        for (id, rebuilt) in &derived.eliminations {
            assert_eq!(rebuilt, &store.elimination(id).unwrap().unwrap(), "{id}");
        }
        assert_eq!(derived.archives.len(), 3);
        assert_eq!(derived.eliminations.len(), 2);
    }
}
