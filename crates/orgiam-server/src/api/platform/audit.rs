//! `GET /v1/platform/audit_logs`: the platform's own events (platform keys, organizations
//! renamed, deleted, recovered), newest first, with the organization route's filters and
//! paging.

use axum::Json;
use axum::extract::State;
use orgiam_core::ids::AuditId;
use orgiam_core::page::Order;

use crate::api::audit::{AUDIT_LIMIT, AuditLogObject, platform_filter};
use crate::api::wire::List;
use crate::auth::{Platform, PlatformAuditLogsRead};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::Params;
use crate::state::AppState;

/// Lists platform audit events, newest first. `after` (the previous page's `last_id`)
/// continues to older events; `before` returns the events just newer than it.
#[utoipa::path(get, path = "/v1/platform/audit_logs", operation_id = "list-platform-audit-logs", tag = "platform",
    params(("after" = Option<String>, Query, description = "the previous page's `last_id`: older events"),
           ("before" = Option<String>, Query, description = "an event id: the events just newer than it"),
           ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1 to 100, default 20"),
           ("event_types[]" = Option<Vec<String>>, Query, description = "only these types"),
           ("actor_ids[]" = Option<Vec<String>>, Query, description = "only events by these platform key ids"),
           ("resource_ids[]" = Option<Vec<String>>, Query, description = "only events about these objects"),
           ("effective_at[gt]" = Option<i64>, Query), ("effective_at[gte]" = Option<i64>, Query),
           ("effective_at[lt]" = Option<i64>, Query), ("effective_at[lte]" = Option<i64>, Query)),
    responses((status = 200, body = List<AuditLogObject>), (status = 400, body = ErrorBody)))]
pub async fn list(
    _auth: Platform<PlatformAuditLogsRead>,
    State(state): State<AppState>,
    params: Params,
) -> ApiResult<Json<List<AuditLogObject>>> {
    let mut page = params.page(AUDIT_LIMIT, None, AuditId::parse)?;
    page.order = Order::Desc;
    let events = state
        .store
        .list_platform_audit_events(platform_filter(&params)?, &page)
        .await?;
    Ok(Json(List::of(
        events,
        |e| e.id.clone(),
        AuditLogObject::from,
    )))
}
