//! Projects: `/v1/organization/projects` (create, list, retrieve, update, archive; no delete),
//! their users and groups under `/v1/organization/projects/{project_id}/…`, and their roles and
//! role assignments under `/v1/projects/{project_id}/…` (the SDK's paths).
//!
//! Every route here is guarded by `api.projects.read` or `api.projects.write` at organization
//! level; project-scoped `api.project.*` permissions are not consulted yet.

mod groups;
mod roles;
mod users;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use orgiam_core::ids::ProjectId;
use orgiam_core::page::LimitBounds;
use orgiam_store::Project;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::wire::{List, Written};
use crate::auth::{Authorized, ProjectsRead, ProjectsWrite};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Params};
use crate::state::AppState;

/// The OpenAPI paths of this family.
#[derive(OpenApi)]
#[openapi(paths(
    list,
    create,
    retrieve,
    update,
    archive,
    users::list,
    users::create,
    users::retrieve,
    users::update,
    users::delete,
    users::list_roles,
    users::assign_role,
    users::retrieve_role,
    users::unassign_role,
    groups::list,
    groups::create,
    groups::retrieve,
    groups::delete,
    groups::list_roles,
    groups::assign_role,
    groups::retrieve_role,
    groups::unassign_role,
    roles::list,
    roles::create,
    roles::retrieve,
    roles::update,
    roles::delete,
))]
pub struct Doc;

/// The routes of this family.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/organization/projects", get(list).post(create))
        .route(
            "/v1/organization/projects/{project_id}",
            get(retrieve).post(update),
        )
        .route(
            "/v1/organization/projects/{project_id}/archive",
            post(archive),
        )
        .route(
            "/v1/organization/projects/{project_id}/users",
            get(users::list).post(users::create),
        )
        .route(
            "/v1/organization/projects/{project_id}/users/{user_id}",
            get(users::retrieve)
                .post(users::update)
                .delete(users::delete),
        )
        .route(
            "/v1/organization/projects/{project_id}/groups",
            get(groups::list).post(groups::create),
        )
        .route(
            "/v1/organization/projects/{project_id}/groups/{group_id}",
            get(groups::retrieve).delete(groups::delete),
        )
        .route(
            "/v1/projects/{project_id}/roles",
            get(roles::list).post(roles::create),
        )
        .route(
            "/v1/projects/{project_id}/roles/{role_id}",
            get(roles::retrieve)
                .post(roles::update)
                .delete(roles::delete),
        )
        .route(
            "/v1/projects/{project_id}/users/{user_id}/roles",
            get(users::list_roles).post(users::assign_role),
        )
        .route(
            "/v1/projects/{project_id}/users/{user_id}/roles/{role_id}",
            get(users::retrieve_role).delete(users::unassign_role),
        )
        .route(
            "/v1/projects/{project_id}/groups/{group_id}/roles",
            get(groups::list_roles).post(groups::assign_role),
        )
        .route(
            "/v1/projects/{project_id}/groups/{group_id}/roles/{role_id}",
            get(groups::retrieve_role).delete(groups::unassign_role),
        )
}

/// `limit` of the project list: 1 to 100, default 20 (as the SDK documents).
const PROJECT_LIMIT: LimitBounds = LimitBounds {
    min: 1,
    max: 100,
    default: 20,
};

/// A project (`object: "organization.project"`).
#[derive(Serialize, ToSchema)]
pub struct ProjectObject {
    /// Always `organization.project`.
    pub object: &'static str,
    /// `proj_…`
    pub id: String,
    /// Display name.
    pub name: String,
    /// `active` or `archived`.
    pub status: &'static str,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds, once archived.
    pub archived_at: Option<i64>,
    /// Accepted for SDK compatibility; always null.
    pub external_key_id: Option<String>,
    /// Accepted for SDK compatibility; never set, so never sent (OpenAI's schema allows one of
    /// its residency values, not null).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub residency: Option<String>,
}

impl From<Project> for ProjectObject {
    fn from(p: Project) -> Self {
        ProjectObject {
            object: "organization.project",
            status: if p.is_archived() {
                "archived"
            } else {
                "active"
            },
            id: p.id.into_string(),
            name: p.name,
            created_at: p.created_at,
            archived_at: p.archived_at,
            external_key_id: None,
            residency: None,
        }
    }
}

/// Body of `projects.create`.
#[derive(Deserialize, ToSchema)]
pub struct ProjectCreate {
    /// Display name (1 to 256 characters).
    pub name: String,
    /// Accepted for SDK compatibility; ignored.
    #[serde(default)]
    #[schema(value_type = Option<Value>)]
    pub external_key_id: Option<serde_json::Value>,
    /// Accepted for SDK compatibility; ignored.
    #[serde(default)]
    #[schema(value_type = Option<Value>)]
    pub geography: Option<serde_json::Value>,
    /// Accepted for SDK compatibility; ignored.
    #[serde(default)]
    #[schema(value_type = Option<Value>)]
    pub residency: Option<serde_json::Value>,
}

/// Body of `projects.update`; absent or null fields are left unchanged.
#[derive(Deserialize, ToSchema)]
pub struct ProjectUpdate {
    /// New display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Accepted for SDK compatibility; ignored.
    #[serde(default)]
    #[schema(value_type = Option<Value>)]
    pub external_key_id: Option<serde_json::Value>,
    /// Accepted for SDK compatibility; ignored.
    #[serde(default)]
    #[schema(value_type = Option<Value>)]
    pub geography: Option<serde_json::Value>,
}

/// Lists projects by id; archived ones only with `include_archived=true`.
#[utoipa::path(get, path = "/v1/organization/projects", operation_id = "list-projects", tag = "projects",
    params(("after" = Option<String>, Query, description = "the previous page's `last_id`"),
           ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1 to 100, default 20"),
           ("include_archived" = Option<bool>, Query, description = "include archived projects (default false)")),
    responses((status = 200, body = List<ProjectObject>), (status = 400, body = ErrorBody)))]
pub async fn list(
    auth: Authorized<ProjectsRead>,
    State(state): State<AppState>,
    params: Params,
) -> ApiResult<Json<List<ProjectObject>>> {
    let page = params.page(PROJECT_LIMIT, None, ProjectId::parse)?;
    let include_archived = params.bool("include_archived")?.unwrap_or(false);
    let projects = state
        .store
        .list_projects(auth.org(), &page, include_archived)
        .await?;
    Ok(Json(List::of(
        projects,
        |p| p.id.as_str().to_owned(),
        ProjectObject::from,
    )))
}

/// Creates a project.
#[utoipa::path(post, path = "/v1/organization/projects", operation_id = "create-project", tag = "projects", request_body = ProjectCreate,
    responses((status = 200, body = ProjectObject), (status = 400, body = ErrorBody)))]
pub async fn create(
    auth: Authorized<ProjectsWrite>,
    State(state): State<AppState>,
    Body(body): Body<ProjectCreate>,
) -> ApiResult<Written<ProjectObject>> {
    let (p, rev) = state
        .store
        .create_project(&auth.author(), auth.org(), &body.name)
        .await?;
    Ok(Written(p.into(), rev))
}

/// Retrieves a project (archived or not).
#[utoipa::path(get, path = "/v1/organization/projects/{project_id}", operation_id = "retrieve-project", tag = "projects",
    params(("project_id" = String, Path)),
    responses((status = 200, body = ProjectObject), (status = 404, body = ErrorBody)))]
pub async fn retrieve(
    auth: Authorized<ProjectsRead>,
    State(state): State<AppState>,
    Path(project_id): Path<String>,
) -> ApiResult<Json<ProjectObject>> {
    Ok(Json(
        state
            .store
            .get_project(auth.org(), &project_id)
            .await?
            .into(),
    ))
}

/// Renames a project; 409 `project_archived` once archived.
#[utoipa::path(post, path = "/v1/organization/projects/{project_id}", operation_id = "modify-project", tag = "projects",
    params(("project_id" = String, Path)), request_body = ProjectUpdate,
    responses((status = 200, body = ProjectObject), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update(
    auth: Authorized<ProjectsWrite>,
    State(state): State<AppState>,
    Path(project_id): Path<String>,
    Body(body): Body<ProjectUpdate>,
) -> ApiResult<Written<ProjectObject>> {
    let (p, rev) = state
        .store
        .update_project(
            &auth.author(),
            auth.org(),
            &project_id,
            body.name.as_deref(),
        )
        .await?;
    Ok(Written(p.into(), rev))
}

/// Archives a project (empty body): it becomes read-only and its assignments grant nothing.
#[utoipa::path(post, path = "/v1/organization/projects/{project_id}/archive", operation_id = "archive-project", tag = "projects",
    params(("project_id" = String, Path)),
    responses((status = 200, body = ProjectObject), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn archive(
    auth: Authorized<ProjectsWrite>,
    State(state): State<AppState>,
    Path(project_id): Path<String>,
) -> ApiResult<Written<ProjectObject>> {
    let (p, rev) = state
        .store
        .archive_project(&auth.author(), auth.org(), &project_id)
        .await?;
    Ok(Written(p.into(), rev))
}
