//! [`Store`] on RocksDB: one column family per kind of data, every write a
//! single synced `WriteBatch`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use minutier_seal::Hash;
use rocksdb::{
    BlockBasedOptions, ColumnFamilyDescriptor, DBCompressionType, Direction, IteratorMode, Options,
    WriteBatch, WriteOptions, DB,
};

use super::{CommitBatch, ListFilter, LogState, Store};
use crate::error::{Error, Result};
use crate::model::{ArchiveEntry, Credential, EliminationOrder, SignIn};

const CF_RECORDS: &str = "records";
const CF_NODES: &str = "nodes";
const CF_ARCHIVES: &str = "archives";
const CF_CHECKPOINTS: &str = "checkpoints";
const CF_BLOBS: &str = "blobs";
const CF_CREDENTIALS: &str = "credentials";
/// archive id, 0x00, record index (big endian) -> empty: each archive's chain.
const CF_HISTORY: &str = "history";
/// record index -> empty, for reads: the access journal.
const CF_JOURNAL: &str = "journal";
/// SHA-256 -> canonical JSON that records commit to.
const CF_DOCUMENTS: &str = "documents";
const CF_ELIMINATIONS: &str = "eliminations";
/// content SHA-256 ‖ archive id -> empty.
const CF_HOLDERS: &str = "holders";
/// Replication: queue items and what the bucket holds (replication module).
const CF_REPLICATION: &str = "replication";
/// Outcomes of SEDA transfers, accepted or rejected, by agency and message
/// identifier: what a transferring system asks for afterwards.
const CF_TRANSFERS: &str = "transfers";
/// The console's sign-in journal: number (big endian) -> JSON. Not in
/// [`ALL_CFS`]: indexes written before the console have none, and the
/// offline audit does not read it.
const CF_SIGN_INS: &str = "sign_ins";

/// Every column family, for opening read-only.
const ALL_CFS: [&str; 13] = [
    CF_RECORDS,
    CF_NODES,
    CF_ARCHIVES,
    CF_CHECKPOINTS,
    CF_BLOBS,
    CF_CREDENTIALS,
    CF_HISTORY,
    CF_JOURNAL,
    CF_DOCUMENTS,
    CF_ELIMINATIONS,
    CF_HOLDERS,
    CF_REPLICATION,
    CF_TRANSFERS,
];

const META_ORIGIN: &[u8] = b"origin";
const META_TREE_SIZE: &[u8] = b"tree-size";
const META_CHECKPOINT: &[u8] = b"checkpoint-size";

/// The RocksDB-backed index.
pub struct RocksStore {
    db: DB,
    nodes: NodeCache,
    next_sign_in: AtomicU64,
}

/// Tree nodes never change once written, and every proof reads the ones
/// near the tree's right edge: keep the recent ones in memory.
///
/// Two generations: lookups check both, inserts go to the young one; when
/// it is full, it becomes the old one and the old one is dropped. A node
/// read from the old generation is promoted, so hot nodes survive.
struct NodeCache {
    generations: Mutex<Generations>,
}

/// (young, old) maps of (level, index) to node hash.
type Generations = (HashMap<(u8, u64), Hash>, HashMap<(u8, u64), Hash>);

const NODE_CACHE_GENERATION: usize = 1 << 17;

impl NodeCache {
    fn new() -> Self {
        NodeCache {
            generations: Mutex::new((HashMap::new(), HashMap::new())),
        }
    }

    fn get(&self, key: (u8, u64)) -> Option<Hash> {
        let mut g = self.generations.lock().unwrap();
        if let Some(h) = g.0.get(&key) {
            return Some(*h);
        }
        let h = *g.1.get(&key)?;
        Self::insert_locked(&mut g, key, h);
        Some(h)
    }

    fn insert(&self, nodes: impl IntoIterator<Item = ((u8, u64), Hash)>) {
        let mut g = self.generations.lock().unwrap();
        for (key, h) in nodes {
            Self::insert_locked(&mut g, key, h);
        }
    }

    fn insert_locked(g: &mut Generations, key: (u8, u64), h: Hash) {
        if g.0.len() >= NODE_CACHE_GENERATION {
            g.1 = std::mem::take(&mut g.0);
        }
        g.0.insert(key, h);
    }
}

fn node_key(level: u8, index: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = level;
    k[1..].copy_from_slice(&index.to_be_bytes());
    k
}

fn be_u64(bytes: &[u8], what: &str) -> Result<u64> {
    let arr: [u8; 8] = bytes
        .try_into()
        .map_err(|_| Error::Storage(format!("corrupt {what}: {} bytes", bytes.len())))?;
    Ok(u64::from_be_bytes(arr))
}

impl RocksStore {
    /// Opens (or creates) the index under `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let mut db_opts = Options::default();
        db_opts.create_if_missing(true);
        db_opts.create_missing_column_families(true);
        db_opts.set_max_background_jobs(2);
        db_opts.set_keep_log_file_num(4);
        // A column family written rarely (credentials, holds...) keeps every
        // write-ahead log file since its last flush alive, and a start after
        // a crash replays them all: a million records left a gigabyte of log
        // and a ten-second start. Past this size the families holding the
        // oldest log file are flushed, which bounds that replay (0.6 s
        // after SIGKILL with a million records). Not lower: at 16 MiB a
        // burst of small documents, which live in the index, was flushed
        // and compacted while it arrived, a fifth of the ingest's speed.
        db_opts.set_max_total_wal_size(64 << 20);

        let cf = |name: &str, compressed: bool, point_lookups: bool| {
            let mut o = Options::default();
            if compressed {
                // LZ4 where data is written while ingesting (flushes, upper
                // levels), zstd where it settles: ingest stays cheap, and
                // what is kept for decades is compressed well.
                // Flushes (level 0) are not compressed at all: a burst
                // of documents is flushed while it is being ingested, and
                // the first compaction compresses it anyway.
                use DBCompressionType::{Lz4, None as Raw};
                o.set_compression_per_level(&[Raw, Lz4, Lz4, Lz4, Lz4, Lz4, Lz4]);
                o.set_bottommost_compression_type(DBCompressionType::Zstd);
            } else {
                o.set_compression_type(DBCompressionType::None);
            }
            if point_lookups {
                let mut table = BlockBasedOptions::default();
                table.set_bloom_filter(10.0, false);
                o.set_block_based_table_factory(&table);
                // "Is this content already stored?" is asked of every new
                // document; let the memtable answer "no" without a search.
                o.set_memtable_whole_key_filtering(true);
                o.set_memtable_prefix_bloom_ratio(0.05);
            }
            ColumnFamilyDescriptor::new(name, o)
        };
        let cfs = vec![
            cf(CF_RECORDS, true, false),
            // Hashes do not compress; they are read by point lookups.
            cf(CF_NODES, false, true),
            cf(CF_ARCHIVES, true, true),
            cf(CF_CHECKPOINTS, true, false),
            cf(CF_BLOBS, true, true),
            cf(CF_CREDENTIALS, true, false),
            cf(CF_HISTORY, true, false),
            cf(CF_JOURNAL, false, false),
            cf(CF_DOCUMENTS, true, true),
            cf(CF_ELIMINATIONS, true, false),
            cf(CF_HOLDERS, true, false),
            cf(CF_REPLICATION, true, false),
            cf(CF_TRANSFERS, true, false),
            cf(CF_SIGN_INS, true, false),
        ];
        let db = DB::open_cf_descriptors(&db_opts, path, cfs)?;
        let next_sign_in = match db
            .iterator_cf(
                db.cf_handle(CF_SIGN_INS).expect("opened"),
                IteratorMode::End,
            )
            .next()
        {
            Some(item) => be_u64(&item?.0, "sign-in key")? + 1,
            None => 0,
        };
        Ok(RocksStore {
            db,
            nodes: NodeCache::new(),
            next_sign_in: AtomicU64::new(next_sign_in),
        })
    }

    /// Opens the index under `path` read-only, for an offline audit: nothing
    /// is created, written or compacted, and the write-ahead log is replayed
    /// in memory only. RocksDB takes no lock in this mode, so the daemon must
    /// be stopped (or the audit run on a copy of a stopped data directory):
    /// an index that a running `minutierd` holds is refused.
    pub fn open_read_only(path: &Path) -> Result<Self> {
        if !path.join("CURRENT").is_file() {
            return Err(Error::NotFound(format!(
                "{} holds no index (no CURRENT file): not a Minutier data directory's index",
                path.display()
            )));
        }
        if let Some(pid) = lock_holder(&path.join("LOCK")) {
            return Err(Error::FailedPrecondition(format!(
                "the index {} is in use by a running process (pid {pid}, normally minutierd): \
                 stop the daemon first, or audit a copy of the data directory taken while it \
                 was stopped",
                path.display()
            )));
        }
        let opts = Options::default();
        let present = DB::list_cf(&opts, path)?;
        for name in ALL_CFS {
            if !present.iter().any(|p| p == name) {
                return Err(Error::Storage(format!(
                    "the index {} has no column family {name:?}: it is damaged, or was not \
                     written by minutierd",
                    path.display()
                )));
            }
        }
        let db = DB::open_cf_for_read_only(&opts, path, &present, false)?;
        Ok(RocksStore {
            db,
            nodes: NodeCache::new(),
            next_sign_in: AtomicU64::new(0),
        })
    }

    /// The sizes of every stored checkpoint, in increasing order.
    pub fn checkpoint_sizes(&self) -> Result<Vec<u64>> {
        self.db
            .iterator_cf(self.cf(CF_CHECKPOINTS), IteratorMode::Start)
            .map(|item| be_u64(&item?.0, "checkpoint key"))
            .collect()
    }

    /// Archive entries in key order, strictly after `after`, at most
    /// `limit`: each key with its entry decoded, or the decoding error (an
    /// audit reports a damaged entry and goes on).
    #[allow(clippy::type_complexity)]
    pub fn archive_entries(
        &self,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Result<ArchiveEntry>)>> {
        let mode = match after {
            Some(a) => IteratorMode::From(a, Direction::Forward),
            None => IteratorMode::Start,
        };
        let mut out = Vec::new();
        for item in self.db.iterator_cf(self.cf(CF_ARCHIVES), mode) {
            let (k, v) = item?;
            if after.is_some_and(|a| a == &*k) {
                continue;
            }
            if out.len() >= limit {
                break;
            }
            out.push((k.into_vec(), decode_archive(&v)));
        }
        Ok(out)
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("column family created at open")
    }

    fn write_synced(&self, batch: WriteBatch) -> Result<()> {
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        self.db.write_opt(batch, &opts)?;
        Ok(())
    }
}

impl Store for RocksStore {
    fn log_state(&self) -> Result<LogState> {
        let origin = self
            .db
            .get(META_ORIGIN)?
            .map(|o| String::from_utf8(o).map_err(|_| Error::Storage("corrupt origin".into())))
            .transpose()?;
        let tree_size = match self.db.get(META_TREE_SIZE)? {
            Some(b) => be_u64(&b, "tree size")?,
            None => 0,
        };
        let checkpoint = match self.db.get(META_CHECKPOINT)? {
            Some(b) => {
                let size = be_u64(&b, "checkpoint size")?;
                let text = self.checkpoint(size)?.ok_or_else(|| {
                    Error::Storage(format!("latest checkpoint (size {size}) is missing"))
                })?;
                Some((size, text))
            }
            None => None,
        };
        Ok(LogState {
            origin,
            tree_size,
            checkpoint,
        })
    }

    fn set_origin(&self, origin: &str) -> Result<()> {
        let mut b = WriteBatch::default();
        b.put(META_ORIGIN, origin.as_bytes());
        self.write_synced(b)
    }

    fn commit(&self, batch: CommitBatch) -> Result<()> {
        let mut b = WriteBatch::default();
        let (records, history, journal) = (
            self.cf(CF_RECORDS),
            self.cf(CF_HISTORY),
            self.cf(CF_JOURNAL),
        );
        for e in &batch.records {
            b.put_cf(records, e.index.to_be_bytes(), &e.record);
            b.put_cf(history, history_key(&e.archive_id, e.index), []);
            if e.access {
                b.put_cf(journal, e.index.to_be_bytes(), []);
            }
        }
        let nodes = self.cf(CF_NODES);
        for (level, index, hash) in &batch.nodes {
            b.put_cf(nodes, node_key(*level, *index), hash);
        }
        let archives = self.cf(CF_ARCHIVES);
        for entry in &batch.archives {
            let json = serde_json::to_vec(entry).expect("archive entries always serialise");
            b.put_cf(archives, entry.archive_id.as_bytes(), json);
        }
        let blobs = self.cf(CF_BLOBS);
        for (sha, content) in &batch.inline_blobs {
            b.put_cf(blobs, sha, content);
        }
        for sha in &batch.removed_inline_blobs {
            b.delete_cf(blobs, sha);
        }
        let holders = self.cf(CF_HOLDERS);
        for (sha, id) in &batch.holders_added {
            b.put_cf(holders, holder_key(sha, id), []);
        }
        for (sha, id) in &batch.holders_removed {
            b.delete_cf(holders, holder_key(sha, id));
        }
        let documents = self.cf(CF_DOCUMENTS);
        for (sha, json) in &batch.documents {
            b.put_cf(documents, sha, json);
        }
        let replication = self.cf(CF_REPLICATION);
        for (k, v) in &batch.replica_states {
            b.put_cf(replication, k, v);
        }
        let eliminations = self.cf(CF_ELIMINATIONS);
        for order in &batch.eliminations {
            let json = serde_json::to_vec(order).expect("orders always serialise");
            b.put_cf(eliminations, order.elimination_id.as_bytes(), json);
        }
        let size = batch.tree_size.to_be_bytes();
        b.put(META_TREE_SIZE, size);
        b.put_cf(self.cf(CF_CHECKPOINTS), size, batch.checkpoint.as_bytes());
        b.put(META_CHECKPOINT, size);
        self.write_synced(b)?;
        // Only once durable: the cache never holds what the disk does not.
        self.nodes
            .insert(batch.nodes.iter().map(|(l, i, h)| ((*l, *i), *h)));
        Ok(())
    }

    fn checkpoint(&self, size: u64) -> Result<Option<String>> {
        self.db
            .get_cf(self.cf(CF_CHECKPOINTS), size.to_be_bytes())?
            .map(|t| {
                String::from_utf8(t)
                    .map_err(|_| Error::Storage(format!("checkpoint at size {size} is not UTF-8")))
            })
            .transpose()
    }

    fn node(&self, level: u8, index: u64) -> Result<Option<Hash>> {
        if let Some(h) = self.nodes.get((level, index)) {
            return Ok(Some(h));
        }
        let key = node_key(level, index);
        let Some(value) = self.db.get_pinned_cf(self.cf(CF_NODES), key)? else {
            return Ok(None);
        };
        let h: Hash = value.as_ref().try_into().map_err(|_| {
            Error::Storage(format!("corrupt tree node (level {level}, index {index})"))
        })?;
        self.nodes.insert([((level, index), h)]);
        Ok(Some(h))
    }

    fn records(&self, start: u64, end: u64) -> Result<Vec<(u64, Vec<u8>)>> {
        let key = start.to_be_bytes();
        let iter = self.db.iterator_cf(
            self.cf(CF_RECORDS),
            IteratorMode::From(&key, Direction::Forward),
        );
        let mut out = Vec::new();
        for item in iter {
            let (k, v) = item?;
            let index = be_u64(&k, "record key")?;
            if index >= end {
                break;
            }
            out.push((index, v.into_vec()));
        }
        Ok(out)
    }

    fn archive(&self, archive_id: &str) -> Result<Option<ArchiveEntry>> {
        self.db
            .get_pinned_cf(self.cf(CF_ARCHIVES), archive_id.as_bytes())?
            .map(|v| decode_archive(&v))
            .transpose()
    }

    fn list_archives(
        &self,
        after: Option<&str>,
        limit: usize,
        filter: &ListFilter,
    ) -> Result<Vec<ArchiveEntry>> {
        let mode = match after {
            Some(a) => IteratorMode::From(a.as_bytes(), Direction::Forward),
            None => IteratorMode::Start,
        };
        let mut out = Vec::new();
        for item in self.db.iterator_cf(self.cf(CF_ARCHIVES), mode) {
            let (k, v) = item?;
            if after.is_some_and(|a| a.as_bytes() == &*k) {
                continue;
            }
            let entry = decode_archive(&v)?;
            if filter.matches(&entry) {
                out.push(entry);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    fn history(&self, archive_id: &str) -> Result<Vec<u64>> {
        let prefix = history_key(archive_id, 0);
        let prefix = &prefix[..prefix.len() - 8];
        let mut out = Vec::new();
        let iter = self.db.iterator_cf(
            self.cf(CF_HISTORY),
            IteratorMode::From(prefix, Direction::Forward),
        );
        for item in iter {
            let (k, _) = item?;
            if !k.starts_with(prefix) || k.len() != prefix.len() + 8 {
                break;
            }
            out.push(be_u64(&k[prefix.len()..], "history key")?);
        }
        Ok(out)
    }

    fn journal(&self, after: Option<u64>, limit: usize) -> Result<Vec<u64>> {
        let start = after.map_or(0, |a| a.saturating_add(1)).to_be_bytes();
        let mut out = Vec::new();
        let iter = self.db.iterator_cf(
            self.cf(CF_JOURNAL),
            IteratorMode::From(&start, Direction::Forward),
        );
        for item in iter.take(limit) {
            let (k, _) = item?;
            let index = be_u64(&k, "journal key")?;
            if after.is_some_and(|a| index <= a) {
                continue;
            }
            out.push(index);
        }
        Ok(out)
    }

    fn document(&self, sha256: &Hash) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get_cf(self.cf(CF_DOCUMENTS), sha256)?)
    }

    fn elimination(&self, elimination_id: &str) -> Result<Option<EliminationOrder>> {
        self.db
            .get_pinned_cf(self.cf(CF_ELIMINATIONS), elimination_id.as_bytes())?
            .map(|v| decode_elimination(&v))
            .transpose()
    }

    fn eliminations(&self) -> Result<Vec<EliminationOrder>> {
        self.db
            .iterator_cf(self.cf(CF_ELIMINATIONS), IteratorMode::Start)
            .map(|item| decode_elimination(&item?.1))
            .collect()
    }

    fn content_holders(&self, sha256: &Hash) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let iter = self.db.iterator_cf(
            self.cf(CF_HOLDERS),
            IteratorMode::From(sha256, Direction::Forward),
        );
        for item in iter {
            let (k, _) = item?;
            if !k.starts_with(sha256) {
                break;
            }
            out.push(
                String::from_utf8(k[32..].to_vec())
                    .map_err(|_| Error::Storage("corrupt content holder key".into()))?,
            );
        }
        Ok(out)
    }

    fn inline_blob(&self, sha256: &Hash) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get_cf(self.cf(CF_BLOBS), sha256)?)
    }

    fn has_inline_blob(&self, sha256: &Hash) -> Result<bool> {
        Ok(self.db.get_pinned_cf(self.cf(CF_BLOBS), sha256)?.is_some())
    }

    fn replica_state(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get_cf(self.cf(CF_REPLICATION), key)?)
    }

    fn replica_states(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let start = after.unwrap_or(prefix);
        let mut out = Vec::new();
        let iter = self.db.iterator_cf(
            self.cf(CF_REPLICATION),
            IteratorMode::From(start, Direction::Forward),
        );
        for item in iter {
            let (k, v) = item?;
            if !k.starts_with(prefix) || out.len() >= limit {
                break;
            }
            if after.is_some_and(|a| a == &*k) {
                continue;
            }
            out.push((k.into_vec(), v.into_vec()));
        }
        Ok(out)
    }

    fn update_replica_states(
        &self,
        puts: Vec<(Vec<u8>, Vec<u8>)>,
        deletes: Vec<Vec<u8>>,
    ) -> Result<()> {
        let mut b = WriteBatch::default();
        let cf = self.cf(CF_REPLICATION);
        for k in deletes {
            b.delete_cf(cf, k);
        }
        for (k, v) in puts {
            b.put_cf(cf, k, v);
        }
        self.write_synced(b)
    }

    fn put_inline_blob(&self, sha256: &Hash, content: &[u8]) -> Result<()> {
        let mut b = WriteBatch::default();
        b.put_cf(self.cf(CF_BLOBS), sha256, content);
        self.write_synced(b)
    }

    fn put_credentials(&self, credentials: &[Credential]) -> Result<()> {
        let mut b = WriteBatch::default();
        let cf = self.cf(CF_CREDENTIALS);
        for c in credentials {
            let json = serde_json::to_vec(c).expect("credentials always serialise");
            b.put_cf(cf, c.serial.as_bytes(), json);
        }
        self.write_synced(b)
    }

    fn credentials(&self) -> Result<Vec<Credential>> {
        self.db
            .iterator_cf(self.cf(CF_CREDENTIALS), IteratorMode::Start)
            .map(|item| {
                let (_, v) = item?;
                serde_json::from_slice(&v)
                    .map_err(|e| Error::Storage(format!("corrupt credential record: {e}")))
            })
            .collect()
    }

    fn transfer(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get_cf(self.cf(CF_TRANSFERS), key.as_bytes())?)
    }

    fn put_transfer(&self, key: &str, outcome: &[u8]) -> Result<()> {
        let mut b = WriteBatch::default();
        b.put_cf(self.cf(CF_TRANSFERS), key.as_bytes(), outcome);
        self.write_synced(b)
    }

    fn put_sign_in(&self, entry: &SignIn) -> Result<u64> {
        let number = self.next_sign_in.fetch_add(1, Ordering::Relaxed);
        let json = serde_json::to_vec(entry).expect("sign-ins always serialise");
        let mut b = WriteBatch::default();
        b.put_cf(self.cf(CF_SIGN_INS), number.to_be_bytes(), json);
        self.write_synced(b)?;
        Ok(number)
    }

    fn sign_ins(&self, before: Option<u64>, limit: usize) -> Result<Vec<(u64, SignIn)>> {
        let start: [u8; 8];
        let mode = match before {
            Some(0) => return Ok(Vec::new()),
            Some(b) => {
                start = (b - 1).to_be_bytes();
                IteratorMode::From(&start, Direction::Reverse)
            }
            None => IteratorMode::End,
        };
        self.db
            .iterator_cf(self.cf(CF_SIGN_INS), mode)
            .take(limit)
            .map(|item| {
                let (k, v) = item?;
                let entry = serde_json::from_slice(&v)
                    .map_err(|e| Error::Storage(format!("corrupt sign-in record: {e}")))?;
                Ok((be_u64(&k, "sign-in key")?, entry))
            })
            .collect()
    }
}

/// The process holding RocksDB's lock on `lock_file` (a POSIX record
/// lock), if any.
fn lock_holder(lock_file: &Path) -> Option<i32> {
    use std::os::fd::AsRawFd;
    let file = std::fs::File::open(lock_file).ok()?;
    // SAFETY: a zeroed `flock` is a valid value; F_GETLK only writes to it.
    let mut query: libc::flock = unsafe { std::mem::zeroed() };
    query.l_type = libc::F_WRLCK as libc::c_short;
    query.l_whence = libc::SEEK_SET as libc::c_short;
    // SAFETY: the descriptor is open for the duration of the call.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut query) };
    (rc == 0 && query.l_type != libc::F_UNLCK as libc::c_short).then_some(query.l_pid)
}

fn history_key(archive_id: &str, index: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(archive_id.len() + 9);
    k.extend_from_slice(archive_id.as_bytes());
    k.push(0);
    k.extend_from_slice(&index.to_be_bytes());
    k
}

fn holder_key(sha256: &Hash, archive_id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(32 + archive_id.len());
    k.extend_from_slice(sha256);
    k.extend_from_slice(archive_id.as_bytes());
    k
}

fn decode_elimination(bytes: &[u8]) -> Result<EliminationOrder> {
    serde_json::from_slice(bytes)
        .map_err(|e| Error::Storage(format!("corrupt elimination order: {e}")))
}

fn decode_archive(bytes: &[u8]) -> Result<ArchiveEntry> {
    serde_json::from_slice(bytes).map_err(|e| Error::Storage(format!("corrupt archive entry: {e}")))
}
