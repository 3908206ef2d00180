//! Wire types of Minutier's gRPC API, package `minutier.v1`.
//!
//! Generated at build time from `proto/minutier/v1/*.proto`. Only the edges of
//! the system (the daemon's gRPC module and the CLI) use these types.

#![allow(clippy::all, missing_docs)]

pub mod v1 {
    tonic::include_proto!("minutier.v1");
}

/// Encoded file descriptor set, served by gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("minutier_descriptor");
