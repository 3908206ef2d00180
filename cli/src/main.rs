//! `minutier`: the archivist's and auditor's command line.
//!
//! This file holds the command-line grammar (clap) and the dispatch to one
//! module per command family. Exit codes: 0 success, 1 failure (a gRPC error,
//! a failed verification, a document that could not be archived), 2 usage
//! error (bad arguments, missing input files, unreadable key).

mod admin;
mod audit;
mod bag;
mod client;
mod elimination;
mod error;
mod full_audit;
mod history;
mod ingest;
mod lifecycle;
mod output;
mod proof_report;
mod recovery;
mod replication;
mod retention;
mod retrieve;
mod status;
mod timestamps;
mod transfer;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

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
    /// address and the administrator's credential. For `restore`: the new,
    /// empty directory where the appliance is rebuilt.
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
    /// Show a document's metadata, rules, state and record.
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
    /// Print the log's verifier key; after key rotations, every key of the
    /// log, oldest first and the current one last (what `--key` takes).
    Key,
    /// Import a SEDA 2.1/2.2/2.3 ArchiveTransfer package (zip, tar or
    /// tar.gz): every unit is archived and sealed, or none. Exit 1 when it
    /// is refused, with the ArchiveTransferReply's reason.
    #[command(
        after_help = "Example: minutier import-sip versement.zip --reply atr.xml --seal-dir seals/"
    )]
    ImportSip {
        /// The package.
        #[arg(value_name = "FILE")]
        package: PathBuf,
        /// Write the ArchiveTransferReply (XML) to this file.
        #[arg(long, value_name = "FILE")]
        reply: Option<PathBuf>,
        /// Save each archive's seal as DIR/<archive id>.seal.
        #[arg(long, value_name = "DIR")]
        seal_dir: Option<PathBuf>,
    },
    /// The outcome of a SEDA transfer received earlier (by the transferring
    /// agency's identifier and the transfer's MessageIdentifier).
    Transfer {
        /// The transferring agency's identifier.
        #[arg(value_name = "AGENCY")]
        agency: String,
        /// The transfer's MessageIdentifier.
        #[arg(value_name = "MESSAGE_ID")]
        message_identifier: String,
        /// Write the ArchiveTransferReply (XML) to this file.
        #[arg(long, value_name = "FILE")]
        reply: Option<PathBuf>,
    },
    /// The probative value of archives, checked now from the client: content
    /// read back, inclusion, checkpoint signature, consistency, replicas,
    /// RFC 3161 time-stamp. Text or JSON, and a French HTML page to file.
    /// Exit 1 if a check fails.
    #[command(after_help = "Example: minutier proof-report <id> --key verifier.key \
    --checkpoint kept.txt --tsa-ca tsa-ca.pem --html rapport.html")]
    ProofReport {
        /// The archives.
        #[arg(required = true, value_name = "ID")]
        ids: Vec<String>,
        /// Your own copy of the log's verifier key (else the server's).
        #[arg(long, value_name = "VKEY")]
        key: Option<String>,
        /// A checkpoint you kept from earlier: the log must extend it.
        #[arg(long = "checkpoint", value_name = "FILE")]
        kept_checkpoint: Option<PathBuf>,
        /// The TSA's CA certificate (PEM), to verify time-stamp tokens
        /// with `openssl ts -verify`.
        #[arg(long, value_name = "PEM")]
        tsa_ca: Option<PathBuf>,
        /// Also write the report as an HTML page (in French).
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
    },
    /// Export documents as a BagIt (RFC 8493) package: content, metadata
    /// (JSON and SEDA 2.3), seals, checkpoint and verifier key.
    Export {
        /// The bag's directory, created by the export (must not exist).
        #[arg(long = "bag", value_name = "DIR")]
        bag: PathBuf,
        /// The archives to export.
        #[arg(required = true, value_name = "ID")]
        ids: Vec<String>,
    },
    /// Verify a BagIt package written by `export --bag`, offline: its
    /// manifests, then every document against its seal.
    VerifyBag {
        /// The bag's directory.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// Trusted verifier key (or a file containing it); default: the
        /// bag's own data/verifier.key, which is then not independent.
        #[arg(long, value_name = "VKEY")]
        key: Option<String>,
    },
    /// A full offline audit of a data directory (the daemon stopped): every
    /// record, the Merkle tree and every checkpoint, every archive's chain
    /// and metadata, every document re-hashed; against checkpoints you
    /// kept and, with --bucket-config, the bucket's replicas. Exit 1 with
    /// every finding listed. With --bag, the checks of verify-bag.
    #[command(after_help = "Example: minutier audit --data-dir /var/lib/minutier \
    --key verifier.key --checkpoint checkpoint-2026.txt")]
    Audit(full_audit::AuditArgs),
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
        /// The log's verifier key, or a file containing it; after key
        /// rotations, a file with every key of the log, one per line (the
        /// daemon's verifier.key).
        #[arg(long, value_name = "VKEY")]
        key: String,
    },
    /// Administration: credentials and status (admin role).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Show who the daemon takes you for (your credential's identity).
    Whoami,
    /// The appliance at a glance: archive volume and whether new archives
    /// are accepted, disks, RAID, clock, replication, time-stamping. Exit 1
    /// when something needs attention.
    Status,
    /// Check that the server's log is an extension of an older checkpoint.
    Consistency {
        /// A checkpoint saved earlier (e.g. by `minutier checkpoint -o`).
        #[arg(long, value_name = "CHECKPOINT_FILE")]
        old: PathBuf,
        /// Trusted verifier key (or a file containing it, or every key of
        /// the log, one per line, after key rotations); default: the
        /// server's.
        #[arg(long, value_name = "VKEY")]
        key: Option<String>,
    },
    /// Correct a document's descriptive metadata (only the fields given).
    Correct(CorrectArgs),
    /// Change a document's retention (appraisal) and access rules.
    Rules(RulesArgs),
    /// Place or lift a legal hold, which blocks any elimination.
    #[command(subcommand)]
    Hold(HoldCommand),
    /// Show a document's chain of records, after verifying it against a
    /// signed checkpoint.
    History {
        /// Archive identifier.
        id: String,
        /// Trusted verifier key (or a file containing it); default: the
        /// server's, which is then not independently checked.
        #[arg(long, value_name = "VKEY")]
        key: Option<String>,
    },
    /// Retention periods.
    #[command(subcommand)]
    Retention(RetentionCommand),
    /// List the RFC 3161 time-stamps of the log's checkpoints, each checked
    /// (checkpoint signature, token imprint, chain), and where timestamping
    /// stands; with --export, write each time-stamped checkpoint and its
    /// token for `openssl ts -verify`.
    #[command(
        after_help = "Example: minutier timestamps --export ts/ && cd ts && openssl ts -verify \
                      -data checkpoint-12.txt -in checkpoint-12.tsr -CAfile tsa-ca.pem"
    )]
    Timestamps {
        /// Write checkpoint-<size>.txt (the checkpoint, exactly as
        /// time-stamped) and checkpoint-<size>.tsr (the TSA's answer) for
        /// each time-stamp into DIR, created if missing.
        #[arg(long, value_name = "DIR")]
        export: Option<PathBuf>,
        /// Trusted verifier key (or a file containing it); default: the
        /// server's, which is then not independently checked.
        #[arg(long, value_name = "VKEY")]
        key: Option<String>,
    },
    /// Elimination orders: propose, approve or refuse, execute, and verify
    /// their certificates.
    #[command(subcommand)]
    Elimination(EliminationCommand),
    /// The access journal: who read which document, and when.
    Journal {
        /// Only reads of this archive.
        #[arg(long, value_name = "ID")]
        archive: Option<String>,
        /// Only reads by actors whose name contains this (case-insensitive).
        #[arg(long, value_name = "SUBSTRING")]
        actor: Option<String>,
        /// Only reads at or after this day or time.
        #[arg(long, value_name = "DATE-or-RFC3339", value_parser = parse_since)]
        since: Option<String>,
        /// At most this many reads.
        #[arg(long, value_name = "N", default_value_t = 1000)]
        limit: u64,
    },
    /// Replication to S3-compatible object storage.
    #[command(subcommand)]
    Replication(ReplicationCommand),
    /// Re-hash every stored document and check every replica, repairing
    /// both ways; the run is recorded in the log. Exit 1 if a document
    /// cannot be repaired.
    Scrub,
    /// Rebuild the appliance from its bucket alone, with an escrow identity,
    /// into the new, empty directory given by --data-dir (no daemon needed).
    #[command(after_help = "Example: minutier restore --config minutierd.toml \
    --identity escrow.key --data-dir /var/lib/minutier")]
    Restore {
        /// minutierd's TOML configuration, with its [replication] section.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// The escrow identity file (from `minutier admin escrow-key`).
        #[arg(long, value_name = "ESCROW_KEY")]
        identity: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum ReplicationCommand {
    /// Where replication stands: queue, lag, last success and error; with
    /// ID, that archive's replicas.
    Status {
        /// Archive identifier.
        id: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum HoldCommand {
    /// Place a hold on a document; prints the hold's id.
    Place {
        /// Archive identifier.
        id: String,
        /// Why (litigation, inquiry…).
        #[arg(long, value_name = "R")]
        reason: String,
        /// The hold ends by itself after this day [default: until lifted].
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
        until: Option<String>,
    },
    /// Lift a hold.
    Lift {
        /// Archive identifier.
        id: String,
        /// The hold's id, as `hold place` or `show` print it.
        hold_id: String,
    },
}

#[derive(Debug, Subcommand)]
enum RetentionCommand {
    /// Documents whose retention period has ended: to keep (definitive
    /// archives) or that may be proposed for elimination.
    Due {
        /// Retention periods ended on or before this day [default: today].
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
        before: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum EliminationCommand {
    /// Propose the elimination of documents whose retention has ended.
    Propose {
        /// Why, e.g. "Retention period ended".
        #[arg(long, value_name = "R")]
        reason: String,
        /// The archives to eliminate.
        #[arg(required = true, value_name = "ID")]
        ids: Vec<String>,
    },
    /// Approve a proposed elimination (controller; not the proposer).
    Approve {
        /// Elimination identifier.
        eid: String,
        /// Reference or comment of the approval.
        #[arg(long, value_name = "R")]
        reason: Option<String>,
    },
    /// Refuse a proposed elimination (controller); a reason is required.
    Refuse {
        /// Elimination identifier.
        eid: String,
        /// Why the documents are kept.
        #[arg(long, value_name = "R")]
        reason: Option<String>,
    },
    /// Execute an approved elimination: destroys the documents' content and
    /// writes the signed certificate and its French rendering.
    Execute {
        /// Elimination identifier.
        eid: String,
        /// Where to write the certificate (never overwritten); its French
        /// rendering goes to FILE.txt [default: elimination-<EID>.cert].
        #[arg(long, value_name = "FILE")]
        certificate: Option<PathBuf>,
    },
    /// Show an elimination order.
    Show {
        /// Elimination identifier.
        eid: String,
        /// If executed, write its certificate to FILE and the French
        /// rendering to FILE.txt (never overwritten).
        #[arg(long, value_name = "FILE")]
        certificate: Option<PathBuf>,
    },
    /// List every elimination order.
    List,
    /// Verify an elimination certificate, offline (no server contact).
    Verify {
        /// The signed certificate file.
        #[arg(value_name = "CERT_FILE")]
        certificate: PathBuf,
        /// The log's verifier key, or a file containing it.
        #[arg(long, value_name = "VKEY")]
        key: String,
        /// Print the certificate's French rendering instead of a summary.
        #[arg(long)]
        french: bool,
    },
}

/// What happens to a document when its retention period ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FinalActionArg {
    /// Definitive archives: kept (or transferred), never destroyed.
    Keep,
    /// May be eliminated, with a controller's approval.
    Destroy,
}

/// Management rules (retention and access), for `ingest` and `rules`.
#[derive(Debug, Clone, Default, Args)]
pub struct RuleArgs {
    /// Retention period in years (DUA); goes with --final-action.
    #[arg(long, value_name = "YEARS", requires = "final_action")]
    pub retention: Option<u32>,
    /// What happens when the retention period ends.
    #[arg(long, value_name = "keep|destroy", requires = "retention")]
    pub final_action: Option<FinalActionArg>,
    /// Start of the retention period [default: the rule's current start
    /// when changing one, else the content's end date, else today].
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date, requires = "retention")]
    pub retention_start: Option<String>,
    /// Reference of the appraisal rule, e.g. APP-00012 (not carried over
    /// from a replaced rule).
    #[arg(long, value_name = "ID", requires = "retention")]
    pub appraisal_rule: Option<String>,
    /// Communicability delay in years.
    #[arg(long, value_name = "YEARS")]
    pub access_delay: Option<u32>,
    /// Start of the communicability delay [default: the rule's current
    /// start when changing one, else the content's end date, else today].
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date, requires = "access_delay")]
    pub access_start: Option<String>,
    /// Reference of the access rule, e.g. AR038 (not carried over from a
    /// replaced rule).
    #[arg(long, value_name = "ID", requires = "access_delay")]
    pub access_rule: Option<String>,
}

/// Options of `minutier rules`.
#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("change")
        .required(true)
        .multiple(true)
        .args(["retention", "no_retention", "access_delay", "no_access_rule"])
))]
pub struct RulesArgs {
    /// Archive identifier.
    pub id: String,
    #[command(flatten)]
    pub rules: RuleArgs,
    /// Remove the retention period: the document is kept until a rule is set.
    #[arg(long, conflicts_with_all = ["retention", "final_action", "retention_start", "appraisal_rule"])]
    pub no_retention: bool,
    /// Remove the access rule: the document is communicable at once.
    #[arg(long, conflicts_with_all = ["access_delay", "access_start", "access_rule"])]
    pub no_access_rule: bool,
}

/// Options of `minutier correct`: each field given replaces the current one.
#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("fields")
        .required(true)
        .multiple(true)
        .args([
            "title", "description", "agency", "submission_agency", "archival_agreement",
            "start_date", "end_date", "keywords", "document_type", "language",
            "custodial_history", "file_name", "media_type",
        ])
))]
pub struct CorrectArgs {
    /// Archive identifier.
    pub id: String,
    /// Title.
    #[arg(long, value_name = "T")]
    pub title: Option<String>,
    /// Description.
    #[arg(long, value_name = "D")]
    pub description: Option<String>,
    /// Originating agency code.
    #[arg(long, value_name = "CODE")]
    pub agency: Option<String>,
    #[command(flatten)]
    pub seda: SedaArgs,
    /// First date of the content ("" to remove it).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_optional_date)]
    pub start_date: Option<String>,
    /// Last date of the content ("" to remove it).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_optional_date)]
    pub end_date: Option<String>,
    /// Keyword (repeatable); replaces the whole list (`--keyword ""` empties it).
    #[arg(long = "keyword", value_name = "K")]
    pub keywords: Vec<String>,
    /// The file's name as the producer knew it.
    #[arg(long, value_name = "NAME")]
    pub file_name: Option<String>,
    /// IANA media type.
    #[arg(long, value_name = "M")]
    pub media_type: Option<String>,
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
    /// Create a web console account that signs in with LOGIN and a
    /// password (generated and shown once unless --password-stdin).
    Account {
        /// 1 to 64 characters of a-z, 0-9, '.', '_' or '-'.
        login: String,
        /// The holder's name, e.g. "Marie Dupont".
        #[arg(long)]
        name: String,
        /// archivist, dms, auditor or controller (not admin).
        #[arg(long)]
        role: String,
        /// Originating agency code (dms accounts only).
        #[arg(long, value_name = "CODE")]
        agency: Option<String>,
        /// Validity in days [default: 730].
        #[arg(
            long,
            visible_alias = "validity-days",
            value_name = "DAYS",
            default_value_t = 0,
            hide_default_value = true
        )]
        days: u32,
        /// Also require a TOTP code at sign-in; the secret is shown once.
        #[arg(long)]
        totp: bool,
        /// Read the password from the first line of standard input instead
        /// of generating one.
        #[arg(long)]
        password_stdin: bool,
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
    /// Generate an escrow identity for replication, on this machine (never
    /// sent anywhere): keep it off the box, on paper or an offline USB key.
    EscrowKey {
        /// Where to write the identity (created 0600; never overwritten).
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
}

/// SEDA description fields shared by `ingest` and `correct`.
#[derive(Debug, Args)]
pub struct SedaArgs {
    /// Code of the service that transferred the document(s).
    #[arg(long, value_name = "CODE")]
    pub submission_agency: Option<String>,
    /// Reference of the archival agreement.
    #[arg(long, value_name = "REF")]
    pub archival_agreement: Option<String>,
    /// Kind of document, e.g. "Délibération".
    #[arg(long, value_name = "T")]
    pub document_type: Option<String>,
    /// Language of the content, e.g. fr.
    #[arg(long, value_name = "TAG")]
    pub language: Option<String>,
    /// Custodial history (free text).
    #[arg(long, value_name = "TEXT")]
    pub custodial_history: Option<String>,
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
    #[command(flatten)]
    pub seda: SedaArgs,
    #[command(flatten)]
    pub rules: RuleArgs,
    /// Write each seal into this directory, mirroring the input tree.
    #[arg(long, value_name = "DIR")]
    pub seal_dir: Option<PathBuf>,
    /// Documents in flight at once. Many small documents in flight let the
    /// daemon seal them together (one fsync and one checkpoint per batch);
    /// large files are additionally limited to 4 at a time. The default is
    /// the daemon's limit of calls per connection.
    #[arg(long, value_name = "N", default_value_t = 128,
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

/// [`parse_date`], or "" to clear a date.
fn parse_optional_date(s: &str) -> Result<String, String> {
    if s.is_empty() {
        Ok(String::new())
    } else {
        parse_date(s)
    }
}

/// A day (YYYY-MM-DD) or an RFC 3339 time as records write them
/// (2026-11-29T08:52:46.123Z).
fn parse_since(s: &str) -> Result<String, String> {
    if s.parse::<minutier_seal::record::Timestamp>().is_ok() {
        return Ok(s.to_owned());
    }
    parse_date(s).map_err(|_| {
        format!("expected a date as YYYY-MM-DD or a time as 2026-11-29T08:52:46.123Z, got {s:?}")
    })
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
        Command::ImportSip {
            package,
            reply,
            seal_dir,
        } => {
            let options = transfer::ImportOptions {
                reply: reply.as_deref(),
                seal_dir: seal_dir.as_deref(),
            };
            transfer::import(server, json, &package, options).await
        }
        Command::Transfer {
            agency,
            message_identifier,
            reply,
        } => transfer::show(server, json, &agency, &message_identifier, reply.as_deref()).await,
        Command::ProofReport {
            ids,
            key,
            kept_checkpoint,
            tsa_ca,
            html,
        } => {
            let options = proof_report::Options {
                key: key.as_deref(),
                kept_checkpoint: kept_checkpoint.as_deref(),
                tsa_ca: tsa_ca.as_deref(),
                html: html.as_deref(),
            };
            proof_report::run(server, json, &ids, options).await
        }
        Command::Export { bag, ids } => bag::export(server, json, &bag, &ids).await,
        Command::VerifyBag { dir, key } => bag::verify(json, &dir, key.as_deref()),
        Command::Audit(args) => full_audit::run(json, server.data_dir.as_deref(), args).await,
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
            AdminCommand::Account {
                login,
                name,
                role,
                agency,
                days,
                totp,
                password_stdin,
            } => {
                admin::account(
                    server,
                    json,
                    admin::AccountArgs {
                        login: &login,
                        name: &name,
                        role: &role,
                        agency: agency.as_deref(),
                        validity_days: days,
                        totp,
                        password_stdin,
                    },
                )
                .await
            }
            AdminCommand::Revoke { name, serial } => {
                admin::revoke(server, json, &name, serial.as_deref()).await
            }
            AdminCommand::List => admin::list(server, json).await,
            AdminCommand::Status => admin::status(server, json).await,
            AdminCommand::EscrowKey { output } => recovery::escrow_key(json, &output),
        },
        Command::Whoami => admin::whoami(server, json).await,
        Command::Status => status::run(server, json).await,
        Command::Consistency { old, key } => {
            audit::consistency(server, json, &old, key.as_deref()).await
        }
        Command::Correct(args) => lifecycle::correct(server, json, args).await,
        Command::Rules(args) => lifecycle::rules(server, json, args).await,
        Command::Hold(HoldCommand::Place { id, reason, until }) => {
            lifecycle::place_hold(server, json, &id, &reason, until.as_deref()).await
        }
        Command::Hold(HoldCommand::Lift { id, hold_id }) => {
            lifecycle::lift_hold(server, json, &id, &hold_id).await
        }
        Command::History { id, key } => history::history(server, json, &id, key.as_deref()).await,
        Command::Timestamps { export, key } => {
            timestamps::run(server, json, export.as_deref(), key.as_deref()).await
        }
        Command::Journal {
            archive,
            actor,
            since,
            limit,
        } => history::journal(server, json, archive, actor, since, limit).await,
        Command::Retention(RetentionCommand::Due { before }) => {
            retention::due(server, json, before).await
        }
        Command::Elimination(command) => match command {
            EliminationCommand::Propose { reason, ids } => {
                elimination::propose(server, json, &reason, ids).await
            }
            EliminationCommand::Approve { eid, reason } => {
                elimination::decide(server, json, &eid, true, reason).await
            }
            EliminationCommand::Refuse { eid, reason } => {
                elimination::decide(server, json, &eid, false, reason).await
            }
            EliminationCommand::Execute { eid, certificate } => {
                elimination::execute(server, json, &eid, certificate).await
            }
            EliminationCommand::Show { eid, certificate } => {
                elimination::show(server, json, &eid, certificate).await
            }
            EliminationCommand::List => elimination::list(server, json).await,
            EliminationCommand::Verify {
                certificate,
                key,
                french,
            } => elimination::verify(json, &certificate, &key, french),
        },
        Command::Replication(ReplicationCommand::Status { id }) => {
            replication::status(server, json, id.as_deref()).await
        }
        Command::Scrub => replication::scrub(server, json).await,
        Command::Restore { config, identity } => {
            recovery::restore(json, &config, &identity, server.data_dir.as_deref()).await
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
    fn ingest_metadata_and_rules() {
        use clap::error::ErrorKind;
        let parse = |args: &[&str]| {
            let mut all = vec!["minutier", "ingest", "doc.pdf"];
            all.extend_from_slice(args);
            Cli::try_parse_from(all).map(|cli| match cli.command {
                Command::Ingest(args) => args,
                other => panic!("{other:?}"),
            })
        };
        let args = parse(&[
            "--submission-agency",
            "DGS",
            "--archival-agreement",
            "CONV-2026-01",
            "--document-type",
            "Délibération",
            "--language",
            "fr",
            "--custodial-history",
            "Versé par le secrétariat",
            "--retention",
            "10",
            "--final-action",
            "destroy",
            "--retention-start",
            "2026-01-01",
            "--appraisal-rule",
            "APP-1",
            "--access-delay",
            "25",
            "--access-start",
            "2026-01-01",
            "--access-rule",
            "AR038",
        ])
        .unwrap();
        assert_eq!(args.seda.submission_agency.as_deref(), Some("DGS"));
        assert_eq!(args.seda.language.as_deref(), Some("fr"));
        let rules = lifecycle::new_rules(&args.rules).unwrap();
        assert_eq!(rules.appraisal.unwrap().rule_id, "APP-1");
        assert_eq!(rules.access.unwrap().delay_years, Some(25));
        assert!(lifecycle::new_rules(&parse(&[]).unwrap().rules).is_none());

        let err = |args: &[&str]| parse(args).map(|_| ()).map_err(|e| e.kind());
        assert_eq!(
            err(&["--retention", "10"]),
            Err(ErrorKind::MissingRequiredArgument)
        );
        assert_eq!(
            err(&["--final-action", "keep"]),
            Err(ErrorKind::MissingRequiredArgument)
        );
        assert_eq!(
            err(&["--retention-start", "2026-01-01"]),
            Err(ErrorKind::MissingRequiredArgument)
        );
        assert_eq!(
            err(&["--access-start", "2026-01-01"]),
            Err(ErrorKind::MissingRequiredArgument)
        );
        assert_eq!(
            err(&["--retention", "x", "--final-action", "keep"]),
            Err(ErrorKind::ValueValidation)
        );
    }

    #[test]
    fn lifecycle_grammar() {
        let ok = |args: &[&str]| {
            let mut all = vec!["minutier"];
            all.extend_from_slice(args);
            Cli::try_parse_from(all)
        };
        assert!(ok(&[
            "hold",
            "place",
            "A1",
            "--reason",
            "r",
            "--until",
            "2030-01-01"
        ])
        .is_ok());
        assert!(ok(&["hold", "place", "A1"]).is_err());
        assert!(ok(&["hold", "lift", "A1", "H1"]).is_ok());
        assert!(ok(&["history", "A1", "--key", "k"]).is_ok());
        assert!(ok(&["retention", "due", "--before", "2030-01-01"]).is_ok());
        assert!(ok(&["retention", "due", "--before", "soon"]).is_err());
        assert!(ok(&["journal", "--since", "2026-11-29"]).is_ok());
        assert!(ok(&[
            "journal",
            "--since",
            "2026-11-29T08:52:46.123Z",
            "--limit",
            "5"
        ])
        .is_ok());
        assert!(ok(&["journal", "--since", "yesterday"]).is_err());
        let cli = ok(&["journal"]).unwrap();
        assert!(matches!(cli.command, Command::Journal { limit: 1000, .. }));
    }

    #[test]
    fn replication_and_recovery_grammar() {
        let parse = |args: &[&str]| {
            let mut all = vec!["minutier"];
            all.extend_from_slice(args);
            Cli::try_parse_from(all)
        };
        // Exactly as the documentation writes it: the global --data-dir is
        // the destination.
        let cli = parse(&[
            "restore",
            "--config",
            "minutierd.toml",
            "--identity",
            "escrow.key",
            "--data-dir",
            "/srv/new",
        ])
        .unwrap();
        assert_eq!(
            cli.data_dir.as_deref(),
            Some(std::path::Path::new("/srv/new"))
        );
        match cli.command {
            Command::Restore { config, identity } => {
                assert_eq!(config, PathBuf::from("minutierd.toml"));
                assert_eq!(identity, PathBuf::from("escrow.key"));
            }
            other => panic!("{other:?}"),
        }
        // Before the subcommand too.
        let cli = parse(&[
            "--data-dir",
            "/srv/new",
            "restore",
            "--identity",
            "k",
            "--config",
            "c",
            "--json",
        ])
        .unwrap();
        assert!(cli.json && cli.data_dir.is_some());
        assert!(parse(&["restore", "--config", "c"]).is_err());
        assert!(parse(&["restore", "--identity", "k"]).is_err());

        let cli = parse(&["admin", "escrow-key", "-o", "escrow.key"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Admin(AdminCommand::EscrowKey { ref output }) if output == &PathBuf::from("escrow.key")
        ));
        assert!(parse(&["admin", "escrow-key"]).is_err());

        let cli = parse(&[
            "admin",
            "account",
            "m.dupont",
            "--name",
            "Marie Dupont",
            "--role",
            "archivist",
            "--days",
            "90",
            "--totp",
            "--password-stdin",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Command::Admin(AdminCommand::Account { ref login, days: 90, totp: true, password_stdin: true, .. })
                if login == "m.dupont"
        ));
        assert!(parse(&["admin", "account", "--name", "N", "--role", "auditor"]).is_err());

        let cli = parse(&["replication", "status"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Replication(ReplicationCommand::Status { id: None })
        ));
        let cli = parse(&["replication", "status", "A1", "--json"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Replication(ReplicationCommand::Status { id: Some(ref id) }) if id == "A1"
        ));
        assert!(parse(&["replication"]).is_err());
        assert!(matches!(parse(&["scrub"]).unwrap().command, Command::Scrub));
        assert!(parse(&["scrub", "extra"]).is_err());
    }

    #[test]
    fn timestamps_take_an_export_directory_and_a_key() {
        let parse = |args: &[&str]| {
            let mut all = vec!["minutier"];
            all.extend_from_slice(args);
            Cli::try_parse_from(all)
        };
        assert!(matches!(
            parse(&["timestamps"]).unwrap().command,
            Command::Timestamps {
                export: None,
                key: None
            }
        ));
        assert!(matches!(
            parse(&["timestamps", "--export", "ts", "--key", "k"]).unwrap().command,
            Command::Timestamps { export: Some(ref d), key: Some(ref k) }
                if d == &PathBuf::from("ts") && k == "k"
        ));
        assert!(parse(&["timestamps", "extra"]).is_err());
    }

    #[test]
    fn bag_grammar() {
        let parse = |args: &[&str]| {
            let mut all = vec!["minutier"];
            all.extend_from_slice(args);
            Cli::try_parse_from(all)
        };
        let cli = parse(&["export", "--bag", "out", "A1", "B2", "--json"]).unwrap();
        assert!(cli.json);
        assert!(matches!(
            cli.command,
            Command::Export { ref bag, ref ids } if bag == &PathBuf::from("out") && ids.len() == 2
        ));
        assert!(parse(&["export", "--bag", "out"]).is_err());
        assert!(parse(&["export", "A1"]).is_err());
        let cli = parse(&["verify-bag", "out", "--key", "k"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::VerifyBag { key: Some(ref k), .. } if k == "k"
        ));
        assert!(matches!(
            parse(&["verify-bag", "out"]).unwrap().command,
            Command::VerifyBag { key: None, .. }
        ));
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
