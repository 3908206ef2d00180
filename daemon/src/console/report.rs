//! The probative value report of one archive: each check the appliance
//! can make on it (content, chain, checkpoint, time-stamp, replica), as
//! conforme, non conforme or non vérifié, with what was found.

use std::sync::Arc;

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use maud::{html, Markup};
use minutier_seal::record::Timestamp;
use minutier_seal::{chain, hash, tree, Hash};
use sha2::{Digest, Sha256};

use super::audit::{signature_failure, verifier};
use super::i18n::Lang;
use super::page::{archive_url, now_millis, Ctx, Page};
use super::server::Shared;
use crate::archive::ArchiveService;
use crate::auth::Action;
use crate::https::percent_encode;
use crate::lifecycle::Read;
use crate::model::ArchiveEntry;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Pass,
    Fail,
    /// Not checked, or not yet done (a time-stamp, a replica to come);
    /// never counted as a pass.
    Pending,
}

struct Check {
    name: &'static str,
    outcome: Outcome,
    detail: String,
}

fn outcome_words(o: Outcome, l: Lang) -> (&'static str, &'static str, &'static str) {
    match o {
        Outcome::Pass => ("pass", "pass", l.t("conforme", "compliant")),
        Outcome::Fail => ("fail", "fail", l.t("non conforme", "not compliant")),
        Outcome::Pending => (
            "not-checked",
            "not-checked",
            l.t("non vérifié", "not checked"),
        ),
    }
}

/// Re-reads the stored content and hashes it here, independently of the
/// reader's own check.
fn rehash(service: &ArchiveService, entry: &ArchiveEntry) -> Result<(Hash, u64), String> {
    let mut reader = service
        .open_content(&entry.archive_id)
        .map_err(|e| e.to_string())?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = reader.next_chunk().map_err(|e| e.to_string())? {
        size += chunk.len() as u64;
        hasher.update(&chunk);
    }
    Ok((hasher.finalize().into(), size))
}

fn content_check(service: &Arc<ArchiveService>, entry: &ArchiveEntry, l: Lang) -> Check {
    let name = l.t("Intégrité du contenu", "Content integrity");
    if entry.is_eliminated() {
        return Check {
            name,
            outcome: Outcome::Pending,
            detail: l
                .t(
                    "Contenu détruit par élimination : seules les métadonnées et l'historique demeurent.",
                    "Content destroyed by elimination: only the metadata and the history remain.",
                )
                .to_owned(),
        };
    }
    match rehash(service, entry) {
        Ok((sha, size)) if sha == entry.content_sha256 && size == entry.size => Check {
            name,
            outcome: Outcome::Pass,
            detail: format!(
                "{} {} ({}){}",
                l.t(
                    "Le contenu conservé, relu, a pour empreinte SHA-256",
                    "The stored content, read back, has SHA-256"
                ),
                hash::to_hex(&sha),
                l.bytes(size),
                l.t(", celle qui est scellée.", ", the one sealed.")
            ),
        },
        Ok((sha, size)) => Check {
            name,
            outcome: Outcome::Fail,
            detail: format!(
                "{} {} ({}) ; {} {} ({}).",
                l.t(
                    "Le contenu conservé a pour empreinte",
                    "The stored content has SHA-256"
                ),
                hash::to_hex(&sha),
                l.bytes(size),
                l.t("le scellement indique", "the seal states"),
                hash::to_hex(&entry.content_sha256),
                l.bytes(entry.size)
            ),
        },
        Err(e) => Check {
            name,
            outcome: Outcome::Fail,
            detail: e,
        },
    }
}

/// The chain's records, each proven in the latest checkpoint, linked one
/// to the next, and ending at the head the index knows.
fn chain_check(
    history: &crate::archive::History,
    root: Option<&Hash>,
    entry: &ArchiveEntry,
    l: Lang,
) -> Check {
    let name = l.t("Chaîne de l'archive", "The archive's chain");
    let fail = |detail: String| Check {
        name,
        outcome: Outcome::Fail,
        detail,
    };
    let Some(root) = root else {
        return Check {
            name,
            outcome: Outcome::Pending,
            detail: l
                .t(
                    "Non vérifiée : le point de contrôle n'est pas authentique (voir ci-dessous).",
                    "Not checked: the checkpoint is not authentic (see below).",
                )
                .to_owned(),
        };
    };
    let size = history.checkpoint.size;
    for e in &history.entries {
        if let Err(err) = tree::verify_inclusion(
            &hash::leaf_hash(&e.record),
            e.index,
            size,
            &e.inclusion_proof,
            root,
        ) {
            return fail(format!(
                "{} {} : {err}",
                l.t("Enregistrement", "Record"),
                e.index
            ));
        }
    }
    let records: Vec<(u64, &[u8])> = history
        .entries
        .iter()
        .map(|e| (e.index, e.record.as_slice()))
        .collect();
    let links = match chain::verify_chain(&entry.archive_id, &records) {
        Ok(links) => links,
        Err(err) => return fail(err.to_string()),
    };
    let last = links.last().expect("verify_chain refuses empty chains");
    if last.record.content_sha256 != entry.content_sha256 {
        return fail(
            l.t(
                "Les enregistrements scellent une autre empreinte que celle de l'index.",
                "The records seal another digest than the index's.",
            )
            .to_owned(),
        );
    }
    if last.leaf_hash != history.head {
        // A record sealed after the checkpoint was read is not a fault.
        if entry.head_index >= size {
            return Check {
                name,
                outcome: Outcome::Pending,
                detail: l
                    .t(
                        "Le dernier enregistrement de l'archive n'est pas encore couvert par un point de contrôle ; rechargez la page.",
                        "The archive's latest record is not covered by a checkpoint yet; reload the page.",
                    )
                    .to_owned(),
            };
        }
        return fail(format!(
            "{} {} ; {} {}",
            l.t("La chaîne se termine par", "The chain ends with"),
            hash::to_hex(&last.leaf_hash),
            l.t("l'index en attend", "the index expects"),
            hash::to_hex(&history.head)
        ));
    }
    Check {
        name,
        outcome: Outcome::Pass,
        detail: format!(
            "{} {} {} {} {}",
            l.number(links.len() as u64),
            l.t(
                "enregistrements, chacun prouvé dans le point de contrôle de",
                "records, each proven in the checkpoint of"
            ),
            l.number(size),
            l.t(
                "enregistrements, chaînés sans rupture jusqu'à la tête",
                "records, linked without a break up to the head"
            ),
            hash::to_hex(&history.head)
        ),
    }
}

fn timestamp_check(service: &ArchiveService, entry: &ArchiveEntry, l: Lang) -> Check {
    let name = l.t("Horodatage qualifié (RFC 3161)", "Time-stamp (RFC 3161)");
    let mut from = 0;
    // Bounded: an appliance time-stamps at most a few checkpoints a day.
    for _ in 0..50 {
        let (page, next) = match service.timestamps(from, 500) {
            Ok(p) => p,
            Err(e) => {
                return Check {
                    name,
                    outcome: Outcome::Pending,
                    detail: e.to_string(),
                }
            }
        };
        if let Some(t) = page
            .iter()
            .find(|t| t.document.checkpoint_size > entry.log_index)
        {
            let when = t
                .document
                .gen_time
                .parse::<Timestamp>()
                .map(|ts| l.time(ts.0))
                .unwrap_or_else(|_| t.document.gen_time.clone());
            return Check {
                name,
                outcome: Outcome::Pass,
                detail: format!(
                    "{} {} {} {} ({} {}, {} {}).",
                    l.t(
                        "Le versement est couvert par le point de contrôle de",
                        "The deposit is covered by the checkpoint of"
                    ),
                    l.number(t.document.checkpoint_size),
                    l.t("enregistrements, horodaté le", "records, time-stamped on"),
                    when,
                    l.t("autorité", "authority"),
                    t.document.tsa,
                    l.t("enregistrement", "record"),
                    t.log_index
                ),
            };
        }
        match next {
            Some(n) => from = n,
            None => break,
        }
    }
    let detail = if service.timestamping().is_some() {
        l.t("pas encore horodaté", "not time-stamped yet")
    } else {
        l.t(
            "pas encore horodaté (horodatage non configuré)",
            "not time-stamped yet (time-stamping not configured)",
        )
    };
    Check {
        name,
        outcome: Outcome::Pending,
        detail: detail.to_owned(),
    }
}

fn replication_check(service: &ArchiveService, entry: &ArchiveEntry, l: Lang) -> Option<Check> {
    service.replication()?;
    let name = l.t("Réplication chiffrée", "Encrypted replication");
    Some(match service.replication_status(Some(&entry.archive_id)) {
        Err(e) => Check {
            name,
            outcome: Outcome::Fail,
            detail: e.to_string(),
        },
        Ok(status) => match status.archive {
            None => Check {
                name,
                outcome: Outcome::Pending,
                detail: l
                    .t(
                        "État de réplication inconnu pour cette archive.",
                        "Replication state unknown for this archive.",
                    )
                    .to_owned(),
            },
            Some(a) => {
                let content_ok = a.content_replicated || a.eliminated;
                let outcome = if content_ok && a.records_replicated {
                    Outcome::Pass
                } else {
                    Outcome::Pending
                };
                let content = if a.eliminated {
                    l.t("contenu éliminé", "content eliminated")
                } else if a.content_replicated {
                    l.t("contenu répliqué", "content replicated")
                } else {
                    l.t(
                        "contenu en attente de réplication",
                        "content awaiting replication",
                    )
                };
                let records = if a.records_replicated {
                    l.t("enregistrements répliqués", "records replicated")
                } else {
                    l.t(
                        "enregistrements en attente de réplication",
                        "records awaiting replication",
                    )
                };
                Check {
                    name,
                    outcome,
                    detail: format!(
                        "{content} ; {records} ({} {}).",
                        status.endpoint, status.bucket
                    ),
                }
            }
        },
    })
}

/// `GET /archives/{id}/report`.
pub async fn show(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Page {
    ctx.allow(&shared, Action::ReadHistory)?;
    let l = ctx.lang;
    let service = shared.service.clone();
    // The report shows every version of the metadata and reads the
    // content back: journaled before anything is read.
    service
        .record_read(&id, Read::Metadata, true, ctx.actor())
        .await
        .map_err(|e| ctx.failed(e))?;
    let entry = service.archive(&id).map_err(|e| ctx.failed(e))?;
    let history = service.history(&id).map_err(|e| ctx.failed(e))?;

    let content = {
        let (service, entry) = (service.clone(), entry.clone());
        tokio::task::spawn_blocking(move || content_check(&service, &entry, l))
            .await
            .map_err(|e| {
                ctx.error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    l.t("Erreur interne", "Internal error"),
                    &e.to_string(),
                )
            })?
    };
    let opened = verifier(&service).open_checkpoint(&history.checkpoint.text);
    let signature = match &opened {
        Ok(cp) => Check {
            name: l.t("Signature du point de contrôle", "Checkpoint signature"),
            outcome: Outcome::Pass,
            detail: format!(
                "{} {} ({} {}).",
                l.t(
                    "Le point de contrôle est signé par la clé de l'appareil",
                    "The checkpoint is signed by the appliance's key"
                ),
                cp.origin,
                l.number(cp.size),
                l.t("enregistrements", "records")
            ),
        },
        Err(e) => Check {
            name: l.t("Signature du point de contrôle", "Checkpoint signature"),
            outcome: Outcome::Fail,
            detail: signature_failure(e, l, &service.verifier_key().name),
        },
    };
    let chained = chain_check(&history, opened.as_ref().ok().map(|c| &c.root), &entry, l);
    let stamp = timestamp_check(&service, &entry, l);
    let mut checks = vec![content, chained, signature, stamp];
    checks.extend(replication_check(&service, &entry, l));
    let failed = checks.iter().filter(|c| c.outcome == Outcome::Fail).count();

    let m = &entry.metadata;
    let body = html! {
        h2 { (l.t("Identité de l'archive", "The archive's identity")) }
        dl.meta {
            dt { (l.t("Identifiant", "Id")) }
            dd { code { (entry.archive_id) } }
            dt { (l.t("Intitulé", "Title")) }
            dd { (m.title) }
            dt { (l.t("Service producteur", "Originating agency")) }
            dd { @if m.originating_agency.is_empty() { span.muted { "—" } } @else { (m.originating_agency) } }
            dt { (l.t("Empreinte SHA-256 du contenu", "Content SHA-256")) }
            dd { code { (hash::to_hex(&entry.content_sha256)) } }
            dt { (l.t("Taille", "Size")) }
            dd { (l.bytes(entry.size)) " (" (l.number(entry.size)) " " (l.t("octets", "bytes")) ")" }
            dt { (l.t("Versée le", "Deposited on")) }
            dd { (l.time(entry.ingested_at)) }
            dt { (l.t("Versée par", "Deposited by")) }
            dd { code { (entry.actor) } }
            dt { (l.t("Enregistrement de versement", "Deposit record")) }
            dd { (entry.log_index) }
            @if let Some(at) = entry.eliminated_at {
                dt { (l.t("Éliminée le", "Eliminated on")) }
                dd { (l.time(at)) @if let Some(e) = &entry.elimination_id { " (" a href=(format!("/eliminations/{}", percent_encode(e))) { (e) } ")" } }
            }
        }
        h2 { (l.t("Contrôles", "Checks")) }
        @if failed == 0 {
            p.pass id="verdict-rapport" data-result="pass" {
                (l.t("Aucun contrôle non conforme.", "No check failed."))
            }
        } @else {
            p.fail id="verdict-rapport" data-result="fail" role="alert" {
                (l.number(failed as u64)) " " (l.t("contrôle(s) non conforme(s).", "check(s) failed."))
            }
        }
        (checks_table(&checks, l))
        h2 { (l.t("Point de contrôle de référence", "Reference checkpoint")) }
        pre { (history.checkpoint.text) }
        p {
            a href=(format!("/archives/{}/seal", percent_encode(&entry.archive_id))) download {
                (l.t("Télécharger le scellement", "Download the seal"))
            }
            " · "
            a href=(archive_url(&entry.archive_id)) {
                (l.t("Retour à la fiche de l'archive", "Back to the archive"))
            }
        }
        p.hint { (l.t("Rapport établi le", "Report made on")) " " (l.time(now_millis())) "." }
    };
    Ok(ctx.page(
        l.t("Rapport de valeur probante", "Probative value report"),
        body,
    ))
}

fn checks_table(checks: &[Check], l: Lang) -> Markup {
    html! {
        table id="controles" {
            caption { (l.t("Résultat de chaque contrôle", "Outcome of each check")) }
            thead { tr {
                th scope="col" { (l.t("Contrôle", "Check")) }
                th scope="col" { (l.t("Résultat", "Outcome")) }
                th scope="col" { (l.t("Détail", "Detail")) }
            } }
            tbody { @for c in checks {
                @let (class, data, words) = outcome_words(c.outcome, l);
                tr data-result=(data) {
                    th scope="row" { (c.name) }
                    td class=(class) { strong { (words) } }
                    td.detail { (c.detail) }
                }
            } }
        }
    }
}
