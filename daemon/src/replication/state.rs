//! Replication state in the index (one column family, keyed by prefix):
//!
//! - `q/<from: u64 BE>/<kind>[/<sha256>]`: the durable queue. Items are
//!   written by the sequencer in the same atomic write as the batch they
//!   come from, so nothing committed is ever missed; `from` (the batch's
//!   first log index) orders them, and within a batch content (`a`) goes
//!   before its removal (`f`) and the log segment (`s`). Keys are
//!   deterministic, so enqueuing twice is harmless.
//! - `c/<sha256>`: the replica of a content ([`ContentReplica`]).
//! - `s/<from: u64 BE>`: the replica of a log segment ([`SegmentReplica`]).
//! - `m/secrets`, `m/through`: the secrets object, and the log size
//!   replicated so far.

use minutier_seal::Hash;
use serde::{Deserialize, Serialize};

pub const QUEUE: &[u8] = b"q/";
pub const CONTENTS: &[u8] = b"c/";
pub const SEGMENTS: &[u8] = b"s/";
pub const SECRETS: &[u8] = b"m/secrets";
pub const THROUGH: &[u8] = b"m/through";

/// A queued piece of work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// Upload a content (if no replica exists yet).
    Content(Hash),
    /// Remove a destroyed content's replica (if nothing holds it again).
    Forget(Hash),
    /// Upload the log segment [from, to) and the checkpoint at `to`.
    Segment { from: u64, to: u64 },
}

impl Item {
    /// The queue key of this item, for a batch starting at `from`.
    pub fn key(&self, batch_from: u64) -> Vec<u8> {
        let mut k = QUEUE.to_vec();
        k.extend_from_slice(&batch_from.to_be_bytes());
        match self {
            Item::Content(sha) => {
                k.extend_from_slice(b"/a/");
                k.extend_from_slice(sha);
            }
            Item::Forget(sha) => {
                k.extend_from_slice(b"/f/");
                k.extend_from_slice(sha);
            }
            Item::Segment { .. } => k.extend_from_slice(b"/s"),
        }
        k
    }

    /// The value stored under [`Item::key`].
    pub fn value(&self) -> Vec<u8> {
        match self {
            Item::Segment { to, .. } => to.to_be_bytes().to_vec(),
            _ => Vec::new(),
        }
    }

    /// Reads a queue entry back.
    pub fn parse(key: &[u8], value: &[u8]) -> Option<Item> {
        let rest = key.strip_prefix(QUEUE)?;
        let from = u64::from_be_bytes(rest.get(..8)?.try_into().ok()?);
        match rest.get(8..)? {
            b"/s" => Some(Item::Segment {
                from,
                to: u64::from_be_bytes(value.try_into().ok()?),
            }),
            tail if tail.len() == 35 && tail.starts_with(b"/a/") => {
                Some(Item::Content(tail[3..].try_into().ok()?))
            }
            tail if tail.len() == 35 && tail.starts_with(b"/f/") => {
                Some(Item::Forget(tail[3..].try_into().ok()?))
            }
            _ => None,
        }
    }
}

/// Where a content's encrypted copy is, and what it must look like.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentReplica {
    pub object: String,
    pub size: u64,
    /// SHA-256 of the ciphertext (hex): checked by the scrubber without
    /// decrypting.
    pub sha256: String,
    /// Milliseconds since the Unix epoch.
    pub uploaded_at: u64,
}

/// A segment's encrypted copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentReplica {
    pub to: u64,
    pub object: String,
    pub size: u64,
    pub sha256: String,
    pub uploaded_at: u64,
}

/// The secrets' encrypted copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretsReplica {
    pub generation: u64,
    pub object: String,
    pub size: u64,
    pub sha256: String,
    /// SHA-256 of the plaintext payload: a new copy is made when it changes.
    pub payload_sha256: String,
    pub uploaded_at: u64,
}

pub fn content_key(sha: &Hash) -> Vec<u8> {
    [CONTENTS, &sha[..]].concat()
}

pub fn segment_key(from: u64) -> Vec<u8> {
    [SEGMENTS, &from.to_be_bytes()[..]].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_keys_round_trip_and_order_content_before_segments() {
        let items = [
            Item::Content([7; 32]),
            Item::Forget([8; 32]),
            Item::Segment { from: 5, to: 9 },
        ];
        let mut keys: Vec<_> = items.iter().map(|i| (i.key(5), i.value())).collect();
        for ((k, v), item) in keys.iter().zip(&items) {
            assert_eq!(Item::parse(k, v).as_ref(), Some(item));
        }
        keys.sort();
        assert_eq!(
            Item::parse(&keys[0].0, &keys[0].1),
            Some(Item::Content([7; 32]))
        );
        assert!(matches!(
            Item::parse(&keys[2].0, &keys[2].1),
            Some(Item::Segment { .. })
        ));
        assert!(Item::Segment { from: 4, to: 5 }.key(4) < Item::Content([0; 32]).key(5));
        assert_eq!(Item::parse(b"q/short", b""), None);
    }
}
