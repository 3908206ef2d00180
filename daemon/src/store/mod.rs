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
use crate::model::{ArchiveEntry, Credential};

/// Everything one sequencer batch makes durable at once.
#[derive(Debug, Default, Clone)]
pub struct CommitBatch {
    /// New log records, by index.
    pub records: Vec<(u64, Vec<u8>)>,
    /// Newly completed perfect subtree nodes (level, index, hash).
    pub nodes: Vec<(u8, u64, Hash)>,
    /// New or updated archives.
    pub archives: Vec<ArchiveEntry>,
    /// Small contents kept in the index, by SHA-256.
    pub inline_blobs: Vec<(Hash, Vec<u8>)>,
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

/// Filters for listing archives.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub originating_agency: Option<String>,
    /// Lowercase substring of the title.
    pub title_contains: Option<String>,
}

impl ListFilter {
    pub fn matches(&self, entry: &ArchiveEntry) -> bool {
        self.originating_agency
            .as_ref()
            .is_none_or(|a| &entry.metadata.originating_agency == a)
            && self
                .title_contains
                .as_ref()
                .is_none_or(|t| entry.metadata.title.to_lowercase().contains(t))
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
    fn inline_blob(&self, sha256: &Hash) -> Result<Option<Vec<u8>>>;
    fn has_inline_blob(&self, sha256: &Hash) -> Result<bool>;
    /// Adds or updates credentials in the registry, durably.
    fn put_credentials(&self, credentials: &[Credential]) -> Result<()>;
    /// Every credential in the registry.
    fn credentials(&self) -> Result<Vec<Credential>>;
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
