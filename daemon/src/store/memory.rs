//! In-memory [`Store`] for tests of the daemon's own logic.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::RwLock;

use minutier_seal::Hash;

use super::{CommitBatch, ListFilter, LogState, Store};
use crate::error::Result;
use crate::model::{ArchiveEntry, Credential, EliminationOrder, SignIn};

#[derive(Default)]
struct Inner {
    state: LogState,
    records: BTreeMap<u64, Vec<u8>>,
    nodes: BTreeMap<(u8, u64), Hash>,
    archives: BTreeMap<String, ArchiveEntry>,
    checkpoints: BTreeMap<u64, String>,
    blobs: BTreeMap<Hash, Vec<u8>>,
    credentials: BTreeMap<String, Credential>,
    transfers: BTreeMap<String, Vec<u8>>,
    history: BTreeSet<(String, u64)>,
    journal: BTreeSet<u64>,
    documents: BTreeMap<Hash, Vec<u8>>,
    eliminations: BTreeMap<String, EliminationOrder>,
    holders: BTreeSet<(Hash, String)>,
    replica_states: BTreeMap<Vec<u8>, Vec<u8>>,
    sign_ins: Vec<SignIn>,
}

/// A store that forgets everything when dropped.
#[derive(Default)]
pub struct MemoryStore(RwLock<Inner>);

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Store for MemoryStore {
    fn log_state(&self) -> Result<LogState> {
        Ok(self.0.read().unwrap().state.clone())
    }

    fn set_origin(&self, origin: &str) -> Result<()> {
        self.0.write().unwrap().state.origin = Some(origin.to_owned());
        Ok(())
    }

    fn commit(&self, batch: CommitBatch) -> Result<()> {
        let mut inner = self.0.write().unwrap();
        for e in batch.records {
            inner.history.insert((e.archive_id, e.index));
            if e.access {
                inner.journal.insert(e.index);
            }
            inner.records.insert(e.index, e.record);
        }
        inner
            .nodes
            .extend(batch.nodes.into_iter().map(|(l, i, h)| ((l, i), h)));
        for a in batch.archives {
            inner.archives.insert(a.archive_id.clone(), a);
        }
        inner.blobs.extend(batch.inline_blobs);
        for sha in batch.removed_inline_blobs {
            inner.blobs.remove(&sha);
        }
        inner.holders.extend(batch.holders_added);
        for h in batch.holders_removed {
            inner.holders.remove(&h);
        }
        inner.documents.extend(batch.documents);
        for o in batch.eliminations {
            inner.eliminations.insert(o.elimination_id.clone(), o);
        }
        inner.replica_states.extend(batch.replica_states);
        inner.state.tree_size = batch.tree_size;
        inner
            .checkpoints
            .insert(batch.tree_size, batch.checkpoint.clone());
        inner.state.checkpoint = Some((batch.tree_size, batch.checkpoint));
        Ok(())
    }

    fn checkpoint(&self, size: u64) -> Result<Option<String>> {
        Ok(self.0.read().unwrap().checkpoints.get(&size).cloned())
    }

    fn node(&self, level: u8, index: u64) -> Result<Option<Hash>> {
        Ok(self.0.read().unwrap().nodes.get(&(level, index)).copied())
    }

    fn records(&self, start: u64, end: u64) -> Result<Vec<(u64, Vec<u8>)>> {
        let inner = self.0.read().unwrap();
        Ok(inner
            .records
            .range(start..end.max(start))
            .map(|(i, r)| (*i, r.clone()))
            .collect())
    }

    fn archive(&self, archive_id: &str) -> Result<Option<ArchiveEntry>> {
        Ok(self.0.read().unwrap().archives.get(archive_id).cloned())
    }

    fn list_archives(
        &self,
        after: Option<&str>,
        limit: usize,
        filter: &ListFilter,
    ) -> Result<Vec<ArchiveEntry>> {
        let inner = self.0.read().unwrap();
        let lower = after.map_or(Bound::Unbounded, |a| Bound::Excluded(a.to_owned()));
        Ok(inner
            .archives
            .range((lower, Bound::Unbounded))
            .map(|(_, e)| e)
            .filter(|e| filter.matches(e))
            .take(limit)
            .cloned()
            .collect())
    }

    fn history(&self, archive_id: &str) -> Result<Vec<u64>> {
        let inner = self.0.read().unwrap();
        Ok(inner
            .history
            .range((archive_id.to_owned(), 0)..=(archive_id.to_owned(), u64::MAX))
            .map(|(_, i)| *i)
            .collect())
    }

    fn journal(&self, after: Option<u64>, limit: usize) -> Result<Vec<u64>> {
        let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
        let inner = self.0.read().unwrap();
        Ok(inner
            .journal
            .range((lower, Bound::Unbounded))
            .take(limit)
            .copied()
            .collect())
    }

    fn document(&self, sha256: &Hash) -> Result<Option<Vec<u8>>> {
        Ok(self.0.read().unwrap().documents.get(sha256).cloned())
    }

    fn elimination(&self, elimination_id: &str) -> Result<Option<EliminationOrder>> {
        Ok(self
            .0
            .read()
            .unwrap()
            .eliminations
            .get(elimination_id)
            .cloned())
    }

    fn eliminations(&self) -> Result<Vec<EliminationOrder>> {
        Ok(self
            .0
            .read()
            .unwrap()
            .eliminations
            .values()
            .cloned()
            .collect())
    }

    fn content_holders(&self, sha256: &Hash) -> Result<Vec<String>> {
        let inner = self.0.read().unwrap();
        Ok(inner
            .holders
            .range((*sha256, String::new())..)
            .take_while(|(h, _)| h == sha256)
            .map(|(_, id)| id.clone())
            .collect())
    }

    fn inline_blob(&self, sha256: &Hash) -> Result<Option<Vec<u8>>> {
        Ok(self.0.read().unwrap().blobs.get(sha256).cloned())
    }

    fn has_inline_blob(&self, sha256: &Hash) -> Result<bool> {
        Ok(self.0.read().unwrap().blobs.contains_key(sha256))
    }

    fn replica_state(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.0.read().unwrap().replica_states.get(key).cloned())
    }

    fn replica_states(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let inner = self.0.read().unwrap();
        let lower = match after {
            Some(a) => Bound::Excluded(a.to_vec()),
            None => Bound::Included(prefix.to_vec()),
        };
        Ok(inner
            .replica_states
            .range((lower, Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn update_replica_states(
        &self,
        puts: Vec<(Vec<u8>, Vec<u8>)>,
        deletes: Vec<Vec<u8>>,
    ) -> Result<()> {
        let mut inner = self.0.write().unwrap();
        for k in deletes {
            inner.replica_states.remove(&k);
        }
        inner.replica_states.extend(puts);
        Ok(())
    }

    fn put_inline_blob(&self, sha256: &Hash, content: &[u8]) -> Result<()> {
        self.0
            .write()
            .unwrap()
            .blobs
            .insert(*sha256, content.to_vec());
        Ok(())
    }

    fn transfer(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.0.read().unwrap().transfers.get(key).cloned())
    }

    fn put_transfer(&self, key: &str, outcome: &[u8]) -> Result<()> {
        let mut inner = self.0.write().unwrap();
        inner.transfers.insert(key.to_owned(), outcome.to_vec());
        Ok(())
    }

    fn put_sign_in(&self, entry: &SignIn) -> Result<u64> {
        let mut inner = self.0.write().unwrap();
        inner.sign_ins.push(entry.clone());
        Ok(inner.sign_ins.len() as u64 - 1)
    }

    fn sign_ins(&self, before: Option<u64>, limit: usize) -> Result<Vec<(u64, SignIn)>> {
        let inner = self.0.read().unwrap();
        let end = before.map_or(inner.sign_ins.len(), |b| {
            (b as usize).min(inner.sign_ins.len())
        });
        Ok((0..end)
            .rev()
            .take(limit)
            .map(|i| (i as u64, inner.sign_ins[i].clone()))
            .collect())
    }

    fn put_credentials(&self, credentials: &[Credential]) -> Result<()> {
        let mut inner = self.0.write().unwrap();
        for c in credentials {
            inner.credentials.insert(c.serial.clone(), c.clone());
        }
        Ok(())
    }

    fn credentials(&self) -> Result<Vec<Credential>> {
        Ok(self
            .0
            .read()
            .unwrap()
            .credentials
            .values()
            .cloned()
            .collect())
    }
}
