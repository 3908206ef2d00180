//! `minutierd`, Minutier's archive daemon, as a library: the binary in
//! `main.rs` only parses flags and calls [`server`].

pub mod archive;
pub mod blobs;
pub mod config;
pub mod error;
pub mod grpc;
pub mod model;
pub mod sequencer;
pub mod server;
pub mod store;
