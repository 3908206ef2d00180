//! Error kinds that decide the exit code and how a fatal error is printed.
//!
//! Commands return `anyhow::Error`; the two types below are markers found by
//! downcasting: [`Usage`] (exit 2) and [`Rpc`] (a gRPC status, printed as
//! `CODE: message`). Anything else is a plain failure (exit 1).

use std::fmt;
use std::process::ExitCode;

use serde::Serialize;

/// The command was asked something impossible: bad arguments, missing input
/// files, an unreadable key. Exit code 2.
#[derive(Debug)]
pub struct Usage(pub String);

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// Shorthand for returning a usage error.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    Usage(message.into()).into()
}

/// A gRPC status returned by minutierd. tonic's own Display is verbose
/// (details, metadata); operators want the canonical code and the message.
#[derive(Debug)]
pub struct Rpc(pub tonic::Status);

impl fmt::Display for Rpc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", code_name(self.0.code()), self.0.message())
    }
}

impl std::error::Error for Rpc {}

impl From<tonic::Status> for Rpc {
    fn from(status: tonic::Status) -> Self {
        Rpc(status)
    }
}

/// The canonical gRPC name of a status code, as in the gRPC specification
/// (tonic's Display prints a sentence instead).
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Converts a tonic result into one carrying an [`Rpc`] error.
pub fn rpc<T>(result: Result<tonic::Response<T>, tonic::Status>) -> anyhow::Result<T> {
    result
        .map(tonic::Response::into_inner)
        .map_err(|s| Rpc(s).into())
}

/// The short machine-readable kind of an error, for `--json` outputs.
pub fn kind(err: &anyhow::Error) -> &'static str {
    if err.downcast_ref::<Usage>().is_some() {
        "usage"
    } else if let Some(Rpc(status)) = err.downcast_ref::<Rpc>() {
        code_name(status.code())
    } else {
        "failed"
    }
}

/// Prints a fatal error (stderr; plus a JSON document on stdout with
/// `--json`, so scripts always get one) and picks the exit code.
pub fn report(err: &anyhow::Error, json: bool) -> ExitCode {
    // `{:#}` prints the context chain on one line: "while X: because Y".
    let message = format!("{err:#}");
    eprintln!("error: {message}");
    if json {
        #[derive(Serialize)]
        struct ErrorDoc<'a> {
            error: ErrorBody<'a>,
        }
        #[derive(Serialize)]
        struct ErrorBody<'a> {
            code: &'a str,
            message: &'a str,
        }
        // The code has its own field: keep the bare status message.
        let message = match err.downcast_ref::<Rpc>() {
            Some(Rpc(status)) => status.message().to_owned(),
            None => message,
        };
        crate::output::print_json(&ErrorDoc {
            error: ErrorBody {
                code: kind(err),
                message: &message,
            },
        });
    }
    exit_code(err)
}

/// 2 for usage errors, 1 for everything else.
pub fn exit_code(err: &anyhow::Error) -> ExitCode {
    if err.downcast_ref::<Usage>().is_some() {
        ExitCode::from(2)
    } else {
        ExitCode::from(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_print_as_code_and_message() {
        let err: anyhow::Error = Rpc(tonic::Status::not_found("no archive x")).into();
        assert_eq!(format!("{err:#}"), "NOT_FOUND: no archive x");
        assert_eq!(kind(&err), "NOT_FOUND");
        assert_eq!(exit_code(&err), ExitCode::from(1));
        assert_eq!(exit_code(&usage("bad")), ExitCode::from(2));
    }
}
