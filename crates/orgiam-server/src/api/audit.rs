//! `GET /v1/organization/audit_logs` (the SDK's `audit_logs.list`): the organization's events,
//! newest first, with every filter of the SDK.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use orgiam_core::ids::AuditId;
use orgiam_core::page::{LimitBounds, Order};
use orgiam_core::{Error, Result};
use orgiam_store::{AuditEntry, AuditFilter};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::wire::List;
use crate::auth::{AuditLogsRead, Authorized};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::Params;
use crate::state::AppState;

/// `limit` of the audit log: 1 to 100, default 20 (as the SDK documents).
pub(crate) const AUDIT_LIMIT: LimitBounds = LimitBounds {
    min: 1,
    max: 100,
    default: 20,
};

/// Most values one array filter may carry.
const MAX_FILTER_VALUES: usize = 1000;

/// The project an event is about.
#[derive(Serialize, ToSchema)]
pub struct AuditProject {
    /// `proj_…`
    pub id: String,
    /// Its name, if the project still exists.
    pub name: Option<String>,
}

/// One event, in the SDK's `AuditLogListResponse` shape: the details sit under the event type.
#[derive(Serialize, ToSchema)]
pub struct AuditLogObject {
    /// `audit_…`
    pub id: String,
    /// The event type: OpenAI's name wherever its Admin API has one for the event
    /// (`role.created`, `invite.sent`, `api_key.created`, …), orgiam's own in the same style
    /// where it has none (`organization.created`, `group.user.added`, `project.user.added`,
    /// `project.group.added`, `role.assignment.updated`, `permission.created`, …).
    #[serde(rename = "type")]
    #[schema(schema_with = event_type_schema)]
    pub event_type: String,
    /// Unix seconds.
    pub effective_at: i64,
    /// Who acted, in OpenAI's shape: `{"type": "api_key", "api_key": {id, type: "user", user:
    /// {id, email}}}` for a key; the server itself (first-start bootstrap, the platform root
    /// key, an invitation redeemed with its token) is the service account `orgiam`:
    /// `{"type": "api_key", "api_key": {"type": "service_account", "service_account": {"id":
    /// "orgiam"}}}`.
    #[schema(value_type = Object)]
    pub actor: serde_json::Value,
    /// Present for project-scoped events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<AuditProject>,
    /// `{ "<type>": payload }`.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub details: serde_json::Map<String, serde_json::Value>,
}

/// The `type` property's schema: a string, one of [`orgiam_core::events::EVENT_TYPES`].
fn event_type_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(orgiam_core::events::event_type_names()))
        .description(Some(
            "OpenAI's event type wherever its Admin API has one; orgiam's own otherwise",
        ))
        .build()
}

impl From<AuditEntry> for AuditLogObject {
    fn from(e: AuditEntry) -> Self {
        let mut details = serde_json::Map::new();
        details.insert(e.event_type.clone(), e.payload);
        AuditLogObject {
            id: e.id,
            event_type: e.event_type,
            effective_at: e.effective_at,
            actor: orgiam_store::wire_actor(e.actor),
            project: e.project_id.map(|id| AuditProject {
                id,
                name: e.project_name,
            }),
            details,
        }
    }
}

fn values(params: &Params, name: &str) -> Result<Vec<String>> {
    let v = params.many(name);
    if v.len() > MAX_FILTER_VALUES {
        return Err(Error::invalid(
            name,
            format!("at most {MAX_FILTER_VALUES} values of {name}"),
        ));
    }
    Ok(v)
}

/// Reads the SDK's filters from the query string.
pub(crate) fn filter(params: &Params) -> Result<AuditFilter> {
    filter_of(params, orgiam_core::events::is_event_type)
}

/// Reads the filters of the platform's audit log, whose types include the platform's own.
pub(crate) fn platform_filter(params: &Params) -> Result<AuditFilter> {
    filter_of(params, orgiam_core::events::is_platform_event_type)
}

fn filter_of(params: &Params, known: fn(&str) -> bool) -> Result<AuditFilter> {
    // accepted for SDK compatibility: every orgiam event belongs to one organization
    params.bool("tenant_only")?;
    let event_types = values(params, "event_types")?;
    if let Some(unknown) = event_types.iter().find(|t| !known(t)) {
        return Err(Error::invalid_code(
            "invalid_event_type",
            "event_types",
            format!(
                "'{}' is not an event type orgiam writes; one of: {}",
                orgiam_core::validate::quote(unknown),
                orgiam_core::events::event_type_names()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    Ok(AuditFilter {
        event_types,
        actor_ids: values(params, "actor_ids")?,
        actor_emails: values(params, "actor_emails")?,
        project_ids: values(params, "project_ids")?,
        resource_ids: values(params, "resource_ids")?,
        gt: params.int("effective_at[gt]")?,
        gte: params.int("effective_at[gte]")?,
        lt: params.int("effective_at[lt]")?,
        lte: params.int("effective_at[lte]")?,
    })
}

/// Lists audit events, newest first. `after` (the previous page's `last_id`) continues to older
/// events; `before` returns the events just newer than it.
#[utoipa::path(get, path = "/v1/organization/audit_logs", operation_id = "list-audit-logs", tag = "audit_logs",
    params(("after" = Option<String>, Query, description = "the previous page's `last_id`: older events"),
           ("before" = Option<String>, Query, description = "an event id: the events just newer than it"),
           ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1 to 100, default 20"),
           ("event_types[]" = Option<Vec<String>>, Query, description = "only these types"),
           ("actor_ids[]" = Option<Vec<String>>, Query, description = "only events by these user or key ids"),
           ("actor_emails[]" = Option<Vec<String>>, Query, description = "only events by these users' emails"),
           ("project_ids[]" = Option<Vec<String>>, Query, description = "only events in these projects"),
           ("resource_ids[]" = Option<Vec<String>>, Query, description = "only events about these objects"),
           ("effective_at[gt]" = Option<i64>, Query), ("effective_at[gte]" = Option<i64>, Query),
           ("effective_at[lt]" = Option<i64>, Query), ("effective_at[lte]" = Option<i64>, Query),
           ("tenant_only" = Option<bool>, Query, description = "accepted; no effect")),
    responses((status = 200, body = List<AuditLogObject>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    auth: Authorized<AuditLogsRead>,
    State(state): State<AppState>,
    params: Params,
) -> ApiResult<Json<List<AuditLogObject>>> {
    let mut page = params.page_both_ways(AUDIT_LIMIT, None, AuditId::parse)?;
    page.order = Order::Desc;
    let events = state
        .store
        .list_audit_events(auth.org(), filter(&params)?, &page)
        .await?;
    Ok(Json(List::of(
        events,
        |e| e.id.clone(),
        AuditLogObject::from,
    )))
}

/// The OpenAPI paths of this family.
#[derive(OpenApi)]
#[openapi(paths(list))]
pub struct Doc;

/// The routes of this family.
pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/organization/audit_logs", get(list))
}
