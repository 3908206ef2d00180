//! The crate's single error type.

use crate::record::{RecordKind, APPLIANCE_ID};

/// Everything that can go wrong in `minutier-seal`.
///
/// Messages say what was wrong and, where it helps, what to do about it. The
/// enum is `non_exhaustive` because new record kinds and formats will add
/// variants; match the ones you handle and keep a fallback arm.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A hash written in hex was not exactly 64 lowercase hex digits.
    #[error("invalid hex hash: {0}")]
    InvalidHex(String),

    /// A leaf index is not inside the tree it refers to.
    #[error("leaf index {index} is out of range for a tree of {size} leaves")]
    IndexOutOfRange {
        /// The requested leaf index.
        index: u64,
        /// The number of leaves in the tree.
        size: u64,
    },

    /// Tree sizes that cannot be related by a consistency proof.
    #[error(
        "invalid tree sizes for a consistency proof: old size {old_size}, new size {new_size} \
         (the old tree must be non-empty and not larger than the new one)"
    )]
    InvalidTreeSizes {
        /// The size of the older tree.
        old_size: u64,
        /// The size of the newer tree.
        new_size: u64,
    },

    /// A node store was asked for a node it does not hold.
    #[error("Merkle tree node at level {level}, index {index} is not stored")]
    MissingNode {
        /// Height of the node above the leaves (0 = leaf).
        level: u8,
        /// Position of the node among the nodes of its level.
        index: u64,
    },

    /// An inclusion proof did not lead to the expected root.
    #[error(
        "inclusion proof does not verify: {0}; the record, its index, the proof or the \
         checkpoint was altered, or they do not belong together"
    )]
    InclusionProofFailed(&'static str),

    /// A consistency proof did not relate the two roots.
    #[error(
        "consistency proof does not verify: {0}; the log may have been rewritten (fork), or the \
         proof does not belong to these two tree heads"
    )]
    ConsistencyProofFailed(&'static str),

    /// A timestamp was not of the form `YYYY-MM-DDTHH:MM:SS.mmmZ` in 1970..=9999.
    #[error("invalid timestamp {input:?}: {reason} (expected e.g. 2026-11-29T08:52:46.123Z)")]
    InvalidTimestamp {
        /// The rejected text (truncated to 64 characters).
        input: String,
        /// What was wrong with it.
        reason: &'static str,
    },

    /// A record field holds a value the record format does not allow.
    #[error("invalid record field `{field}`: {reason}")]
    InvalidField {
        /// The field's key in the encoding (e.g. `archive`).
        field: &'static str,
        /// What was wrong with the value.
        reason: String,
    },

    /// Record bytes are not a canonical `minutier/record/v1` encoding.
    #[error("invalid record encoding{}: {reason}", at_line(*.line))]
    InvalidRecord {
        /// 1-based line number (0 when the problem concerns the whole record).
        line: usize,
        /// What was wrong.
        reason: String,
    },

    /// A signer or verifier key name is unusable in a signed note.
    #[error(
        "invalid key name {name:?}: key names must be non-empty and contain no whitespace, \
         control characters or '+'"
    )]
    InvalidKeyName {
        /// The rejected name (truncated to 64 characters).
        name: String,
    },

    /// A verifier key string or public key is malformed.
    #[error("invalid verifier key: {0}")]
    InvalidVerifierKey(String),

    /// A signer failed to produce a signature.
    #[error("signing failed: {0}")]
    Signing(String),

    /// A signed note is structurally malformed.
    #[error("malformed signed note: {0}")]
    MalformedNote(String),

    /// A note has no signature line by the expected key.
    #[error(
        "the note carries no signature by key {name}+{key_id}; check that you use this log's \
         verifier key"
    )]
    NoSignatureByKey {
        /// The expected key name.
        name: String,
        /// The expected key ID, 8 hex digits.
        key_id: String,
    },

    /// A note has no signature line by any of several trusted keys (a log's
    /// key history: see [`crate::verify::SealVerifier::with_keys`]).
    #[error(
        "the note carries no signature by any of the keys of {name} trusted here (key IDs {}); \
         check that you use this log's verifier keys, including those of before any key \
         rotation",
        key_ids.join(", ")
    )]
    NoSignatureByKeys {
        /// The keys' name.
        name: String,
        /// The trusted keys' IDs, 8 hex digits each, oldest first.
        key_ids: Vec<String>,
    },

    /// A signature line claims to be by the expected key but does not verify.
    #[error(
        "the signature by key {name}+{key_id} is invalid: the signed text was altered, or it was \
         signed by a different key under the same name"
    )]
    BadSignature {
        /// The key name.
        name: String,
        /// The key ID, 8 hex digits.
        key_id: String,
    },

    /// A checkpoint body is malformed.
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(String),

    /// A checkpoint was issued under another origin than the verifier key's name.
    #[error(
        "checkpoint origin {origin:?} does not match the verifier key name {key_name:?}; this \
         checkpoint belongs to another log"
    )]
    OriginMismatch {
        /// The checkpoint's origin line.
        origin: String,
        /// The verifier key's name.
        key_name: String,
    },

    /// A seal (`c2sp.org/tlog-proof@v1` file) is malformed.
    #[error("malformed seal{}: {reason}", at_line(*.line))]
    MalformedSeal {
        /// 1-based line number (0 when the problem concerns the whole seal).
        line: usize,
        /// What was wrong.
        reason: String,
    },

    /// The document's SHA-256 differs from the digest sealed in the record.
    #[error(
        "content mismatch: the seal's record expects SHA-256 {expected}, but the document hashes \
         to {actual}; this is not the sealed document, or it was altered"
    )]
    ContentMismatch {
        /// Digest recorded in the sealed record (hex).
        expected: String,
        /// Digest of the document presented (hex).
        actual: String,
    },

    /// The document's size differs from the size sealed in the record.
    #[error(
        "size mismatch: the seal's record expects {expected} bytes, but the document has {actual}; \
         this is not the sealed document, or it was truncated or altered"
    )]
    SizeMismatch {
        /// Size recorded in the sealed record.
        expected: u64,
        /// Size of the document presented.
        actual: u64,
    },

    /// An archive's chain (or the appliance's) was checked with no records
    /// at all.
    #[error(
        "the chain of archive {archive:?} has no records; {}",
        chain_start(archive)
    )]
    EmptyChain {
        /// The archive whose chain was checked.
        archive: String,
    },

    /// A record of an archive's chain is not a valid `minutier/record/v1`.
    #[error("record at index {index} of the chain is not a valid record: {reason}")]
    ChainRecordInvalid {
        /// The record's index in the log.
        index: u64,
        /// Why it does not decode.
        reason: Box<Error>,
    },

    /// A record given as part of an archive's chain is about another archive.
    #[error(
        "record at index {index} ({kind}) is about archive {found:?}, not {expected:?}: it does \
         not belong to this archive's chain"
    )]
    ChainWrongArchive {
        /// The record's index in the log.
        index: u64,
        /// The record's kind.
        kind: RecordKind,
        /// The archive whose chain is checked.
        expected: String,
        /// The archive the record names.
        found: String,
    },

    /// The records of a chain are not in strictly increasing log order.
    #[error(
        "record at index {index} ({kind}) comes after the record at index {after} in the list, \
         but a chain's records must be given in log order with strictly increasing indices: the \
         chain was reordered or holds a record twice"
    )]
    ChainOutOfOrder {
        /// The index of the misplaced record.
        index: u64,
        /// The record's kind.
        kind: RecordKind,
        /// The index of the record listed just before it.
        after: u64,
    },

    /// The first record of a chain is not a proper start: a record with
    /// `previous none` that is an `ingest` (in the appliance's chain, any
    /// appliance event).
    #[error("the first record of the chain, at index {index} ({kind}), {reason}")]
    ChainBadStart {
        /// The first record's index in the log.
        index: u64,
        /// The first record's kind.
        kind: RecordKind,
        /// What is wrong with it.
        reason: String,
    },

    /// A record's `previous` is not the leaf hash of the record before it in
    /// the chain.
    #[error(
        "record at index {index} ({kind}) has previous {previous} but the record before it in \
         the chain, at index {before_index}, hashes to {before_hash}: a record is missing from \
         the chain or was altered"
    )]
    ChainLinkMismatch {
        /// The record's index in the log.
        index: u64,
        /// The record's kind.
        kind: RecordKind,
        /// The record's `previous` field (hex, or `none`).
        previous: String,
        /// The index of the record before it in the chain.
        before_index: u64,
        /// That record's leaf hash (hex).
        before_hash: String,
    },

    /// An `ingest` record appears after the start of a chain.
    #[error(
        "record at index {index} is a second ingest record for the archive, whose chain starts \
         with the ingest record at index {first_index}: an archive is ingested once, and a new \
         version of a document is a new archive"
    )]
    ChainRepeatedIngest {
        /// The index of the second ingest record.
        index: u64,
        /// The index of the chain's first record.
        first_index: u64,
    },

    /// A record other than `read-metadata` follows the archive's
    /// `elimination-executed` record.
    #[error(
        "record at index {index} ({kind}) follows the archive's elimination-executed record at \
         index {tombstone_index}; after an elimination only read-metadata records may be \
         appended to the chain"
    )]
    ChainAfterElimination {
        /// The offending record's index in the log.
        index: u64,
        /// Its kind.
        kind: RecordKind,
        /// The index of the tombstone.
        tombstone_index: u64,
    },

    /// A record names another document than the chain's ingest record.
    #[error(
        "record at index {index} ({kind}) has {field} {found} but the chain's ingest record at \
         index {first_index} has {expected}: every record of an archive, the elimination \
         tombstone included, names the same document"
    )]
    ChainDocumentMismatch {
        /// The record's index in the log.
        index: u64,
        /// The record's kind.
        kind: RecordKind,
        /// `content-sha256` or `size`.
        field: &'static str,
        /// The record's value.
        found: String,
        /// The ingest record's value.
        expected: String,
        /// The index of the chain's ingest record.
        first_index: u64,
    },

    /// Text is not a canonical `minutier/elimination-certificate/v1`.
    #[error("invalid elimination certificate{}: {reason}", at_line(*.line))]
    InvalidCertificate {
        /// 1-based line number (0 when the problem concerns the whole text).
        line: usize,
        /// What was wrong.
        reason: String,
    },

    /// An elimination certificate's origin differs from the name of the key
    /// that signs or verifies it.
    #[error(
        "elimination certificate origin {origin:?} does not match the key name {key_name:?}: a \
         certificate is signed by the log key of its origin, so it was issued by another log or \
         the wrong key was used"
    )]
    CertificateOriginMismatch {
        /// The certificate's origin line.
        origin: String,
        /// The signer's or verifier key's name.
        key_name: String,
    },
}

/// What the first record of the chain of `archive` is.
fn chain_start(archive: &str) -> &'static str {
    if archive == APPLIANCE_ID {
        "the appliance's chain starts with its first appliance event (such as a scrub)"
    } else {
        "a chain starts with the archive's ingest record"
    }
}

/// " at line N", or nothing for problems that concern the whole input (line 0).
fn at_line(line: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(" at line {line}")
    }
}

/// Shortens attacker-controlled text before it is echoed in an error message.
pub(crate) fn snippet(s: &str) -> String {
    const MAX: usize = 64;
    match s.char_indices().nth(MAX) {
        None => s.to_owned(),
        Some((cut, _)) => format!("{}…", &s[..cut]),
    }
}
