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
//!
//! The events that concern the appliance as a whole (scrub runs,
//! time-stamps of checkpoints, [`RecordKind::is_appliance`]) form one more
//! chain, that of the reserved archive [`APPLIANCE_ID`], with the same links
//! but none of the document rules: it starts with any appliance event, has no ingest and no
//! tombstone, and its records commit each to their own report.

use crate::hash::{leaf_hash, to_hex};
use crate::record::{Record, RecordKind, APPLIANCE_ID};
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

/// Checks an archive's chain, or the appliance's chain, one record at a
/// time, in log order.
///
/// [`verify_chain`] is this verifier run over a slice. Use it directly to
/// check a long chain without holding all of it in memory, or to check that a
/// new record may be appended: a failed [`ChainVerifier::push`] leaves the
/// verifier unchanged.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    archive_id: String,
    /// Index, content digest and size of the chain's ingest record; always
    /// `None` in the appliance's chain, which has no ingest.
    first: Option<(u64, Hash, u64)>,
    /// Index and leaf hash of the last record accepted.
    last: Option<(u64, Hash)>,
    /// Index of the `elimination-executed` record, once seen.
    tombstone: Option<u64>,
    len: usize,
}

impl ChainVerifier {
    /// A verifier for the chain of `archive_id`, with no records yet. For
    /// [`APPLIANCE_ID`], the appliance's chain.
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

    /// Whether this is the appliance's chain, that of [`APPLIANCE_ID`]: its
    /// records are the appliance events, and the rules about one archive's
    /// document do not apply.
    pub fn is_appliance(&self) -> bool {
        self.archive_id == APPLIANCE_ID
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
    /// the chain is empty, the next record must have `previous none` and be an
    /// `ingest` (in the appliance's chain, any appliance event).
    pub fn last(&self) -> Option<(u64, Hash)> {
        self.last
    }

    /// Index of the archive's `elimination-executed` record (its tombstone),
    /// if the chain has one so far. Always `None` for the appliance's chain.
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
        // A decoded record names APPLIANCE_ID exactly when its kind is an
        // appliance kind (Record::decode checks it), so once the archive
        // matches, the appliance's chain holds only appliance events and an
        // archive's chain none.
        if record.archive_id != self.archive_id {
            return Err(Error::ChainWrongArchive {
                index,
                kind,
                expected: self.archive_id.clone(),
                found: record.archive_id.clone(),
            });
        }
        let Some((last_index, last_hash)) = self.last else {
            // The first record.
            if !self.is_appliance() && kind != RecordKind::Ingest {
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
        if let (RecordKind::Ingest, Some((first_index, ..))) = (kind, self.first) {
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
        // The appliance's chain has no ingest, and each of its records
        // commits to its own report: the document rule stops here.
        let Some((first_index, content, size)) = self.first else {
            return Ok(());
        };
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
        // Only the first record of an archive's chain is an ingest.
        if link.record.kind == RecordKind::Ingest {
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
/// The chain of [`APPLIANCE_ID`], the appliance's chain, holds the appliance
/// events ([`RecordKind::is_appliance`]) and follows the same rules, except
/// that it starts with any appliance event with `previous none` and that
/// the rules about the ingest, the tombstone and the document do not apply:
/// it has no ingest, and each record commits to its own report.
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
                // An appliance kind cannot name the archive at all.
                Scrub | RecordKind::Timestamp | RecordKind::KeyRotation => assert!(
                    matches!(&result, Err(Error::ChainRecordInvalid { index: 40, .. })),
                    "{result:?}"
                ),
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

    // ------------------------------------------------ the appliance's chain

    /// A valid appliance chain of scrub records at indices 5, 15, 25…, each
    /// committing to a different report.
    fn appliance_chain(n: usize) -> Vec<(u64, Vec<u8>)> {
        let mut out: Vec<(u64, Vec<u8>)> = Vec::new();
        for i in 0..n {
            let report = format!("{{\"documents\":{{\"checked\":{}}}}}", 100 + 7 * i);
            let digest = crate::hash::sha256(report.as_bytes());
            let r = Record {
                kind: Scrub,
                archive_id: APPLIANCE_ID.into(),
                time: Timestamp(1_798_000_000_000 + 86_400_000 * i as u64),
                actor: "svc-scrub@archives.mairie-exemple.fr".into(),
                content_sha256: digest,
                size: report.len() as u64 + i as u64 / 3,
                metadata_sha256: digest,
                previous: out.last().map(|(_, b)| leaf_hash(b)),
            };
            out.push((10 * i as u64 + 5, r.encode()));
        }
        out
    }

    fn check_appliance(records: &[(u64, Vec<u8>)]) -> Result<Vec<ChainLink>, Error> {
        let refs: Vec<(u64, &[u8])> = records.iter().map(|(i, b)| (*i, b.as_slice())).collect();
        verify_chain(APPLIANCE_ID, &refs)
    }

    #[test]
    fn an_appliance_chain_passes() {
        let records = appliance_chain(4);
        let links = check_appliance(&records).unwrap();
        assert_eq!(links.len(), 4);
        assert_eq!(links[0].record.previous, None);
        for pair in links.windows(2) {
            assert_eq!(pair[1].record.previous, Some(pair[0].leaf_hash));
        }
        // Each record commits to its own report: the content and size vary.
        assert_ne!(
            links[0].record.content_sha256,
            links[1].record.content_sha256
        );
        assert_ne!(links[0].record.size, links[3].record.size);
        let mut v = ChainVerifier::new(APPLIANCE_ID);
        assert!(v.is_appliance());
        assert!(!ChainVerifier::new(ARCHIVE).is_appliance());
        for (index, bytes) in &records {
            v.push(*index, bytes).unwrap();
        }
        assert_eq!(v.len(), 4);
        assert_eq!(v.tombstone_index(), None);
        assert_eq!(v.last(), Some((35, leaf_hash(&records[3].1))));
        check_appliance(&records[..1]).unwrap();
    }

    #[test]
    fn an_appliance_chain_with_a_broken_link() {
        let mut records = appliance_chain(4);
        let removed = records.remove(1);
        assert_eq!(
            check_appliance(&records),
            Err(Error::ChainLinkMismatch {
                index: 25,
                kind: Scrub,
                previous: to_hex(&leaf_hash(&removed.1)),
                before_index: 5,
                before_hash: to_hex(&leaf_hash(&records[0].1)),
            })
        );
        // An altered record breaks the link that follows it.
        let mut records = appliance_chain(3);
        let mut r = Record::decode(&records[1].1).unwrap();
        r.time = Timestamp(r.time.0 + 1);
        records[1].1 = r.encode();
        assert!(matches!(
            check_appliance(&records),
            Err(Error::ChainLinkMismatch {
                index: 25,
                kind: Scrub,
                before_index: 15,
                ..
            })
        ));
        // Reordered.
        let mut records = appliance_chain(3);
        records.swap(1, 2);
        assert_eq!(
            check_appliance(&records),
            Err(Error::ChainOutOfOrder {
                index: 15,
                kind: Scrub,
                after: 25
            })
        );
        // The start is missing: the first record given has a previous.
        let records = appliance_chain(3);
        let e = check_appliance(&records[1..]).unwrap_err();
        assert_eq!(
            e,
            Error::ChainBadStart {
                index: 15,
                kind: Scrub,
                reason: format!(
                    "has previous {} instead of none: the records before it are missing",
                    to_hex(&leaf_hash(&records[0].1))
                ),
            }
        );
        assert!(
            e.to_string()
                .starts_with("the first record of the chain, at index 15 (scrub), has previous"),
            "{e}"
        );
    }

    #[test]
    fn an_ingest_in_the_appliance_chain() {
        let mut records = appliance_chain(2);
        let mut r = Record::decode(&records[1].1).unwrap();
        r.kind = Ingest;
        r.previous = Some(leaf_hash(&records[1].1));
        // An ingest naming the appliance is not a valid record at all (encode
        // does not validate)…
        records.push((25, r.encode()));
        let e = check_appliance(&records).unwrap_err();
        assert!(
            matches!(&e, Error::ChainRecordInvalid { index: 25, reason } if matches!(**reason, Error::InvalidRecord { line: 3, .. })),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "record at index 25 of the chain is not a valid record: invalid record encoding at \
             line 3: `archive`: \"appliance\" is reserved for appliance events (scrub, timestamp, \
             key-rotation), and kind ingest concerns one archive, which the record must name"
        );
        // …and one naming an archive is not the appliance's.
        r.archive_id = ARCHIVE.into();
        records[2].1 = r.encode();
        assert_eq!(
            check_appliance(&records),
            Err(Error::ChainWrongArchive {
                index: 25,
                kind: Ingest,
                expected: APPLIANCE_ID.into(),
                found: ARCHIVE.into(),
            })
        );
        // Nor can an archive's chain be passed off as the appliance's.
        let e = check_appliance(&chain(&LIFE[..2])).unwrap_err();
        assert!(
            matches!(
                e,
                Error::ChainWrongArchive {
                    index: 10,
                    kind: Ingest,
                    ..
                }
            ),
            "{e:?}"
        );
        // Every kind of an archive's life is refused there.
        for kind in RecordKind::ALL {
            let mut r = Record::decode(&appliance_chain(1)[0].1).unwrap();
            r.kind = kind;
            let result = check_appliance(&[(5, r.encode())]);
            if kind.is_appliance() {
                assert!(result.is_ok(), "{kind}");
            } else {
                assert!(
                    matches!(result, Err(Error::ChainRecordInvalid { index: 5, .. })),
                    "{kind}"
                );
            }
        }
    }

    #[test]
    fn an_archive_chain_refuses_appliance_events() {
        // A scrub record, linked in the middle of an archive's chain.
        let mut records = chain(&LIFE[..3]);
        let scrub = &appliance_chain(1)[0].1;
        let mut r = Record::decode(scrub).unwrap();
        r.previous = Some(leaf_hash(&records[2].1));
        records.push((40, r.encode()));
        let e = check(&records).unwrap_err();
        assert_eq!(
            e,
            Error::ChainWrongArchive {
                index: 40,
                kind: Scrub,
                expected: ARCHIVE.into(),
                found: APPLIANCE_ID.into(),
            }
        );
        assert!(
            e.to_string().starts_with(
                "record at index 40 (scrub) is about archive \"appliance\", not \"FRAD075-2026-000114\""
            ),
            "{e}"
        );
        // Renamed to the archive, it is no valid record.
        r.archive_id = ARCHIVE.into();
        records[3].1 = r.encode();
        let e = check(&records).unwrap_err();
        assert!(
            matches!(&e, Error::ChainRecordInvalid { index: 40, reason } if matches!(**reason, Error::InvalidRecord { line: 3, .. })),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .contains("kind scrub concerns the appliance as a whole"),
            "{e}"
        );
        // Nor may the appliance's chain be checked as an archive's.
        assert!(matches!(
            check(&appliance_chain(2)),
            Err(Error::ChainWrongArchive {
                index: 5,
                kind: Scrub,
                ..
            })
        ));
        // Pushing one onto a verifier leaves it unchanged.
        let mut v = ChainVerifier::new(ARCHIVE);
        for (index, bytes) in &records[..3] {
            v.push(*index, bytes).unwrap();
        }
        assert!(v.push(40, scrub).is_err());
        assert_eq!(v.len(), 3);
        assert_eq!(v.last(), Some((30, leaf_hash(&records[2].1))));
    }

    #[test]
    fn an_empty_appliance_chain() {
        let e = verify_chain(APPLIANCE_ID, &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the chain of archive \"appliance\" has no records; the appliance's chain starts \
             with its first appliance event (such as a scrub)"
        );
        assert_eq!(
            check(&[]).unwrap_err().to_string(),
            format!(
                "the chain of archive \"{ARCHIVE}\" has no records; a chain starts with the \
                 archive's ingest record"
            )
        );
    }
}
