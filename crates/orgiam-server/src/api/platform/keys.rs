//! `/v1/platform/api_keys`: platform keys (`sk-platform-…`), minted, listed and revoked with
//! the root key only. A key's secret appears only in the response that creates it.

use axum::Json;
use axum::extract::{Path, State};
use orgiam_core::ids::KeyId;
use orgiam_core::page::Order;
use orgiam_store::PlatformKey;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::keys::KEY_LIMIT;
use crate::api::wire::{Deleted, List};
use crate::auth::{Platform, RootOnly};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Params};
use crate::state::AppState;

/// Body of the platform key creation.
#[derive(Deserialize, ToSchema)]
pub struct PlatformKeyCreate {
    /// Display name, 1 to 256 characters.
    pub name: String,
    /// Platform permissions: `platform.organizations.read`, `platform.organizations.write`,
    /// `platform.catalog.write`, `platform.check`, `platform.audit_logs.read`.
    pub permissions: Vec<String>,
}

/// A platform key (`object: "platform.api_key"`).
#[derive(Serialize, ToSchema)]
pub struct PlatformKeyObject {
    /// Always `platform.api_key`.
    pub object: &'static str,
    /// `key_…`
    pub id: String,
    /// Display name.
    pub name: String,
    /// `sk-platform-AbCd…wxyz`
    pub redacted_value: String,
    /// Its platform permissions.
    pub permissions: Vec<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// The secret: only in the response that creates the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl PlatformKeyObject {
    fn render(k: PlatformKey, value: Option<String>) -> Self {
        PlatformKeyObject {
            object: "platform.api_key",
            id: k.id.into_string(),
            name: k.name,
            redacted_value: k.redacted_value,
            permissions: k.permissions,
            created_at: k.created_at,
            value,
        }
    }
}

/// Lists the platform keys, by id (root key only).
#[utoipa::path(get, path = "/v1/platform/api_keys", operation_id = "list-platform-api-keys", tag = "platform",
    params(("after" = Option<String>, Query, description = "the previous page's `last_id`"),
           ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1 to 100, default 20"),
           ("order" = Option<String>, Query, description = "asc (default) or desc")),
    responses((status = 200, body = List<PlatformKeyObject>), (status = 400, body = ErrorBody)))]
pub async fn list(
    _auth: Platform<RootOnly>,
    State(state): State<AppState>,
    params: Params,
) -> ApiResult<Json<List<PlatformKeyObject>>> {
    let page = params.page(KEY_LIMIT, Some(Order::Asc), KeyId::parse)?;
    let keys = state.store.list_platform_keys(&page).await?;
    Ok(Json(List::of(
        keys,
        |k| k.id.as_str().to_owned(),
        |k| PlatformKeyObject::render(k, None),
    )))
}

/// Mints a platform key (root key only); `value` is shown once.
#[utoipa::path(post, path = "/v1/platform/api_keys", operation_id = "create-platform-api-key", tag = "platform", request_body = PlatformKeyCreate,
    responses((status = 200, body = PlatformKeyObject), (status = 400, body = ErrorBody)))]
pub async fn create(
    auth: Platform<RootOnly>,
    State(state): State<AppState>,
    Body(body): Body<PlatformKeyCreate>,
) -> ApiResult<Json<PlatformKeyObject>> {
    let (key, secret) = state
        .store
        .create_platform_key(&auth.actor, &body.name, &body.permissions)
        .await?;
    Ok(Json(PlatformKeyObject::render(key, Some(secret))))
}

/// Retrieves a platform key (never its secret; root key only).
#[utoipa::path(get, path = "/v1/platform/api_keys/{key_id}", operation_id = "retrieve-platform-api-key", tag = "platform",
    params(("key_id" = String, Path)),
    responses((status = 200, body = PlatformKeyObject), (status = 404, body = ErrorBody)))]
pub async fn retrieve(
    _auth: Platform<RootOnly>,
    State(state): State<AppState>,
    Path(key_id): Path<String>,
) -> ApiResult<Json<PlatformKeyObject>> {
    let key = state.store.get_platform_key(&key_id).await?;
    Ok(Json(PlatformKeyObject::render(key, None)))
}

/// Revokes a platform key: it fails from its next request on, in every process.
#[utoipa::path(delete, path = "/v1/platform/api_keys/{key_id}", operation_id = "delete-platform-api-key", tag = "platform",
    params(("key_id" = String, Path)),
    responses((status = 200, body = Deleted), (status = 404, body = ErrorBody)))]
pub async fn delete(
    auth: Platform<RootOnly>,
    State(state): State<AppState>,
    Path(key_id): Path<String>,
) -> ApiResult<Json<Deleted>> {
    state
        .store
        .delete_platform_key(&auth.actor, &key_id)
        .await?;
    Ok(Json(Deleted {
        object: "platform.api_key.deleted",
        id: key_id,
        deleted: true,
    }))
}
