//! Errors on `/scim/v2`, in the SCIM error schema (RFC 7644 §3.12):
//! `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "400",
//! "scimType": "invalidFilter", "detail": "…"}` with `application/scim+json`.
//!
//! The status comes from the same table as the native API's ([`crate::error::status_of`]);
//! `scimType` is the error's code when it is one of SCIM's, `uniqueness` for a conflict.

use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use orgiam_core::{Error, ErrorKind};
use serde_json::json;

use crate::error::{public, status_of};

/// The SCIM error schema URN.
pub const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// The `scimType` values of RFC 7644 §3.12.
const SCIM_TYPES: &[&str] = &[
    "invalidFilter",
    "tooMany",
    "uniqueness",
    "mutability",
    "invalidSyntax",
    "invalidPath",
    "noTarget",
    "invalidValue",
    "invalidVers",
    "sensitive",
];

/// An invalid request with a SCIM `scimType` (kept as the error's code).
pub fn scim_error(scim_type: &'static str, param: &str, message: String) -> Error {
    Error::invalid_code(scim_type, param, message)
}

/// An error leaving a SCIM route.
#[derive(Debug)]
pub struct ScimError(pub Error);

impl From<Error> for ScimError {
    fn from(e: Error) -> Self {
        ScimError(e)
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let e = public(self.0);
        let status = status_of(e.kind);
        let scim_type = if SCIM_TYPES.contains(&e.code) {
            Some(e.code)
        } else if e.kind == ErrorKind::Conflict {
            Some("uniqueness")
        } else if e.kind == ErrorKind::InvalidRequest {
            Some(if e.code == "invalid_json" {
                "invalidSyntax"
            } else {
                "invalidValue"
            })
        } else {
            None
        };
        let mut body = json!({
            "schemas": [ERROR_URN],
            "status": status.as_u16().to_string(),
            "detail": e.message,
        });
        if let Some(t) = scim_type {
            body["scimType"] = json!(t);
        }
        let mut res = (status, axum::Json(body)).into_response();
        res.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static(super::SCIM_JSON),
        );
        if e.kind == ErrorKind::Unauthenticated {
            res.headers_mut()
                .insert("www-authenticate", HeaderValue::from_static("Bearer"));
        }
        if e.kind == ErrorKind::RateLimited {
            res.headers_mut()
                .insert("retry-after", HeaderValue::from_static("1"));
        }
        res
    }
}

/// Result of a SCIM handler.
pub type ScimResult<T> = Result<T, ScimError>;
