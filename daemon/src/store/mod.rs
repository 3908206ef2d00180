//! The index: records, tree nodes, archives, checkpoints and small blobs.
//!
//! Only this module touches RocksDB. The rest of the daemon sees the narrow
//! [`Store`] trait, shaped by what it needs; [`MemoryStore`] implements the
//! same trait for tests, and one conformance suite (`conformance.rs`) runs
//! against both.

mod memory;
mod rocks;

#[cfg(test)]
mod conformance;

use minutier_seal::tree::NodeReader;
use minutier_seal::Hash;

pub use memory::MemoryStore;
pub use rocks::RocksStore;

use crate::error::{Error, Result};
use crate::metadata::{Date, FinalAction};
use crate::model::{ArchiveEntry, Credential, EliminationOrder, SignIn};

/// A new log record and what the index files it under.
#[derive(Debug, Clone)]
pub struct LogEntry {
    pub index: u64,
    /// The record's exact bytes.
    pub record: Vec<u8>,
    /// The archive whose chain it extends.
    pub archive_id: String,
    /// A read of content or metadata, listed in the access journal.
    pub access: bool,
}

/// Everything one sequencer batch makes durable at once.
#[derive(Debug, Default, Clone)]
pub struct CommitBatch {
    /// New log records, in index order.
    pub records: Vec<LogEntry>,
    /// Newly completed perfect subtree nodes (level, index, hash).
    pub nodes: Vec<(u8, u64, Hash)>,
    /// New or updated archives.
    pub archives: Vec<ArchiveEntry>,
    /// Small contents kept in the index, by SHA-256.
    pub inline_blobs: Vec<(Hash, Vec<u8>)>,
    /// Small contents destroyed by an elimination.
    pub removed_inline_blobs: Vec<Hash>,
    /// Which archives hold which content: (content SHA-256, archive id).
    /// Content is deleted only when no archive holds it any more.
    pub holders_added: Vec<(Hash, String)>,
    pub holders_removed: Vec<(Hash, String)>,
    /// The canonical JSON documents records commit to, by SHA-256.
    pub documents: Vec<(Hash, Vec<u8>)>,
    /// New or updated elimination orders.
    pub eliminations: Vec<EliminationOrder>,
    /// Replication state written with the batch (its queue entries).
    pub replica_states: Vec<(Vec<u8>, Vec<u8>)>,
    /// The tree size once this batch is applied.
    pub tree_size: u64,
    /// The signed checkpoint of that tree, stored with it and made the
    /// latest in the same atomic write.
    pub checkpoint: String,
}

/// What survives a restart about the log itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogState {
    pub origin: Option<String>,
    pub tree_size: u64,
    /// Latest signed checkpoint: (size, note text).
    pub checkpoint: Option<(u64, String)>,
}

/// Filters for listing archives; every filter set must match.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub originating_agency: Option<String>,
    /// Lowercase substring of the title.
    pub title_contains: Option<String>,
    /// Lowercase substring of the title, description or a keyword.
    pub text_contains: Option<String>,
    /// A keyword, compared without case.
    pub keyword: Option<String>,
    /// The archive's dates (start to end) overlap this range.
    pub dates_from: Option<Date>,
    pub dates_to: Option<Date>,
    /// The appraisal rule's identifier, exactly.
    pub rule_id: Option<String>,
    pub final_action: Option<FinalAction>,
    /// Leave out eliminated archives.
    pub live_only: bool,
}

impl ListFilter {
    pub fn matches(&self, entry: &ArchiveEntry) -> bool {
        let m = &entry.metadata;
        let contains = |haystack: &str, needle: &str| haystack.to_lowercase().contains(needle);
        let appraisal = m.rules.appraisal.as_ref();
        self.originating_agency
            .as_ref()
            .is_none_or(|a| &m.originating_agency == a)
            && self
                .title_contains
                .as_ref()
                .is_none_or(|t| contains(&m.title, t))
            && self.text_contains.as_ref().is_none_or(|t| {
                contains(&m.title, t)
                    || contains(&m.description, t)
                    || m.keywords.iter().any(|k| contains(k, t))
            })
            && self.keyword.as_ref().is_none_or(|k| {
                m.keywords
                    .iter()
                    .any(|w| w.to_lowercase() == k.to_lowercase())
            })
            && self
                .dates_from
                .is_none_or(|from| m.end_date.or(m.start_date).is_some_and(|d| d >= from))
            && self
                .dates_to
                .is_none_or(|to| m.start_date.or(m.end_date).is_some_and(|d| d <= to))
            && self
                .rule_id
                .as_ref()
                .is_none_or(|r| appraisal.is_some_and(|a| &a.rule_id == r))
            && self
                .final_action
                .is_none_or(|f| appraisal.is_some_and(|a| a.final_action == f))
            && (!self.live_only || !entry.is_eliminated())
    }
}

/// The index, as the daemon needs it. Every write is atomic and synced
/// before it returns.
pub trait Store: Send + Sync + 'static {
    /// Origin, tree size and latest checkpoint.
    fn log_state(&self) -> Result<LogState>;
    /// Records the log's origin (first start only).
    fn set_origin(&self, origin: &str) -> Result<()>;
    /// Applies one batch, its checkpoint included, atomically and durably:
    /// all of it or none.
    fn commit(&self, batch: CommitBatch) -> Result<()>;
    /// The checkpoint signed at exactly this size, if any.
    fn checkpoint(&self, size: u64) -> Result<Option<String>>;
    /// Hash of a perfect subtree (see [`NodeReader`]).
    fn node(&self, level: u8, index: u64) -> Result<Option<Hash>>;
    /// Log records in [start, end).
    fn records(&self, start: u64, end: u64) -> Result<Vec<(u64, Vec<u8>)>>;
    fn archive(&self, archive_id: &str) -> Result<Option<ArchiveEntry>>;
    /// Archives in id order, strictly after `after`, at most `limit` that match.
    fn list_archives(
        &self,
        after: Option<&str>,
        limit: usize,
        filter: &ListFilter,
    ) -> Result<Vec<ArchiveEntry>>;
    /// Indices of an archive's records, in log order.
    fn history(&self, archive_id: &str) -> Result<Vec<u64>>;
    /// Indices of access records (reads) after `after`, at most `limit`.
    fn journal(&self, after: Option<u64>, limit: usize) -> Result<Vec<u64>>;
    /// A document some record commits to, by SHA-256.
    fn document(&self, sha256: &Hash) -> Result<Option<Vec<u8>>>;
    fn elimination(&self, elimination_id: &str) -> Result<Option<EliminationOrder>>;
    /// Every elimination order, by id.
    fn eliminations(&self) -> Result<Vec<EliminationOrder>>;
    /// Archives holding this content (live or eliminated: see
    /// [`CommitBatch::holders_removed`]).
    fn content_holders(&self, sha256: &Hash) -> Result<Vec<String>>;
    fn inline_blob(&self, sha256: &Hash) -> Result<Option<Vec<u8>>>;
    fn has_inline_blob(&self, sha256: &Hash) -> Result<bool>;
    /// A replication state entry (queue items, replicas), by key.
    fn replica_state(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// Replication state entries whose key starts with `prefix`, in key
    /// order, strictly after `after`, at most `limit`.
    fn replica_states(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;
    /// Writes and deletes replication state entries in one synced write.
    fn update_replica_states(
        &self,
        puts: Vec<(Vec<u8>, Vec<u8>)>,
        deletes: Vec<Vec<u8>>,
    ) -> Result<()>;
    /// Writes or removes a small content kept in the index (repairs).
    fn put_inline_blob(&self, sha256: &Hash, content: &[u8]) -> Result<()>;
    /// Adds or updates credentials in the registry, durably.
    fn put_credentials(&self, credentials: &[Credential]) -> Result<()>;
    /// Every credential in the registry.
    fn credentials(&self) -> Result<Vec<Credential>>;
    /// The outcome of a SEDA transfer (see `archive::import`), by key.
    fn transfer(&self, key: &str) -> Result<Option<Vec<u8>>>;
    /// Records or replaces a transfer's outcome, durably.
    fn put_transfer(&self, key: &str, outcome: &[u8]) -> Result<()>;
    /// Appends a line to the console's sign-in journal, durably; returns
    /// its number (increasing).
    fn put_sign_in(&self, entry: &SignIn) -> Result<u64>;
    /// The sign-in journal, newest first: lines numbered below `before`
    /// (all when `None`), at most `limit`.
    fn sign_ins(&self, before: Option<u64>, limit: usize) -> Result<Vec<(u64, SignIn)>>;
}

/// Reads the tree through a store, for proof generation.
pub struct TreeReader<'a>(pub &'a dyn Store);

impl NodeReader for TreeReader<'_> {
    type Error = Error;
    fn node(&self, level: u8, index: u64) -> Result<Hash> {
        self.0.node(level, index)?.ok_or_else(|| {
            Error::Storage(format!(
                "tree node (level {level}, index {index}) is missing from the index"
            ))
        })
    }
}

/// A record by index, or NOT_FOUND.
pub fn record(store: &dyn Store, index: u64) -> Result<Vec<u8>> {
    store
        .records(index, index + 1)?
        .pop()
        .map(|(_, r)| r)
        .ok_or_else(|| Error::NotFound(format!("no record at index {index}")))
}
