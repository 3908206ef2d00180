//! Search and browse, an archive's page, and the downloads of a document
//! and of its seal. Every view of metadata and every download is journaled
//! before it is served, exactly as through the gRPC API.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use maud::{html, Markup};
use minutier_seal::record::{Record, RecordKind};
use serde::Deserialize;
use tokio_stream::wrappers::ReceiverStream;

use super::i18n::Lang;
use super::page::{archive_url, attachment, Ctx, Page};
use super::server::Shared;
use crate::auth::{allowed, Action, Role};
use crate::https::percent_encode;
use crate::lifecycle::Read;
use crate::metadata::{Date, FinalAction};
use crate::model::ArchiveEntry;
use crate::store::ListFilter;

const PAGE_SIZE: usize = 25;

#[derive(Deserialize, Default)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    agency: String,
    #[serde(default)]
    keyword: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    rule: String,
    #[serde(default, rename = "final")]
    final_action: String,
    #[serde(default)]
    after: String,
}

impl SearchQuery {
    /// The query string of this search, without the page.
    fn link(&self) -> String {
        [
            ("q", &self.q),
            ("agency", &self.agency),
            ("keyword", &self.keyword),
            ("from", &self.from),
            ("to", &self.to),
            ("rule", &self.rule),
            ("final", &self.final_action),
        ]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
    }
}

fn parse_date(l: Lang, field: &str, value: &str) -> Result<Option<Date>, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    value.parse().map(Some).map_err(|_| {
        format!(
            "{field} : {value:?} {}",
            l.t(
                "n'est pas une date (AAAA-MM-JJ)",
                "is not a date (YYYY-MM-DD)"
            )
        )
    })
}

/// `GET /archives`.
pub async fn search(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<SearchQuery>,
) -> Page {
    let session = ctx.allow(&shared, Action::List)?;
    let l = ctx.lang;
    let bad = |m: String| {
        ctx.error(
            StatusCode::BAD_REQUEST,
            l.t("Recherche invalide", "Invalid search"),
            &m,
        )
    };
    let from = parse_date(l, l.t("Du", "From"), &q.from).map_err(bad)?;
    let to = parse_date(l, l.t("Au", "To"), &q.to).map_err(bad)?;
    let final_action = match q.final_action.as_str() {
        "" => None,
        "keep" => Some(FinalAction::Keep),
        "destroy" => Some(FinalAction::Destroy),
        other => return Err(bad(format!("final = {other:?} : keep | destroy"))),
    };
    let nonempty = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let mut filter = ListFilter {
        originating_agency: nonempty(&q.agency),
        text_contains: nonempty(&q.q).map(|s| s.to_lowercase()),
        keyword: nonempty(&q.keyword),
        dates_from: from,
        dates_to: to,
        rule_id: nonempty(&q.rule),
        final_action,
        ..ListFilter::default()
    };
    // A document system sees its own agency's archives only.
    if session.identity.role == Role::Dms {
        filter.originating_agency = session.identity.agency.clone();
    }
    let after = nonempty(&q.after);
    if after
        .as_deref()
        .is_some_and(|a| minutier_seal::record::validate_archive_id(a).is_err())
    {
        return Err(bad(l.t("Page invalide.", "Invalid page.").into()));
    }
    let service = shared.service.clone();
    let (entries, next) =
        tokio::task::spawn_blocking(move || service.list(after.as_deref(), PAGE_SIZE, &filter))
            .await
            .map_err(|e| ctx.error(StatusCode::INTERNAL_SERVER_ERROR, "", &e.to_string()))?
            .map_err(|e| ctx.failed(e))?;
    let link = q.link();
    let body = html! {
        form.card method="get" action="/archives" role="search" {
            div.field {
                label for="q" { (l.t("Texte (titre, description, mots-clés)", "Text (title, description, keywords)")) }
                input id="q" name="q" type="search" value=(q.q);
            }
            div.field {
                label for="agency" { (l.t("Service producteur (code)", "Originating agency (code)")) }
                input id="agency" name="agency" type="text" value=(q.agency);
            }
            div.field {
                label for="keyword" { (l.t("Mot-clé exact", "Exact keyword")) }
                input id="keyword" name="keyword" type="text" value=(q.keyword);
            }
            div.field {
                label for="from" { (l.t("Dates extrêmes : du", "Dates: from")) }
                input id="from" name="from" type="date" value=(q.from);
            }
            div.field {
                label for="to" { (l.t("au", "to")) }
                input id="to" name="to" type="date" value=(q.to);
            }
            div.field {
                label for="rule" { (l.t("Règle de gestion (identifiant)", "Management rule (identifier)")) }
                input id="rule" name="rule" type="text" value=(q.rule);
            }
            div.field {
                label for="final" { (l.t("Sort final", "Final action")) }
                select id="final" name="final" {
                    option value="" selected[q.final_action.is_empty()] { (l.t("Tous", "Any")) }
                    option value="keep" selected[q.final_action == "keep"] { (l.t("Conservation définitive", "Keep")) }
                    option value="destroy" selected[q.final_action == "destroy"] { (l.t("Élimination", "Destroy")) }
                }
            }
            button type="submit" { (l.t("Rechercher", "Search")) }
        }
        @if entries.is_empty() {
            p role="status" { (l.t("Aucune archive ne correspond.", "No archive matches.")) }
        } @else {
            (results(l, &entries))
        }
        nav.pager aria-label=(l.t("Pages de résultats", "Result pages")) {
            @if !q.after.is_empty() {
                a href=(format!("/archives?{link}")) { (l.t("Première page", "First page")) }
            }
            @if let Some(n) = next {
                a href=(format!("/archives?{link}&after={}", percent_encode(&n))) rel="next" { (l.t("Page suivante", "Next page")) }
            }
        }
    };
    Ok(ctx.page(l.t("Rechercher des archives", "Search the archives"), body))
}

fn results(l: Lang, entries: &[ArchiveEntry]) -> Markup {
    html! {
        table #resultats {
            caption { (l.t("Archives trouvées", "Archives found")) }
            thead { tr {
                th scope="col" { (l.t("Titre", "Title")) }
                th scope="col" { (l.t("Service producteur", "Agency")) }
                th scope="col" { (l.t("Dates", "Dates")) }
                th scope="col" { (l.t("Versée le", "Deposited")) }
                th scope="col" .num { (l.t("Taille", "Size")) }
            } }
            tbody { @for e in entries {
                tr {
                    td { a href=(archive_url(&e.archive_id)) { (e.metadata.title) }
                        @if e.is_eliminated() { " " span.muted { "(" (l.t("éliminée", "eliminated")) ")" } } }
                    td { (e.metadata.originating_agency) }
                    td { (dates(l, e)) }
                    td { (l.time(e.ingested_at)) }
                    td.num { (l.bytes(e.size)) }
                }
            } }
        }
    }
}

fn dates(l: Lang, e: &ArchiveEntry) -> String {
    match (&e.metadata.start_date, &e.metadata.end_date) {
        (Some(a), Some(b)) if a == b => l.date(a),
        (Some(a), Some(b)) => format!("{} – {}", l.date(a), l.date(b)),
        (Some(a), None) => l.date(a),
        (None, Some(b)) => l.date(b),
        (None, None) => "—".into(),
    }
}

/// The archive, checked against the caller's agency (document systems).
fn entry_for(
    shared: &Shared,
    ctx: &Ctx,
    id: &str,
    action: Action,
) -> Result<ArchiveEntry, Response> {
    let session = ctx.allow(shared, action)?;
    if minutier_seal::record::validate_archive_id(id).is_err() {
        return Err(ctx.failed(crate::error::Error::NotFound(format!(
            "no archive with id {id:?}"
        ))));
    }
    let entry = shared.service.archive(id).map_err(|e| ctx.failed(e))?;
    shared
        .auth
        .check_agency(
            &session.identity,
            action,
            &entry.metadata.originating_agency,
        )
        .map_err(|s| {
            ctx.error(
                StatusCode::FORBIDDEN,
                ctx.lang.t("Accès refusé", "Access refused"),
                s.message(),
            )
        })?;
    Ok(entry)
}

/// `GET /archives/{id}`: a read of the metadata, journaled.
pub async fn show(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Page {
    entry_for(&shared, &ctx, &id, Action::ReadMetadata)?;
    let session = ctx.signed()?;
    let role = session.identity.role;
    let l = ctx.lang;
    let entry = shared
        .service
        .record_read(&id, Read::Metadata, true, ctx.actor())
        .await
        .map_err(|e| ctx.failed(e))?;
    let history = if allowed(role, Action::ReadHistory) {
        Some(shared.service.history(&id).map_err(|e| ctx.failed(e))?)
    } else {
        None
    };
    let replication =
        if allowed(role, Action::ReadReplication) && shared.service.replication().is_some() {
            shared
                .service
                .replication_status(Some(&id))
                .ok()
                .and_then(|s| s.archive)
        } else {
            None
        };
    let m = &entry.metadata;
    let today = shared.service.today();
    let body = html! {
        p {
            @if !entry.is_eliminated() && allowed(role, Action::ReadContent) {
                a href=(format!("/archives/{id}/content")) download { (l.t("Télécharger le document", "Download the document")) }
                " · "
            }
            @if allowed(role, Action::ReadSeal) {
                a href=(format!("/archives/{id}/seal")) download { (l.t("Télécharger le scellement", "Download the seal")) }
            }
            @if allowed(role, Action::ReadHistory) {
                " · " a href=(format!("/archives/{id}/report")) { (l.t("Rapport de valeur probante", "Probative value report")) }
            }
            @if !entry.is_eliminated() && allowed(role, Action::CorrectMetadata) {
                " · " a href=(format!("/archives/{id}/edit")) { (l.t("Corriger la description ou les règles", "Correct the description or the rules")) }
            }
        }
        @if entry.is_eliminated() {
            p.bad role="status" { (l.t("Cette archive a été éliminée ; sa notice et son historique demeurent.", "This archive was eliminated; its record and history remain.")) }
        }
        h2 { (l.t("Description", "Description")) }
        dl.meta {
            dt { (l.t("Identifiant", "Identifier")) } dd #archive-id { (entry.archive_id) }
            dt { (l.t("Titre", "Title")) } dd { (m.title) }
            @if !m.description.is_empty() { dt { (l.t("Description", "Description")) } dd { (m.description) } }
            @if !m.originating_agency.is_empty() { dt { (l.t("Service producteur", "Originating agency")) } dd { (m.originating_agency) } }
            @if !m.submission_agency.is_empty() { dt { (l.t("Service versant", "Submission agency")) } dd { (m.submission_agency) } }
            dt { (l.t("Dates extrêmes", "Dates")) } dd { (dates(l, &entry)) }
            @if !m.keywords.is_empty() { dt { (l.t("Mots-clés", "Keywords")) } dd { (m.keywords.join(", ")) } }
            @if !m.file_name.is_empty() { dt { (l.t("Nom du fichier", "File name")) } dd { (m.file_name) } }
            dt { (l.t("Taille", "Size")) } dd { (l.bytes(entry.size)) " (" (l.number(entry.size)) " " (l.t("octets", "bytes")) ")" }
            dt { (l.t("Empreinte SHA-256", "SHA-256 digest")) } dd #sha256 { (minutier_seal::hash::to_hex(&entry.content_sha256)) }
            dt { (l.t("Versée le", "Deposited on")) } dd { (l.time(entry.ingested_at)) }
            dt { (l.t("Versée par", "Deposited by")) } dd { (entry.actor) }
            @if let Some(t) = &m.transfer { dt { (l.t("Transfert SEDA", "SEDA transfer")) } dd { (t.message_identifier) } }
        }
        h2 { (l.t("Règles de gestion", "Management rules")) }
        dl.meta {
            dt { (l.t("Durée d'utilité administrative", "Retention")) }
            dd { @match &m.rules.appraisal {
                None => (l.t("aucune : conservée sans limite", "none: kept without limit")),
                Some(a) => {
                    @if !a.rule_id.is_empty() { (a.rule_id) " · " }
                    @match a.duration_years { Some(y) => { (y) " " (l.t("ans", "years")) }, None => (l.t("durée inconnue", "unknown duration")) }
                    @if let Some(s) = &a.start_date { " " (l.t("à compter du", "from")) " " (l.date(s)) }
                    " · " (l.t("sort final", "final action")) " : "
                    (match a.final_action { FinalAction::Keep => l.t("conservation définitive", "keep"), FinalAction::Destroy => l.t("élimination", "destroy") })
                    @if let Some(end) = m.rules.retention_end() { " · " (l.t("échéance", "ends")) " " (l.date(&end)) }
                }
            } }
            dt { (l.t("Communicabilité", "Access")) }
            dd { @match &m.rules.access {
                None => (l.t("communicable immédiatement", "communicable at once")),
                Some(a) => {
                    @if !a.rule_id.is_empty() { (a.rule_id) " · " }
                    @match a.delay_years { Some(y) => { (y) " " (l.t("ans", "years")) }, None => (l.t("délai inconnu", "unknown delay")) }
                    @if let Some(s) = &a.start_date { " " (l.t("à compter du", "from")) " " (l.date(s)) }
                }
            } }
        }
        h2 { (l.t("Gels", "Holds")) }
        (super::holds::section(l, session, &entry, today))
        @if let Some(r) = &replication {
            h2 { (l.t("Réplication", "Replication")) }
            p #replication {
                @if r.content_replicated && r.records_replicated {
                    span.ok { (l.t("Copie chiffrée à jour dans le stockage distant.", "Encrypted copy up to date in remote storage.")) }
                } @else if r.eliminated {
                    (l.t("Éliminée : la copie distante a été supprimée.", "Eliminated: the remote copy was deleted."))
                } @else {
                    span.bad { (l.t("Réplication en attente.", "Replication pending.")) }
                }
            }
        }
        @if let Some(h) = &history {
            h2 { (l.t("Cycle de vie (chaîne scellée)", "Lifecycle (sealed chain)")) }
            table #historique {
                caption { (l.t("Événements de l'archive, du plus ancien au plus récent", "The archive's events, oldest first")) }
                thead { tr {
                    th scope="col" .num { (l.t("Position", "Index")) }
                    th scope="col" { (l.t("Événement", "Event")) }
                    th scope="col" { (l.t("Date", "Time")) }
                    th scope="col" { (l.t("Auteur", "By")) }
                } }
                tbody { @for e in &h.entries {
                    @if let Ok(r) = Record::decode(&e.record) {
                        tr {
                            td.num { (l.number(e.index)) }
                            td { (kind_name(l, r.kind)) }
                            td { (l.time(r.time.0)) }
                            td { (r.actor) }
                        }
                    }
                } }
            }
        }
    };
    Ok(ctx.page(&entry.metadata.title, body))
}

pub fn kind_name(l: Lang, kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Ingest => l.t("versement", "deposit"),
        RecordKind::MetadataCorrection => l.t("correction de la description", "metadata corrected"),
        RecordKind::RulesChange => l.t("changement des règles", "rules changed"),
        RecordKind::HoldPlaced => l.t("gel posé", "hold placed"),
        RecordKind::HoldLifted => l.t("gel levé", "hold lifted"),
        RecordKind::ReadContent => l.t("lecture du contenu", "content read"),
        RecordKind::ReadMetadata => l.t("lecture des métadonnées", "metadata read"),
        RecordKind::EliminationProposed => l.t("élimination proposée", "elimination proposed"),
        RecordKind::EliminationApproved => l.t("élimination approuvée", "elimination approved"),
        RecordKind::EliminationRefused => l.t("élimination refusée", "elimination refused"),
        RecordKind::EliminationExecuted => l.t("élimination exécutée", "elimination executed"),
        RecordKind::Scrub => l.t("contrôle d'intégrité", "scrub"),
        RecordKind::Timestamp => l.t("horodatage", "time-stamp"),
        RecordKind::KeyRotation => l.t("changement de clé", "key rotation"),
    }
}

/// A file name safe in a `Content-Disposition` header: ASCII letters,
/// digits, `.`, `-`, `_` kept, the rest replaced.
fn safe_file_name(name: &str, fallback: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let cleaned = cleaned.trim_matches('.').to_owned();
    if cleaned.is_empty() {
        fallback.to_owned()
    } else {
        cleaned
    }
}

/// `GET /archives/{id}/content`: the read is in the log before the first
/// byte leaves; content that does not match its seal is cut off.
pub async fn content(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Page {
    entry_for(&shared, &ctx, &id, Action::ReadContent)?;
    let role = ctx.signed()?.identity.role;
    let entry = shared
        .service
        .record_read(
            &id,
            Read::Content,
            allowed(role, Action::ReadRestricted),
            ctx.actor(),
        )
        .await
        .map_err(|e| ctx.failed(e))?;
    let mut reader = shared
        .service
        .open_content(&id)
        .map_err(|e| ctx.failed(e))?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    tokio::spawn(async move {
        loop {
            let Ok((back, chunk)) = tokio::task::spawn_blocking(move || {
                let chunk = reader.next_chunk();
                (reader, chunk)
            })
            .await
            else {
                return;
            };
            reader = back;
            let item = match chunk {
                Ok(Some(c)) => Ok(c),
                Ok(None) => return,
                Err(e) => {
                    tracing::error!(archive = %id, error = %e, "console: refusing to serve content that does not match its seal");
                    Err(std::io::Error::other(e.to_string()))
                }
            };
            let failed = item.is_err();
            if tx.send(item).await.is_err() || failed {
                return;
            }
        }
    });
    let kind = if entry.metadata.media_type.is_empty() {
        "application/octet-stream"
    } else {
        &entry.metadata.media_type
    };
    let mut response = attachment(
        Body::from_stream(ReceiverStream::new(rx)),
        kind,
        &safe_file_name(&entry.metadata.file_name, &entry.archive_id),
    );
    if let Ok(v) = HeaderValue::from_str(&entry.size.to_string()) {
        response.headers_mut().insert(header::CONTENT_LENGTH, v);
    }
    Ok(response)
}

/// `GET /archives/{id}/seal`: the `tlog-proof` seal, to verify offline.
pub async fn seal(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Page {
    entry_for(&shared, &ctx, &id, Action::ReadSeal)?;
    let (seal, _) = shared.service.seal(&id).map_err(|e| ctx.failed(e))?;
    Ok(attachment(
        seal,
        "text/plain; charset=utf-8",
        &format!("{id}.tlog-proof"),
    ))
}
