//! `/v1/organization/users`: members, their base role, and their organization role grants.

use axum::Json;
use axum::extract::{Path, State};
use orgiam_core::catalog::{ResourceType, SystemRole};
use orgiam_core::ids::{RoleId, UserId};
use orgiam_core::page::{LimitBounds, Order};
use orgiam_core::validate::quote;
use orgiam_core::{Error, Result};
use orgiam_store::NewMember;
use serde::Deserialize;
use utoipa::ToSchema;

use super::roles::ROLE_LIMIT;
use super::wire::{
    AssignedRole, AssignmentDeleted, Deleted, List, OrganizationUser, UserRoleObject, Written,
};
use crate::auth::{AssignmentsRead, AssignmentsWrite, Authorized, UsersRead, UsersWrite};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Params};
use crate::state::AppState;

/// `limit` of the user list: 1 to 100, default 20 (as the SDK documents).
const USER_LIMIT: LimitBounds = LimitBounds {
    min: 1,
    max: 100,
    default: 20,
};

/// Body of `users.update`.
#[derive(Deserialize, ToSchema)]
pub struct UserUpdate {
    /// New base role by name: `owner`, `admin`, `member` or `reader`.
    #[serde(default)]
    pub role: Option<String>,
    /// New base role by id (a system organization role).
    #[serde(default)]
    pub role_id: Option<String>,
    /// New display name in this organization.
    #[serde(default)]
    pub name: Option<String>,
    /// Accepted for SDK compatibility; ignored.
    #[serde(default)]
    #[schema(value_type = Option<Value>)]
    pub developer_persona: Option<serde_json::Value>,
    /// Accepted for SDK compatibility; ignored.
    #[serde(default)]
    #[schema(value_type = Option<Value>)]
    pub technical_level: Option<serde_json::Value>,
}

/// Body of the user provisioning route.
#[derive(Deserialize, ToSchema)]
pub struct UserCreate {
    /// Email; an existing identity with this email is attached.
    pub email: String,
    /// Display name in this organization.
    #[serde(default)]
    pub name: Option<String>,
    /// Base role (`owner`, `admin`, `member` or `reader`); default `member`.
    #[serde(default)]
    pub role: Option<String>,
}

/// Body of `users.roles.create`.
#[derive(Deserialize, ToSchema)]
pub struct UserRoleCreate {
    /// The organization role to grant (system or custom).
    pub role_id: String,
    /// When the grant stops granting (Unix seconds); absent: never.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// Optional JSON object kept on the assignment.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

/// A system organization role from a `role` name or a `role_id`.
fn base_role(role: Option<&str>, role_id: Option<&str>) -> Result<Option<SystemRole>> {
    let by_name = role
        .map(|n| {
            SystemRole::by_name(ResourceType::Organization, n).ok_or_else(|| {
                Error::invalid(
                    "role",
                    format!(
                        "role must be one of owner, admin, member, reader, not '{}'",
                        quote(n)
                    ),
                )
            })
        })
        .transpose()?;
    let by_id = role_id
        .map(|id| {
            SystemRole::from_id(id)
                .filter(|r| r.resource_type() == ResourceType::Organization)
                .ok_or_else(|| {
                    Error::invalid(
                        "role_id",
                        format!(
                            "role_id '{}' is not a system organization role; a user's base role is one of owner, admin, member, reader (grant custom roles with the user roles route)",
                            quote(id)
                        ),
                    )
                })
        })
        .transpose()?;
    match (by_name, by_id) {
        (Some(a), Some(b)) if a != b => Err(Error::invalid(
            "role_id",
            "role and role_id name different roles",
        )),
        (a, b) => Ok(a.or(b)),
    }
}

/// Lists members by id, optionally filtered by `emails[]`.
#[utoipa::path(get, path = "/v1/organization/users", operation_id = "list-users", tag = "users",
    params(("after" = Option<String>, Query, description = "the previous page's `last_id`"),
           ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1 to 100, default 20"),
           ("emails[]" = Option<Vec<String>>, Query, description = "only these emails")),
    responses((status = 200, body = List<OrganizationUser>), (status = 400, body = ErrorBody)))]
pub async fn list(
    auth: Authorized<UsersRead>,
    State(state): State<AppState>,
    params: Params,
) -> ApiResult<Json<List<OrganizationUser>>> {
    let page = params.page(USER_LIMIT, None, UserId::parse)?;
    let emails = params.many("emails");
    if emails.len() > 1000 {
        return Err(Error::invalid("emails", "at most 1000 emails per request").into());
    }
    let members = state.store.list_members(auth.org(), &page, &emails).await?;
    Ok(Json(List::of(
        members,
        |m| m.user_id.as_str().to_owned(),
        OrganizationUser::from,
    )))
}

/// Provisions a member directly (attaching an existing identity); 409 if already a member.
#[utoipa::path(post, path = "/v1/organization/users", operation_id = "create-user", tag = "users", request_body = UserCreate,
    responses((status = 200, body = OrganizationUser), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    auth: Authorized<UsersWrite>,
    State(state): State<AppState>,
    Body(body): Body<UserCreate>,
) -> ApiResult<Written<OrganizationUser>> {
    let role = base_role(body.role.as_deref(), None)?.unwrap_or(SystemRole::OrgMember);
    let new = NewMember {
        email: body.email,
        name: body.name,
        role,
    };
    let (m, rev) = state
        .store
        .add_member(&auth.author(), auth.org(), new)
        .await?;
    Ok(Written(m.into(), rev))
}

/// Retrieves a member.
#[utoipa::path(get, path = "/v1/organization/users/{user_id}", operation_id = "retrieve-user", tag = "users",
    params(("user_id" = String, Path)),
    responses((status = 200, body = OrganizationUser), (status = 404, body = ErrorBody)))]
pub async fn retrieve(
    auth: Authorized<UsersRead>,
    State(state): State<AppState>,
    Path(user_id): Path<String>,
) -> ApiResult<Json<OrganizationUser>> {
    Ok(Json(
        state.store.get_member(auth.org(), &user_id).await?.into(),
    ))
}

/// Replaces a member's base role (`role` or `role_id`) and/or display name. The caller must
/// hold every permission the member holds (only owners manage owners) and, for a role change,
/// every permission of the old and the new role; the last owner stays (409).
#[utoipa::path(post, path = "/v1/organization/users/{user_id}", operation_id = "modify-user", tag = "users",
    params(("user_id" = String, Path)), request_body = UserUpdate,
    responses((status = 200, body = OrganizationUser), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update(
    auth: Authorized<UsersWrite>,
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    Body(body): Body<UserUpdate>,
) -> ApiResult<Written<OrganizationUser>> {
    let role = base_role(body.role.as_deref(), body.role_id.as_deref())?;
    let (m, rev) = state
        .store
        .update_member(&auth.author(), auth.org(), &user_id, role, body.name)
        .await?;
    Ok(Written(m.into(), rev))
}

/// Removes a member with everything they hold in the organization, the keys they minted for
/// others and their pending invitations. The caller must hold every permission the member
/// holds; the last owner stays (409).
#[utoipa::path(delete, path = "/v1/organization/users/{user_id}", operation_id = "delete-user", tag = "users",
    params(("user_id" = String, Path)),
    responses((status = 200, body = Deleted), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    auth: Authorized<UsersWrite>,
    State(state): State<AppState>,
    Path(user_id): Path<String>,
) -> ApiResult<Written<Deleted>> {
    let rev = state
        .store
        .remove_member(&auth.author(), auth.org(), &user_id)
        .await?;
    Ok(Written(
        Deleted {
            object: "organization.user.deleted",
            id: user_id,
            deleted: true,
        },
        rev,
    ))
}

/// Lists the organization roles a user holds, directly or through groups.
#[utoipa::path(get, path = "/v1/organization/users/{user_id}/roles", operation_id = "list-user-role-assignments", tag = "users",
    params(("user_id" = String, Path),
           ("after" = Option<String>, Query, description = "the previous page's `next`"),
           ("limit" = Option<i64>, Query, minimum = 0, maximum = 1000, description = "0 to 1000, default 1000"),
           ("order" = Option<String>, Query, description = "asc (default) or desc")),
    responses((status = 200, body = List<AssignedRole>), (status = 404, body = ErrorBody)))]
pub async fn list_roles(
    auth: Authorized<AssignmentsRead>,
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    params: Params,
) -> ApiResult<Json<List<AssignedRole>>> {
    let page = params.page(ROLE_LIMIT, Some(Order::Asc), RoleId::parse)?;
    let held = state
        .store
        .list_user_roles(auth.org(), &user_id, &page)
        .await?;
    Ok(Json(List::of(
        held,
        |h| h.role.id.as_str().to_owned(),
        AssignedRole::from,
    )))
}

/// Grants an organization role to a user (again: updates `expires_at`). The caller must hold
/// every permission of the role and every permission the user holds; renewing or lengthening
/// the caller's own grant counts as a new grant made without it.
#[utoipa::path(post, path = "/v1/organization/users/{user_id}/roles", operation_id = "assign-user-role", tag = "users",
    params(("user_id" = String, Path)), request_body = UserRoleCreate,
    responses((status = 200, body = UserRoleObject), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn assign_role(
    auth: Authorized<AssignmentsWrite>,
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    Body(body): Body<UserRoleCreate>,
) -> ApiResult<Written<UserRoleObject>> {
    let (role, member, rev) = state
        .store
        .assign_user_role(
            &auth.author(),
            auth.org(),
            &user_id,
            &body.role_id,
            body.expires_at,
            body.metadata,
        )
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

/// Retrieves one role as held by a user.
#[utoipa::path(get, path = "/v1/organization/users/{user_id}/roles/{role_id}", operation_id = "retrieve-user-role", tag = "users",
    params(("user_id" = String, Path), ("role_id" = String, Path)),
    responses((status = 200, body = AssignedRole), (status = 404, body = ErrorBody)))]
pub async fn retrieve_role(
    auth: Authorized<AssignmentsRead>,
    State(state): State<AppState>,
    Path((user_id, role_id)): Path<(String, String)>,
) -> ApiResult<Json<AssignedRole>> {
    Ok(Json(
        state
            .store
            .get_user_role(auth.org(), &user_id, &role_id)
            .await?
            .into(),
    ))
}

/// Revokes a user's direct grant of a role; the caller must hold every permission the user
/// holds.
#[utoipa::path(delete, path = "/v1/organization/users/{user_id}/roles/{role_id}", operation_id = "unassign-user-role", tag = "users",
    params(("user_id" = String, Path), ("role_id" = String, Path)),
    responses((status = 200, body = AssignmentDeleted), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn unassign_role(
    auth: Authorized<AssignmentsWrite>,
    State(state): State<AppState>,
    Path((user_id, role_id)): Path<(String, String)>,
) -> ApiResult<Written<AssignmentDeleted>> {
    let rev = state
        .store
        .unassign_user_role(&auth.author(), auth.org(), &user_id, &role_id)
        .await?;
    Ok(Written(
        AssignmentDeleted {
            object: "user.role.deleted",
            deleted: true,
        },
        rev,
    ))
}
