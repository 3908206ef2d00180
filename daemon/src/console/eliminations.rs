//! Eliminations: the archivist proposes the destruction of archives whose
//! retention has ended, a controller (another person) approves or refuses,
//! the archivist executes; the signed certificate is then downloadable.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::i18n::Lang;
use super::page::{archive_url, csrf_field, record, Ctx, Page};
use super::server::Shared;
use crate::auth::{allowed, Action};
use crate::https::percent_encode;
use crate::lifecycle::Event;
use crate::model::{EliminationOrder, EliminationState, Step};

fn state_words(state: EliminationState, l: Lang) -> &'static str {
    match state {
        EliminationState::Proposed => l.t(
            "proposée, en attente de décision",
            "proposed, awaiting a decision",
        ),
        EliminationState::Approved => l.t("approuvée, à exécuter", "approved, to be executed"),
        EliminationState::Refused => l.t("refusée", "refused"),
        EliminationState::Executed => l.t("exécutée", "executed"),
    }
}

fn step(l: Lang, s: Option<&Step>) -> Markup {
    html! {
        @match s {
            Some(s) => { (s.name) " (" code { (s.actor) } ")" br; (l.time(s.at)) }
            None => span.muted { "—" },
        }
    }
}

fn show_url(id: &str) -> String {
    format!("/eliminations/{}", percent_encode(id))
}

/// `GET /eliminations`.
pub async fn list(State(shared): State<Arc<Shared>>, Extension(ctx): Extension<Ctx>) -> Page {
    let session = ctx.allow(&shared, Action::ReadEliminations)?;
    let l = ctx.lang;
    let service = &shared.service;
    let orders = service.eliminations().map_err(|e| ctx.failed(e))?;
    let may_propose = allowed(session.identity.role, Action::ProposeElimination);
    let due = if may_propose {
        // A scan of every archive: off the async workers' backs.
        let mut due = tokio::task::block_in_place(|| service.retention_due(service.today()))
            .map_err(|e| ctx.failed(e))?
            .destroy;
        // Archives already named in an elimination cannot be proposed again.
        due.retain(|e| e.elimination_id.is_none());
        due
    } else {
        Vec::new()
    };
    let body = html! {
        h2 { (l.t("Éliminations enregistrées", "Recorded eliminations")) }
        @if orders.is_empty() {
            p { (l.t("Aucune élimination n'a encore été proposée.", "No elimination has been proposed yet.")) }
        } @else {
            table {
                caption { (l.t("Éliminations, les plus récentes d'abord", "Eliminations, newest first")) }
                thead { tr {
                    th scope="col" { (l.t("Identifiant", "Id")) }
                    th scope="col" { (l.t("État", "State")) }
                    th scope="col" { (l.t("Motif", "Reason")) }
                    th scope="col" class="num" { (l.t("Archives", "Archives")) }
                    th scope="col" { (l.t("Proposée par, le", "Proposed by, on")) }
                    th scope="col" { (l.t("Décidée par, le", "Decided by, on")) }
                } }
                tbody { @for o in &orders { tr {
                    td { a href=(show_url(&o.elimination_id)) { code { (o.elimination_id) } } }
                    td data-state=(o.state.as_str()) { (state_words(o.state, l)) }
                    td { (o.reason) }
                    td class="num" { (l.number(o.archive_ids.len() as u64)) }
                    td { (step(l, Some(&o.proposed))) }
                    td { (step(l, o.decided.as_ref())) }
                } } }
            }
        }
        @if may_propose {
            h2 { (l.t("Proposer une élimination", "Propose an elimination")) }
            @if due.is_empty() {
                p { (l.t(
                    "Aucune archive n'est à éliminer : aucune durée de conservation à sort final « détruire » n'est échue hors des éliminations en cours.",
                    "No archive is due for elimination: no retention period with final action “destroy” has ended outside the eliminations under way."
                )) }
            } @else {
                form method="post" action="/eliminations" {
                    (csrf_field(session))
                    fieldset {
                        legend { (l.t(
                            "Archives dont la durée de conservation est échue (sort final : détruire)",
                            "Archives whose retention period has ended (final action: destroy)"
                        )) }
                        @for (i, e) in due.iter().enumerate() {
                            @let input_id = format!("archive-{i}");
                            div.field {
                                input type="checkbox" name="archive" id=(input_id) value=(e.archive_id);
                                " "
                                label for=(input_id) {
                                    (e.metadata.title) " — " code { (e.archive_id) }
                                    @if let Some(end) = e.metadata.rules.retention_end() {
                                        " — " (l.t("conservation échue le", "retention ended on")) " " (l.date(&end))
                                    }
                                }
                            }
                        }
                    }
                    div.field {
                        label for="reason" { (l.t("Motif", "Reason")) }
                        textarea id="reason" name="reason" required rows="3" {}
                    }
                    button type="submit" { (l.t("Proposer l'élimination", "Propose the elimination")) }
                }
            }
        }
    };
    Ok(ctx.page(l.t("Éliminations", "Eliminations"), body))
}

/// `POST /eliminations`: the form repeats `archive`, so it is parsed here.
pub async fn propose(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<Ctx>,
    body: Bytes,
) -> Page {
    ctx.allow(&shared, Action::ProposeElimination)?;
    let l = ctx.lang;
    let mut archive_ids = Vec::new();
    let mut reason = String::new();
    for (key, value) in form_urlencoded::parse(&body) {
        match key.as_ref() {
            "archive" if !value.trim().is_empty() => archive_ids.push(value.trim().to_owned()),
            "reason" => reason = value.trim().to_owned(),
            _ => {}
        }
    }
    if archive_ids.is_empty() {
        return Err(ctx.error(
            StatusCode::BAD_REQUEST,
            l.t("Demande invalide", "Invalid request"),
            l.t(
                "Cochez au moins une archive à éliminer.",
                "Tick at least one archive to eliminate.",
            ),
        ));
    }
    if reason.is_empty() {
        return Err(ctx.error(
            StatusCode::BAD_REQUEST,
            l.t("Demande invalide", "Invalid request"),
            l.t(
                "Indiquez le motif de l'élimination.",
                "Give the reason for the elimination.",
            ),
        ));
    }
    let elimination_id = format!("E{}", &shared.service.new_id()[..15]).to_uppercase();
    let event = Event::ProposeElimination {
        elimination_id: elimination_id.clone(),
        archive_ids,
        reason,
    };
    record(&shared, &ctx, event, &show_url(&elimination_id)).await
}

/// `GET /eliminations/{id}`.
pub async fn show(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Page {
    let session = ctx.allow(&shared, Action::ReadEliminations)?;
    let l = ctx.lang;
    let order = shared.service.elimination(&id).map_err(|e| ctx.failed(e))?;
    let role = session.identity.role;
    let titles: Vec<Option<String>> = order
        .archive_ids
        .iter()
        .map(|a| shared.service.archive(a).ok().map(|e| e.metadata.title))
        .collect();
    let url = show_url(&order.elimination_id);
    let body = html! {
        dl.meta {
            dt { (l.t("Identifiant", "Id")) }
            dd { code { (order.elimination_id) } }
            dt { (l.t("État", "State")) }
            dd id="etat" data-state=(order.state.as_str()) { (state_words(order.state, l)) }
            dt { (l.t("Motif", "Reason")) }
            dd { (order.reason) }
        }
        h2 { (l.t("Étapes", "Steps")) }
        (steps(l, &order))
        h2 { (l.t("Archives concernées", "Archives concerned")) }
        table {
            caption { (l.t("Archives de cette élimination", "Archives of this elimination")) }
            thead { tr {
                th scope="col" { (l.t("Identifiant", "Id")) }
                th scope="col" { (l.t("Intitulé", "Title")) }
            } }
            tbody { @for (a, title) in order.archive_ids.iter().zip(&titles) { tr {
                td { a href=(archive_url(a)) { code { (a) } } }
                td { @match title { Some(t) => (t), None => span.muted { "—" } } }
            } } }
        }
        @if order.state == EliminationState::Proposed && allowed(role, Action::DecideElimination) {
            h2 { (l.t("Décision", "Decision")) }
            form method="post" action=(format!("{url}/decide")) {
                (csrf_field(session))
                div.field {
                    label for="reason" { (l.t("Motif de la décision", "Reason for the decision")) }
                    textarea id="reason" name="reason" required rows="3" {}
                }
                button type="submit" name="decision" value="approve" { (l.t("Approuver", "Approve")) }
                " "
                button.secondary type="submit" name="decision" value="refuse" { (l.t("Refuser", "Refuse")) }
            }
        }
        @if order.state == EliminationState::Approved && allowed(role, Action::ExecuteElimination) {
            h2 { (l.t("Exécution", "Execution")) }
            form method="post" action=(format!("{url}/execute")) {
                (csrf_field(session))
                div.field {
                    input type="checkbox" id="confirm" name="confirm" value="yes" required;
                    " "
                    label for="confirm" { (l.t(
                        "Je confirme la destruction définitive des documents",
                        "I confirm the permanent destruction of the documents"
                    )) }
                }
                button.danger type="submit" { (l.t("Exécuter l'élimination", "Execute the elimination")) }
            }
        }
        @if order.state == EliminationState::Executed && order.certificate.is_some() {
            p { a href=(format!("{url}/certificate")) download {
                (l.t("Télécharger le certificat d'élimination", "Download the elimination certificate"))
            } }
        }
        p { a href="/eliminations" { (l.t("Toutes les éliminations", "All eliminations")) } }
    };
    Ok(ctx.page(
        &format!(
            "{} {}",
            l.t("Élimination", "Elimination"),
            order.elimination_id
        ),
        body,
    ))
}

fn steps(l: Lang, order: &EliminationOrder) -> Markup {
    let decided = match order.state {
        EliminationState::Refused => l.t("Refusée par", "Refused by"),
        _ => l.t("Approuvée par", "Approved by"),
    };
    html! {
        dl.meta {
            dt { (l.t("Proposée par", "Proposed by")) }
            dd { (step(l, Some(&order.proposed))) }
            @if let Some(d) = &order.decided {
                dt { (decided) }
                dd { (step(l, Some(d))) }
                @if !order.decision_reason.is_empty() {
                    dt { (l.t("Motif de la décision", "Reason for the decision")) }
                    dd { (order.decision_reason) }
                }
            }
            @if let Some(x) = &order.executed {
                dt { (l.t("Exécutée par", "Executed by")) }
                dd { (step(l, Some(x))) }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct DecideForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
}

/// `POST /eliminations/{id}/decide`.
pub async fn decide(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    Form(form): Form<DecideForm>,
) -> Page {
    ctx.allow(&shared, Action::DecideElimination)?;
    let l = ctx.lang;
    let approve = match form.decision.as_str() {
        "approve" => true,
        "refuse" => false,
        _ => {
            return Err(ctx.error(
                StatusCode::BAD_REQUEST,
                l.t("Demande invalide", "Invalid request"),
                l.t(
                    "Choisissez « Approuver » ou « Refuser ».",
                    "Choose “Approve” or “Refuse”.",
                ),
            ))
        }
    };
    let reason = form.reason.trim().to_owned();
    if reason.is_empty() {
        return Err(ctx.error(
            StatusCode::BAD_REQUEST,
            l.t("Demande invalide", "Invalid request"),
            l.t(
                "Indiquez le motif de la décision.",
                "Give the reason for the decision.",
            ),
        ));
    }
    let event = Event::DecideElimination {
        elimination_id: id.clone(),
        approve,
        reason,
    };
    record(&shared, &ctx, event, &show_url(&id)).await
}

#[derive(Deserialize)]
pub struct ExecuteForm {
    #[serde(default)]
    confirm: Option<String>,
}

/// `POST /eliminations/{id}/execute`.
pub async fn execute(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    Form(form): Form<ExecuteForm>,
) -> Page {
    ctx.allow(&shared, Action::ExecuteElimination)?;
    let l = ctx.lang;
    if form.confirm.is_none_or(|c| c.is_empty()) {
        return Err(ctx.error(
            StatusCode::BAD_REQUEST,
            l.t("Demande invalide", "Invalid request"),
            l.t(
                "Cochez la case confirmant la destruction définitive des documents.",
                "Tick the box confirming the permanent destruction of the documents.",
            ),
        ));
    }
    let event = Event::ExecuteElimination {
        elimination_id: id.clone(),
    };
    record(&shared, &ctx, event, &show_url(&id)).await
}

/// `GET /eliminations/{id}/certificate`: the signed note, named as the
/// command-line client saves it.
pub async fn certificate(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Page {
    ctx.allow(&shared, Action::ReadEliminations)?;
    let l = ctx.lang;
    let order = shared.service.elimination(&id).map_err(|e| ctx.failed(e))?;
    let certificate = match (&order.state, order.certificate) {
        (EliminationState::Executed, Some(c)) => c,
        _ => {
            return Err(ctx.error(
                StatusCode::NOT_FOUND,
                l.t("Introuvable", "Not found"),
                l.t(
                    "Cette élimination n'est pas exécutée : elle n'a pas de certificat.",
                    "This elimination is not executed: it has no certificate.",
                ),
            ))
        }
    };
    let mut response = certificate.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    // Ids are letters and digits; anything else would not be a safe name.
    let name: String = order
        .elimination_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    if let Ok(v) =
        HeaderValue::from_str(&format!("attachment; filename=\"elimination-{name}.cert\""))
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}
