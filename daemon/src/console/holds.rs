//! Legal holds from an archive's page: an archivist or a controller places
//! one (a reason, an optional end), or lifts one in force. Each is a
//! record of the archive's chain, checked by the lifecycle rules.

use std::sync::Arc;

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::i18n::Lang;
use super::page::{archive_url, csrf_field, record, Ctx, Page};
use super::server::Shared;
use super::session::Session;
use crate::auth::{allowed, Action};
use crate::https::percent_encode;
use crate::lifecycle::Event;
use crate::metadata::Date;
use crate::model::ArchiveEntry;

/// The holds of an archive, and the forms its reader's role may use.
pub fn section(l: Lang, session: &Session, entry: &ArchiveEntry, today: Date) -> Markup {
    let role = session.identity.role;
    let id = percent_encode(&entry.archive_id);
    let holds = &entry.metadata.rules.holds;
    let in_force = |hold_id: &str| {
        entry
            .metadata
            .rules
            .holds_in_force(today)
            .any(|h| h.hold_id == hold_id)
    };
    html! {
        @if holds.is_empty() {
            p #gels { (l.t("Aucun gel : l'archive peut être éliminée à l'échéance de sa durée de conservation si son sort final le prévoit.", "No hold: the archive may be eliminated when its retention ends, if its final action says so.")) }
        } @else {
            table #gels {
                caption { (l.t("Gels de l'archive", "The archive's holds")) }
                thead { tr {
                    th scope="col" { (l.t("Identifiant", "Id")) }
                    th scope="col" { (l.t("Motif", "Reason")) }
                    th scope="col" { (l.t("Posé par, le", "Placed by, on")) }
                    th scope="col" { (l.t("Fin", "Ends")) }
                    th scope="col" { (l.t("État", "State")) }
                } }
                tbody { @for h in holds { tr data-hold=(h.hold_id) {
                    td { code { (h.hold_id) } }
                    td { (h.reason) }
                    td { (h.placed_by) ", " (placed_at(l, &h.placed_at)) }
                    td { @match &h.end_date { Some(d) => (l.date(d)), None => (l.t("jusqu'à sa levée", "until lifted")) } }
                    td {
                        @if in_force(&h.hold_id) {
                            (l.t("en vigueur", "in force"))
                            @if allowed(role, Action::LiftHold) && !entry.is_eliminated() {
                                form.inline method="post" action=(format!("/archives/{id}/holds/{}/lift", percent_encode(&h.hold_id))) {
                                    (csrf_field(session))
                                    " "
                                    button.secondary type="submit" aria-label=(format!("{} {}", l.t("Lever le gel", "Lift hold"), h.hold_id)) {
                                        (l.t("Lever", "Lift"))
                                    }
                                }
                            }
                        } @else {
                            (l.t("échu", "ended"))
                        }
                    }
                } } }
            }
        }
        @if allowed(role, Action::PlaceHold) && !entry.is_eliminated() {
            form.card method="post" action=(format!("/archives/{id}/holds")) {
                (csrf_field(session))
                div.field {
                    label for="hold-reason" { (l.t("Motif du gel (contentieux, enquête…)", "Reason for the hold (litigation, inquiry…)")) }
                    textarea id="hold-reason" name="reason" required rows="2" {}
                }
                div.field {
                    label for="hold-end" { (l.t("Fin du gel (facultative)", "End of the hold (optional)")) }
                    input id="hold-end" name="end_date" type="date";
                }
                button type="submit" { (l.t("Poser un gel", "Place a hold")) }
            }
        }
    }
}

/// The time a hold was placed, as the page's language writes it.
fn placed_at(l: Lang, rfc3339: &str) -> String {
    rfc3339
        .parse::<minutier_seal::record::Timestamp>()
        .map_or_else(|_| rfc3339.to_owned(), |t| l.time(t.0))
}

#[derive(Deserialize)]
pub struct PlaceForm {
    reason: String,
    #[serde(default)]
    end_date: String,
}

/// `POST /archives/{id}/holds`.
pub async fn place(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    Form(f): Form<PlaceForm>,
) -> Page {
    ctx.allow(&shared, Action::PlaceHold)?;
    let l = ctx.lang;
    let bad = |m: &str| {
        ctx.error(
            StatusCode::BAD_REQUEST,
            l.t("Gel refusé", "Hold refused"),
            m,
        )
    };
    let reason = f.reason.trim();
    if reason.is_empty() {
        return Err(bad(
            l.t("Donnez le motif du gel.", "Give the reason for the hold.")
        ));
    }
    let end_date = match f.end_date.trim() {
        "" => None,
        d => Some(d.parse::<Date>().map_err(|_| {
            bad(&format!(
                "{d:?} {}",
                l.t(
                    "n'est pas une date (AAAA-MM-JJ)",
                    "is not a date (YYYY-MM-DD)"
                )
            ))
        })?),
    };
    let hold_id = format!("H{}", &shared.service.new_id()[..12]).to_uppercase();
    let event = Event::PlaceHold {
        archive_id: id.clone(),
        hold_id,
        reason: reason.to_owned(),
        end_date,
    };
    record(&shared, &ctx, event, &archive_url(&id)).await
}

/// `POST /archives/{id}/holds/{hold}/lift`.
pub async fn lift(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<Ctx>,
    Path((id, hold_id)): Path<(String, String)>,
) -> Page {
    ctx.allow(&shared, Action::LiftHold)?;
    let event = Event::LiftHold {
        archive_id: id.clone(),
        hold_id,
    };
    record(&shared, &ctx, event, &archive_url(&id)).await
}
