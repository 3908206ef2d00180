//! The handlers, one per route: they translate between Pastell's calls
//! and [`crate::archive::ArchiveService`]; imports go through
//! `import_sip`.

use crate::https::percent_encode;
use std::path::Path;
use std::sync::Arc;

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Extension, Multipart, State};
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::auth::Account;
use super::chunks::{ChunkFields, Progress};
use super::http::{
    drain_multipart, multipart, multipart_error, ok_json, read_field, read_text, skip, ApiError,
};
use super::server::Shared;
use super::{replies, ROLE};
use crate::archive::{ImportReport, SipSource, TransferOutcome};
use crate::auth::Action;
use crate::error::Error;

/// Largest manifest (`seda_message`), held in memory.
const MAX_MANIFEST: u64 = 64 << 20;

pub(super) async fn ping() -> Response {
    ok_json(json!("minutier: As@lae-compatible web services reachable"))
}

pub(super) async fn versions() -> Response {
    ok_json(json!({
        "application": "minutier",
        "denomination": "Minutier (As@lae-compatible REST endpoint)",
        "version": env!("CARGO_PKG_VERSION"),
        "seda": ["2.1", "2.2", "2.3"],
    }))
}

pub(super) async fn unknown_route() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_route",
        "no such route: see docs/pastell.md for the routes of this endpoint",
    )
}

pub(super) async fn wrong_method() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take this method: see docs/pastell.md",
    )
}

/// `POST /sedaMessages`.
pub(super) async fn seda_messages(
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
pub(super) async fn chunk_files(
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
        percent_encode(&o.transferring_agency),
        percent_encode(&o.message_identifier)
    )
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
pub(super) async fn seda_message(
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
        assert_eq!(percent_encode("a b/é"), "a%20b%2F%C3%A9");
    }
}
