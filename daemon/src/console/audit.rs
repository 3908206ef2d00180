//! Audit: the access journal, the signed checkpoints and the check that the
//! register only grew since a checkpoint kept by the auditor, and the
//! probative value report of one archive.

use std::sync::Arc;

use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use maud::{html, Markup};
use minutier_seal::checkpoint::Checkpoint;
use minutier_seal::note::VerifierKey;
use minutier_seal::record::{RecordKind, Timestamp};
use minutier_seal::verify::SealVerifier;
use minutier_seal::{chain, hash, tree, Error as SealError, Hash};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::i18n::Lang;
use super::page::{csrf_field, urlencode, Ctx, Page};
use super::server::Shared;
use crate::archive::{ArchiveService, JournalFilter};
use crate::auth::{allowed, Action};
use crate::lifecycle::Read;
use crate::metadata::Date;
use crate::model::ArchiveEntry;

const JOURNAL_PAGE: usize = 50;

/// The appliance's keys, oldest first and the current one last, as
/// [`SealVerifier::with_keys`] expects them.
fn keys(service: &ArchiveService) -> Vec<VerifierKey> {
    let mut keys = service.previous_keys().to_vec();
    keys.push(service.verifier_key().clone());
    keys
}

fn verifier(service: &ArchiveService) -> SealVerifier {
    SealVerifier::with_keys(keys(service)).expect("the current key is always there")
}

fn download(text: String, file_name: &str) -> Response {
    let mut response = text.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

// ------------------------------------------------------------------ journal

#[derive(Default)]
struct JournalQuery {
    archive: String,
    actor: String,
    since: String,
    after: String,
}

impl JournalQuery {
    /// Parsed by hand so that a malformed address still gets a page, not a
    /// bare refusal.
    fn parse(raw: Option<&str>) -> JournalQuery {
        let mut q = JournalQuery::default();
        for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            let slot = match key.as_ref() {
                "archive" => &mut q.archive,
                "actor" => &mut q.actor,
                "since" => &mut q.since,
                "after" => &mut q.after,
                _ => continue,
            };
            *slot = value.into_owned();
        }
        q
    }
}

/// A `since` bound, as the gRPC API reads it: a date (its first
/// millisecond, UTC) or an RFC 3339 time.
fn parse_since(s: &str, l: Lang) -> Result<Option<Timestamp>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(Some(t));
    }
    let day: Date = s.parse().map_err(|_| {
        format!(
            "{} « {s} » {}",
            l.t("La date", "The date"),
            l.t(
                "n'est pas une date de la forme AAAA-MM-JJ (par exemple 2026-11-29).",
                "is not a date of the form YYYY-MM-DD (for example 2026-11-29)."
            )
        )
    })?;
    format!("{day}T00:00:00.000Z")
        .parse()
        .map(Some)
        .map_err(|_| {
            format!(
                "{} « {s} » {}",
                l.t("La date", "The date"),
                l.t("est antérieure à 1970.", "is before 1970.")
            )
        })
}

/// `GET /audit/journal`.
pub async fn journal(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<Ctx>,
    RawQuery(query): RawQuery,
) -> Page {
    ctx.allow(&shared, Action::ReadJournal)?;
    let l = ctx.lang;
    let q = JournalQuery::parse(query.as_deref());
    let bad = |msg: &str| {
        ctx.error(
            StatusCode::BAD_REQUEST,
            l.t("Filtre invalide", "Invalid filter"),
            msg,
        )
    };
    let archive = q.archive.trim();
    if !archive.is_empty() {
        minutier_seal::record::validate_archive_id(archive).map_err(|e| {
            bad(&format!(
                "{} « {archive} » : {e}",
                l.t("Identifiant d'archive invalide", "Invalid archive id")
            ))
        })?;
    }
    let since_text = q.since.trim();
    let since = parse_since(since_text, l).map_err(|m| bad(&m))?;
    let after = match q.after.trim() {
        "" => None,
        a => Some(a.parse::<u64>().map_err(|_| {
            bad(l.t(
                "Le paramètre « after » doit être un numéro d'enregistrement.",
                "The “after” parameter must be a record index.",
            ))
        })?),
    };
    let actor = q.actor.trim();
    let filter = JournalFilter {
        archive_id: (!archive.is_empty()).then(|| archive.to_owned()),
        actor_contains: (!actor.is_empty()).then(|| actor.to_owned()),
        since,
        after_index: after,
        page_size: JOURNAL_PAGE,
    };
    let (entries, next) = shared.service.journal(&filter).map_err(|e| ctx.failed(e))?;
    let next_url = next.map(|n| {
        format!(
            "/audit/journal?archive={}&actor={}&since={}&after={n}",
            urlencode(archive),
            urlencode(actor),
            urlencode(since_text)
        )
    });
    let body = html! {
        form method="get" action="/audit/journal" {
            fieldset {
                legend { (l.t("Filtrer les lectures", "Filter the reads")) }
                div.field {
                    label for="archive" { (l.t("Identifiant de l'archive", "Archive id")) }
                    input type="text" id="archive" name="archive" value=(archive);
                }
                div.field {
                    label for="actor" { (l.t("Lecteur (contient)", "Reader (contains)")) }
                    input type="text" id="actor" name="actor" value=(actor);
                }
                div.field {
                    label for="since" { (l.t("Depuis le (AAAA-MM-JJ)", "Since (YYYY-MM-DD)")) }
                    input type="text" id="since" name="since" value=(since_text)
                        placeholder="2026-11-29" inputmode="numeric" aria-describedby="since-hint";
                    p.hint id="since-hint" { (l.t("Date en temps universel (UTC).", "Date in universal time (UTC).")) }
                }
                button type="submit" { (l.t("Filtrer", "Filter")) }
            }
        }
        h2 { (l.t("Lectures journalisées", "Journaled reads")) }
        @if entries.is_empty() {
            p { (l.t("Aucune lecture ne correspond à ces critères.", "No read matches these criteria.")) }
        } @else {
            table {
                caption { (l.t("Lectures, les plus anciennes d'abord", "Reads, oldest first")) }
                thead { tr {
                    th scope="col" class="num" { (l.t("N° d'enregistrement", "Record index")) }
                    th scope="col" { (l.t("Date", "Time")) }
                    th scope="col" { (l.t("Lecteur", "Reader")) }
                    th scope="col" { (l.t("Nature", "Kind")) }
                    th scope="col" { (l.t("Archive", "Archive")) }
                } }
                tbody { @for e in &entries { tr {
                    td class="num" { (e.index) }
                    td { (l.time(e.record.time.0)) }
                    td { code { (e.record.actor) } }
                    td { (read_kind(e.record.kind, l)) }
                    td { a href=(format!("/archives/{}", urlencode(&e.record.archive_id))) { code { (e.record.archive_id) } } }
                } } }
            }
        }
        @if let Some(url) = &next_url {
            p.pager { a href=(url) rel="next" { (l.t("Page suivante", "Next page")) } }
        }
    };
    Ok(ctx.page(l.t("Journal des accès", "Access journal"), body))
}

fn read_kind(kind: RecordKind, l: Lang) -> &'static str {
    match kind {
        RecordKind::ReadContent => l.t("lecture du contenu", "content read"),
        RecordKind::ReadMetadata => l.t("lecture des métadonnées", "metadata read"),
        _ => kind.as_str(),
    }
}

// -------------------------------------------------------------- checkpoints

/// `GET /audit/checkpoints`.
pub async fn checkpoints(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<Ctx>,
) -> Page {
    let session = ctx.allow(&shared, Action::ReadCheckpoint)?;
    let l = ctx.lang;
    let service = &shared.service;
    let latest = service.latest_checkpoint().map_err(|e| ctx.failed(e))?;
    let previous = service.previous_keys();
    let may_check = allowed(session.identity.role, Action::ReadProof);
    let body = html! {
        h2 { (l.t("Dernier point de contrôle signé", "Latest signed checkpoint")) }
        p {
            (l.t("Le registre compte", "The register holds")) " " (l.number(latest.size)) " "
            (l.t("enregistrements.", "records."))
        }
        pre id="dernier-point" { (latest.text) }
        p { a href="/audit/checkpoint" download { (l.t("Télécharger ce point de contrôle", "Download this checkpoint")) } }
        p.hint { (l.t(
            "Conservez-le : vous pourrez plus tard vérifier que le registre n'a fait que s'allonger depuis.",
            "Keep it: you can later check that the register has only grown since."
        )) }
        h2 { (l.t("Clés de vérification de l'appareil", "The appliance's verifier keys")) }
        dl.meta {
            dt { (l.t("Clé actuelle", "Current key")) }
            dd { code { (service.verifier_key().to_string()) } }
            @if !previous.is_empty() {
                dt { (l.t("Clés précédentes (avant rotation)", "Previous keys (before rotation)")) }
                @for k in previous { dd { code { (k.to_string()) } } }
            }
        }
        @if may_check {
            h2 { (l.t("Vérifier la cohérence avec un point de contrôle conservé", "Check consistency with a kept checkpoint")) }
            form method="post" action="/audit/consistency" {
                (csrf_field(session))
                div.field {
                    label for="checkpoint" { (l.t("Point de contrôle précédemment obtenu", "Checkpoint obtained earlier")) }
                    textarea id="checkpoint" name="checkpoint" required rows="8" aria-describedby="checkpoint-hint" {}
                    p.hint id="checkpoint-hint" { (l.t(
                        "Collez le texte complet, signature comprise ; le contenu d'un fichier .checkpoint ou checkpoint-….txt enregistré peut être collé tel quel.",
                        "Paste the whole text, signature included; the content of a saved .checkpoint or checkpoint-….txt file can be pasted as is."
                    )) }
                }
                button type="submit" { (l.t("Vérifier la cohérence", "Check consistency")) }
            }
        }
    };
    Ok(ctx.page(l.t("Points de contrôle", "Checkpoints"), body))
}

/// `GET /audit/checkpoint`.
pub async fn checkpoint_file(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<Ctx>,
) -> Page {
    ctx.allow(&shared, Action::ReadCheckpoint)?;
    let latest = shared
        .service
        .latest_checkpoint()
        .map_err(|e| ctx.failed(e))?;
    Ok(download(
        latest.text.to_string(),
        &format!("checkpoint-{}.txt", latest.size),
    ))
}

#[derive(Deserialize)]
pub struct ConsistencyForm {
    #[serde(default)]
    checkpoint: String,
}

/// Why a pasted checkpoint is not one of this appliance's.
fn signature_failure(e: &SealError, l: Lang, ours: &str) -> String {
    match e {
        SealError::OriginMismatch { origin, .. } => format!(
            "{} « {origin} » {} « {ours} » {}",
            l.t("Ce point de contrôle a pour origine", "This checkpoint's origin is"),
            l.t("et non", "not"),
            l.t(
                ": il a été émis par un autre registre que celui de cet appareil.",
                ": it was issued by another register than this appliance's."
            )
        ),
        SealError::BadSignature { .. } => l
            .t(
                "La signature ne vérifie pas : le texte a été modifié après sa signature (une ligne, un chiffre, un espace), ou il a été signé par une autre clé portant le même nom.",
                "The signature does not verify: the text was altered after it was signed (a line, a digit, a space), or it was signed by another key under the same name.",
            )
            .to_owned(),
        SealError::NoSignatureByKey { .. } | SealError::NoSignatureByKeys { .. } => l
            .t(
                "Ce point de contrôle ne porte aucune signature par les clés de cet appareil (actuelle ou précédentes).",
                "This checkpoint carries no signature by this appliance's keys (current or previous).",
            )
            .to_owned(),
        other => format!(
            "{} {other}",
            l.t("La signature n'a pas pu être vérifiée :", "The signature could not be verified:")
        ),
    }
}

/// `POST /audit/consistency`.
pub async fn consistency(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<Ctx>,
    Form(form): Form<ConsistencyForm>,
) -> Page {
    ctx.allow(&shared, Action::ReadProof)?;
    let l = ctx.lang;
    let service = &shared.service;
    // Browsers send a textarea with CRLF line endings, and a paste may lose
    // the final newline: notes are LF-only and end with one.
    let pasted = form.checkpoint.replace("\r\n", "\n");
    let pasted = pasted.trim();
    let unparsable = |why: String| {
        ctx.error(
            StatusCode::BAD_REQUEST,
            l.t("Point de contrôle illisible", "Unreadable checkpoint"),
            &why,
        )
    };
    if pasted.is_empty() {
        return Err(unparsable(
            l.t(
                "Collez le texte d'un point de contrôle obtenu précédemment.",
                "Paste the text of a checkpoint obtained earlier.",
            )
            .to_owned(),
        ));
    }
    let old_text = format!("{pasted}\n");
    let old = Checkpoint::parse_unverified(&old_text).map_err(|e| {
        unparsable(format!(
            "{} {e}",
            l.t(
                "Le texte collé n'est pas un point de contrôle signé :",
                "The text pasted is not a signed checkpoint:"
            )
        ))
    })?;
    let latest = service.latest_checkpoint().map_err(|e| ctx.failed(e))?;
    let ours = service.verifier_key().name.clone();
    let mut v = verifier(service);

    let mut new_text: Option<String> = None;
    let verdict: Result<(u64, u64), String> = 'check: {
        // Said first: a checkpoint of another register also lacks our
        // signature, but the origin is the reason worth reporting.
        if old.origin != ours {
            break 'check Err(signature_failure(
                &SealError::OriginMismatch {
                    origin: old.origin.clone(),
                    key_name: ours.clone(),
                },
                l,
                &ours,
            ));
        }
        if let Err(e) = v.open_checkpoint(&old_text) {
            break 'check Err(signature_failure(&e, l, &ours));
        }
        if old.size > latest.size {
            break 'check Err(format!(
                "{} {} {} {} {}",
                l.t("Votre point de contrôle compte", "Your checkpoint counts"),
                l.number(old.size),
                l.t(
                    "enregistrements, mais le registre actuel n'en compte que",
                    "records, but the current register only has"
                ),
                l.number(latest.size),
                l.t(
                    ": le registre a été tronqué ou remplacé.",
                    ": the register was truncated or replaced."
                )
            ));
        }
        // The empty tree is a prefix of every tree; the service asks for a
        // non-empty old tree.
        let (proof, new) = if old.size == 0 {
            (Vec::new(), latest.clone())
        } else {
            match service.consistency(old.size, None) {
                Ok(p) => p,
                Err(e) => {
                    break 'check Err(format!(
                        "{} {e}",
                        l.t(
                            "La preuve de cohérence n'a pas pu être produite :",
                            "The consistency proof could not be produced:"
                        )
                    ))
                }
            }
        };
        new_text = Some(new.text.to_string());
        match v.verify_consistency(&old_text, &new.text, &proof) {
            Ok((o, n)) => Ok((o.size, n.size)),
            Err(SealError::ConsistencyProofFailed(why)) => Err(format!(
                "{} ({why})",
                l.t(
                    "Incohérence : le registre actuel ne prolonge pas celui de votre point de contrôle ; des enregistrements antérieurs ont été réécrits.",
                    "Inconsistent: the current register does not extend the one of your checkpoint; earlier records were rewritten."
                )
            )),
            Err(e) => Err(format!(
                "{} {e}",
                l.t("La vérification a échoué :", "The check failed:")
            )),
        }
    };
    let body = html! {
        @match &verdict {
            Ok((m, n)) => {
                p.pass id="verdict-coherence" data-result="pass" role="status" {
                    strong { (l.t("Cohérent", "Consistent")) } " : "
                    (l.t("le registre actuel", "the current register")) " ("
                    (l.number(*n)) " " (l.t("enregistrements", "records")) ") "
                    (l.t("prolonge celui de votre point de contrôle", "extends the one of your checkpoint")) " ("
                    (l.number(*m)) " " (l.t("enregistrements", "records")) ") ; "
                    (l.t("rien n'a été réécrit.", "nothing was rewritten."))
                }
            }
            Err(why) => {
                p.fail id="verdict-coherence" data-result="fail" role="alert" {
                    strong { (l.t("Échec de la vérification", "Check failed")) } " : " (why)
                }
            }
        }
        h2 { (l.t("Votre point de contrôle", "Your checkpoint")) }
        p { (l.number(old.size)) " " (l.t("enregistrements, origine", "records, origin")) " " code { (old.origin) } }
        pre { (old_text) }
        h2 { (l.t("Point de contrôle actuel de l'appareil", "The appliance's current checkpoint")) }
        pre { (new_text.as_deref().unwrap_or(&latest.text)) }
        p { a href="/audit/checkpoints" { (l.t("Retour aux points de contrôle", "Back to the checkpoints")) } }
    };
    Ok(ctx.page(
        l.t("Cohérence du registre", "Consistency of the register"),
        body,
    ))
}

// ------------------------------------------------------------------- report

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
pub async fn report(
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
                dd { (l.time(at)) @if let Some(e) = &entry.elimination_id { " (" a href=(format!("/eliminations/{}", urlencode(e))) { (e) } ")" } }
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
            a href=(format!("/archives/{}/seal", urlencode(&entry.archive_id))) download {
                (l.t("Télécharger le scellement", "Download the seal"))
            }
            " · "
            a href=(format!("/archives/{}", urlencode(&entry.archive_id))) {
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

fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
