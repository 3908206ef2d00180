//! Audit: the access journal, the signed checkpoints and the check that the
//! register only grew since a checkpoint kept by the auditor, and the
//! probative value report of one archive.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Extension, Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use maud::html;
use minutier_seal::checkpoint::Checkpoint;
use minutier_seal::note::VerifierKey;
use minutier_seal::record::{RecordKind, Timestamp};
use minutier_seal::verify::SealVerifier;
use minutier_seal::Error as SealError;
use serde::Deserialize;

use super::i18n::Lang;
use super::page::{archive_url, attachment, csrf_field, Ctx, Page};
use super::server::Shared;
use crate::archive::{ArchiveService, JournalFilter};
use crate::auth::{allowed, Action};
use crate::https::percent_encode;
use crate::metadata::Date;
use crate::model::SignInOutcome;

const JOURNAL_PAGE: usize = 50;

/// The appliance's keys, oldest first and the current one last, as
/// [`SealVerifier::with_keys`] expects them.
pub(super) fn keys(service: &ArchiveService) -> Vec<VerifierKey> {
    let mut keys = service.previous_keys().to_vec();
    keys.push(service.verifier_key().clone());
    keys
}

pub(super) fn verifier(service: &ArchiveService) -> SealVerifier {
    SealVerifier::with_keys(keys(service)).expect("the current key is always there")
}

fn attachment_text(text: String, file_name: &str) -> Response {
    attachment(text, "text/plain; charset=utf-8", file_name)
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
    // Up to a hundred thousand records read: off the async workers' backs.
    let (entries, next) = tokio::task::block_in_place(|| shared.service.journal(&filter))
        .map_err(|e| ctx.failed(e))?;
    let next_url = next.map(|n| {
        format!(
            "/audit/journal?archive={}&actor={}&since={}&after={n}",
            percent_encode(archive),
            percent_encode(actor),
            percent_encode(since_text)
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
                    td { a href=(archive_url(&e.record.archive_id)) { code { (e.record.archive_id) } } }
                } } }
            }
        }
        @if let Some(url) = &next_url {
            p.pager { a href=(url) rel="next" { (l.t("Page suivante", "Next page")) } }
        }
    };
    Ok(ctx.page(l.t("Journal des accès", "Access journal"), body))
}

#[derive(Deserialize)]
pub struct SignInsQuery {
    before: Option<u64>,
}

/// `GET /audit/sign-ins`: the console's sign-in journal, newest first.
pub async fn sign_ins(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<Ctx>,
    query: Result<Query<SignInsQuery>, QueryRejection>,
) -> Page {
    ctx.allow(&shared, Action::ReadJournal)?;
    let l = ctx.lang;
    let Ok(Query(q)) = query else {
        return Err(ctx.error(
            StatusCode::BAD_REQUEST,
            l.t("Filtre invalide", "Invalid filter"),
            l.t(
                "Le paramètre « before » doit être un numéro de ligne.",
                "The “before” parameter must be a line number.",
            ),
        ));
    };
    let service = shared.service.clone();
    let lines = tokio::task::spawn_blocking(move || service.sign_ins(q.before, JOURNAL_PAGE))
        .await
        .map_err(|e| ctx.error(StatusCode::INTERNAL_SERVER_ERROR, "", &e.to_string()))?
        .map_err(|e| ctx.failed(e))?;
    let older = (lines.len() == JOURNAL_PAGE)
        .then(|| {
            lines
                .last()
                .map(|(n, _)| format!("/audit/sign-ins?before={n}"))
        })
        .flatten();
    let body = html! {
        p { (l.t(
            "Chaque connexion à la console, chaque échec sur un identifiant existant, chaque déconnexion et chaque session close par une révocation. Les échecs sur un identifiant inconnu sont comptés parmi les refus (minutier admin status), sans être conservés ici.",
            "Every sign-in to the console, every failure on an existing login, every sign-out and every session closed by a revocation. Failures on an unknown login are counted among refusals (minutier admin status), not kept here."
        )) }
        @if lines.is_empty() {
            p { (l.t("Aucune connexion enregistrée.", "No sign-in recorded.")) }
        } @else {
            table #connexions {
                caption { (l.t("Connexions, les plus récentes d'abord", "Sign-ins, newest first")) }
                thead { tr {
                    th scope="col" { (l.t("Date", "Time")) }
                    th scope="col" { (l.t("Identifiant", "Login")) }
                    th scope="col" { (l.t("Personne", "Person")) }
                    th scope="col" { (l.t("Moyen", "Method")) }
                    th scope="col" { (l.t("Issue", "Outcome")) }
                    th scope="col" { (l.t("Adresse", "Address")) }
                } }
                tbody { @for (_, e) in &lines { tr data-outcome=(outcome_code(e.outcome)) {
                    td { (l.time(e.at)) }
                    td { code { (e.login) } }
                    td { (e.actor) }
                    td { (method_words(&e.method, l)) }
                    td {
                        (outcome_words(e.outcome, l))
                        @if !e.reason.is_empty() { " (" (e.reason) ")" }
                    }
                    td { code { (e.address) } }
                } } }
            }
        }
        @if let Some(url) = &older {
            p.pager { a href=(url) rel="next" { (l.t("Connexions plus anciennes", "Older sign-ins")) } }
        }
    };
    Ok(ctx.page(l.t("Journal des connexions", "Sign-in journal"), body))
}

fn outcome_code(o: SignInOutcome) -> &'static str {
    match o {
        SignInOutcome::SignedIn => "signed-in",
        SignInOutcome::Failed => "failed",
        SignInOutcome::SignedOut => "signed-out",
        SignInOutcome::Ended => "ended",
    }
}

fn outcome_words(o: SignInOutcome, l: Lang) -> &'static str {
    match o {
        SignInOutcome::SignedIn => l.t("connexion", "signed in"),
        SignInOutcome::Failed => l.t("échec", "failed"),
        SignInOutcome::SignedOut => l.t("déconnexion", "signed out"),
        SignInOutcome::Ended => l.t("session close", "session ended"),
    }
}

fn method_words(method: &str, l: Lang) -> &str {
    match method {
        "password" => l.t("mot de passe", "password"),
        "password+totp" => l.t("mot de passe et code", "password and code"),
        "certificate" => l.t("certificat", "certificate"),
        other => other,
    }
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
                        "Collez le texte complet, signature comprise, ou choisissez le fichier enregistré ci-dessous.",
                        "Paste the whole text, signature included, or choose the saved file below."
                    )) }
                }
                div.field {
                    label for="checkpoint-file" { (l.t("Fichier du point de contrôle", "Checkpoint file")) }
                    input type="file" id="checkpoint-file" accept=".txt,.checkpoint,text/plain";
                }
                button type="submit" { (l.t("Vérifier la cohérence", "Check consistency")) }
            }
        }
        script type="module" src="/assets/checkpoint.mjs" {}
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
    Ok(attachment_text(
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
pub(super) fn signature_failure(e: &SealError, l: Lang, ours: &str) -> String {
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
