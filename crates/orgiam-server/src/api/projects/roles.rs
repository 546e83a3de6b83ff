//! Project roles: `/v1/projects/{project_id}/roles` (the system project roles are listed first
//! and read-only; custom roles hold only `api.project` permissions).

use axum::Json;
use axum::extract::{Path, State};
use orgiam_core::ids::RoleId;
use orgiam_core::page::Order;
use orgiam_store::{NewRole, RoleChanges};

use crate::api::roles::{ROLE_LIMIT, RoleCreate, RoleUpdate};
use crate::api::wire::{Deleted, List, RoleObject, Written};
use crate::auth::{Authorized, ProjectsRead, ProjectsWrite};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Params};
use crate::state::AppState;

/// Lists a project's roles: the system project roles first, then the project's own, by id.
#[utoipa::path(get, path = "/v1/projects/{project_id}/roles", operation_id = "list-project-roles", tag = "projects",
    params(("project_id" = String, Path),
           ("after" = Option<String>, Query, description = "the previous page's `next`"),
           ("limit" = Option<i64>, Query, minimum = 0, maximum = 1000, description = "0 to 1000, default 1000"),
           ("order" = Option<String>, Query, description = "asc (default) or desc")),
    responses((status = 200, body = List<RoleObject>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list(
    auth: Authorized<ProjectsRead>,
    State(state): State<AppState>,
    Path(project_id): Path<String>,
    params: Params,
) -> ApiResult<Json<List<RoleObject>>> {
    let page = params.page(ROLE_LIMIT, Some(Order::Asc), RoleId::parse)?;
    let roles = state
        .store
        .list_project_roles(auth.org(), &project_id, &page)
        .await?;
    Ok(Json(List::of(
        roles,
        |r| r.id.as_str().to_owned(),
        RoleObject::from,
    )))
}

/// Creates a custom role of a project.
#[utoipa::path(post, path = "/v1/projects/{project_id}/roles", operation_id = "create-project-role", tag = "projects",
    params(("project_id" = String, Path)), request_body = RoleCreate,
    responses((status = 200, body = RoleObject), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    auth: Authorized<ProjectsWrite>,
    State(state): State<AppState>,
    Path(project_id): Path<String>,
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
        .create_project_role(&auth.author(), auth.org(), &project_id, new)
        .await?;
    Ok(Written(role.into(), rev))
}

/// Retrieves a role of a project (a system project role or the project's own).
#[utoipa::path(get, path = "/v1/projects/{project_id}/roles/{role_id}", operation_id = "retrieve-project-role", tag = "projects",
    params(("project_id" = String, Path), ("role_id" = String, Path)),
    responses((status = 200, body = RoleObject), (status = 404, body = ErrorBody)))]
pub async fn retrieve(
    auth: Authorized<ProjectsRead>,
    State(state): State<AppState>,
    Path((project_id, role_id)): Path<(String, String)>,
) -> ApiResult<Json<RoleObject>> {
    Ok(Json(
        state
            .store
            .get_project_role(auth.org(), &project_id, &role_id)
            .await?
            .into(),
    ))
}

/// Updates a custom role of a project.
#[utoipa::path(post, path = "/v1/projects/{project_id}/roles/{role_id}", operation_id = "update-project-role", tag = "projects",
    params(("project_id" = String, Path), ("role_id" = String, Path)), request_body = RoleUpdate,
    responses((status = 200, body = RoleObject), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update(
    auth: Authorized<ProjectsWrite>,
    State(state): State<AppState>,
    Path((project_id, role_id)): Path<(String, String)>,
    Body(body): Body<RoleUpdate>,
) -> ApiResult<Written<RoleObject>> {
    let changes = RoleChanges {
        name: body.role_name,
        description: body.description,
        permissions: body.permissions,
    };
    let (role, rev) = state
        .store
        .update_project_role(&auth.author(), auth.org(), &project_id, &role_id, changes)
        .await?;
    Ok(Written(role.into(), rev))
}

/// Deletes a custom role of a project and every assignment of it.
#[utoipa::path(delete, path = "/v1/projects/{project_id}/roles/{role_id}", operation_id = "delete-project-role", tag = "projects",
    params(("project_id" = String, Path), ("role_id" = String, Path)),
    responses((status = 200, body = Deleted), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn delete(
    auth: Authorized<ProjectsWrite>,
    State(state): State<AppState>,
    Path((project_id, role_id)): Path<(String, String)>,
) -> ApiResult<Written<Deleted>> {
    let rev = state
        .store
        .delete_project_role(&auth.author(), auth.org(), &project_id, &role_id)
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
