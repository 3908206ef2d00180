//! Deposit: the page (files or a folder dropped, or a SEDA package, with a
//! metadata form) and the two uploads its script makes, one request per
//! file so that each has its own progress bar and its own seal.
//!
//! The uploads answer JSON. The document's bytes are the request body,
//! streamed to the archive service as they arrive; the description comes
//! in the query string. Nothing is stored unless the whole document
//! arrived and was sealed.

use std::io::Write as _;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Extension, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::Deserialize;
use serde_json::json;
use tokio_stream::StreamExt as _;

use super::fields::{Description, Rules};
use super::page::{Ctx, Page};
use super::server::Shared;
use crate::archive::{NewDocument, SipSource};
use crate::auth::{Action, Role};
use crate::error::Error;
use crate::https::drain;
use crate::metadata::Metadata;

/// `GET /deposit`.
pub async fn form(State(shared): State<Arc<Shared>>, Extension(ctx): Extension<Ctx>) -> Page {
    let session = ctx.allow(&shared, Action::Ingest)?;
    let l = ctx.lang;
    let agency = session.identity.agency.clone().unwrap_or_default();
    let body = html! {
        p { (l.t(
            "Déposez des fichiers ou un dossier : chaque fichier devient une archive, décrite par le formulaire ci-dessous, puis scellée. Un paquet SEDA (zip ou tar) est importé tel quel, avec sa propre description.",
            "Drop files or a folder: each file becomes an archive, described by the form below, then sealed. A SEDA package (zip or tar) is imported as it is, with its own description."
        )) }
        form #depot data-csrf=(session.csrf) {
            fieldset {
                legend { (l.t("Description commune", "Shared description")) }
                div.field {
                    label for="title" { (l.t("Titre", "Title")) span.hint { " — " (l.t("laissé vide : le nom de chaque fichier", "left empty: each file's name")) } }
                    input id="title" name="title" type="text";
                }
                div.field {
                    label for="agency" { (l.t("Service producteur (code)", "Originating agency (code)")) }
                    input id="agency" name="agency" type="text" value=(agency) readonly[session.identity.role == Role::Dms];
                }
                div.field {
                    label for="description" { (l.t("Description", "Description")) }
                    textarea id="description" name="description" rows="2" {}
                }
                div.field {
                    label for="keywords" { (l.t("Mots-clés (séparés par des virgules)", "Keywords (comma-separated)")) }
                    input id="keywords" name="keywords" type="text";
                }
                div.field {
                    label for="start" { (l.t("Date de début", "Start date")) }
                    input id="start" name="start" type="date";
                }
                div.field {
                    label for="end" { (l.t("Date de fin", "End date")) }
                    input id="end" name="end" type="date";
                }
            }
            fieldset {
                legend { (l.t("Règles de gestion", "Management rules")) }
                div.field {
                    label for="rule" { (l.t("Règle de durée d'utilité administrative (identifiant)", "Retention rule (identifier)")) }
                    input id="rule" name="rule" type="text";
                }
                div.field {
                    label for="years" { (l.t("Durée (années) ; vide : sans limite", "Duration (years); empty: no limit")) }
                    input id="years" name="years" type="number" min="0" max="1000";
                }
                div.field {
                    label for="final" { (l.t("Sort final", "Final action")) }
                    select id="final" name="final" {
                        option value="keep" { (l.t("Conservation définitive", "Keep")) }
                        option value="destroy" { (l.t("Élimination", "Destroy")) }
                    }
                }
                div.field {
                    label for="access_years" { (l.t("Délai de communicabilité (années) ; vide : communicable", "Access delay (years); empty: communicable")) }
                    input id="access_years" name="access_years" type="number" min="0" max="1000";
                }
            }
            div #depot-zone {
                p { (l.t("Glissez ici des fichiers ou un dossier, ou choisissez-les :", "Drop files or a folder here, or choose them:")) }
                div.field {
                    label for="fichiers" { (l.t("Fichiers", "Files")) }
                    input id="fichiers" type="file" multiple;
                }
                div.field {
                    label for="dossier" { (l.t("Dossier", "Folder")) }
                    input id="dossier" type="file" webkitdirectory;
                }
                div.field {
                    label for="paquet" { (l.t("Paquet SEDA (zip, tar, tar.gz)", "SEDA package (zip, tar, tar.gz)")) }
                    input id="paquet" type="file" accept=".zip,.tar,.tar.gz,.tgz";
                }
            }
            button type="submit" #verser { (l.t("Verser", "Deposit")) }
        }
        section #envois aria-live="polite" {
            h2 { (l.t("Envois", "Uploads")) }
            ul #fichiers-envoyes {}
        }
        script type="module" src="/assets/deposit.mjs" {}
    };
    Ok(ctx.page(l.t("Verser des documents", "Deposit documents"), body))
}

/// A JSON refusal for the deposit script.
fn refuse(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::InvalidArgument(_) | Error::DataLoss(_) => StatusCode::BAD_REQUEST,
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::FailedPrecondition(_) => StatusCode::CONFLICT,
        Error::PermissionDenied(_) => StatusCode::FORBIDDEN,
        Error::ResourceExhausted(_) => StatusCode::INSUFFICIENT_STORAGE,
        Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::Storage(_) | Error::Seal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The signed-in caller allowed to ingest, or a JSON refusal.
fn uploader(shared: &Shared, ctx: &Ctx) -> Result<crate::auth::Identity, Response> {
    let l = ctx.lang;
    let Some(session) = &ctx.session else {
        let message = if ctx.expired {
            l.t(
                "votre session a expiré : reconnectez-vous",
                "your session has expired: sign in again",
            )
        } else {
            l.t("connectez-vous d'abord", "sign in first")
        };
        return Err(refuse(StatusCode::UNAUTHORIZED, message));
    };
    ctx.allow(shared, Action::Ingest).map_err(|_| {
        refuse(
            StatusCode::FORBIDDEN,
            l.t(
                "votre rôle ne permet pas de verser",
                "your role may not deposit",
            ),
        )
    })?;
    Ok(session.identity.clone())
}

#[derive(Deserialize)]
pub struct DocumentQuery {
    file_name: String,
    #[serde(default)]
    media_type: String,
    #[serde(flatten)]
    description: Description,
    #[serde(flatten)]
    rules: Rules,
}

impl DocumentQuery {
    fn metadata(self) -> Result<Metadata, String> {
        let mut metadata = Metadata {
            title: self.file_name.clone(),
            file_name: self.file_name,
            media_type: self.media_type,
            rules: self.rules.to_rules(Vec::new())?,
            ..Metadata::default()
        };
        self.description.apply(&mut metadata)?;
        Ok(metadata)
    }
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// Everything checked before the first byte is read: who, the
/// description, the agency, the announced size.
fn admit_document(
    shared: &Shared,
    ctx: &Ctx,
    query: Result<Query<DocumentQuery>, axum::extract::rejection::QueryRejection>,
    headers: &HeaderMap,
) -> Result<(crate::auth::Identity, Metadata, u64), Response> {
    let who = uploader(shared, ctx)?;
    let Query(query) = query.map_err(|e| {
        refuse(
            StatusCode::BAD_REQUEST,
            &format!("the description is incomplete: {e}"),
        )
    })?;
    let mut metadata = query
        .metadata()
        .map_err(|e| refuse(StatusCode::BAD_REQUEST, &e))?;
    if who.role == Role::Dms && metadata.originating_agency.is_empty() {
        metadata.originating_agency = who.agency.clone().unwrap_or_default();
    }
    shared
        .auth
        .check_agency(&who, Action::Ingest, &metadata.originating_agency)
        .map_err(|s| refuse(StatusCode::FORBIDDEN, s.message()))?;
    let declared_size = content_length(headers).ok_or_else(|| {
        refuse(
            StatusCode::LENGTH_REQUIRED,
            "send the document with its Content-Length",
        )
    })?;
    let limit = shared.service.max_document_size();
    if declared_size > limit {
        return Err(refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "the document is {declared_size} bytes, over the size limit of {limit}; \
                 ask the administrator to raise max_document_size"
            ),
        ));
    }
    Ok((who, metadata, declared_size))
}

/// `POST /api/deposit?file_name=…&title=…`: one document.
pub async fn document(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<Ctx>,
    query: Result<Query<DocumentQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (who, metadata, declared_size) = match admit_document(&shared, &ctx, query, &headers) {
        Ok(admitted) => admitted,
        Err(refusal) => {
            // The client is still sending: read it, so it reads the answer.
            drain(body).await;
            return refusal;
        }
    };
    let mut received = 0u64;
    let chunks = body.into_data_stream().map(move |chunk| match chunk {
        Ok(bytes) => {
            received += bytes.len() as u64;
            Ok(bytes.to_vec())
        }
        Err(e) => Err(Error::InvalidArgument(format!(
            "the upload was interrupted after {received} bytes: {e}"
        ))),
    });
    let document = NewDocument {
        metadata,
        declared_sha256: None,
        declared_size,
    };
    match shared.service.ingest(&who.actor(), document, chunks).await {
        Ok(receipt) if receipt.size != declared_size => {
            // Cannot happen through hyper (it enforces Content-Length), but
            // a short document must never pass for a whole one.
            tracing::error!(archive = %receipt.archive_id, "console: upload shorter than announced");
            refuse(
                StatusCode::BAD_REQUEST,
                "the upload ended before its announced size",
            )
        }
        Ok(receipt) => axum::Json(json!({
            "archive_id": receipt.archive_id,
            "sha256": minutier_seal::hash::to_hex(&receipt.content_sha256),
            "size": receipt.size,
            "log_index": receipt.log_index,
            "seal": receipt.seal,
            "deduplicated": receipt.deduplicated,
        }))
        .into_response(),
        Err(e) => refuse(status_of(&e), &e.to_string()),
    }
}

#[derive(Deserialize)]
pub struct TransferQuery {
    #[serde(default)]
    file_name: String,
}

/// Everything checked before the package's first byte is read.
fn admit_package(
    shared: &Shared,
    ctx: &Ctx,
    query: &TransferQuery,
    headers: &HeaderMap,
) -> Result<(crate::auth::Identity, tempfile::NamedTempFile, u64), Response> {
    let who = uploader(shared, ctx)?;
    let size = content_length(headers).ok_or_else(|| {
        refuse(
            StatusCode::LENGTH_REQUIRED,
            "send the package with its Content-Length",
        )
    })?;
    let (spool, limit) = shared
        .service
        .spool_file()
        .map_err(|e| refuse(status_of(&e), &e.to_string()))?;
    if size > limit {
        return Err(refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "package {:?} is {size} bytes; at most {limit} are accepted",
                query.file_name
            ),
        ));
    }
    if size == 0 {
        return Err(refuse(StatusCode::BAD_REQUEST, "the package is empty"));
    }
    // The package is spooled, then stored: twice its size, for a while.
    shared
        .service
        .admit(size.saturating_mul(2))
        .map_err(|e| refuse(status_of(&e), &e.to_string()))?;
    Ok((who, spool, size))
}

/// `POST /api/transfer?file_name=…`: a SEDA package, spooled then
/// imported whole or not at all.
pub async fn transfer(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<Ctx>,
    Query(query): Query<TransferQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (who, spool, size) = match admit_package(&shared, &ctx, &query, &headers) {
        Ok(admitted) => admitted,
        Err(refusal) => {
            drain(body).await;
            return refusal;
        }
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<axum::body::Bytes>(4);
    let writer =
        tokio::task::spawn_blocking(move || -> std::io::Result<tempfile::NamedTempFile> {
            let mut spool = spool;
            while let Some(chunk) = rx.blocking_recv() {
                spool.write_all(&chunk)?;
            }
            spool.flush()?;
            Ok(spool)
        });
    let mut stream = body.into_data_stream();
    let mut received = 0u64;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => {
                received += bytes.len() as u64;
                if tx.send(bytes).await.is_err() {
                    break;
                }
            }
            Err(e) => {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    &format!("the upload was interrupted after {received} bytes: {e}"),
                )
            }
        }
    }
    drop(tx);
    let spool = match writer.await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            let e = Error::from(e);
            return refuse(status_of(&e), &e.to_string());
        }
        Err(e) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    if received != size {
        return refuse(
            StatusCode::BAD_REQUEST,
            "the upload ended before its announced size",
        );
    }
    let auth = shared.auth.clone();
    let check = |agency: &mut String| -> crate::error::Result<()> {
        if who.role == Role::Dms && agency.is_empty() {
            *agency = who.agency.clone().unwrap_or_default();
        }
        auth.check_agency(&who, Action::Ingest, agency)
            .map_err(|s| Error::PermissionDenied(s.message().to_owned()))
    };
    let report = shared
        .service
        .import_sip(
            &who.actor(),
            SipSource::Package(spool.path().to_owned()),
            &check,
        )
        .await;
    drop(spool);
    match report {
        Ok(report) => {
            let outcome = &report.outcome;
            let status = if outcome.accepted {
                StatusCode::OK
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            let mut seals = report.seals.iter();
            (
                status,
                axum::Json(json!({
                    "accepted": outcome.accepted,
                    "code": outcome.code,
                    "message": outcome.message,
                    "message_identifier": outcome.message_identifier,
                    "replayed": report.replayed,
                    "archives": outcome.archives.iter().map(|a| json!({
                        "archive_id": a.archive_id,
                        "title": a.title,
                        "size": a.size,
                        "seal": seals.next().cloned().unwrap_or_default(),
                    })).collect::<Vec<_>>(),
                })),
            )
                .into_response()
        }
        Err(e) => refuse(status_of(&e), &e.to_string()),
    }
}
