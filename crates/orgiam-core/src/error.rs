//! The one error type every layer returns.
//!
//! An [`Error`] carries a [`ErrorKind`] (which becomes the HTTP status in exactly one place, the
//! server's `IntoResponse`), a stable machine-readable `code`, a lowercase human message that
//! names the field and quotes the input, and optionally the request parameter it is about.
//! Internal causes (database errors, I/O) are kept out of `message` and only logged.

use std::fmt;

/// What went wrong, at the level a client can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed or names something invalid (400).
    InvalidRequest,
    /// No credential, or one that is unknown, revoked or expired (401).
    Unauthenticated,
    /// The credential is valid but lacks the permission (403).
    PermissionDenied,
    /// The object does not exist in the caller's organization (404).
    NotFound,
    /// The change conflicts with the current state (409).
    Conflict,
    /// The body is larger than allowed (413).
    PayloadTooLarge,
    /// Too many requests for this key (429).
    RateLimited,
    /// Anything the client did not cause (500); the cause is logged, never returned.
    Internal,
    /// The server is not ready to serve (503).
    Unavailable,
}

/// An error with a stable code, a message for humans and, where it applies, the parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The class of error; decides the HTTP status.
    pub kind: ErrorKind,
    /// A stable, machine-readable code such as `role_name_taken`.
    pub code: &'static str,
    /// A lowercase message naming the field and quoting the input.
    pub message: String,
    /// The request parameter the error is about (`name`, `limit`, `checks[3].permission`).
    pub param: Option<String>,
}

/// Shorthand for results in orgiam.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    fn new(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            code,
            message: message.into(),
            param: None,
        }
    }

    /// Invalid input in the named parameter.
    pub fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidRequest, "invalid_request", message).with_param(param)
    }

    /// Invalid input with a specific code.
    pub fn invalid_code(
        code: &'static str,
        param: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(ErrorKind::InvalidRequest, code, message).with_param(param)
    }

    /// Missing or bad credentials.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthenticated, "invalid_api_key", message)
    }

    /// The acting principal lacks `permission`.
    pub fn missing_permission(permission: &str) -> Self {
        Self::new(
            ErrorKind::PermissionDenied,
            "permission_denied",
            format!("this key lacks the permission '{permission}'"),
        )
    }

    /// Refused for a reason other than a missing permission.
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::PermissionDenied, code, message)
    }

    /// `what` with `id` does not exist here (or belongs to another organization).
    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(
            ErrorKind::NotFound,
            "not_found",
            format!("no {what} with id '{id}'"),
        )
    }

    /// A conflict with the current state.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, code, message)
    }

    /// The body exceeds `limit` bytes.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            ErrorKind::PayloadTooLarge,
            "payload_too_large",
            format!("the request body exceeds the limit of {limit} bytes"),
        )
    }

    /// The key has used up its rate.
    pub fn rate_limited() -> Self {
        Self::new(
            ErrorKind::RateLimited,
            "rate_limit_exceeded",
            "too many requests for this key",
        )
    }

    /// Not ready (for example, the database is unreachable).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, "unavailable", message)
    }

    /// An internal failure; `cause` is for logs only and never reaches the client.
    pub fn internal(cause: impl fmt::Display) -> Self {
        Self::new(ErrorKind::Internal, "internal_error", cause.to_string())
    }

    /// Sets the parameter the error is about.
    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// Prefixes the parameter with a path, e.g. `checks[3]` + `permission`.
    pub fn within(mut self, prefix: &str) -> Self {
        self.param = Some(match self.param.take() {
            Some(p) => format!("{prefix}.{p}"),
            None => prefix.to_owned(),
        });
        self.message = format!("{prefix}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for Error {}
