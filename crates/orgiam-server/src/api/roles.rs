//! `/v1/organization/roles`: organization roles (system roles are listed and read-only).

use axum::Json;
use axum::extract::{Path, State};
use orgiam_core::ids::RoleId;
use orgiam_core::page::{LimitBounds, Order};
use orgiam_store::{NewRole, RoleChanges};
use serde::Deserialize;
use utoipa::ToSchema;

use super::wire::{Deleted, List, RoleObject, Written};
use crate::auth::{Authorized, RolesRead, RolesWrite};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Params};
use crate::state::AppState;

/// `limit` of role lists: 1 to 1,000, default 1,000 (as the SDK documents).
pub const ROLE_LIMIT: LimitBounds = LimitBounds {
    min: 0,
    max: 1000,
    default: 1000,
};

/// Body of `roles.create`.
#[derive(Deserialize, ToSchema)]
pub struct RoleCreate {
    /// Unique (case-insensitively) among the organization's roles; not a system role's name.
    pub role_name: String,
    /// Permissions to grant: built-in ones and the organization's own.
    pub permissions: Vec<String>,
    /// Optional description (≤ 4,096 characters).
    #[serde(default)]
    pub description: Option<String>,
    /// Optional JSON object (≤ 16 KiB).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

/// Body of `roles.update`; absent fields are left unchanged.
#[derive(Deserialize, ToSchema)]
pub struct RoleUpdate {
    /// New name.
    #[serde(default)]
    pub role_name: Option<String>,
    /// New description; `null` clears it.
    #[serde(default, deserialize_with = "super::present")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// New permission set, replacing the old one.
    #[serde(default)]
    pub permissions: Option<Vec<String>>,
}

/// Lists the organization's roles: system roles first, then custom roles, by id.
#[utoipa::path(get, path = "/v1/organization/roles", operation_id = "list-roles", tag = "roles",
    params(("after" = Option<String>, Query, description = "the previous page's `next`"),
           ("limit" = Option<i64>, Query, minimum = 0, maximum = 1000, description = "0 to 1000, default 1000"),
           ("order" = Option<String>, Query, description = "asc (default) or desc")),
    responses((status = 200, body = List<RoleObject>), (status = 400, body = ErrorBody)))]
pub async fn list(
    auth: Authorized<RolesRead>,
    State(state): State<AppState>,
    params: Params,
) -> ApiResult<Json<List<RoleObject>>> {
    let page = params.page(ROLE_LIMIT, Some(Order::Asc), RoleId::parse)?;
    let roles = state.store.list_org_roles(auth.org(), &page).await?;
    Ok(Json(List::of(
        roles,
        |r| r.id.as_str().to_owned(),
        RoleObject::from,
    )))
}

/// Creates a custom organization role.
#[utoipa::path(post, path = "/v1/organization/roles", operation_id = "create-role", tag = "roles", request_body = RoleCreate,
    responses((status = 200, body = RoleObject), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    auth: Authorized<RolesWrite>,
    State(state): State<AppState>,
    Body(body): Body<RoleCreate>,
) -> ApiResult<Written<RoleObject>> {
    let new = NewRole {
        name: body.role_name,
        description: body.description,
        permissions: body.permissions,
        metadata: body.metadata,
    };
    let (role, rev) = state
        .store
        .create_org_role(&auth.author(), auth.org(), new)
        .await?;
    Ok(Written(role.into(), rev))
}

/// Retrieves a role.
#[utoipa::path(get, path = "/v1/organization/roles/{role_id}", operation_id = "retrieve-role", tag = "roles",
    params(("role_id" = String, Path)),
    responses((status = 200, body = RoleObject), (status = 404, body = ErrorBody)))]
pub async fn retrieve(
    auth: Authorized<RolesRead>,
    State(state): State<AppState>,
    Path(role_id): Path<String>,
) -> ApiResult<Json<RoleObject>> {
    Ok(Json(
        state.store.get_org_role(auth.org(), &role_id).await?.into(),
    ))
}

/// Updates a custom role.
#[utoipa::path(post, path = "/v1/organization/roles/{role_id}", operation_id = "update-role", tag = "roles",
    params(("role_id" = String, Path)), request_body = RoleUpdate,
    responses((status = 200, body = RoleObject), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn update(
    auth: Authorized<RolesWrite>,
    State(state): State<AppState>,
    Path(role_id): Path<String>,
    Body(body): Body<RoleUpdate>,
) -> ApiResult<Written<RoleObject>> {
    let changes = RoleChanges {
        name: body.role_name,
        description: body.description,
        permissions: body.permissions,
    };
    let (role, rev) = state
        .store
        .update_org_role(&auth.author(), auth.org(), &role_id, changes)
        .await?;
    Ok(Written(role.into(), rev))
}

/// Deletes a custom role and every assignment of it.
#[utoipa::path(delete, path = "/v1/organization/roles/{role_id}", operation_id = "delete-role", tag = "roles",
    params(("role_id" = String, Path)),
    responses((status = 200, body = Deleted), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    auth: Authorized<RolesWrite>,
    State(state): State<AppState>,
    Path(role_id): Path<String>,
) -> ApiResult<Written<Deleted>> {
    let rev = state
        .store
        .delete_org_role(&auth.author(), auth.org(), &role_id)
        .await?;
    Ok(Written(
        Deleted {
            object: "role.deleted",
            id: role_id,
            deleted: true,
        },
        rev,
    ))
}
