//! The web console (docs/console.md): archivists, controllers and
//! auditors in a browser, in French first. Served by `minutierd` over
//! HTTPS on its own port; sign-in by local account (argon2id, optional
//! TOTP) or client certificate; the same roles, refusals and journal as
//! the gRPC API, every action going through [`crate::archive::ArchiveService`].
//!
//! Pages are rendered on the server (maud escapes every value); the only
//! scripts are the deposit's uploads, the reading of a checkpoint file, and
//! the seal verifier, which runs `seal/` compiled to WebAssembly in the
//! auditor's browser.

// Handlers return `Result<Response, Response>`: a refusal is a page
// rendered on the spot, on the cold path, and axum takes it as it is.
#![allow(clippy::result_large_err)]

mod archives;
mod assets;
mod audit;
mod config;
mod dashboard;
mod deposit;
mod edit;
mod eliminations;
mod fields;
mod holds;
mod i18n;
pub mod login;
mod page;
mod report;
mod server;
mod session;
mod signin;

pub use config::{ConsoleConfig, DEFAULT_CONSOLE_LISTEN};
pub use server::Console;
