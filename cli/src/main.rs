//! `minutier`: the archivist's and auditor's command line.
//!
//! This file holds the command-line grammar (clap) and the dispatch to one
//! module per command family. Exit codes: 0 success, 1 failure (a gRPC error,
//! a failed verification, a document that could not be archived), 2 usage
//! error (bad arguments, missing input files, unreadable key).

mod admin;
mod audit;
mod client;
mod error;
mod ingest;
mod output;
mod retrieve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Archive documents in a Minutier appliance, fetch them back, and verify
/// their seals.
#[derive(Debug, Parser)]
#[command(name = "minutier", version, about, propagate_version = true)]
struct Cli {
    /// Address of minutierd's gRPC endpoint [default: from the credential
    /// bundle or the data directory, else https://127.0.0.1:7370].
    #[arg(long, global = true, env = "MINUTIER_SERVER", value_name = "URL")]
    server: Option<String>,

    /// Credential bundle (certificate, key, CA) from `minutier admin issue`
    /// [default: on the appliance, the administrator's in the data directory].
    #[arg(long, global = true, env = "MINUTIER_CREDENTIALS", value_name = "FILE")]
    credentials: Option<PathBuf>,

    /// The daemon's data directory, on the appliance itself: gives its
    /// address and the administrator's credential.
    #[arg(long, global = true, env = "MINUTIER_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// Print one JSON document on stdout instead of human-readable text.
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Archive files and directories (recursively), checking each returned seal.
    Ingest(IngestArgs),
    /// Fetch a document's content.
    Get {
        /// Archive identifier.
        id: String,
        /// Destination file, or `-` for stdout.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
    /// Show a document's metadata and record.
    Show {
        /// Archive identifier.
        id: String,
    },
    /// List archived documents in ingest order.
    List {
        /// Only documents from this originating agency.
        #[arg(long, value_name = "CODE")]
        agency: Option<String>,
        /// Only documents whose title contains this (case-insensitive).
        #[arg(long, value_name = "SUBSTRING")]
        title: Option<String>,
        /// At most this many documents.
        #[arg(long, value_name = "N")]
        limit: Option<u64>,
    },
    /// Fetch a document's seal (a tlog-proof against the latest checkpoint).
    Seal {
        /// Archive identifier.
        id: String,
        /// Write the seal to this file instead of stdout.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Fetch the latest signed checkpoint of the log.
    Checkpoint {
        /// Write the checkpoint to this file instead of stdout.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Print the log's verifier key.
    Key,
    /// Verify documents against their seals, offline (no server contact):
    /// one FILE with --seal, or files and folders with --seal-dir (laid out
    /// as `ingest --seal-dir` wrote it).
    Verify {
        /// The document(s) to verify.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// The seal (tlog-proof file) of the single document given.
        #[arg(
            long,
            value_name = "SEAL",
            conflicts_with = "seal_dir",
            required_unless_present = "seal_dir"
        )]
        seal: Option<PathBuf>,
        /// A folder of seals written by `ingest --seal-dir`.
        #[arg(long, value_name = "DIR")]
        seal_dir: Option<PathBuf>,
        /// The log's verifier key, or a file containing it.
        #[arg(long, value_name = "VKEY")]
        key: String,
    },
    /// Administration: credentials and status (admin role).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Show who the daemon takes you for (your credential's identity).
    Whoami,
    /// Check that the server's log is an extension of an older checkpoint.
    Consistency {
        /// A checkpoint saved earlier (e.g. by `minutier checkpoint -o`).
        #[arg(long, value_name = "CHECKPOINT_FILE")]
        old: PathBuf,
        /// Trusted verifier key (or a file containing it); default: the server's.
        #[arg(long, value_name = "VKEY")]
        key: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Issue a credential bundle (certificate, key, CA) for a person or system.
    Issue {
        /// The holder's name, e.g. "Marie Dupont".
        #[arg(long)]
        name: String,
        /// archivist, dms, auditor, controller or admin.
        #[arg(long)]
        role: String,
        /// Originating agency code (dms credentials only).
        #[arg(long, value_name = "CODE")]
        agency: Option<String>,
        /// Validity in days [default: 730].
        #[arg(
            long,
            value_name = "DAYS",
            default_value_t = 0,
            hide_default_value = true
        )]
        validity_days: u32,
        /// Where to write the bundle (created 0600; never overwritten).
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
    /// Revoke every live credential of NAME, at once, without restart.
    Revoke {
        /// The holder's name as issued.
        name: String,
        /// Only the credential with this serial.
        #[arg(long)]
        serial: Option<String>,
    },
    /// List every credential issued, live and revoked.
    List,
    /// The appliance's status: log size, credentials, refusals.
    Status,
}

/// Options of `minutier ingest`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Files and directories to archive.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Title (default: each file's name).
    #[arg(long, value_name = "T")]
    pub title: Option<String>,
    /// Originating agency code.
    #[arg(long, value_name = "CODE")]
    pub agency: Option<String>,
    /// Description.
    #[arg(long, value_name = "D")]
    pub description: Option<String>,
    /// First date of the content.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub start_date: Option<String>,
    /// Last date of the content.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub end_date: Option<String>,
    /// Keyword (repeatable).
    #[arg(long = "keyword", value_name = "K")]
    pub keywords: Vec<String>,
    /// IANA media type (default: guessed from each file's extension).
    #[arg(long, value_name = "M")]
    pub media_type: Option<String>,
    /// Write each seal into this directory, mirroring the input tree.
    #[arg(long, value_name = "DIR")]
    pub seal_dir: Option<PathBuf>,
    /// Documents in flight at once. Many small documents in flight let the
    /// daemon seal them together (one fsync and one checkpoint per batch);
    /// large files are additionally limited to 4 at a time.
    #[arg(long, value_name = "N", default_value_t = 64,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: u16,
}

/// Accepts ISO 8601 calendar dates only, so a typo fails here (exit 2)
/// rather than after uploading gigabytes.
fn parse_date(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let shape_ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    let month: u32 = s.get(5..7).and_then(|m| m.parse().ok()).unwrap_or(0);
    let day: u32 = s.get(8..10).and_then(|d| d.parse().ok()).unwrap_or(0);
    if shape_ok && (1..=12).contains(&month) && (1..=31).contains(&day) {
        Ok(s.to_owned())
    } else {
        Err(format!("expected a date as YYYY-MM-DD, got {s:?}"))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(err) => error::report(&err, json),
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let server = client::Target {
        server: cli.server,
        credentials: cli.credentials,
        data_dir: cli.data_dir,
    };
    let server = &server;
    let json = cli.json;
    match cli.command {
        Command::Ingest(args) => ingest::run(server, json, args).await,
        Command::Get { id, output } => retrieve::get(server, json, &id, &output).await,
        Command::Show { id } => retrieve::show(server, json, &id).await,
        Command::List {
            agency,
            title,
            limit,
        } => retrieve::list(server, json, agency, title, limit).await,
        Command::Seal { id, output } => retrieve::seal(server, json, &id, output.as_deref()).await,
        Command::Checkpoint { output } => {
            retrieve::checkpoint(server, json, output.as_deref()).await
        }
        Command::Key => retrieve::key(server, json).await,
        Command::Verify {
            paths,
            seal,
            seal_dir,
            key,
        } => match (seal, seal_dir) {
            (Some(seal), _) => match paths.as_slice() {
                [file] => audit::verify(json, file, &seal, &key).await,
                _ => Err(error::usage(
                    "--seal goes with exactly one document; use --seal-dir for several",
                )),
            },
            (None, Some(dir)) => audit::verify_tree(json, &paths, &dir, &key),
            (None, None) => Err(error::usage("give --seal SEAL or --seal-dir DIR")),
        },
        Command::Admin(command) => match command {
            AdminCommand::Issue {
                name,
                role,
                agency,
                validity_days,
                output,
            } => {
                admin::issue(
                    server,
                    json,
                    &name,
                    &role,
                    agency.as_deref(),
                    validity_days,
                    &output,
                )
                .await
            }
            AdminCommand::Revoke { name, serial } => {
                admin::revoke(server, json, &name, serial.as_deref()).await
            }
            AdminCommand::List => admin::list(server, json).await,
            AdminCommand::Status => admin::status(server, json).await,
        },
        Command::Whoami => admin::whoami(server, json).await,
        Command::Consistency { old, key } => {
            audit::consistency(server, json, &old, key.as_deref()).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_checked() {
        assert!(parse_date("2026-11-29").is_ok());
        assert!(parse_date("2026-13-01").is_err());
        assert!(parse_date("2026-1-01").is_err());
        assert!(parse_date("29/11/2026").is_err());
        assert!(parse_date("2026-11-29T00:00").is_err());
    }

    #[test]
    fn cli_grammar_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn flags_parse_anywhere() {
        let cli = Cli::try_parse_from([
            "minutier", "verify", "doc.pdf", "--seal", "s", "--key", "k", "--json",
        ])
        .unwrap();
        assert!(cli.json);
    }
}
