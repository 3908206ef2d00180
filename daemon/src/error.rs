//! The daemon's one error type. Each variant maps to one gRPC status code,
//! in `grpc.rs`; messages say what was wrong and what to do.

use std::io;

/// Errors of the archive service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request was malformed: fix the request.
    #[error("{0}")]
    InvalidArgument(String),
    /// No such archive, record or checkpoint.
    #[error("{0}")]
    NotFound(String),
    /// Content does not match its digest: either the sender's declared
    /// digest, or (on read) the record it was sealed under.
    #[error("{0}")]
    DataLoss(String),
    /// The archive's state forbids this (a hold, a retention period not
    /// over, a definitive archive, an elimination in the wrong state).
    #[error("{0}")]
    FailedPrecondition(String),
    /// The caller may not do this to this archive (communicability, the
    /// same person proposing and approving).
    #[error("{0}")]
    PermissionDenied(String),
    /// Over a configured limit.
    #[error("{0}")]
    ResourceExhausted(String),
    /// The daemon is shutting down or its sequencer stopped.
    #[error("{0}")]
    Unavailable(String),
    /// Local storage failed; nothing was acknowledged.
    #[error("storage error: {0}")]
    Storage(String),
    /// A sealing operation failed (signing, proof generation).
    #[error("sealing error: {0}")]
    Seal(#[from] minutier_seal::Error),
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        match e.raw_os_error() {
            // A full volume is not an internal error: the caller may retry
            // once space is freed, and nothing was stored.
            Some(libc::ENOSPC) | Some(libc::EDQUOT) => Error::ResourceExhausted(format!(
                "the archive volume is full ({e}); nothing was stored — free or add space and send it again"
            )),
            _ => Error::Storage(e.to_string()),
        }
    }
}

impl From<rocksdb::Error> for Error {
    fn from(e: rocksdb::Error) -> Self {
        Error::Storage(format!("RocksDB: {e}"))
    }
}

/// Result of the archive service.
pub type Result<T, E = Error> = std::result::Result<T, E>;
