//! The Pastell / As@lae-compatible REST endpoint (docs/pastell.md): an
//! unmodified Pastell, with its `as@lae-rest` connector pointed here,
//! deposits SEDA transfers and fetches their acknowledgement and reply.
//!
//! HTTPS (the daemon's server certificate), HTTP/1.1, Basic
//! authentication against `[[pastell.accounts]]` (every route but
//! `/ping`). Under `base_url`:
//!
//! - `GET /ping`, `GET /versions`: JSON;
//! - `POST /sedaMessages` (multipart: `seda_message`, `attachments`): the
//!   transfer is imported at once, answered in JSON; with
//!   `send_chunked_attachments=true` and no attachments, a chunked session
//!   is opened instead (`chunk_session_identifier`,
//!   `chunk_security_identifier`), fed by `POST /sedaAttachmentsChunkFiles`
//!   (see `chunks.rs`);
//! - `GET /sedaMessages/sequence:ArchiveTransfer/message:{Acknowledgement |
//!   ArchiveTransferReply}/originOrganizationIdentification:{agency}/originMessageIdentifier:{id}`:
//!   XML, or 404 while the transfer has not been received.
//!
//! Any status but 200 is a failure to Pastell; every 200 has a body. The
//! handlers (`routes.rs`) only translate: imports go through
//! [`crate::archive::ArchiveService::import_sip`], which stores a transfer
//! whole or not at all.

mod auth;
mod chunks;
mod config;
mod http;
mod replies;
mod routes;
mod server;

pub use auth::actor_of;
pub use config::{AccountConfig, PastellConfig};
pub use server::Pastell;

/// The role Pastell accounts are counted under in refusal counters.
const ROLE: &str = "pastell";
