//! Minutier's pure sealing core.
//!
//! Every document Minutier archives is described by a [`record::Record`]; the
//! record's bytes become a leaf of an append-only RFC 6962 Merkle log
//! ([`tree`]); the log head is published as a C2SP signed checkpoint
//! ([`checkpoint`], [`note`]); and each document receives a seal, a
//! `c2sp.org/tlog-proof@v1` file ([`proof`]) that anyone can check offline
//! with [`verify::SealVerifier`]. The records about one archive form its
//! lifecycle chain, checked by [`chain::verify_chain`]; events that concern
//! the appliance as a whole, such as scrub runs and time-stamps of
//! checkpoints, form the chain of the reserved archive
//! [`record::APPLIANCE_ID`]. When archives are eliminated, the log signs an
//! [`certificate::EliminationCertificate`].
//! The normative description of the formats is `docs/seal-format.md`.
//!
//! This crate performs no I/O, reads no clock and draws no random numbers:
//! time arrives as [`record::Timestamp`] values and signing through the
//! [`note::Signer`] trait, so that every function here is deterministic and
//! the same code can run in the daemon, the CLI and an auditor's tool.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod certificate;
pub mod chain;
pub mod checkpoint;
pub mod hash;
pub mod metadata;
pub mod note;
pub mod proof;
pub mod record;
pub mod tree;
pub mod verify;

mod error;
mod text;

pub use error::Error;
pub use hash::Hash;
