//! HTTP plumbing shared by the handlers: refusals as JSON, responses,
//! bounded multipart fields, draining what a refused client still sends.

use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::Multipart;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::Error;

/// Largest text field.
const MAX_TEXT: u64 = 4 << 10;
/// Most bytes of fields this endpoint does not know, skipped, per request.
const MAX_SKIPPED: u64 = 1 << 20;

/// A refused request: a status and a JSON body saying what to do.
#[derive(Debug)]
pub(super) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub(super) fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub(super) fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
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

pub(super) fn json_response(status: StatusCode, value: &serde_json::Value) -> Response {
    let body = serde_json::to_vec(value).expect("JSON values serialise");
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body,
    )
        .into_response()
}

pub(super) fn ok_json(value: serde_json::Value) -> Response {
    json_response(StatusCode::OK, &value)
}

pub(super) fn multipart_error(e: MultipartError) -> ApiError {
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

pub(super) fn multipart(m: Result<Multipart, MultipartRejection>) -> Result<Multipart, ApiError> {
    m.map_err(|e| {
        ApiError::bad_request(
            "malformed_multipart",
            format!("send a multipart/form-data body: {}", e.body_text()),
        )
    })
}

pub(super) use crate::https::drain;

/// The same, for a multipart body partly read.
pub(super) async fn drain_multipart(body: &mut Multipart) {
    let _ = tokio::time::timeout(crate::https::DRAIN_TIME, async {
        let mut left = crate::https::MAX_DRAIN;
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
pub(super) async fn read_field(mut field: Field<'_>, limit: u64) -> Result<Vec<u8>, ApiError> {
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

pub(super) async fn read_text(field: Field<'_>) -> Result<String, ApiError> {
    let name = field.name().unwrap_or_default().to_owned();
    String::from_utf8(read_field(field, MAX_TEXT).await?)
        .map_err(|_| ApiError::bad_request("invalid_field", format!("field {name} is not UTF-8")))
}

/// Reads and drops a field this endpoint does not use.
pub(super) async fn skip(mut field: Field<'_>, skipped: &mut u64) -> Result<(), ApiError> {
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
