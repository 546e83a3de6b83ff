//! `/v1/platform/permissions`: the global permissions, in every organization's catalog (marked
//! `platform: true`), usable in any organization's roles and held by every owner and admin.
//! Each change moves the platform revision, which every process's snapshots follow.

use axum::Json;
use axum::extract::{Path, State};
use orgiam_core::validate;

use crate::api::permissions::{LIMIT, PermissionCreate, PermissionObject};
use crate::api::wire::{Deleted, List};
use crate::auth::{Platform, PlatformCatalogWrite};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Params};
use crate::state::AppState;

/// Lists the global permissions, by name.
#[utoipa::path(get, path = "/v1/platform/permissions", operation_id = "list-platform-permissions", tag = "platform",
    params(("after" = Option<String>, Query, description = "the previous page's `next`"),
           ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "1 to 1000, default 100")),
    responses((status = 200, body = List<PermissionObject>), (status = 400, body = ErrorBody)))]
pub async fn list(
    _auth: Platform<PlatformCatalogWrite>,
    State(state): State<AppState>,
    params: Params,
) -> ApiResult<Json<List<PermissionObject>>> {
    let page = params.page(LIMIT, None, |s| validate::permission_name("after", s).ok())?;
    let perms = state.store.list_global_permissions(&page).await?;
    Ok(Json(List::of(
        perms,
        |p| p.name.clone(),
        PermissionObject::from,
    )))
}

/// Defines a global permission (409 if any catalog has the name).
#[utoipa::path(post, path = "/v1/platform/permissions", operation_id = "create-platform-permission", tag = "platform", request_body = PermissionCreate,
    responses((status = 200, body = PermissionObject), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    auth: Platform<PlatformCatalogWrite>,
    State(state): State<AppState>,
    Body(body): Body<PermissionCreate>,
) -> ApiResult<Json<PermissionObject>> {
    let (p, rev) = state
        .store
        .create_global_permission(
            &auth.actor,
            &body.name,
            body.description.as_deref(),
            body.resource_type.as_deref(),
        )
        .await?;
    state.engine.note_platform(rev);
    Ok(Json(p.into()))
}

/// Deletes a global permission; 409 while any role of any organization holds it.
#[utoipa::path(delete, path = "/v1/platform/permissions/{permission}", operation_id = "delete-platform-permission", tag = "platform",
    params(("permission" = String, Path)),
    responses((status = 200, body = Deleted), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    auth: Platform<PlatformCatalogWrite>,
    State(state): State<AppState>,
    Path(permission): Path<String>,
) -> ApiResult<Json<Deleted>> {
    let rev = state
        .store
        .delete_global_permission(&auth.actor, &permission)
        .await?;
    state.engine.note_platform(rev);
    Ok(Json(Deleted {
        object: "permission.deleted",
        id: permission,
        deleted: true,
    }))
}
