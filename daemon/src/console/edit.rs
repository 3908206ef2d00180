//! Corrections by an archivist: an archive's description, or its
//! management rules. Each is a record of the archive's chain; the lifecycle
//! rules refuse what may not change (a definitive archive's final action).

use std::sync::Arc;

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::Form;
use maud::html;

use super::fields::{Description, Rules};
use super::page::{archive_url, csrf_field, record, Ctx, Page};
use super::server::Shared;
use crate::auth::Action;
use crate::https::percent_encode;
use crate::lifecycle::{Event, Read};

/// `GET /archives/{id}/edit`: the two forms, filled with what is recorded
/// (a read of the metadata, journaled).
pub async fn form(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Page {
    let session = ctx.allow(&shared, Action::CorrectMetadata)?;
    let l = ctx.lang;
    let entry = shared
        .service
        .record_read(&id, Read::Metadata, true, ctx.actor())
        .await
        .map_err(|e| ctx.failed(e))?;
    let m = &entry.metadata;
    let rules = Rules::of(&m.rules);
    let date = |d: &Option<crate::metadata::Date>| d.map(|d| d.to_string()).unwrap_or_default();
    let target = percent_encode(&id);
    let body = html! {
        p { a href=(format!("/archives/{target}")) { (l.t("Retour à l'archive", "Back to the archive")) } }
        form.card method="post" action=(format!("/archives/{target}/metadata")) {
            (csrf_field(session))
            h2 { (l.t("Corriger la description", "Correct the description")) }
            div.field { label for="title" { (l.t("Titre", "Title")) }
                input id="title" name="title" type="text" required value=(m.title); }
            div.field { label for="agency" { (l.t("Service producteur (code)", "Originating agency (code)")) }
                input id="agency" name="agency" type="text" value=(m.originating_agency); }
            div.field { label for="description" { (l.t("Description", "Description")) }
                textarea id="description" name="description" rows="3" { (m.description) } }
            div.field { label for="keywords" { (l.t("Mots-clés (séparés par des virgules)", "Keywords (comma-separated)")) }
                input id="keywords" name="keywords" type="text" value=(m.keywords.join(", ")); }
            div.field { label for="start" { (l.t("Date de début", "Start date")) }
                input id="start" name="start" type="date" value=(date(&m.start_date)); }
            div.field { label for="end" { (l.t("Date de fin", "End date")) }
                input id="end" name="end" type="date" value=(date(&m.end_date)); }
            button type="submit" { (l.t("Enregistrer la correction", "Record the correction")) }
        }
        form.card method="post" action=(format!("/archives/{target}/rules")) {
            (csrf_field(session))
            h2 { (l.t("Changer les règles de gestion", "Change the management rules")) }
            p.hint { (l.t(
                "Le sort final d'une archive définitive (conservation) ne peut jamais changer. Les gels sont conservés.",
                "A definitive archive's final action (keep) can never change. Holds are kept."
            )) }
            div.field { label for="rule" { (l.t("Règle de durée d'utilité administrative (identifiant)", "Retention rule (identifier)")) }
                input id="rule" name="rule" type="text" value=(rules.rule); }
            div.field { label for="years" { (l.t("Durée (années) ; vide : sans limite", "Duration (years); empty: no limit")) }
                input id="years" name="years" type="number" min="0" max="1000" value=(rules.years); }
            div.field { label for="final" { (l.t("Sort final", "Final action")) }
                select id="final" name="final" {
                    option value="keep" selected[rules.final_action != "destroy"] { (l.t("Conservation définitive", "Keep")) }
                    option value="destroy" selected[rules.final_action == "destroy"] { (l.t("Élimination", "Destroy")) }
                } }
            div.field { label for="access_years" { (l.t("Délai de communicabilité (années) ; vide : communicable", "Access delay (years); empty: communicable")) }
                input id="access_years" name="access_years" type="number" min="0" max="1000" value=(rules.access_years); }
            button type="submit" { (l.t("Enregistrer les règles", "Record the rules")) }
        }
    };
    Ok(ctx.page(
        &format!("{} — {}", l.t("Corriger", "Correct"), m.title),
        body,
    ))
}

fn refused(ctx: &Ctx, message: &str) -> axum::response::Response {
    let l = ctx.lang;
    ctx.error(
        StatusCode::BAD_REQUEST,
        l.t("Correction refusée", "Correction refused"),
        message,
    )
}

/// `POST /archives/{id}/metadata`.
pub async fn correct(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    Form(d): Form<Description>,
) -> Page {
    ctx.allow(&shared, Action::CorrectMetadata)?;
    let mut metadata = shared
        .service
        .archive(&id)
        .map_err(|e| ctx.failed(e))?
        .metadata;
    d.apply(&mut metadata).map_err(|m| refused(&ctx, &m))?;
    let event = Event::CorrectMetadata {
        archive_id: id.clone(),
        metadata: Box::new(metadata),
    };
    record(&shared, &ctx, event, &archive_url(&id)).await
}

/// `POST /archives/{id}/rules`.
pub async fn change_rules(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    Form(r): Form<Rules>,
) -> Page {
    ctx.allow(&shared, Action::ChangeRules)?;
    let holds = shared
        .service
        .archive(&id)
        .map_err(|e| ctx.failed(e))?
        .metadata
        .rules
        .holds;
    let rules = r.to_rules(holds).map_err(|m| refused(&ctx, &m))?;
    let event = Event::ChangeRules {
        archive_id: id.clone(),
        rules,
    };
    record(&shared, &ctx, event, &archive_url(&id)).await
}
