//! The Pastell / As@lae-compatible REST endpoint (docs/pastell.md): an
//! unmodified Pastell, with its `as@lae-rest` connector pointed here,
//! deposits SEDA transfers and fetches their acknowledgement and reply.
//!
//! HTTPS (the daemon's server certificate), HTTP/1.1, Basic
//! authentication against `[[pastell.accounts]]` (every route but
//! `/ping`). Under `base_url`:
//!
//! - `GET /ping`, `GET /versions`: JSON;
//! - `POST /sedaMessages` (multipart: `seda_message`, `attachments`): the
//!   transfer is imported at once, answered in JSON; with
//!   `send_chunked_attachments=true` and no attachments, a chunked session
//!   is opened instead (`chunk_session_identifier`,
//!   `chunk_security_identifier`), fed by `POST /sedaAttachmentsChunkFiles`
//!   (see `chunks.rs`);
//! - `GET /sedaMessages/sequence:ArchiveTransfer/message:{Acknowledgement |
//!   ArchiveTransferReply}/originOrganizationIdentification:{agency}/originMessageIdentifier:{id}`:
//!   XML, or 404 while the transfer has not been received.
//!
//! Any status but 200 is a failure to Pastell; every 200 has a body. The
//! handlers only translate: imports go through
//! [`ArchiveService::import_sip`], which stores a transfer whole or not at
//! all.

mod auth;
mod chunks;
mod replies;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Extension, Multipart, State};
use axum::http::{header, HeaderValue, Method, Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_stream::StreamExt as _;
use tower::ServiceExt as _;

use crate::archive::{ArchiveService, ImportReport, SipSource, TransferOutcome};
use crate::auth::{Action, Authenticator};
use crate::error::Error;
use auth::{Account, Accounts};
use chunks::{ChunkFields, Chunks, Progress};

pub use auth::actor_of;

/// The role Pastell accounts are counted under in refusal counters.
const ROLE: &str = "pastell";
/// Largest manifest (`seda_message`), held in memory.
const MAX_MANIFEST: u64 = 64 << 20;
/// Largest text field.
const MAX_TEXT: u64 = 4 << 10;
/// Most bytes of fields this endpoint does not know, skipped, per request.
const MAX_SKIPPED: u64 = 1 << 20;
/// Most bytes read and dropped after a refusal, so that the client, still
/// sending, reads the answer...
const MAX_DRAIN: u64 = 64 << 20;
/// ...for at most this long; then the connection is closed.
const DRAIN_TIME: Duration = Duration::from_secs(10);
/// Connections served at once; more wait in the kernel's backlog. Four
/// times what one address may hold (`crate::tls`), so that one host
/// cannot take them all.
const MAX_CONNECTIONS: usize = 256;
/// A client must send its request headers within this time.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// `[pastell]` in the daemon's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PastellConfig {
    /// Address of the HTTPS listener (e.g. `0.0.0.0:7371`).
    pub listen: SocketAddr,
    /// Path under which the routes are served (Pastell's connector URL is
    /// `https://<host>:<port><base_url>`).
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// Largest package archive accepted, whole or all chunks together.
    #[serde(default = "default_max_package_size")]
    pub max_package_size: u64,
    /// Most bytes spooled at once, every upload in progress together.
    #[serde(default = "default_max_spool_size")]
    pub max_spool_size: u64,
    /// A chunked upload without a new chunk for this long is dropped.
    #[serde(default = "default_session_timeout")]
    pub chunk_session_timeout_seconds: u64,
    /// Who may deposit.
    #[serde(default)]
    pub accounts: Vec<AccountConfig>,
}

/// `[[pastell.accounts]]`: one Pastell connector's credentials.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// The connector's login.
    pub login: String,
    /// Lowercase hex SHA-256 of the connector's password, which is what
    /// Pastell sends (`printf %s 'password' | sha256sum`).
    pub password_sha256: String,
    /// The originating agency this account deposits for: every unit of its
    /// transfers must name it (or none, and it is filled in).
    pub agency: String,
}

impl std::fmt::Debug for AccountConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountConfig")
            .field("login", &self.login)
            .field("password_sha256", &"(hidden)")
            .field("agency", &self.agency)
            .finish()
    }
}

fn default_base_url() -> String {
    "/".into()
}

fn default_max_package_size() -> u64 {
    4 << 30
}

fn default_max_spool_size() -> u64 {
    16 << 30
}

fn default_session_timeout() -> u64 {
    3600
}

impl PastellConfig {
    /// Rejects settings the endpoint cannot run with.
    pub fn validate(&self) -> Result<(), String> {
        let base = &self.base_url;
        if !base.starts_with('/')
            || base
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "?#%\\".contains(c))
        {
            return Err(format!(
                "pastell.base_url {base:?} must be a path starting with / (e.g. \"/\" or \"/asalae\")"
            ));
        }
        if self.max_package_size == 0 {
            return Err("pastell.max_package_size must be at least 1".into());
        }
        if self.max_spool_size < self.max_package_size {
            return Err("pastell.max_spool_size must be at least pastell.max_package_size".into());
        }
        if self.chunk_session_timeout_seconds == 0 {
            return Err("pastell.chunk_session_timeout_seconds must be at least 1".into());
        }
        if self.accounts.is_empty() {
            return Err(
                "pastell: add at least one [[pastell.accounts]] (login, password_sha256, agency)"
                    .into(),
            );
        }
        let mut logins = std::collections::HashSet::new();
        for a in &self.accounts {
            if a.login.is_empty() || a.login.contains(':') || a.login.chars().any(char::is_control)
            {
                return Err(format!(
                    "pastell.accounts: login {:?} must be non-empty, without ':' or control characters",
                    a.login
                ));
            }
            minutier_seal::record::validate_actor(&actor_of(&a.login))
                .map_err(|e| format!("pastell.accounts: login {:?}: {e}", a.login))?;
            if !logins.insert(a.login.as_str()) {
                return Err(format!(
                    "pastell.accounts: login {:?} is listed twice",
                    a.login
                ));
            }
            if a.password_sha256.len() != 64
                || !a.password_sha256.bytes().all(|b| b.is_ascii_hexdigit())
            {
                return Err(format!(
                    "pastell.accounts: password_sha256 of {:?} must be 64 hex digits, the SHA-256 of the password \
                     (printf %s 'password' | sha256sum)",
                    a.login
                ));
            }
            if a.agency.trim().is_empty() {
                return Err(format!(
                    "pastell.accounts: {:?} needs the agency it deposits for",
                    a.login
                ));
            }
        }
        Ok(())
    }

    /// `base_url` without its trailing slashes ("" for the root).
    fn base_path(&self) -> String {
        self.base_url.trim_end_matches('/').to_owned()
    }
}

/// The endpoint, ready to serve.
pub struct Pastell {
    shared: Arc<Shared>,
}

struct Shared {
    service: Arc<ArchiveService>,
    auth: Arc<Authenticator>,
    accounts: Accounts,
    base: String,
    chunks: Chunks,
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
        mut stop: watch::Receiver<bool>,
    ) {
        let shared = self.shared;
        let router = router(shared.clone());
        let mut incoming = crate::tls::incoming(listener, tls);
        let sweeper = tokio::spawn({
            let shared = shared.clone();
            async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    shared.chunks.expire();
                }
            }
        });
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        let mut connections = tokio::task::JoinSet::new();
        loop {
            let slot = tokio::select! {
                slot = slots.clone().acquire_owned() => slot.expect("never closed"),
                _ = stopped(&mut stop) => break,
            };
            let stream = tokio::select! {
                next = incoming.next() => match next {
                    Some(Ok(stream)) => stream,
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "pastell: accept failed");
                        continue;
                    }
                    None => break,
                },
                _ = stopped(&mut stop) => break,
            };
            let (shared, router, mut stop) = (shared.clone(), router.clone(), stop.clone());
            connections.spawn(async move {
                let _slot = slot;
                let service = hyper::service::service_fn(move |req| {
                    handle(shared.clone(), router.clone(), req)
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_TIMEOUT)
                    .serve_connection(TokioIo::new(stream), service);
                tokio::pin!(conn);
                tokio::select! {
                    r = conn.as_mut() => {
                        if let Err(e) = r {
                            tracing::debug!(error = %e, "pastell: connection ended");
                        }
                    }
                    _ = stopped(&mut stop) => {
                        conn.as_mut().graceful_shutdown();
                        let _ = conn.await;
                    }
                }
            });
            while connections.try_join_next().is_some() {}
        }
        drop(incoming);
        sweeper.abort();
        while connections.join_next().await.is_some() {}
    }
}

/// Resolves once `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
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

/// A refused request: a status and a JSON body saying what to do.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        let (status, code) = match &e {
            Error::InvalidArgument(_) => (StatusCode::BAD_REQUEST, "invalid_argument"),
            Error::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Error::PermissionDenied(_) => (StatusCode::FORBIDDEN, "permission_denied"),
            Error::FailedPrecondition(_) => (StatusCode::CONFLICT, "failed_precondition"),
            // The volume full, for instance: the message says which.
            Error::ResourceExhausted(_) => (StatusCode::INSUFFICIENT_STORAGE, "resource_exhausted"),
            Error::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %e, "pastell: request failed");
        }
        ApiError::new(status, code, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(
            self.status,
            &json!({ "error": self.code, "message": self.message }),
        )
    }
}

fn json_response(status: StatusCode, value: &serde_json::Value) -> Response {
    let body = serde_json::to_vec(value).expect("JSON values serialise");
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body,
    )
        .into_response()
}

fn ok_json(value: serde_json::Value) -> Response {
    json_response(StatusCode::OK, &value)
}

fn multipart_error(e: MultipartError) -> ApiError {
    let status = match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::BAD_REQUEST,
    };
    ApiError::new(
        status,
        "malformed_multipart",
        format!(
            "the multipart/form-data body is malformed: {}",
            e.body_text()
        ),
    )
}

fn multipart(m: Result<Multipart, MultipartRejection>) -> Result<Multipart, ApiError> {
    m.map_err(|e| {
        ApiError::bad_request(
            "malformed_multipart",
            format!("send a multipart/form-data body: {}", e.body_text()),
        )
    })
}

/// Reads what the client still sends of a refused request, within bounds,
/// so that it reads the answer instead of a broken connection.
async fn drain(body: Body) {
    let mut stream = body.into_data_stream();
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        let mut left = MAX_DRAIN;
        while let Some(Ok(bytes)) = stream.next().await {
            left = left.saturating_sub(bytes.len() as u64);
            if left == 0 {
                return;
            }
        }
    })
    .await;
}

/// The same, for a multipart body partly read.
async fn drain_multipart(body: &mut Multipart) {
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        let mut left = MAX_DRAIN;
        while let Ok(Some(mut field)) = body.next_field().await {
            while let Ok(Some(bytes)) = field.chunk().await {
                left = left.saturating_sub(bytes.len() as u64);
                if left == 0 {
                    return;
                }
            }
        }
    })
    .await;
}

/// Reads a field whole, refusing more than `limit` bytes.
async fn read_field(mut field: Field<'_>, limit: u64) -> Result<Vec<u8>, ApiError> {
    let name = field.name().unwrap_or_default().to_owned();
    let mut out = Vec::new();
    while let Some(bytes) = field.chunk().await.map_err(multipart_error)? {
        if (out.len() + bytes.len()) as u64 > limit {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "field_too_large",
                format!("field {name} is larger than {limit} bytes"),
            ));
        }
        out.extend_from_slice(&bytes);
    }
    Ok(out)
}

async fn read_text(field: Field<'_>) -> Result<String, ApiError> {
    let name = field.name().unwrap_or_default().to_owned();
    String::from_utf8(read_field(field, MAX_TEXT).await?)
        .map_err(|_| ApiError::bad_request("invalid_field", format!("field {name} is not UTF-8")))
}

/// Reads and drops a field this endpoint does not use.
async fn skip(mut field: Field<'_>, skipped: &mut u64) -> Result<(), ApiError> {
    while let Some(bytes) = field.chunk().await.map_err(multipart_error)? {
        *skipped += bytes.len() as u64;
        if *skipped > MAX_SKIPPED {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "unknown_fields_too_large",
                "more than 1 MiB of fields this endpoint does not know",
            ));
        }
    }
    Ok(())
}

async fn ping() -> Response {
    ok_json(json!("minutier: As@lae-compatible web services reachable"))
}

async fn versions() -> Response {
    ok_json(json!({
        "application": "minutier",
        "denomination": "Minutier (As@lae-compatible REST endpoint)",
        "version": env!("CARGO_PKG_VERSION"),
        "seda": ["2.1", "2.2", "2.3"],
    }))
}

async fn unknown_route() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_route",
        "no such route: see docs/pastell.md for the routes of this endpoint",
    )
}

async fn wrong_method() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take this method: see docs/pastell.md",
    )
}

/// `POST /sedaMessages`.
async fn seda_messages(
    State(shared): State<Arc<Shared>>,
    Extension(account): Extension<Arc<Account>>,
    body: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let mut body = multipart(body)?;
    let answer = seda_messages_in(&shared, &account, &mut body).await;
    if answer.is_err() {
        drain_multipart(&mut body).await;
    }
    answer
}

async fn seda_messages_in(
    shared: &Shared,
    account: &Account,
    body: &mut Multipart,
) -> Result<Response, ApiError> {
    let mut manifest: Option<Vec<u8>> = None;
    let mut attachments = None;
    let mut chunked: Option<bool> = None;
    let mut skipped = 0;
    let twice = |name: &str| {
        ApiError::bad_request("duplicate_field", format!("field {name} is sent twice"))
    };
    while let Some(field) = body.next_field().await.map_err(multipart_error)? {
        match field.name().unwrap_or_default() {
            "seda_message" if manifest.is_some() => return Err(twice("seda_message")),
            "seda_message" => manifest = Some(read_field(field, MAX_MANIFEST).await?),
            "attachments" if attachments.is_some() => return Err(twice("attachments")),
            "attachments" => attachments = Some(shared.chunks.receive(field).await?),
            "send_chunked_attachments" => {
                let value = read_text(field).await?;
                chunked = Some(match value.trim().to_ascii_lowercase().as_str() {
                    "true" | "1" => true,
                    "false" | "0" | "" => false,
                    _ => {
                        return Err(ApiError::bad_request(
                            "invalid_field",
                            format!("send_chunked_attachments {value:?} is not true or false"),
                        ))
                    }
                });
            }
            _ => skip(field, &mut skipped).await?,
        }
    }
    let manifest = manifest.filter(|m| !m.is_empty()).ok_or_else(|| {
        ApiError::bad_request(
            "missing_seda_message",
            "field seda_message (the transfer's manifest) is missing or empty",
        )
    })?;
    if chunked == Some(true) {
        if attachments.is_some() {
            return Err(ApiError::bad_request(
                "attachments_with_chunks",
                "send either attachments, or send_chunked_attachments=true and then the chunks",
            ));
        }
        // Parsing a large manifest is work for a blocking thread.
        let (manifest, transfer) = tokio::task::spawn_blocking(move || {
            let transfer = identify(&manifest);
            (manifest, transfer)
        })
        .await
        .map_err(|e| ApiError::from(Error::Storage(format!("reading the manifest failed: {e}"))))?;
        let transfer = transfer?;
        let opened = shared
            .chunks
            .open_session(account, manifest, &transfer.message_identifier)
            .await?;
        tracing::info!(
            actor = %account.actor,
            transfer = %transfer.message_identifier,
            session = %opened.session_identifier,
            "pastell: chunked upload opened"
        );
        return Ok(ok_json(json!({
            "chunk_session_identifier": opened.session_identifier,
            "chunk_security_identifier": opened.security_identifier,
            "message_identifier": transfer.message_identifier,
            "transferring_agency": transfer.transferring_agency,
            "message": "send the attachments with POST sedaAttachmentsChunkFiles, chunk_index from 1",
        })));
    }
    let attachments = attachments.ok_or_else(|| {
        ApiError::bad_request(
            "missing_attachments",
            "field attachments (the archive of the transfer's files) is missing; \
             or send send_chunked_attachments=true to send it in chunks",
        )
    })?;
    let report = deposit(shared, account, manifest, attachments.path()).await?;
    drop(attachments);
    Ok(ok_json(outcome_json(shared, &report)))
}

/// `POST /sedaAttachmentsChunkFiles`.
async fn chunk_files(
    State(shared): State<Arc<Shared>>,
    Extension(account): Extension<Arc<Account>>,
    body: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let mut body = multipart(body)?;
    let answer = chunk_files_in(&shared, &account, &mut body).await;
    if answer.is_err() {
        drain_multipart(&mut body).await;
    }
    answer
}

async fn chunk_files_in(
    shared: &Shared,
    account: &Account,
    body: &mut Multipart,
) -> Result<Response, ApiError> {
    let mut fields = ChunkFields::default();
    let mut progress = None;
    let mut skipped = 0;
    while let Some(field) = body.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "chunk_content" {
            if progress.is_some() {
                return Err(ApiError::bad_request(
                    "duplicate_field",
                    "field chunk_content is sent twice",
                ));
            }
            progress = Some(shared.chunks.receive_chunk(account, &fields, field).await?);
        } else if progress.is_some() {
            skip(field, &mut skipped).await?;
        } else {
            let value = match &name[..] {
                "session_identifier"
                | "security_identifier"
                | "number_of_files"
                | "file_index"
                | "file_name"
                | "compression_algorithm"
                | "number_of_chunks"
                | "chunk_index" => read_text(field).await?,
                _ => {
                    skip(field, &mut skipped).await?;
                    continue;
                }
            };
            fields.set(&name, value)?;
        }
    }
    match progress {
        None => Err(ApiError::bad_request(
            "missing_chunk_content",
            "field chunk_content (the chunk's bytes) is missing",
        )),
        Some(Progress::Partial {
            chunk_index,
            number_of_chunks,
            received,
        }) => Ok(ok_json(json!({
            "chunk_index": chunk_index,
            "number_of_chunks": number_of_chunks,
            "received_bytes": received,
            "message": format!("chunk {chunk_index} of {number_of_chunks} received"),
        }))),
        Some(Progress::Complete(complete)) => {
            tracing::info!(
                actor = %account.actor,
                chunks = complete.number_of_chunks,
                bytes = complete.received,
                "pastell: chunked upload complete"
            );
            let manifest = tokio::fs::read(&complete.manifest).await.map_err(|e| {
                ApiError::from(Error::Storage(format!(
                    "cannot read the spooled manifest: {e}"
                )))
            })?;
            let report = deposit(shared, account, manifest, complete.files.path()).await?;
            let mut answer = outcome_json(shared, &report);
            answer["chunk_index"] = json!(complete.number_of_chunks);
            answer["number_of_chunks"] = json!(complete.number_of_chunks);
            answer["received_bytes"] = json!(complete.received);
            Ok(ok_json(answer))
        }
    }
}

/// Reads the transfer's identifiers from its manifest; a manifest that
/// names none is refused at once (no reply could ever be fetched for it).
fn identify(manifest: &[u8]) -> Result<minutier_sip::TransferInfo, ApiError> {
    let refused = |code: &str, message: &str| {
        ApiError::bad_request(
            "invalid_seda_message",
            format!("the manifest cannot be read ({code}): {message}"),
        )
    };
    let parsed =
        minutier_sip::manifest::parse(manifest).map_err(|r| refused(r.code, &r.message))?;
    if parsed.transfer.message_identifier.is_empty() {
        return Err(refused(
            minutier_sip::code::INVALID_MANIFEST,
            "it has no MessageIdentifier",
        ));
    }
    Ok(parsed.transfer)
}

/// Imports a transfer for `account`, which deposits for its own agency
/// only.
async fn deposit(
    shared: &Shared,
    account: &Account,
    manifest: Vec<u8>,
    files: &Path,
) -> Result<ImportReport, ApiError> {
    let check = |agency: &mut String| -> crate::error::Result<()> {
        if agency.is_empty() {
            agency.clone_from(&account.agency);
        }
        if *agency == account.agency {
            return Ok(());
        }
        Err(Error::PermissionDenied(format!(
            "the Pastell account {} deposits for agency {}, not {}: \
             fix OriginatingAgency in the transfer or the account's agency",
            account.login,
            account.agency,
            if agency.is_empty() { "(none)" } else { agency }
        )))
    };
    let source = SipSource::Split {
        manifest,
        files: files.to_owned(),
    };
    let report = match shared
        .service
        .import_sip(&account.actor, source, &check)
        .await
    {
        Ok(r) => r,
        Err(Error::PermissionDenied(message)) => {
            shared
                .auth
                .note_refusal(&account.actor, ROLE, Action::Ingest, "agency", &message);
            return Err(ApiError::new(StatusCode::FORBIDDEN, "agency", message));
        }
        Err(e) => return Err(e.into()),
    };
    let o = &report.outcome;
    if o.message_identifier.is_empty() {
        // Nothing was kept: the manifest names no transfer to answer for.
        return Err(ApiError::bad_request(
            "invalid_seda_message",
            format!("the manifest cannot be read ({}): {}", o.code, o.message),
        ));
    }
    tracing::info!(
        actor = %account.actor,
        transfer = %o.message_identifier,
        agency = %o.transferring_agency,
        accepted = o.accepted,
        code = %o.code,
        replayed = report.replayed,
        "pastell: transfer received"
    );
    Ok(report)
}

fn outcome_json(shared: &Shared, report: &ImportReport) -> serde_json::Value {
    let o = &report.outcome;
    json!({
        "message_identifier": o.message_identifier,
        "transferring_agency": o.transferring_agency,
        "seda_version": o.seda_version,
        "accepted": o.accepted,
        "code": o.code,
        "message": o.message,
        "replayed": report.replayed,
        "decided_at": o.decided_at,
        "archives": o.archives.iter().map(|a| json!({
            "archive_id": a.archive_id,
            "unit_id": a.unit_id,
            "object_id": a.object_id,
            "title": a.title,
            "content_sha256": a.content_sha256,
            "size": a.size,
            "log_index": a.log_index,
        })).collect::<Vec<_>>(),
        "acknowledgement": reply_path(&shared.base, Message::Acknowledgement, o),
        "reply": reply_path(&shared.base, Message::ArchiveTransferReply, o),
    })
}

/// The messages fetched for a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Message {
    Acknowledgement,
    ArchiveTransferReply,
}

impl Message {
    fn as_str(self) -> &'static str {
        match self {
            Message::Acknowledgement => "Acknowledgement",
            Message::ArchiveTransferReply => "ArchiveTransferReply",
        }
    }
}

/// Where Pastell fetches `message` of a transfer.
fn reply_path(base: &str, message: Message, o: &TransferOutcome) -> String {
    format!(
        "{base}/sedaMessages/sequence:ArchiveTransfer/message:{}/originOrganizationIdentification:{}/originMessageIdentifier:{}",
        message.as_str(),
        encode(&o.transferring_agency),
        encode(&o.message_identifier)
    )
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes a path segment as PHP's `urlencode` writes it (`%XX`, `+` for
/// a space).
fn decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Reads `sequence:ArchiveTransfer/message:M/originOrganizationIdentification:A/originMessageIdentifier:I`.
fn parse_message_path(rest: &str) -> Option<(Message, String, String)> {
    let parts: Vec<&str> = rest.split('/').collect();
    let [sequence, message, agency, id] = parts.as_slice() else {
        return None;
    };
    if *sequence != "sequence:ArchiveTransfer" {
        return None;
    }
    let message = match message.strip_prefix("message:")? {
        "Acknowledgement" => Message::Acknowledgement,
        "ArchiveTransferReply" => Message::ArchiveTransferReply,
        _ => return None,
    };
    let agency = decode(agency.strip_prefix("originOrganizationIdentification:")?)?;
    let id = decode(id.strip_prefix("originMessageIdentifier:")?)?;
    Some((message, agency.trim().to_owned(), id.trim().to_owned()))
}

/// `GET /sedaMessages/sequence:ArchiveTransfer/message:…/…`.
async fn seda_message(
    State(shared): State<Arc<Shared>>,
    Extension(account): Extension<Arc<Account>>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let rest = uri
        .path()
        .strip_prefix("/sedaMessages/")
        .unwrap_or_default();
    let Some((message, agency, id)) = parse_message_path(rest) else {
        return Err(unknown_route().await);
    };
    let not_received = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_received",
            format!(
                "no transfer {id:?} from agency {agency:?} was received from this account (yet)"
            ),
        )
    };
    let outcome = match shared.service.transfer(&agency, &id) {
        Ok(o) => o,
        Err(Error::NotFound(_)) => return Err(not_received()),
        Err(e) => return Err(e.into()),
    };
    // An account sees the transfers it deposited, and those of its agency.
    if outcome.actor != account.actor && outcome.transferring_agency != account.agency {
        return Err(not_received());
    }
    let xml = match message {
        Message::Acknowledgement => replies::acknowledgement(&outcome)?,
        Message::ArchiveTransferReply => replies::transfer_reply(&outcome)?,
    };
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        xml,
    )
        .into_response())
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

    #[test]
    fn message_paths() {
        let (m, a, i) = parse_message_path(
            "sequence:ArchiveTransfer/message:ArchiveTransferReply/originOrganizationIdentification:FR%3AMAIRIE+42/originMessageIdentifier:2024-05-12-ACTES-18",
        )
        .unwrap();
        assert_eq!(m, Message::ArchiveTransferReply);
        assert_eq!(a, "FR:MAIRIE 42");
        assert_eq!(i, "2024-05-12-ACTES-18");
        let (m, a, _) = parse_message_path(
            "sequence:ArchiveTransfer/message:Acknowledgement/originOrganizationIdentification:/originMessageIdentifier:X",
        )
        .unwrap();
        assert_eq!(m, Message::Acknowledgement);
        assert_eq!(a, "");
        assert!(parse_message_path("sequence:ArchiveTransfer/message:Other/o:/x:").is_none());
        assert!(parse_message_path("sequence:ArchiveTransfer/message:Acknowledgement").is_none());
        assert_eq!(decode("a%2Fb").as_deref(), Some("a/b"));
        assert_eq!(decode("%zz"), None);
        assert_eq!(encode("a b/é"), "a%20b%2F%C3%A9");
    }

    #[test]
    fn config() {
        let parse = |text: &str| toml::from_str::<PastellConfig>(text).unwrap();
        let good = "listen = \"127.0.0.1:7371\"\n[[accounts]]\nlogin = \"pastell\"\n\
                    password_sha256 = \"2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b\"\n\
                    agency = \"MAIRIE\"\n";
        let c = parse(good);
        c.validate().unwrap();
        assert_eq!(c.base_path(), "");
        assert!(!format!("{c:?}").contains("2bb80d"));
        let mut c2 = c.clone();
        c2.base_url = "/asalae/".into();
        c2.validate().unwrap();
        assert_eq!(c2.base_path(), "/asalae");
        c2.base_url = "asalae".into();
        assert!(c2.validate().unwrap_err().contains("base_url"));
        let mut c3 = c.clone();
        c3.accounts[0].password_sha256 = "secret".into();
        assert!(c3.validate().unwrap_err().contains("sha256sum"));
        let mut c4 = c.clone();
        c4.accounts.push(c4.accounts[0].clone());
        assert!(c4.validate().unwrap_err().contains("twice"));
        let mut c5 = c.clone();
        c5.accounts.clear();
        assert!(c5.validate().unwrap_err().contains("[[pastell.accounts]]"));
        let mut c6 = c;
        c6.max_spool_size = 1;
        assert!(c6.validate().unwrap_err().contains("max_spool_size"));
        assert!(toml::from_str::<PastellConfig>(&format!("{good}typo = 1\n")).is_err());
    }
}
