//! `/v1/platform/roles`: global roles, listed in every organization as predefined roles
//! (read-only there) and assignable there like any role. Bodies as the organization routes'.

use axum::Json;
use axum::extract::{Path, State};
use orgiam_core::ids::RoleId;
use orgiam_core::page::Order;
use orgiam_store::{NewRole, RoleChanges};

use crate::api::roles::{ROLE_LIMIT, RoleCreate, RoleUpdate};
use crate::api::wire::{Deleted, List, RoleObject};
use crate::auth::{Platform, PlatformCatalogWrite};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Params};
use crate::state::AppState;

/// Lists the global roles, by id.
#[utoipa::path(get, path = "/v1/platform/roles", operation_id = "list-platform-roles", tag = "platform",
    params(("after" = Option<String>, Query, description = "the previous page's `next`"),
           ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "1 to 1000, default 1000"),
           ("order" = Option<String>, Query, description = "asc (default) or desc")),
    responses((status = 200, body = List<RoleObject>), (status = 400, body = ErrorBody)))]
pub async fn list(
    _auth: Platform<PlatformCatalogWrite>,
    State(state): State<AppState>,
    params: Params,
) -> ApiResult<Json<List<RoleObject>>> {
    let page = params.page(ROLE_LIMIT, Some(Order::Asc), RoleId::parse)?;
    let roles = state.store.list_global_roles(&page).await?;
    Ok(Json(List::of(
        roles,
        |r| r.id.as_str().to_owned(),
        RoleObject::from,
    )))
}

/// Defines a global role (its permissions: built-in or global ones of the organization level).
#[utoipa::path(post, path = "/v1/platform/roles", operation_id = "create-platform-role", tag = "platform", request_body = RoleCreate,
    responses((status = 200, body = RoleObject), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    auth: Platform<PlatformCatalogWrite>,
    State(state): State<AppState>,
    Body(body): Body<RoleCreate>,
) -> ApiResult<Json<RoleObject>> {
    let new = NewRole {
        name: body.role_name,
        description: body.description,
        permissions: body.permissions,
        metadata: None,
    };
    let (role, rev) = state.store.create_global_role(&auth.actor, new).await?;
    state.engine.note_platform(rev);
    Ok(Json(role.into()))
}

/// One global role.
#[utoipa::path(get, path = "/v1/platform/roles/{role_id}", operation_id = "retrieve-platform-role", tag = "platform",
    params(("role_id" = String, Path)),
    responses((status = 200, body = RoleObject), (status = 404, body = ErrorBody)))]
pub async fn retrieve(
    _auth: Platform<PlatformCatalogWrite>,
    State(state): State<AppState>,
    Path(role_id): Path<String>,
) -> ApiResult<Json<RoleObject>> {
    Ok(Json(state.store.get_global_role(&role_id).await?.into()))
}

/// Changes a global role; for the system roles `reader` and `member`, sets their app
/// permissions (the full `permissions` list, whose `api.*` part must stay what it is).
#[utoipa::path(post, path = "/v1/platform/roles/{role_id}", operation_id = "update-platform-role", tag = "platform",
    params(("role_id" = String, Path)), request_body = RoleUpdate,
    responses((status = 200, body = RoleObject), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    auth: Platform<PlatformCatalogWrite>,
    State(state): State<AppState>,
    Path(role_id): Path<String>,
    Body(body): Body<RoleUpdate>,
) -> ApiResult<Json<RoleObject>> {
    let changes = RoleChanges {
        name: body.role_name,
        description: body.description,
        permissions: body.permissions,
    };
    let (role, rev) = state
        .store
        .update_global_role(&auth.actor, &role_id, changes)
        .await?;
    state.engine.note_platform(rev);
    Ok(Json(role.into()))
}

/// Deletes a global role; 409 while any organization assigns it.
#[utoipa::path(delete, path = "/v1/platform/roles/{role_id}", operation_id = "delete-platform-role", tag = "platform",
    params(("role_id" = String, Path)),
    responses((status = 200, body = Deleted), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    auth: Platform<PlatformCatalogWrite>,
    State(state): State<AppState>,
    Path(role_id): Path<String>,
) -> ApiResult<Json<Deleted>> {
    let rev = state
        .store
        .delete_global_role(&auth.actor, &role_id)
        .await?;
    state.engine.note_platform(rev);
    Ok(Json(Deleted {
        object: "role.deleted",
        id: role_id,
        deleted: true,
    }))
}
