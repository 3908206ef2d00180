//! Elimination orders: `elimination propose | approve | refuse | execute |
//! show | list | verify`.
//!
//! An order is proposed by an archivist, approved (or refused) by a
//! controller who is not the proposer, then executed: the documents'
//! content is destroyed, their records stay, and the log signs a
//! certificate. `verify` checks such a certificate offline.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use minutier_proto::v1::{
    DecideEliminationRequest, Elimination, ExecuteEliminationRequest, GetEliminationRequest,
    ListEliminationsRequest, ProposeEliminationRequest,
};
use minutier_seal::certificate::EliminationCertificate;
use minutier_seal::hash::to_hex;
use minutier_seal::note::VerifierKey;
use minutier_seal::record::Timestamp;
use serde::Serialize;

use crate::audit::load_key;
use crate::client::{self, connect_lifecycle, Client, Target};
use crate::error::{rpc, usage};
use crate::output::{print_json, table};
use crate::retrieve::one_line;

// ---------------------------------------------------------------- orders

/// JSON form of an elimination order; field names follow the proto.
#[derive(Serialize)]
struct EliminationJson {
    elimination_id: String,
    state: String,
    reason: String,
    archive_ids: Vec<String>,
    proposed_by: String,
    proposed_at: String,
    decided_by: Option<String>,
    decided_at: Option<String>,
    decision_reason: Option<String>,
    executed_by: Option<String>,
    executed_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    certificate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    certificate_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    certificate_text_file: Option<String>,
}

fn opt(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

impl EliminationJson {
    fn new(e: &Elimination, with_certificate: bool, saved: Option<&Saved>) -> Self {
        EliminationJson {
            elimination_id: e.elimination_id.clone(),
            state: e.state.clone(),
            reason: e.reason.clone(),
            archive_ids: e.archive_ids.clone(),
            proposed_by: e.proposed_by.clone(),
            proposed_at: e.proposed_at.clone(),
            decided_by: opt(&e.decided_by),
            decided_at: opt(&e.decided_at),
            decision_reason: opt(&e.decision_reason),
            executed_by: opt(&e.executed_by),
            executed_at: opt(&e.executed_at),
            certificate: if with_certificate {
                opt(&e.certificate)
            } else {
                None
            },
            certificate_file: saved.map(|s| s.note.display().to_string()),
            certificate_text_file: saved.map(|s| s.text.display().to_string()),
        }
    }
}

/// The `elimination show` layout.
fn format_order(e: &Elimination) -> String {
    let decision = if e.state == "refused" {
        "refused"
    } else {
        "approved"
    };
    let step = |by: &str, at: &str| {
        if by.is_empty() {
            String::new()
        } else {
            format!("by {by} at {at}")
        }
    };
    let mut decided = step(&e.decided_by, &e.decided_at);
    if !decided.is_empty() && !e.decision_reason.is_empty() {
        decided.push_str(&format!(" ({:?})", e.decision_reason));
    }
    let mut rows: Vec<(&str, String)> = vec![
        ("elimination", e.elimination_id.clone()),
        ("state", e.state.clone()),
        ("reason", e.reason.clone()),
        ("archives", e.archive_ids.len().to_string()),
    ];
    rows.extend(e.archive_ids.iter().map(|id| ("archive", id.clone())));
    rows.extend([
        ("proposed", step(&e.proposed_by, &e.proposed_at)),
        (decision, decided),
        ("executed", step(&e.executed_by, &e.executed_at)),
    ]);
    let mut text = String::new();
    for (label, value) in rows {
        if !value.is_empty() {
            text.push_str(&format!(
                "{:<13}{}\n",
                format!("{label}:"),
                one_line(&value)
            ));
        }
    }
    text
}

fn archives(n: usize) -> String {
    format!("{n} archive{}", if n == 1 { "" } else { "s" })
}

pub async fn propose(
    server: &Target,
    json: bool,
    reason: &str,
    ids: Vec<String>,
) -> anyhow::Result<ExitCode> {
    let (mut lifecycle, _) = connect_lifecycle(server).await?;
    let order = rpc(lifecycle
        .propose_elimination(ProposeEliminationRequest {
            archive_ids: ids,
            reason: reason.to_owned(),
        })
        .await)?;
    if json {
        print_json(&EliminationJson::new(&order, false, None));
    } else {
        println!(
            "elimination {} {} for {}: {}",
            order.elimination_id,
            order.state,
            archives(order.archive_ids.len()),
            order.archive_ids.join(", ")
        );
        println!(
            "a controller other than the proposer approves it with `minutier elimination approve {}`",
            order.elimination_id
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn decide(
    server: &Target,
    json: bool,
    eid: &str,
    approve: bool,
    reason: Option<String>,
) -> anyhow::Result<ExitCode> {
    let (mut lifecycle, _) = connect_lifecycle(server).await?;
    // A refusal without a reason is the server's to refuse: it says why.
    let order = rpc(lifecycle
        .decide_elimination(DecideEliminationRequest {
            elimination_id: eid.to_owned(),
            approve,
            reason: reason.unwrap_or_default(),
        })
        .await)?;
    if json {
        print_json(&EliminationJson::new(&order, false, None));
    } else {
        let why = if order.decision_reason.is_empty() {
            String::new()
        } else {
            format!(": {:?}", order.decision_reason)
        };
        println!(
            "elimination {} {} by {} ({}){why}",
            order.elimination_id,
            order.state,
            order.decided_by,
            archives(order.archive_ids.len())
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn execute(
    server: &Target,
    json: bool,
    eid: &str,
    certificate: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let paths = CertificatePaths::new(eid, certificate);
    // Before destroying anything: the certificate must have somewhere to go.
    paths.check_free()?;
    let (mut lifecycle, mut archive) = connect_lifecycle(server).await?;
    let order = rpc(lifecycle
        .execute_elimination(ExecuteEliminationRequest {
            elimination_id: eid.to_owned(),
        })
        .await)?;
    let (saved, cert) = save_certificate(&mut archive, &order, &paths)
        .await
        .with_context(|| format!("elimination {eid} was executed, but"))?;
    if json {
        print_json(&EliminationJson::new(&order, true, Some(&saved)));
    } else {
        println!(
            "elimination {} executed: {} destroyed by {}, on the approval of {}",
            cert.elimination_id,
            archives(cert.archives.len()),
            cert.executed.1,
            cert.approved.1
        );
        println!("certificate:       {}", saved.note.display());
        println!("French rendering:  {}", saved.text.display());
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn show(
    server: &Target,
    json: bool,
    eid: &str,
    certificate: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let (mut lifecycle, mut archive) = connect_lifecycle(server).await?;
    let order = rpc(lifecycle
        .get_elimination(GetEliminationRequest {
            elimination_id: eid.to_owned(),
        })
        .await)?;
    let saved = match certificate {
        None => None,
        Some(path) => {
            if order.certificate.is_empty() {
                bail!(
                    "elimination {eid} is {}, not executed: it has no certificate",
                    order.state
                );
            }
            let paths = CertificatePaths::new(eid, Some(path));
            paths.check_free()?;
            Some(save_certificate(&mut archive, &order, &paths).await?.0)
        }
    };
    if json {
        print_json(&EliminationJson::new(&order, true, saved.as_ref()));
    } else {
        print!("{}", format_order(&order));
        if let Some(saved) = &saved {
            println!("{:<13}{}", "certificate:", saved.note.display());
            println!("{:<13}{}", "rendering:", saved.text.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn list(server: &Target, json: bool) -> anyhow::Result<ExitCode> {
    let (mut lifecycle, _) = connect_lifecycle(server).await?;
    let orders = rpc(lifecycle
        .list_eliminations(ListEliminationsRequest {})
        .await)?
    .eliminations;
    if json {
        #[derive(Serialize)]
        struct ListJson {
            eliminations: Vec<EliminationJson>,
        }
        print_json(&ListJson {
            eliminations: orders
                .iter()
                .map(|o| EliminationJson::new(o, false, None))
                .collect(),
        });
    } else if orders.is_empty() {
        eprintln!("no eliminations");
    } else {
        print!("{}", format_list(&orders));
    }
    Ok(ExitCode::SUCCESS)
}

fn format_list(orders: &[Elimination]) -> String {
    let rows: Vec<[String; 6]> = orders
        .iter()
        .map(|o| {
            [
                o.elimination_id.clone(),
                o.state.clone(),
                o.archive_ids.len().to_string(),
                o.proposed_at.clone(),
                one_line(&o.proposed_by),
                one_line(&o.reason),
            ]
        })
        .collect();
    table(
        Some([
            "ID",
            "STATE",
            "ARCHIVES",
            "PROPOSED AT",
            "PROPOSED BY",
            "REASON",
        ]),
        &rows,
        &[2],
        "",
    )
}

// ---------------------------------------------------------------- certificate files

/// Where a certificate and its French rendering go.
struct CertificatePaths {
    note: PathBuf,
    text: PathBuf,
}

/// Files written for a certificate.
struct Saved {
    note: PathBuf,
    text: PathBuf,
}

impl CertificatePaths {
    /// FILE and FILE.txt; by default `elimination-<EID>.cert` in the
    /// current directory.
    fn new(eid: &str, file: Option<PathBuf>) -> Self {
        let note = file.unwrap_or_else(|| PathBuf::from(format!("elimination-{eid}.cert")));
        let mut text: OsString = note.as_os_str().to_owned();
        text.push(".txt");
        CertificatePaths {
            note,
            text: PathBuf::from(text),
        }
    }

    /// Fails if either file exists: a certificate is never overwritten.
    fn check_free(&self) -> anyhow::Result<()> {
        for path in [&self.note, &self.text] {
            if path.exists() {
                bail!(
                    "{} already exists; a certificate is never overwritten (choose another \
                     --certificate FILE)",
                    path.display()
                );
            }
        }
        Ok(())
    }
}

/// Writes `text` to a new file; never replaces an existing one.
fn write_new(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Checks the order's certificate under the log's verifier key (as the
/// server states it) and writes it, with its French rendering. A
/// certificate that does not verify is still written as received, since it
/// may be the only copy, but the command fails.
async fn save_certificate(
    archive: &mut Client,
    order: &Elimination,
    paths: &CertificatePaths,
) -> anyhow::Result<(Saved, EliminationCertificate)> {
    let eid = &order.elimination_id;
    if order.certificate.is_empty() {
        bail!(
            "the server returned no certificate; fetch it with `minutier elimination show {eid} \
             --certificate FILE`"
        );
    }
    let key_text = client::latest_checkpoint(archive).await?.verifier_key;
    let key = VerifierKey::parse(&key_text)
        .map_err(|e| anyhow!("the server's verifier key {key_text:?} is invalid: {e}"))?;
    let checked = EliminationCertificate::verify(&order.certificate, &key)
        .map_err(|e| e.to_string())
        .and_then(|c| {
            if c.elimination_id == *eid {
                Ok(c)
            } else {
                Err(format!(
                    "it is the certificate of elimination {}",
                    c.elimination_id
                ))
            }
        });
    write_new(&paths.note, &order.certificate)?;
    let cert = checked.map_err(|e| {
        anyhow!(
            "the certificate the server returned does NOT verify under its verifier key: {e}; \
             it was written as received to {}",
            paths.note.display()
        )
    })?;
    write_new(&paths.text, &cert.render_fr())?;
    Ok((
        Saved {
            note: paths.note.clone(),
            text: paths.text.clone(),
        },
        cert,
    ))
}

// ---------------------------------------------------------------- verify

#[derive(Serialize)]
struct VerifyJson {
    verified: bool,
    file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    certificate: Option<CertificateJson>,
}

#[derive(Serialize)]
struct CertificateJson {
    origin: String,
    elimination_id: String,
    reason: String,
    proposed: StepJson,
    approved: StepJson,
    executed: StepJson,
    log_size: u64,
    archives: Vec<EliminatedJson>,
}

#[derive(Serialize)]
struct StepJson {
    time: String,
    actor: String,
}

#[derive(Serialize)]
struct EliminatedJson {
    archive_id: String,
    content_sha256: String,
    size: u64,
    tombstone_index: u64,
    tombstone_hash: String,
}

fn step_json(step: &(Timestamp, String)) -> StepJson {
    StepJson {
        time: step.0.to_string(),
        actor: step.1.clone(),
    }
}

impl From<&EliminationCertificate> for CertificateJson {
    fn from(c: &EliminationCertificate) -> Self {
        CertificateJson {
            origin: c.origin.clone(),
            elimination_id: c.elimination_id.clone(),
            reason: c.reason.clone(),
            proposed: step_json(&c.proposed),
            approved: step_json(&c.approved),
            executed: step_json(&c.executed),
            log_size: c.log_size,
            archives: c
                .archives
                .iter()
                .map(|a| EliminatedJson {
                    archive_id: a.archive_id.clone(),
                    content_sha256: to_hex(&a.content_sha256),
                    size: a.size,
                    tombstone_index: a.tombstone_index,
                    tombstone_hash: to_hex(&a.tombstone_hash),
                })
                .collect(),
        }
    }
}

/// A verified certificate, for people.
fn format_certificate(c: &EliminationCertificate) -> String {
    let mut text = format!(
        "elimination: {}\nreason:      {}\nproposed:    {} by {}\napproved:    {} by {}\n\
         executed:    {} by {}\nlog size:    {}\narchives:    {}\n",
        c.elimination_id,
        c.reason,
        c.proposed.0,
        c.proposed.1,
        c.approved.0,
        c.approved.1,
        c.executed.0,
        c.executed.1,
        c.log_size,
        c.archives.len()
    );
    let w = c
        .archives
        .iter()
        .map(|a| a.archive_id.len())
        .max()
        .unwrap_or(0);
    for a in &c.archives {
        text.push_str(&format!(
            "  {:<w$}  sha256 {}  {} bytes  tombstone record {}\n",
            a.archive_id,
            to_hex(&a.content_sha256),
            a.size,
            a.tombstone_index
        ));
    }
    text
}

/// Verifies a certificate file under `key`, offline.
pub fn verify(json: bool, file: &Path, key: &str, french: bool) -> anyhow::Result<ExitCode> {
    let key = load_key(key)?;
    let note = std::fs::read_to_string(file)
        .map_err(|e| usage(format!("cannot read certificate {}: {e}", file.display())))?;
    let shown = file.display().to_string();
    match EliminationCertificate::verify(&note, &key) {
        Ok(c) => {
            if json {
                print_json(&VerifyJson {
                    verified: true,
                    file: shown,
                    error: None,
                    certificate: Some(CertificateJson::from(&c)),
                });
            } else {
                println!(
                    "certificate verifies: {shown} is signed by the log {} (key {})",
                    c.origin, key
                );
                if french {
                    print!("\n{}", c.render_fr());
                } else {
                    print!("{}", format_certificate(&c));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if json {
                print_json(&VerifyJson {
                    verified: false,
                    file: shown,
                    error: Some(e.to_string()),
                    certificate: None,
                });
            } else {
                println!("certificate {shown} does NOT verify: {e}");
            }
            Ok(ExitCode::from(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cli;
    use clap::Parser;
    use minutier_seal::certificate::EliminatedArchive;
    use minutier_seal::note::Ed25519Signer;

    const ORIGIN: &str = "example.org/minutier";

    fn certificate() -> EliminationCertificate {
        let t: Timestamp = "2037-02-01T10:30:00.000Z".parse().unwrap();
        EliminationCertificate {
            origin: ORIGIN.into(),
            elimination_id: "E1".into(),
            reason: "Fin de DUA".into(),
            proposed: (t, "Marie [archivist 1]".into()),
            approved: (t, "Claire [controller 2]".into()),
            executed: (t, "Marie [archivist 1]".into()),
            log_size: 20,
            archives: vec![EliminatedArchive {
                archive_id: "A1".into(),
                content_sha256: [0xab; 32],
                size: 48,
                tombstone_index: 17,
                tombstone_hash: [1; 32],
            }],
        }
    }

    #[test]
    fn offline_verification() {
        let tmp = tempfile::tempdir().unwrap();
        let signer = Ed25519Signer::from_seed(ORIGIN, &[3; 32]).unwrap();
        let key = signer.verifier_key().to_string();
        let good = tmp.path().join("good.cert");
        let note = certificate().sign(&signer).unwrap();
        std::fs::write(&good, &note).unwrap();
        assert_eq!(
            verify(false, &good, &key, false).unwrap(),
            ExitCode::SUCCESS
        );

        let forged = tmp.path().join("forged.cert");
        std::fs::write(&forged, note.replace("Fin de DUA", "Fin de DUB")).unwrap();
        assert_eq!(
            verify(false, &forged, &key, false).unwrap(),
            ExitCode::from(1)
        );
        let other = Ed25519Signer::from_seed(ORIGIN, &[4; 32]).unwrap();
        let other_key = other.verifier_key().to_string();
        assert_eq!(
            verify(false, &good, &other_key, false).unwrap(),
            ExitCode::from(1)
        );

        // Bad inputs are usage errors.
        let missing = tmp.path().join("missing.cert");
        let e = verify(true, &missing, &key, false).unwrap_err();
        assert!(e.downcast_ref::<crate::error::Usage>().is_some());
        let e = verify(true, &good, "not a key", false).unwrap_err();
        assert!(e.downcast_ref::<crate::error::Usage>().is_some());

        let text = format_certificate(&certificate());
        assert!(
            text.contains(&format!(
                "  A1  sha256 {}  48 bytes  tombstone record 17\n",
                "ab".repeat(32)
            )),
            "{text}"
        );
    }

    #[test]
    fn certificate_paths_and_no_overwrite() {
        let p = CertificatePaths::new("E1", None);
        assert_eq!(p.note, PathBuf::from("elimination-E1.cert"));
        assert_eq!(p.text, PathBuf::from("elimination-E1.cert.txt"));
        let tmp = tempfile::tempdir().unwrap();
        let p = CertificatePaths::new("E1", Some(tmp.path().join("c")));
        assert_eq!(p.text, tmp.path().join("c.txt"));
        p.check_free().unwrap();
        write_new(&p.text, "x").unwrap();
        assert!(p
            .check_free()
            .unwrap_err()
            .to_string()
            .contains("never overwritten"));
        assert!(write_new(&p.text, "y").is_err());
        assert_eq!(std::fs::read_to_string(&p.text).unwrap(), "x");
    }

    #[test]
    fn grammar() {
        use clap::error::ErrorKind;
        let parse = |args: &[&str]| {
            let mut all = vec!["minutier", "elimination"];
            all.extend_from_slice(args);
            Cli::try_parse_from(all).map(|_| ()).map_err(|e| e.kind())
        };
        assert!(parse(&["propose", "--reason", "r", "A1", "A2"]).is_ok());
        assert_eq!(
            parse(&["propose", "A1"]),
            Err(ErrorKind::MissingRequiredArgument)
        );
        assert_eq!(
            parse(&["propose", "--reason", "r"]),
            Err(ErrorKind::MissingRequiredArgument)
        );
        assert!(parse(&["approve", "E1"]).is_ok());
        // A refusal's missing reason is reported by the server.
        assert!(parse(&["refuse", "E1"]).is_ok());
        assert!(parse(&["execute", "E1", "--certificate", "c"]).is_ok());
        assert!(parse(&["show", "E1"]).is_ok());
        assert!(parse(&["list"]).is_ok());
        assert_eq!(
            parse(&["verify", "c"]),
            Err(ErrorKind::MissingRequiredArgument)
        );
        assert!(parse(&["verify", "c", "--key", "k", "--french"]).is_ok());
    }

    #[test]
    fn order_layout() {
        let order = Elimination {
            elimination_id: "E1".into(),
            state: "refused".into(),
            reason: "Fin de DUA".into(),
            archive_ids: vec!["A1".into()],
            proposed_by: "Marie".into(),
            proposed_at: "T1".into(),
            decided_by: "Claire".into(),
            decided_at: "T2".into(),
            decision_reason: "Intérêt historique".into(),
            ..Default::default()
        };
        let text = format_order(&order);
        assert!(
            text.contains("refused:     by Claire at T2 (\"Intérêt historique\")\n"),
            "{text}"
        );
        assert!(!text.contains("executed"), "{text}");
        assert!(format_list(&[order])
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("E1  refused         1"));
    }
}
