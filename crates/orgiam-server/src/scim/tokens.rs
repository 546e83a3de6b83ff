//! `/v1/organization/scim_tokens`: the tokens an identity provider uses on `/scim/v2`. A
//! token's secret (`sk-scim-…`) appears only in the response that creates it. Making, listing
//! and revoking tokens needs both `api.users.write` and `api.groups.write`, since a token
//! changes members and groups with its maker's authority.

use axum::extract::{Path, State};
use axum::routing::{delete, get};
use axum::{Json, Router};
use orgiam_core::catalog::{ResourceType, SystemRole};
use orgiam_core::ids::KeyId;
use orgiam_core::page::{LimitBounds, Order};
use orgiam_core::validate::quote;
use orgiam_core::{Error, now_unix};
use orgiam_store::ScimToken;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use crate::api::wire::{Deleted, List, Written};
use crate::auth::{Authorized, GroupsWrite, UsersWrite};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Params};
use crate::state::AppState;

const TOKEN_LIMIT: LimitBounds = LimitBounds {
    min: 1,
    max: 100,
    default: 20,
};

/// Body of the token create route.
#[derive(Deserialize, ToSchema)]
pub struct ScimTokenCreate {
    /// A label, 1 to 256 characters (`Okta`, `Entra ID`).
    pub name: String,
    /// Base role of the members the token creates: `owner`, `admin`, `member` (default) or
    /// `reader`; you must hold all of it.
    #[serde(default)]
    pub default_role: Option<String>,
}

/// A SCIM token.
#[derive(Serialize, ToSchema)]
pub struct ScimTokenObject {
    /// Always `organization.scim_token`.
    pub object: &'static str,
    /// `key_…`
    pub id: String,
    /// The label.
    pub name: String,
    /// `sk-scim-AbCd…wxyz`
    pub redacted_value: String,
    /// Base role of the members the token creates.
    pub default_role: &'static str,
    /// The member whose authority the token acts with (`user_…`).
    pub created_by: String,
    /// Unix seconds.
    pub created_at: i64,
    /// The secret: only in the response that creates the token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl ScimTokenObject {
    fn render(t: ScimToken, value: Option<String>) -> Self {
        ScimTokenObject {
            object: "organization.scim_token",
            id: t.id.into_string(),
            name: t.name,
            redacted_value: t.redacted_value,
            default_role: t.default_role.name(),
            created_by: t.created_by.into_string(),
            created_at: t.created_at,
            value,
        }
    }
}

/// The caller must hold `api.groups.write` as well as the route's `api.users.write`.
fn also_groups_write(auth: &Authorized<UsersWrite>) -> Result<(), Error> {
    if auth.view.snapshot.check(
        auth.actor.user_id.as_str(),
        GroupsWrite::PERMISSION,
        None,
        now_unix(),
    ) {
        Ok(())
    } else {
        Err(Error::missing_permission(GroupsWrite::PERMISSION))
    }
}

/// Lists the organization's SCIM tokens, by id.
#[utoipa::path(get, path = "/v1/organization/scim_tokens", operation_id = "list-scim-tokens", tag = "scim",
    params(("after" = Option<String>, Query, description = "the previous page's `last_id`"),
           ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1 to 100, default 20"),
           ("order" = Option<String>, Query, description = "asc (default) or desc")),
    responses((status = 200, body = List<ScimTokenObject>), (status = 403, body = ErrorBody)))]
pub async fn list(
    auth: Authorized<UsersWrite>,
    State(state): State<AppState>,
    params: Params,
) -> ApiResult<Json<List<ScimTokenObject>>> {
    also_groups_write(&auth)?;
    let page = params.page(TOKEN_LIMIT, Some(Order::Asc), KeyId::parse)?;
    let tokens = state.store.list_scim_tokens(auth.org(), &page).await?;
    Ok(Json(List::of(
        tokens,
        |t| t.id.as_str().to_owned(),
        |t| ScimTokenObject::render(t, None),
    )))
}

/// Creates a SCIM token acting with the caller's authority; `value` is shown once.
#[utoipa::path(post, path = "/v1/organization/scim_tokens", operation_id = "create-scim-token", tag = "scim", request_body = ScimTokenCreate,
    responses((status = 200, body = ScimTokenObject), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create(
    auth: Authorized<UsersWrite>,
    State(state): State<AppState>,
    Body(body): Body<ScimTokenCreate>,
) -> ApiResult<Written<ScimTokenObject>> {
    also_groups_write(&auth)?;
    let role = match body.default_role.as_deref() {
        None => SystemRole::OrgMember,
        Some(n) => SystemRole::by_name(ResourceType::Organization, n).ok_or_else(|| {
            Error::invalid(
                "default_role",
                format!(
                    "default_role must be one of owner, admin, member, reader, not '{}'",
                    quote(n)
                ),
            )
        })?,
    };
    let (token, secret, rev) = state
        .store
        .create_scim_token(&auth.author(), auth.org(), &body.name, role)
        .await?;
    Ok(Written(ScimTokenObject::render(token, Some(secret)), rev))
}

/// Revokes a SCIM token: it fails from its next request on.
#[utoipa::path(delete, path = "/v1/organization/scim_tokens/{token_id}", operation_id = "delete-scim-token", tag = "scim",
    params(("token_id" = String, Path)),
    responses((status = 200, body = Deleted), (status = 404, body = ErrorBody)))]
pub async fn revoke(
    auth: Authorized<UsersWrite>,
    State(state): State<AppState>,
    Path(token_id): Path<String>,
) -> ApiResult<Written<Deleted>> {
    also_groups_write(&auth)?;
    let rev = state
        .store
        .delete_scim_token(&auth.author(), auth.org(), &token_id)
        .await?;
    Ok(Written(
        Deleted {
            object: "organization.scim_token.deleted",
            id: token_id,
            deleted: true,
        },
        rev,
    ))
}

/// The token routes' OpenAPI paths.
#[derive(OpenApi)]
#[openapi(paths(list, create, revoke))]
pub struct Doc;

/// The token routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/organization/scim_tokens", get(list).post(create))
        .route("/v1/organization/scim_tokens/{token_id}", delete(revoke))
}
