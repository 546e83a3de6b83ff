//! Project groups (`/v1/organization/projects/{project_id}/groups`) and their project role
//! grants (`/v1/projects/{project_id}/groups/{group_id}/roles`).

use axum::Json;
use axum::extract::{Path, State};
use orgiam_core::Error;
use orgiam_core::ids::{GroupId, RoleId};
use orgiam_core::page::{LimitBounds, Order};
use orgiam_core::validate::quote;
use orgiam_store::{GroupSummary, ProjectGroup, RoleGrant};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::roles::ROLE_LIMIT;
use crate::api::users::UserRoleCreate;
use crate::api::wire::{AssignedRole, AssignmentDeleted, List, RoleObject, Written};
use crate::auth::{Authorized, ProjectsRead, ProjectsWrite};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Params};
use crate::state::AppState;

/// `limit` of the project group list: 1 to 1,000, default 20 (the SDK documents the default
/// only).
const PROJECT_GROUP_LIMIT: LimitBounds = LimitBounds {
    min: 0,
    max: 1000,
    default: 20,
};

/// A group's access to a project (`object: "project.group"`; no `id`, as in the SDK).
#[derive(Serialize, ToSchema)]
pub struct ProjectGroupObject {
    /// Always `project.group`.
    pub object: &'static str,
    /// The project.
    pub project_id: String,
    /// `group_…`
    pub group_id: String,
    /// The group's name.
    pub group_name: String,
    /// Always `group` (orgiam has no tenant groups).
    pub group_type: &'static str,
    /// When the group was given access (Unix seconds).
    pub created_at: i64,
}

impl From<ProjectGroup> for ProjectGroupObject {
    fn from(g: ProjectGroup) -> Self {
        ProjectGroupObject {
            object: "project.group",
            project_id: g.project_id.into_string(),
            group_id: g.group_id.into_string(),
            group_name: g.group_name,
            group_type: "group",
            created_at: g.created_at,
        }
    }
}

/// A group as role grants describe it (`object: "group"`).
#[derive(Serialize, ToSchema)]
pub struct GroupSummaryObject {
    /// Always `group`.
    pub object: &'static str,
    /// `group_…`
    pub id: String,
    /// The group's name.
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Always false on project routes (the organization's group objects say whether SCIM
    /// manages a group).
    pub scim_managed: bool,
}

impl From<GroupSummary> for GroupSummaryObject {
    fn from(g: GroupSummary) -> Self {
        GroupSummaryObject {
            object: "group",
            id: g.id.into_string(),
            name: g.name,
            created_at: g.created_at,
            scim_managed: false,
        }
    }
}

/// The answer to a group role grant (`object: "group.role"`).
#[derive(Serialize, ToSchema)]
pub struct GroupRoleObject {
    /// Always `group.role`.
    pub object: &'static str,
    /// The group.
    pub group: GroupSummaryObject,
    /// The role.
    pub role: RoleObject,
}

/// Body of `projects.groups.create`.
#[derive(Deserialize, ToSchema)]
pub struct ProjectGroupCreate {
    /// The group to give access.
    pub group_id: String,
    /// The id of the project role granted to the group (a system project role or one of the
    /// project's own).
    pub role: String,
}

/// Lists the groups with access to a project, by group id.
#[utoipa::path(get, path = "/v1/organization/projects/{project_id}/groups", operation_id = "list-project-groups", tag = "projects",
    params(("project_id" = String, Path),
           ("after" = Option<String>, Query, description = "the previous page's `next`"),
           ("limit" = Option<i64>, Query, minimum = 0, maximum = 1000, description = "0 to 1000, default 20"),
           ("order" = Option<String>, Query, description = "asc (default) or desc")),
    responses((status = 200, body = List<ProjectGroupObject>), (status = 404, body = ErrorBody)))]
pub async fn list(
    auth: Authorized<ProjectsRead>,
    State(state): State<AppState>,
    Path(project_id): Path<String>,
    params: Params,
) -> ApiResult<Json<List<ProjectGroupObject>>> {
    let page = params.page(PROJECT_GROUP_LIMIT, Some(Order::Asc), GroupId::parse)?;
    let groups = state
        .store
        .list_project_groups(auth.org(), &project_id, &page)
        .await?;
    Ok(Json(List::of(
        groups,
        |g| g.group_id.as_str().to_owned(),
        ProjectGroupObject::from,
    )))
}

/// Gives a group access to a project with a project role.
#[utoipa::path(post, path = "/v1/organization/projects/{project_id}/groups", operation_id = "add-project-group", tag = "projects",
    params(("project_id" = String, Path)), request_body = ProjectGroupCreate,
    responses((status = 200, body = ProjectGroupObject), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    auth: Authorized<ProjectsWrite>,
    State(state): State<AppState>,
    Path(project_id): Path<String>,
    Body(body): Body<ProjectGroupCreate>,
) -> ApiResult<Written<ProjectGroupObject>> {
    let (g, rev) = state
        .store
        .add_project_group(
            &auth.author(),
            auth.org(),
            &project_id,
            &body.group_id,
            &body.role,
        )
        .await?;
    Ok(Written(g.into(), rev))
}

/// Retrieves a group's access to a project (`group_type=tenant_group` finds nothing: orgiam
/// has no tenant groups).
#[utoipa::path(get, path = "/v1/organization/projects/{project_id}/groups/{group_id}", operation_id = "retrieve-project-group", tag = "projects",
    params(("project_id" = String, Path), ("group_id" = String, Path),
           ("group_type" = Option<String>, Query, description = "group or tenant_group")),
    responses((status = 200, body = ProjectGroupObject), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn retrieve(
    auth: Authorized<ProjectsRead>,
    State(state): State<AppState>,
    Path((project_id, group_id)): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<ProjectGroupObject>> {
    match params.one("group_type") {
        None | Some("group") => {}
        Some("tenant_group") => return Err(Error::not_found("tenant group", &group_id).into()),
        Some(other) => {
            return Err(Error::invalid(
                "group_type",
                format!(
                    "group_type must be 'group' or 'tenant_group', not '{}'",
                    quote(other)
                ),
            )
            .into());
        }
    }
    Ok(Json(
        state
            .store
            .get_project_group(auth.org(), &project_id, &group_id)
            .await?
            .into(),
    ))
}

/// Ends a group's access to a project, with every role it holds on it.
#[utoipa::path(delete, path = "/v1/organization/projects/{project_id}/groups/{group_id}", operation_id = "remove-project-group", tag = "projects",
    params(("project_id" = String, Path), ("group_id" = String, Path)),
    responses((status = 200, body = AssignmentDeleted), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    auth: Authorized<ProjectsWrite>,
    State(state): State<AppState>,
    Path((project_id, group_id)): Path<(String, String)>,
) -> ApiResult<Written<AssignmentDeleted>> {
    let rev = state
        .store
        .remove_project_group(&auth.author(), auth.org(), &project_id, &group_id)
        .await?;
    Ok(Written(
        AssignmentDeleted {
            object: "project.group.deleted",
            deleted: true,
        },
        rev,
    ))
}

/// Lists the project roles a group holds on a project.
#[utoipa::path(get, path = "/v1/projects/{project_id}/groups/{group_id}/roles", operation_id = "list-project-group-role-assignments", tag = "projects",
    params(("project_id" = String, Path), ("group_id" = String, Path),
           ("after" = Option<String>, Query, description = "the previous page's `next`"),
           ("limit" = Option<i64>, Query, minimum = 0, maximum = 1000, description = "0 to 1000, default 1000"),
           ("order" = Option<String>, Query, description = "asc (default) or desc")),
    responses((status = 200, body = List<AssignedRole>), (status = 404, body = ErrorBody)))]
pub async fn list_roles(
    auth: Authorized<ProjectsRead>,
    State(state): State<AppState>,
    Path((project_id, group_id)): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<List<AssignedRole>>> {
    let page = params.page(ROLE_LIMIT, Some(Order::Asc), RoleId::parse)?;
    let held = state
        .store
        .list_project_group_roles(auth.org(), &project_id, &group_id, &page)
        .await?;
    Ok(Json(List::of(
        held,
        |h| h.role.id.as_str().to_owned(),
        AssignedRole::from,
    )))
}

/// Grants a project role to a group with access to the project (again: updates `expires_at`).
#[utoipa::path(post, path = "/v1/projects/{project_id}/groups/{group_id}/roles", operation_id = "assign-project-group-role", tag = "projects",
    params(("project_id" = String, Path), ("group_id" = String, Path)), request_body = UserRoleCreate,
    responses((status = 200, body = GroupRoleObject), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn assign_role(
    auth: Authorized<ProjectsWrite>,
    State(state): State<AppState>,
    Path((project_id, group_id)): Path<(String, String)>,
    Body(body): Body<UserRoleCreate>,
) -> ApiResult<Written<GroupRoleObject>> {
    let grant = RoleGrant {
        role_id: body.role_id,
        expires_at: body.expires_at,
        metadata: body.metadata,
    };
    let (role, group, rev) = state
        .store
        .assign_project_group_role(&auth.author(), auth.org(), &project_id, &group_id, grant)
        .await?;
    Ok(Written(
        GroupRoleObject {
            object: "group.role",
            group: group.into(),
            role: role.into(),
        },
        rev,
    ))
}

/// Retrieves one project role as held by a group.
#[utoipa::path(get, path = "/v1/projects/{project_id}/groups/{group_id}/roles/{role_id}", operation_id = "retrieve-project-group-role", tag = "projects",
    params(("project_id" = String, Path), ("group_id" = String, Path), ("role_id" = String, Path)),
    responses((status = 200, body = AssignedRole), (status = 404, body = ErrorBody)))]
pub async fn retrieve_role(
    auth: Authorized<ProjectsRead>,
    State(state): State<AppState>,
    Path((project_id, group_id, role_id)): Path<(String, String, String)>,
) -> ApiResult<Json<AssignedRole>> {
    Ok(Json(
        state
            .store
            .get_project_group_role(auth.org(), &project_id, &group_id, &role_id)
            .await?
            .into(),
    ))
}

/// Revokes a group's grant of a project role.
#[utoipa::path(delete, path = "/v1/projects/{project_id}/groups/{group_id}/roles/{role_id}", operation_id = "unassign-project-group-role", tag = "projects",
    params(("project_id" = String, Path), ("group_id" = String, Path), ("role_id" = String, Path)),
    responses((status = 200, body = AssignmentDeleted), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn unassign_role(
    auth: Authorized<ProjectsWrite>,
    State(state): State<AppState>,
    Path((project_id, group_id, role_id)): Path<(String, String, String)>,
) -> ApiResult<Written<AssignmentDeleted>> {
    let rev = state
        .store
        .unassign_project_group_role(&auth.author(), auth.org(), &project_id, &group_id, &role_id)
        .await?;
    Ok(Written(
        AssignmentDeleted {
            object: "group.role.deleted",
            deleted: true,
        },
        rev,
    ))
}
