//! `/v1/organization/webhooks` (orgiam): webhook endpoints, their signing secrets (shown
//! once, at creation and rotation), test pings, and their deliveries with redelivery.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use orgiam_core::ids::{DeliveryId, WebhookId};
use orgiam_core::page::{LimitBounds, Order};
use orgiam_core::{Error, Result, now_unix};
use orgiam_store::{Delivery, EndpointPatch, NewEndpoint, WebhookEndpoint};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::present;
use super::wire::{Deleted, List, Written};
use crate::auth::{Authorized, WebhooksRead, WebhooksWrite};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Params};
use crate::state::AppState;
use crate::webhooks::{ROTATION_OVERLAP_SECONDS, client, sign};

/// `limit` of the endpoint and delivery lists: 1 to 100, default 20.
const WEBHOOK_LIMIT: LimitBounds = LimitBounds {
    min: 1,
    max: 100,
    default: 20,
};

/// Most event types one endpoint may subscribe to.
const MAX_EVENT_TYPES: usize = 100;

/// Body of a create.
#[derive(Deserialize, ToSchema)]
pub struct WebhookCreate {
    /// `https://…` on a public address (any `http(s)` address when the server allows
    /// private targets).
    #[schema(example = "https://hooks.example.invalid/orgiam")]
    pub url: String,
    /// Only these event types (`role.created`, …); omit or null for every type.
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    /// Free text, at most 4,096 characters.
    #[serde(default)]
    pub description: Option<String>,
    /// Whether deliveries are made (default true).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Whether deliveries go out one at a time in revision order (default true).
    #[serde(default)]
    pub ordered: Option<bool>,
}

/// Body of an update: absent fields are left as they are.
#[derive(Deserialize, ToSchema)]
pub struct WebhookUpdate {
    /// A new URL.
    #[serde(default)]
    pub url: Option<String>,
    /// New event types; null for every type.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>)]
    pub event_types: Option<Option<Vec<String>>>,
    /// A new description; null clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// Enable (which also ends a failing or disabled state) or disable.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Ordered or not.
    #[serde(default)]
    pub ordered: Option<bool>,
}

/// A webhook endpoint (`object: "webhook_endpoint"`).
#[derive(Serialize, ToSchema)]
pub struct WebhookObject {
    /// Always `webhook_endpoint`.
    pub object: &'static str,
    /// `webhook_…`
    pub id: String,
    /// Where deliveries go.
    pub url: String,
    /// Free text.
    pub description: Option<String>,
    /// The event types delivered; null for every type.
    pub event_types: Option<Vec<String>>,
    /// Whether deliveries are made.
    pub enabled: bool,
    /// Whether deliveries keep revision order.
    pub ordered: bool,
    /// `active`, `failing` (deliveries ran out of retries) or `disabled`.
    pub state: String,
    /// Since when the endpoint is failing (Unix seconds).
    pub failing_since: Option<i64>,
    /// Until when the previous secret still signs beside the current one (Unix seconds).
    pub previous_secret_expires_at: Option<i64>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// The signing secret (`whsec_…`): only in the responses of create and rotate_secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl WebhookObject {
    fn render(e: WebhookEndpoint, secret: Option<String>) -> Self {
        WebhookObject {
            object: "webhook_endpoint",
            id: e.id,
            url: e.url,
            description: e.description,
            event_types: e.event_types,
            enabled: e.enabled,
            ordered: e.ordered,
            state: e.state,
            failing_since: e.failing_since,
            previous_secret_expires_at: e.previous_secret_until.filter(|t| *t > now_unix()),
            created_at: e.created_at,
            updated_at: e.updated_at,
            secret,
        }
    }
}

impl From<WebhookEndpoint> for WebhookObject {
    fn from(e: WebhookEndpoint) -> Self {
        WebhookObject::render(e, None)
    }
}

/// One delivery (a message to one endpoint) and its latest attempt.
#[derive(Serialize, ToSchema)]
pub struct DeliveryObject {
    /// Always `webhook_delivery`.
    pub object: &'static str,
    /// `msg_…`: the `webhook-id` header of every attempt.
    pub id: String,
    /// The endpoint.
    pub webhook_id: String,
    /// The event type (`webhook.ping` for test pings).
    pub event_type: String,
    /// The organization revision of the change (null for pings).
    pub revision: Option<i64>,
    /// `pending`, `delivered` or `failed` (out of retries).
    pub status: String,
    /// Attempts made.
    pub attempts: i64,
    /// When the change was written (Unix milliseconds).
    pub created_at_ms: i64,
    /// When the next attempt is due (Unix milliseconds), while pending.
    pub next_attempt_at_ms: Option<i64>,
    /// When the latest attempt was made (Unix milliseconds).
    pub last_attempt_at_ms: Option<i64>,
    /// The latest attempt's HTTP status.
    pub response_status_code: Option<i64>,
    /// The latest attempt's round trip in milliseconds.
    pub latency_ms: Option<i64>,
    /// The first KiB of the latest response body.
    pub response_body: Option<String>,
    /// Why the latest attempt failed, when there was no 2xx answer to say so.
    pub error: Option<String>,
    /// When it was delivered (Unix milliseconds).
    pub delivered_at_ms: Option<i64>,
}

impl From<Delivery> for DeliveryObject {
    fn from(d: Delivery) -> Self {
        DeliveryObject {
            object: "webhook_delivery",
            id: d.id,
            webhook_id: d.endpoint_id,
            event_type: d.event_type,
            revision: d.revision,
            status: d.status,
            attempts: d.attempts,
            created_at_ms: d.created_at_ms,
            next_attempt_at_ms: d.next_attempt_at_ms,
            last_attempt_at_ms: d.last_attempt_at_ms,
            response_status_code: d.response_status,
            latency_ms: d.latency_ms,
            response_body: d.response_body,
            error: d.error,
            delivered_at_ms: d.delivered_at_ms,
        }
    }
}

/// Checks an endpoint URL against the server's policy (scheme, literal and resolved
/// addresses).
async fn checked_url(state: &AppState, url: &str) -> Result<String> {
    let parsed = client::check_url(url, state.webhooks.allow_private)?;
    client::check_resolves_public(&parsed, state.webhooks.allow_private).await?;
    Ok(url.to_owned())
}

fn checked_types(types: Option<Vec<String>>) -> Result<Option<Vec<String>>> {
    let Some(types) = types else {
        return Ok(None);
    };
    if types.len() > MAX_EVENT_TYPES {
        return Err(Error::invalid(
            "event_types",
            format!("at most {MAX_EVENT_TYPES} event types"),
        ));
    }
    for (i, t) in types.iter().enumerate() {
        let ok = !t.is_empty()
            && t.len() <= 128
            && t.bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.'));
        if !ok {
            return Err(Error::invalid(
                format!("event_types[{i}]"),
                format!(
                    "event type '{}' must be 1 to 128 characters of a-z, 0-9, '_' and '.'",
                    orgiam_core::validate::quote(t)
                ),
            ));
        }
    }
    Ok(Some(types))
}

fn checked_description(d: Option<String>) -> Result<Option<String>> {
    if d.as_ref().is_some_and(|d| d.chars().count() > 4096) {
        return Err(Error::invalid(
            "description",
            "description must be at most 4096 characters",
        ));
    }
    Ok(d)
}

fn webhook_id(id: &str) -> Result<()> {
    WebhookId::parse(id)
        .map(|_| ())
        .ok_or_else(|| Error::not_found("webhook", id))
}

/// Lists the organization's webhook endpoints, by id.
#[utoipa::path(get, path = "/v1/organization/webhooks", operation_id = "list-webhooks", tag = "webhooks",
    params(("after" = Option<String>, Query, description = "the previous page's `last_id`"),
           ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1 to 100, default 20")),
    responses((status = 200, body = List<WebhookObject>), (status = 400, body = ErrorBody)))]
pub async fn list(
    auth: Authorized<WebhooksRead>,
    State(state): State<AppState>,
    params: Params,
) -> ApiResult<Json<List<WebhookObject>>> {
    let page = params.page(WEBHOOK_LIMIT, None, WebhookId::parse)?;
    let endpoints = state.store.list_webhooks(auth.org(), &page).await?;
    Ok(Json(List::of(
        endpoints,
        |e| e.id.clone(),
        WebhookObject::from,
    )))
}

/// Creates an endpoint; the response alone carries its signing secret.
#[utoipa::path(post, path = "/v1/organization/webhooks", operation_id = "create-webhook", tag = "webhooks", request_body = WebhookCreate,
    responses((status = 200, body = WebhookObject), (status = 400, body = ErrorBody)))]
pub async fn create(
    auth: Authorized<WebhooksWrite>,
    State(state): State<AppState>,
    Body(body): Body<WebhookCreate>,
) -> ApiResult<Written<WebhookObject>> {
    let new = NewEndpoint {
        url: checked_url(&state, &body.url).await?,
        description: checked_description(body.description)?,
        event_types: checked_types(body.event_types)?,
        enabled: body.enabled.unwrap_or(true),
        ordered: body.ordered.unwrap_or(true),
    };
    let secret = sign::new_secret();
    let (endpoint, rev) = state
        .store
        .create_webhook(&auth.author(), auth.org(), new, &secret)
        .await?;
    Ok(Written(WebhookObject::render(endpoint, Some(secret)), rev))
}

/// Retrieves an endpoint (never its secret).
#[utoipa::path(get, path = "/v1/organization/webhooks/{webhook_id}", operation_id = "retrieve-webhook", tag = "webhooks",
    params(("webhook_id" = String, Path)),
    responses((status = 200, body = WebhookObject), (status = 404, body = ErrorBody)))]
pub async fn retrieve(
    auth: Authorized<WebhooksRead>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookObject>> {
    webhook_id(&id)?;
    Ok(Json(state.store.get_webhook(auth.org(), &id).await?.into()))
}

/// Changes an endpoint; `enabled: true` also ends a failing or disabled state.
#[utoipa::path(post, path = "/v1/organization/webhooks/{webhook_id}", operation_id = "update-webhook", tag = "webhooks",
    params(("webhook_id" = String, Path)), request_body = WebhookUpdate,
    responses((status = 200, body = WebhookObject), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    auth: Authorized<WebhooksWrite>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body<WebhookUpdate>,
) -> ApiResult<Written<WebhookObject>> {
    webhook_id(&id)?;
    let url = match body.url {
        Some(u) => Some(checked_url(&state, &u).await?),
        None => None,
    };
    let patch = EndpointPatch {
        url,
        description: body.description.map(checked_description).transpose()?,
        event_types: body.event_types.map(checked_types).transpose()?,
        enabled: body.enabled,
        ordered: body.ordered,
    };
    let (endpoint, rev) = state
        .store
        .update_webhook(&auth.author(), auth.org(), &id, patch)
        .await?;
    Ok(Written(endpoint.into(), rev))
}

/// Deletes an endpoint and its deliveries.
#[utoipa::path(delete, path = "/v1/organization/webhooks/{webhook_id}", operation_id = "delete-webhook", tag = "webhooks",
    params(("webhook_id" = String, Path)),
    responses((status = 200, body = Deleted), (status = 404, body = ErrorBody)))]
pub async fn delete(
    auth: Authorized<WebhooksWrite>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Written<Deleted>> {
    webhook_id(&id)?;
    let rev = state
        .store
        .delete_webhook(&auth.author(), auth.org(), &id)
        .await?;
    Ok(Written(
        Deleted {
            object: "webhook_endpoint.deleted",
            id,
            deleted: true,
        },
        rev,
    ))
}

/// Replaces the signing secret (returned once, in `secret`); the previous one keeps signing
/// beside it for 24 hours.
#[utoipa::path(post, path = "/v1/organization/webhooks/{webhook_id}/rotate_secret", operation_id = "rotate-webhook-secret", tag = "webhooks",
    params(("webhook_id" = String, Path)),
    responses((status = 200, body = WebhookObject), (status = 404, body = ErrorBody)))]
pub async fn rotate_secret(
    auth: Authorized<WebhooksWrite>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Written<WebhookObject>> {
    webhook_id(&id)?;
    let secret = sign::new_secret();
    let (endpoint, rev) = state
        .store
        .rotate_webhook_secret(
            &auth.author(),
            auth.org(),
            &id,
            &secret,
            now_unix() + ROTATION_OVERLAP_SECONDS,
        )
        .await?;
    Ok(Written(WebhookObject::render(endpoint, Some(secret)), rev))
}

/// Queues a `webhook.ping` to the endpoint; returns the delivery to follow.
#[utoipa::path(post, path = "/v1/organization/webhooks/{webhook_id}/test", operation_id = "test-webhook", tag = "webhooks",
    params(("webhook_id" = String, Path)),
    responses((status = 200, body = DeliveryObject), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn test(
    auth: Authorized<WebhooksWrite>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<DeliveryObject>> {
    webhook_id(&id)?;
    Ok(Json(
        state.store.ping_webhook(auth.org(), &id).await?.into(),
    ))
}

/// Lists an endpoint's deliveries, newest first, with their latest attempt.
#[utoipa::path(get, path = "/v1/organization/webhooks/{webhook_id}/deliveries", operation_id = "list-webhook-deliveries", tag = "webhooks",
    params(("webhook_id" = String, Path),
           ("after" = Option<String>, Query, description = "the previous page's `last_id`: older deliveries"),
           ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1 to 100, default 20"),
           ("status" = Option<String>, Query, description = "pending, delivered or failed")),
    responses((status = 200, body = List<DeliveryObject>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn deliveries(
    auth: Authorized<WebhooksRead>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<List<DeliveryObject>>> {
    webhook_id(&id)?;
    let mut page = params.page(WEBHOOK_LIMIT, None, DeliveryId::parse)?;
    page.order = Order::Desc;
    let status = params.one("status");
    if let Some(s) = status {
        if !matches!(s, "pending" | "delivered" | "failed") {
            return Err(Error::invalid(
                "status",
                format!(
                    "status must be pending, delivered or failed, not '{}'",
                    orgiam_core::validate::quote(s)
                ),
            )
            .into());
        }
    }
    let found = state
        .store
        .list_deliveries(auth.org(), &id, status, &page)
        .await?;
    Ok(Json(List::of(
        found,
        |d| d.id.clone(),
        DeliveryObject::from,
    )))
}

/// Sends a delivery again now, with a fresh retry window, whatever its status.
#[utoipa::path(post, path = "/v1/organization/webhooks/{webhook_id}/deliveries/{delivery_id}/retry", operation_id = "retry-webhook-delivery", tag = "webhooks",
    params(("webhook_id" = String, Path), ("delivery_id" = String, Path)),
    responses((status = 200, body = DeliveryObject), (status = 404, body = ErrorBody)))]
pub async fn retry(
    auth: Authorized<WebhooksWrite>,
    State(state): State<AppState>,
    Path((id, delivery)): Path<(String, String)>,
) -> ApiResult<Json<DeliveryObject>> {
    webhook_id(&id)?;
    DeliveryId::parse(&delivery).ok_or_else(|| Error::not_found("delivery", &delivery))?;
    Ok(Json(
        state
            .store
            .retry_delivery(auth.org(), &id, &delivery)
            .await?
            .into(),
    ))
}

/// The OpenAPI paths of this family.
#[derive(OpenApi)]
#[openapi(paths(
    list,
    create,
    retrieve,
    update,
    delete,
    rotate_secret,
    test,
    deliveries,
    retry
))]
pub struct Doc;

/// The routes of this family.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/organization/webhooks", get(list).post(create))
        .route(
            "/v1/organization/webhooks/{webhook_id}",
            get(retrieve).post(update).delete(delete),
        )
        .route(
            "/v1/organization/webhooks/{webhook_id}/rotate_secret",
            post(rotate_secret),
        )
        .route("/v1/organization/webhooks/{webhook_id}/test", post(test))
        .route(
            "/v1/organization/webhooks/{webhook_id}/deliveries",
            get(deliveries),
        )
        .route(
            "/v1/organization/webhooks/{webhook_id}/deliveries/{delivery_id}/retry",
            post(retry),
        )
}
