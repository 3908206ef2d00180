//! The lifecycle side of the archive service: events go through the
//! sequencer (which checks them, see `crate::lifecycle`); history, journal,
//! retention and eliminations are read from the index.

use minutier_seal::record::{Record, Timestamp, APPLIANCE_ID};
use minutier_seal::{tree, Hash};

use super::ArchiveService;
use crate::error::{Error, Result};
use crate::lifecycle::{Actor, Event, Read};
use crate::metadata::{Date, FinalAction};
use crate::model::{ArchiveEntry, EliminationOrder, SignIn};
use crate::sequencer::{Sequenced, SignedCheckpoint};
use crate::store::{self, ListFilter, TreeReader};

/// An archive's chain, ready to verify.
#[derive(Debug, Clone)]
pub struct History {
    pub entries: Vec<HistoryEntry>,
    pub checkpoint: SignedCheckpoint,
    /// Leaf hash of the latest record, as the archive entry knows it.
    pub head: Hash,
}

#[derive(Debug, Clone)]
pub struct HistoryEntry {
    pub index: u64,
    pub record: Vec<u8>,
    /// What the record's metadata-sha256 commits to.
    pub document: Vec<u8>,
    pub inclusion_proof: Vec<Hash>,
}

/// Which reads to list from the access journal.
#[derive(Debug, Clone, Default)]
pub struct JournalFilter {
    pub archive_id: Option<String>,
    pub actor_contains: Option<String>,
    pub since: Option<Timestamp>,
    pub after_index: Option<u64>,
    pub page_size: usize,
}

/// One read, from its record.
#[derive(Debug, Clone)]
pub struct JournalEntry {
    pub index: u64,
    pub record: Record,
}

/// Archives whose retention period has ended, by final action.
#[derive(Debug, Clone, Default)]
pub struct DueArchives {
    pub keep: Vec<ArchiveEntry>,
    pub destroy: Vec<ArchiveEntry>,
}

/// Most reads scanned per journal call, matching or not.
const JOURNAL_SCAN: usize = 100_000;
/// Most records in one history.
const MAX_HISTORY: usize = 100_000;

impl ArchiveService {
    /// Records an event and returns its records with the archives' states.
    pub async fn change(&self, event: Event, actor: Actor) -> Result<Sequenced> {
        minutier_seal::record::validate_actor(&actor.actor).map_err(|e| {
            Error::InvalidArgument(format!("the caller's identity cannot be recorded: {e}"))
        })?;
        self.sequencer.lifecycle(event, actor).await
    }

    /// Records a read of an archive (refused if not communicable to the
    /// caller) and returns its entry.
    pub async fn record_read(
        &self,
        archive_id: &str,
        what: Read,
        may_read_restricted: bool,
        actor: Actor,
    ) -> Result<ArchiveEntry> {
        let event = Event::Read {
            archive_id: archive_id.to_owned(),
            what,
            may_read_restricted,
        };
        let mut sequenced = self.change(event, actor).await?;
        Ok(sequenced.archives.swap_remove(0))
    }

    /// The seal of a change's first record, under the checkpoint that
    /// covered it.
    pub fn seal_of(&self, sequenced: &Sequenced) -> Result<String> {
        let (index, record) = sequenced.records[0].clone();
        self.seal_at(index, record, &sequenced.checkpoint)
    }

    /// An archive's records with inclusion proofs in the latest checkpoint.
    /// The chain of the appliance's own events (scrubs, time-stamps of
    /// checkpoints) is read the same way, under the reserved id `appliance`.
    pub fn history(&self, archive_id: &str) -> Result<History> {
        let checkpoint = self.latest_checkpoint()?;
        let indices = self.store.history(archive_id)?;
        let head = if archive_id == APPLIANCE_ID {
            let last = indices.last().ok_or_else(|| {
                Error::NotFound(
                    "the appliance has recorded no event yet (no scrub, no time-stamp)".into(),
                )
            })?;
            minutier_seal::hash::leaf_hash(&store::record(self.store.as_ref(), *last)?)
        } else {
            self.archive(archive_id)?.record_hash
        };
        if indices.len() > MAX_HISTORY {
            return Err(Error::ResourceExhausted(format!(
                "archive {archive_id} has {} records; histories of more than {MAX_HISTORY} are not served",
                indices.len()
            )));
        }
        let reader = TreeReader(self.store.as_ref());
        let mut entries = Vec::with_capacity(indices.len());
        for index in indices.into_iter().filter(|i| *i < checkpoint.size) {
            let record = store::record(self.store.as_ref(), index)?;
            let decoded = Record::decode(&record)?;
            let document = self
                .store
                .document(&decoded.metadata_sha256)?
                .unwrap_or_default();
            entries.push(HistoryEntry {
                index,
                record,
                document,
                inclusion_proof: tree::inclusion_proof(&reader, index, checkpoint.size)?,
            });
        }
        Ok(History {
            entries,
            checkpoint,
            head,
        })
    }

    /// Reads from the access journal, oldest first, and the index to
    /// continue from (if the scan stopped early).
    pub fn journal(&self, filter: &JournalFilter) -> Result<(Vec<JournalEntry>, Option<u64>)> {
        let page = filter.page_size.clamp(1, 1000);
        let mut out = Vec::new();
        let mut after = filter.after_index;
        let mut scanned = 0;
        loop {
            let indices = self.store.journal(after, 1000)?;
            let Some(&last) = indices.last() else {
                return Ok((out, None));
            };
            for index in indices {
                scanned += 1;
                let record = Record::decode(&store::record(self.store.as_ref(), index)?)?;
                let wanted = filter
                    .archive_id
                    .as_ref()
                    .is_none_or(|a| &record.archive_id == a)
                    && filter
                        .actor_contains
                        .as_ref()
                        .is_none_or(|s| record.actor.to_lowercase().contains(&s.to_lowercase()))
                    && filter.since.is_none_or(|t| record.time >= t);
                if wanted {
                    out.push(JournalEntry { index, record });
                    if out.len() >= page {
                        return Ok((out, Some(index)));
                    }
                }
                if scanned >= JOURNAL_SCAN {
                    return Ok((out, Some(index)));
                }
            }
            after = Some(last);
        }
    }

    /// Archives, not eliminated, whose retention period ended on or before
    /// `before`.
    pub fn retention_due(&self, before: Date) -> Result<DueArchives> {
        let mut due = DueArchives::default();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store
                .list_archives(after.as_deref(), 1000, &ListFilter::default())?;
            let Some(last) = page.last() else {
                return Ok(due);
            };
            after = Some(last.archive_id.clone());
            for entry in page {
                let rules = &entry.metadata.rules;
                if entry.is_eliminated() || rules.retention_end().is_none_or(|end| end > before) {
                    continue;
                }
                match rules.final_action() {
                    Some(FinalAction::Keep) => due.keep.push(entry),
                    Some(FinalAction::Destroy) => due.destroy.push(entry),
                    None => {}
                }
            }
        }
    }

    pub fn elimination(&self, elimination_id: &str) -> Result<EliminationOrder> {
        self.store
            .elimination(elimination_id)?
            .ok_or_else(|| Error::NotFound(format!("no elimination with id {elimination_id:?}")))
    }

    /// Every elimination, newest first.
    pub fn eliminations(&self) -> Result<Vec<EliminationOrder>> {
        let mut all = self.store.eliminations()?;
        all.sort_by_key(|o| std::cmp::Reverse(o.proposed.at));
        Ok(all)
    }

    /// Today, by the appliance's clock (UTC).
    pub fn today(&self) -> Date {
        Date::from_unix_millis(self.clock.now_millis())
    }

    /// A fresh id for a hold or an elimination.
    pub fn new_id(&self) -> String {
        crate::model::new_archive_id(self.clock.now_millis())
    }

    /// Appends to the console's sign-in journal, durably.
    pub fn record_sign_in(&self, entry: &SignIn) -> Result<u64> {
        self.store.put_sign_in(entry)
    }

    /// The console's sign-in journal, newest first, below `before`.
    pub fn sign_ins(&self, before: Option<u64>, limit: usize) -> Result<Vec<(u64, SignIn)>> {
        self.store.sign_ins(before, limit.clamp(1, 1000))
    }
}
