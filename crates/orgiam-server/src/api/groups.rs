//! `/v1/organization/groups`: groups, their members (`groups.users`) and the organization
//! roles given to them (`groups.roles`), shaped as the `openai` SDK's `admin.organization.groups`.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use orgiam_core::Error;
use orgiam_core::ids::{GroupId, RoleId, UserId};
use orgiam_core::page::{LimitBounds, Order};
use orgiam_store::{Group, GroupMember};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::roles::ROLE_LIMIT;
use super::wire::{AssignedRole, AssignmentDeleted, Deleted, List, RoleObject, Written};
use crate::auth::{AssignmentsRead, AssignmentsWrite, Authorized, GroupsRead, GroupsWrite};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Params};
use crate::state::AppState;

/// `limit` of the group and group user lists: 0 to 1,000, default 100 (as the SDK documents).
pub const GROUP_LIMIT: LimitBounds = LimitBounds {
    min: 0,
    max: 1000,
    default: 100,
};

/// The OpenAPI paths of this family.
#[derive(OpenApi)]
#[openapi(paths(
    list,
    create,
    retrieve,
    update,
    delete,
    list_users,
    add_user,
    retrieve_user,
    remove_user,
    list_roles,
    assign_role,
    retrieve_role,
    unassign_role,
))]
pub struct Doc;

/// The routes of this family.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/organization/groups", get(list).post(create))
        .route(
            "/v1/organization/groups/{group_id}",
            get(retrieve).post(update).delete(delete),
        )
        .route(
            "/v1/organization/groups/{group_id}/users",
            get(list_users).post(add_user),
        )
        .route(
            "/v1/organization/groups/{group_id}/users/{user_id}",
            get(retrieve_user).delete(remove_user),
        )
        .route(
            "/v1/organization/groups/{group_id}/roles",
            get(list_roles).post(assign_role),
        )
        .route(
            "/v1/organization/groups/{group_id}/roles/{role_id}",
            get(retrieve_role).delete(unassign_role),
        )
}

// ---------------------------------------------------------------------------------------------
// wire types
// ---------------------------------------------------------------------------------------------

/// A group (the SDK's `Group`: no `object` field).
#[derive(Serialize, ToSchema)]
pub struct GroupObject {
    /// `group_…`
    pub id: String,
    /// Display name, unique in the organization case-insensitively.
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Always `group`.
    pub group_type: &'static str,
    /// Whether the organization's identity provider manages the group through SCIM.
    pub is_scim_managed: bool,
}

impl From<Group> for GroupObject {
    fn from(g: Group) -> Self {
        GroupObject {
            id: g.id.into_string(),
            name: g.name,
            created_at: g.created_at,
            group_type: "group",
            is_scim_managed: g.scim_managed,
        }
    }
}

/// The answer to `groups.update` (the SDK's `GroupUpdateResponse`).
#[derive(Serialize, ToSchema)]
pub struct GroupUpdated {
    /// `group_…`
    pub id: String,
    /// The new name.
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Whether the organization's identity provider manages the group through SCIM.
    pub is_scim_managed: bool,
}

/// The group summary inside a group role grant (`object: "group"`, `scim_managed`).
#[derive(Serialize, ToSchema)]
pub struct GroupSummary {
    /// Always `group`.
    pub object: &'static str,
    /// `group_…`
    pub id: String,
    /// Display name.
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Whether the organization's identity provider manages the group through SCIM.
    pub scim_managed: bool,
}

/// A member of a group in a list (the SDK's `OrganizationGroupUser`).
#[derive(Serialize, ToSchema)]
pub struct GroupUser {
    /// `user_…`
    pub id: String,
    /// Display name in the organization; the email when the member has none.
    pub name: String,
    /// Email.
    pub email: Option<String>,
}

impl From<GroupMember> for GroupUser {
    fn from(m: GroupMember) -> Self {
        GroupUser {
            id: m.user_id.into_string(),
            name: m.name.unwrap_or_else(|| m.email.clone()),
            email: Some(m.email),
        }
    }
}

/// One member of a group (the SDK's `groups.users.retrieve` answer).
#[derive(Serialize, ToSchema)]
pub struct GroupUserDetail {
    /// `user_…`
    pub id: String,
    /// Display name in the organization; the email when the member has none.
    pub name: String,
    /// Email.
    pub email: Option<String>,
    /// Always false: orgiam's principals are users.
    pub is_service_account: bool,
    /// Always null.
    pub picture: Option<String>,
    /// Always `user`.
    pub user_type: &'static str,
}

impl From<GroupMember> for GroupUserDetail {
    fn from(m: GroupMember) -> Self {
        GroupUserDetail {
            id: m.user_id.into_string(),
            name: m.name.unwrap_or_else(|| m.email.clone()),
            email: Some(m.email),
            is_service_account: false,
            picture: None,
            user_type: "user",
        }
    }
}

/// The answer to `groups.users.create` (`object: "group.user"`).
#[derive(Serialize, ToSchema)]
pub struct GroupUserAdded {
    /// Always `group.user`.
    pub object: &'static str,
    /// The group.
    pub group_id: String,
    /// The user.
    pub user_id: String,
}

/// The answer to `groups.roles.create` (`object: "group.role"`).
#[derive(Serialize, ToSchema)]
pub struct GroupRoleObject {
    /// Always `group.role`.
    pub object: &'static str,
    /// The group.
    pub group: GroupSummary,
    /// The role.
    pub role: RoleObject,
}

/// Body of `groups.create` and `groups.update`.
#[derive(Deserialize, ToSchema)]
pub struct GroupBody {
    /// The group's name (1 to 256 characters), unique case-insensitively.
    #[serde(default)]
    pub name: Option<String>,
}

/// Body of `groups.users.create`.
#[derive(Deserialize, ToSchema)]
pub struct GroupUserCreate {
    /// A member of the organization.
    #[serde(default)]
    pub user_id: Option<String>,
}

/// Body of `groups.roles.create`.
#[derive(Deserialize, ToSchema)]
pub struct GroupRoleCreate {
    /// The organization role to grant (system or custom).
    #[serde(default)]
    pub role_id: Option<String>,
    /// When the grant stops granting (Unix seconds); absent: never.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// Optional JSON object kept on the assignment.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

fn required(param: &str, v: Option<String>) -> Result<String, Error> {
    v.ok_or_else(|| Error::invalid(param, format!("{param} is required")))
}

// ---------------------------------------------------------------------------------------------
// groups
// ---------------------------------------------------------------------------------------------

/// Lists the organization's groups by id.
#[utoipa::path(get, path = "/v1/organization/groups", operation_id = "list-groups", tag = "groups",
    params(("after" = Option<String>, Query, description = "the previous page's `next`"),
           ("limit" = Option<i64>, Query, minimum = 0, maximum = 1000, description = "0 to 1000, default 100"),
           ("order" = Option<String>, Query, description = "asc (default) or desc")),
    responses((status = 200, body = List<GroupObject>), (status = 400, body = ErrorBody)))]
pub async fn list(
    auth: Authorized<GroupsRead>,
    State(state): State<AppState>,
    params: Params,
) -> ApiResult<Json<List<GroupObject>>> {
    let page = params.page(GROUP_LIMIT, Some(Order::Asc), GroupId::parse)?;
    let groups = state.store.list_groups(auth.org(), &page).await?;
    Ok(Json(List::of(
        groups,
        |g| g.id.as_str().to_owned(),
        GroupObject::from,
    )))
}

/// Creates a group; 409 if the name is taken (case-insensitively).
#[utoipa::path(post, path = "/v1/organization/groups", operation_id = "create-group", tag = "groups", request_body = GroupBody,
    responses((status = 200, body = GroupObject), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    auth: Authorized<GroupsWrite>,
    State(state): State<AppState>,
    Body(body): Body<GroupBody>,
) -> ApiResult<Written<GroupObject>> {
    let name = required("name", body.name)?;
    let (g, rev) = state
        .store
        .create_group(&auth.author(), auth.org(), &name)
        .await?;
    Ok(Written(g.into(), rev))
}

/// Retrieves a group.
#[utoipa::path(get, path = "/v1/organization/groups/{group_id}", operation_id = "retrieve-group", tag = "groups",
    params(("group_id" = String, Path)),
    responses((status = 200, body = GroupObject), (status = 404, body = ErrorBody)))]
pub async fn retrieve(
    auth: Authorized<GroupsRead>,
    State(state): State<AppState>,
    Path(group_id): Path<String>,
) -> ApiResult<Json<GroupObject>> {
    Ok(Json(
        state.store.get_group(auth.org(), &group_id).await?.into(),
    ))
}

/// Renames a group (`name` is required); 409 if another group has the name.
#[utoipa::path(post, path = "/v1/organization/groups/{group_id}", operation_id = "update-group", tag = "groups",
    params(("group_id" = String, Path)), request_body = GroupBody,
    responses((status = 200, body = GroupUpdated), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update(
    auth: Authorized<GroupsWrite>,
    State(state): State<AppState>,
    Path(group_id): Path<String>,
    Body(body): Body<GroupBody>,
) -> ApiResult<Written<GroupUpdated>> {
    let name = required("name", body.name)?;
    let (g, rev) = state
        .store
        .rename_group(&auth.author(), auth.org(), &group_id, &name)
        .await?;
    Ok(Written(
        GroupUpdated {
            id: g.id.into_string(),
            name: g.name,
            created_at: g.created_at,
            is_scim_managed: g.scim_managed,
        },
        rev,
    ))
}

/// Deletes a group with its memberships, project access and role assignments.
#[utoipa::path(delete, path = "/v1/organization/groups/{group_id}", operation_id = "delete-group", tag = "groups",
    params(("group_id" = String, Path)),
    responses((status = 200, body = Deleted), (status = 404, body = ErrorBody)))]
pub async fn delete(
    auth: Authorized<GroupsWrite>,
    State(state): State<AppState>,
    Path(group_id): Path<String>,
) -> ApiResult<Written<Deleted>> {
    let rev = state
        .store
        .delete_group(&auth.author(), auth.org(), &group_id)
        .await?;
    Ok(Written(
        Deleted {
            object: "group.deleted",
            id: group_id,
            deleted: true,
        },
        rev,
    ))
}

// ---------------------------------------------------------------------------------------------
// group users
// ---------------------------------------------------------------------------------------------

/// Lists a group's members by user id.
#[utoipa::path(get, path = "/v1/organization/groups/{group_id}/users", operation_id = "list-group-users", tag = "groups",
    params(("group_id" = String, Path),
           ("after" = Option<String>, Query, description = "the previous page's `next` (a user id)"),
           ("limit" = Option<i64>, Query, minimum = 0, maximum = 1000, description = "0 to 1000, default 100"),
           ("order" = Option<String>, Query, description = "asc (default) or desc")),
    responses((status = 200, body = List<GroupUser>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_users(
    auth: Authorized<GroupsRead>,
    State(state): State<AppState>,
    Path(group_id): Path<String>,
    params: Params,
) -> ApiResult<Json<List<GroupUser>>> {
    let page = params.page(GROUP_LIMIT, Some(Order::Asc), UserId::parse)?;
    let members = state
        .store
        .list_group_members(auth.org(), &group_id, &page)
        .await?;
    Ok(Json(List::of(
        members,
        |m| m.user_id.as_str().to_owned(),
        GroupUser::from,
    )))
}

/// Adds a member of the organization to a group; adding them again is a 200 that changes
/// nothing.
#[utoipa::path(post, path = "/v1/organization/groups/{group_id}/users", operation_id = "add-group-user", tag = "groups",
    params(("group_id" = String, Path)), request_body = GroupUserCreate,
    responses((status = 200, body = GroupUserAdded), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn add_user(
    auth: Authorized<GroupsWrite>,
    State(state): State<AppState>,
    Path(group_id): Path<String>,
    Body(body): Body<GroupUserCreate>,
) -> ApiResult<Written<GroupUserAdded>> {
    let user_id = required("user_id", body.user_id)?;
    let added = state
        .store
        .add_group_member(&auth.author(), auth.org(), &group_id, &user_id)
        .await?;
    Ok(Written(
        GroupUserAdded {
            object: "group.user",
            group_id,
            user_id: added.member.user_id.into_string(),
        },
        added.revision,
    ))
}

/// Retrieves one member of a group.
#[utoipa::path(get, path = "/v1/organization/groups/{group_id}/users/{user_id}", operation_id = "retrieve-group-user", tag = "groups",
    params(("group_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 200, body = GroupUserDetail), (status = 404, body = ErrorBody)))]
pub async fn retrieve_user(
    auth: Authorized<GroupsRead>,
    State(state): State<AppState>,
    Path((group_id, user_id)): Path<(String, String)>,
) -> ApiResult<Json<GroupUserDetail>> {
    Ok(Json(
        state
            .store
            .get_group_member(auth.org(), &group_id, &user_id)
            .await?
            .into(),
    ))
}

/// Removes a user from a group.
#[utoipa::path(delete, path = "/v1/organization/groups/{group_id}/users/{user_id}", operation_id = "remove-group-user", tag = "groups",
    params(("group_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 200, body = AssignmentDeleted), (status = 404, body = ErrorBody)))]
pub async fn remove_user(
    auth: Authorized<GroupsWrite>,
    State(state): State<AppState>,
    Path((group_id, user_id)): Path<(String, String)>,
) -> ApiResult<Written<AssignmentDeleted>> {
    let rev = state
        .store
        .remove_group_member(&auth.author(), auth.org(), &group_id, &user_id)
        .await?;
    Ok(Written(
        AssignmentDeleted {
            object: "group.user.deleted",
            deleted: true,
        },
        rev,
    ))
}

// ---------------------------------------------------------------------------------------------
// group roles
// ---------------------------------------------------------------------------------------------

/// Lists the organization roles a group holds.
#[utoipa::path(get, path = "/v1/organization/groups/{group_id}/roles", operation_id = "list-group-role-assignments", tag = "groups",
    params(("group_id" = String, Path),
           ("after" = Option<String>, Query, description = "the previous page's `next`"),
           ("limit" = Option<i64>, Query, minimum = 0, maximum = 1000, description = "0 to 1000, default 1000"),
           ("order" = Option<String>, Query, description = "asc (default) or desc")),
    responses((status = 200, body = List<AssignedRole>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_roles(
    auth: Authorized<AssignmentsRead>,
    State(state): State<AppState>,
    Path(group_id): Path<String>,
    params: Params,
) -> ApiResult<Json<List<AssignedRole>>> {
    let page = params.page(ROLE_LIMIT, Some(Order::Asc), RoleId::parse)?;
    let held = state
        .store
        .list_group_roles(auth.org(), &group_id, &page)
        .await?;
    Ok(Json(List::of(
        held,
        |h| h.role.id.as_str().to_owned(),
        AssignedRole::from,
    )))
}

/// Grants an organization role to a group (again: replaces `expires_at`).
#[utoipa::path(post, path = "/v1/organization/groups/{group_id}/roles", operation_id = "assign-group-role", tag = "groups",
    params(("group_id" = String, Path)), request_body = GroupRoleCreate,
    responses((status = 200, body = GroupRoleObject), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn assign_role(
    auth: Authorized<AssignmentsWrite>,
    State(state): State<AppState>,
    Path(group_id): Path<String>,
    Body(body): Body<GroupRoleCreate>,
) -> ApiResult<Written<GroupRoleObject>> {
    let role_id = required("role_id", body.role_id)?;
    let (role, g, rev) = state
        .store
        .assign_group_role(
            &auth.author(),
            auth.org(),
            &group_id,
            &role_id,
            body.expires_at,
            body.metadata,
        )
        .await?;
    Ok(Written(
        GroupRoleObject {
            object: "group.role",
            group: GroupSummary {
                object: "group",
                id: g.id.into_string(),
                name: g.name,
                created_at: g.created_at,
                scim_managed: g.scim_managed,
            },
            role: role.into(),
        },
        rev,
    ))
}

/// Retrieves one role as held by a group.
#[utoipa::path(get, path = "/v1/organization/groups/{group_id}/roles/{role_id}", operation_id = "retrieve-group-role", tag = "groups",
    params(("group_id" = String, Path), ("role_id" = String, Path)),
    responses((status = 200, body = AssignedRole), (status = 404, body = ErrorBody)))]
pub async fn retrieve_role(
    auth: Authorized<AssignmentsRead>,
    State(state): State<AppState>,
    Path((group_id, role_id)): Path<(String, String)>,
) -> ApiResult<Json<AssignedRole>> {
    Ok(Json(
        state
            .store
            .get_group_role(auth.org(), &group_id, &role_id)
            .await?
            .into(),
    ))
}

/// Revokes a group's grant of an organization role.
#[utoipa::path(delete, path = "/v1/organization/groups/{group_id}/roles/{role_id}", operation_id = "unassign-group-role", tag = "groups",
    params(("group_id" = String, Path), ("role_id" = String, Path)),
    responses((status = 200, body = AssignmentDeleted), (status = 404, body = ErrorBody)))]
pub async fn unassign_role(
    auth: Authorized<AssignmentsWrite>,
    State(state): State<AppState>,
    Path((group_id, role_id)): Path<(String, String)>,
) -> ApiResult<Written<AssignmentDeleted>> {
    let rev = state
        .store
        .unassign_group_role(&auth.author(), auth.org(), &group_id, &role_id)
        .await?;
    Ok(Written(
        AssignmentDeleted {
            object: "group.role.deleted",
            deleted: true,
        },
        rev,
    ))
}
