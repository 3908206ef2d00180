//! What every page shares: the request's context (language, session), the
//! layout (header, navigation by role, language switch, sign-out), and
//! refusals and errors as pages.

use std::sync::Arc;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup, DOCTYPE};

use super::i18n::Lang;
use super::server::Shared;
use super::session::{Lookup, Session};
use crate::auth::{allowed, Action, Role};
use crate::error::Error;
use crate::https::{percent_encode, Peer};

/// A handler's outcome: a page, or a refusal already rendered.
pub type Page = Result<Response, Response>;

/// What the console knows of a request before routing.
#[derive(Clone)]
pub struct Ctx {
    pub lang: Lang,
    pub session: Option<Arc<Session>>,
    /// The cookie named a session that has expired.
    pub expired: bool,
    pub peer: Peer,
    pub path: String,
}

impl Ctx {
    pub fn new(lang: Lang, session: Result<Arc<Session>, Lookup>, peer: Peer, path: String) -> Ctx {
        let expired = session.as_ref().err() == Some(&Lookup::Expired);
        Ctx {
            lang,
            session: session.ok(),
            expired,
            peer,
            path,
        }
    }

    /// The signed-in session, or a redirection to the sign-in page.
    pub fn signed(&self) -> Result<&Arc<Session>, Response> {
        match &self.session {
            Some(s) => Ok(s),
            None => {
                let reason = if self.expired { "expired" } else { "required" };
                let next = percent_encode(&self.path);
                Err(Redirect::to(&format!("/signin?reason={reason}&next={next}")).into_response())
            }
        }
    }

    /// The signed-in session, if its role allows `action`; a refusal
    /// (journaled and counted like the gRPC API's) otherwise.
    pub fn allow(&self, shared: &Shared, action: Action) -> Result<&Arc<Session>, Response> {
        let session = self.signed()?;
        let who = &session.identity;
        if allowed(who.role, action) {
            return Ok(session);
        }
        let message = format!(
            "role {} ({}) may not {}",
            who.role,
            who.name,
            action.describe()
        );
        shared
            .auth
            .note_refusal(&who.actor(), who.role.as_str(), action, "role", &message);
        let l = self.lang;
        Err(self.error(
            StatusCode::FORBIDDEN,
            l.t("Accès refusé", "Access refused"),
            &format!(
                "{} {}",
                l.t(
                    "Votre rôle ne permet pas cette action :",
                    "Your role does not allow this:"
                ),
                message
            ),
        ))
    }

    pub fn actor(&self) -> crate::lifecycle::Actor {
        let who = &self.session.as_ref().expect("signed in").identity;
        crate::lifecycle::Actor {
            actor: who.actor(),
            name: who.name.clone(),
        }
    }

    /// A page in the console's layout.
    pub fn page(&self, title: &str, body: Markup) -> Response {
        self.page_with(StatusCode::OK, title, body)
    }

    pub fn page_with(&self, status: StatusCode, title: &str, body: Markup) -> Response {
        let l = self.lang;
        let markup = html! {
            (DOCTYPE)
            html lang=(l.code()) {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " — Minutier" }
                    link rel="stylesheet" href="/assets/console.css";
                }
                body {
                    a.skip href="#contenu" { (l.t("Aller au contenu", "Skip to content")) }
                    header.top {
                        p.brand { a href="/" { "Minutier" } }
                        @if let Some(s) = &self.session {
                            nav aria-label=(l.t("Menu principal", "Main menu")) {
                                ul { @for (href, label) in menu(s.identity.role, l) {
                                    li { a href=(href) aria-current=[current(&self.path, href)] { (label) } }
                                } }
                            }
                            p.who {
                                (s.identity.name) " · " (role_name(s.identity.role, l))
                            }
                            form.inline method="post" action="/signout" {
                                input type="hidden" name="csrf" value=(s.csrf);
                                button type="submit" { (l.t("Se déconnecter", "Sign out")) }
                            }
                        }
                        form.inline method="get" action="/lang" {
                            input type="hidden" name="to" value=(l.other().code());
                            input type="hidden" name="back" value=(self.path);
                            button type="submit" lang=(l.other().code()) {
                                (l.t("English", "Français"))
                            }
                        }
                    }
                    main id="contenu" tabindex="-1" {
                        h1 { (title) }
                        (body)
                    }
                    footer {
                        p { (l.t("Minutier — archives définitives scellées", "Minutier — sealed permanent archives")) }
                    }
                }
            }
        };
        let mut response = (status, axum::response::Html(markup.into_string())).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        response
    }

    /// A refusal or failure, as a page that says what happened.
    pub fn error(&self, status: StatusCode, title: &str, message: &str) -> Response {
        let l = self.lang;
        self.page_with(
            status,
            title,
            html! {
                p.error role="alert" { (message) }
                p { a href="/" { (l.t("Retour à l'accueil", "Back to the home page")) } }
            },
        )
    }

    /// A domain error as a page, with the status matching its gRPC code.
    pub fn failed(&self, e: Error) -> Response {
        let l = self.lang;
        let (status, title) = match &e {
            Error::InvalidArgument(_) => (
                StatusCode::BAD_REQUEST,
                l.t("Demande invalide", "Invalid request"),
            ),
            Error::NotFound(_) => (StatusCode::NOT_FOUND, l.t("Introuvable", "Not found")),
            Error::FailedPrecondition(_) => (
                StatusCode::CONFLICT,
                l.t("Action impossible en l'état", "Not possible now"),
            ),
            Error::PermissionDenied(_) => {
                (StatusCode::FORBIDDEN, l.t("Accès refusé", "Access refused"))
            }
            Error::ResourceExhausted(_) => (
                StatusCode::INSUFFICIENT_STORAGE,
                l.t("Limite atteinte", "Limit reached"),
            ),
            Error::DataLoss(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                l.t("Intégrité compromise", "Integrity failure"),
            ),
            Error::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                l.t("Service indisponible", "Unavailable"),
            ),
            Error::Storage(_) | Error::Seal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                l.t("Erreur interne", "Internal error"),
            ),
        };
        self.error(status, title, &e.to_string())
    }
}

fn current(path: &str, href: &str) -> Option<&'static str> {
    let here = path.split('?').next().unwrap_or(path);
    let matches = if href == "/" {
        here == "/"
    } else {
        here == href || here.starts_with(&format!("{href}/"))
    };
    matches.then_some("page")
}

/// The menu a role sees: only what it may use.
fn menu(role: Role, l: Lang) -> Vec<(&'static str, &'static str)> {
    let mut items = vec![("/", l.t("Tableau de bord", "Dashboard"))];
    if allowed(role, Action::List) {
        items.push(("/archives", l.t("Rechercher", "Search")));
    }
    if allowed(role, Action::Ingest) {
        items.push(("/deposit", l.t("Verser", "Deposit")));
    }
    if allowed(role, Action::ReadEliminations) {
        items.push(("/eliminations", l.t("Éliminations", "Eliminations")));
    }
    if allowed(role, Action::ReadJournal) {
        items.push(("/audit/journal", l.t("Journal des accès", "Access journal")));
        items.push(("/audit/sign-ins", l.t("Connexions", "Sign-ins")));
    }
    items.push((
        "/audit/checkpoints",
        l.t("Points de contrôle", "Checkpoints"),
    ));
    items.push(("/verify", l.t("Vérifier un scellement", "Verify a seal")));
    items
}

pub fn role_name(role: Role, l: Lang) -> &'static str {
    match role {
        Role::Archivist => l.t("archiviste", "archivist"),
        Role::Dms => l.t("application métier", "document system"),
        Role::Auditor => l.t("auditeur", "auditor"),
        Role::Controller => l.t("contrôleur", "controller"),
        Role::Admin => l.t("administrateur", "administrator"),
    }
}

/// A local path to go back to after sign-in: only paths of this console,
/// never another site.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/".to_owned(),
    }
}

/// A hidden CSRF field for a form.
pub fn csrf_field(session: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf); }
}

/// Records a lifecycle event as the signed-in person (checked by the
/// lifecycle rules, refused as a page), then sends them to `then`.
pub async fn record(
    shared: &Shared,
    ctx: &Ctx,
    event: crate::lifecycle::Event,
    then: &str,
) -> Page {
    shared
        .service
        .change(event, ctx.actor())
        .await
        .map_err(|e| ctx.failed(e))?;
    Ok(see_other(then))
}

/// An archive's page.
pub fn archive_url(archive_id: &str) -> String {
    format!("/archives/{}", percent_encode(archive_id))
}

/// `303 See Other` to `to`: after a form, a reload does not resubmit it.
pub fn see_other(to: &str) -> Response {
    let mut response = Redirect::to(to).into_response();
    *response.status_mut() = StatusCode::SEE_OTHER;
    response
}

/// `body` as a file to save, named `file_name` (already safe for the
/// header).
pub fn attachment(body: impl IntoResponse, kind: &str, file_name: &str) -> Response {
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(kind).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

pub fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
