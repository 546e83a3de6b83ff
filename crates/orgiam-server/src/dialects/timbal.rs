//! Timbal's IAM role API under `/compat/timbal`: `GET /orgs/{org_id}/iam/roles` lists the
//! organization's roles as `RolePreview`s (system roles first, then custom roles
//! alphabetically by name) and `GET /orgs/{org_id}/iam/roles/{role_id}` returns one role with
//! its full grant set. The key comes from `Authorization: Bearer`; both routes need
//! `api.roles.read`. Errors are `{"code", "message"}` with the status.

use axum::extract::rejection::PathRejection;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use orgiam_core::model::Role;
use orgiam_core::validate::quote;
use orgiam_core::{Error, ErrorKind};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Refusal, admit, all_org_roles, bearer, rfc3339};
use crate::auth::{Permission, RolesRead};
use crate::state::AppState;

/// The routes, relative to `/compat/timbal`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/orgs/{org_id}/iam/roles", get(list_roles))
        .route("/orgs/{org_id}/iam/roles/{role_id}", get(get_role))
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
}

/// A role as Timbal lists it.
#[derive(Serialize, ToSchema)]
pub struct RolePreview {
    /// `role_…`
    pub id: String,
    /// The role's name.
    pub name: String,
    /// The description, or null.
    pub description: Option<String>,
    /// `system` (predefined, shared by every organization) or `custom`.
    pub source: &'static str,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// RFC 3339, UTC.
    pub updated_at: String,
}

/// The list answer.
#[derive(Serialize, ToSchema)]
pub struct RoleList {
    /// System roles first, then custom roles alphabetically by name.
    pub roles: Vec<RolePreview>,
}

/// One role with its full grant set.
#[derive(Serialize, ToSchema)]
pub struct RoleDetail {
    /// `role_…`
    pub id: String,
    /// The role's name.
    pub name: String,
    /// The description, or null.
    pub description: Option<String>,
    /// `system` or `custom`.
    pub source: &'static str,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// RFC 3339, UTC.
    pub updated_at: String,
    /// Every permission the role grants (built-in `api.*` ones and the organization's own),
    /// sorted.
    pub permissions: Vec<String>,
}

impl From<&Role> for RolePreview {
    fn from(r: &Role) -> Self {
        RolePreview {
            id: r.id.as_str().to_owned(),
            name: r.name.clone(),
            description: r.description.clone(),
            source: if r.is_system() { "system" } else { "custom" },
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(r.updated_at),
        }
    }
}

impl From<Role> for RoleDetail {
    fn from(r: Role) -> Self {
        let p = RolePreview::from(&r);
        RoleDetail {
            id: p.id,
            name: p.name,
            description: p.description,
            source: p.source,
            created_at: p.created_at,
            updated_at: p.updated_at,
            permissions: r.permissions,
        }
    }
}

/// A Timbal error: `{"code", "message"}` with the status.
#[derive(Debug)]
pub struct TimbalError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

/// The body of a Timbal error.
#[derive(Serialize, ToSchema)]
pub struct TimbalErrorBody {
    /// `unauthorized`, `forbidden`, `not_found`, `bad_request`, `method_not_allowed` or
    /// `internal_error`.
    pub code: &'static str,
    /// What went wrong.
    pub message: String,
}

impl TimbalError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        TimbalError {
            status,
            code,
            message: message.into(),
        }
    }
}

impl From<Error> for TimbalError {
    fn from(e: Error) -> Self {
        let e = crate::error::public(e);
        let (status, code) = match e.kind {
            ErrorKind::InvalidRequest => (StatusCode::BAD_REQUEST, "bad_request"),
            ErrorKind::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ErrorKind::PermissionDenied => (StatusCode::FORBIDDEN, "forbidden"),
            ErrorKind::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ErrorKind::Conflict => (StatusCode::CONFLICT, "conflict"),
            ErrorKind::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ErrorKind::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ErrorKind::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
            ErrorKind::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        };
        TimbalError::new(status, code, e.message)
    }
}

impl From<Refusal> for TimbalError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::MissingKey => TimbalError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing API key: send 'Authorization: Bearer <key>'",
            ),
            Refusal::InvalidKey => TimbalError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "invalid, expired or revoked API key",
            ),
            Refusal::OtherOrganization => TimbalError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "this key does not belong to the organization in the path",
            ),
            Refusal::MissingPermission(p) => TimbalError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("this key lacks the permission '{p}'"),
            ),
            Refusal::Failed(e) => e.into(),
        }
    }
}

impl IntoResponse for TimbalError {
    fn into_response(self) -> Response {
        let mut res = (
            self.status,
            Json(TimbalErrorBody {
                code: self.code,
                message: self.message,
            }),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        res
    }
}

fn bad_path(e: &PathRejection) -> TimbalError {
    TimbalError::new(
        StatusCode::BAD_REQUEST,
        "bad_request",
        format!("invalid path: {}", quote(&e.body_text())),
    )
}

/// Lists the organization's roles: system roles first, then custom roles alphabetically by
/// name (case-insensitively).
#[utoipa::path(get, path = "/compat/timbal/orgs/{org_id}/iam/roles", operation_id = "timbal-list-roles", tag = "dialect: timbal",
    params(("org_id" = String, Path, description = "the key's organization")),
    security(("bearer" = [])),
    responses((status = 200, body = RoleList),
              (status = 401, body = TimbalErrorBody),
              (status = 403, body = TimbalErrorBody, description = "another organization, or no `api.roles.read`")))]
pub async fn list_roles(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<RoleList>, TimbalError> {
    let Path(org_id) = path.map_err(|e| bad_path(&e))?;
    let (actor, _) = admit(&state, bearer(&headers), &org_id, RolesRead::NAME).await?;
    let roles = all_org_roles(&state.store, &actor.org_id).await?;
    let (mut system, mut custom): (Vec<&Role>, Vec<&Role>) =
        roles.iter().partition(|r| r.is_system());
    system.sort_by(|a, b| a.id.cmp(&b.id));
    custom.sort_by_cached_key(|r| (r.name.to_lowercase(), r.name.clone(), r.id.clone()));
    Ok(Json(RoleList {
        roles: system
            .into_iter()
            .chain(custom)
            .map(RolePreview::from)
            .collect(),
    }))
}

/// One role (a system role or the organization's own) with every permission it grants.
#[utoipa::path(get, path = "/compat/timbal/orgs/{org_id}/iam/roles/{role_id}", operation_id = "timbal-get-role", tag = "dialect: timbal",
    params(("org_id" = String, Path, description = "the key's organization"),
           ("role_id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = RoleDetail),
              (status = 401, body = TimbalErrorBody),
              (status = 403, body = TimbalErrorBody, description = "another organization, or no `api.roles.read`"),
              (status = 404, body = TimbalErrorBody)))]
pub async fn get_role(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<RoleDetail>, TimbalError> {
    let Path((org_id, role_id)) = path.map_err(|e| bad_path(&e))?;
    let (actor, _) = admit(&state, bearer(&headers), &org_id, RolesRead::NAME).await?;
    let role = state.store.get_org_role(&actor.org_id, &role_id).await?;
    Ok(Json(role.into()))
}

async fn unknown_route(method: Method, OriginalUri(uri): OriginalUri) -> TimbalError {
    TimbalError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no route {method} {}", quote(uri.path())),
    )
}

async fn method_not_allowed(method: Method, OriginalUri(uri): OriginalUri) -> TimbalError {
    TimbalError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on {}", quote(uri.path())),
    )
}
