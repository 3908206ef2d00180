//! The console's HTTPS port: before routing, every request gets its
//! language and session, and a request that changes something must carry
//! the session's CSRF token; every answer gets the security headers.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_stream::StreamExt as _;
use tower::ServiceExt as _;

use super::config::ConsoleConfig;
use super::i18n::{negotiate, Lang};
use super::page::Ctx;
use super::session::{same_secret, Sessions, COOKIE, SIGN_IN_COOKIE};
use super::{
    archives, assets, audit, dashboard, deposit, edit, eliminations, holds, report, signin,
};
use crate::archive::ArchiveService;
use crate::auth::{Action, Authenticator};
use crate::https::{drain, Peer};

/// Largest form body read before routing (forms are small; documents go
/// through `/api/`, checked by header).
const MAX_FORM: usize = 1 << 20;

/// The content security policy: nothing inline, nothing from elsewhere;
/// WebAssembly allowed for the seal verifier.
pub const CSP: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// The console, ready to serve.
pub struct Console {
    shared: Arc<Shared>,
}

pub struct Shared {
    pub service: Arc<ArchiveService>,
    pub auth: Arc<Authenticator>,
    pub sessions: Sessions,
    /// The WebAssembly seal verifier, if it was found.
    pub verifier_wasm: Option<Arc<Vec<u8>>>,
    pub stats: dashboard::StatsCache,
}

impl Console {
    pub fn open(
        config: &ConsoleConfig,
        service: Arc<ArchiveService>,
        auth: Arc<Authenticator>,
    ) -> Result<Console, String> {
        config.validate()?;
        let verifier_wasm = match config.verifier_wasm_path() {
            Some(path) => Some(Arc::new(std::fs::read(&path).map_err(|e| {
                format!("cannot read the seal verifier {}: {e}", path.display())
            })?)),
            None if config.verifier_wasm.is_some() => unreachable!("an explicit path is returned"),
            None => {
                tracing::warn!(
                    "console: the WebAssembly seal verifier was not found; the verification page \
                     will say so (build it with scripts/run, or set console.verifier_wasm)"
                );
                None
            }
        };
        Ok(Console {
            shared: Arc::new(Shared {
                service,
                auth,
                sessions: Sessions::new(
                    Duration::from_secs(config.session_idle_seconds),
                    Duration::from_secs(config.session_max_seconds),
                    config.max_failed_sign_ins,
                ),
                verifier_wasm,
                stats: Default::default(),
            }),
        })
    }

    pub fn has_verifier(&self) -> bool {
        self.shared.verifier_wasm.is_some()
    }

    /// Serves HTTPS on `listener` until `stop` turns true.
    pub async fn serve(
        self,
        listener: TcpListener,
        tls: rustls::ServerConfig,
        stop: watch::Receiver<bool>,
    ) {
        let shared = self.shared;
        let router = router(shared.clone());
        crate::https::serve("console", listener, tls, stop, move |peer, req| {
            handle(shared.clone(), router.clone(), peer, req)
        })
        .await;
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(dashboard::show))
        .route("/signin", get(signin::form).post(signin::password))
        .route("/signin/certificate", post(signin::certificate))
        .route("/signout", post(signin::sign_out))
        .route("/lang", get(signin::switch_language))
        .route("/archives", get(archives::search))
        .route("/archives/{id}", get(archives::show))
        .route("/archives/{id}/content", get(archives::content))
        .route("/archives/{id}/seal", get(archives::seal))
        .route("/archives/{id}/report", get(report::show))
        .route("/archives/{id}/edit", get(edit::form))
        .route("/archives/{id}/metadata", post(edit::correct))
        .route("/archives/{id}/rules", post(edit::change_rules))
        .route("/archives/{id}/holds", post(holds::place))
        .route("/archives/{id}/holds/{hold}/lift", post(holds::lift))
        .route("/deposit", get(deposit::form))
        .route("/api/deposit", post(deposit::document))
        .route("/api/transfer", post(deposit::transfer))
        .route(
            "/eliminations",
            get(eliminations::list).post(eliminations::propose),
        )
        .route("/eliminations/{id}", get(eliminations::show))
        .route("/eliminations/{id}/decide", post(eliminations::decide))
        .route("/eliminations/{id}/execute", post(eliminations::execute))
        .route(
            "/eliminations/{id}/certificate",
            get(eliminations::certificate),
        )
        .route("/audit/journal", get(audit::journal))
        .route("/audit/sign-ins", get(audit::sign_ins))
        .route("/audit/checkpoints", get(audit::checkpoints))
        .route("/audit/checkpoint", get(audit::checkpoint_file))
        .route("/audit/consistency", post(audit::consistency))
        .route("/verify", get(assets::verify_page))
        .route("/assets/{name}", get(assets::asset))
        // Browsers ask for it on their own; nothing to show.
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .fallback(not_found)
        .layer(DefaultBodyLimit::disable())
        .with_state(shared)
}

async fn not_found(axum::Extension(ctx): axum::Extension<Ctx>) -> Response {
    let l = ctx.lang;
    ctx.error(
        StatusCode::NOT_FOUND,
        l.t("Page introuvable", "Page not found"),
        l.t(
            "Cette adresse ne correspond à aucune page de la console.",
            "No page of the console has this address.",
        ),
    )
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The language: the `lang` cookie, else the browser's preference.
fn language(headers: &HeaderMap) -> Lang {
    cookie(headers, "minutier-lang")
        .and_then(Lang::parse)
        .unwrap_or_else(|| {
            negotiate(
                headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok()),
            )
        })
}

async fn handle(
    shared: Arc<Shared>,
    router: Router,
    peer: Peer,
    req: Request<hyper::body::Incoming>,
) -> Result<Response, Infallible> {
    let (mut parts, body) = req.into_parts();
    let lang = language(&parts.headers);
    let session = match cookie(&parts.headers, COOKIE) {
        Some(token) => shared.sessions.get(token),
        None => Err(super::session::Lookup::Unknown),
    };
    // A session whose credential was revoked or has expired ends now.
    let session = match session {
        Ok(s) => match shared.auth.live(&s.identity.serial) {
            Ok(()) => Ok(s),
            Err(why) => {
                tracing::info!(who = %s.identity.actor(), why, "console: session closed");
                shared.sessions.close_all_of(&s.identity.serial);
                super::signin::journal(
                    &shared,
                    &peer,
                    &s.identity.name,
                    &s.identity.actor(),
                    s.method.as_str(),
                    crate::model::SignInOutcome::Ended,
                    why,
                )
                .await;
                Err(super::session::Lookup::Expired)
            }
        },
        Err(e) => Err(e),
    };
    let path = parts
        .uri
        .path_and_query()
        .map_or("/".to_owned(), |p| p.as_str().to_owned());
    let ctx = Ctx::new(lang, session, peer, path);
    let mut body = Body::new(body);
    if parts.method != Method::GET && parts.method != Method::HEAD {
        match check_csrf(&shared, &ctx, &parts.headers, body).await {
            Ok(checked) => body = checked,
            Err(refusal) => return Ok(secure(refusal)),
        }
    }
    parts.extensions.insert(ctx);
    let response = router
        .oneshot(Request::from_parts(parts, body))
        .await
        .unwrap_or_else(|e| match e {});
    Ok(secure(response))
}

/// A request that changes something must prove it comes from a console
/// page: its `Origin`, when sent, is this console, and it carries the
/// session's CSRF token (the form field `csrf`, or the `X-CSRF-Token`
/// header of the deposit script). Before sign-in, the sign-in form's
/// token must match its cookie. Returns the body, read back for forms.
async fn check_csrf(
    shared: &Shared,
    ctx: &Ctx,
    headers: &HeaderMap,
    body: Body,
) -> Result<Body, Response> {
    let l = ctx.lang;
    let refuse = |why: &str| {
        let who = ctx
            .session
            .as_ref()
            .map_or("unauthenticated".to_owned(), |s| s.identity.actor());
        let role = ctx
            .session
            .as_ref()
            .map_or("-", |s| s.identity.role.as_str());
        shared
            .auth
            .note_refusal(&who, role, Action::WhoAmI, "csrf", why);
        ctx.error(
            StatusCode::FORBIDDEN,
            l.t("Requête refusée", "Request refused"),
            &format!(
                "{} ({why})",
                l.t(
                    "Cette demande ne vient pas d'une page de la console ou sa page a expiré : rechargez la page et recommencez",
                    "This request does not come from a console page, or its page is stale: reload the page and try again"
                )
            ),
        )
    };
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if origin != format!("https://{host}") {
            drain(body).await;
            return Err(refuse("the Origin header names another site"));
        }
    }
    let expected = match &ctx.session {
        Some(s) => s.csrf.clone(),
        None => match cookie(headers, SIGN_IN_COOKIE) {
            Some(t) => t.to_owned(),
            None => {
                drain(body).await;
                if ctx.expired {
                    return Err(ctx.signed().expect_err("no session"));
                }
                return Err(refuse("no session and no sign-in token"));
            }
        },
    };
    if let Some(token) = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()) {
        if same_secret(token, &expected) {
            return Ok(body);
        }
        drain(body).await;
        return Err(refuse("wrong CSRF token"));
    }
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        drain(body).await;
        return Err(refuse("no CSRF token"));
    }
    let mut form = Vec::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let Ok(bytes) = chunk else {
            return Err(refuse("the form was cut off"));
        };
        if form.len() + bytes.len() > MAX_FORM {
            drain(Body::from_stream(stream)).await;
            return Err(refuse("the form is too large"));
        }
        form.extend_from_slice(&bytes);
    }
    let token = form_urlencoded::parse(&form)
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.into_owned());
    match token {
        Some(t) if same_secret(&t, &expected) => Ok(Body::from(form)),
        Some(_) => Err(refuse("wrong CSRF token")),
        None => Err(refuse("no CSRF token")),
    }
}

/// The headers every answer carries.
fn secure(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        // Not `no-referrer`: under it browsers send `Origin: null` with
        // forms, and the origin check could not tell the console's own.
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
