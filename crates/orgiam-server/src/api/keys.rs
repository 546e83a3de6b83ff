//! `/v1/organization/admin_api_keys` (the SDK's `admin_api_keys`) and orgiam's user keys,
//! `/v1/organization/users/{user_id}/api_keys`. A key's secret appears only in the response
//! that creates it.

use axum::extract::{Path, State};
use axum::routing::{delete, get};
use axum::{Json, Router};
use orgiam_core::ids::KeyId;
use orgiam_core::page::{LimitBounds, Order};
use orgiam_store::KeyRecord;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::wire::{Deleted, List, Written};
use crate::auth::{AdminKeysRead, AdminKeysWrite, Authorized, UsersRead, UsersWrite};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Params};
use crate::state::AppState;

/// `limit` of the key lists: 1 to 100, default 20 (the SDK documents no bounds).
pub const KEY_LIMIT: LimitBounds = LimitBounds {
    min: 1,
    max: 100,
    default: 20,
};

/// Body of `admin_api_keys.create` and of the user key route.
#[derive(Deserialize, ToSchema)]
pub struct KeyCreate {
    /// Display name, 1 to 256 characters.
    pub name: String,
    /// Lifetime in seconds (1 to ten years); omit (and `expires_at`) for a key that does not
    /// expire.
    #[serde(default)]
    pub expires_in_seconds: Option<i64>,
    /// When the key stops working (Unix seconds, in the future, at most ten years ahead); an
    /// alternative to `expires_in_seconds` (not both).
    #[serde(default)]
    pub expires_at: Option<i64>,
}

impl KeyCreate {
    /// The key's lifetime in seconds from either field (400 if both are given or `expires_at`
    /// is not in the future).
    fn lifetime(&self) -> orgiam_core::Result<Option<i64>> {
        match (self.expires_in_seconds, self.expires_at) {
            (Some(_), Some(_)) => Err(orgiam_core::Error::invalid(
                "expires_at",
                "give expires_at or expires_in_seconds, not both",
            )),
            (s, None) => Ok(s),
            (None, Some(at)) => {
                let s = at.saturating_sub(orgiam_core::now_unix());
                if s < 1 {
                    return Err(orgiam_core::Error::invalid(
                        "expires_at",
                        format!("expires_at must be in the future, not {at}"),
                    ));
                }
                Ok(Some(s))
            }
        }
    }
}

/// The member a key acts as (the SDK's `Owner`).
#[derive(Serialize, ToSchema)]
pub struct KeyOwner {
    /// Always `organization.user`.
    pub object: &'static str,
    /// Always `user`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `user_…`
    pub id: String,
    /// Display name in this organization.
    pub name: Option<String>,
    /// Email.
    pub email: String,
    /// The member's base role (`owner` for every admin key of an owner).
    pub role: &'static str,
    /// When the identity was created (Unix seconds).
    pub created_at: i64,
}

/// An API key (`organization.admin_api_key`, or `organization.user.api_key` for user keys).
#[derive(Serialize, ToSchema)]
pub struct ApiKeyObject {
    /// `organization.admin_api_key` or `organization.user.api_key`.
    pub object: &'static str,
    /// `key_…`
    pub id: String,
    /// Display name.
    pub name: String,
    /// `sk-admin-AbCd…wxyz`
    pub redacted_value: String,
    /// Unix seconds.
    pub created_at: i64,
    /// When the key was last used (Unix seconds; recorded within a few seconds).
    pub last_used_at: Option<i64>,
    /// When the key stops working (Unix seconds), if ever.
    pub expires_at: Option<i64>,
    /// The member the key acts as.
    pub owner: KeyOwner,
    /// The secret: only in the response that creates the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl ApiKeyObject {
    pub(crate) fn render(r: KeyRecord, value: Option<String>) -> Self {
        let object = match r.key.kind {
            orgiam_core::keys::KeyKind::Admin => "organization.admin_api_key",
            _ => "organization.user.api_key",
        };
        ApiKeyObject {
            object,
            id: r.key.id.into_string(),
            name: r.key.name,
            redacted_value: r.key.redacted_value,
            created_at: r.key.created_at,
            last_used_at: r.key.last_used_at,
            expires_at: r.key.expires_at,
            owner: KeyOwner {
                object: "organization.user",
                kind: "user",
                id: r.owner.user_id.into_string(),
                name: r.owner.name,
                email: r.owner.email,
                role: r.owner.role.name(),
                created_at: r.owner.added_at,
            },
            value,
        }
    }
}

impl From<KeyRecord> for ApiKeyObject {
    fn from(r: KeyRecord) -> Self {
        ApiKeyObject::render(r, None)
    }
}

/// Lists the organization's admin keys (the SDK pages with the last item's id).
#[utoipa::path(get, path = "/v1/organization/admin_api_keys", operation_id = "admin-api-keys-list", tag = "admin_api_keys",
    params(("after" = Option<String>, Query, description = "the last key id of the previous page"),
           ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1 to 100, default 20"),
           ("order" = Option<String>, Query, description = "asc (default) or desc, by creation")),
    responses((status = 200, body = List<ApiKeyObject>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    auth: Authorized<AdminKeysRead>,
    State(state): State<AppState>,
    params: Params,
) -> ApiResult<Json<List<ApiKeyObject>>> {
    let page = params.page(KEY_LIMIT, Some(Order::Asc), KeyId::parse)?;
    let keys = state.store.list_admin_keys(auth.org(), &page).await?;
    Ok(Json(List::of(
        keys,
        |k| k.key.id.as_str().to_owned(),
        ApiKeyObject::from,
    )))
}

/// Creates an admin key acting as the caller, who must be an owner; `value` is shown once.
#[utoipa::path(post, path = "/v1/organization/admin_api_keys", operation_id = "admin-api-keys-create", tag = "admin_api_keys", request_body = KeyCreate,
    responses((status = 200, body = ApiKeyObject), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create(
    auth: Authorized<AdminKeysWrite>,
    State(state): State<AppState>,
    Body(body): Body<KeyCreate>,
) -> ApiResult<Written<ApiKeyObject>> {
    let (record, secret, rev) = state
        .store
        .create_admin_key(&auth.author(), auth.org(), &body.name, body.lifetime()?)
        .await?;
    Ok(Written(ApiKeyObject::render(record, Some(secret)), rev))
}

/// Retrieves an admin key (never its secret).
#[utoipa::path(get, path = "/v1/organization/admin_api_keys/{key_id}", operation_id = "admin-api-keys-get", tag = "admin_api_keys",
    params(("key_id" = String, Path)),
    responses((status = 200, body = ApiKeyObject), (status = 404, body = ErrorBody)))]
pub async fn retrieve(
    auth: Authorized<AdminKeysRead>,
    State(state): State<AppState>,
    Path(key_id): Path<String>,
) -> ApiResult<Json<ApiKeyObject>> {
    Ok(Json(
        state.store.get_admin_key(auth.org(), &key_id).await?.into(),
    ))
}

/// Deletes an admin key: it fails from its next request on.
#[utoipa::path(delete, path = "/v1/organization/admin_api_keys/{key_id}", operation_id = "admin-api-keys-delete", tag = "admin_api_keys",
    params(("key_id" = String, Path)),
    responses((status = 200, body = Deleted), (status = 404, body = ErrorBody)))]
pub async fn delete_key(
    auth: Authorized<AdminKeysWrite>,
    State(state): State<AppState>,
    Path(key_id): Path<String>,
) -> ApiResult<Written<Deleted>> {
    let rev = state
        .store
        .delete_admin_key(&auth.author(), auth.org(), &key_id)
        .await?;
    Ok(Written(
        Deleted {
            object: "organization.admin_api_key.deleted",
            id: key_id,
            deleted: true,
        },
        rev,
    ))
}

/// Lists a member's user keys, by id.
#[utoipa::path(get, path = "/v1/organization/users/{user_id}/api_keys", operation_id = "list-user-api-keys", tag = "users",
    params(("user_id" = String, Path),
           ("after" = Option<String>, Query, description = "the previous page's `last_id`"),
           ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1 to 100, default 20"),
           ("order" = Option<String>, Query, description = "asc (default) or desc")),
    responses((status = 200, body = List<ApiKeyObject>), (status = 404, body = ErrorBody)))]
pub async fn list_user_keys(
    auth: Authorized<UsersRead>,
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    params: Params,
) -> ApiResult<Json<List<ApiKeyObject>>> {
    let page = params.page(KEY_LIMIT, Some(Order::Asc), KeyId::parse)?;
    let keys = state
        .store
        .list_user_keys(auth.org(), &user_id, &page)
        .await?;
    Ok(Json(List::of(
        keys,
        |k| k.key.id.as_str().to_owned(),
        ApiKeyObject::from,
    )))
}

/// Mints an `sk-user-…` key acting as the member; the caller must hold every permission the
/// member holds. Minted for someone else, the key acts with the intersection of both users'
/// current permissions and dies with either membership. `value` is shown once.
#[utoipa::path(post, path = "/v1/organization/users/{user_id}/api_keys", operation_id = "create-user-api-key", tag = "users",
    params(("user_id" = String, Path)), request_body = KeyCreate,
    responses((status = 200, body = ApiKeyObject), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create_user_key(
    auth: Authorized<UsersWrite>,
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    Body(body): Body<KeyCreate>,
) -> ApiResult<Written<ApiKeyObject>> {
    let (record, secret, rev) = state
        .store
        .create_user_key(
            &auth.author(),
            auth.org(),
            &user_id,
            &body.name,
            body.lifetime()?,
        )
        .await?;
    Ok(Written(ApiKeyObject::render(record, Some(secret)), rev))
}

/// Revokes one of a member's user keys; the caller must hold every permission the member
/// holds.
#[utoipa::path(delete, path = "/v1/organization/users/{user_id}/api_keys/{key_id}", operation_id = "delete-user-api-key", tag = "users",
    params(("user_id" = String, Path), ("key_id" = String, Path)),
    responses((status = 200, body = Deleted), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_user_key(
    auth: Authorized<UsersWrite>,
    State(state): State<AppState>,
    Path((user_id, key_id)): Path<(String, String)>,
) -> ApiResult<Written<Deleted>> {
    let rev = state
        .store
        .delete_user_key(&auth.author(), auth.org(), &user_id, &key_id)
        .await?;
    Ok(Written(
        Deleted {
            object: "organization.user.api_key.deleted",
            id: key_id,
            deleted: true,
        },
        rev,
    ))
}

/// The OpenAPI paths of this family.
#[derive(OpenApi)]
#[openapi(paths(
    list,
    create,
    retrieve,
    delete_key,
    list_user_keys,
    create_user_key,
    delete_user_key
))]
pub struct Doc;

/// The routes of this family.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/organization/admin_api_keys", get(list).post(create))
        .route(
            "/v1/organization/admin_api_keys/{key_id}",
            get(retrieve).delete(delete_key),
        )
        .route(
            "/v1/organization/users/{user_id}/api_keys",
            get(list_user_keys).post(create_user_key),
        )
        .route(
            "/v1/organization/users/{user_id}/api_keys/{key_id}",
            delete(delete_user_key),
        )
}
