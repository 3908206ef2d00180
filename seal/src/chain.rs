//! An archive's lifecycle chain: every record about one archive, linked by
//! `previous`.
//!
//! Each event in an archive's life (ingest, corrections, rule changes,
//! holds, accesses, the steps of an elimination) is a `minutier/record/v1`
//! record whose `previous` field is the RFC 6962 leaf hash of the archive's
//! record before it. [`verify_chain`] checks such a chain given the
//! archive's records in log order; the rules are specified in
//! `docs/seal-format.md` §2.7. The check is pure: where the records come from
//! (a database, seals, a log dump) and whether they are in a signed log is
//! the caller's concern.

use crate::hash::{leaf_hash, to_hex};
use crate::record::{Record, RecordKind};
use crate::{Error, Hash};

/// One checked record of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainLink {
    /// The record's index in the log.
    pub index: u64,
    /// The decoded record.
    pub record: Record,
    /// The record's leaf hash, SHA-256(0x00 || record bytes): the `previous`
    /// of the next record of the chain.
    pub leaf_hash: Hash,
}

/// Checks an archive's chain one record at a time, in log order.
///
/// [`verify_chain`] is this verifier run over a slice. Use it directly to
/// check a long chain without holding all of it in memory, or to check that a
/// new record may be appended: a failed [`ChainVerifier::push`] leaves the
/// verifier unchanged.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    archive_id: String,
    /// Index, content digest and size of the chain's ingest record.
    first: Option<(u64, Hash, u64)>,
    /// Index and leaf hash of the last record accepted.
    last: Option<(u64, Hash)>,
    /// Index of the `elimination-executed` record, once seen.
    tombstone: Option<u64>,
    len: usize,
}

impl ChainVerifier {
    /// A verifier for the chain of `archive_id`, with no records yet.
    pub fn new(archive_id: &str) -> Self {
        Self {
            archive_id: archive_id.to_owned(),
            first: None,
            last: None,
            tombstone: None,
            len: 0,
        }
    }

    /// The archive whose chain is checked.
    pub fn archive_id(&self) -> &str {
        &self.archive_id
    }

    /// How many records were accepted.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no record was accepted yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Index and leaf hash of the last accepted record. The next record of
    /// the chain must have a larger index and this hash as `previous`; while
    /// the chain is empty, the next record must be an `ingest` with
    /// `previous none`.
    pub fn last(&self) -> Option<(u64, Hash)> {
        self.last
    }

    /// Index of the archive's `elimination-executed` record (its tombstone),
    /// if the chain has one so far.
    pub fn tombstone_index(&self) -> Option<u64> {
        self.tombstone
    }

    /// Checks the record at log index `index` (its exact bytes) as the next
    /// record of the chain and, if it passes, accepts it.
    pub fn push(&mut self, index: u64, bytes: &[u8]) -> Result<ChainLink, Error> {
        let record = Record::decode(bytes).map_err(|e| Error::ChainRecordInvalid {
            index,
            reason: Box::new(e),
        })?;
        let link = ChainLink {
            index,
            leaf_hash: leaf_hash(bytes),
            record,
        };
        self.check(&link)?;
        self.accept(&link);
        Ok(link)
    }

    /// [`ChainVerifier::push`] for a record that is not encoded yet, such as
    /// one about to be appended to the log. The record must be valid.
    pub fn push_record(&mut self, index: u64, record: &Record) -> Result<ChainLink, Error> {
        self.push(index, &record.encode())
    }

    fn check(&self, link: &ChainLink) -> Result<(), Error> {
        let ChainLink {
            index, ref record, ..
        } = *link;
        let kind = record.kind;
        if record.archive_id != self.archive_id {
            return Err(Error::ChainWrongArchive {
                index,
                kind,
                expected: self.archive_id.clone(),
                found: record.archive_id.clone(),
            });
        }
        let (Some((first_index, content, size)), Some((last_index, last_hash))) =
            (self.first, self.last)
        else {
            // The first record.
            if kind != RecordKind::Ingest {
                return Err(Error::ChainBadStart {
                    index,
                    kind,
                    reason: "is not an ingest record: a chain starts with the archive's ingest \
                             record, so the records before this one are missing"
                        .into(),
                });
            }
            if let Some(previous) = &record.previous {
                return Err(Error::ChainBadStart {
                    index,
                    kind,
                    reason: format!(
                        "has previous {} instead of none: the records before it are missing",
                        to_hex(previous)
                    ),
                });
            }
            return Ok(());
        };
        if index <= last_index {
            return Err(Error::ChainOutOfOrder {
                index,
                kind,
                after: last_index,
            });
        }
        if kind == RecordKind::Ingest {
            return Err(Error::ChainRepeatedIngest { index, first_index });
        }
        if record.previous != Some(last_hash) {
            return Err(Error::ChainLinkMismatch {
                index,
                kind,
                previous: match &record.previous {
                    Some(h) => to_hex(h),
                    None => "none".into(),
                },
                before_index: last_index,
                before_hash: to_hex(&last_hash),
            });
        }
        if let Some(tombstone_index) = self.tombstone {
            if kind != RecordKind::ReadMetadata {
                return Err(Error::ChainAfterElimination {
                    index,
                    kind,
                    tombstone_index,
                });
            }
        }
        let mismatch = |field, found: String, expected: String| Error::ChainDocumentMismatch {
            index,
            kind,
            field,
            found,
            expected,
            first_index,
        };
        if record.content_sha256 != content {
            return Err(mismatch(
                "content-sha256",
                to_hex(&record.content_sha256),
                to_hex(&content),
            ));
        }
        if record.size != size {
            return Err(mismatch("size", record.size.to_string(), size.to_string()));
        }
        Ok(())
    }

    fn accept(&mut self, link: &ChainLink) {
        if self.first.is_none() {
            self.first = Some((link.index, link.record.content_sha256, link.record.size));
        }
        if link.record.kind == RecordKind::EliminationExecuted {
            self.tombstone = Some(link.index);
        }
        self.last = Some((link.index, link.leaf_hash));
        self.len += 1;
    }
}

/// Checks the chain of `archive_id`, given all of the archive's records in
/// log order as (log index, exact record bytes), and returns each record
/// decoded with its leaf hash.
///
/// The chain is valid when:
///
/// - every record is a valid `minutier/record/v1` about `archive_id`;
/// - the indices strictly increase;
/// - the first record is an `ingest` with `previous none`, and no other
///   record is an `ingest`;
/// - every later record's `previous` is the leaf hash of the record just
///   before it in the list;
/// - only `read-metadata` records follow an `elimination-executed` record
///   (so there is at most one);
/// - every record has the `content-sha256` and `size` of the ingest record.
///
/// A chain that ends early passes: whether `records` holds *all* of the
/// archive's records is only known from the log itself. Record times are not
/// compared, since they are the operator's claims; the log order is what is
/// proven.
///
/// The order of the indices is checked first, over the whole list, so that a
/// reordered list is reported as such rather than as a broken link; then the
/// records are checked one by one. The first failure is returned, naming the
/// record's index.
pub fn verify_chain(archive_id: &str, records: &[(u64, &[u8])]) -> Result<Vec<ChainLink>, Error> {
    if records.is_empty() {
        return Err(Error::EmptyChain {
            archive: archive_id.to_owned(),
        });
    }
    if let Some(pair) = records.windows(2).find(|pair| pair[1].0 <= pair[0].0) {
        let (index, bytes) = pair[1];
        let record = Record::decode(bytes).map_err(|e| Error::ChainRecordInvalid {
            index,
            reason: Box::new(e),
        })?;
        return Err(Error::ChainOutOfOrder {
            index,
            kind: record.kind,
            after: pair[0].0,
        });
    }
    let mut verifier = ChainVerifier::new(archive_id);
    records
        .iter()
        .map(|&(index, bytes)| verifier.push(index, bytes))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Timestamp;

    const ARCHIVE: &str = "FRAD075-2026-000114";

    /// A valid chain of the given kinds at indices 10, 20, 30…
    fn chain(kinds: &[RecordKind]) -> Vec<(u64, Vec<u8>)> {
        let mut out: Vec<(u64, Vec<u8>)> = Vec::new();
        for (i, &kind) in kinds.iter().enumerate() {
            let r = Record {
                kind,
                archive_id: ARCHIVE.into(),
                time: Timestamp(1_795_942_366_123 + i as u64),
                actor: "cn=Émilie Dupré".into(),
                content_sha256: [7; 32],
                size: 48,
                metadata_sha256: [i as u8; 32],
                previous: out.last().map(|(_, b)| leaf_hash(b)),
            };
            out.push((10 * (i as u64 + 1), r.encode()));
        }
        out
    }

    fn check(records: &[(u64, Vec<u8>)]) -> Result<Vec<ChainLink>, Error> {
        let refs: Vec<(u64, &[u8])> = records.iter().map(|(i, b)| (*i, b.as_slice())).collect();
        verify_chain(ARCHIVE, &refs)
    }

    /// Re-encodes record `at` after `change`, and re-links the records after
    /// it, so that only the change itself can make the chain fail.
    fn edit(records: &mut [(u64, Vec<u8>)], at: usize, change: impl FnOnce(&mut Record)) {
        let mut r = Record::decode(&records[at].1).unwrap();
        change(&mut r);
        records[at].1 = r.encode();
        for i in at + 1..records.len() {
            let mut r = Record::decode(&records[i].1).unwrap();
            r.previous = Some(leaf_hash(&records[i - 1].1));
            records[i].1 = r.encode();
        }
    }

    use RecordKind::*;

    const LIFE: [RecordKind; 12] = [
        Ingest,
        MetadataCorrection,
        RulesChange,
        HoldPlaced,
        EliminationProposed,
        EliminationRefused,
        HoldLifted,
        ReadContent,
        EliminationProposed,
        EliminationApproved,
        EliminationExecuted,
        ReadMetadata,
    ];

    #[test]
    fn a_full_life_passes() {
        let records = chain(&LIFE);
        let links = check(&records).unwrap();
        assert_eq!(links.len(), LIFE.len());
        for (link, (index, bytes)) in links.iter().zip(&records) {
            assert_eq!(link.index, *index);
            assert_eq!(link.leaf_hash, leaf_hash(bytes));
            assert_eq!(link.record.encode(), *bytes);
        }
        assert_eq!(links[0].record.previous, None);
        // A single ingest is a chain; several read-metadata may follow the
        // tombstone.
        check(&chain(&[Ingest])).unwrap();
        check(&chain(&[
            Ingest,
            EliminationExecuted,
            ReadMetadata,
            ReadMetadata,
        ]))
        .unwrap();
    }

    #[test]
    fn verifier_state_and_failed_push_leave_it_unchanged() {
        let records = chain(&LIFE);
        let mut v = ChainVerifier::new(ARCHIVE);
        assert!(v.is_empty());
        assert_eq!(v.last(), None);
        for (i, (index, bytes)) in records.iter().enumerate() {
            if i == 11 {
                // Before the final read-metadata, try a read-content.
                let before = v.clone();
                let mut r = Record::decode(bytes).unwrap();
                r.kind = ReadContent;
                assert!(v.push_record(*index, &r).is_err());
                assert_eq!((v.len(), v.last()), (before.len(), before.last()));
            }
            v.push(*index, bytes).unwrap();
            assert_eq!(v.last(), Some((*index, leaf_hash(bytes))));
        }
        assert_eq!(v.len(), 12);
        assert_eq!(v.tombstone_index(), Some(110));
        assert_eq!(v.archive_id(), ARCHIVE);
    }

    #[test]
    fn empty_chain() {
        let e = check(&[]).unwrap_err();
        assert!(matches!(e, Error::EmptyChain { .. }));
        assert!(e.to_string().contains(ARCHIVE), "{e}");
    }

    #[test]
    fn undecodable_record() {
        let mut records = chain(&LIFE[..3]);
        records[1].1.push(b'\n');
        let e = check(&records).unwrap_err();
        assert!(
            matches!(&e, Error::ChainRecordInvalid { index: 20, reason } if matches!(**reason, Error::InvalidRecord { .. })),
            "{e:?}"
        );
        assert!(
            e.to_string().starts_with(
                "record at index 20 of the chain is not a valid record: invalid record encoding"
            ),
            "{e}"
        );
    }

    #[test]
    fn missing_middle_record() {
        let mut records = chain(&LIFE[..5]);
        let removed = records.remove(2);
        let e = check(&records).unwrap_err();
        let msg = e.to_string();
        assert_eq!(
            e,
            Error::ChainLinkMismatch {
                index: 40,
                kind: HoldPlaced,
                previous: to_hex(&leaf_hash(&removed.1)),
                before_index: 20,
                before_hash: to_hex(&leaf_hash(&records[1].1)),
            }
        );
        assert!(
            msg.starts_with(&format!(
                "record at index 40 (hold-placed) has previous {} but the record before it in the \
             chain, at index 20, hashes to {}: a record is missing",
                to_hex(&leaf_hash(&removed.1)),
                to_hex(&leaf_hash(&records[1].1))
            )),
            "{msg}"
        );
    }

    #[test]
    fn altered_record() {
        let mut records = chain(&LIFE[..4]);
        let mut r = Record::decode(&records[1].1).unwrap();
        r.actor = "someone else".into();
        records[1].1 = r.encode();
        assert!(matches!(
            check(&records),
            Err(Error::ChainLinkMismatch {
                index: 30,
                before_index: 20,
                ..
            })
        ));
        // A later record claiming `previous none`.
        let mut records = chain(&LIFE[..4]);
        edit(&mut records, 2, |r| r.previous = None);
        let e = check(&records).unwrap_err();
        assert!(e.to_string().contains("has previous none but"), "{e}");
    }

    #[test]
    fn reordered_chain() {
        let mut records = chain(&LIFE[..4]);
        records.swap(1, 2);
        assert_eq!(
            check(&records),
            Err(Error::ChainOutOfOrder {
                index: 20,
                kind: MetadataCorrection,
                after: 30
            })
        );
        // The same record twice.
        let mut records = chain(&LIFE[..3]);
        records.insert(2, records[1].clone());
        assert!(matches!(
            check(&records),
            Err(Error::ChainOutOfOrder {
                index: 20,
                after: 20,
                ..
            })
        ));
        // Right order of bytes, but indices that go back.
        let mut records = chain(&LIFE[..3]);
        records[2].0 = 21;
        assert!(check(&records).is_ok());
        records[2].0 = 20;
        let e = check(&records).unwrap_err();
        assert!(e.to_string().contains("strictly increasing"), "{e}");
    }

    #[test]
    fn record_of_another_archive() {
        let mut records = chain(&LIFE[..4]);
        edit(&mut records, 2, |r| {
            r.archive_id = "FRAD075-2026-000115".into()
        });
        let e = check(&records).unwrap_err();
        assert_eq!(
            e,
            Error::ChainWrongArchive {
                index: 30,
                kind: RulesChange,
                expected: ARCHIVE.into(),
                found: "FRAD075-2026-000115".into(),
            }
        );
        // Also when it is the first record.
        let records = chain(&LIFE[..1]);
        let refs = [(records[0].0, records[0].1.as_slice())];
        assert!(matches!(
            verify_chain("other", &refs),
            Err(Error::ChainWrongArchive { index: 10, .. })
        ));
    }

    #[test]
    fn first_record_must_be_an_ingest_without_previous() {
        let records = chain(&LIFE[..4]);
        let e = check(&records[1..]).unwrap_err();
        assert!(matches!(
            e,
            Error::ChainBadStart {
                index: 20,
                kind: MetadataCorrection,
                ..
            }
        ));
        assert!(e.to_string().starts_with(
            "the first record of the chain, at index 20 (metadata-correction), is not an ingest record"
        ), "{e}");
        let mut records = chain(&LIFE[..2]);
        edit(&mut records, 0, |r| r.previous = Some([9; 32]));
        let e = check(&records).unwrap_err();
        assert!(matches!(
            e,
            Error::ChainBadStart {
                index: 10,
                kind: Ingest,
                ..
            }
        ));
        assert!(
            e.to_string()
                .contains(&format!("has previous {} instead of none", "09".repeat(32))),
            "{e}"
        );
    }

    #[test]
    fn ingest_only_once() {
        let records = chain(&[Ingest, ReadContent, Ingest]);
        assert_eq!(
            check(&records),
            Err(Error::ChainRepeatedIngest {
                index: 30,
                first_index: 10
            })
        );
    }

    #[test]
    fn nothing_but_read_metadata_after_the_tombstone() {
        for kind in RecordKind::ALL {
            let records = chain(&[Ingest, EliminationApproved, EliminationExecuted, kind]);
            let result = check(&records);
            match kind {
                ReadMetadata => assert!(result.is_ok()),
                Ingest => assert!(matches!(result, Err(Error::ChainRepeatedIngest { .. }))),
                _ => assert_eq!(
                    result,
                    Err(Error::ChainAfterElimination {
                        index: 40,
                        kind,
                        tombstone_index: 30
                    }),
                    "{kind}"
                ),
            }
        }
        let records = chain(&[Ingest, EliminationExecuted, ReadMetadata, HoldPlaced]);
        let e = check(&records).unwrap_err();
        assert_eq!(
            e.to_string(),
            "record at index 40 (hold-placed) follows the archive's elimination-executed record \
             at index 20; after an elimination only read-metadata records may be appended to the \
             chain"
        );
    }

    #[test]
    fn the_document_never_changes() {
        let mut records = chain(&LIFE);
        edit(&mut records, 10, |r| r.content_sha256 = [8; 32]);
        let e = check(&records).unwrap_err();
        assert_eq!(
            e,
            Error::ChainDocumentMismatch {
                index: 110,
                kind: EliminationExecuted,
                field: "content-sha256",
                found: "08".repeat(32),
                expected: "07".repeat(32),
                first_index: 10,
            }
        );
        let mut records = chain(&LIFE);
        edit(&mut records, 3, |r| r.size = 0);
        let e = check(&records).unwrap_err();
        assert!(matches!(
            e,
            Error::ChainDocumentMismatch {
                index: 40,
                field: "size",
                ..
            }
        ));
        assert!(
            e.to_string()
                .contains("has size 0 but the chain's ingest record at index 10 has 48"),
            "{e}"
        );
    }
}
