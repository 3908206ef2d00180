//! Reading SEDA `ArchiveTransfer` packages (SIPs): open a zip, tar or
//! tar.gz safely ([`Package::open`]), parse its manifest
//! ([`manifest::parse`]), check the package against it
//! ([`Package::check`]: everything but the files' contents), then read each
//! declared file once, its digests verified as it streams to its
//! destination ([`Package::read_contents`]); [`Package::plan`] does both,
//! keeping nothing. Answer with an `ArchiveTransferReply`
//! ([`atr::reply`]), preceded if asked by an `Acknowledgement`
//! ([`ack::acknowledgement`]). A manifest sent apart from an archive of
//! its files opens with [`Package::open_split`]. Pure: files in, values
//! out.

pub mod ack;
pub mod atr;
pub mod contents;
pub mod error;
pub mod manifest;
pub mod package;
pub mod plan;

pub use atr::AcceptedUnit;
pub use contents::Content;
pub use error::{code, Rejection};
pub use manifest::{Manifest, SedaVersion, TransferInfo};
pub use package::{check_path, Entry, Format, Limits, Package, SPLIT_MANIFEST_NAME};
pub use plan::{
    check_file, AccessRule, AppraisalRule, DigestAlgorithm, FinalAction, Hold, ManifestDocument,
    Outcome, PlannedDocument, PlannedUnit, Rules, TransferPlan, UnitMetadata,
};
