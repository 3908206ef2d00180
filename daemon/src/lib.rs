//! `minutierd`, Minutier's archive daemon, as a library: the binary in
//! `main.rs` only parses flags and calls [`server`].

pub mod admin;
pub mod archive;
pub mod auth;
pub mod blobs;
pub mod config;
pub mod console;
pub mod error;
pub mod grpc;
pub mod health;
pub mod https;
pub mod keys;
pub mod lifecycle;
pub mod metadata;
pub mod metrics;
pub mod model;
pub mod pastell;
pub mod pki;
pub mod replication;
pub mod sequencer;
pub mod server;
pub mod store;
pub mod timestamping;
pub mod tls;
