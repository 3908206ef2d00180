//! `minutier audit`: a full offline audit of a data directory, or of a
//! BagIt export (docs/audit.md).
//!
//! Nothing in the data directory is trusted: the index is opened read-only
//! (the daemon stopped) and every record is read once, in log order, to
//! recompute the Merkle tree (checked against the stored tree nodes and
//! against the root of every stored checkpoint, whose signature is checked
//! with the trusted key), every archive's chain (§2.7 of
//! docs/seal-format.md) and every document the records commit to. Then
//! every archive entry is compared with what its records say, every live
//! document is re-hashed, and eliminated ones must be gone. Checkpoints an
//! auditor kept must be checkpoints of this log (a rolled-back data
//! directory fails there), and with a bucket, every replica is decrypted
//! and compared with the data directory.
//!
//! Every finding is collected (the audit does not stop at the first) and
//! names what is wrong and where: record index, archive, blob file,
//! checkpoint size, object name. Memory grows with the number of archives
//! (a few hundred bytes each), not with records or content.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use age::x25519;
use futures::{StreamExt, TryStreamExt};
use minutier_daemon::blobs::BlobStore;
use minutier_daemon::config::Config;
use minutier_daemon::error::Error as StoreError;
use minutier_daemon::model::{ArchiveEntry, BlobLocation};
use minutier_daemon::replication::format::{self, Header, Secrets, Segment};
use minutier_daemon::replication::read_identity;
use minutier_daemon::replication::state::{self, ContentReplica, SecretsReplica, SegmentReplica};
use minutier_daemon::store::{RocksStore, Store};
use minutier_seal::certificate::EliminationCertificate;
use minutier_seal::chain::ChainVerifier;
use minutier_seal::checkpoint::Checkpoint;
use minutier_seal::hash::{self, EMPTY_ROOT};
use minutier_seal::note::{Ed25519Signer, VerifierKey};
use minutier_seal::record::{Record, RecordKind, APPLIANCE_ID};
use minutier_seal::tree::Frontier;
use minutier_seal::verify::SealVerifier;
use minutier_seal::Hash;
use object_store::path::Path as ObjectPath;
use object_store::ObjectStore;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::usage;
use crate::output::{human_bytes, print_json};

/// Records read from the index at a time.
const PAGE: u64 = 4096;
/// Findings listed per kind of check; beyond, they are only counted.
const LISTED_PER_CHECK: u64 = 200;
/// Objects downloaded at once.
const PARALLEL: usize = 4;

/// `minutier audit`'s options (the data directory is the global
/// `--data-dir`).
#[derive(Debug, Clone, clap::Args)]
pub struct AuditArgs {
    /// Audit a BagIt export written by `export --bag` instead of a data
    /// directory (the checks of `verify-bag`).
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with_all = ["checkpoints", "bucket_config", "identity"]
    )]
    pub bag: Option<PathBuf>,
    /// Trusted verifier key, or a file holding it, or every key of the
    /// log, one per line, after key rotations [default: the data
    /// directory's verifier.key, which is then not independent].
    #[arg(long, value_name = "VKEY")]
    pub key: Option<String>,
    /// A checkpoint you kept (`minutier checkpoint -o FILE`): the log must
    /// extend it. Repeat for several.
    #[arg(long = "checkpoint", value_name = "FILE")]
    pub checkpoints: Vec<PathBuf>,
    /// minutierd's configuration, whose [replication] section names the
    /// bucket: every replica is decrypted and checked too.
    #[arg(long, value_name = "FILE")]
    pub bucket_config: Option<PathBuf>,
    /// The age identity that opens the replicas, e.g. the escrow key
    /// [default: the data directory's keys/replica.key].
    #[arg(long, value_name = "FILE", requires = "bucket_config")]
    pub identity: Option<PathBuf>,
}

/// One thing found wrong: which check, where, and what.
#[derive(Debug, Clone, Serialize)]
struct Finding {
    check: &'static str,
    #[serde(rename = "where")]
    place: String,
    message: String,
}

#[derive(Debug, Default)]
struct Findings {
    listed: Vec<Finding>,
    per_check: BTreeMap<&'static str, u64>,
}

impl Findings {
    fn add(&mut self, check: &'static str, place: impl Into<String>, message: impl Into<String>) {
        let n = self.per_check.entry(check).or_default();
        *n += 1;
        if *n <= LISTED_PER_CHECK {
            self.listed.push(Finding {
                check,
                place: place.into(),
                message: message.into(),
            });
        }
    }

    fn total(&self) -> u64 {
        self.per_check.values().sum()
    }

    /// Findings counted but not listed, by check.
    fn unlisted(&self) -> BTreeMap<&'static str, u64> {
        self.per_check
            .iter()
            .filter(|(_, n)| **n > LISTED_PER_CHECK)
            .map(|(c, n)| (*c, n - LISTED_PER_CHECK))
            .collect()
    }
}

/// Progress on stderr: each phase, and within a long one a line every few
/// seconds.
struct Progress {
    last: Instant,
    every: Duration,
}

impl Progress {
    fn new() -> Self {
        let every = if std::io::stderr().is_terminal() {
            Duration::from_secs(1)
        } else {
            Duration::from_secs(5)
        };
        Progress {
            last: Instant::now(),
            every,
        }
    }

    fn phase(&mut self, message: &str) {
        eprintln!("audit: {message}");
        self.last = Instant::now();
    }

    fn tick(&mut self, message: impl FnOnce() -> String) {
        if self.last.elapsed() >= self.every {
            eprintln!("audit: {}", message());
            self.last = Instant::now();
        }
    }
}

/// What the log says about one archive (or the appliance's chain).
struct Summary {
    chain: ChainVerifier,
    /// A chain finding was reported: later links are not checked again.
    broken: bool,
    /// The ingest record: index, time, actor.
    ingest: Option<(u64, u64, String)>,
    content: Hash,
    size: u64,
    /// Index and leaf hash of the latest record.
    head: (u64, Hash),
    count: u64,
    /// What the latest record that commits to the archive's metadata
    /// commits to.
    metadata: Option<Hash>,
    /// The tombstone: index and leaf hash.
    tombstone: Option<(u64, Hash)>,
    /// An entry in the index was found for it.
    has_entry: bool,
}

/// The kept checkpoints and what became of them.
#[derive(Debug, Serialize)]
struct KeptJson {
    file: String,
    size: Option<u64>,
    ok: bool,
}

/// The bucket's part of the report.
#[derive(Debug, Default, Serialize)]
struct BucketJson {
    bucket: String,
    identity: String,
    objects: u64,
    contents: u64,
    segments: u64,
    secrets: u64,
    checkpoints: u64,
    contents_not_yet_replicated: u64,
    records_not_yet_replicated: u64,
}

/// The whole report (`--json`).
#[derive(Debug, Default, Serialize)]
struct AuditJson {
    ok: bool,
    data_dir: String,
    origin: Option<String>,
    /// Where the trusted keys come from.
    key_source: String,
    /// Whether they were given by the auditor (`--key`).
    independent_key: bool,
    records: u64,
    tree_size: u64,
    checkpoints: u64,
    latest_checkpoint: Option<u64>,
    archives: u64,
    live: u64,
    eliminated: u64,
    contents: u64,
    content_bytes: u64,
    eliminations: u64,
    kept_checkpoints: Vec<KeptJson>,
    bucket: Option<BucketJson>,
    findings: Vec<Finding>,
    findings_total: u64,
    /// Findings counted but not listed, by check.
    findings_not_listed: BTreeMap<&'static str, u64>,
    /// Things worth knowing that are not failures.
    notes: Vec<String>,
}

/// `minutier audit`.
pub async fn run(json: bool, data_dir: Option<&Path>, args: AuditArgs) -> anyhow::Result<ExitCode> {
    if let Some(bag) = &args.bag {
        return crate::bag::verify(json, bag, args.key.as_deref());
    }
    let dir = data_dir
        .map(Path::to_owned)
        .unwrap_or_else(crate::client::default_data_dir);
    if !dir.is_dir() {
        return Err(usage(format!(
            "{} is not a directory: give the data directory with --data-dir",
            dir.display()
        )));
    }

    // Inputs first: a problem with them is a usage error (exit 2).
    let (keys, key_source) = match &args.key {
        Some(arg) => {
            let keys = crate::audit::load_keys(arg)?;
            let current = keys.last().expect("load_keys returns at least one key");
            let source = match keys.len() {
                1 => format!("--key ({current})"),
                n => format!("--key ({n} keys, the current one {current})"),
            };
            (keys, source)
        }
        None => {
            let path = dir.join("verifier.key");
            let text = std::fs::read_to_string(&path).map_err(|e| {
                usage(format!(
                    "cannot read {}: {e}; give the log's published key with --key",
                    path.display()
                ))
            })?;
            let keys = minutier_seal::note::parse_verifier_keys(&text)
                .map_err(|e| usage(format!("{}: {e}", path.display())))?;
            (keys, format!("{} (not independent)", path.display()))
        }
    };
    let mut kept = Vec::new();
    for file in &args.checkpoints {
        let text = std::fs::read_to_string(file)
            .map_err(|e| usage(format!("cannot read checkpoint {}: {e}", file.display())))?;
        kept.push((file.display().to_string(), text));
    }
    let bucket_inputs = match &args.bucket_config {
        Some(config) => Some(bucket_inputs(&dir, config, args.identity.as_deref())?),
        None => None,
    };
    let store = RocksStore::open_read_only(&dir.join("index")).map_err(|e| match e {
        StoreError::NotFound(_) | StoreError::FailedPrecondition(_) => usage(e.to_string()),
        other => anyhow::anyhow!("the index cannot be opened: {other}"),
    })?;

    let mut progress = Progress::new();
    progress.phase(&format!("auditing {}", dir.display()));
    if args.key.is_none() {
        eprintln!(
            "warning: no --key given: checking with {}, which comes from the data directory \
             itself; give the key the appliance publishes for an independent audit",
            dir.join("verifier.key").display()
        );
    }
    let mut audit = Audit {
        dir: dir.clone(),
        blobs: BlobStore::open_read_only(&dir.join("blobs")),
        store,
        verifier: SealVerifier::with_keys(keys.clone())
            .map_err(|e| usage(format!("--key: {e}")))?,
        keys,
        findings: Findings::default(),
        progress,
        report: AuditJson {
            data_dir: dir.display().to_string(),
            key_source,
            independent_key: args.key.is_some(),
            ..Default::default()
        },
        archives: HashMap::new(),
        roots: BTreeMap::new(),
        interest: BTreeSet::new(),
        tree_size: 0,
        log_len: 0,
        latest: None,
        owners: HashMap::new(),
    };
    audit.check_keys(args.key.is_some());

    // What the bucket publishes in clear: its checkpoints' sizes are
    // needed while the tree is recomputed.
    let mut bucket = match bucket_inputs {
        Some(inputs) => audit.open_bucket(inputs).await,
        None => None,
    };
    let kept = audit.open_kept(kept);
    audit.audit_log();
    audit.audit_checkpoints();
    audit.audit_kept(kept);
    audit.audit_archives();
    audit.audit_eliminations();
    if let Some(bucket) = bucket.as_mut() {
        audit.audit_bucket(bucket).await;
    }
    audit.report.bucket = bucket.map(|b| b.report);
    Ok(audit.finish(json))
}

/// The bucket's settings and the identity that opens its objects.
struct BucketInputs {
    config: minutier_daemon::replication::ReplicationConfig,
    identity: x25519::Identity,
    identity_source: String,
}

fn bucket_inputs(
    dir: &Path,
    config_path: &Path,
    identity: Option<&Path>,
) -> anyhow::Result<BucketInputs> {
    let config = Config::from_file(config_path).map_err(usage)?;
    let Some(replication) = config.replication else {
        return Err(usage(format!(
            "{} has no [replication] section: --bucket-config needs the bucket's settings",
            config_path.display()
        )));
    };
    replication
        .validate()
        .map_err(|e| usage(format!("{}: {e}", config_path.display())))?;
    let path = identity
        .map(Path::to_owned)
        .unwrap_or_else(|| dir.join("keys/replica.key"));
    let text = std::fs::read_to_string(&path).map_err(|e| {
        usage(format!(
            "cannot read the identity {}: {e}; give the escrow key with --identity",
            path.display()
        ))
    })?;
    let identity = read_identity(&text).map_err(|e| usage(format!("{}: {e}", path.display())))?;
    Ok(BucketInputs {
        config: replication,
        identity,
        identity_source: path.display().to_string(),
    })
}

struct Audit {
    dir: PathBuf,
    store: RocksStore,
    blobs: BlobStore,
    keys: Vec<VerifierKey>,
    verifier: SealVerifier,
    findings: Findings,
    progress: Progress,
    report: AuditJson,
    /// Every archive's summary, by id (and the appliance's chain).
    archives: HashMap<String, Summary>,
    /// Sizes whose root is wanted (stored, kept and published
    /// checkpoints), and the roots recomputed at those sizes.
    interest: BTreeSet<u64>,
    roots: BTreeMap<u64, Hash>,
    /// The log's size as the index states it.
    tree_size: u64,
    /// Record slots read: the size, or beyond if records lie beyond it.
    log_len: u64,
    /// The latest checkpoint's size, per the index.
    latest: Option<u64>,
    /// Content digest → an archive holding it, and whether that one is live.
    owners: HashMap<Hash, (String, bool)>,
}

impl Audit {
    fn find(&mut self, check: &'static str, place: impl Into<String>, message: impl Into<String>) {
        self.findings.add(check, place, message);
    }

    fn keys_text(&self) -> String {
        if self.keys.len() == 1 {
            format!("the trusted key {}", self.keys[0])
        } else {
            format!("the {} trusted keys", self.keys.len())
        }
    }

    /// A checkpoint opened with the trusted keys; one that does not verify
    /// is a finding.
    fn open_checkpoint(
        &mut self,
        check: &'static str,
        place: &str,
        text: &str,
    ) -> Option<Checkpoint> {
        match self.verifier.open_checkpoint(text) {
            Ok(cp) => Some(cp),
            Err(e) => {
                let keys = self.keys_text();
                self.find(
                    check,
                    place,
                    format!("does not verify with {keys} ({e}): it was replaced or altered"),
                );
                None
            }
        }
    }

    /// With `--key`: the data directory's own verifier.key must name only
    /// trusted keys.
    fn check_keys(&mut self, independent: bool) {
        if !independent {
            return;
        }
        let path = self.dir.join("verifier.key");
        let Ok(text) = std::fs::read_to_string(&path) else {
            return;
        };
        match minutier_seal::note::parse_verifier_keys(&text) {
            Ok(local) => {
                for key in local {
                    if !self.keys.contains(&key) {
                        self.find(
                            "keys",
                            "verifier.key",
                            format!(
                                "the data directory's verifier.key names the key {key}, which is \
                                 not among the keys you trust (--key): the key was replaced, or \
                                 --key lacks a key of the log's history"
                            ),
                        );
                    }
                }
            }
            Err(e) => self.find(
                "keys",
                "verifier.key",
                format!("the data directory's verifier.key is unreadable: {e}"),
            ),
        }
    }

    /// Verifies each kept checkpoint; the verified ones join the sizes of
    /// interest.
    fn open_kept(&mut self, kept: Vec<(String, String)>) -> Vec<(String, Option<Checkpoint>)> {
        let mut out = Vec::new();
        for (file, text) in kept {
            match self.verifier.open_checkpoint(&text) {
                Ok(cp) => {
                    self.interest.insert(cp.size);
                    out.push((file, Some(cp)));
                }
                Err(e) => {
                    let keys = self.keys_text();
                    self.find(
                        "kept-checkpoints",
                        file.clone(),
                        format!(
                            "the checkpoint you kept does not verify with {keys}: {e}; it proves \
                             nothing about this log"
                        ),
                    );
                    out.push((file, None));
                }
            }
        }
        out
    }

    /// 1. Every record, in log order: the tree, the documents, the chains.
    fn audit_log(&mut self) {
        self.progress.phase("reading the log");
        // Without the log's state (its latest checkpoint is gone), the
        // records present give the size.
        let (state, known) = match self.store.log_state() {
            Ok(state) => (state, true),
            Err(e) => {
                self.find(
                    "checkpoints",
                    "latest checkpoint",
                    format!("the index's log state cannot be read: {e}"),
                );
                let sizes = self.store.checkpoint_sizes().unwrap_or_default();
                let state = minutier_daemon::store::LogState {
                    tree_size: sizes.last().copied().unwrap_or(0),
                    ..Default::default()
                };
                (state, false)
            }
        };
        self.tree_size = state.tree_size;
        self.report.tree_size = state.tree_size;
        self.latest = state.checkpoint.as_ref().map(|(size, _)| *size);
        self.report.latest_checkpoint = self.latest;
        match &state.origin {
            None if !known => {}
            None => self.find("index", "origin", "the index records no origin for its log"),
            Some(origin) => {
                let name = &self.keys.last().expect("at least one key").name;
                if origin != name {
                    self.find(
                        "keys",
                        "origin",
                        format!(
                            "the index's log is {origin:?}, but the trusted key is that of \
                             {name:?}: this is not the log the key verifies"
                        ),
                    );
                }
            }
        }
        self.report.origin = state.origin.clone();
        match self.store.checkpoint_sizes() {
            Ok(sizes) => self.interest.extend(sizes),
            Err(e) => self.find(
                "index",
                "checkpoints",
                format!("the stored checkpoints cannot be listed: {e}"),
            ),
        }
        self.interest.insert(self.tree_size);
        self.roots.insert(0, EMPTY_ROOT);

        let extras = match self.store.records(self.tree_size, u64::MAX) {
            Ok(extras) => extras,
            Err(e) => {
                self.find(
                    "index",
                    "records",
                    format!("the records cannot be read: {e}"),
                );
                return;
            }
        };
        if !known {
            self.tree_size = extras.last().map_or(self.tree_size, |(i, _)| i + 1);
            self.report.tree_size = self.tree_size;
        }
        let tree_size = self.tree_size;
        for (index, _) in extras.iter().filter(|(i, _)| *i >= tree_size) {
            self.find(
                "log",
                format!("record {index}"),
                format!(
                    "record {index} lies beyond the log's size ({} records): it was added \
                     outside the sequencer, or the log's size was set back",
                    self.tree_size
                ),
            );
        }
        let len = extras.last().map_or(self.tree_size, |(i, _)| i + 1);
        drop(extras);
        self.log_len = len;

        let mut frontier = Frontier::new();
        let mut bad_leaves = BTreeSet::new();
        let mut present = 0u64;
        let mut start = 0u64;
        while start < len {
            let end = start.saturating_add(PAGE).min(len);
            let page = match self.store.records(start, end) {
                Ok(page) => page,
                Err(e) => {
                    self.find(
                        "index",
                        format!("records {start}..{end}"),
                        format!("the records cannot be read: {e}"),
                    );
                    return;
                }
            };
            let mut page = page.into_iter().peekable();
            for index in start..end {
                let bytes = match page.peek() {
                    Some((i, _)) if *i == index => page.next().map(|(_, b)| b),
                    _ => None,
                };
                let stored = self.store.node(0, index).ok().flatten();
                let leaf = match &bytes {
                    Some(bytes) => {
                        present += 1;
                        let leaf = hash::leaf_hash(bytes);
                        match stored {
                            None => self.find(
                                "tree",
                                format!("tree node (level 0, index {index})"),
                                format!("the tree's leaf for record {index} is missing"),
                            ),
                            Some(s) if s != leaf => {
                                bad_leaves.insert(index);
                                let what = describe(bytes);
                                self.find(
                                    "log",
                                    format!("record {index}"),
                                    format!(
                                        "record {index}{what} does not match the leaf hash the \
                                         tree holds for it: the record was changed after it was \
                                         logged"
                                    ),
                                );
                            }
                            Some(_) => {}
                        }
                        leaf
                    }
                    None => {
                        bad_leaves.insert(index);
                        self.find(
                            "log",
                            format!("record {index}"),
                            format!(
                                "record {index} is missing from the index (the log has {len} \
                                 records): it was deleted"
                            ),
                        );
                        stored.unwrap_or([0; 32])
                    }
                };
                for (level, node, h) in frontier.append(leaf) {
                    if level == 0 {
                        continue;
                    }
                    let first = node << level;
                    let last = first + (1u64 << level);
                    if bad_leaves.range(first..last).next().is_some() {
                        continue;
                    }
                    let place = format!("tree node (level {level}, index {node})");
                    match self.store.node(level, node) {
                        Ok(Some(s)) if s == h => {}
                        Ok(Some(_)) => self.find(
                            "tree",
                            place,
                            format!(
                                "differs from the hash of records {first}..{last} under it: the \
                                 stored tree was altered"
                            ),
                        ),
                        Ok(None) => self.find("tree", place, "is missing from the index"),
                        Err(e) => self.find("tree", place, format!("cannot be read: {e}")),
                    }
                }
                let size = index + 1;
                if self.interest.contains(&size) {
                    self.roots.insert(size, frontier.root());
                }
                if let Some(bytes) = bytes {
                    self.record(index, &bytes, leaf);
                }
                self.progress
                    .tick(|| format!("reading the log: record {size} of {len}"));
            }
            start = end;
        }
        self.report.records = present;
        match &state.checkpoint {
            None if known && self.tree_size > 0 => self.find(
                "checkpoints",
                "latest checkpoint",
                format!(
                    "the log has {} records but no latest checkpoint",
                    self.tree_size
                ),
            ),
            Some((size, _)) if *size != self.tree_size => self.find(
                "checkpoints",
                format!("checkpoint {size} (the latest)"),
                format!(
                    "the latest checkpoint covers {size} records, but the log has {}: the \
                     index's state was altered",
                    self.tree_size
                ),
            ),
            _ => {}
        }
    }

    /// One record: its document, and its archive's chain.
    fn record(&mut self, index: u64, bytes: &[u8], leaf: Hash) {
        let record = match Record::decode(bytes) {
            Ok(record) => record,
            Err(e) => {
                self.find(
                    "log",
                    format!("record {index}"),
                    format!("record {index} is not a valid minutier/record/v1: {e}"),
                );
                return;
            }
        };
        self.check_document(index, &record);
        let id = &record.archive_id;
        let summary = self.archives.entry(id.clone()).or_insert_with(|| Summary {
            chain: ChainVerifier::new(id),
            broken: false,
            ingest: None,
            content: record.content_sha256,
            size: record.size,
            head: (index, leaf),
            count: 0,
            metadata: None,
            tombstone: None,
            has_entry: false,
        });
        let mut broke = None;
        if !summary.broken {
            if let Err(e) = summary.chain.push(index, bytes) {
                summary.broken = true;
                broke = Some(e);
            }
        }
        summary.count += 1;
        summary.head = (index, leaf);
        match record.kind {
            RecordKind::Ingest if summary.ingest.is_none() => {
                summary.ingest = Some((index, record.time.0, record.actor.clone()));
                summary.content = record.content_sha256;
                summary.size = record.size;
            }
            RecordKind::EliminationExecuted => summary.tombstone = Some((index, leaf)),
            kind if !kind.is_elimination() && !kind.is_appliance() => {
                summary.metadata = Some(record.metadata_sha256);
            }
            _ => {}
        }
        if let Some(e) = broke {
            let place = if record.archive_id == APPLIANCE_ID {
                "the appliance's chain".to_owned()
            } else {
                format!("archive {}", record.archive_id)
            };
            self.find(
                "chains",
                place,
                format!("the chain breaks at record {index}: {e}"),
            );
        }
    }

    fn check_document(&mut self, index: u64, record: &Record) {
        let digest = record.metadata_sha256;
        let hex = hash::to_hex(&digest);
        let place = format!(
            "document {hex} (record {index}, archive {})",
            record.archive_id
        );
        match self.store.document(&digest) {
            Err(e) => self.find("documents", place, format!("cannot be read: {e}")),
            Ok(None) => self.find(
                "documents",
                place,
                format!(
                    "the document record {index} ({}) commits to is missing from the index",
                    record.kind
                ),
            ),
            Ok(Some(document)) => {
                let actual = hash::sha256(&document);
                if actual != digest {
                    self.find(
                        "documents",
                        place,
                        format!(
                            "the stored document that record {index} ({}) commits to does not \
                             match its digest (its SHA-256 is now {}): its content was changed",
                            record.kind,
                            hash::to_hex(&actual)
                        ),
                    );
                } else if record.kind.is_appliance() && document.len() as u64 != record.size {
                    self.find(
                        "documents",
                        place,
                        format!(
                            "the report of record {index} ({}) is {} bytes, the record says {}",
                            record.kind,
                            document.len(),
                            record.size
                        ),
                    );
                }
            }
        }
    }

    /// Every stored checkpoint: signature, size, root.
    fn audit_checkpoints(&mut self) {
        self.progress.phase("checking the stored checkpoints");
        let sizes = match self.store.checkpoint_sizes() {
            Ok(sizes) => sizes,
            Err(_) => return, // reported by audit_log
        };
        self.report.checkpoints = sizes.len() as u64;
        let mut last_match = 0u64;
        let mut mismatches: Vec<(u64, Hash, Hash)> = Vec::new();
        for (n, size) in sizes.iter().copied().enumerate() {
            self.progress.tick(|| {
                format!(
                    "checking the stored checkpoints: {} of {}",
                    n + 1,
                    sizes.len()
                )
            });
            let place = if Some(size) == self.latest {
                format!("checkpoint {size} (the latest)")
            } else {
                format!("checkpoint {size}")
            };
            let text = match self.store.checkpoint(size) {
                Ok(Some(text)) => text,
                Ok(None) => continue,
                Err(e) => {
                    self.find(
                        "checkpoints",
                        place,
                        format!("cannot be read: {e}: it was replaced or damaged"),
                    );
                    continue;
                }
            };
            let Some(cp) = self.open_checkpoint("checkpoints", &place, &text) else {
                continue;
            };
            if cp.size != size {
                self.find(
                    "checkpoints",
                    place,
                    format!(
                        "is stored under size {size} but is a checkpoint of size {}: an older \
                         checkpoint was put in its place",
                        cp.size
                    ),
                );
                continue;
            }
            match self.roots.get(&size) {
                None => self.find(
                    "checkpoints",
                    place,
                    format!(
                        "covers {size} records, but the index holds only {}: records were removed",
                        self.log_len
                    ),
                ),
                Some(root) if *root != cp.root => mismatches.push((size, cp.root, *root)),
                Some(_) => {
                    if mismatches.is_empty() {
                        last_match = size;
                    }
                }
            }
        }
        if let Some((size, signed, computed)) = mismatches.first().copied() {
            let latest = if Some(size) == self.latest {
                " (the latest)"
            } else {
                ""
            };
            let culprit = if size - last_match == 1 {
                format!("record {last_match} was changed, removed or replaced")
            } else {
                format!("a record among {last_match}..{size} was changed, removed or inserted")
            };
            self.find(
                "checkpoints",
                format!("checkpoint {size}{latest}"),
                format!(
                    "its signed root {} is not the root {} recomputed from records 0..{size}, \
                     while the checkpoint of size {last_match} matches: {culprit} after it was \
                     signed",
                    hash::to_hex(&signed),
                    hash::to_hex(&computed)
                ),
            );
            match &mismatches[1..] {
                [] => {}
                [(only, ..)] => self.find(
                    "checkpoints",
                    format!("checkpoint {only}"),
                    "does not match the recomputed tree either",
                ),
                [(second, ..), .., (last, ..)] => self.find(
                    "checkpoints",
                    format!("checkpoints {second} to {last}"),
                    format!(
                        "these {} later checkpoints do not match the recomputed tree either",
                        mismatches.len() - 1
                    ),
                ),
            }
        }
    }

    /// 4. The checkpoints an auditor kept.
    fn audit_kept(&mut self, kept: Vec<(String, Option<Checkpoint>)>) {
        if kept.is_empty() {
            return;
        }
        self.progress.phase("checking the checkpoints you kept");
        for (file, cp) in kept {
            let Some(cp) = cp else {
                self.report.kept_checkpoints.push(KeptJson {
                    file,
                    size: None,
                    ok: false,
                });
                continue;
            };
            let ok = if cp.size > self.tree_size {
                self.find(
                    "kept-checkpoints",
                    file.clone(),
                    format!(
                        "the log has {} records, but the checkpoint you kept has {} > {}: this \
                         data directory was rolled back or truncated",
                        self.tree_size, cp.size, self.tree_size
                    ),
                );
                false
            } else {
                match self.roots.get(&cp.size) {
                    Some(root) if *root == cp.root => true,
                    Some(root) => {
                        self.find(
                            "kept-checkpoints",
                            file.clone(),
                            format!(
                                "the checkpoint you kept (size {}) has root {}, but this data \
                                 directory's records 0..{} give {}: the log was rewritten",
                                cp.size,
                                hash::to_hex(&cp.root),
                                cp.size,
                                hash::to_hex(root)
                            ),
                        );
                        false
                    }
                    None => {
                        self.find(
                            "kept-checkpoints",
                            file.clone(),
                            format!(
                                "the checkpoint you kept (size {}) cannot be compared: records \
                                 below it are missing",
                                cp.size
                            ),
                        );
                        false
                    }
                }
            };
            self.report.kept_checkpoints.push(KeptJson {
                file,
                size: Some(cp.size),
                ok,
            });
        }
    }

    /// 2 and 3. Every archive entry against its records, and its content.
    fn audit_archives(&mut self) {
        self.progress.phase("checking archives and their contents");
        let mut eliminated: Vec<(Hash, String)> = Vec::new();
        let mut checked: HashMap<(Hash, u8), Option<String>> = HashMap::new();
        let mut after: Option<Vec<u8>> = None;
        let mut n = 0u64;
        loop {
            let page = match self.store.archive_entries(after.as_deref(), 1024) {
                Ok(page) => page,
                Err(e) => {
                    self.find(
                        "index",
                        "archives",
                        format!("the archive entries cannot be read: {e}"),
                    );
                    break;
                }
            };
            let Some((last, _)) = page.last() else {
                break;
            };
            after = Some(last.clone());
            for (key, entry) in page {
                n += 1;
                self.progress
                    .tick(|| format!("checking archives: {n} of about {}", self.archives.len()));
                let key = String::from_utf8_lossy(&key).into_owned();
                let entry = match entry {
                    Ok(entry) => entry,
                    Err(e) => {
                        self.find(
                            "archives",
                            format!("archive {key}"),
                            format!("its entry in the index does not decode: {e}"),
                        );
                        continue;
                    }
                };
                if entry.archive_id != key {
                    self.find(
                        "archives",
                        format!("archive {key}"),
                        format!(
                            "its entry in the index is that of archive {}",
                            entry.archive_id
                        ),
                    );
                }
                self.report.archives += 1;
                if self.check_entry(&key, &entry) {
                    self.report.live += 1;
                    self.owners
                        .insert(entry.content_sha256, (entry.archive_id.clone(), true));
                    self.check_content(&entry, &mut checked);
                } else {
                    self.report.eliminated += 1;
                    self.owners
                        .entry(entry.content_sha256)
                        .or_insert((entry.archive_id.clone(), false));
                    eliminated.push((entry.content_sha256, entry.archive_id.clone()));
                }
            }
        }
        let missing: Vec<(String, u64)> = self
            .archives
            .iter()
            .filter(|(id, s)| !s.has_entry && id.as_str() != APPLIANCE_ID)
            .map(|(id, s)| (id.clone(), s.ingest.as_ref().map_or(s.head.0, |i| i.0)))
            .collect();
        for (id, first) in missing {
            self.find(
                "archives",
                format!("archive {id}"),
                format!(
                    "it has records in the log (from record {first}) but no entry in the index: \
                     its entry was deleted"
                ),
            );
        }
        // An eliminated document must be gone, unless a live archive holds
        // the same content.
        for (sha, id) in eliminated {
            if self.owners.get(&sha).is_some_and(|(_, live)| *live) {
                continue;
            }
            if let Some(location) = self.blobs.find(&sha) {
                let path = self.blob_path(&sha, location);
                self.find(
                    "contents",
                    path,
                    format!("archive {id} was eliminated, but its content is still stored here"),
                );
            }
            if self.store.has_inline_blob(&sha).unwrap_or(false) {
                self.find(
                    "contents",
                    format!("inline content {}", hash::to_hex(&sha)),
                    format!(
                        "archive {id} was eliminated, but its content is still kept in the index"
                    ),
                );
            }
        }
    }

    /// One entry against its archive's records; returns whether the log
    /// says the archive is live.
    fn check_entry(&mut self, key: &str, entry: &ArchiveEntry) -> bool {
        let place = format!("archive {key}");
        let Some(s) = self.archives.get_mut(key) else {
            self.find(
                "archives",
                place,
                "it has an entry in the index but no record in the log",
            );
            return !entry.is_eliminated();
        };
        s.has_entry = true;
        let mut wrong = Vec::new();
        if entry.content_sha256 != s.content || entry.size != s.size {
            wrong.push(format!(
                "its content is {} ({} bytes), but its records say {} ({} bytes)",
                hash::to_hex(&entry.content_sha256),
                entry.size,
                hash::to_hex(&s.content),
                s.size
            ));
        }
        if let Some((index, time, actor)) = &s.ingest {
            if entry.log_index != *index {
                wrong.push(format!(
                    "its entry names record {} as its ingest, but its ingest is record {index}",
                    entry.log_index
                ));
            }
            if entry.ingested_at != *time || &entry.actor != actor {
                wrong.push(format!(
                    "its entry says it was ingested at {} by {:?}, but its ingest record says \
                     {} by {actor:?}",
                    minutier_seal::record::Timestamp(entry.ingested_at),
                    entry.actor,
                    minutier_seal::record::Timestamp(*time)
                ));
            }
        }
        if (entry.head_index, entry.record_hash) != s.head {
            wrong.push(format!(
                "its entry says its latest record is {} ({}), but its chain ends at record {} \
                 ({})",
                entry.head_index,
                hash::to_hex(&entry.record_hash),
                s.head.0,
                hash::to_hex(&s.head.1)
            ));
        }
        if entry.record_count != s.count {
            wrong.push(format!(
                "its entry counts {} records, the log holds {}",
                entry.record_count, s.count
            ));
        }
        if entry.is_eliminated() != s.tombstone.is_some() {
            wrong.push(if s.tombstone.is_some() {
                "the log holds its tombstone, but its entry says it is live".to_owned()
            } else {
                "its entry says it was eliminated, but the log holds no tombstone".to_owned()
            });
        }
        if let Some(committed) = s.metadata {
            if entry.metadata_sha256 != committed {
                wrong.push(format!(
                    "its entry's metadata digest {} is not the one its latest record commits to \
                     ({}): its metadata was changed",
                    hash::to_hex(&entry.metadata_sha256),
                    hash::to_hex(&committed)
                ));
            }
        }
        let digest = entry.metadata.digest();
        if digest != entry.metadata_sha256 {
            wrong.push(format!(
                "its metadata in the index (title {:?}) does not hash to its metadata digest {} \
                 (it hashes to {}): its metadata was changed",
                entry.metadata.title,
                hash::to_hex(&entry.metadata_sha256),
                hash::to_hex(&digest)
            ));
        }
        let live = s.tombstone.is_none();
        for message in wrong {
            self.find("archives", place.clone(), message);
        }
        live
    }

    fn blob_path(&self, sha: &Hash, location: BlobLocation) -> String {
        let path = self.blobs.path(sha, location);
        path.strip_prefix(&self.dir)
            .unwrap_or(&path)
            .display()
            .to_string()
    }

    /// 3. A live archive's content, re-hashed (once per stored copy).
    fn check_content(
        &mut self,
        entry: &ArchiveEntry,
        checked: &mut HashMap<(Hash, u8), Option<String>>,
    ) {
        let sha = entry.content_sha256;
        let place = match entry.blob {
            BlobLocation::Inline => format!("inline content {}", hash::to_hex(&sha)),
            location => self.blob_path(&sha, location),
        };
        if let Some(previous) = checked.get(&(sha, entry.blob as u8)) {
            if let Some(first) = previous {
                self.find(
                    "contents",
                    place,
                    format!(
                        "archive {} shares the damaged content of archive {first}",
                        entry.archive_id
                    ),
                );
            }
            return;
        }
        let outcome: Result<(Hash, u64), String> = match entry.blob {
            BlobLocation::Inline => match self.store.inline_blob(&sha) {
                Ok(Some(bytes)) => Ok((hash::sha256(&bytes), bytes.len() as u64)),
                Ok(None) => Err("is missing from the index".to_owned()),
                Err(e) => Err(format!("cannot be read: {e}")),
            },
            location => {
                let path = self.blobs.path(&sha, location);
                match std::fs::metadata(&path) {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        Err("is missing: the file was deleted".to_owned())
                    }
                    Err(e) => Err(format!("cannot be read: {e}")),
                    Ok(meta) => {
                        if meta.len() != entry.stored_size {
                            self.find(
                                "contents",
                                place.clone(),
                                format!(
                                    "the file is {} bytes, the index recorded {} when archive {} \
                                     was stored: it was altered",
                                    meta.len(),
                                    entry.stored_size,
                                    entry.archive_id
                                ),
                            );
                        }
                        match self.blobs.reader(&sha, location) {
                            Ok(mut reader) => hash_reader(&mut reader)
                                .map_err(|e| format!("cannot be read back: {e}: it is damaged")),
                            Err(e) => Err(format!("cannot be opened: {e}")),
                        }
                    }
                }
            }
        };
        let failure = match outcome {
            Ok((actual, size)) if actual == sha && size == entry.size => {
                self.report.contents += 1;
                self.report.content_bytes += size;
                None
            }
            Ok((actual, size)) => Some(format!(
                "holds {size} bytes with SHA-256 {}, not the {} bytes with SHA-256 {} sealed for \
                 archive {}: it was altered",
                hash::to_hex(&actual),
                entry.size,
                hash::to_hex(&sha),
                entry.archive_id
            )),
            Err(reason) => Some(format!(
                "the content of archive {} {reason}",
                entry.archive_id
            )),
        };
        if let Some(message) = &failure {
            self.find("contents", place, message.clone());
        }
        checked.insert(
            (sha, entry.blob as u8),
            failure.map(|_| entry.archive_id.clone()),
        );
    }

    /// Elimination certificates: each verifies, and names the tombstones
    /// the log holds.
    fn audit_eliminations(&mut self) {
        let orders = match self.store.eliminations() {
            Ok(orders) => orders,
            Err(e) => {
                self.find(
                    "eliminations",
                    "eliminations",
                    format!("the elimination orders cannot be read: {e}"),
                );
                return;
            }
        };
        for order in orders {
            self.report.eliminations += 1;
            let Some(text) = &order.certificate else {
                continue;
            };
            let place = format!("elimination {}", order.elimination_id);
            // The newest key first; the error is the current key's.
            let mut keys = self.keys.iter().rev();
            let current = keys.next().expect("at least one key");
            let verified = keys.fold(EliminationCertificate::verify(text, current), |got, key| {
                got.or_else(|e| EliminationCertificate::verify(text, key).map_err(|_| e))
            });
            let certificate = match verified {
                Ok(c) => c,
                Err(e) => {
                    let keys = self.keys_text();
                    self.find(
                        "eliminations",
                        place,
                        format!("its certificate does not verify with {keys}: {e}"),
                    );
                    continue;
                }
            };
            for line in &certificate.archives {
                let ok = self.archives.get(&line.archive_id).is_some_and(|s| {
                    s.tombstone == Some((line.tombstone_index, line.tombstone_hash))
                        && s.content == line.content_sha256
                        && s.size == line.size
                });
                if !ok {
                    self.find(
                        "eliminations",
                        place.clone(),
                        format!(
                            "its certificate names the tombstone of archive {} at record {} \
                             ({}), which the log does not hold",
                            line.archive_id,
                            line.tombstone_index,
                            hash::to_hex(&line.tombstone_hash)
                        ),
                    );
                }
            }
        }
    }

    /// Lists the bucket and fetches its clear checkpoints, whose sizes join
    /// the sizes of interest.
    async fn open_bucket(&mut self, inputs: BucketInputs) -> Option<BucketAudit> {
        self.progress
            .phase(&format!("listing the bucket {}", inputs.config.bucket));
        let bucket = match inputs.config.object_store() {
            Ok(b) => b,
            Err(e) => {
                self.find("bucket", inputs.config.bucket.clone(), e);
                return None;
            }
        };
        let listed: Result<Vec<_>, _> = bucket.list(None).try_collect().await;
        let listed = match listed {
            Ok(listed) => listed,
            Err(e) => {
                self.find(
                    "bucket",
                    inputs.config.bucket.clone(),
                    format!("cannot list the bucket: {e}"),
                );
                return None;
            }
        };
        let mut objects = Vec::new();
        let mut checkpoints = Vec::new();
        for meta in listed {
            let name = meta.location.to_string();
            if name.starts_with(format::OBJECTS) {
                objects.push(name);
            } else if let Some(size) = name.strip_prefix(format::CHECKPOINTS) {
                let size = size.parse::<u64>().ok();
                checkpoints.push((name, size));
            } else {
                self.report.notes.push(format!(
                    "{name}: an object outside objects/ and checkpoints/, not written by the \
                     appliance (not checked)"
                ));
            }
        }
        let mut fetched = Vec::new();
        for (name, size) in checkpoints {
            let text = match get_all(bucket.as_ref(), &name).await {
                Ok(bytes) => String::from_utf8(bytes).map_err(|_| "it is not text".to_owned()),
                Err(e) => Err(e),
            };
            match (size, &text) {
                (Some(size), Ok(_)) => {
                    self.interest.insert(size);
                }
                (None, _) => {
                    self.find(
                        "bucket",
                        name.clone(),
                        "the name of a checkpoint must be its size in 20 digits",
                    );
                    continue;
                }
                _ => {}
            }
            fetched.push((name, size.unwrap_or(0), text));
        }
        Some(BucketAudit {
            report: BucketJson {
                bucket: inputs.config.bucket.clone(),
                identity: inputs.identity_source.clone(),
                objects: objects.len() as u64,
                checkpoints: fetched.len() as u64,
                ..Default::default()
            },
            bucket,
            identity: inputs.identity,
            identity_source: inputs.identity_source,
            objects,
            checkpoints: fetched,
        })
    }

    /// 5. Every object of the bucket, against the data directory.
    async fn audit_bucket(&mut self, b: &mut BucketAudit) {
        self.progress
            .phase(&format!("checking the replicas in {}", b.report.bucket));
        // The bucket's clear checkpoints.
        for (name, size, text) in std::mem::take(&mut b.checkpoints) {
            let text = match text {
                Ok(text) => text,
                Err(e) => {
                    self.find("bucket", name, format!("cannot be read: {e}"));
                    continue;
                }
            };
            let Some(cp) = self.open_checkpoint("bucket", &name, &text) else {
                continue;
            };
            if cp.size != size {
                self.find(
                    "bucket",
                    name,
                    format!(
                        "is a checkpoint of size {} published under size {size}",
                        cp.size
                    ),
                );
                continue;
            }
            if size > self.tree_size {
                self.find(
                    "bucket",
                    name,
                    format!(
                        "the bucket holds a checkpoint of size {size}, but this data directory's \
                         log has {} records: the data directory was rolled back or truncated",
                        self.tree_size
                    ),
                );
                continue;
            }
            match self.roots.get(&size) {
                Some(root) if *root == cp.root => {}
                _ => self.find(
                    "bucket",
                    name,
                    format!(
                        "does not match this data directory's records 0..{size}: history was \
                         rewritten, here or in the bucket"
                    ),
                ),
            }
        }

        // What the index says the bucket holds.
        let contents: HashMap<Hash, ContentReplica> =
            self.replica_states(state::CONTENTS, |key| key.try_into().ok());
        let segments: BTreeMap<u64, SegmentReplica> = self
            .replica_states(state::SEGMENTS, |key| {
                key.try_into().ok().map(u64::from_be_bytes)
            })
            .into_iter()
            .collect();
        let secrets: Option<SecretsReplica> = self
            .store
            .replica_state(state::SECRETS)
            .ok()
            .flatten()
            .and_then(|v| serde_json::from_slice(&v).ok());
        let through = self
            .store
            .replica_state(state::THROUGH)
            .ok()
            .flatten()
            .and_then(|v| v.try_into().ok().map(u64::from_be_bytes))
            .unwrap_or(0);
        let content_of: HashMap<&str, (Hash, &ContentReplica)> = contents
            .iter()
            .map(|(sha, r)| (r.object.as_str(), (*sha, r)))
            .collect();
        let segment_of: HashMap<&str, (u64, &SegmentReplica)> = segments
            .iter()
            .map(|(from, r)| (r.object.as_str(), (*from, r)))
            .collect();

        let listed: HashSet<String> = b.objects.iter().cloned().collect();
        let mut covered: BTreeMap<u64, u64> = BTreeMap::new();
        let total = b.objects.len();
        let bucket = b.bucket.clone();
        let identity = b.identity.clone();
        let mut fetched = futures::stream::iter(b.objects.clone().into_iter().map(|name| {
            let bucket = bucket.clone();
            let identity = identity.clone();
            async move { fetch(bucket.as_ref(), &identity, name).await }
        }))
        .buffer_unordered(PARALLEL);
        let mut n = 0;
        while let Some(object) = fetched.next().await {
            n += 1;
            self.progress
                .tick(|| format!("checking the replicas: {n} of {total} objects"));
            let name = object.name.clone();
            let opened = match object.opened {
                Ok(opened) => opened,
                Err(e) => {
                    let source = b.identity_source.clone();
                    self.find(
                        "bucket",
                        name,
                        format!("cannot be opened with {source}: {e}"),
                    );
                    continue;
                }
            };
            match opened {
                Opened::Content { claimed, actual } => {
                    b.report.contents += 1;
                    self.check_content_object(&name, &claimed, actual, object.cipher, &content_of);
                }
                Opened::Segment { from, to, segment } => {
                    b.report.segments += 1;
                    if let Some((expected, r)) = segment_of.get(name.as_str()) {
                        if (*expected, r.to) != (from, to) {
                            self.find(
                                "bucket",
                                name.clone(),
                                format!(
                                    "holds the log segment of records {from}..{to}, but the \
                                     index records it as that of records {expected}..{}: the \
                                     replica was swapped or replaced",
                                    r.to
                                ),
                            );
                        }
                    }
                    match segment {
                        Ok(segment) => {
                            if self.check_segment(&name, from, to, &segment) {
                                // A retried upload may have left a shorter
                                // segment from the same record: the longest
                                // one counts, as in a restore.
                                let end = covered.entry(from).or_insert(to);
                                *end = (*end).max(to);
                            }
                        }
                        Err(e) => self.find("bucket", name, e),
                    }
                }
                Opened::Secrets {
                    generation,
                    secrets: s,
                } => {
                    b.report.secrets += 1;
                    if secrets
                        .as_ref()
                        .is_some_and(|r| r.object == name && r.generation != generation)
                    {
                        self.find(
                            "bucket",
                            name.clone(),
                            format!(
                                "holds the secrets of generation {generation}, but the index \
                                 records it as generation {}",
                                secrets.as_ref().map_or(0, |r| r.generation)
                            ),
                        );
                    }
                    match s {
                        Ok(s) => self.check_secrets(&name, &s),
                        Err(e) => self.find("bucket", name, e),
                    }
                }
            }
        }
        drop(fetched);

        // What the index says is in the bucket, and is not.
        for (sha, replica) in &contents {
            if !listed.contains(&replica.object) {
                let owner = self.owner_text(sha);
                self.find(
                    "bucket",
                    replica.object.clone(),
                    format!(
                        "the replica of content {}{owner} is missing from the bucket",
                        hash::to_hex(sha)
                    ),
                );
            }
        }
        for (from, replica) in &segments {
            if !listed.contains(&replica.object) {
                self.find(
                    "bucket",
                    replica.object.clone(),
                    format!(
                        "the replica of the log segment of records {from}..{} is missing from \
                         the bucket",
                        replica.to
                    ),
                );
            }
        }
        if let Some(r) = &secrets {
            if !listed.contains(&r.object) {
                self.find(
                    "bucket",
                    r.object.clone(),
                    "the replica of the appliance's secrets is missing from the bucket",
                );
            }
        }
        let mut next = 0u64;
        for (from, to) in &covered {
            if *from > next {
                self.find(
                    "bucket",
                    format!("records {next}..{from}"),
                    format!("no log segment in the bucket holds records {next}..{from}"),
                );
            }
            next = next.max(*to);
        }
        if next < through.min(self.tree_size) {
            self.find(
                "bucket",
                format!("records {next}..{through}"),
                format!(
                    "the index says records up to {through} were replicated, but no log segment \
                     in the bucket holds records {next}..{through}"
                ),
            );
        }
        b.report.records_not_yet_replicated = self.tree_size.saturating_sub(next);
        b.report.contents_not_yet_replicated = self
            .owners
            .iter()
            .filter(|(sha, (_, live))| *live && !contents.contains_key(*sha))
            .count() as u64;
        if b.report.contents_not_yet_replicated > 0 || b.report.records_not_yet_replicated > 0 {
            self.report.notes.push(format!(
                "not yet in the bucket: {} contents and {} records (replication lag, or \
                 replication stopped)",
                b.report.contents_not_yet_replicated, b.report.records_not_yet_replicated
            ));
        }
    }

    fn owner_text(&self, sha: &Hash) -> String {
        match self.owners.get(sha) {
            Some((id, true)) => format!(" (archive {id})"),
            Some((id, false)) => format!(" (eliminated archive {id})"),
            None => " (no archive of this data directory)".to_owned(),
        }
    }

    fn check_content_object(
        &mut self,
        name: &str,
        claimed: &str,
        actual: Hash,
        cipher: (u64, Hash),
        content_of: &HashMap<&str, (Hash, &ContentReplica)>,
    ) {
        let claimed = match hash::from_hex(claimed) {
            Ok(h) => h,
            Err(_) => {
                self.find(
                    "bucket",
                    name,
                    format!("its header names a malformed digest {claimed:?}"),
                );
                return;
            }
        };
        if actual != claimed {
            self.find(
                "bucket",
                name,
                format!(
                    "says it holds content {}{} but holds other bytes (SHA-256 {}): it was \
                     replaced or altered",
                    hash::to_hex(&claimed),
                    self.owner_text(&claimed),
                    hash::to_hex(&actual)
                ),
            );
        }
        match content_of.get(name) {
            Some((expected, _)) if *expected != claimed => self.find(
                "bucket",
                name,
                format!(
                    "holds content {}{}, but the index records it as the replica of content \
                     {}{}: the replica was swapped or replaced",
                    hash::to_hex(&claimed),
                    self.owner_text(&claimed),
                    hash::to_hex(expected),
                    self.owner_text(expected)
                ),
            ),
            Some((_, replica)) => {
                if replica.size != cipher.0 || replica.sha256 != hash::to_hex(&cipher.1) {
                    self.find(
                        "bucket",
                        name,
                        format!(
                            "is not the ciphertext uploaded as the replica of content {}{} \
                             ({} bytes, SHA-256 {} recorded; {} bytes, SHA-256 {} now): it was \
                             replaced",
                            hash::to_hex(&claimed),
                            self.owner_text(&claimed),
                            replica.size,
                            replica.sha256,
                            cipher.0,
                            hash::to_hex(&cipher.1)
                        ),
                    );
                }
            }
            None => {
                let owner = self.owner_text(&claimed);
                self.report.notes.push(format!(
                    "{name} holds content {}{owner}, but the index does not record it as a \
                     replica (an interrupted upload, or one awaiting removal)",
                    hash::to_hex(&claimed)
                ));
            }
        }
    }

    /// A log segment against the data directory's records; returns whether
    /// it is sound.
    fn check_segment(&mut self, name: &str, from: u64, to: u64, segment: &Segment) -> bool {
        let records = match segment.record_bytes() {
            Ok(r) => r,
            Err(e) => {
                self.find("bucket", name, e);
                return false;
            }
        };
        if records.len() as u64 != to.saturating_sub(from) {
            self.find(
                "bucket",
                name,
                format!(
                    "should hold records {from}..{to} but holds {}",
                    records.len()
                ),
            );
            return false;
        }
        let local = self.store.records(from, to).unwrap_or_default();
        let local: HashMap<u64, Vec<u8>> = local.into_iter().collect();
        let mut differ = Vec::new();
        let mut absent = Vec::new();
        for (offset, bytes) in records.iter().enumerate() {
            let index = from + offset as u64;
            match local.get(&index) {
                Some(l) if l == bytes => {}
                Some(_) => differ.push(index),
                None => absent.push(index),
            }
        }
        if let Some(first) = differ.first() {
            self.find(
                "bucket",
                name,
                format!(
                    "its copy of record {first}{} differs from the data directory's: one of the \
                     two was changed",
                    if differ.len() > 1 {
                        format!(" (and {} more of records {from}..{to})", differ.len() - 1)
                    } else {
                        String::new()
                    }
                ),
            );
        }
        if let (Some(first), Some(last)) = (absent.first(), absent.last()) {
            self.find(
                "bucket",
                name,
                format!(
                    "holds records {first}..={last} that the data directory lacks: the data \
                     directory was rolled back or truncated, or records were deleted"
                ),
            );
        }
        let mut sound = differ.is_empty();
        for (digest, text) in &segment.documents {
            if hash::from_hex(digest).ok() != Some(hash::sha256(text.as_bytes())) {
                self.find(
                    "bucket",
                    name,
                    format!("its document {digest} does not match its digest"),
                );
                sound = false;
            }
        }
        for (id, certificate) in &segment.certificates {
            if !self
                .keys
                .iter()
                .any(|k| EliminationCertificate::verify(certificate, k).is_ok())
            {
                self.find(
                    "bucket",
                    name,
                    format!("the certificate of elimination {id} it holds does not verify"),
                );
                sound = false;
            }
        }
        sound
    }

    fn check_secrets(&mut self, name: &str, secrets: &Secrets) {
        if self.report.origin.as_deref() != Some(secrets.origin.as_str()) {
            self.find(
                "bucket",
                name,
                format!(
                    "holds the secrets of log {:?}, not of this data directory's log",
                    secrets.origin
                ),
            );
        }
        let seed: Option<[u8; 32]> = secrets
            .files
            .get("keys/checkpoint.key")
            .and_then(|c| format::unb64(c).ok())
            .and_then(|b| b.try_into().ok());
        if let Some(seed) = seed {
            let key = Ed25519Signer::from_seed(&secrets.origin, &seed)
                .ok()
                .map(|s| s.verifier_key());
            if !key.as_ref().is_some_and(|k| self.keys.contains(k)) {
                self.find(
                    "bucket",
                    name,
                    "the signing key in the replicated secrets is not a key of this log",
                );
            }
        }
    }

    /// Replication state entries under `prefix`, keyed by `parse` of the
    /// rest of their key.
    fn replica_states<K: std::hash::Hash + Eq, V: serde::de::DeserializeOwned>(
        &mut self,
        prefix: &[u8],
        parse: impl Fn(&[u8]) -> Option<K>,
    ) -> HashMap<K, V> {
        let mut out = HashMap::new();
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = match self.store.replica_states(prefix, after.as_deref(), 1024) {
                Ok(page) => page,
                Err(e) => {
                    self.find("index", "replication state", format!("cannot be read: {e}"));
                    break;
                }
            };
            let Some((last, _)) = page.last() else {
                break;
            };
            after = Some(last.clone());
            for (key, value) in page {
                let parsed =
                    parse(&key[prefix.len()..]).zip(serde_json::from_slice::<V>(&value).ok());
                match parsed {
                    Some((k, v)) => {
                        out.insert(k, v);
                    }
                    None => self.find(
                        "index",
                        "replication state",
                        format!("an entry does not decode (key {})", hex::encode(&key)),
                    ),
                }
            }
        }
        out
    }

    /// Prints the report; the exit code.
    fn finish(mut self, json: bool) -> ExitCode {
        self.report.findings_total = self.findings.total();
        self.report.findings_not_listed = self.findings.unlisted();
        self.report.findings = std::mem::take(&mut self.findings.listed);
        self.report.ok = self.report.findings_total == 0;
        if json {
            print_json(&self.report);
        } else {
            print!("{}", render(&self.report));
        }
        if self.report.ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }
    }
}

/// ` (archive X, kind)` for a record that decodes, else nothing.
fn describe(bytes: &[u8]) -> String {
    Record::decode(bytes).map_or(String::new(), |r| {
        format!(" (archive {}, {})", r.archive_id, r.kind)
    })
}

fn hash_reader(reader: &mut dyn Read) -> std::io::Result<(Hash, u64)> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        total += n as u64;
    }
    Ok((hasher.finalize().into(), total))
}

/// The bucket, listed.
struct BucketAudit {
    report: BucketJson,
    bucket: Arc<dyn ObjectStore>,
    identity: x25519::Identity,
    identity_source: String,
    objects: Vec<String>,
    /// Clear checkpoints: name, size from the name, text.
    checkpoints: Vec<(String, u64, Result<String, String>)>,
}

/// What an object holds once decrypted.
enum Opened {
    Content {
        claimed: String,
        actual: Hash,
    },
    Segment {
        from: u64,
        to: u64,
        segment: Result<Segment, String>,
    },
    Secrets {
        generation: u64,
        secrets: Result<Secrets, String>,
    },
}

struct Fetched {
    name: String,
    /// The ciphertext's size and SHA-256.
    cipher: (u64, Hash),
    opened: Result<Opened, String>,
}

async fn get_all(bucket: &dyn ObjectStore, name: &str) -> Result<Vec<u8>, String> {
    Ok(bucket
        .get(&ObjectPath::from(name))
        .await
        .map_err(|e| format!("cannot read object {name}: {e}"))?
        .bytes()
        .await
        .map_err(|e| format!("cannot read object {name}: {e}"))?
        .to_vec())
}

/// Downloads an object to a temporary file (content can be far larger
/// than memory), hashing the ciphertext, then decrypts it.
async fn fetch(bucket: &dyn ObjectStore, identity: &x25519::Identity, name: String) -> Fetched {
    let mut cipher = (0u64, [0u8; 32]);
    let opened = async {
        let tmp = tempfile::NamedTempFile::new()
            .map_err(|e| format!("cannot create a temporary file: {e}"))?;
        let mut file = tmp.reopen().map_err(|e| e.to_string())?;
        let mut stream = bucket
            .get(&ObjectPath::from(name.as_str()))
            .await
            .map_err(|e| format!("cannot be read: {e}"))?
            .into_stream();
        let mut hasher = Sha256::new();
        let mut len = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| format!("cannot be read: {e}"))?;
            hasher.update(&chunk);
            len += chunk.len() as u64;
            file.write_all(&chunk)
                .map_err(|e| format!("cannot write a temporary file: {e}"))?;
        }
        cipher = (len, hasher.finalize().into());
        let source = tmp.reopen().map_err(|e| e.to_string())?;
        let (header, mut payload) = format::decrypt(identity, source)?;
        let altered = |e: std::io::Error| format!("cannot be decrypted: {e}: it was altered");
        Ok(match header {
            Header::Content { sha256, .. } => {
                let (actual, _) = hash_reader(&mut payload).map_err(altered)?;
                Opened::Content {
                    claimed: sha256,
                    actual,
                }
            }
            Header::Segment { from, to, .. } => {
                let mut text = Vec::new();
                payload.read_to_end(&mut text).map_err(altered)?;
                Opened::Segment {
                    from,
                    to,
                    segment: serde_json::from_slice(&text)
                        .map_err(|e| format!("its log segment is unreadable: {e}")),
                }
            }
            Header::Secrets { generation, .. } => {
                let mut text = Vec::new();
                payload.read_to_end(&mut text).map_err(altered)?;
                Opened::Secrets {
                    generation,
                    secrets: serde_json::from_slice(&text)
                        .map_err(|e| format!("its secrets are unreadable: {e}")),
                }
            }
        })
    }
    .await;
    Fetched {
        name,
        cipher,
        opened,
    }
}

/// The human report.
fn render(r: &AuditJson) -> String {
    let mut out = format!(
        "audit of {} (log {})\n",
        r.data_dir,
        r.origin.as_deref().unwrap_or("unknown")
    );
    out.push_str(&format!("  key:          {}\n", r.key_source));
    out.push_str(&format!(
        "  log:          {} records read, tree recomputed (size {})\n",
        r.records, r.tree_size
    ));
    out.push_str(&format!(
        "  checkpoints:  {} stored, each verified against the recomputed tree{}\n",
        r.checkpoints,
        r.latest_checkpoint
            .map_or(String::new(), |s| format!(" (latest: size {s})"))
    ));
    out.push_str(&format!(
        "  archives:     {} ({} live, {} eliminated), chains and metadata checked\n",
        r.archives, r.live, r.eliminated
    ));
    out.push_str(&format!(
        "  contents:     {} re-hashed ({})\n",
        r.contents,
        human_bytes(r.content_bytes)
    ));
    if r.eliminations > 0 {
        out.push_str(&format!(
            "  eliminations: {} orders, certificates verified\n",
            r.eliminations
        ));
    }
    for k in &r.kept_checkpoints {
        out.push_str(&format!(
            "  kept:         {} (size {}): {}\n",
            k.file,
            k.size.map_or("?".to_owned(), |s| s.to_string()),
            if k.ok { "the log extends it" } else { "FAILED" }
        ));
    }
    if let Some(b) = &r.bucket {
        out.push_str(&format!(
            "  bucket:       {}: {} objects ({} contents, {} segments, {} secrets), {} \
             checkpoints, opened with {}\n",
            b.bucket, b.objects, b.contents, b.segments, b.secrets, b.checkpoints, b.identity
        ));
    }
    for note in &r.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    if r.ok {
        out.push_str("OK: every check passed\n");
    } else {
        out.push_str(&format!(
            "FAILED: {} finding{}\n",
            r.findings_total,
            if r.findings_total == 1 { "" } else { "s" }
        ));
        for f in &r.findings {
            out.push_str(&format!("  [{}] {}: {}\n", f.check, f.place, f.message));
        }
        for (check, n) in &r.findings_not_listed {
            out.push_str(&format!("  [{check}] … and {n} more not listed\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_are_all_counted_and_listed_up_to_a_bound() {
        let mut f = Findings::default();
        for i in 0..LISTED_PER_CHECK + 5 {
            f.add("log", format!("record {i}"), "changed");
        }
        f.add("contents", "blobs/ab/ab.zst", "altered");
        assert_eq!(f.total(), LISTED_PER_CHECK + 6);
        assert_eq!(f.listed.len() as u64, LISTED_PER_CHECK + 1);
        assert_eq!(f.unlisted(), BTreeMap::from([("log", 5)]));
    }

    #[test]
    fn options_are_coherent() {
        use clap::Parser;
        #[derive(Debug, Parser)]
        struct Cli {
            #[command(flatten)]
            args: AuditArgs,
        }
        let parse = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("audit").chain(args.iter().copied()))
                .map(|c| c.args)
        };
        let a = parse(&[
            "--key",
            "k",
            "--checkpoint",
            "a.txt",
            "--checkpoint",
            "b.txt",
            "--bucket-config",
            "minutierd.toml",
            "--identity",
            "escrow.key",
        ])
        .unwrap();
        assert_eq!(a.checkpoints.len(), 2);
        assert_eq!(a.identity, Some(PathBuf::from("escrow.key")));
        assert!(parse(&[]).unwrap().bag.is_none());
        // The identity opens the bucket's replicas: no bucket, no identity.
        assert!(parse(&["--identity", "escrow.key"]).is_err());
        // An export is checked as verify-bag does: no bucket, no kept
        // checkpoint.
        assert!(parse(&["--bag", "out", "--key", "k"]).is_ok());
        assert!(parse(&["--bag", "out", "--checkpoint", "a.txt"]).is_err());
        assert!(parse(&["--bag", "out", "--bucket-config", "c.toml"]).is_err());
    }

    #[test]
    fn the_report_names_each_finding() {
        let report = AuditJson {
            data_dir: "/srv/minutier".into(),
            origin: Some("example.org/log".into()),
            findings: vec![Finding {
                check: "contents",
                place: "blobs/ab/ab12.zst".into(),
                message: "holds other bytes".into(),
            }],
            findings_total: 1,
            ..Default::default()
        };
        let text = render(&report);
        assert!(text.contains("FAILED: 1 finding\n"), "{text}");
        assert!(
            text.contains("[contents] blobs/ab/ab12.zst: holds other bytes"),
            "{text}"
        );
        let ok = render(&AuditJson {
            ok: true,
            ..Default::default()
        });
        assert!(ok.contains("OK: every check passed"), "{ok}");
    }
}
