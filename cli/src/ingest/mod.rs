//! `minutier ingest`: archive files and directories.
//!
//! Files are uploaded `--jobs` at a time over one HTTP/2 connection. Every
//! returned seal is verified against the verifier key fetched once at start
//! and against the digest computed while streaming, so a success line means
//! "the log has signed a record of exactly these bytes".

mod media_type;
mod upload;
pub(crate) mod walk;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{anyhow, bail, Context};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use minutier_proto::v1::DocumentMetadata;
use minutier_seal::note::VerifierKey;
use minutier_seal::verify::SealVerifier;
use serde::Serialize;

use crate::client::{self, connect, Target};
use crate::output::{human_bytes, print_json};
use crate::IngestArgs;
use upload::Uploaded;
use walk::InputFile;

/// Files over this size count as large.
const LARGE_FILE: u64 = 1 << 20;
/// Most large files uploaded at once.
const LARGE_IN_FLIGHT: usize = 4;

/// One archived document in the `--json` output.
#[derive(Debug, Serialize)]
struct DocumentJson {
    path: String,
    archive_id: String,
    content_sha256: String,
    size: u64,
    log_index: u64,
    deduplicated: bool,
    seal_file: Option<String>,
}

/// One failure in the `--json` output.
#[derive(Debug, Serialize)]
struct FailureJson {
    path: String,
    error: String,
}

#[derive(Debug, Serialize)]
struct IngestJson {
    documents: Vec<DocumentJson>,
    failed: Vec<FailureJson>,
}

pub async fn run(server: &Target, json: bool, args: IngestArgs) -> anyhow::Result<ExitCode> {
    let inputs = walk::collect(&args.paths);
    let human = !json;
    let mut report = IngestJson {
        documents: Vec::new(),
        failed: Vec::new(),
    };
    for failure in &inputs.failures {
        if human {
            eprintln!("FAILED  {}: {}", failure.path.display(), failure.error);
        }
        report.failed.push(FailureJson {
            path: failure.path.display().to_string(),
            error: failure.error.clone(),
        });
    }

    let started = Instant::now();
    if !inputs.files.is_empty() {
        let mut client = connect(server).await?;
        // Fetched once: every seal of this run must verify under this key.
        let key_text = client::latest_checkpoint(&mut client).await?.verifier_key;
        let key = VerifierKey::parse(&key_text)
            .map_err(|e| anyhow!("the server's verifier key {key_text:?} is invalid: {e}"))?;
        // Shared so that its cache of verified checkpoints is too: a batch
        // sealed under one checkpoint costs one signature check.
        let verifier = Arc::new(Mutex::new(SealVerifier::new(key)));
        let progress =
            (human && std::io::stderr().is_terminal()).then(|| progress_bar(&inputs.files));

        let large_slots = Arc::new(tokio::sync::Semaphore::new(LARGE_IN_FLIGHT));
        let uploads = futures::stream::iter(inputs.files.iter().enumerate())
            .map(|(i, file)| {
                let client = client.clone();
                let large_slots = Arc::clone(&large_slots);
                let verifier = Arc::clone(&verifier);
                let metadata = metadata_for(&args, &file.path);
                let progress = progress.clone();
                let seal_dir = args.seal_dir.as_deref();
                async move {
                    // Large files need bandwidth, not concurrency: a few at
                    // a time keep both cores busy without piling up
                    // buffers and compressors on the daemon.
                    let _slot = if file.size > LARGE_FILE {
                        Some(large_slots.acquire().await.expect("semaphore never closed"))
                    } else {
                        None
                    };
                    let result =
                        upload::upload(client, &file.path, file.size, metadata, verifier, progress)
                            .await
                            .and_then(|up| {
                                let seal_file = match seal_dir {
                                    Some(dir) => Some(save_seal(dir, file, &up)?),
                                    None => None,
                                };
                                Ok((up, seal_file))
                            });
                    (i, result)
                }
            })
            .buffer_unordered(usize::from(args.jobs));
        tokio::pin!(uploads);

        // Uploads complete in any order; results are reported in input
        // order (a reorder buffer), so that output is deterministic while
        // all `--jobs` uploads stay busy.
        let mut outcomes: Vec<Option<Result<DocumentJson, FailureJson>>> =
            inputs.files.iter().map(|_| None).collect();
        let mut next_to_print = 0;
        let mut finished = 0;
        while let Some((i, result)) = uploads.next().await {
            let file = &inputs.files[i];
            finished += 1;
            if let Some(bar) = &progress {
                bar.set_message(format!("{finished}/{} files", inputs.files.len()));
            }
            outcomes[i] = Some(match result {
                Ok((up, seal_file)) => Ok(document_json(file, up, seal_file)),
                Err(e) => Err(FailureJson {
                    path: file.path.display().to_string(),
                    error: format!("{e:#}"),
                }),
            });
            while let Some(Some(outcome)) = outcomes.get(next_to_print) {
                if human {
                    print_outcome(progress.as_ref(), outcome);
                }
                next_to_print += 1;
            }
        }
        if let Some(bar) = &progress {
            bar.finish_and_clear();
        }
        for outcome in outcomes.into_iter().flatten() {
            match outcome {
                Ok(document) => report.documents.push(document),
                Err(failure) => report.failed.push(failure),
            }
        }
    }

    let any_failed = !report.failed.is_empty();
    if json {
        print_json(&report);
    } else {
        eprintln!("{}", summary(&report, started.elapsed().as_secs_f64()));
    }
    Ok(if any_failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The header metadata of one file: the command-line options, with the
/// per-file defaults (title, file name, media type).
fn metadata_for(args: &IngestArgs, path: &Path) -> DocumentMetadata {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    DocumentMetadata {
        title: args.title.clone().unwrap_or_else(|| file_name.clone()),
        originating_agency: args.agency.clone().unwrap_or_default(),
        description: args.description.clone().unwrap_or_default(),
        start_date: args.start_date.clone().unwrap_or_default(),
        end_date: args.end_date.clone().unwrap_or_default(),
        keywords: args.keywords.clone(),
        media_type: args
            .media_type
            .clone()
            .unwrap_or_else(|| media_type::guess(path).to_owned()),
        file_name,
        submission_agency: args.seda.submission_agency.clone().unwrap_or_default(),
        archival_agreement: args.seda.archival_agreement.clone().unwrap_or_default(),
        document_type: args.seda.document_type.clone().unwrap_or_default(),
        language: args.seda.language.clone().unwrap_or_default(),
        custodial_history: args.seda.custodial_history.clone().unwrap_or_default(),
        rules: crate::lifecycle::new_rules(&args.rules),
        transfer: None,
    }
}

fn document_json(file: &InputFile, up: Uploaded, seal_file: Option<PathBuf>) -> DocumentJson {
    DocumentJson {
        path: file.path.display().to_string(),
        archive_id: up.archive_id,
        content_sha256: hex::encode(up.content_sha256),
        size: up.size,
        log_index: up.log_index,
        deduplicated: up.deduplicated,
        seal_file: seal_file.map(|p| p.display().to_string()),
    }
}

/// Writes the seal under `seal_dir`. An existing file with the same content
/// is fine (re-running an ingest is idempotent); one with different content
/// is never overwritten: it may be the only copy of an older seal.
fn save_seal(seal_dir: &Path, file: &InputFile, up: &Uploaded) -> anyhow::Result<PathBuf> {
    let target = seal_dir.join(&file.seal_name);
    // The document is archived even if its seal cannot be saved: say which
    // archive, so the seal can be fetched again with `minutier seal`.
    let context = || format!("archived as {}, but", up.archive_id);
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))
            .with_context(context)?;
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&target)
    {
        Ok(mut out) => {
            // No fsync: a seal is derived data the daemon can always give
            // again (`minutier seal ID`), and one fsync per small document
            // would cost more than archiving it.
            if let Err(e) = out.write_all(up.seal.as_bytes()) {
                let _ = std::fs::remove_file(&target);
                return Err(anyhow!(e))
                    .with_context(|| format!("cannot write {}", target.display()))
                    .with_context(context);
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let existing = std::fs::read(&target)
                .with_context(|| format!("cannot read existing {}", target.display()))
                .with_context(context)?;
            if existing != up.seal.as_bytes() {
                bail!(
                    "archived as {}, but {} already exists with a different seal; \
                     refusing to overwrite it",
                    up.archive_id,
                    target.display()
                );
            }
        }
        Err(e) => {
            return Err(anyhow!(e))
                .with_context(|| format!("cannot create {}", target.display()))
                .with_context(context)
        }
    }
    Ok(target)
}

fn progress_bar(files: &[InputFile]) -> ProgressBar {
    let total: u64 = files.iter().map(|f| f.size).sum();
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} {msg}",
    ) {
        bar.set_style(style);
    }
    bar.set_message(format!("0/{} files", files.len()));
    bar
}

/// Prints one result: successes on stdout (`<archive_id>  <path>`, easy to
/// script), failures on stderr; without tearing the progress bar.
fn print_outcome(progress: Option<&ProgressBar>, outcome: &Result<DocumentJson, FailureJson>) {
    let print = || match outcome {
        Ok(d) => println!(
            "{}  {}{}",
            d.archive_id,
            d.path,
            if d.deduplicated {
                "  (already stored)"
            } else {
                ""
            }
        ),
        Err(f) => eprintln!("FAILED  {}: {}", f.path, f.error),
    };
    match progress {
        Some(bar) => bar.suspend(print),
        None => print(),
    }
}

fn summary(report: &IngestJson, seconds: f64) -> String {
    let documents = report.documents.len();
    let already = report.documents.iter().filter(|d| d.deduplicated).count();
    let bytes: u64 = report.documents.iter().map(|d| d.size).sum();
    let rate = if seconds > 0.0 {
        bytes as f64 / 1e6 / seconds
    } else {
        0.0
    };
    let mut text = format!(
        "{documents} document{} archived ({already} already stored), {bytes} bytes ({}) in {seconds:.2} s, {rate:.1} MB/s",
        if documents == 1 { "" } else { "s" },
        human_bytes(bytes),
    );
    if !report.failed.is_empty() {
        text.push_str(&format!(", {} FAILED", report.failed.len()));
    }
    text
}
