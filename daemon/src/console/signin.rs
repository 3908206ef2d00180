//! Signing in and out: a local account (login, argon2id password, and a
//! TOTP code when the account has one), or the client certificate the
//! browser presented. Every success and failure is logged, failures are
//! counted with the gRPC API's refusals, and repeated failures on one
//! login are refused for a while.

use std::sync::{Arc, OnceLock};

use axum::extract::{Extension, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;

use super::login::{hash_password, totp_step, verify_password};
use super::page::{safe_next, see_other, Ctx};
use super::server::Shared;
use super::session::{self, Method, COOKIE, SIGN_IN_COOKIE};
use crate::auth::{Action, Identity};
use crate::model::{SignIn, SignInOutcome};

/// How failed console sign-ins are counted among refusals.
const ROLE: &str = "console";

/// Writes a line of the sign-in journal (auditors read it at
/// `/audit/sign-ins`). A journal that cannot be written is logged, and the
/// sign-in goes on: the refusal counters and the daemon's log still hold it.
pub async fn journal(
    shared: &Shared,
    peer: &crate::https::Peer,
    login: &str,
    actor: &str,
    method: &str,
    outcome: SignInOutcome,
    reason: &str,
) {
    let entry = SignIn {
        at: super::page::now_millis(),
        login: login.to_owned(),
        actor: actor.to_owned(),
        method: method.to_owned(),
        outcome,
        reason: reason.to_owned(),
        address: peer.addr.map(|a| a.ip().to_string()).unwrap_or_default(),
    };
    let service = shared.service.clone();
    match tokio::task::spawn_blocking(move || service.record_sign_in(&entry)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "console: the sign-in journal cannot be written"),
        Err(e) => tracing::error!(error = %e, "console: the sign-in journal cannot be written"),
    }
}

#[derive(Deserialize)]
pub struct FormQuery {
    reason: Option<String>,
    next: Option<String>,
}

/// `GET /signin`.
pub async fn form(Extension(ctx): Extension<Ctx>, Query(q): Query<FormQuery>) -> Response {
    if ctx.session.is_some() {
        return Redirect::to(&safe_next(q.next.as_deref())).into_response();
    }
    let notice = match q.reason.as_deref() {
        Some("expired") => Some(ctx.lang.t(
            "Votre session a expiré : connectez-vous de nouveau.",
            "Your session has expired: sign in again.",
        )),
        Some("required") => Some(ctx.lang.t(
            "Connectez-vous pour accéder à cette page.",
            "Sign in to see this page.",
        )),
        Some("signed-out") => Some(ctx.lang.t("Vous êtes déconnecté.", "You are signed out.")),
        _ => None,
    };
    render(
        &ctx,
        StatusCode::OK,
        notice,
        None,
        "",
        &safe_next(q.next.as_deref()),
    )
}

fn render(
    ctx: &Ctx,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
    login: &str,
    next: &str,
) -> Response {
    let l = ctx.lang;
    let token = session::token();
    let body = html! {
        @if let Some(n) = notice { p.notice role="status" { (n) } }
        @if let Some(e) = error { p.error role="alert" id="erreur-connexion" { (e) } }
        form.card method="post" action="/signin" {
            input type="hidden" name="csrf" value=(token);
            input type="hidden" name="next" value=(next);
            div.field {
                label for="login" { (l.t("Identifiant", "Login")) }
                input id="login" name="login" type="text" autocomplete="username" required
                    value=(login) aria-describedby=[error.map(|_| "erreur-connexion")];
            }
            div.field {
                label for="password" { (l.t("Mot de passe", "Password")) }
                input id="password" name="password" type="password" autocomplete="current-password" required;
            }
            div.field {
                label for="totp" { (l.t("Code à usage unique (si votre compte en a un)", "One-time code (if your account has one)")) }
                input id="totp" name="totp" type="text" inputmode="numeric" autocomplete="one-time-code"
                    pattern="[0-9 ]{6,8}";
            }
            button type="submit" { (l.t("Se connecter", "Sign in")) }
        }
        form.card method="post" action="/signin/certificate" {
            input type="hidden" name="csrf" value=(token);
            input type="hidden" name="next" value=(next);
            p { (l.t("Ou, si votre navigateur détient un certificat délivré par cet appareil :", "Or, if your browser holds a certificate issued by this appliance:")) }
            button type="submit" { (l.t("Se connecter avec mon certificat", "Sign in with my certificate")) }
        }
    };
    let mut response = ctx.page_with(status, l.t("Connexion", "Sign in"), body);
    set_cookie(
        &mut response,
        &format!("{SIGN_IN_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict"),
    );
    response
}

fn set_cookie(response: &mut Response, cookie: &str) {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

#[derive(Deserialize)]
pub struct PasswordForm {
    login: String,
    password: String,
    #[serde(default)]
    totp: String,
    #[serde(default)]
    next: String,
}

/// A hash to check against when the login is unknown, so that an unknown
/// login takes as long as a wrong password.
fn decoy() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_password("not a password of anyone"))
}

/// `POST /signin`.
pub async fn password(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<Ctx>,
    Form(f): Form<PasswordForm>,
) -> Response {
    let l = ctx.lang;
    let next = safe_next(Some(&f.next));
    // Logins are at most 64 characters; a longer one is no one's, and is
    // not kept whole in the failure counts.
    let login: String = f.login.trim().chars().take(65).collect();
    if !shared.sessions.may_try(&login) {
        shared.auth.note_refusal(
            &login,
            ROLE,
            Action::WhoAmI,
            "throttled",
            "console: too many failed sign-ins",
        );
        return render(
            &ctx,
            StatusCode::TOO_MANY_REQUESTS,
            None,
            Some(l.t(
                "Trop d'échecs de connexion pour cet identifiant : réessayez dans un quart d'heure.",
                "Too many failed sign-ins for this login: try again in a quarter of an hour.",
            )),
            &login,
            &next,
        );
    }
    let account = shared.auth.account(&login);
    let hash = account
        .as_ref()
        .and_then(|c| c.login.as_ref())
        .map_or_else(|| decoy().to_owned(), |p| p.password_hash.clone());
    let password = f.password.clone();
    let password_ok = tokio::task::spawn_blocking(move || verify_password(&hash, &password))
        .await
        .unwrap_or(false);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let outcome = match account {
        Some(c) if password_ok => {
            let totp = c.login.as_ref().and_then(|p| p.totp_secret.clone());
            let method = match totp {
                None => Ok(Method::Password),
                Some(secret) => match totp_step(&secret, &f.totp, now) {
                    None => Err("wrong one-time code"),
                    Some(step) if !shared.sessions.claim_totp_step(&c.serial, step) => {
                        Err("one-time code already used")
                    }
                    Some(_) => Ok(Method::PasswordAndTotp),
                },
            };
            match method {
                Ok(_) if c.not_after <= now * 1000 => Err("account expired"),
                Ok(method) => Ok((c, method)),
                Err(why) => Err(why),
            }
        }
        Some(_) => Err("wrong password"),
        None => Err("unknown login"),
    };
    // Failures on an unknown login are counted, not journaled: anyone can
    // type one, and the journal must not grow at a stranger's pace. A
    // known login is throttled, which bounds its lines.
    let known = outcome.is_err() && shared.auth.account(&login).is_some();
    match outcome {
        Ok((credential, method)) => {
            shared.sessions.clear_failures(&login);
            let identity = Identity {
                name: credential.name.clone(),
                role: credential.role,
                agency: credential.agency.clone(),
                serial: credential.serial.clone(),
            };
            journal(
                &shared,
                &ctx.peer,
                &login,
                &identity.actor(),
                method.as_str(),
                SignInOutcome::SignedIn,
                "",
            )
            .await;
            signed_in(&shared, identity, method, &next)
        }
        Err(reason) => {
            shared.sessions.note_failure(&login);
            if known {
                journal(
                    &shared,
                    &ctx.peer,
                    &login,
                    "",
                    "password",
                    SignInOutcome::Failed,
                    reason,
                )
                .await;
            }
            shared.auth.note_refusal(
                &login,
                ROLE,
                Action::WhoAmI,
                "sign-in",
                &format!("console: sign-in failed ({reason})"),
            );
            render(
                &ctx,
                StatusCode::UNAUTHORIZED,
                None,
                Some(l.t(
                    "Identifiant, mot de passe ou code incorrect.",
                    "Wrong login, password or code.",
                )),
                &login,
                &next,
            )
        }
    }
}

fn signed_in(shared: &Shared, identity: Identity, method: Method, next: &str) -> Response {
    tracing::info!(who = %identity.actor(), method = method.as_str(), "console: signed in");
    let (token, _) = shared.sessions.open(identity, method);
    let mut response = see_other(next);
    set_cookie(
        &mut response,
        &format!("{COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict"),
    );
    set_cookie(
        &mut response,
        &format!("{SIGN_IN_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    response
}

#[derive(Deserialize)]
pub struct CertificateForm {
    #[serde(default)]
    next: String,
}

/// `POST /signin/certificate`: the certificate of this TLS connection,
/// checked like on the gRPC port.
pub async fn certificate(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<Ctx>,
    Form(f): Form<CertificateForm>,
) -> Response {
    let certs = ctx.peer.certificates.clone();
    match shared
        .auth
        .authorize(certs.as_deref().map(|c| c.as_slice()), Action::WhoAmI)
    {
        Ok(identity) => {
            journal(
                &shared,
                &ctx.peer,
                &identity.name,
                &identity.actor(),
                "certificate",
                SignInOutcome::SignedIn,
                "",
            )
            .await;
            signed_in(
                &shared,
                identity,
                Method::Certificate,
                &safe_next(Some(&f.next)),
            )
        }
        Err(status) => {
            let l = ctx.lang;
            render(
                &ctx,
                StatusCode::UNAUTHORIZED,
                None,
                Some(&format!(
                    "{} {}",
                    l.t(
                        "Connexion par certificat impossible :",
                        "Cannot sign in with a certificate:"
                    ),
                    status.message()
                )),
                "",
                &safe_next(Some(&f.next)),
            )
        }
    }
}

/// `POST /signout`.
pub async fn sign_out(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<Ctx>,
    headers: axum::http::HeaderMap,
) -> Response {
    let token = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned());
    if let Some(session) = token.and_then(|t| shared.sessions.close(&t)) {
        tracing::info!(who = %session.identity.actor(), "console: signed out");
        journal(
            &shared,
            &ctx.peer,
            &session.identity.name,
            &session.identity.actor(),
            session.method.as_str(),
            SignInOutcome::SignedOut,
            "",
        )
        .await;
    }
    let mut response = see_other("/signin?reason=signed-out");
    set_cookie(
        &mut response,
        &format!("{COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    response
}

#[derive(Deserialize)]
pub struct LangQuery {
    to: String,
    back: Option<String>,
}

/// `GET /lang?to=en&back=/archives`: remembers the language.
pub async fn switch_language(Query(q): Query<LangQuery>) -> Response {
    let lang = super::i18n::Lang::parse(&q.to).unwrap_or_default();
    let mut response = Redirect::to(&safe_next(q.back.as_deref())).into_response();
    set_cookie(
        &mut response,
        &format!(
            "minutier-lang={}; Path=/; Secure; SameSite=Lax; Max-Age=31536000",
            lang.code()
        ),
    );
    response
}
