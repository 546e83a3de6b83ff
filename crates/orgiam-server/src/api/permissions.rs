//! The permission catalog and the permission check: `/v1/organization/permissions…` and a
//! user's effective permissions. Checks are answered by the engine's snapshot of the caller's
//! organization, at least as new as `at_least_revision` when one is given.

use axum::Json;
use axum::extract::{Path, State};
use orgiam_authz::{Reason, Snapshot, Via};
use orgiam_core::page::{LimitBounds, Order, Page};
use orgiam_core::validate::{self, quote};
use orgiam_core::{Error, Result, now_unix};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::wire::{List, Written};
use crate::auth::{AnyKey, Authorized, PermissionsCheck, RolesRead, RolesWrite, UsersRead};
use crate::error::{ApiResult, ErrorBody, ErrorDetail};
use crate::extract::{Body, Params};
use crate::state::AppState;

/// `limit` of the catalog and of a permission's users: 1 to 1,000, default 100.
pub(crate) const LIMIT: LimitBounds = LimitBounds {
    min: 1,
    max: 1000,
    default: 100,
};

/// Most checks in one batch.
pub const MAX_BATCH: usize = 1000;

/// The OpenAPI paths of this family.
#[derive(OpenApi)]
#[openapi(paths(
    list,
    create,
    delete,
    check,
    check_batch,
    user_permissions,
    permission_users
))]
pub struct Doc;

/// A permission of the catalog.
#[derive(Serialize, ToSchema)]
pub struct PermissionObject {
    /// Always `permission`.
    pub object: &'static str,
    /// `perm_…`
    pub id: String,
    /// The name roles refer to.
    pub name: String,
    /// What it allows.
    pub description: Option<String>,
    /// `api.organization` or `api.project`.
    pub resource_type: String,
    /// Whether it is one of orgiam's own.
    pub builtin: bool,
    /// Whether it is a platform one: defined for every organization, read-only to each.
    pub platform: bool,
    /// Unix seconds.
    pub created_at: i64,
}

impl From<orgiam_store::Permission> for PermissionObject {
    fn from(p: orgiam_store::Permission) -> Self {
        PermissionObject {
            object: "permission",
            id: p.id,
            name: p.name,
            description: p.description,
            resource_type: p.resource_type,
            builtin: p.builtin,
            platform: p.platform,
            created_at: p.created_at,
        }
    }
}

/// Body of the permission registration.
#[derive(Deserialize, ToSchema)]
pub struct PermissionCreate {
    /// `[a-z0-9_.:-]{1,128}`, not starting with `api.`.
    pub name: String,
    /// What it allows.
    #[serde(default)]
    pub description: Option<String>,
    /// `api.organization` (default) or `api.project`.
    #[serde(default)]
    pub resource_type: Option<String>,
}

/// One question: may `user_id` do `permission` (in `project_id`)?
#[derive(Deserialize, ToSchema, Clone)]
pub struct CheckRequest {
    /// The user.
    pub user_id: String,
    /// The permission name.
    pub permission: String,
    /// Ask inside this project (organization-level grants apply there too).
    #[serde(default)]
    pub project_id: Option<String>,
    /// Answer from a snapshot at least this new (the `Orgiam-Revision` a write returned).
    #[serde(default)]
    pub at_least_revision: Option<i64>,
}

/// Many questions at once.
#[derive(Deserialize, ToSchema)]
pub struct CheckBatchRequest {
    /// At most 1,000 checks.
    pub checks: Vec<CheckRequest>,
    /// Answer from a snapshot at least this new.
    #[serde(default)]
    pub at_least_revision: Option<i64>,
}

/// One grant that carries a permission.
#[derive(Serialize, ToSchema)]
pub struct ReasonObject {
    /// The role.
    pub role_id: String,
    /// Its name.
    pub role_name: String,
    /// `direct` or `group`.
    pub via: &'static str,
    /// The group, when `via` is `group`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// `organization` or `project`.
    pub scope: &'static str,
    /// The project, when `scope` is `project`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
}

impl From<Reason> for ReasonObject {
    fn from(r: Reason) -> Self {
        let (via, group_id) = match r.via {
            Via::Direct => ("direct", None),
            Via::Group(g) => ("group", Some(g)),
        };
        ReasonObject {
            role_id: r.role_id,
            role_name: r.role_name,
            via,
            group_id,
            scope: if r.project_id.is_some() {
                "project"
            } else {
                "organization"
            },
            project_id: r.project_id,
        }
    }
}

/// A decision with its reasons.
#[derive(Serialize, ToSchema)]
pub struct CheckObject {
    /// Always `permission.check`.
    pub object: &'static str,
    /// Whether the user holds the permission.
    pub allowed: bool,
    /// The user asked about.
    pub user_id: String,
    /// The permission asked about.
    pub permission: String,
    /// The project asked about, if any.
    pub project_id: Option<String>,
    /// Every grant that carries the permission (empty when denied).
    pub reasons: Vec<ReasonObject>,
    /// Why the answer is `false` whatever the grants, when there is such a reason: the project
    /// asked about is archived (archived projects grant nothing, through any role).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denied_reason: Option<String>,
    /// The organization revision the answer reflects.
    pub revision: i64,
    /// In a batch only: why this check could not be answered (an unknown permission, user or
    /// project; a malformed name), in OpenAI's error shape with `param` naming the item
    /// (`checks[3].permission`). `allowed` is then false and `reasons` empty; the other
    /// checks of the batch are answered as usual.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}

/// The batch's answers, in the order asked.
#[derive(Serialize, ToSchema)]
pub struct CheckList {
    /// Always `list`.
    pub object: &'static str,
    /// One answer per check.
    pub data: Vec<CheckObject>,
    /// The organization revision the answers reflect.
    pub revision: i64,
}

/// One permission a user holds, with where it comes from.
#[derive(Serialize, ToSchema)]
pub struct HeldPermission {
    /// Always `user.permission`.
    pub object: &'static str,
    /// The permission.
    pub permission: String,
    /// The grants that carry it.
    pub reasons: Vec<ReasonObject>,
}

/// A user holding a permission.
#[derive(Serialize, ToSchema)]
pub struct PermissionUser {
    /// Always `permission.user`.
    pub object: &'static str,
    /// `user_…`
    pub id: String,
    /// The user's email.
    pub email: String,
    /// The user's display name in this organization.
    pub name: Option<String>,
}

/// 400 for a batch of more than [`MAX_BATCH`] checks.
pub(crate) fn check_batch_size(n: usize) -> Result<()> {
    if n > MAX_BATCH {
        return Err(Error::invalid(
            "checks",
            format!("at most {MAX_BATCH} checks per batch, not {n}"),
        ));
    }
    Ok(())
}

/// Validates one check against the snapshot; `param` prefixes error parameters.
pub(crate) fn validate_check(snap: &Snapshot, c: &CheckRequest, param: &str) -> Result<()> {
    let p = |f: &str| {
        if param.is_empty() {
            f.to_owned()
        } else {
            format!("{param}.{f}")
        }
    };
    validate::permission_name(&p("permission"), &c.permission)?;
    if !snap.knows_permission(&c.permission) {
        return Err(Error::invalid_code(
            "unknown_permission",
            p("permission"),
            format!(
                "permission '{}' does not exist in this organization",
                quote(&c.permission)
            ),
        ));
    }
    if !snap.has_user(&c.user_id) {
        return Err(Error::not_found("user", &c.user_id).with_param(p("user_id")));
    }
    if let Some(pr) = &c.project_id {
        if !snap.knows_project(pr) {
            return Err(Error::not_found("project", pr).with_param(p("project_id")));
        }
    }
    Ok(())
}

/// Any key may ask about its own principal; asking about anyone else needs
/// `api.permissions.check` (403 `missing_permission` otherwise).
fn ensure_may_ask_about<P>(auth: &Authorized<P>, user_id: &str, param: &str) -> Result<()> {
    if user_id == auth.actor.user_id.as_str() {
        return Ok(());
    }
    auth.require(PermissionsCheck::PERMISSION).map_err(|e| {
        Error {
            message: format!(
                "{}; without it a key may only ask about its own user ('{}')",
                e.message,
                auth.actor.user_id.as_str()
            ),
            ..e
        }
        .with_param(param)
    })
}

pub(crate) fn answer(snap: &Snapshot, c: CheckRequest, now: i64) -> CheckObject {
    let d = snap.explain(&c.user_id, &c.permission, c.project_id.as_deref(), now);
    let denied_reason = c
        .project_id
        .as_deref()
        .filter(|p| snap.project_archived(p))
        .map(|p| format!("project '{p}' is archived; archived projects grant nothing"));
    CheckObject {
        denied_reason,
        object: "permission.check",
        allowed: d.allowed,
        user_id: c.user_id,
        permission: c.permission,
        project_id: c.project_id,
        reasons: d.reasons.into_iter().map(ReasonObject::from).collect(),
        revision: snap.revision(),
        error: None,
    }
}

/// A batch item that could not be answered: denied, with why.
fn refused(snap: &Snapshot, c: CheckRequest, e: Error) -> CheckObject {
    CheckObject {
        object: "permission.check",
        allowed: false,
        user_id: c.user_id,
        permission: c.permission,
        project_id: c.project_id,
        reasons: Vec::new(),
        denied_reason: None,
        revision: snap.revision(),
        error: Some(ErrorDetail::of(e)),
    }
}

/// Lists the permission catalog: the built-in ones and the organization's own, by name.
#[utoipa::path(get, path = "/v1/organization/permissions", operation_id = "list-permissions", tag = "permissions",
    params(("after" = Option<String>, Query, description = "the previous page's `next`"),
           ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "1 to 1000, default 100")),
    responses((status = 200, body = List<PermissionObject>), (status = 400, body = ErrorBody)))]
pub async fn list(
    auth: Authorized<RolesRead>,
    State(state): State<AppState>,
    params: Params,
) -> ApiResult<Json<List<PermissionObject>>> {
    let page = params.page(LIMIT, None, |s| validate::permission_name("after", s).ok())?;
    let perms = state.store.list_permissions(auth.org(), &page).await?;
    Ok(Json(List::of(
        perms,
        |p| p.name.clone(),
        PermissionObject::from,
    )))
}

/// Registers one of the organization's own permissions.
#[utoipa::path(post, path = "/v1/organization/permissions", operation_id = "create-permission", tag = "permissions", request_body = PermissionCreate,
    responses((status = 200, body = PermissionObject), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    auth: Authorized<RolesWrite>,
    State(state): State<AppState>,
    Body(body): Body<PermissionCreate>,
) -> ApiResult<Written<PermissionObject>> {
    let (p, rev) = state
        .store
        .create_permission(
            &auth.author(),
            auth.org(),
            &body.name,
            body.description.as_deref(),
            body.resource_type.as_deref(),
        )
        .await?;
    Ok(Written(p.into(), rev))
}

/// Deletes one of the organization's own permissions; 409 while a role holds it.
#[utoipa::path(delete, path = "/v1/organization/permissions/{permission}", operation_id = "delete-permission", tag = "permissions",
    params(("permission" = String, Path)),
    responses((status = 200, body = super::wire::Deleted), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    auth: Authorized<RolesWrite>,
    State(state): State<AppState>,
    Path(permission): Path<String>,
) -> ApiResult<Written<super::wire::Deleted>> {
    let rev = state
        .store
        .delete_permission(&auth.author(), auth.org(), &permission)
        .await?;
    Ok(Written(
        super::wire::Deleted {
            object: "permission.deleted",
            id: permission,
            deleted: true,
        },
        rev,
    ))
}

/// May this user do this (here)? With the grants that say so. Any key may ask about its own
/// user; asking about another user needs `api.permissions.check`.
#[utoipa::path(post, path = "/v1/organization/permissions/check", operation_id = "check-permission", tag = "permissions", request_body = CheckRequest,
    responses((status = 200, body = CheckObject), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn check(
    auth: Authorized<AnyKey>,
    State(state): State<AppState>,
    Body(body): Body<CheckRequest>,
) -> ApiResult<Json<CheckObject>> {
    let snap = state
        .engine
        .snapshot(auth.org(), body.at_least_revision.unwrap_or(0))
        .await?;
    ensure_may_ask_about(&auth, &body.user_id, "user_id")?;
    validate_check(&snap, &body, "")?;
    Ok(Json(answer(&snap, body, now_unix())))
}

/// Up to 1,000 checks answered in order from one snapshot. A check that cannot be answered
/// (an unknown permission, user or project) carries its own `error` and the others are
/// answered regardless; only a malformed or oversized batch fails as a whole, and so does one
/// asking about another user than the key's own without `api.permissions.check` (403).
#[utoipa::path(post, path = "/v1/organization/permissions/check_batch", operation_id = "check-permissions-batch", tag = "permissions", request_body = CheckBatchRequest,
    responses((status = 200, body = CheckList), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn check_batch(
    auth: Authorized<AnyKey>,
    State(state): State<AppState>,
    Body(body): Body<CheckBatchRequest>,
) -> ApiResult<Json<CheckList>> {
    check_batch_size(body.checks.len())?;
    let at_least = body
        .checks
        .iter()
        .filter_map(|c| c.at_least_revision)
        .chain(body.at_least_revision)
        .max();
    let snap = state
        .engine
        .snapshot(auth.org(), at_least.unwrap_or(0))
        .await?;
    for (i, c) in body.checks.iter().enumerate() {
        ensure_may_ask_about(&auth, &c.user_id, &format!("checks[{i}].user_id"))?;
    }
    let now = now_unix();
    let data = body
        .checks
        .into_iter()
        .enumerate()
        .map(
            |(i, c)| match validate_check(&snap, &c, &format!("checks[{i}]")) {
                Ok(()) => answer(&snap, c, now),
                Err(e) => refused(&snap, c, e),
            },
        )
        .collect();
    Ok(Json(CheckList {
        object: "list",
        data,
        revision: snap.revision(),
    }))
}

/// A user's effective permissions (in `project_id`, or at organization level) with where each
/// comes from. Any key may list its own user's; another user's need `api.permissions.check`.
#[utoipa::path(get, path = "/v1/organization/users/{user_id}/permissions", operation_id = "list-user-permissions", tag = "permissions",
    params(("user_id" = String, Path), ("project_id" = Option<String>, Query)),
    responses((status = 200, body = List<HeldPermission>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn user_permissions(
    auth: Authorized<AnyKey>,
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    params: Params,
) -> ApiResult<Json<List<HeldPermission>>> {
    let snap = state
        .engine
        .snapshot(auth.org(), params.int("at_least_revision")?.unwrap_or(0))
        .await?;
    ensure_may_ask_about(&auth, &user_id, "user_id")?;
    if !snap.has_user(&user_id) {
        return Err(Error::not_found("user", &user_id).into());
    }
    let project = params.one("project_id");
    if let Some(p) = project {
        if !snap.knows_project(p) {
            return Err(Error::not_found("project", p)
                .with_param("project_id")
                .into());
        }
    }
    let items = snap.effective(&user_id, project, now_unix());
    let page = Page {
        items,
        has_more: false,
    };
    Ok(Json(List::of(
        page,
        |(p, _)| p.clone(),
        |(permission, reasons)| HeldPermission {
            object: "user.permission",
            permission,
            reasons: reasons.into_iter().map(ReasonObject::from).collect(),
        },
    )))
}

/// The users who hold a permission (in `project_id`, or at organization level), by id. Needs
/// `api.permissions.check` and `api.users.read`.
#[utoipa::path(get, path = "/v1/organization/permissions/{permission}/users", operation_id = "list-permission-users", tag = "permissions",
    params(("permission" = String, Path), ("project_id" = Option<String>, Query),
           ("after" = Option<String>, Query, description = "the previous page's `next`"),
           ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "1 to 1000, default 100")),
    responses((status = 200, body = List<PermissionUser>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn permission_users(
    auth: Authorized<PermissionsCheck>,
    State(state): State<AppState>,
    Path(permission): Path<String>,
    params: Params,
) -> ApiResult<Json<List<PermissionUser>>> {
    auth.require(UsersRead::PERMISSION)?;
    let page = params.page(LIMIT, Some(Order::Asc), orgiam_core::ids::UserId::parse)?;
    let snap = state
        .engine
        .snapshot(auth.org(), params.int("at_least_revision")?.unwrap_or(0))
        .await?;
    if !snap.knows_permission(&permission) {
        return Err(Error::not_found("permission", &permission).into());
    }
    let project = params.one("project_id");
    if let Some(p) = project {
        if !snap.knows_project(p) {
            return Err(Error::not_found("project", p)
                .with_param("project_id")
                .into());
        }
    }
    let mut users = snap.users_with(&permission, project, now_unix());
    if page.order == Order::Desc {
        users.reverse();
    }
    let start = match &page.after {
        None => 0,
        Some(a) => match page.order {
            Order::Asc => users.partition_point(|u| u.as_str() <= a.as_str()),
            Order::Desc => users.partition_point(|u| u.as_str() >= a.as_str()),
        },
    };
    let rest: Vec<String> = users
        .into_iter()
        .skip(start)
        .take(page.limit as usize + 1)
        .collect();
    let page = Page::from_overfetch(rest, page.limit);
    // the page's emails and names, in one read
    let members = state.store.members_by_ids(auth.org(), &page.items).await?;
    let found = |id: &str| {
        members
            .binary_search_by(|m| m.user_id.as_str().cmp(id))
            .ok()
            .map(|i| &members[i])
    };
    let page = Page {
        items: page
            .items
            .iter()
            .filter_map(|id| found(id))
            .collect::<Vec<_>>(),
        has_more: page.has_more,
    };
    Ok(Json(List::of(
        page,
        |m| m.user_id.as_str().to_owned(),
        |m| PermissionUser {
            object: "permission.user",
            id: m.user_id.as_str().to_owned(),
            email: m.email.clone(),
            name: m.name.clone(),
        },
    )))
}
