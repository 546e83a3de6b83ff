//! Aitronos (Freddy) role API under `/compat/aitronos`:
//! `GET /v1/organizations/{org_id}/roles?include_global=true|false` answers a JSON array of
//! roles. Global roles are orgiam's system organization roles (`is_base_role` true,
//! `organization_id` null); the organization's custom roles carry its id. The key comes from
//! `X-API-Key`, or from `Authorization: Bearer` when `X-API-Key` is absent or empty (as
//! Aitronos' backend accepts, and as its SDK sends when given a token); the route needs
//! `api.roles.read`. Errors use Aitronos's envelope
//! `{success: false, error: {code, message, system_message, type, status, details, trace_id,
//! timestamp}}`.

use std::collections::BTreeMap;

use axum::extract::rejection::PathRejection;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use orgiam_core::model::Role;
use orgiam_core::validate::quote;
use orgiam_core::{Error, ErrorKind, now_unix};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::{Refusal, admit, all_org_roles, api_key, bearer, rfc3339};
use crate::auth::{Permission, RolesRead};
use crate::state::AppState;

/// The routes, relative to `/compat/aitronos`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/organizations/{org_id}/roles", get(list_roles))
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
}

/// A role as Aitronos lists it.
#[derive(Serialize, ToSchema)]
pub struct AitronosRole {
    /// `role_…`
    pub id: String,
    /// The role's name.
    pub name: String,
    /// The description, or null.
    pub description: Option<String>,
    /// The permissions the role grants, each mapped to `true`.
    #[schema(value_type = Object)]
    pub permissions: BTreeMap<String, bool>,
    /// A global (system) role, shared by every organization.
    pub is_base_role: bool,
    /// A role of this organization.
    pub is_custom: bool,
    /// The organization of a custom role; null for global roles.
    pub organization_id: Option<String>,
}

impl From<Role> for AitronosRole {
    fn from(r: Role) -> Self {
        let system = r.is_system();
        AitronosRole {
            id: r.id.into_string(),
            name: r.name,
            description: r.description,
            permissions: r.permissions.into_iter().map(|p| (p, true)).collect(),
            is_base_role: system,
            is_custom: !system,
            organization_id: r.org_id.map(|o| o.into_string()),
        }
    }
}

/// An Aitronos error, rendered in its envelope with a fresh trace id and timestamp.
#[derive(Debug)]
pub struct AitronosError {
    status: StatusCode,
    code: &'static str,
    kind: &'static str,
    message: String,
    system_message: String,
    details: Value,
}

/// The body of an Aitronos error.
#[derive(Serialize, ToSchema)]
pub struct AitronosErrorBody {
    /// Always false.
    pub success: bool,
    /// The error.
    pub error: AitronosErrorDetail,
}

/// Aitronos's error object.
#[derive(Serialize, ToSchema)]
pub struct AitronosErrorDetail {
    /// `AUTHENTICATION_REQUIRED`, `ORGANIZATION_ACCESS_DENIED`, `INSUFFICIENT_PERMISSIONS`,
    /// `VALIDATION_ERROR`, `RESOURCE_NOT_FOUND`, `METHOD_NOT_ALLOWED`, `INTERNAL_ERROR`, …
    pub code: &'static str,
    /// For people.
    pub message: String,
    /// For developers: what exactly was refused.
    pub system_message: String,
    /// `authentication_error`, `authorization_error`, `validation_error`,
    /// `not_found_error` or `server_error`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// Structured context (`organization_id`, `field`, `required_permission`, …).
    #[schema(value_type = Object)]
    pub details: Value,
    /// Identifies this failure in the server's log.
    pub trace_id: String,
    /// RFC 3339, UTC.
    pub timestamp: String,
}

impl AitronosError {
    fn new(
        status: StatusCode,
        code: &'static str,
        kind: &'static str,
        message: impl Into<String>,
        system_message: impl Into<String>,
        details: Value,
    ) -> Self {
        AitronosError {
            status,
            code,
            kind,
            message: message.into(),
            system_message: system_message.into(),
            details,
        }
    }

    fn unauthenticated(system_message: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "AUTHENTICATION_REQUIRED",
            "authentication_error",
            "Authentication is required to access this resource.",
            system_message,
            json!({}),
        )
    }

    fn validation(field: &str, value: &str, system_message: String) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "validation_error",
            "The request contains an invalid value.",
            system_message,
            json!({ "field": field, "value": quote(value) }),
        )
    }
}

impl From<Error> for AitronosError {
    fn from(e: Error) -> Self {
        let e = crate::error::public(e);
        let (status, code, kind, message) = match e.kind {
            ErrorKind::InvalidRequest => (
                StatusCode::BAD_REQUEST,
                "VALIDATION_ERROR",
                "validation_error",
                "The request contains an invalid value.",
            ),
            ErrorKind::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                "AUTHENTICATION_REQUIRED",
                "authentication_error",
                "Authentication is required to access this resource.",
            ),
            ErrorKind::PermissionDenied => (
                StatusCode::FORBIDDEN,
                "INSUFFICIENT_PERMISSIONS",
                "authorization_error",
                "You do not have permission to perform this action.",
            ),
            ErrorKind::NotFound => (
                StatusCode::NOT_FOUND,
                "RESOURCE_NOT_FOUND",
                "not_found_error",
                "The requested resource was not found.",
            ),
            ErrorKind::Conflict => (
                StatusCode::CONFLICT,
                "CONFLICT",
                "conflict_error",
                "The request conflicts with the current state.",
            ),
            ErrorKind::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                "validation_error",
                "The request is too large.",
            ),
            ErrorKind::RateLimited => (
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMIT_EXCEEDED",
                "rate_limit_error",
                "Too many requests; try again shortly.",
            ),
            ErrorKind::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL_ERROR",
                "server_error",
                "An unexpected error occurred.",
            ),
            ErrorKind::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVICE_UNAVAILABLE",
                "server_error",
                "The service is temporarily unavailable.",
            ),
        };
        let details = match &e.param {
            Some(p) => json!({ "field": p }),
            None => json!({}),
        };
        AitronosError::new(status, code, kind, message, e.message, details)
    }
}

impl From<Refusal> for AitronosError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::MissingKey => AitronosError::unauthenticated(
                "missing API key: send 'X-API-Key: <key>' or 'Authorization: Bearer <key>'",
            ),
            Refusal::InvalidKey => {
                AitronosError::unauthenticated("invalid, expired or revoked API key")
            }
            // Filled in by the handler, which knows the path's organization.
            Refusal::OtherOrganization => AitronosError::new(
                StatusCode::FORBIDDEN,
                "ORGANIZATION_ACCESS_DENIED",
                "authorization_error",
                "You do not have access to this organization.",
                "the API key does not belong to the organization in the path",
                json!({}),
            ),
            Refusal::MissingPermission(p) => AitronosError::new(
                StatusCode::FORBIDDEN,
                "INSUFFICIENT_PERMISSIONS",
                "authorization_error",
                "You do not have permission to perform this action.",
                format!("this key lacks the permission '{p}'"),
                json!({ "required_permission": p }),
            ),
            Refusal::Failed(e) => e.into(),
        }
    }
}

impl IntoResponse for AitronosError {
    fn into_response(self) -> Response {
        let trace_id = format!("trace_{}", ulid::Ulid::new());
        tracing::debug!(%trace_id, code = self.code, status = self.status.as_u16(), "aitronos dialect error");
        let body = AitronosErrorBody {
            success: false,
            error: AitronosErrorDetail {
                code: self.code,
                message: self.message,
                system_message: self.system_message,
                kind: self.kind,
                status: self.status.as_u16(),
                details: self.details,
                trace_id,
                timestamp: rfc3339(now_unix()),
            },
        };
        (self.status, Json(body)).into_response()
    }
}

/// `include_global` from the query string: absent means true; `true`/`false` (also `1`/`0`,
/// any case); anything else, or the parameter given twice, is a validation error.
fn include_global(query: Option<&str>) -> Result<bool, AitronosError> {
    let mut found: Option<String> = None;
    for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if k == "include_global" {
            if found.is_some() {
                return Err(AitronosError::validation(
                    "include_global",
                    &v,
                    "include_global is given more than once".into(),
                ));
            }
            found = Some(v.into_owned());
        }
    }
    let Some(v) = found else {
        return Ok(true);
    };
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(AitronosError::validation(
            "include_global",
            &v,
            format!(
                "include_global must be 'true' or 'false', not '{}'",
                quote(&v)
            ),
        )),
    }
}

/// Lists the organization's roles: the global (system) roles unless `include_global=false`,
/// then the organization's custom roles, each group in creation order.
#[utoipa::path(get, path = "/compat/aitronos/v1/organizations/{org_id}/roles", operation_id = "aitronos-list-roles", tag = "dialect: aitronos",
    params(("org_id" = String, Path, description = "the key's organization"),
           ("include_global" = Option<bool>, Query, description = "include the global (system) roles; default true")),
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, body = Vec<AitronosRole>),
              (status = 400, body = AitronosErrorBody, description = "`VALIDATION_ERROR`: bad `include_global`"),
              (status = 401, body = AitronosErrorBody, description = "`AUTHENTICATION_REQUIRED`"),
              (status = 403, body = AitronosErrorBody,
               description = "`ORGANIZATION_ACCESS_DENIED` (another organization) or `INSUFFICIENT_PERMISSIONS`")))]
pub async fn list_roles(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<AitronosRole>>, AitronosError> {
    let Path(org_id) = path.map_err(|e| {
        AitronosError::validation("org_id", "", format!("invalid path: {}", e.body_text()))
    })?;
    let secret = api_key(&headers).or_else(|| bearer(&headers));
    let (actor, _) = admit(&state, secret, &org_id, RolesRead::NAME)
        .await
        .map_err(|r| {
            let denied = matches!(r, Refusal::OtherOrganization);
            let mut e = AitronosError::from(r);
            if denied {
                e.details = json!({ "organization_id": quote(&org_id) });
            }
            e
        })?;
    let include_global = include_global(query.as_deref())?;
    let roles = all_org_roles(&state.store, &actor.org_id).await?;
    Ok(Json(
        roles
            .into_iter()
            .filter(|r| include_global || !r.is_system())
            .map(AitronosRole::from)
            .collect(),
    ))
}

async fn unknown_route(method: Method, OriginalUri(uri): OriginalUri) -> AitronosError {
    AitronosError::new(
        StatusCode::NOT_FOUND,
        "RESOURCE_NOT_FOUND",
        "not_found_error",
        "The requested resource was not found.",
        format!("no route {method} {}", quote(uri.path())),
        json!({}),
    )
}

async fn method_not_allowed(method: Method, OriginalUri(uri): OriginalUri) -> AitronosError {
    AitronosError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        "validation_error",
        "This method is not allowed here.",
        format!("{method} is not allowed on {}", quote(uri.path())),
        json!({}),
    )
}
