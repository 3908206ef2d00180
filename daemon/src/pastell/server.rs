//! The HTTPS listener: connections (bounded, headers timed out, drained on
//! stop), the router, and requests mapped below `base_url`.

use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, Method, Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt as _;

use super::auth::Accounts;
use super::chunks::Chunks;
use super::config::PastellConfig;
use super::http::{drain, ApiError};
use super::routes::{
    chunk_files, ping, seda_message, seda_messages, unknown_route, versions, wrong_method,
};
use super::ROLE;
use crate::archive::ArchiveService;
use crate::auth::{Action, Authenticator};

/// The endpoint, ready to serve.
pub struct Pastell {
    shared: Arc<Shared>,
}

pub(super) struct Shared {
    pub(super) service: Arc<ArchiveService>,
    pub(super) auth: Arc<Authenticator>,
    pub(super) accounts: Accounts,
    pub(super) base: String,
    pub(super) chunks: Chunks,
}

impl Pastell {
    /// Prepares the endpoint: accounts, and the spool in
    /// `<data dir>/spool/pastell/`.
    pub fn open(
        config: &PastellConfig,
        data_dir: &Path,
        service: Arc<ArchiveService>,
        auth: Arc<Authenticator>,
    ) -> Result<Pastell, String> {
        config.validate()?;
        let spool = data_dir.join("spool").join("pastell");
        let chunks = Chunks::open(
            spool.clone(),
            config.max_package_size,
            config.max_spool_size,
            Duration::from_secs(config.chunk_session_timeout_seconds),
        )
        .map_err(|e| format!("cannot prepare the spool {}: {e}", spool.display()))?;
        Ok(Pastell {
            shared: Arc::new(Shared {
                service,
                auth,
                accounts: Accounts::new(&config.accounts),
                base: config.base_path(),
                chunks,
            }),
        })
    }

    /// The path the routes are under ("/" for the root).
    pub fn base_url(&self) -> String {
        format!("{}/", self.shared.base)
    }

    /// Serves HTTPS on `listener` until `stop` turns true; then stops
    /// accepting, lets requests in progress finish and returns.
    pub async fn serve(
        self,
        listener: TcpListener,
        tls: rustls::ServerConfig,
        stop: watch::Receiver<bool>,
    ) {
        let shared = self.shared;
        let router = router(shared.clone());
        let sweeper = tokio::spawn({
            let shared = shared.clone();
            async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    shared.chunks.expire();
                }
            }
        });
        crate::https::serve("pastell", listener, tls, stop, move |_peer, req| {
            handle(shared.clone(), router.clone(), req)
        })
        .await;
        sweeper.abort();
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/ping", get(ping))
        .route("/versions", get(versions))
        .route("/sedaMessages", post(seda_messages))
        .route("/sedaAttachmentsChunkFiles", post(chunk_files))
        .route("/sedaMessages/{*message}", get(seda_message))
        .fallback(unknown_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::disable())
        .with_state(shared)
}

/// Before routing: the path is normalised (repeated slashes collapsed),
/// taken out of `base_url`, and the caller authenticated.
async fn handle(
    shared: Arc<Shared>,
    router: Router,
    req: Request<hyper::body::Incoming>,
) -> Result<Response, Infallible> {
    let (mut parts, body) = req.into_parts();
    let Some(local) = local_path(&shared.base, parts.uri.path()) else {
        return Ok(unknown_route().await.into_response());
    };
    let action = if parts.method == Method::POST {
        Action::Ingest
    } else {
        Action::ReadMetadata
    };
    // `/ping` is Pastell's network test ("Tester la connexion (réseau)"):
    // it answers without credentials, so that a wrong password shows in
    // the authentication test (`/versions`) only.
    let public = parts.method == Method::GET && local == "/ping";
    let account = match shared.accounts.authenticate(&parts.headers) {
        Ok(a) => Some(a),
        Err(_) if public => None,
        Err(refusal) => {
            shared.auth.note_refusal(
                &refusal.who(),
                ROLE,
                action,
                refusal.reason(),
                "Pastell endpoint: bad credentials",
            );
            let mut response = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "authenticate with the login of a [[pastell.accounts]] entry and, as the password, \
                 the lowercase hex SHA-256 of its password (what Pastell's as@lae-rest connector sends)",
            )
            .into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"Minutier\", charset=\"UTF-8\""),
            );
            drain(Body::new(body)).await;
            return Ok(response);
        }
    };
    let target = match parts.uri.query() {
        Some(q) => format!("{local}?{q}"),
        None => local,
    };
    parts.uri = match target.parse::<Uri>() {
        Ok(u) => u,
        Err(_) => return Ok(unknown_route().await.into_response()),
    };
    if let Some(account) = account {
        parts.extensions.insert(account);
    }
    router
        .oneshot(Request::from_parts(parts, Body::new(body)))
        .await
}

/// The path below `base` with repeated slashes collapsed, or None when the
/// path is not under `base`.
fn local_path(base: &str, path: &str) -> Option<String> {
    let mut normal = String::with_capacity(path.len());
    for c in path.chars() {
        if c == '/' && normal.ends_with('/') {
            continue;
        }
        normal.push(c);
    }
    if base.is_empty() {
        return Some(normal);
    }
    match normal.strip_prefix(base) {
        Some("") => Some("/".into()),
        Some(rest) if rest.starts_with('/') => Some(rest.to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(local_path("", "/ping").as_deref(), Some("/ping"));
        assert_eq!(local_path("", "//ping").as_deref(), Some("/ping"));
        assert_eq!(
            local_path("/asalae", "/asalae/ping").as_deref(),
            Some("/ping")
        );
        assert_eq!(
            local_path("/asalae", "/asalae//ping").as_deref(),
            Some("/ping")
        );
        assert_eq!(local_path("/asalae", "/asalae").as_deref(), Some("/"));
        assert_eq!(local_path("/asalae", "/asalaeX/ping"), None);
        assert_eq!(local_path("/asalae", "/ping"), None);
    }
}
