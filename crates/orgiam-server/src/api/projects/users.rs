//! Project users (`/v1/organization/projects/{project_id}/users`) and their project role
//! grants (`/v1/projects/{project_id}/users/{user_id}/roles`).

use axum::Json;
use axum::extract::{Path, State};
use orgiam_core::catalog::{ResourceType, SystemRole};
use orgiam_core::ids::{RoleId, UserId};
use orgiam_core::page::{LimitBounds, Order};
use orgiam_core::validate::quote;
use orgiam_core::{Error, Result};
use orgiam_store::{ProjectUser, ProjectUserRef, RoleGrant};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::roles::ROLE_LIMIT;
use crate::api::users::UserRoleCreate;
use crate::api::wire::{AssignedRole, AssignmentDeleted, Deleted, List, UserRoleObject, Written};
use crate::auth::{Authorized, ProjectsRead, ProjectsWrite};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Params};
use crate::state::AppState;

/// `limit` of the project user list: 1 to 100, default 20 (as the SDK documents).
const PROJECT_USER_LIMIT: LimitBounds = LimitBounds {
    min: 1,
    max: 100,
    default: 20,
};

/// A member of a project (`object: "organization.project.user"`).
#[derive(Serialize, ToSchema)]
pub struct ProjectUserObject {
    /// Always `organization.project.user`.
    pub object: &'static str,
    /// `user_…`
    pub id: String,
    /// Display name in the organization.
    pub name: Option<String>,
    /// Email.
    pub email: String,
    /// Base project role: `owner`, `member` or `viewer`.
    pub role: &'static str,
    /// When the user was added to the project (Unix seconds).
    pub added_at: i64,
}

impl From<ProjectUser> for ProjectUserObject {
    fn from(u: ProjectUser) -> Self {
        ProjectUserObject {
            object: "organization.project.user",
            id: u.user_id.into_string(),
            name: u.name,
            email: u.email,
            role: u.role.name(),
            added_at: u.added_at,
        }
    }
}

/// Body of `projects.users.create`.
#[derive(Deserialize, ToSchema)]
pub struct ProjectUserCreate {
    /// Base project role: `owner`, `member` or `viewer` (or a system project role's id).
    pub role: String,
    /// The member to add, by id.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The member to add, by email (case-insensitive).
    #[serde(default)]
    pub email: Option<String>,
}

/// Body of `projects.users.update`.
#[derive(Deserialize, ToSchema)]
pub struct ProjectUserUpdate {
    /// New base project role; absent or null: unchanged.
    #[serde(default)]
    pub role: Option<String>,
}

/// A system project role from its name (`owner`, `member`, `viewer`) or id.
fn project_role(role: &str) -> Result<SystemRole> {
    SystemRole::by_name(ResourceType::Project, role)
        .or_else(|| SystemRole::from_id(role))
        .filter(|r| r.resource_type() == ResourceType::Project)
        .ok_or_else(|| {
            Error::invalid(
                "role",
                format!(
                    "role must be one of owner, member, viewer, not '{}'",
                    quote(role)
                ),
            )
        })
}

/// Lists a project's members by user id.
#[utoipa::path(get, path = "/v1/organization/projects/{project_id}/users", operation_id = "list-project-users", tag = "projects",
    params(("project_id" = String, Path),
           ("after" = Option<String>, Query, description = "the previous page's `last_id`"),
           ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1 to 100, default 20")),
    responses((status = 200, body = List<ProjectUserObject>), (status = 404, body = ErrorBody)))]
pub async fn list(
    auth: Authorized<ProjectsRead>,
    State(state): State<AppState>,
    Path(project_id): Path<String>,
    params: Params,
) -> ApiResult<Json<List<ProjectUserObject>>> {
    let page = params.page(PROJECT_USER_LIMIT, None, UserId::parse)?;
    let users = state
        .store
        .list_project_users(auth.org(), &project_id, &page)
        .await?;
    Ok(Json(List::of(
        users,
        |u| u.user_id.as_str().to_owned(),
        ProjectUserObject::from,
    )))
}

/// Adds a member of the organization (by `user_id` or `email`) to a project with a base role.
#[utoipa::path(post, path = "/v1/organization/projects/{project_id}/users", operation_id = "create-project-user", tag = "projects",
    params(("project_id" = String, Path)), request_body = ProjectUserCreate,
    responses((status = 200, body = ProjectUserObject), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    auth: Authorized<ProjectsWrite>,
    State(state): State<AppState>,
    Path(project_id): Path<String>,
    Body(body): Body<ProjectUserCreate>,
) -> ApiResult<Written<ProjectUserObject>> {
    let who = ProjectUserRef {
        user_id: body.user_id,
        email: body.email,
        role: project_role(&body.role)?,
    };
    let (u, rev) = state
        .store
        .add_project_user(&auth.author(), auth.org(), &project_id, who)
        .await?;
    Ok(Written(u.into(), rev))
}

/// Retrieves a project member.
#[utoipa::path(get, path = "/v1/organization/projects/{project_id}/users/{user_id}", operation_id = "retrieve-project-user", tag = "projects",
    params(("project_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 200, body = ProjectUserObject), (status = 404, body = ErrorBody)))]
pub async fn retrieve(
    auth: Authorized<ProjectsRead>,
    State(state): State<AppState>,
    Path((project_id, user_id)): Path<(String, String)>,
) -> ApiResult<Json<ProjectUserObject>> {
    Ok(Json(
        state
            .store
            .get_project_user(auth.org(), &project_id, &user_id)
            .await?
            .into(),
    ))
}

/// Replaces a project member's base project role.
#[utoipa::path(post, path = "/v1/organization/projects/{project_id}/users/{user_id}", operation_id = "modify-project-user", tag = "projects",
    params(("project_id" = String, Path), ("user_id" = String, Path)), request_body = ProjectUserUpdate,
    responses((status = 200, body = ProjectUserObject), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update(
    auth: Authorized<ProjectsWrite>,
    State(state): State<AppState>,
    Path((project_id, user_id)): Path<(String, String)>,
    Body(body): Body<ProjectUserUpdate>,
) -> ApiResult<Written<ProjectUserObject>> {
    let role = body.role.as_deref().map(project_role).transpose()?;
    let (u, rev) = state
        .store
        .update_project_user(&auth.author(), auth.org(), &project_id, &user_id, role)
        .await?;
    Ok(Written(u.into(), rev))
}

/// Removes a member from a project with every role they hold on it.
#[utoipa::path(delete, path = "/v1/organization/projects/{project_id}/users/{user_id}", operation_id = "delete-project-user", tag = "projects",
    params(("project_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 200, body = Deleted), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    auth: Authorized<ProjectsWrite>,
    State(state): State<AppState>,
    Path((project_id, user_id)): Path<(String, String)>,
) -> ApiResult<Written<Deleted>> {
    let rev = state
        .store
        .remove_project_user(&auth.author(), auth.org(), &project_id, &user_id)
        .await?;
    Ok(Written(
        Deleted {
            object: "organization.project.user.deleted",
            id: user_id,
            deleted: true,
        },
        rev,
    ))
}

/// Lists the project roles a user holds on a project, directly or through groups.
#[utoipa::path(get, path = "/v1/projects/{project_id}/users/{user_id}/roles", operation_id = "list-project-user-role-assignments", tag = "projects",
    params(("project_id" = String, Path), ("user_id" = String, Path),
           ("after" = Option<String>, Query, description = "the previous page's `next`"),
           ("limit" = Option<i64>, Query, minimum = 0, maximum = 1000, description = "0 to 1000, default 1000"),
           ("order" = Option<String>, Query, description = "asc (default) or desc")),
    responses((status = 200, body = List<AssignedRole>), (status = 404, body = ErrorBody)))]
pub async fn list_roles(
    auth: Authorized<ProjectsRead>,
    State(state): State<AppState>,
    Path((project_id, user_id)): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<List<AssignedRole>>> {
    let page = params.page(ROLE_LIMIT, Some(Order::Asc), RoleId::parse)?;
    let held = state
        .store
        .list_project_user_roles(auth.org(), &project_id, &user_id, &page)
        .await?;
    Ok(Json(List::of(
        held,
        |h| h.role.id.as_str().to_owned(),
        AssignedRole::from,
    )))
}

/// Grants a project role to a project member (again: updates `expires_at`).
#[utoipa::path(post, path = "/v1/projects/{project_id}/users/{user_id}/roles", operation_id = "assign-project-user-role", tag = "projects",
    params(("project_id" = String, Path), ("user_id" = String, Path)), request_body = UserRoleCreate,
    responses((status = 200, body = UserRoleObject), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn assign_role(
    auth: Authorized<ProjectsWrite>,
    State(state): State<AppState>,
    Path((project_id, user_id)): Path<(String, String)>,
    Body(body): Body<UserRoleCreate>,
) -> ApiResult<Written<UserRoleObject>> {
    let grant = RoleGrant {
        role_id: body.role_id,
        expires_at: body.expires_at,
        metadata: body.metadata,
    };
    let (role, member, rev) = state
        .store
        .assign_project_user_role(&auth.author(), auth.org(), &project_id, &user_id, grant)
        .await?;
    Ok(Written(
        UserRoleObject {
            object: "user.role",
            role: role.into(),
            user: member.into(),
        },
        rev,
    ))
}

/// Retrieves one project role as held by a user.
#[utoipa::path(get, path = "/v1/projects/{project_id}/users/{user_id}/roles/{role_id}", operation_id = "retrieve-project-user-role", tag = "projects",
    params(("project_id" = String, Path), ("user_id" = String, Path), ("role_id" = String, Path)),
    responses((status = 200, body = AssignedRole), (status = 404, body = ErrorBody)))]
pub async fn retrieve_role(
    auth: Authorized<ProjectsRead>,
    State(state): State<AppState>,
    Path((project_id, user_id, role_id)): Path<(String, String, String)>,
) -> ApiResult<Json<AssignedRole>> {
    Ok(Json(
        state
            .store
            .get_project_user_role(auth.org(), &project_id, &user_id, &role_id)
            .await?
            .into(),
    ))
}

/// Revokes a project member's direct grant of a project role.
#[utoipa::path(delete, path = "/v1/projects/{project_id}/users/{user_id}/roles/{role_id}", operation_id = "unassign-project-user-role", tag = "projects",
    params(("project_id" = String, Path), ("user_id" = String, Path), ("role_id" = String, Path)),
    responses((status = 200, body = AssignmentDeleted), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn unassign_role(
    auth: Authorized<ProjectsWrite>,
    State(state): State<AppState>,
    Path((project_id, user_id, role_id)): Path<(String, String, String)>,
) -> ApiResult<Written<AssignmentDeleted>> {
    let rev = state
        .store
        .unassign_project_user_role(&auth.author(), auth.org(), &project_id, &user_id, &role_id)
        .await?;
    Ok(Written(
        AssignmentDeleted {
            object: "user.role.deleted",
            deleted: true,
        },
        rev,
    ))
}
