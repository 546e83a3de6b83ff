//! Error → HTTP response, in exactly one place.
//!
//! Every failure becomes OpenAI's shape `{"error": {"message", "type", "param", "code"}}` with
//! the status its kind implies. Deterministic client errors carry `x-should-retry: false` so
//! that SDKs do not retry them. Internal causes are logged here and never returned.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use orgiam_core::{Error, ErrorKind};
use serde::Serialize;
use utoipa::ToSchema;

/// An error leaving a native route.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

/// The body of every error response.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// OpenAI's error object.
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// What went wrong, naming the field and quoting the input.
    pub message: String,
    /// `invalid_request_error`, `authentication_error`, `permission_error`, `not_found_error`,
    /// `conflict_error`, `rate_limit_error` or `server_error`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The request parameter at fault, if any.
    pub param: Option<String>,
    /// A stable machine-readable code.
    pub code: Option<&'static str>,
}

/// The HTTP status for an error kind.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::InvalidRequest => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

fn type_of(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidRequest | ErrorKind::PayloadTooLarge => "invalid_request_error",
        ErrorKind::Unauthenticated => "authentication_error",
        ErrorKind::PermissionDenied => "permission_error",
        ErrorKind::NotFound => "not_found_error",
        ErrorKind::Conflict => "conflict_error",
        ErrorKind::RateLimited => "rate_limit_error",
        ErrorKind::Internal | ErrorKind::Unavailable => "server_error",
    }
}

/// Whether a client should retry: only for rate limits and server-side failures.
pub fn retryable(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::RateLimited | ErrorKind::Internal | ErrorKind::Unavailable
    )
}

/// The error as it should be shown to a client (internal causes replaced), logging them.
pub fn public(e: Error) -> Error {
    if e.kind == ErrorKind::Internal {
        tracing::error!(cause = %e.message, "internal error");
        Error {
            message: "the server failed to handle the request".into(),
            ..e
        }
    } else {
        e
    }
}

impl ErrorDetail {
    /// The error object for `e` (internal causes replaced, and logged).
    pub fn of(e: Error) -> ErrorDetail {
        let e = public(e);
        ErrorDetail {
            message: e.message,
            kind: type_of(e.kind),
            param: e.param,
            code: Some(e.code),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = public(self.0);
        let status = status_of(e.kind);
        let body = ErrorBody {
            error: ErrorDetail {
                message: e.message,
                kind: type_of(e.kind),
                param: e.param,
                code: Some(e.code),
            },
        };
        let mut res = (status, axum::Json(body)).into_response();
        let retry = if retryable(e.kind) { "true" } else { "false" };
        res.headers_mut()
            .insert("x-should-retry", HeaderValue::from_static(retry));
        if e.kind == ErrorKind::RateLimited {
            res.headers_mut()
                .insert("retry-after", HeaderValue::from_static("1"));
        }
        res
    }
}

/// Result of a native handler.
pub type ApiResult<T> = Result<T, ApiError>;
